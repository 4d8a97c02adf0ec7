"""Per-partition detection on the worker that reads the partition.

Bytewax spreads the partitions of a ``FixedPartitionedSource`` over every worker of every process, but
a keyed stateful step is placed by a hash of its key: with the four keys ``"0"``–``"3"`` and two
workers, every partition's detector state landed on one worker, which then did all the detection
while the other only read Kafka and shipped the batches across (``lifeline run -p 2`` was slower
than ``-p 1``). Here each source partition runs its own :class:`~lifeline.flows.stages.PartitionStage`
step right after reading a batch, so the work of a partition stays with the worker Bytewax gave the
partition to, and the raw readings never cross a thread or process boundary.

The partition's detector state is snapshotted with its Kafka offset (one consistent snapshot per
epoch, as before), pickled at once, and not pickled again while the partition is idle.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from lifeline.flows.batch import RawBatch

__all__ = ["LocalDetectSource"]

S = TypeVar("S")  # the partition's detector state
W = TypeVar("W")  # what one batch produces

Resume = tuple[Any, bytes | None]  # (the inner partition's snapshot, the pickled detector state)


def _pickle(state: Any) -> bytes:
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


class _DetectingPartition(StatefulSourcePartition[W, Resume], Generic[S, W]):
    def __init__(
        self, inner: StatefulSourcePartition[RawBatch, Any], step: Callable[[S | None, RawBatch], tuple[S, W]],
        state: S | None, load: Callable[[bytes], Any], dump: Callable[[Any], bytes],
    ) -> None:  # fmt: skip
        self._inner = inner
        self._dump = dump
        self._step = step
        self._state = state
        self._pickled: bytes | None = None  # the last snapshot, while the state has not changed since
        self._load = load

    def next_batch(self) -> list[W]:
        out: list[W] = []
        for batch in self._inner.next_batch():
            self._state, item = self._step(self._state, batch)
            self._pickled = None
            out.append(item)
        return out

    def next_awake(self) -> datetime | None:
        return self._inner.next_awake()

    def snapshot(self) -> Resume:
        if self._pickled is None and self._state is not None:
            self._pickled = self._dump(self._state)
        return self._inner.snapshot(), self._pickled

    def close(self) -> None:
        self._inner.close()


class LocalDetectSource(FixedPartitionedSource[W, Resume], Generic[S, W]):
    """Wrap a batch source: every batch of partition ``p`` goes through ``step(state_p, batch)`` on the
    worker that reads ``p``; the items are what ``step`` returns.

    ``load`` unpickles a snapshotted state (the flow passes its upgrade-tolerant unpickler), ``dump`` pickles
    one (the flow's may compress it; default: plain pickle). A snapshot
    written by a flow that kept the state in a separate keyed step holds only the offset: the
    partition then resumes at that offset with a fresh detector state.
    """

    def __init__(
        self, inner: FixedPartitionedSource[RawBatch, Any], step: Callable[[S | None, RawBatch], tuple[S, W]],
        *, load: Callable[[bytes], Any] = pickle.loads, dump: Callable[[Any], bytes] = _pickle,
    ) -> None:  # fmt: skip
        self._inner = inner
        self._step = step
        self._load = load
        self._dump = dump

    def list_parts(self) -> list[str]:
        return self._inner.list_parts()

    def build_part(self, step_id: str, for_part: str, resume_state: Resume | int | None) -> _DetectingPartition[S, W]:
        inner_resume: Any = None
        state: S | None = None
        if isinstance(resume_state, tuple):
            inner_resume, pickled = resume_state
            state = self._load(pickled) if pickled is not None else None
        elif resume_state is not None:  # an offset snapshotted by the earlier flow shape
            inner_resume = resume_state
        part = self._inner.build_part(step_id, for_part, inner_resume)
        return _DetectingPartition(part, self._step, state, self._load, self._dump)
