"""Bridges: strain, deflection, acceleration, crack width, bearing displacement and structure temperature.

Channels report 10-minute aggregates by default (docs/domain.md#bridge-behaviour): a thermal part following structure
temperature (which lags air by ~2 h), a live-load part following heavy traffic (rush hours), noise.
Optional high-rate accelerometers (50 Hz) send batches with truck pulses ringing at the first mode.
Injected: overload (a truck queue: a 20–60 min plateau on strain and deflection) and bearing jam
(one bearing stops following temperature, its partner opens a gap), both with tiers from the
live-load ratio and the temperature-regression residual.
"""

from __future__ import annotations

import numpy as np

from lifeline.models import AlertKind, Lifeline, SensorKind
from lifeline.simulators.city import Asset, Builder
from lifeline.simulators.effects import Freeze, Step, Trapezoid
from lifeline.simulators.engine import Engine, Floats, Ints, Rows
from lifeline.simulators.groundtruth import GroundTruthRow, tier_from_peak
from lifeline.simulators.profiles import lagged_temperature_c, seasonal_mean_c, traffic_factor
from lifeline.simulators.timebase import HOUR_MS

__all__ = ["BridgeNetwork"]

OWNERS = ("hefei-bridges", "baohe-municipal")
#: Channels of one channel set: (suffix, kind, count).
CHANNEL_SET = (
    ("STR", SensorKind.STRAIN, 6), ("DEF", SensorKind.DEFLECTION, 2), ("ACC", SensorKind.ACCELERATION, 2),
    ("CRK", SensorKind.CRACK_WIDTH, 2), ("BRG", SensorKind.BEARING_DISPLACEMENT, 2),
    ("TMP", SensorKind.STRUCTURE_TEMPERATURE, 2),
)  # fmt: skip
RATIO_STEPS = {"t3": 0.7, "t2": 0.85, "t1": 1.0}
RESIDUAL_STEPS_MM = {"t3": 1.0, "t2": 2.0, "t1": 3.5}


def structure_temperature_c(ts_ms: Ints) -> Floats:
    """Deck temperature: air temperature lagged 2 h, nearly full amplitude, warmed by the sun."""
    return lagged_temperature_c(ts_ms, 2.0, 0.9, 1.5)


