"""Feeding a DMA's leak detector from closed windows in the group stage: window means become steps in event-time
order behind the watermark, missing windows keep the last mean for an hour, late windows are not used, findings
are stamped when their step was decided, and the detector's memory is bounded without changing what it finds."""

from __future__ import annotations

import pickle

import numpy as np

from lifeline.detectors.dma_feed import DmaFeeds, DmaFeedState
from lifeline.detectors.group_model import GroupWindow
from lifeline.detectors.hydraulic import DmaLeakDetector, Floats, LeakConfig
from lifeline.detectors.results import Finding
from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

T0 = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000
STEP = 300_000
GROUP = "DMA-1"


def _spec(sid: str, kind: SensorKind, network: str) -> SensorSpec:
    return SensorSpec(sid, kind, sid, "water-co", "d", 0.0, 0.0, group_id=GROUP, interval_s=300, network=network)


def _registry() -> Registry:
    return Registry([
        _spec("IN-Q", SensorKind.WATER_FLOW, "link=P-1"),
        _spec("EXP-Q", SensorKind.WATER_FLOW, "link=P-9"),
        _spec("DMA-Q", SensorKind.WATER_FLOW, "derived=+IN-Q -EXP-Q"),
        _spec("P-A", SensorKind.WATER_PRESSURE, "node=J-2"),  # ids and nodes in opposite orders
        _spec("P-B", SensorKind.WATER_PRESSURE, "node=J-1"),
        _spec("T-1", SensorKind.TANK_LEVEL, "node=T-1"),
        _spec("PU-1", SensorKind.PUMP_STATE, "link=PU-1"),
        SensorSpec("OTHER", SensorKind.WATER_PRESSURE, "x", "o", "d", 0.0, 0.0, group_id="NOT-A-DMA"),
    ])  # fmt: skip


class _Recorder(DmaLeakDetector):
    """Records what it is fed; raises one finding at ``fire_at``."""

    def __init__(self, fire_at: int = -1) -> None:
        super().__init__(group_id=GROUP, meter_id="DMA-Q", logger_ids=["P-B", "P-A"])
        self.fed: list[tuple[int, float, list[float], list[float], list[float]]] = []
        self.gaps: list[int] = []
        self.fire_at = fire_at

    def gap(self, ts: int) -> None:
        self.gaps.append(ts)

    def step(self, ts: int, consumption: float, pressures_mpa: Floats, levels: Floats, states: Floats) -> list[Finding]:
        self.fed.append((ts, consumption, pressures_mpa.tolist(), levels.tolist(), states.tolist()))
        if ts != self.fire_at:
            return []
        return [Finding("DMA-Q", GROUP, GROUP, AlertKind.PIPE_BURST, Tier.T2, ts, 1.0, 0.5, "burst", "water.dma.burst")]


def _feeds() -> DmaFeeds:
    return DmaFeeds(_registry(), lambda s: _registry()[s].group_id, lambda g: None)


def _windows(step: int, skip: tuple[str, ...] = (), scale: float = 1.0) -> list[GroupWindow]:
    values = {"IN-Q": 120.0, "EXP-Q": 20.5, "P-A": 0.32, "P-B": 0.31, "T-1": 4.0, "PU-1": 1.0}
    start = T0 + step * STEP
    return [GroupWindow(s, GROUP, start, 300, 1, v * scale, 0.0) for s, v in values.items() if s not in skip]


def _state(feeds: DmaFeeds, fire_at: int = -1) -> tuple[DmaFeedState, _Recorder]:
    state = feeds.new_state(GROUP)
    recorder = _Recorder(fire_at)
    state.detector = recorder
    return state, recorder


def test_the_registry_names_the_dma_and_its_sensors_in_model_node_order() -> None:
    feeds = _feeds()
    assert list(feeds.dmas) == [GROUP]
    dma = feeds.dmas[GROUP]
    assert dma.meter_id == "DMA-Q" and dma.loggers == ("P-B", "P-A") and dma.logger_nodes == ("J-1", "J-2")
    assert dma.levels == ("T-1",) and dma.states == ("PU-1",)
    assert feeds.wants("IN-Q") and feeds.wants("PU-1") and not feeds.wants("DMA-Q") and not feeds.wants("OTHER")


