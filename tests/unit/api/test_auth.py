from __future__ import annotations

import pytest

from lifeline.api.auth import Authenticator, Permission, Principal, Role, issue_jwt, load_tokens, new_api_key
from lifeline.api.exceptions import AuthError, ForbiddenError
from lifeline.exceptions import SettingsError

SECRET = "s" * 32


def test_api_key_from_tokens_file(tmp_path):
    key, digest = new_api_key()
    path = tmp_path / "tokens.toml"
    path.write_text(f'[[token]]\nname = "gas"\nrole = "owner"\nowner = "hefei-gas"\nsha256 = "{digest}"\n')
    auth = Authenticator(load_tokens(path), None)
    assert auth.authenticate(key) == Principal("gas", Role.OWNER, "hefei-gas")
    with pytest.raises(AuthError, match="unknown API key"):
        auth.authenticate(new_api_key()[0])


def test_tokens_file_problems_are_reported(tmp_path):
    path = tmp_path / "tokens.toml"
    path.write_text('[[token]]\nrole = "owner"\nsha256 = "' + "a" * 64 + '"\n')
    with pytest.raises(SettingsError, match="owner token needs owner"):
        load_tokens(path)
    path.write_text('[[token]]\nrole = "king"\nsha256 = "' + "a" * 64 + '"\n')
    with pytest.raises(SettingsError, match="unknown role"):
        load_tokens(path)
    with pytest.raises(SettingsError, match="does not exist"):
        load_tokens(tmp_path / "nope.toml")


def test_jwt_roundtrip_and_failures():
    auth = Authenticator({}, SECRET)
    token = issue_jwt(SECRET, role=Role.OWNER, subject="app", owner="hefei-gas")
    assert auth.authenticate(token) == Principal("app", Role.OWNER, "hefei-gas")
    expired = issue_jwt(SECRET, role=Role.OPERATOR, subject="x", ttl_s=10, now_s=1_000)
    with pytest.raises(AuthError, match="expired"):
        auth.authenticate(expired)
    forged = issue_jwt("t" * 32, role=Role.ADMIN, subject="x")
    with pytest.raises(AuthError, match="invalid token"):
        auth.authenticate(forged)
    with pytest.raises(AuthError, match="not accepted"):
        Authenticator({}, None).authenticate(token)
    with pytest.raises(AuthError, match="missing bearer"):
        auth.authenticate(None)
    with pytest.raises(AuthError, match="malformed"):
        auth.authenticate("hello")


def test_owner_jwt_requires_owner():
    with pytest.raises(SettingsError):
        issue_jwt(SECRET, role=Role.OWNER, subject="x")


def test_role_permissions():
    analyst = Principal("a", Role.ANALYST)
    assert analyst.has(Permission.READ_DATA)
    with pytest.raises(ForbiddenError, match="may not write alerts"):
        analyst.require(Permission.WRITE_ALERTS)
    assert Principal("o", Role.OPERATOR).has(Permission.WRITE_ALERTS)
    assert not Principal("o", Role.OPERATOR).has(Permission.ADMIN)
    assert all(Principal("x", Role.ADMIN).has(p) for p in Permission)


def test_owner_scope():
    owner = Principal("gas", Role.OWNER, "hefei-gas")
    assert owner.scope_owners(None) == ["hefei-gas"]
    assert owner.scope_owners(["hefei-gas"]) == ["hefei-gas"]
    with pytest.raises(ForbiddenError):
        owner.scope_owners(["hefei-water"])
    with pytest.raises(ForbiddenError):
        owner.check_owner("hefei-water")
    assert Principal("op", Role.OPERATOR).scope_owners(["x"]) == ["x"]
    assert Principal("op", Role.OPERATOR).scope_owners(None) is None
