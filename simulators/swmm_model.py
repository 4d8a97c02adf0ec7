"""The project's SWMM catchment model, run through ``pyswmm``, with results cached on disk.

One catchment (about 25 ha of city blocks) drains through four manholes to a river outfall::

    S1 ─► J1 ──C1──► J2 ──C2──► J3 ──C4──► OF1 (outfall, free)
                      ▲          ▲
    SSAG ─► LP2 ─G2───┘          │
    SUP  ─► LP1 ─G1─► JUP ──C3───┘

``LP1`` is an underpass (a storage node 2.2 m below the street) and ``LP2`` a street sag; each collects
the runoff of its own road subcatchment and drains through its gullies (a bottom orifice, no flap gate,
so a surcharged sewer pushes water back onto the road). The depth of a low point's storage node is the
road's ponding depth. ``J1`` and ``J3`` overflow (SWMM "flooding") when full; ``J2`` and ``JUP`` are
under the low points and may pressurise (their water comes up through the gullies). Dry-weather flow
with a daily pattern enters at ``J1`` and ``J2``.

Every catchment of a scenario is this layout with its own seeded parameters (:meth:`CatchmentModel.sample`:
areas, imperviousness, roughness, gully capacity, low-point shape). :func:`simulate` writes the ``.inp``
text (:func:`build_inp`), runs it with ``pyswmm`` on a 1-minute step, and keeps the results in
``LIFELINE_CACHE_DIR/swmm/<sha256 of the .inp text>.npz``; the same text always gives the same arrays.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lifeline.simulators.engine import Floats
from lifeline.simulators.exceptions import HydraulicModelError
from lifeline.simulators.rainfall import BLOCK_MIN

__all__ = [
    "LOW_POINTS",
    "MANHOLES",
    "CatchmentModel",
    "LowPoint",
    "Manhole",
    "SwmmRun",
    "build_inp",
    "simulate",
]


@dataclass(frozen=True)
class Manhole:
    """A manhole (SWMM junction): invert elevation, depth to the ground, outgoing pipe's diameter (the crown)."""

    node: str
    invert_m: float
    ground_depth_m: float
    crown_m: float
    surcharge_m: float


@dataclass(frozen=True)
class LowPoint:
    """A road low point (SWMM storage node): road elevation, the manhole its gullies drain to, kind of place."""

    node: str
    elevation_m: float
    drains_to: str
    asset_kind: str


MANHOLES: tuple[Manhole, ...] = (
    Manhole("J1", 16.0, 3.5, 1.0, 0.0),
    Manhole("J2", 15.2, 3.6, 1.2, 1.0),
    Manhole("JUP", 13.9, 1.9, 0.5, 3.0),
    Manhole("J3", 13.5, 4.5, 1.35, 0.0),
)
LOW_POINTS: tuple[LowPoint, ...] = (
    LowPoint("LP1", 15.8, "JUP", "underpass"),
    LowPoint("LP2", 18.8, "J2", "street_low_point"),
)
#: dry-weather flow pattern by local hour (sewage and groundwater infiltration into the storm sewer)
_DWF_HOURLY = (0.5, 0.4, 0.35, 0.35, 0.4, 0.6, 0.9, 1.2, 1.3, 1.2, 1.1, 1.05,
               1.1, 1.0, 0.95, 0.95, 1.0, 1.15, 1.3, 1.35, 1.25, 1.0, 0.8, 0.6)  # fmt: skip
_FORMAT_VERSION = "1"


@dataclass(frozen=True, kw_only=True)
class CatchmentModel:
    """Seeded parameters of one catchment (defaults: the nominal layout of the module docstring)."""

    area_scale: float = 1.0
    imperv_shift_pct: float = 0.0
    roughness: float = 0.013
    #: gully opening of the underpass and of the street sag (m² of orifice)
    gully_m2: tuple[float, float] = (0.16, 0.20)
    #: ponded area per metre of depth and at the bottom (m²) of the underpass and of the sag
    pond_slope_m2: tuple[float, float] = (2000.0, 6000.0)
    pond_floor_m2: tuple[float, float] = (500.0, 400.0)
    dwf_m3_s: float = 0.01

    @classmethod
    def sample(cls, rng: np.random.Generator) -> CatchmentModel:
        """A catchment with parameters drawn around the nominal ones (±15–25 %)."""
        u = rng.uniform
        return cls(
            area_scale=u(0.85, 1.15),
            imperv_shift_pct=u(-5.0, 5.0),
            roughness=u(0.012, 0.015),
            gully_m2=(0.16 * u(0.75, 1.25), 0.20 * u(0.75, 1.25)),
            pond_slope_m2=(2000.0 * u(0.8, 1.2), 6000.0 * u(0.8, 1.2)),
            pond_floor_m2=(500.0 * u(0.8, 1.2), 400.0 * u(0.8, 1.2)),
            dwf_m3_s=0.01 * u(0.7, 1.3),
        )


