"""Which accepted readings the flow stores in QuestDB: all, none, or one per sensor and time bucket."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from lifeline.flows.sinks import QuestDBBatch
from lifeline.flows.stages import PartitionOutput, PartitionState

__all__ = ["ReadingStorage"]


class ReadingStorage:
    """Turns one partition batch's output into QuestDB rows (``LIFELINE_STORE_READINGS``).

    ``downsampled`` keeps the first reading per sensor and ``bucket_ms`` (``LIFELINE_DOWNSAMPLE_MS``);
    the last stored bucket per sensor lives in the partition state, so the rows written do not depend
    on where batch boundaries fall (a replay stores the same rows).
    """

    def __init__(self, *, mode: Literal["all", "downsampled", "none"], bucket_ms: int) -> None:
        self.mode = mode
        self.bucket_ms = bucket_ms

    def rows(self, state: PartitionState, out: PartitionOutput) -> QuestDBBatch:
        """Window statistics, rejects and the readings to store, as one batch of QuestDB rows."""
        rows = QuestDBBatch(stats=out.stats, rejects=out.rejects)
        keep = self._keep(state, out)
        if keep is not None:
            accepted = out.accepted
            rows.reading_sensor, rows.reading_ts = accepted.sensor[keep], accepted.ts[keep]
            rows.reading_value, rows.reading_quality = accepted.value[keep], accepted.quality[keep]
        return rows

    def _keep(self, state: PartitionState, out: PartitionOutput) -> npt.NDArray[np.bool_] | None:
        accepted = out.accepted
        if self.mode == "none" or len(accepted) == 0:
            return None
        if self.mode == "all":
            return np.ones(len(accepted), dtype=bool)
        bucket = accepted.ts // self.bucket_ms
        if state.stored_bucket is None:
            state.stored_bucket = np.full(len(state.last_ts), -1, dtype=np.int64)
        last_bucket = state.stored_bucket
        previous = np.empty_like(bucket)
        previous[0] = last_bucket[accepted.sensor[0]]
        previous[1:] = bucket[:-1]
        new_sensor = np.ones(len(bucket), dtype=bool)
        new_sensor[1:] = accepted.sensor[1:] != accepted.sensor[:-1]
        previous[new_sensor] = last_bucket[accepted.sensor[new_sensor]]
        keep: npt.NDArray[np.bool_] = bucket != previous
        last = np.flatnonzero(np.diff(accepted.sensor, append=-1))
        last_bucket[accepted.sensor[last]] = bucket[last]
        return keep
