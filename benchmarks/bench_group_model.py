"""The group anomaly model on simulator scenarios: what it finds that no rule finds, and its false alarms.

Run: ``.venv/bin/python -m benchmarks.bench_group_model [--scenario bridge] [--days 4] [--seed 7]``

Each scenario is built ``--days`` long (its incidents land at the same fractions of the longer run, so
most of them after the model's learning period of about 2.7 days) and replayed through the detectors and
the group stage with the group models, chunk by chunk, as ``bench_detector_quality`` does (one partition).
Then, per ground-truth incident: was it found by a rule alert of its kind (``bench_detector_quality``'s
match), and by an ``anomaly`` alert of its group (opened between its start and its end + 1 h, on its group,
asset or sensors)? Reported: the incidents only the group model found and their delays, the anomaly
alerts that match no incident per 100 sensor-days of scored time, and the snapshot bytes per group model.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
from dataclasses import dataclass

import numpy as np

from benchmarks.bench_detector_quality import SLACK_MS, AlertLife, _touches, lives
from lifeline.detectors import Detectors, Finding, SensorState
from lifeline.detectors.group_model import GroupWindow
from lifeline.flows.stages import GroupStage, GroupStageState
from lifeline.models import AlertEvent, AlertKind, SensorKind
from lifeline.simulators.scenarios import Scenario, build

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Drop:
    """A subtle change added to the scenario's readings: ``sensors`` lose ``amount`` from ``start_ms`` on."""

    group_id: str
    sensors: tuple[str, ...]
    amount: float
    start_ms: int


def choose_drop(scenario: Scenario, det: Detectors, drop_mpa: float, at: float) -> Drop | None:
    """The first group model with at least three water pressure loggers: its first three lose ``drop_mpa``
    from the fraction ``at`` of the run on (none when the city has no such group)."""
    for group_id, members in sorted(det.group_models.members.items()):
        loggers = [s for s in members if scenario.registry[s].kind is SensorKind.WATER_PRESSURE]
        if len(loggers) >= 3:
            start = scenario.start_ms + int(at * (scenario.end_ms - scenario.start_ms))
            return Drop(group_id, tuple(loggers[:3]), drop_mpa, start)
    return None


def replay(scenario: Scenario, det: Detectors, drop: Drop | None = None) -> tuple[list[AlertEvent], GroupStageState]:
    """The scenario (with ``drop`` added) through the detectors and the group stage with the group models."""
    gm = det.group_models
    stage = GroupStage(det, partitions=1, group_models=gm)
    state = stage.new_state()
    sensors: dict[str, SensorState] = {}
    ids = scenario.sensor_ids
    events: list[AlertEvent] = []

    def state_of(sensor_id: str) -> SensorState:
        st = sensors.get(sensor_id)
        if st is None:
            st = sensors[sensor_id] = det.new_sensor_state(sensor_id)
        return st

    dropped = np.array([ids.index(s) for s in drop.sensors]) if drop is not None else np.zeros(0, dtype=np.int64)
    for chunk in scenario.chunks():
        findings: list[Finding] = []
        windows: list[GroupWindow] = []
        index = chunk.sensor_index
        if index.size:
            order = np.argsort(index, kind="stable")
            sorted_index, ts, vals = index[order], chunk.ts_ms[order], chunk.value[order]
            if drop is not None:
                vals = vals - drop.amount * (np.isin(sorted_index, dropped) & (ts >= drop.start_ms))
            cuts = np.flatnonzero(np.diff(sorted_index)) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, sorted_index.size], strict=True):
                result = det.process_sensor(state_of(ids[int(sorted_index[lo])]), ts[lo:hi], vals[lo:hi])
                findings.extend(result.findings)
                windows.extend(gm.compact(result.stats))
        for batch in chunk.batches:
            bts = batch.t0_ms + np.arange(batch.values.size, dtype=np.int64) * batch.dt_ms
            result = det.process_sensor(state_of(ids[batch.sensor]), bts, batch.values.astype(np.float64))
            findings.extend(result.findings)
            windows.extend(gm.compact(result.stats))
        for st in sensors.values():
            result = det.advance_sensor(st, chunk.window_end_ms)
            findings.extend(result.findings)
            windows.extend(gm.compact(result.stats))
        events.extend(stage.process(state, 0, chunk.window_end_ms, findings, False, windows))
    events.extend(stage.process(state, 0, scenario.end_ms + 6 * SLACK_MS, [], True))
    return events, state


def _anomaly_touches(life: AlertLife, row_group: str, row_asset: str, sensors: set[str], start: int, end: int) -> bool:
    where = life.asset_id in (row_group, row_asset) or bool(life.sensors & sensors)
    return where and start <= life.opened <= end + SLACK_MS


