"""Waterlogging detection on SWMM hydraulics: ponding episodes found, tier, delay, dry weather, chance control.

Run: ``.venv/bin/python -m benchmarks.bench_drainage [--seeds 1 2 3] [--scenario swmm-5y ...] [-v]``

Each ``swmm-*`` scenario (:mod:`lifeline.simulators.swmm_scenarios`) is built for every seed and replayed
through :class:`lifeline.detectors.Detectors` as the dataflow would (``bench_detector_quality.replay``).
Against its ground truth (episodes read from the SWMM results, docs/domain.md#road-ponding):

* **found**: a waterlogging episode (≥ 15 cm) is found when a waterlogging alert on its ponding sensor
  was alive at some time between the episode's first and last report at ≥ 15 cm;
* **tier ok**: the most severe tier such an alert reached equals the expected tier;
* **delay**: alert opened − first report at ≥ 15 cm; **tier delay**: time the alert reached the expected
  tier − first report at that tier's depth (for a T1 given by the rising rule alone: at 25 cm);
* **dry-weather alerts**: alerts of any kind (sensor faults included) that opened while their catchment had
  no rain in the previous 6 h and no ground-truth episode within 1 h, per catchment-day of such weather;
* **chance control**: the same number of waterlogging alerts, each with the duration and tier of a real
  one, on a random ponding sensor at a uniformly random time, scored the same way;
* **speed**: building the scenario with an empty SWMM cache (every catchment simulated with pyswmm) and
  again from the cache.

``run_bench`` returns the rows and ``print_table`` prints the one table, so another benchmark can fold this
one in.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from benchmarks.bench_detector_quality import AlertLife, lives, replay
from lifeline.detectors import Detectors
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind
from lifeline.simulators.drainage import PONDING_STEPS_CM, rise_per_5min
from lifeline.simulators.groundtruth import GroundTruthRow
from lifeline.simulators.scenarios import Scenario, build
from lifeline.simulators.swmm_drainage import ponding_spells
from lifeline.simulators.swmm_scenarios import SWMM_SCENARIOS

__all__ = ["Row", "main", "print_table", "run_bench"]

HOUR_MS = 3_600_000
_TIER_DEPTH_CM = {"3": PONDING_STEPS_CM["t3"], "2": PONDING_STEPS_CM["t2"], "1": PONDING_STEPS_CM["t1"]}
_RISING_T1_CM = 25.0
#: two standard deviations of the simulated gauge noise (0.3 cm) on a depth, and on a difference of two
_NOISE_2SD_CM, _NOISE_2SD_RISE_CM = 0.6, 0.85


@dataclass
class Row:
    """Figures of one scenario over all seeds."""

    scenario: str
    seeds: int = 0
    expected: dict[str, int] = field(default_factory=lambda: {"3": 0, "2": 0, "1": 0})
    found: dict[str, int] = field(default_factory=lambda: {"3": 0, "2": 0, "1": 0})
    tier_ok: int = 0
    #: episodes whose tier changes within the gauge noise (depth ±2σ, or a 5-min rise within 2σ of 5 cm)
    boundary: int = 0
    boundary_wrong: int = 0
    delays_min: list[float] = field(default_factory=list)
    tier_delays_min: list[float] = field(default_factory=list)
    dry_days: float = 0.0
    dry_alerts: int = 0
    alerts: int = 0
    fault_alerts: int = 0
    chance_found: int = 0
    chance_tier_ok: int = 0
    cold_s: list[float] = field(default_factory=list)
    warm_s: list[float] = field(default_factory=list)
    catchment_hours: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        """Ponding episodes ≥ 15 cm."""
        return sum(self.expected.values())


def _build_timed(name: str, seed: int) -> tuple[Scenario, float, float]:
    """Build with an empty SWMM cache (cold) and again from that cache (warm); both wall times."""
    before = os.environ.get("LIFELINE_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="bench-swmm-") as cache:
        os.environ["LIFELINE_CACHE_DIR"] = cache
        try:
            started = time.perf_counter()
            build(name, seed=seed)
            cold = time.perf_counter() - started
            started = time.perf_counter()
            scenario = build(name, seed=seed)
            warm = time.perf_counter() - started
        finally:
            if before is None:
                os.environ.pop("LIFELINE_CACHE_DIR", None)
            else:
                os.environ["LIFELINE_CACHE_DIR"] = before
    return scenario, cold, warm


def _overlaps(life: AlertLife, row: GroundTruthRow) -> bool:
    return bool(life.sensors & set(row.sensor_ids)) and life.opened < row.end_ms and life.closed >= row.start_ms


def _tier_reached_at(events: list[AlertEvent], alert_id: str, tier: int) -> int | None:
    raised = (AlertEventType.OPENED, AlertEventType.ESCALATED)
    times = [e.ts for e in events if e.alert_id == alert_id and e.event in raised and int(e.tier) <= tier]
    return min(times) if times else None


def _noise_free(scenario: Scenario, sensor_id: str) -> tuple[np.ndarray, np.ndarray]:
    index = scenario.sensor_ids.index(sensor_id)
    times = scenario.engine.sample_times(index)
    return times, scenario.engine.evaluate(index, times)


def _score_episodes(scenario: Scenario, events: list[AlertEvent], alerts: list[AlertLife], row: Row) -> None:
    episodes = [r for r in scenario.ground_truth if r.kind == AlertKind.WATERLOGGING.value]
    for ep in episodes:
        row.expected[ep.expected_tier] += 1
        hits = [a for a in alerts if a.kind is AlertKind.WATERLOGGING and _overlaps(a, ep)]
        times, depth = _noise_free(scenario, ep.sensor_ids[0])
        near = _at_boundary(times, depth, ep)
        row.boundary += near
        label = f"{scenario.name} seed {scenario.seed} {ep.asset_id} T{ep.expected_tier}{' (at a boundary)' * near}: "
        label += ep.detail
        if not hits:
            row.boundary_wrong += near
            row.notes.append(f"missed {label}")
            continue
        row.found[ep.expected_tier] += 1
        best = min(a.best_tier for a in hits)
        if str(best) == ep.expected_tier:
            row.tier_ok += 1
        else:
            row.boundary_wrong += near
            row.notes.append(f"got T{best}, expected {label}")
        row.delays_min.append((min(a.opened for a in hits) - ep.start_ms) / 60_000)
        inside = (times >= ep.start_ms) & (times < ep.end_ms)
        threshold = _TIER_DEPTH_CM[ep.expected_tier]
        if ep.expected_tier == "1" and depth[inside].max() < threshold:
            threshold = _RISING_T1_CM
        crossed = times[inside & (depth >= threshold)]
        reached = [t for a in hits if (t := _tier_reached_at(events, a.alert_id, int(ep.expected_tier))) is not None]
        if crossed.size and reached:
            row.tier_delays_min.append((min(reached) - int(crossed[0])) / 60_000)


def _at_boundary(times: np.ndarray, depth: np.ndarray, ep: GroundTruthRow) -> bool:
    """Whether the gauge noise could change the episode's tier: its tier with the depth 2σ lower or higher
    differs, or a 5-min rise at ≥ 25 cm lies within 2σ of the 5 cm of the rising rule."""
    window = (times >= ep.start_ms - 3_600_000) & (times < ep.end_ms + 3_600_000)
    values, interval = depth[window], int(times[1] - times[0])

    def tier(shift: float) -> str:
        tiers = [s.tier for s in ponding_spells(values + shift, interval)]
        return min(tiers) if tiers else "none"

    rise = rise_per_5min(values, interval)
    rising_close = bool((np.abs(rise - 5.0)[values >= _RISING_T1_CM] < _NOISE_2SD_RISE_CM).any())
    return tier(-_NOISE_2SD_CM) != tier(_NOISE_2SD_CM) or rising_close


def _chance(scenario: Scenario, alerts: list[AlertLife], row: Row) -> None:
    """Random alerts: the real waterlogging alerts' durations and tiers at random sensors and times."""
    rng = np.random.default_rng((scenario.seed, 99))
    ponding = [s.sensor_id for s in scenario.sensors if s.kind is SensorKind.PONDING_DEPTH]
    episodes = [r for r in scenario.ground_truth if r.kind == AlertKind.WATERLOGGING.value]
    fakes = []
    for a in (a for a in alerts if a.kind is AlertKind.WATERLOGGING):
        length = max(a.closed - a.opened, 0)
        opened = int(rng.integers(scenario.start_ms, max(scenario.start_ms + 1, scenario.end_ms - length)))
        sensor = ponding[int(rng.integers(len(ponding)))]
        fakes.append(AlertLife(a.alert_id, a.kind, sensor, opened, opened + length, a.best_tier, {sensor}))
    for ep in episodes:
        hits = [f for f in fakes if _overlaps(f, ep)]
        row.chance_found += bool(hits)
        row.chance_tier_ok += bool(hits) and str(min(f.best_tier for f in hits)) == ep.expected_tier


