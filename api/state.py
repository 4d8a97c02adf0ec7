"""Alert status derived from lifecycle events, and the per-alert state the hub keeps.

Status rules (the latest event decides, with two exceptions that keep closed alerts closed):

=================  ==============================================================
event              status afterwards
=================  ==============================================================
opened, escalated  ``open`` (an escalation needs a fresh acknowledge)
de-escalated       unchanged if open or acknowledged, else ``open``
acknowledged       ``acknowledged``; a cleared or resolved alert stays as it was
cleared            ``cleared`` (condition gone); a resolved alert stays resolved
resolved           ``resolved``
=================  ==============================================================

Active alerts are those ``open`` or ``acknowledged``.
"""

from __future__ import annotations

import enum

import msgspec

from lifeline.models import AlertEvent, AlertEventType

__all__ = ["ACTIVE", "AlertState", "AlertStatus", "next_status"]


class AlertStatus(enum.StrEnum):
    """Where an alert stands."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"
    RESOLVED = "resolved"


ACTIVE = frozenset({AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED})
_CLOSED = frozenset({AlertStatus.CLEARED, AlertStatus.RESOLVED})


def next_status(previous: AlertStatus | None, event: AlertEventType) -> AlertStatus:
    """The status after ``event`` is applied to an alert whose status was ``previous``."""
    if event in (AlertEventType.OPENED, AlertEventType.ESCALATED):
        return AlertStatus.OPEN
    if event in (AlertEventType.DE_ESCALATED, AlertEventType.UPDATED):
        return previous if previous in ACTIVE and previous is not None else AlertStatus.OPEN
    if event is AlertEventType.ACKNOWLEDGED:
        return previous if previous in _CLOSED and previous is not None else AlertStatus.ACKNOWLEDGED
    if event is AlertEventType.CLEARED:
        return AlertStatus.RESOLVED if previous is AlertStatus.RESOLVED else AlertStatus.CLEARED
    return AlertStatus.RESOLVED


class AlertState(msgspec.Struct, frozen=True, kw_only=True):
    """An alert as the hub knows it: its latest event, status and the envelope last sent for it."""

    event: AlertEvent
    status: AlertStatus
    last_id: int
    kafka_ts: int
    opened_ts: int
    acknowledged_by: str = ""
    acknowledged_at: int | None = None
    envelope: bytes = b""

    @property
    def active(self) -> bool:
        """True while open or acknowledged."""
        return self.status in ACTIVE

    def advance(self, event: AlertEvent, last_id: int, kafka_ts: int, envelope: bytes) -> AlertState:
        """The state after ``event``."""
        status = next_status(self.status, event.event)
        acked = event.event is AlertEventType.ACKNOWLEDGED and status is AlertStatus.ACKNOWLEDGED
        reset = status is AlertStatus.OPEN and event.event not in (AlertEventType.DE_ESCALATED, AlertEventType.UPDATED)
        return AlertState(
            event=event, status=status, last_id=last_id, kafka_ts=kafka_ts, opened_ts=self.opened_ts,
            acknowledged_by=event.actor if acked else ("" if reset else self.acknowledged_by),
            acknowledged_at=event.ts if acked else (None if reset else self.acknowledged_at),
            envelope=envelope,
        )  # fmt: skip

    @staticmethod
    def first(event: AlertEvent, last_id: int, kafka_ts: int, envelope: bytes) -> AlertState:
        """The state of an alert first seen with ``event`` (normally ``opened``)."""
        status = next_status(None, event.event)
        acked = status is AlertStatus.ACKNOWLEDGED
        return AlertState(
            event=event, status=status, last_id=last_id, kafka_ts=kafka_ts, opened_ts=event.started_at,
            acknowledged_by=event.actor if acked else "", acknowledged_at=event.ts if acked else None,
            envelope=envelope,
        )  # fmt: skip
