"""The sensor registry: one CSV file describing every sensor, its asset, owner and thresholds.

Format (UTF-8 CSV, header row required, ``#`` lines are comments)::

    sensor_id,kind,asset_id,asset_kind,owner,maintainer,district,lat,lon,group_id,interval_s,min_value,max_value,design_value,thresholds
    G-0001-CH4,ch4_lel,GW-0001,gas_valve_well,hefei-gas,hefei-gas-devices,shushan,31.82,117.22,GM-01,300,,,,t3=10;t2=25;t1=50

Required columns: ``sensor_id, kind, asset_id, owner, district, lat, lon``. The others may be
absent or empty. ``kind`` is one of :class:`lifeline.models.SensorKind`; the unit and lifeline
follow from it (an optional ``unit`` column, if present, must agree). ``thresholds`` is a list of
``name=number`` pairs separated by ``;``. Loading validates every row and raises
:class:`~lifeline.exceptions.RegistryError` listing *all* problems with file, row and field.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from lifeline.exceptions import RegistryError, RegistryProblem
from lifeline.models import SensorKind, SensorSpec
from lifeline.network import check_network, parse_network

__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "Registry", "load_registry", "parse_registry", "write_registry"]

REQUIRED_COLUMNS = ("sensor_id", "kind", "asset_id", "owner", "district", "lat", "lon")
COLUMNS = (
    "sensor_id", "kind", "asset_id", "asset_kind", "owner", "maintainer", "district", "lat", "lon",
    "group_id", "interval_s", "min_value", "max_value", "design_value", "thresholds",
)  # fmt: skip
#: optional, written only when a sensor has network facts (``lifeline.network``)
NETWORK_COLUMN = "network"
_KNOWN = frozenset((*COLUMNS, "unit", NETWORK_COLUMN))


class Registry(Mapping[str, SensorSpec]):
    """All sensors by id, with an index of sensors by asset and by group."""

    def __init__(self, sensors: Iterable[SensorSpec], source: str = "<memory>") -> None:
        self._by_id: dict[str, SensorSpec] = {s.sensor_id: s for s in sensors}
        self.source = source
        self._by_asset: dict[str, list[SensorSpec]] = {}
        self._by_group: dict[str, list[SensorSpec]] = {}
        for spec in self._by_id.values():
            self._by_asset.setdefault(spec.asset_id, []).append(spec)
            if spec.group_id:
                self._by_group.setdefault(spec.group_id, []).append(spec)

    def __getitem__(self, sensor_id: str) -> SensorSpec:
        return self._by_id[sensor_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def sensors_of_asset(self, asset_id: str) -> list[SensorSpec]:
        """Sensors mounted on one asset (well, logger point, gauge, bridge span)."""
        return list(self._by_asset.get(asset_id, ()))

    def sensors_of_group(self, group_id: str) -> list[SensorSpec]:
        """Sensors in one physically linked group (DMA, gas main, catchment, bridge)."""
        return list(self._by_group.get(group_id, ()))

    @property
    def asset_ids(self) -> list[str]:
        """Every asset id, in registry order."""
        return list(self._by_asset)


def _parse_float(text: str, *, allow_empty: bool) -> float | None:
    if text == "":
        if allow_empty:
            return None
        raise ValueError("is empty; a number is required")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _parse_thresholds(text: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, number = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{part!r} is not name=number")
        parsed = _parse_float(number.strip(), allow_empty=False)
        assert parsed is not None
        result[name.strip()] = parsed
    return result


def _parse_row(row: dict[str, str], file: str, line: int, problems: list[RegistryProblem]) -> SensorSpec | None:
    def bad(field: str, message: str) -> None:
        problems.append(RegistryProblem(file, line, field, message))

    before = len(problems)
    for name in REQUIRED_COLUMNS:
        if not row.get(name, "").strip():
            bad(name, "is empty; this column is required")
    kind: SensorKind | None = None
    kind_text = row.get("kind", "").strip()
    if kind_text:
        try:
            kind = SensorKind(kind_text)
        except ValueError:
            bad("kind", f"unknown kind {kind_text!r}; known kinds: {', '.join(k.value for k in SensorKind)}")
    unit = row.get("unit", "").strip()
    if kind is not None and unit and unit != kind.unit:
        bad("unit", f"{unit!r} does not match kind {kind.value!r}, whose unit is {kind.unit!r}")
    numbers: dict[str, float | None] = {}
    for name in ("lat", "lon", "interval_s", "min_value", "max_value", "design_value"):
        text = row.get(name, "").strip()
        if name in REQUIRED_COLUMNS and not text:
            continue  # already reported as empty
        try:
            numbers[name] = _parse_float(text, allow_empty=True)
        except ValueError as exc:
            bad(name, str(exc) if "finite" in str(exc) else f"{text!r} is not a number")
    lat, lon = numbers.get("lat"), numbers.get("lon")
    if lat is not None and not -90.0 <= lat <= 90.0:
        bad("lat", f"{lat} is outside -90..90")
    if lon is not None and not -180.0 <= lon <= 180.0:
        bad("lon", f"{lon} is outside -180..180")
    interval = numbers.get("interval_s")
    if interval is not None and interval <= 0:
        bad("interval_s", f"{interval} must be positive")
    low, high = numbers.get("min_value"), numbers.get("max_value")
    if low is not None and high is not None and low >= high:
        bad("max_value", f"max_value {high} must be greater than min_value {low}")
    thresholds: dict[str, float] = {}
    try:
        thresholds = _parse_thresholds(row.get("thresholds", ""))
    except ValueError as exc:
        bad("thresholds", str(exc))
    network = row.get(NETWORK_COLUMN, "").strip()
    try:
        parse_network(network)
    except ValueError as exc:
        bad(NETWORK_COLUMN, str(exc))
    if len(problems) > before or kind is None or lat is None or lon is None:
        return None
    return SensorSpec(
        sensor_id=row["sensor_id"].strip(),
        kind=kind,
        asset_id=row["asset_id"].strip(),
        owner=row["owner"].strip(),
        district=row["district"].strip(),
        lat=lat,
        lon=lon,
        asset_kind=row.get("asset_kind", "").strip(),
        maintainer=row.get("maintainer", "").strip(),
        group_id=row.get("group_id", "").strip(),
        interval_s=300.0 if interval is None else interval,
        min_value=low,
        max_value=high,
        design_value=numbers.get("design_value"),
        thresholds=thresholds,
        network=network,
    )


def parse_registry(text: str, file: str = "<text>") -> Registry:
    """Parse registry CSV text; raise :class:`RegistryError` with every problem found."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    problems: list[RegistryProblem] = []
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RegistryError(
            [RegistryProblem(file, 1, c, "required column is missing from the header") for c in missing]
        )
    unknown = [c for c in header if c not in _KNOWN]
    problems.extend(RegistryProblem(file, 1, c, f"unknown column; known: {', '.join(COLUMNS)}") for c in unknown)
    specs: list[SensorSpec] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(reader, start=2):
        if None in row:
            problems.append(RegistryProblem(file, index, "row", "has more fields than the header"))
            continue
        spec = _parse_row({k: (v or "") for k, v in row.items()}, file, index, problems)
        if spec is None:
            continue
        if spec.sensor_id in seen:
            problems.append(RegistryProblem(file, index, "sensor_id", f"duplicate of row {seen[spec.sensor_id]}"))
            continue
        seen[spec.sensor_id] = index
        specs.append(spec)
    problems.extend(check_network(specs, seen, file))
    if problems:
        raise RegistryError(problems)
    return Registry(specs, source=file)


