"""The contract between the dataflow and the detectors: what the stages call, and what they guarantee.

Split between *logic* and *state*: a :class:`DetectorSuite` (in practice
:class:`~lifeline.detectors.engine.Detectors`) holds the registry and the configuration and is built
once per process; the per-sensor and per-group state objects it creates hold only data, so they pickle
small and fast into Bytewax snapshots (target: a few KiB per sensor).

Contract with the caller (the dataflow guarantees it):

* ``process_sensor`` receives one sensor's readings in strictly increasing event time; late and
  duplicate readings were already sent to the DLQ. Values are finite and inside the sensor's
  physical range.
* Every decision is made on **event time**, never on the wall clock. ``watermark_ms`` is the
  event-time watermark of the caller (e.g. of the Kafka partition); it only moves forward.
* ``screen_runs`` changes no state; what it returns for array ``i`` may be passed as ``quiet`` to the
  very next ``process_sensor`` call on that sensor with exactly those readings.
* ``process_group`` may receive findings from several partitions, in any interleaving; the group
  logic buffers and orders them by event time so that the same set of findings yields the same
  alert events (1 worker or N workers produce the same alerts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertEvent

from .quiet import QuietRun, QuietRuns
from .results import Finding, SensorResult
from .state import GroupState, SensorState

__all__ = ["DetectorSuite"]


@runtime_checkable
class DetectorSuite(Protocol):
    """What the dataflow needs from the detectors (see the module docstring for the guarantees)."""

    def new_sensor_state(self, sensor_id: str) -> SensorState:
        """Fresh, picklable state for one sensor."""
        ...

    def screen_runs(
        self, states: Sequence[SensorState], ts_ms: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        starts: Sequence[int], stops: Sequence[int],
    ) -> QuietRuns:  # fmt: skip
        """Screen the arrays of many sensors at once; changes no state."""
        ...

    def process_sensor(
        self, state: SensorState, ts_ms: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        quiet: QuietRun | None = None,
    ) -> SensorResult:  # fmt: skip
        """Feed one sensor's readings (strictly increasing event time, finite values)."""
        ...

    def advance_sensor(self, state: SensorState, watermark_ms: int) -> SensorResult:
        """The event-time watermark moved: close windows it passed, report silence."""
        ...

    def group_of(self, sensor_id: str) -> str:
        """The group a sensor's findings are correlated in."""
        ...

    def new_group_state(self, group_id: str) -> GroupState:
        """Fresh, picklable correlation and alarm state for one group."""
        ...

    def process_group(self, state: GroupState, findings: Sequence[Finding], watermark_ms: int) -> list[AlertEvent]:
        """Buffer findings (any arrival order) and return the alert events up to the watermark."""
        ...
