"""The registry's decisions about replies, reactions, edits, deletions and the host's tools, on a
fake clock: who may do what, what each member is sent (the events for a member that speaks
actions, a readable chat line for one that does not), and what the server keeps."""

from __future__ import annotations

import json

import pytest
from test_mailbox import ROOM, Server

from ocm_core import wire as p
from ocm_core.crypto.direct import public_text
from ocm_core.sansio.actions import EDIT_WINDOW_SECONDS, MAX_EMOJI_PER_MESSAGE
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.storage.roomstore import RoomStore
from ocm_core.wire import ActionKind, ErrorCode, EventType, Operation, Status

NEW = p.FEATURES


def act(msg_id: int, kind: ActionKind, target: int = 0, text: str = "") -> bytes:
    return p.encode_action(p.Action(msg_id, kind, target, text, msg_id))


def room_of_three(**server):
    """alice hosts; bob and carol speak actions, olga's client is older; each has taken its inbox."""
    hub = Server(**server)
    alice = hub.join("alice", features=NEW)
    bob = hub.join("bob", features=NEW)
    carol = hub.join("carol", features=NEW)
    olga = hub.join("olga")
    for person in (alice, bob, carol, olga):
        person.take()
    return hub, alice, bob, carol, olga


def said(hub: Server, person, msg_id: int, text: str) -> int:
    """`person` says `text`; the room position the server gave it."""
    hub.send(person, p.encode_chat(msg_id, text))
    (ack,) = person.take(p.ChatAck)
    return ack.seq


def events(person) -> list[p.Event]:
    return person.take(p.Event)


def refusal(person) -> p.Refused:
    (refused,) = person.take(p.Refused)
    return refused


# --- replies -----------------------------------------------------------------------------


def test_a_reply_reaches_those_who_speak_actions_as_a_reply_and_the_others_as_a_quoted_line():
    hub, alice, bob, carol, olga = room_of_three()
    first = said(hub, alice, 1, "lunch at noon?")
    for person in (bob, carol, olga):
        person.take()
    hub.send(bob, act(1, ActionKind.REPLY, first, "yes, the usual place"))
    (ack,) = bob.take(p.ChatAck)
    (reply,) = events(carol)
    assert reply.event_type is EventType.REPLY and reply.seq == ack.seq == first + 1
    assert p.decode_reply_text(reply.text) == p.ReplyText(first, "yes, the usual place")
    (line,) = events(olga)
    assert (line.event_type, line.name, line.text) == (
        EventType.CHAT,
        "bob",
        "> alice: lunch at noon?\nyes, the usual place",
    )
    assert events(bob) == []  # a reply is a message of its own: its ack says where it went


def test_a_reply_to_a_message_that_is_not_there_is_refused_and_the_room_goes_on():
    hub, alice, bob, carol, olga = room_of_three()
    said(hub, alice, 1, "hello")
    for person in (bob, carol, olga):
        person.take()
    hub.send(bob, act(1, ActionKind.REPLY, 999, "to nothing"))
    assert refusal(bob).code == ErrorCode.NO_SUCH_MESSAGE
    joined = 2  # bob's own join: a notice, not a message
    hub.send(bob, act(2, ActionKind.REPLY, joined, "to a notice"))
    assert refusal(bob).code == ErrorCode.NO_SUCH_MESSAGE
    assert events(carol) == [] and events(olga) == []
    hub.send(bob, p.encode_chat(3, "still here"))
    assert [e.text for e in events(carol)] == ["still here"]


def test_a_refused_action_sent_again_gets_the_same_refusal_and_an_accepted_one_its_ack_not_a_second_event():
    hub, alice, bob, carol, olga = room_of_three()
    first = said(hub, alice, 1, "hello")
    bob.take()
    hub.send(bob, act(1, ActionKind.EDIT, first, "not mine"))
    assert refusal(bob).code == ErrorCode.NOT_ALLOWED
    hub.send(bob, act(1, ActionKind.EDIT, first, "not mine"))
    assert refusal(bob).code == ErrorCode.NOT_ALLOWED
    carol.take()
    hub.send(bob, act(2, ActionKind.REACT, first, "👍"))
    hub.send(bob, act(2, ActionKind.REACT, first, "👍"))
    assert len(events(carol)) == 1
    acks = bob.take(p.ChatAck)
    assert len(acks) == 2 and acks[0] == acks[1]


