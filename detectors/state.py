"""Per-sensor and per-group state: plain data that pickles small into dataflow snapshots.

:class:`SensorState` holds a few dozen numbers and one fixed-size numpy ring buffer (the last
:data:`RING` samples), never a list that grows; its pickled size stays under 1 KiB.
:class:`GroupState` holds the pending findings of one group (bounded by the settle delay), the
active sensor-level contributions and the active alerts, with the people's actions
(:meth:`GroupState.acknowledge`, :meth:`GroupState.resolve`).
"""

from __future__ import annotations

import array
import math
import operator
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier

from .results import Finding

_MS_PER_H = 3_600_000

__all__ = [
    "LEGACY_SCALARS",
    "RING",
    "SCALAR_GROUPS",
    "AlertRecord",
    "Contribution",
    "GroupState",
    "HourlyMeans",
    "SensorState",
]

#: samples kept per sensor for rates of rise, pre-event levels, stuck and step checks
RING = 16

NAN = math.nan
_RING_SLOTS = np.arange(2 * RING) % RING  # ring positions from any start, without a modulo per call

#: The scalar slots of :class:`SensorState`, by the one module that writes them. Flat slots rather than
#: nested part objects: this is the per-reading path, and a part object costs an attribute load per use
#: plus a pickled object per part (see ``SensorState``).
SCALAR_GROUPS: dict[str, tuple[str, ...]] = {
    # windows.py — the open tumbling window: start (ms, -1 when none), count, the reference value the
    # sums are taken against, sums of dev = value - ref, dev², h = hours since start, h², h·dev; min, max, last
    "windows": (
        "window_start", "window_count", "window_ref", "window_sum_dev", "window_sum_dev_sq", "window_min",
        "window_max", "window_sum_h", "window_sum_h_sq", "window_sum_h_dev", "window_last",
    ),
    # engine.py (and quiet.py, its vectorised twin) — the stream: newest event time and value, the value
    # before it, readings seen, the fast level (EW mean), the ring position and fill
    "stream": ("last_ts", "last_value", "prev_value", "seen", "level", "ring_next", "ring_count"),
    # engine.py — hourly means for the drift check: current hour (ms, -1 none), its sum and count of
    # readings, and the next slot of the 24-hour ring of means in ``aux``
    "drift": ("drift_hour", "drift_sum", "drift_count", "drift_slot"),
    # faults.py (and quiet.py) — noise scale (EW of |Δ|), identical-reading run and its start,
    # readings at a range limit, silence flag, active fault bits, time of the last spike, the latest
    # candidate offset jump (ts, -1 none; signed size), and the one its readings confirmed, for the hourly test
    "faults": (
        "noise", "equal_run", "equal_since", "sat_run", "silent", "faults", "spike_ts", "jump_ts", "jump_size",
        "offset_ts", "offset_size",
    ),
    # rulebase.py and the kind's rule module (one per sensor) — consecutive readings at or above T3/T2/T1
    # and when each run started (meaningful while its count is > 0; quiet.py zeroes the counts, as a quiet
    # array ends every run); a level step (pre-event level and when); hysteresis; a learned baseline
    # (value, samples, last update)
    "rule": (
        "run_t3", "run_t2", "run_t1", "run_t3_since", "run_t2_since", "run_t1_since", "step_level", "step_ts",
        "hold_reports", "baseline", "baseline_n", "baseline_ts",
    ),
}  # fmt: skip

_SCALARS = tuple(name for names in SCALAR_GROUPS.values() for name in names)
_get_scalars = operator.attrgetter(*_SCALARS)  # one C call instead of a generator over the names
#: scalars added since the named-parts layout (consecutive, in order), with the values a snapshot without them gets
_ADDED_SINCE = ("jump_ts", "jump_size", "offset_ts", "offset_size")
_ADDED_DEFAULTS = (-1, 0.0, -1, 0.0)
_ADDED_AT = _SCALARS.index(_ADDED_SINCE[0])

#: the scalar layout of snapshots written before the state had named parts (``aux[0:4]`` held the
#: drift slots; ``base2`` and ``offset_run`` were never used): old name → new name or ``None``
LEGACY_SCALARS: dict[str, str | None] = {
    "w_start": "window_start", "w_n": "window_count", "w_ref": "window_ref", "w_s1": "window_sum_dev",
    "w_s2": "window_sum_dev_sq", "w_min": "window_min", "w_max": "window_max", "w_st": "window_sum_h",
    "w_stt": "window_sum_h_sq", "w_stv": "window_sum_h_dev", "w_last": "window_last",
    "last_ts": "last_ts", "last_v": "last_value", "prev_v": "prev_value", "n_seen": "seen", "lvl": "level",
    "noise": "noise", "base": "baseline", "base2": None, "base_n": "baseline_n", "base_t": "baseline_ts",
    "c3": "run_t3", "c2": "run_t2", "c1": "run_t1", "s3": "run_t3_since", "s2": "run_t2_since",
    "s1": "run_t1_since", "step_ref": "step_level", "step_t": "step_ts",
    "equal_run": "equal_run", "equal_since": "equal_since", "sat_run": "sat_run", "silent": "silent",
    "faults": "faults", "spike_ts": "spike_ts", "offset_run": None, "hold_n": "hold_reports",
    "ring_i": "ring_next", "ring_n": "ring_count",
}  # fmt: skip
_LEGACY_DRIFT_SLOTS = 4


