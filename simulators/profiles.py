"""Daily and seasonal shapes shared by the lifeline models: air temperature, demand, traffic.

All functions take epoch-millisecond times (any shape) and return float arrays of the same shape.
Demand shapes are dimensionless factors around 1; their minimum falls in the small hours (02–05).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from lifeline.simulators.timebase import HOUR_MS, local_hour

__all__ = [
    "air_temperature_c",
    "gas_demand_factor",
    "lagged_temperature_c",
    "seasonal_mean_c",
    "traffic_factor",
    "water_demand_factor",
]

Floats = NDArray[np.float64]
_YEAR_MS = 365.2425 * 24 * HOUR_MS
DAILY_AMPLITUDE_C = 4.5
PEAK_HOUR = 14.5


def _bump(hour: Floats, centre: float, width: float) -> Floats:
    """A Gaussian bump on the 24 h circle."""
    d = (hour - centre + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width) ** 2)


def seasonal_mean_c(ts_ms: NDArray[np.int64] | Floats) -> Floats:
    """Daily mean air temperature of Hefei's climate: about 4 °C in January, 29 °C in late July."""
    phase = (np.asarray(ts_ms, dtype=np.float64) / _YEAR_MS) % 1.0  # 0 at 1 January (to a day)
    result: Floats = 16.5 - 12.5 * np.cos(2 * np.pi * (phase - 20.0 / 365.25))
    return result


def air_temperature_c(ts_ms: NDArray[np.int64] | Floats) -> Floats:
    """Air temperature: seasonal mean plus a daily cycle peaking mid-afternoon (14:30 local)."""
    return lagged_temperature_c(ts_ms, lag_h=0.0, damping=1.0)


def lagged_temperature_c(
    ts_ms: NDArray[np.int64] | Floats, lag_h: float | Floats, damping: float | Floats, offset_c: float | Floats = 0.0
) -> Floats:
    """A body that follows air temperature with a lag (hours) and a damped daily amplitude."""
    hour = local_hour(ts_ms)
    cycle = np.cos(2 * np.pi * (hour - PEAK_HOUR - lag_h) / 24.0)
    result: Floats = seasonal_mean_c(ts_ms) + offset_c + DAILY_AMPLITUDE_C * damping * cycle
    return result


def water_demand_factor(ts_ms: NDArray[np.int64] | Floats) -> Floats:
    """Water demand: minimum night flow around 03:00, peaks near 07:30 and 19:30."""
    h = local_hour(ts_ms)
    result: Floats = (
        0.38 + 0.95 * _bump(h, 7.5, 1.4) + 0.55 * _bump(h, 12.0, 1.5) + 0.85 * _bump(h, 19.5, 1.8)
        + 0.35 * _bump(h, 15.0, 4.0)
    )  # fmt: skip
    return result


def gas_demand_factor(ts_ms: NDArray[np.int64] | Floats) -> Floats:
    """Gas demand: cooking peaks near 07:00, 11:30 and 18:00; lowest in the small hours."""
    h = local_hour(ts_ms)
    result: Floats = 0.3 + 0.8 * _bump(h, 7.0, 1.0) + 1.0 * _bump(h, 11.5, 1.0) + 1.2 * _bump(h, 18.0, 1.2)
    return result


def traffic_factor(ts_ms: NDArray[np.int64] | Floats) -> Floats:
    """Heavy-vehicle traffic intensity: rush hours 07–09 and 17–19, quiet at night (0.1..1)."""
    h = local_hour(ts_ms)
    result: Floats = 0.1 + 0.85 * _bump(h, 8.0, 1.1) + 0.85 * _bump(h, 18.0, 1.2) + 0.35 * _bump(h, 13.0, 3.0)
    return np.minimum(result, 1.0)
