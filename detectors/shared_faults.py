"""The group veto of saturation and drift faults: same-kind sensors of a group at the same end of their range,
or drifting the same way, at the same time are reading the network, not failing.

A sensor whose readings sit at an end of its valid range raises a saturation fault, and one whose hourly means
run on a straight line for a day a drift fault (:mod:`lifeline.detectors.faults`): a logger that lost its zero,
a range set too small, an ageing element. But when the supply of a district fails, every pressure logger of it
drops to its range minimum within minutes (a vacuum in the mains, or the logger's floor), and when a tank drains
over a day, every logger it feeds falls on the same line; each would raise its own fault, a dozen
``sensor_fault`` alerts for one physical event, and the blocking faults would keep the sensors' readings out of
the incident rules. (A network nobody tuned on, wntr's ky10, ran 14 simulated days of evening peaks its mains
could not serve: 288 saturation alerts on its loggers, in bursts of many loggers within minutes of each other,
and four loggers "drifting" by the same 0.012 MPa an hour on the same day.)

So the group holds every saturation and drift finding for ``fault_shared_window_s`` of event time and drops a
raised one when at least ``fault_shared_peers`` other sensors share it: same kind, same family, same end of the
range (saturation) or same sign of the trend (drift), raised within that window either side, or still on (their
fault raised earlier and not yet ended, vetoed or not). Only sensors that report at least once in the window are
held; a slower sensor's finding is applied at once and counts only its peers already on
(docs/domain.md#sensor-faults). The sensor's own blocking of its incident rules (in the partition) is unchanged.

* :func:`shared_key`: what a finding must share (``"<family>|<kind>|±1"``; ``None`` for another family, a sensor
  the registry does not know, or a drift with no trend to sign).
* :func:`hold_shared` (as a finding reaches the group): remembers a raise's time, sensor and key in
  :attr:`GroupState.shared_raises` and returns the finding re-stamped ``wait`` later.
* :func:`note_shared` (as a finding is applied, in event-time order): which sensors' faults are on now.
* :func:`is_shared` (as a raise is applied): whether enough peers share it.
* :func:`forget_shared` (after each evaluation): drops the remembered raises no held finding can need.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier

from .config import FaultRules
from .results import Finding
from .state import GroupState

__all__ = [
    "SHARED_FAMILIES", "SUPPLY_LOSS_RULE", "forget_shared", "hold_shared", "is_shared", "note_shared", "shared_key",
    "shared_wait_ms", "supply_loss", "supply_loss_on",
]  # fmt: skip

#: the fault families the group vetoes when enough peers share them (detectors/faults.py)
SHARED_FAMILIES = frozenset({"fault.saturation", "fault.drift"})


def shared_wait_ms(cfg: FaultRules) -> int:
    """How long the group holds a saturation or drift finding (0: the veto is off)."""
    return cfg.fault_shared_window_s * 1000 if cfg.fault_shared_peers > 0 else 0


def shared_key(f: Finding, spec_of: Callable[[str], SensorSpec | None]) -> str | None:
    """What peers must share with ``f``: its family, its sensor's kind and the end of the range its value sits at
    (saturation) or the sign of its trend (drift, ``Finding.change``).

    >>> from lifeline.models import AlertKind, SensorKind
    >>> spec = SensorSpec("p", SensorKind.WATER_PRESSURE, "a", "o", "d", 0, 0)  # range -0.1 to 2.5 MPa
    >>> f = Finding("p", "a", "g", AlertKind.SENSOR_FAULT, 3, 0, -0.1, 0.5, "", "fault.saturation:range_limit")
    >>> shared_key(f, {"p": spec}.get)
    'fault.saturation|water_pressure|-1'
    >>> shared_key(msgspec.structs.replace(f, rule="fault.drift:linear_trend", change=0.01), {"p": spec}.get)
    'fault.drift|water_pressure|+1'
    """
    family = f.rule.partition(":")[0]
    spec = spec_of(f.sensor_id)
    if family not in SHARED_FAMILIES or spec is None:
        return None
    if family == "fault.drift":
        if not f.change:
            return None if f.tier is not None else f"{family}|{spec.kind.value}|0"
        side = 1 if f.change > 0 else -1
    else:
        side = 1 if f.value >= 0.5 * (spec.valid_min + spec.valid_max) else -1
    return f"{family}|{spec.kind.value}|{side:+d}"


def hold_shared(gs: GroupState, f: Finding, key: str, wait_ms: int) -> Finding:
    """Remember a raise (``f``, sharing ``key``) and return it (raised or ended) re-stamped ``wait_ms`` later."""
    if f.tier is not None:
        gs.shared_raises.append((f.ts, f.sensor_id, key))
    return msgspec.structs.replace(f, ts=f.ts + wait_ms)


def _family(key: str) -> str:
    return key.partition("|")[0]


#: the rule of a pressure logger's share in a district's loss of supply (a vetoed saturation at its floor)
SUPPLY_LOSS_RULE = "water.pressure.low:shared_range_minimum"
_SUPPLY_LOSS_KEY = f"fault.saturation|{SensorKind.WATER_PRESSURE.value}|-1"


def supply_loss(f: Finding, key: str) -> Finding | None:
    """The incident a saturation at the range minimum that peers share stands for: pressure loggers of a district
    at their floor together have lost supply (a vacuum in the mains, or the loggers' floor), a tier-1
    ``low_pressure`` share of the sensor; ``None`` for any other shared fault.

    >>> from lifeline.models import AlertKind
    >>> sat = Finding("P1", "A", "g", AlertKind.SENSOR_FAULT, 3, 1000, -0.1, 0.5, "", "fault.saturation:range_limit")
    >>> loss = supply_loss(sat, "fault.saturation|water_pressure|-1")
    >>> loss.kind.value, int(loss.tier), loss.rule
    ('low_pressure', 1, 'water.pressure.low:shared_range_minimum')
    >>> supply_loss(sat, "fault.saturation|water_pressure|+1") is None
    True
    """
    if key != _SUPPLY_LOSS_KEY or f.tier is None:
        return None
    evidence = (
        f"pressure {f.value:.3f} MPa: {f.sensor_id} at its range minimum together with other loggers of the "
        "group: loss of supply"
    )
    return msgspec.structs.replace(
        f, kind=AlertKind.LOW_PRESSURE, tier=Tier.T1, rule=SUPPLY_LOSS_RULE, evidence=evidence, score=1.0
    )


def supply_loss_on(gs: GroupState, sensor_id: str) -> bool:
    """Whether the sensor's saturation at the range minimum, shared by peers, is still on."""
    return gs.shared_on.get(f"{sensor_id}|fault.saturation") == _SUPPLY_LOSS_KEY


def note_shared(gs: GroupState, f: Finding, key: str) -> None:
    """Keep which sensors' saturation or drift is on, and with which key, as findings are applied (in event-time
    order; an end ends the sensor's fault of that family)."""
    slot = f"{f.sensor_id}|{_family(key)}"
    if f.tier is None:
        gs.shared_on.pop(slot, None)
    else:
        gs.shared_on[slot] = key


def is_shared(gs: GroupState, raised: Finding, key: str, wait_ms: int, min_peers: int, held: bool) -> bool:
    """Whether at least ``min_peers`` other sensors share ``key`` with ``raised``: their fault still on, or (for a
    ``held`` finding, re-stamped ``wait_ms`` later) raised within ``wait_ms`` of it.

    >>> gs = GroupState("g")
    >>> from lifeline.models import AlertKind
    >>> def sat(sensor: str, ts: int) -> Finding:
    ...     return Finding(sensor, sensor, "g", AlertKind.SENSOR_FAULT, 3, ts, -0.1, 0.5, "", "fault.saturation:x")
    >>> key = "fault.saturation|water_pressure|-1"
    >>> held = [hold_shared(gs, sat(s, t), key, 600) for s, t in (("a", 1000), ("b", 1200), ("c", 1500))]
    >>> [is_shared(gs, h, key, 600, 2, True) for h in held]
    [True, True, True]
    >>> is_shared(gs, hold_shared(gs, sat("d", 9000), key, 600), key, 600, 2, True)
    False
    """
    me = raised.sensor_id
    peers = {slot.partition("|")[0] for slot, k in gs.shared_on.items() if k == key} - {me}
    if held:
        at = raised.ts - wait_ms
        peers |= {s for ts, s, k in gs.shared_raises if k == key and s != me and abs(ts - at) <= wait_ms}
    return len(peers) >= min_peers


def forget_shared(gs: GroupState, horizon: int, wait_ms: int) -> None:
    """Drop the raises no held finding still needs: those before ``horizon - 2 · wait_ms``."""
    if gs.shared_raises and gs.shared_raises[0][0] < horizon - 2 * wait_ms:
        gs.shared_raises[:] = [r for r in gs.shared_raises if r[0] >= horizon - 2 * wait_ms]