@dataclass(frozen=True, eq=False)
class SwmmRun:
    """Results on a 1-minute grid (index 0 = the start): node depth (m) and flooding (m³/s), by node name."""

    depth_m: dict[str, Floats]
    flooding_m3_s: dict[str, Floats]
    #: seconds the SWMM run took (0.0 when read from the cache)
    seconds: float
    cached: bool


def build_inp(model: CatchmentModel, rain_mm_h: Floats, minutes: int, start_minute_of_day: int = 0) -> str:
    """The SWMM ``.inp`` text: ``rain_mm_h`` in 5-min blocks from the start, ``minutes`` of simulation.

    The clock starts on 2000-01-01 at ``start_minute_of_day`` (so the dry-weather pattern follows the
    scenario's local time of day); results do not depend on the date.
    """
    hh, mm = divmod(start_minute_of_day % 1440, 60)
    end_day, end_minute = divmod(start_minute_of_day % 1440 + minutes, 1440)
    eh, em = divmod(end_minute, 60)
    s = model.area_scale
    shift = model.imperv_shift_pct
    subcatchments = (
        ("S1", "J1", 8.0 * s, 65 + shift, 500, 1.0),
        ("S2", "J2", 6.0 * s, 70 + shift, 400, 0.8),
        ("S3", "J3", 7.0 * s, 60 + shift, 450, 1.0),
        ("SUP", "LP1", 1.2 * s, 95.0, 150, 3.0),
        ("SSAG", "LP2", 2.5 * s, 85 + shift / 2, 250, 1.5),
    )
    n = model.roughness
    lines = [
        "[TITLE]", "Lifeline catchment model (generated)", "",
        "[OPTIONS]", "FLOW_UNITS CMS", "INFILTRATION HORTON", "FLOW_ROUTING DYNWAVE", "LINK_OFFSETS DEPTH",
        "START_DATE 01/01/2000", f"START_TIME {hh:02d}:{mm:02d}:00",
        "REPORT_START_DATE 01/01/2000", f"REPORT_START_TIME {hh:02d}:{mm:02d}:00",
        f"END_DATE 01/{1 + end_day:02d}/2000", f"END_TIME {eh:02d}:{em:02d}:00",
        "DRY_DAYS 3", "REPORT_STEP 00:05:00", "WET_STEP 00:01:00", "DRY_STEP 00:05:00", "ROUTING_STEP 0:00:05",
        "ALLOW_PONDING NO", "INERTIAL_DAMPING PARTIAL", "NORMAL_FLOW_LIMITED BOTH", "VARIABLE_STEP 0.75",
        "MIN_SURFAREA 1.167", "THREADS 1", "",
        "[RAINGAGES]", f"RG1 INTENSITY 0:{BLOCK_MIN:02d} 1.0 TIMESERIES RAIN", "",
        "[SUBCATCHMENTS]",
        *(f"{name} RG1 {out} {a:.3f} {imp:.2f} {w} {sl} 0" for name, out, a, imp, w, sl in subcatchments),
        "", "[SUBAREAS]", *(f"{row[0]} 0.013 0.15 2 5 25 OUTLET" for row in subcatchments),
        "", "[INFILTRATION]", *(f"{row[0]} 75 6 4 7 0" for row in subcatchments),
        "", "[JUNCTIONS]", *(f"{m.node} {m.invert_m} {m.ground_depth_m} 0 {m.surcharge_m} 0" for m in MANHOLES),
        "", "[OUTFALLS]", "OF1 12.3 FREE NO",
        "", "[STORAGE]",
        *(f"{lp.node} {lp.elevation_m} 1.5 0 FUNCTIONAL {model.pond_slope_m2[k]:.1f} 1 {model.pond_floor_m2[k]:.1f} 0 0"
          for k, lp in enumerate(LOW_POINTS)),
        "", "[CONDUITS]",
        f"C1 J1 J2 250 {n:.4f} 0 0 0 0", f"C2 J2 J3 300 {n:.4f} 0 0 0 0",
        f"C3 JUP J3 120 {n:.4f} 0 0 0 0", f"C4 J3 OF1 300 {n:.4f} 0 0 0 0",
        "", "[ORIFICES]", *(f"G{k + 1} {lp.node} {lp.drains_to} BOTTOM 0 0.65 NO 0" for k, lp in enumerate(LOW_POINTS)),
        "", "[XSECTIONS]",
        *(f"C{k} CIRCULAR {d} 0 0 0 1" for k, d in ((1, 1.0), (2, 1.2), (3, 0.5), (4, 1.35))),
        *(f"G{k + 1} RECT_CLOSED 0.1 {model.gully_m2[k] / 0.1:.3f} 0 0" for k in range(len(LOW_POINTS))),
        "", "[DWF]", f'J1 FLOW {model.dwf_m3_s:.5f} "" "" "DAILY"', f'J2 FLOW {model.dwf_m3_s / 2:.5f} "" "" "DAILY"',
        "", "[PATTERNS]", "DAILY HOURLY " + " ".join(f"{f:g}" for f in _DWF_HOURLY),
        "", "[TIMESERIES]",
        *(f"RAIN {k * BLOCK_MIN // 60}:{k * BLOCK_MIN % 60:02d} {v:.3f}" for k, v in enumerate(rain_mm_h.tolist())),
        f"RAIN {len(rain_mm_h) * BLOCK_MIN // 60}:{len(rain_mm_h) * BLOCK_MIN % 60:02d} 0.000", "",
    ]  # fmt: skip
    return "\n".join(lines)


