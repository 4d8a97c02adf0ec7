"""Shared set-up for the validation tests."""

import numpy as np
import numpy.typing as npt

from lifeline.flows.batch import RawBatch
from lifeline.flows.validate import Accepted, SensorIndex, ValidationLimits, validate_batch
from lifeline.models import Reject, SensorKind, SensorSpec
from lifeline.registry import Registry

KAFKA_TS = 1_721_000_000_000
REGISTRY = Registry([
    SensorSpec("G", SensorKind.CH4_LEL, "W-1", "gas", "d1", 31.8, 117.2),
    SensorSpec("P", SensorKind.WATER_PRESSURE, "DMA-1", "water", "d1", 31.8, 117.2, max_value=0.8),
    SensorSpec("A", SensorKind.ACCELERATION, "BR-1", "bridge", "d2", 31.8, 117.2),
])  # fmt: skip
INDEX = SensorIndex(REGISTRY)


def call(
    payloads: list[bytes], last_ts: npt.NDArray[np.int64] | None = None
) -> tuple[Accepted, list[Reject], npt.NDArray[np.int64]]:
    """Validate ``payloads`` as one batch on partition 0 at offsets 100, 101, ..."""
    if last_ts is None:
        last_ts = np.full(len(INDEX), -1, dtype=np.int64)
    batch = RawBatch(0, payloads, [100 + i for i in range(len(payloads))], [KAFKA_TS] * len(payloads))
    accepted, rejects = validate_batch(
        batch, topic="lifeline.readings", index=INDEX, last_ts=last_ts, limits=ValidationLimits()
    )
    return accepted, rejects, last_ts