# --- reactions ----------------------------------------------------------------------------


def test_a_reaction_goes_to_everyone_its_sender_too_and_a_second_click_takes_it_back():
    hub, alice, bob, carol, olga = room_of_three()
    first = said(hub, alice, 1, "the build is green")
    for person in (bob, carol, olga):
        person.take()
    hub.send(bob, act(1, ActionKind.REACT, first, "🎉"))
    for person in (alice, bob, carol):
        (event,) = events(person)
        assert event.event_type is EventType.REACTION and event.name == "bob"
        assert p.decode_reaction_text(event.text) == p.ReactionText(first, "🎉", True)
    (line,) = events(olga)
    assert line.event_type is EventType.CHAT and line.text == "(reacted 🎉 to alice: “the build is green”)"
    hub.send(bob, act(2, ActionKind.REACT, first, "🎉"))
    assert refusal(bob).code == ErrorCode.NOT_ALLOWED  # already there
    hub.send(bob, act(3, ActionKind.UNREACT, first, "🎉"))
    (back,) = events(carol)
    assert p.decode_reaction_text(back.text) == p.ReactionText(first, "🎉", False)
    hub.send(bob, act(4, ActionKind.UNREACT, first, "🎉"))
    assert refusal(bob).code == ErrorCode.NOT_ALLOWED  # nothing to take back


def test_a_message_takes_a_bounded_number_of_different_reactions():
    hub, alice, bob, carol, olga = room_of_three()
    first = said(hub, alice, 1, "vote")
    emoji = [chr(0x1F600 + n) for n in range(MAX_EMOJI_PER_MESSAGE + 1)]
    for n, face in enumerate(emoji[:-1]):
        hub.clock.now += 0.1  # within the member's message rate
        hub.send(bob, act(n + 1, ActionKind.REACT, first, face))
    bob.take()
    hub.clock.now += 1
    hub.send(bob, act(MAX_EMOJI_PER_MESSAGE + 1, ActionKind.REACT, first, emoji[-1]))
    assert refusal(bob).code == ErrorCode.NOT_ALLOWED
    hub.send(carol, act(1, ActionKind.REACT, first, emoji[0]))  # one already there still takes more people
    assert carol.take(p.ChatAck)
    said_book = hub.registry._rooms[ROOM].book.get(first)
    assert len(said_book.reactions) == MAX_EMOJI_PER_MESSAGE and said_book.reactions[emoji[0]] == {"bob", "carol"}


def test_a_reaction_flood_is_held_to_the_message_rate_and_the_room_goes_on():
    hub, alice, bob, carol, olga = room_of_three()
    first = said(hub, alice, 1, "hi")
    carol.take()
    for n in range(400):  # on and off, as fast as a script can
        kind = ActionKind.REACT if n % 2 == 0 else ActionKind.UNREACT
        hub.send(bob, act(n + 1, kind, first, "👍"))
    relayed = len(events(carol))
    assert 0 < relayed <= hub.registry.limits.rate_burst + 1
    assert hub.registry.dropped["rate limited"] > 0
    hub.clock.now += 10
    hub.send(alice, p.encode_chat(2, "the room still works"))
    assert [e.text for e in events(carol)] == ["the room still works"]


# --- edits and deletions ------------------------------------------------------------------


def test_an_edit_reaches_the_room_and_a_later_joiners_history_holds_only_the_new_text():
    hub, alice, bob, carol, olga = room_of_three()
    first = said(hub, bob, 1, "meeting at 3")
    for person in (alice, carol, olga):
        person.take()
    hub.send(bob, act(2, ActionKind.EDIT, first, "meeting at 4"))
    (edit,) = events(carol)
    assert edit.event_type is EventType.EDITED and p.decode_edit_text(edit.text) == p.EditText(first, "meeting at 4")
    assert [e.text for e in events(olga)] == ["(edited) meeting at 4"]
    late = hub.join("dave", features=NEW)
    history = {e.seq: e for e in hub.sync(late, features=NEW).history}
    assert history[first].text == "meeting at 4" and history[first].edited
    older = {e.seq: e for e in hub.sync(olga).history}
    assert older[first].text == "meeting at 4" and older[first].event_type is EventType.CHAT
    assert all(e.event_type in (EventType.CHAT, EventType.JOINED, EventType.LEFT) for e in older.values())


