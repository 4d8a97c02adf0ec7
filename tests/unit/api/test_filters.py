from __future__ import annotations

import pytest

from lifeline.api.exceptions import UserInputError
from lifeline.api.filters import AlertFilter, split_values
from lifeline.api.state import AlertState, AlertStatus, next_status
from lifeline.models import AlertEventType as E
from lifeline.models import AlertKind, Lifeline


def state(make_event, status=AlertStatus.OPEN, **kw):
    return AlertState(event=make_event(**kw), status=status, last_id=1, kafka_ts=0, opened_ts=0)


def test_split_values_handles_commas_and_repeats():
    assert split_values(["gas,water", " bridge ", ""]) == ["gas", "water", "bridge"]
    assert split_values(None) == []


def test_empty_filter_matches_everything(event_factory):
    f = AlertFilter.parse()
    assert f.everything
    assert f.matches(state(event_factory))


def test_max_tier_means_at_least_that_severe(event_factory):
    f = AlertFilter.parse(max_tier=2)
    assert f.matches(state(event_factory, tier=1))
    assert f.matches(state(event_factory, tier=2))
    assert not f.matches(state(event_factory, tier=3))


def test_every_criterion(event_factory):
    f = AlertFilter.parse(lifeline="gas,water", kind=["gas_leak"], district="shushan", owner="hefei-gas", status="open")
    assert f.matches(state(event_factory))
    assert not f.matches(state(event_factory, lifeline=Lifeline.BRIDGE))
    assert not f.matches(state(event_factory, kind=AlertKind.PIPE_BURST))
    assert not f.matches(state(event_factory, district="baohe"))
    assert not f.matches(state(event_factory, owner="hefei-water"))
    assert not f.matches(state(event_factory, status=AlertStatus.ACKNOWLEDGED))


@pytest.mark.parametrize(
    "kw", [{"lifeline": "oil"}, {"max_tier": "4"}, {"max_tier": "x"}, {"kind": "meteor"}, {"status": "done"}]
)
def test_bad_values_are_refused_with_the_field_named(kw):
    with pytest.raises(UserInputError) as exc:
        AlertFilter.parse(**kw)
    assert next(iter(kw)) in str(exc.value)


def test_from_mapping_rejects_unknown_fields():
    with pytest.raises(UserInputError, match="unknown filter field"):
        AlertFilter.from_mapping({"colour": "red"})
    assert AlertFilter.from_mapping({"max_tier": 1, "lifeline": ["gas"]}).max_tier == 1


def test_subscriber_sees_alert_leave_its_view(event_factory):
    f = AlertFilter.parse(status="open")
    before = state(event_factory)
    after = state(event_factory, status=AlertStatus.ACKNOWLEDGED)
    assert not f.matches(after)
    assert f.wants(before, after)  # so the client can remove it
    assert not f.wants(None, after)


def test_owner_scope_is_judged_on_the_event_itself(event_factory):
    f = AlertFilter.parse(owner="hefei-gas")
    before = state(event_factory)
    after = state(event_factory, owner="hefei-water")
    assert not f.wants(before, after)


def test_status_rules():
    assert next_status(None, E.OPENED) is AlertStatus.OPEN
    assert next_status(AlertStatus.OPEN, E.ACKNOWLEDGED) is AlertStatus.ACKNOWLEDGED
    assert next_status(AlertStatus.ACKNOWLEDGED, E.DE_ESCALATED) is AlertStatus.ACKNOWLEDGED
    assert next_status(AlertStatus.ACKNOWLEDGED, E.ESCALATED) is AlertStatus.OPEN
    assert next_status(AlertStatus.CLEARED, E.ACKNOWLEDGED) is AlertStatus.CLEARED
    assert next_status(AlertStatus.RESOLVED, E.CLEARED) is AlertStatus.RESOLVED
    assert next_status(AlertStatus.CLEARED, E.RESOLVED) is AlertStatus.RESOLVED


def test_a_sensor_joining_an_alert_keeps_its_status_and_acknowledgement(event_factory):
    assert next_status(AlertStatus.ACKNOWLEDGED, E.UPDATED) is AlertStatus.ACKNOWLEDGED
    assert next_status(AlertStatus.OPEN, E.UPDATED) is AlertStatus.OPEN
    opened = state(event_factory)
    acked = opened.advance(event_factory(event=E.ACKNOWLEDGED, actor="li"), 2, 0, b"")
    joined = acked.advance(event_factory(event=E.UPDATED), 3, 0, b"")
    assert joined.status is AlertStatus.ACKNOWLEDGED and joined.acknowledged_by == "li"
    assert joined.event.event is E.UPDATED
