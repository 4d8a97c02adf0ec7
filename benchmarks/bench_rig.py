"""Small lasting changes on a test rig's log: per-row F1 of ``lifeline detect`` against a naive rule and chance.

Run: ``.venv/bin/python -m benchmarks.bench_rig [--seeds 1 2 3 4 5] [--rows 1200] [-v]``

A pump test rig logs 8 channels once a second (two vibration RMS, motor current, outlet pressure, motor and
water temperature, supply voltage, flow); its anomalies (a valve partly closed, a rotor out of balance, the
onset of cavitation) move one or two channels by one to three noise sigmas for a stretch of the log, and the
motor warms up through the whole log. This benchmark writes such logs (synthetic: written here, so they prove
the mechanism, not performance on data nobody here wrote), the anomaly in rows 60–80 % of each, and scores
every row with:

* ``lifeline detect`` with the product's defaults, every column one asset (``--value-column a,b,…``): a row
  is flagged when it has a tier;
* the same with the learned baseline's shift view off (``shift_weight = 0``), as before it;
* a naive rule: any channel more than 3 standard deviations from its mean over the warm-up rows (the first
  15 %, which ``lifeline detect`` learns before it scores);
* chance: every row flagged; and as many flagged rows as ``lifeline detect`` flags in each log, at random rows;
* the score column of ``lifeline detect`` under the best single threshold over all logs (chosen on the truth:
  what an evaluator that ranks the scores finds at best).

Per-row precision, recall and F1 are pooled over all logs of a case; the delay is the median number of rows
from the anomaly's first row to its first flagged row.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import numpy.typing as npt

from lifeline.detectors.config import AnomalyRules
from lifeline.flows.detect_cli import product_anomaly_rules
from lifeline.flows.offline import Frame, detect_frame

__all__ = ["CASES", "CHANNELS", "main", "rig_log"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: channel, typical value and noise standard deviation of a small centrifugal pump rig
CHANNELS: list[tuple[str, float, float]] = [
    ("vibration_1_rms_g", 0.027, 0.001),
    ("vibration_2_rms_g", 0.040, 0.001),
    ("motor_current_a", 1.3, 0.05),
    ("outlet_pressure_bar", 0.05, 0.01),
    ("motor_temperature_c", 70.0, 0.1),
    ("water_temperature_c", 24.0, 0.05),
    ("supply_voltage_v", 230.0, 1.0),
    ("flow_l_min", 32.0, 0.5),
]
#: the anomaly of each case: channel index → change in noise sigmas
CASES: dict[str, dict[int, float]] = {
    "valve partly closed (flow −1σ)": {7: -1.0},
    "valve closed further (flow −1.5σ, pressure +1.5σ)": {7: -1.5, 3: 1.5},
    "rotor imbalance (vibration 1 +2σ)": {0: 2.0},
    "cavitation onset (pressure −1.5σ, vibration 2 +1σ)": {3: -1.5, 1: 1.0},
    "valve closed (flow −3σ, current −2σ)": {7: -3.0, 2: -2.0},
}
WARMUP_SHARE = 0.15


def rig_log(case: dict[int, float], seed: int, rows: int) -> tuple[FloatArray, BoolArray]:
    """One log (rows × channels) and its truth (the anomalous rows: 60–80 % of the log)."""
    rng = np.random.default_rng(seed)
    base = np.array([c[1] for c in CHANNELS])
    sd = np.array([c[2] for c in CHANNELS])
    values = base + rng.normal(0.0, 1.0, (rows, len(CHANNELS))) * sd
    # the motor warms up about 3 °C through the log, with a slow random wander
    values[:, 4] += np.linspace(0.0, 3.0, rows) + np.cumsum(rng.normal(0.0, 0.02, rows))
    truth = np.zeros(rows, dtype=bool)
    truth[int(rows * 0.6) : int(rows * 0.8)] = True
    for channel, sigmas in case.items():
        values[truth, channel] += sigmas * sd[channel]
    return values, truth


def product_run(values: FloatArray, rules: AnomalyRules) -> tuple[BoolArray, FloatArray]:
    """``lifeline detect`` on a 1-s log, every column one asset: (rows with a tier, scores)."""
    ts_ms = (1_583_740_800 + np.arange(values.shape[0], dtype=np.int64)) * 1000
    frame = Frame(ts_ms, values, [c[0] for c in CHANNELS], None)
    scores, tiers = detect_frame(frame, rules)
    return np.asarray(tiers) > 0, np.asarray(scores, dtype=np.float64)


def best_threshold_f1(scores: FloatArray, truth: BoolArray) -> tuple[float, float]:
    """The best per-row F1 of ``score >= threshold`` over every threshold, and that threshold (an oracle: it is
    chosen on the truth, as an evaluator that ranks the score column may do)."""
    best, at = 0.0, 1.0
    for threshold in np.unique(scores[scores > 0.0]):
        flagged = scores >= threshold
        f1 = 2.0 * float((flagged & truth).sum()) / float(flagged.sum() + truth.sum())
        if f1 > best:
            best, at = f1, float(threshold)
    return best, at


def naive_flags(values: FloatArray) -> BoolArray:
    """Any channel beyond 3 standard deviations of its warm-up rows (scored after the warm-up only)."""
    warm = int(values.shape[0] * WARMUP_SHARE)
    mean, sd = values[:warm].mean(axis=0), values[:warm].std(axis=0)
    flags = (np.abs((values - mean) / np.where(sd > 0, sd, 1.0)) > 3.0).any(axis=1)
    flags[:warm] = False
    return flags


@dataclasses.dataclass
class Tally:
    """Pooled per-row counts and first-detection delays of one detector on one case."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    delays: list[int] = dataclasses.field(default_factory=list)

    def add(self, flags: BoolArray, truth: BoolArray) -> None:
        """Count one log."""
        self.tp += int((flags & truth).sum())
        self.fp += int((flags & ~truth).sum())
        self.fn += int((~flags & truth).sum())
        inside = np.flatnonzero(flags[truth])
        if inside.size:
            self.delays.append(int(inside[0]))

    def cells(self) -> str:
        """precision, recall, F1 and the median delay."""
        precision = self.tp / max(1, self.tp + self.fp)
        recall = self.tp / max(1, self.tp + self.fn)
        f1 = 2 * self.tp / max(1, 2 * self.tp + self.fp + self.fn)
        delay = f"{statistics.median(self.delays):.0f}" if self.delays else "-"
        return f"{precision:5.2f} {recall:5.2f} {f1:5.2f} {delay:>6}"


