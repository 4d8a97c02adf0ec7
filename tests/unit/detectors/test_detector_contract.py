"""The flows ↔ detectors seam: :class:`Detectors` satisfies the :class:`DetectorSuite` contract."""

from __future__ import annotations

import inspect

from lifeline.detectors import Detectors, DetectorSuite
from lifeline.models import SensorKind, SensorSpec
from lifeline.registry import Registry


def _detectors() -> Detectors:
    spec = SensorSpec("G-1", SensorKind.CH4_LEL, "W-1", "owner", "district", 31.8, 117.2, group_id="GM")
    return Detectors(Registry([spec]))


def test_detectors_satisfy_the_contract_statically_and_at_run_time() -> None:
    suite: DetectorSuite = _detectors()  # statically: engine._SATISFIES_CONTRACT, checked by the mypy run
    assert isinstance(suite, DetectorSuite)


def test_contract_names_exactly_what_the_dataflow_calls() -> None:
    members = {name for name, _ in inspect.getmembers(DetectorSuite, inspect.isfunction) if not name.startswith("_")}
    assert members == {
        "new_sensor_state", "process_sensor", "screen_runs", "advance_sensor",
        "group_of", "new_group_state", "process_group",
    }  # fmt: skip


def test_an_object_missing_a_method_is_no_detector_suite() -> None:
    class Partial:
        def new_sensor_state(self, sensor_id: str) -> None: ...

    assert not isinstance(Partial(), DetectorSuite)
