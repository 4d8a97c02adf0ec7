"""Detector quality on every simulator scenario: recall, precision, delay, tier accuracy, false alarms.

Run: ``.venv/bin/python -m benchmarks.bench_detector_quality [--scenario NAME ...] [--seed N] [--history-hours H]``

With ``--history-hours H`` the detectors first see the ``H`` hours before each scenario's start
(:meth:`~lifeline.simulators.scenarios.Scenario.history`: the same sensors and the conditions already on, none of
the scenario's incidents or faults), as a deployed detector has; an alert still open at the start is scored,
one closed before it is not. Without it they start cold, as the figures quoted before 2026-12-07 were taken.

Each scenario is replayed through :class:`lifeline.detectors.Detectors` as the dataflow would: per
chunk of event time, each sensor's readings as one array (high-rate batches as arrays too), then the
watermark advances to the chunk's end, every sensor is advanced, and each group's findings go to
``process_group``. Alerts are then matched with the ground truth:

* an alert matches an incident row when the kinds agree, the alert's asset or sensors touch the
  row's asset / group / sensors, and the alert opened before the row's end + 1 h and was still alive
  at or after the row's start;
* recall and tier accuracy (the most severe tier the alert reached == expected tier) per incident kind,
  median detection delay (alert opened − incident start);
* precision per kind: incident alerts that matched something / incident alerts of that kind;
* false tier-1/2 alerts: incident alerts that reached T1/T2 and matched no incident, per 10,000
  sensor-days; "faults raised as T1/T2": such alerts whose sensors are all faulty (ground truth) at the
  time; sensor-fault recall per fault type. With ``--verbose``: every missed fault with its sensor's kind
  and reporting interval, and the fault alerts raised on sensors with no injected fault.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from lifeline.detectors import Detectors, Finding, GroupState, SensorState, load_rules_config
from lifeline.models import AlertEvent, AlertEventType, AlertKind
from lifeline.simulators.groundtruth import GroundTruthRow
from lifeline.simulators.scenarios import Scenario, build, scenario_names

SLACK_MS = 3_600_000
DEFAULT_SKIP = (
    "hefei-scale-load",
    "load-10k",
    "water-net3",
    "water-net1",
    "water-net2",
    "water-ky4",
)  # load; hydraulic: bench_water


@dataclass
class AlertLife:
    """One alert's life: when it opened, the most severe tier it reached, its sensors."""

    alert_id: str
    kind: AlertKind
    asset_id: str
    opened: int
    closed: int
    best_tier: int
    sensors: set[str] = field(default_factory=set)
    evidence: str = ""


