"""One typed rules configuration for every graded rule, fault check, window and alarm setting.

Defaults are the docs/domain.md numbers (tier 1 = 一级 = most severe). Per-sensor values in the registry
(``SensorSpec.thresholds`` / ``design_value``) override the defaults for that sensor; see
:func:`threshold`. A TOML file can override any field::

    [gas]
    lel_t3 = 12.0

    [alarm]
    clear_quiet_s = 1200

Native labels of standards are mapped to our tiers in exactly one table, :data:`NATIVE_TIER_MAP`,
keyed by ``(scheme, native_level)`` and never by label text (GB/T 50493's "一级报警" is the *lower*
alarm, so it maps to our tier 2, not tier 1).

>>> RulesConfig().gas.lel_t1
50.0
>>> native_tier("GB/T50493", 1)
<Tier.T2: 2>
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifeline.exceptions import SettingsError
from lifeline.models import SensorKind, SensorSpec, Tier

from .calendar import RestDays

__all__ = [
    "NATIVE_TIER_MAP",
    "AlarmRules",
    "AnomalyRules",
    "BridgeRules",
    "DrainageRules",
    "FaultRules",
    "GasRules",
    "GroupAnomalyRules",
    "LeakConfig",
    "RulesConfig",
    "WaterRules",
    "WindowRules",
    "load_rules_config",
    "native_tier",
    "rules_from_table",
    "threshold",
    "tier_thresholds",
]

#: Native alarm levels of standards and platforms → our tier. Explicit rows only, never label text.
NATIVE_TIER_MAP: dict[tuple[str, int], Tier] = {
    # GB/T 50493-2019 numbers alarms in ASCENDING severity: level 1 = lower alarm (≤25 %LEL),
    # level 2 = upper alarm (≤50 %LEL).
    ("GB/T50493", 1): Tier.T2,
    ("GB/T50493", 2): Tier.T1,
    # GB 50838 utility-tunnel gas cabin: 20 %LEL alarm (ventilation), 35 %LEL emergency shut-off.
    ("GB50838", 1): Tier.T2,
    ("GB50838", 2): Tier.T1,
    # Bridge SHM platforms using yellow / orange / red (一级 = yellow = mild).
    ("bridge-yellow-orange-red", 1): Tier.T3,
    ("bridge-yellow-orange-red", 2): Tier.T2,
    ("bridge-yellow-orange-red", 3): Tier.T1,
    # lifeline-tech-center public bridge modules: 一级 = most severe, like ours.
    ("lifeline-tech-center", 1): Tier.T1,
    ("lifeline-tech-center", 2): Tier.T2,
    ("lifeline-tech-center", 3): Tier.T3,
    # CMA rainstorm signals: blue=1, yellow=2, orange=3, red=4.
    ("CMA-rainstorm", 1): Tier.T3,
    ("CMA-rainstorm", 2): Tier.T2,
    ("CMA-rainstorm", 3): Tier.T2,
    ("CMA-rainstorm", 4): Tier.T1,
}


def native_tier(scheme: str, native_level: int) -> Tier:
    """Map a standard's own alarm level to our tier through :data:`NATIVE_TIER_MAP`.

    >>> native_tier("bridge-yellow-orange-red", 1)
    <Tier.T3: 3>
    """
    try:
        return NATIVE_TIER_MAP[(scheme, native_level)]
    except KeyError:
        raise KeyError(f"no tier mapping for native level {native_level} of scheme {scheme!r}") from None


@dataclass(frozen=True)
class GasRules:
    """docs/domain.md#gas-network-and-adjacent-wells: methane in wells, network pressure and flow, cover tilt."""

    lel_t3: float = 10.0
    lel_t2: float = 25.0
    lel_t1: float = 50.0
    lel_t2_sustain_s: float = 600.0
    #: hysteresis: a reported methane tier is held until this many consecutive reports fall below its
    #: threshold (a leak persists until repaired; its level fluctuates ±20–40 % and ventilation dips it)
    lel_release_reports: int = 4
    linked_wells_t2: int = 2
    spread_wells_t1: int = 3
    #: biogas look-alike: in a sewer/storm well and steady (EW |Δ| / level below this) → capped at T3
    biogas_max_relative_change: float = 0.15
    sewer_asset_words: tuple[str, ...] = ("sewer", "storm", "drain", "污水", "雨水")
    sensitive_asset_words: tuple[str, ...] = ("valve", "building", "crowd", "阀门")
    pressure_dev_t3: float = 0.10
    pressure_dev_t2: float = 0.20
    pressure_dev_sustain_s: float = 900.0
    pressure_sudden_drop_t1: float = 0.30
    #: a sudden drop of more than this fraction below the highest reading of ``sudden_window_s`` → T3 (with a
    #: flow surge at the station or methane in a non-biogas well of the group: a rupture, T1)
    pressure_sudden_drop_t3: float = 0.10
    sudden_window_s: float = 300.0
    flow_surge: float = 0.20
    #: time-of-day profile of pressure and flow (docs/domain.md#gas-pressure-time-of-day-3σ-and-rupture): a
    #: reading beyond ``tod_sigma`` σ of its hour's window means for ``tod_sustain_s`` → T3; the profile judges
    #: after ``tod_min_days`` days of history
    tod_sigma: float = 3.0
    tod_sustain_s: float = 1800.0
    tod_min_days: float = 3.0
    cover_tilt_t3_deg: float = 10.0
    cover_tilt_t2_deg: float = 90.0
    #: a cover on a main road (registry ``thresholds`` ``main_road=1``) tilted above ``cover_tilt_t3_deg`` for
    #: this many reports is tier 2: an open well in traffic (docs/domain.md#rules-added-2026-12-03)
    cover_main_road_t2_reports: int = 2


