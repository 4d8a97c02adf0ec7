"""Hydraulic water scenarios: EPANET networks shipped with wntr, simulated at 5-minute steps with leaks.

A network (``net3``: 92 junctions, 2 pumps, 3 tanks; ``net1``: 9 junctions, 1 pump, 1 tank; ``net2``: 35
junctions, 1 tank, one supply node; ``ky4``: 959 junctions, 2 pumps, 4 tanks, a Kentucky utility's model) is
simulated by EPANET through wntr's ``EpanetSimulator`` (the C toolkit, not wntr's pure-Python solver) for the whole
scenario at a 300 s hydraulic, pattern and report step:

* **demand**: every junction's demand follows one of 8 consumer classes (residential/commercial mixes in
  local time, a rest-day shift on weekends and China's public holidays (not on the weekend days worked in
  their place, ``simulators/holidays.py``), a yearly cycle (summer high, winter low), a day-to-day factor and an AR(1)
  fluctuation), scaled by a per-node log-normal factor;
* **pumps and tanks** run under the model's own controls (tank-level rules switch the pumps);
* **leaks** are extra demands at a junction with their own 5-minute pattern: *bursts* appear within one
  step and last until repaired (6–48 h; a quarter of them, unreported, 1–4 months); *incipient* background leaks
  grow linearly over 2–6 days to their peak and hold (half are repaired 3–10 days later, the others 1–6 months
  later: within a run of a month they are never repaired, within a year they are). Sizes 1–30 m³/h. An emitter
  would make the outflow depend on pressure (``Q = C·p^0.5``); a demand keeps the ground-truth size exact, and the
  pressure change a leak of a few m³/h causes moves an emitter's flow by well under 1 %.

Sensors: pressure loggers at a fixed third of the junctions (placement depends on the network only), flow
meters at each source (reservoir outlet, pump; a supply node is fed from a reservoir, :func:`load_model`) and
each tank's pipe, tank levels, pump states, valve states (valves, and pipes the model's controls open and
close), and the derived DMA consumption meter
(sources − tank inflows) as a registry row with ``derived=``.

A simulation is cached under ``<LIFELINE_CACHE_DIR>/hydraulic`` keyed by network, seed, start and length,
so the second build of a scenario is instant. Same seed, start and length → the same numbers.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from lifeline.models import AlertKind, Lifeline, SensorKind, SensorSpec
from lifeline.network import MeterTerm, NetworkInfo, format_network
from lifeline.simulators.city import DISTRICTS, Builder, Place
from lifeline.simulators.engine import Floats, Ints, Rows
from lifeline.simulators.exceptions import HydraulicModelError
from lifeline.simulators.groundtruth import GroundTruthRow
from lifeline.simulators.holidays import rest_day_mask
from lifeline.simulators.timebase import HOUR_MS, local_hour

if TYPE_CHECKING:
    import wntr

__all__ = [
    "NETWORKS",
    "HydraulicRun",
    "Leak",
    "add_model_file",
    "from_file",
    "install",
    "level_rate_meter",
    "load_model",
    "model_path",
    "simulate",
]

#: network name → EPANET file shipped inside wntr
NETWORKS = {"net3": "Net3.inp", "net1": "Net1.inp", "net2": "Net2.inp", "ky4": "ky4.inp"}
STEP_MS = 300_000
_CACHE_VERSION = 10  # 6: runs are checked for physical pressures before they are cached; 7: and above range;
# 8: demand follows China's public holidays (simulators/holidays.py); 9: a yearly cycle instead of a linear trend;
# 10: the leaks not repaired soon are repaired after one to six months
_DAY_MS = 86_400_000
_YEAR_DAYS = 365.2425
#: the demand's yearly cycle: its peak (days after 1 January 1970 modulo the year: about 24 July) and its mean
#: amplitude (each consumer class draws ±0.06 around it: 4–16 %, a summer-to-winter ratio of about 1.1–1.4)
_SEASON_PEAK_DAY = 204.0
_SEASON_AMPLITUDE = 0.10
_M_HEAD_TO_MPA = 0.00980665
_CLASSES = 8
OWNER = "hefei-water"


@dataclass(frozen=True)
class Leak:
    """One simulated leak: where, what shape, when, how big (ground truth)."""

    leak_id: str
    node: str
    shape: str  # "burst" or "incipient"
    start_ms: int
    peak_ms: int  # when it reached its size (= start for a burst)
    end_ms: int  # repair (or the scenario end when never repaired)
    peak_m3h: float
    repaired: bool

    def size_at(self, ts_ms: Ints) -> Floats:
        """Leak flow (m³/h) at ``ts_ms``."""
        t = np.asarray(ts_ms, dtype=np.float64)
        grow = max(self.peak_ms - self.start_ms, 1)
        if self.shape == "incipient":
            ramp: Floats = np.clip((t - self.start_ms) / grow, 0.0, 1.0)
        else:
            ramp = (t >= self.start_ms).astype(np.float64)
        size: Floats = self.peak_m3h * ramp * ((t >= self.start_ms) & (t < self.end_ms))
        return size


@dataclass
class HydraulicRun:
    """A simulated network: sensors (id, kind, model element) × 5-minute values, and the leaks."""

    network: str
    start_ms: int
    sensor_ids: list[str]
    kinds: list[SensorKind]
    elements: list[str]  # model node (pressure, level) or link (flow, state)
    values: Floats  # sensors × steps, in the kind's unit, noise-free
    leaks: list[Leak]
    derived: list[MeterTerm]  # the DMA consumption meter

    @property
    def steps(self) -> int:
        """Number of 5-minute steps."""
        return int(self.values.shape[1])

    @property
    def times_ms(self) -> Ints:
        """Start time of every step."""
        return self.start_ms + np.arange(self.steps, dtype=np.int64) * STEP_MS

    @property
    def group_id(self) -> str:
        """The DMA (group) of all sensors of this network."""
        return f"WN-{self.network.upper()}"

    def consumption(self) -> Floats:
        """The derived DMA meter (sources − tank inflows), m³/h, noise-free."""
        index = {s: i for i, s in enumerate(self.sensor_ids)}
        total: Floats = np.zeros(self.steps)
        for term in self.derived:
            total += term.sign * self.values[index[term.sensor_id]]
        return total


def level_rate_meter(run: HydraulicRun) -> tuple[MeterTerm, ...]:
    """The DMA meter of ``run`` as a utility without tank meters would write it: each tank's meter replaced by
    its level sensor's rate × the tank's area (``rate(…)*AREA``; area from the model's tank diameter)."""
    wn = load_model(run.network)
    level_of = {e: s for s, k, e in zip(run.sensor_ids, run.kinds, run.elements, strict=True)
                if k is SensorKind.TANK_LEVEL}  # fmt: skip
    element_of = dict(zip(run.sensor_ids, run.elements, strict=True))
    terms: list[MeterTerm] = []
    for term in run.derived:
        tank = element_of[term.sensor_id]
        if "-QT-" not in term.sensor_id or tank not in level_of:
            terms.append(term)
            continue
        area_m2 = math.pi * float(wn.get_node(tank).diameter) ** 2 / 4
        terms.append(MeterTerm(term.sign, level_of[tank], round(area_m2, 2)))
    return tuple(terms)


def model_path(network: str) -> Path:
    """The EPANET file of a named network (inside the installed wntr package, or added by :func:`add_model_file`)."""
    import wntr

    if network not in NETWORKS:
        raise KeyError(f"unknown network {network!r}; known: {', '.join(NETWORKS)}")
    file = Path(NETWORKS[network])
    return file if file.is_absolute() else Path(wntr.__file__).parent / "library" / "networks" / file


def add_model_file(path: str | Path) -> str:
    """Make an EPANET ``.inp`` file a network the scenarios can simulate; return its name (the file's stem).

    Its simulations are cached under the name and a digest of the file's content, so an edited file is
    simulated again.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise FileNotFoundError(f"no EPANET model at {path}")
    import wntr

    try:
        wn = wntr.network.WaterNetworkModel(str(file))
    except Exception as exc:  # wntr raises many types for a file it cannot read; the reason is in the text
        raise ValueError(f"{path} is not an EPANET model wntr can read: {exc}") from exc
    if not wn.junction_name_list:
        raise ValueError(f"{path} has no junctions: no node to put a pressure logger or a leak on")
    if not (wn.reservoir_name_list or wn.tank_name_list or _supply_nodes(wn)):
        raise ValueError(f"{path} has no reservoir, tank or supply node (a junction with a negative demand)")
    if _mean_demand(wn) <= 0:
        raise ValueError(f"{path} has no water demand (no junction with a positive base demand): nothing to meter")
    name = re.sub(r"[^a-z0-9]+", "-", file.stem.lower()).strip("-") or "model"
    taken = NETWORKS.get(name)
    if taken is not None and taken != str(file):
        raise ValueError(f"network name {name!r} (from {path}) is already {taken}; rename the file")
    NETWORKS[name] = str(file)
    return name


def from_file(network: str) -> bool:
    """Whether the network was added from an EPANET file (:func:`add_model_file`), not shipped with wntr."""
    return Path(NETWORKS[network]).is_absolute()


def _cache_key(network: str) -> str:
    """The network's name in cache file names: a file's name carries a digest of its content."""
    if not from_file(network):
        return network
    return f"{network}-{zlib.crc32(model_path(network).read_bytes()):08x}"


def load_model(network: str) -> wntr.network.WaterNetworkModel:
    """The network as the scenarios simulate it: its supply nodes turned into reservoirs (see below)."""
    import wntr

    wn = wntr.network.WaterNetworkModel(str(model_path(network)))
    _supply_as_reservoirs(wn)
    return wn


def _supply_as_reservoirs(wn: wntr.network.WaterNetworkModel) -> list[str]:
    """Feed each supply node (a junction with a negative demand) from a reservoir instead; return their names.

    A fixed inflow cannot serve a leak or a month of demand that differs from what the model was balanced
    for: the tank it feeds drains or overflows and EPANET's pressures run away (Net2: ±400,000 MPa after 30
    days). The reservoir ``SRC-<node>`` holds the mean head the node had in the model's own run and feeds it
    through a 1 m pipe ``SRC-<node>`` (diameter 1 m), which is then the source's flow meter.
    """
    import wntr

    supply = _supply_nodes(wn)
    if not supply:
        return []
    with tempfile.TemporaryDirectory(prefix="lifeline-epanet-") as folder:
        heads = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(Path(folder) / "own")).node["head"]
    for name in supply:
        junction = wn.get_node(name)
        junction.demand_timeseries_list[0].base_value = 0.0
        wn.add_reservoir(f"SRC-{name}", base_head=float(heads[name].mean()), coordinates=junction.coordinates)
        wn.add_pipe(f"SRC-{name}", f"SRC-{name}", name, length=1.0, diameter=1.0, roughness=140.0)
    return supply


def _supply_nodes(wn: wntr.network.WaterNetworkModel) -> list[str]:
    """Junctions with a negative base demand: water enters the network there."""
    return [n for n in wn.junction_name_list
            if (series := wn.get_node(n).demand_timeseries_list) and series[0].base_value < 0]  # fmt: skip


def _cache_dir() -> Path:
    from lifeline.settings import get_settings

    folder = Path(get_settings().cache_dir) / "hydraulic"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cached_model(network: str) -> Path:
    """A copy of the network's EPANET file in the cache folder (what the registry's ``model=`` names)."""
    import wntr

    target = _cache_dir() / (f"{_cache_key(network)}.inp" if from_file(network) else NETWORKS[network])
    if not target.exists():
        wn = wntr.network.WaterNetworkModel(str(model_path(network)))
        if _supply_as_reservoirs(wn):
            wntr.network.write_inpfile(wn, str(target))
        else:  # the model's own file, byte for byte
            shutil.copyfile(model_path(network), target)
    return target


def simulate(
    network: str, seed: int, start_ms: int, steps: int, *, use_cache: bool = True, with_leaks: bool = True
) -> HydraulicRun:
    """Simulate ``steps`` 5-minute steps of ``network`` from ``start_ms`` (cached on disk).

    ``with_leaks=False`` (never cached) plans the same leaks but leaves them out of the hydraulics: the
    difference between the two runs is what the leaks do.
    """
    if not with_leaks:
        return _simulate(network, seed, start_ms, steps, with_leaks=False)
    file = _cache_dir() / f"{_cache_key(network)}-s{seed}-{start_ms}-{steps}-v{_CACHE_VERSION}.npz"
    if use_cache and file.exists():
        return _load(file)
    run = _simulate(network, seed, start_ms, steps)
    if use_cache:
        _save(run, file)
    return run


def _save(run: HydraulicRun, file: Path) -> None:
    meta = {
        "network": run.network, "start_ms": run.start_ms, "sensor_ids": run.sensor_ids,
        "kinds": [k.value for k in run.kinds], "elements": run.elements,
        "leaks": [asdict(leak) for leak in run.leaks],
        "derived": [[t.sign, t.sensor_id] for t in run.derived],
    }  # fmt: skip
    partial = file.with_suffix(".partial.npz")
    np.savez_compressed(partial, values=run.values, meta=np.array(json.dumps(meta)))
    partial.replace(file)


def _load(file: Path) -> HydraulicRun:
    with np.load(file) as data:
        meta = json.loads(str(data["meta"]))
        values = np.asarray(data["values"], dtype=np.float64)
    return HydraulicRun(
        network=meta["network"], start_ms=int(meta["start_ms"]), sensor_ids=list(meta["sensor_ids"]),
        kinds=[SensorKind(k) for k in meta["kinds"]], elements=list(meta["elements"]), values=values,
        leaks=[Leak(**leak) for leak in meta["leaks"]],
        derived=[MeterTerm(float(sign), str(sid)) for sign, sid in meta["derived"]],
    )  # fmt: skip


# ----------------------------------------------------------------------------- demand and leaks


def _class_patterns(rng: np.random.Generator, times_ms: Ints) -> Floats:
    """Demand multipliers (classes × steps), mean about 1, in local time with weekday and season."""
    hour = local_hour(times_ms)
    local_day = (times_ms + 8 * HOUR_MS) // (24 * HOUR_MS)
    weekend = rest_day_mask(local_day)  # Saturdays and Sundays, China's public holidays, less the days worked
    days = (local_day - local_day[0]).astype(np.float64)
    # the year's cycle: highest in late July, lowest in late January (each class its own amplitude)
    annual = np.cos(2.0 * math.pi * (times_ms / _DAY_MS - _SEASON_PEAK_DAY) / _YEAR_DAYS)
    out = np.empty((_CLASSES, times_ms.size))
    for c in range(_CLASSES):
        commercial = rng.uniform(0.0, 0.6)
        shift = np.where(weekend, 1.2, 0.0) + rng.normal(0.0, 0.3)
        h = (hour - shift) % 24.0
        residential = (
            0.45 + 0.9 * np.exp(-0.5 * ((h - 7.5) / 1.3) ** 2) + 0.75 * np.exp(-0.5 * ((h - 19.5) / 2.0) ** 2)
            + 0.35 * np.exp(-0.5 * ((h - 12.5) / 2.5) ** 2)
        )  # fmt: skip
        office = 0.35 + 0.9 * ((hour > 8.5) & (hour < 18.0)) * np.where(weekend, 0.4, 1.0)
        curve = (1 - commercial) * residential + commercial * office
        day_factor = rng.normal(1.0, 0.03, int(days.max()) + 1)[days.astype(np.int64)]
        season = 1.0 + (_SEASON_AMPLITUDE + rng.uniform(-0.06, 0.06)) * annual
        noise = np.empty(times_ms.size)
        level = 0.0
        shocks = rng.normal(0.0, 0.02, times_ms.size)
        for i in range(times_ms.size):
            level = 0.93 * level + shocks[i]
            noise[i] = level
        out[c] = curve / curve.mean() * day_factor * season * (1.0 + noise)
    return np.clip(out, 0.05, None)


def _plan_leaks(rng: np.random.Generator, junctions: list[str], start_ms: int, steps: int) -> list[Leak]:
    """Bursts and incipient leaks after a leak-free learning week (a quarter of short runs)."""
    end_ms = start_ms + steps * STEP_MS
    span_days = steps * STEP_MS / 86_400_000
    quiet_ms = start_ms + int(min(7.0, span_days / 4) * 86_400_000)
    bursts = max(1, round(span_days / 30 * 5))
    incipient = max(1, round(span_days / 30 * 3))
    leaks: list[Leak] = []
    room = end_ms - quiet_ms
    # how long the leaks not repaired soon run (30 days or more: beyond a month's run, within a year's), drawn
    # from a generator of their own, so the leaks of a run up to a month are the same as before it had them
    late = rng.spawn(1)[0]
    slots = np.sort(rng.choice(np.arange(bursts * 2), bursts, replace=False))
    for n, slot in enumerate(slots.tolist()):
        start = quiet_ms + int((slot + rng.uniform(0.1, 0.6)) * room / (bursts * 2)) // STEP_MS * STEP_MS
        size = float(np.exp(rng.uniform(np.log(3.0), np.log(30.0))))
        repaired = rng.random() < 0.75
        hours = rng.uniform(6, 48) if repaired else late.uniform(30, 120) * 24  # unreported: 1–4 months
        end = min(start + int(hours * HOUR_MS) // STEP_MS * STEP_MS, end_ms)
        node = str(rng.choice(junctions))
        leaks.append(Leak(f"B{n + 1}", node, "burst", start, start, end, round(size, 2), end < end_ms))
    for n in range(incipient):
        start = quiet_ms + int(rng.uniform(0.0, 0.6) * room) // STEP_MS * STEP_MS
        peak = min(start + int(rng.uniform(2, 6) * 24 * HOUR_MS) // STEP_MS * STEP_MS, end_ms)
        size = float(rng.uniform(2.5, 10.0)) if n % 3 else float(rng.uniform(1.0, 2.5))
        repaired = rng.random() < 0.5
        days = rng.uniform(3, 10) if repaired else late.uniform(30, 180)  # found late: 1–6 months after its peak
        end = min(peak + int(days * 24 * HOUR_MS), end_ms)
        node = str(rng.choice(junctions))
        leaks.append(Leak(f"I{n + 1}", node, "incipient", start, peak, end, round(size, 2), end < end_ms))
    return sorted(leaks, key=lambda leak: leak.start_ms)


def _leak_pattern(leak: Leak, times_ms: Ints) -> list[float]:
    return [float(x) for x in leak.size_at(times_ms) / max(leak.peak_m3h, 1e-9)]


# ----------------------------------------------------------------------------- the simulation


def _sensors(wn: wntr.network.WaterNetworkModel, network: str) -> tuple[list[str], list[SensorKind], list[str]]:
    """Sensor ids, kinds and model elements; the placement depends on the network only."""
    prefix = network.upper()
    place_rng = np.random.default_rng(zlib.crc32(network.encode()))
    junctions = list(wn.junction_name_list)
    count = max(4, round(len(junctions) / 3))
    loggers = sorted(place_rng.choice(junctions, size=min(count, len(junctions)), replace=False).tolist(),
                     key=junctions.index)  # fmt: skip
    ids: list[str] = []
    kinds: list[SensorKind] = []
    elements: list[str] = []

    def add(sensor_id: str, kind: SensorKind, element: str) -> None:
        ids.append(sensor_id)
        kinds.append(kind)
        elements.append(element)

    for node in loggers:
        add(f"{prefix}-P-{node}", SensorKind.WATER_PRESSURE, node)
    for link in _source_links(wn):
        add(f"{prefix}-QS-{link}", SensorKind.WATER_FLOW, link)
    for tank in wn.tank_name_list:
        add(f"{prefix}-QT-{tank}", SensorKind.WATER_FLOW, tank)
        add(f"{prefix}-L-{tank}", SensorKind.TANK_LEVEL, tank)
    for pump in wn.pump_name_list:
        add(f"{prefix}-S-{pump}", SensorKind.PUMP_STATE, pump)
    for valve in [*wn.valve_name_list, *_controlled_pipes(wn)]:
        add(f"{prefix}-V-{valve}", SensorKind.VALVE_STATE, valve)
    return ids, kinds, elements


def _controlled_pipes(wn: wntr.network.WaterNetworkModel) -> list[str]:
    """Pipes the model's controls open and close (an isolation valve in practice, e.g. Net3's pipe 330)."""
    pipes = set(wn.pipe_name_list)
    found = {action.target()[0].name for _name, control in wn.controls() for action in control.actions()}
    return sorted(found & pipes)


def _source_links(wn: wntr.network.WaterNetworkModel) -> list[str]:
    """Links leaving each reservoir (supply nodes are reservoirs by then: :func:`load_model`)."""
    links: list[str] = []
    for reservoir in wn.reservoir_name_list:
        links.extend(wn.get_links_for_node(reservoir))
    return links


def _simulate(network: str, seed: int, start_ms: int, steps: int, *, with_leaks: bool = True) -> HydraulicRun:
    import wntr

    wn = load_model(network)
    ids, kinds, elements = _sensors(wn, network)
    rng = np.random.default_rng((seed, zlib.crc32(network.encode())))
    times = start_ms + np.arange(steps + 1, dtype=np.int64) * STEP_MS
    patterns = _class_patterns(rng, times)
    for c in range(_CLASSES):
        wn.add_pattern(f"LL-C{c}", [float(x) for x in patterns[c]])
    consumers = []
    target = _mean_demand(wn)
    for name in wn.junction_name_list:
        junction = wn.get_node(name)
        series = junction.demand_timeseries_list
        if series and series[0].base_value > 0:
            series[0].base_value *= float(rng.lognormal(0.0, 0.25))
            series[0].pattern_name = f"LL-C{int(rng.integers(_CLASSES))}"
            consumers.append(name)
    _rescale(wn, consumers, target)
    _daily_schedules(wn)
    leaks = _plan_leaks(rng, consumers or list(wn.junction_name_list), start_ms, steps)
    for leak in leaks if with_leaks else []:
        wn.add_pattern(f"LL-{leak.leak_id}", _leak_pattern(leak, times))
        wn.get_node(leak.node).add_demand(base=leak.peak_m3h / 3600.0, pattern_name=f"LL-{leak.leak_id}")
    opts = wn.options.time
    opts.duration = steps * STEP_MS // 1000
    opts.hydraulic_timestep = opts.pattern_timestep = opts.report_timestep = STEP_MS // 1000
    opts.quality_timestep = STEP_MS // 1000
    opts.pattern_start = 0
    opts.start_clocktime = int(((start_ms // 1000) + 8 * 3600) % 86_400)
    wn.options.quality.parameter = "NONE"
    with tempfile.TemporaryDirectory(prefix="lifeline-epanet-") as folder:
        try:
            results = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(Path(folder) / "run"))
        except Exception as exc:  # EPANET's errors come as several wntr types; the reason is in the text
            raise HydraulicModelError(f"EPANET could not simulate the network {network!r}: {exc}") from exc
    _check_physical(network, results.node["pressure"][wn.junction_name_list].to_numpy())
    values = _readings(wn, results, kinds, elements, steps)
    derived = [MeterTerm(1.0, s) for s, k in zip(ids, kinds, strict=True) if "-QS-" in s and k is SensorKind.WATER_FLOW]
    derived += [MeterTerm(-1.0, s) for s in ids if "-QT-" in s]
    return HydraulicRun(network, start_ms, ids, kinds, elements, values, leaks, derived)


_VACUUM_M = -10.33  # a pressure below a full vacuum (in metres of water) exists only in demand-driven arithmetic
_RUNAWAY_M = -1000.0
#: the share of junction-steps that may lie below a vacuum, and the share that may lie above the range
_MAX_UNPHYSICAL_SHARE = 0.01
#: the highest water-main pressure the product reads (the water_pressure kind's range, 2.5 MPa), in metres of water
_CEILING_M = SensorKind.WATER_PRESSURE.info.physical_max / _M_HEAD_TO_MPA


def _check_physical(network: str, pressure_m: Floats) -> None:
    """Refuse a run whose junction pressures (steps × junctions, m) no network can have.

    EPANET serves every demand whatever the pressure, so a junction cut off from every source (a closed
    pipe or pump, a tank run dry, a leak too large for the mains) gets pressures far below a vacuum.
    A moment below it here and there is left alone (30 days of Net3 have up to 0.12 % of their
    junction-steps so, down to −22 m; 30 days of ky10 0.5–0.8 %, down to −107 m); more than 1 % of them, or any
    below −1,000 m, is a model that does not run as a network. So is one with more than 1 % of its junction-steps
    above the highest water-main pressure the product reads (2.5 MPa, about 255 m; wntr's ``times.inp`` reaches
    9 MPa): its loggers would report readings the flow rejects as out of range.
    """
    if not np.isfinite(pressure_m).all():
        raise HydraulicModelError(f"EPANET gave non-finite pressures for the network {network!r}")
    below = float(np.mean(pressure_m < _VACUUM_M))
    lowest = float(np.min(pressure_m))
    if below > _MAX_UNPHYSICAL_SHARE or lowest < _RUNAWAY_M:
        raise HydraulicModelError(
            f"EPANET's pressures for the network {network!r} are not physical: {below:.1%} of the junction "
            f"steps are below a vacuum, the lowest {lowest:.4g} m. Some junctions get no water (a source cut "
            "off by a closed pipe, valve or pump, or a tank run dry), so demand-driven hydraulics cannot "
            "simulate them; the model should run in EPANET on its own without negative pressures"
        )
    above = float(np.mean(pressure_m > _CEILING_M))
    if above > _MAX_UNPHYSICAL_SHARE:
        raise HydraulicModelError(
            f"EPANET's pressures for the network {network!r} are beyond a water main's: {above:.1%} of the junction "
            f"steps are above {_CEILING_M:.0f} m ({SensorKind.WATER_PRESSURE.info.physical_max:g} MPa), the highest "
            f"{float(np.max(pressure_m)):.4g} m. Check the model's units (elevations and heads in feet read as "
            "metres) and its pump curves"
        )


def _mean_demand(wn: wntr.network.WaterNetworkModel) -> float:
    """The model's mean consumption (m³/s): base demands times their pattern's average."""
    total = 0.0
    for name in wn.junction_name_list:
        for entry in wn.get_node(name).demand_timeseries_list:
            if entry.base_value > 0:
                pattern = entry.pattern
                total += entry.base_value * (float(np.mean(pattern.multipliers)) if pattern is not None else 1.0)
    return total


def _rescale(wn: wntr.network.WaterNetworkModel, consumers: list[str], target: float) -> None:
    """Scale the new base demands so the network's mean consumption stays what the model was built for."""
    now = sum(wn.get_node(n).demand_timeseries_list[0].base_value for n in consumers)
    for name in consumers:
        wn.get_node(name).demand_timeseries_list[0].base_value *= target / now if now > 0 else 1.0


