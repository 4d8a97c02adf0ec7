"""The ``gas-rupture`` scenario: its ground truth follows from what it injects, and the detectors find both
ruptures at T1 within minutes, the creep at T2 and the hunting regulator at T3 (docs/domain.md#gas-pressure-
time-of-day-3σ-and-rupture)."""

from __future__ import annotations

from lifeline.models import AlertEventType, AlertKind
from lifeline.simulators.scenarios import build, scenario_names

from .helpers import replay

MIN = 60_000


def test_gas_rupture_is_listed_and_its_truth_follows_the_injections() -> None:
    assert "gas-rupture" in scenario_names()
    scenario = build("gas-rupture", seed=7)
    assert scenario.duration_s == 4 * 86_400  # three days of history for the profiles, the events on day 4
    rows = [r for r in scenario.ground_truth if r.label == "incident" and r.kind == "gas_pressure_anomaly"]
    assert sorted(r.expected_tier for r in rows) == ["1", "1", "2", "3"]
    assert all(r.start_ms >= scenario.start_ms + 3 * 86_400_000 for r in rows)
    index = {sid: i for i, sid in enumerate(scenario.sensor_ids)}
    engine = scenario.engine
    for row in rows:
        pressure = index[row.sensor_ids[0]]
        times = engine.sample_times(pressure)
        values = engine.evaluate(pressure, times)
        before = values[(times >= row.start_ms - 30 * MIN) & (times < row.start_ms)].mean()
        during = values[(times >= row.start_ms + 10 * MIN) & (times < row.end_ms)]
        if row.expected_tier == "1":  # a rupture: more than 10 % down within minutes
            assert during.max() < 0.9 * before
        elif "hunting" in row.detail:  # ±4 % around the profile
            assert during.max() - during.min() > 0.07 * before
        else:  # the creep: more than 20 % above the set point at its peak
            assert during.max() > 1.2 * scenario.registry[row.sensor_ids[0]].design_value


def test_ruptures_are_found_at_t1_within_minutes_and_the_regulator_faults_at_their_tiers() -> None:
    scenario = build("gas-rupture", seed=7)
    events = [e for e in replay(scenario) if e.kind is AlertKind.GAS_PRESSURE_ANOMALY]
    opened = {e.alert_id: e.ts for e in events if e.event is AlertEventType.OPENED}
    best = {a: min(e.tier for e in events if e.alert_id == a) for a in opened}
    rows = [r for r in scenario.ground_truth if r.label == "incident" and r.kind == "gas_pressure_anomaly"]
    matched: set[str] = set()
    for row in rows:
        hits = [e.alert_id for e in events if e.event is AlertEventType.OPENED and e.asset_id == row.group_id
                and row.start_ms - 60 * MIN <= e.ts <= row.end_ms]  # fmt: skip
        assert hits, row.detail
        matched.update(hits)
        tier = min(best[a] for a in hits)
        delay_min = (min(opened[a] for a in hits) - row.start_ms) / MIN
        if row.detail.startswith("rupture"):
            assert tier == 1 and 0 <= delay_min <= 15, (row.detail, tier, delay_min)
        else:
            assert tier == int(row.expected_tier), (row.detail, tier)
    assert set(opened) == matched  # no pressure anomaly outside the four incidents
