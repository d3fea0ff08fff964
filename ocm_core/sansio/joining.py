"""The registry's admission of people: creating a room, joining one, and coming back with an old
token after a time-out (a laptop asleep). Names and capacities are checked here, passwords by
`PasswordGuard`; a request repeated with its request id gets the first answer again.

`Joining` is one concern of `RoomRegistry` (registry.py), which inherits it; its public
methods take the registry's lock and change memory only inside a store transaction.
"""

from __future__ import annotations

import logging
import math
import secrets

from ocm_core import wire as p
from ocm_core import words
from ocm_core.crypto.direct import public_text
from ocm_core.errors import RegistryError
from ocm_core.sansio.parts import RegistryParts
from ocm_core.sansio.room import (
    Address,
    Member,
    Outbound,
    Room,
    TokenBucket,
    Transport,
    forget_full_buckets,
    stored_member,
    stored_room,
)
from ocm_core.sansio.tombstones import TOMBSTONE_LIMIT, TokenEnd
from ocm_core.storage.roomstore import StoreWriteError
from ocm_core.wire import EventType, Status, names
from ocm_core.wire.names import name_key

log = logging.getLogger("ocm_core.sansio.registry")  # one logger for the registry and its parts

TOKEN_BYTES = 16  # 128 bits from secrets, sent as 22 URL-safe characters
REPEAT_SECONDS = 120.0  # a CREATE or JOIN repeated with its request id within this gets the first answer
ADMIT_SECONDS = 10.0  # a member admitted by a request with an id, never heard from since, is dropped after this
CREATE_ADDRESSES = 10_000  # addresses whose creation rate is remembered at most


