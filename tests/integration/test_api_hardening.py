"""API hardening on the real Kafka and QuestDB behind a real uvicorn: bad input gets a 4xx with the
documented body (never 5xx; a hypothesis fuzz over every route), tokens stay out of the logs, websocket
subprotocol auth and frame cap, group ids resolvable, and an unauthenticated 200 MB body refused at once
without the server's memory growing.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx
import pytest
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from lifeline.api.app import create_app
from lifeline.api.auth import Role, issue_jwt
from lifeline.api.settings import ApiSettings
from lifeline.api.testing import LiveServer, free_port, wait_until
from lifeline.connectors.kafka import ensure_topics, make_consumer
from lifeline.models import SensorKind, SensorSpec
from lifeline.registry import write_registry
from lifeline.settings import Settings

SECRET = "hardening-secret-" + "h" * 24
REGISTRY = [
    SensorSpec("W-1-P", SensorKind.WATER_PRESSURE, "WM-1", "hefei-water", "baohe", 31.7, 117.3, group_id="DMA-0001"),
    SensorSpec("W-2-P", SensorKind.WATER_PRESSURE, "WM-2", "hefei-water", "baohe", 31.7, 117.3, group_id="DMA-0001"),
    SensorSpec("G-1-CH4", SensorKind.CH4_LEL, "GW-1", "hefei-gas", "shushan", 31.8, 117.2, group_id="GM-0003"),
]


class Target:
    def __init__(self, server: LiveServer, log: list[logging.LogRecord]) -> None:
        self.server = server
        self.log = log
        self.admin = self.client()

    def token(self, role: Role = Role.ADMIN, owner: str | None = None) -> str:
        return issue_jwt(SECRET, role=role, subject=f"{role.value}-{owner or 'all'}", owner=owner)

    def client(self, role: Role = Role.ADMIN, owner: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(role, owner)}"}
        return httpx.Client(base_url=self.server.base_url, headers=headers, timeout=30)


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.INFO)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def target(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("api-hardening")
    write_registry(REGISTRY, folder / "registry.csv")
    api = ApiSettings(alerts_topic=f"it-hard-{uuid.uuid4().hex[:8]}", jwt_secret=SECRET, ws_heartbeat_s=2)
    _create_topic(services, str(api.alerts_topic))
    app = create_app(services.with_overrides(registry_path=folder / "registry.csv"), api)
    records: list[logging.LogRecord] = []
    with LiveServer(app, api=api, log_level="info") as server:
        keep = _Keep(records)
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).addHandler(keep)
        try:
            t = Target(server, records)
            wait_until(lambda: httpx.get(f"{server.base_url}/healthz").status_code == 200, 60, what="hub ready")
            yield t
            t.admin.close()
        finally:
            for name in ("uvicorn.access", "uvicorn.error"):
                logging.getLogger(name).removeHandler(keep)


def _create_topic(settings: Settings, topic: str) -> None:
    """Create the alerts topic and wait until the broker's metadata shows it (the hub reads it once)."""
    ensure_topics(settings, [NewTopic(topic, num_partitions=1, replication_factor=1)])
    consumer = make_consumer(settings, f"it-hard-meta-{uuid.uuid4().hex[:6]}")
    try:
        wait_until(lambda: consumer.list_topics(topic, timeout=5).topics[topic].error is None, 60, what=topic)
    finally:
        consumer.close()


def test_whoami_and_metrics_read_the_bearer_token_once_and_check_the_role(target: Target) -> None:
    with target.client(Role.OWNER, owner="hefei-gas") as owner:
        assert owner.get("/whoami").json() == {"name": "owner-hefei-gas", "role": "owner", "owner": "hefei-gas"}
    assert httpx.get(f"{target.server.base_url}/whoami").status_code == 401
    assert target.admin.get("/metrics").status_code == 200


