from datetime import UTC, datetime, timedelta, timezone

import pytest

from lifeline.codec import decode_alert_event, decode_reading_message, encode
from lifeline.exceptions import MessageError
from lifeline.models import (
    KIND_INFO,
    AlertEvent,
    AlertEventType,
    AlertKind,
    Lifeline,
    Reading,
    ReadingBatch,
    SensorKind,
    Tier,
    datetime_to_ms,
    ms_to_datetime,
)


def test_tier_one_is_most_severe() -> None:
    assert Tier.T1.is_more_severe_than(Tier.T2)
    assert not Tier.T3.is_more_severe_than(Tier.T2)
    assert sorted([Tier.T3, Tier.T1, Tier.T2])[0] is Tier.T1
    assert [t.label_zh for t in Tier] == ["一级", "二级", "三级"]


def test_every_kind_has_unit_lifeline_and_sane_range() -> None:
    assert set(KIND_INFO) == set(SensorKind)
    for kind, info in KIND_INFO.items():
        assert info.physical_min < info.physical_max, kind
        assert isinstance(info.lifeline, Lifeline)
    assert SensorKind.PONDING_DEPTH.unit == "cm"
    assert SensorKind.STRAIN.lifeline is Lifeline.BRIDGE


def test_datetimes_are_aware_utc_and_naive_is_refused() -> None:
    moment = datetime(2024, 7, 15, 8, 30, tzinfo=UTC)
    assert ms_to_datetime(datetime_to_ms(moment)) == moment
    beijing = timezone(timedelta(hours=8))
    assert datetime_to_ms(datetime(2024, 7, 15, 16, 30, tzinfo=beijing)) == datetime_to_ms(moment)
    with pytest.raises(ValueError, match="naive"):
        datetime_to_ms(datetime(2024, 7, 15, 8, 30))  # noqa: DTZ001


def test_reading_round_trip_and_batch_expansion() -> None:
    r = Reading("G-1", 1_700_000_000_000, 12.5)
    assert decode_reading_message(encode(r)) == r
    batch = ReadingBatch("B-ACC", 1000, 20, [0.1, 0.2, 0.3])
    decoded = decode_reading_message(encode(batch))
    assert isinstance(decoded, ReadingBatch)
    assert [x.ts for x in decoded.readings()] == [1000, 1020, 1040]


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"",
        b"[]",
        b'{"ts": 1, "value": 2}',
        b'{"sensor_id": "s", "ts": 1}',
        b'{"sensor_id": "s", "ts": "yesterday", "value": 1}',
        b'{"sensor_id": "s", "ts": 1, "value": "high"}',
        b'{"sensor_id": "s", "t0": 1, "dt_ms": 0, "values": [1]}',
        b'{"sensor_id": "s", "ts": 1, "value": NaN}',
        b"\xff\xfe",
    ],
)
def test_malformed_messages_raise_message_error_with_reason(payload: bytes) -> None:
    with pytest.raises(MessageError) as info:
        decode_reading_message(payload)
    assert info.value.reason == "malformed"
    assert info.value.detail


def test_alert_event_round_trip_and_dedup_key() -> None:
    event = AlertEvent(
        alert_id="a1", event=AlertEventType.OPENED, tier=Tier.T1, lifeline=Lifeline.GAS,
        kind=AlertKind.GAS_LEAK, asset_id="GW-1", owner="hefei-gas", district="shushan",
        sensor_ids=("G-1", "G-2"), started_at=1000, ts=2000, value=55.0, score=0.9,
        evidence="CH4 55 %LEL >= 50 %LEL (GB/T 50493 upper alarm)",
    )  # fmt: skip
    again = decode_alert_event(encode(event))
    assert again == event
    assert again.dedup_key == ("a1", "opened", 2000)
    with pytest.raises(AttributeError):
        again.tier = Tier.T3  # type: ignore[misc]


def test_an_alert_event_from_before_the_location_field_decodes_and_a_located_one_round_trips() -> None:
    older = (
        b'{"alert_id":"a2","event":"opened","tier":2,"lifeline":"water","kind":"pipe_burst","asset_id":"DMA-1",'
        b'"owner":"hefei-water","district":"shushan","sensor_ids":["P-12"],"started_at":1000,"ts":2000,'
        b'"value":0.28,"score":0.7,"evidence":"drop 0.12 MPa","actor":"","comment":""}'
    )
    event = decode_alert_event(older)
    assert event.location == ""
    located = AlertEvent(
        alert_id="a2", event=AlertEventType.OPENED, tier=Tier.T2, lifeline=Lifeline.WATER,
        kind=AlertKind.PIPE_BURST, asset_id="DMA-1", owner="hefei-water", district="shushan",
        sensor_ids=("P-12",), started_at=1000, ts=2000, value=0.28, score=0.7, evidence="drop 0.12 MPa",
        location="nodes: J-123 (0 m), J-98 (240 m); sensors: P-12 -12.2 m",
    )  # fmt: skip
    assert decode_alert_event(encode(located)) == located