def test_only_the_sender_edits_and_only_within_the_window():
    hub, alice, bob, carol, olga = room_of_three()
    first = said(hub, bob, 1, "draft")
    hub.send(carol, act(1, ActionKind.EDIT, first, "hijacked"))
    assert refusal(carol).code == ErrorCode.NOT_ALLOWED
    hub.send(alice, act(1, ActionKind.EDIT, first, "the host cannot edit either"))
    assert refusal(alice).code == ErrorCode.NOT_ALLOWED
    hub.clock.now += EDIT_WINDOW_SECONDS + 1
    hub.send(bob, act(2, ActionKind.EDIT, first, "too late"))
    assert refusal(bob).code == ErrorCode.TOO_LATE
    hub.send(bob, act(3, ActionKind.DELETE, first))
    assert refusal(bob).code == ErrorCode.TOO_LATE


def test_a_deleted_message_is_gone_from_the_buffer_and_the_store_and_reads_as_deleted():
    store = RoomStore(":memory:")
    hub, alice, bob, carol, olga = room_of_three(store=store)
    first = said(hub, bob, 1, "my password is hunter2")
    for person in (alice, carol, olga):
        person.take()
    hub.send(bob, act(2, ActionKind.DELETE, first))
    (gone,) = events(carol)
    assert gone.event_type is EventType.DELETED and p.decode_delete_text(gone.text) == p.DeleteText(first, False)
    assert [e.text for e in events(olga)] == ["(deleted a message)"]
    stored = {e.seq: e for e in store.events(ROOM, 100)}
    assert stored[first].text == "" and "hunter2" not in (stored[first].older_text or "")
    buffered = b"".join(body + (older or b"") for _, body, older in hub.registry._rooms[ROOM].events)
    assert b"hunter2" not in buffered
    history = {e.seq: e for e in hub.sync(carol, features=NEW).history}
    assert history[first].deleted and history[first].text == ""
    assert {e.seq: e for e in hub.sync(olga).history}[first].text == "(message deleted)"
    hub.send(carol, act(1, ActionKind.REACT, first, "👍"))
    assert refusal(carol).code == ErrorCode.NO_SUCH_MESSAGE


def test_the_host_deletes_anyones_message_and_a_member_only_its_own():
    hub, alice, bob, carol, olga = room_of_three()
    first = said(hub, bob, 1, "spam")
    hub.send(carol, act(1, ActionKind.DELETE, first))
    assert refusal(carol).code == ErrorCode.NOT_ALLOWED
    carol.take()
    olga.take()
    hub.send(alice, act(1, ActionKind.DELETE, first))
    (gone,) = events(carol)
    assert p.decode_delete_text(gone.text) == p.DeleteText(first, True) and gone.name == "alice"
    assert [e.text for e in events(olga)] == ["(deleted a message by bob)"]


def test_a_members_edits_survive_a_restart_of_the_server_with_its_store():
    store = RoomStore(":memory:")
    hub, alice, bob, carol, olga = room_of_three(store=store)
    first = said(hub, bob, 1, "before the restart")
    hub.send(carol, act(1, ActionKind.REACT, first, "👀"))
    hub.restart(store)
    book = hub.registry._rooms[ROOM].book
    assert book.get(first).reactions == {"👀": {"carol"}}
    hub.registry._tokens[bob.token].speaks_actions = True  # as its next SYNC says
    carol.take()
    hub.send(bob, act(2, ActionKind.EDIT, first, "after the restart"))
    assert bob.take(p.ChatAck)
    hub.send(carol, act(2, ActionKind.EDIT, first, "not hers"))
    assert [r.code for r in carol.take(p.ErrorFrame, p.Refused)] == [ErrorCode.NOT_ALLOWED]


# --- the host's tools ---------------------------------------------------------------------


def test_the_host_sets_the_topic_which_a_joiner_finds_in_its_snapshot():
    hub, alice, bob, carol, olga = room_of_three()
    hub.send(alice, act(1, ActionKind.TOPIC, 0, "Sprint 42: ship the web client"))
    (topic,) = events(bob)
    assert topic.event_type is EventType.TOPIC and topic.text == "Sprint 42: ship the web client"
    assert [e.text for e in events(olga)] == ["(set the topic: Sprint 42: ship the web client)"]
    assert hub.sync(carol, features=NEW).topic == "Sprint 42: ship the web client"
    hub.send(bob, act(1, ActionKind.TOPIC, 0, "mine now"))
    assert refusal(bob).code == ErrorCode.NOT_ALLOWED


