"""Where a water incident of a DMA most likely is: the ``location`` of its ``pipe_burst`` and ``background_leak``
alerts (docs/domain.md#where-is-the-leak).

The group stage hands :class:`GroupLocator` the alert's active contributions. Each carries the sensor's move
against its rule's reference level (:attr:`~lifeline.detectors.results.Finding.change`): a pressure logger's
mean since its step began minus its level before the step (MPa, told in metres of head), a noise logger's
night minimum minus its baseline (dB). The text names

* ``sensors:`` the pressure loggers whose head fell most, then the noise loggers whose night level rose most
  (at most 3 of each, largest change first): ``sensors: P-12 -9.2 m, P-07 -4.1 m``;
* ``nodes:`` first, when the group has a hydraulic model (``model=…inp`` in the registry) and its pressure
  loggers sit at model nodes (``node=``): the 3 junctions whose leak signature best explains the loggers'
  head changes (:func:`~lifeline.detectors.localisation.rank_nodes`), each with its pipe distance to the
  first: ``nodes: J-123 (0 m), J-98 (240 m), J-40 (410 m)``. A logger of the model without a step of its own
  counts as unchanged (its rule saw less than half the drop threshold).

The sensitivity model is built once per group, lazily, at the group's first water incident (one EPANET solve
per junction, then cached on disk beside the model file): that first alert waits for it, every later one is
instant. When it cannot be built (no wntr, a broken file) the group is named by its sensors only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lifeline.models import AlertKind, SensorKind, SensorSpec
from lifeline.network import parse_network
from lifeline.registry import Registry

from .localisation import SensitivityModel, moved_most, nodes_text, rank_nodes
from .state import Contribution

__all__ = ["LOCATED_KINDS", "M_HEAD_PER_MPA", "GroupLocator", "describe_location"]

log = logging.getLogger("lifeline.detectors")

#: the alert kinds whose ``location`` names where the leak is
LOCATED_KINDS = frozenset({AlertKind.PIPE_BURST, AlertKind.BACKGROUND_LEAK})
#: metres of water head per MPa (ρ g = 9 806.65 Pa per metre)
M_HEAD_PER_MPA = 1.0 / 0.00980665

ModelLoader = Callable[[Path, list[str]], SensitivityModel]


def describe_location(
    contribs: Sequence[Contribution], spec_of: Callable[[str], SensorSpec | None], model: SensitivityModel | None
) -> str:
    """The location text of one alert from its contributions (see the module docstring); empty when no
    pressure or noise logger moved.

    >>> from lifeline.models import Tier
    >>> def spec(sid: str) -> SensorSpec:
    ...     return SensorSpec(sid, SensorKind.WATER_PRESSURE, "DMA-1", "w", "d", 0.0, 0.0)
    >>> c = [Contribution(s, "DMA-1", AlertKind.PIPE_BURST, Tier.T2, 0, 0.3, 0.5, "", "water.pressure.drop:big",
    ...                   change=d) for s, d in (("P-07", -0.04), ("P-12", -0.09))]
    >>> describe_location(c, spec, None)
    'sensors: P-12 -9.2 m, P-07 -4.1 m'
    """
    head: dict[str, float] = {}
    noise: dict[str, float] = {}
    for c in contribs:
        spec = spec_of(c.sensor_id)
        if spec is None or c.change is None or not math.isfinite(c.change):
            continue
        if spec.kind is SensorKind.WATER_PRESSURE:
            head[c.sensor_id] = c.change * M_HEAD_PER_MPA
        elif spec.kind is SensorKind.NOISE_LEVEL:
            noise[c.sensor_id] = c.change
    parts = []
    if model is not None and head:
        parts.append(nodes_text(model, rank_nodes(model, _logger_changes(model, head, spec_of))))
    named = [f"{s} {c:+.1f} {unit}" for changes, unit in ((head, "m"), (noise, "dB")) for s, c in _most(changes)]
    if named:
        parts.append("sensors: " + ", ".join(named))
    return "; ".join(p for p in parts if p)


def _most(changes: dict[str, float]) -> list[tuple[str, float]]:
    """The (at most 3) sensors that moved most, largest change first (ties by sensor id)."""
    ids = sorted(changes)
    return moved_most(ids, np.array([changes[s] for s in ids], dtype=np.float64))


def _logger_changes(
    model: SensitivityModel, head: dict[str, float], spec_of: Callable[[str], SensorSpec | None]
) -> np.ndarray:
    """The head change (m) at each logger node of the model; 0 where no logger of the alert moved."""
    at_node: dict[str, float] = {}
    for sensor_id, change in head.items():
        spec = spec_of(sensor_id)
        node = parse_network(spec.network).node if spec is not None and spec.network else ""
        if node:
            at_node[node] = change
    return np.array([at_node.get(node, 0.0) for node in model.loggers], dtype=np.float64)


class GroupLocator:
    """The location text of a group's water incidents, with each group's sensitivity model built once."""

    def __init__(self, registry: Registry, loader: ModelLoader | None = None) -> None:
        """``loader`` builds a sensitivity model from a model file and logger nodes (default: wntr, cached on
        disk beside the model file)."""
        self.registry = registry
        self._loader = loader or _load
        self._models: dict[str, SensitivityModel | None] = {}

    def __call__(self, group_id: str, kind: AlertKind, contribs: Sequence[Contribution]) -> str:
        """The location of the alert ``kind`` of ``group_id`` (empty for other kinds or when nothing moved)."""
        if kind not in LOCATED_KINDS:
            return ""
        try:
            return describe_location(contribs, self.registry.get, self.model(group_id))
        except Exception:  # a location is a bonus: the alert itself must never fail on it
            log.exception("leak location failed", extra={"group_id": group_id})
            return ""

    def model(self, group_id: str) -> SensitivityModel | None:
        """The group's sensitivity model, built at the first call (``None`` without a model file or loggers)."""
        if group_id in self._models:
            return self._models[group_id]
        model: SensitivityModel | None = None
        members = self.registry.sensors_of_group(group_id)
        files = [parse_network(s.network).model for s in members if s.network]
        loggers = [parse_network(s.network).node for s in members if s.kind is SensorKind.WATER_PRESSURE and s.network]
        file = next((f for f in files if f), "")
        nodes = sorted({n for n in loggers if n})
        if file and nodes:
            base = Path.cwd() if self.registry.source.startswith("<") else Path(self.registry.source).parent
            try:
                model = self._loader(base / file, nodes)
            except Exception:  # localisation is a bonus: the alert still names its sensors
                log.exception("sensitivity model not built; alerts name sensors only", extra={"group_id": group_id})
        self._models[group_id] = model
        return model


def _load(model_file: Path, logger_nodes: list[str]) -> SensitivityModel:
    from .sensitivity import load_sensitivity

    return load_sensitivity(model_file, logger_nodes, model_file.parent)
