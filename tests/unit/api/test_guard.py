"""The request guard and the app's error shapes, against the ASGI app (no server, no lifespan)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lifeline.api.app import create_app
from lifeline.api.auth import Role, issue_jwt
from lifeline.api.settings import ApiSettings
from lifeline.registry import Registry
from lifeline.settings import Settings

SECRET = "unit-secret-" + "k" * 24
ACK = "/alerts/a1/acknowledge"


def make_app(**api: Any) -> Any:
    return create_app(Settings(), ApiSettings(jwt_secret=SECRET, **api), registry=Registry([]))


def client(**api: Any) -> TestClient:
    return TestClient(make_app(**api), raise_server_exceptions=False)


def bearer(role: Role = Role.OPERATOR) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_jwt(SECRET, role=role, subject='t')}"}


class Upload:
    """An endless request body in chunks; counts how many the app asked for."""

    def __init__(self, chunk: int = 16 * 1024, chunks: int | None = None) -> None:
        self.chunk, self.chunks, self.read = chunk, chunks, 0

    async def receive(self) -> dict[str, Any]:
        self.read += 1
        more = self.chunks is None or self.read < self.chunks
        return {"type": "http.request", "body": b"x" * self.chunk, "more_body": more}


def call(app: Any, upload: Upload, headers: dict[str, str], path: str = ACK) -> tuple[int, dict[str, str], bytes]:
    """One POST straight through the ASGI interface; returns status, headers and body."""
    sent: list[dict[str, Any]] = []
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": raw,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}  # fmt: skip

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, upload.receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def test_unauthenticated_body_is_never_read() -> None:
    upload = Upload(chunks=4)
    status, headers, body = call(make_app(), upload, {"content-type": "application/json"})
    assert status == 401
    assert upload.read == 0
    assert headers["www-authenticate"] == "Bearer"
    assert body.startswith(b'{"error":"unauthorized"')


def test_large_invalid_body_without_token_gets_401_not_422() -> None:
    response = client().post(ACK, content=b"{" * (10 * 1024 * 1024), headers={"content-type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_declared_oversize_body_gets_413_before_reading() -> None:
    upload = Upload(chunks=1)
    headers = {**bearer(), "content-length": str(64 * 1024 + 1), "content-type": "application/json"}
    status, _, body = call(make_app(), upload, headers)
    assert (status, upload.read) == (413, 0)
    assert body.startswith(b'{"error":"payload_too_large"')


def test_streamed_oversize_body_is_cut_at_the_cap() -> None:
    upload = Upload(chunk=16 * 1024)  # endless, no content-length: only counting can stop it
    status, headers, body = call(make_app(max_body_bytes=100_000), upload, {**bearer(), "content-type": "text/x"})
    assert status == 413
    assert upload.read == 100_000 // (16 * 1024) + 1
    assert headers["x-content-type-options"] == "nosniff"
    assert b"LIFELINE_API_MAX_BODY_BYTES" in body


def test_body_within_the_cap_reaches_the_route() -> None:
    response = client(max_body_bytes=1000).post("/nope", content=b"x" * 1000, headers=bearer())
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/nope", 404, "not_found"), ("DELETE", "/alerts/active", 405, "method_not_allowed")],
)
def test_framework_errors_have_the_documented_shape(method: str, path: str, status: int, code: str) -> None:
    response = client().request(method, path, headers=bearer())
    assert response.status_code == status
    assert response.json().keys() == {"error", "message"}
    assert response.json()["error"] == code


@pytest.mark.parametrize("url", ["/alerts?district=%00", "/alerts/%00abc", "/sensors?owner=a%1Fb", "/assets/x%7F"])
def test_control_characters_in_the_url_get_400(url: str) -> None:
    response = client().get(url, headers=bearer())
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_security_headers_on_answers() -> None:
    c = client()
    for response in (c.get("/alerts"), c.get("/openapi.json"), c.get("/nope", headers=bearer())):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_healthz_and_metrics_exposure_is_configurable() -> None:
    closed = client(public_healthz=False, public_metrics=False)
    assert closed.get("/healthz").status_code == 401
    assert closed.get("/metrics").status_code == 401
    assert closed.get("/healthz", headers=bearer(Role.ANALYST)).status_code != 401  # any role passes the guard
    default = client()  # public: the guard lets them through without a token (the route then has no context here)
    assert default.get("/healthz").status_code != 401
    assert default.get("/metrics").status_code != 401


def test_cors_is_off_by_default_and_allow_listed_when_set() -> None:
    preflight = {"Origin": "https://console.example.org", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}  # fmt: skip
    assert "access-control-allow-origin" not in client().options("/alerts", headers=preflight).headers
    allowed = client(cors_origins=["https://console.example.org"])
    answer = allowed.options("/alerts", headers=preflight)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://console.example.org"
    refused = allowed.get("/alerts", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 401
    assert "access-control-allow-origin" not in refused.headers
    denied = allowed.get("/alerts", headers={"Origin": "https://console.example.org"})
    assert denied.headers["access-control-allow-origin"] == "https://console.example.org"
