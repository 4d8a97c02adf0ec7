"""Alarm state machine: transitions, hysteresis, quiet clear, people's actions, deterministic ids, and
order independence (the same set of findings gives the same events in any arrival order)."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline.detectors import Detectors, Finding
from lifeline.detectors.config import AlarmRules, RulesConfig
from lifeline.models import AlertEventType, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

T0 = 1_700_000_000_000
MIN = 60_000
E = AlertEventType


def det(hold_s: float = 900.0, quiet_s: float = 1800.0) -> Detectors:
    reg = Registry([
        SensorSpec(f"P{i}", SensorKind.PONDING_DEPTH, f"UP{i}", "drain-co", "baohe", 31.8, 117.2, group_id="C",
                   maintainer="dev-co", interval_s=300)
        for i in range(3)
    ] + [SensorSpec("W1", SensorKind.CH4_LEL, "GW1", "gas-co", "shushan", 31.8, 117.2, group_id="GM",
                    maintainer="gas-devices", interval_s=300)])  # fmt: skip
    cfg = RulesConfig(alarm=AlarmRules(deescalate_hold_s=hold_s, clear_quiet_s=quiet_s, settle_delay_ms=60_000))
    return Detectors(reg, cfg)


def finding(t_min: float, tier: Tier | None, sensor: str = "P0", kind: AlertKind = AlertKind.WATERLOGGING,
            rule: str = "drainage.ponding:t") -> Finding:  # fmt: skip
    asset = "UP" + sensor[1:] if sensor.startswith("P") else "GW1"
    group = "C" if sensor.startswith("P") else "GM"
    return Finding(sensor, asset, group, kind, tier, T0 + int(t_min * MIN), 30.0, 0.5, "evidence", rule)


def run(d: Detectors, findings: list[Finding], until_min: float = 600) -> list[tuple[E, Tier, int]]:
    gs = d.new_group_state("C")
    events = d.process_group(gs, findings, T0 + int(until_min * MIN))
    return [(e.event, e.tier, (e.ts - T0) // MIN) for e in events]


def test_open_escalate_deescalate_after_hold_then_clear_after_quiet() -> None:
    d = det(hold_s=900, quiet_s=1800)
    fs = [finding(0, Tier.T3), finding(5, Tier.T1), finding(10, Tier.T3), finding(15, Tier.T3), finding(30, None)]
    assert run(d, fs) == [
        (E.OPENED, Tier.T3, 0),
        (E.ESCALATED, Tier.T1, 5),
        (E.DE_ESCALATED, Tier.T3, 25),  # lower tier held 15 min from t=10
        (E.CLEARED, Tier.T3, 45),  # last support at 15 + 30 min quiet
    ]


def test_short_dip_does_not_deescalate() -> None:
    d = det(hold_s=900)
    fs = [finding(0, Tier.T1), finding(5, Tier.T3), finding(10, Tier.T1), finding(15, Tier.T1)]
    events = run(d, fs, until_min=30)
    assert [e for e, _, _ in events] == [E.OPENED]


def test_one_alert_per_asset_and_kind_and_deterministic_id() -> None:
    d = det()
    gs = d.new_group_state("C")
    events = d.process_group(gs, [finding(0, Tier.T3), finding(5, Tier.T2), finding(5, Tier.T3, "P1")], T0 + 60 * MIN)
    ids = {(e.asset_id, e.alert_id) for e in events}
    assert len(ids) == 2  # UP0 and UP1
    expected = hashlib.sha1(f"UP0|waterlogging|{T0}".encode()).hexdigest()[:16]
    assert (("UP0", expected)) in ids


def test_sensor_fault_alert_goes_to_the_maintainer_at_tier_3() -> None:
    d = det()
    f = Finding("W1", "GW1", "GM", AlertKind.SENSOR_FAULT, Tier.T3, T0, 0.0, 0.5, "stuck", "fault.stuck:zero_variance")
    events = d.process_group(d.new_group_state("GM"), [f], T0 + 10 * MIN)
    assert [(e.event, e.tier, e.owner) for e in events] == [(E.OPENED, Tier.T3, "gas-devices")]


def test_blocking_fault_stops_the_sensor_from_escalating() -> None:
    d = det()
    fault = Finding("P0", "UP0", "C", AlertKind.SENSOR_FAULT, Tier.T3, T0, 0.0, 0.5, "stuck",
                    "fault.stuck:zero_variance")  # fmt: skip
    events = d.process_group(d.new_group_state("C"), [fault, finding(1, Tier.T1)], T0 + 30 * MIN)
    assert all(e.kind is AlertKind.SENSOR_FAULT for e in events)


def test_acknowledge_and_resolve_are_separate_events_with_actor() -> None:
    d = det()
    gs = d.new_group_state("C")
    opened = d.process_group(gs, [finding(0, Tier.T2), finding(5, Tier.T2)], T0 + 10 * MIN)[0]
    ack = gs.acknowledge(opened.alert_id, actor="duty-analyst", ts_ms=T0 + 12 * MIN, comment="on it")
    assert (ack.event, ack.actor, ack.comment, ack.alert_id) == (
        E.ACKNOWLEDGED,
        "duty-analyst",
        "on it",
        opened.alert_id,
    )
    res = d.resolve(gs, opened.alert_id, actor="crew", ts_ms=T0 + 40 * MIN)
    assert res.event is E.RESOLVED and res.alert_id == opened.alert_id
    assert gs.alerts == {}


def test_late_findings_are_buffered_until_the_settle_delay() -> None:
    d = det()
    gs = d.new_group_state("C")
    assert d.process_group(gs, [finding(10, Tier.T2)], T0 + 5 * MIN) == []  # evaluated only up to 4 min
    events = d.process_group(gs, [finding(5, Tier.T3)], T0 + 20 * MIN)  # earlier finding arrives later
    assert [(e.event, e.tier, (e.ts - T0) // MIN) for e in events] == [
        (E.OPENED, Tier.T3, 5),
        (E.ESCALATED, Tier.T2, 10),
    ]
    assert gs.late_findings == 0
    d.process_group(gs, [finding(1, Tier.T1)], T0 + 30 * MIN)  # behind the evaluated horizon: counted as late
    assert gs.late_findings == 1


FINDINGS = st.lists(
    st.one_of(
        st.builds(
            finding,
            t_min=st.integers(0, 240),
            tier=st.sampled_from([Tier.T1, Tier.T2, Tier.T3, None]),
            sensor=st.sampled_from(["P0", "P1", "P2"]),
        ),
        # a sensor's learned-baseline anomaly: its on-delay and the group's common mode run on timers too
        st.builds(
            finding,
            t_min=st.integers(0, 240),
            tier=st.sampled_from([Tier.T3, None]),
            sensor=st.sampled_from(["P0", "P1", "P2"]),
            kind=st.just(AlertKind.ANOMALY),
            rule=st.just("anomaly.sensor.mean"),
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=80, deadline=None)
@given(findings=FINDINGS, order=st.randoms(use_true_random=False), cuts=st.lists(st.integers(0, 25), max_size=4))
def test_same_set_of_findings_gives_same_events_in_any_order(findings: list[Finding], order, cuts: list[int]) -> None:  # type: ignore[no-untyped-def]
    d = det()
    in_order = d.process_group(d.new_group_state("C"), sorted(findings, key=lambda f: f.ts), T0 + 2000 * MIN)
    reference = [(e.event, e.tier, (e.ts - T0) // MIN, e.kind, e.asset_id) for e in in_order]
    shuffled = list(findings)
    order.shuffle(shuffled)
    # deliver in chunks; the watermark never passes a finding still to come (minus the settle delay)
    gs = d.new_group_state("C")
    events = []
    bounds = sorted({0, len(shuffled), *[min(c, len(shuffled)) for c in cuts]})
    for lo, hi in itertools.pairwise(bounds):
        rest = shuffled[hi:]
        watermark = min((f.ts for f in rest), default=T0 + 2000 * MIN) if rest else T0 + 2000 * MIN
        events += d.process_group(gs, shuffled[lo:hi], watermark)
    events += d.process_group(gs, [], T0 + 2000 * MIN)
    assert [(e.event, e.tier, (e.ts - T0) // MIN, e.kind, e.asset_id) for e in events] == reference
    assert all(e.tier is not None for e in events)


def test_a_group_at_rest_only_moves_its_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    """The group stage visits every group once a minute; a group with nothing pending, no contribution and no
    alert takes no evaluation pass (once the alert cleared), and a finding behind its horizon still counts late."""
    from lifeline.detectors import alarms

    d = det(quiet_s=1800)
    gs = d.new_group_state("C")
    d.process_group(gs, [finding(0, Tier.T3)], T0 + 120 * MIN)  # opened, then cleared after the quiet period
    assert not gs.alerts and not gs.contributions and not gs.pending

    def no_pass(*_args: object) -> None:
        raise AssertionError("an evaluation pass for a group at rest")

    monkeypatch.setattr(alarms, "_Run", no_pass)
    assert d.process_group(gs, [], T0 + 180 * MIN) == []
    assert gs.horizon == T0 + 179 * MIN, "watermark - settle delay (60 s)"
    monkeypatch.undo()
    d.process_group(gs, [finding(170, Tier.T3)], T0 + 181 * MIN)
    assert gs.late_findings == 1
