"""Group-level correlation: from the active sensor-level contributions of one alert key to a tier.

Rules (docs/domain.md#persistence-and-corroboration, tier 1 = most severe):

* gas leak (per gas group): the most severe well; ≥ ``linked_wells_t2`` wells at ≥ T3 → at least T2;
  ≥ ``spread_wells_t1`` wells → T1. Biogas-capped wells never count as linked wells.
* pipe burst (per DMA): T1 = big drop (≥0.1 MPa or ≥30 %) at ≥2 loggers + an inlet surge (≥20 %);
  T2 = a big drop at one logger, a drop (≥0.05 MPa or ≥15 %) sustained ≥15 min, or a drop + a surge;
  else T3 (a drop not yet sustained, or a surge alone).
* low pressure (<0.1 MPa): one logger → T2, two or more loggers → T1 (corroborated loss of supply).
* background leak: never above T2; night-flow creep together with a noise flag → T2.
* bridge overload: a single gauge's T1 is capped at T2 when the bridge has another load sensor that
  does not corroborate it.
* gas pressure (docs/domain.md#gas-pressure-time-of-day-3σ-and-rupture): a **rupture** — a sudden pressure drop
  (family ``gas.pressure.drop``) together with a flow surge at the station, or with methane at ≥ T3 in a
  non-biogas well of the group (``gas_wells``) — is T1, and so is the methane alert of such a well (gas
  from a ruptured main); otherwise a flow surge in the same group raises a
  pressure anomaly by one tier. A flow surge alone is T3 only when the station's time-of-day profile does
  not explain it (rule ``gas.flow.surge:beyond_profile``); a step rise on a station without a profile yet
  only corroborates.
* sensor faults and generic anomalies: tier 3, always.
* anomaly corroboration: anomaly evidence (per-sensor baselines or the group model) on at least
  ``group_anomaly.corroboration_min_sensors`` sensors of the group raises any other rule alert of the group
  by one tier, never more and never above T1 (:func:`corroborated`); fault alerts are never raised, and
  a sensor with an active blocking fault gives no anomaly evidence.

* pump and valve operations (docs/domain.md#pump-and-valve-operations): a ``water.operation`` finding (no
  tier) records the group's last operation; a pressure drop or inlet surge whose step first reaches a tier
  within ``water.operation_window_s`` after it is attributed to the operation for as long as the step lasts
  and supports no pipe burst (:func:`attributed_to_operation`).

Contributions from a sensor with an active blocking fault (stuck, saturated, drifting, offset) are
ignored for incidents: a faulty sensor never escalates an incident.
"""

from __future__ import annotations

from collections.abc import Sequence

from lifeline.models import AlertKind, SensorKind, Tier

from .config import RulesConfig
from .state import Contribution

__all__ = [
    "BLOCKING_FAULT_FAMILIES", "GROUP_KINDS", "LOCAL_KINDS", "OPERATION_FAMILY", "OPERATION_RULE",
    "attributed_to_operation", "corroborated", "desired_tier",
]  # fmt: skip

#: incidents that belong to a whole group (one alert per group and kind)
GROUP_KINDS = frozenset({
    AlertKind.GAS_LEAK, AlertKind.PIPE_BURST, AlertKind.LOW_PRESSURE, AlertKind.BACKGROUND_LEAK,
    AlertKind.BRIDGE_OVERLOAD, AlertKind.GAS_PRESSURE_ANOMALY,
})  # fmt: skip
#: incidents that belong to one asset (a low point, a manhole, a span or pier, a cover)
LOCAL_KINDS = frozenset(k for k in AlertKind if k not in GROUP_KINDS and k is not AlertKind.SENSOR_FAULT)
#: a sensor with one of these faults contributes nothing to incidents (an offset moves the zero only: not blocking,
#: as ``faults.BLOCKING``)
BLOCKING_FAULT_FAMILIES = frozenset({"fault.stuck", "fault.saturation", "fault.drift"})
#: the informational finding of a pump or valve operation (no tier, never an alert)
OPERATION_RULE = "water.operation:state_change"
OPERATION_FAMILY = OPERATION_RULE.partition(":")[0]
#: the condition families a pump or valve operation can cause: a pressure step and an inlet-flow step
_OPERATION_EFFECTS = frozenset({"water.pressure.drop", "water.flow.surge"})

_T1, _T2, _T3 = Tier.T1, Tier.T2, Tier.T3


def _most_severe(contribs: Sequence[Contribution]) -> Tier:
    return min(c.tier for c in contribs)


def _family(rule: str) -> str:
    return rule.partition(":")[0]


