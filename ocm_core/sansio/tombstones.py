"""What a server remembers of tokens that ended: why, for a while, so that a late datagram
or a member coming back is told what happened instead of a bare "unknown". No I/O."""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass

from ocm_core import words

TOMBSTONE_SECONDS = 600.0  # how long a closed room's tokens still get "room closed" answers
TOMBSTONE_LIMIT = 10_000


class TokenEnd(enum.Enum):
    """Why a token ended: its member's own leaving or time-out, or its room's closing."""

    LEFT = words.YOU_LEFT
    TIMED_OUT = words.YOU_TIMED_OUT
    ROOM_CLOSED = "the room closed"
    REMOVED = words.YOU_WERE_REMOVED


@dataclass(frozen=True)
class Tombstone:
    until: float
    end: TokenEnd
    reason: str  # the sentence sent to the member (for a closed room, the room's closing reason)


class Tombstones:
    """At most TOMBSTONE_LIMIT ended tokens, each kept TOMBSTONE_SECONDS, oldest forgotten first."""

    def __init__(self) -> None:
        self._kept: collections.OrderedDict[bytes, Tombstone] = collections.OrderedDict()

    def bury(self, token: bytes, now: float, end: TokenEnd, reason: str = "") -> None:
        self._kept[token] = Tombstone(now + TOMBSTONE_SECONDS, end, reason or end.value)
        while len(self._kept) > TOMBSTONE_LIMIT:
            self._kept.popitem(last=False)

    def get(self, token: bytes) -> Tombstone | None:
        return self._kept.get(token)

    def forget(self, token: bytes) -> None:
        self._kept.pop(token, None)

    def expire(self, now: float) -> None:
        while self._kept and next(iter(self._kept.values())).until < now:
            self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)
