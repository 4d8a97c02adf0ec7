"""The group anomaly model: a change that moves several sensors of a group a little, found when no
single threshold is crossed (docs/domain.md#group-anomaly-model).

Per group (a DMA, a gas main and its wells, a bridge; :meth:`Detectors.group_of`) and per slot of
``slot_s`` seconds, each member's window means are averaged into one slot mean ``y_i``. Then, with the
model as learned from earlier slots only (score first, learn after — no look-ahead):

1. **seasonal deviation** ``d_i = y_i - profile_i[bin]`` against the member's own time-of-day profile,
   standardised by its running scale: ``z_i = d_i / σ_i``;
2. **cross-sensor residual** ``r_i = z_i - β_i · mean_{j≠i} z_j``: each member predicted from its peers
   with an online (exponentially forgetting) regression, so a swing the whole group shares (demand,
   temperature) leaves no residual; ``e_i = r_i / s_i``;
3. **common deviation** ``e_0 = mean_i z_i / s_0``: a shift of the whole group against its own seasonal
   profile (which the peer residuals cannot see);
4. **score**: the multivariate EWMA ``u ← (1-λ)·u + λ·e`` and ``T = Σ u² / (λ/(2-λ))`` (MEWMA), which
   accumulates small persistent shifts of several coordinates;
5. **threshold** (separate from the score): ``T`` is matched to ``c·χ²(ν)`` by its running mean and variance
   on normal slots (Satterthwaite), and the threshold is the ``1 - α`` quantile of that law, with
   ``α = target_alarms_per_group_day / slots_per_day`` (Wilson–Hilferty for the χ² quantile).

An exceeding slot freezes learning (a leak does not become the new normal) for at most
``max_frozen_slots``; it becomes one :class:`~lifeline.detectors.results.Finding` of kind ``anomaly``
(tier 3) per member that moved, stamped with the slot's release time, with readable evidence.

The dataflow forwards the closed windows of members as compact :class:`GroupWindow` rows to the group
stage, which calls :meth:`GroupModels.advance` behind its watermark: a slot is scored once the watermark
passed its end by ``settle_s``, so the result depends only on the input, not on partitions or workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import NormalDist

import msgspec
import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind, Tier
from lifeline.registry import Registry

from .config import GroupAnomalyRules, RulesConfig
from .results import Finding, WindowStats

__all__ = ["GROUP_RULE", "GroupModelState", "GroupModels", "GroupWindow", "chi2_quantile"]

#: the rule id of group-model findings (family ``anomaly.group``)
GROUP_RULE = "anomaly.group:mewma"
_MS_PER_DAY = 86_400_000
_EPS = 1e-9
_SETTLE = 48  # learned slots before the next learning stage starts (see GroupModels._learn)
_WINSOR = 25.0  # squares are clipped at 25 × the running variance (5 σ) once it exists


def _winsorised(
    square: npt.NDArray[np.float64], var: npt.NDArray[np.float64] | float, count: npt.NDArray[np.int32] | int
) -> npt.NDArray[np.float64]:
    """``square`` clipped at 5 σ of the running variance where that variance has ≥ 8 updates."""
    return np.where(np.asarray(count) >= 8, np.minimum(square, _WINSOR * np.asarray(var)), square)


class GroupWindow(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One closed window of a member of a multi-sensor group, as the group stage needs it."""

    sensor_id: str
    group_id: str
    window_start: int
    window_s: int
    count: int
    mean: float
    std: float


def chi2_quantile(p: float, dof: float) -> float:
    """The ``p`` quantile of a χ² law with ``dof`` degrees of freedom (Wilson–Hilferty approximation).

    >>> round(chi2_quantile(0.99, 10), 1)  # exact: 23.21
    23.2
    """
    z = NormalDist().inv_cdf(p)
    h = 2.0 / (9.0 * dof)
    return float(dof * max(1.0 - h + z * math.sqrt(h), 0.0) ** 3)


