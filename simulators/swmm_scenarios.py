"""Named drainage scenarios on SWMM hydraulics (registered in :data:`lifeline.simulators.scenarios.SCENARIOS`).

``swmm-1y``, ``swmm-5y``, ``swmm-20y``, ``swmm-50y``: 12 h around a 2-h Chicago design storm of that
return period (:mod:`lifeline.simulators.rainfall`), starting 3–5 h in (25–42 % of the length, by seed),
over three catchments;
``swmm-recorded``: three days of recorded-style rain (dry spells, stratiform rain, convective bursts);
``swmm-dry``: a dry day, where no alert is expected. The same name and seed give the same numbers; the
SWMM results are cached on disk (:mod:`lifeline.simulators.swmm_model`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lifeline.simulators.city import Builder, CityPlan
from lifeline.simulators.rainfall import BLOCK_MIN, GENERIC_FORMULA, chicago_hyetograph, recorded_style_rain
from lifeline.simulators.swmm_drainage import SwmmDrainage
from lifeline.simulators.swmm_model import LOW_POINTS, MANHOLES

if TYPE_CHECKING:
    from lifeline.simulators.scenarios import Networks

__all__ = ["RETURN_PERIODS_Y", "SWMM_SCENARIOS", "SwmmPlan", "SwmmScenarioSpec"]

RETURN_PERIODS_Y = (1, 5, 20, 50)
STORM_MIN = 120


@dataclass(frozen=True)
class SwmmPlan(CityPlan):
    """A city plan of SWMM catchments only (its ``sensor_count`` counts them; the other lifelines are empty)."""

    swmm_catchments: int = 3

    @property
    def sensor_count(self) -> int:
        """Sensors per catchment: a rain gauge, the manholes and the low points."""
        return super().sensor_count + self.swmm_catchments * (1 + len(MANHOLES) + len(LOW_POINTS))


_PLAN = SwmmPlan(gas_mains=0, regulators=0, dmas=0, catchments=0, bridges=0, swmm_catchments=3)


@dataclass(frozen=True)
class SwmmScenarioSpec:
    """What :class:`lifeline.simulators.scenarios.ScenarioDef` needs, without importing it (no import cycle)."""

    name: str
    description: str
    plan: CityPlan
    duration_s: float
    recipe: Callable[[Builder, Networks], None]
    injects: str


def design_storm_rain(b: Builder, return_period_y: float) -> np.ndarray:
    """The city's rain (5-min blocks): dry, then a 2-h Chicago storm starting at 25–42 % of the scenario
    (3 to 5 h into the default 12 h), then dry; a scenario shorter than the storm's end cuts it off."""
    blocks = np.zeros(-(-b.duration_ms // (BLOCK_MIN * 60_000)))
    first = round(blocks.size * b.rng.uniform(0.25, 0.42))
    storm = chicago_hyetograph(GENERIC_FORMULA, return_period_y=return_period_y, duration_min=STORM_MIN)
    end = min(blocks.size, first + storm.size)
    if end > first:
        blocks[first:end] = storm[: end - first]
    return blocks


def _design(return_period_y: int) -> Callable[[Builder, Networks], None]:
    def recipe(b: Builder, n: Networks) -> None:
        plan = b.plan
        assert isinstance(plan, SwmmPlan)
        SwmmDrainage(b, design_storm_rain(b, return_period_y), catchments=plan.swmm_catchments)

    return recipe


def _recorded(b: Builder, n: Networks) -> None:
    plan = b.plan
    assert isinstance(plan, SwmmPlan)
    rain = recorded_style_rain(np.random.default_rng((b.seed, 4111)), hours=b.duration_ms / 3_600_000)
    SwmmDrainage(b, rain, catchments=plan.swmm_catchments)


def _dry(b: Builder, n: Networks) -> None:
    plan = b.plan
    assert isinstance(plan, SwmmPlan)
    SwmmDrainage(b, np.zeros(0), catchments=plan.swmm_catchments)


_SENSORS = "rain gauge, 4 manhole levels, underpass + street-sag ponding per catchment"
SWMM_SCENARIOS: tuple[SwmmScenarioSpec, ...] = (
    *(
        SwmmScenarioSpec(
            f"swmm-{p}y",
            f"3 catchments on SWMM hydraulics (pyswmm) in a {p}-year 2-h Chicago design storm; {_SENSORS}",
            _PLAN,
            12 * 3600,
            _design(p),
            f"{p}-year storm ({GENERIC_FORMULA.depth_mm(STORM_MIN, p):.0f} mm in 2 h); ponding, surcharge and "
            "overflow episodes as simulated",
        )
        for p in RETURN_PERIODS_Y
    ),
    SwmmScenarioSpec(
        "swmm-recorded",
        f"3 catchments on SWMM hydraulics over 3 days of recorded-style rain (dry spells, bursts); {_SENSORS}",
        _PLAN,
        72 * 3600,
        _recorded,
        "seeded rain events (stratiform and convective); ponding, surcharge and overflow episodes as simulated",
    ),
    SwmmScenarioSpec(
        "swmm-dry",
        f"3 catchments on SWMM hydraulics through a dry day (dry-weather flow only); {_SENSORS}",
        _PLAN,
        24 * 3600,
        _dry,
        "nothing: no alert is expected",
    ),
)
