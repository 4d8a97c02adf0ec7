"""Network facts in the sensor registry: model nodes and links, hydraulic model files, derived meters.

The registry's optional ``network`` column holds ``name=value`` pairs separated by ``;``:

``node=J-12``      the hydraulic-model node a pressure logger or tank level sits at
``link=P-3``       the model link a flow meter, pump state or valve state measures
``model=net.inp``  the group's EPANET model file (relative to the registry file); one per group
``derived=+A +B -C`` this row is a derived meter: the sum and difference of other meters (no readings of its own)
``-rate(T1)*186``  a derived meter's term for a tank with a level sensor and no meter: the level's rate of
                   change (m/h, from one 5-minute step to the next) times the tank's area (m²), in m³/h

>>> info = parse_network("derived=+DMA1-IN-Q - DMA1-EXP-Q;model=dma1.inp")
>>> [(t.sign, t.sensor_id) for t in info.derived], info.model
([(1.0, 'DMA1-IN-Q'), (-1.0, 'DMA1-EXP-Q')], 'dma1.inp')
>>> DerivedMeter(info.derived).evaluate({"DMA1-IN-Q": 120.0, "DMA1-EXP-Q": 20.5})
99.5
>>> fed = DerivedMeter(parse_network("derived=+IN-Q -rate(T1-L)*186").derived)
>>> round(fed.evaluate({"IN-Q": 250.0, "T1-L": 3.02}, before={"IN-Q": 250.0, "T1-L": 3.0}, interval_s=300), 2)
205.36
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lifeline.exceptions import RegistryProblem
from lifeline.models import SensorKind, SensorSpec

__all__ = [
    "NETWORK_KEYS",
    "DerivedMeter",
    "MeterTerm",
    "NetworkInfo",
    "check_network",
    "format_network",
    "parse_network",
]

NETWORK_KEYS = ("node", "link", "model", "derived")
_FLOW_KINDS = frozenset({SensorKind.WATER_FLOW, SensorKind.GAS_FLOW, SensorKind.SEWER_FLOW})
_LINK_KINDS = frozenset({SensorKind.PUMP_STATE, SensorKind.VALVE_STATE})


@dataclass(frozen=True, slots=True)
class MeterTerm:
    """One term of a derived meter: ``sign`` (+1 or -1) times the reading of ``sensor_id``.

    With ``area_m2`` the term is a tank's inflow from its level sensor instead: the level's rate of change
    (m/h) times the area (``rate(ID)*AREA`` in the registry).
    """

    sign: float
    sensor_id: str
    area_m2: float | None = None

    def text(self) -> str:
        """The term as the registry writes it: ``+A`` or ``-rate(T1)*186``."""
        sign = "+" if self.sign > 0 else "-"
        return f"{sign}{self.sensor_id}" if self.area_m2 is None else f"{sign}rate({self.sensor_id})*{self.area_m2:g}"


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """The parsed ``network`` column of one registry row."""

    node: str = ""
    link: str = ""
    model: str = ""
    derived: tuple[MeterTerm, ...] = field(default_factory=tuple)


_RATE = re.compile(r"rate\(([^()\s]+)\)\*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)")


def _parse_terms(text: str) -> tuple[MeterTerm, ...]:
    """Whitespace-separated terms, each a sign and a sensor id (ids may contain ``-``): ``+A -B``."""
    tokens = text.split()
    merged: list[str] = []
    for token in tokens:
        if merged and merged[-1] in {"+", "-"}:
            merged[-1] += token
        else:
            merged.append(token)
    terms: list[MeterTerm] = []
    for n, token in enumerate(merged):
        sign, name = (token[0], token[1:]) if token[0] in "+-" else ("+" if n == 0 else "", token)
        if not sign or not name or name[0] in "+-":
            raise ValueError(f"derived={text!r} is not a sum of meters like '+A -B +C' (terms apart by spaces)")
        rate = _RATE.fullmatch(name)
        if name.startswith("rate(") and rate is None:
            raise ValueError(f"derived term {name!r} is not rate(LEVEL-SENSOR)*AREA_M2, e.g. rate(T1-L)*186")
        if rate is None:
            terms.append(MeterTerm(1.0 if sign == "+" else -1.0, name))
            continue
        area = float(rate.group(2))
        if not 0.0 < area < float("inf"):
            raise ValueError(f"derived term {name!r}: the tank's area must be a positive number of m²")
        terms.append(MeterTerm(1.0 if sign == "+" else -1.0, rate.group(1), area))
    if not terms:
        raise ValueError("derived= names no meter")
    return tuple(terms)


def parse_network(text: str) -> NetworkInfo:
    """Parse a ``network`` column (raises ``ValueError`` naming the bad part)."""
    values: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not value.strip():
            raise ValueError(f"{part!r} is not name=value")
        if name not in NETWORK_KEYS:
            raise ValueError(f"unknown key {name!r}; known: {', '.join(NETWORK_KEYS)}")
        if name in values:
            raise ValueError(f"{name!r} is given twice")
        values[name] = value.strip()
    derived = _parse_terms(values["derived"]) if "derived" in values else ()
    return NetworkInfo(values.get("node", ""), values.get("link", ""), values.get("model", ""), derived)


def format_network(info: NetworkInfo) -> str:
    """The ``network`` column text for ``info`` (the inverse of :func:`parse_network`)."""
    parts = [f"{k}={v}" for k, v in (("node", info.node), ("link", info.link), ("model", info.model)) if v]
    if info.derived:
        parts.append("derived=" + " ".join(t.text() for t in info.derived))
    return ";".join(parts)


class DerivedMeter:
    """A meter computed from others, e.g. DMA inflow = inlet − export to the next DMA."""

    def __init__(self, terms: tuple[MeterTerm, ...]) -> None:
        self.terms = terms

    @property
    def sensor_ids(self) -> list[str]:
        """The meters (and tank level sensors) this one is computed from."""
        return [t.sensor_id for t in self.terms]

    @property
    def has_rates(self) -> bool:
        """Whether a term is a tank's level rate, so :meth:`evaluate` needs the values of the step before."""
        return any(t.area_m2 is not None for t in self.terms)

    def evaluate(
        self, values: Mapping[str, float], *, before: Mapping[str, float] | None = None, interval_s: float = 300.0
    ) -> float | None:
        """The derived value, or ``None`` when a component reading is missing.

        A meter with ``rate(…)`` terms describes the interval from ``before`` (every term's value
        ``interval_s`` earlier) to ``values``: a level's rate is ``(now - before) / interval_s`` in m/h times
        the tank's area, and a meter's flow is the mean of its two values, so that a pump starting inside the
        interval enters both sides of the balance alike. ``None`` or a missing earlier value: no value.
        """
        total = 0.0
        rates = self.has_rates
        for term in self.terms:
            value = values.get(term.sensor_id)
            if value is None or value != value:
                return None
            if rates:
                earlier = None if before is None else before.get(term.sensor_id)
                if earlier is None or earlier != earlier:
                    return None
                if term.area_m2 is not None:
                    value = (value - earlier) / interval_s * 3600.0 * term.area_m2
                else:
                    value = (value + earlier) / 2
            total += term.sign * value
        return total


