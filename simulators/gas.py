"""Gas network: combustible-gas monitors in wells beside gas mains, and regulator stations.

Normal behaviour (docs/domain.md#gas-behaviour): CH4 0–2 %LEL in most wells; sewer wells hold biogas that follows
well temperature (which lags air temperature by ~3 h); regulator pressure dips a few % at the cooking
peaks that drive station flow; key mains (``CityPlan.main_pressure_every``) carry a pressure logger too.
Injected: gas leaks (delayed, slow, fluctuating rise that spreads to linked wells on the same main),
ruptures (a sudden pressure drop with a station flow surge, or with gas flooding a well beside the main),
a creeping and a hunting regulator, strong-biogas wells and covers opened for maintenance (look-alikes).
"""

from __future__ import annotations

import numpy as np

from lifeline.models import AlertKind, Lifeline, SensorKind
from lifeline.simulators.city import Asset, Builder, Place
from lifeline.simulators.effects import LinearRamp, Oscillation, Replace, ScaleDown, SigmoidRise, Step
from lifeline.simulators.engine import Engine, Floats, Ints, Rows
from lifeline.simulators.groundtruth import GroundTruthRow, tier_from_peak
from lifeline.simulators.profiles import gas_demand_factor, lagged_temperature_c
from lifeline.simulators.timebase import HOUR_MS

__all__ = ["CH4_THRESHOLDS", "GasNetwork"]

GAS_OWNERS = ("hefei-gas", "zhongran-gas")
WELL_KINDS = ("gas_valve_well", "telecom_well", "power_well", "sewer_well", "storm_well")
WELL_KIND_SHARE = (0.25, 0.2, 0.15, 0.3, 0.1)
CH4_THRESHOLDS = {"t3": 10.0, "t2": 25.0, "t1": 50.0}
WELL_LAG_H = 3.0
WELL_DAMPING = 0.35
BIOGAS_PER_DEGC = 0.12