@dataclass
class GroupModelState:
    """What one group's model remembers (plain numbers and small arrays; pickles into snapshots).

    ``k`` members; per member: profile (bins), its visits, the deviation scale, the peer regression
    (covariance and variance of the peer mean), the residual scale, learned slots; the EWMA vector
    ``u`` (``k`` residuals + the common deviation) and the EWMA of each member's ``z`` (evidence).
    """

    group_id: str
    sensors: tuple[str, ...]
    profile: npt.NDArray[np.float64]  # bins × k
    visits: npt.NDArray[np.int32]  # bins × k
    dev_var: npt.NDArray[np.float64]  # k
    peer_cov: npt.NDArray[np.float64]  # k: E[z_i · m_i]
    peer_var: npt.NDArray[np.float64]  # k: E[m_i²]
    res_var: npt.NDArray[np.float64]  # k
    learned: npt.NDArray[np.int32]  # k: slots learned into the deviation scale
    fitted: npt.NDArray[np.int32]  # k: slots learned into the peer regression and residual scale
    u: npt.NDArray[np.float64]  # k + 1
    z_smooth: npt.NDArray[np.float64]  # k
    common_var: float = 1.0
    score_mean: float = 0.0
    score_var: float = 0.0
    fitted_slots: int = 0
    slots_learned: int = 0  # slots learned into the score calibration
    frozen: int = 0
    #: slot start (ms) → member index → window start → (mean, count); released behind the watermark
    pending: dict[int, dict[int, dict[int, tuple[float, int]]]] = field(default_factory=dict)
    #: start of the last slot scored (windows of it or earlier arriving now are late)
    scored_to: int = -1
    late_windows: int = 0
    flagged: tuple[int, ...] = ()  # members named in the last exceeding slot (ended when the score falls)


@dataclass(frozen=True, slots=True)
class SlotScore:
    """What scoring one slot found (before thresholding, and the threshold)."""

    score: float
    threshold: float
    scored: bool
    observed: npt.NDArray[np.float64]
    expected: npt.NDArray[np.float64]
    spread: npt.NDArray[np.float64]
    z_smooth: npt.NDArray[np.float64]
    u: npt.NDArray[np.float64]

    @property
    def anomalous(self) -> bool:
        """The score exceeds the calibrated threshold (only once the model scores)."""
        return self.scored and self.score > self.threshold