def load_registry(path: str | Path) -> Registry:
    """Load and validate a registry CSV file."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise RegistryError([RegistryProblem(str(file), 0, "file", "does not exist")]) from None
    return parse_registry(_registry_text(data, str(file)), file=str(file))


def _registry_text(data: bytes, file: str) -> str:
    """The text of a registry file: UTF-8, with or without the byte-order mark Excel writes, else GBK (GB18030),
    as Excel saves CSV on a Chinese Windows."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RegistryError([RegistryProblem(file, 0, "file", "is neither UTF-8 nor GBK text; save it as CSV UTF-8")])


def _format_number(value: float | None) -> str:
    return "" if value is None else repr(float(value))  # float(): numpy scalars would repr as np.float64(...)


def write_registry(sensors: Iterable[SensorSpec], path: str | Path) -> None:
    """Write sensors as a registry CSV that :func:`load_registry` reads back unchanged."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    specs = list(sensors)
    with_network = any(s.network for s in specs)
    writer.writerow((*COLUMNS, NETWORK_COLUMN) if with_network else COLUMNS)
    for s in specs:
        writer.writerow([
            s.sensor_id, s.kind.value, s.asset_id, s.asset_kind, s.owner, s.maintainer, s.district,
            _format_number(s.lat), _format_number(s.lon), s.group_id, _format_number(s.interval_s),
            _format_number(s.min_value),
            _format_number(s.max_value), _format_number(s.design_value),
            ";".join(f"{k}={float(v)!r}" for k, v in s.thresholds.items()),
            *((s.network,) if with_network else ()),
        ])  # fmt: skip
    Path(path).write_text(buffer.getvalue(), encoding="utf-8")