# -- defect 9: bad input gets a 4xx with the documented body ------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/alerts?end=0001-01-01T00:00:00Z",
        "/alerts?start=0001-01-01T00:00:00%2B05:00",
        "/export/alerts?end=0001-01-01T00:00:00Z",
        "/sensors/W-1-P/series?start=9999-12-31T23:59:59Z&end=9999-12-31T23:59:59.5Z",
        "/alerts?district=%00",
        "/alerts?owner=%00",
        "/alerts/%00",
    ],
)
def test_bad_input_gets_400_with_the_documented_body(target: Target, url: str) -> None:
    with target.client() as c:
        response = c.get(url)
    assert response.status_code == 400, response.text
    assert response.json().keys() == {"error", "message"}
    assert response.json()["error"] == "bad_request"


def test_unknown_route_and_method_have_the_documented_body(target: Target) -> None:
    with target.client() as c:
        missing, wrong = c.get("/no/such/route"), c.put("/alerts/active")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")
    assert "server" not in missing.headers
    assert missing.headers["x-content-type-options"] == "nosniff"


# -- defect 13: every id an alert carries resolves ------------------------------------------------------


def test_group_ids_resolve_as_assets(target: Target) -> None:
    with target.client(Role.OPERATOR) as c:
        group = c.get("/assets/DMA-0001")
        plain = c.get("/assets/WM-1")
    assert group.status_code == 200, group.text
    body = group.json()
    assert (body["is_group"], body["asset_kind"], body["owner"]) == (True, "group", "hefei-water")
    assert sorted(s["sensor_id"] for s in body["sensors"]) == ["W-1-P", "W-2-P"]
    assert plain.json()["is_group"] is False
    with target.client(Role.OWNER, "hefei-gas") as gas:
        assert gas.get("/assets/GM-0003").json()["sensors"][0]["sensor_id"] == "G-1-CH4"
        assert gas.get("/assets/DMA-0001").status_code == 403
        assert gas.get("/assets/NO-SUCH-GROUP").status_code == 404


# -- defect 8: tokens out of the logs; subprotocol auth for browsers ------------------------------------


def test_websocket_token_in_the_query_is_not_logged(target: Target) -> None:
    token = target.token(Role.OPERATOR)
    with connect(f"{target.server.ws_url}/ws/alerts?token={token}&lifeline=gas", open_timeout=30) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
    with target.client() as c:
        c.get(f"/alerts/active?access_token={token}")
    wait_until(lambda: any("access_token" in r.getMessage() for r in target.log), 10, what="the access log line")
    lines = [r.getMessage() for r in list(target.log)]
    assert any("/ws/alerts?token=[redacted]&lifeline=gas" in line for line in lines), lines[-5:]
    assert not [line for line in lines if token in line]


def test_websocket_subprotocol_auth(target: Target) -> None:
    token = target.token(Role.OPERATOR)
    url = f"{target.server.ws_url}/ws/alerts"
    with connect(url, subprotocols=["lifeline", f"bearer.{token}"], open_timeout=30) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "lifeline"
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=30) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
    assert not [r for r in list(target.log) if token in r.getMessage()]


def test_websocket_frames_are_capped(target: Target) -> None:
    with connect(f"{target.server.ws_url}/ws/alerts", open_timeout=30, max_size=None) as ws:
        ws.send("x" * (64 * 1024 + 1))  # the documented default of LIFELINE_API_WS_MAX_FRAME_BYTES
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


# -- the fuzz: arbitrary paths, queries and bodies with a valid token never get a 5xx -------------------

_ROUTES = [
    ("GET", "/alerts/active"), ("GET", "/alerts"), ("GET", "/alerts/{id}"), ("POST", "/alerts/{id}/acknowledge"),
    ("POST", "/alerts/{id}/resolve"), ("GET", "/sensors"), ("GET", "/sensors/{id}"), ("GET", "/assets"),
    ("GET", "/assets/{id}"), ("GET", "/sensors/{id}/series"), ("GET", "/export/alerts"), ("GET", "/export/series"),
    ("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/whoami"),
]  # fmt: skip
_KEYS = ["lifeline", "max_tier", "kind", "district", "owner", "status", "start", "end", "limit", "offset", "format",
         "interval", "max_points", "sensor_id", "asset_id", "last_event_id", "since"]  # fmt: skip
