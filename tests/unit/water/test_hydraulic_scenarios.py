"""Hydraulic scenarios: deterministic per seed, leaks where the ground truth says, and through `lifeline simulate`."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lifeline.models import SensorKind
from lifeline.network import parse_network
from lifeline.registry import load_registry
from lifeline.simulators.hydraulic import simulate
from lifeline.simulators.scenarios import build

START = 1_721_001_600_000  # 2024-07-15T00:00Z


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFELINE_CACHE_DIR", str(tmp_path / "cache"))


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    first = simulate("net1", 5, START, 96, use_cache=False)
    again = simulate("net1", 5, START, 96, use_cache=False)
    other = simulate("net1", 6, START, 96, use_cache=False)
    assert np.array_equal(first.values, again.values) and first.leaks == again.leaks
    assert not np.array_equal(first.values, other.values)


def test_the_cache_gives_back_what_was_simulated() -> None:
    fresh = simulate("net1", 3, START, 48)
    cached = simulate("net1", 3, START, 48)
    assert np.array_equal(fresh.values, cached.values) and fresh.leaks == cached.leaks
    assert fresh.sensor_ids == cached.sensor_ids and fresh.derived == cached.derived


def test_the_leaks_add_exactly_their_ground_truth_size_to_the_dma_consumption() -> None:
    leaky = simulate("net1", 11, START, 3 * 288, use_cache=False)
    dry = simulate("net1", 11, START, 3 * 288, use_cache=False, with_leaks=False)
    assert leaky.leaks == dry.leaks and leaky.leaks
    expected = sum(leak.size_at(leaky.times_ms) for leak in leaky.leaks)
    assert float(np.max(expected)) > 1.0  # at least one leak is on inside these 3 days
    # the derived meter (sources - tank fills) is the network's consumption by mass balance
    assert np.allclose(leaky.consumption() - dry.consumption(), expected, atol=0.05)


def test_scenario_registry_names_model_nodes_links_and_the_derived_meter() -> None:
    scenario = build("water-net1", seed=7, duration_s=2 * 3600)
    kinds = {s.kind for s in scenario.sensors}
    assert {SensorKind.WATER_PRESSURE, SensorKind.WATER_FLOW, SensorKind.TANK_LEVEL, SensorKind.PUMP_STATE} <= kinds
    meter = next(s for s in scenario.sensors if parse_network(s.network).derived)
    info = parse_network(meter.network)
    assert Path(info.model).is_file() and {t.sensor_id for t in info.derived} <= set(scenario.registry)
    pump = next(s for s in scenario.sensors if s.kind is SensorKind.PUMP_STATE)
    assert parse_network(pump.network).link == "9"


def test_hydraulic_scenario_through_lifeline_simulate_to_files(tmp_path: Path) -> None:
    from lifeline.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["simulate", "--scenario", "water-net1", "--duration", "3h", "--seed", "4", "--out", str(out),
              "--format", "jsonl"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    registry = load_registry(out / "registry.csv")  # validates the network column, the model file included
    readings = (out / "readings.jsonl").read_text(encoding="utf-8").splitlines()
    # every sensor with readings reports each 5 minutes: 36 readings in 3 h; the derived meter sends none
    measured = [s for s in registry.values() if not parse_network(s.network).derived]
    assert len(readings) == 36 * len(measured)
    with (out / "ground_truth.csv").open(encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    assert all("node=" in row["detail"] for row in truth)


def test_a_supply_node_becomes_a_reservoir_so_a_month_of_net2_keeps_physical_pressures() -> None:
    # Net2 is fed by a junction with a fixed negative demand; kept as it is, the tank it fills drains or
    # overflows within weeks and EPANET's pressures run away (hundreds of thousands of MPa by day 30)
    run = simulate("net2", 1, START, 30 * 288, use_cache=False)
    pressure = run.values[[k is SensorKind.WATER_PRESSURE for k in run.kinds]]
    assert float(pressure.min()) > 0.05 and float(pressure.max()) < 1.0
    assert [t.sensor_id for t in run.derived if t.sign > 0] == ["NET2-QS-SRC-1"]
    dry = simulate("net2", 1, START, 30 * 288, use_cache=False, with_leaks=False)
    expected = sum(leak.size_at(run.times_ms) for leak in run.leaks)
    # the reservoir serves the leaks: the DMA meter grows by exactly their size
    assert np.allclose(run.consumption() - dry.consumption(), expected, atol=0.05)


def test_the_model_a_net2_scenario_names_has_the_reservoir_the_simulation_used() -> None:
    scenario = build("water-net2", seed=3, duration_s=2 * 3600)
    meter = next(s for s in scenario.sensors if parse_network(s.network).derived)
    text = Path(parse_network(meter.network).model).read_text(encoding="utf-8")
    assert "SRC-1" in text
    source = scenario.registry["NET2-QS-SRC-1"]
    assert parse_network(source.network).link == "SRC-1"


@pytest.fixture
def own_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files added by a test do not stay known to the next one."""
    from lifeline.simulators import hydraulic

    monkeypatch.setattr(hydraulic, "NETWORKS", dict(hydraulic.NETWORKS))


