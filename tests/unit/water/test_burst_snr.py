"""``DmaLeakDetector.burst_snr`` and ``night_snr``: how far a burst or a background leak would stand out,
in the noise the detector has learned (the visibility columns of ``benchmarks/bench_water.py``)."""

from __future__ import annotations

import numpy as np

from lifeline.detectors.hydraulic import DmaLeakDetector
from lifeline.detectors.localisation import SensitivityModel

from .dma import START, STEP, daily_flow

NODES = ["near", "far", "like-demand"]
UNIFORM = np.array([-0.010, -0.010, -0.010, -0.010])  # m per m³/h spread like demand
#: m of head per m³/h of leak at each node (columns), per logger (rows); "like-demand" moves them as demand does
MATRIX = np.column_stack([[-0.040, -0.030, -0.020, -0.010], [-0.012, -0.012, -0.014, -0.015], UNIFORM])
MODEL = SensitivityModel(
    nodes=NODES, loggers=["L0", "L1", "L2", "L3"], matrix=MATRIX, uniform=UNIFORM, distances=np.zeros((3, 3))
)


def _learned(days: int, *, demand_noise: float, instrument_m: float, seed: int = 3) -> DmaLeakDetector:
    """A detector fed ``days`` of a quiet DMA (about 2,000 m³/h by day) with 4 loggers."""
    ts = START + np.arange(days * 288, dtype=np.int64) * STEP
    rng = np.random.default_rng(seed)
    flow = daily_flow(ts, 800.0, 2000.0) * (1 + rng.normal(0.0, demand_noise, ts.size))
    head_m = 45.0 - 10.0 * (flow / 2000.0) ** 2 + rng.normal(0.0, instrument_m, (4, ts.size))
    detector = DmaLeakDetector(group_id="DMA-1", meter_id="DMA-Q", logger_ids=["P0", "P1", "P2", "P3"],
                               logger_nodes=MODEL.loggers, sensitivity=MODEL)  # fmt: skip
    for k in range(ts.size):
        detector.step(int(ts[k]), float(flow[k]), head_m[:, k] * 0.00980665, np.zeros(0), np.zeros(0))
    return detector


def test_no_figure_while_learning_or_for_a_node_outside_the_model() -> None:
    assert _learned(1, demand_noise=0.01, instrument_m=0.02).burst_snr("near", 10.0) is None
    detector = _learned(9, demand_noise=0.01, instrument_m=0.02)
    assert detector.burst_snr("nowhere", 10.0) is None
    assert detector.burst_snr("near", 10.0) is not None


def test_a_leak_that_moves_the_loggers_like_demand_has_no_pressure_signal() -> None:
    detector = _learned(9, demand_noise=0.01, instrument_m=0.02)
    near, like_demand = detector.burst_snr("near", 10.0), detector.burst_snr("like-demand", 10.0)
    assert near is not None and like_demand is not None
    assert like_demand[1] == 0.0
    assert near[1] > 1.0, near
    assert near[0] == like_demand[0], "the flow channel does not depend on the node"


def test_both_ratios_grow_in_proportion_to_the_burst() -> None:
    detector = _learned(9, demand_noise=0.01, instrument_m=0.02)
    small, large = detector.burst_snr("far", 5.0), detector.burst_snr("far", 15.0)
    assert small is not None and large is not None
    assert np.allclose(np.array(large), 3.0 * np.array(small))


def test_a_noisier_demand_or_noisier_loggers_lower_the_figure() -> None:
    calm = _learned(9, demand_noise=0.005, instrument_m=0.01).burst_snr("near", 10.0)
    busy_demand = _learned(9, demand_noise=0.02, instrument_m=0.01).burst_snr("near", 10.0)
    busy_loggers = _learned(9, demand_noise=0.005, instrument_m=0.05).burst_snr("near", 10.0)
    assert calm is not None and busy_demand is not None and busy_loggers is not None
    # four times the demand noise: the consumption step's sigma grows about fourfold
    assert 2.5 < calm[0] / busy_demand[0] < 5.5, (calm, busy_demand)
    # five times the instrument noise (the loggers' step sigma has a 1 cm floor): a clearly smaller pressure figure
    assert calm[1] / busy_loggers[1] > 2.0, (calm, busy_loggers)


def _steady_nights(days: int, night_flow: float) -> DmaLeakDetector:
    """A detector fed ``days`` of a DMA whose flow never changes (so every night's mean is ``night_flow``)."""
    detector = DmaLeakDetector(group_id="DMA-1", meter_id="DMA-Q", logger_ids=[])
    for k in range(days * 288):
        detector.step(START + k * STEP, night_flow, np.zeros(0), np.zeros(0), np.zeros(0))
    return detector


def test_the_night_figure_waits_for_three_clean_nights() -> None:
    assert _steady_nights(2, 100.0).night_snr(5.0) is None
    assert _steady_nights(4, 100.0).night_snr(5.0) is not None


def test_identical_nights_divide_by_the_one_percent_floor_of_the_baseline() -> None:
    # no spread at all: the night rule's limit rests on 1 % of the baseline, 1 m³/h of a 100 m³/h night
    assert _steady_nights(5, 100.0).night_snr(5.0) == 5.0
    assert _steady_nights(5, 400.0).night_snr(5.0) == 1.25
