"""The person's own SQLite files (history.db, people.db), opened and written the same way:
made readable by the user alone before SQLite opens them, checked for damage at open (a damaged
one is moved aside and a fresh one made, so the app always starts), refused when a newer
version wrote them, and written one transaction at a time, taken with BEGIN IMMEDIATE so it
waits for another program's commit (the app and ocm-chat share the files) where a deferred one
could fail at its first write."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ocm_core.storage.roomstore import is_damage, move_aside

log = logging.getLogger(__name__)

T = TypeVar("T")

MEMORY = ":memory:"
BEGIN = "BEGIN IMMEDIATE"
_VERSION = "PRAGMA user_version"
_QUICK_CHECK = "PRAGMA quick_check(1)"


def open_personal(
    path: str, prepare: Callable[[sqlite3.Connection], None], what: str
) -> tuple[sqlite3.Connection, Path | None]:
    """`path` opened and `prepare(db)` run on it; a damaged file (`prepare` finds damage deep
    inside with `checked_version`) is moved aside, said in the log as `what` file, and a fresh
    one opened. Returns the connection and where a damaged file went (None: it was sound)."""
    try:
        return _connect(path, prepare), None
    except sqlite3.DatabaseError as exc:
        if path == MEMORY or not is_damage(exc):
            raise
        moved = move_aside(path)
        log.warning("the %s file %s was damaged (%s); moved aside to %s", what, path, exc, moved)
        return _connect(path, prepare), moved


def _connect(path: str, prepare: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    if path != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:  # made private before SQLite opens it; SQLite gives its -wal and -shm the same mode
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        # On Windows the mode only sets read-only or not: the profile's ACL keeps the file private.
    # timeout: the app and ocm-chat may both write to it; one waits for the other's commit.
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5)
    try:
        prepare(db)
    except BaseException:
        db.close()
        raise
    return db


def checked_version(db: sqlite3.Connection, newest: int, newer: Callable[[int], Exception]) -> int:
    """The file's schema version (0: new). One above `newest` raises `newer(version)` before
    anything is written to it (a newer app may still need it as it is). Damage deep in a file
    shows only when a damaged page is read, perhaps at every later search: looked for here
    (about 45 ms at 100,000 history lines), so it is moved aside at once."""
    version = db.execute(_VERSION).fetchone()[0]  # a file that is no database fails here
    if version > newest:
        raise newer(version)
    if version and (verdict := db.execute(_QUICK_CHECK).fetchone()[0]) != "ok":
        raise sqlite3.DatabaseError(f"database disk image is malformed ({verdict})")
    return version


def in_transaction(
    db: sqlite3.Connection,
    lock: threading.Lock | threading.RLock,
    work: Callable[[sqlite3.Connection], T],
    failed: Callable[[str], Exception],
) -> T:
    """`work(db)` as one transaction under `lock`; `failed(reason)` is raised when SQLite
    fails (a full disk, a file locked too long), and nothing of it stays. An IntegrityError
    is a bug of ours, not the disk's: raised as it is."""
    with lock:
        try:
            db.execute(BEGIN)
            try:
                result = work(db)
                db.commit()
            except BaseException:
                db.rollback()
                raise
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise failed(str(exc)) from None
        return result
