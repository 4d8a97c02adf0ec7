"""The operator console in a real Chromium against the real API, Kafka and QuestDB.

Alerts are injected as lifecycle events on the API's alerts topic, exactly as the flow writes them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import msgspec
import pytest

from lifeline.api.auth import Role
from lifeline.models import AlertEventType, Tier

from .conftest import ConsoleApi, alert, artifacts_dir, now_ms, shot

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RED = "rgb(211, 47, 47)"  # --t1 in console.css
ORANGE = "rgb(245, 124, 0)"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def open_console(context: Any, api: ConsoleApi, token: str) -> Any:
    page = context.new_page()
    page.goto(api.console_url(token))
    page.wait_for_function("window.lifelineConsole && window.lifelineConsole.ready === true")
    page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
    return page


def only_district(page: Any, district: str) -> None:
    """Filter the list to one district (the module's API also holds the other tests' alerts)."""
    option = page.locator(f'select[data-filter="district"] option[value="{district}"]')
    option.wait_for(state="attached", timeout=10_000)
    page.select_option('select[data-filter="district"]', district)


def row(page: Any, alert_id: str) -> Any:
    return page.locator(f'#alert-list li[data-id="{alert_id}"]')


def test_operator_sees_injected_alert_acknowledges_and_second_browser_follows(
    console_api: ConsoleApi, open_browser: Callable[[], Any]
) -> None:
    desk = open_console(open_browser(), console_api, console_api.token(Role.OPERATOR, name="desk-1"))
    assert "#token=" not in desk.url  # the login leaves the address bar
    shot(desk, "01-alert-list-empty")
    second = open_console(open_browser(), console_api, console_api.token(Role.OPERATOR, name="desk-2"))

    t1, t2 = alert(tier=1), alert("hefei-water", tier=2)
    sent = time.monotonic()
    console_api.produce(t1, t2)
    row(desk, t1.alert_id).wait_for(timeout=2_000)
    appeared_s = time.monotonic() - sent
    assert appeared_s < 2.0
    first = row(desk, t1.alert_id)
    assert first.locator(".tier-badge").inner_text() == "一级"
    assert first.locator(".kind").inner_text() == "燃气泄漏"
    assert first.locator(".status").inner_text() == "未确认"
    assert first.locator(".tier-badge").evaluate("e => getComputedStyle(e).backgroundColor") == RED
    row(desk, t2.alert_id).wait_for(timeout=2_000)
    assert row(desk, t2.alert_id).locator(".tier-badge").evaluate("e => getComputedStyle(e).backgroundColor") == ORANGE
    assert [a for _, a in rendered_rows(desk)] == [t1.alert_id, t2.alert_id]  # tier 1 above tier 2
    # the tier-1 cue: a beep was played, the row flashes and the banner shows until acknowledged
    assert desk.evaluate("window.lifelineConsole.cues.beeps") >= 1
    assert "flash" in (first.get_attribute("class") or "")
    assert desk.locator("#t1-banner").is_visible()
    assert desk.evaluate("document.body.classList.contains('t1-alarm')")
    shot(desk, "02-alert-list-t1")

    first.click()
    desk.wait_for_selector("#evidence")
    assert "62 %LEL" in desk.locator("#evidence").inner_text()
    desk.locator('figure.series[data-sensor="G-1-CH4"] svg polyline.mean').wait_for(timeout=10_000)
    points = desk.locator("figure.series polyline.mean").get_attribute("points") or ""
    # the chart spans started_at - 1 h .. + 2 h in 1-minute buckets; the readings (one a minute) of the hour
    # before the alert fall in it: 40 at 2 %LEL (bottom, y = 116) then 20 at 60 %LEL (top, y = 10)
    heights = [p.split(",")[1] for p in points.split()]
    assert heights.count("10.0") == 20 and 39 <= heights.count("116.0") <= 40, heights
    shot(desk, "03-alert-detail")
    desk.fill("#comment", "燃气公司已出发")
    desk.click("#ack")
    second_row = row(second, t1.alert_id)
    second_row.wait_for(timeout=2_000)
    second.wait_for_function(
        f"document.querySelector('#alert-list li[data-id=\"{t1.alert_id}\"]').dataset.status === 'acknowledged'",
        timeout=5_000,
    )
    assert second_row.locator(".status").inner_text() == "已确认"
    desk.wait_for_function("!document.body.classList.contains('t1-alarm')", timeout=5_000)
    assert "flash" not in (row(desk, t1.alert_id).get_attribute("class") or "")
    assert not desk.locator("#t1-banner").is_visible()
    desk.locator('#timeline li[data-event="acknowledged"]').wait_for(timeout=5_000)
    assert "燃气公司已出发" in desk.locator('#timeline li[data-event="acknowledged"]').inner_text()
    shot(second, "04-second-browser-acknowledged")

    desk.click("#lang")
    assert row(desk, t1.alert_id).locator(".tier-badge").inner_text() == "Tier 1"
    desk.click("#lang")
    desk.click('#tabs button[data-tab="map"]')
    desk.locator(f'#map circle.alert-mark[data-id="{t1.alert_id}"]').wait_for(timeout=5_000)
    assert desk.locator("#map circle.sensor").count() == 6
    shot(desk, "05-map")
    desk.locator(f'#map circle.alert-mark[data-id="{t2.alert_id}"]').click()
    desk.wait_for_function(f"document.querySelector('#detail').innerText.includes('{t2.alert_id}')", timeout=5_000)
    desk.locator('#map circle.sensor[data-sensor="W-2-P"]').click()
    desk.wait_for_selector("#asset-title")
    assert "WM-2" in desk.locator("#asset-title").inner_text()
    desk.click('#tabs button[data-tab="health"]')
    desk.locator('#health tbody tr[data-lifeline="gas"][data-district="shushan"]').wait_for(timeout=5_000)
    gas = desk.locator('#health tbody tr[data-lifeline="gas"][data-district="shushan"]')
    # G-1-CH4 has a reading a minute old (online); G-2-CH4 has none (silent)
    assert [gas.locator(f"td.{c}").inner_text() for c in ("online", "faulty", "silent")] == ["1", "0", "1"]
    shot(desk, "06-health")
    print(f"injected alert visible after {appeared_s * 1000:.0f} ms")


def test_a_sensor_joining_an_acknowledged_alert_shows_without_a_new_acknowledge(
    console_api: ConsoleApi, open_browser: Callable[[], Any]
) -> None:
    """An ``updated`` event (a sensor joined at the same tier) keeps the acknowledgement and shows the new sensors."""
    page = open_console(open_browser(), console_api, console_api.token(Role.OPERATOR, name="desk-join"))
    opened = alert(tier=2, district="joins", evidence="二级 from 1 sensor(s): G-1-CH4")
    console_api.produce(opened)
    only_district(page, "joins")
    row(page, opened.alert_id).click()
    page.wait_for_selector("#evidence")
    page.click("#ack")
    page.wait_for_function(
        f"document.querySelector('#alert-list li[data-id=\"{opened.alert_id}\"]').dataset.status === 'acknowledged'",
        timeout=5_000,
    )
    joined = msgspec.structs.replace(
        opened, event=AlertEventType.UPDATED, sensor_ids=("G-1-CH4", "G-2-CH4"), ts=opened.ts + 60_000,
        evidence="二级 from 2 sensor(s): G-1-CH4 | G-2-CH4",
    )  # fmt: skip
    console_api.produce(joined)
    page.wait_for_function(
        f"(window.lifelineConsole.alerts.get('{opened.alert_id}') || {{}}).event?.event === 'updated'", timeout=5_000
    )
    assert row(page, opened.alert_id).get_attribute("data-status") == "acknowledged"
    assert row(page, opened.alert_id).locator(".status").inner_text() == "已确认"
    row(page, opened.alert_id).click()
    page.wait_for_function("document.querySelector('#evidence').innerText.includes('2 sensor(s)')", timeout=5_000)
    updated = page.locator('#timeline li[data-event="updated"]')
    updated.wait_for(timeout=5_000)
    assert "更新" in updated.inner_text()
    assert page.locator("#detail-status").inner_text() == "已确认"


def test_owner_sees_only_its_assets(console_api: ConsoleApi, open_browser: Callable[[], Any]) -> None:
    gas_alert, water_alert = alert("hefei-gas", tier=2), alert("hefei-water", tier=1)
    page = open_console(open_browser(), console_api, console_api.token(Role.OWNER, "hefei-gas"))
    console_api.produce(water_alert, gas_alert)
    row(page, gas_alert.alert_id).wait_for(timeout=3_000)
    owners = page.locator("#alert-list li .owner").all_inner_texts()
    assert owners and set(owners) == {"hefei-gas"}
    assert row(page, water_alert.alert_id).count() == 0
    page.click('#tabs button[data-tab="map"]')
    page.locator("#map circle.sensor").first.wait_for(timeout=5_000)
    sensors = page.locator("#map circle.sensor").evaluate_all("c => c.map(e => e.dataset.sensor)")
    assert sorted(sensors) == ["G-1-CH4", "G-2-CH4", "G-3-P"]
    assert page.locator(f'#map circle.alert-mark[data-id="{water_alert.alert_id}"]').count() == 0
    status = page.evaluate(
        f"window.lifelineConsole.api('/alerts/{water_alert.alert_id}').then(() => 200, e => e.status)"
    )
    assert status == 403
    page.evaluate(f"window.lifelineConsole.showDetail('{water_alert.alert_id}')")
    page.wait_for_selector("#detail p.error")
    shot(page, "07-owner-view")


def _block_remote(blocked: list[str]) -> Callable[[Any], None]:
    def handle(route: Any) -> None:
        host = urlparse(route.request.url).hostname or ""
        if host in LOOPBACK:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    return handle


def test_docs_render_with_the_network_blocked(console_api: ConsoleApi, open_browser: Callable[[], Any]) -> None:
    page = open_browser().new_page()
    remote: list[str] = []
    page.on("request", lambda r: remote.append(r.url) if urlparse(r.url).hostname not in LOOPBACK else None)
    failures: dict[str, str] = {}
    page.on("requestfailed", lambda r: failures.__setitem__(r.url, r.failure or ""))
    blocked: list[str] = []
    page.route("**/*", _block_remote(blocked))
    page.goto(f"{console_api.server.base_url}/docs")
    page.locator(".swagger-ui .opblock-summary-path", has_text="/alerts/active").first.wait_for(timeout=20_000)
    shot(page, "08-docs")
    page.goto(f"{console_api.server.base_url}/redoc")
    page.get_by_text("/alerts/active").first.wait_for(timeout=30_000)
    shot(page, "09-redoc")
    # nothing reached the network: Redoc's bundle links its logo on a CDN, and the page's CSP refuses it
    assert blocked == []
    assert all("csp" in failures.get(url, "").lower() for url in remote), (remote, failures)


def rendered_rows(page: Any) -> list[tuple[int, str]]:
    """(index in the sorted list, alert id) of the rows in the DOM, in DOM order."""
    rows = page.locator("#alert-list li").evaluate_all("rows => rows.map(r => [Number(r.dataset.index), r.dataset.id])")
    return [(int(i), str(a)) for i, a in rows]


def test_500_alerts_and_20_events_per_second_without_jank(
    console_api: ConsoleApi, open_browser: Callable[[], Any]
) -> None:
    context = open_browser()
    context.add_init_script(
        """window.__longtasks = [];
        new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longtasks.push(e.duration); })
          .observe({type: 'longtask', buffered: true});
        window.__frames = []; let last = 0;
        const tick = (t) => { if (last) window.__frames.push(t - last); last = t; requestAnimationFrame(tick); };
        requestAnimationFrame(tick);"""
    )
    page = open_console(context, console_api, console_api.token(Role.OPERATOR, name="perf"))
    base = now_ms()
    latest = {}
    for i in range(500):
        e = alert(tier=1 + i % 3, district="perf", started_at=base - i * 1000, ts=base - i * 1000)
        latest[e.alert_id] = e
    console_api.produce(*latest.values())
    only_district(page, "perf")  # only this test's alerts
    page.wait_for_function("document.getElementById('alert-count').textContent === '500'", timeout=20_000)
    page.evaluate("window.__longtasks = []; window.__frames = []; window.lifelineConsole.work = [];")
    ids = list(latest)
    kinds = (AlertEventType.ESCALATED, AlertEventType.DE_ESCALATED)
    start = time.monotonic()
    sent = 0
    for second in range(30):
        batch = []
        for k in range(20):
            old = latest[ids[(second * 20 + k) * 7 % len(ids)]]
            kind = kinds[k % 2]
            tier = max(1, int(old.tier) - 1) if kind is AlertEventType.ESCALATED else min(3, int(old.tier) + 1)
            batch.append(msgspec.structs.replace(old, event=kind, tier=Tier(tier), ts=max(now_ms(), old.ts + 1)))
        for e in batch:
            latest[e.alert_id] = e
            console_api.produce(e)
            sent += 1
            time.sleep(max(0.0, start + sent / 20 - time.monotonic()))
    last = batch[-1]
    page.wait_for_function(
        f"(window.lifelineConsole.alerts.get('{last.alert_id}') || {{id: 0}}).event.ts === {last.ts}", timeout=10_000
    )
    page.wait_for_timeout(300)
    long_tasks = page.evaluate("window.__longtasks")
    frames = sorted(page.evaluate("window.__frames"))
    work = sorted(page.evaluate("window.lifelineConsole.work"))
    expected = [e.alert_id for e in sorted(latest.values(), key=lambda e: (int(e.tier), -e.ts, e.alert_id))]
    top = rendered_rows(page)
    page.eval_on_selector("#alert-list", "e => { e.scrollTop = e.scrollHeight; }")
    page.wait_for_timeout(300)
    bottom = rendered_rows(page)
    shot(page, "10-performance-500-alerts")
    report = {
        "events_sent": sent, "seconds": round(time.monotonic() - start, 1), "long_tasks_ms": long_tasks,
        "frames": len(frames), "frame_ms_p50": frames[len(frames) // 2],
        "frame_ms_p95": frames[int(len(frames) * 0.95)],
        "frame_ms_max": frames[-1], "renders": page.evaluate("window.lifelineConsole.renders"),
        "console_work_ms_p50": work[len(work) // 2], "console_work_ms_p95": work[int(len(work) * 0.95)],
        "console_work_ms_max": work[-1], "load_average": os.getloadavg(),
    }  # fmt: skip
    (artifacts_dir() / "performance.json").write_text(json.dumps(report, indent=2))
    print("console performance:", json.dumps(report))
    assert page.inner_text("#alert-count") == "500"
    for rows in (top, bottom):  # the rows in view sit at their place in the expected order, without gaps
        indices = [index for index, _ in rows]
        assert indices == list(range(indices[0], indices[0] + len(indices))) and len(indices) >= 20
        assert [alert_id for _, alert_id in rows] == expected[indices[0] : indices[0] + len(indices)]
    assert top[0][0] == 0 and bottom[-1][0] == 499
    # 200 ms on a quiet machine; LIFELINE_BROWSER_LONGTASK_MS raises it where other work starves the browser
    limit = float(os.environ.get("LIFELINE_BROWSER_LONGTASK_MS", "200"))
    assert all(duration <= limit for duration in long_tasks), long_tasks


def test_work_order_dispatch_to_verified_and_the_resolve_gate(
    console_api: ConsoleApi, open_browser: Callable[[], Any]
) -> None:
    from lifeline.connectors.kafka import read_to_end
    from lifeline.connectors.questdb import QuestDB

    incident = alert(tier=2, district="wo-dispatch")
    desk = open_console(open_browser(), console_api, console_api.token(Role.OPERATOR, name="desk-wo"))
    crew = open_console(open_browser(), console_api, console_api.token(Role.OWNER, "hefei-gas", name="gas-crew"))
    console_api.produce(incident)
    for page in (desk, crew):
        only_district(page, "wo-dispatch")
        row(page, incident.alert_id).click()
        page.locator("#orders-section").wait_for(timeout=5_000)
    desk.fill("#wo-team", "燃气抢修一班")
    desk.fill("#wo-deadline", "45")
    desk.fill("#wo-comment", "关阀并检测")
    desk.click("#wo-dispatch")
    order = crew.locator("#orders-section li[data-order]")  # the other browser sees it live
    order.wait_for(timeout=5_000)
    assert order.get_attribute("data-state") == "dispatched"
    order_id = order.get_attribute("data-order")
    assert "燃气抢修一班" in order.inner_text() and "已派发" in order.inner_text()

    desk.click("#resolve")  # refused while the order is open
    desk.wait_for_function("document.getElementById('action-result').textContent.includes('open work orders')")

    steps = ["accepted", "on_site", "handled", "verified"]
    for step, page in zip(steps, (crew, crew, crew, desk), strict=True):
        page.fill("#wo-comment", f"{step} ok")
        page.click(f'#orders-section button.advance[data-next="{step}"]')
        for watcher in (desk, crew):
            watcher.wait_for_function(
                f"document.querySelector('#orders-section li[data-order]')?.dataset.state === '{step}'", timeout=5_000
            )
    assert crew.locator("#orders-section button.advance").count() == 0  # closed
    history = crew.locator("#orders-section li[data-order] ol li").evaluate_all("s => s.map(e => e.dataset.step)")
    assert history == ["dispatched", *steps]
    shot(crew, "11-work-order-verified")

    desk.fill("#comment", "已修复")
    desk.click("#resolve")
    desk.wait_for_function("document.getElementById('detail-status')?.textContent === '已处置'", timeout=5_000)

    with QuestDB(console_api.settings) as db:
        db.wait_for_wal("work_order_events")
        sql = f"SELECT event, actor FROM {db.table('work_order_events')} WHERE order_id = %s ORDER BY ts"  # noqa: S608
        rows = db.query(sql, [order_id]).rows
    assert [r[0] for r in rows] == ["dispatched", *steps]
    assert [r[1] for r in rows] == ["desk-wo", "gas-crew", "gas-crew", "gas-crew", "desk-wo"]
    on_kafka = [json.loads(v) for v in read_to_end(console_api.settings, console_api.settings.work_orders_topic)]
    assert [e["event"] for e in on_kafka if e["order_id"] == order_id] == ["dispatched", *steps]


def test_overdue_order_is_escalated_and_shown(console_api: ConsoleApi, open_browser: Callable[[], Any]) -> None:
    import httpx

    incident = alert(tier=1, district="wo-overdue")
    token = console_api.token(Role.OPERATOR, name="desk-late")
    desk = open_console(open_browser(), console_api, token)
    console_api.produce(incident)
    only_district(desk, "wo-overdue")
    row(desk, incident.alert_id).click()
    desk.locator("#orders-section").wait_for(timeout=5_000)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=console_api.server.base_url, headers=headers, timeout=30) as client:
        r = client.post(f"/alerts/{incident.alert_id}/work-orders", json={"team": "crew", "deadline_minutes": 0.05})
        assert r.status_code == 201, r.text
        order_id = r.json()["order_id"]
        deadline_ms = int(datetime.fromisoformat(r.json()["deadline"]).timestamp() * 1000)
        desk.locator("#orders-section .order-state.overdue").wait_for(timeout=10_000)
        order = client.get(f"/work-orders/{order_id}").json()
    assert order["overdue"] is True and order["state"] == "dispatched"
    overdue = [h for h in order["history"] if h["event"] == "overdue"]
    assert len(overdue) == 1
    assert int(datetime.fromisoformat(overdue[0]["ts"]).timestamp() * 1000) == deadline_ms + 1