def test_a_removed_member_is_told_and_cannot_come_back_from_the_same_app():
    hub, alice, bob, carol, olga = room_of_three()
    hub.send(alice, act(1, ActionKind.REMOVE, 0, "bob"))
    (told,) = bob.take(p.ErrorFrame)
    assert told.code is ErrorCode.UNKNOWN_TOKEN and told.text == "the host removed you from the room"
    (removed,) = events(carol)
    assert (removed.event_type, removed.name, removed.text) == (EventType.REMOVED, "bob", "alice")
    (left,) = events(olga)
    assert (left.event_type, left.name) == (EventType.LEFT, "bob")
    assert "bob" not in hub.registry.members(ROOM)
    data = bob.channel.seal(p.datagram_header(ROOM.encode(), bob.token), p.encode_chat(9, "let me back"))
    out = hub.registry.handle_datagram(p.decode_datagram(data), bob.address)  # answered in the clear: the token is gone
    assert [p.decode_body(p.decode_datagram(d).body).text for _, d in out] == ["the host removed you from the room"]
    request = p.RoomRequest("bobby", direct_key=public_text(bob.key.public))
    message = p.decode_tcrp(p.encode_tcrp(Operation.JOIN, p.State.REQUEST, ROOM, p.encode_request(request)))
    decision = hub.admission.decide("10.0.0.99", message, True)
    assert decision.status is Status.REMOVED
    hub.join("bob")  # another install (a new key) may: the host can remove it again
    hub.send(carol, act(1, ActionKind.REMOVE, 0, "olga"))
    assert refusal(carol).code == ErrorCode.NOT_ALLOWED
    hub.send(alice, act(2, ActionKind.REMOVE, 0, "alice"))
    assert refusal(alice).code == ErrorCode.NOT_ALLOWED


def test_the_host_locks_and_opens_the_room():
    hub, alice, bob, carol, olga = room_of_three()
    hub.send(alice, act(1, ActionKind.PASSWORD, 0, "s3cret"))
    (locked,) = events(bob)
    assert (locked.event_type, locked.text) == (EventType.LOCKED, "1")
    assert hub.registry.is_locked(ROOM)

    def join_status(password: str | None) -> Status:
        request = p.RoomRequest("eve", password=password)
        message = p.decode_tcrp(p.encode_tcrp(Operation.JOIN, p.State.REQUEST, ROOM, p.encode_request(request)))
        return hub.admission.decide("10.0.0.77", message, True).status

    assert join_status(None) is Status.PASSWORD_REQUIRED
    assert join_status("s3cret") is Status.OK
    hub.send(alice, act(2, ActionKind.PASSWORD, 0, ""))
    assert not hub.registry.is_locked(ROOM)
    hub.send(bob, act(1, ActionKind.PASSWORD, 0, "mine"))
    assert refusal(bob).code == ErrorCode.NOT_ALLOWED


def test_nobody_hosts_a_standing_room_so_nobody_uses_the_hosts_tools_there():
    registry = RoomRegistry()
    registry.open_standing_room("lobby")
    token, _ = registry.join_room("lobby", "ann", "10.0.0.5")
    member = registry._tokens[token]
    body = act(1, ActionKind.TOPIC, 0, "ours")
    out = registry.handle_datagram(p.Datagram("lobby", token, body), ("10.0.0.5", 4000))
    assert out and member.room.topic == ""


# --- the plain assignment client ------------------------------------------------------------


def test_a_bare_text_member_reads_each_action_as_a_line_of_text():
    hub = Server(allow_plain=True)
    alice = hub.join("alice", features=NEW)
    bob = hub.join("bob", features=NEW)
    pat = hub.join("pat", secure=False)
    hub.send(pat, b"hi all")  # from now on it reads text only
    alice.take()
    bob.take()
    first = said(hub, alice, 1, "what's for lunch?")
    hub.send(bob, act(1, ActionKind.REPLY, first, "ramen"))
    hub.send(bob, act(2, ActionKind.REACT, first, "🍜"))
    hub.send(alice, act(2, ActionKind.EDIT, first, "what is for lunch?"))
    lines = [f.text for f in pat.take(p.PlainText)]
    assert lines == [
        "alice: what's for lunch?",
        "bob: > alice: what's for lunch?\nramen",
        "bob: (reacted 🍜 to alice: “what's for lunch?”)",
        "alice: (edited) what is for lunch?",
    ]


