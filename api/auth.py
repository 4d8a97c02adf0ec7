"""Access control: bearer tokens (API keys from a tokens file, or HS256 JWTs) and roles.

Roles and what they may do:

============  =================================================================================
operator      every alert: read, live feed, acknowledge / resolve; every sensor and series
owner         only its own assets (``owner`` claim = the registry's ``owner`` column): alerts,
              live feed, acknowledge / resolve, sensors, series, export
analyst       read-only queries over everything: alerts, history, sensors, series, export, live feed
admin         everything, including ``/metrics`` when it is not public
============  =================================================================================

**API keys** live in a TOML file (``LIFELINE_API_TOKENS_PATH``). Only the SHA-256 of each key is
stored; ``lifeline api token --kind key --role owner --owner hefei-gas --name gas-app`` prints a
new key once, with the ``[[token]]`` entry to append::

    [[token]]
    name = "gas-app"
    role = "owner"
    owner = "hefei-gas"
    sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

**JWTs** are signed with HS256 and the secret in ``LIFELINE_API_JWT_SECRET``;
``lifeline api token --role owner --owner hefei-gas --ttl-hours 8`` issues one. Claims: ``sub``,
``role``, ``owner`` (owner role only), ``iss`` (``lifeline``), ``iat``, ``exp`` (required). The secret
must be at least 32 bytes, and a JWT whose ``exp`` lies more than ``LIFELINE_API_JWT_MAX_TTL_HOURS``
(default 24) ahead is refused, whoever signed it.

Clients send ``Authorization: Bearer <token>``; the websocket also takes the subprotocol pair
``lifeline, bearer.<token>`` (for browsers), a first message ``{"type": "auth", "token": "..."}``, or
``?token=`` (kept for old clients; it is redacted from the logs, but prefer the others).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jwt

from lifeline.api.exceptions import AuthError, ForbiddenError
from lifeline.exceptions import SettingsError

__all__ = [
    "API_KEY_PREFIX",
    "MIN_SECRET_BYTES",
    "Authenticator",
    "Permission",
    "Principal",
    "Role",
    "check_jwt_secret",
    "hash_key",
    "issue_jwt",
    "load_tokens",
    "new_api_key",
    "token_entry",
]

API_KEY_PREFIX = "llk_"
MIN_SECRET_BYTES = 32
DEFAULT_MAX_TTL_S = 24 * 3600.0
_LEEWAY_S = 60.0


class Role(enum.StrEnum):
    """What a token holder is."""

    OPERATOR = "operator"
    OWNER = "owner"
    ANALYST = "analyst"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    """What an endpoint needs."""

    READ_ALERTS = "read_alerts"
    WRITE_ALERTS = "write_alerts"
    READ_DATA = "read_data"
    LIVE = "live"
    ADMIN = "admin"


_ALL = frozenset(Permission)
_ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.READ_ALERTS, Permission.WRITE_ALERTS, Permission.READ_DATA, Permission.LIVE}),
    Role.OWNER: frozenset({Permission.READ_ALERTS, Permission.WRITE_ALERTS, Permission.READ_DATA, Permission.LIVE}),
    Role.ANALYST: frozenset({Permission.READ_ALERTS, Permission.READ_DATA, Permission.LIVE}),
    Role.ADMIN: _ALL,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated token holder. ``owner`` is set for (and only for) the owner role."""

    name: str
    role: Role
    owner: str | None = None

    def has(self, permission: Permission) -> bool:
        """True when the role grants ``permission``."""
        return permission in _ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        """Raise :class:`ForbiddenError` unless the role grants ``permission``."""
        if not self.has(permission):
            raise ForbiddenError(f"role {self.role.value!r} may not {permission.value.replace('_', ' ')}")

    @property
    def scoped(self) -> bool:
        """True when this principal sees only its own owner's assets."""
        return self.role is Role.OWNER

    def can_see_owner(self, owner: str) -> bool:
        """True when alerts, sensors and series of ``owner`` are visible to this principal."""
        return not self.scoped or owner == self.owner

    def check_owner(self, owner: str, what: str = "this resource") -> None:
        """Raise :class:`ForbiddenError` when ``owner``'s data is not visible to this principal."""
        if not self.can_see_owner(owner):
            raise ForbiddenError(f"{what} belongs to another owner; token {self.name!r} is scoped to {self.owner!r}")

    def scope_owners(self, requested: list[str] | None) -> list[str] | None:
        """The owner filter to apply: the request's for unscoped roles, forced to its own for owners.

        An owner asking for another owner's data gets :class:`ForbiddenError`, not an empty answer.
        """
        if not self.scoped:
            return requested
        assert self.owner is not None
        if requested and any(o != self.owner for o in requested):
            raise ForbiddenError(f"token {self.name!r} is scoped to owner {self.owner!r}; it may not filter others")
        return [self.owner]


def hash_key(key: str) -> str:
    """SHA-256 hex digest of an API key, as stored in the tokens file."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A new random API key and its SHA-256 hash."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


def check_jwt_secret(secret: str) -> None:
    """Raise :class:`SettingsError` when an HS256 secret is shorter than :data:`MIN_SECRET_BYTES`."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"LIFELINE_API_JWT_SECRET has {len(secret.encode())} bytes; use at least {MIN_SECRET_BYTES}, "
            "e.g. $(openssl rand -hex 32)"
        )


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string (quotes, backslashes and control characters escaped)."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        elif 0xD800 <= ord(char) <= 0xDFFF:
            raise SettingsError(f"{text!r} is not valid Unicode text (lone surrogate)")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def token_entry(name: str, role: Role, owner: str | None, digest: str) -> str:
    """The ``[[token]]`` TOML block for a tokens file; valid TOML whatever the name or owner holds."""
    lines = ["[[token]]", f"name = {_toml_string(name)}", f"role = {_toml_string(role.value)}"]
    if owner:
        lines.append(f"owner = {_toml_string(owner)}")
    lines.append(f"sha256 = {_toml_string(digest)}")
    return "\n".join(lines)


