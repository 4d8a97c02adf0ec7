"""The unit of work of the dataflow: one consume batch of one Kafka partition.

Kept apart from the Kafka source so that validation and the stages can take it without importing
Bytewax or the Kafka client.
"""

from __future__ import annotations

import msgspec

__all__ = ["RawBatch"]


class RawBatch(msgspec.Struct, frozen=True, gc=False):
    """Messages from one consume call on one partition: payloads with their offsets and Kafka times."""

    partition: int
    payloads: list[bytes]
    offsets: list[int]
    kafka_ts: list[int]
    idle: bool = False  # True: the partition holds nobody back (caught up with its end, or declared stalled)
    end: bool = False  # True: a finite run's partition reached its stop offset; nothing more will come
    stalled: bool = False  # True (with idle): unread messages, but none delivered for the stall timeout
