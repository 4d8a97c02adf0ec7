"""Gas pressure against its time-of-day profile (3σ for 30 min → T3), sudden drops (> 10 % → T3), flow surges the
station's own demand profile explains (nothing), and ruptures (a drop with a flow surge, or with methane in a
non-biogas well of the group → T1); docs/domain.md#gas-pressure-time-of-day-3σ-and-rupture."""

from __future__ import annotations

import numpy as np
import pytest

from lifeline.detectors.results import WindowStats
from lifeline.models import AlertKind, SensorKind, Tier

from .helpers import DAY, HOUR, MEAN_FLOW, MIN, SET_POINT, STEP, T0, Station, flow, pressure, pressure_spec, spec

#: day 4, 10:00 local: every slot has three days of history
ONSET = T0 + 3 * DAY + 10 * HOUR


def tod_findings(station: Station) -> list[object]:
    return [f.tier for f in station.findings if f.rule.startswith("gas.pressure.tod")]


def history(station: Station, signals: dict[str, object], until: int = ONSET) -> None:
    station.feed(T0, until, signals)  # type: ignore[arg-type]


def test_three_sigma_from_the_profile_for_30_min_is_t3() -> None:
    rng = np.random.default_rng(7)
    station = Station([pressure_spec()])
    normal = {"P": lambda t: pressure(t, rng)}
    history(station, normal)
    assert station.alerts() == []
    # +3 %: about 15σ of this hour's window means, yet far inside the ±10 % set-point band
    station.feed(ONSET, ONSET + HOUR, {"P": lambda t: 1.03 * pressure(t, rng)})
    assert station.best_tier() is Tier.T3
    assert ONSET + 30 * MIN <= station.first_at(Tier.T3) <= ONSET + 35 * MIN + 2 * MIN
    assert any(f.rule == "gas.pressure.tod:beyond_3sigma" for f in station.findings)


def test_a_short_excursion_raises_nothing() -> None:
    rng = np.random.default_rng(7)
    station = Station([pressure_spec()])
    history(station, {"P": lambda t: pressure(t, rng)})
    from lifeline.detectors.gas import time_of_day_profile  # the sensor's own profile (new with this rule)

    profile = time_of_day_profile(station.det.profile("P"), station.states["P"], 3.0, 8.0)
    band = profile.expected(ONSET)
    assert band is not None and 0.03 * band[0] > 6 * band[1]  # the excursion below lies far beyond 3σ
    station.feed(ONSET, ONSET + 20 * MIN, {"P": lambda t: 1.03 * pressure(t, rng)})  # 20 min, then back
    station.feed(ONSET + 20 * MIN, ONSET + 2 * HOUR, {"P": lambda t: pressure(t, rng)})
    assert station.alerts() == [] and tod_findings(station) == []


def test_a_sudden_drop_of_more_than_10_percent_is_t3_at_the_second_report() -> None:
    rng = np.random.default_rng(7)
    station = Station([pressure_spec()])
    onset = T0 + 10 * HOUR  # day 1: no profile needed
    history(station, {"P": lambda t: pressure(t, rng)}, until=onset)
    station.feed(onset, onset + HOUR, {"P": lambda t: 0.88 * pressure(t, rng)})  # −12 %
    assert station.best_tier() is Tier.T3
    assert station.first_at(Tier.T3) == onset + STEP  # at the second report
    assert any(f.rule == "gas.pressure.drop:sudden_t3" for f in station.findings)


def test_a_flow_surge_the_demand_profile_explains_raises_nothing() -> None:
    rng = np.random.default_rng(11)
    station = Station([spec("Q", SensorKind.GAS_FLOW, "GR-1", "regulator_station", design_value=MEAN_FLOW)])
    # four days of a daily step from 60 % to 150 % of the mean flow at 11:00: a step rise of 150 %
    station.feed(T0, T0 + 4 * DAY, {"Q": lambda t: flow(t, rng)})
    assert station.alerts() == []
    day4 = [f for f in station.findings if f.ts >= T0 + 3 * DAY and f.rule.startswith("gas.flow.surge")]
    assert day4 == []


