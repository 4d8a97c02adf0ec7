"""Faults against group peers (detectors/peer_faults.py, detectors/peer_fits.py): a sensor's hourly means trending
or stepping away from what its same-kind peers of the group explain is a drift or an offset; what the peers share
is physical."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lifeline.detectors import Detectors, Finding, GroupState, WindowStats
from lifeline.detectors.config import FaultRules, RulesConfig
from lifeline.detectors.correlation import BLOCKING_FAULT_FAMILIES
from lifeline.detectors.peer_faults import LAG_HOURS, PEER_FAULT_FAMILY
from lifeline.detectors.peer_fits import loo_medians, step_against_peers, trend_against_peers
from lifeline.flows.stages import GroupStage
from lifeline.flows.warm import WarmHistory
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry
from tests.unit.group_replay import States, replay_group

T0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000  # a whole hour
QUARTER = 15 * 60_000
HOURS = 40
DRIFT_FROM_H = 10
SENSORS = ("M1", "M2", "M3", "M4")


def _spec(sensor_id: str, kind: SensorKind = SensorKind.MANHOLE_LEVEL) -> SensorSpec:
    return SensorSpec(sensor_id, kind, "A-" + sensor_id, "owner", "d", 31.8, 117.2, group_id="G",
                      maintainer="devices", interval_s=900)  # fmt: skip


def _detectors(sensors: tuple[str, ...] = SENSORS, **faults: object) -> Detectors:
    config = RulesConfig(faults=FaultRules(**faults))  # type: ignore[arg-type]
    return Detectors(Registry([_spec(s) for s in sensors]), config)


def _signals(
    seed: int, drift_m_per_h: dict[str, float], sensors: tuple[str, ...] = SENSORS, *, cycle_m: float | None = None
) -> dict[str, np.ndarray]:
    """15-min manhole levels: each its own level, a shared daily cycle (of its own size, or ``cycle_m`` for all),
    reading noise, and a linear drift of ``drift_m_per_h[sensor]`` from hour 10 on."""
    rng = np.random.default_rng(seed)
    t = np.arange(HOURS * 4) / 4.0
    daily = np.sin(2 * np.pi * t / 24.0)
    out = {}
    for n, sensor_id in enumerate(sensors):
        cycle = 0.05 + 0.02 * n if cycle_m is None else cycle_m
        values = 1.0 + 0.2 * n + cycle * daily + rng.normal(0.0, 0.005, t.size)
        values += drift_m_per_h.get(sensor_id, 0.0) * np.clip(t - DRIFT_FROM_H, 0.0, None)
        out[sensor_id] = values
    return out


def _replay(
    det: Detectors, signals: dict[str, np.ndarray], *, start: int = 0, until: int = HOURS * 4,
    states: States | None = None,
) -> tuple[list[AlertEvent], list[Finding], States]:  # fmt: skip
    return replay_group(det, signals, t0=T0, step_ms=QUARTER, start=start, until=until, states=states)


def _opened_against_peers(events: list[AlertEvent], fault: str) -> dict[str, AlertEvent]:
    """Sensor → the opening event of its alert for a ``fault`` ("drift", "offset") found against peers."""
    return {
        e.sensor_ids[0]: e
        for e in events
        if e.kind is AlertKind.SENSOR_FAULT and e.event is AlertEventType.OPENED and f"{fault} against" in e.evidence
    }


def _drift_alerts(events: list[AlertEvent]) -> dict[str, AlertEvent]:
    return _opened_against_peers(events, "drift")


def _offset_alerts(events: list[AlertEvent]) -> dict[str, AlertEvent]:
    return _opened_against_peers(events, "offset")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_sensor_drifting_alone_opens_one_fault_alert_for_it(seed: int) -> None:
    events, _, _ = _replay(_detectors(), _signals(seed, {"M3": 0.004}))
    alerts = _drift_alerts(events)
    assert set(alerts) == {"M3"}
    opened_h = (alerts["M3"].ts - T0) / 3_600_000
    assert DRIFT_FROM_H < opened_h <= DRIFT_FROM_H + 16 + 3  # within the window and the two hours' lag
    assert alerts["M3"].tier is Tier.T3
    assert len([e for e in events if e.kind is AlertKind.SENSOR_FAULT and e.event is AlertEventType.OPENED]) == 1


@pytest.mark.parametrize("seed", [1, 2])
def test_a_trend_all_peers_share_is_no_drift(seed: int) -> None:
    """(With daily cycles of one size: see the module's note on shared trends and cycles of different sizes.)"""
    events, _, _ = _replay(_detectors(), _signals(seed, dict.fromkeys(SENSORS, 0.004), cycle_m=0.08))
    assert not _drift_alerts(events)


def test_a_drift_too_small_for_the_range_share_is_not_reported() -> None:
    events, _, _ = _replay(
        _detectors(peer_drift_min_fraction_of_range=0.05, peer_offset_t=1e9), _signals(1, {"M3": 0.004})
    )
    assert not _drift_alerts(events)  # 0.06 m over the window is 0.4 % of the 15.5 m range, not 5 %


def test_too_few_peers_or_the_check_off_sends_no_hourly_notes() -> None:
    for det, sensors in ((_detectors(("M1", "M2")), ("M1", "M2")), (_detectors(peer_enabled=False), SENSORS)):
        _, findings, _ = _replay(det, _signals(1, {"M1": 0.004}, sensors), until=4 * 4)
        assert not [f for f in findings if f.rule.startswith("note.hourly_mean")]


def test_every_sensor_notes_each_closed_hour_once() -> None:
    _, findings, _ = _replay(_detectors(), _signals(1, {}), until=6 * 4)
    notes = [f for f in findings if f.rule.startswith("note.hourly_mean")]
    assert sorted((f.sensor_id, (f.ts - T0) // 3_600_000) for f in notes) == [
        (s, h) for s in SENSORS for h in range(1, 6)
    ]  # the hour h-1 is decided by the first reading of hour h


def test_the_drift_ends_when_the_sensor_follows_its_peers_again() -> None:
    signals = _signals(1, {"M3": 0.004})
    signals["M3"][28 * 4 :] = signals["M3"][28 * 4 - 1]  # the drift stops at hour 28; the level then stays
    events, _, _ = _replay(_detectors(), signals)
    m3 = [e.event for e in events if e.kind is AlertKind.SENSOR_FAULT and "M3" in e.sensor_ids]
    assert m3[0] is AlertEventType.OPENED
    assert AlertEventType.CLEARED in m3


def test_a_restore_mid_way_gives_the_same_alerts() -> None:
    """The hourly means are part of the group's state: pickled and restored, the same alerts follow."""
    signals = _signals(2, {"M2": -0.004})
    straight, _, _ = _replay(_detectors(), signals)
    cut = 20 * 4 + 1
    head, _, states = _replay(_detectors(), signals, until=cut)
    restored = pickle.loads(pickle.dumps(states, protocol=pickle.HIGHEST_PROTOCOL))
    assert restored[1].hourly_means
    tail, _, _ = _replay(_detectors(), signals, states=restored, start=cut)
    assert [(e.alert_id, e.event) for e in head + tail] == [(e.alert_id, e.event) for e in straight]
    assert set(_drift_alerts(straight)) == {"M2"}


def test_the_same_findings_in_any_order_give_the_same_alerts() -> None:
    """The notes of one hour may arrive in any order and with any watermark cadence."""
    det = _detectors()
    _, findings, _ = _replay(det, _signals(3, {"M4": 0.004}))
    end = T0 + HOURS * 3_600_000
    at_once = det.process_group(det.new_group_state("G"), list(reversed(findings)), end)
    group = det.new_group_state("G")
    rng = np.random.default_rng(5)
    stepwise: list[AlertEvent] = []
    shuffled = [findings[i] for i in rng.permutation(len(findings))]
    for chunk in np.array_split(np.arange(len(shuffled)), 7):
        batch = [shuffled[i] for i in chunk]
        stepwise += det.process_group(group, batch, min(f.ts for f in batch))
    stepwise += det.process_group(group, [], end)
    assert [(e.alert_id, e.event, e.ts) for e in stepwise] == [(e.alert_id, e.event, e.ts) for e in at_once]
    assert set(_drift_alerts(at_once)) == {"M4"}


def test_a_drift_against_peers_does_not_block_the_sensors_incidents() -> None:
    assert PEER_FAULT_FAMILY not in BLOCKING_FAULT_FAMILIES
    det = _detectors()
    group = det.new_group_state("G")
    drift = Finding("M1", "A-M1", "G", AlertKind.SENSOR_FAULT, Tier.T3, T0, 1.0, 0.5, "e",
                    "fault.peers:drift")  # fmt: skip
    overflow = Finding("M1", "A-M1", "G", AlertKind.OVERFLOW, Tier.T2, T0 + QUARTER, 3.0, 0.5, "e",
                       "drainage.manhole:t2_overflow")  # fmt: skip
    events = det.process_group(group, [drift, overflow], T0 + 2 * QUARTER)
    assert {e.kind for e in events} == {AlertKind.SENSOR_FAULT, AlertKind.OVERFLOW}


def test_a_group_state_pickled_before_the_check_loads_without_means() -> None:
    state = GroupState("G")
    data = {k: getattr(state, k) for k in ("group_id", "pending", "horizon", "contributions", "alerts",
                                           "late_findings", "last_operation_ts", "level_moves")}  # fmt: skip
    old = GroupState.__new__(GroupState)
    old.__setstate__(data)
    assert old.hourly_means == {} and old.drift_evaluated == {} and old.own_offsets == {}


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 9), st.integers(1, 5)), elements=st.floats(-1e3, 1e3)))
def test_leave_one_out_medians_match_the_median_of_the_others(rows: np.ndarray) -> None:
    expected = np.array([np.median(np.delete(rows, k, axis=0), axis=0) for k in range(rows.shape[0])])
    np.testing.assert_allclose(loo_medians(rows), expected, rtol=0, atol=1e-9)


