"""Validation: every bad message becomes a reject with the right reason; good ones come out sorted."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline.models import RejectReason, SensorKind, SensorSpec
from lifeline.registry import Registry
from tests.unit.flows.flows_validate_helpers import KAFKA_TS, call

T = 1_720_000_000_000  # event times below are offsets from this moment


def test_good_readings_are_accepted_sorted_per_sensor() -> None:
    accepted, rejects, _ = call(
        [
            b'{"sensor_id":"P","ts":1720000001000,"value":0.30}',
            b'{"sensor_id":"G","ts":1720000002000,"value":4.0}',
            b'{"sensor_id":"P","ts":1720000003000,"value":0.31}',
            b'{"sensor_id":"A","t0":1720000001000,"dt_ms":20,"values":[0.1,0.2,0.3]}',
        ]
    )
    assert rejects == []
    assert (accepted.ts - T).tolist() == [
        2000,
        1000,
        3000,
        1000,
        1020,
        1040,
    ]  # by sensor, arrival order within
    assert [seg[2] - seg[1] for seg in accepted.segments()] == [1, 2, 3]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", RejectReason.MALFORMED),
        (b'{"sensor_id":"G","ts":1720000001000}', RejectReason.MALFORMED),
        (b'{"sensor_id":"G","ts":1720000001000,"value":"high"}', RejectReason.MALFORMED),
        (b'{"sensor_id":"G","t0":1720000001000,"dt_ms":0,"values":[1]}', RejectReason.MALFORMED),
        (b'{"sensor_id":"NOPE","ts":1720000001000,"value":1}', RejectReason.UNKNOWN_SENSOR),
        (b'{"sensor_id":"G","ts":1720000001000,"value":1e999}', RejectReason.NON_FINITE),
        (b'{"sensor_id":"G","ts":1720000001000,"value":NaN}', RejectReason.NON_FINITE),
        (b'{"sensor_id":"G","t0":1720000001000,"dt_ms":10,"values":[1.0,Infinity]}', RejectReason.NON_FINITE),
        (b'{"sensor_id":"G","ts":99999999999999999999999,"value":1}', RejectReason.BAD_TIMESTAMP),
        (b'{"sensor_id":"G","ts":9999999999999999,"value":1}', RejectReason.BAD_TIMESTAMP),
        (b'{"sensor_id":"G","ts":1720000001000,"value":150.0}', RejectReason.OUT_OF_RANGE),
        (b'{"sensor_id":"G","ts":1720000001000,"value":-0.5}', RejectReason.OUT_OF_RANGE),
        (b'{"sensor_id":"P","ts":1720000001000,"value":0.9}', RejectReason.OUT_OF_RANGE),  # registry max 0.8
        (b'{"sensor_id":"G","ts":5,"value":1}', RejectReason.BAD_TIMESTAMP),
        (b'{"sensor_id":"G","ts":%d,"value":1}' % (KAFKA_TS + 3_600_000), RejectReason.FUTURE),
        (b'{"sensor_id":"G","ts":1720000001000,"value":1,"pad":"' + b"x" * 300_000 + b'"}', RejectReason.OVERSIZE),
    ],
)
def test_each_bad_message_is_rejected_with_its_reason_and_payload(payload: bytes, reason: RejectReason) -> None:
    accepted, rejects, _ = call([payload, b'{"sensor_id":"G","ts":1720000001000,"value":2.0}'])
    assert len(accepted) == 1
    assert [r.reason for r in rejects] == [reason]
    assert rejects[0].offset == 100  # the first message's offset
    assert rejects[0].detail
    assert rejects[0].payload == payload[:4096].decode("utf-8", "replace")


def test_late_and_duplicate_readings_across_batches() -> None:
    accepted, rejects, last_ts = call([b'{"sensor_id":"G","ts":1720000005000,"value":1}'])
    assert len(accepted) == 1 and not rejects
    accepted, rejects, _ = call(
        [
            b'{"sensor_id":"G","ts":1720000005000,"value":1}',  # same event time again
            b'{"sensor_id":"G","ts":1720000004000,"value":1}',  # behind the watermark
            b'{"sensor_id":"G","ts":1720000006000,"value":1}',
            b'{"sensor_id":"G","ts":1720000006000,"value":1}',  # duplicate inside the batch
        ],
        last_ts=last_ts,
    )
    assert (accepted.ts - T).tolist() == [6000]
    assert sorted(r.reason.value for r in rejects) == ["duplicate", "duplicate", "late"]
    assert last_ts[0] == T + 6000


def test_lateness_is_judged_in_arrival_order_whatever_the_batch_boundaries() -> None:
    stream = [
        b'{"sensor_id":"G","ts":%d,"value":1}' % (T + 1000),
        b'{"sensor_id":"P","ts":%d,"value":0.3}' % (T + 500),
        b'{"sensor_id":"G","ts":%d,"value":1}' % (T + 3000),
        b'{"sensor_id":"G","ts":%d,"value":1}' % (T + 2000),  # arrives after 3000: late
        b'{"sensor_id":"G","ts":%d,"value":1}' % (T + 3000),  # duplicate of an accepted one
        b'{"sensor_id":"G","ts":%d,"value":1}' % (T + 4000),
    ]
    verdicts = []
    for cut in range(len(stream) + 1):
        accepted_a, rejects_a, last_ts = call(stream[:cut])
        accepted_b, rejects_b, _ = call(stream[cut:], last_ts=last_ts)
        accepted = sorted((accepted_a.ts - T).tolist() + (accepted_b.ts - T).tolist())
        reasons = sorted(r.reason.value for r in rejects_a + rejects_b)
        verdicts.append((accepted, reasons))
    assert verdicts[0] == ([500, 1000, 3000, 4000], ["duplicate", "late"])
    assert all(v == verdicts[0] for v in verdicts)


def test_arrival_order_holds_across_single_and_batch_messages() -> None:
    accepted, rejects, _ = call([
        b'{"sensor_id":"A","t0":%d,"dt_ms":100,"values":[0.1,0.2,0.3]}' % (T + 1000),
        b'{"sensor_id":"A","ts":%d,"value":0.4}' % (T + 1200),  # equal to the batch's newest sample: duplicate
        b'{"sensor_id":"A","ts":%d,"value":0.5}' % (T + 1150),  # behind the batch's last sample (1200): late
        b'{"sensor_id":"A","t0":%d,"dt_ms":100,"values":[0.6,0.7]}' % (T + 1300),
    ])  # fmt: skip
    assert (accepted.ts - T).tolist() == [1000, 1100, 1200, 1300, 1400]
    assert sorted((r.reason.value, r.offset) for r in rejects) == [("duplicate", 101), ("late", 102)]


def test_bad_values_inside_a_batch_message_are_rejected_one_by_one() -> None:
    accepted, rejects, _ = call([b'{"sensor_id":"G","t0":1720000001000,"dt_ms":1000,"values":[1.0, 200.0, 3.0]}'])
    assert accepted.value.tolist() == [1.0, 3.0]
    assert [(r.reason, r.item) for r in rejects] == [(RejectReason.OUT_OF_RANGE, 1)]


def test_a_batch_with_more_values_than_the_first_buffer_keeps_every_value_in_order() -> None:
    rng = np.random.default_rng(3)
    chunks = [rng.uniform(-0.4, 0.4, 9_000).round(4) for _ in range(9)]  # 81,000 values in 9 messages
    payloads = [
        b'{"sensor_id":"A","t0":%d,"dt_ms":10,"values":[%s]}' % (T + i * 90_000, ",".join(map(repr, c)).encode())
        for i, c in enumerate(chunk.tolist() for chunk in chunks)
    ]  # fmt: skip
    accepted, rejects, _ = call(payloads)
    assert rejects == []
    assert accepted.value.tolist() == np.concatenate(chunks).tolist()
    assert (accepted.ts - T).tolist() == list(range(0, 810_000, 10))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.binary(max_size=64)
        | st.builds(
            lambda sid, ts, v: b'{"sensor_id":"%s","ts":%d,"value":%r}' % (sid.encode(), ts, v),
            st.sampled_from(["G", "P", "A", "X"]),
            st.integers(min_value=-(2**62), max_value=2**62),
            st.floats(allow_nan=False),
        ),
        max_size=30,
    )
)
def test_no_input_crashes_and_nothing_is_lost(payloads: list[bytes]) -> None:
    accepted, rejects, _ = call(payloads)
    assert len(accepted) + len(rejects) >= len(payloads)  # every message is accounted for
    assert {r.offset for r in rejects} | {100 + i for i in range(len(payloads))} == {
        100 + i for i in range(len(payloads))
    }
    assert np.all(np.isfinite(accepted.value))


def test_registry_fixture_is_what_the_helpers_use() -> None:
    registry = Registry([SensorSpec("G", SensorKind.CH4_LEL, "W", "o", "d", 0.0, 0.0)])
    assert registry["G"].valid_max == 100.0


@pytest.mark.parametrize(
    ("ts", "hint"),
    [
        (KAFKA_TS // 1000, f"read as epoch seconds it would be {KAFKA_TS} ms"),
        (KAFKA_TS * 1000, f"read as epoch microseconds it is {KAFKA_TS} ms"),
        (KAFKA_TS * 1_000_000, f"read as epoch nanoseconds it is {KAFKA_TS} ms"),
    ],
)
def test_an_event_time_in_another_unit_is_rejected_with_a_hint(ts: int, hint: str) -> None:
    # a device integration that sends seconds (or micro-, nanoseconds) instead of milliseconds
    accepted, rejects, _ = call([b'{"sensor_id":"G","ts":%d,"value":1}' % ts])
    assert len(accepted) == 0
    assert [r.reason for r in rejects] == [RejectReason.BAD_TIMESTAMP]
    assert hint in rejects[0].detail and "ts is in m" in rejects[0].detail
