"""A bounded, fair queue for slow work (password checks): no sockets, no threads.

Work is queued per key (the room a password is for) and taken round-robin across keys, so
one room under a guessing attack delays a check for another room by at most one check per
busy room. Each address may have one item queued or running, each key `per_key` and the
whole queue `total`; past a budget, `push` refuses with the seconds to wait, estimated from
how long recent items took.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ocm_core.errors import OCMError


class QueueFull(OCMError):
    """Refused for now; `seconds` is a fair guess of when trying again can succeed."""

    def __init__(self, seconds: int, why: str):
        super().__init__(why)
        self.seconds = seconds


@dataclass
class _Item:
    key: Hashable
    address: str
    work: Any


class FairQueue:
    def __init__(self, *, per_key: int = 4, total: int = 32, workers: int = 1):
        self.per_key, self.total, self.workers = per_key, total, workers
        self._queues: collections.OrderedDict[Hashable, collections.deque[_Item]] = collections.OrderedDict()
        self._addresses: set[str] = set()  # queued or running
        self._queued = 0
        self.item_seconds = 0.1  # moving average of how long an item takes

    def __len__(self) -> int:
        return self._queued

    def _wait(self, ahead: int) -> int:
        return max(1, math.ceil((ahead + 1) * self.item_seconds / self.workers))

    def push(self, key: Hashable, address: str, work: Any) -> None:
        if address in self._addresses:
            raise QueueFull(self._wait(1), "a password from your address is still being checked")
        queue = self._queues.get(key)
        if queue is not None and len(queue) >= self.per_key:
            raise QueueFull(self._wait(len(queue)), "many passwords for this room are being checked")
        if self._queued >= self.total:
            raise QueueFull(self._wait(self._queued), "many passwords are being checked")
        if queue is None:
            queue = self._queues[key] = collections.deque()
        queue.append(_Item(key, address, work))
        self._addresses.add(address)
        self._queued += 1

    def pop(self) -> tuple[str, Any] | None:
        """The next item, taking keys in turn; (address, work), or None when empty.
        Call `done(address)` when its work is finished."""
        if not self._queues:
            return None
        key, queue = next(iter(self._queues.items()))
        item = queue.popleft()
        self._queued -= 1
        del self._queues[key]
        if queue:
            self._queues[key] = queue  # to the back: other keys go first
        return item.address, item.work

    def done(self, address: str, seconds: float) -> None:
        """`address`'s item finished after `seconds`: it may queue again, and waits are re-estimated."""
        self._addresses.discard(address)
        self.item_seconds = 0.8 * self.item_seconds + 0.2 * seconds
