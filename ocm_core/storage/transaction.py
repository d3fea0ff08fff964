"""One SQLite transaction for the person's own files (history.db, people.db), the same way in
each: taken with BEGIN IMMEDIATE, so it waits for another program's commit (the app and
ocm-chat share the files) where a deferred one could fail at its first write; all of it or
nothing; a failure of the disk raised as the caller's own error."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

BEGIN = "BEGIN IMMEDIATE"


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
