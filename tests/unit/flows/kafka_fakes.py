"""A stand-in for a confluent-kafka message, for the source tests (no broker needed)."""

from __future__ import annotations


class FakeMessage:
    """Message number ``offset`` of a partition: a valid single reading of sensor ``S``."""

    def __init__(self, offset: int) -> None:
        self._offset = offset

    def error(self) -> None:
        return None

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return b'{"sensor_id":"S","ts":%d,"value":1.0}' % self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000 + self._offset)
