"""The group veto of the offset-step fault: a step that same-kind peers of the group share is physical.

A storm raises every manhole level of a catchment, a load or the sun moves every strain gauge of a bridge,
a pressure change moves the methane of several wells: each of those sensors may show a step that passes the
offset check on its own (:func:`~lifeline.detectors.faults.check_offset_hours`), yet the step is the
physics, not a moved zero. So the sensors the offset check watches report their notable hourly level moves to
their group, and the group stage drops an offset finding when a same-kind peer moved the same way around the
jump.

* **Sensor side** (:func:`note_level_move`, once per closed hour, never per reading): the move of the hourly
  mean over two hours, ``mean(H) - mean(H - 2)``, in the sensor's reading-noise standard deviations. A move of
  at least ``offset_sigma`` of them becomes a *level-move note*: a finding of rule :data:`LEVEL_MOVE_RULE`, no tier,
  that the alarm logic remembers and never turns into an alert (like a pump operation).
* **Group side** (:func:`remember_move`, :func:`shared_step`): the group keeps each sensor's notes of the last
  hours in :attr:`GroupState.level_moves` (pickled with it: the same outputs after a restore). When an offset
  finding is about to be raised, its jump's hour ``J`` is ``offset_after_hours + 1`` hours before the hour of
  the finding; a note of a same-kind peer of that group at a closed hour ``J - 1 … J + 2`` (its two-hour move
  spans the jump) with the sign of the step, and at least :data:`_PEER_SHARE` of the sensor's own largest such move,
  vetoes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind, SensorKind

from .results import Finding
from .rulebase import SensorProfile

__all__ = ["LEVEL_MOVE_FAMILY", "LEVEL_MOVE_RULE", "note_level_move", "remember_move", "shared_step"]

#: the rule of a level-move note (informational: remembered by the group, never an alert)
LEVEL_MOVE_RULE = "note.level_move:hourly_means"
LEVEL_MOVE_FAMILY = LEVEL_MOVE_RULE.partition(":")[0]
_MS_PER_H = 3_600_000
#: hours over which a note's move is taken (the hour just closed against the one this many hours before it)
_MOVE_HOURS = 2
#: the closed hours of a peer's note, relative to the jump's hour, whose move spans the jump
_SPAN = (-1, _MOVE_HOURS)
#: a peer shares the step when its move is at least this share of the sensor's own (each in its own noise sd);
#: chosen on seed 7 of bench_detector_quality (docs/domain.md#what-the-fault-checks-miss)
_PEER_SHARE = 0.75


def note_level_move(
    prof: SensorProfile[Any], hourly: npt.NDArray[np.float64], reading_sd: float, ts: int, out: list[Finding]
) -> None:
    """A level-move note when the newest closed hourly mean (last of ``hourly``, oldest first) stands at least
    ``offset_sigma`` reading-noise standard deviations (``reading_sd``) from the mean two hours before it."""
    if hourly.shape[0] <= _MOVE_HOURS or reading_sd <= 0.0:
        return
    move = float(hourly[-1] - hourly[-1 - _MOVE_HOURS]) / reading_sd
    if not math.isfinite(move) or abs(move) < prof.config.faults.offset_sigma:
        return
    spec = prof.spec
    out.append(
        Finding(
            spec.sensor_id, spec.asset_id, prof.group_key, AlertKind.SENSOR_FAULT, None, ts, move, 0.0,
            f"level move: the hourly mean moved {move:+.1f} reading-noise sd over {_MOVE_HOURS} h",
            LEVEL_MOVE_RULE,
        )
    )  # fmt: skip


def _hour(ts: int) -> int:
    return ts - ts % _MS_PER_H


def remember_move(moves: dict[str, tuple[tuple[int, float], ...]], f: Finding, keep_hours: int) -> None:
    """Keep a level-move note (``f``) in the group's ``moves`` (sensor → (closed hour, move) pairs, oldest first),
    forgetting that sensor's notes more than ``keep_hours`` older than it.

    Only the noting sensor's notes are pruned, so a note costs the same in a group of any size; a peer's older
    notes stay until it notes again (at most ``keep_hours + 1`` per sensor), and :func:`shared_step` looks only
    at the hours around a jump."""
    hour = _hour(f.ts) - _MS_PER_H  # the hour that closed (the note is decided by a window of the next one)
    since = hour - keep_hours * _MS_PER_H
    moves[f.sensor_id] = (*(n for n in moves.get(f.sensor_id, ()) if n[0] >= since), (hour, f.value))


def shared_step(
    moves: dict[str, tuple[tuple[int, float], ...]], f: Finding, after_hours: int,
    kind_of: Callable[[str], SensorKind | None],
) -> str | None:  # fmt: skip
    """The same-kind peer (``kind_of``: a sensor's kind) whose notes show the step of the offset finding ``f``
    (``f.change``: the step; decided ``after_hours`` whole hours after the jump's hour): a move with the step's
    sign around the jump, at least :data:`_PEER_SHARE` of the sensor's own largest such move; else ``None``."""
    step = f.change
    kind = kind_of(f.sensor_id)
    if not step or kind is None:
        return None
    jump_hour = _hour(f.ts) - (after_hours + 1) * _MS_PER_H
    lo, hi = jump_hour + _SPAN[0] * _MS_PER_H, jump_hour + _SPAN[1] * _MS_PER_H

    def largest(sensor_id: str) -> float:  # the sensor's largest move with the step's sign around the jump
        return max((abs(m) for h, m in moves.get(sensor_id, ()) if lo <= h <= hi and m * step > 0), default=0.0)

    needed = _PEER_SHARE * largest(f.sensor_id)
    for sensor_id in sorted(moves):
        if sensor_id == f.sensor_id or kind_of(sensor_id) is not kind:
            continue
        peer = largest(sensor_id)
        if peer > 0.0 and peer >= needed:
            return sensor_id
    return None