@dataclass(frozen=True)
class WaterRules:
    """docs/domain.md#water-supply-mains: bursts, low pressure, background leaks, pump and valve operations."""

    burst_drop_mpa: float = 0.10
    burst_drop_fraction: float = 0.30
    drop_mpa: float = 0.05
    drop_fraction: float = 0.15
    drop_sustain_s: float = 900.0
    drop_window_s: float = 300.0
    burst_min_loggers: int = 2
    low_pressure_mpa: float = 0.10
    surge_t1: float = 0.50
    surge_t2: float = 0.20
    #: how far back the pre-event level is looked for (at least this, or 1.5 reporting intervals)
    step_lookback_s: float = 900.0
    #: a step older than this is considered the new normal
    step_max_hold_s: float = 6 * 3600.0
    mnf_start_hour: int = 2
    mnf_end_hour: int = 4
    mnf_creep: float = 0.15
    mnf_nights: int = 3
    mnf_baseline_min_nights: int = 3
    #: a night must also be at least this much (m3/h) above the baseline: a near-zero baseline never flags
    mnf_min_rise: float = 0.5
    #: the slow night baseline (flow and noise) moves by 1/this of a normal night's difference, winsorised at the
    #: flag bound: a leak already present in the recent nights cannot lift it by more than about 1 % a night
    mnf_slow_nights: float = 14.0
    noise_leak_db: float = 6.0
    noise_baseline_min: int = 3
    #: a pump or valve state sensor (``pump_state`` / ``valve_state``, 1 = running or open) changing by at least
    #: this much between two readings is an operation (docs/domain.md#pump-and-valve-operations)
    operation_min_change: float = 0.1
    #: pressure drops and inlet surges of the same group that first reach a tier within this long after an
    #: operation are attributed to it (no pipe_burst) for as long as their step lasts
    operation_window_s: float = 900.0
    #: a logger's moderate or sustained drop (not a big one) whose step began at the same time of day, ± the
    #: tolerance, on at least ``drop_recurring_min_days`` of the ``drop_recurring_days`` days before is a scheduled
    #: operation and raises no tier; 0 days turns this off (docs/domain.md#scheduled-operations-without-a-state-sensor)
    drop_recurring_days: int = 3
    drop_recurring_min_days: int = 2
    drop_recurring_tol_s: float = 1200.0


@dataclass(frozen=True)
class DrainageRules:
    """docs/domain.md#drainage-and-waterlogging: rain, manhole level, road ponding."""

    rain_t3_mm_h: float = 20.0
    rain_t2_mm_6h: float = 50.0
    rain_t2_mm_3h: float = 50.0
    rain_t1_mm_3h: float = 100.0
    ponding_t3_cm: float = 15.0
    ponding_t2_cm: float = 27.0
    ponding_t1_cm: float = 40.0
    ponding_rising_t1_cm: float = 25.0
    ponding_rise_cm_per_5min: float = 5.0
    manhole_t2_freeboard_m: float = 0.5
    manhole_t1_freeboard_m: float = 0.1
    manhole_rise_m_per_5min: float = 0.2