def replay(scenario: Scenario, det: Detectors, history_hours: float = 0.0) -> tuple[list[AlertEvent], float, int]:
    """Run the scenario through the detectors, after ``history_hours`` of its history (see
    :meth:`Scenario.history`); return alert events, seconds and readings processed (the history's included)."""
    sensor_states: dict[str, SensorState] = {}
    group_states: dict[str, GroupState] = {}
    ids = scenario.sensor_ids
    events: list[AlertEvent] = []
    readings = 0
    started = time.perf_counter()

    def state_of(sensor_id: str) -> SensorState:
        st = sensor_states.get(sensor_id)
        if st is None:
            st = sensor_states[sensor_id] = det.new_sensor_state(sensor_id)
        return st

    def run_groups(findings: list[Finding], watermark: int) -> None:
        by_group: dict[str, list[Finding]] = defaultdict(list)
        for f in findings:
            by_group[f.group_id].append(f)
        for g in by_group:
            if g not in group_states:
                group_states[g] = det.new_group_state(g)
        for g, gs in group_states.items():
            events.extend(det.process_group(gs, by_group.get(g, []), watermark))

    history = scenario.history(history_hours) if history_hours > 0 else iter(())
    for chunk in itertools.chain(history, scenario.chunks()):
        findings: list[Finding] = []
        index = chunk.sensor_index
        if index.size:
            order = np.argsort(index, kind="stable")
            sorted_index = index[order]
            ts = chunk.ts_ms[order]
            vals = chunk.value[order]
            cuts = np.flatnonzero(np.diff(sorted_index)) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, sorted_index.size], strict=True):
                sid = ids[int(sorted_index[lo])]
                result = det.process_sensor(state_of(sid), ts[lo:hi], vals[lo:hi])
                findings.extend(result.findings)
            readings += int(index.size)
        for batch in chunk.batches:
            sid = ids[batch.sensor]
            n = batch.values.size
            bts = batch.t0_ms + np.arange(n, dtype=np.int64) * batch.dt_ms
            findings.extend(det.process_sensor(state_of(sid), bts, batch.values.astype(np.float64)).findings)
            readings += n
        watermark = chunk.window_end_ms
        for st in sensor_states.values():
            findings.extend(det.advance_sensor(st, watermark).findings)
        run_groups(findings, watermark)
    final = scenario.end_ms + 6 * SLACK_MS
    findings = []
    for st in sensor_states.values():
        findings.extend(det.advance_sensor(st, scenario.end_ms).findings)
    run_groups(findings, scenario.end_ms)
    run_groups([], final)
    return events, time.perf_counter() - started, readings


def lives(events: list[AlertEvent], end_ms: int) -> list[AlertLife]:
    """Fold alert events into one record per alert."""
    out: dict[str, AlertLife] = {}
    for e in events:
        life = out.get(e.alert_id)
        if life is None:
            life = out[e.alert_id] = AlertLife(e.alert_id, e.kind, e.asset_id, e.ts, end_ms, int(e.tier))
        life.best_tier = min(life.best_tier, int(e.tier))
        life.sensors.update(e.sensor_ids)
        if e.event in (AlertEventType.OPENED, AlertEventType.ESCALATED):
            life.evidence = e.evidence
        if e.event in (AlertEventType.CLEARED, AlertEventType.RESOLVED):
            life.closed = e.ts
    return list(out.values())


def _touches(life: AlertLife, row: GroundTruthRow) -> bool:
    if life.kind.value != row.kind:
        return False
    where = life.asset_id in (row.asset_id, row.group_id) or bool(life.sensors & set(row.sensor_ids))
    return where and life.opened <= row.end_ms + SLACK_MS and life.closed >= row.start_ms - SLACK_MS


