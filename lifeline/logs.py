"""Structured logs: one line per event with the fields an operator searches for.

Every record may carry ``sensor_id``, ``step``, ``partition``, ``offset``, ``group_id`` and
``reason`` (pass them as ``extra=``); the formatter prints them after the message as
``key=value`` pairs, or the whole record as one JSON object with ``LIFELINE_LOG_FORMAT=json``.

>>> import json, logging
>>> record = logging.LogRecord("lifeline.flow", logging.ERROR, __file__, 1, "detector failed", None, None)
>>> record.sensor_id, record.step, record.offset = "G-0001-CH4", "detect_sensors", 4711
>>> KeyValueFormatter().format(record).split(" ", 2)[2]
'lifeline.flow detector failed sensor_id=G-0001-CH4 step=detect_sensors offset=4711'
>>> doc = json.loads(JsonFormatter().format(record))
>>> doc["level"], doc["message"], doc["sensor_id"], doc["step"], doc["offset"]
('ERROR', 'detector failed', 'G-0001-CH4', 'detect_sensors', 4711)
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

__all__ = ["FIELDS", "JsonFormatter", "KeyValueFormatter", "configure_logging"]

#: context fields a record may carry, in the order they are printed
FIELDS = ("sensor_id", "group_id", "step", "partition", "offset", "reason", "count")


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None}


class KeyValueFormatter(logging.Formatter):
    """``time LEVEL logger message key=value ...`` (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        """One line per record, context fields last."""
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        pairs = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{stamp} {record.levelname} {record.name} {record.getMessage()}" + (f" {pairs}" if pairs else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, context fields, ``error``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        document: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr with the format chosen by ``LIFELINE_LOG_FORMAT`` (``text``, default, or ``json``)."""
    handler = logging.StreamHandler()
    json_lines = os.environ.get("LIFELINE_LOG_FORMAT", "text").lower() == "json"
    handler.setFormatter(JsonFormatter() if json_lines else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
