"""The spike fault judged against the line through a sample's neighbours: a spike whose return leg is the
larger one, a spike clipped at a resting floor, and no spike while the sensor's own incident is on.

The series are deterministic zigzags (each change 1 unit, or 0.2 %LEL), so every scale is known exactly:
the running noise scale is the mean change (1 degC), the ring's robust scales are 1.18 × the median change and
1.37 × the median distance of a sample from its neighbours' line (1 for a zigzag of changes 1)."""

from __future__ import annotations

import numpy as np
import pytest

from lifeline.detectors import Detectors, Finding
from lifeline.detectors.config import FaultRules, RulesConfig
from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

T0 = 1_700_000_000_000
MIN = 60_000


def _detectors(kind: SensorKind) -> Detectors:
    spec = SensorSpec("S", kind, "A", "owner", "d", 31.8, 117.2, group_id="G", maintainer="devices", interval_s=60)
    return Detectors(Registry([spec]))


def _one_by_one(det: Detectors, values: list[float]) -> list[Finding]:
    state = det.new_sensor_state("S")
    out: list[Finding] = []
    for i, v in enumerate(values):
        out.extend(det.process_sensor(state, np.array([T0 + i * MIN]), np.array([v])).findings)
    return out


def _as_arrays(det: Detectors, values: list[float], warm_up: int = 40) -> list[Finding]:
    """The first ``warm_up`` readings one by one, the rest as one array (long enough for the vectorised path,
    whose screen must leave a spike candidate to the per-reading path)."""
    state = det.new_sensor_state("S")
    out: list[Finding] = []
    for i, v in enumerate(values[:warm_up]):
        out.extend(det.process_sensor(state, np.array([T0 + i * MIN]), np.array([v])).findings)
    rest = np.array(values[warm_up:])
    ts = T0 + (warm_up + np.arange(rest.size, dtype=np.int64)) * MIN
    out.extend(det.process_sensor(state, ts, rest).findings)
    return out


def _spikes(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.kind is AlertKind.SENSOR_FAULT and f.rule.startswith("fault.spike")]


def _zigzag(level: float, change: float, n: int) -> list[float]:
    """``n`` readings alternating ``level ± change / 2``, ending on the low one."""
    return [level + (0.5 if (n - i) % 2 == 0 else -0.5) * change for i in range(n)]


@pytest.mark.parametrize("feed", [_one_by_one, _as_arrays])
def test_a_spike_whose_return_leg_is_the_larger_is_judged_against_its_neighbours_line(feed: object) -> None:
    # the spike jumps 6.8 degC up (below 6 × 1.18 of the previous value), the next reading comes back 10.6,
    # 3.8 below where it left (as an hourly noise level at its evening rise did): 8.7 off the line through its
    # neighbours, more than 6 × 1.37 = 8.22; the old check (both jumps from the previous value) missed it
    values = _zigzag(20.0, 1.0, 40)
    a = values[-1]
    values += [a + 6.8, a - 3.8, *(_zigzag(20.0, 1.0, 40))]
    assert callable(feed)
    found = _spikes(feed(_detectors(SensorKind.STRUCTURE_TEMPERATURE), values))
    assert [f.tier for f in found] == [Tier.T3]
    assert found[0].value == pytest.approx(a + 6.8)
    assert found[0].ts == T0 + 41 * MIN  # decided at the reading after the spike


@pytest.mark.parametrize("feed", [_one_by_one, _as_arrays])
def test_a_level_that_jumps_and_stays_is_no_spike(feed: object) -> None:
    # a leak's onset or a burst: the same jump, but the readings after it stay at the new level
    values = _zigzag(20.0, 1.0, 40)
    values += [v + 12.0 for v in _zigzag(20.0, 1.0, 40)]
    assert callable(feed)
    assert _spikes(feed(_detectors(SensorKind.STRUCTURE_TEMPERATURE), values)) == []


@pytest.mark.parametrize("feed", [_one_by_one, _as_arrays])
def test_a_methane_spike_clipped_at_the_floor_is_flagged(feed: object) -> None:
    # methane about 1 %LEL changing 0.2 %LEL between readings; one reading of 0.0 (a -5 %LEL spike clipped at
    # the floor) is only 4.5 scales below its neighbours, under the 6 the unclipped check needs
    values = _zigzag(1.0, 0.2, 40)
    values += [0.0, *(_zigzag(1.0, 0.2, 41)[1:])]
    assert callable(feed)
    found = _spikes(feed(_detectors(SensorKind.CH4_LEL), values))
    assert [f.tier for f in found] == [Tier.T3]
    assert found[0].value == 0.0