def _dry_weather(scenario: Scenario, alerts: list[AlertLife], row: Row) -> None:
    """Alerts opened in dry weather (no rain in 6 h, no episode within 1 h), per catchment."""
    step = 60_000
    grid = np.arange(scenario.start_ms, scenario.end_ms, step, dtype=np.int64)
    for gauge in (s for s in scenario.sensors if s.kind is SensorKind.RAIN):
        catchment = gauge.group_id
        times, rain = _noise_free(scenario, gauge.sensor_id)
        wet_times = times[rain > 0.0]
        dry = np.ones(grid.size, dtype=bool)
        for t in wet_times.tolist():
            dry[(grid >= t - 300_000) & (grid < t + 6 * HOUR_MS)] = False
        for ep in (r for r in scenario.ground_truth if r.group_id == catchment):
            dry[(grid >= ep.start_ms - HOUR_MS) & (grid < ep.end_ms + HOUR_MS)] = False
        row.dry_days += float(dry.sum()) * step / (24 * HOUR_MS)
        members = {s.sensor_id for s in scenario.sensors if s.group_id == catchment}
        for a in alerts:
            if a.sensors & members or a.asset_id == catchment:
                at = min(max(0, (a.opened - scenario.start_ms) // step), grid.size - 1)
                if dry[at]:
                    row.dry_alerts += 1
                    row.notes.append(f"dry-weather alert {scenario.name} seed {scenario.seed}: {a.evidence[:160]}")


def run_bench(seeds: list[int], names: list[str]) -> list[Row]:
    """Build, replay and score every scenario for every seed; one :class:`Row` per scenario."""
    rows = []
    for name in names:
        row = Row(name)
        for seed in seeds:
            scenario, cold, warm = _build_timed(name, seed)
            events, _seconds, _readings = replay(scenario, Detectors(scenario.registry))
            alerts = lives(events, scenario.end_ms + 6 * HOUR_MS)
            row.seeds += 1
            row.cold_s.append(cold)
            row.warm_s.append(warm)
            gauges = sum(s.kind is SensorKind.RAIN for s in scenario.sensors)
            row.catchment_hours += gauges * scenario.duration_s / 3600
            row.alerts += sum(a.kind is AlertKind.WATERLOGGING for a in alerts)
            row.fault_alerts += sum(a.kind is AlertKind.SENSOR_FAULT for a in alerts)
            _score_episodes(scenario, events, alerts, row)
            _chance(scenario, alerts, row)
            _dry_weather(scenario, alerts, row)
        rows.append(row)
    return rows


def _median_max(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}/{max(values):.0f}" if values else "-"


def print_table(rows: list[Row]) -> None:
    """One table: per scenario, then all scenarios together."""
    total = Row("all")
    for r in rows:
        total.seeds = max(total.seeds, r.seeds)
        for tier in ("3", "2", "1"):
            total.expected[tier] += r.expected[tier]
            total.found[tier] += r.found[tier]
        for name in ("tier_ok", "boundary", "boundary_wrong", "dry_alerts", "alerts", "fault_alerts", "chance_found",
                     "chance_tier_ok"):  # fmt: skip
            setattr(total, name, getattr(total, name) + getattr(r, name))
        total.dry_days += r.dry_days
        total.catchment_hours += r.catchment_hours
        total.delays_min += r.delays_min
        total.tier_delays_min += r.tier_delays_min
        total.cold_s += r.cold_s
        total.warm_s += r.warm_s
    print("\n== waterlogging on SWMM hydraulics (episodes ≥ 15 cm; found/expected per expected tier)")
    header = (
        f"{'scenario':<15}{'seeds':>6}{'T3':>7}{'T2':>7}{'T1':>7}{'tier ok':>9}{'delay min':>11}{'tier delay':>12}"
        f"{'wl alerts':>10}{'dry days':>9}{'dry alerts':>11}{'fault al.':>10}{'chance found':>13}{'chance tier':>12}"
        f"{'cold s':>8}{'warm s':>8}"
    )
    print(header)
    for r in [*rows, total]:
        n = r.episodes
        print(
            f"{r.scenario:<15}{r.seeds:>6}"
            + "".join(f"{r.found[t]:>3}/{r.expected[t]:<3}" for t in ("3", "2", "1"))
            + f"{(f'{r.tier_ok}/{n}' if n else '-'):>9}{_median_max(r.delays_min):>11}"
            f"{_median_max(r.tier_delays_min):>12}"
            f"{r.alerts:>10}{r.dry_days:>9.1f}{r.dry_alerts:>11}{r.fault_alerts:>10}"
            f"{(f'{r.chance_found}/{n}' if n else '-'):>13}{(f'{r.chance_tier_ok}/{n}' if n else '-'):>12}"
            f"{statistics.median(r.cold_s):>8.2f}{statistics.median(r.warm_s):>8.2f}"
        )
    print(
        f"episodes whose tier is within the gauge noise of a boundary: {total.boundary} of {total.episodes}; "
        f"misses and wrong tiers among them: {total.boundary_wrong} of "
        f"{total.episodes - total.tier_ok} (found but wrong tier or missed)"
    )
    per_hour = sum(total.cold_s) / max(total.catchment_hours, 1e-9)
    print(
        f"delays in minutes (median/max); dry days = catchment-days of dry weather; cold/warm = median seconds to "
        f"build one scenario with an empty SWMM cache / from the cache; SWMM through pyswmm: "
        f"{total.catchment_hours:.0f} catchment-hours simulated in {sum(total.cold_s):.1f} s of cold builds "
        f"({per_hour * 24:.2f} s per catchment-day)"
    )


def main() -> None:
    """Parse the arguments, run, print the table (and with ``-v`` every miss, wrong tier and dry alert)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--scenario", action="append", help="swmm-* scenario (repeatable); default: all of them")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args()
    names = args.scenario or [s.name for s in SWMM_SCENARIOS]
    rows = run_bench(args.seeds, names)
    print_table(rows)
    if args.verbose:
        for r in rows:
            for note in r.notes:
                print(f"  {note}")


if __name__ == "__main__":
    main()
