"""What the app remembers about the people it writes to directly (ocm_core/storage/directbook.py):
each person's key per server and name, noticed when it changes; the ids of direct messages
received, so a replay is refused, within a window of time on a fake clock; all of it kept
across restarts, in a private file that is moved aside when damaged."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from support import FakeClock

from ocm_core.storage.directbook import DAY, DirectBook, KeyCheck, KeyStatus
from ocm_core.storage.roomstore import StoreWriteError

FP_HOME = "aa" * 32
FP_OFFICE = "bb" * 32
ANA, BO = b"\x01" * 32, b"\x02" * 32
NOW_MS = 1000 * 1000  # the fake clock's start, in milliseconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def book(tmp_path, clock):
    opened = DirectBook(tmp_path / "people.db", clock=clock)
    yield opened
    opened.close()


# --- people's keys ---------------------------------------------------------------------------


def test_a_key_seen_first_is_remembered_then_the_same(book):
    assert book.known_key(FP_HOME, "bo") is None
    assert book.check_key(FP_HOME, "bo", BO) == KeyCheck(KeyStatus.FIRST, None, False)
    assert book.known_key(FP_HOME, "bo") == BO
    assert book.check_key(FP_HOME, "bo", BO) == KeyCheck(KeyStatus.SAME, None, False)


def test_a_changed_key_says_which_it_replaced_and_is_no_longer_verified(book):
    book.check_key(FP_HOME, "bo", BO)
    assert book.mark_verified(FP_HOME, "bo", BO)
    assert book.check_key(FP_HOME, "bo", BO) == KeyCheck(KeyStatus.SAME, None, True)
    other = b"\x03" * 32
    assert book.check_key(FP_HOME, "bo", other) == KeyCheck(KeyStatus.CHANGED, BO, False)
    assert book.known_key(FP_HOME, "bo") == other and not book.is_verified(FP_HOME, "bo")
    assert book.check_key(FP_HOME, "bo", other) == KeyCheck(KeyStatus.SAME, None, False)


def test_one_name_on_two_servers_is_two_people(book):
    book.check_key(FP_HOME, "bo", BO)
    assert book.check_key(FP_OFFICE, "bo", ANA).status is KeyStatus.FIRST
    book.mark_verified(FP_HOME, "bo", BO)
    assert (book.known_key(FP_HOME, "bo"), book.known_key(FP_OFFICE, "bo")) == (BO, ANA)
    assert book.is_verified(FP_HOME, "bo") and not book.is_verified(FP_OFFICE, "bo")
    assert book.check_key(FP_HOME, "ana", ANA).status is KeyStatus.FIRST  # another name, another person


def test_only_the_remembered_key_can_be_marked_verified(book):
    assert not book.mark_verified(FP_HOME, "bo", BO)  # nobody remembered yet
    assert not book.is_verified(FP_HOME, "bo")
    book.check_key(FP_HOME, "bo", BO)
    assert not book.mark_verified(FP_HOME, "bo", ANA)
    assert not book.is_verified(FP_HOME, "bo")
    assert book.mark_verified(FP_HOME, "bo", BO)
    assert book.is_verified(FP_HOME, "bo")


@pytest.mark.parametrize("size", [0, 31, 33])
def test_a_key_that_is_not_32_bytes_is_refused(book, size):
    key = b"\x07" * size
    for call in (
        lambda: book.check_key(FP_HOME, "bo", key),
        lambda: book.mark_verified(FP_HOME, "bo", key),
        lambda: book.first_time(key, 1, NOW_MS),
    ):
        with pytest.raises(ValueError):
            call()
    assert book.known_key(FP_HOME, "bo") is None


# --- messages seen ---------------------------------------------------------------------------


def test_a_message_is_new_once_per_sender_and_id(book):
    assert book.first_time(BO, 7, NOW_MS)
    assert not book.first_time(BO, 7, NOW_MS)  # replayed
    assert not book.first_time(BO, 7, NOW_MS + 5000)  # replayed with another time
    assert book.first_time(ANA, 7, NOW_MS)  # another sender's id 7
    assert book.first_time(BO, 8, NOW_MS)


def test_every_unsigned_64_bit_id_is_its_own(book):
    top = 2**64 - 1
    assert book.first_time(BO, top, NOW_MS)
    assert not book.first_time(BO, top, NOW_MS)
    assert book.first_time(BO, 2**63, NOW_MS) and book.first_time(BO, 2**63 - 1, NOW_MS)
    assert book.first_time(BO, 0, NOW_MS)
    for wrong in (-1, 2**64):
        with pytest.raises(ValueError):
            book.first_time(BO, wrong, NOW_MS)


def test_a_message_too_old_or_too_far_ahead_is_refused_and_not_recorded(book, clock):
    clock.now = 1000 * DAY
    now_ms = int(clock.now * 1000)
    oldest = now_ms - int(DirectBook.OLDEST_DAYS * DAY * 1000)
    latest = now_ms + int(DAY * 1000)
    assert not book.first_time(BO, 1, oldest - 1)
    assert not book.first_time(BO, 2, latest + 1)
    assert book.first_time(BO, 3, oldest)
    assert book.first_time(BO, 4, latest)
    clock.now += DAY  # the one from the future is now in the window: it was not recorded
    assert book.first_time(BO, 2, latest + 1)


def test_seen_ids_are_pruned_after_seen_days(tmp_path, clock):
    book = DirectBook(tmp_path / "people.db", clock=clock)
    book.first_time(BO, 1, NOW_MS)
    clock.now += 100 * DAY
    book.first_time(BO, 2, int(clock.now * 1000))
    clock.now += (DirectBook.SEEN_DAYS - 100) * DAY  # id 1 recorded exactly SEEN_DAYS ago: kept
    assert book.prune() == 0
    clock.now += 1
    assert book.prune() == 1
    assert not book.first_time(BO, 2, int(clock.now * 1000) - 1000)  # still remembered
    clock.now += 100 * DAY
    assert book.prune() == 1 and book.prune() == 0
    book.close()


def test_an_id_pruned_is_refused_anyway_for_its_age(book, clock):
    sent = int(clock.now * 1000) + int(DAY * 1000)  # as far ahead as is let in
    assert book.first_time(BO, 1, sent)
    clock.now += DirectBook.SEEN_DAYS * DAY + 1
    assert book.prune() == 1
    assert not book.first_time(BO, 1, sent)


def test_threads_at_once_let_each_message_in_once(book):
    let_in: list[tuple[bytes, int]] = []

    def receive(sender: bytes) -> None:
        for msg_id in range(50):
            if book.first_time(sender, msg_id, NOW_MS):
                let_in.append((sender, msg_id))

    threads = [threading.Thread(target=receive, args=(sender,)) for sender in (ANA, BO, ANA, BO)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(let_in) == sorted({(sender, msg_id) for sender in (ANA, BO) for msg_id in range(50)})


class FullDisk:
    """The book's SQLite connection, with every insert and commit failing as a full disk does."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def execute(self, sql, *args):
        if sql.lstrip().startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def commit(self):
        raise sqlite3.OperationalError("database or disk is full")

    def rollback(self):
        self.db.rollback()