def test_a_methane_sensor_that_was_near_its_floor_reads_it_without_a_spike() -> None:
    # the same 0.0 reading, but the ring before it went down to 0.2 %LEL: near the floor, reading it is normal
    values = _zigzag(1.0, 0.2, 40)
    values[-6] = 0.2
    values += [0.0, *(_zigzag(1.0, 0.2, 21)[1:])]
    assert _spikes(_one_by_one(_detectors(SensorKind.CH4_LEL), values)) == []


def test_no_spike_while_the_sensors_own_incident_is_on_and_the_incident_stands() -> None:
    # methane at 30 %LEL for an hour (a gas incident), then one sample 12 %LEL up and straight back: the
    # excursion is the incident's, not a device fault, and the incident is neither hidden nor ended by it
    values = _zigzag(30.0, 1.0, 60)
    a = values[-1]
    values += [a + 12.0, a, *(_zigzag(30.0, 1.0, 10)[1:])]
    found = _one_by_one(_detectors(SensorKind.CH4_LEL), values)
    assert _spikes(found) == []
    gas = [f for f in found if f.kind is AlertKind.GAS_LEAK]
    assert gas[-1].tier is Tier.T2 and gas[-1].ts > T0 + 61 * MIN


@pytest.mark.parametrize("feed", [_one_by_one, _as_arrays])
def test_a_rain_burst_in_one_interval_is_rain_not_a_spike(feed: object) -> None:
    # rain about 15 mm/h changing 0.8 mm/h between readings; one interval of 25 mm/h (a convective cell passing)
    # stands 12 scales off its neighbours' line, but rain falls that way: no spike check for rain gauges
    values = _zigzag(15.0, 0.8, 40)
    values += [25.0, *(_zigzag(15.0, 0.8, 41)[1:])]
    assert callable(feed)
    assert _spikes(feed(_detectors(SensorKind.RAIN), values)) == []


@pytest.mark.parametrize("feed", [_one_by_one, _as_arrays])
def test_a_ponding_blip_within_the_gauges_accuracy_is_no_spike_and_a_larger_one_is(feed: object) -> None:
    # ponding at 5 cm changing 0.1 cm between readings (the gauge's resolution): a sample 1.5 cm off its neighbours
    # is 15 scales off, but within twice the gauge's ±1 cm accuracy (a vehicle's wave); one 4 cm off is a spike
    assert callable(feed)
    blip = [*_zigzag(5.0, 0.1, 40), 6.45, *(_zigzag(5.0, 0.1, 41)[1:])]
    assert _spikes(feed(_detectors(SensorKind.PONDING_DEPTH), blip)) == []
    spike = [*_zigzag(5.0, 0.1, 40), 8.95, *(_zigzag(5.0, 0.1, 41)[1:])]
    assert [f.tier for f in _spikes(feed(_detectors(SensorKind.PONDING_DEPTH), spike))] == [Tier.T3]


def test_the_least_spike_per_kind_is_configurable_and_checked() -> None:
    spec = SensorSpec("S", SensorKind.PONDING_DEPTH, "A", "owner", "d", 31.8, 117.2, group_id="G", interval_s=60)
    blip = [*_zigzag(5.0, 0.1, 40), 6.45, *(_zigzag(5.0, 0.1, 41)[1:])]
    loose = Detectors(Registry([spec]), RulesConfig(faults=FaultRules(spike_min_change={})))
    assert [f.tier for f in _spikes(_one_by_one(loose, blip))] == [Tier.T3]
    with pytest.raises(ValueError, match="pond"):
        FaultRules(spike_min_change={"pond": 2.0})


def test_a_methane_blip_of_tenths_of_a_point_near_zero_is_no_spike() -> None:
    # a well at 0.00-0.02 %LEL (changes of hundredths): one reading of 0.35 %LEL is 30 scales off its neighbours
    # but within any methane detector's accuracy; one of 2 %LEL is a spike
    quiet = [0.0, 0.01, 0.0, 0.0, 0.02, 0.01] * 7
    blip = [*quiet, 0.35, *quiet]
    assert _spikes(_one_by_one(_detectors(SensorKind.CH4_LEL), blip)) == []
    spike = [*quiet, 2.0, *quiet]
    assert [f.tier for f in _spikes(_one_by_one(_detectors(SensorKind.CH4_LEL), spike))] == [Tier.T3]
