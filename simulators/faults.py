"""Sensor faults (docs/domain.md#fault-behaviour): stuck, drift, spike, dropout, saturation, offset after maintenance.

Faults are injected on sensors that no incident touches, after every incident, so a fault sits on
top of the normal signal. Each fault is one ground-truth row with ``label="fault"``,
``kind="sensor_fault"``, ``expected_tier="fault"`` and the fault type first in ``detail``.
"""

from __future__ import annotations

import numpy as np

from lifeline.models import AlertKind, SensorKind
from lifeline.simulators.city import Builder
from lifeline.simulators.effects import Dropout, Freeze, LinearRamp, Replace, Spike, Step
from lifeline.simulators.engine import Effect
from lifeline.simulators.groundtruth import GroundTruthRow
from lifeline.simulators.timebase import HOUR_MS

__all__ = ["FAULT_TYPES", "KIND_SCALE", "inject_faults"]

FAULT_TYPES = ("stuck", "drift", "spike", "dropout", "saturation", "offset")

#: Per kind: (noise standard deviation, typical normal span) in the kind's unit, for fault magnitudes.
KIND_SCALE: dict[SensorKind, tuple[float, float]] = {
    SensorKind.CH4_LEL: (0.2, 5.0), SensorKind.WELL_TEMPERATURE: (0.1, 5.0), SensorKind.COVER_TILT: (0.05, 3.0),
    SensorKind.GAS_PRESSURE: (0.001, 0.05), SensorKind.GAS_FLOW: (30.0, 2000.0),
    SensorKind.WATER_PRESSURE: (0.003, 0.15), SensorKind.WATER_FLOW: (5.0, 300.0), SensorKind.NOISE_LEVEL: (0.8, 15.0),
    SensorKind.RAIN: (0.5, 20.0), SensorKind.MANHOLE_LEVEL: (0.005, 0.5), SensorKind.PONDING_DEPTH: (0.3, 10.0),
    SensorKind.STRAIN: (2.0, 80.0), SensorKind.DEFLECTION: (0.1, 5.0), SensorKind.ACCELERATION: (0.01, 0.1),
    SensorKind.CRACK_WIDTH: (0.002, 0.05), SensorKind.BEARING_DISPLACEMENT: (0.15, 15.0),
    SensorKind.STRUCTURE_TEMPERATURE: (0.1, 10.0),
}  # fmt: skip
_NEVER_STUCK_HIGH = {SensorKind.RAIN, SensorKind.PONDING_DEPTH}  # zero most of the time: faults would be invisible
#: a spike is one sample away from its neighbours, judged against the sensor's own reading-to-reading
#: variation; a deployed sensor has that history, a simulated one only from the scenario's start. So a
#: spike lands after its sensor's first ``SPIKE_HISTORY`` readings, on a sensor that reports often enough
#: for that before the latest fault start (0.6 of the scenario)
SPIKE_HISTORY = 8
#: the latest fault start, as a fraction of the scenario
_LATEST_START = 0.6


def inject_faults(b: Builder, counts: dict[str, int], busy: set[int] | None = None) -> None:
    """Inject ``counts[type]`` faults of each type on distinct, otherwise untouched sensors.

    ``busy`` names sensors whose normal signal already carries an incident (a storm-driven overflow has
    no effect object): a fault there would hide the incident it is supposed to sit beside, so busy
    sensors are only used when the quiet ones run out (a city where every manhole overflows).
    """
    touched = {effect.sensor for effect in b.effects}
    high_rate = {int(s) for block in b.blocks if block.high_rate for s in block.sensors}
    usable = [
        i for i, spec in enumerate(b.sensors)
        if i not in touched and i not in high_rate and spec.kind in KIND_SCALE and spec.kind not in _NEVER_STUCK_HIGH
    ]  # fmt: skip
    busy = busy or set()
    quiet = np.array([i for i in usable if i not in busy], dtype=np.int64)
    spare = np.array([i for i in usable if i in busy], dtype=np.int64)
    wanted = sum(counts.get(t, 0) for t in FAULT_TYPES)
    if wanted == 0 or quiet.size + spare.size == 0:
        return
    chosen = b.rng.choice(quiet, size=min(wanted, quiet.size), replace=False).tolist()
    if len(chosen) < wanted and spare.size:
        chosen += b.rng.choice(spare, size=min(wanted - len(chosen), spare.size), replace=False).tolist()
    _spikes_on_sensors_with_history(b, counts, chosen, quiet)
    position = 0
    for fault in FAULT_TYPES:
        for _ in range(counts.get(fault, 0)):
            if position >= len(chosen):
                return
            _inject(b, fault, int(chosen[position]))
            position += 1


