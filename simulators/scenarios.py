"""Named scenarios and the public API: ``build(name, seed, duration_s, start) -> Scenario``.

>>> scenario = build("smoke", seed=7)
>>> len(scenario.registry) > 200, scenario.duration_s
(True, 3600.0)
>>> chunk = next(scenario.chunks())
>>> bool((chunk.ts_ms[1:] >= chunk.ts_ms[:-1]).all())
True

A :class:`Scenario` has the sensor ``registry``, the ``ground_truth`` rows, the deliberately
``bad_messages`` and :meth:`Scenario.chunks`, which yields the readings window by window in
event-time order as numpy arrays (``sensor_index`` into ``sensor_ids``, ``ts_ms``, ``value``) plus
high-rate ``batches``. The same name, seed, duration and start always give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lifeline.models import SensorKind, SensorSpec, datetime_to_ms
from lifeline.registry import Registry, write_registry
from lifeline.simulators.badmessages import BadMessage, make_bad_messages
from lifeline.simulators.bridge import BridgeNetwork
from lifeline.simulators.city import Builder, CityPlan
from lifeline.simulators.drainage import DrainageNetwork, Storm
from lifeline.simulators.engine import Engine, ReadingChunk
from lifeline.simulators.exceptions import BadDurationError, UnknownScenarioError
from lifeline.simulators.faults import inject_faults
from lifeline.simulators.gas import GasNetwork
from lifeline.simulators.groundtruth import GroundTruthRow
from lifeline.simulators.swmm_scenarios import SWMM_SCENARIOS
from lifeline.simulators.timebase import DEFAULT_START, HOUR_MS, parse_start
from lifeline.simulators.water import WaterNetwork

__all__ = ["SCENARIOS", "Networks", "Scenario", "ScenarioDef", "build", "scenario_names"]


@dataclass
class Networks:
    """The four lifelines of a city under construction, handed to a scenario recipe."""

    gas: GasNetwork
    water: WaterNetwork
    drainage: DrainageNetwork
    bridge: BridgeNetwork
    ponding_targets_cm: list[float] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)


Recipe = Callable[[Builder, Networks], None]


@dataclass(frozen=True)
class ScenarioDef:
    """A named scenario: its city plan, default length, what it injects (``recipe``) and a summary."""

    name: str
    description: str
    plan: CityPlan
    duration_s: float
    recipe: Recipe
    injects: str
    bad_messages: bool = False
    #: chunk length (s) when raw channels dominate the volume; ``None``: one chunk per window (1 h)
    chunk_s: int | None = None
    #: sensors, when the plan does not say (scenarios that add their own sensors)
    sensor_count: int | None = None
    #: readings before the start can be made (:meth:`Scenario.history`): not for a hydraulic model's run, which
    #: starts at the scenario's start
    has_history: bool = True


class Scenario:
    """A built scenario: registry, ground truth, bad messages, and readings by window (see module doc)."""

    def __init__(
        self, definition: ScenarioDef, seed: int, builder: Builder, engine: Engine, truth: list[GroundTruthRow],
        bad: list[BadMessage],
    ) -> None:  # fmt: skip
        self.definition = definition
        self.name = definition.name
        self.seed = seed
        self.start_ms = builder.start_ms
        self.end_ms = builder.end_ms
        self.sensors: list[SensorSpec] = builder.sensors
        self.sensor_ids: list[str] = [s.sensor_id for s in builder.sensors]
        self.registry = Registry(builder.sensors, source=f"scenario:{definition.name}")
        self.ground_truth = truth
        self.bad_messages = bad
        self.engine = engine

    @property
    def duration_s(self) -> float:
        """Scenario length in seconds."""
        return (self.end_ms - self.start_ms) / 1000

    def chunks(self) -> Iterator[ReadingChunk]:
        """Readings window by window (one hour of event time by default), each sorted by event time."""
        return self.engine.chunks()

    def history(self, hours: float) -> Iterator[ReadingChunk]:
        """Readings of the ``hours`` before the start (whole windows, oldest first), as a deployed detector would
        have seen them: the same sensors and lasting conditions, no incident or fault of the scenario, noise
        of their own (the scenario's readings do not change). Not part of the ground truth.

        Raises:
            ValueError: the scenario's readings come from a hydraulic model's run, which has no history.
        """
        if not self.definition.has_history:
            raise ValueError(f"scenario {self.name!r} has no history: its hydraulic model runs from its start")
        return self.engine.history(hours)

    def arrays(self) -> Iterator[tuple[object, object, object]]:
        """The single readings only, as ``(sensor_index, ts_ms, value)`` numpy arrays per chunk."""
        for chunk in self.chunks():
            yield chunk.sensor_index, chunk.ts_ms, chunk.value

    def bad_messages_between(self, t0_ms: int, t1_ms: int) -> list[BadMessage]:
        """Bad messages to be sent in ``[t0_ms, t1_ms)``."""
        return [m for m in self.bad_messages if t0_ms <= m.emit_at_ms < t1_ms]

    def estimated_readings(self) -> int:
        """Readings the scenario produces (before dropouts), for progress bars."""
        return self.engine.estimated_readings()

    def write_registry(self, path: str | Path) -> None:
        """Write the sensor registry CSV."""
        write_registry(self.sensors, path)


def scenario_names() -> list[str]:
    """Names of every scenario, in listing order."""
    return list(SCENARIOS)


def scenario_definition(name: str) -> ScenarioDef:
    """A named scenario, or ``water:<file.inp>``: 30 days of any EPANET model with leaks, like ``water-net3``.

    Raises:
        UnknownScenarioError: neither a known name nor ``water:`` with a readable ``.inp`` file.
    """
    if name in SCENARIOS:
        return SCENARIOS[name]
    if name.startswith(WATER_FILE_PREFIX):
        from lifeline.simulators.hydraulic import add_model_file

        try:
            network = add_model_file(name.removeprefix(WATER_FILE_PREFIX))
        except (OSError, ValueError) as exc:
            raise UnknownScenarioError(name, scenario_names(), why=str(exc)) from exc
        return ScenarioDef(
            name, f"the EPANET model {name.removeprefix(WATER_FILE_PREFIX)} simulated by wntr at 5-min steps",
            _HYDRAULIC, 30 * 86400, _hydraulic(network),
            "bursts 3–30 m³/h and incipient leaks (5 and 3 per 30 days); loggers at a third of the junctions",
            has_history=False,
        )  # fmt: skip
    raise UnknownScenarioError(name, scenario_names())


def build(
    name: str, seed: int = 7, duration_s: float | None = None, start: str | int | datetime = DEFAULT_START
) -> Scenario:
    """Build a named scenario (:func:`scenario_definition`). ``start`` is an aware ISO time, datetime, or epoch ms."""
    definition = scenario_definition(name)
    seconds = definition.duration_s if duration_s is None else duration_s
    if not seconds > 0:
        raise BadDurationError(str(duration_s), "it must be a positive length of time")
    start_ms = _start_ms(start)
    builder = Builder(definition.plan, start_ms, start_ms + round(seconds * 1000), seed)
    networks = Networks(GasNetwork(builder), WaterNetwork(builder), DrainageNetwork(builder), BridgeNetwork(builder))
    definition.recipe(builder, networks)
    networks.drainage.finish(networks.ponding_targets_cm)
    inject_faults(builder, networks.faults, networks.drainage.incident_sensors())
    bad: list[BadMessage] = []
    bad_rows: list[GroundTruthRow] = []
    if definition.bad_messages:
        bad, bad_rows = make_bad_messages(builder.sensors, builder.start_ms, builder.end_ms)
    chunk_ms = None if definition.chunk_s is None else definition.chunk_s * 1000
    engine = Engine(builder.blocks, builder.effects, builder.start_ms, builder.end_ms, seed, chunk_ms)
    rows = [row for pending in builder.truths if (row := pending(engine)) is not None] + bad_rows
    rows.sort(key=lambda r: r.start_ms)
    truth = [_with_id(row, n) for n, row in enumerate(rows, start=1)]
    return Scenario(definition, seed, builder, engine, truth, bad)


def _with_id(row: GroundTruthRow, number: int) -> GroundTruthRow:
    return GroundTruthRow(
        f"GT-{number:04d}", row.label, row.kind, row.expected_tier, row.lifeline, row.asset_id, row.group_id,
        row.sensor_ids, row.start_ms, row.end_ms, row.detail, row.dlq_reason,
    )  # fmt: skip


def _start_ms(start: str | int | datetime) -> int:
    if isinstance(start, datetime):
        return datetime_to_ms(start)
    if isinstance(start, int):
        return start
    return parse_start(start)


# ----------------------------------------------------------------------------- recipes


def _smoke(b: Builder, n: Networks) -> None:
    n.gas.inject_leak(b.when(0.15), plateau_lel=70.0)
    n.water.inject_burst(b.when(0.35), drop_mpa=0.13, surge_fraction=0.6, hours=2.0)
    n.gas.boost_biogas(1)
    n.gas.add_biogas_truths()
    n.faults = {"stuck": 1, "spike": 1}


def _gas(b: Builder, n: Networks) -> None:
    n.gas.inject_leak(b.when(0.3, 0.5), plateau_lel=70.0)
    n.gas.inject_leak(b.when(0.5, 0.5), plateau_lel=32.0)
    n.gas.inject_leak(b.when(0.6, 0.5), plateau_lel=14.0)
    n.gas.boost_biogas(4)
    n.gas.add_biogas_truths()
    n.gas.open_cover(b.when(0.4, 1.0), minutes=40)
    n.gas.open_cover(b.when(0.7, 1.0), minutes=25)
    n.faults = dict.fromkeys(("stuck", "drift", "spike", "dropout", "saturation", "offset"), 1)


def _gas_rupture(b: Builder, n: Networks) -> None:
    # three days of history first: the time-of-day profiles of pressure and flow judge from the fourth day
    # (docs/domain.md#gas-pressure-time-of-day-3σ-and-rupture); local time is UTC+8, so day 4 starts at 08:00
    day4 = b.start_ms + 72 * HOUR_MS
    n.gas.inject_station_rupture(day4 + int(0.7 * HOUR_MS), regulator=0, drop=0.18, surge=0.7, hours=3.0)
    n.gas.inject_regulator_hunting(day4 + 2 * HOUR_MS, regulator=1, amplitude=0.04, period_s=130.0, hours=4.0)
    n.gas.inject_regulator_creep(day4 + 4 * HOUR_MS, regulator=2, rate_per_h=0.025, hours=9.0, hold_h=3.0)
    n.gas.inject_main_rupture(day4 + int(7.3 * HOUR_MS), drop=0.15, plateau_lel=32.0, hours=3.0)
    n.gas.boost_biogas(2)
    n.gas.add_biogas_truths()


def _water(b: Builder, n: Networks) -> None:
    n.water.inject_burst(b.when(0.3, 1.0), drop_mpa=0.13, surge_fraction=0.8, hours=3.0)
    n.water.inject_burst(b.when(0.7, 1.0), drop_mpa=0.07, surge_fraction=0.25, hours=2.0)
    n.water.inject_background_leak(b.start_ms - 12 * HOUR_MS, noise_rise_db=10.0, mnf_growth_per_day=0.03)
    n.water.inject_hydrant_use(b.when(0.45, 2.0), minutes=20)
    n.water.inject_hydrant_use(b.when(0.85, 2.0), minutes=15)
    n.water.inject_pump_switching(b.when(0.2, 2.0), hours=4)
    n.water.inject_pump_switching(b.when(0.6, 2.0), hours=3)
    n.faults = dict.fromkeys(("stuck", "drift", "spike", "dropout", "saturation", "offset"), 1)


def _drainage(b: Builder, n: Networks) -> None:
    n.drainage.add_storm(Storm(b.when(0.25), hours=3.0, peak_mm_h=90.0))
    n.drainage.block_inlet()
    n.ponding_targets_cm = [18.0, 31.0, 46.0]
    n.faults = dict.fromkeys(("stuck", "drift", "spike", "dropout", "saturation", "offset"), 1)


def _bridge(b: Builder, n: Networks) -> None:
    # a day of history first: the bearing rule predicts each bearing from its own hourly profile of the
    # previous days (docs/domain.md#bearings-and-expansion-joints); the events fall in the last 6 h
    day = b.start_ms + 24 * HOUR_MS
    n.bridge.inject_overload(day + 3 * HOUR_MS, minutes=40, load_ratio=1.05)
    n.bridge.inject_overload(day + int(4.5 * HOUR_MS), minutes=25, load_ratio=0.72)
    n.bridge.inject_bearing_jam(day + int(1.5 * HOUR_MS))
    n.faults = dict.fromkeys(("stuck", "drift", "spike", "dropout", "saturation", "offset"), 1)


def _storm_day(b: Builder, n: Networks) -> None:
    n.drainage.add_storm(Storm(b.when(0.25), hours=3.5, peak_mm_h=95.0))
    n.drainage.add_storm(Storm(b.when(0.7), hours=1.0, peak_mm_h=25.0))
    n.drainage.block_inlet()
    n.ponding_targets_cm = [18.0, 31.0, 46.0]
    n.water.inject_pump_switching(b.when(0.4), hours=3)
    n.gas.add_biogas_truths()
    n.faults = {"dropout": 3, "spike": 2, "stuck": 1}


def _quiet_day(b: Builder, n: Networks) -> None:
    n.gas.boost_biogas(5)
    n.gas.add_biogas_truths()
    n.gas.open_cover(b.when(0.4, 2.0), minutes=45)
    n.gas.open_cover(b.when(0.6, 2.0), minutes=30)
    n.water.inject_hydrant_use(b.when(0.45, 3.0), minutes=20)
    n.water.inject_hydrant_use(b.when(0.8, 2.0), minutes=30)
    n.water.inject_pump_switching(b.when(0.3, 2.0), hours=5)
    n.water.inject_pump_switching(b.when(0.65, 2.0), hours=3)
    n.faults = {"stuck": 4, "drift": 4, "spike": 6, "dropout": 4, "saturation": 2, "offset": 3}


def _hefei(b: Builder, n: Networks) -> None:
    n.gas.inject_leak(b.when(0.3), plateau_lel=70.0)
    n.gas.inject_leak(b.when(0.6), plateau_lel=30.0)
    n.water.inject_burst(b.when(0.4), drop_mpa=0.13, surge_fraction=0.6, hours=2.0)
    n.bridge.inject_overload(b.when(0.5), minutes=30, load_ratio=1.05)
    n.gas.add_biogas_truths()
    n.faults = {"stuck": 40, "drift": 40, "spike": 80, "dropout": 40, "saturation": 10, "offset": 20}


def _load_10k(b: Builder, n: Networks) -> None:
    n.gas.inject_leak(b.when(0.3), plateau_lel=70.0)
    n.water.inject_burst(b.when(0.4), drop_mpa=0.13, surge_fraction=0.6, hours=2.0)
    n.bridge.inject_overload(b.when(0.5), minutes=30, load_ratio=1.05)
    n.gas.add_biogas_truths()
    n.faults = {"stuck": 5, "drift": 5, "spike": 8, "dropout": 5, "saturation": 1, "offset": 3}


#: ``water:<file.inp>`` names a scenario of any EPANET model (:func:`scenario_definition`)
WATER_FILE_PREFIX = "water:"


def _hydraulic(network: str) -> Recipe:
    def recipe(b: Builder, n: Networks) -> None:
        from lifeline.simulators.hydraulic import install

        install(b, network)

    return recipe


_ALL_FAULTS = "1 of each fault type"
#: a plan without synthetic assets: the hydraulic scenarios add their own sensors
_HYDRAULIC = CityPlan(gas_mains=0, regulators=0, dmas=0, catchments=0, bridges=0)
#: docs/domain.md#load-model mix: 10 % of the bridge channels raw at 50 Hz, batched at the edge every 1 s
_LOAD_85K = CityPlan.for_sensor_total(85_000, raw_fraction=0.10, high_rate_batch_s=1)
_LOAD_10K = CityPlan.for_sensor_total(11_000, raw_fraction=0.10, high_rate_batch_s=1)
_MEDIUM = CityPlan.for_sensor_total(3000)
SCENARIOS: dict[str, ScenarioDef] = {
    d.name: d
    for d in (
        ScenarioDef(
            "smoke",
            "tiny and fast, for end-to-end tests: all four lifelines, 1 h",
            CityPlan(
                gas_mains=8,
                wells_per_main=8,
                regulators=2,
                dmas=4,
                catchments=4,
                bridges=2,
                intervals_s={
                    SensorKind.CH4_LEL: 300,
                    SensorKind.WELL_TEMPERATURE: 300,
                    SensorKind.COVER_TILT: 600,
                    SensorKind.WATER_PRESSURE: 60,
                    SensorKind.WATER_FLOW: 60,
                },
            ),
            3600,
            _smoke,
            "gas leak T1, pipe burst T1, biogas look-alike, stuck + spike faults, 6 bad messages",
            bad_messages=True,
        ),
        ScenarioDef(
            "gas",
            "gas mains and wells: leaks that spread, biogas, covers opened",
            CityPlan(
                gas_mains=40,
                wells_per_main=10,
                regulators=4,
                dmas=0,
                catchments=0,
                bridges=0,
                intervals_s={SensorKind.COVER_TILT: 600},
            ),
            12 * 3600,
            _gas,
            f"3 gas leaks (aimed at T1/T2/T3), 4 strong-biogas wells, 2 covers opened; {_ALL_FAULTS}",
        ),
        ScenarioDef(
            "gas-rupture",
            "gas mains, regulators and key-main pressure loggers over four days: three days of history for the "
            "time-of-day profiles, then ruptures and regulator faults",
            CityPlan(
                gas_mains=12,
                wells_per_main=8,
                regulators=4,
                main_pressure_every=3,
                dmas=0,
                catchments=0,
                bridges=0,
                intervals_s={SensorKind.CH4_LEL: 300, SensorKind.COVER_TILT: 600},
            ),
            4 * 86400,
            _gas_rupture,
            "2 ruptures (drop + flow surge, drop + gas in a well: T1), a regulator creep (T2), a hunting "
            "regulator ±4 % (T3), 2 strong-biogas wells",
        ),
        ScenarioDef(
            "water",
            "DMAs over two days: bursts, a background leak, hydrants, pump switching",
            CityPlan(gas_mains=0, regulators=0, dmas=20, catchments=0, bridges=0),
            48 * 3600,
            _water,
            f"2 bursts (T1, T2), 1 background leak, 2 hydrant uses, 2 pump switchings; {_ALL_FAULTS}",
        ),
        ScenarioDef(
            "drainage",
            "catchments in a rainstorm: surcharge, overflow, ponding 15/27/40 cm, a blocked inlet",
            CityPlan(gas_mains=0, regulators=0, dmas=0, catchments=20, bridges=0),
            12 * 3600,
            _drainage,
            f"90 mm/h storm, ponding steps 18/31/46 cm, 1 blocked inlet, overflows by rule; {_ALL_FAULTS}",
        ),
        ScenarioDef(
            "bridge",
            "bridges with 10-min channels and 50 Hz accelerometer batches: a day of history, then overload and "
            "bearing jam",
            CityPlan(gas_mains=0, regulators=0, dmas=0, catchments=0, bridges=6, high_rate_channels_per_bridge=1),
            30 * 3600,
            _bridge,
            f"overloads (T1, ~T3), 1 bearing jam; {_ALL_FAULTS}",
        ),
        ScenarioDef(
            "storm-day",
            "a mid-size city through a summer rainstorm day",
            _MEDIUM,
            24 * 3600,
            _storm_day,
            "95 mm/h storm + 25 mm/h shower, ponding 18/31/46 cm, blocked inlet, pump switching; dropouts, spikes",
        ),
        ScenarioDef(
            "quiet-day-with-faults",
            "a mid-size city on a quiet day: no incidents, only look-alikes and faults",
            _MEDIUM,
            24 * 3600,
            _quiet_day,
            "no incidents; biogas, 2 covers, 2 hydrants, 2 pump switchings; 23 faults of all six types",
        ),
        ScenarioDef(
            "hefei-scale-load",
            "Hefei scale (~85,000 devices) for load tests, with the docs/domain.md mix: 10 % of the bridge channels "
            "are 50 Hz raw accelerometers sent as 1-s batches",
            _LOAD_85K,
            3600,
            _hefei,
            "2 gas leaks, 1 burst, 1 overload, biogas; 230 faults",
            chunk_s=60,
        ),
        ScenarioDef(
            "load-10k",
            "~10,000 devices with the Hefei load mix (raw 50 Hz bridge channels in 1-s batches), for the "
            "dataflow throughput benchmark",
            _LOAD_10K,
            3600,
            _load_10k,
            "1 gas leak, 1 burst, 1 overload, biogas; 27 faults",
            chunk_s=60,
        ),
        ScenarioDef(
            "water-net3",
            "EPANET Net3 (92 junctions, 2 pumps, 3 tanks) simulated by wntr for 30 days at 5-min steps",
            _HYDRAULIC,
            30 * 86400,
            _hydraulic("net3"),
            "5 bursts 3–30 m³/h, 3 incipient leaks growing over days (some never repaired); pumps under tank "
            "controls; 31 pressure loggers, source/tank meters, tank levels, pump states (cached after the first run)",
            sensor_count=42,
            has_history=False,
        ),
        ScenarioDef(
            "water-net1",
            "EPANET Net1 (9 junctions, 1 pump, 1 tank) simulated by wntr for 30 days at 5-min steps",
            _HYDRAULIC,
            30 * 86400,
            _hydraulic("net1"),
            "5 bursts 3–30 m³/h, 3 incipient leaks growing over days (some never repaired); the pump under the "
            "tank's level controls; 4 pressure loggers, pump/tank meters, tank level, pump state (cached)",
            sensor_count=9,
            has_history=False,
        ),
        ScenarioDef(
            "water-net2",
            "EPANET Net2 (35 junctions, 1 tank, fed by one supply node, here a reservoir) simulated by wntr for "
            "30 days at 5-min steps; no detector setting was chosen on it",
            _HYDRAULIC,
            30 * 86400,
            _hydraulic("net2"),
            "5 bursts 3–30 m³/h, 3 incipient leaks growing over days (some never repaired); 12 pressure "
            "loggers, supply/tank meters, tank level (cached)",
            sensor_count=16,
            has_history=False,
        ),
        ScenarioDef(
            "water-ky4",
            "EPANET ky4 (959 junctions, 2 pumps, 4 tanks; a Kentucky utility network) simulated by wntr for "
            "30 days at 5-min steps; no detector setting was chosen on it",
            _HYDRAULIC,
            30 * 86400,
            _hydraulic("ky4"),
            "5 bursts 3–30 m³/h, 3 incipient leaks growing over days (some never repaired); pumps under tank "
            "controls; 320 pressure loggers, pump/tank meters, tank levels, pump states (cached)",
            sensor_count=333,
            has_history=False,
        ),
    )
}
#: drainage on SWMM hydraulics (simulators/swmm_scenarios.py)
SCENARIOS.update(
    {
        s.name: ScenarioDef(s.name, s.description, s.plan, s.duration_s, s.recipe, s.injects, has_history=False)
        for s in SWMM_SCENARIOS
    }
)