def test_a_fit_needs_enough_peers_and_hours() -> None:
    window = np.random.default_rng(1).normal(size=(3, 16))
    assert trend_against_peers(window, 3) == [None, None, None]
    assert trend_against_peers(window[:, :3], 2) == [None, None, None]
    assert all(f is not None for f in trend_against_peers(window, 2))
    assert step_against_peers(window, 3, 4) == [None, None, None]
    assert step_against_peers(window[:, :7], 2, 4) == [None, None, None]  # no step 4 h from both ends
    assert all(f is not None for f in step_against_peers(window, 2, 4))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 12), st.floats(-5.0, 5.0).filter(lambda d: abs(d) > 0.5))
def test_the_step_fit_takes_the_best_least_squares_step(seed: int, at: int, size: float) -> None:
    """The step it picks has the smallest residual sum of squares of numpy's least squares over every step."""
    rng = np.random.default_rng(seed)
    window = rng.normal(size=(4, 16)) + np.sin(np.arange(16.0) / 3.0) * rng.uniform(0.5, 2.0, (4, 1))
    window[2, at:] += size
    fit = step_against_peers(window, 2, 4)[2]
    assert fit is not None
    centred = window - window.mean(axis=1, keepdims=True)
    peers = np.median(np.delete(centred, 2, axis=0), axis=0)

    def rss(start: int) -> float:
        design = np.column_stack((np.ones(16), peers, (np.arange(16) >= start).astype(float)))
        return float(np.linalg.lstsq(design, window[2], rcond=None)[1][0])

    assert fit.rss == pytest.approx(rss(fit.at), rel=1e-6, abs=1e-9)
    assert fit.rss == pytest.approx(min(rss(start) for start in range(4, 13)), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_sensor_stepping_alone_is_an_offset_and_a_step_all_share_is_not(seed: int) -> None:
    alone = _signals(seed, {})
    alone["M2"][14 * 4 :] += 0.08  # 16 reading sd, from hour 14 on
    events, _, _ = _replay(_detectors(offset_enabled=False), alone)  # the sensor's own offset check off
    assert set(_offset_alerts(events)) == {"M2"} and not _drift_alerts(events)
    shared = _signals(seed, {}, cycle_m=0.08)  # (with daily cycles of one size: see the module's limit)
    for values in shared.values():
        values[14 * 4 :] += 0.08
    events, _, _ = _replay(_detectors(offset_enabled=False), shared)
    assert not _offset_alerts(events)


def test_an_offset_the_sensors_own_check_raised_is_not_raised_again_against_peers() -> None:
    alone = _signals(1, {})
    alone["M2"][14 * 4 :] += 0.08
    events, _, _ = _replay(_detectors(), alone)
    offsets = [e for e in events if e.event is AlertEventType.OPENED and "offset" in e.evidence]
    assert [(e.sensor_ids, "fault.offset:level_step" in e.evidence) for e in offsets] == [(("M2",), True)]


def test_peer_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="peer_hours"):
        FaultRules(peer_hours=8)
    with pytest.raises(ValueError, match="peer_min_peers"):
        FaultRules(peer_min_peers=0)


