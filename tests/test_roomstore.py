"""The server's database (ocm_core/storage/roomstore.py) and its write-ahead-log reader
(wal.py) as a second server and the file on disk see them: one server per file, a file from
an older version taken up, one from a newer refused, a damaged log told apart from a reused one."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
import struct
import sys
import time
from pathlib import Path

import pytest

from ocm_core.errors import DatabaseInUse
from ocm_core.storage import wal
from ocm_core.storage.roomstore import (
    SCHEMA_VERSION,
    RoomStore,
    StoredEvent,
    StoredMember,
    StoredRoom,
    is_damage,
    move_aside,
)


def member(token: bytes, room: str = "lobby", name: str = "ana", **fields) -> StoredMember:
    return StoredMember(token, room, name, "10.0.0.1", ("10.0.0.1", 5000), False, **fields)


def test_a_new_database_is_made_with_its_folders_private_to_its_user(tmp_path):
    path = tmp_path / "deep" / "er" / "server.db"
    store = RoomStore(path)
    store.add_room(StoredRoom("lobby", "ana", None, None), member(b"t1"))
    store.close()
    assert path.is_file()
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_second_server_on_the_same_file_is_refused_at_once_by_name(tmp_path):
    path = tmp_path / "server.db"
    first = RoomStore(path)
    started = time.monotonic()
    with pytest.raises(DatabaseInUse) as refused:
        RoomStore(path)
    assert time.monotonic() - started < 0.5  # no waiting for the lock: the other server holds it for good
    assert refused.value.path == str(path) and str(path) in str(refused.value)
    first.close()
    RoomStore(path).close()  # free once the first is gone


def test_a_file_from_a_newer_version_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "server.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=7")
    with pytest.raises(RuntimeError, match=r"was written by a newer version \(schema 7\); use another --db file"):
        RoomStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 7
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_a_file_from_before_encryption_is_taken_up_with_its_members_plain(tmp_path):
    path = tmp_path / "server.db"
    with sqlite3.connect(path) as db:  # the schema of the first version: no wire, no replay window
        db.executescript(
            """
            CREATE TABLE rooms (name TEXT PRIMARY KEY, host TEXT NOT NULL, password_salt BLOB, password_hash BLOB);
            CREATE TABLE members (token BLOB PRIMARY KEY, room TEXT NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
                name TEXT NOT NULL, ip TEXT NOT NULL, udp_host TEXT, udp_port INTEGER,
                plain_text INTEGER NOT NULL DEFAULT 0);
            INSERT INTO rooms VALUES ('lobby', 'ana', NULL, NULL);
            INSERT INTO members VALUES (x'7431', 'lobby', 'ana', '10.0.0.1', '10.0.0.1', 5000, 1);
            """
        )
    store = RoomStore(path)
    assert store.members() == [StoredMember(b"t1", "lobby", "ana", "10.0.0.1", ("10.0.0.1", 5000), True, 0, 0)]
    store.add_member(member(b"t2", name="bo", wire=2, replay_newest=9))
    store.keep_replay_windows({b"t1": 40})
    store.close()
    again = RoomStore(path)
    assert [(m.name, m.wire, m.replay_newest) for m in again.members()] == [("ana", 0, 40), ("bo", 2, 9)]
    again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_what_is_written_reads_back_after_a_restart(tmp_path):
    path = tmp_path / "server.db"
    store = RoomStore(path)
    store.add_room(StoredRoom("lobby", "ana", b"salt", b"hash"), member(b"t1"))
    store.add_member(StoredMember(b"t2", "lobby", "bo", "10.0.0.2", None, False, 1))
    with store.batch():
        for seq in range(1, 6):
            store.add_event(StoredEvent("lobby", seq, 1000 + seq, 2, "ana", f"line {seq}", b"t1", seq), seq - 3)
    store.move_member(b"t2", ("10.0.0.2", 6000), True)
    store.close()

    store = RoomStore(path)
    assert store.rooms() == [StoredRoom("lobby", "ana", b"salt", b"hash")]
    assert store.members()[1] == StoredMember(b"t2", "lobby", "bo", "10.0.0.2", ("10.0.0.2", 6000), True, 1)
    assert [event.seq for event in store.events("lobby", 10)] == [3, 4, 5]  # each add forgot seq - 3
    assert [event.text for event in store.events("lobby", 2)] == ["line 4", "line 5"]  # the newest, oldest first
    assert store.events("lobby", 1)[0] == StoredEvent("lobby", 5, 1005, 2, "ana", "line 5", b"t1", 5)
    assert store.last_seq("lobby") == 5 and store.last_seq("nowhere") == 0
    store.prune_events("lobby", 4)
    assert [event.seq for event in store.events("lobby", 10)] == [5]
    store.remove_member(b"t2")
    assert [m.name for m in store.members()] == ["ana"]
    store.remove_room("lobby")
    assert store.rooms() == [] and store.members() == [] and store.events("lobby", 10) == []
    store.close()


def test_a_batch_that_fails_halfway_leaves_nothing_of_itself(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    store.add_room(StoredRoom("lobby", "ana", None, None), member(b"t1"))
    with pytest.raises(sqlite3.IntegrityError):
        with store.batch():
            store.add_member(member(b"t2", name="bo"))
            store.add_member(member(b"t2", name="bo again"))  # the same token: a bug of ours, raised as it is
    assert [m.name for m in store.members()] == ["ana"]
    store.add_member(member(b"t3", name="cy"))  # the store goes on
    assert [m.name for m in store.members()] == ["ana", "cy"]
    store.close()


def test_an_in_memory_store_touches_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = RoomStore(":memory:")
    store.add_room(StoredRoom("lobby", "ana", None, None), member(b"t1"))
    assert [room.name for room in store.rooms()] == ["lobby"]
    store.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="a colon is not allowed in a Windows file name")
def test_an_in_memory_store_reads_no_log_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stray = tmp_path / ":memory:-wal"  # named as a file store's log would be: not the in-memory store's
    stray.write_bytes(b"not a log" * 10)
    store = RoomStore(":memory:")
    assert store.damaged_log is None
    store.close()
    assert list(tmp_path.iterdir()) == [stray] and stray.read_bytes() == b"not a log" * 10


def test_damage_is_told_from_a_busy_or_full_disk():
    assert is_damage(sqlite3.DatabaseError("database disk image is malformed"))
    assert not is_damage(sqlite3.OperationalError("database or disk is full"))
    assert not is_damage(sqlite3.OperationalError("database is locked"))
    error = sqlite3.DatabaseError("file is not a database")
    error.sqlite_errorname = "SQLITE_NOTADB"
    assert is_damage(error)
    error.sqlite_errorname = "SQLITE_CORRUPT"
    assert is_damage(error)
    error.sqlite_errorname = "SQLITE_FULL"
    assert not is_damage(error)


def test_a_damaged_database_is_moved_aside_whole(tmp_path):
    path = tmp_path / "server.db"
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"server.db{suffix}").write_bytes(suffix.encode() or b"main")
    target = move_aside(path)
    assert target.name.startswith("server.db.damaged-") and len(target.name) == len("server.db.damaged-20261207-080000")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [target.name, target.name + "-wal", target.name + "-shm"]
    )
    assert (tmp_path / (target.name + "-wal")).read_bytes() == b"-wal"
    (tmp_path / "lone.db").write_bytes(b"x")
    assert move_aside(tmp_path / "lone.db").exists() and not (tmp_path / "lone.db").exists()


# --- the write-ahead log, byte by byte ---------------------------------------------------------


def log_of(frames: list[tuple[int, int]], page_size: int = 512, salts=(11, 22), magic=wal.WAL_MAGIC[0]) -> bytes:
    """A WAL: its header with `salts`, then one frame per (salt1, salt2) in `frames`."""
    header = wal.HEADER.pack(magic, 3007000, page_size, 0, *salts, 0, 0)
    body = b"".join(wal.FRAME_HEADER.pack(1, 1, s1, s2, 0, 0) + bytes(page_size) for s1, s2 in frames)
    return header + body


def test_the_frames_of_this_cycle_are_counted_up_to_the_first_of_another():
    assert wal.frames_of_this_cycle(log_of([])) == 0
    assert wal.frames_of_this_cycle(log_of([(11, 22)] * 3)) == 3
    assert wal.frames_of_this_cycle(log_of([(11, 22), (11, 22), (5, 6), (11, 22)])) == 2
    assert wal.frames_of_this_cycle(log_of([(11, 22), (11, 99)])) == 1
    assert wal.frames_of_this_cycle(log_of([(11, 22)], magic=wal.WAL_MAGIC[1])) == 1
    whole = log_of([(11, 22)] * 2)
    assert wal.frames_of_this_cycle(whole[:-1]) == 1  # a frame cut short is not a frame
    assert wal.frames_of_this_cycle(whole[: wal.HEADER.size]) == 0


@pytest.mark.parametrize("page_size", [512, 1024, 4096, 65536])
def test_every_page_size_sqlite_allows_is_read(page_size):
    assert wal.frames_of_this_cycle(log_of([(11, 22)] * 2, page_size=page_size)) == 2


@pytest.mark.parametrize("page_size", [0, 256, 511, 513, 1000, 65537, 131072])
def test_a_header_with_an_impossible_page_size_is_no_log(page_size):
    assert wal.frames_of_this_cycle(log_of([], page_size=page_size)) is None


def test_a_short_or_foreign_header_is_no_log_and_an_empty_log_is_no_damage():
    assert wal.frames_of_this_cycle(log_of([])[: wal.HEADER.size - 1]) is None
    assert wal.frames_of_this_cycle(b"\x00" * wal.HEADER.size) is None
    assert wal.frames_of_this_cycle(struct.pack(">I", 0x377F0684) + log_of([])[4:]) is None
    assert not wal.passed_over(b"", 0)
    assert wal.passed_over(b"garbage" * 10, 5)
    assert not wal.passed_over(log_of([(11, 22)] * 3), 3)
    assert wal.passed_over(log_of([(11, 22)] * 3), 2)
    assert not wal.passed_over(log_of([(11, 22)] * 3), 4)


def test_a_fresh_store_is_writable_and_says_so(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    assert store.writable()
    store.close()
    assert os.path.exists(tmp_path / "server.db")


class FailingConnection:
    """The store's SQLite connection, with commits (or every statement) failing as a full disk does."""

    def __init__(self, db: sqlite3.Connection, fail_statements: bool = False):
        self.db, self.fail_statements = db, fail_statements

    def execute(self, sql, *args):
        if self.fail_statements and sql.startswith(("INSERT", "UPDATE", "DELETE")):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def commit(self):
        raise sqlite3.OperationalError("disk I/O error")

    def rollback(self):
        self.db.rollback()