class BridgeNetwork:
    """Bridges (one group and one asset each) with their channels."""

    def __init__(self, b: Builder) -> None:
        self.b = b
        plan, rng = b.plan, b.rng
        self.bridge_ids = [f"BR-{i + 1:03d}" for i in range(plan.bridges)]
        self.channels: dict[SensorKind, list[int]] = {kind: [] for _, kind, _ in CHANNEL_SET}
        self.channel_bridge: dict[SensorKind, list[int]] = {kind: [] for _, kind, _ in CHANNEL_SET}
        self.high_rate: list[int] = []
        self.span_m = rng.uniform(30.0, 60.0, plan.bridges)
        self.design_live_ue = rng.uniform(80.0, 150.0, plan.bridges)
        self.reference_c = float(seasonal_mean_c(np.array([b.start_ms]))[0]) - 8.0  # installation temperature
        for i, bridge in enumerate(self.bridge_ids):
            asset = Asset(bridge, "bridge", OWNERS[i % len(OWNERS)], bridge, b.place())
            limit_mm = round(float(self.span_m[i]) * 1000 / 600, 1)
            for n_set in range(plan.channel_sets_per_bridge):
                for suffix, kind, count in CHANNEL_SET:
                    for c in range(count):
                        number = n_set * count + c + 1
                        design, thresholds = self._limits(kind, i, limit_mm)
                        sensor = b.add(asset, f"{suffix}{number:02d}", kind, design_value=design, thresholds=thresholds)
                        self.channels[kind].append(sensor)
                        self.channel_bridge[kind].append(i)
            for c in range(plan.high_rate_channels_per_bridge):
                self.high_rate.append(b.add(
                    asset, f"ACCHR{c + 1:02d}", SensorKind.ACCELERATION, interval_s=1.0 / plan.high_rate_hz,
                    thresholds={"t2": 0.5},
                ))  # fmt: skip
        self.idx = {kind: np.array(self.channel_bridge[kind], dtype=np.int64) for kind in self.channels}
        n_str, n_def = len(self.channels[SensorKind.STRAIN]), len(self.channels[SensorKind.DEFLECTION])
        self.strain_alpha = rng.uniform(4.0, 10.0, n_str)  # µε per °C
        self.strain_live = self.design_live_ue[self.idx[SensorKind.STRAIN]] * rng.uniform(0.08, 0.2, n_str)
        self.deflection_beta = rng.uniform(0.3, 0.8, n_def)  # mm per °C
        self.deflection_live = (
            self.span_m[self.idx[SensorKind.DEFLECTION]] / 600 * 1000 * rng.uniform(0.05, 0.15, n_def)
        )
        self.crack_zero = rng.uniform(0.06, 0.14, len(self.channels[SensorKind.CRACK_WIDTH]))
        n_brg = len(self.channels[SensorKind.BEARING_DISPLACEMENT])
        self.bearing_gamma = rng.uniform(1.2, 2.0, n_brg)
        self.bearing_zero = rng.uniform(-5.0, 5.0, n_brg)
        self.modal_hz = 90.0 / self.span_m
        add = b.add_block
        add("bridge.strain", self.channels[SensorKind.STRAIN], SensorKind.STRAIN, self.strain_values, 2)
        add("bridge.deflection", self.channels[SensorKind.DEFLECTION], SensorKind.DEFLECTION, self.deflection_values, 3)
        add("bridge.acceleration", self.channels[SensorKind.ACCELERATION], SensorKind.ACCELERATION, self.rms_values, 4)
        add("bridge.crack", self.channels[SensorKind.CRACK_WIDTH], SensorKind.CRACK_WIDTH, self.crack_values, 4)
        add("bridge.bearing", self.channels[SensorKind.BEARING_DISPLACEMENT], SensorKind.BEARING_DISPLACEMENT,
            self.bearing_values, 2)  # fmt: skip
        add("bridge.temperature", self.channels[SensorKind.STRUCTURE_TEMPERATURE], SensorKind.STRUCTURE_TEMPERATURE,
            self.temperature_values, 2)  # fmt: skip
        self.hr_bridge = np.repeat(np.arange(plan.bridges), plan.high_rate_channels_per_bridge)
        b.add_high_rate_block(
            "bridge.acceleration_raw", self.high_rate, plan.high_rate_hz, self.raw_acceleration, plan.high_rate_batch_s
        )

    def _limits(self, kind: SensorKind, bridge: int, limit_mm: float) -> tuple[float | None, dict[str, float]]:
        """Design value and tier thresholds of a channel."""
        if kind is SensorKind.STRAIN:
            return round(float(self.design_live_ue[bridge]), 1), dict(RATIO_STEPS)
        if kind is SensorKind.DEFLECTION:
            return limit_mm, dict(RATIO_STEPS)
        if kind is SensorKind.ACCELERATION:
            return None, {"t2": 0.5}
        if kind is SensorKind.CRACK_WIDTH:
            return 0.2, {"t3": 0.16, "t2": 0.2, "t1": 0.3, "growth_mm_day": 0.01}
        if kind is SensorKind.BEARING_DISPLACEMENT:
            return 40.0, {f"residual_{k}_mm": v for k, v in RESIDUAL_STEPS_MM.items()}
        return None, {}

    # ----------------------------------------------------------------- normal behaviour

    def _thermal(self, ts_ms: Ints) -> Floats:
        return structure_temperature_c(ts_ms) - self.reference_c

    def strain_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """10-min mean strain (µε): thermal part plus the mean live load of passing traffic."""
        values = self.strain_alpha[rows, None] * self._thermal(ts_ms) + self.strain_live[rows, None] * traffic_factor(
            ts_ms
        )
        return values if rng is None else values + rng.normal(0.0, 2.0, values.shape)

    def deflection_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """10-min mean mid-span deflection (mm, downward positive): thermal camber plus live load."""
        values = -self.deflection_beta[rows, None] * self._thermal(ts_ms) + self.deflection_live[
            rows, None
        ] * traffic_factor(ts_ms)
        return values if rng is None else values + rng.normal(0.0, 0.1, values.shape)

    def rms_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """10-min RMS deck acceleration (m/s²), following traffic."""
        values = 0.01 + 0.08 * traffic_factor(ts_ms) + 0.0 * rows[:, None]
        return values if rng is None else values * np.clip(1 + rng.normal(0.0, 0.15, values.shape), 0.3, None)

    def crack_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Crack width (mm): opens when the deck is cold, closes when warm."""
        values = self.crack_zero[rows, None] - 0.003 * self._thermal(ts_ms)
        return values if rng is None else values + rng.normal(0.0, 0.002, values.shape)

    def bearing_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Bearing / joint displacement (mm), mirroring structure temperature."""
        values = self.bearing_zero[rows, None] + self.bearing_gamma[rows, None] * self._thermal(ts_ms)
        return values if rng is None else values + rng.normal(0.0, 0.15, values.shape)

    def temperature_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Structure temperature (°C)."""
        values = structure_temperature_c(ts_ms) + 0.0 * rows[:, None]
        return values if rng is None else values + rng.normal(0.0, 0.1, values.shape)

    def raw_acceleration(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """50 Hz deck acceleration (m/s²): sensor noise plus Poisson truck pulses ringing at the first mode.

        Vectorised over channels: truck arrivals are drawn per channel as a Poisson count placed by the
        traffic intensity, and each pulse adds its damped-sine kernel (6 s) in one ``bincount``.
        """
        values = np.zeros(ts_ms.shape)
        if rng is None or ts_ms.shape[1] < 2:
            return values
        n_rows, n = ts_ms.shape
        dt_s = (ts_ms[0, 1] - ts_ms[0, 0]) / 1000.0
        rate = 0.08 * traffic_factor(ts_ms[0]) * dt_s  # trucks per sample (all channels share one phase)
        cumulative = np.cumsum(rate)
        counts = rng.poisson(cumulative[-1], n_rows)
        owner = np.repeat(np.arange(n_rows), counts)
        at = np.minimum(np.searchsorted(cumulative, rng.random(owner.size) * cumulative[-1]), n - 1)
        amplitude = rng.uniform(0.05, 0.3, owner.size)
        kernel_t = np.arange(0.0, 6.0, dt_s)
        f = self.modal_hz[self.hr_bridge[rows]]
        kernels = np.sin(2 * np.pi * f[:, None] * kernel_t[None, :]) * np.exp(-kernel_t / 1.5)[None, :]
        k = np.arange(kernel_t.size)
        pos = at[:, None] + k[None, :]
        inside = pos < n
        flat = (owner[:, None] * n + pos)[inside]
        contribution = (amplitude[:, None] * kernels[owner])[inside]
        values += np.bincount(flat, weights=contribution, minlength=n_rows * n).reshape(n_rows, n)
        return values + rng.normal(0.0, 0.005, values.shape)

    # ----------------------------------------------------------------- injections

    def inject_overload(self, at_ms: int, minutes: float, load_ratio: float) -> None:
        """Trucks queue on a span: strain and deflection plateau at ``load_ratio`` × design live load (minus
        the normal traffic part), for ``minutes``, with 5-minute ramps."""
        b = self.b
        i = int(b.rng.integers(len(self.bridge_ids)))
        end = at_ms + int(minutes * 60_000)
        strain_rows = np.flatnonzero(self.idx[SensorKind.STRAIN] == i)
        share = b.rng.uniform(0.7, 1.0, strain_rows.size)
        share[int(b.rng.integers(strain_rows.size))] = 1.0
        sensors: list[int] = []
        for row, s in zip(strain_rows.tolist(), share.tolist(), strict=True):
            sensor = self.channels[SensorKind.STRAIN][row]
            b.add_effect(Trapezoid(sensor, at_ms, end, load_ratio * s * float(self.design_live_ue[i]), 5 * 60_000))
            sensors.append(sensor)
        limit = float(self.span_m[i]) / 600 * 1000
        for row in np.flatnonzero(self.idx[SensorKind.DEFLECTION] == i).tolist():
            sensor = self.channels[SensorKind.DEFLECTION][row]
            b.add_effect(Trapezoid(sensor, at_ms, end, load_ratio * 0.9 * limit, 5 * 60_000))
            sensors.append(sensor)
        design = float(self.design_live_ue[i])

        def truth(engine: Engine) -> GroundTruthRow:
            ratio = 0.0
            for row in strain_rows.tolist():
                sensor = self.channels[SensorKind.STRAIN][row]
                times = engine.sample_times(sensor)
                if times.size == 0:  # a scenario shorter than the sampling interval
                    continue
                live = engine.evaluate(sensor, times) - self.strain_alpha[row] * self._thermal(times)
                ratio = max(ratio, float(live.max()) / design)
            return GroundTruthRow(
                id="", label="incident", kind=AlertKind.BRIDGE_OVERLOAD.value,
                expected_tier=tier_from_peak(ratio, **RATIO_STEPS), lifeline=Lifeline.BRIDGE.value,
                asset_id=self.bridge_ids[i], group_id=self.bridge_ids[i],
                sensor_ids=tuple(b.sensor(s).sensor_id for s in sensors), start_ms=at_ms, end_ms=min(end, b.end_ms),
                detail=f"truck queue for {minutes:.0f} min: live-load strain up to {ratio:.2f} × design",
            )  # fmt: skip

        b.add_truth(truth)

    def inject_bearing_jam(self, at_ms: int, gap_mm: float = 6.0) -> None:
        """A bearing jams (stops following temperature, small noise remains); its partner opens ``gap_mm``."""
        b = self.b
        i = int(b.rng.integers(len(self.bridge_ids)))
        rows = np.flatnonzero(self.idx[SensorKind.BEARING_DISPLACEMENT] == i).tolist()
        jammed = self.channels[SensorKind.BEARING_DISPLACEMENT][rows[0]]
        b.add_effect(Freeze(jammed, at_ms, b.end_ms + 86_400_000, noise_sd=0.15))
        sensors = [jammed]
        if len(rows) > 1:
            partner = self.channels[SensorKind.BEARING_DISPLACEMENT][rows[1]]
            b.add_effect(Step(partner, at_ms, b.end_ms + 86_400_000, gap_mm, ramp_ms=3 * HOUR_MS))
            sensors.append(partner)

        def truth(engine: Engine) -> GroundTruthRow:
            residual = 0.0
            for sensor, row in zip(sensors, rows, strict=False):
                times = engine.sample_times(sensor)
                normal = self.bearing_values(np.array([row], dtype=np.intp), times[None, :], None)[0]
                residual = max(residual, float(np.abs(engine.evaluate(sensor, times) - normal).max()))
            return GroundTruthRow(
                id="", label="incident", kind=AlertKind.STRUCTURAL_ANOMALY.value,
                expected_tier=tier_from_peak(residual, **RESIDUAL_STEPS_MM), lifeline=Lifeline.BRIDGE.value,
                asset_id=self.bridge_ids[i], group_id=self.bridge_ids[i],
                sensor_ids=tuple(b.sensor(s).sensor_id for s in sensors), start_ms=at_ms, end_ms=b.end_ms,
                detail=f"bearing jam: {b.sensor(jammed).sensor_id} stops following temperature, partner gap "
                f"{gap_mm:.0f} mm; residual up to {residual:.1f} mm",
            )  # fmt: skip

        b.add_truth(truth)