def test_a_flow_surge_beyond_the_demand_profile_is_t3() -> None:
    rng = np.random.default_rng(11)
    station = Station([spec("Q", SensorKind.GAS_FLOW, "GR-1", "regulator_station", design_value=MEAN_FLOW)])
    station.feed(T0, ONSET - 3 * HOUR, {"Q": lambda t: flow(t, rng)})  # until 07:00 on day 4
    station.feed(ONSET - 3 * HOUR, ONSET - HOUR, {"Q": lambda t: 1.6 * flow(t, rng)})  # +60 % at 07:00-09:00
    assert station.best_tier() is Tier.T3
    day4 = {f.rule for f in station.findings if f.tier is not None and f.ts >= T0 + 3 * DAY}
    assert day4 == {"gas.flow.surge:beyond_profile"}


def rupture_station() -> tuple[Station, dict[str, object]]:
    rng = np.random.default_rng(5)
    station = Station([pressure_spec(), spec("Q", SensorKind.GAS_FLOW, "GR-1", "regulator_station")])
    return station, {"P": lambda t: pressure(t, rng), "Q": lambda t: flow(t, rng)}


def test_a_sudden_drop_with_a_flow_surge_is_a_rupture_at_t1_within_minutes() -> None:
    station, normal = rupture_station()
    onset = T0 + 8 * HOUR  # day 1, 08:00: the flow has no profile yet
    history(station, normal, until=onset)
    assert station.alerts() == []
    rng = np.random.default_rng(6)
    station.feed(
        onset, onset + HOUR, {"P": lambda t: 0.85 * pressure(t, rng), "Q": lambda t: flow(t, rng) + 0.6 * MEAN_FLOW}
    )
    assert station.best_tier() is Tier.T1
    assert station.first_at(Tier.T1) == onset + STEP  # at the second report of both
    assert len({e.alert_id for e in station.alerts()}) == 1  # one alert per (group, kind)


@pytest.mark.parametrize(("well_kind", "tier"), [("telecom_well", Tier.T1), ("sewer_well", Tier.T3)])
def test_a_drop_with_methane_is_a_rupture_unless_the_well_is_biogas_prone(well_kind: str, tier: Tier) -> None:
    """Both alerts of a rupture are T1: the pressure anomaly and the methane of the well beside the main (15 %LEL
    alone is a T3 leak); a sewer well's methane may be biogas, so the drop stays a T3 and the methane too."""
    rng = np.random.default_rng(9)
    station = Station([
        spec("GP-P", SensorKind.GAS_PRESSURE, "GP-1", "gas_main", design_value=SET_POINT),
        spec("W-CH4", SensorKind.CH4_LEL, "GW-1", well_kind),
    ])  # fmt: skip
    onset = T0 + 10 * HOUR

    def methane(t: int) -> float:
        if t < onset:
            return max(0.0, 0.8 + 0.2 * float(rng.standard_normal()))
        return 15.0 * (1.0 + 0.3 * float(rng.standard_normal()))  # gas flooding the well, fluctuating ±30 %

    history(station, {"GP-P": lambda t: pressure(t, rng), "W-CH4": methane}, until=onset)
    station.feed(onset, onset + HOUR, {"GP-P": lambda t: 0.85 * pressure(t, rng), "W-CH4": methane})
    assert station.best_tier() is tier
    assert station.best_tier(AlertKind.GAS_LEAK) is tier
    # the drop alone is a T3 from its second report on (a biogas well adds nothing to it)
    assert station.first_at(Tier.T3) == onset + STEP


def test_a_warm_start_teaches_the_profile_so_it_judges_at_once() -> None:
    """Three days of stored 10-min windows (two 5-min readings each, as ``sensor_stats`` holds them) teach a fresh
    state's profile: two hours of live readings later, 3 % above it for 30 min is a T3."""
    rng = np.random.default_rng(7)
    station = Station([pressure_spec()])
    rows = []
    for start in range(T0, T0 + 3 * DAY, 2 * STEP):
        a, b = pressure(start, rng), pressure(start + STEP, rng)
        rows.append(WindowStats("P", start, 600, 2, (a + b) / 2, min(a, b), max(a, b), 0.0, 0.0, b))
    station.det.warm_start_sensor(station.states["P"], rows)
    station.feed(ONSET - 2 * HOUR, ONSET, {"P": lambda t: pressure(t, rng)})
    station.feed(ONSET, ONSET + HOUR, {"P": lambda t: 1.03 * pressure(t, rng)})
    assert station.best_tier() is Tier.T3
    assert ONSET + 30 * MIN <= station.first_at(Tier.T3) <= ONSET + 37 * MIN
