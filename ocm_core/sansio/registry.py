"""The room registry: rooms, members, tokens, addresses, hosts, last-seen.

No sockets and no threads of its own: the servers call in with what arrived and
send what the registry returns, a list of (address, datagram) pairs. Every public
method takes the registry's lock, so the TCP handler threads, the UDP loop and the
maintenance tick can share one instance. Clocks are injected so tests can move time.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ocm_core.wire import protocol as p
from ocm_core.errors import RegistryError
from ocm_core.logutil import ThrottledLog
from ocm_core.wire.protocol import ErrorCode, EventType, Status
from ocm_core.crypto.secure import MemberKeys, OpenFailed, SealedChannel
from ocm_core.storage.roomstore import RoomStore, StoredEvent, StoredMember, StoredRoom, StoreWriteError

log = logging.getLogger(__name__)

Address = tuple[str, int]
Outbound = list[tuple[Address, bytes]]

TOKEN_BYTES = 16  # 128 bits from secrets, sent as 22 URL-safe characters
HISTORY_ON_JOIN = 100
SEEN_IDS_PER_MEMBER = 2048  # how many recent message ids a member's duplicates are checked against
HELD_PER_MEMBER = 256  # messages that arrived ahead of a lost one, waiting to keep the sender's order
HOLD_SECONDS = 30.0  # longer than that, the missing one is given up (our clients raise their floor first)
RETRANSMIT_WINDOW = 32  # events re-sent at once to a member that has not acknowledged them
TOMBSTONE_SECONDS = 600.0  # how long a closed room's tokens still get "room closed" answers
TOMBSTONE_LIMIT = 10_000
# Why a member's own token went away; any other buried reason is its room's closing.
_MEMBER_ENDS = ("you left the room", "you were away too long and were removed")
RESUME_SECONDS = 600.0  # a member that timed out (a laptop asleep) may come back with its old token this long
AWAY_LIMIT = 1000  # members kept for resuming at most
DROP_LOG_EVERY = 5.0  # seconds between log lines of one kind (a refused datagram, a member's moves)
STATUS_QUIET = 0.5  # a heartbeat from a caught-up member is answered only after this much silence towards it
REPEAT_SECONDS = 120.0  # a CREATE or JOIN repeated with its request id within this gets the first answer
ADMIT_SECONDS = 10.0  # a member admitted by a request with an id, never heard from since, is dropped after this
STORE_PROBE_SECONDS = 2.0  # while the database cannot be written, how often to see whether it can again
CANNOT_SAVE_TELL_EVERY = 10.0  # a sender whose messages are refused is told again after this long
CANNOT_SAVE_TEXT = "the server cannot save messages right now; yours will be sent when it can"

# scrypt costs ~16 MiB and tens of milliseconds per guess: cheap for a person, slow for a guesser.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class Wire(enum.IntEnum):
    """How a member's datagrams travel (stored with it, so a restart keeps it)."""

    PLAIN = 0  # our frames or bare text, unsealed: only on a server started with --allow-plain
    SEALED = 1  # our frames, sealed under the member's key
    KANARU = 2  # the kanaru dialect's own forms, unsealed


@dataclass
class Limits:
    max_rooms: int = 1000
    max_rooms_per_address: int = 5  # rooms hosted from one IP address at once
    max_members_per_room: int = 200
    event_buffer: int = 2048  # recent events per room kept for resends and history
    event_buffer_bytes: int = 1 << 20  # and at most this many bytes of them (100 full-size messages fit)
    resend_per_second: float = 10.0  # RESEND requests a member may make; each returns up to 64 events
    resend_burst: int = 20
    reply_bytes_per_second: int = 256 << 10  # bytes of re-sent events a member may be sent
    reply_bytes_burst: int = 1 << 20
    rate_per_second: float = 20.0  # chat datagrams per member, refilled continuously
    rate_burst: int = 50
    password_failures_free: int = 3  # wrong passwords from one address before we slow down
    password_lockout_max: float = 60.0


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
    address: Address | None = None
    acked_seq: int = 0
    retransmit_at: float = 0.0
    retransmit_interval: float = 0.0
    plain_text: bool = False  # speaks only the assignment's bare-text framing
    channel: SealedChannel | None = None  # seals and opens its datagrams; None: a plain member
    kanaru: bool = False  # the kanaru dialect: its own UDP forms (see protocol.py)
    seen_ids: collections.OrderedDict = field(default_factory=collections.OrderedDict)
    next_msg_id: int = 1  # the sender's next message in its own order
    held: dict[int, str] = field(default_factory=dict)
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

    @property
    def is_host(self) -> bool:
        return self.room.host == self.name

    @property
    def sender(self) -> Address:
        """The address of a member that has just sent us a datagram (so it is known)."""
        assert self.address is not None
        return self.address


@dataclass
class Room:
    name: str
    host: str
    name_bytes: bytes
    password_salt: bytes | None = None
    password_hash: bytes | None = None
    members: dict[str, Member] = field(default_factory=dict)
    seq: int = 0
    # (seq, encoded EVENT body): only the bytes are kept; history decodes them when asked
    events: collections.deque = field(default_factory=collections.deque)
    buffered_bytes: int = 0
    header: bytes = b""  # the header of every datagram the server sends for this room

    def __post_init__(self) -> None:
        self.header = p.datagram_header(self.name_bytes, b"")

    @property
    def locked(self) -> bool:
        return self.password_hash is not None

    def buffer(self, seq: int, body: bytes, limits: Limits) -> None:
        """Keep an event's bytes for resends and history, within both of the buffer's caps."""
        self.events.append((seq, body))
        self.buffered_bytes += len(body)
        while len(self.events) > limits.event_buffer or self.buffered_bytes > limits.event_buffer_bytes:
            self.buffered_bytes -= len(self.events.popleft()[1])