@pytest.mark.usefixtures("own_networks")
def test_any_epanet_file_is_a_scenario_named_by_its_file_and_sized_like_the_network_it_copies(
    tmp_path: Path,
) -> None:
    from collections import Counter

    from lifeline.simulators.hydraulic import model_path

    town = tmp_path / "My Town.inp"
    town.write_bytes(model_path("net1").read_bytes())
    scenario = build(f"water:{town}", seed=7, duration_s=2 * 3600)
    named = build("water-net1", seed=7, duration_s=2 * 3600)
    # the file's stem names the network and its sensors (which junctions carry loggers follows the name)
    assert all("MY-TOWN-" in s.sensor_id for s in scenario.sensors)
    assert Counter(s.kind for s in scenario.sensors) == Counter(s.kind for s in named.sensors)
    assert scenario.estimated_readings() == named.estimated_readings() > 0
    meter = next(s for s in scenario.sensors if parse_network(s.network).derived)
    assert Path(parse_network(meter.network).model).read_bytes() == town.read_bytes()


@pytest.mark.usefixtures("own_networks")
def test_an_edited_model_file_is_simulated_again_not_served_from_the_cache(tmp_path: Path) -> None:
    from lifeline.simulators.hydraulic import add_model_file, model_path

    town = tmp_path / "town.inp"
    original = model_path("net1").read_text(encoding="utf-8")
    town.write_text(original, encoding="utf-8")
    name = add_model_file(town)
    before = simulate(name, 2, START, 24)
    # a higher reservoir (Net1's source node 9 is at 800 ft) raises every pressure a little
    raised, found = re.subn(r"^( 9\s+)800\b", r"\g<1>850", original, flags=re.MULTILINE)
    assert found == 1
    town.write_text(raised, encoding="utf-8")
    after = simulate(name, 2, START, 24)
    pressure = [k is SensorKind.WATER_PRESSURE for k in before.kinds]
    assert float(np.min(after.values[pressure] - before.values[pressure])) > 0.0


