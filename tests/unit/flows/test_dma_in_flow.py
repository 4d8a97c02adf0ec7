"""The DMA leak detector runs in the live flow: on a water-net1 scenario (12 days, seed 2) the dataflow (1 and 2
workers, 2 partitions) opens and clears exactly the water alerts that the detector gives when fed the same
readings step by step by hand (only their tier may move in between, when the group model corroborates); the
windows that cross to the group stage are only those the group stage uses; and a restart from the group stage's
snapshot, or a warm start from the stored windows, gives the same alerts."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from benchmarks.bench_water import flow_events, scenario_messages
from lifeline.codec import decode_reading_message
from lifeline.detectors.group_model import GroupWindow
from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import GroupWindows, load_snapshot, make_detectors
from lifeline.flows.stages import GroupStage, PartitionStage
from lifeline.flows.testing import split_into_batches
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.flows.warm import WarmHistory
from lifeline.models import AlertEvent, AlertKind, Reading
from lifeline.settings import Settings
from lifeline.simulators.scenarios import build

STEP = 300_000
WATER = (AlertKind.PIPE_BURST, AlertKind.BACKGROUND_LEAK)
DAYS = 12  # seed 2: learning (3 days), then bursts of 5.3 m³/h (day 8.6; not found) and 11.8 m³/h (day 10.5)


@pytest.fixture(scope="module")
def scenario() -> Any:
    return build("water-net1", seed=2, duration_s=DAYS * 86400)


@pytest.fixture(scope="module")
def messages(scenario: Any) -> list[tuple[bytes, bytes, int]]:
    return scenario_messages(scenario)


def _by_hand(scenario: Any, messages: list[tuple[bytes, bytes, int]]) -> list[AlertEvent]:
    """Each reading is the mean of its 5-minute window (one reading per sensor and step in this scenario); the
    DMA's windows are fed to its detector all at once, its findings alone go through the alarm state machine."""
    detectors = make_detectors(Settings(), scenario.registry)
    feeds = detectors.dma_feeds  # type: ignore[attr-defined]
    (group,) = feeds.dmas
    state = feeds.new_state(group)
    windows, newest, per_step = [], 0, set()
    for _key, payload, _t in messages:
        reading = decode_reading_message(payload)
        assert isinstance(reading, Reading)
        newest = max(newest, reading.ts)
        step = reading.ts - reading.ts % STEP
        if feeds.wants(reading.sensor_id):
            assert (reading.sensor_id, step) not in per_step
            per_step.add((reading.sensor_id, step))
            windows.append(GroupWindow(reading.sensor_id, group, step, 300, 1, reading.value, 0.0))
    feeds.add(state, reversed(windows))  # arrival order does not matter
    findings = feeds.advance(state, newest)
    assert state.late_windows == 0 and state.skipped_steps == 0 and state.fed_steps > (DAYS - 1) * 288
    group_state = detectors.new_group_state(group)
    return detectors.process_group(group_state, findings, newest)


def _water(events: list[AlertEvent]) -> list[tuple[str, str, str, int, int, str, str]]:
    """Openings and clearings of water alerts (tier changes in between may come from other detectors)."""
    return sorted(
        (e.alert_id, e.kind.value, e.event.value, e.ts, e.started_at, e.tier.name, e.location)
        for e in events
        if e.kind in WATER and e.event.value in ("opened", "cleared")
    )


def test_the_flow_raises_exactly_the_water_alerts_of_the_detector_fed_by_hand(scenario: Any, messages: Any) -> None:
    expected = _water(_by_hand(scenario, messages))
    opened = [e for e in expected if e[2] == "opened"]
    assert opened, "the scenario's bursts open alerts (else this test proves nothing)"
    assert all(e[6].startswith("nodes: ") for e in opened), "each names where, from the group's model"
    one = flow_events(scenario.registry, messages, workers=1, batch_sizes=(500,))
    two = flow_events(scenario.registry, messages, workers=2, batch_sizes=(37, 800, 5))
    assert _water(one) == expected
    assert _water(two) == expected
    # in the flow the group model's anomaly findings may corroborate a burst by one tier for a while
    changes = [e for e in one if e.kind in WATER and e.event.value not in ("opened", "cleared")]
    assert all(e.event.value == "de-escalated" or "anomaly evidence" in e.evidence for e in changes)
    key = lambda e: (e.alert_id, e.event.value, e.ts, int(e.tier))  # noqa: E731
    assert sorted(map(key, one)) == sorted(map(key, two)), "every alert is the same with 1 and 2 workers"


