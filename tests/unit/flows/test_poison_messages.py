"""Poison messages: no input bytes can stop the flow, and every message sent is accounted for.

Accounting, as the property tests check it: message ``p`` (offset ``100 + p``) is *accepted* when at
least one of its readings is accepted, *rejected* otherwise; every message is exactly one of the two,
and its outcome is either one reject for the whole message (``item`` 0, no accepted reading) or one
outcome per reading it carries (accepted readings + rejects == readings, reject items distinct).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifeline.flows import validate
from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import make_detectors
from lifeline.flows.stages import PartitionStage
from lifeline.flows.validate import Accepted, SensorIndex, ValidationLimits
from lifeline.models import Reject, RejectReason
from lifeline.settings import Settings
from tests.unit.flows.flows_validate_helpers import KAFKA_TS, REGISTRY, call

T = 1_720_000_000_000
GOOD = b'{"sensor_id":"G","ts":1720000002000,"value":2.0}'
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(
            b'{"sensor_id":"G","ts":1720000001000,"value":1,"x":' + DEEP + b"}",
            RejectReason.MALFORMED,
            id="deep-nesting",
        ),
        pytest.param(
            b'{"sensor_id":"\xff\xfe","ts":1720000001000,"value":1}',
            RejectReason.MALFORMED,
            id="invalid-utf8-in-string",
        ),
        pytest.param(
            b'{"sensor_id":"G","ts":1720000001000,"value":NaN,"x":' + DEEP + b"}",
            RejectReason.MALFORMED,
            id="deep-nesting-and-nan",
        ),
        pytest.param(
            b'{"sensor_id":"G","ts":1720000001000,"value":1,"quality":1099511627776}',
            RejectReason.MALFORMED,
            id="quality-beyond-int32",
        ),
        pytest.param(
            b'{"sensor_id":"G","t0":1720000001000,"dt_ms":10,"values":[]}', RejectReason.MALFORMED, id="empty-batch"
        ),
    ],
)
def test_a_poison_message_is_rejected_alone_and_the_batch_goes_on(payload: bytes, reason: RejectReason) -> None:
    accepted, rejects, last_ts = call([payload, GOOD])
    assert [(r.reason, r.offset, r.item) for r in rejects] == [(reason, 100, 0)]
    assert rejects[0].detail
    assert rejects[0].payload == payload[:4096].decode("utf-8", "replace")
    assert accepted.arrival.tolist() == [1]  # the rest of the batch is validated and accepted
    assert last_ts[0] == T + 2000


def test_the_empty_batch_says_so() -> None:
    _, rejects, _ = call([b'{"sensor_id":"G","t0":1720000001000,"dt_ms":10,"values":[]}'])
    assert "empty batch" in rejects[0].detail


def test_an_unknown_sensor_id_as_long_as_a_message_is_cut_short_in_the_reject() -> None:
    payload = b'{"sensor_id":"%s","ts":1720000001000,"value":1}' % (b"Z" * 200_000)
    _, rejects, _ = call([payload])
    assert rejects[0].reason is RejectReason.UNKNOWN_SENSOR
    assert rejects[0].sensor_id == "Z" * 256


def test_a_raising_check_rejects_only_its_message_as_internal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the vector checks ever raise, the batch is judged message by message instead."""
    original = validate._detail

    def fragile(code: RejectReason, value: float, *rest: Any) -> str:
        if value == 150.0:
            raise ZeroDivisionError("a validation bug")
        return str(original(code, value, *rest))

    monkeypatch.setattr(validate, "_detail", fragile)
    accepted, rejects, last_ts = call([
        b'{"sensor_id":"P","ts":1720000001000,"value":0.3}',
        b'{"sensor_id":"G","ts":1720000001000,"value":150.0}',  # out of range: its detail raises
        b'{"sensor_id":"G","ts":1720000002000,"value":200.0}',  # out of range, judged normally
        b'{"sensor_id":"G","ts":1720000003000,"value":2.0}',
        b'{"sensor_id":"G","ts":1720000002500,"value":2.0}',  # late: earlier messages still count
        b'{"sensor_id":"A","t0":1720000001000,"dt_ms":10,"values":[0.1,0.2]}',
    ])  # fmt: skip
    assert sorted((r.offset, r.reason.value) for r in rejects) == [
        (101, "internal"), (102, "out_of_range"), (104, "late"),
    ]  # fmt: skip
    assert "ZeroDivisionError" in next(r.detail for r in rejects if r.offset == 101)
    assert (accepted.sensor.tolist(), accepted.arrival.tolist()) == ([0, 1, 2, 2], [3, 0, 5, 5])
    assert (accepted.ts - T).tolist() == [3000, 1000, 1000, 1010]
    assert last_ts.tolist() == [T + 3000, T + 1000, T + 1010]


# ---- property tests: arbitrary bytes and arbitrary JSON -------------------------------------------------------

_WHOLE_MESSAGE_ONLY = {RejectReason.MALFORMED, RejectReason.OVERSIZE, RejectReason.UNKNOWN_SENSOR,
                       RejectReason.INTERNAL}  # fmt: skip

_scalars = (
    st.none() | st.booleans() | st.text(max_size=8)
    | st.integers(min_value=-(2**80), max_value=2**80) | st.floats()  # NaN, ±inf → NaN/Infinity tokens
)  # fmt: skip
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                     max_size=4), max_leaves=12)  # fmt: skip
_ints = st.integers(min_value=T - 10**6, max_value=T + 10**6) | st.integers(min_value=-(2**70), max_value=2**70) | _json
_numbers = st.floats(min_value=-10.0, max_value=150.0) | st.floats() | _ints | _json


