"""The sensitivity matrix of a group's hydraulic model (``model=…inp`` in the registry), computed with wntr.

For each junction ``j`` the model is solved once (EPANET, one steady state at the model's start time, tanks at
their initial levels) with a 10 m³/h leak added at ``j``; the pressure change at each logger node divided by
10 is column ``j``. The same extra flow spread over every consumer like demand gives ``uniform``. Distances
are shortest paths along pipes (pumps and valves count 0 m). The result is cached beside the cache of the
hydraulic scenarios (``LIFELINE_CACHE_DIR``), keyed by the model file's content and the logger set.

wntr is imported here only, and only when a group has a model.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .localisation import SensitivityModel

__all__ = ["load_sensitivity"]

_LEAK_M3H = 10.0


def load_sensitivity(
    model_file: str | Path, logger_nodes: list[str], cache_dir: Path | None = None
) -> SensitivityModel:
    """The sensitivity of ``logger_nodes`` to a leak at each junction of ``model_file`` (cached)."""
    data = Path(model_file).read_bytes()
    key = hashlib.sha1(data + "|".join(logger_nodes).encode()).hexdigest()[:16]
    cache = None if cache_dir is None else cache_dir / f"sensitivity-{key}.npz"
    if cache is not None and cache.exists():
        with np.load(cache) as saved:
            return SensitivityModel(
                nodes=[str(n) for n in saved["nodes"]], loggers=list(logger_nodes), matrix=saved["matrix"],
                uniform=saved["uniform"], distances=saved["distances"],
            )  # fmt: skip
    model = _compute(Path(model_file), logger_nodes)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, nodes=np.array(model.nodes), matrix=model.matrix, uniform=model.uniform,
                            distances=model.distances)  # fmt: skip
    return model


def _compute(model_file: Path, logger_nodes: list[str]) -> SensitivityModel:
    import wntr

    wn = wntr.network.WaterNetworkModel(str(model_file))
    wn.options.time.duration = 0
    wn.options.quality.parameter = "NONE"
    nodes = list(wn.junction_name_list)
    with tempfile.TemporaryDirectory(prefix="lifeline-sensitivity-") as folder:
        prefix = str(Path(folder) / "s")
        base = _pressures(wn, logger_nodes, prefix)
        columns = []
        for node in nodes:
            junction = wn.get_node(node)
            junction.add_demand(base=_LEAK_M3H / 3600.0, pattern_name=None)
            columns.append((_pressures(wn, logger_nodes, prefix) - base) / _LEAK_M3H)
            del junction.demand_timeseries_list[-1]
        consumers = [n for n in nodes if sum(d.base_value for d in wn.get_node(n).demand_timeseries_list) > 0]
        total = sum(sum(d.base_value for d in wn.get_node(n).demand_timeseries_list) for n in consumers)
        for node in consumers:
            share = sum(d.base_value for d in wn.get_node(node).demand_timeseries_list) / total
            wn.get_node(node).add_demand(base=share * _LEAK_M3H / 3600.0, pattern_name=None)
        uniform = (_pressures(wn, logger_nodes, prefix) - base) / _LEAK_M3H
    return SensitivityModel(nodes, list(logger_nodes), np.column_stack(columns), uniform, _distances(wn, nodes))


def _pressures(wn: Any, logger_nodes: list[str], prefix: str) -> np.ndarray:
    import wntr

    results = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=prefix)
    return np.asarray(results.node["pressure"][logger_nodes].to_numpy()[0], dtype=np.float64)


def _distances(wn: Any, nodes: list[str]) -> np.ndarray:
    import networkx as nx

    graph = nx.Graph()
    for name in wn.link_name_list:
        link = wn.get_link(name)
        length = float(getattr(link, "length", 0.0) or 0.0) if link.link_type == "Pipe" else 0.0
        graph.add_edge(link.start_node_name, link.end_node_name, weight=length)
    lengths = dict(nx.all_pairs_dijkstra_path_length(graph, weight="weight"))
    out = np.full((len(nodes), len(nodes)), np.inf)
    for i, a in enumerate(nodes):
        row = lengths.get(a, {})
        for j, b in enumerate(nodes):
            out[i, j] = row.get(b, np.inf)
    return out
