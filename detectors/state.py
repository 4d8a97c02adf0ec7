"""Per-sensor and per-group state: plain data that pickles small into dataflow snapshots.

:class:`SensorState` holds a few dozen floats and one fixed-size numpy ring buffer (the last
:data:`RING` samples), never a list that grows; its pickled size stays well under 2 KiB.
:class:`GroupState` holds the pending findings of one group (bounded by the settle delay), the
active sensor-level contributions and the active alerts, with the people's actions
(:meth:`GroupState.acknowledge`, :meth:`GroupState.resolve`).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier

from .results import Finding

__all__ = ["RING", "AlertRecord", "Contribution", "GroupState", "SensorState"]

#: samples kept per sensor for rates of rise, pre-event levels, stuck and step checks
RING = 16

NAN = math.nan
_RING_SLOTS = np.arange(2 * RING) % RING  # ring positions from any start, without a modulo per call

_SCALARS = (
    "w_start", "w_n", "w_ref", "w_s1", "w_s2", "w_min", "w_max", "w_st", "w_stt", "w_stv", "w_last",
    "last_ts", "last_v", "prev_v", "n_seen", "lvl", "noise", "base", "base2", "base_n", "base_t",
    "c3", "c2", "c1", "s3", "s2", "s1", "step_ref", "step_t",
    "equal_run", "equal_since", "sat_run", "silent", "faults", "spike_ts", "offset_run", "hold_n",
    "ring_i", "ring_n",
)  # fmt: skip


_get_scalars = operator.attrgetter(*_SCALARS)  # one C call instead of a generator over 39 names


def _float_array(data: bytes | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A writable float64 array from pickled bytes (or an array, as older snapshots hold)."""
    return np.frombuffer(data, dtype=np.float64).copy() if isinstance(data, bytes) else data


