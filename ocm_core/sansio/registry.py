"""The room registry: rooms, members, tokens, addresses, hosts, last-seen.

No sockets and no threads of its own: the servers call in with what arrived and
send what the registry returns, a list of (address, datagram) pairs. Every public
method takes the registry's lock, so the TCP handler threads, the UDP loop and the
maintenance tick can share one instance. Clocks are injected so tests can move time.

`RoomRegistry` is the one face of several concerns, each in its own module: the records
(room.py); joining, creating and coming back (joining.py), the rooms the server itself holds
(standing.py), the UDP side (relay.py), long messages (longmessages.py), actions (acting.py),
direct messages (mailbox.py) and keeping memory and the database in step (durability.py),
which it inherits (their shared state is declared in parts.py); password checks (passwords.py)
and ended tokens (tombstones.py), which it holds. Here: the registry's state, what a member may
read (snapshot, files), the life of rooms (events fanned out, members removed, rooms closed)
and the maintenance tick.
"""

from __future__ import annotations

import collections
import hmac
import logging
import threading
import time
from collections.abc import Callable

from ocm_core import wire as p
from ocm_core import words
from ocm_core.crypto.passwords import hash_password
from ocm_core.crypto.sealed import MemberKeys
from ocm_core.errors import RegistryError
from ocm_core.logutil import ThrottledLog
from ocm_core.sansio.acting import Acting, older_event
from ocm_core.sansio.actions import EDIT_WINDOW_SECONDS
from ocm_core.sansio.durability import Durability
from ocm_core.sansio.joining import Joining
from ocm_core.sansio.longmessages import LongMessages
from ocm_core.sansio.mailbox import Mailbox
from ocm_core.sansio.passwords import Hasher, PasswordGuard
from ocm_core.sansio.pieces import Assembler
from ocm_core.sansio.relay import Relay
from ocm_core.sansio.room import (
    Address,
    Limits,
    Member,
    Outbound,
    Room,
    TokenBucket,
    Transport,
)
from ocm_core.sansio.standing import Standing
from ocm_core.sansio.tombstones import TokenEnd, Tombstones
from ocm_core.storage.roomstore import (
    RoomStore,
    StoredEvent,
    StoreWriteError,
)
from ocm_core.wire import EventType, Status

log = logging.getLogger(__name__)

__all__ = ["Address", "Limits", "Member", "Outbound", "Room", "RoomRegistry", "Transport", "hash_password"]

TOKEN_BYTES = 16  # 128 bits from secrets, sent as 22 URL-safe characters
HISTORY_ON_JOIN = 100
# A SYNC's history is at most this many bytes of JSON (then fewer messages), well under what a
# client reads of an answer (wire.MAX_RESPONSE_PAYLOAD, 16 MiB): long messages are 256 KiB each.
HISTORY_BYTES = 8 << 20
RETRANSMIT_WINDOW = 32  # events re-sent at once to a member that has not acknowledged them
RESUME_SECONDS = 600.0  # a member that timed out (a laptop asleep) may come back with its old token this long
AWAY_LIMIT = 1000  # members kept for resuming at most
DROP_LOG_EVERY = 5.0  # seconds between log lines of one kind (a refused datagram, a member's moves)
REPEAT_SECONDS = 120.0  # a CREATE or JOIN repeated with its request id within this gets the first answer
ADMIT_SECONDS = 10.0  # a member admitted by a request with an id, never heard from since, is dropped after this
STORE_PROBE_SECONDS = 2.0  # while the database cannot be written, how often to see whether it can again