def _daily_schedules(wn: wntr.network.WaterNetworkModel) -> None:
    """Turn the model's one-off pump schedule (``AT TIME`` h, a week written out) into daily ``AT CLOCKTIME``."""
    from wntr.network.controls import Control, SimTimeCondition, TimeOfDayCondition

    daily: dict[tuple[int, str], Any] = {}
    for name, control in list(wn.controls()):
        if isinstance(control.condition, SimTimeCondition):
            seconds = int(control.condition._threshold) % 86_400
            for action in control.actions():
                daily.setdefault((seconds, str(action)), action)
            wn.remove_control(name)
    for n, ((seconds, _text), action) in enumerate(sorted(daily.items(), key=lambda item: item[0])):
        condition = TimeOfDayCondition(wn, "=", seconds, repeat=True)
        wn.add_control(f"daily-{n}", Control(condition, action))


def _readings(
    wn: wntr.network.WaterNetworkModel, results: Any, kinds: list[SensorKind], elements: list[str], steps: int
) -> Floats:
    pressure = results.node["pressure"]
    flow = results.link["flowrate"]
    out = np.zeros((len(kinds), steps))
    for i, (kind, element) in enumerate(zip(kinds, elements, strict=True)):
        if kind is SensorKind.WATER_PRESSURE:
            series = pressure[element].to_numpy() * _M_HEAD_TO_MPA
        elif kind is SensorKind.TANK_LEVEL:
            series = pressure[element].to_numpy()
        elif kind is SensorKind.WATER_FLOW and element in wn.tank_name_list:
            series = np.zeros(len(flow))
            for link in wn.get_links_for_node(element):
                sign = 1.0 if wn.get_link(link).end_node_name == element else -1.0
                series = series + sign * flow[link].to_numpy() * 3600.0
        elif kind is SensorKind.WATER_FLOW:
            link = wn.get_link(element)
            sign = 1.0 if link.start_node_name in wn.reservoir_name_list else -1.0
            series = sign * flow[element].to_numpy() * 3600.0
        else:  # pump or valve state: running / open when it carries flow
            series = (np.abs(flow[element].to_numpy()) > 1e-5).astype(np.float64)
        out[i] = series[:steps]
    return out