def test_only_the_windows_of_dma_sensors_and_group_model_members_cross_once(scenario: Any, messages: Any) -> None:
    detectors = make_detectors(Settings(), scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())
    feeds = detectors.dma_feeds  # type: ignore[attr-defined]
    members = {s for ids in detectors.group_models.members.values() for s in ids}  # type: ignore[attr-defined]
    (dma,) = feeds.dmas.values()
    needed = members | set(dma.inputs)
    crossing = GroupWindows(detectors.group_models, feeds)  # type: ignore[attr-defined]
    sent: list[tuple[str, int]] = []
    expected: list[tuple[str, int]] = []
    for batches in split_into_batches(messages, 2, (500,)):
        state = stage.new_state()
        for batch in batches:
            out = stage.process(state, batch)
            sent += [(w.sensor_id, w.window_start) for w in crossing(out.stats)]
            expected += [(w.sensor_id, w.window_start) for w in out.stats if w.sensor_id in needed]
    assert sorted(sent) == sorted(expected) and len(set(sent)) == len(sent)
    assert len(sent) >= len(dma.inputs) * (DAYS * 288 - 2)  # a 5-minute window per sensor and step


def _stages_with_restart(scenario: Any, messages: Any, restart_after: int | None) -> tuple[list[Any], Any]:
    """Partition and group stages called directly (2 partitions, alternating batches); with ``restart_after``,
    every state is pickled after that many batches and the run goes on from the copies (a crash and a recovery)."""
    detectors = make_detectors(Settings(), scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())
    groups = GroupStage(detectors, partitions=2, group_models=detectors.group_models,  # type: ignore[attr-defined]
                        dma_feeds=detectors.dma_feeds)  # type: ignore[attr-defined]  # fmt: skip
    windows = GroupWindows(detectors.group_models, detectors.dma_feeds)  # type: ignore[attr-defined]
    parts = split_into_batches(messages, 2, (300,))
    feed = [(p, b) for i in range(max(map(len, parts))) for p in range(2) if i < len(parts[p]) for b in [parts[p][i]]]
    feed += [(p, RawBatch(p, [], [], [], idle=True, end=True)) for p in range(2)]
    states = [stage.new_state() for _ in range(2)]
    group_state = groups.new_state()
    events: list[Any] = []
    for n, (p, batch) in enumerate(feed):
        if n == restart_after:
            states = [load_snapshot(pickle.dumps(s)) for s in states]
            group_state = load_snapshot(pickle.dumps(group_state))
        out = stage.process(states[p], batch)
        events += groups.process(group_state, p, out.watermark, out.findings, batch.end, windows(out.stats))
    return events, group_state


def test_a_restart_from_the_snapshot_gives_the_same_alerts(scenario: Any, messages: Any) -> None:
    reference, final = _stages_with_restart(scenario, messages, None)
    assert _water(reference), "water alerts raised"
    (dma,) = final.dmas.values()
    assert dma.late_windows == 0 and dma.detector.sensitivity is not None
    snapshot = pickle.dumps(final)
    assert dma.detector.sensitivity.matrix.tobytes() not in snapshot, "the model is not in the snapshot"
    at = 3 * len(split_into_batches(messages, 2, (300,))[0]) // 2  # day 9 of 12: the detector has learned
    restarted, _ = _stages_with_restart(scenario, messages, at)
    key = lambda e: (e.alert_id, e.event.value, e.ts, int(e.tier), e.location)  # noqa: E731
    assert sorted(map(key, restarted)) == sorted(map(key, reference))


def _live_run(scenario: Any, messages: Any, warm: WarmHistory | None) -> list[AlertEvent]:
    detectors = make_detectors(Settings(), scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())
    groups = GroupStage(detectors, partitions=1, group_models=detectors.group_models,  # type: ignore[attr-defined]
                        dma_feeds=detectors.dma_feeds, warm=warm)  # type: ignore[attr-defined]  # fmt: skip
    windows = GroupWindows(detectors.group_models, detectors.dma_feeds)  # type: ignore[attr-defined]
    state, group_state = stage.new_state(), groups.new_state()
    events: list[AlertEvent] = []
    (batches,) = split_into_batches(messages, 1, (400,))
    for batch in [*batches, RawBatch(0, [], [], [], idle=True, end=True)]:
        out = stage.process(state, batch)
        events += groups.process(group_state, 0, out.watermark, out.findings, batch.end, windows(out.stats))
    return events


def test_a_warm_start_from_stored_windows_finds_the_bursts_a_cold_start_cannot(scenario: Any, messages: Any) -> None:
    cut = scenario.start_ms + 9 * 86_400_000  # the flow starts on day 9 of 12; the bursts come on days 10.5, 11
    before = [m for m in messages if m[2] < cut]
    after = [m for m in messages if m[2] >= cut]
    detectors = make_detectors(Settings(), scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())
    state = stage.new_state()
    stored = []  # what the flow would have written to sensor_stats before the restart
    for batch in split_into_batches(before, 1, (400,))[0]:
        stored += stage.process(state, batch).stats
    history = WarmHistory.from_rows(stored, scenario.registry, detectors.group_models, detectors.dma_feeds)  # type: ignore[attr-defined]
    assert set(history.dmas) == {"WN-NET1"}
    full = [e[:5] for e in _water(_by_hand(scenario, messages)) if e[2] == "opened"]
    assert full, "the full run opens water alerts"
    warm = [e[:5] for e in _water(_live_run(scenario, after, history)) if e[2] == "opened"]
    cold = [e[:5] for e in _water(_live_run(scenario, after, None)) if e[2] == "opened"]
    assert warm == full
    assert cold == [], "three days of data are too few to learn"
