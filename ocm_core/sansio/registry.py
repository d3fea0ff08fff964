"""The room registry: rooms, members, tokens, addresses, hosts, last-seen.

No sockets and no threads of its own: the servers call in with what arrived and
send what the registry returns, a list of (address, datagram) pairs. Every public
method takes the registry's lock, so the TCP handler threads, the UDP loop and the
maintenance tick can share one instance. Clocks are injected so tests can move time.

`RoomRegistry` is the one face of several concerns, each in its own module: the records
(room.py), the UDP side (relay.py, inherited), password checks (passwords.py) and ended
tokens (tombstones.py). Here: admission over TCP, the life of rooms and members, the
maintenance tick, and keeping memory and the database in step.
"""

from __future__ import annotations

import collections
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable

from ocm_core import wire as p
from ocm_core import words
from ocm_core.crypto.passwords import hash_password
from ocm_core.crypto.sealed import MemberKeys
from ocm_core.errors import RegistryError
from ocm_core.logutil import ThrottledLog
from ocm_core.sansio.passwords import Hasher, PasswordGuard
from ocm_core.sansio.relay import HELD_PER_MEMBER, Relay
from ocm_core.sansio.room import (
    Address,
    Limits,
    Member,
    Outbound,
    Room,
    TokenBucket,
    Transport,
)
from ocm_core.sansio.tombstones import TOMBSTONE_LIMIT, TokenEnd, Tombstones
from ocm_core.storage.roomstore import (
    RoomStore,
    StoredEvent,
    StoredMember,
    StoredRoom,
    StoreWriteError,
)
from ocm_core.wire import EventType, Status

log = logging.getLogger(__name__)

__all__ = ["Address", "Limits", "Member", "Outbound", "Room", "RoomRegistry", "Transport", "hash_password"]

TOKEN_BYTES = 16  # 128 bits from secrets, sent as 22 URL-safe characters
HISTORY_ON_JOIN = 100
RETRANSMIT_WINDOW = 32  # events re-sent at once to a member that has not acknowledged them
RESUME_SECONDS = 600.0  # a member that timed out (a laptop asleep) may come back with its old token this long
AWAY_LIMIT = 1000  # members kept for resuming at most
DROP_LOG_EVERY = 5.0  # seconds between log lines of one kind (a refused datagram, a member's moves)
REPEAT_SECONDS = 120.0  # a CREATE or JOIN repeated with its request id within this gets the first answer
ADMIT_SECONDS = 10.0  # a member admitted by a request with an id, never heard from since, is dropped after this
STORE_PROBE_SECONDS = 2.0  # while the database cannot be written, how often to see whether it can again


