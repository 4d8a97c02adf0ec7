"""Scoring rules of the Numenta Anomaly Benchmark (NAB), written from the published descriptions.

Sources: Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms — the Numenta Anomaly
Benchmark", ICMLA 2015, and Ahmad et al., Neurocomputing 2017. This is an independent
implementation of the rules as the papers state them; no NAB code is used.

The rules, as implemented here:

* Each file has anomaly *windows* (``[start, end]`` timestamps). Rows are in file order; a row is
  inside a window when ``start <= ts <= end``. A window spans the rows from the first to the last
  row (in file order) whose timestamp falls inside it.
* The first ``probation`` rows (15 % of the file, at most 750 rows) are never scored.
* Inside a window only the **first** detection counts. It earns ``A_TP * sigma(y)`` where
  ``y = -(end - i + 1) / L`` is its relative position (``-1`` at the first row, ``≈ 0`` at the last)
  and ``sigma(y) = 2 / (1 + exp(5 y)) - 1`` is the scaled sigmoid. Later detections in the window
  are ignored.
* A detection outside every window is a false positive. After a window it costs
  ``A_FP * sigma(y)`` with ``y = (i - end) / L`` of the preceding window (nearly free right after
  the window, ``-A_FP`` far from it); with no preceding window it costs ``-A_FP``.
* A window without a detection costs ``-A_FN``.
* A file's raw score is the sum of these terms; the corpus score is the sum over files.
  It is normalised as ``100 * (raw - null) / (perfect - null)``: the *null* detector flags
  nothing, the *perfect* one flags every window on its first scored row.
* The threshold that turns scores into detections is chosen per profile to maximise the
  normalised corpus score (all distinct score values are tried, exactly, in one sorted sweep).

>>> round(scaled_sigmoid(-1.0), 4), scaled_sigmoid(0.0)
(0.9866, 0.0)
>>> f = FileScoring.build(np.arange(100), [(50, 59)])
>>> round(f.score(np.arange(100) == 50, STANDARD), 4)
0.9866
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "PROFILES",
    "REWARD_LOW_FN",
    "REWARD_LOW_FP",
    "STANDARD",
    "CorpusResult",
    "FileScoring",
    "Profile",
    "load_windows",
    "optimise_threshold",
    "parse_nab_timestamp",
    "probation_rows",
    "scaled_sigmoid",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    a_tp: float
    a_fp: float
    a_fn: float


STANDARD = Profile("standard", a_tp=1.0, a_fp=0.11, a_fn=1.0)
REWARD_LOW_FP = Profile("reward_low_FP", a_tp=1.0, a_fp=0.22, a_fn=1.0)
REWARD_LOW_FN = Profile("reward_low_FN", a_tp=1.0, a_fp=0.11, a_fn=2.0)
PROFILES: tuple[Profile, ...] = (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)


def scaled_sigmoid(y: float) -> float:
    """NAB's scaled sigmoid ``2 / (1 + e^(5y)) - 1``: ≈ +1 at ``y = -1``, 0 at ``y = 0``, → -1 as ``y`` grows."""
    if y > 100.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def _sigmoid_array(y: FloatArray) -> FloatArray:
    return 2.0 / (1.0 + np.exp(np.minimum(5.0 * y, 500.0))) - 1.0


def probation_rows(n_rows: int, fraction: float = 0.15, cap: int = 750) -> int:
    """Rows at the start of a file that are not scored: 15 % of the file, at most ``cap`` rows.

    >>> probation_rows(1000), probation_rows(22695)
    (150, 750)
    """
    return min(math.floor(fraction * n_rows), cap)


def parse_nab_timestamp(text: str) -> int:
    """``'2014-04-10 07:15:00.000000'`` (NAB's format, UTC) → epoch milliseconds.

    >>> parse_nab_timestamp("1970-01-01 00:00:01")
    1000
    """
    moment = datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def load_windows(path: str | Path) -> dict[str, list[tuple[int, int]]]:
    """Read ``combined_windows.json``: relative file name → list of ``(start_ms, end_ms)`` windows."""
    raw: dict[str, list[list[str]]] = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        name: [(parse_nab_timestamp(a), parse_nab_timestamp(b)) for a, b in windows] for name, windows in raw.items()
    }