def main() -> None:
    """Score every case and seed; print one table per case and the pooled one."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="one log per case and seed")
    parser.add_argument("--rows", type=int, default=1200, help="rows per log (1 s apart)")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print each case")
    args = parser.parse_args()
    rules = product_anomaly_rules()
    without_shift = dataclasses.replace(rules, shift_weight=0.0)
    names = ["lifeline detect (defaults)", "  without the shift view", "naive: any channel > 3σ of warm-up",
             "chance: every row", "chance: as many rows, at random"]  # fmt: skip
    pooled = {name: Tally() for name in names}
    all_scores: list[FloatArray] = []
    all_truth: list[BoolArray] = []
    start = time.perf_counter()
    rows_scored = 0
    for title, case in CASES.items():
        tallies = {name: Tally() for name in names}
        for seed in args.seeds:
            values, truth = rig_log(case, seed, args.rows)
            product, scores = product_run(values, rules)
            all_scores.append(scores)
            all_truth.append(truth)
            rng = np.random.default_rng(seed + 1000)
            random_rows = np.zeros_like(product)
            random_rows[rng.choice(product.size, int(product.sum()), replace=False)] = True
            results: list[BoolArray] = [
                product,
                product_run(values, without_shift)[0],
                naive_flags(values),
                np.ones_like(truth),
                random_rows,
            ]
            for name, result in zip(names, results, strict=True):
                tallies[name].add(result, truth)
                pooled[name].add(result, truth)
            rows_scored += 2 * args.rows
        if args.verbose:
            print(f"\n{title}")
            for name in names:
                print(f"  {name:<38} {tallies[name].cells()}")
    seconds = time.perf_counter() - start
    print(f"{len(CASES)} cases × {len(args.seeds)} seeds, {args.rows} rows of {len(CHANNELS)} channels at 1 s each; "
          f"lifeline detect {rows_scored / seconds:,.0f} rows/s (two runs per log)")  # fmt: skip
    print(f"\n  {'all cases, per row':<38} {'prec':>5} {'rec':>5} {'F1':>5} {'delay':>6}")
    for name in names:
        print(f"  {name:<38} {pooled[name].cells()}")
    f1, threshold = best_threshold_f1(np.concatenate(all_scores), np.concatenate(all_truth))
    print(f"  {'lifeline detect: score, best threshold':<38} {'':>11} {f1:5.2f}  (score ≥ {threshold:.3f}, chosen on "
          "the truth)")  # fmt: skip


if __name__ == "__main__":
    main()
