"""A partition's sensor states kept pickled between snapshots, so an epoch's snapshot costs what changed in it.

Bytewax snapshots a partition's whole state every epoch. Most sensors report every 1–15 minutes, so in a
5-second epoch only a few of a partition's sensors change. :class:`SensorPickles` keeps the sensor states
of earlier snapshots as *segments*: the states pickled together in one snapshot, zlib-compressed as one
blob. A snapshot pickles (and compresses) only the sensors touched since the previous one into a new
segment; the older segments are reused as they are. A touched sensor's entry in its old segment is dead;
once dead entries hold more than half of the stored bytes, the next snapshot writes every sensor into one
segment again (compaction), so the stored size stays within twice the live size.

Restoring reads the segments in the order they were written; a sensor's newest entry wins.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SensorPickles"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass
class _Segment:
    numbers: list[int]  # the sensors pickled in this segment, in order
    blob: bytes  # pickle of the list of their states, zlib-compressed unless the level was 0
    live: int  # entries not touched since (the sensor's newest state)


class SensorPickles:
    """Segments of pickled sensor states from earlier snapshots (see the module docstring)."""

    __slots__ = ("_home", "_level", "_segments")

    def __init__(self, level: int = 1) -> None:
        """``level``: zlib level of new segments, 0 = stored uncompressed (``LIFELINE_SNAPSHOT_COMPRESSION``)."""
        self._level = level
        self._segments: dict[int, _Segment] = {}  # segment id (write order) → segment
        self._home: dict[int, int] = {}  # sensor number → id of the segment holding its newest state

    @property
    def level(self) -> int:
        """The zlib level of the segments (0: uncompressed)."""
        return self._level

    @level.setter
    def level(self, level: int) -> None:
        if level != self._level:  # a new setting: the next snapshot writes every sensor at the new level
            self._segments.clear()
            self._home.clear()
            self._level = level

    def touch(self, number: int) -> None:
        """Sensor ``number``'s state is about to change: its stored entry is dead."""
        home = self._home.pop(number, None)
        if home is not None:
            segment = self._segments[home]
            segment.live -= 1
            if segment.live == 0:
                del self._segments[home]

    def __contains__(self, number: object) -> bool:
        """Whether sensor ``number``'s entry is stored and untouched since (the next snapshot reuses it)."""
        return number in self._home

    def stored(self) -> int:
        """How many sensors the next snapshot reuses from the segments (the others are pickled afresh)."""
        return len(self._home)

    def write(self, sensors: dict[int, Any]) -> list[tuple[bytes, bytes]]:
        """The segments of a snapshot of ``sensors``: every stored segment plus one for the sensors touched since
        the last call (or one segment of every sensor, when dead entries hold over half of the stored bytes)."""
        if self._mostly_dead():
            self._segments.clear()
            self._home.clear()
        fresh = [number for number in sensors if number not in self._home]
        if fresh:
            data = pickle.dumps([sensors[number] for number in fresh], protocol=_PROTOCOL)
            blob = zlib.compress(data, self._level) if self._level > 0 else data
            key = max(self._segments, default=-1) + 1
            self._segments[key] = _Segment(fresh, blob, len(fresh))
            for number in fresh:
                self._home[number] = key
        return [(np.array(s.numbers, dtype=np.int32).tobytes(), s.blob) for s in self._segments.values()]

    def _mostly_dead(self) -> bool:
        stored = dead = 0.0
        for segment in self._segments.values():
            size = len(segment.blob)
            stored += size
            dead += size * (1.0 - segment.live / len(segment.numbers))
        return dead > stored / 2

    @classmethod
    def read(cls, segments: list[tuple[bytes, bytes]], level: int = 1) -> tuple[SensorPickles, dict[int, Any]]:
        """Restore what :meth:`write` returned: the pickles (reused by the next snapshot) and the sensor states."""
        pickles = cls(level)
        sensors: dict[int, Any] = {}
        for key, (numbers_raw, blob) in enumerate(segments):
            numbers = np.frombuffer(numbers_raw, dtype=np.int32).tolist()
            data = blob if blob[:1] == pickle.PROTO else zlib.decompress(blob)
            for number, state in zip(numbers, pickle.loads(data), strict=True):
                sensors[number] = state
                pickles._home[number] = key
            pickles._segments[key] = _Segment(numbers, blob, 0)
        for key in pickles._home.values():
            pickles._segments[key].live += 1
        for key in [k for k, s in pickles._segments.items() if s.live == 0]:
            del pickles._segments[key]
        return pickles, dict(sorted(sensors.items()))