def test_a_write_the_disk_refuses_says_which_file_and_leaves_nothing(book):
    real = book._db
    book._db = FullDisk(real)
    with pytest.raises(StoreWriteError) as refused:
        book.first_time(BO, 1, NOW_MS)
    assert (refused.value.path, refused.value.reason) == (book.path, "database or disk is full")
    with pytest.raises(StoreWriteError):
        book.check_key(FP_HOME, "bo", BO)
    book._db = real
    assert book.known_key(FP_HOME, "bo") is None
    assert book.first_time(BO, 1, NOW_MS)  # the refused one was not recorded


# --- the file --------------------------------------------------------------------------------


def test_keys_and_seen_ids_survive_closing_and_opening_again(tmp_path, clock):
    path = tmp_path / "people.db"
    book = DirectBook(path, clock=clock)
    book.check_key(FP_HOME, "bo", BO)
    book.mark_verified(FP_HOME, "bo", BO)
    book.first_time(BO, 2**64 - 1, NOW_MS)
    book.close()
    again = DirectBook(path, clock=clock)
    assert again.moved_aside is None
    assert again.check_key(FP_HOME, "bo", BO) == KeyCheck(KeyStatus.SAME, None, True)
    assert not again.first_time(BO, 2**64 - 1, NOW_MS)
    again.close()


def test_a_damaged_file_is_moved_aside_and_a_fresh_book_begins(tmp_path, caplog):
    path = tmp_path / "people.db"
    garbage = b"this is not an SQLite database at all " * 200
    path.write_bytes(garbage)
    book = DirectBook(path)
    assert book.moved_aside is not None and book.moved_aside.name.startswith("people.db.damaged-")
    assert book.moved_aside.read_bytes() == garbage  # kept for whoever wants to look at it
    assert "damaged" in caplog.text
    assert book.known_key(FP_HOME, "bo") is None
    assert book.check_key(FP_HOME, "bo", BO).status is KeyStatus.FIRST
    book.close()
    again = DirectBook(path)
    assert again.moved_aside is None and again.known_key(FP_HOME, "bo") == BO  # the fresh file is whole
    again.close()


@pytest.mark.skipif(os.name != "posix", reason="on Windows the profile's ACL keeps the file private, not its mode")
def test_a_new_file_is_private_to_its_user(tmp_path):
    path = tmp_path / "deep" / "er" / "people.db"
    book = DirectBook(path)
    book.first_time(BO, 1, int(book._clock() * 1000))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{path}-wal").stat().st_mode) == 0o600  # SQLite gives its log the file's mode
    book.close()


def test_the_book_lives_in_the_config_folder():
    assert DirectBook.default_path().name == "people.db"
    assert DirectBook.default_path().parent.name == "online-chat-messenger"
