"""The sensitivity matrix of a group's hydraulic model (``model=…inp`` in the registry), computed with wntr.

For each junction ``j`` the model is solved once (EPANET, one steady state at the model's start time, tanks at
their initial levels) with a 10 m³/h leak added at ``j`` (a demand on the model's default pattern); the
pressure change at each logger node divided by 10 is column ``j``. The same extra flow spread over every
consumer like demand gives ``uniform``. Distances are shortest paths along pipes (pumps and valves count 0 m;
of parallel links the shortest). The result is cached beside the cache of the hydraulic scenarios
(``LIFELINE_CACHE_DIR``), keyed by the model file's content and the logger set.

The solves go through EPANET's toolkit on one opened project, setting the leak as the base demand of an extra
demand category of each junction in turn, instead of writing, running and reading a whole simulation per
junction: wntr's 3,323-junction Net6 took about 9 minutes that way (ky4's 959 junctions 52 s, now 1.7 s), and
the first water incident of a group waits for its model (docs/domain.md#where-is-the-leak). The matrix is the
same to about 2e-6 m per m³/h (the model is written once, in m³/h, for the toolkit).

wntr is imported here only, and only when a group has a model. The solves run in a child process whose
working directory is a temporary folder: EPANET's toolkit writes its scratch files (``en`` and six letters) into
the working directory, where a killed run would leave them, and a crash inside the C library cannot take the
calling stage with it.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import math
import multiprocessing
import os
import pickle
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from .localisation import SensitivityModel

__all__ = ["load_sensitivity"]

log = logging.getLogger("lifeline.detectors")

_LEAK_M3H = 10.0
#: part of the cache key: 2 takes the shortest of parallel links for distances (1 took whichever came last)
_CACHE_VERSION = b"|v2"


def load_sensitivity(
    model_file: str | Path, logger_nodes: list[str], cache_dir: Path | None = None
) -> SensitivityModel:
    """The sensitivity of ``logger_nodes`` to a leak at each junction of ``model_file`` (cached)."""
    data = Path(model_file).read_bytes()
    key = hashlib.sha1(data + "|".join(logger_nodes).encode() + _CACHE_VERSION).hexdigest()[:16]
    cache = None if cache_dir is None else cache_dir / f"sensitivity-{key}.npz"
    if cache is not None and cache.exists():
        with np.load(cache) as saved:
            return SensitivityModel(
                nodes=[str(n) for n in saved["nodes"]], loggers=list(logger_nodes), matrix=saved["matrix"],
                uniform=saved["uniform"], distances=saved["distances"],
            )  # fmt: skip
    model = _compute_apart(Path(model_file).resolve(), logger_nodes)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, nodes=np.array(model.nodes), matrix=model.matrix, uniform=model.uniform,
                            distances=model.distances)  # fmt: skip
    return model


def _compute_apart(model_file: Path, logger_nodes: list[str]) -> SensitivityModel:
    """:func:`_compute` in a fresh child process working in a temporary folder (removed after); in this process
    when no child can run it (it could not start, or died), as before the child existed."""
    try:
        with tempfile.TemporaryDirectory(prefix="lifeline-epanet-") as folder:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=context, initializer=os.chdir, initargs=(folder,)) as child:
                return child.submit(_compute, model_file, logger_nodes).result()
    except (BrokenProcessPool, OSError, ImportError, pickle.PicklingError) as exc:
        log.warning("leak sensitivity: no child process (%r); computing in this process", exc)
        return _compute(model_file, logger_nodes)


def _compute(model_file: Path, logger_nodes: list[str]) -> SensitivityModel:
    import wntr

    wn = wntr.network.WaterNetworkModel(str(model_file))
    wn.options.time.duration = 0
    wn.options.quality.parameter = "NONE"
    nodes = list(wn.junction_name_list)
    demands = {n: sum(d.base_value for d in wn.get_node(n).demand_timeseries_list) for n in nodes}
    for node in nodes:  # the leak's own demand category, on the default pattern like any unpatterned demand
        wn.get_node(node).add_demand(base=0.0, pattern_name=None)
    with tempfile.TemporaryDirectory(prefix="lifeline-sensitivity-") as folder:
        project = _Project(wn, Path(folder), logger_nodes)
        try:
            base = project.pressures()
            columns = [(project.with_leaks({node: _LEAK_M3H}) - base) / _LEAK_M3H for node in nodes]
            total = sum(v for v in demands.values() if v > 0)
            shares = {n: v / total * _LEAK_M3H for n, v in demands.items() if v > 0}
            uniform = (project.with_leaks(shares) - base) / _LEAK_M3H if shares else np.zeros(len(logger_nodes))
        finally:
            project.close()
    return SensitivityModel(nodes, list(logger_nodes), np.column_stack(columns), uniform, _distances(wn, nodes))


class _Project:
    """One EPANET project of the model (written once, flows in m³/h, pressures in m), solved with extra demands."""

    def __init__(self, wn: Any, folder: Path, logger_nodes: list[str]) -> None:
        import wntr
        from wntr.epanet import toolkit

        inp = folder / "s.inp"
        wntr.network.write_inpfile(wn, str(inp), units="CMH")
        self._en = toolkit.ENepanet(version=2.2)
        self._en.ENopen(str(inp), str(folder / "s.rpt"), str(folder / "s.bin"))
        self._loggers = [self._en.ENgetnodeindex(n) for n in logger_nodes]
        self._index = {n: self._en.ENgetnodeindex(n) for n in wn.junction_name_list}
        self._leak_category: dict[str, int] = {}  # the extra demand category of each junction (its last)
        count = ctypes.c_int()
        for name, index in self._index.items():
            self._check(self._en.ENlib.EN_getnumdemands(self._en._project, index, ctypes.byref(count)))
            self._leak_category[name] = count.value

    def _check(self, code: int) -> None:
        if code > 100:  # EPANET's errors (warnings are 1-6)
            raise RuntimeError(f"EPANET toolkit error {code}")

    def _set(self, node: str, m3h: float) -> None:
        lib, project = self._en.ENlib, self._en._project
        self._check(lib.EN_setbasedemand(project, self._index[node], self._leak_category[node], ctypes.c_double(m3h)))

    def pressures(self) -> np.ndarray:
        """The loggers' pressures (m) of one steady-state solve."""
        self._en.ENsolveH()
        return np.array([self._en.ENgetnodevalue(i, _EN_PRESSURE) for i in self._loggers], dtype=np.float64)

    def with_leaks(self, leaks: dict[str, float]) -> np.ndarray:
        """The loggers' pressures with ``leaks`` (junction → m³/h) added, which are removed again after."""
        for node, m3h in leaks.items():
            self._set(node, m3h)
        try:
            return self.pressures()
        finally:
            for node in leaks:
                self._set(node, 0.0)

    def close(self) -> None:
        self._en.ENclose()


