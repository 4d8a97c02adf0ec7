"""A bounded memory of recently seen message keys, for consumers of at-least-once topics.

``lifeline.alerts`` and ``lifeline.dlq`` are written at-least-once: after a crash the flow re-sends what
it produced since its last snapshot (one epoch, ``LIFELINE_EPOCH_INTERVAL_S``), so a duplicate follows
its original closely in the topic. Consumers recognise them by a key:

* alert events: ``(alert_id, event, ts)`` (:attr:`lifeline.models.AlertEvent.dedup_key`, also the
  ``alert_events`` table's dedup keys);
* DLQ entries: ``(topic, partition, offset, item)`` of the refused input (the ``rejects`` table's keys).

:class:`RecentKeys` remembers the last ``size`` distinct keys (a 16-byte BLAKE2b digest each, about
100 bytes of memory per key with the containers), so its memory is bounded whatever the stream's length.
A duplicate arriving more than ``size`` distinct keys after its original is not recognised.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Hashable

__all__ = ["RecentKeys"]


class RecentKeys:
    """The last ``size`` distinct keys seen (first in, first out)."""

    def __init__(self, *, size: int) -> None:
        self.size = size
        self._order: deque[bytes] = deque()
        self._keys: set[bytes] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable) -> bool:
        """Remember ``key``; True when it is new, False when it was seen within the window."""
        digest = hashlib.blake2b(repr(key).encode(), digest_size=16).digest()
        if digest in self._keys:
            return False
        self._keys.add(digest)
        self._order.append(digest)
        if len(self._order) > self.size:
            self._keys.discard(self._order.popleft())
        return True