def _principal(name: str, role_text: object, owner: object, where: str) -> Principal:
    try:
        role = Role(str(role_text))
    except ValueError:
        raise SettingsError(f"{where}: unknown role {role_text!r}; use one of {', '.join(Role)}") from None
    if role is Role.OWNER:
        if not isinstance(owner, str) or not owner:
            raise SettingsError(f'{where}: an owner token needs owner = "<registry owner>"')
        return Principal(name, role, owner)
    return Principal(name, role, None)


def load_tokens(path: Path) -> dict[str, Principal]:
    """Read a tokens TOML file → {sha256: principal}; raise :class:`SettingsError` on any problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a byte-order mark is no error
    except FileNotFoundError:
        raise SettingsError(f"tokens file {path} does not exist (LIFELINE_API_TOKENS_PATH)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"tokens file {path} is not valid UTF-8 TOML: {exc}") from None
    result: dict[str, Principal] = {}
    for index, entry in enumerate(data.get("token", []), start=1):
        where = f"{path}: [[token]] #{index}"
        digest = entry.get("sha256", "")
        if not isinstance(digest, str) or len(digest) != 64:
            raise SettingsError(f"{where}: sha256 must be the 64-hex-digit SHA-256 of the key")
        result[digest.lower()] = _principal(str(entry.get("name", f"token-{index}")), entry.get("role"),
                                            entry.get("owner"), where)  # fmt: skip
    return result


def issue_jwt(
    secret: str,
    *,
    role: Role,
    subject: str,
    owner: str | None = None,
    ttl_s: int = 8 * 3600,
    issuer: str = "lifeline",
    now_s: int | None = None,
) -> str:
    """Sign an HS256 JWT for ``role`` (and ``owner`` for the owner role) valid for ``ttl_s`` seconds."""
    if role is Role.OWNER and not owner:
        raise SettingsError("an owner token needs --owner (the registry's owner column, e.g. hefei-gas)")
    check_jwt_secret(secret)
    if ttl_s <= 0:
        raise SettingsError(f"a token lifetime must be positive, not {ttl_s} s")
    issued = int(time.time()) if now_s is None else now_s
    claims: dict[str, object] = {"sub": subject, "role": role.value, "iss": issuer, "iat": issued,
                                 "exp": issued + ttl_s}  # fmt: skip
    if role is Role.OWNER:
        claims["owner"] = owner
    return jwt.encode(claims, secret, algorithm="HS256")


class Authenticator:
    """Turns a bearer token into a :class:`Principal` or raises :class:`AuthError`."""

    def __init__(
        self, keys: dict[str, Principal], jwt_secret: str | None, issuer: str = "lifeline", *,
        max_ttl_s: float = DEFAULT_MAX_TTL_S,
    ) -> None:  # fmt: skip
        if jwt_secret:
            check_jwt_secret(jwt_secret)
        self._keys = keys
        self._secret = jwt_secret
        self._issuer = issuer
        self._max_ttl_s = max_ttl_s

    @classmethod
    def from_files(
        cls, tokens_path: Path | None, jwt_secret: str | None, issuer: str = "lifeline", *,
        max_ttl_s: float = DEFAULT_MAX_TTL_S,
    ) -> Authenticator:  # fmt: skip
        """An authenticator over a tokens file (optional) and a JWT secret (optional, ≥ 32 bytes)."""
        keys = load_tokens(tokens_path) if tokens_path is not None else {}
        return cls(keys, jwt_secret, issuer, max_ttl_s=max_ttl_s)

    def authenticate(self, token: str | None) -> Principal:
        """The principal holding ``token``; :class:`AuthError` when missing, unknown or invalid."""
        if not token:
            raise AuthError("missing bearer token: send 'Authorization: Bearer <token>' (see `lifeline api token`)")
        token = token.strip()
        if token.startswith(API_KEY_PREFIX):
            digest = hash_key(token)
            for known, principal in self._keys.items():
                if hmac.compare_digest(known, digest):
                    return principal
            raise AuthError("unknown API key: it is not in the tokens file")
        if token.count(".") == 2:
            return self._decode_jwt(token)
        raise AuthError("malformed token: expected an API key (llk_...) or a JWT")

    def _decode_jwt(self, token: str) -> Principal:
        if not self._secret:
            raise AuthError("JWTs are not accepted by this server (LIFELINE_API_JWT_SECRET is not set)")
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], issuer=self._issuer,
                options={"require": ["exp", "sub", "role"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired: issue a new one with `lifeline api token`") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        if claims["exp"] > time.time() + self._max_ttl_s + _LEEWAY_S:
            raise AuthError(
                f"token lifetime too long: it expires more than {self._max_ttl_s / 3600:g} h from now "
                "(LIFELINE_API_JWT_MAX_TTL_HOURS); issue a shorter one with `lifeline api token`"
            )
        role_text, owner = claims.get("role"), claims.get("owner")
        try:
            role = Role(str(role_text))
        except ValueError:
            raise AuthError(f"invalid token: unknown role {role_text!r}") from None
        if role is Role.OWNER and (not isinstance(owner, str) or not owner):
            raise AuthError("invalid token: an owner token has no owner claim")
        return Principal(str(claims["sub"]), role, owner if role is Role.OWNER else None)
