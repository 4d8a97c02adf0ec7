"""Drainage on SWMM hydraulics: catchments whose sensors read a ``pyswmm`` run of the project's model.

Each catchment is one run of :mod:`lifeline.simulators.swmm_model` under the city's rain (scaled per
catchment). Its sensors: a rain gauge (mean intensity over the reporting interval before each report),
four manhole level gauges (SWMM node depth, m above invert) and two ponding gauges (the depth of the
low points' storage nodes, in cm: an underpass ``UP01`` and a street sag ``LP02``).

Ground truth is one row per **episode**, read from the noise-free signal at the sensor's sample times
(the rules of docs/domain.md#drainage-and-waterlogging, each tier needing 2 consecutive reports as the
detectors do):

* waterlogging: a wet spell (≥ 1 cm, gaps under 1 h merged) whose depth reaches 15 cm; the row spans the
  reports at ≥ 15 cm; T3 ≥ 15, T2 ≥ 27, T1 ≥ 40 cm or ≥ 25 cm rising > 5 cm per 5 min (the report after
  a fast rise counts while the level stays above the middle of that rise);
* overflow: a spell at or above the pipe crown (surcharge); T2 within 0.5 m of the ground or rising
  > 0.2 m per 5 min above the crown, T1 within 0.1 m of the ground; the detail gives the volume SWMM
  reports as flooding at that manhole (water leaving the sewer);
* rainstorm: a wet spell of the gauge (gaps under 6 h merged): T3 ≥ 20 mm/h, T2 ≥ 50 mm in 6 h,
  T1 ≥ 100 mm in 3 h.

Dry weather gives no rows: nothing there should raise an alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from lifeline.models import AlertKind, Lifeline, SensorKind, ms_to_datetime
from lifeline.simulators.city import Asset, Builder
from lifeline.simulators.drainage import PONDING_STEPS_CM, rise_per_5min
from lifeline.simulators.engine import Block, Floats, Ints, Rows
from lifeline.simulators.groundtruth import GroundTruthRow
from lifeline.simulators.rainfall import BLOCK_MIN
from lifeline.simulators.swmm_model import LOW_POINTS, MANHOLES, CatchmentModel, SwmmRun, build_inp, simulate
from lifeline.simulators.timebase import HOUR_MS, LOCAL_UTC_OFFSET_H, MINUTE_MS

__all__ = ["OWNER", "Spell", "SwmmDrainage", "episode_tier", "ponding_spells", "spells"]

OWNER = "hefei-drainage"
#: ponding: ≥25 cm rising >5 cm per 5 min is T1; manhole: >0.2 m per 5 min above the crown is T2
_PONDING_RISE = (25.0, 5.0)
_MANHOLE_RISE_M = 0.2
_RAIN_T3_MM_H, _RAIN_T2_MM_6H, _RAIN_T1_MM_3H = 20.0, 50.0, 100.0
_WET_CM = 1.0
_DEAD_BAND_CM = 0.5


@dataclass(frozen=True)
class _Catchment:
    catchment_id: str
    run: SwmmRun
    rain_mm_h: Floats  # 1-min grid


class SwmmDrainage:
    """Catchments driven by SWMM; ``rain_mm_h`` is the city's rain in 5-min blocks from the scenario start."""

    def __init__(self, b: Builder, rain_mm_h: Floats, *, catchments: int, cache_dir: Path | None = None) -> None:
        self.b = b
        minutes = -(-b.duration_ms // MINUTE_MS)
        blocks = np.zeros(-(-minutes // BLOCK_MIN))
        blocks[: min(blocks.size, rain_mm_h.size)] = rain_mm_h[: blocks.size]
        local_minute = int((b.start_ms // MINUTE_MS + LOCAL_UTC_OFFSET_H * 60) % 1440)
        self.catchments: list[_Catchment] = []
        self.swmm_seconds = 0.0
        self.runs_from_cache = 0
        folder = cache_dir if cache_dir is not None else _default_cache()
        for c in range(catchments):
            model = CatchmentModel.sample(b.rng)
            scaled = np.round(blocks * b.rng.uniform(0.9, 1.1), 3)
            run = simulate(build_inp(model, scaled, minutes, local_minute), minutes, folder)
            self.swmm_seconds += run.seconds
            self.runs_from_cache += run.cached
            self.catchments.append(_Catchment(f"SC-{c + 1:02d}", run, np.repeat(scaled, BLOCK_MIN)[: minutes + 1]))
        self._add_sensors()

    # ----------------------------------------------------------------- sensors

    def _add_sensors(self) -> None:
        b = self.b
        self.rain: list[int] = []
        self.manholes: list[tuple[int, int, str]] = []  # (sensor, catchment, node)
        self.ponds: list[tuple[int, int, str]] = []
        for c, ca in enumerate(self.catchments):
            centre = b.place()
            self.rain.append(b.add(
                Asset(f"{ca.catchment_id}-RG", "rain_gauge", OWNER, ca.catchment_id, centre), "R", SensorKind.RAIN,
                thresholds={"t3_mm_h": _RAIN_T3_MM_H, "t2_mm_3h": 50.0, "t1_mm_3h": _RAIN_T1_MM_3H},
            ))  # fmt: skip
            for m in MANHOLES:
                at = centre.offset(*b.rng.uniform(-500.0, 500.0, 2))
                sensor = b.add(
                    Asset(f"{ca.catchment_id}-MH-{m.node}", "manhole", OWNER, ca.catchment_id, at), "L",
                    SensorKind.MANHOLE_LEVEL, design_value=m.ground_depth_m, max_value=7.0,
                    thresholds={"crown_m": m.crown_m, "t2_m": round(m.ground_depth_m - 0.5, 3),
                                "t1_m": round(m.ground_depth_m - 0.1, 3)},
                )  # fmt: skip
                self.manholes.append((sensor, c, m.node))
            for k, lp in enumerate(LOW_POINTS):
                at = centre.offset(*b.rng.uniform(-500.0, 500.0, 2))
                prefix = "UP" if lp.asset_kind == "underpass" else "LP"
                sensor = b.add(
                    Asset(f"{ca.catchment_id}-{prefix}{k + 1:02d}", lp.asset_kind, OWNER, ca.catchment_id, at), "D",
                    SensorKind.PONDING_DEPTH, max_value=300.0, thresholds=dict(PONDING_STEPS_CM),
                )  # fmt: skip
                self.ponds.append((sensor, c, lp.node))
        b.add_block("swmm.rain", self.rain, SensorKind.RAIN, self._rain_values, 1)
        b.add_block("swmm.manhole", [s for s, _, _ in self.manholes], SensorKind.MANHOLE_LEVEL, self._level_values, 3)
        b.add_block("swmm.ponding", [s for s, _, _ in self.ponds], SensorKind.PONDING_DEPTH, self._ponding_values, 1)
        self._level_grid = np.stack([self.catchments[c].run.depth_m[node] for _, c, node in self.manholes])
        self._pond_grid = 100.0 * np.stack([self.catchments[c].run.depth_m[node] for _, c, node in self.ponds])
        rain_cum = np.stack([np.concatenate([[0.0], np.cumsum(ca.rain_mm_h / 60.0)]) for ca in self.catchments])
        self._rain_cum = rain_cum  # mm fallen by each minute boundary
        self._add_truths()

    def _grid(self, grid: Floats, rows: Rows, ts_ms: Ints) -> Floats:
        """Linear interpolation of a 1-min grid (row per sensor) at ``ts_ms``."""
        x = np.clip((ts_ms - self.b.start_ms) / MINUTE_MS, 0.0, grid.shape[1] - 1.0)
        lo = np.minimum(x.astype(np.int64), grid.shape[1] - 2)
        frac = x - lo
        values: Floats = grid[rows[:, None], lo] * (1 - frac) + grid[rows[:, None], lo + 1] * frac
        return values

    def _rain_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Mean rain intensity (mm/h) over the reporting interval before each report; 5 % gauge noise."""
        interval_min = self.b.interval_ms(SensorKind.RAIN) / MINUTE_MS
        now = self._grid(self._rain_cum, rows, ts_ms)
        before = self._grid(self._rain_cum, rows, ts_ms - int(interval_min * MINUTE_MS))
        values: Floats = np.clip((now - before) * 60.0 / interval_min, 0.0, None)
        if rng is not None:
            values = np.clip(values * (1 + rng.normal(0.0, 0.05, values.shape)), 0.0, None)
        return values

    def _level_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Manhole level, m above invert (5 mm gauge noise)."""
        values = self._grid(self._level_grid, rows, ts_ms)
        return values if rng is None else values + rng.normal(0.0, 0.005, values.shape)

    def _ponding_values(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        """Road ponding depth, cm (3 mm gauge noise while wet). Below the gauge's 5 mm dead band it reads 0:
        the millimetre SWMM leaves in a storage node after the gullies have drained is no ponding."""
        values = self._grid(self._pond_grid, rows, ts_ms)
        values = np.where(values < _DEAD_BAND_CM, 0.0, values)
        if rng is not None:
            values = np.clip(values + rng.normal(0.0, 0.3, values.shape) * (values > 0.0), 0.0, None)
        return values

    # ----------------------------------------------------------------- ground truth

    def _add_truths(self) -> None:
        blocks = {block.name: block for block in self.b.blocks}
        for c in range(len(self.rain)):
            self._truths(blocks["swmm.rain"], c, c, AlertKind.RAINSTORM, _rain_spells, "")
        for row, (_sensor, c, node) in enumerate(self.manholes):
            t = self.b.sensor(_sensor).thresholds
            rule = partial(_manhole_spells, crown=t["crown_m"], t2=t["t2_m"], t1=t["t1_m"])
            self._truths(blocks["swmm.manhole"], row, c, AlertKind.OVERFLOW, rule, node)
        for row, (_sensor, c, _node) in enumerate(self.ponds):
            self._truths(blocks["swmm.ponding"], row, c, AlertKind.WATERLOGGING, ponding_spells, "")

    def _truths(self, block: Block, row: int, c: int, kind: AlertKind, rule: SpellRule, node: str) -> None:
        """Ground-truth rows of one sensor, from its noise-free values at its sample times (no effects are
        injected into these blocks, so the block's value function is the whole signal)."""
        b, ca = self.b, self.catchments[c]
        spec = b.sensor(int(block.sensors[row]))
        times = np.arange(b.start_ms + int(block.offsets_ms[row]), b.end_ms, block.interval_ms, dtype=np.int64)
        values = block.values(np.array([row], dtype=np.intp), times[None, :], None)[0]
        step = block.interval_ms
        for spell in rule(values, step):
            start, end = int(times[spell.first]), min(int(times[spell.end - 1]) + step, b.end_ms)
            peak_at = spell.wet_first + int(values[spell.wet_first : spell.wet_end].argmax())
            wet = f"{_hhmm(int(times[spell.wet_first]))} to {_hhmm(int(times[spell.wet_end - 1]) + step)}"
            if kind is AlertKind.OVERFLOW:
                first, last = (start - b.start_ms) // MINUTE_MS, (end - b.start_ms) // MINUTE_MS + 1
                volume = float(ca.run.flooding_m3_s[node][first:last].sum() * 60.0)
                note = f"overflow {volume:.0f} m3 at {node}" if volume >= 1.0 else f"surcharge at {node}, no flooding"
            elif kind is AlertKind.WATERLOGGING:
                note = f"ponding episode {wet} (≥{_WET_CM:g} cm)"
            else:
                rain_mm = float(values[spell.wet_first : spell.wet_end].sum() * step / HOUR_MS)
                note = f"rain {wet}, {rain_mm:.0f} mm"
            row_ = GroundTruthRow(
                id="", label="incident", kind=kind.value, expected_tier=spell.tier, lifeline=Lifeline.DRAINAGE.value,
                asset_id=spec.asset_id, group_id=ca.catchment_id, sensor_ids=(spec.sensor_id,),
                start_ms=start, end_ms=end, detail=f"SWMM: {note}; peak {float(values[peak_at]):.2f} {spec.unit} "
                f"at {_hhmm(int(times[peak_at]))}",
            )  # fmt: skip
            b.add_truth(_fixed(row_))


@dataclass(frozen=True)
class Spell:
    """An episode: the reports it spans (``first``..``end`` exclusive), its tier, the whole wet spell."""

    first: int
    end: int
    tier: str
    wet_first: int
    wet_end: int


SpellRule = Callable[[Floats, int], list[Spell]]


def _fixed(row: GroundTruthRow) -> Callable[[object], GroundTruthRow]:
    """A pending truth that is already known (computed from the SWMM results, not from the engine)."""
    return lambda _engine: row


def _default_cache() -> Path:
    """``LIFELINE_CACHE_DIR`` (default ``~/.cache/lifeline``): SWMM results go to its ``swmm/`` folder."""
    from lifeline.settings import get_settings

    return get_settings().cache_dir


def _hhmm(ts_ms: int) -> str:
    return ms_to_datetime(ts_ms).strftime("%Y-%m-%d %H:%MZ")


def spells(mask: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Runs of True in ``mask`` as ``(first, end exclusive)``, merging runs separated by ≤ ``max_gap`` samples.

    >>> spells(np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 1], bool), max_gap=2)
    [(1, 6), (9, 10)]
    """
    on = np.flatnonzero(mask)
    if on.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(on) > max_gap + 1)
    starts = np.r_[on[0], on[breaks + 1]]
    ends = np.r_[on[breaks], on[-1]] + 1
    return [(int(a), int(z)) for a, z in zip(starts, ends, strict=True)]


def episode_tier(levels: Ints) -> str:
    """The most severe tier held for 2 consecutive reports; ``levels`` per report: 1..3, 0 for none.

    >>> episode_tier(np.array([3, 1, 2, 2, 0]))
    '2'
    >>> episode_tier(np.array([3, 0, 3]))
    'none'
    """
    for tier in (1, 2, 3):
        on = (levels > 0) & (levels <= tier)
        if bool((on[:-1] & on[1:]).any()):
            return str(tier)
    return "none"


def _held_rise(values: Floats, interval_ms: int, floor: float, limit: float) -> np.ndarray:
    """Reports where the level (≥ ``floor``) rose faster than ``limit`` per 5 min, or did at the report
    before and stays above the middle of that rise."""
    rise = rise_per_5min(values, interval_ms)
    fast = (values >= floor) & (rise > limit)
    lag = max(1, 300_000 // interval_ms)
    reference = np.r_[values[:lag], values[:-lag]] if values.size > lag else values
    middle = 0.5 * (values + reference)
    held = np.zeros_like(fast)
    held[1:] = fast[:-1] & (values[1:] >= middle[:-1]) & (values[1:] >= floor)
    result: np.ndarray = fast | held
    return result


def ponding_spells(values: Floats, interval_ms: int) -> list[Spell]:
    """Waterlogging episodes of a ponding series (cm) and their tiers (see the module docstring)."""
    t3, t2, t1 = PONDING_STEPS_CM["t3"], PONDING_STEPS_CM["t2"], PONDING_STEPS_CM["t1"]
    rising = _held_rise(values, interval_ms, *_PONDING_RISE)
    levels = np.where((values >= t1) | rising, 1, np.where(values >= t2, 2, np.where(values >= t3, 3, 0)))
    out = []
    for lo, hi in spells(values >= _WET_CM, max_gap=max(1, HOUR_MS // interval_ms)):
        tier = episode_tier(levels[lo:hi])
        if tier != "none":
            over = lo + np.flatnonzero(values[lo:hi] >= t3)
            out.append(Spell(int(over[0]), int(over[-1]) + 1, tier, lo, hi))
    return out


def _manhole_spells(values: Floats, interval_ms: int, *, crown: float, t2: float, t1: float) -> list[Spell]:
    rising = _held_rise(values, interval_ms, crown, _MANHOLE_RISE_M)
    levels = np.where(values >= t1, 1, np.where((values >= t2) | rising, 2, np.where(values >= crown, 3, 0)))
    out = []
    for lo, hi in spells(values >= crown, max_gap=max(1, HOUR_MS // interval_ms)):
        tier = episode_tier(levels[lo:hi])
        if tier != "none":
            out.append(Spell(lo, hi, tier, lo, hi))
    return out


def _rain_spells(values: Floats, interval_ms: int) -> list[Spell]:
    per_3h = max(1, round(3 * HOUR_MS / interval_ms))
    depth = values * interval_ms / HOUR_MS
    acc3 = np.convolve(depth, np.ones(per_3h))[: values.size]
    acc6 = np.convolve(depth, np.ones(2 * per_3h))[: values.size]
    heavy = np.where(values >= _RAIN_T3_MM_H, 3, 0)
    levels = np.where(acc3 >= _RAIN_T1_MM_3H, 1, np.where(acc6 >= _RAIN_T2_MM_6H, 2, heavy))
    out = []
    for lo, hi in spells(values > 0.05, max_gap=max(1, 6 * HOUR_MS // interval_ms)):
        tiers = levels[lo:hi]
        strong = tiers[(tiers > 0) & (tiers < 3)]  # accumulations count at once, intensity needs 2 reports
        tier = str(int(strong.min())) if strong.size else episode_tier(tiers)
        if tier != "none":
            out.append(Spell(lo + int(np.flatnonzero(tiers > 0)[0]), hi, tier, lo, hi))
    return out