@dataclass(frozen=True)
class BridgeRules:
    """docs/domain.md#bridges: live load, deflection, modal frequency, cracks, bearings, tilt."""

    live_ratio_t3: float = 0.70
    live_ratio_t2: float = 0.85
    live_ratio_t1: float = 1.00
    #: the thermal baseline of strain / deflection (time-varying mean), as an EW time constant
    thermal_tau_s: float = 1800.0
    #: while a load event is on, the baseline follows only this slowly
    frozen_tau_s: float = 6 * 3600.0
    #: an overload must last this long (a single truck passes in 1–5 s)
    load_min_duration_s: float = 60.0
    deflection_span_divisor: float = 600.0
    freq_drop_t3: float = 0.05
    freq_drop_t2: float = 0.10
    freq_drop_t1: float = 0.15
    freq_learn_samples: int = 6
    crack_limit_mm: float = 0.20
    crack_ratio_t3: float = 0.8
    crack_ratio_t2: float = 1.0
    crack_ratio_t1: float = 1.5
    bearing_sigma_t3: float = 2.0
    bearing_sigma_t2: float = 3.0
    bearing_sigma_t1: float = 5.0
    bearing_tau_s: float = 6 * 3600.0
    bearing_learn_samples: int = 12
    tilt_t3_deg: float = 0.05
    tilt_t2_deg: float = 0.10
    tilt_t1_deg: float = 0.20
    tilt_learn_samples: int = 6
    # -- docs/domain.md#rules-added-2026-12-03 -------------------------------------------------------------
    #: acceleration T3: an RMS report above this quantile of the sensor's own history (RMS channels only)
    acc_quantile: float = 0.999
    #: RMS reports learned before the quantile rule judges (7 days of 10-min reports)
    acc_quantile_min_samples: int = 1008
    #: the history's counts are halved when they reach this many (slow forgetting, ~60 days of 10-min reports)
    acc_quantile_max_samples: int = 8640
    #: acceleration T1 impact (raw channels only): a sample of at least this magnitude (m/s²) ...
    acc_impact_peak: float = 2.0
    #: ... and at least this many times the running RMS before it (a sharp blow, not heavy traffic)
    acc_impact_crest: float = 5.0
    #: crack growth: the public modules' flag rate (mm per day) → T3; ``crack_growth_t2_factor`` × it → T2
    crack_growth_mm_per_day: float = 0.01
    crack_growth_t2_factor: float = 3.0
    #: the growth rate is the change of the daily mean width over this many days, divided by them
    crack_growth_days: int = 7
    #: deflection creep (mm per year, year-over-year change of 28-day mean deflection) → T3 / T2 / T1
    creep_t3_mm_per_year: float = 1.0
    creep_t2_mm_per_year: float = 3.0
    creep_t1_mm_per_year: float = 5.0


