"""Leak localisation: which model node best explains the observed pressure changes.

A :class:`SensitivityModel` holds, for every candidate node ``j`` of a hydraulic model, the pressure change a
leak of 1 m³/h there causes at each logger (``S[:, j]``, metres of head per m³/h) and the change the same
extra flow causes when spread over all consumers like demand (``uniform``). The detectors explain pressure
by the DMA's consumption (a uniform rise of demand), so the part of a leak's signature they *cannot*
explain is ``S[:, j] - uniform``: :func:`rank_nodes` fits the observed residual change ``e`` with
``c · (S[:, j] - uniform)``, ``c ≥ 0``, for every node and ranks nodes by the share of ``e`` explained.

>>> import numpy as np
>>> model = SensitivityModel(
...     nodes=["A", "B", "C"], loggers=["P1", "P2"],
...     matrix=np.array([[-0.5, -0.1, -0.2], [-0.1, -0.6, -0.3]]), uniform=np.zeros(2),
...     distances=np.array([[0.0, 400.0, 250.0], [400.0, 0.0, 150.0], [250.0, 150.0, 0.0]]),
... )
>>> [c.node for c in rank_nodes(model, np.array([-1.0, -0.2]))][:2]
['A', 'C']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Candidate", "SensitivityModel", "moved_most", "nodes_text", "rank_nodes"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SensitivityModel:
    """Logger responses to a 1 m³/h leak at each node, and pipe-path distances between nodes (m)."""

    nodes: list[str]
    loggers: list[str]  # model node of each logger, in the order of the matrix rows
    matrix: Floats  # loggers × nodes, m of head per m³/h (negative: the pressure falls)
    uniform: Floats  # loggers, m per m³/h of extra consumption spread like demand
    distances: Floats  # nodes × nodes, shortest pipe path (m)

    def distance(self, a: str, b: str) -> float:
        """Pipe-path distance between two model nodes (m); ``inf`` when either is unknown."""
        try:
            return float(self.distances[self.nodes.index(a), self.nodes.index(b)])
        except ValueError:
            return float("inf")

    def nearest_logger(self, node: str) -> tuple[str, float]:
        """The logger node closest (by pipe) to ``node`` and its distance."""
        best = min(self.loggers, key=lambda logger: self.distance(node, logger))
        return best, self.distance(node, best)


@dataclass(frozen=True)
class Candidate:
    """A ranked leak location: node, share of the residual explained (0..1), and fitted size (m³/h)."""

    node: str
    fit: float
    size_m3h: float


def rank_nodes(model: SensitivityModel, residual_change_m: Floats, top: int = 3) -> list[Candidate]:
    """Rank nodes by how well a leak there explains ``residual_change_m`` (loggers, m of head)."""
    signature = model.matrix - model.uniform[:, None]
    e = np.asarray(residual_change_m, dtype=np.float64)
    energy = float(e @ e)
    if energy <= 0.0:
        return []
    norms = np.einsum("ij,ij->j", signature, signature)
    norms[norms <= 0.0] = np.inf
    size = np.clip(signature.T @ e / norms, 0.0, None)
    explained = 1.0 - np.einsum("ij,ij->j", e[:, None] - signature * size, e[:, None] - signature * size) / energy
    order = np.argsort(-explained, kind="stable")[:top]
    return [Candidate(model.nodes[j], float(max(explained[j], 0.0)), float(size[j])) for j in order.tolist()]


def moved_most(sensor_ids: list[str], change_sigmas: Floats, top: int = 3) -> list[tuple[str, float]]:
    """Without a model: the sensors whose change was largest in size (in units of their own noise, or in one
    physical unit shared by all of them, such as metres of head), largest first."""
    order = np.argsort(-np.abs(change_sigmas), kind="stable")[:top]
    return [(sensor_ids[i], float(change_sigmas[i])) for i in order.tolist()]


def nodes_text(model: SensitivityModel, candidates: list[Candidate]) -> str:
    """``nodes: J-123 (0 m), J-98 (240 m)``: the ranked nodes, each with its pipe distance to the first.

    >>> apart = np.array([[0.0, 240.4], [240.4, 0.0]])
    >>> model = SensitivityModel(["A", "B"], ["A"], np.zeros((1, 2)), np.zeros(1), apart)
    >>> nodes_text(model, [Candidate("A", 0.9, 5.0), Candidate("B", 0.7, 4.0)])
    'nodes: A (0 m), B (240 m)'
    """
    if not candidates:
        return ""
    top = candidates[0].node
    parts = []
    for c in candidates:
        metres = model.distance(top, c.node)
        parts.append(f"{c.node} ({metres:.0f} m)" if np.isfinite(metres) else f"{c.node} (not connected)")
    return "nodes: " + ", ".join(parts)
