"""The synthetic city: districts, owners, a size plan, and the builder that collects sensors and effects.

A :class:`CityPlan` says how many of each asset to build (from a few hundred sensors to Hefei's
~85,000 devices, see :meth:`CityPlan.for_sensor_total`). The lifeline modules (:mod:`.gas`,
:mod:`.water`, :mod:`.drainage`, :mod:`.bridge`) add their sensors, value blocks, injected effects
and ground truth to a :class:`Builder`, which the scenario turns into a registry and an engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lifeline.models import SensorKind, SensorSpec
from lifeline.simulators.engine import Block, Effect, Engine, Floats, Ints, ValuesFn
from lifeline.simulators.groundtruth import GroundTruthRow

__all__ = ["DEFAULT_INTERVALS_S", "DISTRICTS", "Asset", "Builder", "CityPlan", "PendingTruth", "Place"]

#: Hefei's urban districts with an approximate centre (lat, lon).
DISTRICTS: tuple[tuple[str, float, float], ...] = (
    ("luyang", 31.878, 117.283), ("yaohai", 31.858, 117.330), ("shushan", 31.851, 117.240),
    ("baohe", 31.793, 117.309), ("gaoxin", 31.832, 117.160), ("jingkai", 31.775, 117.215),
    ("xinzhan", 31.900, 117.360), ("binhu", 31.740, 117.280),
)  # fmt: skip

#: Default reporting interval per kind (docs/domain.md#sensor-kinds-and-units and #load-model).
DEFAULT_INTERVALS_S: dict[SensorKind, float] = {
    SensorKind.CH4_LEL: 900, SensorKind.WELL_TEMPERATURE: 900, SensorKind.COVER_TILT: 3600,
    SensorKind.GAS_PRESSURE: 300, SensorKind.GAS_FLOW: 300,
    SensorKind.WATER_PRESSURE: 300, SensorKind.WATER_FLOW: 300, SensorKind.NOISE_LEVEL: 3600,
    SensorKind.TANK_LEVEL: 300, SensorKind.PUMP_STATE: 300, SensorKind.VALVE_STATE: 300,
    SensorKind.RAIN: 300, SensorKind.MANHOLE_LEVEL: 300, SensorKind.PONDING_DEPTH: 300,
    SensorKind.STRAIN: 600, SensorKind.DEFLECTION: 600, SensorKind.ACCELERATION: 600,
    SensorKind.CRACK_WIDTH: 600, SensorKind.BEARING_DISPLACEMENT: 600, SensorKind.STRUCTURE_TEMPERATURE: 600,
}  # fmt: skip

_M_PER_DEG_LAT = 111_000.0
_M_PER_DEG_LON = 111_000.0 * float(np.cos(np.radians(31.8)))


@dataclass(frozen=True)
class CityPlan:
    """How many assets of each lifeline to build. ``sensor_count`` gives the resulting sensor total."""

    gas_mains: int = 6
    wells_per_main: int = 8
    tilt_every: int = 4
    regulators: int = 2
    #: a pressure logger on every this-many-th gas main (key mains; 0: none), in the main's group with its wells
    main_pressure_every: int = 0
    dmas: int = 3
    pressure_loggers_per_dma: int = 4
    noise_loggers_per_dma: int = 3
    catchments: int = 3
    manholes_per_catchment: int = 8
    underpasses_per_catchment: int = 2
    bridges: int = 2
    channel_sets_per_bridge: int = 1
    high_rate_channels_per_bridge: int = 0
    high_rate_hz: int = 50
    #: raw channels are batched at the edge every this many seconds (docs/domain.md#load-model: 1–10 s)
    high_rate_batch_s: int = 10
    intervals_s: dict[SensorKind, float] = field(default_factory=dict)

    @property
    def sensors_per_bridge(self) -> int:
        """Aggregate channels per bridge (16 per channel set) plus high-rate channels."""
        return 16 * self.channel_sets_per_bridge + self.high_rate_channels_per_bridge

    @property
    def sensor_count(self) -> int:
        """Total number of sensors this plan builds."""
        wells = self.gas_mains * self.wells_per_main
        tilts = len(range(0, wells, self.tilt_every)) if self.tilt_every > 0 else 0
        mains = len(range(0, self.gas_mains, self.main_pressure_every)) if self.main_pressure_every > 0 else 0
        return (
            2 * wells + tilts + 2 * self.regulators + mains
            + self.dmas * (1 + self.pressure_loggers_per_dma + self.noise_loggers_per_dma)
            + self.catchments * (1 + self.manholes_per_catchment + self.underpasses_per_catchment)
            + self.bridges * self.sensors_per_bridge
        )  # fmt: skip

    def interval_s(self, kind: SensorKind) -> float:
        """Reporting interval of a kind, with this plan's overrides."""
        return self.intervals_s.get(kind, DEFAULT_INTERVALS_S[kind])

    @classmethod
    def for_sensor_total(cls, total: int, raw_fraction: float = 0.0, **overrides: object) -> CityPlan:
        """A plan of about ``total`` sensors with Hefei's mix: gas 50 %, water 15 %, drainage 20 %, bridges 15 %.

        Bridges get more channels rather than more bridges as the city grows (Hefei: 137 bridges).
        ``raw_fraction`` of the bridge channels are 50 Hz raw accelerometer channels (docs/domain.md#load-model: ~10 %);
        they count inside the bridges' 15 %.
        """
        bridges = max(1, min(137, round(total * 0.15 / 16)))
        channels = total * 0.15
        raw_per_bridge = round(channels * raw_fraction / bridges)
        sets = max(1, round((channels - raw_per_bridge * bridges) / 16 / bridges))
        wells_per_main = 12
        plan = cls(
            gas_mains=max(1, round(total * 0.5 / (2.25 * wells_per_main))),
            wells_per_main=wells_per_main,
            regulators=max(1, round(total * 0.5 / 400)),
            dmas=max(1, round(total * 0.15 / 8)),
            catchments=max(1, round(total * 0.20 / 11)),
            bridges=bridges,
            channel_sets_per_bridge=sets,
            high_rate_channels_per_bridge=raw_per_bridge,
        )
        return cls(**{**plan.__dict__, **overrides})


