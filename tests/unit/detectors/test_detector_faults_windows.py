"""Fault discrimination, window statistics, state size and robustness properties."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifeline.detectors import Detectors, Finding, engine
from lifeline.detectors.quiet import quiet_array
from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

T0 = 1_700_000_000_000
MIN = 60_000


def det_for(kind: SensorKind = SensorKind.WELL_TEMPERATURE, interval_s: float = 300.0, **kw: object) -> Detectors:
    spec = SensorSpec("S", kind, "A", "owner", "d", 31.8, 117.2, group_id="G", maintainer="devices",
                      interval_s=interval_s, **kw)  # type: ignore[arg-type]  # fmt: skip
    return Detectors(Registry([spec]))


def run(det: Detectors, values: np.ndarray, step_ms: int, per_call: int = 1) -> list[Finding]:
    state = det.new_sensor_state("S")
    ts = T0 + np.arange(values.size, dtype=np.int64) * step_ms
    out: list[Finding] = []
    for i in range(0, values.size, per_call):
        out.extend(det.process_sensor(state, ts[i : i + per_call], values[i : i + per_call]).findings)
    return out


def faults(findings: list[Finding], name: str) -> list[Finding]:
    return [f for f in findings if f.kind is AlertKind.SENSOR_FAULT and f.rule.startswith(f"fault.{name}")]


def noisy(n: int, seed: int = 1, level: float = 20.0, sd: float = 0.1) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0.0, sd, n)


def test_stuck_sensor_is_a_tier3_fault_after_n_identical_samples_and_half_an_hour() -> None:
    values = noisy(60)
    values[30:] = values[30]  # 30 identical readings at 5 min = 2.5 h
    found = faults(run(det_for(), values, 5 * MIN), "stuck")
    assert found and found[0].tier is Tier.T3
    # 5-min readings: the 7 identical readings that span 30 min (stuck_min_s) end at sample 36
    assert found[0].ts == T0 + 36 * 5 * MIN


def test_a_slow_sensor_is_stuck_after_six_identical_readings_not_twelve() -> None:
    values = noisy(40)
    values[20:] = values[20]  # 15-min readings frozen for 5 h
    found = faults(run(det_for(interval_s=900), values, 15 * MIN), "stuck")
    assert found and found[0].ts == T0 + 25 * 15 * MIN  # 6 identical readings (75 min), not 12 (2¾ h)


def test_three_equal_quantised_readings_of_a_slow_sensor_are_not_stuck() -> None:
    values = np.round(noisy(60, sd=0.1), 2)
    values[20:23] = values[20]  # a chance run of 3 equal readings at 0.01 °C resolution
    assert faults(run(det_for(interval_s=900), values, 15 * MIN), "stuck") == []


def test_a_spike_among_the_first_readings_is_flagged_before_the_noise_scale_settles() -> None:
    values = noisy(20, seed=3, level=12.0, sd=0.1)
    values[6] += 5.0  # 50 sigma on the 7th reading (the running noise scale needs 8)
    found = faults(run(det_for(interval_s=900), values, 15 * MIN), "spike")
    assert [f.value for f in found] == [values[6]]
    assert found[0].ts == T0 + 7 * 15 * MIN  # decided one reading later


def test_constant_rain_at_zero_is_not_stuck() -> None:
    assert faults(run(det_for(SensorKind.RAIN), np.zeros(100), 5 * MIN), "stuck") == []


def test_a_tank_meter_at_its_low_flow_cut_off_is_not_stuck_though_its_range_runs_negative() -> None:
    values = noisy(60, level=120.0, sd=20.0)
    values[30:] = 0.0  # the tank stands still: the meter reports exactly zero for 2.5 h
    det = det_for(SensorKind.WATER_FLOW, min_value=-2000.0, max_value=2000.0)
    assert faults(run(det, values, 5 * MIN), "stuck") == []
    values[30:] = 57.25  # the same run at a value inside the range is stuck
    assert faults(run(det, values, 5 * MIN), "stuck")


def test_readings_pinned_at_the_range_end_are_a_saturation_not_also_stuck() -> None:
    values = noisy(60, level=0.3, sd=0.01)
    values[30:] = -0.1  # a pressure logger at its range minimum for 2.5 h
    found = run(det_for(SensorKind.WATER_PRESSURE), values, 5 * MIN)
    assert faults(found, "saturation") and faults(found, "stuck") == []


def test_single_spike_is_a_fault_and_raises_no_incident() -> None:
    det = det_for(SensorKind.CH4_LEL)
    values = np.abs(noisy(40, level=1.0, sd=0.1))
    values[25] = 60.0  # one sample far above T1 (50 %LEL), no persistence
    found = run(det, values, 5 * MIN)
    assert [f.tier for f in faults(found, "spike")] == [Tier.T3]
    assert [f for f in found if f.kind is AlertKind.GAS_LEAK and f.tier is not None] == []


def test_a_spike_is_forgotten_after_the_quiet_period_and_the_sensor_is_vectorised_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    det = det_for(SensorKind.ACCELERATION, interval_s=0.02)
    quiet_taken: list[bool] = []

    def counting(*args: Any) -> bool:
        taken = quiet_array(*args)
        quiet_taken.append(taken)
        return taken

    monkeypatch.setattr(engine, "quiet_array", counting)
    values = np.random.default_rng(5).normal(0.0, 0.004, 100_000).round(4)
    values[500] = 0.2  # one sample jumps away and straight back: a spike (below the 0.5 g threshold)
    state = det.new_sensor_state("S")
    ts = T0 + np.arange(values.size, dtype=np.int64) * 20
    found: list[Finding] = []
    taken_after: list[bool] = []
    for i in range(0, values.size, 1000):
        quiet_taken.clear()
        found += det.process_sensor(state, ts[i : i + 1000], values[i : i + 1000]).findings
        if ts[i] >= T0 + 500 * 20 + 1_800_000 + 20_000:  # quiet period (30 min) over, and some
            taken_after += quiet_taken
    assert [f.rule for f in faults(found, "spike")] == ["fault.spike:single_sample"]  # reported once, no "ended"
    assert "fault.spike" not in state.emitted
    assert taken_after and all(taken_after), "back on the vectorised path once the spike is forgotten"


def test_saturation_at_range_maximum() -> None:
    values = noisy(30)
    values[20:] = 80.0  # well temperature physical max 80 °C
    found = faults(run(det_for(), values, 5 * MIN), "saturation")
    assert found and found[0].tier is Tier.T3


def test_silence_is_judged_on_the_event_time_watermark() -> None:
    det = det_for(interval_s=300)
    state = det.new_sensor_state("S")
    det.process_sensor(state, np.array([T0], dtype=np.int64), np.array([20.0]))
    assert det.advance_sensor(state, T0 + 15 * MIN).findings == []  # exactly 3 intervals: not yet
    late = det.advance_sensor(state, T0 + 16 * MIN).findings
    # stamped when noticed (the watermark), not back-dated to T0 + 15 min: a partition may already have
    # reported that time as complete to the correlation stage
    assert [(f.rule, f.tier, f.ts) for f in late] == [("fault.silence:no_data", Tier.T3, T0 + 16 * MIN)]
    back = det.process_sensor(state, np.array([T0 + 20 * MIN], dtype=np.int64), np.array([20.1])).findings
    assert [(f.rule, f.tier) for f in back] == [("fault.silence:no_data", None)]


def test_faulty_sensor_does_not_escalate() -> None:
    det = det_for(SensorKind.PONDING_DEPTH)
    values = np.r_[np.zeros(5), np.full(20, 300.0)]  # ponding gauge pinned at its 300 cm full scale
    found = run(det, values, 5 * MIN)
    incident = [f.tier for f in found if f.kind is AlertKind.WATERLOGGING and f.tier is not None]
    assert Tier.T1 not in incident[2:]  # once saturation is known the rule stops
    assert faults(found, "saturation")


def test_window_statistics_match_numpy() -> None:
    det = det_for(interval_s=10)  # sub-minute channel → 60 s windows
    rng = np.random.default_rng(3)
    ts = T0 - T0 % 60_000 + np.cumsum(rng.integers(500, 4000, 400)).astype(np.int64)
    values = 1000.0 + rng.normal(0, 1, ts.size)
    state = det.new_sensor_state("S")
    stats = det.process_sensor(state, ts, values).stats
    stats += det.advance_sensor(state, int(ts[-1]) + 120_000).stats
    assert sum(w.count for w in stats) == ts.size
    w = stats[1]
    mask = (ts >= w.window_start) & (ts < w.window_start + 60_000)
    x = (ts[mask] - w.window_start) / 3.6e6
    assert w.window_s == 60 and w.count == mask.sum()
    assert np.isclose(w.mean, values[mask].mean()) and np.isclose(w.std, values[mask].std())
    assert w.min == values[mask].min() and w.max == values[mask].max() and w.last == values[mask][-1]
    assert np.isclose(w.slope_per_h, np.polyfit(x, values[mask], 1)[0], rtol=1e-6, atol=1e-6)


def test_window_statistics_same_for_arrays_and_single_readings() -> None:
    rng = np.random.default_rng(4)
    ts = T0 + np.cumsum(rng.integers(100, 2000, 300)).astype(np.int64)
    values = rng.normal(0, 0.01, ts.size)
    whole, single = det_for(SensorKind.ACCELERATION, 1.0), det_for(SensorKind.ACCELERATION, 1.0)
    a, b = whole.new_sensor_state("S"), single.new_sensor_state("S")
    sa = whole.process_sensor(a, ts, values).stats
    sb = [w for i in range(ts.size) for w in single.process_sensor(b, ts[i : i + 1], values[i : i + 1]).stats]
    assert [(w.window_start, w.count) for w in sa] == [(w.window_start, w.count) for w in sb]
    assert np.allclose([w.std for w in sa], [w.std for w in sb])


def test_state_pickles_small_and_round_trips() -> None:
    for kind in (SensorKind.CH4_LEL, SensorKind.RAIN, SensorKind.WATER_FLOW, SensorKind.BEARING_DISPLACEMENT):
        det = det_for(kind, design_value=40.0)
        state = det.new_sensor_state("S")
        values = np.abs(noisy(500, level=10.0, sd=1.0))
        ts = T0 + np.arange(values.size, dtype=np.int64) * 5 * MIN
        det.process_sensor(state, ts[:400], values[:400])
        blob = pickle.dumps(state)
        assert len(blob) <= 4096, (kind, len(blob))  # the snapshot budget per sensor, learned baseline included
        copy = pickle.loads(blob)
        r1 = det.process_sensor(state, ts[400:], values[400:])
        r2 = det.process_sensor(copy, ts[400:], values[400:])
        assert r1 == r2


def test_group_state_pickles() -> None:
    det = det_for(SensorKind.CH4_LEL)
    found = run(det, np.array([1.0, 55.0, 60.0, 61.0]), 5 * MIN)
    gs = det.new_group_state("G")
    det.process_group(gs, found, T0)
    copy = pickle.loads(pickle.dumps(gs))
    assert det.process_group(gs, [], 1 << 60) == det.process_group(copy, [], 1 << 60)


KINDS = [k for k in SensorKind]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=80),
    gaps=st.lists(st.integers(1, 10_000_000), min_size=80, max_size=80),
    per_call=st.integers(1, 40),
)
def test_no_input_raises_and_scores_stay_in_unit_interval(
    kind: SensorKind, values: list[float], gaps: list[int], per_call: int
) -> None:
    det = det_for(kind, design_value=10.0, thresholds={"crown_m": 1.0})
    spec = det.registry["S"]
    arr = np.clip(np.array(values), spec.valid_min, spec.valid_max)  # the caller guarantees the range
    ts = T0 + np.cumsum(np.array(gaps[: arr.size], dtype=np.int64))
    state = det.new_sensor_state("S")
    findings: list[Finding] = []
    for i in range(0, arr.size, per_call):
        r = det.process_sensor(state, ts[i : i + per_call], arr[i : i + per_call])
        findings += r.findings
        assert all(np.isfinite(w.mean) and w.min <= w.mean <= w.max for w in r.stats)
    findings += det.advance_sensor(state, int(ts[-1]) + 10**9).findings
    assert all(0.0 <= f.score <= 1.0 for f in findings)
    assert all(f.tier is Tier.T3 for f in findings if f.kind is AlertKind.SENSOR_FAULT and f.tier is not None)
    events = det.process_group(det.new_group_state("G"), findings, 1 << 60)
    assert all(0.0 <= e.score <= 1.0 for e in events)
    assert all(e.tier is Tier.T3 for e in events if e.kind is AlertKind.SENSOR_FAULT)
    assert len(pickle.dumps(state)) <= 4096  # the snapshot budget per sensor, learned baseline included


@settings(max_examples=30, deadline=None)
@given(level=st.floats(-1e3, 1e3), n=st.integers(2, 300))
def test_constant_series_raise_nothing_but_faults(level: float, n: int) -> None:
    det = det_for(SensorKind.STRAIN, design_value=100.0)
    found = run(det, np.full(n, level), 10 * MIN, per_call=7)
    assert all(f.kind is AlertKind.SENSOR_FAULT for f in found if f.tier is not None)


def _structural(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind is AlertKind.STRUCTURAL_ANOMALY and f.tier is not None]


def test_a_truck_ringing_a_raw_accelerometer_is_no_comfort_alarm() -> None:
    # 50 Hz: a truck rings the deck at 2 Hz with 0.7 m/s² peaks, decaying in 1.5 s; its samples pass the
    # 0.5 m/s² bound for many readings in a row, but a sine of amplitude 0.7 has an RMS of 0.49 at most
    t_s = np.arange(0, 20.0, 0.02)
    ring = np.where(t_s >= 5.0, 0.7 * np.sin(2 * np.pi * 2.0 * (t_s - 5.0)) * np.exp(-(t_s - 5.0) / 1.5), 0.0)
    assert int((np.abs(ring) >= 0.5).sum()) > 4
    assert _structural(run(det_for(SensorKind.ACCELERATION, interval_s=0.02), ring, 20)) == []


def test_sustained_raw_vibration_above_the_comfort_rms_is_tier_2() -> None:
    # amplitude 1.0 m/s² for 10 s: RMS 1/√2 = 0.71 m/s² ≥ 0.5 m/s²
    t_s = np.arange(0, 20.0, 0.02)
    shake = np.where((t_s >= 5.0) & (t_s < 15.0), np.sin(2 * np.pi * 2.0 * t_s), 0.0)
    found = _structural(run(det_for(SensorKind.ACCELERATION, interval_s=0.02), shake, 20))
    assert found and {f.tier for f in found} == {Tier.T2}
    assert T0 + 5_000 <= found[0].ts <= T0 + 7_000  # the 1-s running RMS crosses 0.5 within about a second


@pytest.mark.parametrize("at", [8, 9, 12])
def test_a_spike_in_the_first_sixteen_readings_is_flagged_though_its_jump_feeds_the_noise(at: int) -> None:
    # the warm-up noise scale is a plain mean of |change|; unclipped, the spike's own jump (26 sigma at the 9th
    # reading) raised it so much that the spike was under 6 noise scales when judged at the next reading
    values = noisy(30, seed=3)
    values[at] += 2.6
    found = faults(run(det_for(interval_s=900), values, 15 * MIN), "spike")
    assert [f.ts for f in found] == [T0 + (at + 1) * 15 * MIN]


@pytest.mark.parametrize("seed", range(20))
def test_plain_noise_in_the_first_readings_is_no_spike(seed: int) -> None:
    assert not faults(run(det_for(interval_s=900), noisy(24, seed=seed), 15 * MIN), "spike")