_EN_PRESSURE = 11  # EPANET's node parameter code of pressure


def _distances(wn: Any, nodes: list[str]) -> np.ndarray:
    """Shortest pipe distances between ``nodes`` (m; pumps and valves 0 m; ``inf`` when not connected)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    names = list(wn.node_name_list)
    at = {n: i for i, n in enumerate(names)}
    edges: dict[tuple[int, int], float] = {}  # the shortest of parallel links
    for name in wn.link_name_list:
        link = wn.get_link(name)
        length = float(getattr(link, "length", 0.0) or 0.0) if link.link_type == "Pipe" else 0.0
        a, b = sorted((at[link.start_node_name], at[link.end_node_name]))
        if a != b:
            edges[(a, b)] = min(edges.get((a, b), math.inf), max(length, _ZERO_M))  # scipy drops stored zeros
    ends = np.array(list(edges), dtype=np.int64).reshape(-1, 2)
    graph = csr_matrix((list(edges.values()), (ends[:, 0], ends[:, 1])), shape=(len(names), len(names)))
    wanted = np.array([at[n] for n in nodes], dtype=np.int64)
    out: np.ndarray = dijkstra(graph, directed=False, indices=wanted)[:, wanted]
    return out


#: the length a pump or valve counts (a stored 0 would be no edge at all)
_ZERO_M = 1e-9