def _has_spike_history(b: Builder, sensor: int) -> bool:
    """The sensor reports ``SPIKE_HISTORY`` readings (and one after the spike) before the latest fault start."""
    return (SPIKE_HISTORY + 1) * b.sensor(sensor).interval_s * 1000 <= _LATEST_START * b.duration_ms


def _spikes_on_sensors_with_history(b: Builder, counts: dict[str, int], chosen: list[int], quiet: np.ndarray) -> None:
    """Replace (in place) each sensor chosen for a spike that reports too rarely to have a history before it by a
    quiet sensor that does; no random draw unless a replacement is needed (longer scenarios keep their faults)."""
    first = sum(counts.get(t, 0) for t in FAULT_TYPES[: FAULT_TYPES.index("spike")])
    for position in range(first, min(first + counts.get("spike", 0), len(chosen))):
        if _has_spike_history(b, chosen[position]):
            continue
        taken = set(chosen)
        ready = [int(i) for i in quiet if int(i) not in taken and _has_spike_history(b, int(i))]
        if ready:
            chosen[position] = int(b.rng.choice(ready))


def _inject(b: Builder, fault: str, sensor: int) -> None:
    spec, rng = b.sensor(sensor), b.rng
    sd, span = KIND_SCALE[spec.kind]
    interval = round(spec.interval_s * 1000)
    start = b.start_ms + int(rng.uniform(0.1, _LATEST_START) * b.duration_ms) // interval * interval
    hours = float(rng.uniform(2.0, 8.0))
    end = min(start + int(hours * HOUR_MS), b.end_ms)
    effect: Effect
    if fault == "stuck":
        effect, detail = Freeze(sensor, start, end), f"stuck: constant for {(end - start) / HOUR_MS:.1f} h"
    elif fault == "drift":
        total = float(rng.uniform(0.15, 0.3) * span * rng.choice([-1.0, 1.0]))
        end = b.end_ms
        effect = LinearRamp(sensor, start, end, total / max((end - start) / HOUR_MS, 0.1))
        detail = f"drift: {total:+.3g} {spec.unit} by the end, no physical covariate"
    elif fault == "spike":
        phase = _phase_of(b, sensor)
        at = max(start, b.start_ms + SPIKE_HISTORY * interval) + phase
        at = at if at < b.end_ms else start + phase  # no sensor reports often enough: as early as it comes
        delta = float(rng.uniform(8.0, 50.0) * sd * rng.choice([-1.0, 1.0]))
        effect, end = Spike(sensor, at, delta), at + 1
        start, detail = at, f"spike: one sample {delta:+.3g} {spec.unit} ({abs(delta) / sd:.0f} sigma)"
    elif fault == "dropout":
        end = min(start + int(rng.uniform(0.5, 4.0) * HOUR_MS), b.end_ms)
        effect, detail = Dropout(sensor, start, end), f"dropout: no readings for {(end - start) / 60_000:.0f} min"
    elif fault == "saturation":
        effect, detail = (
            Replace(sensor, start, end, spec.valid_max),
            f"saturation: flat at full scale {spec.valid_max:g}",
        )
    else:
        delta = float(rng.uniform(0.1, 0.3) * span * rng.choice([-1.0, 1.0]))
        end = b.end_ms
        effect = Step(sensor, start, end, delta)
        detail = f"offset: {delta:+.3g} {spec.unit} step after a maintenance visit (work order at start)"
    effect.is_fault = True
    b.add_effect(effect)
    row = GroundTruthRow(
        id="", label="fault", kind=AlertKind.SENSOR_FAULT.value, expected_tier="fault", lifeline=spec.lifeline.value,
        asset_id=spec.asset_id, group_id=spec.group_id, sensor_ids=(spec.sensor_id,), start_ms=start, end_ms=end,
        detail=detail,
    )  # fmt: skip
    b.add_truth(lambda _engine: row)


def _phase_of(b: Builder, sensor: int) -> int:
    """The sensor's sampling phase, so a spike lands exactly on one of its samples."""
    for block in b.blocks:
        hits = np.flatnonzero(block.sensors == sensor)
        if hits.size:
            return int(block.offsets_ms[int(hits[0])])
    return 0
