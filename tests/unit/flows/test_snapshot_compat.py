"""Recovery snapshots written before ``lifeline.detectors.api`` became ``lifeline.detectors.results`` still load."""

from __future__ import annotations

import pickle
import sys
import types

from lifeline.detectors.results import Finding
from lifeline.detectors.state import GroupState
from lifeline.flows.dataflow import load_snapshot
from lifeline.models import AlertKind, Tier

FINDING = Finding("G-1-CH4", "GW-1", "GM-1", AlertKind.GAS_LEAK, Tier.T2, 1_700_000_000_000, 30.0, 0.7, "30 %LEL", "r")


def _pickled_under_the_old_module_path(state: GroupState) -> bytes:
    """Pickle ``state`` as the previous version did: its findings' class living in ``lifeline.detectors.api``."""
    old = types.ModuleType("lifeline.detectors.api")
    old.Finding = Finding  # type: ignore[attr-defined]
    sys.modules["lifeline.detectors.api"] = old
    Finding.__module__ = "lifeline.detectors.api"
    try:
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        Finding.__module__ = "lifeline.detectors.results"
        del sys.modules["lifeline.detectors.api"]


def test_a_group_state_pickled_by_the_previous_version_loads() -> None:
    state = GroupState("GM-1")
    state.pending[("k",)] = FINDING
    data = _pickled_under_the_old_module_path(state)
    assert b"lifeline.detectors.api" in data
    loaded = load_snapshot(data)
    assert loaded.pending == {("k",): FINDING}
    assert type(loaded.pending[("k",)]) is Finding
