"""Statistical properties of the generators, checked against docs/domain.md rather than the code's own numbers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lifeline.models import SensorKind
from lifeline.simulators.scenarios import Scenario
from lifeline.simulators.timebase import local_hour

from .conftest import Series

Get = Callable[[str, float | None], tuple[Scenario, Series]]
DAY = 86_400.0


def _hourly_profile(ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    hours = local_hour(ts).astype(int)
    return np.array([values[hours == h].mean() for h in range(24)])


def test_water_demand_has_its_minimum_at_night_and_pressure_is_highest_at_night(scenario_data: Get) -> None:
    scenario, series = scenario_data("quiet-day-with-faults", None)
    inlets = [s.sensor_id for s in scenario.sensors if s.kind is SensorKind.WATER_FLOW]
    loggers = [s.sensor_id for s in scenario.sensors if s.kind is SensorKind.WATER_PRESSURE]
    for sensor in inlets[:10]:
        profile = _hourly_profile(*series[sensor])
        assert int(np.argmin(profile)) in {1, 2, 3, 4, 5}
        assert profile.max() > 2.0 * profile.min()  # a real daily swing (MNF well below the peaks)
    night_higher = sum(
        _hourly_profile(*series[s])[[2, 3, 4]].mean() > _hourly_profile(*series[s])[[7, 8, 19, 20]].mean()
        for s in loggers[:20]
    )
    assert night_higher >= 18  # pressure is higher at night (allowing for a fault on one logger)


def test_sewer_biogas_follows_well_temperature(scenario_data: Get) -> None:
    scenario, series = scenario_data("quiet-day-with-faults", None)
    rows = [r for r in scenario.ground_truth if r.label == "lookalike" and r.kind == "gas_leak"]
    assert rows
    correlations = []
    for row in rows:
        ch4 = series[row.sensor_ids[0]]
        temp = series[row.sensor_ids[0].replace("-CH4", "-TEMP")]
        n = min(ch4[1].size, temp[1].size)
        correlations.append(np.corrcoef(ch4[1][:n], temp[1][:n])[0, 1])
    assert np.median(correlations) > 0.8
    # and a clean (non-sewer) well does not follow temperature like that
    clean = [s.sensor_id for s in scenario.sensors if s.asset_kind == "telecom_well" and s.kind is SensorKind.CH4_LEL]
    clean_corr = [abs(np.corrcoef(series[c][1], series[c.replace("-CH4", "-TEMP")][1])[0, 1]) for c in clean[:20]]
    assert np.median(clean_corr) < 0.5


def test_well_temperature_lags_air_temperature(scenario_data: Get) -> None:
    scenario, series = scenario_data("quiet-day-with-faults", None)
    temps = [s.sensor_id for s in scenario.sensors if s.kind is SensorKind.WELL_TEMPERATURE][:5]
    for sensor in temps:
        peak_hour = int(np.argmax(_hourly_profile(*series[sensor])))
        assert 15 <= peak_hour <= 20  # air peaks mid-afternoon; the well 1-5 h later


def test_ponding_lags_rainfall_and_recedes_after_it(scenario_data: Get) -> None:
    scenario, series = scenario_data("drainage", None)
    rows = [r for r in scenario.ground_truth if r.kind == "waterlogging"]
    assert len(rows) >= 3
    for row in rows:
        depth_ts, depth = series[row.sensor_ids[0]]
        rain_ts, rain = series[f"{row.group_id}-RG-R"]
        rain_peak, depth_peak = rain_ts[np.argmax(rain)], depth_ts[np.argmax(depth)]
        lag_min = (depth_peak - rain_peak) / 60_000
        assert 10 <= lag_min <= 180, lag_min
        rain_end = rain_ts[np.flatnonzero(rain > 1.0)[-1]]
        assert depth[depth_ts > rain_end].max() > 5.0  # still ponded after the rain has stopped (recession)
    dry = [s for s in scenario.sensors if s.kind is SensorKind.PONDING_DEPTH]
    first_hour = [series[s.sensor_id][1][:6] for s in dry]
    assert max(float(v.max()) for v in first_hour) < 1.0  # nothing ponds before it rains


def test_ponding_steps_reach_15_27_40_cm(scenario_data: Get) -> None:
    scenario, series = scenario_data("drainage", None)
    tiers = {}
    for row in scenario.ground_truth:
        if row.kind == "waterlogging":
            tiers.setdefault(row.expected_tier, []).append(series[row.sensor_ids[0]][1].max())
    assert {"1", "2", "3"} <= set(tiers)
    assert all(v >= 40 for v in tiers["1"])
    assert all(27 <= v < 42 for v in tiers["2"])
    assert all(15 <= v < 29 for v in tiers["3"])


def test_burst_drops_pressure_at_two_or_more_loggers_and_surges_inlet_flow(scenario_data: Get) -> None:
    scenario, series = scenario_data("water", None)
    bursts = [r for r in scenario.ground_truth if r.kind == "pipe_burst" and r.label == "incident"]
    assert len(bursts) == 2
    tier1 = next(r for r in bursts if r.expected_tier == "1")
    window = 30 * 60_000
    dropped = 0
    loggers = [
        s.sensor_id for s in scenario.registry.sensors_of_group(tier1.group_id) if s.kind is SensorKind.WATER_PRESSURE
    ]
    for sensor in loggers:
        ts, values = series[sensor]
        before = values[(ts >= tier1.start_ms - window) & (ts < tier1.start_ms)].mean()
        after = values[(ts >= tier1.start_ms + 5 * 60_000) & (ts < tier1.start_ms + window)].mean()
        dropped += before - after >= 0.08
    assert dropped >= 2
    ts, flow = series[f"{tier1.group_id}-IN-Q"]
    before = flow[(ts >= tier1.start_ms - window) & (ts < tier1.start_ms)].mean()
    after = flow[(ts >= tier1.start_ms + 5 * 60_000) & (ts < tier1.start_ms + window)].mean()
    assert after > 1.3 * before


def test_pump_switching_moves_every_logger_but_not_the_flow(scenario_data: Get) -> None:
    scenario, series = scenario_data("water", None)
    row = next(r for r in scenario.ground_truth if r.detail.startswith("pump switching"))
    window = 20 * 60_000
    steps = []
    for sensor in row.sensor_ids:
        ts, values = series[sensor]
        before = values[(ts >= row.start_ms - window) & (ts < row.start_ms)].mean()
        after = values[(ts >= row.start_ms + 60_000) & (ts < row.start_ms + window)].mean()
        steps.append(after - before)
    assert all(0.015 < abs(s) < 0.05 for s in steps) and len({np.sign(s) for s in steps}) == 1
    ts, flow = series[f"{row.group_id}-IN-Q"]
    before = flow[(ts >= row.start_ms - window) & (ts < row.start_ms)].mean()
    after = flow[(ts >= row.start_ms + 60_000) & (ts < row.start_ms + window)].mean()
    assert abs(after / before - 1) < 0.15


def test_background_leak_raises_night_flow_and_the_noise_floor(scenario_data: Get) -> None:
    scenario, series = scenario_data("water", None)
    row = next(r for r in scenario.ground_truth if r.kind == "background_leak")
    inlet, noise = row.sensor_ids[0], row.sensor_ids[1]
    leaky_dma_noise = series[noise][1][local_hour(series[noise][0]) < 5]
    others = [s.sensor_id for s in scenario.sensors if s.kind is SensorKind.NOISE_LEVEL and s.group_id != row.group_id]
    other_night = np.concatenate([series[s][1][local_hour(series[s][0]) < 5] for s in others[:10]])
    assert np.median(leaky_dma_noise) > np.median(other_night) + 4.0
    ts, flow = series[inlet]
    nights = [flow[(ts // 86_400_000 == day) & (local_hour(ts) >= 2) & (local_hour(ts) < 4)].min() for day in
              sorted(set((ts // 86_400_000).tolist()))]  # fmt: skip
    assert nights[-1] > nights[0]  # the minimum night flow creeps up


def test_gas_leak_rises_slowly_and_spreads_along_its_main(scenario_data: Get) -> None:
    scenario, series = scenario_data("gas", 24 * 3600.0)
    leaks = [r for r in scenario.ground_truth if r.kind == "gas_leak" and r.label == "incident"]
    assert len(leaks) == 3
    for leak in leaks:
        assert all(scenario.registry[s].group_id == leak.group_id for s in leak.sensor_ids)
        strongest = max(leak.sensor_ids, key=lambda s: float(series[s][1].max()))
        ts, values = series[strongest]
        top = float(values.max())
        assert top >= 10.0
        reached = ts[np.argmax(values >= 0.8 * top)]
        first = ts[np.argmax(values >= 0.2 * top)]
        assert reached - first >= 30 * 60_000  # a slow rise, not a step
    spread = max(leaks, key=lambda r: len(r.sensor_ids))
    assert len(spread.sensor_ids) >= 2


def test_bridge_overload_is_a_plateau_on_strain_and_jam_stops_following_temperature(scenario_data: Get) -> None:
    scenario, series = scenario_data("bridge", None)
    overload = next(r for r in scenario.ground_truth if r.kind == "bridge_overload" and r.expected_tier == "1")
    strain = next(s for s in overload.sensor_ids if "-STR" in s)
    design = scenario.registry[strain].design_value
    assert design is not None
    ts, values = series[strain]
    inside = values[(ts >= overload.start_ms + 10 * 60_000) & (ts < overload.end_ms - 10 * 60_000)]
    before = values[(ts >= overload.start_ms - 40 * 60_000) & (ts < overload.start_ms)]
    assert inside.size >= 1 and inside.mean() - before.mean() > 0.6 * design
    jam = next(r for r in scenario.ground_truth if r.kind == "structural_anomaly")
    jammed, partner = jam.sensor_ids[0], jam.sensor_ids[1]
    tj, vj = series[jammed]
    tp, vp = series[partner]
    after_j, after_p = vj[tj > jam.start_ms + 3_600_000], vp[tp > jam.start_ms + 3_600_000]
    assert after_j.std() < 0.3 * after_p.std()
    assert after_j.std() > 0  # a jammed bearing is not a stuck sensor: it still shows noise


def test_every_reading_is_within_the_physical_range(scenario_data: Get) -> None:
    for name in ("storm-day", "bridge", "water"):
        scenario, series = scenario_data(name, 6 * 3600.0)
        for sensor, (_ts, values) in series.items():
            spec = scenario.registry[sensor]
            assert np.isfinite(values).all()
            assert values.min() >= spec.valid_min and values.max() <= spec.valid_max, sensor


def test_coordinates_are_around_hefei_and_groups_link_sensors(scenario_data: Get) -> None:
    scenario, _ = scenario_data("storm-day", 6 * 3600.0)
    lats = np.array([s.lat for s in scenario.sensors])
    lons = np.array([s.lon for s in scenario.sensors])
    assert lats.min() > 31.5 and lats.max() < 32.1 and lons.min() > 116.9 and lons.max() < 117.6
    assert all(s.group_id for s in scenario.sensors)
    assert {s.owner for s in scenario.sensors} >= {"hefei-water", "hefei-drainage"}
    for group in {s.group_id for s in scenario.sensors if s.group_id.startswith("DMA-")}:
        kinds = {s.kind for s in scenario.registry.sensors_of_group(group)}
        assert kinds == {SensorKind.WATER_FLOW, SensorKind.WATER_PRESSURE, SensorKind.NOISE_LEVEL}