@dataclass(frozen=True)
class FaultRules:
    """docs/domain.md#sensor-faults: data-quality checks. Faults are tier 3 and go to the device maintainer."""

    stuck_samples: int = 12
    stuck_min_s: float = 1800.0
    spike_sigma: float = 6.0
    #: a spike that at least ``spike_shared_peers`` other sensors of the group show within
    #: ``spike_shared_window_s`` either side of it is physical, not a fault (detectors/shared_spikes.py; the
    #: group holds each spike that long); 0 peers turns the veto off
    spike_shared_peers: int = 2
    spike_shared_window_s: int = 300
    #: a saturation or drift that at least ``fault_shared_peers`` other same-kind sensors of the group share (the
    #: same end of the range, the same sign of the trend; raised within ``fault_shared_window_s`` either side or
    #: still on) is physical, not a fault (detectors/shared_faults.py); 0 peers turns the veto off
    fault_shared_peers: int = 2
    fault_shared_window_s: int = 900
    #: absolute floor of the noise scale as a fraction of the physical range (avoids σ = 0)
    noise_floor_fraction: float = 1e-4
    noise_tau_samples: float = 48.0
    saturation_samples: int = 2
    saturation_eps_fraction: float = 1e-6
    silence_intervals: float = 3.0
    drift_hours: int = 24
    drift_min_r2: float = 0.9
    drift_min_fraction_of_range: float = 0.03
    #: the offset-step check runs (on by default since the group veto of detectors/peer_steps.py:
    #: docs/domain.md#what-the-fault-checks-miss has its figures on the simulator's scenarios)
    offset_enabled: bool = True
    #: offset step (docs/domain.md#sensor-faults): a jump of more than ``offset_jump_sigma`` noise scales
    #: between two readings, after which ``offset_confirm_samples`` readings stand at a level (line + step fit
    #: over the ring of recent readings) ``offset_t`` standard errors and ``offset_sigma`` reading-noise scales
    #: away from the line before
    offset_jump_sigma: float = 3.0
    offset_sigma: float = 2.0
    offset_t: float = 4.0
    offset_confirm_samples: int = 6
    offset_hours_t: float = 3.0
    offset_after_hours: int = 3
    offset_before_hours: int = 12
    #: faults against group peers (detectors/peer_faults.py): a sensor's hourly means over ``peer_hours`` against
    #: the median of at least ``peer_min_peers`` same-kind peers of its group. A drift: a trend ``peer_drift_t``
    #: standard errors from 0 moving at least ``peer_drift_min_fraction_of_range`` of the range; an offset: a
    #: step ``peer_offset_t`` standard errors from 0 and at least ``peer_offset_min_fraction_of_range`` of the
    #: range that fits better than a trend. Chosen on seed 7 of bench_detector_quality
    #: (docs/domain.md#what-the-fault-checks-miss)
    peer_enabled: bool = True
    peer_hours: int = 16
    #: while the group has kept fewer than ``peer_hours`` hours of a kind (after a deployment or a lost state), its
    #: window is as long as what it has kept, from this many hours
    peer_min_hours: int = 9
    peer_min_peers: int = 2
    peer_drift_t: float = 12.0
    peer_drift_min_fraction_of_range: float = 0.001
    peer_offset_t: float = 15.0
    peer_offset_min_fraction_of_range: float = 0.001
    #: kinds compared with their peers: not those whose lone slow rise is itself an incident (methane, crack
    #: width, deflection, gas pressure) or driven by demand, pumps, tanks and weather differently at each sensor
    #: (flows, water pressure, rain, ponding)
    peer_kinds: frozenset[SensorKind] = frozenset({
        SensorKind.MANHOLE_LEVEL, SensorKind.WELL_TEMPERATURE, SensorKind.COVER_TILT, SensorKind.NOISE_LEVEL,
        SensorKind.STRAIN,
    })  # fmt: skip
    #: kinds whose physical minimum is a normal resting value (rain 0 mm/h, no ponding, no methane)
    floor_kinds: frozenset[SensorKind] = frozenset({
        SensorKind.RAIN, SensorKind.PONDING_DEPTH, SensorKind.CH4_LEL, SensorKind.MANHOLE_LEVEL,
        SensorKind.SEWER_FLOW, SensorKind.GAS_FLOW, SensorKind.WATER_FLOW, SensorKind.COVER_TILT,
        SensorKind.CRACK_WIDTH,
    })  # fmt: skip
    #: kinds whose one-reading level steps are physical and common (pumps and valves switching, bursts,
    #: station ruptures, rain bursts), so no offset-step fault
    step_physical_kinds: frozenset[SensorKind] = frozenset({
        SensorKind.WATER_PRESSURE, SensorKind.WATER_FLOW, SensorKind.GAS_PRESSURE, SensorKind.GAS_FLOW,
        SensorKind.RAIN, SensorKind.PONDING_DEPTH, SensorKind.SEWER_FLOW, SensorKind.ACCELERATION,
    })  # fmt: skip

    #: kinds whose one-sample excursions are physical (rain intensity: a convective burst or a lull fills a single
    #: 5-minute interval between steadier ones), so no spike fault
    spike_physical_kinds: frozenset[SensorKind] = frozenset({SensorKind.RAIN})
    #: per sensor kind (``SensorKind`` value): the least distance, in the kind's unit, a sample must stand off the
    #: line through its neighbours to be a spike, within the instrument's accuracy (ponding gauges: ±1 cm, and a
    #: passing vehicle's wave moves the water that much; methane detectors: ±1 %LEL at best, and a well near
    #: 0 %LEL whose readings change by hundredths shows tenths of a point now and then); without an entry only
    #: the noise scale decides
    spike_min_change: dict[str, float] = field(default_factory=lambda: {"ponding_depth": 2.0, "ch4_lel": 0.5})

    def __post_init__(self) -> None:
        unknown = sorted(set(self.spike_min_change) - {k.value for k in SensorKind})
        if unknown:
            raise ValueError(f"faults.spike_min_change: unknown sensor kind(s) {', '.join(unknown)}")
        if self.peer_hours < 9:
            raise ValueError(f"faults.peer_hours must be at least 9 (an offset needs 4 hours on each side of its "
                             f"step), got {self.peer_hours}")  # fmt: skip
        if not 9 <= self.peer_min_hours <= self.peer_hours:
            raise ValueError(f"faults.peer_min_hours must be from 9 to peer_hours ({self.peer_hours}), "
                             f"got {self.peer_min_hours}")  # fmt: skip
        if self.peer_min_peers < 1:
            raise ValueError(f"faults.peer_min_peers must be at least 1, got {self.peer_min_peers}")


