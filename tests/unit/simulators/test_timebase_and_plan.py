"""Parsing of durations and start times; city plan sizing."""

from __future__ import annotations

import pytest

from lifeline.exceptions import LifelineError
from lifeline.simulators.city import CityPlan
from lifeline.simulators.exceptions import BadDurationError, BadStartError, UnknownScenarioError
from lifeline.simulators.scenarios import SCENARIOS, build
from lifeline.simulators.timebase import local_hour, parse_duration, parse_start


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("6h", 21600.0),
        ("2d", 172800.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "h", "-3h", "0", "1h 3", "6hours"])
def test_bad_duration_is_a_lifeline_error(text: str) -> None:
    with pytest.raises(BadDurationError) as info:
        parse_duration(text)
    assert isinstance(info.value, LifelineError)
    assert repr(text) in str(info.value)


def test_start_must_be_aware() -> None:
    assert parse_start("2024-07-15T08:00:00+08:00") == parse_start("2024-07-15T00:00:00Z")
    with pytest.raises(BadStartError):
        parse_start("2024-07-15T00:00:00")
    with pytest.raises(BadStartError):
        parse_start("yesterday")


def test_local_hour_is_utc_plus_8() -> None:
    import numpy as np

    assert local_hour(np.array([parse_start("2024-07-15T00:00:00Z")]))[0] == pytest.approx(8.0)


def test_unknown_scenario_names_the_known_ones() -> None:
    with pytest.raises(UnknownScenarioError) as info:
        build("atlantis")
    assert "smoke" in str(info.value) and "hefei-scale-load" in str(info.value)


def test_hefei_scale_plan_is_about_85000_devices() -> None:
    assert 80_000 <= CityPlan.for_sensor_total(85_000).sensor_count <= 90_000
    assert 80_000 <= SCENARIOS["hefei-scale-load"].plan.sensor_count <= 90_000


def test_load_scenarios_carry_raw_bridge_channels_per_the_load_model() -> None:
    """docs/domain.md#load-model: bridge channels ≈15 % of devices, 50 Hz raw on ~10 % of them, edge batches of 1 s."""
    from lifeline.models import SensorKind

    for name, low, high in (("hefei-scale-load", 80_000, 90_000), ("load-10k", 10_000, 12_000)):
        plan = SCENARIOS[name].plan
        assert low <= plan.sensor_count <= high
        bridge_channels = plan.bridges * plan.sensors_per_bridge
        raw = plan.bridges * plan.high_rate_channels_per_bridge
        assert 0.13 <= bridge_channels / plan.sensor_count <= 0.17
        assert 0.08 <= raw / bridge_channels <= 0.12
        assert plan.high_rate_hz == 50 and plan.high_rate_batch_s == 1
    scenario = build("load-10k", duration_s=900)
    assert len(scenario.registry) == SCENARIOS["load-10k"].plan.sensor_count
    raw_ids = {s.sensor_id for s in scenario.sensors if s.kind is SensorKind.ACCELERATION and s.interval_s < 1}
    chunks = list(scenario.chunks())
    assert len(chunks) == 15  # one-minute chunks keep memory small
    batches = [b for c in chunks for b in c.batches]
    assert {scenario.sensor_ids[b.sensor] for b in batches} == raw_ids
    assert all(b.dt_ms == 20 and b.values.size == 50 for b in batches)  # 50 Hz, 1-s batches
    assert len(batches) == len(raw_ids) * 900
    singles = sum(c.ts_ms.size for c in chunks)
    assert sum(b.values.size for b in batches) > 20 * singles  # raw channels dominate the volume


def test_plan_sensor_count_matches_the_built_city() -> None:
    scenario = build("smoke")
    assert len(scenario.registry) == scenario.definition.plan.sensor_count


def test_required_scenarios_exist() -> None:
    for name in (
        "gas",
        "water",
        "drainage",
        "bridge",
        "storm-day",
        "quiet-day-with-faults",
        "hefei-scale-load",
        "smoke",
    ):
        assert name in SCENARIOS