def evaluate(scenario: Scenario, events: list[AlertEvent]) -> dict[str, object]:
    """Match alerts with the ground truth and compute the figures of one scenario."""
    # an alert the history raised counts when it was still open at the start
    alerts = [a for a in lives(events, scenario.end_ms + 6 * SLACK_MS) if a.closed >= scenario.start_ms]
    incidents = [r for r in scenario.ground_truth if r.label == "incident"]
    faults = [r for r in scenario.ground_truth if r.label == "fault"]
    per_kind: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    matched_alerts: set[str] = set()
    missed: list[str] = []
    wrong_tier: list[str] = []
    for row in incidents:
        hits = [a for a in alerts if _touches(a, row)]
        k = per_kind[row.kind]
        k["expected"].append(1)
        if row.expected_tier == "1":
            k["t1_expected"].append(1)
        if not hits:
            missed.append(f"{row.id} {row.kind} T{row.expected_tier} {row.asset_id}: {row.detail}")
            continue
        matched_alerts.update(a.alert_id for a in hits)
        k["found"].append(1)
        if row.expected_tier == "1":
            k["t1_found"].append(1)
        best = min(a.best_tier for a in hits)
        k["tier_ok"].append(1.0 if str(best) == row.expected_tier else 0.0)
        if str(best) != row.expected_tier:
            wrong_tier.append(f"{row.id} {row.kind} expected T{row.expected_tier} got T{best}: {row.detail}")
        k["delay_s"].append((min(a.opened for a in hits) - row.start_ms) / 1000.0)
    incident_alerts = [a for a in alerts if a.kind is not AlertKind.SENSOR_FAULT]
    for a in incident_alerts:
        per_kind[a.kind.value]["alerts"].append(1)
        if a.alert_id in matched_alerts:
            per_kind[a.kind.value]["true_alerts"].append(1)
    false_high = [a for a in incident_alerts if a.best_tier <= 2 and a.alert_id not in matched_alerts]
    faulty_at: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in faults:
        for s in r.sensor_ids:
            faulty_at[s].append((r.start_ms, r.end_ms))
    faults_high = [
        a
        for a in false_high
        if a.sensors
        and all(any(s0 - SLACK_MS <= a.opened <= s1 + SLACK_MS for s0, s1 in faulty_at.get(s, [])) for s in a.sensors)
    ]
    fault_alerts = [a for a in alerts if a.kind is AlertKind.SENSOR_FAULT]
    fault_found: dict[str, list[int]] = defaultdict(list)
    missed_faults: list[str] = []
    for r in faults:
        ftype = r.detail.split(":")[0]
        hit = any(
            set(r.sensor_ids) & a.sensors and a.opened <= r.end_ms + SLACK_MS and a.closed >= r.start_ms
            for a in fault_alerts
        )
        fault_found[ftype].append(1 if hit else 0)
        if not hit:
            missed_faults.append(_fault_row(scenario, r))
    faulty = {s for r in faults for s in r.sensor_ids}
    healthy_faults = [a for a in fault_alerts if a.sensors and not a.sensors & faulty]
    sensor_days = len(scenario.sensor_ids) * scenario.duration_s / 86_400
    return {
        "per_kind": per_kind,
        "missed": missed,
        "wrong_tier": wrong_tier,
        "false_high": [f"{a.kind.value} T{a.best_tier} {a.asset_id}: {a.evidence[:200]}" for a in false_high],
        "false_high_per_10k_sensor_days": len(false_high) / sensor_days * 10_000 if sensor_days else 0.0,
        "faults_as_t12": len(faults_high),
        "fault_found": fault_found,
        "fault_alerts": len(fault_alerts),
        "missed_faults": missed_faults,
        "faults_on_healthy": [f"{sorted(a.sensors)[0]}: {a.evidence[:200]}" for a in healthy_faults],
        "sensor_days": sensor_days,
    }


def _fault_row(scenario: Scenario, row: GroundTruthRow) -> str:
    """A missed fault as a person needs it to see why: the sensor's kind and reporting interval, the
    fault's start (hours into the scenario), duration and what was injected."""
    sensor = row.sensor_ids[0] if row.sensor_ids else "?"
    spec = scenario.registry.get(sensor)
    where = f"{spec.kind.value}, every {spec.interval_s:g} s" if spec is not None else "unknown sensor"
    start_h = (row.start_ms - scenario.start_ms) / 3_600_000
    hours = (row.end_ms - row.start_ms) / 3_600_000
    return f"{row.id} {sensor} ({where}) from {start_h:.1f} h for {hours:.1f} h: {row.detail}"


def _ratio(num: list[float], den: list[float]) -> str:
    return f"{sum(num) / len(den):.2f}" if den else "-"


