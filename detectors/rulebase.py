"""Shared pieces of the sensor-level rules: typed rule parameters (one frozen dataclass per kind, built
on :class:`TierParams` / :class:`StepParams`), the compiled per-sensor profile, the persistence counters
(:func:`persist`, :func:`persistent_tier`) and the finding emitter (report a condition when it starts,
changes or ends, and refresh it while on).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from math import isnan
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier

from .config import RulesConfig
from .results import Finding
from .state import SensorState

__all__ = [
    "AUX_KIND", "KindRule", "QuietFn", "RuleFn", "RuleParams", "SensorProfile", "StepParams", "TierParams",
    "lookback_ms", "persist", "persistent_tier", "report", "step_hold_ms", "tier_score",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class RuleParams:
    """A kind's resolved rule parameters (registry thresholds over the defaults); each kind subclasses it."""


@dataclass(frozen=True, slots=True)
class TierParams(RuleParams):
    """The three graded bounds of a rule: tier 3 (lowest), tier 2 and tier 1 (most severe)."""

    t3: float
    t2: float
    t1: float


@dataclass(frozen=True, slots=True)
class StepParams(RuleParams):
    """A level-step rule: how far back the pre-event level is taken, and how long a step is held."""

    lookback_ms: float
    hold_ms: float


def lookback_ms(spec: SensorSpec, window_s: float) -> float:
    """The look-back for a pre-event level: ``window_s``, but at least 1.5 reporting intervals."""
    return max(window_s * 1000.0, 1.5 * spec.interval_s * 1000.0)


def step_hold_ms(cfg: RulesConfig) -> float:
    """How long a level step (burst, surge) is tracked at most before it is taken as the new level."""
    return cfg.water.step_max_hold_s * 1000.0


P = TypeVar("P", bound=RuleParams)

#: a kind's rule, called once per reading after the generic fault checks
RuleFn = Callable[["SensorProfile[P]", SensorState, int, float, list[Finding]], None]

#: a kind's vectorised "nothing to do here" screen over an array of values
QuietFn = Callable[["SensorProfile[P]", SensorState, npt.NDArray[np.float64]], bool]

#: auxiliary array layout: [0, AUX_KIND) the ring of hourly means for the drift check, then the kind's own slots
AUX_DRIFT_HOURS = 24
AUX_KIND = AUX_DRIFT_HOURS


@dataclass(frozen=True, slots=True)
class KindRule(Generic[P]):
    """A sensor kind's rule: the per-reading function, its parameter resolver and aux slots."""

    fn: RuleFn[P]
    params: Callable[[SensorSpec, RulesConfig], P]
    aux_size: int = 0
    #: vectorised screen: ``True`` when the rule has nothing to do for these values (bulk path allowed)
    quiet: QuietFn[P] | None = None


_TIERS = (None, Tier.T1, Tier.T2, Tier.T3)
_TIER_BASE_SCORE = (0.0, 0.9, 0.7, 0.4)


@dataclass(slots=True)
class SensorProfile(Generic[P]):
    """One sensor's registry entry compiled with the rules configuration (built once, cached)."""

    spec: SensorSpec
    config: RulesConfig
    kind: SensorKind
    group_key: str
    window_ms: int
    interval_ms: int
    silence_ms: int
    refresh_ms: int
    vmin: float
    vmax: float
    sat_eps: float
    noise_floor: float
    rests_at_floor: bool
    step_physical: bool
    persistence: int
    #: resolved parameters of this sensor's rule (registry thresholds over defaults)
    p: P
    #: word flags from the asset kind (sewer well, valve well, ...)
    flags: frozenset[str] = frozenset()
    rule: RuleFn[P] | None = None
    quiet: QuietFn[P] | None = None
    aux_size: int = 0
    #: no supporting finding for this long → the alert clears
    quiet_ms: int = 1_800_000
    #: the least distance off its neighbours' line that makes a sample a spike (``inf``: no spike check)
    spike_min: float = 0.0

    @property
    def sensor_id(self) -> str:
        """The sensor id."""
        return self.spec.sensor_id


def _run(on: bool, count: int, since: int, ts: int) -> tuple[int, int]:
    """One persistence counter: (consecutive samples with the condition on, when that run started)."""
    if not on:
        return 0, -1
    return count + 1, ts if count == 0 else since


def persist(st: SensorState, level: int, ts: int) -> None:
    """Update the consecutive-sample counters for a raw condition level (0 none, 3/2/1 = T3/T2/T1).

    A level counts for its own tier and every lower one (a T1 sample is also a T2 and a T3 sample).

    >>> st = SensorState("s")
    >>> persist(st, 2, 1000); persist(st, 3, 2000)
    >>> (st.run_t3, st.run_t2, st.run_t1, st.run_t3_since)
    (2, 0, 0, 1000)
    """
    on = level > 0
    st.run_t3, st.run_t3_since = _run(on and level <= 3, st.run_t3, st.run_t3_since, ts)
    st.run_t2, st.run_t2_since = _run(on and level <= 2, st.run_t2, st.run_t2_since, ts)
    st.run_t1, st.run_t1_since = _run(level == 1, st.run_t1, st.run_t1_since, ts)


def persistent_tier(prof: SensorProfile[Any], st: SensorState, ts: int, min_duration_ms: float = 0.0) -> int:
    """The most severe tier whose run has lasted ``persistence`` samples and ``min_duration_ms``; 0 if none."""
    need = prof.persistence
    if st.run_t1 >= need and ts - st.run_t1_since >= min_duration_ms:
        return 1
    if st.run_t2 >= need and ts - st.run_t2_since >= min_duration_ms:
        return 2
    if st.run_t3 >= need and ts - st.run_t3_since >= min_duration_ms:
        return 3
    return 0


def tier_score(tier: int, ratio: float = math.nan) -> float:
    """A score in [0, 1]: a base per tier raised by how far past the T1 bound the value is.

    >>> tier_score(3), tier_score(1, 1.2)
    (0.4, 1.0)
    """
    base = _TIER_BASE_SCORE[tier] if 0 < tier <= 3 else 0.0
    if not isnan(ratio):
        base = max(base, min(1.0, ratio))
    return min(1.0, max(0.0, base))


def report(
    prof: SensorProfile[Any],
    st: SensorState,
    family: str,
    tier: int,
    kind: AlertKind,
    rule: str,
    ts: int,
    value: float,
    score: float,
    evidence: Callable[[], str],
    out: list[Finding],
    change: float | None = None,
) -> None:
    """Emit a finding for a condition ``family`` when it starts, changes tier or rule, ends
    (``tier`` 0 → a finding with ``tier=None``), or has not been reported for ``refresh_ms``.

    ``evidence`` is only called when a finding is emitted (no string work on the quiet path); ``change`` is the
    sensor's move against the rule's reference level (:attr:`Finding.change`).
    """
    previous = st.emitted.get(family)
    spec = prof.spec
    if tier == 0:
        if previous is None:
            return
        del st.emitted[family]
        out.append(
            Finding(
                spec.sensor_id,
                spec.asset_id,
                prof.group_key,
                kind,
                None,
                ts,
                value,
                0.0,
                f"condition ended: {evidence()}",
                previous[2],
            )
        )
        return
    if previous is not None and previous[0] == tier and previous[2] == rule and ts - previous[1] < prof.refresh_ms:
        return
    st.emitted[family] = (tier, ts, rule)
    out.append(
        Finding(
            spec.sensor_id,
            spec.asset_id,
            prof.group_key,
            kind,
            _TIERS[tier],
            ts,
            value,
            min(1.0, max(0.0, score)),
            evidence(),
            rule,
            change,
        )
    )
