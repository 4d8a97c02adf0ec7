"""The SWMM drainage scenarios: the model runs in pyswmm, its physics is sane, builds are deterministic and
cached, and the ground-truth episodes agree with a simple rule applied to the simulated series here."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from lifeline.models import AlertKind
from lifeline.simulators.exceptions import HydraulicModelError
from lifeline.simulators.rainfall import GENERIC_FORMULA, chicago_hyetograph
from lifeline.simulators.scenarios import Scenario, build
from lifeline.simulators.swmm_model import LOW_POINTS, MANHOLES, CatchmentModel, build_inp, simulate

FIVE_MIN_MS = 300_000


@pytest.fixture(scope="module", autouse=True)
def swmm_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every build of this module caches its SWMM results in a temporary folder."""
    folder = tmp_path_factory.mktemp("swmm-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIFELINE_CACHE_DIR", str(folder))
        yield folder


def _storm_run(return_period_y: float, hours: int = 6) -> dict[str, np.ndarray]:
    rain = np.zeros(hours * 12)
    rain[12 : 12 + 24] = chicago_hyetograph(GENERIC_FORMULA, return_period_y=return_period_y, duration_min=120)
    run = simulate(build_inp(CatchmentModel(), rain, hours * 60), hours * 60, cache_dir=None)
    series: dict[str, np.ndarray] = {**run.depth_m, **{f"flood_{k}": v for k, v in run.flooding_m3_s.items()}}
    return series


def test_the_inp_builds_and_runs_in_pyswmm_for_a_short_storm() -> None:
    rain = np.zeros(36)
    rain[6:12] = 60.0  # 30 min at 60 mm/h, 30 min in
    run = simulate(build_inp(CatchmentModel(), rain, 180), 180, cache_dir=None)
    assert run.seconds > 0 and not run.cached
    for node in [m.node for m in MANHOLES] + [lp.node for lp in LOW_POINTS]:
        depth = run.depth_m[node]
        assert depth.shape == (181,) and np.isfinite(depth).all() and (depth >= 0).all()
    assert run.depth_m["J3"][40:70].max() > run.depth_m["J3"][:30].max(), "the storm raises the downstream manhole"
    assert run.depth_m["LP1"][:30].max() == 0.0, "no ponding before the rain"


def test_ponding_and_overflow_grow_with_the_return_period() -> None:
    runs = {p: _storm_run(p) for p in (1, 5, 20, 50)}
    for low_point in ("LP1", "LP2"):
        peaks = [runs[p][low_point].max() for p in (1, 5, 20, 50)]
        assert all(a < b for a, b in pairwise(peaks)), (low_point, peaks)
    flooded = [runs[p]["flood_J1"].sum() * 60 for p in (1, 5, 20, 50)]
    assert flooded[0] == 0.0 and all(a < b for a, b in pairwise(flooded[1:])), flooded


def test_the_same_seed_gives_the_same_scenario_and_the_second_build_reads_the_cache(swmm_cache: Path) -> None:
    first = build("swmm-5y", seed=11, duration_s=8 * 3600)
    files = sorted((swmm_cache / "swmm").glob("*.npz"))
    assert len(files) == 3, "one cached result per catchment"
    stamps = [f.stat().st_mtime_ns for f in files]
    second = build("swmm-5y", seed=11, duration_s=8 * 3600)
    assert [f.stat().st_mtime_ns for f in sorted((swmm_cache / "swmm").glob("*.npz"))] == stamps
    assert first.ground_truth == second.ground_truth
    for a, b in zip(first.chunks(), second.chunks(), strict=True):
        assert np.array_equal(a.ts_ms, b.ts_ms) and np.array_equal(a.value, b.value)
    other = build("swmm-5y", seed=12, duration_s=8 * 3600)
    assert other.ground_truth != first.ground_truth


