"""Water supply: district metered areas (DMAs) with an inlet flow meter, pressure and noise loggers.

Normal behaviour (docs/domain.md#water-behaviour): inlet flow follows daily demand with the minimum night flow around
03:00; pressure is highest at night and sags with the square of demand (head loss); noise loggers give
an hourly minimum noise level that is quiet at night. Injected: bursts (pressure drop at the nearest
loggers plus an inlet-flow surge), background leaks (night flow creeping up, noise flag), and the
look-alikes hydrant use (short flow spike, local dip) and pump switching (step at all loggers).
"""

from __future__ import annotations

import msgspec
import numpy as np

from lifeline.models import AlertKind, Lifeline, SensorKind
from lifeline.simulators.city import Asset, Builder
from lifeline.simulators.effects import LinearRamp, Step, Trapezoid
from lifeline.simulators.engine import Floats, Ints, Rows
from lifeline.simulators.groundtruth import GroundTruthRow
from lifeline.simulators.profiles import traffic_factor, water_demand_factor
from lifeline.simulators.timebase import HOUR_MS, local_hour

__all__ = ["WaterNetwork"]

OWNER = "hefei-water"
PEAK_DEMAND = 1.6


class WaterNetwork:
    """DMAs (one group each): inlet flow, pressure loggers and acoustic noise loggers."""

    def __init__(self, b: Builder) -> None:
        self.b = b
        plan, rng = b.plan, b.rng
        n, k, m = plan.dmas, plan.pressure_loggers_per_dma, plan.noise_loggers_per_dma
        self.dma_ids = [f"DMA-{d + 1:04d}" for d in range(n)]
        self.mean_flow_m3h = rng.uniform(60.0, 600.0, n)
        self.inlet: list[int] = []
        self.loggers: list[list[int]] = []
        self.logger_xy: list[Floats] = []
        self.noise: list[list[int]] = []
        self.noise_xy: list[Floats] = []
        for d, dma in enumerate(self.dma_ids):
            centre = b.place()
            inlet = Asset(f"{dma}-IN", "dma_inlet", OWNER, dma, centre)
            self.inlet.append(b.add(
                inlet, "Q", SensorKind.WATER_FLOW, design_value=round(float(self.mean_flow_m3h[d]), 1),
                thresholds={"surge_t2": 0.2, "surge_t1": 0.5, "mnf_t3": 0.15},
            ))  # fmt: skip
            xy = rng.uniform(-900.0, 900.0, (k, 2))
            self.logger_xy.append(xy)
            self.loggers.append([
                b.add(Asset(f"{dma}-PL{j + 1:02d}", "pressure_logger", OWNER, dma, centre.offset(*xy[j])), "P",
                      SensorKind.WATER_PRESSURE, thresholds={"drop_t2": 0.05, "drop_t1": 0.1, "low_t1": 0.1})
                for j in range(k)
            ])  # fmt: skip
            nxy = rng.uniform(-900.0, 900.0, (m, 2))
            self.noise_xy.append(nxy)
            self.noise.append([
                b.add(Asset(f"{dma}-NL{j + 1:02d}", "noise_logger", OWNER, dma, centre.offset(*nxy[j])), "N",
                      SensorKind.NOISE_LEVEL, thresholds={"flag_rise_db": 6.0})
                for j in range(m)
            ])  # fmt: skip
        self.night_pressure_mpa = rng.uniform(0.40, 0.50, n * k)
        self.head_loss_mpa = rng.uniform(0.07, 0.14, n * k)
        self.logger_dma = np.repeat(np.arange(n), k)
        self.noise_base_db = rng.uniform(18.0, 30.0, n * m)
        self._commission_noise_loggers()
        b.add_block("water.inlet_flow", self.inlet, SensorKind.WATER_FLOW, self.flow_values, 2)
        b.add_block("water.pressure", [s for row in self.loggers for s in row], SensorKind.WATER_PRESSURE,
                    self.pressure_values, 4)  # fmt: skip
        b.add_block("water.noise", [s for row in self.noise for s in row], SensorKind.NOISE_LEVEL, self.noise_values, 1)

    def _commission_noise_loggers(self) -> None:
        """Write each noise logger's quiet night level (``night_db``, noise-free) into the registry, as a utility
        records it when the logger is installed: the leak rule's baseline until the logger has nights of its own."""
        hours = np.arange(2 * 60, 4 * 60, 5, dtype=np.int64) * 60_000 - 8 * HOUR_MS  # 02:00–04:00 local
        night = 8.0 * float(traffic_factor(hours).min())
        for row, index in enumerate(s for dma in self.noise for s in dma):
            spec = self.b.sensors[index]
            levels = {**spec.thresholds, "night_db": round(float(self.noise_base_db[row]) + night, 1)}
            self.b.sensors[index] = msgspec.structs.replace(spec, thresholds=levels)

    # ----------------------------------------------------------------- normal behaviour

    def flow_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Inlet flow: mean flow × daily demand factor (minimum night flow around 03:00)."""
        values = self.mean_flow_m3h[rows, None] * water_demand_factor(ts_ms)
        return values if rng is None else values * (1 + rng.normal(0.0, 0.025, values.shape))

    def pressure_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Logger pressure: night pressure minus a head loss growing with the square of demand."""
        demand = water_demand_factor(ts_ms) / PEAK_DEMAND
        values = self.night_pressure_mpa[rows, None] - self.head_loss_mpa[rows, None] * demand**2
        return values if rng is None else values + rng.normal(0.0, 0.003, values.shape)

    def noise_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Hourly minimum noise level: quiet at night, raised by daytime traffic."""
        values = self.noise_base_db[rows, None] + 8.0 * traffic_factor(ts_ms)
        return values if rng is None else values + rng.normal(0.0, 0.8, values.shape)

    # ----------------------------------------------------------------- injections

    def _nearest(self, xy: Floats) -> tuple[Floats, Ints]:
        spot = self.b.rng.uniform(-700.0, 700.0, 2)
        distance = np.hypot(*(xy - spot).T)
        return distance, np.argsort(distance)

    def inject_burst(self, at_ms: int, drop_mpa: float, surge_fraction: float, hours: float) -> None:
        """A main bursts: pressure falls at the nearest loggers (100, 85, 55 ... % of ``drop_mpa``), inlet surges."""
        b = self.b
        d = int(b.rng.integers(len(self.dma_ids)))
        _distance, order = self._nearest(self.logger_xy[d])
        end = at_ms + int(hours * HOUR_MS)
        shares = [1.0, 0.85, 0.55, 0.35, 0.2]
        drops = {self.loggers[d][int(j)]: drop_mpa * shares[min(r, len(shares) - 1)] for r, j in enumerate(order)}
        for sensor, drop in drops.items():
            ringing = 0.1 if drop >= drop_mpa else 0.0
            b.add_effect(Step(sensor, at_ms, end, -drop, ramp_ms=60_000, ringing=ringing))
        surge = surge_fraction * float(self.mean_flow_m3h[d])
        b.add_effect(Step(self.inlet[d], at_ms, end, surge, ramp_ms=120_000))
        strong = sum(drop >= 0.1 for drop in drops.values())
        if strong >= 2 and surge_fraction >= 0.2:
            tier = "1"
        elif max(drops.values()) >= 0.05:
            tier = "2"
        else:
            tier = "3"
        seen = [s for s, drop in drops.items() if drop >= 0.03]
        row = GroundTruthRow(
            id="", label="incident", kind=AlertKind.PIPE_BURST.value, expected_tier=tier, lifeline=Lifeline.WATER.value,
            asset_id=b.sensor(seen[0]).asset_id, group_id=self.dma_ids[d],
            sensor_ids=(b.sensor(self.inlet[d]).sensor_id, *(b.sensor(s).sensor_id for s in seen)),
            start_ms=at_ms, end_ms=min(end, b.end_ms),
            detail=f"burst: drop {drop_mpa:.3f} MPa at nearest logger, {strong} logger(s) ≥0.1 MPa, "
            f"inlet +{surge_fraction:.0%} for {hours:.1f} h",
        )  # fmt: skip
        b.add_truth(lambda _engine: row)

    def inject_background_leak(self, onset_ms: int, noise_rise_db: float, mnf_growth_per_day: float) -> None:
        """A background leak: inlet night flow steps up by 10 % of MNF and creeps; nearest noise logger rises."""
        b = self.b
        d = int(b.rng.integers(len(self.dma_ids)))
        mnf = self.minimum_night_flow(d)
        far = b.end_ms + 30 * 86_400_000
        b.add_effect(Step(self.inlet[d], onset_ms, far, 0.10 * mnf, ramp_ms=2 * HOUR_MS))
        b.add_effect(LinearRamp(self.inlet[d], onset_ms, far, mnf * mnf_growth_per_day / 24.0))
        _distance, order = self._nearest(self.noise_xy[d])
        noise_sensors = [self.noise[d][int(order[0])]]
        b.add_effect(Step(noise_sensors[0], onset_ms, far, noise_rise_db, ramp_ms=6 * HOUR_MS))
        if len(order) > 1:
            noise_sensors.append(self.noise[d][int(order[1])])
            b.add_effect(Step(noise_sensors[1], onset_ms, far, noise_rise_db / 2, ramp_ms=6 * HOUR_MS))
        nights = _flag_nights(max(onset_ms + 6 * HOUR_MS, b.start_ms), b.end_ms)
        row = GroundTruthRow(
            id="", label="incident", kind=AlertKind.BACKGROUND_LEAK.value, expected_tier="2" if nights >= 2 else "3",
            lifeline=Lifeline.WATER.value, asset_id=b.sensor(noise_sensors[0]).asset_id, group_id=self.dma_ids[d],
            sensor_ids=(b.sensor(self.inlet[d]).sensor_id, *(b.sensor(s).sensor_id for s in noise_sensors)),
            start_ms=max(onset_ms, b.start_ms), end_ms=b.end_ms,
            detail=f"background leak: MNF +10 % then +{mnf_growth_per_day:.0%}/day, noise +{noise_rise_db:.0f} dB, "
            f"{nights} night(s) with the noise flag",
        )  # fmt: skip
        b.add_truth(lambda _engine: row)

    def minimum_night_flow(self, dma: int) -> float:
        """The DMA's noise-free minimum night flow (m³/h)."""
        hours = np.arange(0, 24 * 60, 5, dtype=np.int64) * 60_000
        return float(self.mean_flow_m3h[dma] * water_demand_factor(hours).min())

    def inject_hydrant_use(self, at_ms: int, minutes: float) -> None:
        """Look-alike: a fire hydrant is opened; short flow spike and a small local pressure dip."""
        b = self.b
        d = int(b.rng.integers(len(self.dma_ids)))
        end = at_ms + int(minutes * 60_000)
        _distance, order = self._nearest(self.logger_xy[d])
        logger = self.loggers[d][int(order[0])]
        b.add_effect(
            Trapezoid(self.inlet[d], at_ms, end, b.rng.uniform(0.08, 0.15) * float(self.mean_flow_m3h[d]), 120_000)
        )
        b.add_effect(Trapezoid(logger, at_ms, end, -b.rng.uniform(0.015, 0.03), 120_000))
        self._lookalike(d, [self.inlet[d], logger], at_ms, end, f"fire-hydrant use for {minutes:.0f} min")

    def inject_pump_switching(self, at_ms: int, hours: float) -> None:
        """Look-alike: a booster pump switches; pressure steps at every logger of a DMA, flow unchanged."""
        b = self.b
        d = int(b.rng.integers(len(self.dma_ids)))
        end = at_ms + int(hours * HOUR_MS)
        delta = float(b.rng.choice([-1.0, 1.0]) * b.rng.uniform(0.025, 0.04))
        for sensor in self.loggers[d]:
            b.add_effect(Step(sensor, at_ms, end, delta, ramp_ms=30_000))
        self._lookalike(
            d, self.loggers[d], at_ms, end, f"pump switching: {delta:+.3f} MPa at all loggers, flow unchanged"
        )

    def _lookalike(self, d: int, sensors: list[int], start: int, end: int, detail: str) -> None:
        b = self.b
        row = GroundTruthRow(
            id="", label="lookalike", kind=AlertKind.PIPE_BURST.value, expected_tier="none",
            lifeline=Lifeline.WATER.value, asset_id=b.sensor(sensors[-1]).asset_id, group_id=self.dma_ids[d],
            sensor_ids=tuple(b.sensor(s).sensor_id for s in sensors), start_ms=start, end_ms=min(end, b.end_ms),
            detail=detail,
        )  # fmt: skip
        b.add_truth(lambda _engine: row)


def _flag_nights(start_ms: int, end_ms: int) -> int:
    """How many 02:00–04:00 local analysis windows lie completely inside ``[start_ms, end_ms)``."""
    if end_ms <= start_ms:
        return 0
    hours = np.arange(start_ms, end_ms, 60_000, dtype=np.int64)
    h = local_hour(hours)
    in_window = (h >= 2.0) & (h < 4.0)
    starts = np.flatnonzero(in_window[1:] & ~in_window[:-1]) + 1
    return int(sum(1 for s in starts if s + 119 < in_window.size and in_window[s : s + 120].all()))
