"""Shared builders for the gas pressure tests: a station or main in one group, fed one reading per call with the
group evaluated after each reading (as the dataflow does), the learned baselines off (the rules are under test)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lifeline.detectors import Detectors, Finding, GroupState, SensorState
from lifeline.detectors.config import AnomalyRules, RulesConfig
from lifeline.models import AlertEvent, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry
from lifeline.simulators.scenarios import Scenario

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
#: 2024-07-14 16:00 UTC = local midnight (UTC+8)
T0 = 1_720_972_800_000
STEP = 5 * MIN
SET_POINT = 0.30
MEAN_FLOW = 1000.0


def spec(sid: str, kind: SensorKind, asset: str, asset_kind: str, **kw: object) -> SensorSpec:
    """A sensor of group ``G`` reporting every 5 min."""
    return SensorSpec(sid, kind, asset, "hefei-gas", "luyang", 31.8, 117.2, group_id="G", asset_kind=asset_kind,
                      interval_s=300, **kw)  # type: ignore[arg-type]  # fmt: skip


def pressure_spec() -> SensorSpec:
    """A regulator outlet pressure sensor with its set point."""
    return spec("P", SensorKind.GAS_PRESSURE, "GR-1", "regulator_station", design_value=SET_POINT)


def pressure(t: int, rng: np.random.Generator) -> float:
    """Normal outlet pressure: the set point, ±2 % over the day (lowest at the evening peak), 0.1 % noise."""
    hour = ((t - T0) / HOUR) % 24
    return SET_POINT * (1.0 - 0.02 * math.cos(2 * math.pi * (hour - 6) / 24) + 0.001 * float(rng.standard_normal()))


def flow(t: int, rng: np.random.Generator) -> float:
    """Normal station flow: 60 % of the mean at night, a step to 150 % at 11:00 local (a canteen and the lunch
    peak) until 14:00, 3 % noise."""
    hour = ((t - T0) / HOUR) % 24
    level = 1.5 if 11 <= hour < 14 else 0.6
    return MEAN_FLOW * level * (1.0 + 0.03 * float(rng.standard_normal()))


@dataclass
class Station:
    """Detectors for one group, its states, and what came out (findings, alert events)."""

    specs: list[SensorSpec]
    det: Detectors = field(init=False)
    states: dict[str, SensorState] = field(default_factory=dict)
    group: GroupState = field(init=False)
    findings: list[Finding] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.det = Detectors(Registry(self.specs), RulesConfig(anomaly=AnomalyRules(enabled=False)))
        self.states = {s.sensor_id: self.det.new_sensor_state(s.sensor_id) for s in self.specs}
        self.group = self.det.new_group_state("G")

    def feed(self, t0: int, t1: int, signals: dict[str, Callable[[int], float]]) -> None:
        """One reading per sensor every 5 min in ``[t0, t1)``; the group is evaluated after each step."""
        for t in range(t0, t1, STEP):
            found: list[Finding] = []
            for sid, signal in signals.items():
                ts, value = np.array([t], dtype=np.int64), np.array([signal(t)])
                found.extend(self.det.process_sensor(self.states[sid], ts, value).findings)
            self.findings.extend(found)
            self.events.extend(self.det.process_group(self.group, found, t + 2 * MIN))

    def alerts(self, kind: AlertKind = AlertKind.GAS_PRESSURE_ANOMALY) -> list[AlertEvent]:
        """The alert events of one kind."""
        return [e for e in self.events if e.kind is kind]

    def best_tier(self, kind: AlertKind = AlertKind.GAS_PRESSURE_ANOMALY) -> Tier | None:
        """The most severe tier an alert of ``kind`` reached (``None``: no alert)."""
        tiers = [e.tier for e in self.alerts(kind)]
        return min(tiers) if tiers else None

    def first_at(self, tier: Tier, kind: AlertKind = AlertKind.GAS_PRESSURE_ANOMALY) -> int:
        """When an alert of ``kind`` first reached ``tier`` or more severe."""
        return min(e.ts for e in self.alerts(kind) if e.tier <= tier)


def replay(scenario: Scenario) -> list[AlertEvent]:
    """A scenario through the detectors as the dataflow runs it: per chunk of event time each sensor's readings,
    then every sensor advanced to the chunk's end and each group evaluated at that watermark."""
    det = Detectors(scenario.registry)
    states: dict[str, SensorState] = {}
    groups: dict[str, GroupState] = {}
    events: list[AlertEvent] = []

    def evaluate(findings: list[Finding], watermark: int) -> None:
        for f in findings:
            groups.setdefault(f.group_id, det.new_group_state(f.group_id))
        for gid, gs in groups.items():
            events.extend(det.process_group(gs, [f for f in findings if f.group_id == gid], watermark))

    for chunk in scenario.chunks():
        findings: list[Finding] = []
        order = np.argsort(chunk.sensor_index, kind="stable")
        index, ts, values = chunk.sensor_index[order], chunk.ts_ms[order], chunk.value[order]
        cuts = np.flatnonzero(np.diff(index)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, index.size], strict=True):
            if hi > lo:
                sid = scenario.sensor_ids[int(index[lo])]
                st = states.setdefault(sid, det.new_sensor_state(sid))
                findings.extend(det.process_sensor(st, ts[lo:hi], values[lo:hi]).findings)
        for st in states.values():
            findings.extend(det.advance_sensor(st, chunk.window_end_ms).findings)
        evaluate(findings, chunk.window_end_ms)
    evaluate([], scenario.end_ms + 6 * HOUR)
    return events