class RoomRegistry(Relay):
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
        self._tombstones = Tombstones()
        self.passwords = PasswordGuard(hasher, clock, self.limits)
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
                exc.path,
                exc.reason,
                STORE_PROBE_SECONDS,
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
        return RegistryError(
            Status.CANNOT_SAVE,
            "the server cannot save anything right now (its disk is full or failing); try again later",
        )

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

    def create_room(
        self,
        room: str,
        username: str,
        ip: str,
        password: str | None = None,
        *,
        wire: Transport = Transport.PLAIN,
        request_id: str | None = None,
    ) -> bytes:
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
            salt, digest = self.passwords.hash_new(ip, password)  # outside the lock: it is slow on purpose
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
                Status.SERVER_FULL,
                f"your address already hosts {cap} rooms on this server, the most it allows; close one first",
            )

    def join_room(
        self,
        room: str,
        username: str,
        ip: str,
        password: str | None = None,
        *,
        wire: Transport = Transport.PLAIN,
        request_id: str | None = None,
    ) -> tuple[bytes, Outbound]:
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
            self.passwords.check(ip, password, salt, expected)
        with self._lock:
            target = self._room_for_join(room, username)  # it may have closed while we hashed

            def join() -> tuple[Member, Outbound]:
                member = self._add_member(target, username, ip, wire)
                if self._store:
                    self._store.add_member(_stored_member(member))
                return member, self._emit(
                    target, EventType.JOINED, username, p.JOINED_PLAIN if member.channel is None else ""
                )

            try:
                member, out = self._durably(join)
            except StoreWriteError:
                raise self._cannot_save() from None
            self._remember(key, member)
            log.info("%r joined room %r from %s", username, room, ip)
            return member.token, out

    def resume(self, room: str, username: str, ip: str, old_token: bytes) -> tuple[bytes, Outbound, Transport]:
        """Take back a member that timed out (its laptop slept) within RESUME_SECONDS: the old
        token is the proof. It keeps that token and its place in the room's stream, so its
        client fetches what it missed and sends what it kept."""
        with self._lock:
            entry = self._away.get(old_token)
            if entry is None or entry[0] < self._clock():
                tomb = self._tombstones.get(old_token)
                if tomb and tomb.end is TokenEnd.ROOM_CLOSED:  # there is nothing to come back to
                    raise RegistryError(Status.NO_SUCH_ROOM, tomb.reason)
                if tomb is None:  # forgotten long ago, or never known here: a restarted server
                    reason = words.AWAY_OR_RESTARTED
                elif tomb.end is TokenEnd.TIMED_OUT:
                    reason = words.AWAY_TOO_LONG
                else:
                    reason = tomb.reason
                raise RegistryError(Status.UNKNOWN_TOKEN, f"{reason}; {words.JOIN_AGAIN}")
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
            self._tombstones.forget(old_token)
            log.info("%r came back to room %r from %s", username, room, ip)
            return member.token, out, member.transport

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

    def _add_member(self, room: Room, username: str, ip: str, transport: Transport) -> Member:
        token = secrets.token_urlsafe(TOKEN_BYTES).encode("ascii")
        while token in self._tokens:  # 128 random bits: never in practice, but uniqueness is a promise
            token = secrets.token_urlsafe(TOKEN_BYTES).encode("ascii")
        member = self._new_member(room, username, token, ip, transport)
        room.members[username] = member
        self._tokens[token] = member
        return member

    def _new_member(
        self, room: Room, name: str, token: bytes, ip: str, transport: Transport, address: Address | None = None
    ) -> Member:
        """A member with full buckets and a fresh timeout (and its channel, if sealed)."""
        now, limits = self._clock(), self.limits
        channel = None
        if transport is Transport.SEALED:
            if self.member_keys is None:
                raise RuntimeError("a sealed member needs a registry with member_keys")
            channel = self.member_keys.channel_for(token)
        return Member(
            name,
            token,
            ip,
            room,
            last_seen=now,
            acked_seq=room.seq,
            chat_bucket=TokenBucket(limits.rate_per_second, limits.rate_burst, float(limits.rate_burst), now),
            resend_bucket=TokenBucket(limits.resend_per_second, limits.resend_burst, float(limits.resend_burst), now),
            reply_bytes=TokenBucket(
                limits.reply_bytes_per_second, limits.reply_bytes_burst, float(limits.reply_bytes_burst), now
            ),
            transport=transport,
            channel=channel,
            address=address,
        )

    def guessed_wrong(self, ip: str) -> bool:
        """Whether `ip` gave a wrong room password lately (its count is not yet forgiven)."""
        return self.passwords.guessed_wrong(ip)

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
    ) -> Outbound:
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
                out.append((other.address, p.encode_kanaru_event(event)))
                other.acked_seq = room.seq
                continue
            if other.plain_text:
                plain = plain or self._frame(room, p.plain_event_text(event).encode("utf-8"))
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
        self._tombstones.bury(
            member.token, self._clock(), TokenEnd.LEFT if why is EventType.LEFT else TokenEnd.TIMED_OUT
        )
        verb = "left" if why is EventType.LEFT else "timed out of"
        log.info("%r %s room %r", member.name, verb, room.name)
        if why is EventType.TIMED_OUT and not member.is_host:
            self._away[member.token] = (self._clock() + RESUME_SECONDS, member)
            while len(self._away) > AWAY_LIMIT:
                self._away.popitem(last=False)
        if member.is_host:
            return self._close(room, words.HOST_CLOSED if why is EventType.LEFT else words.HOST_WENT_AWAY)
        return self._emit(room, why, member.name)

    def _close(self, room: Room, reason: str) -> Outbound:
        out = self._emit(room, EventType.CLOSED, room.host, reason)
        for other in room.members.values():
            self._tokens.pop(other.token, None)
            self._tombstones.bury(other.token, self._clock(), TokenEnd.ROOM_CLOSED, reason)
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

    def close_all(self, reason: str = words.SERVER_STOPPED) -> Outbound:
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
                member.retransmit_interval = min(
                    self.MAX_RETRANSMIT, max(member.retransmit_interval, self.BASE_RETRANSMIT) * 2
                )
                member.retransmit_at = now + member.retransmit_interval
            self._tombstones.expire(now)
            while self._answered and next(iter(self._answered.values()))[0] < now:
                self._answered.popitem(last=False)
            while self._away and next(iter(self._away.values()))[0] < now:
                self._away.popitem(last=False)
            self.passwords.forgive(now)
            return out

    def _time_out(self, now: float) -> Outbound:
        out: Outbound = []
        deadline = now - self.member_timeout
        gone = [
            m for m in self._tokens.values() if m.last_seen < deadline or (m.admit_by is not None and m.admit_by < now)
        ]
        for member in gone:
            if member.token in self._tokens:  # a closed room may have taken it already
                out += self._remove(member, EventType.TIMED_OUT)
        return out

    def _load(self, store: RoomStore, reloading: bool = False) -> None:
        """Take up rooms, members and recent events from a previous run (or, `reloading`,
        from the last transaction that reached the disk, after one that did not)."""
        stored_events: dict[str, list] = {}
        for stored in store.rooms():
            room = Room(
                stored.name, stored.host, stored.name.encode("utf-8"), stored.password_salt, stored.password_hash
            )
            stored_events[room.name] = store.events(stored.name, self.limits.event_buffer)
            for e in stored_events[room.name]:
                room.buffer(
                    e.seq, p.encode_event(p.Event(e.seq, e.time_ms, EventType(e.type), e.name, e.text)), self.limits
                )
            room.seq = store.last_seq(stored.name)
            if not reloading:
                self._tidy(store.prune_events, room.name, room.seq - self.limits.event_buffer)
            self._rooms[room.name] = room
        for kept in store.members():
            owner = self._rooms.get(kept.room)
            if owner is None:
                continue
            # Everyone gets a fresh timeout: a member silent through the restart is removed later as usual.
            transport = Transport(kept.wire)
            if transport is Transport.PLAIN and kept.plain_text:
                transport = Transport.BARE
            member = self._new_member(owner, kept.name, kept.token, kept.ip, transport, kept.address)
            member.chat_bucket.credit(HELD_PER_MEMBER)  # what its client kept while we were down
            member.proven = True  # its address was its own before the restart
            owner.members[member.name] = member
            self._tokens[member.token] = member
        for room in list(self._rooms.values()):
            if room.host not in room.members:
                if not reloading:
                    self._tidy(self._close, room, words.HOST_WENT_AWAY)
                continue
            for e in stored_events[room.name]:
                sender = self._tokens.get(e.sender_token) if e.sender_token else None
                if sender is not None and e.msg_id is not None:
                    sender.seen_ids[e.msg_id] = e.seq
                    sender.next_msg_id = max(sender.next_msg_id, e.msg_id + 1)
        if not reloading:
            log.info("took up %d rooms and %d members from %s", len(self._rooms), len(self._tokens), store.path)

    def _tidy(self, work: Callable[..., object], *args: object) -> None:
        """Housekeeping at start-up: on a disk that is full it waits, and the server starts anyway."""
        if self._store is None or self._store_failing:
            return
        try:
            with self._store.batch():
                work(*args)
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


def _stored_member(member: Member) -> StoredMember:
    return StoredMember(
        member.token, member.room.name, member.name, member.ip, member.address, member.plain_text, int(member.transport)
    )


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