class GasNetwork:
    """The gas lifeline of the city: wells along main segments (one group per main) and regulators."""

    def __init__(self, b: Builder) -> None:
        self.b = b
        plan, rng = b.plan, b.rng
        well_rows: list[tuple[int, int, int, float, float, str]] = []  # main, ch4, temp, pos, lateral, kind
        self.tilt_of_well: dict[int, int] = {}
        self.well_ids: list[str] = []
        self.main_ids: list[str] = []
        self.main_places: list[Place] = []
        self.main_owners: list[str] = []
        for m in range(plan.gas_mains):
            group = f"GM-{m + 1:04d}"
            place, owner = b.place(), GAS_OWNERS[int(rng.integers(len(GAS_OWNERS)))]
            angle = rng.uniform(0, np.pi)
            spacing = rng.uniform(15.0, 40.0)
            self.main_ids.append(group)
            self.main_places.append(place)
            self.main_owners.append(owner)
            for j in range(plan.wells_per_main):
                well = len(self.well_ids)
                asset = f"GW-{well + 1:06d}"
                pos = j * spacing + rng.uniform(-4.0, 4.0)
                lateral = rng.uniform(1.5, 6.0)
                kind = WELL_KINDS[int(rng.choice(len(WELL_KINDS), p=WELL_KIND_SHARE))]
                at = place.offset(pos * np.cos(angle) - lateral * np.sin(angle), pos * np.sin(angle) + lateral)
                info = Asset(asset, kind, owner, group, at)
                thresholds = dict(CH4_THRESHOLDS)
                if kind == "sewer_well":
                    thresholds["biogas_history"] = 1.0
                ch4 = b.add(info, "CH4", SensorKind.CH4_LEL, thresholds=thresholds)
                temp = b.add(info, "TEMP", SensorKind.WELL_TEMPERATURE)
                if plan.tilt_every > 0 and well % plan.tilt_every == 0:
                    self.tilt_of_well[well] = b.add(
                        info, "TILT", SensorKind.COVER_TILT, thresholds={"t3": 10.0, "t1": 90.0}
                    )
                self.well_ids.append(asset)
                well_rows.append((m, ch4, temp, pos, lateral, kind))
        n = len(well_rows)
        self.well_main = np.array([r[0] for r in well_rows], dtype=np.int64)
        self.ch4 = np.array([r[1] for r in well_rows], dtype=np.int64)
        self.temp = np.array([r[2] for r in well_rows], dtype=np.int64)
        self.well_pos = np.array([r[3] for r in well_rows])
        self.well_lateral = np.array([r[4] for r in well_rows])
        self.well_kind = [r[5] for r in well_rows]
        sewer = np.array([k == "sewer_well" for k in self.well_kind], dtype=bool)
        self.base_lel = rng.uniform(0.0, 1.5, n)
        self.biogas_lel = np.where(sewer, rng.gamma(2.0, 1.0, n), 0.0)
        self.ground_offset_c = rng.uniform(-4.0, -1.0, n)
        tilts = sorted(self.tilt_of_well.items())
        self.tilt_sensors = [s for _, s in tilts]
        self.tilt_zero_deg = rng.uniform(0.2, 2.5, len(tilts))
        self._regulators(b)
        self._main_pressure(b)
        b.add_block("gas.ch4", self.ch4, SensorKind.CH4_LEL, self.ch4_values, decimals=2)
        b.add_block("gas.well_temperature", self.temp, SensorKind.WELL_TEMPERATURE, self.temperature_values, 2)
        b.add_block("gas.cover_tilt", self.tilt_sensors, SensorKind.COVER_TILT, self.tilt_values, 2)
        b.add_block("gas.pressure", self.pressure_sensors, SensorKind.GAS_PRESSURE, self.pressure_values, 4)
        b.add_block("gas.flow", self.reg_flow, SensorKind.GAS_FLOW, self.flow_values, 1)

    def _regulators(self, b: Builder) -> None:
        pressure: list[int] = []
        flow: list[int] = []
        rng = b.rng
        n = b.plan.regulators
        self.set_point_mpa = rng.choice([0.15, 0.3, 0.4], n)
        self.mean_flow_nm3h = rng.uniform(300.0, 4000.0, n)
        for r in range(n):
            asset = f"GR-{r + 1:04d}"
            info = Asset(asset, "regulator_station", GAS_OWNERS[r % len(GAS_OWNERS)], asset, b.place())
            pressure.append(b.add(
                info, "P", SensorKind.GAS_PRESSURE, design_value=float(self.set_point_mpa[r]),
                thresholds={"dev_t3": 0.1, "dev_t2": 0.2, "drop_t1": 0.3},
            ))  # fmt: skip
            flow.append(b.add(info, "Q", SensorKind.GAS_FLOW, design_value=round(float(self.mean_flow_nm3h[r]), 1)))
        self.reg_pressure = np.array(pressure, dtype=np.int64)
        self.reg_flow = np.array(flow, dtype=np.int64)

    def _main_pressure(self, b: Builder) -> None:
        """Pressure loggers on every ``main_pressure_every``-th main, in the main's group (with its wells)."""
        every = b.plan.main_pressure_every
        self.main_pressure: dict[int, int] = {}
        set_points: list[float] = []
        for m in range(0, len(self.main_ids), every) if every > 0 else ():
            info = Asset(f"GP-{m + 1:04d}", "gas_main", self.main_owners[m], self.main_ids[m], self.main_places[m])
            set_points.append(float(b.rng.choice([0.2, 0.3, 0.4])))
            self.main_pressure[m] = b.add(
                info, "P", SensorKind.GAS_PRESSURE, design_value=set_points[-1],
                thresholds={"dev_t3": 0.1, "dev_t2": 0.2, "drop_t1": 0.3},
            )  # fmt: skip
        #: every pressure sensor (regulators first, then mains) and its set point, by row of the value block
        mains = np.array(list(self.main_pressure.values()), dtype=np.int64)
        self.pressure_sensors = np.concatenate([self.reg_pressure, mains])
        self.pressure_set_point_mpa = np.concatenate([self.set_point_mpa, np.array(set_points)])

    # ----------------------------------------------------------------- normal behaviour

    def well_temperature(self, rows: Rows, ts_ms: Ints) -> Floats:
        """In-well temperature: air temperature lagged ~3 h and damped, a little below ground level."""
        return lagged_temperature_c(ts_ms, WELL_LAG_H, WELL_DAMPING, self.ground_offset_c[rows, None])

    def temperature_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Well temperature readings."""
        values = self.well_temperature(rows, ts_ms)
        return values if rng is None else values + rng.normal(0.0, 0.1, values.shape)

    def ch4_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """CH4 %LEL: a small background plus biogas that rises with well temperature (sewer wells)."""
        temperature = self.well_temperature(rows, ts_ms)
        biogas = self.biogas_lel[rows, None] * np.clip(1 + BIOGAS_PER_DEGC * (temperature - 25.0), 0.0, None)
        values = self.base_lel[rows, None] + biogas
        if rng is not None:
            values = values + rng.standard_normal(values.shape) * (0.15 + 0.04 * values)
        clipped: Floats = np.clip(values, 0.0, 100.0)
        return clipped

    def tilt_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Cover tilt: a fixed seating angle with a little jitter."""
        values = np.broadcast_to(self.tilt_zero_deg[rows, None], ts_ms.shape).astype(np.float64)
        return values if rng is None else np.abs(values + rng.normal(0.0, 0.05, values.shape))

    def pressure_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Regulator outlet or main pressure: set point, a few % lower at the demand peaks."""
        set_point = self.pressure_set_point_mpa[rows, None]
        values = set_point * (1.02 - 0.04 * gas_demand_factor(ts_ms) / 1.3)
        return values if rng is None else values + rng.normal(0.0, 1.0, values.shape) * 0.002 * set_point

    def flow_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Station flow following the cooking peaks."""
        values = self.mean_flow_nm3h[rows, None] * gas_demand_factor(ts_ms) / 0.75
        return values if rng is None else values * (1 + rng.normal(0.0, 0.03, values.shape))

    # ----------------------------------------------------------------- injections

    def inject_leak(self, visible_at_ms: int, plateau_lel: float, repair_ms: int | None = None) -> None:
        """A leak beside a random main: the nearest well rises first, linked wells later and lower.

        ``visible_at_ms`` is when the nearest well reaches half of ``plateau_lel``; the onset is earlier
        by that well's migration delay (0.5–12 h for 5–30 m) and half its rise time.
        """
        b, rng = self.b, self.b.rng
        main = int(rng.integers(len(self.main_ids)))
        wells = np.flatnonzero(self.well_main == main)
        source = int(rng.choice(wells))
        leak_pos = self.well_pos[source] + rng.choice([-1.0, 1.0]) * rng.uniform(5.0, 12.0)
        distance = np.hypot(self.well_pos[wells] - leak_pos, self.well_lateral[wells])
        delay_h = np.where(
            distance <= 30, 0.5 + 11.5 * np.clip((distance - 5) / 25, 0, 1) ** 2, 12 + 0.2 * (distance - 30)
        )
        rise_h = 1.0 + distance / 15.0
        nearest = int(np.argmin(distance))
        onset = visible_at_ms - int((delay_h[nearest] + rise_h[nearest] / 2) * 3_600_000)
        end = repair_ms if repair_ms is not None else b.end_ms + 86_400_000
        plateaus = plateau_lel * np.exp(-(distance - distance[nearest]) / 20.0)
        touched: list[int] = []
        for i in np.flatnonzero(plateaus >= 2.0):
            well = int(wells[i])
            start = onset + int(delay_h[i] * 3_600_000)
            b.add_effect(
                SigmoidRise(int(self.ch4[well]), start, end, float(plateaus[i]), int(rise_h[i] * 3_600_000), 0.3)
            )
            touched.append(well)
        source_well = int(wells[nearest])
        detail = f"leak {distance[nearest]:.0f} m from {self.well_ids[source_well]}, plateau {plateau_lel:.0f} %LEL"

        def truth(engine: Engine) -> GroundTruthRow:
            peaks = {w: float(engine.evaluate(int(self.ch4[w]), engine.sample_times(int(self.ch4[w]))).max(initial=0.0))
                     for w in touched}  # fmt: skip
            tier = max((tier_from_peak(p, **CH4_THRESHOLDS) for p in peaks.values()), key=_severity)
            if any(p >= 25 and self.well_kind[w] == "gas_valve_well" for w, p in peaks.items()):
                tier = "1"
            over_10 = sum(p >= 10 for p in peaks.values())
            tier = "1" if over_10 >= 3 else ("2" if over_10 >= 2 and _severity(tier) < 2 else tier)
            shown = [w for w, p in peaks.items() if p >= 5.0] or [source_well]
            return GroundTruthRow(
                id="", label="incident", kind=AlertKind.GAS_LEAK.value, expected_tier=tier,
                lifeline=Lifeline.GAS.value, asset_id=self.well_ids[source_well], group_id=self.main_ids[main],
                sensor_ids=tuple(f"{self.well_ids[w]}-CH4" for w in shown), start_ms=max(onset, b.start_ms),
                end_ms=min(end, b.end_ms), detail=f"{detail}; {over_10} well(s) ≥10 %LEL",
            )  # fmt: skip

        b.add_truth(truth)

    def inject_station_rupture(self, at_ms: int, regulator: int, drop: float, surge: float, hours: float) -> None:
        """A main ruptured downstream of a regulator station (third-party damage): within a minute the outlet
        pressure drops by ``drop`` of its set point and the station flow rises by ``surge`` × its mean flow, until
        the section is isolated after ``hours``. Expected T1: a sudden drop together with a flow surge."""
        b = self.b
        end = at_ms + int(hours * HOUR_MS)
        pressure, flow = int(self.reg_pressure[regulator]), int(self.reg_flow[regulator])
        b.add_effect(Step(pressure, at_ms, end, -drop * float(self.set_point_mpa[regulator]), ramp_ms=60_000))
        b.add_effect(Step(flow, at_ms, end, surge * float(self.mean_flow_nm3h[regulator]), ramp_ms=60_000))
        asset = b.sensor(pressure).asset_id
        row = GroundTruthRow(
            id="", label="incident", kind=AlertKind.GAS_PRESSURE_ANOMALY.value, expected_tier="1",
            lifeline=Lifeline.GAS.value, asset_id=asset, group_id=b.sensor(pressure).group_id,
            sensor_ids=(b.sensor(pressure).sensor_id, b.sensor(flow).sensor_id), start_ms=at_ms, end_ms=end,
            detail=f"rupture downstream of {asset}: outlet pressure -{drop:.0%} of set point, station flow "
            f"+{surge:.0%} of its mean, isolated after {hours:g} h",
        )  # fmt: skip
        b.add_truth(lambda _engine: row)

    def inject_main_rupture(self, at_ms: int, drop: float, plateau_lel: float, hours: float) -> None:
        """Third-party damage on a key main with a pressure logger: its pressure drops by ``drop`` of the set
        point, and gas floods the well beside the break (a telecom or power well: neither biogas-prone nor a
        valve well) to ``plateau_lel`` within about 10 min, until the section is isolated after ``hours``.

        Ground truth: the pressure anomaly at T1 (a sudden drop with methane in a non-biogas well of the group)
        and the methane as a gas leak, at T1 too once it reaches the 10 %LEL T3 level: gas from a ruptured main
        in a well beside it is an imminent hazard, whatever its level.
        """
        b, rng = self.b, self.b.rng
        choices = [(m, w) for m in self.main_pressure for w in np.flatnonzero(self.well_main == m).tolist()
                   if self.well_kind[w] in ("telecom_well", "power_well")]  # fmt: skip
        main, well = choices[int(rng.integers(len(choices)))]
        end = at_ms + int(hours * HOUR_MS)
        pressure = self.main_pressure[main]
        set_point = float(self.pressure_set_point_mpa[int(np.flatnonzero(self.pressure_sensors == pressure)[0])])
        b.add_effect(Step(pressure, at_ms, end, -drop * set_point, ramp_ms=60_000))
        ch4 = int(self.ch4[well])
        b.add_effect(SigmoidRise(ch4, at_ms + 120_000, end, plateau_lel, 10 * 60_000, 0.3))
        spec = b.sensor(pressure)
        rupture = GroundTruthRow(
            id="", label="incident", kind=AlertKind.GAS_PRESSURE_ANOMALY.value, expected_tier="1",
            lifeline=Lifeline.GAS.value, asset_id=spec.asset_id, group_id=spec.group_id,
            sensor_ids=(spec.sensor_id, b.sensor(ch4).sensor_id), start_ms=at_ms, end_ms=end,
            detail=f"rupture of main {spec.group_id}: pressure -{drop:.0%} of set point, gas in "
            f"{self.well_ids[well]} ({self.well_kind[well]}) up to {plateau_lel:g} %LEL, isolated after {hours:g} h",
        )  # fmt: skip
        b.add_truth(lambda _engine: rupture)

        def leak(engine: Engine) -> GroundTruthRow:
            peak = float(engine.evaluate(ch4, engine.sample_times(ch4)).max(initial=0.0))
            return GroundTruthRow(
                id="", label="incident", kind=AlertKind.GAS_LEAK.value,
                expected_tier="1" if peak >= CH4_THRESHOLDS["t3"] else "none", lifeline=Lifeline.GAS.value,
                asset_id=self.well_ids[well], group_id=spec.group_id, sensor_ids=(b.sensor(ch4).sensor_id,),
                start_ms=at_ms, end_ms=end, detail=f"gas from the ruptured main {spec.group_id}, peak {peak:.0f} %LEL",
            )  # fmt: skip

        b.add_truth(leak)

    def inject_regulator_creep(
        self, start_ms: int, regulator: int, rate_per_h: float, hours: float, hold_h: float
    ) -> None:
        """A regulator whose outlet pressure creeps up (a tired pilot spring or diaphragm): ``rate_per_h`` of the
        set point per hour for ``hours``, held for ``hold_h``, then reset by a technician within 30 min.
        Expected tier: as the set-point rule grades the noise-free peak (> 20 % for 15 min → 2, else 3: the
        time-of-day profile sees it first)."""
        b = self.b
        sensor = int(self.reg_pressure[regulator])
        set_point = float(self.set_point_mpa[regulator])
        peak_at = start_ms + int(hours * HOUR_MS)
        reset_at = peak_at + int(hold_h * HOUR_MS)
        reset_ms = 30 * 60_000
        delta = rate_per_h * hours * set_point
        b.add_effect(LinearRamp(sensor, start_ms, peak_at, rate_per_h * set_point))
        b.add_effect(Step(sensor, peak_at, reset_at + reset_ms, delta))
        b.add_effect(LinearRamp(sensor, reset_at, reset_at + reset_ms, -delta / (reset_ms / HOUR_MS)))
        spec = b.sensor(sensor)

        def truth(engine: Engine) -> GroundTruthRow:
            times = engine.sample_times(sensor)
            times = times[(times >= start_ms) & (times < reset_at + reset_ms)]
            deviation = engine.evaluate(sensor, times) / set_point - 1.0
            step_ms = int(times[1] - times[0]) if times.size > 1 else 300_000
            above_t2_ms = int(np.count_nonzero(deviation > 0.2)) * step_ms
            return GroundTruthRow(
                id="", label="incident", kind=AlertKind.GAS_PRESSURE_ANOMALY.value,
                expected_tier="2" if above_t2_ms > 15 * 60_000 else "3", lifeline=Lifeline.GAS.value,
                asset_id=spec.asset_id, group_id=spec.group_id, sensor_ids=(spec.sensor_id,), start_ms=start_ms,
                end_ms=reset_at + reset_ms, detail=f"regulator creep {rate_per_h:+.1%} of set point per hour for "
                f"{hours:g} h, peak {float(deviation.max()):+.1%}",
            )  # fmt: skip

        b.add_truth(truth)

    def inject_regulator_hunting(
        self, start_ms: int, regulator: int, amplitude: float, period_s: float, hours: float
    ) -> None:
        """A regulator hunting: its outlet pressure oscillates by ± ``amplitude`` of the set point with a period of
        ``period_s`` for ``hours`` (an unstable pilot loop). Expected T3: beyond 3σ of its time-of-day profile."""
        b = self.b
        sensor = int(self.reg_pressure[regulator])
        end = start_ms + int(hours * HOUR_MS)
        set_point = float(self.set_point_mpa[regulator])
        b.add_effect(Oscillation(sensor, start_ms, end, amplitude * set_point, int(period_s * 1000)))
        spec = b.sensor(sensor)
        row = GroundTruthRow(
            id="", label="incident", kind=AlertKind.GAS_PRESSURE_ANOMALY.value, expected_tier="3",
            lifeline=Lifeline.GAS.value, asset_id=spec.asset_id, group_id=spec.group_id,
            sensor_ids=(spec.sensor_id,), start_ms=start_ms, end_ms=end,
            detail=f"regulator hunting ±{amplitude:.0%} of set point, period {period_s:g} s, for {hours:g} h",
        )  # fmt: skip
        b.add_truth(lambda _engine: row)

    def boost_biogas(self, count: int) -> list[int]:
        """Give ``count`` sewer wells strong biogas (10–30 %LEL in summer heat): look-alikes, not leaks."""
        sewer = [w for w, k in enumerate(self.well_kind) if k == "sewer_well"]
        chosen = [int(w) for w in self.b.rng.choice(sewer, min(count, len(sewer)), replace=False)] if sewer else []
        for w in chosen:
            self.biogas_lel[w] = self.b.rng.uniform(9.0, 16.0)
        return chosen

    def add_biogas_truths(self) -> None:
        """One look-alike row per sewer well whose biogas reaches the 10 %LEL T3 level."""
        b = self.b
        candidates = [w for w in np.flatnonzero(self.biogas_lel >= 5.0).tolist()]

        def make(well: int) -> None:
            sensor = int(self.ch4[well])

            def truth(engine: Engine) -> GroundTruthRow | None:
                peak = float(engine.evaluate(sensor, engine.sample_times(sensor)).max(initial=0.0))
                if peak < CH4_THRESHOLDS["t3"]:
                    return None
                return GroundTruthRow(
                    id="", label="lookalike", kind=AlertKind.GAS_LEAK.value, expected_tier="none",
                    lifeline=Lifeline.GAS.value, asset_id=self.well_ids[well],
                    group_id=self.main_ids[int(self.well_main[well])], sensor_ids=(b.sensor(sensor).sensor_id,),
                    start_ms=b.start_ms, end_ms=b.end_ms,
                    detail=f"sewer biogas following well temperature, peak {peak:.1f} %LEL",
                )  # fmt: skip

            b.add_truth(truth)

        for well in candidates:
            make(well)

    def open_cover(self, at_ms: int, minutes: float) -> None:
        """A cover lifted for maintenance: tilt ~85°, CH4 collapses by ventilation and slowly returns."""
        b = self.b
        wells = sorted(self.tilt_of_well, key=lambda w: -self.biogas_lel[w])[:3]
        well = int(b.rng.choice(wells))
        end = at_ms + int(minutes * 60_000)
        tilt = self.tilt_of_well[well]
        b.add_effect(Replace(tilt, at_ms, end, round(float(b.rng.uniform(80.0, 88.0)), 1)))
        b.add_effect(ScaleDown(int(self.ch4[well]), at_ms, end, 0.05, 40 * 60_000))
        row = GroundTruthRow(
            id="", label="lookalike", kind=AlertKind.COVER_DISPLACED.value, expected_tier="none",
            lifeline=Lifeline.GAS.value, asset_id=self.well_ids[well],
            group_id=self.main_ids[int(self.well_main[well])],
            sensor_ids=(b.sensor(tilt).sensor_id, b.sensor(int(self.ch4[well])).sensor_id), start_ms=at_ms,
            end_ms=end, detail=f"cover opened for maintenance for {minutes:.0f} min (work order), CH4 vented",
        )  # fmt: skip
        b.add_truth(lambda _engine: row)


def _severity(tier: str) -> int:
    """Order tiers so that max() picks the most severe: none < 3 < 2 < 1."""
    return {"none": 0, "3": 1, "2": 2, "1": 3}[tier]
