"""What the recipient's app does with each mail the server hands it (ocm_core/net/direct.py):
only a message its sender sealed for us, under its id, opens; a replay, a forgery, a message
moved to another sender or id, or one dated far from now is dropped (and never shown); a
sender's new key is told before its message."""

from __future__ import annotations

import os
import time

import pytest

from ocm_core import wire as p
from ocm_core.net.direct import DirectKeys
from ocm_core.sansio import events as ev

SERVER = "ABCD-EFGH-IJKL-MNOP-QRST"


@pytest.fixture
def pair(tmp_path):
    alice, bob = DirectKeys.load(tmp_path / "alice"), DirectKeys.load(tmp_path / "bob")
    yield alice, bob
    alice.close()
    bob.close()


def mail_of(frame: p.Direct, sender_key: bytes, sender: str = "alice", mail_id: int = 1) -> p.Mail:
    return p.Mail(mail_id, p.MailKind.MESSAGE, int(time.time() * 1000), frame.msg_id, sender_key, sender, frame.sealed)


def test_a_genuine_message_opens_once_and_its_replay_is_dropped(pair):
    alice, bob = pair
    frame = alice.seal("bob", bob.public, "会議は3時から")
    assert (frame.recipient, frame.recipient_key) == ("bob", bob.public)
    mail = mail_of(frame, alice.public)
    events, kept = bob.open(SERVER, mail)
    assert [type(e) for e in events] == [ev.DirectMessage] and kept
    message = events[0]
    assert (message.sender, message.sender_key, message.text, message.msg_id) == (
        "alice",
        alice.public,
        "会議は3時から",
        frame.msg_id,
    )
    assert message.time == mail.time_ms / 1000 and abs(message.sent - time.time()) < 60
    # the same message again: not shown, but had (its receipt says delivered, not unopened)
    assert bob.open(SERVER, mail_of(frame, alice.public, mail_id=2)) == ([], True)
    assert bob.refused == 1


def test_a_message_moved_to_another_sender_id_or_altered_does_not_open(pair, tmp_path):
    alice, bob = pair
    mallory = DirectKeys.load(tmp_path / "mallory")
    frame = alice.seal("bob", bob.public, "pay the invoice")
    as_mallory = mail_of(frame, mallory.public, "mallory")
    other_id = p.Mail(1, p.MailKind.MESSAGE, 0, frame.msg_id ^ 1, alice.public, "alice", frame.sealed)
    flipped = bytearray(frame.sealed)
    flipped[40] ^= 1
    altered = p.Mail(1, p.MailKind.MESSAGE, 0, frame.msg_id, alice.public, "alice", bytes(flipped))
    for mail in (as_mallory, other_id, altered):
        assert bob.open(SERVER, mail) == ([], False)
    assert bob.refused == 3
    # none of them used up the genuine one's id
    assert [type(e) for e in bob.open(SERVER, mail_of(frame, alice.public))[0]] == [ev.DirectMessage]
    mallory.close()


def test_a_message_for_someone_else_does_not_open(pair, tmp_path):
    alice, bob = pair
    carol = DirectKeys.load(tmp_path / "carol")
    frame = alice.seal("carol", carol.public, "for carol only")
    assert bob.open(SERVER, mail_of(frame, alice.public)) == ([], False)
    carol.close()


def test_a_message_dated_a_year_ago_is_refused(pair, monkeypatch):
    alice, bob = pair
    year_ago = time.time() - 366 * 86400
    monkeypatch.setattr(time, "time", lambda: year_ago)
    frame = alice.seal("bob", bob.public, "old")
    monkeypatch.undo()
    assert bob.open(SERVER, mail_of(frame, alice.public)) == ([], False)


def test_a_senders_new_key_is_told_before_the_message(pair, tmp_path):
    alice, bob = pair
    first = alice.seal("bob", bob.public, "hello")
    bob.open(SERVER, mail_of(first, alice.public))
    alice_again = DirectKeys.load(tmp_path / "alice-new-pc")
    second = alice_again.seal("bob", bob.public, "new laptop")
    events, _kept = bob.open(SERVER, mail_of(second, alice_again.public))
    assert [type(e) for e in events] == [ev.KeyChanged, ev.DirectMessage]
    assert events[0] == ev.KeyChanged("alice", alice.public, alice_again.public)
    assert bob.safety_code(alice_again.public) == alice_again.safety_code(bob.public)
    alice_again.close()


def test_the_key_file_is_kept_between_runs_and_private(tmp_path):
    first = DirectKeys.load(tmp_path / "me")
    again = DirectKeys.load(tmp_path / "me")
    assert first.public == again.public
    if os.name == "posix":  # Windows guards it with the profile's ACL
        assert (tmp_path / "me" / "direct.key").stat().st_mode & 0o077 == 0
    first.close()
    again.close()


def test_the_keys_and_book_live_in_the_folder_given_and_its_parents_are_made(tmp_path):
    keys = DirectKeys.load(tmp_path / "deep" / "er")
    assert (tmp_path / "deep" / "er" / "direct.key").is_file() and (tmp_path / "deep" / "er" / "people.db").is_file()
    keys.close()


def test_a_new_key_is_told_even_when_its_first_message_is_refused(pair, tmp_path, monkeypatch):
    alice, bob = pair
    bob.open(SERVER, mail_of(alice.seal("bob", bob.public, "hello"), alice.public))
    new_pc = DirectKeys.load(tmp_path / "alice-new-pc")
    ahead = time.time() + 3 * 86400  # its clock runs three days fast
    monkeypatch.setattr(time, "time", lambda: ahead)
    frame = new_pc.seal("bob", bob.public, "from the new laptop")
    monkeypatch.undo()
    events, kept = bob.open(SERVER, mail_of(frame, new_pc.public))
    assert events == [ev.KeyChanged("alice", alice.public, new_pc.public)] and not kept
    new_pc.close()


def test_a_book_from_the_first_layout_is_rebuilt(tmp_path):
    import sqlite3

    path = tmp_path / "old" / "people.db"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE people (server TEXT, name TEXT, key BLOB, verified INTEGER, PRIMARY KEY (server, name));"
        "PRAGMA user_version=1;"
    )
    db.close()
    keys = DirectKeys.load(tmp_path / "old")
    assert keys.learn(SERVER, "bob", bytes(range(32))) is None  # the first key seen under the name
    keys.close()


def test_ids_older_than_the_book_keeps_them_go_at_each_start(tmp_path):
    import sqlite3

    from ocm_core.storage.directbook import DirectBook

    keys = DirectKeys.load(tmp_path / "me")
    keys.close()
    db = sqlite3.connect(tmp_path / "me" / "people.db")
    stale = time.time() - (DirectBook.SEEN_DAYS + 1) * 86400
    db.execute("INSERT INTO seen VALUES (?, 1, ?), (?, 2, ?)", (bytes(32), stale, bytes(32), time.time()))
    db.commit()
    db.close()
    again = DirectKeys.load(tmp_path / "me")
    assert not again.book.seen(bytes(32), 1) and again.book.seen(bytes(32), 2)
    again.close()