def _tier_by_simple_rule(depth: np.ndarray) -> str:
    """docs/domain.md#road-ponding with 2 reports per tier, written plainly: the most severe tier whose
    condition holds at two consecutive reports; rising T1: ≥ 25 cm and > 5 cm above the report before,
    and the next report still above the middle of that rise."""
    n = depth.size
    rising = [False] * n
    for k in range(1, n):
        if depth[k] >= 25 and depth[k] - depth[k - 1] > 5:
            rising[k] = True
            if k + 1 < n and depth[k + 1] >= 25 and depth[k + 1] >= (depth[k] + depth[k - 1]) / 2:
                rising[k + 1] = True
    for tier, bound in (("1", 40.0), ("2", 27.0), ("3", 15.0)):
        ok = [depth[k] >= bound or (tier == "1" and rising[k]) for k in range(n)]
        if any(ok[k] and ok[k + 1] for k in range(n - 1)):
            return tier
    return "none"


def _runs_at_or_above(values: np.ndarray, bound: float) -> list[tuple[int, int]]:
    runs, start = [], None
    for k, v in enumerate(values.tolist()):
        if v >= bound and start is None:
            start = k
        if v < bound and start is not None:
            runs.append((start, k))
            start = None
    if start is not None:
        runs.append((start, values.size))
    return runs


@pytest.mark.parametrize("name", ["swmm-1y", "swmm-5y", "swmm-20y", "swmm-50y"])
def test_ponding_episodes_match_a_simple_rule_on_the_simulated_series(name: str) -> None:
    scenario = build(name, seed=4)
    rows = [r for r in scenario.ground_truth if r.kind == AlertKind.WATERLOGGING.value]
    expected = []
    for spec in (s for s in scenario.sensors if s.kind.value == "ponding_depth"):
        index = scenario.sensor_ids.index(spec.sensor_id)
        times = scenario.engine.sample_times(index)
        depth = scenario.engine.evaluate(index, times)
        for lo, hi in _runs_at_or_above(depth, 15.0):
            tier = _tier_by_simple_rule(depth[max(0, lo - 1) : hi + 1])
            if tier != "none":
                expected.append((spec.sensor_id, int(times[lo]), int(times[hi - 1]) + FIVE_MIN_MS, tier))
    got = sorted((r.sensor_ids[0], r.start_ms, r.end_ms, r.expected_tier) for r in rows)
    assert got == sorted(expected)
    assert name != "swmm-50y" or {t for *_, t in got} == {"1"}, "a 50-year storm floods every low point to T1"


def test_a_50_year_storm_overflows_manholes_to_tier_1_and_a_dry_day_has_no_episode() -> None:
    storm = build("swmm-50y", seed=4)
    overflow = [r for r in storm.ground_truth if r.kind == AlertKind.OVERFLOW.value and "overflow" in r.detail]
    assert overflow and all(r.expected_tier == "1" for r in overflow)
    for row in overflow:
        index = storm.sensor_ids.index(row.sensor_ids[0])
        level = storm.engine.evaluate(index, storm.engine.sample_times(index)).max()
        ground = storm.sensors[index].design_value
        assert ground is not None and level >= ground - 0.1, "overflowing means at the ground"
    dry: Scenario = build("swmm-dry", seed=4)
    assert dry.ground_truth == []
    kinds = np.array([s.kind.value for s in dry.sensors])
    for chunk in dry.chunks():
        wet_kinds = np.isin(kinds[chunk.sensor_index], ["rain", "ponding_depth"])
        assert np.all(chunk.value[wet_kinds] == 0.0), "no rain and no ponding on a dry day"


def test_a_broken_model_is_a_hydraulic_model_error_and_a_damaged_cache_file_is_simulated_again(
    tmp_path: Path,
) -> None:
    rain = np.full(6, 30.0)
    text = build_inp(CatchmentModel(), rain, 30)
    with pytest.raises(HydraulicModelError, match="SWMM"):
        simulate(text.replace("[CONDUITS]", "[CONDUITS]\nC9 J1 NOWHERE 10 0.013 0 0 0 0"), 30, cache_dir=None)
    first = simulate(text, 30, cache_dir=tmp_path)
    (cached,) = (tmp_path / "swmm").glob("*.npz")
    cached.write_bytes(b"not a zip file")
    again = simulate(text, 30, cache_dir=tmp_path)
    assert not again.cached and np.array_equal(again.depth_m["J3"], first.depth_m["J3"])
    assert simulate(text, 30, cache_dir=tmp_path).cached