def test_a_malformed_action_is_dropped_and_the_member_goes_on():
    hub, alice, bob, carol, olga = room_of_three()
    for body in (
        b"\xff\x01\x09" + bytes(5),  # too short
        b"\xff\x01\x09" + bytes.fromhex("00000001 00000001 63 00000000".replace(" ", "")),  # unknown kind
        act(1, ActionKind.DELETE, 0),  # no target
    ):
        hub.send(bob, body)
    assert hub.registry.dropped["bad frame"] == 3
    hub.send(bob, p.encode_chat(1, "fine"))
    assert [e.text for e in events(carol)] == ["fine"]


@pytest.mark.parametrize("text", ["", "a b", "x" * 40])
def test_a_reaction_is_one_emoji(text):
    body = act(1, ActionKind.REACT, 5, text)
    with pytest.raises(p.RemoteProtocolError):
        p.decode_body(body)


def test_the_event_text_is_strict_json():
    assert json.loads(p.encode_reply_text(p.ReplyText(3, "a\nb"))) == {"to": 3, "text": "a\nb"}
    for bad in ('{"to": 0, "text": "x"}', '{"to": true, "text": "x"}', '{"to": 3}', "[1]", "nope"):
        with pytest.raises(p.RemoteProtocolError):
            p.decode_reply_text(bad)


def test_the_worked_example_in_the_protocol_document_is_what_the_code_sends():
    from pathlib import Path

    doc = " ".join(Path(__file__).parent.parent.joinpath("docs", "protocol.md").read_text("utf-8").split())
    body = act(7, ActionKind.REPLY, 42, "了解")
    datagram = p.encode_datagram(b"lobby", b"Xq3v9dK2mP0aB7cR5tY1wQ", body)
    assert len(datagram) == 51 and "The ACTION, before 3.7's sealing, 51 bytes" in doc
    event = p.Event(43, 1700000007000, EventType.REPLY, "alice", p.encode_reply_text(p.ReplyText(42, "了解")))
    assert len(p.encode_datagram(b"lobby", b"", p.encode_event(event))) == 55 and "REPLY event, 55 bytes" in doc
    assert "7b 22 74 6f 22 3a 34 32 2c 22 74 65 78 74 22 3a" in doc
    assert p.encode_event(event).hex(" ").startswith("ff 01 10 00 00 00 2b 00 00 01 8b cf e5 83 58 00 07 05")
    react = act(9, ActionKind.REACT, 42, "👍")
    assert react.hex() == "ff010900000009000000090200" + "00002af09f918d"
    assert "`ff 01 09 00000009 00000009 02 0000002a f09f918d`" in doc
    refused = p.encode_refused(
        p.Refused(8, ErrorCode.TOO_LATE, "a message can be changed for 24 hours after it was sent")
    )
    assert refused.startswith(bytes.fromhex("ff011a0000000808")) and "`ff 01 1a 00000008 08`" in doc
    for line in ("09 kind 0x09 (ACTION)", "00 00 00 2a target = 42", 'e4 ba 86 e8 a7 a3 "了解"'):
        assert line in doc
    assert body.hex(" ").endswith("01 00 00 00 2a e4 ba 86 e8 a7 a3")


def test_the_servers_edit_window_is_a_setting(monkeypatch):
    from ocm_core.cli.server import _server_parser

    assert _server_parser().parse_args([]).edit_window == 24
    assert _server_parser().parse_args(["--edit-window", "0.5"]).edit_window == 0.5
    hub = Server()
    hub.registry.edit_window = 1800.0  # what ChatServer(edit_window=...) gives its registry
    alice = hub.join("alice", features=NEW)
    first = said(hub, alice, 1, "typo")
    hub.clock.now += 1801
    hub.send(alice, act(2, ActionKind.EDIT, first, "fixed"))
    assert refusal(alice).code == ErrorCode.TOO_LATE


def test_a_chat_server_hands_its_edit_window_to_its_registry():
    from ocm_core.net.server import ChatServer

    server = ChatServer("127.0.0.1", 0, 0, edit_window=60.0)
    assert server.registry.edit_window == 60.0