def _float_array(data: bytes | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A writable float64 array from pickled bytes (or an array, as older snapshots hold)."""
    return np.frombuffer(data, dtype=np.float64).copy() if isinstance(data, bytes) else data


class SensorState:
    """Everything the detectors remember about one sensor between calls.

    Only numbers, one short id, a tiny dict of the conditions currently reported, a ring buffer and
    a small fixed-size auxiliary array (hourly means, then the kind's own slots: rain buckets, night
    minima, hourly profiles). Each scalar belongs to one module, see :data:`SCALAR_GROUPS`.
    """

    __slots__ = ("anomaly_model", "aux", "emitted", "ring", "sensor_id", *_SCALARS)

    def __init__(self, sensor_id: str, aux_size: int = 0) -> None:
        self.sensor_id = sensor_id
        # windows.py: the open tumbling window
        self.window_start = -1
        self.window_count = 0
        self.window_ref = 0.0
        self.window_sum_dev = 0.0
        self.window_sum_dev_sq = 0.0
        self.window_min = math.inf
        self.window_max = -math.inf
        self.window_sum_h = 0.0
        self.window_sum_h_sq = 0.0
        self.window_sum_h_dev = 0.0
        self.window_last = NAN
        # engine.py: the stream
        self.last_ts = -1
        self.last_value = NAN
        #: the value before ``last_value`` (the ring's second newest; kept as a float for the spike check)
        self.prev_value = NAN
        self.seen = 0
        self.level = NAN
        self.ring: npt.NDArray[np.float64] = np.full((2, RING), NAN)
        self.ring_next = 0
        self.ring_count = 0
        # engine.py: hourly means for the drift check (the 24-hour ring of means is aux[:AUX_DRIFT_HOURS])
        self.drift_hour = -1
        self.drift_sum = 0.0
        self.drift_count = 0
        self.drift_slot = 0
        # faults.py
        self.noise = NAN
        self.equal_run = 0
        self.equal_since = -1
        self.sat_run = 0
        self.silent = 0
        self.faults = 0
        self.spike_ts = -1
        self.jump_ts = -1
        self.jump_size = 0.0
        self.offset_ts = -1
        self.offset_size = 0.0
        # rulebase.py and the kind's rule: persistence runs, level step, hysteresis, learned baseline
        self.run_t3 = 0
        self.run_t2 = 0
        self.run_t1 = 0
        self.run_t3_since = -1
        self.run_t2_since = -1
        self.run_t1_since = -1
        self.step_level = NAN
        self.step_ts = -1
        self.hold_reports = 0
        self.baseline = NAN
        self.baseline_n = 0
        self.baseline_ts = -1
        self.aux: npt.NDArray[np.float64] | None = np.full(aux_size, NAN) if aux_size else None
        #: condition family → (tier value or 0, ts of the last emitted finding, rule)
        self.emitted: dict[str, tuple[int, int, str]] = {}
        #: engine.py: the learned baseline of the window statistics (a ``SensorBaseline``; None until the first window)
        self.anomaly_model: Any = None

    def __getstate__(self) -> tuple[Any, ...]:
        # arrays travel as raw bytes: pickling an ndarray costs several times more than the bytes
        aux = None if self.aux is None else self.aux.tobytes()
        scalars = _get_scalars(self)
        if self._no_offset_candidate():  # always so with the offset check off: not repeated per sensor
            scalars = (*scalars[:_ADDED_AT], *scalars[_ADDED_AT + len(_ADDED_SINCE) :])
        return (self.sensor_id, scalars, self.ring.tobytes(), aux, self.emitted, self.anomaly_model)

    def _no_offset_candidate(self) -> bool:
        """The offset check's scalars hold exactly their defaults (a snapshot without them restores them)."""
        return (
            self.jump_ts == -1 and self.offset_ts == -1 and self.jump_size == 0.0 and self.offset_size == 0.0
            and math.copysign(1.0, self.jump_size) > 0 and math.copysign(1.0, self.offset_size) > 0
        )  # fmt: skip

    def __setstate__(self, data: tuple[Any, ...]) -> None:
        self.sensor_id, scalars, ring, aux, self.emitted = data[:5]
        self.anomaly_model = data[5] if len(data) > 5 else None  # snapshots before the baseline had five parts
        self.ring = _float_array(ring).reshape(2, RING)
        self.aux = None if aux is None else _float_array(aux)
        if len(scalars) == len(LEGACY_SCALARS) and len(scalars) != len(_SCALARS):
            for name, default in zip(_ADDED_SINCE, _ADDED_DEFAULTS, strict=True):
                setattr(self, name, default)
            self._load_legacy(scalars)
            return
        if len(scalars) == len(_SCALARS) - len(_ADDED_SINCE):  # from before the offset check, or no candidate
            scalars = (*scalars[:_ADDED_AT], *_ADDED_DEFAULTS, *scalars[_ADDED_AT:])
        for name, value in zip(_SCALARS, scalars, strict=True):
            setattr(self, name, value)

    def _load_legacy(self, scalars: tuple[Any, ...]) -> None:
        """Restore a snapshot of the flat pre-parts layout (drift slots in ``aux[0:4]``)."""
        for old, value in zip(LEGACY_SCALARS, scalars, strict=True):
            new = LEGACY_SCALARS[old]
            if new is not None:
                setattr(self, new, value)
        aux = self.aux
        if aux is None:  # every kind had the drift slots, but a hand-made state may not
            self.drift_hour, self.drift_sum, self.drift_count, self.drift_slot = -1, 0.0, 0, 0
            return
        hour, total, count, slot = aux[:_LEGACY_DRIFT_SLOTS].tolist()
        started = not math.isnan(hour)
        self.drift_hour = int(hour) if started else -1
        self.drift_sum = total if started else 0.0
        self.drift_count = int(count) if started else 0
        self.drift_slot = int(slot) if started else 0
        self.aux = aux[_LEGACY_DRIFT_SLOTS:].copy()

    def push(self, ts: int, value: float) -> None:
        """Append one sample to the ring buffer."""
        i = self.ring_next
        self.ring[0, i] = ts
        self.ring[1, i] = value
        self.ring_next = (i + 1) % RING
        if self.ring_count < RING:
            self.ring_count += 1

    def push_last(self, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> None:
        """Append the last :data:`RING` samples of arrays (what as many :meth:`push` calls would keep)."""
        k = min(ts.shape[0], RING)
        if k == 0:
            return
        at = _RING_SLOTS[self.ring_next : self.ring_next + k]
        self.ring[0, at] = ts[-k:]
        self.ring[1, at] = values[-k:]
        self.ring_next = (self.ring_next + k) % RING
        self.ring_count = min(RING, self.ring_count + k)

    def recent(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The ring's samples, oldest first, as (ts_ms, values) arrays."""
        n = self.ring_count
        if n < RING:
            return self.ring[0, :n].copy(), self.ring[1, :n].copy()
        ordered = np.concatenate((self.ring[:, self.ring_next :], self.ring[:, : self.ring_next]), axis=1)
        return ordered[0], ordered[1]

    def forget_values(self) -> None:
        """Forget the recent values (clipped samples after saturation are no pre-event level): the ring's
        values, the last value (so the spike check sees no clipped neighbour) and any level step."""
        self.ring[1, :] = np.nan
        self.last_value = np.nan
        self.step_level, self.step_ts = np.nan, -1

    def __repr__(self) -> str:
        return f"SensorState({self.sensor_id!r}, seen={self.seen}, last_ts={self.last_ts}, faults={self.faults:#x})"


def _restore(obj: Any, state: Any) -> None:
    """Unpickle a slotted dataclass: the pickled fields, and the defaults of fields added since (so the
    snapshots of an older version still load)."""
    values: dict[str, Any] = state[1] if isinstance(state, tuple) else state
    for f in fields(obj):
        if f.name in values:
            value = values[f.name]
        elif f.default_factory is not MISSING:
            value = f.default_factory()
        elif f.default is not MISSING:
            value = f.default
        else:
            raise ValueError(f"{type(obj).__name__} snapshot lacks the required field {f.name!r}")
        object.__setattr__(obj, f.name, value)


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
    #: the step behind it first reached a tier just after a pump or valve operation: it supports no incident
    operation: bool = False
    #: the sensor's move against the rule's reference level (:attr:`Finding.change`; ``None``: none known)
    change: float | None = None
    #: where the finding's own detector says the incident is (:attr:`Finding.location`)
    location: str = ""
    #: which of several incidents of its kind the detector keeps open in the group (:attr:`Finding.incident`)
    incident: str = ""
    #: when this condition started (its first finding; -1: unknown, in a snapshot from before it was kept)
    since: int = -1

    def __setstate__(self, state: Any) -> None:
        _restore(self, state)


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
    #: where the leak most likely is (water incidents of a DMA; :attr:`AlertEvent.location`)
    location: str = ""

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
            location=self.location,
        )


@dataclass(slots=True)
class HourlyMeans:
    """A sensor's last hourly means as its group keeps them (the faults against peers): ``means[-1]`` is of the
    hour starting at ``last_hour`` (ms), each one before it an hour earlier, NaN where an hour is missing.

    One array of floats, not a pair per hour: a group stage keeps these for every sensor compared with its peers.

    >>> m = HourlyMeans.first(7_200_000, 1.5)
    >>> m.add(14_400_000, 2.5, keep=3); m.notes()
    [(7200000, 1.5), (14400000, 2.5)]
    >>> m.window(3_600_000, 4).tolist()
    [nan, 1.5, nan, 2.5]
    """

    last_hour: int
    means: array.array[float]

    @classmethod
    def first(cls, hour: int, mean: float) -> HourlyMeans:
        """The means of a sensor whose first noted hour starts at ``hour``."""
        return cls(hour, array.array("d", [mean]))

    def add(self, hour: int, mean: float, *, keep: int) -> None:
        """Note the mean of the hour starting at ``hour`` (a later one, or one already kept), keeping ``keep`` hours."""
        ahead = (hour - self.last_hour) // _MS_PER_H
        if ahead <= 0:
            slot = len(self.means) - 1 + ahead
            if slot >= 0:
                self.means[slot] = mean
            return
        self.means.extend([math.nan] * (ahead - 1))
        self.means.append(mean)
        self.last_hour = hour
        if len(self.means) > keep:
            del self.means[: len(self.means) - keep]

    def window(self, first_hour: int, hours: int) -> npt.NDArray[np.float64]:
        """The means of ``hours`` hours from the one starting at ``first_hour``, NaN where none is kept."""
        row = np.full(hours, np.nan)
        kept = np.frombuffer(self.means, dtype=np.float64)
        start = (self.last_hour - first_hour) // _MS_PER_H - (kept.shape[0] - 1)  # the slot of the oldest kept
        lo, hi = max(start, 0), min(start + kept.shape[0], hours)
        if lo < hi:
            row[lo:hi] = kept[lo - start : hi - start]
        return row

    def notes(self) -> list[tuple[int, float]]:
        """(hour, mean) of every kept hour with a mean, oldest first."""
        count = len(self.means)
        return [
            (self.last_hour - (count - 1 - i) * _MS_PER_H, m) for i, m in enumerate(self.means) if not math.isnan(m)
        ]


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
    #: event time of the group's last pump or valve operation (docs/domain.md#pump-and-valve-operations)
    last_operation_ts: int = -(1 << 62)
    #: sensor → (closed hour, move) of its recent level-move notes (the offset veto, detectors/peer_steps.py)
    level_moves: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    #: sensor → its recent hourly means from its notes (faults against peers, detectors/peer_faults.py)
    hourly_means: dict[str, HourlyMeans] = field(default_factory=dict)
    #: sensor → event time of the last offset its own check raised (no second alert for it against peers)
    own_offsets: dict[str, int] = field(default_factory=dict)
    #: sensor kind → the latest hour whose first note evaluated that kind's faults against peers
    drift_evaluated: dict[str, int] = field(default_factory=dict)
    #: (event time, sensor) of the recent spikes raised in the group, oldest first (detectors/shared_spikes.py)
    spikes: list[tuple[int, str]] = field(default_factory=list)
    #: (event time, sensor, key) of the recent saturations and drifts raised in the group (detectors/shared_faults.py)
    shared_raises: list[tuple[int, str, str]] = field(default_factory=list)
    #: "sensor|family" → the key of its saturation or drift that is on now (raised and not yet ended)
    shared_on: dict[str, str] = field(default_factory=dict)
    #: sensor kind → event time of the last incident finding (not a fault, not an anomaly) of a sensor of that
    #: kind: faults against peers raise nothing new on a window it touched (detectors/peer_faults.py)
    incident_seen: dict[str, int] = field(default_factory=dict)
    #: "sensor|family" (the group's own model: "|family") → when its recent anomaly conditions began, oldest first
    #: (detectors/recurring_anomalies.py)
    anomaly_onsets: dict[str, list[int]] = field(default_factory=dict)

    def __setstate__(self, state: Any) -> None:
        _restore(self, state)

    @property
    def at_rest(self) -> bool:
        """Nothing pending, no contribution, no alert: evaluating the group can only move its horizon."""
        return not self.pending and not self.contributions and not self.alerts

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