def _stored_windows(det: Detectors, signals: dict[str, np.ndarray], until: int) -> list[WindowStats]:
    """The windows the flow would have written to sensor_stats for readings ``[0, until)``."""
    states = {s: det.new_sensor_state(s) for s in signals}
    stats: list[WindowStats] = []
    for i in range(until):
        ts = T0 + i * QUARTER
        for sensor_id, values in signals.items():
            stats += det.process_sensor(states[sensor_id], np.array([ts]), np.array([values[i]])).stats
    return stats


def test_a_warm_start_gives_the_group_the_notes_its_sensors_would_have_sent() -> None:
    det = _detectors()
    signals = _signals(1, {"M3": 0.004})
    _, findings, _ = _replay(det, signals, until=20 * 4 + 1)  # the note of hour 19 is sent at 20:00
    notes = [f for f in findings if f.rule.startswith("note.hourly_mean")]
    live = {(f.sensor_id, f.ts - f.ts % 3_600_000 - 3_600_000, f.value) for f in notes}
    history = WarmHistory.from_rows(_stored_windows(det, signals, 20 * 4 + 1), det.registry, None, None,
                                    det.peer_means)  # fmt: skip
    warmed = history.take_peers("G")
    kept = {(s, hour, mean) for s, means in warmed.items() for hour, mean in means.notes()}
    assert set(warmed) == set(SENSORS) and history.take_peers("G") == {}  # handed out once
    assert kept == {n for n in live if n[1] >= T0 + (20 - 16 - LAG_HOURS) * 3_600_000}  # the last 16 + lag hours
    assert all(mean == pytest.approx(next(m for s, h, m in live if (s, h) == (sid, hour))) for sid, hour, mean in kept)


