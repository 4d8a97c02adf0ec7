"""The analyst page: saved queries over QuestDB as its read-only user, limits, refusal of writes, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lifeline.api.auth import Role
from lifeline.connectors.questdb import QuestDB, write_alert_event

from .conftest import ConsoleApi, alert, shot

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DAY = datetime(2020, 1, 5, 10, 0, tzinfo=UTC)  # a day no other test writes alerts on


def _store_opened_alerts(api: ConsoleApi) -> None:
    """Three ``opened`` events on DAY: one tier 1, two tier 2."""
    base = int(DAY.timestamp() * 1000)
    with QuestDB(api.settings) as db, db.sender() as sender:
        for i, tier in enumerate((1, 2, 2)):
            write_alert_event(sender, db.table("alert_events"), alert(tier=tier, ts=base + i * 60_000, started_at=base))
        sender.flush()
        db.wait_for_wal("alert_events")


def test_analyst_runs_a_saved_query_and_cannot_write(console_api: ConsoleApi, open_browser: Callable[[], Any]) -> None:
    _store_opened_alerts(console_api)
    token = console_api.token(Role.ANALYST, name="analyst-1")
    page = open_browser().new_page()
    page.goto(console_api.console_url(token))
    page.wait_for_function("window.lifelineConsole && window.lifelineConsole.ready === true")
    page.click('#tabs button[data-tab="analyst"]')
    page.locator('#examples option[value="alerts_per_tier_day"]').wait_for(state="attached", timeout=10_000)
    page.select_option("#examples", "alerts_per_tier_day")
    page.click("#run-sql")
    page.wait_for_function("document.getElementById('sql-status').dataset.state === 'ok'", timeout=15_000)
    rows = page.locator("#sql-result tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    on_day = [r for r in rows if r[0].startswith("2020-01-05")]
    assert on_day == [["2020-01-05T00:00:00+00:00", "1", "1"], ["2020-01-05T00:00:00+00:00", "2", "2"]]
    assert page.locator("#sql-chart svg rect.bar, #sql-chart svg polyline.line").count() >= 1
    shot(page, "12-analyst")

    # the read-only user cannot change anything, whatever the text says
    page.fill("#sql", f"DROP TABLE {console_api.settings.questdb_table_prefix}alert_events")
    page.click("#run-sql")
    page.wait_for_function("document.getElementById('sql-status').dataset.state === 'error'", timeout=15_000)
    with QuestDB(console_api.settings) as db:
        assert db.count("alert_events") >= 3

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=console_api.server.base_url, headers=headers, timeout=60) as client:
        many = client.post("/analyst/query", json={"sql": "SELECT x FROM long_sequence(5000)", "limit": 1000}).json()
        assert len(many["rows"]) == 1000 and many["truncated"] is True and many["rows"][-1] == [1000]
        insert = client.post("/analyst/query", json={"sql": "CREATE TABLE analyst_was_here (x INT)"})
        assert insert.status_code == 400, insert.text
        download = client.post("/analyst/query.csv", json={"sql": "SELECT x, x * 2 twice FROM long_sequence(3)"})
        assert download.status_code == 200
        assert list(csv.reader(io.StringIO(download.text))) == [["x", "twice"], ["1", "2"], ["2", "4"], ["3", "6"]]
    operator = {"Authorization": f"Bearer {console_api.token(Role.OPERATOR)}"}
    with httpx.Client(base_url=console_api.server.base_url, headers=operator, timeout=30) as client:
        assert client.post("/analyst/query", json={"sql": "SELECT 1"}).status_code == 403
        assert client.get("/analyst/examples").status_code == 403
