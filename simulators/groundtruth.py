"""Ground truth: one row per injected incident, look-alike, sensor fault and deliberately bad message.

Columns (CSV ``ground_truth.csv`` and JSON lines ``ground_truth.jsonl`` beside the data):

``id``            stable id within the scenario (``GT-0001`` ...)
``label``         ``incident`` | ``lookalike`` | ``fault`` | ``bad_message``
``kind``          an :class:`lifeline.models.AlertKind` value (``sensor_fault`` for faults; empty for bad messages)
``expected_tier`` ``1`` | ``2`` | ``3`` for incidents, ``fault`` for faults, ``none`` for look-alikes, ``dlq``
``lifeline``      gas | water | drainage | bridge (empty for bad messages without a known sensor)
``asset_id``, ``group_id``, ``sensor_ids`` (``;``-separated)
``start``, ``end`` ISO-8601 UTC; ``start_ms``, ``end_ms`` epoch milliseconds (end exclusive)
``detail``        what exactly was injected (fault type such as ``stuck``, magnitudes, cause)
``dlq_reason``    for bad messages: the reason the pipeline should give (malformed, unknown_sensor, ...)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import msgspec

from lifeline.models import ms_to_datetime

__all__ = ["COLUMNS", "GroundTruthRow", "count_by", "read_ground_truth", "tier_from_peak", "write_ground_truth"]

COLUMNS = (
    "id", "label", "kind", "expected_tier", "lifeline", "asset_id", "group_id", "sensor_ids",
    "start", "end", "start_ms", "end_ms", "detail", "dlq_reason",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class GroundTruthRow:
    """One injected thing and what the pipeline is expected to make of it."""

    id: str
    label: str
    kind: str
    expected_tier: str
    lifeline: str
    asset_id: str
    group_id: str
    sensor_ids: tuple[str, ...]
    start_ms: int
    end_ms: int
    detail: str
    dlq_reason: str = ""

    def as_record(self) -> dict[str, str | int]:
        """A flat record with ISO times, as written to CSV and JSON lines."""
        record: dict[str, str | int] = {k: v for k, v in asdict(self).items() if k != "sensor_ids"}
        record["sensor_ids"] = ";".join(self.sensor_ids)
        record["start"] = _iso(self.start_ms)
        record["end"] = _iso(self.end_ms)
        return {name: record[name] for name in COLUMNS}


def _iso(ms: int) -> str:
    return ms_to_datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tier_from_peak(peak: float, t3: float, t2: float, t1: float) -> str:
    """The tier (``"1"``..``"3"``) a peak value reaches against ascending thresholds, else ``"none"``."""
    if peak >= t1:
        return "1"
    if peak >= t2:
        return "2"
    if peak >= t3:
        return "3"
    return "none"


def write_ground_truth(rows: Sequence[GroundTruthRow], folder: str | Path) -> None:
    """Write ``ground_truth.csv`` and ``ground_truth.jsonl`` into ``folder``."""
    out = Path(folder)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    records = [row.as_record() for row in rows]
    writer.writerows(records)
    (out / "ground_truth.csv").write_text(buffer.getvalue(), encoding="utf-8")
    (out / "ground_truth.jsonl").write_bytes(msgspec.json.Encoder().encode_lines(records))


def read_ground_truth(path: str | Path) -> list[GroundTruthRow]:
    """Read ``ground_truth.csv`` back into rows."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return [_row(record) for record in csv.DictReader(handle)]


def _row(record: dict[str, str]) -> GroundTruthRow:
    return GroundTruthRow(
        id=record["id"],
        label=record["label"],
        kind=record["kind"],
        expected_tier=record["expected_tier"],
        lifeline=record["lifeline"],
        asset_id=record["asset_id"],
        group_id=record["group_id"],
        sensor_ids=tuple(filter(None, record["sensor_ids"].split(";"))),
        start_ms=int(record["start_ms"]),
        end_ms=int(record["end_ms"]),
        detail=record["detail"],
        dlq_reason=record.get("dlq_reason", ""),
    )


def count_by(rows: Iterable[GroundTruthRow]) -> dict[tuple[str, str], int]:
    """Counts by ``(label, kind or detail)``: incidents/look-alikes by kind, faults and bad messages by detail."""
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.label, row.kind if row.label in {"incident", "lookalike"} else row.detail.split(" ")[0])
        if row.label == "bad_message":
            key = (row.label, row.dlq_reason)
        counts[key] = counts.get(key, 0) + 1
    return counts