class SensorState:
    """Everything the detectors remember about one sensor between calls.

    Only numbers, one short id, a tiny dict of the conditions currently reported, a ring buffer and
    (for a few kinds) a small fixed-size auxiliary array: rain buckets, night minima, hourly means.
    """

    __slots__ = ("aux", "emitted", "ring", "sensor_id", *_SCALARS)

    def __init__(self, sensor_id: str, aux_size: int = 0) -> None:
        self.sensor_id = sensor_id
        # the open tumbling window: start (ms, -1 when none), count, reference value, sums
        self.w_start = -1
        self.w_n = 0
        self.w_ref = 0.0
        self.w_s1 = 0.0
        self.w_s2 = 0.0
        self.w_min = math.inf
        self.w_max = -math.inf
        self.w_st = 0.0
        self.w_stt = 0.0
        self.w_stv = 0.0
        self.w_last = NAN
        # the stream
        self.last_ts = -1
        self.last_v = NAN
        #: the value before ``last_v`` (the ring's second newest; kept as a float for the spike check)
        self.prev_v = NAN
        self.n_seen = 0
        # robust running estimates: fast level, noise scale (EW of |Δ|), kind-specific baselines
        self.lvl = NAN
        self.noise = NAN
        self.base = NAN
        self.base2 = NAN
        self.base_n = 0
        self.base_t = -1
        # rule persistence: consecutive samples at or above T3/T2/T1 and when each run started
        self.c3 = 0
        self.c2 = 0
        self.c1 = 0
        self.s3 = -1
        self.s2 = -1
        self.s1 = -1
        # a level step (burst, surge, sudden drop): the pre-event level and when it happened
        self.step_ref = NAN
        self.step_t = -1
        # faults
        self.equal_run = 0
        self.equal_since = -1
        self.sat_run = 0
        self.silent = 0
        self.faults = 0
        self.spike_ts = -1
        self.offset_run = 0
        # hysteresis: consecutive reports below the reported condition's threshold while it is held
        self.hold_n = 0
        # ring buffer of (ts, value)
        self.ring: npt.NDArray[np.float64] = np.full((2, RING), NAN)
        self.ring_i = 0
        self.ring_n = 0
        self.aux: npt.NDArray[np.float64] | None = np.full(aux_size, NAN) if aux_size else None
        #: condition family → (tier value or 0, ts of the last emitted finding, rule)
        self.emitted: dict[str, tuple[int, int, str]] = {}

    def __getstate__(self) -> tuple[Any, ...]:
        # arrays travel as raw bytes: pickling an ndarray costs several times more than the bytes
        aux = None if self.aux is None else self.aux.tobytes()
        return (self.sensor_id, _get_scalars(self), self.ring.tobytes(), aux, self.emitted)

    def __setstate__(self, data: tuple[Any, ...]) -> None:
        self.sensor_id, scalars, ring, aux, self.emitted = data
        self.ring = _float_array(ring).reshape(2, RING)
        self.aux = None if aux is None else _float_array(aux)
        for name, value in zip(_SCALARS, scalars, strict=True):
            setattr(self, name, value)

    def push(self, ts: int, value: float) -> None:
        """Append one sample to the ring buffer."""
        i = self.ring_i
        self.ring[0, i] = ts
        self.ring[1, i] = value
        self.ring_i = (i + 1) % RING
        if self.ring_n < RING:
            self.ring_n += 1

    def push_last(self, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> None:
        """Append the last :data:`RING` samples of arrays (what as many :meth:`push` calls would keep)."""
        k = min(ts.shape[0], RING)
        if k == 0:
            return
        at = _RING_SLOTS[self.ring_i : self.ring_i + k]
        self.ring[0, at] = ts[-k:]
        self.ring[1, at] = values[-k:]
        self.ring_i = (self.ring_i + k) % RING
        self.ring_n = min(RING, self.ring_n + k)

    def recent(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The ring's samples, oldest first, as (ts_ms, values) arrays."""
        n = self.ring_n
        if n < RING:
            return self.ring[0, :n].copy(), self.ring[1, :n].copy()
        order = np.roll(np.arange(RING), -self.ring_i)
        return self.ring[0, order], self.ring[1, order]

    def __repr__(self) -> str:
        return f"SensorState({self.sensor_id!r}, seen={self.n_seen}, last_ts={self.last_ts}, faults={self.faults:#x})"


@dataclass(slots=True)
class Contribution:
    """The latest non-ended finding of one sensor for one condition family."""

    sensor_id: str
    asset_id: str
    kind: AlertKind
    tier: Tier
    ts: int
    value: float
    score: float
    evidence: str
    rule: str


@dataclass(slots=True)
class AlertRecord:
    """One active alert (at most one per alert key, i.e. per asset or group and kind)."""

    alert_id: str
    kind: AlertKind
    lifeline: Lifeline
    asset_id: str
    owner: str
    district: str
    tier: Tier
    started_at: int
    sensor_ids: tuple[str, ...]
    value: float
    score: float
    evidence: str
    last_support_ts: int
    quiet_ms: int
    lower_tier: int = 0
    lower_since: int = -1
    acknowledged: bool = False
    resolved: bool = False

    def event(self, event: AlertEventType, ts: int, *, actor: str = "", comment: str = "") -> AlertEvent:
        """An :class:`AlertEvent` describing this alert as it is now."""
        return AlertEvent(
            alert_id=self.alert_id,
            event=event,
            tier=self.tier,
            lifeline=self.lifeline,
            kind=self.kind,
            asset_id=self.asset_id,
            owner=self.owner,
            district=self.district,
            sensor_ids=self.sensor_ids,
            started_at=self.started_at,
            ts=ts,
            value=self.value,
            score=self.score,
            evidence=self.evidence,
            actor=actor,
            comment=comment,
        )


@dataclass(slots=True)
class GroupState:
    """Correlation and alarm state of one group (a DMA, gas main, catchment or bridge)."""

    group_id: str
    #: findings not yet evaluated (event time beyond ``horizon``), de-duplicated by content
    pending: dict[tuple[Any, ...], Finding] = field(default_factory=dict)
    #: findings up to this event time have been evaluated
    horizon: int = -(1 << 62)
    #: (sensor_id, kind, family) → latest contribution
    contributions: dict[tuple[str, str, str], Contribution] = field(default_factory=dict)
    #: (alert asset, kind) → active alert
    alerts: dict[tuple[str, str], AlertRecord] = field(default_factory=dict)
    late_findings: int = 0

    def find(self, alert_id: str) -> AlertRecord:
        """The active alert with this id; ``KeyError`` if none."""
        for record in self.alerts.values():
            if record.alert_id == alert_id:
                return record
        raise KeyError(f"no active alert {alert_id!r} in group {self.group_id!r}")

    def acknowledge(self, alert_id: str, actor: str, ts_ms: int, comment: str = "") -> AlertEvent:
        """A person acknowledged the alert: set the flag and return the ``acknowledged`` event."""
        record = self.find(alert_id)
        record.acknowledged = True
        return record.event(AlertEventType.ACKNOWLEDGED, ts_ms, actor=actor, comment=comment)

    def resolve(self, alert_id: str, actor: str, ts_ms: int, comment: str = "") -> AlertEvent:
        """A person resolved the alert: it closes now; a condition that persists opens a new alert."""
        record = self.find(alert_id)
        record.resolved = True
        event = record.event(AlertEventType.RESOLVED, ts_ms, actor=actor, comment=comment)
        for key, value in list(self.alerts.items()):
            if value is record:
                del self.alerts[key]
        for ckey, contribution in list(self.contributions.items()):
            if contribution.sensor_id in record.sensor_ids and contribution.kind == record.kind:
                del self.contributions[ckey]
        return event
