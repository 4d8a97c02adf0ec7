"""Speed and size of the anomaly models: readings/s per core (median of runs) and pickled bytes per model.

``.venv/bin/python -m benchmarks.bench_anomaly_speed``

Per-sensor models run ``score_batch`` over 1,000-reading batches (the dataflow's batch size) of one
sensor; the per-asset :class:`WindowHST` runs once per window feature vector. Baselines in the same
run: a bare Python loop of an EW mean update (the floor of any per-reading Python work) and river's
``GaussianScorer``.
"""

from __future__ import annotations

import pickle

import numpy as np
from river import anomaly

from benchmarks._harness import Measurement, measure, print_table
from lifeline.detectors.anomaly import DailyProfile, GaussianZ, RobustZ
from lifeline.detectors.anomaly_base import SensorModel
from lifeline.detectors.anomaly_composite import CompositeScorer
from lifeline.detectors.anomaly_window import WindowHST

N = 200_000
BATCH = 1_000


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ts = np.arange(N, dtype=np.int64) * 60_000 + 1_700_000_000_000
    x = 20.0 + np.sin(np.arange(N) / 100.0) + rng.normal(0.0, 0.3, N)
    return ts, x


def _run_model(model: SensorModel, ts: np.ndarray, x: np.ndarray) -> None:
    for start in range(0, ts.size, BATCH):
        model.score_batch(ts[start : start + BATCH], x[start : start + BATCH])


def _ew_loop(x: np.ndarray) -> None:
    mean = 0.0
    for v in x.tolist():
        mean += 0.01 * (v - mean)


def main() -> None:
    """Measure every model and print throughput and size."""
    ts, x = _data()
    baseline = measure("python loop: EW mean only (floor)", N, lambda: _ew_loop(x))
    rows: list[Measurement] = [baseline]
    sizes: dict[str, int] = {}
    cases: list[tuple[str, type[SensorModel], int]] = [
        ("GaussianZ.score_batch (hot path)", GaussianZ, N),
        ("CompositeScorer.score_batch (detect)", CompositeScorer, N // 4),
        ("DailyProfile.score_batch", DailyProfile, N // 20),
        ("RobustZ.score_batch", RobustZ, N // 20),
    ]
    for name, cls, n in cases:
        rows.append(measure(name, n, lambda cls=cls, n=n: _run_model(cls(), ts[:n], x[:n])))
        warm = cls()
        _run_model(warm, ts[: min(n, 20_000)], x[: min(n, 20_000)])
        sizes[cls.__name__] = len(pickle.dumps(warm))

    def river_gauss() -> None:
        m = anomaly.GaussianScorer()
        for v in x[: N // 10].tolist():
            m.score_one(None, v)
            m.learn_one(None, v)

    rows.append(measure("river GaussianScorer score+learn", N // 10, river_gauss, repeats=3))
    feats = [{"s.mean": float(v), "s.std": 0.3, "s.range": 1.0, "s.slope": 0.0} for v in x[:2000]]

    def hst() -> None:
        m = WindowHST()
        for f in feats:
            m.score_one(f)
            m.learn_one(f)

    rows.append(measure("WindowHST score+learn (per window, per asset)", len(feats), hst, repeats=3))
    warm_hst = WindowHST()
    for f in feats[:500]:
        warm_hst.learn_one(f)
    sizes["WindowHST"] = len(pickle.dumps(warm_hst))
    print_table("anomaly model throughput (readings or windows per second, one core)", rows, baseline)
    print("\n== pickled size per model after learning")
    for name, size in sizes.items():
        print(f"  {name:<20} {size:>10,} bytes")


if __name__ == "__main__":
    main()
