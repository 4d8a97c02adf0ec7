"""End to end on the real Kafka and QuestDB: websocket fan-out with filters, owner isolation (websocket
and REST), acknowledge stored and visible, reconnect with last_event_id, series and export.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pyarrow.parquet as pq
import pytest
from websockets.sync.client import connect

from lifeline.api.alerts_store import AlertStore
from lifeline.api.app import create_app
from lifeline.api.auth import Role, issue_jwt, new_api_key
from lifeline.api.settings import ApiSettings
from lifeline.api.testing import LiveServer, wait_until
from lifeline.codec import encode
from lifeline.connectors.kafka import make_producer
from lifeline.connectors.questdb import QuestDB
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, SensorKind, SensorSpec, Tier
from lifeline.registry import write_registry
from lifeline.settings import Settings

SECRET = "integration-secret-" + "x" * 20
REGISTRY = [
    SensorSpec("G-1-CH4", SensorKind.CH4_LEL, "GW-1", "hefei-gas", "shushan", 31.8, 117.2, asset_kind="gas_valve_well"),
    SensorSpec("W-1-P", SensorKind.WATER_PRESSURE, "WM-1", "hefei-water", "baohe", 31.7, 117.3),
]


class Api:
    def __init__(self, settings: Settings, server: LiveServer, topic: str, operator_key: str) -> None:
        self.settings = settings
        self.server = server
        self.topic = topic
        self.operator_key = operator_key
        self.producer = make_producer(settings)

    def token(self, role: Role, owner: str | None = None) -> str:
        return issue_jwt(SECRET, role=role, subject=f"{role.value}-{owner or 'all'}", owner=owner)

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.server.base_url, headers=headers, timeout=30)

    def ws(self, token: str, query: str = ""):  # type: ignore[no-untyped-def]
        return connect(f"{self.server.ws_url}/ws/alerts?token={token}{query}", open_timeout=30)

    def produce(self, *events: AlertEvent) -> None:
        for e in events:
            self.producer.produce(self.topic, key=e.alert_id.encode(), value=encode(e))
        assert self.producer.flush(30) == 0


def event(owner: str = "hefei-gas", tier: int = 1, lifeline: Lifeline = Lifeline.GAS, **kw: object) -> AlertEvent:
    now = time.time_ns() // 1_000_000
    fields: dict[str, object] = {
        "alert_id": f"it-{uuid.uuid4().hex[:12]}", "event": AlertEventType.OPENED, "tier": Tier(tier),
        "lifeline": lifeline, "kind": AlertKind.GAS_LEAK if lifeline is Lifeline.GAS else AlertKind.PIPE_BURST,
        "asset_id": "GW-1" if owner == "hefei-gas" else "WM-1", "owner": owner,
        "district": "shushan" if owner == "hefei-gas" else "baohe", "sensor_ids": ("S",), "started_at": now,
        "ts": now, "value": 60.0, "score": 4.0, "evidence": "integration test",
    }  # fmt: skip
    fields.update(kw)
    return AlertEvent(**fields)  # type: ignore[arg-type]


def recv_events(ws, timeout: float = 15.0) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Next live event envelopes (skipping heartbeats)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
        if frame["type"] in ("events", "replay"):
            return frame["events"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def api(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("api")
    write_registry(REGISTRY, folder / "registry.csv")
    key, digest = new_api_key()
    (folder / "tokens.toml").write_text(f'[[token]]\nname = "desk"\nrole = "operator"\nsha256 = "{digest}"\n')
    topic = f"it-alerts-{uuid.uuid4().hex[:8]}"
    settings = services.with_overrides(registry_path=folder / "registry.csv")
    app = create_app(settings, ApiSettings(alerts_topic=topic, jwt_secret=SECRET, tokens_path=folder / "tokens.toml",
                                           ws_heartbeat_s=2))  # fmt: skip
    with LiveServer(app) as server:
        a = Api(settings, server, topic, key)
        wait_until(lambda: a.client(None).get("/healthz").status_code == 200, 60, what="hub ready")
        yield a


def test_event_reaches_matching_client_and_not_others(api: Api) -> None:
    op = api.token(Role.OPERATOR)
    with api.ws(op, "&lifeline=gas&max_tier=1") as gas_t1, api.ws(op, "&lifeline=water") as water:
        assert json.loads(gas_t1.recv(timeout=10))["type"] == "snapshot"
        assert json.loads(water.recv(timeout=10))["type"] == "snapshot"
        gas_event, gas_t2, water_event = event(), event(tier=2), event("hefei-water", lifeline=Lifeline.WATER)
        api.produce(gas_event, gas_t2, water_event)
        got_gas = recv_events(gas_t1)
        assert [e["event"]["alert_id"] for e in got_gas] == [gas_event.alert_id]  # type: ignore[index]
        got_water = recv_events(water)
        assert [e["event"]["alert_id"] for e in got_water] == [water_event.alert_id]  # type: ignore[index]
        latency = time.time_ns() // 1_000_000 - int(got_gas[0]["kafka_ts"])  # type: ignore[call-overload]
        assert latency < 10_000


def test_owner_a_never_receives_owner_b(api: Api) -> None:
    gas = api.token(Role.OWNER, "hefei-gas")
    water_alert, gas_alert = event("hefei-water", lifeline=Lifeline.WATER), event()
    with api.ws(gas) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        api.produce(water_alert, gas_alert)
        got = recv_events(ws)
        assert {e["event"]["owner"] for e in got} == {"hefei-gas"}  # type: ignore[index]
    with api.ws(gas, "&owner=hefei-water") as ws:
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "error" and frame["status"] == 403
    with api.client(gas) as c:
        wait_until(lambda: any(a["alert_id"] == gas_alert.alert_id for a in c.get("/alerts/active").json()["items"]))
        owners = {a["owner"] for a in c.get("/alerts/active", params={"limit": 1000}).json()["items"]}
        assert owners == {"hefei-gas"}
        r = c.get(f"/alerts/{water_alert.alert_id}")
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert c.get("/alerts", params={"owner": "hefei-water"}).status_code == 403
        assert c.post(f"/alerts/{water_alert.alert_id}/acknowledge").status_code == 403
        assert [s["sensor_id"] for s in c.get("/sensors").json()["items"]] == ["G-1-CH4"]
        assert c.get("/sensors/W-1-P").status_code == 403
        assert c.get("/sensors/W-1-P/series").status_code == 403
        assert c.get("/assets/WM-1").status_code == 403


def test_acknowledge_is_stored_broadcast_and_visible(api: Api) -> None:
    opened = event()
    with QuestDB(api.settings) as db:
        AlertStore(db).write(opened)  # as the dataflow does
    owner = api.token(Role.OWNER, "hefei-gas")
    with api.ws(api.token(Role.OPERATOR)) as ws:
        json.loads(ws.recv(timeout=10))
        api.produce(opened)
        assert recv_events(ws)[0]["status"] == "open"
        with api.client(api.token(Role.ANALYST)) as analyst:
            assert analyst.post(f"/alerts/{opened.alert_id}/acknowledge").status_code == 403
        with api.client(owner) as c:
            r = c.post(f"/alerts/{opened.alert_id}/acknowledge", json={"comment": "crew dispatched"})
            assert r.status_code == 200, r.text
            assert r.json()["event"] == "acknowledged" and r.json()["actor"] == "owner-hefei-gas"
            live = recv_events(ws)[0]
            assert live["status"] == "acknowledged"
            assert live["event"]["comment"] == "crew dispatched"  # type: ignore[index]
            assert c.post(f"/alerts/{opened.alert_id}/acknowledge").status_code == 409
    with QuestDB(api.settings) as db:
        db.wait_for_wal("alert_events")
        rows = db.query("SELECT event, actor, comment FROM alert_events WHERE alert_id = %s ORDER BY ts",
                        [opened.alert_id]).rows  # fmt: skip
    assert rows == [["opened", "", ""], ["acknowledged", "owner-hefei-gas", "crew dispatched"]]
    with api.client(api.operator_key) as c:
        detail = c.get(f"/alerts/{opened.alert_id}").json()
        assert detail["alert"]["status"] == "acknowledged"
        assert [t["event"] for t in detail["timeline"]] == ["opened", "acknowledged"]
        history = c.get("/alerts", params={"status": "acknowledged", "owner": "hefei-gas"}).json()["items"]
        assert opened.alert_id in {a["alert_id"] for a in history}
        resolved = c.post(f"/alerts/{opened.alert_id}/resolve", json={"comment": "valve replaced"})
        assert resolved.status_code == 200
        wait_until(lambda: c.get(f"/alerts/{opened.alert_id}").json()["alert"]["status"] == "resolved")


def test_reconnect_with_last_event_id_receives_missed_events(api: Api) -> None:
    op = api.token(Role.OPERATOR)
    with api.ws(op) as ws:
        last_id = json.loads(ws.recv(timeout=10))["last_id"]
    missed = [event(), event()]
    api.produce(*missed)
    with api.client(op) as c:
        wait_until(lambda: c.get("/healthz").json()["last_event_id"] >= last_id + 2)
    with api.ws(op, f"&last_event_id={last_id}") as ws:
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "replay"
        ids = [e["event"]["alert_id"] for e in frame["events"]]
        assert [m.alert_id for m in missed] == [i for i in ids if i in {m.alert_id for m in missed}]


def test_credentials_errors_are_clear(api: Api) -> None:
    with api.client(None) as c:
        r = c.get("/alerts/active")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized" and "Bearer" in r.json()["message"]
        assert r.headers["www-authenticate"] == "Bearer"
    with api.client("llk_wrong") as c:
        assert c.get("/alerts/active").json()["message"].startswith("unknown API key")
    with api.client(issue_jwt("another-secret-" + "y" * 20, role=Role.ADMIN, subject="x")) as c:
        assert c.get("/alerts/active").status_code == 401
    with connect(f"{api.server.ws_url}/ws/alerts?token=nope", open_timeout=10) as ws:
        frame = json.loads(ws.recv(timeout=10))
        assert frame["status"] == 401
    with connect(f"{api.server.ws_url}/ws/alerts", open_timeout=10) as ws:  # token as first message
        ws.send(json.dumps({"type": "auth", "token": api.token(Role.ANALYST)}))
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        ws.send(json.dumps({"type": "ping"}))
        frames = [json.loads(ws.recv(timeout=10)) for _ in range(1)]
        assert frames[0]["type"] in ("pong", "events", "heartbeat")


def test_series_downsampled_and_exported(api: Api) -> None:
    from questdb import TimestampNanos

    now = datetime.now(UTC)
    end = now.replace(second=now.second - now.second % 10, microsecond=0)  # align to SAMPLE BY buckets
    start = end - timedelta(minutes=1)
    with QuestDB(api.settings) as db:
        with db.sender() as sender:
            for i in range(60):
                at = start + timedelta(seconds=i)
                sender.row("readings", symbols={"sensor_id": "G-1-CH4", "asset_id": "GW-1", "lifeline": "gas"},
                           columns={"value": float(i), "quality": 0}, at=TimestampNanos.from_datetime(at))  # fmt: skip
            sender.flush()
        db.wait_for_wal("readings")
    params = {"start": start.isoformat(), "end": end.isoformat(), "interval": "10s"}
    with api.client(api.token(Role.ANALYST)) as c:
        series = c.get("/sensors/G-1-CH4/series", params=params).json()
        assert series["interval"] == "10s" and [p["count"] for p in series["points"]] == [10] * 6
        assert series["points"][0]["mean"] == 4.5 and series["unit"] == "%LEL"
        assert c.get("/sensors/G-1-CH4/series", params={**params, "interval": "1x; DROP"}).status_code == 400
        assert c.get("/sensors/G-1-CH4/series", params={"start": "2024-01-01T00:00:00"}).status_code == 400
        sensor = c.get("/sensors/G-1-CH4").json()
        assert sensor["latest_value"] is not None
        csv_text = c.get("/export/series", params={**params, "sensor_id": "G-1-CH4", "format": "csv"}).text
        assert csv_text.splitlines()[0] == "sensor_id,ts (UTC),mean,min,max,count" and len(csv_text.splitlines()) == 7
        raw = c.get("/export/series", params={**params, "sensor_id": "G-1-CH4", "format": "parquet"}).content
        assert pq.read_table(io.BytesIO(raw)).num_rows == 6
        alerts_csv = c.get("/export/alerts", params={"format": "csv"})
        assert alerts_csv.status_code == 200 and alerts_csv.text.startswith("alert_id,status")


def test_health_metrics_and_openapi(api: Api) -> None:
    with api.client(None) as c:
        assert c.get("/healthz").json()["hub_ready"] is True
        assert "lifeline_api_alert_events_ingested_total" in c.get("/metrics").text
        spec = c.get("/openapi.json").json()
        assert {"/alerts", "/alerts/active", "/alerts/{alert_id}/acknowledge", "/sensors/{sensor_id}/series"} <= set(
            spec["paths"]
        )
