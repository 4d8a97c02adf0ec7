"""The console's pages, the offline API docs and the lifeline-health counts (no server, no lifespan)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from lifeline.api.app import create_app
from lifeline.api.auth import Role, issue_jwt
from lifeline.api.routes_console import CONSOLE_DIR, PUBLIC_PATHS, console_url
from lifeline.api.routes_lifelines import count_health
from lifeline.api.settings import ApiSettings
from lifeline.models import Lifeline, SensorKind, SensorSpec
from lifeline.registry import Registry
from lifeline.settings import Settings

SECRET = "unit-secret-" + "c" * 24


def client() -> TestClient:
    app: Any = create_app(Settings(), ApiSettings(jwt_secret=SECRET), registry=Registry([]))
    return TestClient(app, raise_server_exceptions=False)


def test_docs_and_redoc_load_only_local_assets() -> None:
    c = client()
    for page in ("/docs", "/redoc"):
        r = c.get(page)
        assert r.status_code == 200, page
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", r.text) + re.findall(r"url: *'([^']+)'", r.text)
        assert urls, page
        assert all(u.startswith("/") for u in urls), (page, urls)
        assert "http://" not in r.text and "https://" not in r.text.replace("https://github.com", ""), page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        r = c.get(f"/docs-assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 100_000, asset


def test_console_files_are_public_and_nothing_else_is() -> None:
    c = client()
    page = c.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="console.js">' in page.text
    assert c.get("/console/console.js").headers["content-type"].startswith("text/javascript")
    i18n = c.get("/console/i18n.json").json()
    assert i18n["zh"]["tier"] == {"1": "一级", "2": "二级", "3": "三级"}
    assert set(i18n["zh"]) == set(i18n["en"])
    assert c.get("/console/nope.js").status_code == 401  # not a shipped file: not public, needs a token
    token = {"Authorization": "Bearer " + issue_jwt(SECRET, role=Role.OPERATOR, subject="t")}
    assert c.get("/console/nope.js", headers=token).status_code == 404
    assert c.get("/console/..%2Fapp.py", headers=token).status_code == 404
    assert c.get("/console", follow_redirects=False).headers["location"] == "/console/"
    assert c.get("/alerts/active").status_code == 401  # data still needs a token
    assert c.get("/lifelines/health").status_code == 401
    assert "/console/console.js" in PUBLIC_PATHS and "/console/index.html" in PUBLIC_PATHS


def test_console_assets_reference_no_remote_host() -> None:
    for path in CONSOLE_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path.name
    json.loads((CONSOLE_DIR / "i18n.json").read_text(encoding="utf-8"))


def test_console_url_puts_the_token_in_the_fragment() -> None:
    assert console_url("http://127.0.0.1:8080/", "llk_x") == "http://127.0.0.1:8080/console/#token=llk_x"
    assert console_url("http://h:1") == "http://h:1/console/"


def _spec(sensor_id: str, kind: SensorKind, district: str, interval_s: float = 300.0) -> SensorSpec:
    return SensorSpec(sensor_id, kind, "A-" + sensor_id, "o", district, 31.8, 117.2, interval_s=interval_s)


def test_health_counts_by_hand() -> None:
    now = 10_000_000
    specs = [
        _spec("g1", SensorKind.CH4_LEL, "shushan"),  # reading 5 min ago, window max(900, 600) s -> online
        _spec("g2", SensorKind.CH4_LEL, "shushan"),  # reading 16 min ago (> 15 min) -> silent
        _spec("g3", SensorKind.CH4_LEL, "shushan"),  # no reading at all -> silent
        _spec("g4", SensorKind.CH4_LEL, "shushan"),  # fresh reading but a sensor_fault alert -> faulty
        _spec("w1", SensorKind.WATER_PRESSURE, "baohe", interval_s=60),  # 9 min ago, window 600 s -> online
        _spec("w2", SensorKind.WATER_PRESSURE, "baohe", interval_s=60),  # 11 min ago -> silent
    ]
    latest = {"g1": now - 300_000, "g2": now - 960_000, "g4": now - 1_000, "w1": now - 540_000, "w2": now - 660_000}
    rows = count_health(specs, latest, frozenset({"g4"}), now)
    got = {(r.lifeline, r.district): (r.total, r.online, r.faulty, r.silent) for r in rows}
    assert got == {(Lifeline.GAS, "shushan"): (4, 1, 1, 2), (Lifeline.WATER, "baohe"): (2, 1, 0, 1)}
    gas = next(r for r in rows if r.lifeline is Lifeline.GAS)
    assert gas.silent_ids == ["g2", "g3"] and gas.faulty_ids == ["g4"]
