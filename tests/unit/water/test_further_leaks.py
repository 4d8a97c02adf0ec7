"""A DMA that carries one unrepaired background leak still finds the next one: a further rise of the night flow
over the level of the nights that opened its standing alert opens an alert of its own, and both clear together
once the nights are back at the clean baseline (docs/domain.md#hydraulic-water-scenarios-and-dma-leak-detection)."""

from __future__ import annotations

import pickle

import numpy as np

from lifeline.detectors import Detectors
from lifeline.detectors.hydraulic import DmaLeakDetector
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind, SensorSpec
from lifeline.registry import Registry

from .dma import DAY, START, STEP, daily_flow

NIGHT_M3H = 60.0


def _registry() -> Registry:
    spec = SensorSpec("DMA-Q", SensorKind.WATER_FLOW, "DMA-IN", "hefei-water", "shushan", 31.8, 117.2,
                      group_id="DMA-1", interval_s=300.0)  # fmt: skip
    return Registry([spec])


def _flow(days: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A DMA of 60 m³/h at night and 200 m³/h by day with 0.4 % demand noise (a night sigma of about 0.3 m³/h)."""
    ts = START + np.arange(days * 288, dtype=np.int64) * STEP
    rng = np.random.default_rng(seed)
    return ts, daily_flow(ts, NIGHT_M3H, 200.0) * (1 + rng.normal(0.0, 0.004, ts.size))


def _leak(ts: np.ndarray, from_day: float, m3h: float, to_day: float = 1e9) -> np.ndarray:
    return np.where((ts >= START + from_day * DAY) & (ts < START + to_day * DAY), m3h, 0.0)


def _events(ts: np.ndarray, flow: np.ndarray, *, restore_at: int = -1, legacy: bool = False) -> list[AlertEvent]:
    """The background-leak alert events of one DMA detector; at step ``restore_at`` it goes through a pickle (as the
    old layout with ``legacy``) and goes on from the copy."""
    det = Detectors(_registry())
    group = det.new_group_state("DMA-1")
    leak = DmaLeakDetector(group_id="DMA-1", meter_id="DMA-Q", logger_ids=["P0", "P1"])
    pressures = np.full(2, 0.4)
    events: list[AlertEvent] = []
    for k in range(ts.size):
        if k == restore_at:
            leak = _restored(leak, legacy)
        found = leak.step(int(ts[k]), float(flow[k]), pressures, np.zeros(0), np.zeros(0))
        events += det.process_group(group, found, int(ts[k]))
    return [e for e in events if e.kind is AlertKind.BACKGROUND_LEAK]


def _restored(leak: DmaLeakDetector, legacy: bool) -> DmaLeakDetector:
    state = leak.__getstate__()
    if legacy:  # the layout before further leaks: one flag, its text and location
        standing = state.pop("_standing")
        state["_standing"] = bool(standing)
        state["_standing_text"] = standing[0].text if standing else ""
        state["_standing_location"] = standing[0].location if standing else ""
        for name in ("_flagged_run", "_further", "_below_newest"):
            del state[name]
    copy = DmaLeakDetector.__new__(DmaLeakDetector)
    copy.__setstate__(pickle.loads(pickle.dumps(state)))
    return copy


def _opened(events: list[AlertEvent]) -> list[AlertEvent]:
    return [e for e in events if e.event is AlertEventType.OPENED]


def test_a_second_leak_under_a_standing_alert_opens_an_alert_of_its_own() -> None:
    ts, flow = _flow(26, seed=21)
    # 6 m³/h from day 9, never repaired; another 6 m³/h from day 17 (each 20 night sigmas, 10 % of the night flow)
    events = _events(ts, flow + _leak(ts, 9, 6.0) + _leak(ts, 17, 6.0))
    opened = _opened(events)
    assert len(opened) == 2, [e.evidence for e in opened]
    first, further = opened
    assert START + 9 * DAY < first.ts <= START + 12 * DAY  # two flagged nights after the first leak
    assert START + 17 * DAY < further.ts <= START + 20 * DAY  # two nights over the standing level after the second
    assert first.alert_id != further.alert_id
    assert first.asset_id == further.asset_id == "DMA-1"  # both alerts belong to the DMA
    assert "further leak" in further.evidence and "further leak" not in first.evidence
    assert not [e for e in events if e.event is AlertEventType.CLEARED]  # neither leak repaired: both stay open


def test_one_steady_leak_stays_one_alert() -> None:
    ts, flow = _flow(26, seed=22)
    assert len(_opened(_events(ts, flow + _leak(ts, 9, 6.0)))) == 1


def test_a_rise_under_the_night_limit_over_the_standing_level_opens_nothing_more() -> None:
    ts, flow = _flow(26, seed=23)
    # the second leak adds 0.5 m³/h: under the limit of 3 night sigmas (and the 1 % floor of 0.6 m³/h)
    assert len(_opened(_events(ts, flow + _leak(ts, 9, 6.0) + _leak(ts, 17, 0.5)))) == 1


def test_both_alerts_clear_together_after_the_nights_are_back_at_the_clean_baseline() -> None:
    ts, flow = _flow(26, seed=24)
    events = _events(ts, flow + _leak(ts, 9, 6.0, to_day=22) + _leak(ts, 15, 6.0, to_day=22))
    assert len(_opened(events)) == 2
    cleared = [e for e in events if e.event is AlertEventType.CLEARED]
    assert len(cleared) == 2 and {e.alert_id for e in cleared} == {e.alert_id for e in _opened(events)}
    assert all(START + 22 * DAY < e.ts <= START + 25 * DAY for e in cleared)  # after two clean nights


def test_when_one_of_two_leaks_is_repaired_the_newest_alert_clears_alone_and_the_other_stays() -> None:
    ts, flow = _flow(30, seed=27)
    # 6 m³/h from day 9 and another 6 from day 15; the second repaired on day 21, the first on day 26
    events = _events(ts, flow + _leak(ts, 9, 6.0, to_day=26) + _leak(ts, 15, 6.0, to_day=21))
    first, further = _opened(events)
    cleared = [e for e in events if e.event is AlertEventType.CLEARED]
    assert [e.alert_id for e in cleared] == [further.alert_id, first.alert_id]
    assert START + 21 * DAY < cleared[0].ts <= START + 24 * DAY  # two nights back down to the first leak's level
    assert START + 26 * DAY < cleared[1].ts <= START + 29 * DAY  # two nights back at the clean baseline
    leak = DmaLeakDetector(group_id="DMA-1", meter_id="DMA-Q", logger_ids=["P0"])
    values = flow + _leak(ts, 9, 6.0, to_day=26) + _leak(ts, 15, 6.0, to_day=21)
    ended = [f for k in range(ts.size) for f in leak.step(int(ts[k]), float(values[k]), np.full(1, 0.4), np.zeros(0),
                                                          np.zeros(0))
             if f.tier is None and f.kind is AlertKind.BACKGROUND_LEAK]  # fmt: skip
    assert [f.incident for f in ended] == ["2", ""]
    assert "one of the DMA's leaks was repaired" in ended[0].evidence


def test_a_state_pickled_mid_leak_finds_the_second_leak_as_an_uninterrupted_one_does() -> None:
    ts, flow = _flow(26, seed=25)
    leaky = flow + _leak(ts, 9, 6.0) + _leak(ts, 17, 6.0)
    plain = [(e.event, e.alert_id, e.ts) for e in _events(ts, leaky)]
    restored = [(e.event, e.alert_id, e.ts) for e in _events(ts, leaky, restore_at=14 * 288)]
    assert restored == plain and len(plain) >= 2


def test_a_state_of_the_layout_before_further_leaks_keeps_its_alert_and_takes_its_next_night_as_the_level() -> None:
    ts, flow = _flow(26, seed=26)
    leaky = flow + _leak(ts, 9, 6.0) + _leak(ts, 17, 6.0)
    events = _events(ts, leaky, restore_at=14 * 288, legacy=True)
    # the old state knows no level of its opening nights: its standing alert goes on, and the first flagged night
    # after the restore (night 14, the first leak alone) becomes the level the second leak is judged against
    opened = _opened(events)
    assert len(opened) == 2, [e.evidence for e in opened]
    assert START + 17 * DAY < opened[1].ts <= START + 20 * DAY
    assert not [e for e in events if e.event is AlertEventType.CLEARED]


def _night_use_rising(ts: np.ndarray, from_day: float, m3h_per_day: float) -> np.ndarray:
    """A slow rise of the whole night flow (the season's night use), in m³/h at night (scaled with the flow by day)."""
    days = np.clip((ts - START) / DAY - from_day, 0.0, None)
    return 1.0 + days * m3h_per_day / NIGHT_M3H


def test_a_slow_rise_of_the_night_use_under_a_standing_alert_opens_no_further_alert() -> None:
    ts, flow = _flow(40, seed=31)
    # one unrepaired leak from day 9; from day 12 the night use rises 0.1 m³/h a day (a yearly cycle of ±10 % at its
    # steepest), 2.8 m³/h by day 40: more than the limit of 1.8 m³/h over the alert's opening nights, but no leak
    events = _events(ts, flow * _night_use_rising(ts, 12, 0.1) + _leak(ts, 9, 6.0))
    assert len(_opened(events)) == 1, [e.evidence for e in _opened(events)]


def test_after_the_newer_of_two_leaks_is_repaired_the_older_alert_is_judged_at_the_risen_night_use() -> None:
    ts, flow = _flow(46, seed=32)
    # leak A from day 9 (never repaired), leak B from day 15 to day 30, and from day 16 a rise of the night use of
    # 0.1 m³/h a day (a yearly cycle of ±10 % at its steepest): 3 m³/h by day 46, more than the limit of 1.8 m³/h
    # over A's opening nights
    events = _events(ts, flow * _night_use_rising(ts, 16, 0.1) + _leak(ts, 9, 6.0) + _leak(ts, 15, 6.0, to_day=30))
    opened = _opened(events)
    cleared = [e for e in events if e.event is AlertEventType.CLEARED]
    assert len(opened) == 2, [e.evidence for e in opened]
    assert [e.alert_id for e in cleared] == [opened[1].alert_id]  # B's alert alone; A's stays open
    assert START + 30 * DAY < cleared[0].ts <= START + 33 * DAY


def test_a_fifth_leak_under_four_standing_alerts_still_gets_an_alert() -> None:
    ts, flow = _flow(36, seed=33)
    leaks = sum(_leak(ts, day, 6.0) for day in (9, 14, 19, 24, 29))
    opened = _opened(_events(ts, flow + leaks))
    assert len(opened) == 5, [e.evidence for e in opened]
    assert START + 29 * DAY < opened[-1].ts <= START + 32 * DAY