@dataclass
class FileScoring:
    """Everything needed to score one file's detections, precomputed from its timestamps and windows.

    ``windows`` holds row-index spans ``(first, last)`` in file order; ``fp_y`` holds, for every
    row outside the windows, the relative distance to the preceding window (``nan`` if none).
    """

    n_rows: int
    probation: int
    windows: list[tuple[int, int]]
    in_window: IntArray
    fp_y: FloatArray

    @classmethod
    def build(
        cls, ts_ms: Sequence[int] | IntArray, windows_ms: Iterable[tuple[int, int]], probation: int | None = None
    ) -> FileScoring:
        """Locate each window in the rows (by timestamp, in file order) and precompute FP weights."""
        ts = np.asarray(ts_ms, dtype=np.int64)
        n = int(ts.size)
        prob = probation_rows(n) if probation is None else probation
        in_window = np.full(n, -1, dtype=np.int64)
        spans: list[tuple[int, int]] = []
        for start, end in sorted(windows_ms):
            rows = np.flatnonzero((ts >= start) & (ts <= end))
            if rows.size == 0:
                continue
            first, last = int(rows[0]), int(rows[-1])
            in_window[first : last + 1] = len(spans)
            spans.append((first, last))
        fp_y = np.full(n, np.nan)
        for k, (first, last) in enumerate(spans):
            length = last - first + 1
            stop = spans[k + 1][0] if k + 1 < len(spans) else n
            idx = np.arange(last + 1, stop)
            fp_y[idx] = (idx - last) / length
        return cls(n, prob, spans, in_window, fp_y)

    def fp_weights(self, profile: Profile) -> FloatArray:
        """Score of a detection on each row if it were a false positive (0 inside windows/probation)."""
        w = np.where(np.isnan(self.fp_y), -1.0, _sigmoid_array(np.nan_to_num(self.fp_y)))
        w = w * profile.a_fp
        w[self.in_window >= 0] = 0.0
        w[: self.probation] = 0.0
        return w

    def tp_weight(self, row: int, window: int, profile: Profile) -> float:
        """Credit of a first detection on ``row`` inside window number ``window``."""
        first, last = self.windows[window]
        length = last - first + 1
        return profile.a_tp * scaled_sigmoid(-(last - row + 1) / length)

    def score(self, detections: Sequence[bool] | BoolArray, profile: Profile) -> float:
        """Raw NAB score of a boolean detection vector (one flag per row, file order)."""
        det = np.asarray(detections, dtype=bool).copy()
        det[: self.probation] = False
        total = float(self.fp_weights(profile)[det].sum())
        for k, (first, last) in enumerate(self.windows):
            start = max(first, self.probation)
            hits = np.flatnonzero(det[start : last + 1]) if start <= last else np.empty(0, dtype=np.int64)
            total += self.tp_weight(start + int(hits[0]), k, profile) if hits.size else -profile.a_fn
        return total

    def null_score(self, profile: Profile) -> float:
        """Score of the detector that flags nothing."""
        return -profile.a_fn * len(self.windows)

    def perfect_score(self, profile: Profile) -> float:
        """Score of the detector that flags every window on its first scored row."""
        total = 0.0
        for k, (first, last) in enumerate(self.windows):
            start = max(first, self.probation)
            total += self.tp_weight(start, k, profile) if start <= last else -profile.a_fn
        return total

    def events(self, scores: FloatArray, profile: Profile) -> tuple[FloatArray, FloatArray]:
        """Step events of the raw score as a function of the threshold ``t`` (detection: score ≥ t).

        Returns ``(values, deltas)``: raw(t) = null + sum of ``deltas`` whose ``values >= t``.
        """
        s = np.asarray(scores, dtype=np.float64)
        w = self.fp_weights(profile)
        outside = w != 0.0
        vals: list[FloatArray] = [s[outside]]
        deltas: list[FloatArray] = [w[outside]]
        for k, (first, last) in enumerate(self.windows):
            start = max(first, self.probation)
            if start > last:
                continue
            seg = s[start : last + 1]
            run_max = np.maximum.accumulate(seg)
            is_record = np.ones(seg.size, dtype=bool)
            is_record[1:] = seg[1:] > run_max[:-1]
            rec = np.flatnonzero(is_record)
            credits = np.array([self.tp_weight(start + int(r), k, profile) for r in rec])
            # credit(t) for t in (r_{j-1}, r_j] is credits[j]; beyond the last record it is -A_FN.
            nxt = np.append(credits[1:], -profile.a_fn)
            vals.append(seg[rec])
            deltas.append(credits - nxt)
        return np.concatenate(vals), np.concatenate(deltas)


@dataclass
class CorpusResult:
    """Best normalised score of a corpus for one profile, with the threshold that achieved it."""

    profile: str
    threshold: float
    score: float
    raw: float
    null: float
    perfect: float
    per_file_raw: dict[str, float] = field(default_factory=dict)


def optimise_threshold(files: dict[str, tuple[FileScoring, FloatArray]], profile: Profile) -> CorpusResult:
    """Choose the threshold that maximises the normalised corpus score; score each file with it.

    ``files`` maps a name to its :class:`FileScoring` and its score column. Every distinct score
    value is a candidate threshold (plus "above the maximum", i.e. the null detector).
    """
    null = sum(f.null_score(profile) for f, _ in files.values())
    perfect = sum(f.perfect_score(profile) for f, _ in files.values())
    all_vals: list[FloatArray] = []
    all_deltas: list[FloatArray] = []
    for f, s in files.values():
        v, d = f.events(s, profile)
        all_vals.append(v)
        all_deltas.append(d)
    vals = np.concatenate(all_vals) if all_vals else np.empty(0)
    deltas = np.concatenate(all_deltas) if all_deltas else np.empty(0)
    best_t, best_raw = math.inf, null
    if vals.size:
        order = np.argsort(-vals, kind="stable")
        v_sorted, cum = vals[order], np.cumsum(deltas[order])
        # Only the last position of each run of equal values is a valid threshold.
        last_of_run = np.ones(v_sorted.size, dtype=bool)
        last_of_run[:-1] = v_sorted[:-1] != v_sorted[1:]
        candidates = np.flatnonzero(last_of_run)
        j = int(candidates[np.argmax(cum[candidates])])
        if null + float(cum[j]) > best_raw:
            best_t, best_raw = float(v_sorted[j]), null + float(cum[j])
    denom = perfect - null
    normalised = 100.0 * (best_raw - null) / denom if denom else 0.0
    per_file = {name: f.score(s >= best_t, profile) for name, (f, s) in files.items()}
    return CorpusResult(profile.name, best_t, normalised, best_raw, null, perfect, per_file)