class Joining(RegistryParts):
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
        direct_key: bytes | None = None,
    ) -> bytes:
        """Create `room` with `username` as its host; return the host's token. A repeat of a
        request (the same `request_id` from the same address) gets the same token.
        `direct_key`: the install's key for direct messages, usable once proved (mailbox.py)."""
        key = ("create", ip, room, username, request_id) if request_id else None
        with self._lock:
            if token := self._repeat(key):
                return token
        _check_readable(room, room=True)
        _check_readable(username, room=False)
        with self._lock:
            self._check_unheard(ip)
        salt = digest = None
        if password:
            with self._lock:
                self._check_room_free(room, ip)  # before the slow hash, so refusals cost nothing
            salt, digest = self.passwords.hash_new(ip, password)  # outside the lock: it is slow on purpose
        with self._lock:
            self._check_room_free(room, ip)
            self._take_create(ip)

            def create() -> Member:
                new_room = Room(room, username, room.encode("utf-8"), salt, digest)
                self._rooms[room] = new_room
                member = self._add_member(new_room, username, ip, wire, direct_key)
                if self._store:
                    self._store.add_room(stored_room(new_room), stored_member(member))
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
        key = name_key(room)
        same = room if room in self._rooms else next((r for r in self._rooms if name_key(r) == key), None)
        if same is not None:
            raise RegistryError(Status.ROOM_EXISTS, f"room '{same}' already exists; pick another name or join it")
        if len(self._rooms) >= self.limits.max_rooms:
            raise RegistryError(Status.SERVER_FULL, "this server has as many rooms as it allows; try again later")
        cap = self.limits.max_rooms_per_address
        hosted = [r.members.get(r.host) for r in self._rooms.values() if not r.standing]
        if sum(1 for host in hosted if host is not None and host.ip == ip) >= cap:
            raise RegistryError(
                Status.SERVER_FULL,
                f"your address already hosts {cap} rooms on this server, the most it allows; close one first",
            )

    def _check_unheard(self, ip: str) -> None:
        """Refuse for now an address whose members, never heard from, are already many."""
        limits = self.limits
        if sum(1 for m in self._tokens.values() if m.ip == ip and not m.heard) >= limits.unheard_per_address:
            seconds = limits.unheard_retry_seconds
            raise RegistryError(
                Status.TRY_LATER,
                words.UNHEARD_MEMBERS.format(count=limits.unheard_per_address),
                retry_after=seconds,
            )

    def _take_create(self, ip: str) -> None:
        """One new room's worth of this address's creation rate; TRY_LATER, with the seconds
        until there is one, when it is spent."""
        now, limits = self._clock(), self.limits
        bucket = self._create_buckets.get(ip)
        if bucket is None:
            if len(self._create_buckets) >= CREATE_ADDRESSES:  # forget the addresses that are quiet again
                forget_full_buckets(self._create_buckets, now)
            burst = max(limits.create_burst_per_address, limits.max_rooms_per_address)
            bucket = self._create_buckets[ip] = TokenBucket(
                limits.creates_per_minute_per_address / 60, burst, burst, now
            )
        bucket.refill(now)
        if bucket.tokens < 1:
            seconds = max(1, math.ceil((1 - bucket.tokens) / bucket.rate))
            raise RegistryError(Status.TRY_LATER, words.ROOMS_TOO_FAST, retry_after=seconds)
        bucket.take(now)

    def join_room(
        self,
        room: str,
        username: str,
        ip: str,
        password: str | None = None,
        *,
        wire: Transport = Transport.PLAIN,
        request_id: str | None = None,
        direct_key: bytes | None = None,
    ) -> tuple[bytes, Outbound]:
        """Add `username` to `room`; return its token and the notices to send. A repeat of a
        request (the same `request_id` from the same address) gets the same token, and no notice."""
        key = ("join", ip, room, username, request_id) if request_id else None
        with self._lock:
            if token := self._repeat(key):
                return token, []
            _check_readable(username, room=False)
            self._check_unheard(ip)
            target = self._rooms.get(room)
            if target is None:
                raise RegistryError(Status.NO_SUCH_ROOM, f"there is no room '{room}' on this server; check the name")
            salt, expected = target.password_salt, target.password_hash
        if expected is not None:  # before any name check, so a locked room tells outsiders nothing
            assert salt is not None  # stored with the hash
            self.passwords.check(ip, password, salt, expected)
        with self._lock:
            target = self._room_for_join(room, username)  # it may have closed while we hashed
            if (direct_key or b"") in target.removed or b"ip:" + ip.encode("utf-8") in target.removed:
                raise RegistryError(Status.REMOVED, words.YOU_WERE_REMOVED)

            def join() -> tuple[Member, Outbound]:
                member = self._add_member(target, username, ip, wire, direct_key)
                if self._store:
                    self._store.add_member(stored_member(member))
                return member, self._emit(target, EventType.JOINED, username, _joined_text(member))

            try:
                member, out = self._durably(join)
            except StoreWriteError:
                raise self._cannot_save() from None
            self._remember(key, member)
            log.info("%r joined room %r from %s", username, room, ip)
            return member.token, out

    def resume(
        self, room: str, username: str, ip: str, old_token: bytes, direct_key: bytes | None = None
    ) -> tuple[bytes, Outbound, Transport]:
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
                member.heard, member.joined_at = False, member.last_seen
                member.address, member.proven = None, False
                # A token crosses the LAN readable: whoever comes back with it proves its key again.
                member.direct_key, member.direct_proven, member.away = direct_key, False, False
                target.members[username] = member
                self._tokens[member.token] = member
                if self._store:
                    self._store.add_member(stored_member(member))
                return self._emit(target, EventType.JOINED, username, _joined_text(member))

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
        key = name_key(username)
        if any(name_key(name) == key for name in target.members):
            raise RegistryError(Status.NAME_TAKEN, f"the name '{username}' is taken in room '{room}'; pick another")
        if len(target.members) >= self.limits.max_members_per_room:
            raise RegistryError(Status.ROOM_FULL, f"room '{room}' is full ({len(target.members)} members)")
        return target

    def _add_member(
        self, room: Room, username: str, ip: str, transport: Transport, direct_key: bytes | None = None
    ) -> Member:
        token = secrets.token_urlsafe(TOKEN_BYTES).encode("ascii")
        while token in self._tokens:  # 128 random bits: never in practice, but uniqueness is a promise
            token = secrets.token_urlsafe(TOKEN_BYTES).encode("ascii")
        member = self._new_member(room, username, token, ip, transport)
        member.direct_key = direct_key if member.channel is not None else None  # plain members write to nobody
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
            joined_at=now,
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


def _check_readable(name: str, *, room: bool) -> None:
    """Refuse a name a reader would not see as it is (wire/names.py)."""
    problem = names.refusal(name)
    if problem is not None:
        raise RegistryError(Status.BAD_REQUEST, words.name_refusal_wire(problem, room=room))


def _joined_text(member: Member) -> str:
    """A JOINED event's text: "plain" for a member whose traffic is not encrypted, else the key
    it gave for direct messages (base64url; usable once it proves it), or "" without one."""
    if member.channel is None:
        return p.JOINED_PLAIN
    return public_text(member.direct_key) if member.direct_key else ""
