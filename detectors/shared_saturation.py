"""The group veto of the saturation fault: sensors of a group at the same end of their range together are
reading the network, not failing.

A sensor whose readings sit at an end of its valid range raises a saturation fault
(:func:`~lifeline.detectors.faults.check_reading`): a logger that lost its zero, a range set too small. But when
the supply of a district fails, every pressure logger of it drops to its range minimum within minutes (a vacuum
in the mains, or the logger's floor), and each would raise its own fault, a dozen ``sensor_fault`` alerts for
one supply interruption, while the excursion is physical. (A network nobody tuned on, wntr's ky10, ran 14 simulated
days of evening peaks its mains could not serve: 288 saturation alerts on its loggers, in bursts of many
loggers within minutes of each other.)

So the group holds every saturation finding for ``saturation_shared_window_s`` of event time and drops a raised
one when at least ``saturation_shared_peers`` other sensors of the same kind at the same end of their range are
saturated with it: raised within that window either side, or still saturated (their saturation raised earlier
and not yet ended, vetoed or not). Only sensors that report at least once in the window are held; a slower
sensor's saturation is applied at once and counts only its peers already saturated
(docs/domain.md#sensor-faults).

* :func:`saturation_end`: the kind and the end of the range a finding's value is at (``"<kind>:+1"`` or
  ``"<kind>:-1"``; ``None`` without a spec).
* :func:`hold_saturation` (as a finding reaches the group): remembers a raise's time, sensor and end in
  :attr:`GroupState.saturations` and returns the finding re-stamped ``wait`` later.
* :func:`note_saturation` (as a finding is applied, in event-time order): which sensors are saturated now.
* :func:`shared_saturation` (as a held raise is applied): whether enough peers are saturated with it.
* :func:`forget_saturations` (after each evaluation): drops the remembered raises no held finding can need.

The sensor's own blocking of its incident rules (in the partition) is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from lifeline.models import SensorSpec

from .config import FaultRules
from .results import Finding
from .state import GroupState

__all__ = [
    "SATURATION_FAMILY", "forget_saturations", "hold_saturation", "note_saturation", "saturation_end",
    "saturation_wait_ms", "shared_saturation",
]  # fmt: skip

#: the rule family of the saturation fault (detectors/faults.py)
SATURATION_FAMILY = "fault.saturation"


def saturation_wait_ms(cfg: FaultRules) -> int:
    """How long the group holds a saturation finding (0: the veto is off)."""
    return cfg.saturation_shared_window_s * 1000 if cfg.saturation_shared_peers > 0 else 0


def saturation_end(f: Finding, spec_of: Callable[[str], SensorSpec | None]) -> str | None:
    """The kind and the end of the range a saturation finding's value sits at: ``"<kind>:+1"`` (maximum) or
    ``"<kind>:-1"`` (minimum); ``None`` for a sensor the registry does not know.

    >>> from lifeline.models import AlertKind, SensorKind
    >>> spec = SensorSpec("p", SensorKind.WATER_PRESSURE, "a", "o", "d", 0, 0)  # range -0.1 to 2.5 MPa
    >>> f = Finding("p", "a", "g", AlertKind.SENSOR_FAULT, 3, 0, -0.1, 0.5, "", "fault.saturation:range_limit")
    >>> saturation_end(f, {"p": spec}.get)
    'water_pressure:-1'
    """
    spec = spec_of(f.sensor_id)
    if spec is None:
        return None
    side = 1 if f.value >= 0.5 * (spec.valid_min + spec.valid_max) else -1
    return f"{spec.kind.value}:{side:+d}"


def hold_saturation(gs: GroupState, f: Finding, end: str, wait_ms: int) -> Finding:
    """Remember a raised saturation (``f`` at range end ``end``) and return it (raised or ended) re-stamped
    ``wait_ms`` later."""
    if f.tier is not None:
        gs.saturations.append((f.ts, f.sensor_id, end))
    return msgspec.structs.replace(f, ts=f.ts + wait_ms)


def note_saturation(gs: GroupState, f: Finding, end: str) -> None:
    """Keep which sensors are saturated, and at which end, as their findings are applied (in event-time order)."""
    if f.tier is None:
        gs.saturated.pop(f.sensor_id, None)
    else:
        gs.saturated[f.sensor_id] = end


def shared_saturation(gs: GroupState, raised: Finding, end: str, wait_ms: int, min_peers: int, held: bool) -> bool:
    """Whether at least ``min_peers`` other sensors are saturated at ``end`` with ``raised``: still saturated, or
    (for a ``held`` finding, re-stamped ``wait_ms`` later) raised within ``wait_ms`` of it.

    >>> gs = GroupState("g")
    >>> from lifeline.models import AlertKind
    >>> def sat(sensor: str, ts: int) -> Finding:
    ...     return Finding(sensor, sensor, "g", AlertKind.SENSOR_FAULT, 3, ts, -0.1, 0.5, "", "fault.saturation:x")
    >>> end = "water_pressure:-1"
    >>> held = [hold_saturation(gs, sat(s, t), end, 600) for s, t in (("a", 1000), ("b", 1200), ("c", 1500))]
    >>> [shared_saturation(gs, h, end, 600, 2, True) for h in held]
    [True, True, True]
    >>> shared_saturation(gs, hold_saturation(gs, sat("d", 9000), end, 600), end, 600, 2, True)
    False
    """
    peers = {s for s, e in gs.saturated.items() if e == end and s != raised.sensor_id}
    if held:
        at = raised.ts - wait_ms
        peers |= {s for ts, s, e in gs.saturations if e == end and s != raised.sensor_id and abs(ts - at) <= wait_ms}
    return len(peers) >= min_peers


def forget_saturations(gs: GroupState, horizon: int, wait_ms: int) -> None:
    """Drop the raises no held finding still needs: those before ``horizon - 2 · wait_ms``."""
    if gs.saturations and gs.saturations[0][0] < horizon - 2 * wait_ms:
        gs.saturations[:] = [r for r in gs.saturations if r[0] >= horizon - 2 * wait_ms]