@dataclass(frozen=True)
class WindowRules:
    """Tumbling window lengths on event time."""

    subminute_window_s: int = 60
    default_window_s: int = 600
    per_kind_s: dict[str, int] = field(default_factory=dict)
    #: sensors placed in a hydraulic network (the registry's ``network`` column): the DMA leak detector's step
    network_window_s: int = 300

    def window_s(self, spec: SensorSpec) -> int:
        """Window length for one sensor: per-kind override, 60 s for sub-minute channels, the larger of one
        reporting interval and ``network_window_s`` for a sensor of a hydraulic network (``network`` column),
        else the larger of one reporting interval and 10 min.

        >>> from lifeline.models import SensorKind, SensorSpec
        >>> WindowRules().window_s(SensorSpec("s", SensorKind.STRAIN, "a", "o", "d", 0, 0, interval_s=0.1))
        60
        >>> WindowRules().window_s(SensorSpec("s", SensorKind.CH4_LEL, "a", "o", "d", 0, 0, interval_s=900))
        900
        """
        if spec.kind.value in self.per_kind_s:
            return int(self.per_kind_s[spec.kind.value])
        if spec.interval_s < 60.0:
            return self.subminute_window_s
        if spec.network:
            return max(self.network_window_s, round(spec.interval_s))
        return max(self.default_window_s, round(spec.interval_s))


@dataclass(frozen=True)
class AlarmRules:
    """Alarm state machine and finding emission."""

    #: findings are ordered and evaluated only up to ``watermark - settle_delay_ms``
    settle_delay_ms: int = 60_000
    #: the lower tier must hold this long before a de-escalation
    deescalate_hold_s: float = 900.0
    #: no supporting finding for this long → cleared (at least ``quiet_intervals`` reporting intervals)
    clear_quiet_s: float = 1800.0
    quiet_intervals: float = 2.5
    #: an active sensor-level condition is re-reported at least this often
    finding_refresh_s: float = 300.0
    #: two sensors' findings corroborate each other when they are at most this far apart
    corroboration_window_s: float = 1800.0
    #: samples a condition must hold before a sensor suggests tier 2 or 1
    persistence_samples: int = 2
    alert_id_length: int = 16


