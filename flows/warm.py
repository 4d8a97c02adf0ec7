"""Warm start: initialise the learned baselines from the last days of ``sensor_stats`` in QuestDB.

``lifeline run --warm-start 14d`` reads the window statistics the flow itself stored (in chunks of one day,
with progress printed) before it starts. A sensor or group met for the first time — a new deployment, a
registry change, a lost recovery folder — is then initialised from its history instead of waiting days:
each sensor through :meth:`Detectors.warm_start_sensor` (rules that need a day of history, per-sensor
baselines), each group model through :meth:`GroupModels.warm`, each DMA's leak detector through
:meth:`DmaFeeds.warm` (its sensors' 5-minute windows, step by step, no findings), and each group's alarm state
with the hourly means its sensors would have noted for the faults against peers (:meth:`Detectors.peer_means`).
States restored from a snapshot are not touched: they already know more.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lifeline.detectors.dma_feed import DmaFeeds
from lifeline.detectors.group_model import GroupModels, GroupWindow
from lifeline.detectors.results import WindowStats
from lifeline.detectors.state import HourlyMeans
from lifeline.flows.exceptions import FlowError
from lifeline.registry import Registry
from lifeline.settings import Settings

__all__ = ["WarmHistory", "load_warm_history", "parse_duration", "stats_from_row"]

_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
#: sensor id, its stored windows → (group, hourly-mean notes) for the faults against peers, or None
PeerMeans = Callable[[str, list[WindowStats]], tuple[str, HourlyMeans] | None]


def parse_duration(text: str) -> timedelta:
    """``14d``, ``36h``, ``90m`` or ``600s`` as a duration.

    >>> parse_duration("14d"), parse_duration("36h")
    (datetime.timedelta(days=14), datetime.timedelta(days=1, seconds=43200))
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhms])\s*", text)
    if match is None:
        raise FlowError(f"not a duration: {text!r} (use e.g. 14d, 36h, 90m)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def stats_from_row(row: Sequence[Any]) -> WindowStats:
    """One ``sensor_stats`` row (``connectors.questdb.STATS_COLUMNS`` order, ``ts`` in epoch ms) as
    :class:`WindowStats`; missing numbers (NULL) become NaN, a missing count 0.

    >>> stats_from_row(("P1", 1_700_000_000_000, 600, 2, 0.31, 0.3, 0.32, 0.01, 0.0, 0.32)).mean
    0.31
    """
    sensor_id, ts, window_s, count, mean, lo, hi, std, slope, last = row

    def num(value: Any) -> float:
        return float("nan") if value is None else float(value)

    return WindowStats(
        str(sensor_id), int(ts), int(window_s), int(count or 0), num(mean), num(lo), num(hi), num(std), num(slope),
        num(last),
    )  # fmt: skip


@dataclass
class WarmHistory:
    """Historical windows per sensor (oldest first) and per group model, handed out once each."""

    sensors: dict[str, list[WindowStats]] = field(default_factory=dict)
    groups: dict[str, list[GroupWindow]] = field(default_factory=dict)
    dmas: dict[str, list[GroupWindow]] = field(default_factory=dict)
    #: group → sensor → its hourly means for the faults against peers
    peers: dict[str, dict[str, HourlyMeans]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[WindowStats],
        registry: Registry,
        group_models: GroupModels | None,
        dma_feeds: DmaFeeds | None = None,
        peer_means: PeerMeans | None = None,
    ) -> WarmHistory:
        """Keep the rows of registered sensors; compact the members' windows for the group models and the DMA
        sensors' windows for the DMA leak detectors; note the hourly means of the sensors compared with their
        peers (``peer_means``: :meth:`Detectors.peer_means`)."""
        history = cls()
        for w in rows:
            if w.sensor_id in registry:
                history.sensors.setdefault(w.sensor_id, []).append(w)
        if group_models is not None:
            for rows_of_sensor in history.sensors.values():
                for gw in group_models.compact(rows_of_sensor):
                    history.groups.setdefault(gw.group_id, []).append(gw)
        if dma_feeds is not None:
            for rows_of_sensor in history.sensors.values():
                for gw in dma_feeds.compact(rows_of_sensor):
                    history.dmas.setdefault(gw.group_id, []).append(gw)
        if peer_means is not None:
            for sensor_id, rows_of_sensor in history.sensors.items():
                noted = peer_means(sensor_id, rows_of_sensor)
                if noted is not None:
                    history.peers.setdefault(noted[0], {})[sensor_id] = noted[1]
        return history

    def take_sensor(self, sensor_id: str) -> list[WindowStats]:
        """The sensor's windows (empty when none, or when already taken)."""
        with self._lock:
            return self.sensors.pop(sensor_id, [])

    def take_group(self, group_id: str) -> list[GroupWindow]:
        """The group members' windows (empty when none, or when already taken)."""
        with self._lock:
            return self.groups.pop(group_id, [])

    def take_dma(self, group_id: str) -> list[GroupWindow]:
        """The DMA sensors' windows (empty when none, or when already taken)."""
        with self._lock:
            return self.dmas.pop(group_id, [])

    def take_peers(self, group_id: str) -> dict[str, HourlyMeans]:
        """The hourly-mean notes of the group's sensors compared with their peers (empty when none, or taken)."""
        with self._lock:
            return self.peers.pop(group_id, {})

    def __getstate__(self) -> dict[str, Any]:  # never part of a snapshot, but keep it picklable
        return {"sensors": self.sensors, "groups": self.groups, "dmas": self.dmas, "peers": self.peers}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sensors, self.groups, self._lock = state["sensors"], state["groups"], threading.Lock()
        self.dmas = state.get("dmas", {})
        self.peers = state.get("peers", {})


def load_warm_history(
    settings: Settings, registry: Registry, span: timedelta, group_models: GroupModels | None,
    *, echo: Callable[[str], None] = print, dma_feeds: DmaFeeds | None = None, peer_means: PeerMeans | None = None,
) -> WarmHistory:  # fmt: skip
    """Read the last ``span`` of ``sensor_stats`` (ending at its newest row) from QuestDB, a day at a time,
    printing progress through ``echo``."""
    from lifeline.connectors.questdb import QuestDB, newest_stats_ms, read_sensor_stats

    with QuestDB(settings) as db:
        newest = newest_stats_ms(db)
        if newest is None:
            echo("warm start: sensor_stats is empty, baselines start from scratch")
            return WarmHistory()
        until = newest + 1
        since = until - round(span.total_seconds() * 1000)

        def progress(chunk_end: int, rows: int, end: int) -> None:
            done = (chunk_end - since) / max(end - since, 1)
            echo(f"warm start: {done:4.0%} of {span} read, {rows} window(s)")

        rows = (stats_from_row(r) for chunk in read_sensor_stats(db, since, until, progress=progress) for r in chunk)
        history = WarmHistory.from_rows(rows, registry, group_models, dma_feeds, peer_means)
    echo(f"warm start: {len(history.sensors)} sensor(s), {len(history.groups)} group model(s), "
         f"{len(history.dmas)} DMA detector(s), {len(history.peers)} group(s) of peers to initialise")  # fmt: skip
    return history