def report(name: str, figures: dict[str, object], seconds: float, readings: int, verbose: bool) -> None:
    """Print the figures of one scenario."""
    per_kind = figures["per_kind"]
    assert isinstance(per_kind, dict)
    print(f"\n== {name}: {readings:,} readings in {seconds:.1f} s ({readings / max(seconds, 1e-9):,.0f}/s end to end)")
    print(
        f"{'kind':<22}{'incidents':>10}{'recall':>8}{'T1 rec':>8}{'tier acc':>9}"
        f"{'precision':>10}{'alerts':>7}{'med delay':>11}"
    )
    for kind, k in sorted(per_kind.items()):
        delay = f"{statistics.median(k['delay_s']) / 60:.1f} min" if k["delay_s"] else "-"
        print(
            f"{kind:<22}{len(k['expected']):>10}{_ratio(k['found'], k['expected']):>8}"
            f"{_ratio(k['t1_found'], k['t1_expected']):>8}{_ratio(k['tier_ok'], k['tier_ok']):>9}"
            f"{_ratio(k['true_alerts'], k['alerts']):>10}{len(k['alerts']):>7}{delay:>11}"
        )
    ff = figures["fault_found"]
    assert isinstance(ff, dict)
    faults = ", ".join(f"{t} {sum(v)}/{len(v)}" for t, v in sorted(ff.items()))
    print(
        f"false T1/T2 alerts: {len(figures['false_high'])} = {figures['false_high_per_10k_sensor_days']:.2f} "  # type: ignore[arg-type]
        f"per 10,000 sensor-days ({figures['sensor_days']:.0f} sensor-days); faults raised as T1/T2: "
        f"{figures['faults_as_t12']}; sensor-fault alerts {figures['fault_alerts']}; faults found: {faults or '-'}"
    )
    if verbose:
        for title in ("missed", "wrong_tier", "false_high", "missed_faults", "faults_on_healthy"):
            items = figures[title]
            assert isinstance(items, list)
            for item in items[:15]:
                print(f"  {title}: {item}")


def main() -> None:
    """Run the selected scenarios and print their figures, then the totals over all of them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", action="append", help="scenario name (repeatable); default: all but the load scenarios"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--rules", help="a rules TOML file overriding the docs/domain.md defaults")
    parser.add_argument(
        "--history-hours", type=float, default=0.0, metavar="H",
        help="first replay H hours before each scenario's start (its sensors and lasting conditions, no incident "
        "or fault of the scenario), as a deployed detector has seen them; an alert still open at the start "
        "counts; scenarios run by a hydraulic model (SWMM, EPANET) have none. Default 0: detectors start cold",
    )  # fmt: skip
    args = parser.parse_args()
    if args.history_hours < 0:
        parser.error(f"--history-hours must be 0 or more, got {args.history_hours:g}")
    names = args.scenario or [n for n in scenario_names() if n not in DEFAULT_SKIP]
    totals: dict[str, list[float]] = defaultdict(list)
    for name in names:
        scenario = build(name, seed=args.seed)
        det = Detectors(scenario.registry, load_rules_config(args.rules) if args.rules else None)
        hours = args.history_hours if scenario.definition.has_history else 0.0
        events, seconds, readings = replay(scenario, det, hours)
        figures = evaluate(scenario, events)
        title = name
        if args.history_hours > 0:
            title += f" (after {hours:g} h of history)" if hours else " (no history: a hydraulic model's run)"
        report(title, figures, seconds, readings, args.verbose)
        per_kind = figures["per_kind"]
        assert isinstance(per_kind, dict)
        for k in per_kind.values():
            for key in ("expected", "found", "t1_expected", "t1_found", "tier_ok", "alerts", "true_alerts"):
                totals[key].extend(k[key])
        totals["faults_as_t12"].append(float(figures["faults_as_t12"]))  # type: ignore[arg-type]
    print("\n== all scenarios")
    print(
        f"recall {_ratio(totals['found'], totals['expected'])}, tier-1 recall "
        f"{_ratio(totals['t1_found'], totals['t1_expected'])} (target ≥0.98), tier accuracy "
        f"{_ratio(totals['tier_ok'], totals['tier_ok'])} (target ≥0.95), precision "
        f"{_ratio(totals['true_alerts'], totals['alerts'])}, "
        f"faults raised as T1/T2 {sum(totals['faults_as_t12']):.0f} (target 0)"
    )


if __name__ == "__main__":
    main()
