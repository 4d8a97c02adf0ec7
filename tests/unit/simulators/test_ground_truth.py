"""Ground truth agrees with what is actually in the readings: faults, incidents, bad messages."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from lifeline.codec import decode_reading_message
from lifeline.exceptions import MessageError
from lifeline.models import AlertKind, Reading
from lifeline.simulators.scenarios import SCENARIOS, Scenario

from .conftest import Series

Get = Callable[[str, float | None], tuple[Scenario, Series]]
KINDS = {k.value for k in AlertKind}


def test_rows_are_complete_and_use_alert_kinds(scenario_data: Get) -> None:
    for name in ("smoke", "gas", "water", "drainage", "bridge"):
        scenario, _ = scenario_data(name, None)
        ids = [r.id for r in scenario.ground_truth]
        assert len(ids) == len(set(ids))
        for row in scenario.ground_truth:
            assert row.label in {"incident", "lookalike", "fault", "bad_message"}
            assert row.start_ms <= row.end_ms
            assert row.sensor_ids
            if row.label == "bad_message":
                assert row.expected_tier == "dlq" and row.dlq_reason
                continue
            assert row.kind in KINDS
            assert all(s in scenario.registry for s in row.sensor_ids)
            assert scenario.registry[row.sensor_ids[0]].lifeline.value == row.lifeline
            expected = {"incident": {"1", "2", "3"}, "lookalike": {"none"}, "fault": {"fault"}}[row.label]
            assert row.expected_tier in expected, row
            if row.label == "fault":
                assert row.kind == AlertKind.SENSOR_FAULT.value


def test_smoke_has_a_tier1_incident_a_fault_and_every_bad_message_reason(scenario_data: Get) -> None:
    scenario, _ = scenario_data("smoke", None)
    rows = scenario.ground_truth
    assert any(r.label == "incident" and r.expected_tier == "1" for r in rows)
    assert any(r.label == "fault" for r in rows)
    reasons = {r.dlq_reason for r in rows if r.label == "bad_message"}
    assert reasons == {"malformed", "unknown_sensor", "out_of_range", "non_finite", "future", "late"}
    assert 200 <= len(scenario.registry) <= 500 and scenario.duration_s == 3600


def test_bad_messages_are_bad_for_their_stated_reason(scenario_data: Get) -> None:
    scenario, series = scenario_data("smoke", None)
    for message in scenario.bad_messages:
        if message.reason == "malformed":
            with pytest.raises(MessageError):
                decode_reading_message(message.payload)
            continue
        if message.reason == "non_finite":
            with pytest.raises(MessageError):  # 1e999 overflows the float: the decoder cannot keep it
                decode_reading_message(message.payload)
            assert b"1e999" in message.payload
            continue
        reading = decode_reading_message(message.payload)
        assert isinstance(reading, Reading)
        if message.reason == "unknown_sensor":
            assert reading.sensor_id not in scenario.registry
            continue
        spec = scenario.registry[reading.sensor_id]
        if message.reason == "out_of_range":
            assert not spec.valid_min <= reading.value <= spec.valid_max
        elif message.reason == "future":
            assert reading.ts > scenario.end_ms + 10 * 365 * 86_400_000
        elif message.reason == "late":
            ts, _ = series[reading.sensor_id]
            sent_before = ts[ts < message.emit_at_ms]
            assert sent_before.max() - reading.ts > 30 * 60_000  # far behind this sensor's watermark
            assert reading.ts not in set(ts.tolist())  # and not a duplicate of a real sample


def _fault_rows(scenario: Scenario, fault: str) -> list:
    return [r for r in scenario.ground_truth if r.label == "fault" and r.detail.startswith(fault)]


def test_faults_are_where_ground_truth_says(scenario_data: Get) -> None:
    scenario, series = scenario_data("quiet-day-with-faults", None)
    for row in _fault_rows(scenario, "stuck"):
        ts, values = series[row.sensor_ids[0]]
        inside = values[(ts >= row.start_ms) & (ts < row.end_ms)]
        assert inside.size >= 2 and np.ptp(inside) == 0
        assert np.ptp(values[ts < row.start_ms]) > 0 or row.start_ms == scenario.start_ms
    for row in _fault_rows(scenario, "dropout"):
        ts, _ = series[row.sensor_ids[0]]
        assert not ((ts >= row.start_ms) & (ts < row.end_ms)).any()
        assert (ts < row.start_ms).any() and (ts >= row.end_ms).any()
    for row in _fault_rows(scenario, "saturation"):
        ts, values = series[row.sensor_ids[0]]
        spec = scenario.registry[row.sensor_ids[0]]
        assert np.all(values[(ts >= row.start_ms) & (ts < row.end_ms)] == spec.valid_max)
        assert np.all(values[ts < row.start_ms] < spec.valid_max)
    for row in _fault_rows(scenario, "spike"):
        ts, values = series[row.sensor_ids[0]]
        at = int(np.flatnonzero(ts == row.start_ms)[0])
        curvature = np.abs(values[:-2] - 2 * values[1:-1] + values[2:])  # second differences remove daily trends
        assert 1 <= at < values.size - 1
        assert curvature[at - 1] > 4 * np.median(curvature)  # one sample far off the local line
        assert curvature[at - 1] == curvature.max() or curvature[at - 1] > 2 * np.sort(curvature)[-3]
    for row in _fault_rows(scenario, "offset") + _fault_rows(scenario, "drift"):
        ts, values = series[row.sensor_ids[0]]
        assert (ts >= row.start_ms).any()


def test_a_spike_comes_after_eight_readings_of_its_sensor(scenario_data: Get) -> None:
    # a spike is judged against its sensor's own reading-to-reading variation, which a deployed sensor has
    # learned and a simulated one only from the scenario's start; seed 7's 1-h smoke scenario used to put its
    # spike on the 2nd reading of a 10-min channel
    for name in ("smoke", "gas", "quiet-day-with-faults"):
        scenario, series = scenario_data(name, None)
        spikes = _fault_rows(scenario, "spike")
        assert spikes
        for row in spikes:
            ts, _ = series[row.sensor_ids[0]]
            assert int((ts < row.start_ms).sum()) >= 8, (name, row)
            assert (ts > row.start_ms).any()


def test_faults_and_lookalikes_touch_no_incident_sensor(scenario_data: Get) -> None:
    for name in ("gas", "water", "bridge"):
        scenario, _ = scenario_data(name, None)
        incident = {s for r in scenario.ground_truth if r.label == "incident" for s in r.sensor_ids}
        faulty = {s for r in scenario.ground_truth if r.label == "fault" for s in r.sensor_ids}
        assert not incident & faulty


def test_incidents_have_the_expected_tier_mix() -> None:
    from lifeline.simulators.scenarios import build

    tiers = {r.expected_tier for r in build("drainage").ground_truth if r.kind == "waterlogging"}
    assert tiers == {"1", "2", "3"}
    quiet = build("quiet-day-with-faults", duration_s=6 * 3600).ground_truth
    assert not [r for r in quiet if r.label == "incident" and r.kind in {"gas_leak", "pipe_burst", "bridge_overload"}]
    assert {r.detail.split(":")[0] for r in build("quiet-day-with-faults").ground_truth if r.label == "fault"} == {
        "stuck", "drift", "spike", "dropout", "saturation", "offset"
    }  # fmt: skip
    assert len(SCENARIOS) >= 8


def test_drainage_truth_follows_the_rate_of_rise_rules() -> None:
    """Table D: a surcharged manhole rising >0.2 m / 5 min is T2; ponding ≥25 cm rising >5 cm / 5 min is T1."""
    from lifeline.simulators.scenarios import build

    scenario = build("drainage")
    engine = scenario.engine
    index = {sid: i for i, sid in enumerate(scenario.sensor_ids)}
    checked = {"overflow": 0, "waterlogging": 0}
    for row in scenario.ground_truth:
        if row.label != "incident" or row.kind not in checked:
            continue
        sensor = index[row.sensor_ids[0]]
        times = engine.sample_times(sensor)
        values = engine.evaluate(sensor, times)
        assert int(np.diff(times).max()) == 300_000  # 5-min reports: the rise is one sample difference
        rise = np.r_[0.0, np.diff(values)]
        thresholds = scenario.registry[row.sensor_ids[0]].thresholds
        if row.kind == "overflow":
            fast = bool(((values >= thresholds["crown_m"]) & (rise > 0.2)).any())
            assert (row.expected_tier in {"1", "2"}) == (fast or values.max() >= thresholds["t2_m"])
        else:
            fast = bool(((values >= 25.0) & (rise > 5.0)).any())
            assert (row.expected_tier == "1") == (fast or values.max() >= 40.0)
        checked[row.kind] += fast
    assert checked["overflow"] > 0  # the storm does drive fast rises in surcharged pipes


def test_faults_do_not_hide_storm_overflows() -> None:
    from lifeline.simulators.scenarios import build

    scenario = build("storm-day", duration_s=12 * 3600)
    overflow = {
        s for r in scenario.ground_truth if r.label == "incident" and r.kind == "overflow" for s in r.sensor_ids
    }
    faulty = {s for r in scenario.ground_truth if r.label == "fault" for s in r.sensor_ids}
    assert overflow and faulty and not overflow & faulty