@dataclass(frozen=True)
class Place:
    """Where an asset or group is: district and coordinates."""

    district: str
    lat: float
    lon: float

    def offset(self, north_m: float, east_m: float) -> Place:
        """A place ``north_m`` / ``east_m`` metres away in the same district."""
        return Place(self.district, self.lat + north_m / _M_PER_DEG_LAT, self.lon + east_m / _M_PER_DEG_LON)


@dataclass(frozen=True)
class Asset:
    """A physical asset carrying sensors: a well, a logger point, a gauge, a bridge."""

    asset_id: str
    asset_kind: str
    owner: str
    group_id: str
    place: Place
    maintainer: str = "lifeline-devices"


#: A deferred ground-truth row: computed once the engine exists (noise-free evaluation of the signal).
PendingTruth = Callable[[Engine], GroundTruthRow | None]


class Builder:
    """Collects sensors (in registry order), blocks, effects and ground truth while a scenario is built."""

    def __init__(self, plan: CityPlan, start_ms: int, end_ms: int, seed: int) -> None:
        self.plan = plan
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.seed = seed
        self.rng = np.random.default_rng((seed, 1))
        self.sensors: list[SensorSpec] = []
        self.blocks: list[Block] = []
        self.effects: list[Effect] = []
        self.truths: list[PendingTruth] = []
        self._index: dict[str, int] = {}

    @property
    def duration_ms(self) -> int:
        """Scenario length in milliseconds."""
        return self.end_ms - self.start_ms

    def place(self) -> Place:
        """A random place in a random district (within about 4 km of its centre)."""
        name, lat, lon = DISTRICTS[int(self.rng.integers(len(DISTRICTS)))]
        north, east = self.rng.normal(0.0, 1800.0, 2)
        return Place(name, lat, lon).offset(float(north), float(east))

    def add_sensor(self, spec: SensorSpec) -> int:
        """Register a sensor; return its global index."""
        self._index[spec.sensor_id] = len(self.sensors)
        self.sensors.append(spec)
        return len(self.sensors) - 1

    def add(
        self,
        asset: Asset,
        suffix: str,
        kind: SensorKind,
        *,
        thresholds: dict[str, float] | None = None,
        design_value: float | None = None,
        max_value: float | None = None,
        interval_s: float | None = None,
    ) -> int:
        """Register sensor ``<asset_id>-<suffix>`` of ``kind`` on ``asset``; return its global index."""
        return self.add_sensor(
            SensorSpec(
                sensor_id=f"{asset.asset_id}-{suffix}",
                kind=kind,
                asset_id=asset.asset_id,
                owner=asset.owner,
                district=asset.place.district,
                lat=round(asset.place.lat, 6),
                lon=round(asset.place.lon, 6),
                asset_kind=asset.asset_kind,
                maintainer=asset.maintainer,
                group_id=asset.group_id,
                interval_s=self.plan.interval_s(kind) if interval_s is None else interval_s,
                max_value=max_value,
                design_value=design_value,
                thresholds=dict(thresholds or {}),
            )
        )

    def sensor(self, index: int) -> SensorSpec:
        """The spec of a sensor by global index."""
        return self.sensors[index]

    def interval_ms(self, kind: SensorKind) -> int:
        """Reporting interval of a kind in milliseconds."""
        return round(self.plan.interval_s(kind) * 1000)

    def add_block(
        self, name: str, sensors: list[int] | Ints, kind: SensorKind, values: ValuesFn, decimals: int = 3
    ) -> None:
        """Add a block of sensors of one kind; each gets a random phase within its interval (whole seconds)."""
        indices = np.asarray(sensors, dtype=np.int64)
        if indices.size == 0:
            return
        interval = self.interval_ms(kind)
        phases = self.rng.integers(0, max(interval // 1000, 1), indices.size).astype(np.int64) * 1000
        low, high = self._range(indices)
        self.blocks.append(Block(name, indices, interval, phases % interval, values, decimals, low=low, high=high))

    def _range(self, indices: Ints) -> tuple[Floats, Floats]:
        specs = [self.sensors[i] for i in indices.tolist()]
        return np.array([s.valid_min for s in specs]), np.array([s.valid_max for s in specs])

    def add_high_rate_block(self, name: str, sensors: list[int], hz: int, values: ValuesFn, batch_s: int = 10) -> None:
        """Add high-rate channels sent as batch messages of ``batch_s`` seconds."""
        if not sensors:
            return
        dt_ms = 1000 // hz
        indices = np.asarray(sensors, dtype=np.int64)
        low, high = self._range(indices)
        self.blocks.append(
            Block(
                name,
                indices,
                dt_ms,
                np.zeros(indices.size, np.int64),
                values,
                4,
                high_rate=True,
                batch_ms=batch_s * 1000,
                low=low,
                high=high,
            )
        )

    def add_effect(self, effect: Effect) -> Effect:
        """Inject an effect (order matters: later effects see earlier ones)."""
        self.effects.append(effect)
        return effect

    def add_truth(self, pending: PendingTruth) -> None:
        """Add a ground-truth row, computed when the engine exists."""
        self.truths.append(pending)

    def when(self, fraction: float, jitter_h: float = 0.0) -> int:
        """A time at ``fraction`` of the scenario, plus up to ``jitter_h`` hours of random jitter."""
        jitter = self.rng.uniform(-jitter_h, jitter_h) * 3_600_000 if jitter_h else 0.0
        return int(self.start_ms + fraction * self.duration_ms + jitter) // 1000 * 1000