@pytest.mark.usefixtures("own_networks")
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no EPANET model at"),
        ("[JUNCTIONS]\n garbage here\n", "not an EPANET model"),
        # two tanks and a pipe: valid EPANET, but nothing to put a logger or a leak on
        ("[TANKS]\n T1 0 50 0 100 20 0\n T2 0 75 0 100 20 0\n[PIPES]\n P1 T1 T2 1000 457 100 0 Open\n"
         "[OPTIONS]\n Units LPS\n[END]\n",
         "has no junctions"),
        # valid EPANET that EPANET cannot run: no water enters the network
        ("[JUNCTIONS]\n J1 10 1.0\n J2 10 1.0\n[PIPES]\n P1 J1 J2 100 200 100 0 Open\n[OPTIONS]\n Units LPS\n[END]\n",
         "has no reservoir, tank or supply node"),
        # a source and pipes, but nobody draws water
        ("[JUNCTIONS]\n J1 10 0\n[RESERVOIRS]\n R1 50\n[PIPES]\n P1 R1 J1 100 200 100 0 Open\n[OPTIONS]\n Units LPS\n"
         "[END]\n", "has no water demand"),
    ],
)  # fmt: skip
def test_a_missing_unreadable_or_unusable_model_file_is_an_unknown_scenario_with_the_reason(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    from lifeline.simulators.exceptions import UnknownScenarioError

    town = tmp_path / "town.inp"
    if content is not None:
        town.write_text(content, encoding="utf-8")
    with pytest.raises(UnknownScenarioError, match=reason) as caught:
        build(f"water:{town}", duration_s=3600)
    assert "water:<EPANET file.inp>" in str(caught.value)


@pytest.mark.usefixtures("own_networks")
def test_a_model_epanet_cannot_run_is_a_hydraulic_model_error_naming_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wntr

    from lifeline.simulators.exceptions import HydraulicModelError
    from lifeline.simulators.hydraulic import model_path

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise wntr.epanet.exceptions.EpanetException(110)  # "cannot solve network hydraulic equations"

    town = tmp_path / "town.inp"
    town.write_bytes(model_path("net1").read_bytes())
    monkeypatch.setattr(wntr.sim.EpanetSimulator, "run_sim", refuse)
    with pytest.raises(HydraulicModelError, match=r"EPANET could not simulate the network 'town': \(Error 110\)"):
        build(f"water:{town}", duration_s=3600)


#: a reservoir feeding two junctions through two pipes: (head of the reservoir in m, state of the first pipe)
_TWO_JUNCTIONS = (
    "[JUNCTIONS]\n J1 {elevation} 1.0\n J2 {elevation} 1.0\n[RESERVOIRS]\n R1 {head}\n"
    "[PIPES]\n P1 R1 J1 100 200 100 0 {state}\n P2 J1 J2 100 200 100 0 Open\n[OPTIONS]\n Units LPS\n[END]\n"
)


@pytest.mark.usefixtures("own_networks")
@pytest.mark.parametrize(
    ("name", "model", "reason"),
    [
        # the only pipe from the reservoir is closed: EPANET still serves both demands, at about -10⁷ m
        ("cut-off", {"elevation": 10, "head": 50, "state": "Closed"},
         r"'cut-off' are not physical: 100\.0% of the junction steps"),
        # a reservoir 400 m above its junctions (a model in feet read as metres looks like this): 3.9 MPa
        ("tall", {"elevation": 0, "head": 400, "state": "Open"},
         r"'tall' are beyond a water main's: 100\.0% of the junction steps"),
    ],
)  # fmt: skip
def test_a_model_with_pressures_no_water_main_has_is_refused_not_simulated_into_nonsense(
    tmp_path: Path, name: str, model: dict[str, object], reason: str
) -> None:
    from lifeline.simulators.exceptions import HydraulicModelError

    town = tmp_path / f"{name}.inp"
    town.write_text(_TWO_JUNCTIONS.format(**model), encoding="utf-8")
    with pytest.raises(HydraulicModelError, match=reason):
        build(f"water:{town}", duration_s=3600)


@pytest.mark.usefixtures("own_networks")
def test_a_model_at_200_m_of_head_is_a_network(tmp_path: Path) -> None:
    town = tmp_path / "tall.inp"  # 1.96 MPa at the loggers: inside the water_pressure range
    town.write_text(_TWO_JUNCTIONS.format(elevation=0, head=200, state="Open"), encoding="utf-8")
    scenario = build(f"water:{town}", duration_s=3600)
    assert any(s.kind is SensorKind.WATER_PRESSURE for s in scenario.registry.values())


def test_a_logger_reads_no_lower_than_a_vacuum_and_no_higher_than_full_scale() -> None:
    from lifeline.simulators.hydraulic import HydraulicRun, _RunValues

    # a moment below a vacuum (demand-driven arithmetic) and one above the range, with and without noise
    run = HydraulicRun("town", 0, ["P-1"], [SensorKind.WATER_PRESSURE], ["J1"], np.array([[-0.9, 0.3, 3.1]]), [], [])
    values = _RunValues(run, [0], SensorKind.WATER_PRESSURE)
    rows, times = np.array([0]), np.array([[0, 300_000, 600_000]])
    assert values(rows, times, None).tolist() == [[-0.1, 0.3, 2.5]]
    noisy = values(rows, times, np.random.default_rng(1))
    assert noisy[0, 0] == -0.1 and noisy[0, 2] == 2.5 and noisy[0, 1] != 0.3


@pytest.mark.usefixtures("own_networks")
def test_lifeline_simulate_names_the_missing_model_file(tmp_path: Path) -> None:
    from lifeline.cli import app
    from lifeline.simulators.exceptions import UnknownScenarioError

    missing = tmp_path / "nowhere.inp"
    result = CliRunner().invoke(app, ["simulate", "--scenario", f"water:{missing}", "--out", str(tmp_path / "o")])
    # `lifeline`'s entry point prints our errors as one line (exit code 2); here the error itself is checked
    assert isinstance(result.exception, UnknownScenarioError)
    assert "no EPANET model at" in str(result.exception)


def test_tanks_by_level_rate_give_the_consumption_the_tank_meters_give() -> None:
    from lifeline.network import DerivedMeter
    from lifeline.simulators.hydraulic import level_rate_meter

    run = simulate("net1", 2, START, 3 * 288, use_cache=False)
    terms = level_rate_meter(run)
    # Net1's tank 2 is 50.5 ft across: 15.39 m, 186 m²
    assert [(t.sensor_id, t.area_m2) for t in terms if t.area_m2 is not None] == [("NET1-L-2", 186.08)]
    meter, index = DerivedMeter(terms), {s: i for i, s in enumerate(run.sensor_ids)}
    by_level = np.array([
        meter.evaluate({s: run.values[index[s], k] for s in meter.sensor_ids},
                       before={s: run.values[index[s], k - 1] for s in meter.sensor_ids}, interval_s=300)
        for k in range(1, run.steps)
    ], dtype=np.float64)  # fmt: skip
    by_meter = run.consumption()
    interval = (by_meter[1:] + by_meter[:-1]) / 2
    # mass balance over each 5-minute interval (EPANET's tank follows its net inflow); the pump's switches
    # inside an interval are the rare exceptions
    assert float(np.median(np.abs(by_level - interval))) < 0.01 * float(np.mean(interval))
    assert float(np.mean(np.abs(by_level - interval) < 5.0)) > 0.9


def _hourly_profile(run: object, iso: str) -> np.ndarray:
    """The DMA consumption's 24 hourly means on the local date ``iso`` (China time), over their own mean."""
    from datetime import date

    local = run.times_ms + 8 * 3_600_000  # type: ignore[attr-defined]
    on_day = local // 86_400_000 == (date.fromisoformat(iso) - date(1970, 1, 1)).days
    hour = (local // 3_600_000) % 24
    consumption = run.consumption()  # type: ignore[attr-defined]
    profile = np.array([consumption[on_day & (hour == h)].mean() for h in range(24)])
    return profile / profile.mean()


def test_demand_follows_china_s_public_holidays_and_the_weekend_days_worked_in_their_place() -> None:
    start = 1_727_366_400_000  # 2024-09-26T16:00Z = Friday 27 September 00:00 China time
    dry = simulate("net1", 2, start, 13 * 288, use_cache=False, with_leaks=False)
    rest, work = _hourly_profile(dry, "2024-09-28"), _hourly_profile(dry, "2024-10-08")  # a Saturday, a Tuesday

    def nearer_rest(iso: str) -> bool:
        day = _hourly_profile(dry, iso)
        return bool(np.abs(day - rest).mean() < np.abs(day - work).mean())

    assert nearer_rest("2024-10-01") and nearer_rest("2024-10-02")  # National Day, a Tuesday and a Wednesday
    assert not nearer_rest("2024-09-29")  # a Sunday worked in their place
    assert not nearer_rest("2024-10-09") and nearer_rest("2024-10-06")  # a Wednesday; a Sunday


def test_demand_is_higher_in_summer_than_in_winter_for_every_consumer_class() -> None:
    from lifeline.simulators.hydraulic import STEP_MS, _class_patterns

    january = 1_704_038_400_000 + np.arange(7 * 288) * STEP_MS  # 2024-01-01 China time, a week
    july = 1_721_491_200_000 + np.arange(7 * 288) * STEP_MS  # 2024-07-21 China time, a week
    patterns = _class_patterns(np.random.default_rng(4), np.concatenate((january, july)))
    winter, summer = patterns[:, : january.size].mean(axis=1), patterns[:, january.size :].mean(axis=1)
    assert np.all(summer / winter > 1.05) and np.all(summer / winter < 1.45)


def test_within_a_month_a_leak_is_repaired_soon_or_runs_to_the_end_within_a_year_every_early_one_ends() -> None:
    from lifeline.simulators.hydraulic import STEP_MS, _plan_leaks

    junctions = [f"J{i}" for i in range(40)]
    day = 86_400_000
    for seed in range(5):
        month = _plan_leaks(np.random.default_rng(seed), junctions, START, 30 * 288)
        for leak in month:
            soon = leak.end_ms - leak.start_ms <= 48 * 3_600_000 if leak.shape == "burst" else (
                leak.end_ms - leak.peak_ms <= 10 * day)  # fmt: skip
            assert soon or leak.end_ms == START + 30 * 288 * STEP_MS, leak
        year = _plan_leaks(np.random.default_rng(seed), junctions, START, 365 * 288)
        end = START + 365 * 288 * STEP_MS
        assert all(leak.repaired for leak in year if leak.start_ms < end - 186 * day)
        late = [leak for leak in year if leak.shape == "burst" and leak.end_ms - leak.start_ms > 48 * 3_600_000]
        assert late and all(30 * day <= leak.end_ms - leak.start_ms <= 120 * day for leak in late if leak.repaired)