@dataclass(frozen=True)
class AnomalyRules:
    """The per-sensor learned baseline (:mod:`lifeline.detectors.sensor_baseline`) and its calibrated threshold.

    ``[rules.anomaly]`` in the settings file (or ``[anomaly]`` in a rules file) overrides any field, e.g.
    ``false_alarms_per_day_by_kind = {water_pressure = 0.02}``.
    """

    #: live flow: score every closed window of every sensor (``false``: rules and faults only)
    enabled: bool = True
    #: kinds without a learned baseline: weather-driven ones, whose excursions are the storms the drainage
    #: rules grade (an anomaly there would only repeat them, and corroborate them a tier too high), and
    #: operating states (a pump start is an operation, not an anomaly)
    skip_kinds: tuple[str, ...] = ("rain", "manhole_level", "sewer_flow", "ponding_depth", "pump_state", "valve_state")
    #: target false alarms per sensor-day on normal data; sets the per-window tail probability
    false_alarms_per_day: float = 0.01
    #: per sensor kind (``SensorKind`` value) override of ``false_alarms_per_day``
    false_alarms_per_day_by_kind: dict[str, float] = field(default_factory=dict)
    #: windows learned before any score (lifeline detect: rows), and at least this many hours of them
    #: (one daily cycle, so range novelty does not flag the first pass through the day) ...
    warmup_windows: int = 100
    warmup_hours: float = 24.0
    #: ... but never more than this many windows for the hours' sake: a day of 1-s rows (a test rig's log in
    #: ``lifeline detect``) would be 86,400 windows, and a shorter recording got no score at all. 750 is NAB's
    #: cap on the rows a streaming detector learns before it is judged; live windows are 60 s or longer, so
    #: only sensors with windows under 115 s warm up for less than a day (12.5 h for 60-s windows)
    warmup_max_windows: int = 750
    #: hours per seasonal slot (24 must divide by it); slots = 24 / slot_hours × (weekday, weekend)
    slot_hours: int = 1
    #: a slot scores once it has learned this many windows, and windows of at least this many days
    min_slot_windows: int = 3
    min_slot_days: float = 7.0
    #: the slot view counts a change once it has lasted this many windows (1..3)
    slot_persist_windows: int = 3
    #: on the first day of a day type (Monday, Saturday) a window may also match the other day type's slot:
    #: tanks and reservoirs carry the day before into the morning (docs/domain.md#anomaly-alerts-on-the-water-networks)
    transition_days: bool = True
    #: an anomaly that began at the same local time (± ``recurring_tol_s``) on at least ``recurring_min_days`` of
    #: the last ``recurring_days`` days of its day type is the sensor's schedule: its condition opens no alert
    #: (detectors/recurring_anomalies.py; the numbers of the water rules' scheduled drops); 0 days turns it off
    recurring_days: int = 3
    recurring_min_days: int = 2
    recurring_tol_s: float = 1200.0
    #: EW weight of a slot update (at least 1/n while the slot is young)
    slot_alpha: float = 0.1
    #: EW weight of the sensor's pooled residual spread around its slots (the slot z's denominator)
    residual_alpha: float = 0.005
    #: days of a slot's windows that the slot's own spread remembers (EW); the slot view divides by the
    #: larger of the pooled spread and the slot's own, so an hour whose level varies more from day to day
    #: (a pump or a tank that switches at a different time each day) gets a wider band; 0 turns it off
    slot_spread_days: float = 7.0
    #: a window beyond this slot z is anomalous for learning: its innovation is clipped here ...
    gate_z: float = 3.0
    #: ... and it moves its slot with this fraction of the usual weight
    gate_weight: float = 0.05
    #: the slot view counts in full when the level's std is at least this many times the spread around
    #: the slots (a daily pattern), not at all at or below ``seasonal_gain_none`` (linear in between)
    seasonal_gain_full: float = 4.0
    seasonal_gain_none: float = 2.0
    #: a slot's spread is at least this fraction of the level's standard deviation
    slot_floor_of_level: float = 0.05
    #: EW weight of the level's mean and variance; Huber constant of its updates
    value_alpha: float = 0.002
    clip_z: float = 4.0
    min_rel_std: float = 1e-3
    min_abs_std: float = 1e-6
    #: range novelty: an excess of novelty_scale × learned range scores ≈ 0.63
    novelty_scale: float = 0.05
    #: bound of range novelty by the record probability of a range learned from n windows: the excess of a
    #: record decays as exp(-novelty_record_decay · ln n · excess / range); 0 turns the bound off
    novelty_record_decay: float = 4.0
    #: ... and it loosens in proportion to n beyond this many windows (a mature range bounds less)
    novelty_record_mature: int = 350
    #: windows in the short-term mean of raw scores, and the EW weight of its long-term distribution
    short_window: int = 10
    long_alpha: float = 0.01
    #: weight of the short-versus-long likelihood of raw scores in ``score`` (0 leaves it out): below 1 it ranks
    #: under the onsets of the views it follows (NAB's tune half, standard: 1.0 → 59.2, 0.6 → 65.2, 0 → 60.3)
    likelihood_weight: float = 0.6
    #: weights of the level z, range novelty and slot z views in the raw score
    weights: tuple[float, float, float] = (0.3, 1.0, 1.0)
    #: weight of the shift view (a two-sided CUSUM of the window's z, scaled for its lag-1 autocorrelation): a
    #: small change that lasts adds up window by window where no single window is anomalous; 0 turns it off
    shift_weight: float = 1.0
    #: the CUSUM's reference value in units of the (autocorrelation-scaled) z: shifts above about twice it add up
    shift_k: float = 0.5
    #: repeats of an ongoing anomaly below the decaying recent peak (``suppress`` windows) score × damp
    suppress: int = 300
    damp: float = 0.5
    #: a score above that peak is an onset (in full) only if the previous window's raw score was below
    #: ``rearm_ratio`` × it; else it continues a rising anomaly and is damped too (0 turns this off)
    rearm_ratio: float = 0.8
    #: calibration: step of the online 99 % / 99.9 % quantiles of past scores, bounds of the tail slope
    calib_step: float = 0.01
    #: flagged windows in a row that still feed the calibration (the rest of a run is an anomaly, not noise)
    calib_max_run: int = 2
    calib_min_ratio: float = 0.75
    calib_max_ratio: float = 3.0
    #: local time of the slots (China Standard Time)
    utc_offset_h: float = 8.0
    #: an ``anomaly`` alert opens once a sensor's anomaly has lasted this long (an on-delay, as alarm management
    #: uses against fleeting alarms); the finding corroborates rule alerts of its group from its first window
    alert_after_s: float = 900.0
    #: per-sensor anomalies of at least this many sensors of a group that no alert holds yet open one alert of
    #: the group, which later ones join while it is active (a network-wide pressure rise is one alert, not one
    #: per logger); 0 turns this off
    common_mode_sensors: int = 2

    def __post_init__(self) -> None:
        if self.slot_hours < 1 or 24 % self.slot_hours:
            raise ValueError(f"anomaly.slot_hours must divide 24, got {self.slot_hours}")
        if self.warmup_windows < 0 or self.warmup_max_windows < 0:
            raise ValueError(f"anomaly.warmup_windows and warmup_max_windows must be >= 0, got "
                             f"{self.warmup_windows} and {self.warmup_max_windows}")  # fmt: skip
        if self.shift_weight > 0.0 and self.shift_k <= 0.0:
            raise ValueError(f"anomaly.shift_k must be > 0 while the shift view is on, got {self.shift_k}")


