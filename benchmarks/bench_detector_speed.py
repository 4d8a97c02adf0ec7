"""Detector throughput and per-sensor memory.

Run: ``.venv/bin/python -m benchmarks.bench_detector_speed [--sensors 10000] [--repeats 5]``

Three call shapes, medians of several runs (``benchmarks/_harness.py``):

* **dataflow batches**: consume batches of 1,000 readings spread over 10,000 sensors, grouped by
  sensor (mostly one reading per call) — the shape the dataflow produces for ordinary 1–15 min channels;
* **arrays of 10**: 10 readings per call (a few minutes of a 1 Hz channel, or a backlog);
* **high-rate arrays**: 1,000 readings per call (50 Hz accelerometer batches), the vectorised path.

Memory: pickled size of every sensor state after warm-up (median / max) and tracemalloc's
allocation for all states divided by the sensor count. The per-sensor target is ≥ 500,000 readings/s
per core (the vectorised path) and ≤ 2 KiB pickled state.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import statistics
import tracemalloc

import numpy as np

from benchmarks._harness import measure, print_table
from lifeline.detectors import Detectors, SensorState
from lifeline.models import SensorKind, SensorSpec
from lifeline.registry import Registry

T0 = 1_700_000_000_000
# kind, interval_s, typical level, noise sd, design value
MIX = (
    (SensorKind.CH4_LEL, 900.0, 1.0, 0.15, None),
    (SensorKind.WELL_TEMPERATURE, 900.0, 20.0, 0.1, None),
    (SensorKind.WATER_PRESSURE, 300.0, 0.35, 0.003, None),
    (SensorKind.WATER_FLOW, 300.0, 200.0, 5.0, None),
    (SensorKind.MANHOLE_LEVEL, 300.0, 0.4, 0.005, 3.0),
    (SensorKind.PONDING_DEPTH, 300.0, 0.0, 0.0, None),
    (SensorKind.RAIN, 300.0, 0.0, 0.0, None),
    (SensorKind.STRAIN, 600.0, 50.0, 2.0, 100.0),
    (SensorKind.BEARING_DISPLACEMENT, 600.0, 10.0, 0.15, 40.0),
    (SensorKind.ACCELERATION, 0.02, 0.0, 0.01, None),
)


def registry(count: int) -> Registry:
    """``count`` sensors cycling through :data:`MIX`, 8 per group."""
    specs = []
    for i in range(count):
        kind, interval, _, _, design = MIX[i % len(MIX)]
        specs.append(
            SensorSpec(
                f"S{i:06d}",
                kind,
                f"A{i:06d}",
                "owner",
                "district",
                31.8,
                117.2,
                group_id=f"G{i // 8:05d}",
                interval_s=interval,
                design_value=design,
                thresholds={"crown_m": 1.0},
            )
        )
    return Registry(specs)


def values_for(i: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Normal (quiet) readings of sensor ``i``."""
    _, _, level, sd, _ = MIX[i % len(MIX)]
    return np.abs(level + rng.normal(0.0, sd, n)) if sd else np.zeros(n)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n_sensors = args.sensors
    reg = registry(n_sensors)
    det = Detectors(reg)
    ids = list(reg)
    rng = np.random.default_rng(1)
    states: list[SensorState] = [det.new_sensor_state(s) for s in ids]
    clock = [T0]

    # warm-up: 40 readings per sensor so every state is past its learning phase
    for i, st in enumerate(states):
        ts = T0 + np.arange(40, dtype=np.int64) * 1000
        det.process_sensor(st, ts, values_for(i, 40, rng))
    clock[0] = T0 + 40 * 1000

    # 1) dataflow batches: 1,000 readings over all sensors per batch, grouped by sensor
    batches = 50
    prepared = []
    for _ in range(batches):
        who = rng.integers(0, n_sensors, 1000)
        order = np.argsort(who, kind="stable")
        who = who[order]
        cuts = np.flatnonzero(np.diff(who)) + 1
        groups = []
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, who.size], strict=True):
            i = int(who[lo])
            groups.append((i, hi - lo, values_for(i, hi - lo, rng)))
        prepared.append(groups)

    def dataflow_batches() -> None:
        for groups in prepared:
            base = clock[0]
            for i, n, vals in groups:
                ts = base + np.arange(n, dtype=np.int64)
                det.process_sensor(states[i], ts, vals)
            clock[0] = base + 1000

    def arrays_of(k: int, calls: int) -> tuple[int, object]:
        chosen = rng.integers(0, n_sensors, calls)
        data = [(int(i), values_for(int(i), k, rng)) for i in chosen]

        def run() -> None:
            base = clock[0]
            ts = base + np.arange(k, dtype=np.int64)
            for i, vals in data:
                det.process_sensor(states[i], ts, vals)
            clock[0] = base + k + 1

        return k * calls, run

    hr_index = [i for i in range(n_sensors) if MIX[i % len(MIX)][0] is SensorKind.ACCELERATION][:200]
    hr_data = [(i, values_for(i, 1000, rng)) for i in hr_index]

    def high_rate() -> None:
        base = clock[0]
        ts = base + np.arange(1000, dtype=np.int64) * 20
        for i, vals in hr_data:
            det.process_sensor(states[i], ts, vals)
        clock[0] = base + 1000 * 20 + 1

    items10, run10 = arrays_of(10, 5000)
    gc.freeze()
    rows = [
        measure("dataflow batches (1,000 readings / 10k sensors)", batches * 1000, dataflow_batches, args.repeats),
        measure("arrays of 10 readings per call", items10, run10, args.repeats),  # type: ignore[arg-type]
        measure("high-rate arrays (1,000 per call)", len(hr_data) * 1000, high_rate, args.repeats),
    ]
    print_table(f"detector per-sensor path, {n_sensors:,} sensors (busy shared 2-core machine)", rows)

    # group stage with nothing to do: one call per group per watermark tick
    groups = sorted({det.group_of(s) for s in ids})
    gstates = [det.new_group_state(g) for g in groups]

    def group_tick() -> None:
        clock[0] += 1000
        for gs in gstates:
            det.process_group(gs, [], clock[0])

    print_table(
        "group stage, quiet tick (groups per second)", [measure("process_group([], wm)", len(gstates), group_tick)]
    )

    sizes = sorted(len(pickle.dumps(st)) for st in states)
    by_kind: dict[str, list[int]] = {}
    for i, st in enumerate(states):
        by_kind.setdefault(MIX[i % len(MIX)][0].value, []).append(len(pickle.dumps(st)))
    print("\n== per-sensor state")
    print(f"pickled: median {statistics.median(sizes):.0f} B, max {sizes[-1]} B (target ≤ 2048 B)")
    print("  " + ", ".join(f"{k} {max(v)} B" for k, v in sorted(by_kind.items())))
    gc.unfreeze()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    fresh = [det.new_sensor_state(s) for s in ids]
    for i, st in enumerate(fresh):
        det.process_sensor(st, T0 + np.arange(40, dtype=np.int64) * 1000, values_for(i, 40, rng))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"tracemalloc: {total / len(fresh):,.0f} B per sensor state in memory ({len(fresh):,} states)")
    blob = pickle.dumps(states)
    measured = measure("pickle all states", len(states), lambda: pickle.dumps(states), repeats=3)
    print(f"snapshot of all states: {len(blob) / 1e6:.1f} MB, pickled in {measured.median_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
