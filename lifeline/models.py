"""The domain model: readings, sensors, tiers and alert events.

Every message that crosses a process boundary is a frozen ``msgspec.Struct``: typed, immutable,
and encoded/decoded by :mod:`lifeline.codec` at C speed. Times on the wire are integer epoch
milliseconds in UTC; :func:`ms_to_datetime` turns them into aware datetimes for people.

Tier 1 (一级) is the MOST severe, tier 3 (三级) the least (see docs/domain.md#tiers-and-native-alarm-levels).

>>> Tier.T1.is_more_severe_than(Tier.T3)
True
>>> Tier.T2.label_zh
'二级'
>>> SensorKind.CH4_LEL.lifeline
<Lifeline.GAS: 'gas'>
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import msgspec

__all__ = [
    "KIND_INFO",
    "AlertEvent",
    "AlertEventType",
    "AlertKind",
    "KindInfo",
    "Lifeline",
    "Reading",
    "ReadingBatch",
    "Reject",
    "RejectReason",
    "SensorKind",
    "SensorSpec",
    "Tier",
    "datetime_to_ms",
    "ms_to_datetime",
]


class Lifeline(enum.StrEnum):
    """The four lifelines this engine watches."""

    GAS = "gas"
    WATER = "water"
    DRAINAGE = "drainage"
    BRIDGE = "bridge"


class Tier(enum.IntEnum):
    """Alert tier. ``T1`` (一级) is the most severe; a lower number is more severe."""

    T1 = 1
    T2 = 2
    T3 = 3

    @property
    def label_zh(self) -> str:
        """The Chinese label used by operations centres (一级/二级/三级)."""
        return {1: "一级", 2: "二级", 3: "三级"}[self.value]

    def is_more_severe_than(self, other: Tier) -> bool:
        """True when this tier is strictly more severe than ``other``."""
        return self.value < other.value


class KindInfo(msgspec.Struct, frozen=True):
    """Static facts about a sensor kind: its unit, lifeline and physically possible range."""

    unit: str
    lifeline: Lifeline
    physical_min: float
    physical_max: float
    description: str


class SensorKind(enum.StrEnum):
    """What a sensor measures. The unit and lifeline follow from the kind (see :data:`KIND_INFO`)."""

    # gas network and adjacent underground spaces
    CH4_LEL = "ch4_lel"
    WELL_TEMPERATURE = "well_temperature"
    WELL_HUMIDITY = "well_humidity"
    COVER_TILT = "cover_tilt"
    GAS_PRESSURE = "gas_pressure"
    GAS_FLOW = "gas_flow"
    # water supply
    WATER_PRESSURE = "water_pressure"
    WATER_FLOW = "water_flow"
    NOISE_LEVEL = "noise_level"
    TANK_LEVEL = "tank_level"
    PUMP_STATE = "pump_state"
    VALVE_STATE = "valve_state"
    # drainage and waterlogging
    RAIN = "rain"
    MANHOLE_LEVEL = "manhole_level"
    SEWER_FLOW = "sewer_flow"
    PONDING_DEPTH = "ponding_depth"
    # bridges
    STRAIN = "strain"
    DEFLECTION = "deflection"
    ACCELERATION = "acceleration"
    CRACK_WIDTH = "crack_width"
    BEARING_DISPLACEMENT = "bearing_displacement"
    PIER_TILT = "pier_tilt"
    STRUCTURE_TEMPERATURE = "structure_temperature"
    MODAL_FREQUENCY = "modal_frequency"

    @property
    def info(self) -> KindInfo:
        """Unit, lifeline and physical range of this kind."""
        return KIND_INFO[self]

    @property
    def lifeline(self) -> Lifeline:
        """The lifeline this kind of sensor belongs to."""
        return KIND_INFO[self].lifeline

    @property
    def unit(self) -> str:
        """The unit every reading of this kind is expressed in."""
        return KIND_INFO[self].unit


_G, _W, _D, _B = Lifeline.GAS, Lifeline.WATER, Lifeline.DRAINAGE, Lifeline.BRIDGE

#: Physically possible ranges: a reading outside them is rejected as ``out_of_range``
#: (not an incident). The registry may narrow them per sensor with ``min_value``/``max_value``.
KIND_INFO: dict[SensorKind, KindInfo] = {
    SensorKind.CH4_LEL: KindInfo("%LEL", _G, 0.0, 100.0, "methane in a well beside a gas main"),
    SensorKind.WELL_TEMPERATURE: KindInfo("degC", _G, -40.0, 80.0, "temperature inside the well"),
    SensorKind.WELL_HUMIDITY: KindInfo("%RH", _G, 0.0, 100.0, "relative humidity inside the well"),
    SensorKind.COVER_TILT: KindInfo("deg", _G, 0.0, 180.0, "manhole-cover tilt"),
    SensorKind.GAS_PRESSURE: KindInfo("MPa", _G, 0.0, 4.0, "network pressure at a regulator or main"),
    SensorKind.GAS_FLOW: KindInfo("Nm3/h", _G, 0.0, 1.0e6, "network flow at a station"),
    SensorKind.WATER_PRESSURE: KindInfo("MPa", _W, -0.1, 2.5, "water main pressure"),
    SensorKind.WATER_FLOW: KindInfo("m3/h", _W, 0.0, 1.0e5, "DMA inlet flow"),
    SensorKind.NOISE_LEVEL: KindInfo("dB", _W, 0.0, 140.0, "acoustic leak logger minimum noise level"),
    SensorKind.TANK_LEVEL: KindInfo("m", _W, -1.0, 100.0, "water level in a storage tank"),
    SensorKind.PUMP_STATE: KindInfo("state", _W, 0.0, 1.0, "pump running (1) or stopped (0), or relative speed"),
    SensorKind.VALVE_STATE: KindInfo("state", _W, 0.0, 1.0, "valve open fraction (1 open, 0 closed)"),
    SensorKind.RAIN: KindInfo("mm/h", _D, 0.0, 500.0, "rain intensity"),
    SensorKind.MANHOLE_LEVEL: KindInfo("m", _D, -0.5, 15.0, "water level in a manhole, from invert"),
    SensorKind.SEWER_FLOW: KindInfo("m3/h", _D, 0.0, 1.0e5, "sewer flow (Doppler)"),
    SensorKind.PONDING_DEPTH: KindInfo("cm", _D, 0.0, 300.0, "road ponding depth at a low point"),
    SensorKind.STRAIN: KindInfo("ue", _B, -5000.0, 5000.0, "girder strain (microstrain)"),
    SensorKind.DEFLECTION: KindInfo("mm", _B, -1000.0, 1000.0, "mid-span deflection"),
    SensorKind.ACCELERATION: KindInfo("m/s2", _B, -50.0, 50.0, "deck acceleration"),
    SensorKind.CRACK_WIDTH: KindInfo("mm", _B, 0.0, 20.0, "crack width"),
    SensorKind.BEARING_DISPLACEMENT: KindInfo("mm", _B, -500.0, 500.0, "bearing / joint displacement"),
    SensorKind.PIER_TILT: KindInfo("deg", _B, -10.0, 10.0, "pier tilt"),
    SensorKind.STRUCTURE_TEMPERATURE: KindInfo("degC", _B, -50.0, 90.0, "structure temperature"),
    SensorKind.MODAL_FREQUENCY: KindInfo("Hz", _B, 0.0, 100.0, "identified first modal frequency"),
}


class Reading(msgspec.Struct, frozen=True, array_like=False, gc=False):
    """One sensor sample. ``ts`` is event time in epoch milliseconds, UTC.

    ``quality`` is an optional gateway quality code (0 = good); it is stored, not interpreted.
    """

    sensor_id: str
    ts: int
    value: float
    quality: int | None = None


class ReadingBatch(msgspec.Struct, frozen=True, gc=False):
    """A block of evenly spaced samples from one high-rate channel (e.g. a 50 Hz accelerometer).

    Sample ``i`` has event time ``t0 + i * dt_ms``.
    """

    sensor_id: str
    t0: int
    dt_ms: int
    values: list[float]

    def readings(self) -> list[Reading]:
        """Expand the batch into individual readings."""
        return [Reading(self.sensor_id, self.t0 + i * self.dt_ms, v) for i, v in enumerate(self.values)]


class SensorSpec(msgspec.Struct, frozen=True):
    """A sensor as the registry describes it. Metadata lives here, never in every reading.

    ``group_id`` ties physically linked sensors together (a DMA, a gas main segment, a catchment,
    a bridge span); detectors use it for corroboration. ``thresholds`` holds per-sensor rule
    parameters (for example ``t1`` in the sensor's unit, or ``design_live_ue``); ``design_value``
    is the one design quantity most rules need (design live-load effect, set point, ground depth).
    """

    sensor_id: str
    kind: SensorKind
    asset_id: str
    owner: str
    district: str
    lat: float
    lon: float
    asset_kind: str = ""
    maintainer: str = ""
    group_id: str = ""
    interval_s: float = 300.0
    min_value: float | None = None
    max_value: float | None = None
    design_value: float | None = None
    thresholds: dict[str, float] = msgspec.field(default_factory=dict)
    #: network facts as ``name=value;…`` (``lifeline.network``): ``node=``/``link=`` in the hydraulic model,
    #: ``model=`` file of the group's hydraulic model, ``derived=`` terms of a derived meter
    network: str = ""

    @property
    def lifeline(self) -> Lifeline:
        """The lifeline, derived from the kind."""
        return self.kind.lifeline

    @property
    def fault_contact(self) -> str:
        """Who receives this sensor's ``sensor_fault`` alerts: the maintainer, else the owner."""
        return self.maintainer or self.owner

    @property
    def unit(self) -> str:
        """The unit of every reading from this sensor."""
        return self.kind.unit

    @property
    def valid_min(self) -> float:
        """Lowest value accepted as physically possible for this sensor."""
        return self.kind.info.physical_min if self.min_value is None else self.min_value

    @property
    def valid_max(self) -> float:
        """Highest value accepted as physically possible for this sensor."""
        return self.kind.info.physical_max if self.max_value is None else self.max_value


class AlertEventType(enum.StrEnum):
    """Alert lifecycle events, the only thing subscribers receive."""

    OPENED = "opened"
    ESCALATED = "escalated"
    DE_ESCALATED = "de-escalated"
    #: a sensor joined the active alert at its tier: its sensors and evidence were described again
    UPDATED = "updated"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertKind(enum.StrEnum):
    """What an alert is about. ``SENSOR_FAULT`` goes to the device maintainer, never tier 1."""

    GAS_LEAK = "gas_leak"
    GAS_PRESSURE_ANOMALY = "gas_pressure_anomaly"
    COVER_DISPLACED = "cover_displaced"
    PIPE_BURST = "pipe_burst"
    BACKGROUND_LEAK = "background_leak"
    LOW_PRESSURE = "low_pressure"
    WATERLOGGING = "waterlogging"
    OVERFLOW = "overflow"
    RAINSTORM = "rainstorm"
    BRIDGE_OVERLOAD = "bridge_overload"
    STRUCTURAL_ANOMALY = "structural_anomaly"
    SENSOR_FAULT = "sensor_fault"
    ANOMALY = "anomaly"


class AlertEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One lifecycle event of an alert, as published on ``lifeline.alerts`` and stored in QuestDB.

    ``alert_id`` is deterministic (same asset, kind and opening evidence → same id), so a replay
    produces the same ids and every sink can de-duplicate by ``(alert_id, event, ts)``.
    ``evidence`` says in words which rule fired on which numbers; ``location`` says, for a water incident of a
    DMA, where the leak most likely is (``nodes: J-123 (0 m), J-98 (240 m)`` from the group's hydraulic model,
    ``sensors: P-12 -9.2 m, P-07 -4.1 m`` otherwise; empty when nothing names a place). Messages written
    before the field existed decode with an empty location.
    """

    alert_id: str
    event: AlertEventType
    tier: Tier
    lifeline: Lifeline
    kind: AlertKind
    asset_id: str
    owner: str
    district: str
    sensor_ids: tuple[str, ...]
    started_at: int
    ts: int
    value: float
    score: float
    evidence: str
    actor: str = ""
    comment: str = ""
    location: str = ""

    @property
    def dedup_key(self) -> tuple[str, str, int]:
        """The key by which at-least-once deliveries are de-duplicated."""
        return (self.alert_id, self.event.value, self.ts)


class RejectReason(enum.StrEnum):
    """Why an input was refused. Every refused input reaches the DLQ with one of these codes."""

    MALFORMED = "malformed"  # not JSON, wrong types, missing fields
    OVERSIZE = "oversize"  # message or batch larger than the configured limit
    UNKNOWN_SENSOR = "unknown_sensor"  # sensor id not in the registry
    NON_FINITE = "non_finite"  # NaN or infinity
    OUT_OF_RANGE = "out_of_range"  # outside the sensor's physically possible range
    BAD_TIMESTAMP = "bad_timestamp"  # event time before 2000-01-01 or not plausible
    FUTURE = "future"  # event time later than the Kafka timestamp plus the tolerance
    LATE = "late"  # event time at or behind the sensor's watermark
    DUPLICATE = "duplicate"  # same sensor and event time as a reading already accepted
    INTERNAL = "internal"  # validating the message raised an unforeseen error (detail names its type)


class Reject(msgspec.Struct, frozen=True, kw_only=True):
    """A refused input as published on ``lifeline.dlq`` and stored in the ``rejects`` table.

    ``item`` is the position inside a batch message (0 for a single reading); ``payload`` is the
    original message text (decoded as UTF-8 with replacement), so nothing is lost.
    """

    reason: RejectReason
    detail: str
    sensor_id: str
    topic: str
    partition: int
    offset: int
    item: int
    kafka_ts: int
    payload: str


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds → aware UTC datetime.

    >>> ms_to_datetime(0).isoformat()
    '1970-01-01T00:00:00+00:00'
    """
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


def datetime_to_ms(moment: datetime) -> int:
    """Aware datetime → epoch milliseconds. Naive datetimes are refused: we never guess a zone.

    >>> datetime_to_ms(datetime(2024, 1, 1, tzinfo=UTC))
    1704067200000
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC) so no time zone is guessed")
    return round(moment.timestamp() * 1000)