@st.composite
def _fuzzed(draw: st.DrawFn) -> bytes:
    """A reading-like JSON object with arbitrary or missing fields, then perhaps corrupted as bytes."""
    fields: dict[str, Any] = {}
    keys = {"sensor_id": st.sampled_from(["G", "P", "X"]) | st.text(max_size=6).filter(lambda s: s != "A") | _json,
            "ts": _ints, "value": _numbers, "quality": _ints, "t0": _ints,
            "dt_ms": st.integers(min_value=-5, max_value=100) | _ints,
            "values": st.lists(_numbers, max_size=20) | _json, "extra": _json}  # fmt: skip
    for key, strategy in keys.items():
        if draw(st.booleans()):
            fields[key] = draw(strategy)
    text = json.dumps(fields, allow_nan=True).encode()  # NaN / Infinity / -Infinity tokens, huge ints
    corruption = draw(st.sampled_from(["none", "deep", "utf8", "overflow", "truncate", "empty-batch"]))
    if corruption == "deep":
        depth = draw(st.sampled_from([3, 200, 100_000]))
        text = text[:1] + b'"deep":' + b"[" * depth + b"]" * depth + (b"," if len(text) > 2 else b"") + text[1:]
    elif corruption == "utf8":
        text = text.replace(b'"', b'"\xff\xfe', 1)
    elif corruption == "overflow":
        text = text.replace(b"1", b"1e999", 1)
    elif corruption == "truncate":
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    elif corruption == "empty-batch":
        text = b'{"sensor_id":"G","t0":%d,"dt_ms":10,"values":[]}' % T
    return text


_messages = st.lists(st.binary(max_size=48) | _fuzzed(), max_size=12)


def _good(i: int) -> bytes:
    """A valid message of sensor A (which the fuzzed messages never name), later than every earlier one."""
    if i % 2:
        return b'{"sensor_id":"A","t0":%d,"dt_ms":10,"values":[0.1,-0.2,0.3]}' % (T + i * 1000)
    return b'{"sensor_id":"A","ts":%d,"value":0.05,"quality":3}' % (T + i * 1000)


@st.composite
def _batches(draw: st.DrawFn) -> tuple[list[bytes], set[int]]:
    """Fuzzed messages with valid ones mixed in; returns the batch and the positions of the valid ones."""
    fuzz = draw(_messages)
    good = draw(st.lists(st.integers(min_value=0, max_value=len(fuzz)), max_size=5))
    batch, positions = list(fuzz), set()
    for i, at in enumerate(sorted(good)):
        batch.insert(at + i, _good(i))
        positions.add(at + i)
    return batch, positions


def _readings_in(payload: bytes) -> int:
    """How many readings a message the validator decoded carries (independent parse with the stdlib)."""
    message = json.loads(payload)
    values = message.get("values")
    return len(values) if isinstance(values, list) else 1


def _assert_accounted(payloads: list[bytes], good: set[int], accepted: Accepted, rejects: list[Reject]) -> None:
    sent = len(payloads)
    accepted_at = Counter(accepted.arrival.tolist())
    rejects_at: dict[int, list[Reject]] = defaultdict(list)
    for r in rejects:
        rejects_at[r.offset - 100].append(r)
    assert set(rejects_at) <= set(range(sent)), "a reject names an offset that was not sent"
    accepted_messages = {p for p in range(sent) if accepted_at[p]}
    rejected_messages = {p for p in range(sent) if not accepted_at[p] and rejects_at[p]}
    assert len(accepted_messages) + len(rejected_messages) == sent
    for p in range(sent):
        mine = rejects_at[p]
        whole = len(mine) == 1 and mine[0].item == 0 and not accepted_at[p]
        if not whole:
            assert not {r.reason for r in mine} & _WHOLE_MESSAGE_ONLY, (payloads[p], mine)
            assert len({r.item for r in mine}) == len(mine), (payloads[p], mine)
            assert accepted_at[p] + len(mine) == _readings_in(payloads[p]), (payloads[p], mine)
    assert good <= accepted_messages, "a valid reading was not accepted"
    assert all(accepted_at[p] == _readings_in(payloads[p]) for p in good)
    assert np.all(np.isfinite(accepted.value))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batches())
def test_validate_batch_never_raises_and_accounts_for_every_message(batch: tuple[list[bytes], set[int]]) -> None:
    payloads, good = batch
    accepted, rejects, _ = call(payloads)
    _assert_accounted(payloads, good, accepted, rejects)


_STAGE = PartitionStage(make_detectors(Settings(), REGISTRY), SensorIndex(REGISTRY), "lifeline.readings",
                        limits=ValidationLimits(), sweep_interval_ms=60_000)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_batches(), min_size=1, max_size=3), st.booleans())
def test_the_partition_stage_never_raises_and_accounts_for_every_message(
    batches: list[tuple[list[bytes], set[int]]], end: bool
) -> None:
    state = _STAGE.new_state()
    for i, (payloads, good) in enumerate(batches):
        offsets = [100 + k for k in range(len(payloads))]
        last = end and i == len(batches) - 1
        out = _STAGE.process(state, RawBatch(0, payloads, offsets, [KAFKA_TS] * len(payloads), end=last))
        first_time = good if i == 0 else set()  # sensor A's valid readings repeat their times in later batches
        _assert_accounted(payloads, first_time, out.accepted, out.rejects)
        assert all(math.isfinite(s.mean) for s in out.stats if s.count)