def simulate(inp_text: str, minutes: int, cache_dir: Path | None) -> SwmmRun:
    """Run the model (or read the cached results of the same text); results on a 1-min grid of ``minutes + 1``."""
    key = hashlib.sha256(f"{_FORMAT_VERSION}|{minutes}|{inp_text}".encode()).hexdigest()
    path = None if cache_dir is None else cache_dir / "swmm" / f"{key}.npz"
    if path is not None and path.exists():
        try:
            with np.load(path) as data:
                return SwmmRun(_unpack(data, "depth_"), _unpack(data, "flood_"), 0.0, cached=True)
        except (OSError, ValueError, zipfile.BadZipFile):
            pass  # a damaged cache file: simulate again and replace it
    run = _run(inp_text, minutes)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{key}.{os.getpid()}.tmp.npz")  # one writer per file; the rename is atomic
        arrays = {f"depth_{k}": v for k, v in run.depth_m.items()} | {
            f"flood_{k}": v for k, v in run.flooding_m3_s.items()
        }
        np.savez(partial, **arrays)  # type: ignore[arg-type]
        partial.replace(path)
    return run


def _unpack(data: np.lib.npyio.NpzFile, prefix: str) -> dict[str, Floats]:
    return {name.removeprefix(prefix): np.asarray(data[name], dtype=np.float64) for name in data.files
            if name.startswith(prefix)}  # fmt: skip


def _run(inp_text: str, minutes: int) -> SwmmRun:
    from pyswmm import Nodes, Simulation

    names = [m.node for m in MANHOLES] + [lp.node for lp in LOW_POINTS]
    depth = {name: np.zeros(minutes + 1) for name in names}
    flood = {name: np.zeros(minutes + 1) for name in names}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lifeline-swmm-") as folder:
        inp = Path(folder) / "catchment.inp"
        inp.write_text(inp_text, encoding="utf-8")
        try:
            with Simulation(str(inp)) as sim:
                nodes = Nodes(sim)
                handles = [(name, nodes[name]) for name in names]
                sim.step_advance(60)
                for minute, _ in enumerate(sim, start=1):
                    if minute > minutes:
                        break
                    for name, node in handles:
                        depth[name][minute] = node.depth
                        flood[name][minute] = node.flooding
        except Exception as exc:  # pyswmm raises its own exception types for input and run errors
            report = inp.with_suffix(".rpt")
            details = report.read_text(encoding="utf-8", errors="replace")[-2000:] if report.exists() else ""
            raise HydraulicModelError(f"SWMM could not run the catchment model: {exc}\n{details}") from exc
    return SwmmRun(depth, flood, time.perf_counter() - started, cached=False)
