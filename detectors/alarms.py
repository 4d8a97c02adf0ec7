"""The alarm state machine of one group, evaluated strictly in event time.

Findings are buffered in :class:`GroupState.pending` and evaluated in a total order
``(ts, sensor_id, kind, rule, tier, value, score, evidence)`` (at one instant, pump and valve operations
first) only up to
``watermark - settle_delay_ms``; timers (de-escalation hold, contribution expiry, quiet-period clear)
fire at their own event time, interleaved with findings. So the same *set* of findings yields the
same alert events whatever their arrival order or the cadence of watermarks.

Life cycle of an alert (one per alert key = (asset or group, kind); sensor faults per sensor; a detector's
separate incidents of one kind in a group, :attr:`Finding.incident`, per incident):
``opened`` → ``escalated`` (at once) / ``de-escalated`` (only after the lower tier held for
``deescalate_hold_s``) → ``cleared`` (no supporting finding for the quiet period). ``acknowledged``
and ``resolved`` are set by people through :meth:`GroupState.acknowledge` / :meth:`GroupState.resolve`.

A sensor's own learned-baseline anomaly (``anomaly.sensor.*``) opens an alert only once it has lasted
``anomaly.alert_after_s`` (an on-delay; it corroborates other alerts from its first finding), and the
anomalies of ``anomaly.common_mode_sensors`` or more sensors of a group that no alert holds yet open one
alert of the group, which later ones join while it is active.

Alert ids are deterministic: ``sha1("asset|kind|started_at")`` shortened.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, SensorKind, SensorSpec, Tier

from .baseline_findings import FAMILY as SENSOR_ANOMALY_FAMILY
from .config import RulesConfig
from .correlation import (
    BLOCKING_FAULT_FAMILIES,
    GROUP_KINDS,
    OPERATION_FAMILY,
    attributed_to_operation,
    corroborated,
    desired_tier,
)
from .peer_faults import HOURLY_MEAN_FAMILY, PEER_FAULT_FAMILY, PEER_FAULT_HOLD_MS, take_note
from .peer_steps import LEVEL_MOVE_FAMILY, remember_move, shared_step
from .recurring_anomalies import recurring, remember_onset
from .results import Finding
from .shared_faults import (
    SHARED_FAMILIES,
    SUPPLY_LOSS_RULE,
    forget_shared,
    hold_shared,
    is_shared,
    note_shared,
    shared_key,
    shared_wait_ms,
    supply_loss,
    supply_loss_on,
)
from .shared_spikes import SPIKE_FAMILY, forget_spikes, hold_spike, operation_transient, shared_spike, spike_wait_ms
from .state import AlertRecord, Contribution, GroupState

_NEVER = 1 << 62  # a timer that never fires: above every event time

__all__ = ["GroupContext", "alert_id", "evaluate_group"]

_KIND_LIFELINE = {
    AlertKind.GAS_LEAK: Lifeline.GAS,
    AlertKind.GAS_PRESSURE_ANOMALY: Lifeline.GAS,
    AlertKind.COVER_DISPLACED: Lifeline.GAS,
    AlertKind.PIPE_BURST: Lifeline.WATER,
    AlertKind.BACKGROUND_LEAK: Lifeline.WATER,
    AlertKind.LOW_PRESSURE: Lifeline.WATER,
    AlertKind.WATERLOGGING: Lifeline.DRAINAGE,
    AlertKind.OVERFLOW: Lifeline.DRAINAGE,
    AlertKind.RAINSTORM: Lifeline.DRAINAGE,
    AlertKind.BRIDGE_OVERLOAD: Lifeline.BRIDGE,
    AlertKind.STRUCTURAL_ANOMALY: Lifeline.BRIDGE,
}


def alert_id(asset_id: str, kind: AlertKind, started_at: int, length: int = 16) -> str:
    """Deterministic alert id: same asset, kind and start → same id.

    >>> alert_id("DMA-01", AlertKind.PIPE_BURST, 1_700_000_000_000)
    '1fe7e5cab9f1645e'
    """
    text = f"{asset_id}|{kind.value}|{started_at}"
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:length]


#: (group id, alert kind, the alert's contributions) → where the incident most likely is ("" when unknown)
Locate = Callable[[str, AlertKind, Sequence[Contribution]], str]


def _nowhere(group_id: str, kind: AlertKind, contribs: Sequence[Contribution]) -> str:
    return ""


@dataclass(frozen=True, slots=True)
class GroupContext:
    """What the alarm logic needs to know about sensors: their spec and quiet period, how many load sensors a
    group has (for bridge overload corroboration), and where a group's incident is (``locate``)."""

    config: RulesConfig
    spec_of: Callable[[str], SensorSpec | None]
    quiet_ms_of: Callable[[str], int]
    load_sensors_of: Callable[[str], int]
    locate: Locate = _nowhere


