"""A methane detector pinned at full scale after its own alarm rose is over range, not saturated: the gas leak
alert stays on until the readings come down (before, the saturation fault blocked the rule and the tier-1 alert
cleared while the well still read 100 %LEL). Pinned at full scale straight from a normal level, it is still a
saturation fault (docs/domain.md#sensor-faults)."""

from __future__ import annotations

import numpy as np
from bytewax.testing import run_main

from lifeline.codec import decode_alert_event, encode
from lifeline.flows.dataflow import build_flow
from lifeline.flows.testing import memory_io, split_into_batches
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Reading, SensorKind, SensorSpec
from lifeline.registry import Registry
from lifeline.settings import Settings

T0 = 1_700_006_400_000
STEP_MS = 900_000  # 15-minute methane detectors
WELLS = ("G1", "G2", "G3")
FULL_SCALE = 100.0  # %LEL, the ch4_lel kind's range maximum
RISE, BACK = 150, 180  # G1 rises from step RISE on and is back to its normal level at step BACK


def _events(rise: list[float]) -> list[AlertEvent]:
    """Alert events when G1 reads ``rise`` from step RISE on, then full scale until step BACK."""
    specs = [
        SensorSpec(s, SensorKind.CH4_LEL, "W-" + s, "gas-co", "d", 31.8, 117.2, asset_kind="gas_valve_well",
                   group_id="GM", maintainer="devices", interval_s=900.0)
        for s in WELLS
    ]  # fmt: skip
    messages = []
    for n, sensor in enumerate(WELLS):
        values = np.clip(1.0 + np.random.default_rng(n).normal(0.0, 0.15, 200), 0.0, None)
        if sensor == "G1":
            values[RISE : RISE + len(rise)] = rise
            values[RISE + len(rise) : BACK] = FULL_SCALE
        messages += [(sensor.encode(), encode(Reading(sensor, T0 + i * STEP_MS, float(v))), T0 + i * STEP_MS)
                     for i, v in enumerate(values)]  # fmt: skip
    messages.sort(key=lambda m: m[2])
    settings = Settings()
    io, collected = memory_io(split_into_batches(messages, 1, [50]))
    run_main(build_flow(settings, Registry(specs), io=io, flow_id="over-range"))
    return [decode_alert_event(m.value) for _k, m in collected.kafka if m.topic == settings.alerts_topic]


def _step(e: AlertEvent) -> int:
    return (e.ts - T0) // STEP_MS


def test_a_gas_alarm_that_rises_to_full_scale_stays_on_until_the_readings_come_down() -> None:
    events = _events([33.0, 67.0])
    gas = [e for e in events if e.kind is AlertKind.GAS_LEAK]
    opened = [e for e in gas if e.event is AlertEventType.OPENED]
    assert [int(e.tier) for e in opened] == [1]
    cleared = [e for e in gas if e.event is AlertEventType.CLEARED]
    assert cleared and all(_step(e) >= BACK for e in cleared), [(e.event, _step(e)) for e in gas]
    assert not [e for e in events if e.kind is AlertKind.SENSOR_FAULT and "saturation" in e.evidence]


def test_full_scale_straight_from_a_normal_level_is_a_saturation_fault() -> None:
    events = _events([])
    assert [e for e in events if e.kind is AlertKind.SENSOR_FAULT and "saturation" in e.evidence]
    assert not [e for e in events if e.kind is AlertKind.GAS_LEAK]
