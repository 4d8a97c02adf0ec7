"""The group models in the stages: every window of a multi-sensor group reaches its model, and the models learn
the same whatever the batching and the interleaving of partitions (1 or N workers, recovery); warm-start rows
become the windows the flow would have produced."""

from __future__ import annotations

import random
import zlib
from typing import Any

import numpy as np
import pytest

from lifeline.detectors.engine import Detectors
from lifeline.detectors.group_model import GroupModels
from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import make_detectors
from lifeline.flows.stages import GroupStage, PartitionStage
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.flows.warm import WarmHistory, parse_duration, stats_from_row
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build

PARTITIONS = 3


@pytest.fixture(scope="module")
def stream() -> tuple[Any, list[list[tuple[bytes, int]]]]:
    scenario = build("smoke", seed=5)
    per_partition: list[list[tuple[bytes, int]]] = [[] for _ in range(PARTITIONS)]
    for block in scenario_blocks(scenario):
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True):
            per_partition[zlib.crc32(key) % PARTITIONS].append((payload, t))
    return scenario, per_partition


def _models(scenario: Any, per_partition: list[list[tuple[bytes, int]]], batch: int, seed: int) -> dict[str, Any]:
    detectors = make_detectors(Settings(), scenario.registry)
    gm = detectors.group_models  # type: ignore[attr-defined]
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())
    groups = GroupStage(detectors, partitions=PARTITIONS, group_models=gm)
    states = [stage.new_state() for _ in range(PARTITIONS)]
    group_state = groups.new_state()
    cursors = [0] * PARTITIONS
    rng = random.Random(seed)
    idle: set[int] = set()
    while len(idle) < PARTITIONS:
        p = rng.choice([i for i in range(PARTITIONS) if i not in idle])
        if cursors[p] >= len(per_partition[p]):
            idle.add(p)
            out = stage.process(states[p], RawBatch(p, [], [], [], idle=True, end=True))
            groups.process(group_state, p, out.watermark, out.findings, True, gm.compact(out.stats))
            continue
        chunk = per_partition[p][cursors[p] : cursors[p] + rng.randint(1, batch)]
        offsets = list(range(cursors[p], cursors[p] + len(chunk)))
        cursors[p] += len(chunk)
        out = stage.process(states[p], RawBatch(p, [c[0] for c in chunk], offsets, [c[1] for c in chunk]))
        groups.process(group_state, p, out.watermark, out.findings, False, gm.compact(out.stats))
    return {
        g: (m.scored_to, m.late_windows, m.profile.tobytes(), m.visits.tobytes(), m.dev_var.tobytes(), m.u.tobytes())
        for g, m in group_state.models.items()
    }


def test_group_models_learn_the_same_for_any_batching_and_interleaving(
    stream: tuple[Any, list[list[tuple[bytes, int]]]],
) -> None:
    scenario, per_partition = stream
    reference = _models(scenario, per_partition, batch=1000, seed=1)
    assert reference, "the smoke city has multi-sensor groups"
    assert any(np.frombuffer(v[3], dtype=np.int32).sum() > 0 for v in reference.values()), "slots were scored"
    assert all(v[1] == 0 for v in reference.values()), "no window arrived after its slot was scored"
    for batch, seed in ((7, 2), (300, 3)):
        assert _models(scenario, per_partition, batch=batch, seed=seed) == reference


def test_sensor_stats_rows_become_window_stats_and_warm_the_drift_hours() -> None:
    scenario = build("smoke", seed=5)
    det = Detectors(scenario.registry)
    sensor = next(s for s in scenario.registry if scenario.registry[s].kind.value == "water_pressure")
    t0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000
    rows = [
        (sensor, t0 + i * 600_000, 600, 2, 0.3 + 0.001 * (i // 6), 0.29, 0.31, 0.001, None, 0.3) for i in range(6 * 30)
    ]
    stats = [stats_from_row(r) for r in rows]
    assert stats[7].window_start == t0 + 7 * 600_000 and stats[7].mean == pytest.approx(0.301)
    assert np.isnan(stats[0].slope_per_h)  # a NULL column
    history = WarmHistory.from_rows(stats, scenario.registry, det.group_models)
    assert history.take_sensor(sensor) == stats and history.take_sensor(sensor) == []  # handed out once
    state = det.new_sensor_state(sensor)
    det.warm_start_sensor(state, stats)
    assert state.aux is not None
    hourly = np.sort(state.aux[:24])
    # the last 24 complete hours (hour 29 is still open): hourly means 0.305 .. 0.328 MPa
    assert hourly == pytest.approx([0.3 + 0.001 * h for h in range(5, 29)])
    assert parse_duration("2d").total_seconds() == 172_800


def test_warm_start_teaches_the_sensor_baseline_so_it_scores_at_once() -> None:
    scenario = build("smoke", seed=5)
    det = Detectors(scenario.registry)
    sensor = next(s for s in scenario.registry if scenario.registry[s].kind.value == "water_pressure")
    window_s = det.profile(sensor).window_ms // 1000
    t0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000
    days = 3  # more than the baseline's one-day warm-up
    n = days * 86_400 // window_s
    stats = [
        stats_from_row((sensor, t0 + i * window_s * 1000, window_s, 2, 0.3, 0.29, 0.31, 0.001, 0.0, 0.3))
        for i in range(n)
    ]
    cold = det.new_sensor_state(sensor)
    warm = det.new_sensor_state(sensor)
    det.warm_start_sensor(warm, stats)
    assert warm.anomaly_model is not None and cold.anomaly_model is None
    after = stats_from_row((sensor, t0 + n * window_s * 1000, window_s, 2, 0.3, 0.29, 0.31, 0.001, 0.0, 0.3))
    assert warm.anomaly_model.score_window(after) is not None  # scored at once: history stood in for the warm-up
    cold_model = det.new_sensor_state(sensor)
    det.warm_start_sensor(cold_model, stats[:3])  # three windows are far from a day of warm-up
    assert cold_model.anomaly_model.score_window(after) is None


def test_the_group_stage_advances_a_group_model_only_when_one_of_its_slots_is_due(
    stream: tuple[Any, list[list[tuple[bytes, int]]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small batches mean many group-stage calls; a model is advanced only when the watermark has released one of
    its slots (before, every model was advanced at every call, a cost that grew with the number of groups)."""
    scenario, per_partition = stream
    calls: list[bool] = []  # per advance call: did it have a slot to score?
    real_advance = GroupModels.advance

    def counting_advance(self: GroupModels, state: Any, watermark_ms: int, *, emit: bool = True) -> Any:
        ready = bool(state.pending) and min(state.pending) + self.slot_ms + self.settle_ms <= watermark_ms
        calls.append(ready)
        return real_advance(self, state, watermark_ms, emit=emit)

    monkeypatch.setattr(GroupModels, "advance", counting_advance)
    scheduled = _models(scenario, per_partition, batch=7, seed=2)
    assert calls and all(calls), f"{calls.count(False)} of {len(calls)} advance calls had nothing to score"
    monkeypatch.undo()
    assert scheduled == _models(scenario, per_partition, batch=1000, seed=1)
