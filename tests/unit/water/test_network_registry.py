"""The registry's network column: derived meters, model files, pump/valve links, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifeline.exceptions import RegistryError
from lifeline.network import DerivedMeter, MeterTerm, parse_network
from lifeline.registry import COLUMNS, load_registry, parse_registry, write_registry

HEADER = "sensor_id,kind,asset_id,owner,district,lat,lon,group_id,network\n"


def _row(sensor: str, kind: str, network: str, group: str = "DMA-1") -> str:
    return f"{sensor},{kind},{sensor},hefei-water,shushan,31.8,117.2,{group},{network}\n"


def test_derived_meter_sums_and_differences_by_hand() -> None:
    meter = DerivedMeter((MeterTerm(1.0, "IN-A"), MeterTerm(1.0, "IN-B"), MeterTerm(-1.0, "EXPORT")))
    assert meter.evaluate({"IN-A": 120.5, "IN-B": 30.0, "EXPORT": 40.25}) == pytest.approx(110.25)
    assert meter.evaluate({"IN-A": 120.5, "IN-B": 30.0}) is None  # a missing component: no value
    assert meter.sensor_ids == ["IN-A", "IN-B", "EXPORT"]


def test_hyphenated_ids_parse_as_whole_terms() -> None:
    info = parse_network("derived=DMA-1-IN-Q - DMA-1-EXP-Q +DMA-2-BACK-Q")
    assert [(t.sign, t.sensor_id) for t in info.derived] == [
        (1.0, "DMA-1-IN-Q"), (-1.0, "DMA-1-EXP-Q"), (1.0, "DMA-2-BACK-Q"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown key"):
        parse_network("pipe=P1")


def test_valid_network_registry_loads_and_round_trips(tmp_path: Path) -> None:
    (tmp_path / "dma1.inp").write_text("[TITLE]\n", encoding="utf-8")
    text = HEADER + "".join([
        _row("IN-Q", "water_flow", "link=P-1"),
        _row("EXP-Q", "water_flow", "link=P-9"),
        _row("DMA-Q", "water_flow", "derived=+IN-Q -EXP-Q;model=dma1.inp"),
        _row("PUMP-1", "pump_state", "link=PU-1"),
        _row("TANK-1", "tank_level", "node=T-1"),
        _row("P-1", "water_pressure", "node=J-12"),
    ])  # fmt: skip
    path = tmp_path / "registry.csv"
    path.write_text(text, encoding="utf-8")
    registry = load_registry(path)
    assert parse_network(registry["DMA-Q"].network).model == "dma1.inp"
    copy = tmp_path / "copy.csv"
    write_registry(registry.values(), copy)
    assert load_registry(copy)["P-1"].network == "node=J-12"


def test_registry_without_network_facts_writes_the_old_header(tmp_path: Path) -> None:
    registry = parse_registry(HEADER + _row("P-1", "water_pressure", ""))
    out = tmp_path / "r.csv"
    write_registry(registry.values(), out)
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)


def test_every_network_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = HEADER + "".join([
        _row("IN-Q", "water_flow", "link=P-1"),
        _row("P-1", "water_pressure", "node=J-1"),
        _row("DMA-Q", "water_flow", "derived=+IN-Q -GHOST-Q -P-1;model=missing.inp"),  # 2 bad terms, no file
        _row("DMA-R", "water_flow", "derived=+DMA-Q +DMA-R"),  # derived of derived, itself
        _row("BAD", "water_pressure", "derived=+IN-Q"),  # derived must be a flow kind
        _row("PUMP-1", "pump_state", ""),  # no link
        _row("VALVE-1", "valve_state", "node=J-3"),  # a node, not a link
        _row("SYNTAX", "water_flow", "model"),  # not name=value
        _row("OTHER-MODEL", "water_flow", "model=other.inp", group="DMA-1"),  # second model in the group
    ])  # fmt: skip
    path = tmp_path / "registry.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    messages = [str(p) for p in caught.value.problems]
    expected = [
        "'GHOST-Q' is not a sensor", "'P-1' is 'water_pressure'", "'missing.inp' does not exist",
        "is itself derived", "names itself", "must be a flow kind", "pump_state needs link=",
        "valve_state needs link=", "is not name=value", "one model per group",
    ]  # fmt: skip
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)
    assert all(p.field == "network" for p in caught.value.problems)


def test_a_tank_with_a_level_sensor_only_enters_a_meter_as_its_level_rate_times_its_area() -> None:
    info = parse_network("derived=+IN-Q -rate(T-1-L)*186.5")
    assert info.derived == (MeterTerm(1.0, "IN-Q"), MeterTerm(-1.0, "T-1-L", 186.5))
    meter = DerivedMeter(info.derived)
    assert meter.has_rates and not DerivedMeter((MeterTerm(1.0, "IN-Q"),)).has_rates
    # the level rose 0.05 m in 5 minutes: 0.6 m/h × 186.5 m² = 111.9 m³/h went into the tank, not to consumers
    now, before = {"IN-Q": 300.0, "T-1-L": 4.05}, {"IN-Q": 300.0, "T-1-L": 4.0}
    assert meter.evaluate(now, before=before, interval_s=300) == pytest.approx(300.0 - 111.9)
    # draining adds to the consumption
    assert meter.evaluate({"IN-Q": 0.0, "T-1-L": 3.9}, before={"IN-Q": 0.0, "T-1-L": 4.0}, interval_s=600) == (
        pytest.approx(111.9)
    )
    # no earlier values (or a NaN one): no value
    assert meter.evaluate(now) is None and meter.evaluate(now, before={**before, "T-1-L": float("nan")}) is None


def test_a_meter_with_a_level_rate_balances_the_interval_so_a_pump_start_is_not_consumption() -> None:
    meter = DerivedMeter(parse_network("derived=+IN-Q -rate(T-1-L)*100").derived)
    # consumers take 50 m³/h throughout; a pump of 120 m³/h starts halfway through the interval: its flow
    # meter reads 0 then 120 at the interval's ends and the tank takes the 60 m³/h it delivered on average
    before, now = {"IN-Q": 50.0, "T-1-L": 4.0}, {"IN-Q": 170.0, "T-1-L": 4.0 + 60.0 / 100 / 12}
    assert meter.evaluate(now, before=before, interval_s=300) == pytest.approx(50.0)


@pytest.mark.parametrize("bad", ["rate(T-1)", "rate(T-1)*0", "rate(T-1)*-3", "rate(T 1)*5", "rate()*5"])
def test_a_malformed_rate_term_says_how_to_write_one(bad: str) -> None:
    with pytest.raises(ValueError, match=r"rate|area|sum of meters"):
        parse_network(f"derived=+IN-Q -{bad}")


def test_a_rate_term_names_a_tank_level_in_a_water_meter_and_round_trips(tmp_path: Path) -> None:
    good = HEADER + "".join([
        _row("IN-Q", "water_flow", "link=P-1"),
        _row("T-1-L", "tank_level", "node=T-1"),
        _row("DMA-Q", "water_flow", "derived=+IN-Q -rate(T-1-L)*186.5"),
    ])  # fmt: skip
    registry = parse_registry(good)
    out = tmp_path / "r.csv"
    write_registry(registry.values(), out)
    assert load_registry(out)["DMA-Q"].network == "derived=+IN-Q -rate(T-1-L)*186.5"
    bad = HEADER + "".join([
        _row("IN-Q", "water_flow", "link=P-1"),
        _row("P-1", "water_pressure", "node=J-1"),
        _row("DMA-Q", "water_flow", "derived=+IN-Q -rate(P-1)*20 -rate(IN-Q)*5"),  # a logger, a flow meter
    ])  # fmt: skip
    with pytest.raises(RegistryError) as caught:
        parse_registry(bad)
    messages = [str(p) for p in caught.value.problems]
    assert sum("needs a tank_level sensor" in m for m in messages) == 2, messages