@dataclass(frozen=True)
class GroupAnomalyRules:
    """docs/domain.md#group-anomaly-model: the multivariate model of each group (``[rules.group_anomaly]``).

    A group's sensors are compared slot by slot (``slot_s``) with their own seasonal profile and with
    each other (each sensor's deviation predicted from its peers'); the smoothed joint score is
    thresholded at the level that gives ``target_alarms_per_group_day`` exceedances on normal data.
    """

    enabled: bool = True
    #: the group model's time step; windows of a sensor are averaged into it (window lengths must divide it)
    slot_s: int = 600
    #: a slot is scored once the group stage's watermark has passed its end by this long, so every
    #: member's window has arrived (must exceed the longest member interval plus the sweep interval)
    settle_s: int = 1200
    #: target rate of exceeding slots on normal data, per group and day (the calibration target)
    target_alarms_per_group_day: float = 0.05
    #: smoothing of the multivariate EWMA score (0 < λ ≤ 1; smaller finds smaller, longer shifts)
    ewma_lambda: float = 0.2
    #: forgetting rate of the scales, the peer regressions and the score calibration, per slot
    learn_alpha: float = 0.01
    #: forgetting rate of the score calibration (its mean and variance), per slot: slower, so the tail is stable
    calibration_alpha: float = 0.002
    #: forgetting rate of the seasonal profile, per visit of a profile bin
    profile_alpha: float = 0.1
    #: bins of the time-of-day profile (local time, ``local_utc_offset_h``)
    profile_bins_per_day: int = 48
    #: slots learned before the model scores (warm start provides them from history)
    min_learn_slots: int = 288
    #: consecutive anomalous slots after which the model learns again (a change that stays is the new normal)
    max_frozen_slots: int = 432
    #: groups with fewer eligible sensors have no group model; larger groups use their first ``max_sensors``
    min_sensors: int = 2
    max_sensors: int = 24
    #: a sensor "moved" (named in the alert) when its smoothed standardised deviation is at least this
    moved_z: float = 1.5
    #: kinds at rest most of the time or driven by weather: no Gaussian group model
    exclude_kinds: frozenset[SensorKind] = frozenset({
        SensorKind.RAIN, SensorKind.PONDING_DEPTH, SensorKind.CH4_LEL, SensorKind.COVER_TILT,
        SensorKind.MANHOLE_LEVEL, SensorKind.SEWER_FLOW,
    })  # fmt: skip
    #: anomaly evidence on at least this many sensors of a group raises a rule alert by one tier
    corroboration_min_sensors: int = 2


@dataclass(frozen=True, kw_only=True)
class LeakConfig:
    """Parameters of the DMA leak detector (``detectors/hydraulic.py``; defaults chosen on seed 1 of the hydraulic
    scenarios; ``[rules.leak]``). The flow uses the rules' ``local_utc_offset_h``, not this one."""

    local_utc_offset_h: float = 8.0
    #: the flow sets these from the rules' ``holidays`` and ``workdays``
    holidays: tuple[str, ...] = ()
    workdays: tuple[str, ...] = ()
    slot_days: int = 7
    learn_days: float = 3.0
    step_window: int = 3
    reference_steps: int = 12
    burst_z: float = 4.0
    solo_z: float = 6.0
    #: a burst on the loggers alone: the pressure statistic at least this (it is computed only on windows without a
    #: pump or valve switching), the consumption step at least ``pressure_solo_min_flow_z`` robust sigmas (a burst
    #: never lowers the consumption, but a small one sits in its noise, so only a clear fall speaks against it)
    pressure_solo_z: float = 8.0
    pressure_solo_min_flow_z: float = -1.0
    #: what recurs daily is an operation (a scheduled valve, a tank's daily refill), not a burst: when the pressure
    #: statistic reached ``recurring_min_z`` around the same time (± ``recurring_steps``) on the previous
    #: ``recurring_days`` days, only its excess over that day-time high counts; 0 days turns this off
    recurring_days: int = 3
    recurring_steps: int = 3
    recurring_min_z: float = 3.0
    burst_persistence: int = 2
    burst_hold_h: float = 24.0
    night_start_h: int = 2
    night_end_h: int = 4
    night_days: int = 14
    night_quantile: float = 0.25
    night_z: float = 3.0
    night_min_m3h: float = 0.5
    night_open: int = 2
    night_close: int = 2
    #: further standing background-leak alerts a DMA may hold on top of its first (a safety bound on its state, not
    #: tuned; at 3 a year-long run's DMA held four alerts of leaks unrepaired for months and found no leak for nine
    #: months, docs/domain.md#a-year-of-leaks)
    further_leaks_max: int = 10
    #: the flow feeds a step once its watermark is this far past the step's end (a window closes at the sensor's
    #: next reading, up to one interval later; the rest is slack for readings that arrive late in a live tail)
    settle_s: int = 600
    #: a sensor without a window keeps its last mean for this many steps; then the step is a gap
    fill_steps: int = 12


