"""What this install remembers about the people it exchanges direct messages with, in SQLite.

A person's public key is remembered per server (its fingerprint) and name the first time it is
seen (trust on first use), so a later, different key is noticed; the person may mark a key as
compared by its safety code. The ids of direct messages received are remembered per sender key,
across restarts, so a replayed message is refused. A message claiming to be older than
OLDEST_DAYS is refused whatever its id, so its id need only be kept SEEN_DAYS (a little longer,
for a clock that moved) and then pruned.

The file is opened as the history's is (ocm_core/storage/history.py): private to the user, WAL,
checked at open, moved aside when damaged. The app calls in from a network thread and the Tk
thread: one connection, one lock.
"""

from __future__ import annotations

import enum
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ocm_core import paths
from ocm_core.crypto.direct import KEY_BYTES, MAX_MESSAGE_ID
from ocm_core.storage.personal import checked_version, in_transaction, open_personal
from ocm_core.storage.roomstore import StoreWriteError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: every key seen under a name (version 1, one key a name, was never released)
DAY = 86400.0
AHEAD_DAYS = 1  # a sender's clock may run this far ahead of ours

T = TypeVar("T")

_SET_VERSION = f"PRAGMA user_version={SCHEMA_VERSION}"
_SETTINGS = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL; -- a seen id lost to a power cut would let that message be replayed
PRAGMA secure_delete=ON; -- a pruned id says who wrote when: zeroed, not left in free pages
"""
_SCHEMA = """
-- Every key seen under a name on a server: one person on two PCs has two, and going back
-- and forth between them is no change; a key never seen under that name is.
CREATE TABLE IF NOT EXISTS people (
    server TEXT NOT NULL,
    name TEXT NOT NULL,
    key BLOB NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,
    seen_order INTEGER NOT NULL DEFAULT 0, -- higher: seen more lately (a clock may stand still)
    PRIMARY KEY (server, name, key)
) WITHOUT ROWID;
-- msg_id: the unsigned 64-bit id as SQLite's signed integer (two's complement).
CREATE TABLE IF NOT EXISTS seen (
    sender BLOB NOT NULL,
    msg_id INTEGER NOT NULL,
    recorded REAL NOT NULL,
    PRIMARY KEY (sender, msg_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_age ON seen (recorded);
"""
_KEYS = "SELECT key, verified FROM people WHERE server = ? AND name = ? ORDER BY seen_order DESC"
_REMEMBER = """
INSERT INTO people (server, name, key, verified, seen_order)
VALUES (?, ?, ?, 0, (SELECT coalesce(max(seen_order), 0) + 1 FROM people))
ON CONFLICT (server, name, key) DO UPDATE SET seen_order = excluded.seen_order
"""
_SEEN_ONE = "SELECT 1 FROM seen WHERE sender = ? AND msg_id = ?"
_DROP_OLD_PEOPLE = "DROP TABLE IF EXISTS people"
_VERIFY = "UPDATE people SET verified = 1 WHERE server = ? AND name = ? AND key = ?"
_SEE = "INSERT OR IGNORE INTO seen (sender, msg_id, recorded) VALUES (?, ?, ?)"
_PRUNE = "DELETE FROM seen WHERE recorded < ?"


class KeyStatus(enum.Enum):
    FIRST = "first"
    SAME = "same"
    CHANGED = "changed"


@dataclass(frozen=True)
class KeyCheck:
    status: KeyStatus
    previous: bytes | None  # the key remembered before, for CHANGED
    verified: bool  # the person marked this key as compared (safety code)


class DirectBook:
    SEEN_DAYS = 400  # seen ids kept this long (a message claiming to be older than OLDEST_DAYS is refused anyway)
    OLDEST_DAYS = 365

    def __init__(self, path: str | os.PathLike, *, clock: Callable[[], float] = time.time):
        self.path = str(path)
        self._clock = clock
        self._lock = threading.Lock()
        # Where a damaged file went (None: it was sound); a fresh one took its place.
        self._db, self.moved_aside = open_personal(self.path, self._prepare, "people")

    @classmethod
    def default_path(cls) -> Path:
        return paths.config_dir() / "people.db"

    def _prepare(self, db: sqlite3.Connection) -> None:
        def newer(found: int) -> Exception:
            return RuntimeError(f"{self.path} was written by a newer version (schema {found})")

        version = checked_version(db, SCHEMA_VERSION, newer)
        if version == 1:  # its keys are learned again, each the first time it is seen
            db.execute(_DROP_OLD_PEOPLE)
        db.executescript(_SETTINGS + _SCHEMA)
        if version != SCHEMA_VERSION:
            db.execute(_SET_VERSION)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` as one transaction; a failure raises StoreWriteError and leaves nothing."""
        return in_transaction(self._db, self._lock, work, lambda reason: StoreWriteError(self.path, reason))

    def _read(self, sql: str, args: tuple) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    # --- people's keys ---------------------------------------------------------------------

    def check_key(self, server: str, name: str, key: bytes) -> KeyCheck:
        """Compare `key` with the keys remembered for this person: SAME for one seen before
        under that name (also an older one: their other PC), CHANGED for a new one (the most
        recent other is `previous`), FIRST for the first. Remembered in every case."""
        _check_size(key)
        with self._lock:
            rows = self._db.execute(_KEYS, (server, name)).fetchall()  # read first: most checks write nothing new
        if rows and rows[0][0] == key:
            return KeyCheck(KeyStatus.SAME, None, bool(rows[0][1]))

        def remember(db: sqlite3.Connection) -> KeyCheck:
            # Decided again inside the transaction: two rooms' clients may learn the same key at once.
            rows = db.execute(_KEYS, (server, name)).fetchall()
            known = {row[0]: bool(row[1]) for row in rows}
            db.execute(_REMEMBER, (server, name, key))
            if key in known:
                return KeyCheck(KeyStatus.SAME, None, known[key])
            if not rows:
                return KeyCheck(KeyStatus.FIRST, None, False)
            return KeyCheck(KeyStatus.CHANGED, rows[0][0], False)

        return self._write(remember)

    def known_key(self, server: str, name: str) -> bytes | None:
        """The key seen last under this name on this server."""
        row = self._read(_KEYS, (server, name))
        return row[0] if row else None

    def mark_verified(self, server: str, name: str, key: bytes) -> bool:
        """The person compared `key`'s safety code; False if that key was never seen under the name."""
        _check_size(key)
        return self._write(lambda db: db.execute(_VERIFY, (server, name, key)).rowcount) == 1

    def is_verified(self, server: str, name: str, key: bytes | None = None) -> bool:
        """Whether `key` (default: the one seen last) was marked compared."""
        with self._lock:
            rows = self._db.execute(_KEYS, (server, name)).fetchall()
        if key is None:
            return bool(rows and rows[0][1])
        return any(row[0] == key and row[1] for row in rows)

    # --- messages seen -----------------------------------------------------------------------

    def first_time(self, sender_key: bytes, msg_id: int, sent_ms: int) -> bool:
        """Whether this message is to be shown: never seen, and sent within the window kept.
        True only once it is recorded and committed."""
        _check_size(sender_key)
        if not 0 <= msg_id <= MAX_MESSAGE_ID:
            raise ValueError(f"message id {msg_id} is out of range")
        now = self._clock()
        if not (now - self.OLDEST_DAYS * DAY) * 1000 <= sent_ms <= (now + AHEAD_DAYS * DAY) * 1000:
            return False
        stored_id = msg_id - (1 << 64) if msg_id >= 1 << 63 else msg_id
        return self._write(lambda db: db.execute(_SEE, (sender_key, stored_id, now)).rowcount) == 1

    def seen(self, sender_key: bytes, msg_id: int) -> bool:
        """Whether this message's id was recorded already."""
        stored_id = msg_id - (1 << 64) if msg_id >= 1 << 63 else msg_id
        return self._read(_SEEN_ONE, (sender_key, stored_id)) is not None

    def prune(self) -> int:
        """Forget the ids recorded more than SEEN_DAYS ago; how many went."""
        cutoff = self._clock() - self.SEEN_DAYS * DAY
        return self._write(lambda db: db.execute(_PRUNE, (cutoff,)).rowcount)


def _check_size(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"a public key is {KEY_BYTES} bytes, not {len(key)}")
