"""The rig benchmark's logs, naive rule and per-row tally (the figures it prints rest on these)."""

from __future__ import annotations

import numpy as np

from benchmarks.bench_rig import CHANNELS, Tally, best_threshold_f1, naive_flags, rig_log


def test_the_anomaly_moves_only_its_channels_in_rows_60_to_80_percent() -> None:
    plain, truth = rig_log({}, seed=3, rows=1000)
    moved, same_truth = rig_log({7: -2.0, 3: 1.5}, seed=3, rows=1000)
    assert np.array_equal(truth, same_truth)
    assert np.flatnonzero(truth).tolist() == list(range(600, 800))
    difference = moved - plain
    flow_sd, pressure_sd = CHANNELS[7][2], CHANNELS[3][2]
    assert np.allclose(difference[600:800, 7], -2.0 * flow_sd)
    assert np.allclose(difference[600:800, 3], 1.5 * pressure_sd)
    difference[600:800, [3, 7]] = 0.0
    assert not difference.any()


def test_the_naive_rule_scores_after_the_warm_up_only() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0.0, 1.0, (1000, 2))
    values[50, 0] = 40.0  # in the warm-up (the first 15 % of the rows): never flagged
    values[500, 1] = 6.0  # six sigmas after it
    flags = naive_flags(values)
    assert not flags[:150].any()
    assert flags[500]


def test_the_tally_by_hand() -> None:
    tally = Tally()
    tally.add(np.array([True, True, False, False]), np.array([False, True, True, False]))
    tally.add(np.array([False, False, False, True]), np.array([False, False, True, True]))
    assert (tally.tp, tally.fp, tally.fn) == (2, 1, 2)
    assert tally.delays == [0, 1]
    # precision 2/3, recall 2/4, F1 4/7, median delay 0.5 (printed rounded to even: 0)
    assert tally.cells() == " 0.67  0.50  0.57      0"


def test_the_best_threshold_by_hand() -> None:
    scores = np.array([0.1, 0.5, 0.9, 0.2, 0.0])
    truth = np.array([False, True, True, False, False])
    assert best_threshold_f1(scores, truth) == (1.0, 0.5)
    # the truth in the lowest and the highest score: flag from 0.1 (F1 2·2 / (4 + 2)) or only 0.9 (2 / 3)
    assert best_threshold_f1(scores, np.array([True, False, True, False, False])) == (2 / 3, 0.1)
