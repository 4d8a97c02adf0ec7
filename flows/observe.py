"""What the flow tells its operators while it runs: metrics per batch and rate-limited reject logs.

Kept apart from the wiring in :mod:`lifeline.flows.dataflow` and from the stages' logic, so the
stages stay free of I/O and the wiring stays wiring.
"""

from __future__ import annotations

import logging
import time

from lifeline.flows import metrics
from lifeline.flows.stages import GroupStage, PartitionOutput, PartitionStage
from lifeline.models import AlertEvent, Reject

__all__ = ["FlowObserver", "RejectLog"]

log = logging.getLogger("lifeline.flow")


class RejectLog:
    """Logs rejected inputs with reason, sensor, partition and offset, at most ``per_minute`` per reason
    per minute (a flood of bad messages must not flood the log; the DLQ and the counters have them all)."""

    def __init__(self, per_minute: int = 10) -> None:
        self.per_minute = per_minute
        self._window: dict[str, tuple[float, int]] = {}  # reason → (minute started, records in it)

    def record(self, reject: Reject) -> None:
        """Log one reject unless its reason already used up this minute's allowance."""
        now = time.monotonic()
        reason = reject.reason.value
        started, count = self._window.get(reason, (now, 0))
        if now - started >= 60.0:
            if count > self.per_minute:
                log.info("%d more %s rejects in the last minute (see the DLQ)", count - self.per_minute, reason,
                         extra={"reason": reason, "step": "validate", "count": count - self.per_minute})  # fmt: skip
            started, count = now, 0
        self._window[reason] = (started, count + 1)
        if count < self.per_minute:
            log.info("rejected to the DLQ: %s", reject.detail, extra={
                "reason": reason, "sensor_id": reject.sensor_id or None, "step": "validate",
                "partition": reject.partition, "offset": reject.offset,
            })  # fmt: skip


class FlowObserver:
    """Exports the stages' counters and each step's outcome as Prometheus metrics and log lines."""

    def __init__(self, partition_stage: PartitionStage, group_stage: GroupStage, reject_log: RejectLog) -> None:
        self._partition_stage = partition_stage
        self._group_stage = group_stage
        self._reject_log = reject_log

    def partition_step(self, out: PartitionOutput) -> None:
        """One partition batch was processed: readings, rejects, findings, delay."""
        metrics.READINGS.inc(len(out.accepted))
        for reject in out.rejects:
            metrics.REJECTS.labels(reject.reason.value).inc()
            self._reject_log.record(reject)
        self._export_errors()
        if out.findings:
            metrics.FINDINGS.inc(len(out.findings))
        if out.kafka_ts_min:
            delay = max(time.time() - out.kafka_ts_min / 1000, 0.0)
            metrics.PROCESSING.observe(delay)
            metrics.CONSUMER_LAG.labels(str(out.partition)).set(delay * 1000)

    def group_step(self, events: list[AlertEvent]) -> None:
        """The group stage decided these alert events."""
        for e in events:
            metrics.ALERT_EVENTS.labels(str(int(e.tier)), e.kind.value, e.event.value).inc()
        metrics.LATE_FINDINGS.set(self._group_stage.late_findings)
        self._export_errors()

    def _export_errors(self) -> None:
        errors = self._partition_stage.detector_errors + self._group_stage.group_errors
        if errors:
            metrics.DETECTOR_ERRORS.set(errors)
