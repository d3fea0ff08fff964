"""A room and its members as the registry holds them: plain data with the few rules that
belong to one record (a rate bucket's refill, a room's event buffer); no I/O, no clock."""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass, field

from ocm_core import wire as p
from ocm_core.crypto.sealed import SealedChannel
from ocm_core.sansio.actions import MessageBook
from ocm_core.sansio.pieces import shortened
from ocm_core.storage.roomstore import StoredMember, StoredRoom, new_room_id

Address = tuple[str, int]
Outbound = list[tuple[Address, bytes]]


class Transport(enum.IntEnum):
    """How a member's datagrams travel: its one transport field (stored with it, so a
    restart keeps it). A PLAIN member that sends bare text becomes BARE."""

    PLAIN = 0  # our frames, unsealed: only on a server started with --allow-plain
    SEALED = 1  # our frames, sealed under the member's key
    KANARU = 2  # the kanaru dialect's own forms, unsealed
    BARE = 3  # the assignment's bare text, unsealed: it reads text and cannot acknowledge

    @property
    def reads_text(self) -> bool:
        """Whether the member shows datagrams as text (so it gets no binary frames)."""
        return self in (Transport.BARE, Transport.KANARU)


@dataclass
class Limits:
    max_rooms: int = 1000
    max_rooms_per_address: int = 5  # rooms hosted from one IP address at once
    max_members_per_room: int = 200
    event_buffer: int = 2048  # recent events per room kept for resends and history
    # and at most this many bytes of them: 2000 events of a full datagram, or 30 of the longest
    # messages; a SYNC's history is bounded apart (registry.HISTORY_BYTES)
    event_buffer_bytes: int = 8 << 20
    pieces_bytes: int = 64 << 20  # long messages half-arrived at the server, from every member at once
    resend_per_second: float = 10.0  # RESEND requests a member may make; each returns up to 64 events
    resend_burst: int = 20
    reply_bytes_per_second: int = 256 << 10  # bytes of re-sent events a member may be sent
    reply_bytes_burst: int = 1 << 20
    rate_per_second: float = 20.0  # chat datagrams per member, refilled continuously
    rate_burst: int = 50
    password_failures_free: int = 3  # wrong passwords from one address before we slow down
    password_lockout_max: float = 60.0
    # Members never heard from since they joined (no datagram, no SYNC): an address keeps
    # `silent_per_address` of them as long as any member (an assignment client that says
    # nothing until it types); more go after `unheard_seconds` (our clients speak within a
    # second, a lost first datagram included), and past `unheard_per_address` in all, its
    # joins wait.
    silent_per_address: int = 4
    unheard_seconds: float = 5.0
    unheard_per_address: int = 32  # a classroom behind one router joins at once
    unheard_retry_seconds: int = 2
    # Under pressure (a room, or the server's rooms, at `pressure` of their cap) the
    # allowance goes: every place never taken up is given back after `unheard_seconds`.
    pressure: float = 0.9
    # New rooms: a few per address a minute (at least max_rooms_per_address at once).
    creates_per_minute_per_address: float = 10.0
    create_burst_per_address: int = 20


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `burst`; each allowed act takes one."""

    rate: float
    burst: int
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        if self.tokens < self.burst:  # a credit granted above the burst is spent, not cut
            self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now

    def credit(self, tokens: float) -> None:
        """Allow at least `tokens` at once, even above the burst."""
        self.tokens = max(self.tokens, tokens)

    @property
    def full(self) -> bool:
        return self.tokens >= self.burst

    def take(self, now: float, amount: float = 1.0) -> bool:
        self.refill(now)
        if self.tokens >= amount:
            self.tokens -= amount
            return True
        return False


def forget_full_buckets(buckets: dict[str, TokenBucket], now: float) -> None:
    """Drop the buckets that have refilled: an address quiet that long is decided as a new one."""
    for key, bucket in list(buckets.items()):
        bucket.refill(now)
        if bucket.full:
            del buckets[key]


@dataclass
class Member:
    name: str
    token: bytes
    ip: str
    room: Room
    last_seen: float
    chat_bucket: TokenBucket
    resend_bucket: TokenBucket
    reply_bytes: TokenBucket  # bytes of re-sent events, so no member address draws a flood
    transport: Transport = Transport.PLAIN
    channel: SealedChannel | None = None  # seals and opens its datagrams: set exactly when SEALED
    address: Address | None = None
    acked_seq: int = 0
    retransmit_at: float = 0.0
    retransmit_interval: float = 0.0
    seen_ids: collections.OrderedDict = field(default_factory=collections.OrderedDict)
    next_msg_id: int = 1  # the sender's next message in its own order
    held: dict[int, p.Chat | p.Action] = field(default_factory=dict)
    long_held: dict[int, int] = field(default_factory=dict)  # msg_id -> pieces, of the held ones that came in pieces
    held_since: float = 0.0
    last_sent: float = float("-inf")  # when the room last sent this member an event or status
    told_rate_limited: bool = False
    told_cannot_save_at: float = float("-inf")
    # A member's first address is proven by its token; one it moves to, once a heartbeat from
    # it acknowledges more than was acknowledged at the move: it received what we sent there.
    # Until then an answer is at most one event, so a forged source cannot aim a flood anywhere.
    proven: bool = False
    proof_floor: int = 0
    # Set when the join carried a request id (our clients): if nothing (SYNC or UDP) comes
    # from the member by then, its client gave up on the answer, and the name is freed.
    admit_by: float | None = None
    heard: bool = False  # a datagram or a SYNC came from it since it joined (or came back)
    joined_at: float = 0.0
    # Direct messages (mailbox.py): the install key it gave when joining, usable once it
    # proved holding it (its first SYNC); presence and typing are never stored.
    direct_key: bytes | None = None
    direct_proven: bool = False
    away: bool = False
    typing_at: float = float("-inf")  # when its last typing signal was passed on
    speaks_actions: bool = False  # said so at its SYNC: it reads replies, reactions, edits (wire/actions.py)
    speaks_pieces: bool = False  # said so at its SYNC: it reads long events in pieces (wire/pieces.py)
    refused: collections.OrderedDict = field(default_factory=collections.OrderedDict)  # msg_id -> REFUSED body

    @property
    def owner(self) -> bytes:
        """Who may edit this member's messages: its install (its proven key), else this session."""
        return self.direct_key if self.direct_proven and self.direct_key else self.token

    @property
    def mailable(self) -> bool:
        """Whether direct messages and receipts can be handed to it now."""
        return self.direct_proven and self.channel is not None and self.address is not None

    @property
    def is_host(self) -> bool:
        """Whether the room closes when this member goes. Nobody hosts a standing room."""
        return not self.room.standing and self.room.host == self.name

    @property
    def sender(self) -> Address:
        """The address of a member that has just sent us a datagram (so it is known)."""
        assert self.address is not None
        return self.address

    @property
    def plain_text(self) -> bool:
        """Speaks only text (bare or kanaru): no binary frames, no acknowledgements."""
        return self.transport.reads_text

    @property
    def kanaru(self) -> bool:
        return self.transport is Transport.KANARU