#: the offset-step fault's family (vetoed when a same-kind peer shares the step: detectors/peer_steps.py)
OFFSET_FAMILY = "fault.offset"
#: hours of level-move notes kept beyond the offset check's ``offset_after_hours``
_MOVE_KEEP_HOURS = 4


def _finding_key(f: Finding) -> tuple[Any, ...]:
    return (f.ts, f.sensor_id, f.kind.value, f.rule, 0 if f.tier is None else int(f.tier), f.value, f.score, f.evidence)


def _operations_first(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Evaluation order: by event time; at one instant a pump or valve operation before what it causes."""
    return (key[0], not str(key[3]).startswith(OPERATION_FAMILY), key)


#: contributions that are no incident: a sensor's faults and the learned baselines' anomalies
_NOT_INCIDENT_KINDS = frozenset({AlertKind.SENSOR_FAULT, AlertKind.ANOMALY})
#: the sensors a pump or valve operation moves: their spikes next to one are its transient
_HYDRAULIC_KINDS = frozenset({SensorKind.WATER_PRESSURE, SensorKind.WATER_FLOW, SensorKind.TANK_LEVEL})


def _sensor_anomaly(c: Contribution) -> bool:
    """A finding of a sensor's own learned baseline (not the group model's)."""
    return c.kind is AlertKind.ANOMALY and c.rule.startswith(SENSOR_ANOMALY_FAMILY)


def _alert_key(f: Finding | Contribution, group_id: str, asset_id: str) -> tuple[str, str]:
    if f.kind is AlertKind.SENSOR_FAULT:
        return (f"{asset_id}#{f.sensor_id}", f.kind.value)
    if f.kind in GROUP_KINDS:
        return (f"{group_id}#{f.incident}" if f.incident else group_id, f.kind.value)
    return (asset_id, f.kind.value)


class _Run:
    """One evaluation pass over a group's state."""

    def __init__(self, ctx: GroupContext, gs: GroupState) -> None:
        self.ctx = ctx
        self.gs = gs
        self.events: list[AlertEvent] = []
        self.hold_ms = int(ctx.config.alarm.deescalate_hold_s * 1000)
        self.now = gs.horizon
        self.raised = 0  # anomalous sensors that raised the alert being reconciled by one tier (0: none)

    # -- contributions -------------------------------------------------------------------------

    def apply(self, f: Finding) -> None:
        family = f.rule.partition(":")[0]
        if family == OPERATION_FAMILY:  # a pump or valve operation: remembered, never an alert
            self.gs.last_operation_ts = max(self.gs.last_operation_ts, f.ts)
            return
        if family == LEVEL_MOVE_FAMILY:  # a sensor's hourly level moved: remembered, never an alert
            remember_move(self.gs.level_moves, f, self.ctx.config.faults.offset_after_hours + _MOVE_KEEP_HOURS)
            return
        if family == HOURLY_MEAN_FAMILY:  # a sensor's hourly mean: remembered; may find faults against peers
            for drift in take_note(self.gs, f, self.ctx.config.faults, self.ctx.spec_of):
                self.apply(drift)
            return
        if family == OFFSET_FAMILY and f.tier is not None:
            if self._shared_step(f):
                return
            self.gs.own_offsets[f.sensor_id] = f.ts
        if (
            family == SPIKE_FAMILY
            and f.tier is not None
            and (self._shared_spike(f) or self._asset_moved(f) or self._operation_transient(f))
        ):
            return
        if family in SHARED_FAMILIES and self._shared_fault(f):
            key = shared_key(f, self.ctx.spec_of)
            loss = supply_loss(f, key) if key is not None else None
            if loss is not None:  # loggers of a district at their floor together: not failing, the supply is lost
                self.apply(loss)
            return
        if family == "fault.saturation" and f.tier is None:  # back from the floor: its share in a supply loss ends
            share = (f.sensor_id, AlertKind.LOW_PRESSURE.value, SUPPLY_LOSS_RULE.partition(":")[0])
            if (lost := self.gs.contributions.get(share)) is not None and lost.rule == SUPPLY_LOSS_RULE:
                del self.gs.contributions[share]
        ckey = (f.sensor_id, f.kind.value, f"{family}#{f.incident}" if f.incident else family)
        if f.tier is None:
            self.gs.contributions.pop(ckey, None)
            return
        previous = self.gs.contributions.get(ckey)
        change, location, since = f.change, f.location, f.ts
        if previous is not None:  # the same step goes on: it keeps its attribution, and its change and location
            operation = previous.operation  # when a refresh does not restate them
            change = change if change is not None else previous.change
            location = location or previous.location
            since = previous.since
        else:
            operation = attributed_to_operation(family, f.ts, self.gs.last_operation_ts, self.ctx.config)
            if f.kind is AlertKind.ANOMALY:
                operation = self._scheduled_anomaly(f, family) or operation
        self.gs.contributions[ckey] = Contribution(
            f.sensor_id, f.asset_id, f.kind, f.tier, f.ts, f.value, f.score, f.evidence, f.rule, operation,
            change=change, location=location, incident=f.incident, since=since,
        )  # fmt: skip
        if f.kind not in _NOT_INCIDENT_KINDS and (kind := self._kind_of(f.sensor_id)) is not None:
            seen = self.gs.incident_seen
            seen[kind.value] = max(seen.get(kind.value, f.ts), f.ts)
        if operation:
            return
        record = self.gs.alerts.get(_alert_key(f, self.gs.group_id, f.asset_id))
        if record is not None and f.ts > record.last_support_ts:
            record.last_support_ts = f.ts

    def _shared_step(self, f: Finding) -> bool:
        """An offset finding whose step a same-kind peer of the group shares (physical): vetoed, not raised."""
        moves = getattr(self.gs, "level_moves", None)  # (a state pickled before the veto has none)
        if not moves:
            return False
        return shared_step(moves, f, self.ctx.config.faults.offset_after_hours, self._kind_of) is not None

    def _shared_spike(self, f: Finding) -> bool:
        """A spike that enough other sensors of the group showed at the same time (physical): not raised."""
        faults = self.ctx.config.faults
        wait = spike_wait_ms(faults)
        return bool(wait) and shared_spike(self.gs, f, wait, faults.spike_shared_peers)

    def _scheduled_anomaly(self, f: Finding, family: str) -> bool:
        """A new anomaly condition: remember when it began, and whether it began at this time of day on enough
        earlier days of its day type to be the sensor's schedule (detectors/recurring_anomalies.py)."""
        originator = f"{f.sensor_id if family == SENSOR_ANOMALY_FAMILY else ''}|{family}"
        onsets = self.gs.anomaly_onsets.setdefault(originator, [])
        cfg = self.ctx.config
        scheduled = recurring(onsets, f.ts, cfg.anomaly, cfg.rest_days, cfg.local_utc_offset_h)
        remember_onset(onsets, f.ts)
        return scheduled

    def _operation_transient(self, f: Finding) -> bool:
        """A spike of a water-network sensor within ``spike_shared_window_s`` either side of a pump or valve operation
        of its group: the operation's transient, not the sensor's fault (detectors/shared_spikes.py)."""
        if self._kind_of(f.sensor_id) not in _HYDRAULIC_KINDS:
            return False
        wait = spike_wait_ms(self.ctx.config.faults)
        window = self.ctx.config.faults.spike_shared_window_s * 1000
        held = bool(wait) and _reports_within(self.ctx, f.sensor_id, wait)
        return operation_transient(f.ts - wait if held else f.ts, self.gs.last_operation_ts, window)

    def _asset_moved(self, f: Finding) -> bool:
        """The finding's asset is in an incident (a bridge's overload, a well's leak) or at least
        ``spike_shared_peers`` of its other sensors stand off their learned baselines (a load the rules do not
        grade): a one-sample excursion of one of its sensors then is the asset's movement, not a fault of that
        sensor (the sensor's own incidents are excluded where the spike is judged, detectors/faults.py)."""
        anomalous: set[str] = set()
        for c in self.gs.contributions.values():
            if c.asset_id != f.asset_id:
                continue
            if c.kind not in _NOT_INCIDENT_KINDS:
                return True
            if c.kind is AlertKind.ANOMALY and c.sensor_id != f.sensor_id:
                anomalous.add(c.sensor_id)
        return len(anomalous) >= max(1, self.ctx.config.faults.spike_shared_peers)

    def _shared_fault(self, f: Finding) -> bool:
        """Note a saturation or drift raised or ended; a raise that enough same-kind sensors of the group share
        (the same range end, the same sign of trend: physical) is not raised (detectors/shared_faults.py)."""
        key = shared_key(f, self.ctx.spec_of)
        if key is None:
            return False
        faults = self.ctx.config.faults
        wait = shared_wait_ms(faults)
        held = _reports_within(self.ctx, f.sensor_id, wait)
        shared = f.tier is not None and bool(wait) and is_shared(self.gs, f, key, wait, faults.fault_shared_peers, held)
        note_shared(self.gs, f, key)
        return shared

    def _kind_of(self, sensor_id: str) -> SensorKind | None:
        spec = self.ctx.spec_of(sensor_id)
        return spec.kind if spec is not None else None

    def _expiry(self, c: Contribution) -> int:
        """When a contribution lapses without a new finding: the sensor's quiet period after its last finding (a
        fault against peers, restated hourly, holds longer)."""
        quiet = self.ctx.quiet_ms_of(c.sensor_id)
        if c.rule.startswith(PEER_FAULT_FAMILY):
            quiet = max(quiet, PEER_FAULT_HOLD_MS)
        if c.rule == SUPPLY_LOSS_RULE and supply_loss_on(self.gs, c.sensor_id):
            return _NEVER  # a saturation is reported once: its share lasts while the sensor is still at its floor
        return c.ts + quiet

    def expire(self, now: int) -> None:
        for ckey, c in list(self.gs.contributions.items()):
            if self._expiry(c) <= now:
                del self.gs.contributions[ckey]

    def next_timer(self) -> int | None:
        """The earliest timer strictly after the last evaluated time."""
        times: list[int] = [self._expiry(c) for c in self.gs.contributions.values()]
        times += [self._due(c) for c in self.gs.contributions.values() if _sensor_anomaly(c)]
        for r in self.gs.alerts.values():
            times.append(r.last_support_ts + r.quiet_ms)
            if r.lower_tier:
                times.append(r.lower_since + self.hold_ms)
        future = [t for t in times if t > self.now]
        return min(future) if future else None

    # -- alerts --------------------------------------------------------------------------------

    def _grouped(self) -> dict[tuple[str, str], list[Contribution]]:
        blocked = {
            c.sensor_id for c in self.gs.contributions.values() if c.rule.partition(":")[0] in BLOCKING_FAULT_FAMILIES
        }
        grouped: dict[tuple[str, str], list[Contribution]] = {}
        loose: list[Contribution] = []  # per-sensor anomalies that no active alert holds yet
        for c in self.gs.contributions.values():
            if c.operation or (c.kind is not AlertKind.SENSOR_FAULT and c.sensor_id in blocked):
                continue
            key = _alert_key(c, self.gs.group_id, c.asset_id)
            if _sensor_anomaly(c) and key not in self.gs.alerts:
                loose.append(c)
            else:
                grouped.setdefault(key, []).append(c)
        if loose:
            common = (self.gs.group_id, AlertKind.ANOMALY.value)
            least = self.ctx.config.anomaly.common_mode_sensors
            together = least > 0 and (common in self.gs.alerts or len({c.sensor_id for c in loose}) >= least)
            for c in loose:
                grouped.setdefault(common if together else _alert_key(c, self.gs.group_id, c.asset_id), []).append(c)
        return grouped

    def _due(self, c: Contribution) -> int:
        """When a per-sensor anomaly may open an alert (``anomaly.alert_after_s`` after it started)."""
        return c.since + int(self.ctx.config.anomaly.alert_after_s * 1000) if c.since >= 0 else c.ts

    def _ripe(self, kind: AlertKind, contribs: list[Contribution]) -> bool:
        """Whether these contributions may open an alert: an anomaly alert waits until one of its findings is
        not a per-sensor anomaly or has lasted ``anomaly.alert_after_s``; every other alert opens at once."""
        if kind is not AlertKind.ANOMALY:
            return True
        return any(not _sensor_anomaly(c) or self._due(c) <= self.now for c in contribs)

    def _open(self, key: tuple[str, str], contribs: list[Contribution], tier: Tier, now: int) -> None:
        kind = AlertKind(key[1])
        lead = min(contribs, key=lambda c: (c.tier, c.sensor_id, c.rule))
        spec = self.ctx.spec_of(lead.sensor_id)
        if kind is AlertKind.SENSOR_FAULT:
            asset_id = lead.asset_id
            owner = (spec.maintainer or spec.owner) if spec else ""
        else:
            asset_id = self.gs.group_id if lead.incident else key[0]  # the group, not its incident's alert key
            owner = spec.owner if spec else ""
        lifeline = _KIND_LIFELINE.get(kind) or (spec.lifeline if spec else Lifeline.GAS)
        quiet = max(self.ctx.quiet_ms_of(c.sensor_id) for c in contribs)
        started = min(c.ts for c in contribs)
        if kind is AlertKind.ANOMALY:  # opened after its on-delay: it started with its first finding
            started = min(c.since if c.since >= 0 else c.ts for c in contribs)
        record = AlertRecord(
            alert_id=alert_id(asset_id, kind, started, self.ctx.config.alarm.alert_id_length),
            kind=kind,
            lifeline=lifeline,
            asset_id=asset_id,
            owner=owner,
            district=spec.district if spec else "",
            tier=tier,
            started_at=started,
            sensor_ids=(),
            value=lead.value,
            score=lead.score,
            evidence="",
            last_support_ts=max(c.ts for c in contribs),
            quiet_ms=quiet,
        )
        self._describe(record, contribs, tier)
        self.gs.alerts[key] = record
        self.events.append(record.event(AlertEventType.OPENED, now))

    def _describe(self, record: AlertRecord, contribs: list[Contribution], tier: Tier) -> None:
        ordered = sorted(contribs, key=lambda c: (c.tier, c.sensor_id, c.rule))
        lead = ordered[0]
        record.value = lead.value
        record.score = max(c.score for c in contribs)
        record.sensor_ids = tuple(sorted(set(record.sensor_ids) | {c.sensor_id for c in contribs}))
        parts = [f"{c.sensor_id} [{c.rule}, suggests {c.tier.label_zh}]: {c.evidence}" for c in ordered[:4]]
        more = f"; +{len(ordered) - 4} more" if len(ordered) > 4 else ""
        sensors = len({c.sensor_id for c in contribs})
        record.evidence = f"{tier.label_zh} from {sensors} sensor(s): " + " | ".join(parts) + more
        if self.raised:
            record.evidence += f" | +1 tier: anomaly evidence on {self.raised} sensors of the group corroborates"
        record.quiet_ms = max(record.quiet_ms, *(self.ctx.quiet_ms_of(c.sensor_id) for c in contribs))
        # a detector that locates on its own says where; else the group's locator (a fuller picture keeps the last)
        location = next((c.location for c in ordered if c.location), "")
        if not location:
            location = self.ctx.locate(self.gs.group_id, record.kind, contribs)
        record.location = location or record.location

    def reconcile(self, now: int) -> None:
        self.now = max(self.now, now)
        grouped = self._grouped()
        keys = sorted(set(grouped) | set(self.gs.alerts))
        cfg = self.ctx.config
        # anomaly evidence: sensor → its asset (an alert's own assets' anomalies are the same event, not evidence)
        anomalies = {c.sensor_id: c.asset_id for cs in grouped.values() for c in cs if c.kind is AlertKind.ANOMALY}
        for key in keys:
            contribs = grouped.get(key, [])
            kind = AlertKind(key[1])
            load = self.ctx.load_sensors_of(self.gs.group_id) if kind is AlertKind.BRIDGE_OVERLOAD else 0
            gas = kind in (AlertKind.GAS_PRESSURE_ANOMALY, AlertKind.GAS_LEAK)
            wells = self._gas_wells(grouped) if gas else 0
            drop = gas and any(
                c.rule.startswith("gas.pressure.drop:")
                for c in grouped.get((self.gs.group_id, AlertKind.GAS_PRESSURE_ANOMALY.value), [])
            )
            want = desired_tier(kind, contribs, cfg, load, wells, drop)
            self.raised = 0
            if want is not None and anomalies:
                own = {c.asset_id for c in contribs}
                anomalous = sum(1 for asset_id in anomalies.values() if asset_id not in own)
                raised = corroborated(kind, want, anomalous, cfg)
                self.raised = anomalous if raised != want else 0
                want = raised
            record = self.gs.alerts.get(key)
            if record is None:
                if want is not None and self._ripe(kind, contribs):
                    self._open(key, contribs, want, now)
                continue
            if contribs:
                record.last_support_ts = max(record.last_support_ts, max(c.ts for c in contribs))
            if now >= record.last_support_ts + record.quiet_ms and not contribs:
                self.events.append(record.event(AlertEventType.CLEARED, now))
                del self.gs.alerts[key]
                continue
            if want is None:
                record.lower_tier = 0
                record.lower_since = -1
                continue
            if want.is_more_severe_than(record.tier):
                self._describe(record, contribs, want)
                record.tier = want
                record.lower_tier = 0
                record.lower_since = -1
                self.events.append(record.event(AlertEventType.ESCALATED, now))
            elif want == record.tier:
                record.lower_tier = 0
                record.lower_since = -1
            else:
                if not record.lower_tier:
                    record.lower_since = now
                    record.lower_tier = int(want)
                else:
                    record.lower_tier = min(record.lower_tier, int(want))
                if now >= record.lower_since + self.hold_ms:
                    lower = Tier(record.lower_tier)
                    self._describe(record, contribs, lower)
                    record.tier = lower
                    record.lower_tier = 0
                    record.lower_since = -1
                    self.events.append(record.event(AlertEventType.DE_ESCALATED, now))
            self._joined(record, contribs, now)

    def _joined(self, record: AlertRecord, contribs: list[Contribution], now: int) -> None:
        """A sensor joined the active alert without a tier change: describe it again and say so (``updated``)."""
        if not {c.sensor_id for c in contribs} <= set(record.sensor_ids):
            self._describe(record, contribs, record.tier)
            self.events.append(record.event(AlertEventType.UPDATED, now))

    def _gas_wells(self, grouped: dict[tuple[str, str], list[Contribution]]) -> int:
        """Wells of the group with methane at ≥ T3 now that are not biogas-prone: not capped as biogas-like, not a
        sewer or storm well (``gas.sewer_asset_words``), no registered biogas history."""
        words = self.ctx.config.gas.sewer_asset_words
        wells: set[str] = set()
        for c in grouped.get((self.gs.group_id, AlertKind.GAS_LEAK.value), []):
            spec = self.ctx.spec_of(c.sensor_id)
            if c.rule.endswith("biogas_capped") or spec is None or spec.thresholds.get("biogas_history", 0.0) > 0:
                continue
            if not any(word in spec.asset_kind.lower() for word in words):
                wells.add(c.asset_id)
        return len(wells)

    def advance(self, until: int, inclusive: bool) -> None:
        """Fire every timer due before ``until`` (or at it, when ``inclusive``) in time order."""
        while True:
            due = self.next_timer()
            if due is None or due > until or (due == until and not inclusive):
                return
            self.expire(due)
            self.reconcile(due)