def desired_tier(
    kind: AlertKind,
    contribs: Sequence[Contribution],
    config: RulesConfig,
    load_sensors_in_group: int = 0,
    gas_wells: int = 0,
    pressure_drop: bool = False,
) -> Tier | None:
    """The tier the alert of this key should have now, or ``None`` when nothing supports it.

    For a rupture: ``gas_wells`` counts the wells of the group with methane at ≥ T3 now that are not
    biogas-prone; ``pressure_drop`` says whether a pressure sensor of the group reports a sudden drop.

    >>> from lifeline.detectors.state import Contribution
    >>> c = [Contribution(f"w{i}", f"W{i}", AlertKind.GAS_LEAK, Tier.T3, 0, 12.0, 0.4, "", "gas.lel:t3")
    ...      for i in range(3)]
    >>> desired_tier(AlertKind.GAS_LEAK, c[:1], RulesConfig()), desired_tier(AlertKind.GAS_LEAK, c[:2], RulesConfig())
    (<Tier.T3: 3>, <Tier.T2: 2>)
    >>> desired_tier(AlertKind.GAS_LEAK, c, RulesConfig())
    <Tier.T1: 1>
    """
    if not contribs:
        return None
    if kind in (AlertKind.SENSOR_FAULT, AlertKind.ANOMALY):
        return _T3
    tier = _most_severe(contribs)
    if kind is AlertKind.GAS_LEAK:
        wells = {c.asset_id for c in contribs if not c.rule.endswith("biogas_capped")}
        if len(wells) >= config.gas.spread_wells_t1 or (pressure_drop and gas_wells > 0):
            return _T1  # spread, or gas from a ruptured main
        if len(wells) >= config.gas.linked_wells_t2:
            return min(tier, _T2)
        return tier
    if kind is AlertKind.PIPE_BURST:
        drops = {c.sensor_id for c in contribs if _family(c.rule) == "water.pressure.drop"}
        big = {c.sensor_id for c in contribs if c.rule == "water.pressure.drop:big"}
        sustained = {c.sensor_id for c in contribs if c.rule == "water.pressure.drop:sustained"}
        surges = [c for c in contribs if _family(c.rule) == "water.flow.surge"]
        if surges and len(big) >= config.water.burst_min_loggers:
            return _T1
        if big or sustained or (drops and surges):
            return _T2
        return _T3
    if kind is AlertKind.LOW_PRESSURE:
        loggers = {c.sensor_id for c in contribs}
        return _T1 if len(loggers) >= config.water.burst_min_loggers else _T2
    if kind is AlertKind.BACKGROUND_LEAK:
        families = {_family(c.rule) for c in contribs}
        if "water.flow.mnf" in families and "water.noise.leak" in families:
            return _T2
        return max(tier, _T2)
    if kind is AlertKind.GAS_PRESSURE_ANOMALY:
        return _gas_pressure_tier(contribs, gas_wells)
    if kind is AlertKind.BRIDGE_OVERLOAD:
        sensors = {c.sensor_id for c in contribs}
        if tier is _T1 and len(sensors) < 2 and load_sensors_in_group >= 2:
            return _T2
        return tier
    return tier


def _gas_pressure_tier(contribs: Sequence[Contribution], gas_wells: int) -> Tier | None:
    """Rupture (a sudden drop with a flow surge or with methane in a non-biogas well) → T1; a flow surge raises
    a pressure anomaly by one tier; a surge alone is T3 when the demand profile does not explain it, else
    nothing (it only corroborates).

    >>> def c(rule: str, tier: Tier = Tier.T3) -> Contribution:
    ...     return Contribution("s", "GR-1", AlertKind.GAS_PRESSURE_ANOMALY, tier, 0, 0.0, 0.4, "", rule)
    >>> _gas_pressure_tier([c("gas.pressure.drop:sudden_t3"), c("gas.flow.surge:step_rise")], 0)
    <Tier.T1: 1>
    >>> _gas_pressure_tier([c("gas.pressure.drop:sudden_t3")], 1)  # with methane in a non-biogas well
    <Tier.T1: 1>
    >>> _gas_pressure_tier([c("gas.flow.surge:step_rise")], 0) is None  # a surge without a profile: corroboration
    True
    """
    surges = [c for c in contribs if _family(c.rule) == "gas.flow.surge"]
    pressure = [c for c in contribs if _family(c.rule) != "gas.flow.surge"]
    if not pressure:
        return _T3 if any(c.rule == "gas.flow.surge:beyond_profile" for c in surges) else None
    if any(_family(c.rule) == "gas.pressure.drop" for c in pressure) and (surges or gas_wells > 0):
        return _T1
    tier = _most_severe(pressure)
    if surges and tier is not _T1:
        return Tier(tier.value - 1)
    return tier


def attributed_to_operation(family: str, ts: int, last_operation_ts: int, config: RulesConfig) -> bool:
    """Whether a condition of ``family`` first reaching a tier at ``ts`` is the effect of the group's last
    pump or valve operation (at ``last_operation_ts``, at most ``water.operation_window_s`` before).

    >>> cfg = RulesConfig()
    >>> attributed_to_operation("water.pressure.drop", 600_000, 0, cfg)
    True
    >>> attributed_to_operation("water.pressure.drop", 901_000, 0, cfg), attributed_to_operation("gas.lel", 0, 0, cfg)
    (False, False)
    """
    if family not in _OPERATION_EFFECTS:
        return False
    return 0 <= ts - last_operation_ts <= config.water.operation_window_s * 1000


def corroborated(kind: AlertKind, tier: Tier, anomaly_sensors: int, config: RulesConfig) -> Tier:
    """The tier of a rule alert given anomaly evidence on ``anomaly_sensors`` sensors of its group: one tier
    more severe when at least ``corroboration_min_sensors`` corroborate, never more than one, never for
    anomalies or sensor faults themselves.

    >>> cfg = RulesConfig()
    >>> corroborated(AlertKind.PIPE_BURST, Tier.T3, 2, cfg), corroborated(AlertKind.PIPE_BURST, Tier.T3, 1, cfg)
    (<Tier.T2: 2>, <Tier.T3: 3>)
    >>> corroborated(AlertKind.SENSOR_FAULT, Tier.T3, 5, cfg), corroborated(AlertKind.GAS_LEAK, Tier.T1, 5, cfg)
    (<Tier.T3: 3>, <Tier.T1: 1>)
    """
    if kind in (AlertKind.ANOMALY, AlertKind.SENSOR_FAULT) or tier is _T1:
        return tier
    if anomaly_sensors < config.group_anomaly.corroboration_min_sensors:
        return tier
    return Tier(tier.value - 1)


#: sensor kinds that see a bridge's live load (used for overload corroboration)
LOAD_KINDS = frozenset({SensorKind.STRAIN, SensorKind.DEFLECTION})