def test_a_group_stage_warmed_from_history_finds_a_drift_within_hours_of_its_start() -> None:
    """The flow restarts at hour 24 with a lost state: warmed, the drift of the last 14 hours shows at once."""
    det = _detectors()
    signals = _signals(2, {"M3": 0.004})
    cut = 24 * 4
    history = WarmHistory.from_rows(_stored_windows(det, signals, cut), det.registry, None, None, det.peer_means)
    alerts = {}
    for warm in (history, None):
        stage = GroupStage(det, partitions=1, warm=warm)
        state, sensors = stage.new_state(), {s: det.new_sensor_state(s) for s in signals}
        events: list[AlertEvent] = []
        for i in range(cut, HOURS * 4):
            ts = T0 + i * QUARTER
            found = [f for s, v in signals.items()
                     for f in det.process_sensor(sensors[s], np.array([ts]), np.array([v[i]])).findings]  # fmt: skip
            events += stage.process(state, 0, ts, found)
        alerts["warm" if warm else "cold"] = _drift_alerts(events)
    assert set(alerts["warm"]) == {"M3"}
    assert (alerts["warm"]["M3"].ts - T0) / 3_600_000 <= 24 + 3  # the first evaluation after the restart
    # cold, the group judges only once it has kept peer_min_hours (9) of live hourly means, from hour 24 on
    assert all((a.ts - T0) / 3_600_000 >= 24 + 9 for a in alerts["cold"].values())


