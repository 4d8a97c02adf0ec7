"""The group stage's minute tick visits only groups with work; a group at rest catches up when next evaluated."""

from __future__ import annotations

from collections.abc import Sequence

from lifeline.detectors.results import Finding
from lifeline.detectors.state import GroupState
from lifeline.flows.dataflow import make_detectors
from lifeline.flows.stages import GroupStage
from lifeline.models import AlertEvent, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry
from lifeline.settings import Settings

T = 1_720_000_000_000
MINUTE = 60_000
GROUPS = [f"DMA-{i:03d}" for i in range(60)]
REGISTRY = Registry([
    SensorSpec(f"{g}-P1", SensorKind.WATER_PRESSURE, g, "water", g, 31.8, 117.2, group_id=g) for g in GROUPS
])  # fmt: skip


class Counting:
    """The product's detectors, counting the group evaluations that bring no finding (the tick's visits)."""

    def __init__(self) -> None:
        self.inner = make_detectors(Settings(), REGISTRY)
        self.empty_visits = 0

    def new_group_state(self, group_id: str) -> GroupState:
        return self.inner.new_group_state(group_id)

    def process_group(self, state: GroupState, findings: Sequence[Finding], watermark_ms: int) -> list[AlertEvent]:
        if not findings:
            self.empty_visits += 1
        return self.inner.process_group(state, findings, watermark_ms)


def _finding(group: str, ts: int, tier: Tier | None = Tier.T3) -> Finding:
    return Finding(sensor_id=f"{group}-P1", asset_id=group, group_id=group, kind=AlertKind.PIPE_BURST, tier=tier,
                   ts=ts, value=0.2, score=0.6, evidence="pressure drop", rule="water.pressure.drop")  # fmt: skip


def test_groups_at_rest_are_not_visited_by_the_minute_tick() -> None:
    detectors = Counting()
    stage = GroupStage(detectors, partitions=1)  # type: ignore[arg-type]
    state = stage.new_state()
    events = stage.process(state, 0, T, [_finding(g, T - 1000) for g in GROUPS])
    events += stage.process(state, 0, T + 1000, [_finding(g, T + 500, None) for g in GROUPS])  # conditions end
    for minute in range(1, 90):  # long enough for every contribution and alert to expire
        events += stage.process(state, 0, T + minute * MINUTE, [])
    assert all(state.groups[g].at_rest for g in GROUPS)
    detectors.empty_visits = 0
    for minute in range(90, 150):
        assert stage.process(state, 0, T + minute * MINUTE, []) == []
    assert detectors.empty_visits == 0  # 60 ticks x 60 groups at rest: no visit at all
    # a group with work is still visited by every tick
    stage.process(state, 0, T + 150 * MINUTE, [_finding(GROUPS[0], T + 150 * MINUTE - 1000)])
    for minute in range(151, 155):
        stage.process(state, 0, T + minute * MINUTE, [])
    assert detectors.empty_visits >= 4


def test_a_group_at_rest_still_counts_a_finding_behind_the_ticks_it_skipped_as_late() -> None:
    """A finding that arrives behind the watermark (an idle partition that receives old data) is late for a group
    whose horizon the skipped ticks would have moved past it, as it was when every tick visited every group."""
    stage = GroupStage(make_detectors(Settings(), REGISTRY), partitions=1)
    state = stage.new_state()
    stage.process(state, 0, T, [_finding(GROUPS[0], T - 1000)])
    stage.process(state, 0, T + 1000, [_finding(GROUPS[0], T + 500, None)])
    for minute in range(1, 90):
        stage.process(state, 0, T + minute * MINUTE, [])
    assert state.groups[GROUPS[0]].at_rest
    assert stage.late_findings == 0
    old = _finding(GROUPS[0], T + 80 * MINUTE)  # before the last tick's horizon (T + 89 min - settle delay)
    stage.process(state, 0, T + 89 * MINUTE + 1000, [old])
    assert stage.late_findings == 1