def main() -> None:
    """Replay the scenarios and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="scenario name (repeatable); default: bridge, water")
    parser.add_argument("--days", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drop-kpa", type=float, default=0.0,
                        help="a drop (kPa) at three pressure loggers of one DMA from 75 %% of the run")  # fmt: skip
    args = parser.parse_args()
    for name in args.scenario or ["bridge", "water"]:
        scenario = build(name, seed=args.seed, duration_s=args.days * 86_400)
        det = Detectors(scenario.registry)
        drop = choose_drop(scenario, det, args.drop_kpa / 1000.0, 0.75) if args.drop_kpa else None
        events, state = replay(scenario, det, drop)
        alerts = lives(events, scenario.end_ms + 6 * SLACK_MS)
        anomalies = [a for a in alerts if a.kind is AlertKind.ANOMALY]
        rules = [a for a in alerts if a.kind not in (AlertKind.ANOMALY, AlertKind.SENSOR_FAULT)]
        incidents = [r for r in scenario.ground_truth if r.label == "incident"]
        matched: set[str] = set()
        only_group: list[str] = []
        delays: list[float] = []
        print(f"\n== {name}, {args.days:g} days, seed {args.seed}: {len(incidents)} incidents, "
              f"{len(det.group_models.members)} group models, {len(anomalies)} anomaly alerts")  # fmt: skip
        for row in incidents:
            by_rule = [a for a in rules if _touches(a, row)]
            sensors = set(row.sensor_ids)
            by_group = [
                a
                for a in anomalies
                if _anomaly_touches(a, row.group_id, row.asset_id, sensors, row.start_ms, row.end_ms)
            ]
            matched.update(a.alert_id for a in by_group)
            rule_delay = f"{(min(a.opened for a in by_rule) - row.start_ms) / 60000:.0f} min" if by_rule else "missed"
            group_delay = (
                f"{(min(a.opened for a in by_group) - row.start_ms) / 60000:.0f} min" if by_group else "missed"
            )
            day = (row.start_ms - scenario.start_ms) / DAY_MS
            print(f"  {row.id} {row.kind:<20} day {day:4.2f} {row.group_id or row.asset_id:<12} "
                  f"rule: {rule_delay:<9} group model: {group_delay:<9} {row.detail[:60]}")  # fmt: skip
            if by_group and not by_rule:
                only_group.append(row.id)
                delays.append((min(a.opened for a in by_group) - row.start_ms) / 60000)
        if drop is not None:
            touched = set(drop.sensors)
            by_rule = [a for a in rules if a.opened >= drop.start_ms and a.sensors & touched]
            by_group = [a for a in anomalies if _anomaly_touches(a, drop.group_id, "", touched, drop.start_ms,
                                                                 scenario.end_ms)]  # fmt: skip
            matched.update(a.alert_id for a in by_group)
            delay = f"{(min(a.opened for a in by_group) - drop.start_ms) / 60000:.0f} min" if by_group else "missed"
            print(f"  injected: {args.drop_kpa:g} kPa less at {', '.join(drop.sensors)} ({drop.group_id}) from day "
                  f"{(drop.start_ms - scenario.start_ms) / DAY_MS:.2f}: rule alerts on them {len(by_rule)}, "
                  f"group model: {delay}")  # fmt: skip
            if by_group and not by_rule:
                only_group.append("injected drop")
                delays.append((min(a.opened for a in by_group) - drop.start_ms) / 60000)
        scored_from = scenario.start_ms + int(2.7 * DAY_MS)
        false = [a for a in anomalies if a.alert_id not in matched and a.opened >= scored_from]
        scored_days = max((scenario.end_ms - scored_from) / DAY_MS, 0.0)
        members = sum(len(m) for m in det.group_models.members.values())
        sensor_days = members * scored_days
        per100 = len(false) / sensor_days * 100 if sensor_days else 0.0
        median = f"{statistics.median(delays):.0f} min" if delays else "-"
        print(f"  found by the group model only: {len(only_group)} {only_group} (median delay {median})")
        print(f"  anomaly alerts matching no incident after learning: {len(false)} over {sensor_days:.0f} "
              f"member sensor-days = {per100:.2f} per 100 sensor-days")  # fmt: skip
        for a in false[:5]:
            print(f"    {a.asset_id} day {(a.opened - scenario.start_ms) / DAY_MS:.2f}: {a.evidence[:160]}")
        sizes = [len(pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL)) for m in state.models.values()]
        per_sensor = [s / len(m.sensors) for s, m in zip(sizes, state.models.values(), strict=True)]
        if sizes:
            print(f"  snapshot per group model: median {statistics.median(sizes):,.0f} B, max {max(sizes):,} B; "
                  f"per member sensor: max {max(per_sensor):,.0f} B")  # fmt: skip


if __name__ == "__main__":
    main()
