"""NAB benchmark: ``lifeline detect`` with its defaults (the product's settings) over all 58 NAB files.

``.venv/bin/python -m benchmarks.bench_nab [--data DIR] [--reference]``

``DIR`` is a copy of the NAB repository (https://github.com/numenta/NAB: its ``data/`` and ``labels/``
folders); ``--data`` defaults to the environment variable ``LIFELINE_NAB_DIR``.

Each file is read by :func:`lifeline.flows.offline.read_frame` and streamed, in file order with no
look-ahead, through :func:`lifeline.flows.offline.detect_frame` with
:func:`lifeline.flows.detect_cli.product_anomaly_rules` — exactly what ``lifeline detect --input FILE``
runs: each row is a window of one value for the live per-sensor baseline. Scores in NAB's
probationary period (15 % of the file, at most 750 rows) are set to 0, as NAB ignores them.

Scoring follows NAB's rules (our implementation, :mod:`lifeline.detectors.nab_scoring`) for the
standard, reward_low_FP and reward_low_FN profiles:

* ``score (NAB threshold)`` — NAB's own procedure: the threshold on the score column that maximises
  the corpus score, per profile;
* ``tier rows`` — the product's own decisions: every row with a tier is a detection;
* ``alert onsets`` — one detection per run of tiered rows (what the alarm path reports).

**Split.** Files sorted by name; even positions (0, 2, …) are the half the settings were chosen on
("tune"), odd positions the held-out half. Every figure is reported for both halves and the total.

**Chance controls** in the same run: the same number of detections per file as the product's alert
onsets, at random rows after the probation (seeded); and one alarm on the first scored row of
every file.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from river import anomaly, preprocessing

from lifeline.detectors.anomaly_base import FloatArray, IntArray, SensorModel
from lifeline.detectors.anomaly_composite import CompositeScorer
from lifeline.detectors.anomaly_filter import TierFilter
from lifeline.detectors.config import AnomalyRules
from lifeline.detectors.nab_scoring import PROFILES, FileScoring, load_windows, optimise_threshold, probation_rows
from lifeline.flows.detect_cli import product_anomaly_rules
from lifeline.flows.offline import Frame, Series, detect_frame, detect_series, read_series

NAB_DIR_ENV = "LIFELINE_NAB_DIR"

ModelFactory = Callable[[int], SensorModel]
Detections = dict[str, FloatArray]


class RiverGaussianBaseline(SensorModel):
    """Stock ``river.anomaly.GaussianScorer`` (default settings) behind the per-sensor interface."""

    def __init__(self) -> None:
        self.model = anomaly.GaussianScorer()

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        """River's score (a CDF value in [0, 1])."""
        s = float(self.model.score_one(None, x)) if math.isfinite(x) else 0.0
        return s if math.isfinite(s) else 0.0

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        """River's update."""
        if math.isfinite(x):
            self.model.learn_one(None, x)

    def score_batch(self, ts_ms: IntArray, values: FloatArray) -> FloatArray:
        """Score then learn in order."""
        out = np.empty(len(values), dtype=np.float64)
        for i, x in enumerate(np.asarray(values, dtype=np.float64).tolist()):
            out[i] = self.score_one(x)
            self.learn_one(x)
        return out


class RiverHSTBaseline(SensorModel):
    """Stock ``MinMaxScaler | HalfSpaceTrees`` (river defaults, seed 42) on the value alone."""

    def __init__(self) -> None:
        self.model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        """River's score in [0, 1]."""
        s = float(self.model.score_one({"x": x})) if math.isfinite(x) else 0.0
        return min(1.0, max(0.0, s)) if math.isfinite(s) else 0.0

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        """River's update."""
        if math.isfinite(x):
            self.model.learn_one({"x": x})


def load_corpus(root: Path, naive_utc_offset_h: float = 0.0) -> tuple[dict[str, Series], dict[str, FileScoring]]:
    """Read all NAB series (file order) and precompute their scoring structures. NAB's timestamps have no zone;
    they are read as ``lifeline detect`` reads them (wall-clock times at ``naive_utc_offset_h``), and the label
    windows with them."""
    windows = load_windows(root / "labels" / "combined_windows.json")
    shift = round(naive_utc_offset_h * 3_600_000)
    series: dict[str, Series] = {}
    scoring: dict[str, FileScoring] = {}
    for name in sorted(windows):
        s = read_series(root / "data" / name, naive_utc_offset_h=naive_utc_offset_h)
        series[name] = s
        scoring[name] = FileScoring.build(s.ts_ms, [(a - shift, b - shift) for a, b in windows[name]])
    return series, scoring


def halves(names: list[str]) -> dict[str, list[str]]:
    """The fixed split: sorted names, even positions = "tune", odd = "held-out"; plus "all"."""
    ordered = sorted(names)
    return {"tune": ordered[0::2], "held-out": ordered[1::2], "all": ordered}


def run_product(series: dict[str, Series], rules: AnomalyRules) -> tuple[Detections, Detections]:
    """``lifeline detect`` on every file: (scores, tiers) per file; probation scores and tiers set to 0."""
    scores: Detections = {}
    tiers: Detections = {}
    for name, s in series.items():
        frame = Frame(s.ts_ms, s.values.reshape(-1, 1), ["value"], s.ts_text)
        sc, tr = detect_frame(frame, rules)
        prob = probation_rows(s.values.size)
        sc[:prob] = 0.0
        tr[:prob] = 0
        scores[name] = sc
        tiers[name] = (tr > 0).astype(np.float64)
    return scores, tiers