# ----------------------------------------------------------------------------- into a scenario

_NOISE = {
    SensorKind.WATER_PRESSURE: ("abs", 0.0002),  # 2 cm of head
    SensorKind.WATER_FLOW: ("rel", 0.005),
    SensorKind.TANK_LEVEL: ("abs", 0.005),
}
_DECIMALS = {SensorKind.WATER_PRESSURE: 5, SensorKind.WATER_FLOW: 2, SensorKind.TANK_LEVEL: 3}


class _RunValues:
    """A block's value function: the simulated step at each sample time, plus instrument noise."""

    def __init__(self, run: HydraulicRun, rows: list[int], kind: SensorKind) -> None:
        self.values = run.values[rows]
        self.start_ms = run.start_ms
        self.kind = kind

    def __call__(self, rows: Rows, ts_ms: Ints, rng: np.random.Generator | None) -> Floats:
        step = np.clip((ts_ms - self.start_ms) // STEP_MS, 0, self.values.shape[1] - 1)
        values: Floats = self.values[rows[:, None], step]
        noise = _NOISE.get(self.kind)
        if rng is not None and noise is not None:
            scale = noise[1] * (np.abs(values) if noise[0] == "rel" else 1.0)
            values = values + rng.normal(0.0, 1.0, values.shape) * scale
        if self.kind is SensorKind.WATER_PRESSURE:  # a logger reads no lower than a vacuum, no higher than full scale
            values = np.clip(values, self.kind.info.physical_min, self.kind.info.physical_max)
        return values


def _places(wn: wntr.network.WaterNetworkModel, centre: Place) -> dict[str, Place]:
    """Model coordinates scaled into a 4 km box around ``centre``."""
    names = list(wn.node_name_list)
    xy = np.array([wn.get_node(n).coordinates for n in names], dtype=np.float64)
    span = float(np.ptp(xy, axis=0).max()) or 1.0
    scaled = (xy - xy.mean(axis=0)) / span * 4000.0
    return {n: centre.offset(float(p[1]), float(p[0])) for n, p in zip(names, scaled, strict=True)}


def install(b: Builder, network: str) -> HydraulicRun:
    """Add a simulated network's sensors, values and ground truth to a scenario under construction."""

    steps = max(1, -(-(b.end_ms - b.start_ms) // STEP_MS))
    run = simulate(network, b.seed, b.start_ms, steps)
    wn = load_model(network)
    name, lat, lon = DISTRICTS[zlib.crc32(network.encode()) % len(DISTRICTS)]
    places = _places(wn, Place(name, lat, lon))
    group = run.group_id
    by_kind: dict[SensorKind, list[tuple[int, int]]] = {}
    for row, (sid, kind, element) in enumerate(zip(run.sensor_ids, run.kinds, run.elements, strict=True)):
        on_node = kind in (SensorKind.WATER_PRESSURE, SensorKind.TANK_LEVEL) or "-QT-" in sid
        node = element if on_node else wn.get_link(element).start_node_name
        info = NetworkInfo(node=node if on_node else "", link="" if on_node else element)
        spec = _spec(sid, kind, group, places[node], format_network(info))
        if "-QT-" in sid:  # a tank's meter is signed: negative while the tank drains (not clipped at 0)
            spec = msgspec.structs.replace(spec, min_value=-spec.valid_max)
        index = b.add_sensor(spec)
        by_kind.setdefault(kind, []).append((index, row))
    info = NetworkInfo(model=str(cached_model(network)), derived=tuple(run.derived))
    meter = b.add_sensor(_spec(f"{group}-DMA-Q", SensorKind.WATER_FLOW, group, Place(name, lat, lon),
                               format_network(info), asset_kind="dma_inlet"))  # fmt: skip
    for kind, pairs in by_kind.items():
        rows = [r for _i, r in pairs]
        b.add_block(f"hydraulic.{kind.value}", [i for i, _r in pairs], kind, _RunValues(run, rows, kind),
                    _DECIMALS.get(kind, 0))  # fmt: skip
    for leak in run.leaks:
        b.add_truth(_truth(leak, group, b.sensors[meter].sensor_id, b.end_ms))
    return run


def _asset_kind(kind: SensorKind) -> str:
    return {
        SensorKind.WATER_PRESSURE: "pressure_logger", SensorKind.WATER_FLOW: "flow_meter",
        SensorKind.TANK_LEVEL: "tank", SensorKind.PUMP_STATE: "pump", SensorKind.VALVE_STATE: "valve",
    }[kind]  # fmt: skip


def _spec(sensor_id: str, kind: SensorKind, group: str, place: Place, network: str, asset_kind: str = "") -> SensorSpec:
    return SensorSpec(
        sensor_id=sensor_id, kind=kind, asset_id=sensor_id, owner=OWNER, district=place.district,
        lat=round(place.lat, 6), lon=round(place.lon, 6), asset_kind=asset_kind or _asset_kind(kind),
        maintainer="lifeline-devices", group_id=group, interval_s=STEP_MS / 1000, network=network,
    )  # fmt: skip


def _truth(leak: Leak, group: str, meter_id: str, end_ms: int) -> Any:
    kind = AlertKind.PIPE_BURST if leak.shape == "burst" else AlertKind.BACKGROUND_LEAK
    tier = "3" if leak.shape == "incipient" else "2" if leak.peak_m3h >= 15 else "3"
    row = GroundTruthRow(
        id="", label="incident", kind=kind.value, expected_tier=tier, lifeline=Lifeline.WATER.value,
        asset_id=group, group_id=group, sensor_ids=(meter_id,), start_ms=leak.start_ms, end_ms=min(leak.end_ms, end_ms),
        detail=f"{leak.shape} leak {leak.leak_id} at node={leak.node} peak_m3h={leak.peak_m3h:g} "
        f"peak_ms={leak.peak_ms} repaired={'yes' if leak.repaired else 'no'}",
    )  # fmt: skip
    return lambda _engine: row
