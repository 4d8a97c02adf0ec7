"""Drainage and waterlogging: catchments with a rain gauge, manhole level gauges and underpass ponding gauges.

Rain drives the network through two linear reservoirs (docs/domain.md#drainage-behaviour): rain → pipe level with a time
constant of 10–30 min; inflow above the inlet capacity → surface ponding after a further 5–20 min,
draining with a recession of 0.5–3 h. Levels are capped at the ground (overflow). A blocked inlet
lowers the capacity and slows draining, so ponding appears at less rain and lasts longer.
Ground truth (rainstorm, overflow, waterlogging) is read from the noise-free signal at sample times and
follows every Table D rule the signal triggers, not only the level steps:

* rain: T3 ≥20 mm/h; T2 ≥50 mm in 6 h (yellow signal; 50 mm in 3 h, orange, is included); T1 ≥100 mm in 3 h;
* manhole: T3 at the pipe crown; T2 within 0.5 m of the ground, or at/above the crown and rising
  >0.2 m per 5 min (the rising clause grades a surcharged pipe: tiers are nested, and a fast rise below
  the crown is what pump-station cycling looks like); T1 within 0.1 m of the ground;
* ponding: T3 ≥15 cm; T2 ≥27 cm; T1 ≥40 cm, or ≥25 cm and rising >5 cm per 5 min.

A rate of rise at a sample is measured against the sample 5 min earlier (the previous sample when the
interval is 5 min or longer) and scaled to 5 min, as a rule reading the stream would measure it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lifeline.models import AlertKind, Lifeline, SensorKind
from lifeline.simulators.city import Asset, Builder
from lifeline.simulators.engine import Engine, Floats, Ints, Rows
from lifeline.simulators.groundtruth import GroundTruthRow, tier_from_peak
from lifeline.simulators.profiles import water_demand_factor
from lifeline.simulators.timebase import HOUR_MS, MINUTE_MS

__all__ = ["PONDING_STEPS_CM", "DrainageNetwork", "Storm", "rise_per_5min"]

OWNER = "hefei-drainage"
PONDING_STEPS_CM = {"t3": 15.0, "t2": 27.0, "t1": 40.0}
#: Table D: ponding ≥25 cm and rising >5 cm per 5 min is T1
PONDING_RISING_T1 = (25.0, 5.0)
#: Table D: a manhole rising >0.2 m per 5 min is T2
MANHOLE_RISE_T2_M = 0.2
#: Table D rain windows: T2 ≥50 mm in 6 h (CMA yellow; orange 50 mm in 3 h is contained), T1 ≥100 mm in 3 h
RAIN_T3_MM_H, RAIN_T2_MM_6H, RAIN_T1_MM_3H = 20.0, 50.0, 100.0
FIVE_MIN_MS = 5 * MINUTE_MS


@dataclass(frozen=True)
class Storm:
    """A rain event: intensity rises to ``peak_mm_h`` at 40 % of its length, over the whole city."""

    start_ms: int
    hours: float
    peak_mm_h: float

    def intensity(self, ts_ms: Ints) -> Floats:
        """City-wide rain intensity (mm/h) at ``ts_ms``."""
        x = (ts_ms - self.start_ms) / (self.hours * HOUR_MS)
        shape = np.where(x < 0.4, (x / 0.4) ** 2, np.exp(-(((x - 0.4) / 0.25) ** 2)))
        result: Floats = np.where((x >= 0) & (x <= 1), self.peak_mm_h * shape, 0.0)
        return result


class DrainageNetwork:
    """Catchments (one group each). Call :meth:`add_storm` and the injections, then :meth:`finish`."""

    def __init__(self, b: Builder) -> None:
        self.b = b
        plan, rng = b.plan, b.rng
        n, k, u = plan.catchments, plan.manholes_per_catchment, plan.underpasses_per_catchment
        self.catchment_ids = [f"CA-{c + 1:04d}" for c in range(n)]
        self.rain: list[int] = []
        self.manholes: list[int] = []
        self.underpasses: list[int] = []
        self.pipe_m = rng.uniform(0.6, 1.5, n * k)
        self.ground_m = self.pipe_m + rng.uniform(1.5, 3.5, n * k)
        for c, ca in enumerate(self.catchment_ids):
            centre = b.place()
            self.rain.append(b.add(
                Asset(f"{ca}-RG", "rain_gauge", OWNER, ca, centre), "R", SensorKind.RAIN,
                thresholds={"t3_mm_h": 20.0, "t2_mm_3h": 50.0, "t1_mm_3h": 100.0},
            ))  # fmt: skip
            for j in range(k):
                i = c * k + j
                at = centre.offset(*rng.uniform(-600.0, 600.0, 2))
                self.manholes.append(b.add(
                    Asset(f"{ca}-MH{j + 1:02d}", "manhole", OWNER, ca, at), "L", SensorKind.MANHOLE_LEVEL,
                    design_value=round(float(self.ground_m[i]), 3), max_value=7.0,
                    thresholds={"crown_m": round(float(self.pipe_m[i]), 3),
                                "t2_m": round(float(self.ground_m[i]) - 0.5, 3),
                                "t1_m": round(float(self.ground_m[i]) - 0.1, 3)},
                ))  # fmt: skip
            for j in range(u):
                at = centre.offset(*rng.uniform(-600.0, 600.0, 2))
                self.underpasses.append(b.add(
                    Asset(f"{ca}-UP{j + 1:02d}", "underpass", OWNER, ca, at), "D", SensorKind.PONDING_DEPTH,
                    max_value=300.0, thresholds=dict(PONDING_STEPS_CM),
                ))  # fmt: skip
        self.k, self.u = k, u
        self.rain_scale = rng.uniform(0.75, 1.1, n)
        self.pipe_tau_min = rng.uniform(10.0, 30.0, n)
        self.dry_fraction = rng.uniform(0.1, 0.5, n * k)
        self.level_gain = self.pipe_m * rng.uniform(0.8, 1.4, n * k) / 40.0  # m per mm/h in the pipe reservoir
        self.inlet_capacity = rng.uniform(40.0, 70.0, n * u)  # mm/h the gullies take before water stays on the road
        self.ponding_tau_min = rng.uniform(5.0, 20.0, n * u)
        self.drain_tau_min = rng.uniform(30.0, 120.0, n * u)
        self.ponding_gain = rng.uniform(0.3, 0.8, n * u)  # cm per (mm/h of excess) at equilibrium
        self.blocked: dict[int, str] = {}
        self.storms: list[Storm] = []
        self._grid_start = b.start_ms
        self.rain_grid = np.zeros((n, 1))
        self.pipe_grid = np.zeros((n, 1))
        self.ponding_grid = np.zeros((n * u, 1))
        b.add_block("drainage.rain", self.rain, SensorKind.RAIN, self.rain_values, 1)
        b.add_block("drainage.manhole", self.manholes, SensorKind.MANHOLE_LEVEL, self.level_values, 3)
        b.add_block("drainage.ponding", self.underpasses, SensorKind.PONDING_DEPTH, self.ponding_values, 1)

    # ----------------------------------------------------------------- set-up

    def add_storm(self, storm: Storm) -> None:
        """Let it rain."""
        self.storms.append(storm)

    def block_inlet(self, underpass: int | None = None) -> int:
        """Block the gullies of one underpass: capacity × 0.35, draining 3× slower. Returns its row."""
        row = int(self.b.rng.integers(len(self.underpasses))) if underpass is None else underpass
        self.inlet_capacity[row] *= 0.35
        self.drain_tau_min[row] *= 3.0
        self.blocked[row] = "blocked inlet: gullies take 35 % of design flow, draining 3× slower"
        return row

    def finish(self, ponding_targets_cm: list[float] | None = None) -> None:
        """Run the reservoirs over the scenario; optionally scale some underpasses to reach target peak depths.

        Targets go to the underpasses with the most excess inflow (blocked ones excluded), so a storm of
        the scenario's size gives the intended 15 / 27 / 40 cm steps. Then ground truth is registered.
        """
        minutes = np.arange(self.b.start_ms, self.b.end_ms + MINUTE_MS, MINUTE_MS, dtype=np.int64)
        city_rain = sum((s.intensity(minutes) for s in self.storms), np.zeros(minutes.size))
        self.rain_grid = self.rain_scale[:, None] * city_rain[None, :]
        self.pipe_grid = _reservoir(self.rain_grid, self.pipe_tau_min)
        catchment = np.repeat(np.arange(len(self.catchment_ids)), self.u)
        excess = np.clip(self.pipe_grid[catchment] - self.inlet_capacity[:, None], 0.0, None)
        lagged = _reservoir(excess, self.ponding_tau_min)
        storage = _reservoir(lagged, self.drain_tau_min) * (self.drain_tau_min / 30.0)[:, None]  # slow drain: deeper
        self.ponding_grid = storage * self.ponding_gain[:, None]
        if ponding_targets_cm:
            peaks = self.ponding_grid.max(axis=1)
            candidates = [int(r) for r in np.argsort(-peaks) if int(r) not in self.blocked and peaks[r] > 0.5]
            for row, target in zip(candidates, ponding_targets_cm, strict=False):
                self.ponding_grid[row] *= target / peaks[row]
        self._truths()

    def incident_sensors(self) -> set[int]:
        """Manholes whose noise-free level reaches the pipe crown (T3) during the scenario (after
        :meth:`finish`): their storm response is an incident, so no sensor fault goes there."""
        if not self.manholes or not self.storms:
            return set()
        minutes = np.arange(self.b.start_ms, self.b.end_ms, MINUTE_MS, dtype=np.int64)
        rows = np.arange(len(self.manholes))
        peak = self.level_values(rows, np.broadcast_to(minutes, (rows.size, minutes.size)), None).max(axis=1)
        return {self.manholes[i] for i in np.flatnonzero(peak >= self.pipe_m - 1e-9).tolist()}

    # ----------------------------------------------------------------- normal behaviour

    def _minute(self, ts_ms: Ints) -> Ints:
        index: Ints = np.clip((ts_ms - self._grid_start) // MINUTE_MS, 0, self.rain_grid.shape[1] - 1)
        return index

    def rain_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Rain intensity (mm/h) at the gauge; a little gauge noise only while it rains."""
        values: Floats = self.rain_grid[rows[:, None], self._minute(ts_ms)]
        if rng is not None:
            values = np.clip(values * (1 + rng.normal(0.0, 0.05, values.shape)), 0.0, None)
        return values

    def level_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Manhole level (m above invert): dry-weather sewage plus the storm response, capped at the ground."""
        catchment = rows // self.k
        storm = self.pipe_grid[catchment[:, None], self._minute(ts_ms)]
        sewage = (
            self.pipe_m[rows, None] * self.dry_fraction[rows, None] * (0.7 + 0.3 * water_demand_factor(ts_ms - HOUR_MS))
        )
        values = np.minimum(sewage + self.level_gain[rows, None] * storm, self.ground_m[rows, None] + 0.03)
        return values if rng is None else values + rng.normal(0.0, 0.005, values.shape)

    def ponding_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Road ponding depth (cm) at the underpass."""
        values: Floats = self.ponding_grid[rows[:, None], self._minute(ts_ms)]
        if rng is not None:
            values = np.clip(values + rng.normal(0.0, 0.3, values.shape) * (values > 0.2), 0.0, None)
        return values

    # ----------------------------------------------------------------- ground truth

    def _truths(self) -> None:
        for c in range(len(self.catchment_ids)):
            self._truth(self.rain[c], c, _rain_tier, AlertKind.RAINSTORM, "")
        for i, sensor in enumerate(self.manholes):
            t = self.b.sensor(sensor).thresholds
            self._truth(sensor, i // self.k, _manhole_tier(t["crown_m"], t["t2_m"], t["t1_m"]), AlertKind.OVERFLOW, "")
        for i, sensor in enumerate(self.underpasses):
            self._truth(sensor, i // self.u, _ponding_tier(**PONDING_STEPS_CM), AlertKind.WATERLOGGING,
                        self.blocked.get(i, ""))  # fmt: skip

    def _truth(
        self, sensor: int, c: int, rule: Callable[[Floats, int], tuple[str, float]], kind: AlertKind, why: str
    ) -> None:
        b = self.b

        def truth(engine: Engine) -> GroundTruthRow | None:
            times = engine.sample_times(sensor)
            values = engine.evaluate(sensor, times)
            tier, peak = rule(values, engine.interval_ms(sensor))
            if tier == "none":
                return None
            wet = np.flatnonzero(
                values > (0.5 if kind is not AlertKind.OVERFLOW else b.sensor(sensor).thresholds["crown_m"])
            )
            start = int(times[wet[0]]) if wet.size else b.start_ms
            end = int(times[wet[-1]]) + engine.interval_ms(sensor) if wet.size else b.end_ms
            spec = b.sensor(sensor)
            detail = f"{why + '; ' if why else ''}peak {peak:.2f} {spec.unit}"
            if kind is AlertKind.RAINSTORM:
                detail = f"rainstorm: peak 3-h accumulation {peak:.0f} mm, max {values.max():.0f} mm/h"
            return GroundTruthRow(
                id="", label="incident", kind=kind.value, expected_tier=tier, lifeline=Lifeline.DRAINAGE.value,
                asset_id=spec.asset_id, group_id=self.catchment_ids[c], sensor_ids=(spec.sensor_id,),
                start_ms=start, end_ms=min(end, b.end_ms), detail=detail,
            )  # fmt: skip

        b.add_truth(truth)


def rise_per_5min(values: Floats, interval_ms: int) -> Floats:
    """Rate of rise at each sample, scaled to 5 min: against the sample 5 min earlier (at least the
    previous one); 0 where there is no earlier sample.

    >>> rise_per_5min(np.array([0.0, 0.1, 0.4, 0.5]), 300_000).round(2).tolist()
    [0.0, 0.1, 0.3, 0.1]
    >>> rise_per_5min(np.array([0.0, 1.0, 2.0, 3.0]), 150_000).tolist()
    [0.0, 0.0, 2.0, 2.0]
    """
    lag = max(1, FIVE_MIN_MS // interval_ms)
    rise = np.zeros_like(values)
    if values.size > lag:
        rise[lag:] = (values[lag:] - values[:-lag]) * (FIVE_MIN_MS / (lag * interval_ms))
    return rise


def _rain_tier(values: Floats, interval_ms: int) -> tuple[str, float]:
    """Rain gauge: T1 ≥100 mm in 3 h, T2 ≥50 mm in 6 h, T3 ≥20 mm/h; returns the peak 3-h accumulation."""
    per_3h = max(1, round(3 * HOUR_MS / interval_ms))
    depth_mm = values * interval_ms / HOUR_MS
    top3 = float(np.convolve(depth_mm, np.ones(per_3h))[: values.size].max()) if values.size else 0.0
    top6 = float(np.convolve(depth_mm, np.ones(2 * per_3h))[: values.size].max()) if values.size else 0.0
    if top3 >= RAIN_T1_MM_3H:
        return "1", top3
    if top6 >= RAIN_T2_MM_6H:
        return "2", top3
    return ("3" if values.size and values.max() >= RAIN_T3_MM_H else "none"), top3


def _manhole_tier(crown: float, t2: float, t1: float) -> Callable[[Floats, int], tuple[str, float]]:
    def rule(values: Floats, interval_ms: int) -> tuple[str, float]:
        peak = float(values.max()) if values.size else 0.0
        tier = tier_from_peak(peak, crown, t2, t1)
        if tier == "3" and bool(((values >= crown) & (rise_per_5min(values, interval_ms) > MANHOLE_RISE_T2_M)).any()):
            tier = "2"
        return tier, peak

    return rule


def _ponding_tier(t3: float, t2: float, t1: float) -> Callable[[Floats, int], tuple[str, float]]:
    depth, rate = PONDING_RISING_T1

    def rule(values: Floats, interval_ms: int) -> tuple[str, float]:
        peak = float(values.max()) if values.size else 0.0
        tier = tier_from_peak(peak, t3, t2, t1)
        if tier in ("2", "3") and bool(((values >= depth) & (rise_per_5min(values, interval_ms) > rate)).any()):
            tier = "1"
        return tier, peak

    return rule


def _reservoir(inflow: Floats, tau_min: Floats) -> Floats:
    """Linear reservoirs (one per row) on a 1-minute grid: ``ds/dt = (inflow − s) / tau``."""
    alpha = 1.0 - np.exp(-1.0 / tau_min)
    out = np.empty_like(inflow)
    state = np.zeros(inflow.shape[0])
    for t in range(inflow.shape[1]):
        state += alpha * (inflow[:, t] - state)
        out[:, t] = state
    return out
