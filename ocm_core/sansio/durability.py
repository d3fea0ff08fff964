"""The registry's memory kept in step with its database: every change is one transaction, and a
commit that fails puts memory back as the disk has it, so nothing of it is sent, acknowledged
or numbered. While the disk refuses writes, what must be stored waits and is refused with a
sentence; a probe finds when writing works again. At start, rooms come back from the disk.

`Durability` is one concern of `RoomRegistry` (registry.py), which inherits it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ocm_core import wire as p
from ocm_core import words
from ocm_core.errors import RegistryError
from ocm_core.sansio.acting import older_event, take_up_in_book
from ocm_core.sansio.parts import RegistryParts
from ocm_core.sansio.relay import HELD_PER_MEMBER
from ocm_core.sansio.room import Room, Transport
from ocm_core.storage.roomstore import EVENT_DELETED, EVENT_EDITED, RoomStore, StoreWriteError
from ocm_core.wire import EventType, Status

log = logging.getLogger("ocm_core.sansio.registry")  # one logger for the registry and its parts

STORE_PROBE_SECONDS = 2.0  # while the database cannot be written, how often to see whether it can again


class Durability(RegistryParts):
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
        away = {token for token, member in self._tokens.items() if member.away}  # never stored, kept on
        self._rooms.clear()
        self._tokens.clear()
        self._load(self._store, reloading=True)
        for token, member in self._tokens.items():
            if channels.get(token) is not None:
                member.channel = channels[token]
            member.away = token in away

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

    def check_store(self) -> bool:
        """Whether the store takes a write now; if not, the registry waits for it as after a
        failed commit (said once in the log). True without a store."""
        with self._lock:
            if self._store is None or self._store_failing or self._store.writable():
                return not self._store_failing
            self._store_failed(StoreWriteError(self._store.path, "no page can be written"), reload=False)
            return False

    def _load(self, store: RoomStore, reloading: bool = False) -> None:
        """Take up rooms, members and recent events from a previous run (or, `reloading`,
        from the last transaction that reached the disk, after one that did not)."""
        stored_events: dict[str, list] = {}
        for stored in store.rooms():
            room = Room(
                stored.name,
                stored.host,
                stored.name.encode("utf-8"),
                stored.password_salt,
                stored.password_hash,
                room_id=stored.room_id,
                standing=stored.standing,
                topic=stored.topic,
            )
            stored_events[room.name] = store.events(stored.name, self.limits.event_buffer)
            for e in stored_events[room.name]:
                event = p.Event(
                    e.seq,
                    e.time_ms,
                    EventType(e.type),
                    e.name,
                    e.text,
                    edited=bool(e.flags & EVENT_EDITED),
                    deleted=bool(e.flags & EVENT_DELETED),
                )
                older = older_event(event, e.older_text)
                room.buffer(e.seq, p.encode_event(event), self.limits, p.encode_event(older) if older else None)
                take_up_in_book(room.book, event, e.owner or e.sender_token or b"")
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
            if member.channel is not None:
                member.direct_key, member.direct_proven = kept.direct_key, kept.direct_proven and bool(kept.direct_key)
            member.proven = member.heard = True  # its address was its own before the restart
            if member.channel is not None:  # what it opened before the restart opens no more
                member.channel.window.resume_after(kept.replay_newest)
            owner.members[member.name] = member
            self._tokens[member.token] = member
        for room in list(self._rooms.values()):
            if not room.standing and room.host not in room.members:
                if not reloading:
                    self._tidy(self._close, room, words.HOST_WENT_AWAY)
                continue
            for e in stored_events[room.name]:
                sender = self._tokens.get(e.sender_token) if e.sender_token else None
                if sender is not None and e.msg_id is not None:
                    sender.seen_ids[e.msg_id] = e.seq
                    sender.next_msg_id = max(sender.next_msg_id, e.msg_id + 1)
        self._load_mail(store)
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
