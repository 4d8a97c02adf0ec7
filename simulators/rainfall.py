"""Rainfall for the hydraulic drainage scenarios: design storms and recorded-style rain, in 5-min blocks.

A **design storm** is a Chicago hyetograph (Keifer and Chu, 1957) built from a storm intensity formula
of the Chinese standard form (GB 50014)::

    i = A1 (1 + C lg P) / (t + b)^n      i in mm/min, t the duration in min, P the return period in years

The defaults (:data:`GENERIC_FORMULA`: A1 = 21.56, i.e. q = 3600 L/(s·ha), C = 0.76, b = 14, n = 0.84) are
generic values of the magnitude published for cities of the Yangtze–Huai plain; they are **not** the
official formula of any city (docs/domain.md#hydraulic-drainage-scenarios-swmm). A 2-h storm then brings
about 42 mm for P = 1 year, 65 mm for 5, 84 mm for 20 and 97 mm for 50 years.

**Recorded-style** rain (:func:`recorded_style_rain`) is a seeded alternation of dry spells and rain
events: light stratiform events and short convective bursts, each a sequence of 5-min intensities with
gusty, correlated fluctuation and brief lulls, like a tipping-bucket record.

>>> storm = chicago_hyetograph(GENERIC_FORMULA, return_period_y=1.0, duration_min=120)
>>> storm.size, round(float(storm.sum() * 5 / 60), 1)
(24, 42.3)
>>> int(storm.argmax())  # the peak block sits at 40 % of the storm
9
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lifeline.simulators.engine import Floats

__all__ = ["BLOCK_MIN", "GENERIC_FORMULA", "StormFormula", "chicago_hyetograph", "recorded_style_rain"]

#: length of one rainfall block (the rain gauge interval of the SWMM model), minutes
BLOCK_MIN = 5


@dataclass(frozen=True, kw_only=True)
class StormFormula:
    """A storm intensity formula ``i = a1 (1 + c lg P) / (t + b)^n`` (i in mm/min, t in min, P in years)."""

    a1: float
    c: float
    b: float
    n: float

    def intensity_mm_min(self, duration_min: float, return_period_y: float) -> float:
        """Mean intensity (mm/min) of the storm of ``duration_min`` with return period ``return_period_y``."""
        return float(self.a1 * (1 + self.c * math.log10(return_period_y)) / (duration_min + self.b) ** self.n)

    def depth_mm(self, duration_min: float, return_period_y: float) -> float:
        """Depth (mm) of that storm: intensity × duration."""
        return self.intensity_mm_min(duration_min, return_period_y) * duration_min


#: generic parameters of the GB 50014 form (see the module docstring); not a city's official formula
GENERIC_FORMULA = StormFormula(a1=3600.0 / 167.0, c=0.76, b=14.0, n=0.84)


def chicago_hyetograph(
    formula: StormFormula, *, return_period_y: float, duration_min: int = 120, peak_fraction: float = 0.4
) -> Floats:
    """Intensities (mm/h) of 5-min blocks of a Chicago design storm; the peak at ``peak_fraction``.

    Any window of length t centred on the peak (in proportion ``peak_fraction``) holds exactly the
    formula's depth for duration t; the blocks are differences of that cumulative curve.
    """
    r = peak_fraction
    edges = np.arange(0, duration_min + BLOCK_MIN, BLOCK_MIN, dtype=np.float64)
    peak_at = r * duration_min

    def cumulative(s: float) -> float:
        before = r * formula.depth_mm(duration_min, return_period_y)
        if s <= peak_at:
            left = (peak_at - s) / r
            return before - (r * formula.depth_mm(left, return_period_y) if left > 0 else 0.0)
        return before + (1 - r) * formula.depth_mm((s - peak_at) / (1 - r), return_period_y)

    depth = np.array([cumulative(float(s)) for s in edges])
    blocks: Floats = np.diff(depth) * 60.0 / BLOCK_MIN
    return blocks


def recorded_style_rain(rng: np.random.Generator, *, hours: float, dry_start_h: float = 6.0) -> Floats:
    """Intensities (mm/h) of 5-min blocks over ``hours``: dry spells and bursty rain events.

    The first ``dry_start_h`` hours are dry. Dry spells last 2–12 h; an event is either stratiform
    (60 %: 1–5 h, peaks 4–20 mm/h) or a convective burst (40 %: 30–100 min, peaks 50–180 mm/h). Within an
    event the envelope rises and falls, multiplied by log-normal AR(1) gusts, with 5-min lulls.
    """
    blocks = round(hours * 60 / BLOCK_MIN)
    rain = np.zeros(blocks)
    at = round(dry_start_h * 60 / BLOCK_MIN)
    while at < blocks:
        convective = rng.random() < 0.4
        minutes = rng.uniform(30, 100) if convective else rng.uniform(60, 300)
        peak = rng.uniform(50, 180) if convective else rng.uniform(4, 20)
        length = max(2, round(minutes / BLOCK_MIN))
        rain[at : at + length] = _event(rng, length, peak, peak_fraction=rng.uniform(0.2, 0.6))[: blocks - at]
        at += length + round(rng.uniform(2, 12) * 60 / BLOCK_MIN)
    return rain


def _event(rng: np.random.Generator, length: int, peak_mm_h: float, peak_fraction: float) -> Floats:
    """One rain event of ``length`` blocks: a triangular-ish envelope × correlated gusts, with lulls."""
    x = (np.arange(length) + 0.5) / length
    envelope = np.where(x < peak_fraction, x / peak_fraction, (1 - x) / (1 - peak_fraction)) ** 1.5
    gust = np.empty(length)
    level = 0.0
    for k in range(length):
        level = 0.6 * level + rng.normal(0.0, 0.35)
        gust[k] = math.exp(level)
    lull = rng.random(length) < 0.08
    event: Floats = np.where(lull, 0.0, peak_mm_h * envelope * gust / max(1.0, float(gust.max())))
    return np.round(event, 2)
