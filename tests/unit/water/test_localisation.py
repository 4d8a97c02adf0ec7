"""Leak localisation: the true node ranks first on noiseless cases set up by hand and on a real EPANET model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lifeline.detectors.localisation import SensitivityModel, moved_most, rank_nodes
from lifeline.detectors.sensitivity import load_sensitivity


def _hand_model() -> SensitivityModel:
    # 3 loggers, 4 nodes; a leak at a node lowers its own logger most (m of head per m3/h)
    matrix = np.array([
        [-0.30, -0.05, -0.02, -0.10],
        [-0.04, -0.25, -0.06, -0.10],
        [-0.01, -0.05, -0.20, -0.10],
    ])  # fmt: skip
    distances = np.array([[0, 500, 900, 300], [500, 0, 400, 350], [900, 400, 0, 600], [300, 350, 600, 0.0]])
    return SensitivityModel(["A", "B", "C", "D"], ["A", "B", "C"], matrix, np.full(3, -0.1), distances)


def test_the_true_node_ranks_first_with_its_size() -> None:
    model = _hand_model()
    # an 8 m3/h leak at B, seen as what the consumption regression cannot explain: (S_B - uniform) * 8
    observed = (np.array([-0.05, -0.25, -0.05]) - -0.1) * 8.0
    ranked = rank_nodes(model, observed)
    assert ranked[0].node == "B"
    assert abs(ranked[0].size_m3h - 8.0) < 1e-9
    assert ranked[0].fit > 0.999
    assert model.distance("B", "C") == 400.0
    assert model.nearest_logger("D") == ("A", 300.0)


def test_no_change_names_no_node_and_sensors_moved_most_without_a_model() -> None:
    assert rank_nodes(_hand_model(), np.zeros(3)) == []
    assert moved_most(["P1", "P2", "P3"], np.array([-0.5, -4.0, 2.0]), top=2) == [("P2", -4.0), ("P3", 2.0)]


def test_a_leak_in_epanet_net1_is_located_at_its_node(tmp_path: Path) -> None:
    import wntr

    inp = Path(wntr.__file__).parent / "library" / "networks" / "Net1.inp"
    loggers = ["10", "12", "22", "31"]
    model = load_sensitivity(inp, loggers, tmp_path)
    for true in ("21", "23", "32"):
        j = model.nodes.index(true)
        observed = (model.matrix[:, j] - model.uniform) * 6.0
        assert rank_nodes(model, observed)[0].node == true
    assert list(tmp_path.glob("sensitivity-*.npz"))  # cached for the next group that uses this model


def test_a_column_is_the_pressure_change_of_a_whole_epanet_run_with_that_leak(tmp_path: Path) -> None:
    import wntr

    inp = Path(wntr.__file__).parent / "library" / "networks" / "Net3.inp"
    loggers = ["10", "117", "153", "205", "255"]
    model = load_sensitivity(inp, loggers, tmp_path)

    def run(leak_at: str | None) -> np.ndarray:  # one whole simulation, as wntr runs it, no toolkit tricks
        wn = wntr.network.WaterNetworkModel(str(inp))
        wn.options.time.duration = 0
        wn.options.quality.parameter = "NONE"
        if leak_at is not None:
            wn.get_node(leak_at).add_demand(base=10.0 / 3600.0, pattern_name=None)
        results = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(tmp_path / "run"))
        return np.asarray(results.node["pressure"][loggers].to_numpy()[0], dtype=np.float64)

    base = run(None)
    for node in ("15", "171", "241"):
        expected = (run(node) - base) / 10.0
        assert np.allclose(model.matrix[:, model.nodes.index(node)], expected, atol=1e-5), node


def test_distances_take_the_shortest_of_parallel_pipes_and_pumps_count_nothing(tmp_path: Path) -> None:
    import wntr

    from lifeline.detectors.sensitivity import _distances

    wn = wntr.network.WaterNetworkModel()
    wn.add_reservoir("R", base_head=50.0)
    for name in ("A", "B", "C", "D"):
        wn.add_junction(name, base_demand=0.001, elevation=0.0)
    wn.add_pipe("R-A", "R", "A", length=10.0)
    wn.add_pipe("AB-short", "A", "B", length=100.0)
    wn.add_pipe("AB-long", "A", "B", length=400.0)  # parallel, listed after the short one
    wn.add_pipe("BC", "B", "C", length=50.0)
    wn.add_pump("PUMP", "C", "D", pump_type="POWER", pump_parameter=1.0)
    d = _distances(wn, ["A", "B", "C", "D"])
    assert d[0, 1] == pytest.approx(100.0) and d[0, 2] == pytest.approx(150.0)
    assert d[2, 3] == pytest.approx(0.0, abs=1e-6) and d[0, 3] == pytest.approx(150.0)


def test_a_run_killed_mid_model_leaves_no_epanet_scratch_file_in_the_working_folder(tmp_path: Path) -> None:
    # EPANET's toolkit writes its scratch files (``en`` + 6 letters) into the working folder; the solves run
    # in a child working in a temporary folder, so killing the caller mid-run leaves the working folder clean
    import os
    import signal
    import subprocess
    import sys
    import time

    import wntr

    inp = Path(wntr.__file__).parent / "library" / "networks" / "ky4.inp"
    work, scratch = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    code = f"from lifeline.detectors.sensitivity import load_sensitivity; load_sensitivity({str(inp)!r}, ['J-1'])"
    # the scratch file lives about 2 s of a 4 s run; on a loaded machine this poll can sleep through all of it,
    # so a run that ends cleanly before a file was seen is started again (at most three times)
    for _attempt in range(3):
        caller = subprocess.Popen([sys.executable, "-c", code], cwd=work, env={**os.environ, "TMPDIR": str(scratch)},
                                  start_new_session=True, stderr=subprocess.PIPE)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not list(tmp_path.rglob("en??????")) and caller.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            seen = list(tmp_path.rglob("en??????"))
        finally:
            os.killpg(caller.pid, signal.SIGKILL)  # the caller and the child it started
            _, stderr = caller.communicate()
        if seen or caller.returncode != 0:
            break
    assert seen, f"EPANET wrote no scratch file while solving (exit {caller.returncode}): {stderr.decode()[-2000:]}"
    assert not list(work.glob("en*"))


def test_when_no_child_process_can_run_the_model_is_computed_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wntr

    from lifeline.detectors import sensitivity

    inp = Path(wntr.__file__).parent / "library" / "networks" / "Net1.inp"
    loggers = ["10", "12", "22", "31"]
    apart = load_sensitivity(inp, loggers)

    def no_child(*_args: object, **_kwargs: object) -> None:
        raise OSError("no process can be started here")

    monkeypatch.setattr(sensitivity, "ProcessPoolExecutor", no_child)
    here = load_sensitivity(inp, loggers)
    assert here.nodes == apart.nodes
    assert np.array_equal(here.matrix, apart.matrix) and np.array_equal(here.distances, apart.distances)