def test_window_means_become_steps_only_once_the_watermark_passed_the_step_and_its_settle() -> None:
    feeds = _feeds()
    state, rec = _state(feeds)
    feeds.add(state, _windows(0) + _windows(1))
    assert feeds.advance(state, T0 + 3 * STEP - 1) == [] and rec.fed == []  # step 0 decided at its end + 10 min
    feeds.advance(state, T0 + 3 * STEP)
    assert rec.fed == [(T0, 99.5, [0.31, 0.32], [4.0], [1.0])]  # consumption 120 - 20.5; loggers J-1, J-2
    feeds.advance(state, T0 + 10 * STEP)
    assert [f[0] for f in rec.fed] == [T0, T0 + STEP]  # nothing buffered for later steps yet


def test_a_sensor_without_a_window_keeps_its_last_mean_for_an_hour_then_the_step_is_a_gap() -> None:
    feeds = _feeds()
    state, rec = _state(feeds)
    feeds.add(state, _windows(0))
    for step in range(1, 16):
        feeds.add(state, _windows(step, skip=("EXP-Q",), scale=2.0))
    feeds.advance(state, T0 + 18 * STEP)
    # steps 1..12 use EXP-Q's mean of step 0 (20.5) with the other meter doubled; 13..15 lack it
    assert [round(f[1], 6) for f in rec.fed] == [99.5] + [240.0 - 20.5] * 12
    assert rec.gaps == [T0 + k * STEP for k in (13, 14, 15)]
    assert state.skipped_steps == 3 and state.fed_steps == 13


def test_a_dma_missing_a_sensor_from_the_start_feeds_nothing() -> None:
    feeds = _feeds()
    state, rec = _state(feeds)
    for step in range(3):
        feeds.add(state, _windows(step, skip=("T-1",)))
    feeds.advance(state, T0 + 5 * STEP)
    assert rec.fed == [] and state.skipped_steps == 3  # (the detector ignores gaps before its first step)


def test_windows_in_any_order_are_fed_in_event_time_order_and_a_late_one_is_not_used() -> None:
    feeds = _feeds()
    state, rec = _state(feeds)
    for step in (3, 1, 2, 0):
        feeds.add(state, _windows(step, scale=1.0 + step))
    feeds.advance(state, T0 + 6 * STEP)
    assert [f[0] for f in rec.fed] == [T0 + k * STEP for k in range(4)]
    assert [f[1] for f in rec.fed] == [99.5 * (1.0 + k) for k in range(4)]
    feeds.add(state, _windows(2, scale=9.0))  # step 2 was decided: too late
    feeds.add(state, _windows(4))
    feeds.advance(state, T0 + 7 * STEP)
    assert state.late_windows == 6 and [f[0] for f in rec.fed][-1] == T0 + 4 * STEP and len(rec.fed) == 5


def test_two_windows_of_a_step_give_their_count_weighted_mean_and_a_repeat_counts_once() -> None:
    feeds = _feeds()
    state, rec = _state(feeds)
    windows = _windows(0, skip=("IN-Q",))
    windows += [GroupWindow("IN-Q", GROUP, T0, 60, 1, 100.0, 0.0)]
    windows += [GroupWindow("IN-Q", GROUP, T0 + 60_000, 60, 3, 140.0, 0.0)]
    feeds.add(state, windows + windows[-1:])
    feeds.advance(state, T0 + 3 * STEP)
    assert rec.fed[0][1] == (100.0 + 3 * 140.0) / 4 - 20.5


