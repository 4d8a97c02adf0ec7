"""A DMA detector's history pickles packed (one array per series) and restores to the same detector."""

from __future__ import annotations

import pickle

import numpy as np

from lifeline.detectors.hydraulic import DmaLeakDetector, _History

from .dma import DAY, START, STEP, daily_flow

BURST_AT = START + 8 * DAY + 13 * 3_600_000


def _inputs(days: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts = START + np.arange(days * 288, dtype=np.int64) * STEP
    rng = np.random.default_rng(3)
    flow = daily_flow(ts, 800.0, 2000.0) * (1 + rng.normal(0.0, 0.004, ts.size)) + 60.0 * (ts >= BURST_AT)
    pressures = 0.45 - 0.1 * (flow / 2000.0) ** 2 + rng.normal(0.0, 0.0002, (3, ts.size))
    return ts, flow, pressures


def _run(restore_at: int = -1) -> tuple[list[tuple[int, str, str]], DmaLeakDetector]:
    ts, flow, pressures = _inputs()
    det = DmaLeakDetector(group_id="DMA-1", meter_id="DMA-Q", logger_ids=["P0", "P1", "P2"])
    found: list[tuple[int, str, str]] = []
    for k in range(ts.size):
        if k == restore_at:
            det = pickle.loads(pickle.dumps(det, protocol=pickle.HIGHEST_PROTOCOL))
        for f in det.step(int(ts[k]), float(flow[k]), pressures[:, k], np.zeros(0), np.zeros(0)):
            found.append((f.ts, f.rule, str(f.tier)))
    return found, det


def test_a_detector_restored_mid_run_gives_the_findings_of_an_uninterrupted_one() -> None:
    uninterrupted, whole = _run()
    restored, copy = _run(restore_at=7 * 288 + 5)
    bursts = [t for t, rule, tier in uninterrupted if rule == "water.dma.burst" and tier != "None"]
    assert bursts and BURST_AT <= bursts[0] <= BURST_AT + 30 * 60_000  # the burst after the restore is found
    assert restored == uninterrupted
    for name in ("ts", "flow", "flow_res", "clean", "burst", "state_change"):
        assert getattr(copy._h, name) == getattr(whole._h, name), name
    for name in ("pressure_m", "pressure_res", "features"):
        assert all(np.array_equal(a, b) for a, b in zip(getattr(copy._h, name), getattr(whole._h, name), strict=True))


def test_the_history_is_pickled_as_a_few_arrays() -> None:
    _, det = _run()
    state = det._h.__getstate__()
    assert isinstance(state["pressure_m"], np.ndarray) and state["pressure_m"].shape == (len(det._h.ts), 3)
    assert isinstance(state["clean"], np.ndarray) and state["clean"].dtype == np.bool_
    assert len(pickle.dumps(det._h)) < 0.9 * len(pickle.dumps(dict(det._h.__dict__)))  # the field-by-field layout


def test_a_history_pickled_field_by_field_before_packing_still_loads() -> None:
    _, det = _run()
    old_layout = dict(det._h.__dict__)  # what a dataclass without __getstate__ pickled
    loaded = _History.__new__(_History)
    loaded.__setstate__(pickle.loads(pickle.dumps(old_layout)))
    assert loaded.ts == det._h.ts and len(loaded.pressure_res) == len(det._h.pressure_res)


def test_vectors_of_unequal_length_stay_a_list() -> None:
    h = _History(pressure_m=[np.zeros(2), np.zeros(3)], ts=[1, 2])
    back = pickle.loads(pickle.dumps(h))
    assert [v.shape for v in back.pressure_m] == [(2,), (3,)] and back.ts == [1, 2] and back.features == []
