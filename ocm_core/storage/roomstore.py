"""SQLite persistence for the registry, so a restarted server carries on where it stopped.

Every change the registry makes is one transaction here, committed before the
server sends anything about it: an acknowledged message is on disk. WAL with
synchronous=NORMAL survives a killed process (the OS still holds the pages); only
a power cut could cost the last transactions. The registry calls in under its own
lock, so one connection serves every thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ocm_core import paths
from ocm_core.errors import DatabaseInUse, OCMError
from ocm_core.storage import wal

log = logging.getLogger(__name__)

# Lines marked "pragma: no mutate" hold an SQL text and nothing else: mutmut's only changes
# there would be the case of words SQLite reads in any case, or "XX" around a statement, a
# syntax error every test of the store runs into (docs/testing.md, "Scores").

SCHEMA_VERSION = 4  # 2: rooms.room_id and rooms.standing; 3: people and mail (direct messages);
# 4: rooms.topic, events.flags, events.older_text and events.owner (replies, reactions, edits)
ROOM_ID_BYTES = 16  # a room id is 32 hex digits (wire/roomlist.py checks the form)


def new_room_id() -> str:
    """A fresh room id: a room closed and made again under its name gets another."""
    return secrets.token_hex(ROOM_ID_BYTES)


class StoreWriteError(OCMError):
    """A write did not reach the disk (full, read-only, failing); nothing of its transaction stays."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot write to {path}: {reason}")
        self.path = path
        self.reason = reason


_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    password_salt BLOB,
    password_hash BLOB,
    room_id TEXT NOT NULL DEFAULT '',
    standing INTEGER NOT NULL DEFAULT 0,
    topic TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS members (
    token BLOB PRIMARY KEY,
    room TEXT NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    ip TEXT NOT NULL,
    udp_host TEXT,
    udp_port INTEGER,
    plain_text INTEGER NOT NULL DEFAULT 0,
    wire INTEGER NOT NULL DEFAULT 0,
    replay_newest INTEGER NOT NULL DEFAULT 0,
    direct_key BLOB,
    direct_proven INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
    room TEXT NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    type INTEGER NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    sender_token BLOB,
    msg_id INTEGER,
    flags INTEGER NOT NULL DEFAULT 0,
    older_text TEXT,
    owner BLOB,
    PRIMARY KEY (room, seq)
);
CREATE TABLE IF NOT EXISTS people (
    room TEXT NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    direct_key BLOB NOT NULL,
    PRIMARY KEY (room, name)
);
CREATE TABLE IF NOT EXISTS mail (
    mail_id INTEGER PRIMARY KEY,
    room TEXT NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
    recipient_key BLOB NOT NULL,
    kind INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    peer_key BLOB NOT NULL,
    peer TEXT NOT NULL,
    sealed BLOB NOT NULL
);
"""


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is broken (not merely busy or full)."""
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in str(exc)


def move_aside(path: str | os.PathLike) -> Path:
    """Rename a damaged database (with its WAL and shared-memory files) to PATH.damaged-STAMP."""
    path = Path(path)
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(Path(f"{target}{suffix}"))
    return target


def default_db_path() -> Path:
    """The platform's data directory, or the file an earlier version left in ~/.local/share."""
    return paths.existing_or_legacy(paths.data_dir() / "server.db", paths.legacy_data_dirs())


@dataclass
class StoredRoom:
    name: str
    host: str  # "" for a standing room: the server holds it
    password_salt: bytes | None
    password_hash: bytes | None
    room_id: str = ""
    standing: bool = False  # opened by the server's --room, kept while the server names it
    topic: str = ""


@dataclass
class StoredMember:
    token: bytes
    room: str
    name: str
    ip: str
    address: tuple[str, int] | None
    plain_text: bool
    wire: int = 0  # sansio.room.Transport: plain, sealed, kanaru or bare text
    replay_newest: int = 0  # the newest nonce position opened from it: nothing at or below opens again
    direct_key: bytes | None = None  # the key it gave for direct messages
    direct_proven: bool = False  # it proved holding that key (only then is it written to)