class RoomRegistry(Joining, Standing, Relay, LongMessages, Acting, Durability, Mailbox):
    def __init__(
        self,
        *,
        member_timeout: float = 30.0,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        store: RoomStore | None = None,
        hasher: Hasher = hash_password,
        member_keys: MemberKeys | None = None,
        edit_window: float = EDIT_WINDOW_SECONDS,
    ):
        """`hasher` derives (salt, digest) from a password; a server may run it on a thread of its own.
        `member_keys` derives sealed members' keys; without it every member is plain.
        `edit_window`: seconds during which a sender may edit or delete a message."""
        self.member_timeout = member_timeout
        self.limits = limits or Limits()
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.RLock()
        self._rooms: dict[str, Room] = {}
        self._tokens: dict[bytes, Member] = {}
        self._tombstones = Tombstones()
        self.passwords = PasswordGuard(hasher, clock, self.limits)
        self.member_keys = member_keys
        self.edit_window = edit_window
        self.dropped: collections.Counter[str] = collections.Counter()
        self._store = store
        self._quiet_log = ThrottledLog(log, DROP_LOG_EVERY, clock)
        self._windows_moved: dict[bytes, int] = {}
        self._create_buckets: dict[str, TokenBucket] = {}
        self._pieces = Assembler(total_bytes=self.limits.pieces_bytes)
        self._piece_got_due = {}
        # While the database refuses writes, nothing that must be stored is done at all:
        # messages are refused (their senders told), joins too, and no one times out.
        self._store_failing = False
        self._store_probe_at = 0.0
        self._store_recovery_unconfirmed = False  # a probe passed; the next real commit says so in the log
        self._answered: collections.OrderedDict[tuple, tuple[float, bytes]] = collections.OrderedDict()
        self._away: collections.OrderedDict[bytes, tuple[float, Member]] = collections.OrderedDict()
        self.room_closed_hooks: list[Callable[[str], None]] = []  # called with a closed room's name, under the lock
        self._reset_mail()
        self._delivered_origins = collections.OrderedDict()
        if store is not None:
            self._load(store)

    # --- durability -------------------------------------------------------------------

    # --- TCP side -------------------------------------------------------------------

    def list_rooms(self) -> list[dict]:
        with self._lock:
            return [
                {
                    "name": r.name,
                    "members": len(r.members),
                    "locked": r.locked,
                    "host": r.host,
                    "room_id": r.room_id,
                    "standing": r.standing,
                }
                for r in sorted(self._rooms.values(), key=lambda r: r.name.casefold())
            ]

    def snapshot(
        self,
        token: bytes,
        ip: str,
        room_name: str,
        proof: bytes | None = None,
        direct_proof: bytes | None = None,
        features: tuple[str, ...] = (),
    ) -> dict:
        """What a member needs to start: members, host, history and the current sequence number.
        A sealed member must show `proof` of its key: its token crosses the LAN readable; and
        `direct_proof` that it holds the direct-message key it joined with (mailbox.py).
        `features`: what the member's client understands (wire.FEATURES); the answer says the server's."""
        with self._lock:
            member = self._authenticate(token, ip, room_name, proof)
            self._prove_direct_key(member, direct_proof)
            member = self._tokens.get(token, member)  # a failed write reloads the members
            member.speaks_actions = p.FEATURE_ACTIONS in features
            member.speaks_pieces = p.FEATURE_PIECES in features
            room = member.room
            history = _history(room, member.speaks_actions, member.speaks_pieces)
            member.admit_by, member.heard = None, True  # it has its token
            member.acked_seq = max(member.acked_seq, room.seq)
            return {
                "room": room.name,
                "room_id": room.room_id,
                "standing": room.standing,
                "seq": room.seq,
                "host": room.host,
                "members": sorted(room.members, key=str.casefold),
                "plain": sorted((m.name for m in room.members.values() if m.channel is None), key=str.casefold),
                "locked": room.locked,
                "keys": self._keys_of(room),
                "away": sorted((m.name for m in room.members.values() if m.away), key=str.casefold),
                "topic": room.topic,
                "features": list(p.FEATURES),
                "history": history,
            }

    def _authenticate(self, token: bytes, ip: str, room_name: str, proof: bytes | None) -> Member:
        """The member that `token` names, if it asks from its own address about its own room
        (and, sealed, shows its key proof); RegistryError UNKNOWN_TOKEN otherwise."""
        member = self._tokens.get(token)
        if member is not None and member.channel is not None and self.member_keys is not None:
            expected = self.member_keys.proof_for(token)
            if proof is None or not hmac.compare_digest(proof, expected):
                member = None
        if member is None or member.ip != ip or member.room.name != room_name:
            tomb = self._tombstones.get(token)
            raise RegistryError(
                Status.UNKNOWN_TOKEN, tomb.reason if tomb else "this session is not known to the server; join again"
            )
        return member

    def file_member(self, token: bytes, ip: str, room_name: str, proof: bytes | None) -> str:
        """The name of the sealed member that may share or fetch `room_name`'s files with this
        token and proof. Plain members cannot: files travel only under encryption."""
        with self._lock:
            member = self._authenticate(token, ip, room_name, proof)
            if member.channel is None:
                raise RegistryError(
                    Status.ENCRYPTION_REQUIRED, "files are shared only over encryption; use a current client"
                )
            return member.name

    def share_file(self, token: bytes, info: p.FileInfo) -> Outbound:
        """Tell the room (the sender too) that its member shared a file: a FILE event, kept in
        history like a chat line. RegistryError if the member is gone meanwhile."""
        with self._lock:
            member = self._tokens.get(token)
            if member is None:
                raise RegistryError(Status.UNKNOWN_TOKEN, "you are no longer in the room; the file was not shared")
            if self._store_failing:
                raise self._cannot_save()
            try:
                return self._durably(
                    lambda: self._emit(member.room, EventType.FILE, member.name, p.encode_file_event_text(info))
                )
            except StoreWriteError:
                raise self._cannot_save() from None

    def _frame(self, room: Room, body: bytes) -> bytes:
        return p.encode_datagram(room.name_bytes, b"", body)  # the server's datagrams carry no token

    def _emit(
        self,
        room: Room,
        event_type: EventType,
        name: str,
        text: str = "",
        skip: Member | None = None,
        msg_id: int | None = None,
        older_text: str | None = None,
    ) -> Outbound:
        """Append an event to the room's stream (stored first) and address it to every member but
        `skip`. `older_text`: an event of actions (wire/actions.py) reads so, as a chat line of
        `name`, to a member that does not speak them (REMOVED reads as LEFT)."""
        event = p.Event(room.seq + 1, int(self._wall_clock() * 1000), event_type, name, text)
        older = older_event(event, older_text)
        if self._store and event_type is not EventType.CLOSED:  # a closed room is deleted whole
            sender = skip.token if skip else None
            stored = StoredEvent(
                room.name,
                event.seq,
                event.time_ms,
                event_type,
                name,
                text,
                sender,
                msg_id,
                older_text=older_text,
                owner=skip.owner if skip else None,
            )
            self._store.add_event(stored, forget_seq=event.seq - self.limits.event_buffer)
        room.seq = event.seq
        body = p.encode_event(event)
        older_body = p.encode_event(older) if older is not None else None
        short_body = room.buffer(event.seq, body, self.limits, older_body)
        # A text reader gets a chat line within one datagram: a long event's shortened one.
        as_text = p.decode_body(short_body) if short_body is not None else (older or event)
        plain = None
        now = self._clock()
        out: Outbound = []
        for other in room.members.values():
            if other is skip or other.address is None:
                continue
            if other.kanaru:
                out.append((other.address, p.encode_kanaru_event(as_text)))
                other.acked_seq = room.seq
                continue
            if other.plain_text:
                plain = plain or self._frame(room, p.plain_event_text(as_text).encode("utf-8"))
                out.append((other.address, plain))
                other.acked_seq = room.seq  # plain-text clients cannot acknowledge
                continue
            if other.acked_seq == room.seq - 1:
                other.retransmit_interval = self.BASE_RETRANSMIT
                other.retransmit_at = now + self.BASE_RETRANSMIT
            other.last_sent = now
            chosen = room.chosen_body(body, older_body, short_body, other.speaks_actions, other.speaks_pieces)
            out += self._addressed(other, event.seq, chosen)
        return out

    def _remove(self, member: Member, why: EventType) -> Outbound:
        room = member.room
        self._forget_member(member, TokenEnd.LEFT if why is EventType.LEFT else TokenEnd.TIMED_OUT)
        verb = "left" if why is EventType.LEFT else "timed out of"
        log.info("%r %s room %r", member.name, verb, room.name)
        if why is EventType.TIMED_OUT and not member.is_host:
            self._away[member.token] = (self._clock() + RESUME_SECONDS, member)
            while len(self._away) > AWAY_LIMIT:
                self._away.popitem(last=False)
        if member.is_host:
            return self._close(room, words.HOST_CLOSED if why is EventType.LEFT else words.HOST_WENT_AWAY)
        return self._emit(room, why, member.name)

    def _forget_member(self, member: Member, end: TokenEnd, reason: str = "") -> None:
        """Take `member` out of its room and end its token (`reason`: what a late datagram is told)."""
        member.room.members.pop(member.name, None)
        self._tokens.pop(member.token, None)
        self._pieces.drop_owner(member.token)
        if self._store:
            self._store.remove_member(member.token)
        self._tombstones.bury(member.token, self._clock(), end, reason)

    def _close(self, room: Room, reason: str) -> Outbound:
        out = self._let_members_go(room, reason)
        self._rooms.pop(room.name, None)
        self._drop_room_mail(room)
        if self._store:
            self._store.remove_room(room.name)
        for hook in self.room_closed_hooks:
            try:
                hook(room.name)
            except Exception:
                log.exception("error cleaning up after room %r", room.name)
        log.info("room %r closed: %s", room.name, reason)
        return out

    def _let_members_go(self, room: Room, reason: str) -> Outbound:
        """Tell the room it closes (`reason`) and end every member's token."""
        out = self._emit(room, EventType.CLOSED, room.host, reason)
        for other in room.members.values():
            self._tokens.pop(other.token, None)
            self._pieces.drop_owner(other.token)
            self._tombstones.bury(other.token, self._clock(), TokenEnd.ROOM_CLOSED, reason)
        room.members.clear()
        return out

    def close_all(self, reason: str = words.SERVER_STOPPED) -> Outbound:
        """Close every room and tell its members. A standing room closes for now: the store
        keeps it, its id and its history for the next start that names it."""
        with self._lock:

            def close() -> Outbound:
                out: Outbound = []
                for room in list(self._rooms.values()):
                    out += self._close_for_now(room, reason) if room.standing else self._close(room, reason)
                return out

            try:
                return self._durably(close)
            except StoreWriteError:  # the rooms are told all the same; the disk keeps them for the next start
                store, self._store = self._store, None
                try:
                    return close()
                finally:
                    self._store = store

    def tick(self) -> Outbound:
        """Time-driven work: drop silent members, re-send unacknowledged events."""
        with self._lock:
            now = self._clock()
            self._probe_store(now)
            out: Outbound = []
            try:
                if not self._store_failing:  # removing someone is stored: it waits for the disk
                    out += self._durably(lambda: self._time_out(now) + self._expire_mail(now))
            except StoreWriteError:
                pass  # told in the log; the memory is back to what the disk holds
            for member in self._tokens.values():
                room = member.room
                if member.plain_text:
                    member.acked_seq = room.seq  # it cannot acknowledge and reads no binary frames
                    continue
                if member.address is None or member.acked_seq >= room.seq or now < member.retransmit_at:
                    continue
                first = max(member.acked_seq + 1, room.events[0][0])
                last = min(room.seq, first + RETRANSMIT_WINDOW - 1)
                out += self._send_again(member, first, last, now, probe=True)
                member.retransmit_interval = min(
                    self.MAX_RETRANSMIT, max(member.retransmit_interval, self.BASE_RETRANSMIT) * 2
                )
                member.retransmit_at = now + member.retransmit_interval
            out += self._hand_waiting_mail(now)
            expired = self._pieces.expire(now)
            if expired:
                self.dropped["piece: expired"] += len(expired)
            self._tombstones.expire(now)
            while self._answered and next(iter(self._answered.values()))[0] < now:
                self._answered.popitem(last=False)
            while self._away and next(iter(self._away.values()))[0] < now:
                self._away.popitem(last=False)
            self.passwords.forgive(now)
            return out

    def _unheard_overstaying(self, now: float) -> list[Member]:
        """Members never heard from once `unheard_seconds` have passed, beyond their address's
        first `silent_per_address` (none kept in a room, or on a server, under pressure):
        places nobody takes up are not held for long."""
        limits = self.limits
        crowded = len(self._rooms) >= limits.pressure * limits.max_rooms
        unheard: dict[str, list[Member]] = collections.defaultdict(list)
        for member in self._tokens.values():
            if not member.heard and now - member.joined_at > limits.unheard_seconds:
                unheard[member.ip].append(member)
        overstaying = []
        for members in unheard.values():
            kept = 0
            for member in sorted(members, key=lambda m: m.joined_at):
                full = len(member.room.members) >= limits.pressure * limits.max_members_per_room
                if kept < limits.silent_per_address and not crowded and not full:
                    kept += 1
                else:
                    overstaying.append(member)
        return overstaying

    def _time_out(self, now: float) -> Outbound:
        out: Outbound = []
        deadline = now - self.member_timeout
        gone = [
            m for m in self._tokens.values() if m.last_seen < deadline or (m.admit_by is not None and m.admit_by < now)
        ]
        gone += self._unheard_overstaying(now)
        for member in gone:
            if member.token in self._tokens:  # a closed room may have taken it already
                out += self._remove(member, EventType.TIMED_OUT)
        return out

    # --- read-only views for servers, tests and benchmarks ------------------------------

    def room_names(self) -> list[str]:
        with self._lock:
            return list(self._rooms)

    def members(self, room: str) -> list[str]:
        with self._lock:
            target = self._rooms.get(room)
            return sorted(target.members) if target else []

    def member_count(self) -> int:
        with self._lock:
            return len(self._tokens)


def _history(room: Room, speaks_actions: bool, speaks_pieces: bool) -> list[dict]:
    """The events since the HISTORY_ON_JOIN-th last chat message, as a SYNC answer lists them:
    that many messages, with the notices between them, as a member that speaks (or not) actions
    and pieces reads them; fewer when they would take more than HISTORY_BYTES."""
    chats = size = 0
    entries: list[dict] = []
    for index in range(len(room.events) - 1, -1, -1):
        event = p.decode_body(room.body_for(index, speaks_actions, speaks_pieces))
        entry = p.event_to_json(event)
        size += len(p.encode_json(entry)) + 1
        if size > HISTORY_BYTES:
            break
        entries.append(entry)
        if event.event_type in p.MESSAGE_TYPES:
            chats += 1
            if chats == HISTORY_ON_JOIN:
                break
    entries.reverse()
    return entries
