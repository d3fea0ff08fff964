"""Direct messages end to end through a real server on loopback: ChatClients with keys of
their own, sealed for one person, opened there alone, kept while they are away, receipts back."""

from __future__ import annotations

import queue

import pytest

from ocm_core import errors
from ocm_core.net.client import ChatClient
from ocm_core.net.direct import DirectKeys
from ocm_core.sansio import events as ev
from tests.support import wait_until


@pytest.fixture
def keys(tmp_path):
    made: list[DirectKeys] = []

    def make(who: str) -> DirectKeys:
        made.append(DirectKeys.load(tmp_path / who))
        return made[-1]

    yield make
    for k in made:
        k.close()


def events_of(client: ChatClient, kind, timeout: float = 5.0, where=lambda e: True):
    """The first event of `kind` (meeting `where`) on the client's queue; others are kept aside."""
    seen = []
    found = None

    def look() -> bool:
        nonlocal found
        while True:
            try:
                event = client.events.get_nowait()
            except queue.Empty:
                return False
            seen.append(event)
            if isinstance(event, kind) and where(event):
                found = event
                return True

    wait_until(look, timeout, f"a {kind.__name__} event")
    return found, seen


def drained(client: ChatClient) -> list:
    out = []
    while True:
        try:
            out.append(client.events.get_nowait())
        except queue.Empty:
            return out


def room_of_three(make_client, keys):
    alice = make_client(direct=keys("alice"))
    alice.create_room("office", "alice")
    bob = make_client(direct=keys("bob"))
    bob.join_room("office", "bob")
    carol = make_client(direct=keys("carol"))
    carol.join_room("office", "carol")
    wait_until(lambda: "carol" in dict(alice._session.keys) and "bob" in alice._session.keys, 5, "keys known")
    return alice, bob, carol


def test_a_direct_message_reaches_its_recipient_alone_and_comes_back_delivered(make_client, keys):
    alice, bob, carol = room_of_three(make_client, keys)
    msg_id = alice.send_direct("bob", "lunch at 12? 昼ごはん")
    message, _ = events_of(bob, ev.DirectMessage)
    assert (message.sender, message.text, message.msg_id) == ("alice", "lunch at 12? 昼ごはん", msg_id)
    assert message.sender_key == alice.direct.public
    delivered, seen = events_of(alice, ev.DirectUpdate, where=lambda e: e.status is ev.DirectStatus.DELIVERED)
    assert delivered.msg_id == msg_id and delivered.recipient == "bob"
    assert any(isinstance(e, ev.DirectUpdate) and e.status is ev.DirectStatus.SENT for e in seen)
    # the third member saw nothing of it
    assert not any(isinstance(e, (ev.DirectMessage, ev.DirectUpdate)) for e in drained(carol))
    # and bob answers
    bob.send_direct("alice", "yes")
    answer, _ = events_of(alice, ev.DirectMessage)
    assert (answer.sender, answer.text) == ("bob", "yes")


def test_a_message_to_someone_away_waits_and_is_handed_when_they_are_back(server, make_client, keys):
    alice, bob, carol = room_of_three(make_client, keys)
    bob_keys = bob.direct
    bob.leave()
    wait_until(lambda: "bob" not in alice.members, 5, "bob gone")
    msg_id = alice.send_direct("bob", "see this when you are back")
    waiting, _ = events_of(alice, ev.DirectUpdate)
    assert waiting.status is ev.DirectStatus.WAITING
    back = make_client(direct=bob_keys)  # the same install, joining again (its app restarted)
    back.join_room("office", "bob")
    message, _ = events_of(back, ev.DirectMessage)
    assert (message.text, message.msg_id) == ("see this when you are back", msg_id)
    delivered, _ = events_of(alice, ev.DirectUpdate, where=lambda e: e.status is ev.DirectStatus.DELIVERED)
    assert delivered.msg_id == msg_id
    # acknowledged: the server keeps nothing more, and nothing more is handed
    wait_until(lambda: not server.registry._mail, 5, "the server's mailbox empty")
    assert not any(isinstance(e, ev.DirectMessage) for e in drained(back))


def test_a_changed_key_is_told(make_client, keys, tmp_path):
    alice, bob, carol = room_of_three(make_client, keys)
    bob.leave()
    wait_until(lambda: "bob" not in alice.members, 5, "bob gone")
    impostor = make_client(direct=keys("bob-on-another-pc"))
    impostor.join_room("office", "bob")
    changed, _ = events_of(alice, ev.KeyChanged)
    assert changed.name == "bob" and changed.key == impostor.direct.public and changed.previous != changed.key
    assert alice.direct.safety_code(changed.key) == impostor.direct.safety_code(alice.direct.public)


def test_refusals_reach_the_sender_in_words(make_client, keys):
    alice, bob, carol = room_of_three(make_client, keys)
    with pytest.raises(errors.BadRequest):
        alice.send_direct("alice", "me")
    with pytest.raises(errors.BadRequest):
        alice.send_direct("nobody", "hello")
    with pytest.raises(errors.MessageTooLong):
        alice.send_direct("bob", "x" * (alice.max_direct_bytes("bob") + 1))
    alice.send_direct("bob", "x" * alice.max_direct_bytes("bob"))  # exactly the most fits
    message, _ = events_of(bob, ev.DirectMessage)
    assert len(message.text) == alice.max_direct_bytes("bob")


def test_presence_and_typing_reach_the_others(make_client, keys):
    alice, bob, carol = room_of_three(make_client, keys)
    drained(bob)
    alice.set_away(True)
    change, _ = events_of(bob, ev.PresenceChanged)
    assert change == ev.PresenceChanged("alice", True)
    alice.typing()
    typing, _ = events_of(carol, ev.TypingSeen)
    assert typing == ev.TypingSeen("alice", False)
    bob.typing("carol")
    direct_typing, _ = events_of(carol, ev.TypingSeen, where=lambda e: e.name == "bob")
    assert direct_typing.direct


@pytest.mark.expect_error_log("error taking a direct message or a member's key")
def test_a_failure_taking_a_key_or_a_message_never_stops_the_receiving(make_client, keys):
    alice, bob, carol = room_of_three(make_client, keys)

    def broken(*_args):
        raise RuntimeError("a bug in the key book")

    bob.direct.learn = broken  # every key bob hears of now fails to be taken
    bob.direct.open = broken
    dave = make_client(direct=keys("dave"))
    dave.join_room("office", "dave")  # bob learns of dave's key: it fails
    alice.send_direct("bob", "this one fails to open on bob's side")
    alice.send("and the room goes on")
    message, _ = events_of(bob, ev.ChatMessage, where=lambda e: e.text == "and the room goes on")
    assert message.sender == "alice"
