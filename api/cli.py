"""CLI commands of this package (registered on the ``lifeline`` app by :mod:`lifeline.cli`).

* ``lifeline api [--host H] [--port P]`` — serve the REST API and the ``/ws/alerts`` websocket.
* ``lifeline api token --role ROLE [--owner OWNER] [--kind jwt|key]`` — issue a bearer token.
"""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register"]

_ROLES = "operator (all alerts, acknowledge/resolve), owner (its own assets only), analyst (read-only), admin"

api_app = typer.Typer(
    help=(
        "Serve the Lifeline API: REST over QuestDB, live alerts on websocket /ws/alerts, acknowledge/resolve.\n\n"
        "Run without a subcommand to serve (docs at http://HOST:PORT/docs). Every request needs a bearer token: "
        "set LIFELINE_API_TOKENS_PATH (API keys) and/or LIFELINE_API_JWT_SECRET (JWTs), then issue tokens with "
        "`lifeline api token`. Kafka, QuestDB and LIFELINE_REGISTRY_PATH come from the usual LIFELINE_* settings.\n\n"
        "Example: LIFELINE_API_JWT_SECRET=$(openssl rand -hex 32) lifeline api --port 8080"
    ),
    invoke_without_command=True,
)


@api_app.callback()
def api_serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1, LIFELINE_API_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default 8080, LIFELINE_API_PORT)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the API with uvicorn (when no subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from lifeline.api.app import create_app, uvicorn_options
    from lifeline.api.settings import ApiSettings

    api = ApiSettings()
    if host is not None or port is not None:
        api = api.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    if api.tokens_path is None and not api.jwt_secret:
        typer.echo("warning: no LIFELINE_API_TOKENS_PATH and no LIFELINE_API_JWT_SECRET: every request will get 401",
                   err=True)  # fmt: skip
    uvicorn.run(create_app(api_settings=api), log_level=log_level, **uvicorn_options(api))


@api_app.command("token")
def api_token(
    role: Annotated[str, typer.Option(help=_ROLES)],
    owner: Annotated[
        str | None, typer.Option(help="registry owner (required for --role owner), e.g. hefei-gas")
    ] = None,
    name: Annotated[str | None, typer.Option(help="who holds the token (JWT sub / key name)")] = None,
    kind: Annotated[str, typer.Option(help="jwt (signed with LIFELINE_API_JWT_SECRET) or key (tokens file)")] = "jwt",
    ttl_hours: Annotated[
        float, typer.Option(help="JWT lifetime in hours, > 0 and at most LIFELINE_API_JWT_MAX_TTL_HOURS (24)")
    ] = 8.0,
) -> None:
    """Issue a bearer token.

    \b
    JWT (needs LIFELINE_API_JWT_SECRET, the same the server uses):
      lifeline api token --role owner --owner hefei-gas --ttl-hours 8
    API key (prints the key once and the \\[\\[token]] entry to append to LIFELINE_API_TOKENS_PATH):
      lifeline api token --kind key --role operator --name duty-desk-1
    Use it as: curl -H "Authorization: Bearer <token>" http://127.0.0.1:8080/alerts/active
    """
    from lifeline.api.auth import Role, issue_jwt, new_api_key, token_entry
    from lifeline.api.settings import ApiSettings
    from lifeline.exceptions import SettingsError

    try:
        parsed = Role(role)
    except ValueError:
        raise typer.BadParameter(f"unknown role {role!r}; use one of: {_ROLES}", param_hint="--role") from None
    if parsed is Role.OWNER and not owner:
        raise typer.BadParameter("an owner token needs --owner (the registry's owner column)", param_hint="--owner")
    if parsed is not Role.OWNER and owner:
        raise typer.BadParameter("--owner only applies to --role owner", param_hint="--owner")
    holder = name or (f"{owner}-owner" if owner else parsed.value)
    if kind == "key":
        key, digest = new_api_key()
        entry = token_entry(holder, parsed, owner, digest)
        typer.echo(f"API key (shown once; keep it secret):\n  {key}\n\nAppend to the tokens file:\n")
        typer.echo(entry)
        return
    if kind != "jwt":
        raise typer.BadParameter("use jwt or key", param_hint="--kind")
    api = ApiSettings()
    if not ttl_hours > 0:
        raise typer.BadParameter(f"must be > 0, not {ttl_hours:g}", param_hint="--ttl-hours")
    if ttl_hours > api.jwt_max_ttl_hours:
        raise typer.BadParameter(
            f"the server refuses JWTs living longer than {api.jwt_max_ttl_hours:g} h (LIFELINE_API_JWT_MAX_TTL_HOURS); "
            "use an API key (--kind key) for long-lived clients",
            param_hint="--ttl-hours",
        )
    if not api.jwt_secret:
        raise SettingsError("set LIFELINE_API_JWT_SECRET (the server's secret) to sign a JWT, or use --kind key")
    typer.echo(issue_jwt(api.jwt_secret, role=parsed, subject=holder, owner=owner, ttl_s=round(ttl_hours * 3600),
                         issuer=api.jwt_issuer))  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add ``api`` (with ``api token``) to ``app``. Heavy imports stay in command bodies."""
    app.add_typer(api_app, name="api")
