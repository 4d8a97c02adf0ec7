"""Token hygiene: JWT lifetime cap, secret length, `lifeline api token` input and output, log redaction."""

from __future__ import annotations

import logging
import time
import tomllib

import jwt
import pytest
from typer.testing import CliRunner

from lifeline.api.auth import Authenticator, Principal, Role, issue_jwt, load_tokens
from lifeline.api.exceptions import AuthError
from lifeline.api.logs import RedactTokens, redact_tokens, uvicorn_log_config
from lifeline.cli import app as cli_app
from lifeline.exceptions import SettingsError

SECRET = "unit-secret-" + "k" * 24


def forged(exp: int) -> str:
    claims = {"sub": "x", "role": "admin", "iss": "lifeline", "iat": int(time.time()), "exp": exp}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_jwt_lifetime_is_capped() -> None:
    auth = Authenticator({}, SECRET, max_ttl_s=24 * 3600)
    year_33658 = 1_000_000_000_000
    with pytest.raises(AuthError, match="lifetime too long"):
        auth.authenticate(forged(year_33658))
    with pytest.raises(AuthError, match="lifetime too long"):
        auth.authenticate(forged(int(time.time()) + 25 * 3600))
    assert auth.authenticate(forged(int(time.time()) + 23 * 3600)).role is Role.ADMIN


@pytest.mark.parametrize("secret", ["short", "x" * 31, "é" * 15])
def test_short_secrets_are_refused(secret: str) -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        Authenticator({}, secret)
    with pytest.raises(SettingsError, match="at least 32"):
        issue_jwt(secret, role=Role.OPERATOR, subject="x")


def test_a_32_byte_secret_is_enough() -> None:
    secret = "é" * 16  # 32 bytes in UTF-8
    token = issue_jwt(secret, role=Role.OPERATOR, subject="x")
    assert Authenticator({}, secret).authenticate(token) == Principal("x", Role.OPERATOR)


@pytest.mark.parametrize("ttl", ["0", "-1", "nan", "25", "1e9"])
def test_cli_refuses_bad_ttl(ttl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFELINE_API_JWT_SECRET", SECRET)
    result = CliRunner().invoke(cli_app, ["api", "token", "--role", "operator", "--ttl-hours", ttl])
    assert result.exit_code == 2, result.output
    assert "--ttl-hours" in result.output


def test_cli_issues_a_jwt_within_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFELINE_API_JWT_SECRET", SECRET)
    result = CliRunner().invoke(cli_app, ["api", "token", "--role", "operator", "--ttl-hours", "2"])
    assert result.exit_code == 0, result.output
    assert Authenticator({}, SECRET).authenticate(result.output.strip()).role is Role.OPERATOR


@pytest.mark.parametrize("name", ['desk "night"', "back\\slash", "two\nlines", "tab\tdel\x7f", "中文 name", "a'b"])
def test_cli_key_entry_is_valid_toml_for_any_name(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = ["api", "token", "--kind", "key", "--role", "owner", "--owner", f"{name}-owner", "--name", name]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    key = result.output.split("keep it secret):\n", 1)[1].split()[0]
    entry = result.output[result.output.index("[[token]]") :]
    assert tomllib.loads(entry)["token"][0]["name"] == name
    path = tmp_path / "tokens.toml"
    path.write_text(entry, encoding="utf-8")
    assert Authenticator(load_tokens(path), None).authenticate(key) == Principal(name, Role.OWNER, f"{name}-owner")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/ws/alerts?token=eyJa.b.c", "/ws/alerts?token=[redacted]"),
        ("/ws/alerts?lifeline=gas&access_token=llk_x&max_tier=1",
         "/ws/alerts?lifeline=gas&access_token=[redacted]&max_tier=1"),
        ("/ws/alerts?TOKEN=abc", "/ws/alerts?TOKEN=[redacted]"),
        ("/ws/alerts?tok%65n=abc", "/ws/alerts?tok%65n=[redacted]"),
        ("/alerts?tokens=1&mytoken=2", "/alerts?tokens=1&mytoken=2"),
    ],
)  # fmt: skip
def test_token_query_values_are_redacted(line: str, expected: str) -> None:
    assert redact_tokens(line) == expected


def test_access_log_record_is_redacted_before_formatting() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/ws/alerts?token=eyJsecret", "1.1", 101), None)  # fmt: skip
    assert RedactTokens().filter(record)
    assert "eyJsecret" not in record.getMessage()
    assert uvicorn_log_config()["loggers"]["uvicorn.access"]["filters"] == ["redact_tokens"]
