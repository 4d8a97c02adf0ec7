"""The learned baseline in the live flow: score then learn each closed window, report ``anomaly`` findings.

Called by :class:`~lifeline.detectors.engine.Detectors` once per closed window (never per reading).
A window that is anomalous against the sensor's :class:`~lifeline.detectors.sensor_baseline.SensorBaseline`
raises a tier-3 finding of kind :attr:`AlertKind.ANOMALY` (rule ``anomaly.sensor.<feature>``) with the
expected range, the observed value, the slot and the score in words; the first normal window after it
ends the condition (a finding with ``tier=None``). A sensor in a fault condition (any active fault bit,
or a spike inside the window) is neither scored nor learned from, and its active anomaly ends: sensor
faults never become anomaly findings. Kinds in ``anomaly.skip_kinds`` have no baseline, and neither has a
flow meter on a pump's or valve's link (:data:`OPERATED_LINK`) or on a tank's pipe: its level is the
operations', which the pump or valve state reports (a pump run at an unusual hour is an operation, not an
anomaly), and a tank's level keeps its own baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind

from .results import Finding, WindowStats
from .rulebase import SensorProfile, report
from .sensor_baseline import BaselineScore, SensorBaseline, new_baseline
from .state import SensorState
from .water import TANK_METER

__all__ = ["FAMILY", "OPERATED_LINK", "baseline_findings", "evidence_text", "has_baseline"]

#: the condition family of the learned-baseline findings in ``SensorState.emitted``
FAMILY = "anomaly.sensor"
#: profile flag of a flow meter on a link whose pump or valve state the registry also has
OPERATED_LINK = "operated_link"
#: flow meters whose level the operations set: on a pump's or valve's link, on a tank's pipe (it fills while the
#: pumps run and drains while they rest; the tank's level keeps its baseline)
_OPERATED = frozenset({OPERATED_LINK, TANK_METER})
_T3 = 3


def evidence_text(verdict: BaselineScore, unit: str = "") -> str:
    """Words for a scored window: observed vs expected range, the slot, the feature, z and score; when range
    novelty gave the score, the learned range it lies beyond; when the shift view flagged it, how far the window
    means have stood off their expected level of late.

    >>> v = BaselineScore(0.71, -6.2, 3.55, 3.72, 3.41, "mean", "weekday 02:00-03:00", True)
    >>> evidence_text(v, "bar")
    'window mean 3.41 bar outside the expected 3.55..3.72 bar for weekday 02:00-03:00 (z -6.2, score 0.71)'
    >>> evidence_text(v._replace(view="novelty", range_lo=3.6, range_hi=4.1), "bar")
    'window mean 3.41 bar below the learned range 3.6..4.1 bar (range novelty; z -6.2, score 0.71)'
    >>> text = evidence_text(v._replace(view="shift", shift=-0.052, observed=3.6, z=-1.2), "bar")
    >>> text.split("; ")[0]
    'window means 0.052 bar below the expected level of late, a lasting shift'
    >>> text.split("; ")[1]
    'this window 3.6 bar against 3.55..3.72 bar for weekday 02:00-03:00 (z -1.2, score 0.71)'
    """
    u = f" {unit}" if unit else ""
    if verdict.view == "shift":
        side = "below" if verdict.shift < 0 else "above"
        return (
            f"window {verdict.feature}s {abs(verdict.shift):.4g}{u} {side} the expected level of late, a lasting "
            f"shift; this window {verdict.observed:.4g}{u} against {verdict.expected_lo:.4g}..{verdict.expected_hi:.4g}"
            f"{u} for {verdict.slot} (z {verdict.z:+.1f}, score {verdict.score:.2f})"
        ).replace("z +", "z ")
    if verdict.view == "novelty":
        side = "below" if verdict.observed < verdict.range_lo else "above"
        return (
            f"window {verdict.feature} {verdict.observed:.4g}{u} {side} the learned range "
            f"{verdict.range_lo:.4g}..{verdict.range_hi:.4g}{u} (range novelty; z {verdict.z:+.1f}, "
            f"score {verdict.score:.2f})"
        ).replace("z +", "z ")
    place = "outside" if not verdict.expected_lo <= verdict.observed <= verdict.expected_hi else "within"
    return (
        f"window {verdict.feature} {verdict.observed:.4g}{u} {place} the expected "
        f"{verdict.expected_lo:.4g}..{verdict.expected_hi:.4g}{u} for {verdict.slot} "
        f"(z {verdict.z:+.1f}, score {verdict.score:.2f})"
    ).replace("z +", "z ")


def has_baseline(prof: SensorProfile[Any]) -> bool:
    """Whether the sensor has a learned baseline (not a skipped kind, not a meter on an operated link)."""
    return prof.kind.value not in prof.config.anomaly.skip_kinds and not prof.flags & _OPERATED


def _model(prof: SensorProfile[Any], st: SensorState) -> SensorBaseline:
    model = st.anomaly_model
    if model is None:
        model = st.anomaly_model = new_baseline(
            config=prof.config.anomaly, window_s=prof.window_ms // 1000, kind=prof.kind.value
        )
    return model  # type: ignore[no-any-return]


def warm_baseline(prof: SensorProfile[Any], st: SensorState, rows: Sequence[WindowStats]) -> int:
    """Teach the sensor's learned baseline historical windows (oldest first) without reporting; return how many.

    Only windows of the sensor's own length with readings count (``sensor_stats`` rows, see flows/warm.py).
    """
    if not has_baseline(prof):
        return 0
    own = [w for w in rows if w.window_s == prof.window_ms // 1000 and w.count > 0]
    model = _model(prof, st)
    rest_days = prof.config.rest_days
    for w in own:
        model.learn_window(w, rest_days)
    return len(own)


def baseline_findings(
    prof: SensorProfile[Any], st: SensorState, stats: list[WindowStats], decided: npt.NDArray[np.int64],
    out: list[Finding],
) -> None:  # fmt: skip
    """Score then learn each closed window in ``stats``; append the findings to ``out``.

    ``decided`` holds the event times that closed the windows (or the watermark); a finding is stamped
    with the first of them at or after the window's end, never back-dated behind what was reported.
    """
    if not has_baseline(prof):
        return
    model = _model(prof, st)
    rest_days = prof.config.rest_days
    last = decided.shape[0] - 1
    for w in stats:
        end = w.window_start + prof.window_ms
        at = int(decided.searchsorted(end)) if last else 0
        ts = max(decided.item(at if at <= last else last), end)
        if st.faults or st.spike_ts >= w.window_start:
            if FAMILY in st.emitted:
                report(prof, st, FAMILY, 0, AlertKind.ANOMALY, "", ts, w.mean, 0.0,
                       lambda: "sensor fault: the learned baseline is paused", out)  # fmt: skip
            continue
        # a normal window with no anomaly on needs no verdict: nothing to start, change or end (what report decides)
        verdict = model.score_and_learn(w, rest_days=rest_days, anomalous_only=FAMILY not in st.emitted)
        if verdict is None:
            continue
        tier = _T3 if verdict.is_anomaly else 0
        report(prof, st, FAMILY, tier, AlertKind.ANOMALY, f"{FAMILY}.{verdict.feature}", ts, verdict.observed,
               verdict.score, partial(evidence_text, verdict, prof.kind.unit), out)  # fmt: skip