def hash_password(password: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return salt, digest


class RoomRegistry:
    BASE_RETRANSMIT = 0.25
    MAX_RETRANSMIT = 2.0

    def __init__(
        self,
        *,
        member_timeout: float = 30.0,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        store: RoomStore | None = None,
        hasher: Callable[[str, bytes | None], tuple[bytes, bytes]] = hash_password,
        member_keys: MemberKeys | None = None,
    ):
        """`hasher` derives (salt, digest) from a password; a server may run it on a thread of its own.
        `member_keys` derives sealed members' keys; without it every member is plain."""
        self.member_timeout = member_timeout
        self.limits = limits or Limits()
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.RLock()
        self._rooms: dict[str, Room] = {}
        self._tokens: dict[bytes, Member] = {}
        self._tombstones: collections.OrderedDict[bytes, tuple[float, str]] = collections.OrderedDict()
        self._password_failures: dict[str, tuple[int, float]] = {}
        self._hashing: set[str] = set()
        self._hasher = hasher
        self.member_keys = member_keys
        self.dropped: collections.Counter[str] = collections.Counter()
        self._store = store
        self._quiet_log = ThrottledLog(log, DROP_LOG_EVERY, clock)
        # While the database refuses writes, nothing that must be stored is done at all:
        # messages are refused (their senders told), joins too, and no one times out.
        self._store_failing = False
        self._store_probe_at = 0.0
        self._store_recovery_unconfirmed = False  # a probe passed; the next real commit says so in the log
        self._answered: collections.OrderedDict[tuple, tuple[float, bytes]] = collections.OrderedDict()
        self._away: collections.OrderedDict[bytes, tuple[float, Member]] = collections.OrderedDict()
        self.room_closed_hooks: list[Callable[[str], None]] = []  # called with a closed room's name, under the lock
        if store is not None:
            self._load(store)

    # --- durability -------------------------------------------------------------------

    def _durably(self, work: Callable[[], object]):
        """Run `work` (under the lock) as one transaction. If the commit fails, the memory
        is made to match the disk again, so nothing of it is ever sent, acknowledged or
        numbered; StoreWriteError then tells the caller."""
        if self._store is None:
            return work()
        if self._store_failing:
            raise StoreWriteError(self._store.path, "still failing")
        try:
            with self._store.batch():
                result = work()
        except StoreWriteError as exc:
            self._store_failed(exc)
            raise
        except Exception:
            self._reload_from_store()  # rolled back on disk: memory must not keep half of it either
            raise
        if self._store_recovery_unconfirmed:
            self._store_recovery_unconfirmed = False
            log.warning("the database %s can be written again; messages are accepted again", self._store.path)
        return result

    def _store_failed(self, exc: StoreWriteError, reload: bool = True) -> None:
        if not self._store_recovery_unconfirmed:  # one line per outage, not one per batch or probe
            log.warning(
                "cannot write to the database %s (%s); new messages and joins are refused, and their "
                "senders told, until writing works again (checked every %g s)",
                exc.path, exc.reason, STORE_PROBE_SECONDS,
            )
        assert self._store is not None
        self._store_failing = True
        self._store_probe_at = self._clock() + STORE_PROBE_SECONDS
        if reload:  # whatever the failed transaction did in memory goes: the disk is the truth
            self._reload_from_store()

    def _reload_from_store(self) -> None:
        """Make memory match the disk again after a transaction that did not commit."""
        assert self._store is not None
        # A member's sealing channel is not on disk and must go on: a new one would count
        # its nonces from 1 again under the same key and epoch.
        channels = {token: member.channel for token, member in self._tokens.items()}
        self._rooms.clear()
        self._tokens.clear()
        self._load(self._store, reloading=True)
        for token, member in self._tokens.items():
            if channels.get(token) is not None:
                member.channel = channels[token]

    def _probe_store(self, now: float) -> None:
        if self._store is None or not self._store_failing or now < self._store_probe_at:
            return
        if self._store.writable():
            self._store_failing = False
            self._store_recovery_unconfirmed = True
        else:
            self._store_probe_at = now + STORE_PROBE_SECONDS

    def _cannot_save(self) -> RegistryError:
        return RegistryError(Status.CANNOT_SAVE, "the server cannot save anything right now (its disk is full or failing); try again later")

    @property
    def saving_fails(self) -> bool:
        """True while the database refuses writes."""
        return self._store_failing

    # --- TCP side -------------------------------------------------------------------

    def _repeat(self, key: tuple | None) -> bytes | None:
        """The token a request with this id got before, if its member is still there."""
        entry = self._answered.get(key) if key else None
        return entry[1] if entry and entry[1] in self._tokens else None

    def _remember(self, key: tuple | None, member: Member) -> None:
        if key is None:
            return
        self._answered[key] = (self._clock() + REPEAT_SECONDS, member.token)
        member.admit_by = self._clock() + min(ADMIT_SECONDS, self.member_timeout)
        while len(self._answered) > TOMBSTONE_LIMIT:
            self._answered.popitem(last=False)

    def create_room(self, room: str, username: str, ip: str, password: str | None = None, *, wire: Wire = Wire.PLAIN,
                    request_id: str | None = None) -> bytes:
        """Create `room` with `username` as its host; return the host's token. A repeat of a
        request (the same `request_id` from the same address) gets the same token."""
        key = ("create", ip, room, username, request_id) if request_id else None
        with self._lock:
            if token := self._repeat(key):
                return token
        salt = digest = None
        if password:
            with self._lock:
                self._check_room_free(room, ip)  # before the slow hash, so refusals cost nothing
            with self._hash_slot(ip):
                salt, digest = self._hasher(password, None)  # outside the lock: it is slow on purpose
        with self._lock:
            self._check_room_free(room, ip)

            def create() -> Member:
                new_room = Room(room, username, room.encode("utf-8"), salt, digest)
                self._rooms[room] = new_room
                member = self._add_member(new_room, username, ip, wire)
                if self._store:
                    self._store.add_room(StoredRoom(room, username, salt, digest), _stored_member(member))
                return member

            try:
                member = self._durably(create)
            except StoreWriteError:
                raise self._cannot_save() from None
            self._remember(key, member)
            log.info("room %r created by %r from %s", room, username, ip)
            return member.token

    def _check_room_free(self, room: str, ip: str) -> None:
        if self._store_failing:
            raise self._cannot_save()
        if room in self._rooms:
            raise RegistryError(Status.ROOM_EXISTS, f"room '{room}' already exists; pick another name or join it")
        if len(self._rooms) >= self.limits.max_rooms:
            raise RegistryError(Status.SERVER_FULL, "this server has as many rooms as it allows; try again later")
        cap = self.limits.max_rooms_per_address
        if sum(1 for r in self._rooms.values() if r.members.get(r.host) and r.members[r.host].ip == ip) >= cap:
            raise RegistryError(
                Status.SERVER_FULL, f"your address already hosts {cap} rooms on this server, the most it allows; close one first"
            )

    @contextlib.contextmanager
    def _hash_slot(self, ip: str):
        """One password hash at a time per address: a burst of locked requests from one
        host cannot take every worker (the client retries BUSY by itself)."""
        with self._lock:
            if ip in self._hashing:
                raise RegistryError(Status.BUSY, "a password from your address is still being checked; try again in a moment")
            self._hashing.add(ip)
        try:
            yield
        finally:
            with self._lock:
                self._hashing.discard(ip)

    def join_room(self, room: str, username: str, ip: str, password: str | None = None, *, wire: Wire = Wire.PLAIN,
                  request_id: str | None = None) -> tuple[bytes, Outbound]:
        """Add `username` to `room`; return its token and the notices to send. A repeat of a
        request (the same `request_id` from the same address) gets the same token, and no notice."""
        key = ("join", ip, room, username, request_id) if request_id else None
        with self._lock:
            if token := self._repeat(key):
                return token, []
            target = self._rooms.get(room)
            if target is None:
                raise RegistryError(Status.NO_SUCH_ROOM, f"there is no room '{room}' on this server; check the name")
            salt, expected = target.password_salt, target.password_hash
        if expected is not None:  # before any name check, so a locked room tells outsiders nothing
            assert salt is not None  # stored with the hash
            self._check_password(ip, password, salt, expected)
        with self._lock:
            target = self._room_for_join(room, username)  # it may have closed while we hashed

            def join() -> tuple[Member, Outbound]:
                member = self._add_member(target, username, ip, wire)
                if self._store:
                    self._store.add_member(_stored_member(member))
                return member, self._emit(target, EventType.JOINED, username, p.JOINED_PLAIN if member.channel is None else "")

            try:
                member, out = self._durably(join)
            except StoreWriteError:
                raise self._cannot_save() from None
            self._remember(key, member)
            log.info("%r joined room %r from %s", username, room, ip)
            return member.token, out

    def resume(self, room: str, username: str, ip: str, old_token: bytes) -> tuple[bytes, Outbound, Wire]:
        """Take back a member that timed out (its laptop slept) within RESUME_SECONDS: the old
        token is the proof. It keeps that token and its place in the room's stream, so its
        client fetches what it missed and sends what it kept."""
        with self._lock:
            entry = self._away.get(old_token)
            if entry is None or entry[0] < self._clock():
                tomb = self._tombstones.get(old_token)
                if tomb and tomb[1] not in _MEMBER_ENDS:  # its room closed: there is nothing to come back to
                    raise RegistryError(Status.NO_SUCH_ROOM, tomb[1])
                if tomb is None:  # forgotten long ago, or never known here: a restarted server
                    reason = "you were away a long time, or the server restarted"
                elif tomb[1] == "you were away too long and were removed":
                    reason = "you were away too long to come back"
                else:
                    reason = tomb[1]
                raise RegistryError(Status.UNKNOWN_TOKEN, f"{reason}; join the room again")
            member = entry[1]
            target = self._room_for_join(room, username)
            if target is not member.room or member.name != username:
                raise RegistryError(Status.NO_SUCH_ROOM, f"room '{room}' closed while you were away")

            def come_back() -> Outbound:
                member.ip, member.last_seen, member.admit_by = ip, self._clock(), None
                member.address, member.proven = None, False
                target.members[username] = member
                self._tokens[member.token] = member
                if self._store:
                    self._store.add_member(_stored_member(member))
                return self._emit(target, EventType.JOINED, username, p.JOINED_PLAIN if member.channel is None else "")

            try:
                out = self._durably(come_back)
            except StoreWriteError:
                raise self._cannot_save() from None
            del self._away[old_token]
            self._tombstones.pop(old_token, None)
            log.info("%r came back to room %r from %s", username, room, ip)
            wire = Wire.SEALED if member.channel is not None else Wire.KANARU if member.kanaru else Wire.PLAIN
            return member.token, out, wire

    def _room_for_join(self, room: str, username: str) -> Room:
        if self._store_failing:
            raise self._cannot_save()
        target = self._rooms.get(room)
        if target is None:
            raise RegistryError(Status.NO_SUCH_ROOM, f"there is no room '{room}' on this server; check the name")
        if username in target.members:
            raise RegistryError(Status.NAME_TAKEN, f"the name '{username}' is taken in room '{room}'; pick another")
        if len(target.members) >= self.limits.max_members_per_room:
            raise RegistryError(Status.ROOM_FULL, f"room '{room}' is full ({len(target.members)} members)")
        return target

    def _check_password(self, ip: str, password: str | None, salt: bytes, expected: bytes) -> None:
        now = self._clock()
        with self._lock:
            failures, until = self._password_failures.get(ip, (0, 0.0))
            if now > until + self.limits.password_lockout_max:
                failures = 0  # a quiet minute forgives earlier mistakes
            if now < until:
                raise RegistryError(
                    Status.TOO_MANY_ATTEMPTS, f"too many wrong passwords; wait {until - now:.0f} s and try again"
                )
            if password is None:
                raise RegistryError(Status.PASSWORD_REQUIRED, "this room is locked; enter its password")
            # Counted as a failure before hashing, so parallel guesses cannot slip past the count.
            failures += 1
            over = failures - self.limits.password_failures_free
            wait = min(self.limits.password_lockout_max, 2.0 ** over) if over >= 0 else 0.0
            self._password_failures[ip] = (failures, now + wait)
        with self._hash_slot(ip):
            correct = hmac.compare_digest(self._hasher(password, salt)[1], expected)
        if correct:
            with self._lock:
                self._password_failures.pop(ip, None)
            return
        log.warning("wrong room password from %s (%d in a row)", ip, failures)
        raise RegistryError(Status.WRONG_PASSWORD, "wrong password for this room; check it and try again")

    def _add_member(self, room: Room, username: str, ip: str, wire: Wire) -> Member:
        token = secrets.token_urlsafe(TOKEN_BYTES).encode("ascii")
        while token in self._tokens:  # 128 random bits: never in practice, but uniqueness is a promise
            token = secrets.token_urlsafe(TOKEN_BYTES).encode("ascii")
        member = self._new_member(room, username, token, ip, **self._wire_state(token, wire))
        room.members[username] = member
        self._tokens[token] = member
        return member

    def _wire_state(self, token: bytes, wire: Wire) -> dict:
        if wire is Wire.SEALED:
            if self.member_keys is None:
                raise RuntimeError("a sealed member needs a registry with member_keys")
            return {"channel": self.member_keys.channel_for(token)}
        return {"kanaru": True, "plain_text": True} if wire is Wire.KANARU else {}

    def _new_member(self, room: Room, name: str, token: bytes, ip: str, **state) -> Member:
        """A member with full buckets and a fresh timeout."""
        now, limits = self._clock(), self.limits
        return Member(
            name, token, ip, room, last_seen=now, acked_seq=room.seq,
            chat_bucket=TokenBucket(limits.rate_per_second, limits.rate_burst, float(limits.rate_burst), now),
            resend_bucket=TokenBucket(limits.resend_per_second, limits.resend_burst, float(limits.resend_burst), now),
            reply_bytes=TokenBucket(limits.reply_bytes_per_second, limits.reply_bytes_burst, float(limits.reply_bytes_burst), now),
            **state,
        )

    def guessed_wrong(self, ip: str) -> bool:
        """Whether `ip` gave a wrong room password lately (its count is not yet forgiven)."""
        with self._lock:
            return ip in self._password_failures

    def is_locked(self, room: str) -> bool:
        with self._lock:
            target = self._rooms.get(room)
            return target is not None and target.locked

    def list_rooms(self) -> list[dict]:
        with self._lock:
            return [
                {"name": r.name, "members": len(r.members), "locked": r.locked, "host": r.host}
                for r in sorted(self._rooms.values(), key=lambda r: r.name.casefold())
            ]

    def snapshot(self, token: bytes, ip: str, room_name: str, proof: bytes | None = None) -> dict:
        """What a member needs to start: members, host, history and the current sequence number.
        A sealed member must show `proof` of its key: its token crosses the LAN readable."""
        with self._lock:
            member = self._authenticate(token, ip, room_name, proof)
            room = member.room
            history = _history(room)
            member.admit_by = None  # it has its token
            member.acked_seq = max(member.acked_seq, room.seq)
            return {
                "room": room.name,
                "seq": room.seq,
                "host": room.host,
                "members": sorted(room.members, key=str.casefold),
                "plain": sorted((m.name for m in room.members.values() if m.channel is None), key=str.casefold),
                "locked": room.locked,
                "history": [p.event_to_json(e) for e in history],
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
            raise RegistryError(Status.UNKNOWN_TOKEN, tomb[1] if tomb else "this session is not known to the server; join again")
        return member

    def file_member(self, token: bytes, ip: str, room_name: str, proof: bytes | None) -> str:
        """The name of the sealed member that may share or fetch `room_name`'s files with this
        token and proof. Plain members cannot: files travel only under encryption."""
        with self._lock:
            member = self._authenticate(token, ip, room_name, proof)
            if member.channel is None:
                raise RegistryError(Status.ENCRYPTION_REQUIRED, "files are shared only over encryption; use a current client")
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
                return self._durably(lambda: self._emit(member.room, EventType.FILE, member.name, p.encode_file_event_text(info)))
            except StoreWriteError:
                raise self._cannot_save() from None

    # --- UDP side -------------------------------------------------------------------

    def handle_datagram(self, datagram: p.Datagram, address: Address) -> Outbound:
        return self.handle_datagrams([(datagram, address)])

    def handle_datagrams(self, batch: list[tuple[p.Datagram, Address]]) -> Outbound:
        """Handle datagrams that arrived together: one lock, one database transaction, and
        nothing to send until it is committed."""
        with self._lock:
            if self._store_failing:
                return self._handle_batch(batch)
            try:
                return self._durably(lambda: self._handle_batch(batch))
            except StoreWriteError:
                # Nothing of the batch happened; handled again while failing, its messages
                # are refused (their senders told) and everything else is answered.
                return self._handle_batch(batch)

    def _handle_batch(self, batch: list[tuple[p.Datagram, Address]]) -> Outbound:
        out: Outbound = []
        for datagram, address in batch:
            try:
                out += self._handle_one(datagram, address)
            except StoreWriteError:
                raise  # the whole batch's transaction is gone: its answers must go too
            except Exception:  # a bug costs this datagram, never the others
                log.exception("error handling a datagram from %s", address)
        return out

    def _handle_one(self, datagram: p.Datagram, address: Address) -> Outbound:
        member = self._tokens.get(datagram.token)
        if member is None:
            return self._unknown_token(datagram, address)
        if member.room.name != datagram.room:
            return self.drop("token used for another room", address)
        if address[0] != member.ip:
            return self.drop("token used from another IP address", address)
        body = datagram.body
        if member.channel is not None:
            try:
                body = member.channel.open(p.datagram_header(member.room.name_bytes, member.token), body)
            except OpenFailed as exc:
                return self.drop("datagram does not open", address, exc.reason)
        try:
            frame = _kanaru_frame(body) if member.kanaru else p.decode_body(body)
        except p.ProtocolError as exc:
            return self.drop("bad frame", address, exc.reason)
        if not isinstance(frame, _CLIENT_FRAMES):
            return self.drop("server frame sent to the server", address, type(frame).__name__)
        now = self._clock()
        if now - member.last_seen > 1.0:
            # A sender cut off for a while delivers what it wrote meanwhile at once: that is
            # its rate over the silence, not a flood (capped by what the server would hold).
            member.chat_bucket.credit(min(HELD_PER_MEMBER, (now - member.last_seen) * self.limits.rate_per_second))
        member.last_seen = now
        member.admit_by = None
        if member.address != address:
            if member.address is not None:
                self._quiet_log.log(("moved", member.token), logging.INFO, "%r in %r moved from %s to %s",
                                    member.name, member.room.name, member.address, address)
            # The first address comes with the token just handed over TCP: as good a proof as
            # any. A move to another one must be proven (it may be a forged source).
            member.proven, member.proof_floor = member.address is None, member.acked_seq
            member.address = address
            if self._store and not self._store_failing:  # an address is a hint for after a restart: it may wait
                self._store.move_member(member.token, address, isinstance(frame, p.PlainText))
        if isinstance(frame, p.Heartbeat):
            if member.kanaru:
                return []  # its __REGISTER__: the address is noted, nothing to answer
            self._acknowledge(member, frame.ack_seq, now)
            # Acks come often under load; answer only a member that is behind (it learns
            # the latest seq) or one that has heard nothing from us lately (liveness).
            # A member ahead of the room (our numbering went back) is always told, so it resynchronises.
            if frame.ack_seq == member.room.seq and now - member.last_sent < STATUS_QUIET:
                return []
            member.last_sent = now
            return [self._to(member, p.encode_status_frame(member.room.seq))]
        if isinstance(frame, p.Chat):
            if self._store_failing and frame.msg_id not in member.seen_ids:
                return self._refuse_unsaved(member, now)
            return self._chat(member, frame, now)
        if isinstance(frame, p.PlainText):
            member.plain_text = True
            if self._store_failing:
                return self._refuse_unsaved(member, now)
            return self._plain_chat(member, frame.text, now)
        if isinstance(frame, p.Resend):
            if not member.resend_bucket.take(now):
                self.dropped["resend rate limited"] += 1  # each answer is many datagrams: no amplifier
                return []
            return self._resend(member, frame, now)
        if self._store_failing:
            return self.drop("leave while the database fails", address)  # it times out once the disk is back
        goodbye = [] if member.kanaru else [self._to(member, p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, "you left the room"))]
        return self._remove(member, EventType.LEFT) + goodbye

    def _refuse_unsaved(self, member: Member, now: float) -> Outbound:
        """A message that cannot be stored is not relayed or acknowledged; its sender keeps
        it and sends it again, and is told why (not at every retransmission)."""
        self.dropped["cannot save"] += 1
        if member.plain_text or now - member.told_cannot_save_at < CANNOT_SAVE_TELL_EVERY:
            return []
        member.told_cannot_save_at = now
        return [self._to(member, p.encode_error_frame(ErrorCode.CANNOT_SAVE, CANNOT_SAVE_TEXT))]

    def _unknown_token(self, datagram: p.Datagram, address: Address) -> Outbound:
        tomb = self._tombstones.get(datagram.token)
        # A buried token's answer says what happened. No answer is larger than its request,
        # so requests with a spoofed source cannot be amplified at a victim.
        reason = tomb[1] if tomb else ""
        self.drop("unknown token", address)
        answer = p.encode_datagram(datagram.room.encode("utf-8"), b"", p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, reason))
        if len(answer) > p.datagram_size(datagram):  # without the reason, then: the client still learns to come back or stop
            answer = p.encode_datagram(datagram.room.encode("utf-8"), b"", p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, ""))
        # Only our clients read the answer (plain or sealed, they look for it), not bare-text ones.
        if datagram.body[:1] not in (bytes((p.FRAME_MAGIC,)), p.SEALED_PREFIX) or len(answer) > p.datagram_size(datagram):
            return []
        return [(address, answer)]

    def drop(self, reason: str, address: Address, detail: str = "") -> Outbound:
        """Count a refused datagram; log it, but at most once per reason every few seconds,
        so that a flood of junk cannot flood the log too. `reason` is a fixed category
        (it keys the counters); `detail` says more in the log line."""
        with self._lock:
            self.dropped[reason] += 1
            self._quiet_log.log(reason, logging.INFO, "dropped a datagram from %s: %s%s", address, reason,
                                f" ({detail})" if detail else "")
            return []

    def _acknowledge(self, member: Member, ack_seq: int, now: float) -> None:
        ack_seq = min(ack_seq, member.room.seq)
        if ack_seq > member.proof_floor and not member.proven:
            member.proven = True
            member.retransmit_at = now  # what it still lacks may now go in bulk
        if ack_seq > member.acked_seq:
            member.acked_seq = ack_seq
            member.retransmit_interval = self.BASE_RETRANSMIT
            member.retransmit_at = now + self.BASE_RETRANSMIT

    def _take_token(self, member: Member, now: float) -> bool:
        member.chat_bucket.refill(now)
        if member.chat_bucket.full:
            member.told_rate_limited = False  # told again only after a full calm spell, not per refill
        return member.chat_bucket.take(now)

    def _rate_limited(self, member: Member) -> Outbound:
        self.dropped["rate limited"] += 1
        if member.told_rate_limited or member.plain_text:
            return []
        member.told_rate_limited = True
        log.warning("%r in %r is sending too fast; dropping the excess", member.name, member.room.name)
        note = f"you are sending faster than {self.limits.rate_per_second:g} messages a second; slow down"
        return [self._to(member, p.encode_error_frame(ErrorCode.RATE_LIMITED, note))]

    def _relay_chat(self, member: Member, text: str, msg_id: int | None) -> Outbound:
        room = member.room
        # Not sent back to its sender only to save a datagram (its CHAT_ACK carries the seq);
        # whether a line is shown as the member's own is the client session's one decision.
        out = self._emit(room, EventType.CHAT, member.name, text, skip=member, msg_id=msg_id)
        if member.acked_seq == room.seq - 1:
            member.acked_seq = room.seq  # its own message needs no delivery back
        return out

    def _too_long(self, member: Member, text: str) -> bool:
        """Would this chat, relayed with the sender's name, overflow a datagram?"""
        limit = p.max_relayed_text_bytes(len(member.room.name_bytes), len(member.name.encode("utf-8")))
        return len(text.encode("utf-8")) > limit

    def _refuse_too_long(self, member: Member) -> Outbound:
        self.drop("chat too long to relay", member.sender)
        note = "that message is too long to relay with your name; shorten it"
        # A plain-text client (bare or kanaru) would show our binary error frame as garbage.
        return [] if member.plain_text else [self._to(member, p.encode_error_frame(ErrorCode.TOO_LONG, note))]

    def _plain_chat(self, member: Member, text: str, now: float) -> Outbound:
        if self._too_long(member, text):
            return self._refuse_too_long(member)
        if not self._take_token(member, now):
            return self._rate_limited(member)
        return self._relay_chat(member, text, None)

    def _chat(self, member: Member, chat: p.Chat, now: float) -> Outbound:
        """Relay a member's messages exactly once and in the order it sent them."""
        room = member.room
        if chat.msg_id in member.seen_ids:
            # A retransmit whose first copy got through: acknowledge again, relay nothing.
            return [self._to(member, p.encode_chat_ack(chat.msg_id, member.seen_ids[chat.msg_id]))]
        if chat.floor > member.next_msg_id:  # the sender gave up on the ones before: stop waiting for them
            member.next_msg_id = chat.floor
            member.held = {i: t for i, t in member.held.items() if i >= chat.floor}
        if chat.msg_id < member.next_msg_id:
            return []  # given up by its sender, or relayed so long ago that its id left seen_ids
        if self._too_long(member, chat.text):
            if chat.msg_id == member.next_msg_id:
                member.next_msg_id += 1  # consumed: its retransmits are ignored and the sender's next ones flow
            return self._refuse_too_long(member)
        if chat.msg_id == member.next_msg_id or len(member.held) < HELD_PER_MEMBER:
            if not member.held:
                member.held_since = now
            member.held[chat.msg_id] = chat.text
        if member.next_msg_id not in member.held and member.held and now - member.held_since > HOLD_SECONDS:
            # The missing one is not coming (a sender that breaks the floor rule): go on without it.
            member.next_msg_id = min(member.held)
        out: Outbound = []
        while member.next_msg_id in member.held:
            if not self._take_token(member, now):
                return out + self._rate_limited(member)
            msg_id = member.next_msg_id
            out += self._relay_chat(member, member.held.pop(msg_id), msg_id)
            member.seen_ids[msg_id] = room.seq
            if len(member.seen_ids) > SEEN_IDS_PER_MEMBER:
                member.seen_ids.popitem(last=False)
            out.append(self._to(member, p.encode_chat_ack(msg_id, room.seq)))
            member.next_msg_id += 1
            member.held_since = now
        return out

    def _resend(self, member: Member, frame: p.Resend, now: float) -> Outbound:
        """Re-send the events asked for, at most MAX_RESEND_EVENTS of them in all (one to an
        address not yet proven)."""
        room = member.room
        oldest = room.events[0][0] if room.events else room.seq + 1
        out: Outbound = []
        budget = p.MAX_RESEND_EVENTS if member.proven else 1
        for first, last in frame.ranges:
            first = max(first, 1)
            last = min(last, room.seq, first + budget - 1)
            if first > last:
                continue
            if first < oldest:
                note = "some messages are no longer on the server; fetching the room again"
                return [self._to(member, p.encode_error_frame(ErrorCode.RESYNC, note))]
            out += self._send_again(member, first, last, now)
            budget -= last - first + 1
            if budget <= 0:
                break
        return out

    def _send_again(self, member: Member, first: int, last: int, now: float) -> Outbound:
        """Buffered events `first`..`last` for `member`, within what its address has earned:
        one event until it is proven, and no more bytes than its budget."""
        if not member.proven:
            last = first
        out: Outbound = []
        for to, data in self._buffered(member, first, last):
            if not member.reply_bytes.take(now, len(data)):
                self.dropped["reply byte budget"] += 1
                break
            out.append((to, data))
        return out

    def _buffered(self, member: Member, first: int, last: int) -> Outbound:
        events = member.room.events
        oldest = events[0][0]
        return [self._to(member, events[i][1]) for i in range(first - oldest, last - oldest + 1)]

    # --- room life --------------------------------------------------------------------

    def _frame(self, room: Room, body: bytes) -> bytes:
        return p.encode_datagram(room.name_bytes, b"", body)  # the server's datagrams carry no token

    @staticmethod
    def _to(member: Member, body: bytes) -> tuple[Address, bytes]:
        """`body` for `member`, framed with its room's header and sealed if it is a sealed member."""
        header = member.room.header
        if member.channel is not None:
            return member.sender, member.channel.seal(header, body)
        return member.sender, header + body

    def _emit(self, room: Room, event_type: EventType, name: str, text: str = "", skip: Member | None = None, msg_id: int | None = None) -> Outbound:
        """Append an event to the room's stream (stored first) and address it to every member but `skip`."""
        event = p.Event(room.seq + 1, int(self._wall_clock() * 1000), event_type, name, text)
        if self._store and event_type is not EventType.CLOSED:  # a closed room is deleted whole
            sender = skip.token if skip else None
            stored = StoredEvent(room.name, event.seq, event.time_ms, event_type, name, text, sender, msg_id)
            self._store.add_event(stored, forget_seq=event.seq - self.limits.event_buffer)
        room.seq = event.seq
        body = p.encode_event(event)
        room.buffer(event.seq, body, self.limits)
        plain = None
        now = self._clock()
        out: Outbound = []
        for other in room.members.values():
            if other is skip or other.address is None:
                continue
            if other.kanaru:
                out.append((other.address, _kanaru_text(event)))
                other.acked_seq = room.seq
                continue
            if other.plain_text:
                plain = plain or self._frame(room, _plain_text(event).encode("utf-8"))
                out.append((other.address, plain))
                other.acked_seq = room.seq  # plain-text clients cannot acknowledge
                continue
            if other.acked_seq == room.seq - 1:
                other.retransmit_interval = self.BASE_RETRANSMIT
                other.retransmit_at = now + self.BASE_RETRANSMIT
            other.last_sent = now
            out.append(self._to(other, body))
        return out

    def _remove(self, member: Member, why: EventType) -> Outbound:
        room = member.room
        room.members.pop(member.name, None)
        self._tokens.pop(member.token, None)
        if self._store:
            self._store.remove_member(member.token)
        self._bury(member.token, _MEMBER_ENDS[0] if why is EventType.LEFT else _MEMBER_ENDS[1])
        verb = "left" if why is EventType.LEFT else "timed out of"
        log.info("%r %s room %r", member.name, verb, room.name)
        if why is EventType.TIMED_OUT and not member.is_host:
            self._away[member.token] = (self._clock() + RESUME_SECONDS, member)
            while len(self._away) > AWAY_LIMIT:
                self._away.popitem(last=False)
        if member.is_host:
            return self._close(room, "the host closed the room" if why is EventType.LEFT else "the host went away, so the room closed")
        return self._emit(room, why, member.name)

    def _close(self, room: Room, reason: str) -> Outbound:
        out = self._emit(room, EventType.CLOSED, room.host, reason)
        for other in room.members.values():
            self._tokens.pop(other.token, None)
            self._bury(other.token, reason)
        room.members.clear()
        self._rooms.pop(room.name, None)
        if self._store:
            self._store.remove_room(room.name)
        for hook in self.room_closed_hooks:
            try:
                hook(room.name)
            except Exception:
                log.exception("error cleaning up after room %r", room.name)
        log.info("room %r closed: %s", room.name, reason)
        return out

    def _bury(self, token: bytes, reason: str) -> None:
        self._tombstones[token] = (self._clock() + TOMBSTONE_SECONDS, reason)
        while len(self._tombstones) > TOMBSTONE_LIMIT:
            self._tombstones.popitem(last=False)

    def close_all(self, reason: str = "the server stopped") -> Outbound:
        with self._lock:
            def close() -> Outbound:
                out: Outbound = []
                for room in list(self._rooms.values()):
                    out += self._close(room, reason)
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
                    out += self._durably(lambda: self._time_out(now))
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
                out += self._send_again(member, first, last, now)
                member.retransmit_interval = min(self.MAX_RETRANSMIT, max(member.retransmit_interval, self.BASE_RETRANSMIT) * 2)
                member.retransmit_at = now + member.retransmit_interval
            while self._tombstones and next(iter(self._tombstones.values()))[0] < now:
                self._tombstones.popitem(last=False)
            while self._answered and next(iter(self._answered.values()))[0] < now:
                self._answered.popitem(last=False)
            while self._away and next(iter(self._away.values()))[0] < now:
                self._away.popitem(last=False)
            forgiven = now - self.limits.password_lockout_max
            for ip in [ip for ip, (_, until) in self._password_failures.items() if until < forgiven]:
                del self._password_failures[ip]
            return out

    def _time_out(self, now: float) -> Outbound:
        out: Outbound = []
        deadline = now - self.member_timeout
        gone = [m for m in self._tokens.values() if m.last_seen < deadline or (m.admit_by is not None and m.admit_by < now)]
        for member in gone:
            if member.token in self._tokens:  # a closed room may have taken it already
                out += self._remove(member, EventType.TIMED_OUT)
        return out

    def _load(self, store: RoomStore, reloading: bool = False) -> None:
        """Take up rooms, members and recent events from a previous run (or, `reloading`,
        from the last transaction that reached the disk, after one that did not)."""
        stored_events: dict[str, list] = {}
        for stored in store.rooms():
            room = Room(stored.name, stored.host, stored.name.encode("utf-8"), stored.password_salt, stored.password_hash)
            stored_events[room.name] = store.events(stored.name, self.limits.event_buffer)
            for e in stored_events[room.name]:
                room.buffer(e.seq, p.encode_event(p.Event(e.seq, e.time_ms, EventType(e.type), e.name, e.text)), self.limits)
            room.seq = store.last_seq(stored.name)
            if not reloading:
                self._tidy(lambda: store.prune_events(room.name, room.seq - self.limits.event_buffer))
            self._rooms[room.name] = room
        for kept in store.members():
            owner = self._rooms.get(kept.room)
            if owner is None:
                continue
            # Everyone gets a fresh timeout: a member silent through the restart is removed later as usual.
            state = self._wire_state(kept.token, Wire(kept.wire))
            state.setdefault("plain_text", kept.plain_text)
            member = self._new_member(owner, kept.name, kept.token, kept.ip, address=kept.address, **state)
            member.chat_bucket.credit(HELD_PER_MEMBER)  # what its client kept while we were down
            member.proven = True  # its address was its own before the restart
            owner.members[member.name] = member
            self._tokens[member.token] = member
        for room in list(self._rooms.values()):
            if room.host not in room.members:
                if not reloading:
                    self._tidy(lambda: self._close(room, "the host went away, so the room closed"))
                continue
            for e in stored_events[room.name]:
                sender = self._tokens.get(e.sender_token) if e.sender_token else None
                if sender is not None and e.msg_id is not None:
                    sender.seen_ids[e.msg_id] = e.seq
                    sender.next_msg_id = max(sender.next_msg_id, e.msg_id + 1)
        if not reloading:
            log.info("took up %d rooms and %d members from %s", len(self._rooms), len(self._tokens), store.path)

    def _tidy(self, work: Callable[[], object]) -> None:
        """Housekeeping at start-up: on a disk that is full it waits, and the server starts anyway."""
        if self._store is None or self._store_failing:
            return
        try:
            with self._store.batch():
                work()
        except StoreWriteError as exc:
            self._store_failed(exc, reload=False)  # nothing was half done in memory

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