def check_network(specs: list[SensorSpec], rows: Mapping[str, int], file: str) -> list[RegistryProblem]:
    """Cross-row checks of the network facts (``rows``: sensor id → row number); every problem at once.

    Derived meters must name existing flow meters of their own kind (or, in ``rate(…)`` terms of a water
    meter, tank level sensors), never themselves or another derived meter; pump/valve state sensors need
    ``link=``; a group has at most one model file, which must exist.
    """
    problems: list[RegistryProblem] = []
    by_id = {s.sensor_id: s for s in specs}
    infos = {s.sensor_id: parse_network(s.network) for s in specs if s.network}
    models: dict[str, tuple[str, str]] = {}
    base = Path(file).parent if not file.startswith("<") else Path.cwd()
    for sid, info in infos.items():
        spec, row = by_id[sid], rows[sid]

        def bad(message: str, _row: int = row) -> None:
            problems.append(RegistryProblem(file, _row, "network", message))

        if info.derived:
            if spec.kind not in _FLOW_KINDS:
                bad(f"derived meter must be a flow kind, not {spec.kind.value!r}")
            for term in info.derived:
                other = by_id.get(term.sensor_id)
                if term.sensor_id == sid:
                    bad("derived meter names itself")
                elif other is None:
                    bad(f"derived term {term.sensor_id!r} is not a sensor of this registry")
                elif term.area_m2 is not None:
                    if other.kind is not SensorKind.TANK_LEVEL or spec.kind is not SensorKind.WATER_FLOW:
                        bad(
                            f"rate({term.sensor_id}) needs a tank_level sensor in a water_flow meter, "
                            f"not {other.kind.value!r} in {spec.kind.value!r}"
                        )
                elif other.kind is not spec.kind:
                    bad(f"derived term {term.sensor_id!r} is {other.kind.value!r}, not {spec.kind.value!r}")
                elif term.sensor_id in infos and infos[term.sensor_id].derived:
                    bad(f"derived term {term.sensor_id!r} is itself derived; name its meters instead")
        if info.model:
            group = spec.group_id or spec.asset_id
            seen = models.get(group)
            if seen is not None and seen[0] != info.model:
                bad(f"group {group!r} already has model {seen[0]!r} (sensor {seen[1]}); one model per group")
            models.setdefault(group, (info.model, sid))
            if not (base / info.model).is_file():
                bad(f"model file {info.model!r} does not exist (relative to the registry file)")
    for spec in specs:
        if spec.kind in _LINK_KINDS and not (spec.sensor_id in infos and infos[spec.sensor_id].link):
            problems.append(
                RegistryProblem(file, rows[spec.sensor_id], "network", f"{spec.kind.value} needs link=<model link>")
            )
    return problems