@pytest.mark.parametrize("seed", [1, 2])
def test_a_new_group_judges_its_peers_on_the_hours_it_has_kept(seed: int) -> None:
    """A drift from hour 2 of a deployment is found before 16 hours of means exist, not before 9 are kept."""
    t = np.arange(HOURS * 4) / 4.0
    signals = _signals(seed, {})
    signals["M3"] = signals["M3"] + 0.01 * np.clip(t - 2.0, 0.0, None)
    for det, found in ((_detectors(), True), (_detectors(peer_min_hours=16), False)):
        events, _, _ = _replay(det, signals, until=14 * 4)
        alerts = _drift_alerts(events)
        assert set(alerts) == ({"M3"} if found else set())
        assert all(9 <= (a.ts - T0) / 3_600_000 <= 14 for a in alerts.values())


@pytest.mark.parametrize("hours", [8, 17])
def test_a_shortest_window_outside_9_to_peer_hours_is_refused(hours: int) -> None:
    with pytest.raises(ValueError, match="peer_min_hours must be from 9 to peer_hours"):
        FaultRules(peer_min_hours=hours)


def _overflow(sensor_id: str, hour: float) -> Finding:
    """An incident finding of a manhole (its level at the pipe crown), as a storm raises them."""
    return Finding(sensor_id, "A-" + sensor_id, "G", AlertKind.OVERFLOW, Tier.T3, T0 + round(hour * 3_600_000),
                   2.0, 0.6, "level at the pipe crown", "drainage.manhole:overflow")  # fmt: skip


@pytest.mark.parametrize("incident_at_h", [None, 12.0, 26.0])
def test_a_window_an_incident_of_the_kind_touched_raises_no_new_fault_against_peers(
    incident_at_h: float | None,
) -> None:
    """A storm fills each manhole by its own amount, unlike their median: no offset is raised on such a window."""
    signals = _signals(1, {})
    signals["M2"][14 * 4 :] += 0.08  # the offset of the test above, found in the hours after 14 + 4
    det = _detectors(offset_enabled=False)
    sensors, group = {s: det.new_sensor_state(s) for s in signals}, det.new_group_state("G")
    events: list[AlertEvent] = []
    for i in range(HOURS * 4):
        ts = T0 + i * QUARTER
        found = [f for s, v in signals.items()
                 for f in det.process_sensor(sensors[s], np.array([ts]), np.array([v[i]])).findings]  # fmt: skip
        if incident_at_h is not None and ts == T0 + round(incident_at_h * 3_600_000):
            found.append(_overflow("M4", incident_at_h))
        events += det.process_group(group, found, ts)
    opened_h = {s: (e.ts - T0) / 3_600_000 for s, e in _offset_alerts(events).items()}
    if incident_at_h is None:
        assert set(opened_h) == {"M2"}
    elif incident_at_h == 12.0:  # every window holding the step also holds the incident, until the step leaves
        assert opened_h == {}
    else:  # an incident after the offset was raised ends nothing
        assert set(opened_h) == {"M2"} and opened_h["M2"] < incident_at_h