def _plain_text(event: p.Event) -> str:
    """How an event reads to a client that shows datagrams as text."""
    if event.event_type is EventType.CHAT:
        return f"{event.name}: {event.text}"
    if event.event_type is EventType.CLOSED:
        return f"* {event.text}"
    if event.event_type is EventType.FILE:
        try:
            info = p.decode_file_event(event)
        except p.ProtocolError:
            return f"* {event.name} shared a file"
        return f"* {event.name} shared a file: {info.name} ({info.size} bytes)"
    verb = {EventType.JOINED: "joined", EventType.LEFT: "left", EventType.TIMED_OUT: "timed out"}[event.event_type]
    return f"* {event.name} {verb}"


def _kanaru_text(event: p.Event) -> bytes:
    """An event as the kanaru client reads it: a line with its sender, or the bare close word."""
    if event.event_type is EventType.CLOSED:
        return p.KANARU_ROOM_CLOSED
    if event.event_type is EventType.CHAT:
        return p.encode_kanaru_relay(event.name, event.text)
    return p.encode_kanaru_relay("*", _plain_text(event).removeprefix("* "))


def _kanaru_frame(body: bytes):
    """What a kanaru client's datagram means in our frames: register, leave, or a chat line."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise p.ProtocolError("message is not valid UTF-8") from None
    if not text:
        raise p.ProtocolError("datagram has no message")
    if text == p.KANARU_REGISTER:
        return p.Heartbeat(0)
    if text == p.KANARU_LEAVE:
        return p.Leave()
    return p.PlainText(text)


def _wire_of(member: Member) -> Wire:
    if member.channel is not None:
        return Wire.SEALED
    return Wire.KANARU if member.kanaru else Wire.PLAIN


def _stored_member(member: Member) -> StoredMember:
    return StoredMember(member.token, member.room.name, member.name, member.ip, member.address, member.plain_text,
                        int(_wire_of(member)))


_CLIENT_FRAMES = (p.Heartbeat, p.Chat, p.PlainText, p.Resend, p.Leave)


def _history(room: Room) -> list[p.Event]:
    """The events since the HISTORY_ON_JOIN-th last chat message: that many messages,
    with the notices between them."""
    chats = 0
    events = [p.decode_body(body) for _, body in room.events]
    for index in range(len(events) - 1, -1, -1):
        if events[index].event_type is EventType.CHAT:
            chats += 1
            if chats == HISTORY_ON_JOIN:
                return events[index:]
    return events
