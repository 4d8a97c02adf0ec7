"""A partition's sensor states kept pickled between snapshots, so an epoch's snapshot costs what changed in it.

Bytewax snapshots a partition's whole state every epoch. Most sensors report every 1–15 minutes, so in a
5-second epoch only a few of a partition's sensors change. :class:`SensorPickles` keeps the sensor states
of earlier snapshots as *segments*: up to :data:`SEGMENT_SENSORS` states pickled together in one snapshot,
zlib-compressed as one blob. A snapshot pickles (and compresses) only the sensors touched since the previous
one into new segments; the older segments are reused as they are. A touched sensor's entry in its old
segment is dead.

Compaction is incremental, so no snapshot pays for the whole partition: each snapshot also rewrites the
live entries of the segments that are more than half dead, deadest first, up to as many entries as it wrote
fresh (at least one segment's worth). Only when dead entries hold over three quarters of the stored bytes
(which a steady stream of touches does not reach) does one snapshot rewrite all of them.

Restoring reads the segments in the order they were written; a sensor's newest entry wins.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SEGMENT_SENSORS", "SensorPickles"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL
#: sensors per segment: small enough that rewriting one is cheap, large enough to compress well
SEGMENT_SENSORS = 512


@dataclass
class _Segment:
    numbers: list[int]  # the sensors pickled in this segment, in order
    blob: bytes  # pickle of the list of their states, zlib-compressed unless the level was 0
    live: int  # entries not touched since (the sensor's newest state)

    def dead_bytes(self) -> float:
        return len(self.blob) * (1.0 - self.live / len(self.numbers))


class SensorPickles:
    """Segments of pickled sensor states from earlier snapshots (see the module docstring)."""

    __slots__ = ("_home", "_level", "_next", "_segment_sensors", "_segments")

    def __init__(self, level: int = 1, *, segment_sensors: int = SEGMENT_SENSORS) -> None:
        """``level``: zlib level of new segments, 0 = stored uncompressed (``LIFELINE_SNAPSHOT_COMPRESSION``)."""
        self._level = level
        self._segment_sensors = segment_sensors
        self._segments: dict[int, _Segment] = {}  # segment id (write order) → segment
        self._home: dict[int, int] = {}  # sensor number → id of the segment holding its newest state
        self._next = 0  # id of the next segment

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
        """The segments of a snapshot of ``sensors``: the stored ones, plus new ones for the sensors touched since
        the last call and for the live entries of the segments compacted now (see the module docstring)."""
        fresh = [number for number in sensors if number not in self._home]
        self._compact(max(len(fresh), self._segment_sensors))
        fresh = [number for number in sensors if number not in self._home]
        size = self._segment_sensors
        for start in range(0, len(fresh), size):
            self._add([(number, sensors[number]) for number in fresh[start : start + size]])
        return [(np.array(s.numbers, dtype=np.int32).tobytes(), s.blob) for s in self._segments.values()]

    def _compact(self, budget: int) -> None:
        """Free the deadest segments (over half dead) of up to ``budget`` live entries; all of them past 3/4 dead."""
        segments = self._segments
        stored = sum(len(s.blob) for s in segments.values())
        dead = sum(s.dead_bytes() for s in segments.values())
        if dead > 0.75 * stored:
            budget = len(self._home)
        for key in sorted(segments, key=lambda k: segments[k].live / len(segments[k].numbers)):
            segment = segments[key]
            if segment.live * 2 > len(segment.numbers) or segment.live > budget:
                break
            budget -= segment.live
            for number in segment.numbers:
                if self._home.get(number) == key:
                    del self._home[number]
            del segments[key]

    def _add(self, entries: list[tuple[int, Any]]) -> None:
        data = pickle.dumps([state for _number, state in entries], protocol=_PROTOCOL)
        blob = zlib.compress(data, self._level) if self._level > 0 else data
        key = self._next
        self._next += 1
        self._segments[key] = _Segment([number for number, _state in entries], blob, len(entries))
        for number, _state in entries:
            self._home[number] = key

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
        pickles._next = len(segments)
        return pickles, dict(sorted(sensors.items()))
