"""Work order rules without servers: ids, the one-step-at-a-time states, dedup, overdue, the resolve gate."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from lifeline.api.auth import Principal, Role
from lifeline.api.exceptions import ConflictError, ForbiddenError, UserInputError
from lifeline.api.work_orders import (
    OrderEventType,
    OrderState,
    WorkOrderBook,
    decode_order_event,
    new_order,
    order_id_for,
)

T0 = 1_800_000_000_000
OPERATOR = Principal("desk", Role.OPERATOR)
ADMIN = Principal("chief", Role.ADMIN)


def dispatched(book: WorkOrderBook, deadline_min: int = 30):  # type: ignore[no-untyped-def]
    event = new_order("a1", "hefei-gas", "抢修一班", T0 + deadline_min * 60_000, "desk", "go", T0)
    order = book.apply(event)
    assert order is not None
    return order


def test_order_id_is_sha1_of_alert_team_and_time() -> None:
    expected = hashlib.sha1(f"a1|抢修一班|{T0}".encode()).hexdigest()[:16]
    assert order_id_for("a1", "抢修一班", T0) == expected
    assert new_order("a1", "o", "抢修一班", T0 + 1, "x", "", T0).order_id == expected


def test_states_move_one_step_at_a_time_to_verified() -> None:
    book = WorkOrderBook()
    order = dispatched(book)
    with pytest.raises(ConflictError, match="next state is 'accepted'"):
        order.step(OrderState.ON_SITE, "crew", "", T0 + 1)
    for i, state in enumerate([OrderState.ACCEPTED, OrderState.ON_SITE, OrderState.HANDLED, OrderState.VERIFIED]):
        book.apply(order.step(state, "crew", f"step {i}", T0 + 1000 * (i + 1)))
        assert order.state is state
    assert not order.open
    assert [e.event for e in order.history] == [OrderEventType.DISPATCHED, OrderEventType.ACCEPTED,
                                                OrderEventType.ON_SITE, OrderEventType.HANDLED,
                                                OrderEventType.VERIFIED]  # fmt: skip
    with pytest.raises(ConflictError, match="closed"):
        order.step(OrderState.VERIFIED, "crew", "", T0 + 9000)


def test_a_step_at_the_same_millisecond_still_gets_a_later_ts() -> None:
    book = WorkOrderBook()
    order = dispatched(book)
    assert order.step(OrderState.ACCEPTED, "crew", "", T0).ts == T0 + 1


def test_duplicate_events_are_applied_once() -> None:
    book = WorkOrderBook()
    seen: list[str] = []
    book.listeners.add(lambda _order, event: seen.append(event.event.value))
    event = new_order("a1", "o", "team", T0 + 60_000, "desk", "", T0)
    assert book.apply(event) is not None
    assert book.apply(decode_order_event(msgspec.json.encode(event))) is None
    assert seen == ["dispatched"] and len(book.orders[event.order_id].history) == 1


def test_overdue_only_before_handled_and_only_once() -> None:
    book = WorkOrderBook()
    order = dispatched(book, deadline_min=10)
    deadline = T0 + 600_000
    assert not order.due(deadline)  # at the deadline it is not late yet
    assert order.due(deadline + 1)
    order.overdue = True
    assert not order.due(deadline + 5)
    other = WorkOrderBook()
    handled = dispatched(other, deadline_min=10)
    for i, state in enumerate([OrderState.ACCEPTED, OrderState.ON_SITE, OrderState.HANDLED]):
        other.apply(handled.step(state, "crew", "", T0 + i + 1))
    assert not handled.due(deadline + 1)


def test_resolve_gate() -> None:
    book = WorkOrderBook()
    order = dispatched(book)
    with pytest.raises(ConflictError, match="open work orders"):
        book.check_resolvable("a1", OPERATOR, override=False)
    with pytest.raises(ForbiddenError):
        book.check_resolvable("a1", OPERATOR, override=True)
    book.check_resolvable("a1", ADMIN, override=True)
    book.check_resolvable("other-alert", OPERATOR, override=False)
    for i, state in enumerate([OrderState.ACCEPTED, OrderState.ON_SITE, OrderState.HANDLED, OrderState.VERIFIED]):
        book.apply(order.step(state, "crew", "", T0 + i + 1))
    book.check_resolvable("a1", OPERATOR, override=False)


def test_dispatch_needs_a_team_and_a_future_deadline() -> None:
    with pytest.raises(UserInputError):
        new_order("a1", "o", "  ", T0 + 1, "x", "", T0)
    with pytest.raises(UserInputError):
        new_order("a1", "o", "team", T0, "x", "", T0)


def test_owner_sees_only_its_orders() -> None:
    book = WorkOrderBook()
    book.apply(new_order("a1", "hefei-gas", "t", T0 + 1, "x", "", T0))
    book.apply(new_order("a2", "hefei-water", "t", T0 + 1, "x", "", T0))
    gas = Principal("g", Role.OWNER, owner="hefei-gas")
    assert [o.alert_id for o in book.visible(gas)] == ["a1"]
    assert sorted(o.alert_id for o in book.visible(OPERATOR)) == ["a1", "a2"]
