from pathlib import Path

import pytest

from lifeline.exceptions import RegistryError
from lifeline.models import SensorKind, SensorSpec
from lifeline.registry import load_registry, parse_registry, write_registry

HEADER = "sensor_id,kind,asset_id,owner,district,lat,lon,thresholds\n"


def test_good_registry_loads_with_indexes() -> None:
    text = HEADER + (
        "G-1,ch4_lel,GW-1,hefei-gas,shushan,31.8,117.2,t3=10;t2=25;t1=50\n"
        "# a comment line\n"
        "G-2,ch4_lel,GW-2,hefei-gas,shushan,31.81,117.21,\n"
    )
    registry = parse_registry(text, "r.csv")
    assert len(registry) == 2
    assert registry["G-1"].thresholds == {"t3": 10.0, "t2": 25.0, "t1": 50.0}
    assert registry["G-1"].unit == "%LEL"
    assert registry["G-2"].fault_contact == "hefei-gas"  # no maintainer: faults go to the owner
    assert [s.sensor_id for s in registry.sensors_of_asset("GW-2")] == ["G-2"]


def test_three_different_errors_are_all_reported_with_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "G-1,ch4_lel,GW-1,hefei-gas,shushan,31.8,117.2,\n"
        + "G-2,methane,GW-2,hefei-gas,shushan,31.8,117.2,\n"  # row 3: unknown kind
        + "G-3,ch4_lel,GW-3,hefei-gas,shushan,95.0,117.2,\n"  # row 4: latitude out of range
        + "G-4,ch4_lel,GW-4,hefei-gas,shushan,31.8,117.2,t1=fifty\n",  # row 5: bad threshold
        encoding="utf-8",
    )
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    found = {(p.row, p.field) for p in info.value.problems}
    assert found == {(3, "kind"), (4, "lat"), (5, "thresholds")}
    message = str(info.value)
    assert "3 problem(s)" in message
    assert f"{path}:3: kind" in message


def test_missing_required_column_and_duplicates_and_unit_mismatch() -> None:
    with pytest.raises(RegistryError, match="lon: required column is missing"):
        parse_registry("sensor_id,kind,asset_id,owner,district,lat\n")
    text = "sensor_id,kind,asset_id,owner,district,lat,lon,unit\n"
    text += "S,strain,B-1,bridges,baohe,31.8,117.2,ue\nS,strain,B-1,bridges,baohe,31.8,117.2,ue\n"
    text += "T,strain,B-1,bridges,baohe,31.8,117.2,MPa\n"
    with pytest.raises(RegistryError) as info:
        parse_registry(text)
    assert {(p.row, p.field) for p in info.value.problems} == {(3, "sensor_id"), (4, "unit")}


def test_write_then_load_gives_the_same_sensors(tmp_path: Path) -> None:
    specs = [
        SensorSpec("W-P1", SensorKind.WATER_PRESSURE, "DMA-1-P1", "hefei-water", "baohe", 31.7, 117.3,
                   group_id="DMA-1", interval_s=60.0, min_value=0.0, max_value=1.6,
                   thresholds={"drop_t1_mpa": 0.1}),
        SensorSpec("B-S1", SensorKind.STRAIN, "BR-1", "bridge-co", "luyang", 31.9, 117.25, design_value=120.0),
    ]  # fmt: skip
    path = tmp_path / "registry.csv"
    write_registry(specs, path)
    loaded = load_registry(path)
    assert [loaded[s.sensor_id] for s in specs] == specs


def test_missing_file_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        load_registry(tmp_path / "nope.csv")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_registry_saved_by_excel_loads_as_its_utf8_original(tmp_path: Path, encoding: str) -> None:
    # Excel writes "CSV UTF-8" with a byte-order mark, and plain CSV in GBK on a Chinese Windows
    specs = [SensorSpec("GW-1", SensorKind.CH4_LEL, "井-1", "合肥燃气", "蜀山区", 31.8, 117.2, asset_kind="燃气阀门井")]
    original = tmp_path / "utf8.csv"
    write_registry(specs, original)
    saved = tmp_path / f"{encoding}.csv"
    saved.write_bytes(original.read_text(encoding="utf-8").encode(encoding))
    assert list(load_registry(saved).values()) == list(load_registry(original).values()) == specs


def test_a_registry_in_neither_utf8_nor_gbk_is_a_registry_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\x30\xff\xff")
    with pytest.raises(RegistryError, match="neither UTF-8 nor GBK"):
        load_registry(path)
