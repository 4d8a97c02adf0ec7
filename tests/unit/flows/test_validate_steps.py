"""The four steps of validation, each on its own: decode, expand batch messages, check values, check order."""

from __future__ import annotations

import numpy as np

from lifeline.flows import validate as v
from lifeline.flows.validate import ValidationLimits
from lifeline.models import RejectReason
from tests.unit.flows.flows_validate_helpers import INDEX, KAFKA_TS

T = KAFKA_TS - 60_000
G, P, A = (INDEX.number[s] for s in ("G", "P", "A"))


def _rejects(payloads: list[bytes]) -> v._Rejects:
    return v._Rejects(payloads, [100 + i for i in range(len(payloads))], [KAFKA_TS] * len(payloads), partition=0,
                      topic="t")  # fmt: skip


def test_decode_refuses_whole_messages_and_keeps_singles_and_batches_apart() -> None:
    payloads = [
        b'{"sensor_id":"G","ts":%d,"value":12.5}' % T,
        b"not json",
        b'{"sensor_id":"nope","ts":%d,"value":1}' % T,
        b'{"sensor_id":"A","t0":%d,"dt_ms":20,"values":[0.1,0.2,0.3]}' % T,
        b'{"sensor_id":"A","t0":%d,"dt_ms":20,"values":[]}' % T,
    ]
    rejects = _rejects(payloads)
    decoded = v._decode(payloads, INDEX, ValidationLimits(), rejects)
    assert (decoded.sensors, decoded.stamps, decoded.values, decoded.origin) == ([G], [T], [12.5], [0])
    assert decoded.batch_meta == [A, T, 20, 3, 3]
    assert decoded.batch_values.array().tolist() == [0.1, 0.2, 0.3]
    assert [(r.offset, r.reason) for r in rejects.items] == [
        (101, RejectReason.MALFORMED), (102, RejectReason.UNKNOWN_SENSOR), (104, RejectReason.MALFORMED),
    ]  # fmt: skip


def test_expand_spreads_a_batch_message_over_its_sample_times() -> None:
    payloads = [
        b'{"sensor_id":"A","t0":%d,"dt_ms":20,"values":[0.1,0.2,0.3]}' % T,
        b'{"sensor_id":"P","ts":%d,"value":0.3}' % T,
    ]
    readings = v._expand(v._decode(payloads, INDEX, ValidationLimits(), _rejects(payloads)))
    assert readings.sensor.tolist() == [P, A, A, A]  # singles first, then batch messages
    assert readings.ts.tolist() == [T, T, T + 20, T + 40]
    assert readings.item.tolist() == [0, 0, 1, 2]
    assert readings.origin.tolist() == [1, 0, 0, 0]
    assert (readings.msg_start.tolist(), readings.msg_count.tolist()) == ([0, 1], [1, 3])


def test_check_values_refuses_each_reading_for_the_first_check_it_fails() -> None:
    payloads = [
        b'{"sensor_id":"P","ts":%d,"value":0.3}' % T,
        b'{"sensor_id":"P","ts":%d,"value":5.0}' % T,  # above the registry's max_value 0.8
        b'{"sensor_id":"P","ts":1000,"value":9.0}',  # too early AND out of range: out of range comes first
        b'{"sensor_id":"P","ts":%d,"value":0.3}' % (KAFKA_TS + 3_600_000),  # in the future
    ]
    rejects = _rejects(payloads)
    readings = v._expand(v._decode(payloads, INDEX, ValidationLimits(), rejects))
    passed = v._check_values(readings, [KAFKA_TS] * 4, INDEX, ValidationLimits(), rejects)
    assert passed.tolist() == [True, False, False, False]
    assert [r.reason for r in rejects.items] == [
        RejectReason.OUT_OF_RANGE, RejectReason.OUT_OF_RANGE, RejectReason.FUTURE,
    ]  # fmt: skip


def test_check_order_judges_each_sensor_in_arrival_order_and_advances_its_newest_time() -> None:
    payloads = [b'{"sensor_id":"G","ts":%d,"value":1}' % t for t in (T, T + 2000, T + 1000, T + 2000)]
    rejects = _rejects(payloads)
    readings = v._expand(v._decode(payloads, INDEX, ValidationLimits(), rejects))
    last_ts = np.full(len(INDEX), -1, dtype=np.int64)
    accepted = v._check_order(readings, np.ones(4, dtype=bool), INDEX, last_ts, None, rejects)
    assert accepted.ts.tolist() == [T, T + 2000]
    assert [(r.offset, r.reason) for r in rejects.items] == [(102, RejectReason.LATE), (103, RejectReason.DUPLICATE)]
    assert last_ts[G] == T + 2000 and last_ts[P] == -1


def test_the_limits_come_from_the_settings() -> None:
    from lifeline.settings import Settings

    limits = ValidationLimits.from_settings(Settings(max_message_bytes=1000, future_tolerance_s=2.5))
    assert (limits.max_message_bytes, limits.future_tolerance_ms) == (1000, 2500)