def run_detector(series: dict[str, Series], factory: ModelFactory) -> Detections:
    """Stream every file through a fresh reference model; probation scores are forced to 0."""
    out: Detections = {}
    for name, s in series.items():
        prob = probation_rows(s.values.size)
        scores, _ = detect_series(s, factory(prob), TierFilter())
        scores[:prob] = 0.0
        out[name] = scores
    return out


def onsets(flags: FloatArray) -> FloatArray:
    """1 on the first row of every run of flagged rows."""
    on = flags > 0
    first = on.copy()
    first[1:] &= ~on[:-1]
    return first.astype(np.float64)


def random_like(series: dict[str, Series], reference: Detections, seed: int = 0) -> Detections:
    """Chance control: as many detections per file as ``reference``, at random rows after the probation."""
    rng = np.random.default_rng(seed)
    out: Detections = {}
    for name, s in series.items():
        n = s.values.size
        prob = probation_rows(n)
        k = min(int(reference[name].sum()), n - prob)
        det = np.zeros(n)
        det[rng.choice(np.arange(prob, n), size=k, replace=False)] = 1.0
        out[name] = det
    return out


def alarm_at_start(series: dict[str, Series]) -> Detections:
    """Chance control: one alarm on the first scored row of every file."""
    out: Detections = {}
    for name, s in series.items():
        det = np.zeros(s.values.size)
        det[min(probation_rows(s.values.size), s.values.size - 1)] = 1.0
        out[name] = det
    return out


def nab_scores(scoring: dict[str, FileScoring], detections: Detections, names: list[str], fixed: bool) -> list[float]:
    """Normalised NAB score per profile over ``names``: NAB's optimised threshold, or (``fixed``) the
    detections as they are (a detection wherever the value is > 0)."""
    out = []
    for profile in PROFILES:
        if fixed:
            raw = sum(scoring[n].score(detections[n] > 0, profile) for n in names)
            null = sum(scoring[n].null_score(profile) for n in names)
            perfect = sum(scoring[n].perfect_score(profile) for n in names)
            out.append(100.0 * (raw - null) / (perfect - null))
        else:
            files = {n: (scoring[n], detections[n]) for n in names}
            out.append(optimise_threshold(files, profile).score)
    return out


def print_row(title: str, scoring: dict[str, FileScoring], det: Detections, fixed: bool) -> None:
    """One line per detector: standard / low-FP / low-FN on the tune half, the held-out half and all."""
    cells = []
    for names in halves(list(scoring)).values():
        cells.append(" ".join(f"{v:6.1f}" for v in nab_scores(scoring, det, names, fixed)))
    print(f"  {title:<44}" + " | ".join(cells))


def main() -> None:
    """Run ``lifeline detect``'s defaults, the chance controls and (optionally) reference models on NAB."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ[NAB_DIR_ENV]) if os.environ.get(NAB_DIR_ENV) else None,
        help=f"NAB folder with data/ and labels/ (default: ${NAB_DIR_ENV})",
    )
    parser.add_argument("--reference", action="store_true", help="also run the former detect model and river's")
    args = parser.parse_args()
    if args.data is None or not (args.data / "labels").is_dir() or not (args.data / "data").is_dir():
        sys.exit(
            f"error: no NAB corpus at {args.data or '(not set)'}; pass --data DIR or set {NAB_DIR_ENV} to a copy "
            "of https://github.com/numenta/NAB (it needs the data/ and labels/ folders)"
        )
    start = time.perf_counter()
    rules = product_anomaly_rules()
    series, scoring = load_corpus(args.data, rules.utc_offset_h)
    rows = sum(s.values.size for s in series.values())
    split = halves(list(scoring))
    print(f"loaded {len(series)} files, {rows:,} rows in {time.perf_counter() - start:.1f} s; "
          f"tune half {len(split['tune'])} files, held-out half {len(split['held-out'])}")  # fmt: skip
    t0 = time.perf_counter()
    scores, tiers = run_product(series, rules)
    seconds = time.perf_counter() - t0
    print(f"lifeline detect (defaults): {rows / seconds:,.0f} rows/s; "
          f"{int(sum(t.sum() for t in tiers.values()))} tier rows, "
          f"{int(sum(onsets(t).sum() for t in tiers.values()))} alert onsets")  # fmt: skip
    header = "".join(f"{h:^22}" + " " for h in ("tune (even files)", "held-out (odd files)", "all 58 files"))
    print(f"\n  {'normalised NAB score  (standard low-FP low-FN)':<44}{header}")
    print_row("lifeline detect: score, NAB threshold", scoring, scores, fixed=False)
    print_row("lifeline detect: tier rows", scoring, tiers, fixed=True)
    product_onsets = {n: onsets(t) for n, t in tiers.items()}
    print_row("lifeline detect: alert onsets", scoring, product_onsets, fixed=True)
    print_row("chance: as many onsets, random rows", scoring, random_like(series, product_onsets), fixed=True)
    print_row("chance: one alarm at file start", scoring, alarm_at_start(series), fixed=True)
    if args.reference:
        references: list[tuple[str, ModelFactory]] = [
            ("former CompositeScorer, NAB threshold", lambda prob: CompositeScorer(grace_period=prob)),
            ("river GaussianScorer, NAB threshold", lambda prob: RiverGaussianBaseline()),
            ("river MinMax|HalfSpaceTrees, NAB thresh.", lambda prob: RiverHSTBaseline()),
        ]
        for title, factory in references:
            print_row(title, scoring, run_detector(series, factory), fixed=False)
    print("\nPublished standard scores (NAB scoreboard): Numenta HTM ~70, CAD-OSE ~70, earthgecko Skyline ~62,")
    print("bayesChangePt ~17, random ~11.")


if __name__ == "__main__":
    main()
