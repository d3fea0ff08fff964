"""Standing rooms: the rooms a server holds itself (`ocm-server --room NAME`), opened at its
start. Nobody hosts them, so no one's leaving closes them and an empty one stays. A stop
that closes rooms lets their members go but keeps the room, its id and its history in the
store; the next start that names it again takes it up as it was, and a start that does not
name it ends it for good. docs/standing-rooms.md says the same for an operator.

`Standing` is one concern of `RoomRegistry` (registry.py), which inherits it; its public
methods take the registry's lock and change memory only inside a store transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from ocm_core import words
from ocm_core.errors import LocalProtocolError, RegistryError
from ocm_core.sansio.parts import RegistryParts
from ocm_core.sansio.room import Outbound, Room, stored_room
from ocm_core.storage.roomstore import StoreWriteError
from ocm_core.wire import Status, check_name, names
from ocm_core.wire.names import name_key

log = logging.getLogger("ocm_core.sansio.registry")  # one logger for the registry and its parts

SERVER_ADDRESS = ""  # whose slot a standing room's password hash takes: the server's own, no member's


class Standing(RegistryParts):
    def open_standing_room(self, name: str, password: str | None = None) -> str:
        """Hold `name` as a standing room, locked with `password` if one is given, and return
        its room id. One the store kept from an earlier start comes back with its id, history
        and members (its password set to this one). RegistryError ROOM_EXISTS when a person
        hosts a room of that name (or one that reads as it), CANNOT_SAVE when the database
        cannot take what must change, BAD_REQUEST for a name a reader would not see as it is."""
        try:
            check_name(name, "the room name")
        except LocalProtocolError as exc:
            raise RegistryError(Status.BAD_REQUEST, exc.reason) from None
        problem = names.refusal(name)
        if problem is not None:
            raise RegistryError(Status.BAD_REQUEST, words.name_refusal_wire(problem, room=True))
        with self._lock:
            kept = self._held(name)
        salt, digest = self._standing_password(kept, password)  # outside the lock: hashing is slow on purpose
        with self._lock:
            room = self._held(name)
            if room is not None and (room.password_salt, room.password_hash) == (salt, digest):
                log.info("standing room %r (id %s) is held again, as it was", name, room.room_id)
                return room.room_id  # nothing to write: a start on a full disk takes it up all the same

            def hold() -> Room:
                if room is not None:
                    room.password_salt, room.password_hash = salt, digest
                    if self._store:
                        self._store.lock_room(name, salt, digest)
                    return room
                held = Room(name, "", name.encode("utf-8"), salt, digest, standing=True)
                self._rooms[name] = held
                if self._store:
                    self._store.add_room(stored_room(held))
                return held

            try:
                held = self._durably(hold)
            except StoreWriteError:
                raise self._cannot_save() from None
            log.info(
                "standing room %r (id %s) is held%s%s",
                name,
                held.room_id,
                " again" if room is not None else "",
                ", locked" if held.locked else "",
            )
            return held.room_id

    def _standing_password(self, kept: Room | None, password: str | None) -> tuple[bytes | None, bytes | None]:
        """(salt, digest) of a standing room's password, (None, None) for an open room: the kept
        ones when the password is the one kept, so that a start naming the room as before writes
        nothing."""
        if not password:
            return None, None
        if kept is not None and kept.password_salt is not None and kept.password_hash is not None:
            if self.passwords.matches(password, kept.password_salt, kept.password_hash):
                return kept.password_salt, kept.password_hash
        return self.passwords.hash_new(SERVER_ADDRESS, password)

    def _held(self, name: str) -> Room | None:
        """The standing room `name`, if there is one; RegistryError if a person's room has the name."""
        key = name_key(name)
        same = self._rooms.get(name) or next((r for r in self._rooms.values() if name_key(r.name) == key), None)
        if same is None:
            return None
        if not same.standing:
            raise RegistryError(
                Status.ROOM_EXISTS, f"room '{same.name}' is hosted by '{same.host}'; a standing room needs its own name"
            )
        if same.name != name:
            raise RegistryError(Status.ROOM_EXISTS, f"the standing room '{same.name}' reads as '{name}'")
        return same

    def end_standing_rooms(self, keep: Collection[str] = ()) -> Outbound:
        """End for good every standing room not named in `keep`: kept in the store from a start
        that named it, and not wanted now. Its members are told, and the room, its history and
        its files go. On a database that cannot be written, the rooms wait for the next start."""
        with self._lock:
            unwanted = [room for room in self._rooms.values() if room.standing and room.name not in keep]

            def end() -> Outbound:
                out: Outbound = []
                for room in unwanted:
                    log.info("standing room %r is not named at this start: it ends, with its history", room.name)
                    out += self._close(room, words.STANDING_ROOM_ENDED)
                return out

            try:
                return self._durably(end)
            except StoreWriteError:
                return []  # said in the log; memory is as the disk has it

    def _close_for_now(self, room: Room, reason: str) -> Outbound:
        """A standing room at a stop: its members are told and let go, but the store keeps the
        room, its id and its history (and the file store its files) for the next start."""
        if self._store:
            for member in room.members.values():
                self._store.remove_member(member.token)
        out = self._let_members_go(room, reason)
        self._rooms.pop(room.name, None)
        log.info("standing room %r closed for now: %s", room.name, reason)
        return out

    def standing_rooms(self) -> list[str]:
        """The names of the standing rooms held now."""
        with self._lock:
            return sorted((room.name for room in self._rooms.values() if room.standing), key=str.casefold)