@dataclass
class StoredMail:
    """A direct message (sealed: the server cannot read it) or a receipt, waiting for the
    holder of `recipient_key`; it goes with its room."""

    mail_id: int
    room: str
    recipient_key: bytes
    kind: int  # wire.MailKind
    time_ms: int
    msg_id: int  # 0 .. 2**64-1 (kept as SQLite's signed 64 bits)
    peer_key: bytes
    peer: str
    sealed: bytes


@dataclass
class StoredEvent:
    room: str
    seq: int
    time_ms: int
    type: int
    name: str
    text: str
    sender_token: bytes | None
    msg_id: int | None
    flags: int = 0  # EVENT_EDITED, EVENT_DELETED
    older_text: str | None = None  # how it reads to a member that does not speak actions (None: as it is)
    owner: bytes | None = None  # a message's sender's install key (or token): who may edit it


EVENT_EDITED = 0x01
EVENT_DELETED = 0x02


class RoomStore:
    def __init__(self, path: str | os.PathLike):
        path = str(path)
        log_before = b""
        self.damaged_log: Path | None = None  # where a damaged write-ahead log was kept, if one was
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fresh = not Path(path).exists()
            try:
                log_before = Path(path + "-wal").read_bytes()  # as the last run left it, before SQLite reads it
            except FileNotFoundError:
                pass
        # timeout=0: a second server on this file fails at once instead of waiting 5 s.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=0)
        if path != ":memory:" and fresh:
            os.chmod(path, 0o600)  # it holds session tokens (on Windows the profile's ACL guards it)
        try:
            self._prepare(path)
        except BaseException:
            self._db.close()  # in use, damaged, or newer: leave no connection open on it
            raise
        if log_before:
            self._check_log(path, log_before)
        self.path = path
        self._in_batch = False

    def _prepare(self, path: str) -> None:
        # One server per file, on every OS: SQLite's own lock, taken exclusive by the
        # first write and held until close (the OS drops it if the process dies).
        self._db.execute(
            "PRAGMA locking_mode=EXCLUSIVE"  # pragma: no mutate
        )
        try:
            self._db.execute(
                "BEGIN IMMEDIATE"  # pragma: no mutate
            )
            self._db.execute(
                "COMMIT"  # pragma: no mutate
            )
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise DatabaseInUse(path) from None
            raise
        self._db.execute(
            "PRAGMA journal_mode=WAL"  # pragma: no mutate
        )
        self._db.execute(
            "PRAGMA synchronous=NORMAL"  # pragma: no mutate
        )
        self._db.execute(
            "PRAGMA foreign_keys=ON"  # pragma: no mutate
        )
        version = self._db.execute(
            "PRAGMA user_version"  # pragma: no mutate
        ).fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{path} was written by a newer version (schema {version}); use another --db file")
        self._db.executescript(_SCHEMA)
        room_columns = [
            row[1]
            for row in self._db.execute(
                "PRAGMA table_info(rooms)"  # pragma: no mutate
            )
        ]
        if "room_id" not in room_columns:  # schema 1: rooms had no id, and none was standing
            self._give_rooms_ids()
        if "topic" not in room_columns:  # schema 3 and before: no actions
            self._db.execute(
                "ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT ''"  # pragma: no mutate
            )
        event_columns = [
            row[1]
            for row in self._db.execute(
                "PRAGMA table_info(events)"  # pragma: no mutate
            )
        ]
        for column, kind in (("flags", "INTEGER NOT NULL DEFAULT 0"), ("older_text", "TEXT"), ("owner", "BLOB")):
            if column not in event_columns:
                self._db.execute(f"ALTER TABLE events ADD COLUMN {column} {kind}")
        columns = [
            row[1]
            for row in self._db.execute(
                "PRAGMA table_info(members)"  # pragma: no mutate
            )
        ]
        if "wire" not in columns:  # written before encryption: every member then was plain (0)
            self._db.execute(
                "ALTER TABLE members ADD COLUMN wire INTEGER NOT NULL DEFAULT 0"  # pragma: no mutate
            )
        if "replay_newest" not in columns:  # written before replay windows were kept
            self._db.execute(
                "ALTER TABLE members ADD COLUMN replay_newest INTEGER NOT NULL DEFAULT 0"  # pragma: no mutate
            )
        if "direct_key" not in columns:  # written before direct messages
            self._db.execute(
                "ALTER TABLE members ADD COLUMN direct_key BLOB"  # pragma: no mutate
            )
        if "direct_proven" not in columns:  # written while direct keys were not yet proven per member
            self._db.execute(
                "ALTER TABLE members ADD COLUMN direct_proven INTEGER NOT NULL DEFAULT 0"  # pragma: no mutate
            )
        if version != SCHEMA_VERSION:  # only a new file is written to here: a full disk must not stop a start
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _give_rooms_ids(self) -> None:
        """Schema 1 to 2, in one transaction: the two columns, and a fresh id for every room."""
        self._db.execute(
            "BEGIN IMMEDIATE"  # pragma: no mutate
        )
        try:
            self._db.execute(
                "ALTER TABLE rooms ADD COLUMN room_id TEXT NOT NULL DEFAULT ''"  # pragma: no mutate
            )
            self._db.execute(
                "ALTER TABLE rooms ADD COLUMN standing INTEGER NOT NULL DEFAULT 0"  # pragma: no mutate
            )
            names = [
                row[0]
                for row in self._db.execute(
                    "SELECT name FROM rooms"  # pragma: no mutate
                )
            ]
            self._db.executemany(
                "UPDATE rooms SET room_id = ? WHERE name = ?",  # pragma: no mutate
                [(new_room_id(), name) for name in names],
            )
        except BaseException:
            self._db.rollback()
            raise
        self._db.commit()
        log.info("gave the %d rooms of a schema-1 database an id each", len(names))

    def _check_log(self, path: str, log_before: bytes) -> None:
        """Keep a write-ahead log aside when SQLite passed over part of it (ocm_core/storage/wal.py)."""
        try:
            taken_up = self._db.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"  # pragma: no mutate
            ).fetchone()[1]
        except sqlite3.Error:
            return  # nothing can be written now (a full disk): the log stays as it is for the next start
        if not wal.passed_over(log_before, max(taken_up, 0)):
            return
        kept = Path(f"{path}-wal.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            kept.write_bytes(log_before)
        except OSError as exc:
            log.warning("could not keep the damaged log of %s aside: %s", path, exc)
            return
        self.damaged_log = kept
        log.warning(
            "the write-ahead log of %s was damaged: what was written after its last good entry is lost; "
            "the damaged log is kept at %s",
            path,
            kept,
        )

    @contextlib.contextmanager
    def batch(self):
        """One transaction for every write inside: a burst of datagrams costs one commit."""
        if self._in_batch:
            yield
            return
        self._db.execute(
            "BEGIN"  # pragma: no mutate
        )
        self._in_batch = True
        try:
            yield
        except BaseException:
            self._db.rollback()
            raise
        else:
            self._commit()
        finally:
            self._in_batch = False

    def _commit(self) -> None:
        try:
            self._db.commit()
        except sqlite3.Error as exc:
            self._db.rollback()  # SQLite may have rolled back already; then this does nothing
            raise StoreWriteError(self.path, str(exc)) from None

    def writable(self) -> bool:
        """Whether a one-page write reaches the disk now (after a StoreWriteError, to see it pass)."""
        try:
            self._write((f"PRAGMA user_version={SCHEMA_VERSION}", ()))
        except StoreWriteError:
            return False
        return True

    def close(self) -> None:
        self._db.close()

    def _write(self, *statements: tuple[str, tuple]) -> None:
        """Run `statements` in the open batch, or else as one transaction of their own.
        A failure raises StoreWriteError: the caller's transaction is then gone whole."""
        try:
            if self._in_batch:  # the batch's transaction covers it
                for sql, args in statements:
                    self._db.execute(sql, args)
                return
            self._db.execute(
                "BEGIN"  # pragma: no mutate
            )
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
            except BaseException:
                self._db.rollback()
                raise
        except sqlite3.IntegrityError:
            raise  # a bug of ours, not the disk's
        except sqlite3.Error as exc:
            raise StoreWriteError(self.path, str(exc)) from None
        self._commit()

    # --- writes ----------------------------------------------------------------------

    def add_room(self, room: StoredRoom, host: StoredMember | None = None) -> None:
        """A new room, with its host as its first member (a standing room has none)."""
        insert = (
            "INSERT INTO rooms (name, host, password_salt, password_hash, room_id, standing) "  # pragma: no mutate
            "VALUES (?, ?, ?, ?, ?, ?)",  # pragma: no mutate
            (room.name, room.host, room.password_salt, room.password_hash, room.room_id, int(room.standing)),
        )
        self._write(insert, *([_member_insert(host)] if host is not None else []))

    def lock_room(self, name: str, salt: bytes | None, digest: bytes | None) -> None:
        """Set a room's password (None, None: open it): a standing room's may change between starts."""
        self._write(
            (
                "UPDATE rooms SET password_salt = ?, password_hash = ? WHERE name = ?",  # pragma: no mutate
                (salt, digest, name),
            )
        )

    def set_topic(self, name: str, topic: str) -> None:
        self._write(
            (
                "UPDATE rooms SET topic = ? WHERE name = ?",  # pragma: no mutate
                (topic, name),
            )
        )

    def rewrite_event(
        self, room: str, seq: int, text: str, edited: bool, deleted: bool, older_text: str | None
    ) -> None:
        """An edited or deleted message: its new text ("" when deleted: kept nowhere here)."""
        flags = (EVENT_EDITED if edited else 0) | (EVENT_DELETED if deleted else 0)
        self._write(
            (
                "UPDATE events SET text = ?, flags = ?, older_text = ? WHERE room = ? AND seq = ?",  # pragma: no mutate
                (text, flags, older_text, room, seq),
            )
        )

    def add_member(self, member: StoredMember) -> None:
        self._write(_member_insert(member))

    def add_event(self, event: StoredEvent, forget_seq: int = 0) -> None:
        """Store an event and drop the one that just left the buffer (`forget_seq`), so the
        table stays at the buffer's length without a bulk delete that would stall the relay."""
        statements = [_event_insert(event)]
        if forget_seq > 0:
            statements.append(
                (
                    "DELETE FROM events WHERE room = ? AND seq = ?",  # pragma: no mutate
                    (event.room, forget_seq),
                )
            )
        self._write(*statements)

    def remove_member(self, token: bytes) -> None:
        self._write(
            (
                "DELETE FROM members WHERE token = ?",  # pragma: no mutate
                (token,),
            )
        )

    def remove_room(self, name: str) -> None:
        self._write(
            (
                "DELETE FROM rooms WHERE name = ?",  # pragma: no mutate
                (name,),
            )
        )

    def move_member(self, token: bytes, address: tuple[str, int], plain_text: bool) -> None:
        self._write(
            (
                "UPDATE members SET udp_host = ?, udp_port = ?, plain_text = ? WHERE token = ?",  # pragma: no mutate
                (*address, int(plain_text), token),
            )
        )

    def keep_replay_windows(self, newest: dict[bytes, int]) -> None:
        """Record each member's newest opened nonce (token -> position), in the batch that
        handled its datagrams: a restarted server refuses what it had opened before."""
        if newest:
            self._write(
                *(
                    (
                        "UPDATE members SET replay_newest = ? WHERE token = ?",  # pragma: no mutate
                        (n, token),
                    )
                    for token, n in newest.items()
                )
            )

    def prune_events(self, room: str, keep_after_seq: int) -> None:
        self._write(
            (
                "DELETE FROM events WHERE room = ? AND seq <= ?",  # pragma: no mutate
                (room, keep_after_seq),
            )
        )

    def add_person(self, room: str, name: str, direct_key: bytes, token: bytes) -> None:
        """`name` (the member holding `token`) proved holding `direct_key` in `room`: it may be
        written to there, also while away."""
        self._write(
            (
                "INSERT OR REPLACE INTO people VALUES (?, ?, ?)",  # pragma: no mutate
                (room, name, direct_key),
            ),
            (
                "UPDATE members SET direct_proven = 1 WHERE token = ?",  # pragma: no mutate
                (token,),
            ),
        )

    def forget_person(self, room: str, name: str) -> None:
        """Past the bound on the people a room remembers: the oldest goes."""
        self._write(
            (
                "DELETE FROM people WHERE room = ? AND name = ?",  # pragma: no mutate
                (room, name),
            )
        )

    def add_mail(self, mail: StoredMail) -> None:
        self._write(
            (
                "INSERT INTO mail VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # pragma: no mutate
                (
                    mail.mail_id,
                    mail.room,
                    mail.recipient_key,
                    mail.kind,
                    mail.time_ms,
                    _signed64(mail.msg_id),
                    mail.peer_key,
                    mail.peer,
                    mail.sealed,
                ),
            )
        )

    def remove_mail(self, mail_id: int) -> None:
        self._write(
            (
                "DELETE FROM mail WHERE mail_id = ?",  # pragma: no mutate
                (mail_id,),
            )
        )

    # --- reads -----------------------------------------------------------------------

    def people(self) -> list[tuple[str, str, bytes]]:
        """(room, name, key) of everyone who proved a key in a room still kept."""
        return list(
            self._db.execute(
                "SELECT room, name, direct_key FROM people"  # pragma: no mutate
            )
        )

    def mail(self) -> list[StoredMail]:
        rows = self._db.execute(
            "SELECT mail_id, room, recipient_key, kind, time_ms, msg_id, peer_key, peer, sealed "  # pragma: no mutate
            "FROM mail ORDER BY mail_id"  # pragma: no mutate
        )
        return [
            StoredMail(m, r, rk, k, t, msg % (1 << 64), pk, peer, sealed)
            for m, r, rk, k, t, msg, pk, peer, sealed in rows
        ]

    def rooms(self) -> list[StoredRoom]:
        return [
            StoredRoom(name, host, salt, digest, room_id, bool(standing), topic)
            for name, host, salt, digest, room_id, standing, topic in self._db.execute(
                "SELECT name, host, password_salt, password_hash, room_id, standing, topic "  # pragma: no mutate
                "FROM rooms"  # pragma: no mutate
            )
        ]

    def members(self) -> list[StoredMember]:
        rows = self._db.execute(
            "SELECT token, room, name, ip, udp_host, udp_port, plain_text, wire, "  # pragma: no mutate
            "replay_newest, direct_key, direct_proven FROM members ORDER BY rowid"  # pragma: no mutate
        )
        return [
            StoredMember(t, r, n, ip, (h, p) if h is not None else None, bool(pt), w, rn, dk, bool(dp))
            for t, r, n, ip, h, p, pt, w, rn, dk, dp in rows
        ]

    def events(self, room: str, limit: int) -> list[StoredEvent]:
        rows = self._db.execute(
            "SELECT room, seq, time_ms, type, name, text, sender_token, msg_id, "  # pragma: no mutate
            "flags, older_text, owner FROM events "  # pragma: no mutate
            "WHERE room = ? ORDER BY seq DESC LIMIT ?",  # pragma: no mutate
            (room, limit),
        ).fetchall()
        return [StoredEvent(*row) for row in reversed(rows)]

    def last_seq(self, room: str) -> int:
        found = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE room = ?",  # pragma: no mutate
            (room,),
        )
        return found.fetchone()[0]


def _member_insert(member: StoredMember) -> tuple[str, tuple]:
    host, port = member.address or (None, None)
    return (
        "INSERT INTO members (token, room, name, ip, udp_host, udp_port, "  # pragma: no mutate
        "plain_text, wire, replay_newest, direct_key, direct_proven) "  # pragma: no mutate
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # pragma: no mutate
        (
            member.token,
            member.room,
            member.name,
            member.ip,
            host,
            port,
            int(member.plain_text),
            member.wire,
            member.replay_newest,
            member.direct_key,
            int(member.direct_proven),
        ),
    )


def _event_insert(event: StoredEvent) -> tuple[str, tuple]:
    return (
        "INSERT INTO events (room, seq, time_ms, type, name, text, sender_token, msg_id, "  # pragma: no mutate
        "flags, older_text, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # pragma: no mutate
        (
            event.room,
            event.seq,
            event.time_ms,
            event.type,
            event.name,
            event.text,
            event.sender_token,
            event.msg_id,
            event.flags,
            event.older_text,
            event.owner,
        ),
    )


def _signed64(value: int) -> int:
    """An unsigned 64-bit id as SQLite's signed INTEGER (read back with % 2**64)."""
    return value - (1 << 64) if value >= 1 << 63 else value