class GroupModels:
    """The group models of one registry: which sensors take part, and the per-slot logic."""

    def __init__(self, registry: Registry, config: RulesConfig, group_of: dict[str, str]) -> None:
        """``group_of``: sensor id → group id (as :meth:`Detectors.group_of`)."""
        self.config = config
        self.rules: GroupAnomalyRules = config.group_anomaly
        rules = self.rules
        slot_ms = rules.slot_s * 1000
        members: dict[str, list[str]] = {}
        for sensor_id in sorted(registry):
            spec = registry[sensor_id]
            window_ms = config.windows.window_s(spec) * 1000
            if spec.kind in rules.exclude_kinds or slot_ms % window_ms or spec.interval_s > rules.slot_s:
                continue
            members.setdefault(group_of[sensor_id], []).append(sensor_id)
        self.members: dict[str, tuple[str, ...]] = {
            g: tuple(ids[: rules.max_sensors])
            for g, ids in members.items()
            if len(ids) >= rules.min_sensors and rules.enabled
        }
        self._where: dict[str, tuple[str, int]] = {
            s: (g, i) for g, ids in self.members.items() for i, s in enumerate(ids)
        }
        self.slot_ms = slot_ms
        self.settle_ms = rules.settle_s * 1000
        slots_per_day = _MS_PER_DAY / slot_ms
        self.alpha = min(max(rules.target_alarms_per_group_day / slots_per_day, 1e-12), 0.5)
        self.bin_ms = _MS_PER_DAY // rules.profile_bins_per_day
        self.offset_ms = round(config.local_utc_offset_h * 3_600_000)

    # -- the dataflow side ---------------------------------------------------------------------

    def compact(self, stats: Iterable[WindowStats]) -> list[GroupWindow]:
        """The windows of group members among ``stats``, as compact rows for the group stage."""
        where = self._where
        out: list[GroupWindow] = []
        for w in stats:
            member = where.get(w.sensor_id)
            if member is not None:
                out.append(GroupWindow(w.sensor_id, member[0], w.window_start, w.window_s, w.count, w.mean, w.std))
        return out

    def new_state(self, group_id: str) -> GroupModelState:
        """Fresh model state of a group (``KeyError`` when the group has no model)."""
        k = len(self.members[group_id])
        bins = self.rules.profile_bins_per_day
        return GroupModelState(
            group_id=group_id,
            sensors=self.members[group_id],
            profile=np.zeros((bins, k)),
            visits=np.zeros((bins, k), dtype=np.int32),
            dev_var=np.zeros(k),
            peer_cov=np.zeros(k),
            peer_var=np.zeros(k),
            res_var=np.zeros(k),
            learned=np.zeros(k, dtype=np.int32),
            fitted=np.zeros(k, dtype=np.int32),
            u=np.zeros(k + 1),
            z_smooth=np.zeros(k),
        )

    def add(self, state: GroupModelState, windows: Iterable[GroupWindow]) -> None:
        """Buffer windows of this group's members (any arrival order; a repeated window counts once)."""
        index = {s: i for i, s in enumerate(state.sensors)}
        slot_ms = self.slot_ms
        for w in windows:
            i = index.get(w.sensor_id)
            if i is None or w.count <= 0 or not math.isfinite(w.mean):
                continue
            slot = w.window_start - w.window_start % slot_ms
            if slot <= state.scored_to:
                state.late_windows += 1
                continue
            state.pending.setdefault(slot, {}).setdefault(i, {})[w.window_start] = (w.mean, w.count)

    def due(self, state: GroupModelState) -> int | None:
        """The watermark at which :meth:`advance` next has a slot to score (``None``: nothing is buffered);
        below it, ``advance`` changes nothing and finds nothing."""
        if not state.pending:
            return None
        return min(state.pending) + self.slot_ms + self.settle_ms

    def advance(self, state: GroupModelState, watermark_ms: int, *, emit: bool = True) -> list[Finding]:
        """Score and learn every buffered slot whose end + ``settle_s`` is at or behind ``watermark_ms``,
        in slot order; return the findings (stamped with each slot's release time)."""
        findings: list[Finding] = []
        for slot in sorted(state.pending):
            release = slot + self.slot_ms + self.settle_ms
            if release > watermark_ms:
                break
            by_member = state.pending.pop(slot)
            observed = np.full(len(state.sensors), np.nan)
            for i, windows in by_member.items():
                total = sum(c for _m, c in windows.values())
                observed[i] = sum(m * c for m, c in windows.values()) / total
            result = self.step(state, slot, observed)
            state.scored_to = slot
            if emit:
                findings.extend(self._findings(state, slot, release, result))
        return findings

    def warm(self, state: GroupModelState, windows: Sequence[GroupWindow]) -> None:
        """Learn from historical windows (warm start): every slot they cover, no findings."""
        self.add(state, windows)
        if state.pending:
            self.advance(state, max(state.pending) + self.slot_ms + self.settle_ms, emit=False)

    # -- one slot ------------------------------------------------------------------------------

    def step(self, state: GroupModelState, slot_ms: int, observed: npt.NDArray[np.float64]) -> SlotScore:
        """Score one slot of observed member means (NaN = no data) with the model so far, then learn."""
        rules = self.rules
        lam = rules.ewma_lambda
        b = int(((slot_ms + self.offset_ms) % _MS_PER_DAY) // self.bin_ms)
        present = ~np.isnan(observed)
        known = present & (state.visits[b] > 0) & (state.learned >= 2)
        profile = state.profile[b]
        sigma = np.sqrt(np.maximum(state.dev_var, _EPS))
        z = np.where(known, (observed - profile) / sigma, 0.0)
        n_known = int(known.sum())
        peer_mean = np.where(known, (z.sum() - z) / max(n_known - 1, 1), 0.0) if n_known >= 2 else np.zeros_like(z)
        beta = state.peer_cov / np.maximum(state.peer_var, _EPS)
        residual = z - beta * peer_mean
        fit = known & (state.fitted >= _SETTLE)
        n_fit = int(fit.sum())
        e = np.zeros(len(state.sensors) + 1)
        e[:-1] = np.where(fit, residual / np.sqrt(np.maximum(state.res_var, _EPS)), 0.0)
        common = float(z[known].mean()) if n_known else 0.0
        use_common = n_fit >= 2 and state.fitted_slots >= _SETTLE
        e[-1] = common / math.sqrt(max(state.common_var, _EPS)) if use_common else 0.0
        coords = np.append(fit, use_common)
        u = np.where(coords, (1.0 - lam) * state.u + lam * e, state.u)
        score = float((u[coords] ** 2).sum() / (lam / (2.0 - lam))) if n_fit >= 2 else 0.0
        z_smooth = np.where(known, (1.0 - lam) * state.z_smooth + lam * z, state.z_smooth)
        threshold = self.threshold(state)
        scored = state.slots_learned >= rules.min_learn_slots and n_fit >= 2
        expected = profile + beta * peer_mean * sigma
        spread = 3.0 * np.sqrt(np.maximum(state.res_var, _EPS)) * sigma
        result = SlotScore(score, threshold, scored, observed, expected, spread, z_smooth, u)
        state.u, state.z_smooth = u, z_smooth
        if result.anomalous and state.frozen < rules.max_frozen_slots:
            state.frozen += 1
            self._calibrate(state, min(score, 2.0 * threshold))  # the tail counts (capped): no truncation bias
            return result
        state.frozen = 0
        self._learn(state, b, observed, present, known, z, peer_mean, residual, common, n_known, score)
        return result

    def threshold(self, state: GroupModelState) -> float:
        """The calibrated threshold: the ``1 - α`` quantile of ``c·χ²(ν)`` fitted to the normal scores."""
        mean, var = state.score_mean, state.score_var
        if mean <= _EPS or var <= _EPS:
            return math.inf
        scale = var / (2.0 * mean)
        dof = max(2.0 * mean * mean / var, 0.5)
        return scale * chi2_quantile(1.0 - self.alpha, dof)

    def _calibrate(self, state: GroupModelState, score: float) -> None:
        """Running mean and variance of the score on normal slots (anomalous ones count at the threshold)."""
        c = max(self.rules.calibration_alpha, 1.0 / (state.slots_learned + 1.0))
        state.score_var += c * ((score - state.score_mean) ** 2 - state.score_var)
        state.score_mean += c * (score - state.score_mean)
        state.slots_learned += 1

    def _learn(
        self, state: GroupModelState, b: int, observed: npt.NDArray[np.float64], present: npt.NDArray[np.bool_],
        known: npt.NDArray[np.bool_], z: npt.NDArray[np.float64], peer_mean: npt.NDArray[np.float64],
        residual: npt.NDArray[np.float64], common: float, n_known: int, score: float,
    ) -> None:  # fmt: skip
        """Learn in stages, each once the one below has settled: the profile and deviation scale of each
        member; then (after ``_SETTLE`` learned slots) the peer regression and residual scales; then
        (after ``_SETTLE`` more) the score calibration. Squares are winsorised at 5 σ once a scale exists."""
        rules = self.rules
        dev = observed - state.profile[b]
        alpha = np.maximum(rules.learn_alpha, 1.0 / (state.learned + 1.0))
        dev_sq = _winsorised(dev * dev, state.dev_var, state.learned)
        state.dev_var = state.dev_var + np.where(known, alpha, 0.0) * (dev_sq - state.dev_var)
        stage_b = known & (state.learned >= _SETTLE) & (n_known >= 2)
        fit_alpha = np.where(stage_b, np.maximum(rules.learn_alpha, 1.0 / (state.fitted + 1.0)), 0.0)
        state.peer_cov = state.peer_cov + fit_alpha * (z * peer_mean - state.peer_cov)
        state.peer_var = state.peer_var + fit_alpha * (peer_mean * peer_mean - state.peer_var)
        res_sq = _winsorised(residual * residual, state.res_var, state.fitted)
        state.res_var = state.res_var + fit_alpha * (res_sq - state.res_var)
        if stage_b.sum() >= 2:
            a = max(rules.learn_alpha, 1.0 / (state.fitted_slots + 1.0))
            state.common_var += a * (float(_winsorised(np.array(common * common), state.common_var,
                                                       state.fitted_slots)) - state.common_var)  # fmt: skip
            state.fitted_slots += 1
            if state.fitted[stage_b].min() >= _SETTLE:  # the scales settled: calibrate the score
                self._calibrate(state, score)
        state.fitted = np.where(stage_b, state.fitted + 1, state.fitted).astype(np.int32)
        # the seasonal profile: a running mean per visit of the bin
        visits = state.visits[b]
        rate = np.maximum(rules.profile_alpha, 1.0 / (visits + 1.0))
        state.profile[b] = np.where(present, state.profile[b] + rate * (observed - state.profile[b]), state.profile[b])
        state.visits[b] = np.where(present, visits + 1, visits)
        state.learned = np.where(present & (visits > 0), state.learned + 1, state.learned).astype(np.int32)

    # -- what an anomaly becomes ---------------------------------------------------------------

    def _findings(self, state: GroupModelState, slot: int, release: int, result: SlotScore) -> list[Finding]:
        if not result.anomalous:
            ended = [self._end(state, i, release) for i in state.flagged]
            state.flagged = ()
            return ended
        moved = self.moved(result)
        score = result.score / (result.score + result.threshold)
        when = datetime.fromtimestamp((slot + self.offset_ms) / 1000, tz=UTC).strftime("%a %H:%M")
        names = ", ".join(state.sensors[i] for i in moved)
        out = [self._end(state, i, release) for i in state.flagged if i not in moved]
        for i in moved:
            lo, hi = result.expected[i] - result.spread[i], result.expected[i] + result.spread[i]
            evidence = (
                f"slot {when} local ({self.rules.slot_s // 60} min): mean {result.observed[i]:.4g} vs expected "
                f"{lo:.4g}..{hi:.4g} (z {result.z_smooth[i]:+.1f}, peer residual {result.u[i]:+.2f}); "
                f"group score {result.score:.1f} > threshold {result.threshold:.1f}; moved: {names}"
            )
            out.append(Finding(
                sensor_id=state.sensors[i], asset_id=state.group_id, group_id=state.group_id,
                kind=AlertKind.ANOMALY, tier=Tier.T3, ts=release, value=float(result.observed[i]),
                score=score, evidence=evidence, rule=GROUP_RULE,
            ))  # fmt: skip
        state.flagged = tuple(moved)
        return out

    def moved(self, result: SlotScore) -> list[int]:
        """Members that moved in an exceeding slot: smoothed |z| or peer residual ≥ ``moved_z``, with
        data in the slot; at least the two largest."""
        lam = self.rules.ewma_lambda
        unit = math.sqrt(lam / (2.0 - lam))
        present = ~np.isnan(result.observed)
        size = np.maximum(np.abs(result.z_smooth), np.abs(result.u[:-1])) / unit
        size = np.where(present, size, -1.0)
        order = [int(i) for i in np.argsort(-size, kind="stable") if size[i] >= 0]
        moved = [i for i in order if size[i] >= self.rules.moved_z]
        return sorted(moved if len(moved) >= 2 else order[:2])

    def _end(self, state: GroupModelState, i: int, release: int) -> Finding:
        return Finding(
            sensor_id=state.sensors[i], asset_id=state.group_id, group_id=state.group_id, kind=AlertKind.ANOMALY,
            tier=None, ts=release, value=0.0, score=0.0, evidence="group score back under its threshold",
            rule=GROUP_RULE,
        )  # fmt: skip
