"""Long messages, the decisions: gathering the pieces of whole frames (`Assembler`, both ends),
sending the pieces of one of ours until the other end holds them all (`Sender`, the member's
side), and what a long event reads as to a member that cannot gather it (`shortened`, the
server's side). No I/O, no clock: the time comes in as `now` (seconds, monotonic).

The pieces' frames are wire/pieces.py's; what the relay and the session do with them is in
docs/protocol.md, "Long messages".
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from ocm_core import wire as p
from ocm_core.logutil import ThrottledLog
from ocm_core.wire.pieces import MAX_LONG_FRAME_BYTES, MAX_PIECES, is_long, split

log = logging.getLogger("ocm_core.sansio.pieces")

SERVER = "server"  # the owner of the pieces the server sends, in a member's Assembler
PARTIALS_PER_OWNER = 4  # messages one owner may have half-sent at once
PIECE_TIMEOUT = 60.0  # seconds a message may take to arrive whole (a client gives up on its own at 60 s)
DONE_SECONDS = 120.0  # how long a whole message's late pieces are known for what they are
MAX_DONE = 4096  # whole messages remembered at most (forgetting one early costs a late piece a new partial)
ANSWER_EVERY = 8  # held pieces between two PIECE_GOTs while the pieces keep coming
PIECE_WINDOW = 32  # pieces a Sender has on their way and not yet acknowledged
FIRST_RETRY = 0.3  # seconds with no word from the receiver before what is on its way counts as lost; doubles ...
MAX_RETRY = 2.0  # ... up to this

Owner = Hashable  # a member's token at the server; SERVER at a member

# How a long event ends when it is cut to one datagram for a client that reads no pieces (an
# older version, a bare-text or kanaru client). The server's words, as the other lines it
# makes for them (relay.TOO_LONG_TEXT, acting.DELETED_TEXT): one text for every client.
CUT_ENDING = " … (too long for this app; open it in a current Online Chat Messenger)"


class Took(enum.Enum):
    """What became of a piece given to an Assembler."""

    KEPT = "kept"  # new, and the message is not whole yet
    WHOLE = "whole"  # it completed the message: `Taken.frame` holds the whole frame
    DUPLICATE = "duplicate"  # a piece already held
    DONE = "done"  # a piece of a message already whole (a late copy)
    REFUSED = "refused"  # refused, and its message's partial with it: `Taken.reason` says why


@dataclass(frozen=True)
class Taken:
    took: Took
    frame: bytes = b""  # WHOLE: the whole frame, handed out this once
    reason: str = ""  # REFUSED: why (a key of Assembler.dropped)
    # Say now what is held (the server: PIECE_GOT); a member whose message is not whole asks
    # for what is missing (PIECE_RESEND). Every ANSWER_EVERY pieces, at the last piece, at a
    # copy (its sender is unsure), and when whole.
    answer: bool = False


@dataclass(frozen=True)
class Progress:
    """One message still arriving."""

    key: int
    count: int
    held: frozenset[int]
    started: float
    last_piece_at: float

    @property
    def missing(self) -> frozenset[int]:
        return frozenset(range(self.count)) - self.held


@dataclass
class _Partial:
    count: int
    slices: list[bytes | None]
    size: int  # bytes of the slices held
    held: int  # how many are held
    started: float
    last_piece_at: float


class Assembler:
    """Gathers pieces into whole frames, each keyed by (owner, key): a member's token and its
    msg_id at the server, SERVER and an event's seq at a member. Bounded: a message's frame at
    most `max_message_bytes`, an owner at most `partials_per_owner` messages and
    `bytes_per_owner` bytes arriving at once, everyone together at most `total_bytes`; a
    message not whole within `timeout` seconds is dropped by expire(). A refusal drops the
    message's partial (its sender starts it again, or gives up); `dropped` counts why."""

    def __init__(
        self,
        *,
        total_bytes: int,
        max_message_bytes: int = MAX_LONG_FRAME_BYTES,
        partials_per_owner: int = PARTIALS_PER_OWNER,
        bytes_per_owner: int = 2 * MAX_LONG_FRAME_BYTES,
        timeout: float = PIECE_TIMEOUT,
        done_seconds: float = DONE_SECONDS,
        max_done: int = MAX_DONE,
    ):
        self.total_bytes = total_bytes
        self.max_message_bytes = max_message_bytes
        self.partials_per_owner = partials_per_owner
        self.bytes_per_owner = bytes_per_owner
        self.timeout = timeout
        self.done_seconds = done_seconds
        self.max_done = max_done
        self.dropped: collections.Counter[str] = collections.Counter()
        self.bytes_held = 0
        self._partials: collections.OrderedDict[tuple[Owner, int], _Partial] = collections.OrderedDict()  # oldest first
        self._owner_partials: collections.Counter[Owner] = collections.Counter()
        self._owner_bytes: collections.Counter[Owner] = collections.Counter()
        # (owner, key) -> (forgotten at, count): whole already, so late pieces are known as copies
        self._done: collections.OrderedDict[tuple[Owner, int], tuple[float, int]] = collections.OrderedDict()
        self._now = 0.0
        self._quiet_log = ThrottledLog(log, 5.0, lambda: self._now)

    def add(self, owner: Owner, key: int, index: int, count: int, data: bytes, now: float) -> Taken:
        """Take piece `index` of `count` (its slice `data`) of message `key` from `owner`."""
        self._now = now
        at = (owner, key)
        done = self._done.get(at)
        if done is not None:
            self.dropped["late piece"] += 1
            return Taken(Took.DONE, answer=True)
        if not (2 <= count <= MAX_PIECES and 0 <= index < count and data):
            return self._refuse(at, "bad piece", f"piece {index} of {count}, {len(data)} bytes")
        partial = self._partials.get(at)
        if partial is None:
            if self._owner_partials[owner] >= self.partials_per_owner:
                return self._refuse(at, "too many partials", f"{self.partials_per_owner} already")
            partial = _Partial(count, [None] * count, 0, 0, now, now)
            self._partials[at] = partial
            self._owner_partials[owner] += 1
        elif count != partial.count:
            return self._refuse(at, "count disagrees", f"{count} pieces, not {partial.count}")
        if partial.slices[index] is not None:
            self.dropped["duplicate piece"] += 1
            return Taken(Took.DUPLICATE, answer=True)
        if partial.size + len(data) > self.max_message_bytes:
            return self._refuse(at, "message too long", f"over {self.max_message_bytes} bytes")
        if self._owner_bytes[owner] + len(data) > self.bytes_per_owner:
            return self._refuse(at, "owner over its bytes", f"over {self.bytes_per_owner} bytes")
        if self.bytes_held + len(data) > self.total_bytes:
            return self._refuse(at, "all over their bytes", f"over {self.total_bytes} bytes")
        partial.slices[index] = data
        partial.size += len(data)
        partial.held += 1
        partial.last_piece_at = now
        self._owner_bytes[owner] += len(data)
        self.bytes_held += len(data)
        if partial.held < count:
            return Taken(Took.KEPT, answer=index == count - 1 or partial.held % ANSWER_EVERY == 0)
        frame = b"".join(s for s in partial.slices if s is not None)
        self._forget(at)
        self._done[at] = (now + self.done_seconds, count)
        while len(self._done) > self.max_done:
            self._done.popitem(last=False)
        return Taken(Took.WHOLE, frame=frame, answer=True)

    def held(self, owner: Owner, key: int) -> frozenset[int]:
        """The pieces held of message `key` (every one of a message already whole; none of one unknown)."""
        at = (owner, key)
        if at in self._done:
            return frozenset(range(self._done[at][1]))
        partial = self._partials.get(at)
        if partial is None:
            return frozenset()
        return frozenset(i for i, s in enumerate(partial.slices) if s is not None)

    def missing(self, owner: Owner, key: int) -> frozenset[int]:
        """The pieces still wanted of message `key` (none of one whole or unknown)."""
        partial = self._partials.get((owner, key))
        if partial is None:
            return frozenset()
        return frozenset(i for i, s in enumerate(partial.slices) if s is None)

    def partials(self, owner: Owner) -> list[Progress]:
        """Every message of `owner` still arriving, by key."""
        return sorted(
            (
                Progress(key, p.count, self.held(owner, key), p.started, p.last_piece_at)
                for (who, key), p in self._partials.items()
                if who == owner
            ),
            key=lambda progress: progress.key,
        )

    def is_done(self, owner: Owner, key: int) -> bool:
        return (owner, key) in self._done

    def expire(self, now: float) -> list[tuple[Owner, int]]:
        """Drop the messages not whole `timeout` seconds after their first piece (and forget
        the whole ones' keys after `done_seconds`); the (owner, key) of each dropped."""
        self._now = now
        gone = []
        while self._partials:
            at, partial = next(iter(self._partials.items()))
            if now - partial.started < self.timeout:
                break
            self._forget(at)
            self.dropped["expired"] += 1
            gone.append(at)
        if gone:
            self._quiet_log.log("expired", logging.INFO, "dropped %d long messages not whole in time", len(gone))
        while self._done and next(iter(self._done.values()))[0] <= now:
            self._done.popitem(last=False)
        return gone

    def forget(self, owner: Owner, key: int) -> None:
        """Forget message `key` of `owner`, arriving or whole: its pieces are wanted again (a
        whole message the receiver could not keep), or never (one the receiver has otherwise)."""
        if (owner, key) in self._partials:
            self._forget((owner, key))
        self._done.pop((owner, key), None)

    def drop_owner(self, owner: Owner) -> None:
        """Forget everything of `owner` (a member gone; at a member, the server's numbering gone back)."""
        for at in [at for at in self._partials if at[0] == owner]:
            self._forget(at)
            self.dropped["owner gone"] += 1
        for at in [at for at in self._done if at[0] == owner]:
            del self._done[at]

    def _forget(self, at: tuple[Owner, int]) -> None:
        partial = self._partials.pop(at)
        owner = at[0]
        self.bytes_held -= partial.size
        self._owner_bytes[owner] -= partial.size
        self._owner_partials[owner] -= 1
        if self._owner_partials[owner] <= 0:
            del self._owner_partials[owner], self._owner_bytes[owner]

    def _refuse(self, at: tuple[Owner, int], reason: str, detail: str) -> Taken:
        if at in self._partials:
            self._forget(at)
        self.dropped[reason] += 1
        self._quiet_log.log(reason, logging.INFO, "refused a long message's piece: %s (%s)", reason, detail)
        return Taken(Took.REFUSED, reason=reason)