def test_a_finding_is_stamped_when_its_step_was_decided() -> None:
    feeds = _feeds()
    state, _rec = _state(feeds, fire_at=T0 + STEP)
    for step in range(3):
        feeds.add(state, _windows(step))
    found = feeds.advance(state, T0 + 4 * STEP)
    assert [(f.kind, f.ts) for f in found] == [(AlertKind.PIPE_BURST, T0 + 4 * STEP)]  # step end + 10 min settle


def _daily(steps: int, burst_at: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    k = np.arange(steps)
    hour = (k % 288) / 12.0
    flow = 60.0 + 40.0 * np.sin(2 * np.pi * (hour - 8.0) / 24.0) + rng.normal(0.0, 1.0, steps)
    flow[burst_at:] += 25.0
    pressure = 0.35 - 0.0004 * flow[None, :] + rng.normal(0.0, 0.0002, (2, steps))
    pressure[:, burst_at:] -= 0.002
    return flow, pressure, rng.normal(4.0, 0.01, (1, steps))


def test_the_bounded_history_finds_what_an_unbounded_one_finds_and_the_state_pickles() -> None:
    cfg = LeakConfig(slot_days=2, night_days=3)  # keeps 8 days: a 13-day run trims several times
    steps, burst_at = 13 * 288, 12 * 288 + 100
    flow, pressure, level = _daily(steps, burst_at)
    trimmed = DmaLeakDetector(group_id=GROUP, meter_id="DMA-Q", logger_ids=["P-B", "P-A"], config=cfg)
    unbounded = DmaLeakDetector(group_id=GROUP, meter_id="DMA-Q", logger_ids=["P-B", "P-A"], config=cfg)
    unbounded._keep = 10**9
    out_trimmed: list[Finding] = []
    out_unbounded: list[Finding] = []
    for k in range(steps):
        if k == 10 * 288:  # a snapshot and a restore on the way change nothing
            trimmed = pickle.loads(pickle.dumps(trimmed))
        args = (T0 + k * STEP, float(flow[k]), pressure[:, k], level[:, k], np.zeros(1))
        out_trimmed += trimmed.step(*args)
        out_unbounded += unbounded.step(*args)
    assert len(trimmed._h.ts) <= 9 * 288 < len(unbounded._h.ts) == steps
    assert out_trimmed == out_unbounded
    opened = [f.ts for f in out_trimmed if f.kind is AlertKind.PIPE_BURST and f.tier is not None]
    assert opened and T0 + burst_at * STEP <= opened[0] <= T0 + (burst_at + 6) * STEP
    kept = len(trimmed.trace)
    assert 0 < kept < len(unbounded.trace)
    np.testing.assert_array_equal(np.array(trimmed.trace), np.array(unbounded.trace[-kept:]))  # NaN == NaN here


def test_a_burst_seen_by_a_logger_rule_and_by_the_dma_detector_is_one_alert_of_the_dma() -> None:
    from lifeline.detectors.engine import Detectors
    from lifeline.models import AlertEventType

    detectors = Detectors(_registry())
    group = detectors.new_group_state(GROUP)
    t = T0 + 10 * 86_400_000
    rule = Finding("P-A", "P-A", GROUP, AlertKind.PIPE_BURST, Tier.T2, t, 0.29, 0.8, "drop", "water.pressure.drop:big")
    dma = [Finding("DMA-Q", GROUP, GROUP, AlertKind.PIPE_BURST, Tier.T2, t + k * STEP, 12.0, 0.6, "step",
                   "water.dma.burst") for k in range(2, 12)]  # fmt: skip
    events = detectors.process_group(group, [rule, *dma], t + 12 * STEP)
    events += detectors.process_group(group, [], t + 86_400_000)
    opened = [e for e in events if e.event is AlertEventType.OPENED]
    assert [(e.kind, e.asset_id, e.started_at) for e in opened] == [(AlertKind.PIPE_BURST, GROUP, t)]
    assert [e.event for e in events if e.alert_id == opened[0].alert_id][-1] is AlertEventType.CLEARED


def test_the_rules_table_sets_the_dma_detectors_parameters() -> None:
    import pytest

    from lifeline.detectors.config import rules_from_table
    from lifeline.detectors.engine import Detectors
    from lifeline.exceptions import SettingsError

    config = rules_from_table({"leak": {"burst_z": 5.5, "night_days": 10}, "local_utc_offset_h": 2.0}, "[rules]")
    detector = Detectors(_registry(), config).dma_feeds.new_state(GROUP).detector
    assert (detector.cfg.burst_z, detector.cfg.night_days, detector.cfg.local_utc_offset_h) == (5.5, 10, 2.0)
    with pytest.raises(SettingsError, match=r"leak\.burst_sigma"):
        rules_from_table({"leak": {"burst_sigma": 5.0}}, "[rules]")


def test_an_outage_is_a_gap_that_keeps_the_daily_slots_aligned_and_raises_nothing() -> None:
    steps = 9 * 288
    flow, pressure, level = _daily(steps, steps)  # no burst
    outage = range(6 * 288 + 100, 6 * 288 + 136)  # 3 h without data on day 6
    bursts = {}
    for mode in ("gap", "skip"):
        detector = DmaLeakDetector(group_id=GROUP, meter_id="DMA-Q", logger_ids=["P-B", "P-A"])
        found: list[Finding] = []
        for k in range(steps):
            if k in outage:
                if mode == "gap":
                    detector.gap(T0 + k * STEP)
                continue
            found += detector.step(T0 + k * STEP, float(flow[k]), pressure[:, k], level[:, k], np.zeros(1))
        bursts[mode] = [f for f in found if f.kind is AlertKind.PIPE_BURST and f.tier is not None]
        if mode == "gap":
            assert len(detector._h.ts) == steps
    assert bursts["gap"] == []
    assert len(bursts["skip"]) > 100, "skipped steps shift every later step against its slot of earlier days"


def test_a_meter_with_a_tank_level_rate_takes_the_level_change_from_the_step_before() -> None:
    registry = Registry([
        _spec("IN-Q", SensorKind.WATER_FLOW, "link=P-1"),
        _spec("DMA-Q", SensorKind.WATER_FLOW, "derived=+IN-Q -rate(T-1)*100"),
        _spec("P-A", SensorKind.WATER_PRESSURE, "node=J-2"),
        _spec("P-B", SensorKind.WATER_PRESSURE, "node=J-1"),
        _spec("T-1", SensorKind.TANK_LEVEL, "node=T-1"),
    ])  # fmt: skip
    feeds = DmaFeeds(registry, lambda s: registry[s].group_id, lambda g: None)
    state, rec = _state(feeds)
    level = {0: 4.0, 1: 4.01, 2: 4.03, 3: 4.03, 5: 4.0, 6: 3.99}  # no windows at all in step 4

    def windows(step: int) -> list[GroupWindow]:
        values = {"IN-Q": 50.0, "P-A": 0.32, "P-B": 0.31, "T-1": level[step]}
        return [GroupWindow(s, GROUP, T0 + step * STEP, 300, 1, v, 0.0) for s, v in values.items()]

    for step in sorted(level):
        feeds.add(state, windows(step))
    feeds.advance(state, T0 + 10 * STEP)
    # 0.01 m in 5 min = 0.12 m/h × 100 m² = 12 m³/h into the tank. Step 0 has no step before it; step 4 keeps
    # every last mean (so its rate is 0) and step 5 takes its change from step 4's kept level
    fed = {(ts - T0) // STEP: round(consumption, 6) for ts, consumption, *_ in rec.fed}
    assert rec.gaps == [T0] and fed == {1: 50.0 - 12.0, 2: 50.0 - 24.0, 3: 50.0, 4: 50.0, 5: 50.0 + 36.0, 6: 62.0}
    # the snapshot keeps the meter's terms of the last step, nothing else of the DMA
    assert pickle.loads(pickle.dumps(state)).before == (T0 + 6 * STEP, {"IN-Q": 50.0, "T-1": 3.99})
