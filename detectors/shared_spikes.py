"""The group veto of the spike fault: a spike that several sensors of a group show at once is the network's.

A pump that starts for one step, a valve slammed shut, a pressure wave: each logger of a water network may see
one sample jump and come back, and each passes the spike check on its own
(:func:`~lifeline.detectors.faults.check_reading`), yet the excursion is physical, not a sensor's fault. (On
Net3, in the two months from 20 August 2024, twelve loggers and a flow meter "spiked" within four minutes of
each other at 01:05 on several nights.) So the group holds every spike finding for ``spike_shared_window_s``
of event time and drops it when at least ``spike_shared_peers`` other sensors of the group had a spike within
that window either side of it (docs/domain.md#sensor-faults). Only the spikes of sensors that report at least
once in that window are held and counted: a sensor reporting once an hour shows a transient of a few minutes
only by chance, its peers almost never in the same minutes, and holding its spike would only delay it.

* :func:`hold_spike` (as a finding reaches the group): remembers a spike's time and sensor in
  :attr:`GroupState.spikes` and returns the finding re-stamped ``wait`` later, so the group applies it once
  every finding up to ``wait`` after it has arrived (the group stage releases findings in event-time order
  behind its watermark), whatever the batching: the same alerts from any partitioning and after a restore.
* :func:`shared_spike` (as the held finding is applied): whether enough peers spiked around it.
* :func:`forget_spikes` (after each evaluation): drops the remembered spikes no held finding can still need.
* :func:`operation_transient` (as the held finding is applied): whether a pump or valve of the group was operated
  within that window either side of it. A tank draining to a pump's start level, the pump starting, a valve closing:
  the loggers near it may show one sample off the line (on Net1 two loggers dipped 1.5 m one and three minutes
  before a tank-level-controlled pump started, the state sensor reporting the start at its next reading). Only
  the sensors of the water network (pressure, flow, tank level) are judged so; a state change cannot explain the
  spike of a methane or level sensor that shares its group.

A spike that is not shared opens its ``sensor_fault`` alert ``wait`` later than before; the spike's own time
stays in its evidence.
"""

from __future__ import annotations

import msgspec

from .config import FaultRules
from .results import Finding
from .state import GroupState

__all__ = ["SPIKE_FAMILY", "forget_spikes", "hold_spike", "operation_transient", "shared_spike", "spike_wait_ms"]

#: the rule family of the spike fault (detectors/faults.py)
SPIKE_FAMILY = "fault.spike"


def spike_wait_ms(cfg: FaultRules) -> int:
    """How long the group holds a spike finding (0: the veto is off)."""
    return cfg.spike_shared_window_s * 1000 if cfg.spike_shared_peers > 0 else 0


def hold_spike(gs: GroupState, f: Finding, wait_ms: int) -> Finding:
    """Remember a raised spike (``f``, family :data:`SPIKE_FAMILY`) and return it (raised or ended) re-stamped
    ``wait_ms`` later."""
    if f.tier is not None:
        gs.spikes.append((f.ts, f.sensor_id))
    return msgspec.structs.replace(f, ts=f.ts + wait_ms)


def shared_spike(gs: GroupState, held: Finding, wait_ms: int, min_peers: int) -> bool:
    """Whether at least ``min_peers`` other sensors of the group had a spike within ``wait_ms`` of ``held`` (a
    finding :func:`hold_spike` re-stamped).

    >>> gs = GroupState("g")
    >>> from lifeline.models import AlertKind
    >>> def spike(sensor: str, ts: int) -> Finding:
    ...     return Finding(sensor, sensor, "g", AlertKind.SENSOR_FAULT, 3, ts, 1.0, 0.5, "", "fault.spike:x")
    >>> held = [hold_spike(gs, spike(s, t), 600) for s, t in (("a", 1000), ("b", 1200), ("c", 1500), ("d", 9000))]
    >>> [shared_spike(gs, h, 600, 2) for h in held]
    [True, True, True, False]
    """
    at = held.ts - wait_ms
    peers = {sensor for ts, sensor in gs.spikes if sensor != held.sensor_id and abs(ts - at) <= wait_ms}
    return len(peers) >= min_peers


def operation_transient(spike_ts: int, last_operation_ts: int, window_ms: int) -> bool:
    """Whether a spike at ``spike_ts`` (its own time, not the re-stamped one) lies within ``window_ms`` either side of
    the group's newest pump or valve operation applied so far (a held spike is applied ``window_ms`` after it, so
    every operation up to then is known).

    >>> [operation_transient(t, 1_000_000, 300_000) for t in (600_000, 700_000, 1_200_000, 1_300_000, 1_400_000)]
    [False, True, True, True, False]
    """
    return abs(spike_ts - last_operation_ts) <= window_ms


def forget_spikes(gs: GroupState, horizon: int, wait_ms: int) -> None:
    """Drop the spikes no held finding still needs: those before ``horizon - 2 · wait_ms`` (a finding applied
    after ``horizon`` spiked after ``horizon - wait_ms`` and looks back ``wait_ms`` from there)."""
    if gs.spikes and gs.spikes[0][0] < horizon - 2 * wait_ms:
        gs.spikes[:] = [(ts, sensor) for ts, sensor in gs.spikes if ts >= horizon - 2 * wait_ms]