def _reports_within(ctx: GroupContext, sensor_id: str, wait_ms: int) -> bool:
    """Whether the sensor reports at least once in ``wait_ms``: only such sensors and their peers can show one
    transient within the spike veto's window (an hourly sensor's spike is never held)."""
    spec = ctx.spec_of(sensor_id)
    return spec is not None and spec.interval_s * 1000 <= wait_ms


def evaluate_group(
    ctx: GroupContext, gs: GroupState, findings: Iterable[Finding], watermark_ms: int, *, final: bool = False
) -> list[AlertEvent]:
    """Buffer ``findings`` and evaluate everything up to ``watermark_ms - settle_delay_ms`` (a spike is held
    ``spike_shared_window_s`` longer, detectors/shared_spikes.py); ``final`` (no input will follow): up to the
    last finding still held, too."""
    wait = spike_wait_ms(ctx.config.faults)
    shared_wait = shared_wait_ms(ctx.config.faults)
    for f in findings:
        if f.ts <= gs.horizon:
            gs.late_findings += 1
        family = f.rule.partition(":")[0]
        if wait and family == SPIKE_FAMILY and _reports_within(ctx, f.sensor_id, wait):
            f = hold_spike(gs, f, wait)
        elif shared_wait and family in SHARED_FAMILIES and _reports_within(ctx, f.sensor_id, shared_wait):
            key = shared_key(f, ctx.spec_of)
            if key is not None:
                f = hold_shared(gs, f, key, shared_wait)
        gs.pending[_finding_key(f)] = f
    target = watermark_ms - ctx.config.alarm.settle_delay_ms
    if final and gs.pending:
        target = max(target, max(int(k[0]) for k in gs.pending))
    if gs.at_rest:
        # a group at rest (the group stage's minute tick skips these): no finding to apply, no timer to fire
        gs.horizon = max(gs.horizon, target)
        return []
    run = _Run(ctx, gs)
    if target <= gs.horizon:
        return run.events
    ready = sorted((k for k in gs.pending if k[0] <= target), key=_operations_first)
    index = 0
    while index < len(ready):
        ts = max(int(ready[index][0]), gs.horizon)
        run.advance(ts, inclusive=False)
        while index < len(ready) and max(int(ready[index][0]), gs.horizon) == ts:
            run.apply(gs.pending.pop(ready[index]))
            index += 1
        run.expire(ts)
        run.reconcile(ts)
    run.advance(target, inclusive=True)
    gs.horizon = target
    if wait:
        forget_spikes(gs, target, wait)
    if shared_wait:
        forget_shared(gs, target, shared_wait)
    return run.events
