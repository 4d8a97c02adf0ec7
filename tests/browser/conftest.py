"""Browser tests: Playwright for Python driving Debian's Chromium against the real API, Kafka and QuestDB.

Chromium is the system one (``/usr/bin/chromium``; ``./run.sh test`` installs it when missing), never a
``playwright install`` download. Each "browser" is its own Chromium process with a fresh user-data
folder. Screenshots go to ``test-artifacts/browser/`` (git-ignored; ``LIFELINE_TEST_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from questdb import TimestampNanos

from lifeline.api.app import create_app
from lifeline.api.auth import Role, issue_jwt
from lifeline.api.settings import ApiSettings
from lifeline.api.testing import LiveServer, wait_until
from lifeline.codec import encode
from lifeline.connectors.kafka import make_producer
from lifeline.connectors.questdb import QuestDB
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, SensorKind, SensorSpec, Tier
from lifeline.registry import write_registry
from lifeline.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
SECRET = "browser-secret-" + "b" * 24
ROOT = Path(__file__).resolve().parents[2]
REGISTRY = [
    SensorSpec("G-1-CH4", SensorKind.CH4_LEL, "GW-1", "hefei-gas", "shushan", 31.820, 117.220, group_id="GM-1"),
    SensorSpec("G-2-CH4", SensorKind.CH4_LEL, "GW-2", "hefei-gas", "shushan", 31.825, 117.232, group_id="GM-1"),
    SensorSpec("G-3-P", SensorKind.GAS_PRESSURE, "GP-3", "hefei-gas", "luyang", 31.870, 117.280),
    SensorSpec("W-1-P", SensorKind.WATER_PRESSURE, "WM-1", "hefei-water", "baohe", 31.760, 117.300, interval_s=60),
    SensorSpec("W-2-P", SensorKind.WATER_PRESSURE, "WM-2", "hefei-water", "baohe", 31.770, 117.310, interval_s=60),
    SensorSpec("D-1-L", SensorKind.PONDING_DEPTH, "RP-1", "hefei-drainage", "zhengwu", 31.800, 117.250),
]


def artifacts_dir() -> Path:
    """Where screenshots and the performance report are kept."""
    folder = Path(os.environ.get("LIFELINE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def now_ms() -> int:
    """Wall-clock epoch milliseconds."""
    return time.time_ns() // 1_000_000


def alert(owner: str = "hefei-gas", tier: int = 1, **kw: Any) -> AlertEvent:
    """A fresh ``opened`` alert event on a registry asset of ``owner``."""
    ts = now_ms()
    assets = {"hefei-gas": ("GW-1", Lifeline.GAS, AlertKind.GAS_LEAK, "shushan", ("G-1-CH4",)),
              "hefei-water": ("WM-1", Lifeline.WATER, AlertKind.PIPE_BURST, "baohe", ("W-1-P",)),
              "hefei-drainage": ("RP-1", Lifeline.DRAINAGE, AlertKind.WATERLOGGING, "zhengwu", ("D-1-L",))}  # fmt: skip
    asset_id, lifeline, kind, district, sensors = assets[owner]
    fields: dict[str, Any] = {
        "alert_id": f"bt-{uuid.uuid4().hex[:12]}", "event": AlertEventType.OPENED, "tier": Tier(tier),
        "lifeline": lifeline, "kind": kind, "asset_id": asset_id, "owner": owner, "district": district,
        "sensor_ids": sensors, "started_at": ts, "ts": ts, "value": 62.0, "score": 4.2,
        "evidence": "CH4 62 %LEL at G-1-CH4 for 3 readings; linked well G-2-CH4 above 25 %LEL",
    }  # fmt: skip
    fields.update(kw)
    return AlertEvent(**fields)


@dataclass
class ConsoleApi:
    """The API under test and how to reach it."""

    settings: Settings
    server: LiveServer
    topic: str
    producer: Any

    def token(self, role: Role, owner: str | None = None, name: str | None = None) -> str:
        """A JWT for ``role`` (scoped to ``owner`` for the owner role)."""
        return issue_jwt(SECRET, role=role, subject=name or f"{role.value}-{owner or 'all'}", owner=owner)

    def console_url(self, token: str) -> str:
        """The console with a ready login in the fragment."""
        return f"{self.server.base_url}/console/#token={token}"

    def produce(self, *events: AlertEvent) -> None:
        """Send alert events to the API's alerts topic and wait until Kafka has them."""
        for e in events:
            self.producer.produce(self.topic, key=e.alert_id.encode(), value=encode(e))
        assert self.producer.flush(30) == 0


def _write_readings(settings: Settings) -> None:
    """Two hours of CH4 readings (one per minute) for the chart: 2 %LEL, then 60 %LEL for the last 20 min."""
    end = now_ms()
    with QuestDB(settings) as db, db.sender() as sender:
        for minute in range(120, 0, -1):
            ts = end - minute * 60_000
            value = 60.0 if minute <= 20 else 2.0
            sender.row(db.table("readings"), symbols={"sensor_id": "G-1-CH4", "asset_id": "GW-1", "lifeline": "gas"},
                       columns={"value": value, "quality": 0}, at=TimestampNanos(ts * 1_000_000))  # fmt: skip
        sender.flush()
        db.wait_for_wal("readings")


@pytest.fixture(scope="module")
def console_api(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApi]:
    """The API on a fresh alerts topic, with a small registry and readings for one sensor."""
    folder = tmp_path_factory.mktemp("console-api")
    write_registry(REGISTRY, folder / "registry.csv")
    tag = uuid.uuid4().hex[:8]
    topic = f"bt-alerts-{tag}"
    # own tables per module: readings, alert and work order rows of other tests never mix in
    settings = services.with_overrides(registry_path=folder / "registry.csv", questdb_table_prefix=f"bt_{tag}_",
                                       work_orders_topic=f"bt-work-orders-{tag}")  # fmt: skip
    with QuestDB(settings) as db:
        db.create_tables()
    _write_readings(settings)
    app = create_app(settings, ApiSettings(alerts_topic=topic, jwt_secret=SECRET, ws_heartbeat_s=2))
    with LiveServer(app) as server:
        api = ConsoleApi(settings, server, topic, make_producer(settings, **{"linger.ms": 0}))
        wait_until(lambda: _healthy(server.base_url), 60, what="hub ready")
        yield api


def _healthy(base_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    """Playwright's sync driver (no browser download: only the system Chromium is used)."""
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's Chromium at /usr/bin/chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def open_browser(playwright_driver: Any, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Start Chromium processes on demand (each with a fresh user-data folder); yields a factory of contexts."""
    contexts: list[Any] = []

    def factory() -> Any:
        profile = tmp_path / f"profile-{len(contexts)}"
        context = playwright_driver.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900}, locale="zh-CN",
        )  # fmt: skip
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artefact; returns its path."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path))
    return path