@dataclass(frozen=True)
class RulesConfig:
    """Every rule parameter, with the defaults of docs/domain.md. Frozen; build a new one to change it."""

    gas: GasRules = field(default_factory=GasRules)
    water: WaterRules = field(default_factory=WaterRules)
    drainage: DrainageRules = field(default_factory=DrainageRules)
    bridge: BridgeRules = field(default_factory=BridgeRules)
    faults: FaultRules = field(default_factory=FaultRules)
    windows: WindowRules = field(default_factory=WindowRules)
    alarm: AlarmRules = field(default_factory=AlarmRules)
    anomaly: AnomalyRules = field(default_factory=AnomalyRules)
    group_anomaly: GroupAnomalyRules = field(default_factory=GroupAnomalyRules)
    leak: LeakConfig = field(default_factory=LeakConfig)
    #: China Standard Time: night-minimum-flow hours are local
    local_utc_offset_h: float = 8.0
    #: public holidays (rest days, like a weekend) and the weekend days worked in their place, as YYYY-MM-DD
    #: local dates: the learned baselines and the DMA leak detector judge a day by its day type
    #: (docs/domain.md#rest-days-and-holidays)
    holidays: tuple[str, ...] = ()
    workdays: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        RestDays.parse(self.holidays, self.workdays)  # every bad date at once, now rather than at the first window

    @property
    def rest_days(self) -> RestDays:
        """The calendar of ``holidays`` and ``workdays``."""
        return RestDays.parse(self.holidays, self.workdays)


def _coerce(current: Any, value: Any, where: str) -> Any:
    if isinstance(current, bool) or current is None:
        return value
    if isinstance(current, float) and isinstance(value, int | float):
        return float(value)
    if isinstance(current, int) and isinstance(value, int):
        return value
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(current, frozenset) and isinstance(value, list):
        return frozenset(SensorKind(v) for v in value)
    if isinstance(current, dict) and isinstance(value, dict):
        return dict(value)
    if isinstance(current, str) and isinstance(value, str):
        return value
    raise ValueError(f"{where}: {value!r} does not fit the type of the default {current!r}")


def _override(obj: Any, data: dict[str, Any], where: str) -> Any:
    changes: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in data.items():
        if key not in names:
            raise ValueError(f"{where}.{key}: unknown setting; known: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[key] = _override(current, value, f"{where}.{key}")
        else:
            changes[key] = _coerce(current, value, f"{where}.{key}")
    return dataclasses.replace(obj, **changes)


def rules_from_table(data: dict[str, Any], where: str, base: RulesConfig | None = None) -> RulesConfig:
    """``base`` (default: the documented defaults) with every key of ``data`` overriding its match.

    ``data`` is laid out like :class:`RulesConfig` (``{"gas": {"lel_t1": 45.0}}``); an unknown key or
    a value of the wrong type raises :class:`~lifeline.exceptions.SettingsError` naming it (``where``).
    """
    try:
        config: RulesConfig = _override(base or RulesConfig(), data, where)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    return config


def load_rules_config(path: str | Path, base: RulesConfig | None = None) -> RulesConfig:
    """Read a rules TOML file; every key overrides the matching default, unknown keys are errors."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))  # -sig: a byte-order mark is no error
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"rules file {path} cannot be read as TOML: {exc}") from None
    return rules_from_table(data, str(path), base)


def threshold(spec: SensorSpec, name: str, default: float) -> float:
    """A rule parameter for one sensor: the registry's ``thresholds[name]`` if set, else ``default``.

    >>> from lifeline.models import SensorKind, SensorSpec
    >>> spec = SensorSpec("s", SensorKind.CH4_LEL, "a", "o", "d", 0, 0, thresholds={"t1": 40.0})
    >>> threshold(spec, "t1", 50.0), threshold(spec, "t2", 25.0)
    (40.0, 25.0)
    """
    return float(spec.thresholds.get(name, default))


def tier_thresholds(spec: SensorSpec, t3: float, t2: float, t1: float) -> dict[str, float]:
    """The three tier thresholds ``t3``/``t2``/``t1`` of a sensor: the registry's if set, else these defaults.

    >>> from lifeline.models import SensorKind, SensorSpec
    >>> spec = SensorSpec("s", SensorKind.CH4_LEL, "a", "o", "d", 0, 0, thresholds={"t1": 40.0})
    >>> tier_thresholds(spec, 5.0, 25.0, 50.0)
    {'t3': 5.0, 't2': 25.0, 't1': 40.0}
    """
    return {"t3": threshold(spec, "t3", t3), "t2": threshold(spec, "t2", t2), "t1": threshold(spec, "t1", t1)}