class PieceState(enum.Enum):
    UNSENT = "unsent"
    ON_ITS_WAY = "on its way"  # sent, and not yet said held or lost
    LOST = "lost"  # to send again
    HELD = "held"  # the receiver said it has it


class Sender:
    """The pieces of one frame of ours on their way to the server: at most `window` on their
    way unacknowledged, the ones a PIECE_GOT shows missing sent again, and everything on its
    way sent again after `interval` seconds without a word (doubling up to `max_retry`)."""

    def __init__(
        self,
        frame: bytes,
        size: int,
        now: float,
        *,
        window: int = PIECE_WINDOW,
        first_retry: float = FIRST_RETRY,
        max_retry: float = MAX_RETRY,
    ):
        self.slices = split(frame, size)
        self.count = len(self.slices)
        self.window = window
        self.first_retry, self.max_retry = first_retry, max_retry
        self.interval = first_retry
        self.retry_at = now + first_retry
        self.states = [PieceState.UNSENT] * self.count
        self._sent_as = [0] * self.count  # each piece's last sending, as a running number
        self.sent = 0  # pieces sent, copies included

    @property
    def complete(self) -> bool:
        """The receiver holds every piece."""
        return all(state is PieceState.HELD for state in self.states)

    def due(self, now: float) -> list[int]:
        """The pieces to send now, in order: lost ones first, then new ones, within the window."""
        if now >= self.retry_at and PieceState.ON_ITS_WAY in self.states:
            self._mark_lost(lambda i: True)
            self.interval = min(self.interval * 2, self.max_retry)
        room = self.window - self.states.count(PieceState.ON_ITS_WAY)
        chosen = [i for i, s in enumerate(self.states) if s is PieceState.LOST]
        chosen += [i for i, s in enumerate(self.states) if s is PieceState.UNSENT]
        chosen = chosen[: max(room, 0)]
        for i in chosen:
            self.sent += 1
            self.states[i], self._sent_as[i] = PieceState.ON_ITS_WAY, self.sent
        if chosen:
            self.retry_at = now + self.interval
        return chosen

    def acknowledged(self, count: int, held: Iterable[int], now: float) -> bool:
        """A PIECE_GOT: the receiver's whole word on what it holds of our `count` pieces (False,
        and nothing changes, when its count is not ours). A piece sent before one it now holds,
        and not held itself, is lost; one it held before and no longer does (its partial expired
        or was refused) is to be sent again."""
        if count != self.count:
            return False
        held = frozenset(held)
        newest, progress = 0, False
        for i in sorted(held):
            if 0 <= i < self.count and self.states[i] is not PieceState.HELD:
                newest = max(newest, self._sent_as[i])
                self.states[i], progress = PieceState.HELD, True
        for i, state in enumerate(self.states):
            if state is PieceState.HELD and i not in held:
                self.states[i] = PieceState.LOST
        self._mark_lost(lambda i: self._sent_as[i] < newest)
        if progress:
            self.interval = self.first_retry
            self.retry_at = now + self.interval
        return True

    def _mark_lost(self, which: Callable[[int], bool]) -> None:
        for i, state in enumerate(self.states):
            if state is PieceState.ON_ITS_WAY and which(i):
                self.states[i] = PieceState.LOST


def shortened(body: bytes, older_body: bytes | None, room_bytes: int) -> bytes | None:
    """What a member that reads no pieces is sent in place of a long event (`body`, or
    `older_body` where it reads that instead): a chat line of the event's member with the
    start of its text and CUT_ENDING, within one datagram. None when neither is long."""
    longest = max(len(body), len(older_body or b""))
    if not is_long(longest, room_bytes, 0):
        return None
    event = p.decode_body(older_body or body)
    assert isinstance(event, p.Event)  # the registry's own bytes
    text = event.text if event.event_type is p.EventType.CHAT else ""
    name_bytes = len(event.name.encode("utf-8"))
    room_for_text = p.max_relayed_text_bytes(room_bytes, name_bytes) - len(CUT_ENDING.encode("utf-8"))
    start = text.encode("utf-8")[: max(0, room_for_text)].decode("utf-8", "ignore").rstrip()
    cut = dataclasses.replace(event, event_type=p.EventType.CHAT, text=start + CUT_ENDING, deleted=False)
    return p.encode_event(cut)
