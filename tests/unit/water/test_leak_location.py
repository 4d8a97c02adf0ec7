"""Where is the leak: a water alert's ``location`` names the loggers that moved most, and with a hydraulic model the
3 most likely nodes with their pipe distances (docs/domain.md#where-is-the-leak)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lifeline.detectors.leak_location import GroupLocator, describe_location
from lifeline.detectors.localisation import SensitivityModel
from lifeline.detectors.state import Contribution
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind, Tier
from lifeline.registry import Registry

from .dma import DMA, HOUR, START, STEP, dma_spec, replay

M_PER_MPA = 1.0e6 / (1000.0 * 9.80665)  # metres of water head per MPa: p / (ρ g)


def _contribution(sensor_id: str, change: float, kind: AlertKind = AlertKind.PIPE_BURST) -> Contribution:
    return Contribution(sensor_id, DMA, kind, Tier.T2, START, 0.3, 0.5, "", "water.pressure.drop:big", change=change)


def _burst_events(drops_mpa: dict[str, float]) -> list[AlertEvent]:
    """Three loggers at 0.40 MPa with instrument noise; at hour 2 each falls by its drop and stays down."""
    loggers = ("P-03", "P-07", "P-12")
    registry = Registry([dma_spec(s, SensorKind.WATER_PRESSURE) for s in loggers])
    ts = START + np.arange(4 * 12, dtype=np.int64) * STEP
    rng = np.random.default_rng(5)
    down = (ts >= START + 2 * HOUR).astype(np.float64)
    series = {s: 0.40 + rng.normal(0.0, 0.002, ts.size) - drops_mpa.get(s, 0.0) * down for s in loggers}
    return [e for e in replay(registry, ts, series) if e.kind is AlertKind.PIPE_BURST]


def test_a_burst_alert_names_the_loggers_that_fell_most_largest_first() -> None:
    events = _burst_events({"P-12": 0.12, "P-07": 0.06})
    assert events and all(e.location for e in events), "every event of the burst says where"
    last = events[-1]
    assert last.event is not AlertEventType.CLEARED
    named = re.fullmatch(r"sensors: (\S+) ([-+]\d+\.\d) m, (\S+) ([-+]\d+\.\d) m", last.location)
    assert named is not None, last.location
    assert (named[1], named[3]) == ("P-12", "P-07"), "ordered by the size of the fall; P-03 did not move"
    # the fall in metres of head: 0.12 MPa and 0.06 MPa (instrument noise 0.002 MPa ≈ 0.2 m)
    assert float(named[2]) == pytest.approx(-0.12 * M_PER_MPA, abs=0.5)
    assert float(named[4]) == pytest.approx(-0.06 * M_PER_MPA, abs=0.5)


def test_noise_loggers_of_a_background_leak_are_named_by_their_rise() -> None:
    registry = Registry(
        [dma_spec(s, SensorKind.NOISE_LEVEL) for s in ("N-1", "N-2")] + [dma_spec("Q", SensorKind.WATER_FLOW)]
    )
    contribs = [
        _contribution("N-1", 6.5, AlertKind.BACKGROUND_LEAK),
        _contribution("N-2", 9.0, AlertKind.BACKGROUND_LEAK),
        _contribution("Q", 4.0, AlertKind.BACKGROUND_LEAK),  # the inlet meter says "this DMA", not where in it
    ]
    assert describe_location(contribs, registry.get, None) == "sensors: N-2 +9.0 dB, N-1 +6.5 dB"


def _hand_model() -> SensitivityModel:
    """Loggers at A, B, C; a leak at a node lowers the logger there; at D it lowers B and C alike; at A it also
    touches B a little. Signatures (uniform demand explains nothing here): columns A, B, C, D."""
    matrix = np.array([
        [-1.0, 0.0, 0.0, 0.0],
        [-0.2, -1.0, 0.0, -1.0],
        [0.0, 0.0, -1.0, -1.0],
    ])  # fmt: skip
    distances = np.array([[0, 410, 700, 500], [410, 0, 350, 240], [700, 350, 0, 200], [500, 240, 200, 0.0]])
    return SensitivityModel(["A", "B", "C", "D"], ["A", "B", "C"], matrix, np.zeros(3), distances)


def test_with_a_model_the_three_likeliest_nodes_come_first_with_their_distance_to_the_first() -> None:
    specs = [dma_spec(f"P-{n}", SensorKind.WATER_PRESSURE, f"node={n};model=dma.inp") for n in "ABC"]
    built: list[tuple[Path, list[str]]] = []

    def loader(model_file: Path, logger_nodes: list[str]) -> SensitivityModel:
        built.append((model_file, logger_nodes))
        return _hand_model()

    locate = GroupLocator(Registry(specs, source="/srv/dma/registry.csv"), loader)
    # an 8 m3/h leak at B: only the logger at B fell, by 8 m of head
    contribs = [_contribution("P-B", -8.0 / M_PER_MPA)]
    # share of the fall explained (cos² to B's signature): B 1, D 1/2, A 0.04/1.04, C 0
    expected = "nodes: B (0 m), D (240 m), A (410 m); sensors: P-B -8.0 m"
    assert locate(DMA, AlertKind.PIPE_BURST, contribs) == expected
    assert locate(DMA, AlertKind.PIPE_BURST, contribs) == expected
    assert built == [(Path("/srv/dma/dma.inp"), ["A", "B", "C"])], "built once per group, from the registry's model"
    assert locate(DMA, AlertKind.LOW_PRESSURE, contribs) == "", "only bursts and leaks are located"


def test_a_model_that_cannot_be_built_leaves_the_sensors() -> None:
    specs = [dma_spec("P-A", SensorKind.WATER_PRESSURE, "node=A;model=missing.inp")]

    def broken(model_file: Path, logger_nodes: list[str]) -> SensitivityModel:
        raise FileNotFoundError(model_file)

    locate = GroupLocator(Registry(specs), broken)
    assert locate(DMA, AlertKind.PIPE_BURST, [_contribution("P-A", -0.05)]) == "sensors: P-A -5.1 m"


def test_the_registry_model_is_built_with_epanet_once_and_cached_beside_the_model_file(tmp_path: Path) -> None:
    import shutil

    import wntr

    shutil.copyfile(Path(wntr.__file__).parent / "library" / "networks" / "Net1.inp", tmp_path / "net1.inp")
    specs = [
        dma_spec(f"P-{n}", SensorKind.WATER_PRESSURE, f"node={n};model=net1.inp") for n in ("10", "12", "22", "31")
    ]
    locate = GroupLocator(Registry(specs, source=str(tmp_path / "registry.csv")))
    where = locate(DMA, AlertKind.PIPE_BURST, [_contribution("P-22", -0.03), _contribution("P-12", -0.01)])
    nodes, sensors = where.split("; ")
    assert re.fullmatch(r"nodes: \S+ \(0 m\), \S+ \(\d+ m\), \S+ \(\d+ m\)", nodes), where
    assert sensors == "sensors: P-22 -3.1 m, P-12 -1.0 m"
    assert len(list(tmp_path.glob("sensitivity-*.npz"))) == 1, "cached beside the model for the next start"
