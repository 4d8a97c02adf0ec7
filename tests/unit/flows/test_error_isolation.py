"""A detector that raises must not stop the flow: the failure is logged with sensor, step, partition
and offsets, the sensor starts afresh, every other sensor goes on; rejects are logged, rate-limited."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from lifeline.detectors.results import Finding, SensorResult
from lifeline.flows.batch import RawBatch
from lifeline.flows.observe import RejectLog
from lifeline.flows.stages import GroupStage, PartitionStage
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.models import AlertKind, Reject, RejectReason, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

T = 1_720_000_000_000
REGISTRY = Registry([
    SensorSpec("GOOD", SensorKind.WATER_PRESSURE, "DMA-1", "water", "d1", 31.8, 117.2),
    SensorSpec("BAD", SensorKind.WATER_PRESSURE, "DMA-1", "water", "d1", 31.8, 117.2),
])  # fmt: skip


class Fragile:
    """Detectors that raise on every reading of sensor BAD above 0.5 MPa."""

    def __init__(self) -> None:
        self.fed: dict[str, list[float]] = {}
        self.states_made: list[str] = []

    def new_sensor_state(self, sensor_id: str) -> str:
        self.states_made.append(sensor_id)
        self.fed.setdefault(sensor_id, [])
        return sensor_id

    def process_sensor(self, state: str, ts: np.ndarray, values: np.ndarray) -> SensorResult:
        if state == "BAD" and float(values.max()) > 0.5:
            raise ZeroDivisionError("a detector bug")
        self.fed[state] += values.tolist()
        return SensorResult([], [])

    def advance_sensor(self, state: str, watermark_ms: int) -> SensorResult:
        return SensorResult([], [])


def message(sensor: str, second: int, value: float) -> bytes:
    return b'{"sensor_id":"%s","ts":%d,"value":%r}' % (sensor.encode(), T + second * 1000, value)


def test_a_raising_detector_is_logged_with_its_context_and_the_others_go_on(caplog: pytest.LogCaptureFixture) -> None:
    detectors = Fragile()
    stage = PartitionStage(detectors, SensorIndex(REGISTRY), "t", limits=ValidationLimits(future_tolerance_ms=10**12))
    state = stage.new_state()
    batch = [message("GOOD", 1, 0.3), message("BAD", 1, 0.9), message("GOOD", 2, 0.31), message("BAD", 2, 0.3)]
    with caplog.at_level(logging.ERROR, logger="lifeline.flow"):
        out = stage.process(state, RawBatch(3, batch, [70, 71, 72, 73], [T + 10**6] * 4))
        stage.process(state, RawBatch(3, [message("BAD", 3, 0.2)], [74], [T + 10**6]))
    assert detectors.fed == {"GOOD": [0.3, 0.31], "BAD": [0.2]}  # BAD's failed batch skipped, then fresh
    assert detectors.states_made.count("BAD") == 2
    assert stage.detector_errors == 1 and len(out.accepted) == 4
    [record] = caplog.records
    assert (record.sensor_id, record.step, record.partition, record.offset) == ("BAD", "detect_sensors", 3, "71-73")
    assert record.exc_info is not None and "a detector bug" in str(record.exc_info[1])


class BrokenScreen(Fragile):
    """Detectors whose joint screening raises: every sensor must still be processed on its own."""

    def screen_runs(self, states: list[str], ts: np.ndarray, values: np.ndarray, starts: list[int],
                    stops: list[int]) -> object:  # fmt: skip
        raise IndexError("a screening bug")


def test_a_raising_joint_screening_falls_back_to_one_sensor_at_a_time(caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry([
        SensorSpec(f"S{i}", SensorKind.WATER_PRESSURE, "DMA-1", "water", "d1", 31.8, 117.2) for i in range(6)
    ])  # fmt: skip
    detectors = BrokenScreen()
    stage = PartitionStage(detectors, SensorIndex(registry), "t", limits=ValidationLimits(future_tolerance_ms=10**12))
    batch = [message(f"S{i}", 1, 0.3) for i in range(6)]
    with caplog.at_level(logging.ERROR, logger="lifeline.flow"):
        out = stage.process(stage.new_state(), RawBatch(2, batch, list(range(6)), [T + 10**6] * 6))
    assert detectors.fed == {f"S{i}": [0.3] for i in range(6)} and len(out.accepted) == 6
    assert stage.detector_errors == 1
    [record] = caplog.records
    assert (record.step, record.partition) == ("screen_runs", 2)
    assert record.exc_info is not None and "a screening bug" in str(record.exc_info[1])


class BrokenGroups:
    def new_group_state(self, group_id: str) -> str:
        return group_id

    def process_group(self, state: str, findings: list[Finding], watermark_ms: int) -> list[object]:
        if findings:
            raise KeyError("correlation bug")
        return []


def test_a_raising_correlation_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    stage = GroupStage(BrokenGroups(), partitions=1)
    state = stage.new_state()
    finding = Finding(sensor_id="BAD", asset_id="DMA-1", group_id="DMA-1", kind=AlertKind.PIPE_BURST, tier=Tier.T2,
                      ts=T, value=0.9, score=0.8, evidence="drop", rule="water.burst")  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="lifeline.flow"):
        assert stage.process(state, 0, T + 1000, [finding]) == []
        assert stage.process(state, 0, T + 120_000, []) == []  # the flow goes on
    assert stage.group_errors == 1
    [record] = caplog.records
    assert (record.group_id, record.step, record.sensor_id) == ("DMA-1", "correlate", "BAD")


def test_rejects_are_logged_with_their_context_at_most_n_per_reason_per_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rejects = RejectLog(per_minute=3)
    with caplog.at_level(logging.INFO, logger="lifeline.flow"):
        for offset in range(10):
            rejects.record(Reject(reason=RejectReason.MALFORMED, detail="not JSON", sensor_id="", topic="t",
                                  partition=1, offset=offset, item=0, kafka_ts=T, payload="{"))  # fmt: skip
        rejects.record(Reject(reason=RejectReason.LATE, detail="behind", sensor_id="GOOD", topic="t",
                              partition=1, offset=99, item=0, kafka_ts=T, payload="{}"))  # fmt: skip
    logged = [(r.reason, r.offset) for r in caplog.records]
    assert logged == [("malformed", 0), ("malformed", 1), ("malformed", 2), ("late", 99)]
    assert caplog.records[-1].sensor_id == "GOOD" and caplog.records[-1].partition == 1
