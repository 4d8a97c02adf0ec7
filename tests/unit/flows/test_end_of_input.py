"""The end of a finite run decides what the groups still hold: a saturation (or spike) waits up to 15 minutes
for the same at its peers, and a file that ends within those minutes must still report it, or not, by its peers.
"""

from __future__ import annotations

import numpy as np
import pytest
from bytewax.testing import cluster_main, run_main

from lifeline.codec import decode_alert_event, encode
from lifeline.flows.dataflow import build_flow
from lifeline.flows.testing import memory_io, split_into_batches
from lifeline.models import AlertEventType, AlertKind, Reading, SensorKind, SensorSpec
from lifeline.registry import Registry
from lifeline.settings import Settings

T0 = 1_700_006_400_000
STEP_MS = 300_000  # 5-minute loggers
STEPS = 200
LOGGERS = ("P1", "P2", "P3", "P4", "P5")
FULL_SCALE_MPA = 2.5  # the water_pressure kind's range maximum


def _opened_faults(saturated: tuple[str, ...], from_step: int, workers: int) -> set[str]:
    """Sensors a ``sensor_fault`` alert opened for, when ``saturated`` read full scale from ``from_step`` on."""
    specs = [
        SensorSpec(s, SensorKind.WATER_PRESSURE, "A-" + s, "owner", "d", 31.8, 117.2, group_id="G",
                   maintainer="devices", interval_s=300.0)
        for s in LOGGERS
    ]  # fmt: skip
    messages = []
    for n, sensor in enumerate(LOGGERS):
        rng = np.random.default_rng(n)
        values = 0.35 + 0.01 * np.sin(np.arange(STEPS) / 40.0) + rng.normal(0.0, 0.001, STEPS)
        if sensor in saturated:
            values[from_step:] = FULL_SCALE_MPA
        messages += [(sensor.encode(), encode(Reading(sensor, T0 + i * STEP_MS, float(v))), T0 + i * STEP_MS)
                     for i, v in enumerate(values)]  # fmt: skip
    messages.sort(key=lambda m: m[2])
    settings = Settings()
    io, collected = memory_io(split_into_batches(messages, 2, [50]))
    flow = build_flow(settings, Registry(specs), io=io, flow_id=f"end-{workers}")
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    events = [decode_alert_event(m.value) for _k, m in collected.kafka if m.topic == settings.alerts_topic]
    return {e.sensor_ids[0] for e in events if e.kind is AlertKind.SENSOR_FAULT and e.event is AlertEventType.OPENED}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_lone_saturation_in_the_last_minutes_of_a_file_is_still_alerted(workers: int) -> None:
    # full scale for the last 20 minutes: raised after a few readings, then held for peers past the file's end
    assert _opened_faults(("P4",), STEPS - 4, workers) == {"P4"}
    assert _opened_faults(("P4",), STEPS - 40, workers) == {"P4"}  # the same well before the end


@pytest.mark.parametrize("workers", [1, 2])
def test_saturations_shared_by_peers_at_the_end_are_still_vetoed(workers: int) -> None:
    assert _opened_faults(("P2", "P3", "P4"), STEPS - 4, workers) == set()