@dataclass
class Room:
    name: str
    host: str  # "" for a standing room
    name_bytes: bytes
    password_salt: bytes | None = None
    password_hash: bytes | None = None
    room_id: str = field(default_factory=new_room_id)  # this room's alone: one made again under its name gets another
    standing: bool = False  # held by the server itself (ocm-server --room): no host, never closed by a member
    members: dict[str, Member] = field(default_factory=dict)
    seq: int = 0
    # (seq, encoded EVENT body, the body for members that do not speak actions or None when
    # the same): only the bytes are kept; history decodes them when asked
    events: collections.deque = field(default_factory=collections.deque)
    # seq -> what a member that reads no pieces gets instead, for the buffered events too long
    # for one datagram (sansio/pieces.shortened)
    short_bodies: dict[int, bytes] = field(default_factory=dict)
    buffered_bytes: int = 0
    header: bytes = b""  # the header of every datagram the server sends for this room
    people: dict[str, bytes] = field(default_factory=dict)  # name -> key proven here while the room lasts
    topic: str = ""
    book: MessageBook = field(default_factory=lambda: MessageBook(Limits.event_buffer))
    removed: set[bytes] = field(default_factory=set)  # installs (or addresses) the host removed: not let back in

    def __post_init__(self) -> None:
        self.header = p.datagram_header(self.name_bytes, b"")

    @property
    def locked(self) -> bool:
        return self.password_hash is not None

    def buffer(self, seq: int, body: bytes, limits: Limits, older_body: bytes | None = None) -> bytes | None:
        """Keep an event's bytes for resends and history, within both of the buffer's caps;
        `older_body`: what members that do not speak actions are sent instead. Returns what
        members that read no pieces are sent instead of a long one (None: it is not long)."""
        short = shortened(body, older_body, len(self.name_bytes))
        self.events.append((seq, body, older_body))
        self.buffered_bytes += len(body) + len(older_body or b"")
        if short is not None:
            self.short_bodies[seq] = short
            self.buffered_bytes += len(short)
        # The newest is always kept, however long: resends and the retransmit timer start from it.
        while len(self.events) > 1 and (
            len(self.events) > limits.event_buffer or self.buffered_bytes > limits.event_buffer_bytes
        ):
            gone_seq, gone, older = self.events.popleft()
            self.buffered_bytes -= len(gone) + len(older or b"") + len(self.short_bodies.pop(gone_seq, b""))
        self.book.forget_below(self.events[0][0])
        return short

    def rewrite(self, seq: int, body: bytes, older_body: bytes | None) -> bool:
        """Put new bytes in place of buffered event `seq` (an edited or deleted message)."""
        if not self.events or not self.events[0][0] <= seq <= self.events[-1][0]:
            return False
        index = seq - self.events[0][0]
        _, gone, older = self.events[index]
        self.events[index] = (seq, body, older_body)
        self.buffered_bytes += len(body) + len(older_body or b"") - len(gone) - len(older or b"")
        self.buffered_bytes -= len(self.short_bodies.pop(seq, b""))
        short = shortened(body, older_body, len(self.name_bytes))
        if short is not None:
            self.short_bodies[seq] = short
            self.buffered_bytes += len(short)
        return True

    def body_for(self, index: int, speaks_actions: bool, speaks_pieces: bool) -> bytes:
        """Buffered event `index` as a member that speaks (or not) actions and pieces is sent it."""
        seq, body, older = self.events[index]
        return self.chosen_body(body, older, self.short_bodies.get(seq), speaks_actions, speaks_pieces)

    def chosen_body(
        self, body: bytes, older: bytes | None, short: bytes | None, speaks_actions: bool, speaks_pieces: bool
    ) -> bytes:
        """Of an event's forms, the one for a member that speaks (or not) actions and pieces."""
        chosen = body if speaks_actions or older is None else older
        if short is not None and not speaks_pieces and p.is_long(len(chosen), len(self.name_bytes), 0):
            return short
        return chosen


def stored_room(room: Room) -> StoredRoom:
    return StoredRoom(room.name, room.host, room.password_salt, room.password_hash, room.room_id, room.standing)


def stored_member(member: Member) -> StoredMember:
    """A member as the store keeps it (its address a hint for after a restart)."""
    return StoredMember(
        member.token,
        member.room.name,
        member.name,
        member.ip,
        member.address,
        member.plain_text,
        int(member.transport),
        member.channel.window.newest if member.channel is not None else 0,
        member.direct_key,
        member.direct_proven,
    )