@pytest.mark.parametrize("fail_statements, reason", [(False, "disk I/O error"), (True, "database or disk is full")])
def test_a_write_the_disk_refuses_says_which_file_and_why_and_leaves_nothing(tmp_path, fail_statements, reason):
    from ocm_core.storage.roomstore import StoreWriteError

    path = tmp_path / "server.db"
    store = RoomStore(path)
    store.add_room(StoredRoom("lobby", "ana", None, None), member(b"t1"))
    real = store._db
    store._db = FailingConnection(real, fail_statements)
    with pytest.raises(StoreWriteError) as refused:
        store.add_member(member(b"t2", name="bo"))
    assert (refused.value.path, refused.value.reason) == (str(path), reason)
    assert str(refused.value) == f"cannot write to {path}: {reason}"
    with pytest.raises(StoreWriteError):
        with store.batch():
            store.add_event(StoredEvent("lobby", 1, 1, 2, "ana", "hi", b"t1", 1))
    store._db = real
    assert [m.name for m in store.members()] == ["ana"] and store.events("lobby", 10) == []
    store.close()


# --- what a restart reads back, and a damaged log of one entry ----------------------------------


def test_a_member_not_yet_heard_from_comes_back_without_an_address(tmp_path):
    path = tmp_path / "server.db"
    store = RoomStore(path)
    store.add_room(StoredRoom("lobby", "ana", None, None), StoredMember(b"t1", "lobby", "ana", "10.0.0.1", None, False))
    store.close()
    again = RoomStore(path)
    assert [(m.name, m.address) for m in again.members()] == [("ana", None)]
    again.close()


