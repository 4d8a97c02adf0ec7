"""Scenarios built once per test session (they are deterministic, so sharing them is safe)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from lifeline.simulators.scenarios import Scenario, build

Series = dict[str, tuple[np.ndarray, np.ndarray]]


def collect(scenario: Scenario) -> Series:
    """Every single reading of a scenario, per sensor id: (ts_ms, value) arrays."""
    index, ts, value = [], [], []
    for chunk in scenario.chunks():
        index.append(chunk.sensor_index)
        ts.append(chunk.ts_ms)
        value.append(chunk.value)
    idx, t, v = np.concatenate(index), np.concatenate(ts), np.concatenate(value)
    order = np.argsort(idx, kind="stable")
    idx, t, v = idx[order], t[order], v[order]
    bounds = np.flatnonzero(np.diff(idx)) + 1
    series: Series = {}
    for part_i, part_t, part_v in zip(np.split(idx, bounds), np.split(t, bounds), np.split(v, bounds), strict=True):
        if part_i.size:
            series[scenario.sensor_ids[int(part_i[0])]] = (part_t, part_v)
    return series


_cache: dict[tuple[str, float | None], tuple[Scenario, Series]] = {}


@pytest.fixture(scope="session")
def scenario_data() -> Callable[[str, float | None], tuple[Scenario, Series]]:
    """``get(name, duration_s)`` → the built scenario (seed 7) and its readings per sensor."""

    def get(name: str, duration_s: float | None = None) -> tuple[Scenario, Series]:
        key = (name, duration_s)
        if key not in _cache:
            scenario = build(name, seed=7, duration_s=duration_s)
            _cache[key] = (scenario, collect(scenario))
        return _cache[key]

    return get