_ODD = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "2024-01-01T00:00:00", "2024-02-30T00:00:00Z", "-1",
        "1e400", "nan", "inf", "99999d", "0s", "1s", "100000", "18446744073709551616", "gas", "parquet", "csv", "W-1-P",
        "DMA-0001", "\x00", "'; DROP TABLE alert_events; --", "%", "\\", "中文"]  # fmt: skip
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_value = st.one_of(st.sampled_from(_ODD), _text)
_query = st.lists(st.tuples(st.one_of(st.sampled_from(_KEYS), _text), _value), max_size=6)
_ids = st.one_of(st.sampled_from(["W-1-P", "G-1-CH4", "WM-1", "DMA-0001", "x" * 300]), _text.filter(bool))
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=10,
)
_bodies = st.one_of(_json, st.fixed_dictionaries({"comment": _value}), st.binary(max_size=200))


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(_ROUTES), ident=_ids, query=_query, body=_bodies)
def test_fuzz_no_route_answers_5xx(target: Target, route: tuple[str, str], ident: str, query: list[tuple[str, str]],
                                   body: object) -> None:  # fmt: skip
    method, template = route
    url = template.replace("{id}", quote(ident, safe="")) + ("?" + urlencode(query) if query else "")
    if method == "POST":
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = target.admin.post(url, content=content, headers={"content-type": "application/json"})
    else:
        response = target.admin.get(url)
    assert response.status_code < 500, (url, response.status_code, response.text)
    if response.status_code >= 400:
        assert response.json().keys() == {"error", "message"}, (url, response.text)


# -- defect 7: a huge unauthenticated body is refused at once, without memory growth ---------------------

_SERVE = """
import sys, uvicorn
from lifeline.api.app import create_app, uvicorn_options
from lifeline.api.settings import ApiSettings
from lifeline.registry import Registry
api = ApiSettings(jwt_secret=sys.argv[2], host="127.0.0.1", port=int(sys.argv[1]))
uvicorn.run(create_app(api_settings=api, registry=Registry([])), lifespan="off", log_level="warning",
            **uvicorn_options(api))
"""


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1])


def _upload(port: int, total: int, headers: str) -> tuple[bytes, int]:
    """POST ``total`` bytes of JSON-ish body until the server answers or stops reading; (answer, bytes sent)."""
    chunk, sent = b"[" * (1024 * 1024), 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"POST /alerts/x/acknowledge HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {total}\r\n{headers}\r\n".encode())  # fmt: skip
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server closed the connection after answering: that is the point
            pass
        return sock.recv(65536), sent


@pytest.fixture(scope="module")
def api_process() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``lifeline api``'s app and uvicorn options in a process of its own (no lifespan: no route runs)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", _SERVE, str(port), SECRET], env={**os.environ})
    try:
        wait_until(lambda: _answers(port), 60, what="the API process to listen")
        yield server, port
    finally:
        server.kill()
        server.wait(10)


@pytest.mark.parametrize("authorized", [False, True])
def test_huge_body_is_refused_quickly_without_memory_growth(
    api_process: tuple[subprocess.Popen[bytes], int], authorized: bool
) -> None:
    server, port = api_process
    before = _rss_kib(server.pid)
    token = issue_jwt(SECRET, role=Role.OPERATOR, subject="t") if authorized else ""
    started = time.monotonic()
    answer, sent = _upload(port, 200 * 1024 * 1024, f"Authorization: Bearer {token}\r\n" if token else "")
    elapsed = time.monotonic() - started
    grown_kib = _rss_kib(server.pid) - before
    assert answer.startswith(b"HTTP/1.1 413" if authorized else b"HTTP/1.1 401"), answer[:200]
    assert elapsed < 5.0, f"{sent} bytes sent in {elapsed:.1f} s"
    assert grown_kib < 8 * 1024, f"RSS grew by {grown_kib} KiB"


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