def test_an_event_added_without_one_to_forget_keeps_every_earlier_one(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    store.add_room(StoredRoom("lobby", "ana", None, None), member(b"t1"))
    for seq in range(1, 4):
        store.add_event(StoredEvent("lobby", seq, 1000 + seq, 2, "ana", f"line {seq}", b"t1", seq))
    assert [event.seq for event in store.events("lobby", 10)] == [1, 2, 3]
    store.close()


STARTED_AT = time.struct_time((2026, 12, 7, 10, 23, 0, 0, 341, -1))


@pytest.fixture
def clock_at_start(monkeypatch):
    """time.strftime reads STARTED_AT when given no time: the names of kept files are known."""
    real = time.strftime
    monkeypatch.setattr(time, "strftime", lambda fmt, at=None: real(fmt, STARTED_AT if at is None else at))


def one_entry_log_damaged(tmp_path) -> Path:
    """A database whose write-ahead log holds one entry (the room's host changed to "bo"), its
    page damaged: as a process killed before a checkpoint, on a failing disk, leaves it."""
    live = tmp_path / "live.db"
    store = RoomStore(live)
    store.add_room(StoredRoom("lobby", "ana", None, None), member(b"t1"))
    store.close()
    db = sqlite3.connect(live)
    db.execute("UPDATE rooms SET host = 'bo'")
    db.commit()
    crashed = tmp_path / "server.db"
    shutil.copy(live, crashed)
    shutil.copy(f"{live}-wal", f"{crashed}-wal")
    db.close()
    log = bytearray(Path(f"{crashed}-wal").read_bytes())
    assert wal.frames_of_this_cycle(bytes(log)) == 1
    log[wal.HEADER.size + wal.FRAME_HEADER.size + 100] ^= 0xFF
    Path(f"{crashed}-wal").write_bytes(bytes(log))
    return crashed


def test_a_damaged_log_of_one_entry_is_kept_aside_under_the_time_of_the_start(tmp_path, clock_at_start):
    crashed = one_entry_log_damaged(tmp_path)
    damaged = Path(f"{crashed}-wal").read_bytes()
    store = RoomStore(crashed)
    assert [room.host for room in store.rooms()] == ["ana"]  # the entry SQLite passed over is lost...
    kept = tmp_path / "server.db-wal.damaged-20261207-102300"
    assert store.damaged_log == kept and kept.read_bytes() == damaged  # ...and kept, named by the time
    store.close()


def test_a_damaged_log_that_cannot_be_kept_aside_is_said_and_the_store_starts(tmp_path, clock_at_start, caplog):
    crashed = one_entry_log_damaged(tmp_path)
    in_the_way = tmp_path / "server.db-wal.damaged-20261207-102300"
    in_the_way.mkdir()
    with caplog.at_level(logging.WARNING, logger="ocm_core.storage.roomstore"):
        store = RoomStore(crashed)
    assert store.damaged_log is None and [room.name for room in store.rooms()] == ["lobby"]
    [line] = [record.getMessage() for record in caplog.records]
    assert line.startswith(f"could not keep the damaged log of {crashed} aside: ") and str(in_the_way) in line
    store.close()
