"""Replies, reactions, edits, deletions and the host's tools between real clients and a real
server on loopback: what each client's app is told, and what reaches a member's own history."""

from __future__ import annotations

import pytest
from support import EventLog
from test_direct_messages import keys

from ocm_core import errors
from ocm_core.net.direct import DirectKeys
from ocm_core.net.recorder import RoomRecorder, conversation_for
from ocm_core.sansio import events as ev
from ocm_core.storage.history import HistoryStore


@pytest.fixture
def room(server, make_client, keys):
    """alice hosts "team"; bob joined; each with its event log and its install's key."""
    alice = make_client(direct=keys("alice"))
    alice.create_room("team", "alice")
    bob = make_client(direct=keys("bob"))
    bob.join_room("team", "bob")
    alice_log, bob_log = EventLog(alice), EventLog(bob)
    alice_log.wait_for(lambda seen: "bob" in alice.members, what="bob in alice's members")
    return alice, bob, alice_log, bob_log


def message_from(log: EventLog, text: str) -> ev.ChatMessage:
    return log.wait_for(
        lambda seen: next((e for e in seen if isinstance(e, ev.ChatMessage) and e.text == text), None),
        what=f"the message {text!r}",
    )


def sent_seq(log: EventLog, msg_id: int) -> int:
    sent = log.wait_for(
        lambda seen: next((e for e in seen if isinstance(e, ev.MessageSent) and e.msg_id == msg_id), None),
        what=f"the ack of {msg_id}",
    )
    return sent.seq


def test_a_reply_reaction_edit_and_delete_reach_the_other_client(room):
    alice, bob, alice_log, bob_log = room
    assert alice.speaks_actions and bob.speaks_actions
    first = sent_seq(alice_log, alice.send("who has the projector key?"))
    question = message_from(bob_log, "who has the projector key?")
    assert question.seq == first

    bob.reply(first, "I do, it's in my drawer")
    answer = message_from(alice_log, "I do, it's in my drawer")
    assert answer.reply_to == first and answer.sender == "bob"

    bob.react(first, "👍")
    for log in (alice_log, bob_log):  # the reactor's own app learns it from the room too
        reacted = log.wait_type(ev.Reacted)[0]
        assert (reacted.target, reacted.name, reacted.emoji, reacted.on) == (first, "bob", "👍", True)
    bob.react(first, "👍", on=False)
    alice_log.wait_for(lambda seen: any(isinstance(e, ev.Reacted) and not e.on for e in seen), what="unreact")

    alice.edit(first, "who has the projector key? (room 4)")
    edited = bob_log.wait_type(ev.MessageEdited)[0]
    assert (edited.target, edited.text) == (first, "who has the projector key? (room 4)")

    alice.delete(first)
    deleted = bob_log.wait_type(ev.MessageDeleted)[0]
    assert (deleted.target, deleted.name, deleted.by_host) == (first, "alice", False)


def test_a_refused_action_comes_back_with_its_reason(room):
    alice, bob, alice_log, bob_log = room
    first = sent_seq(alice_log, alice.send("mine"))
    message_from(bob_log, "mine")
    msg_id = bob.edit(first, "not yours")
    refused = bob_log.wait_type(ev.ActionRefused)[0]
    assert (refused.msg_id, refused.kind, refused.target) == (msg_id, "edit", first)
    assert refused.reason == "Only its sender can change a message."
    bob.reply(10_000, "to nothing")
    failed = bob_log.wait_type(ev.MessageFailed)[0]
    assert failed.text == "to nothing" and failed.reason == "That message is not in this room."
    with pytest.raises(errors.BadRequest):
        bob.react(first, "two words")


def test_the_hosts_topic_removal_and_password(room, make_client):
    alice, bob, alice_log, bob_log = room
    alice.set_topic("Friday: demo day")
    topic = bob_log.wait_type(ev.TopicChanged)[0]
    assert (topic.topic, topic.name) == ("Friday: demo day", "alice") and bob.topic == "Friday: demo day"
    carol = make_client()
    carol.join_room("team", "carol")
    assert carol.topic == "Friday: demo day"
    alice_log.wait_for(lambda seen: "carol" in alice.members, what="carol in")

    alice.remove_member("bob")
    closed = bob_log.wait_type(ev.RoomClosed)[0]
    assert closed.reason == "The host removed you from the room." and not bob_log.of_type(ev.SessionGone)
    gone = EventLog(carol).wait_for(
        lambda seen: next((e for e in seen if isinstance(e, ev.Notice) and e.kind is ev.NoticeKind.REMOVED), None),
        what="bob removed",
    )
    assert gone.name == "bob" and "bob" not in carol.members
    again = make_client(direct=bob.direct)  # the same install (its key) under another name: kept out
    with pytest.raises(errors.RemovedFromRoom):
        again.join_room("team", "bobby")

    alice.set_password("letmein")
    alice_log.wait_for(
        lambda seen: any(isinstance(e, ev.Notice) and e.kind is ev.NoticeKind.LOCKED for e in seen), what="locked"
    )
    with pytest.raises(errors.PasswordRequired):
        make_client().join_room("team", "dave")
    make_client().join_room("team", "dave", "letmein")


def test_edits_deletions_and_reactions_reach_the_members_own_history(room, tmp_path):
    alice, bob, alice_log, bob_log = room
    store = HistoryStore(tmp_path / "history.db")
    recorder = RoomRecorder(store, conversation_for(store, bob, server="loopback"), "bob")
    first = sent_seq(alice_log, alice.send("the wifi password is tr0ub4dor"))
    second = sent_seq(alice_log, alice.send("lunch at 12"))
    message_from(bob_log, "lunch at 12")
    msg_id = bob.reply(second, "count me in")
    recorder.sending(msg_id, "count me in", reply_to=second)
    bob.react(second, "🍱")
    alice.edit(second, "lunch at 12:30")
    alice.delete(first)
    bob_log.wait_type(ev.MessageDeleted)
    for event in bob_log.seen:
        recorder.saw(event)
    kept = {line.seq: line for _, line in store.lines(recorder.conversation)}
    assert kept[first].deleted and kept[first].text == ""
    assert kept[second].edited and kept[second].text == "lunch at 12:30"
    mine = next(line for line in kept.values() if line.text == "count me in")
    assert mine.reply_to == second
    assert store.reactions(recorder.conversation, second, second) == {second: {"🍱": ["bob"]}}
    assert store.search("tr0ub4dor") == [] and [m.seq for m in store.search("12:30")] == [second]
    files = [tmp_path / "history.db", tmp_path / "history.db-wal"]  # the write-ahead log too, while open
    raw = b"".join(path.read_bytes() for path in files if path.exists())
    assert b"tr0ub4dor" not in raw and b"lunch at 12:30" in raw
    store.close()


def test_the_assignment_clients_view_of_each_action(plain_server, tmp_path):
    """A client written from the assignment's framing alone reads every action as a line."""
    import socket

    from test_server_client import _assignment_request

    from ocm_core.net.client import ChatClient

    port, udp_port = plain_server.tcp_address[1], plain_server.udp_address[1]
    alice = ChatClient("127.0.0.1", port, direct=DirectKeys.load(tmp_path / "alice"))
    alice.create_room("team", "alice")
    bob = ChatClient("127.0.0.1", port, direct=DirectKeys.load(tmp_path / "bob"))
    bob.join_room("team", "bob")
    status, token = _assignment_request(port, 2, "team", "pat")
    assert status == 0
    pat = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pat.settimeout(5)
    pat.sendto(bytes([4, len(token)]) + b"team" + token + b"hi", ("127.0.0.1", udp_port))
    alice_log, bob_log = EventLog(alice), EventLog(bob)
    message_from(alice_log, "hi")
    first = sent_seq(alice_log, alice.send("lunch at noon?"))
    message_from(bob_log, "lunch at noon?")
    sent_seq(bob_log, bob.reply(first, "count me in"))
    bob.react(first, "🍜")
    bob_log.wait_type(ev.Reacted)  # the room's order is the server's: bob's two before alice's
    alice.edit(first, "lunch at 12:30?")
    alice.delete(first)
    alice.set_topic("Fridays: ramen")
    expected = [
        "alice: lunch at noon?",
        "bob: > alice: lunch at noon?\ncount me in",
        "bob: (reacted 🍜 to alice: “lunch at noon?”)",
        "alice: (edited) lunch at 12:30?",
        "alice: (deleted a message)",
        "alice: (set the topic: Fridays: ramen)",
    ]
    lines = []
    while len(lines) < len(expected):
        data = pat.recv(4096)
        lines.append(data[2 + data[0] + data[1] :].decode("utf-8"))
    assert lines == expected  # never raw fields: each a line any text client shows
    pat.close()
    for client in (alice, bob):
        client.leave()
        client.direct.close()


def test_the_hosts_removals_and_locks_are_kept_in_the_history_and_an_unknown_notice_is_no_error(tmp_path):
    store = HistoryStore(tmp_path / "history.db")
    conversation = store.conversation("fp", "id", room="r", server="s", me="ann")
    recorder = RoomRecorder(store, conversation, "ann")
    for seq, kind in ((2, ev.NoticeKind.REMOVED), (3, ev.NoticeKind.LOCKED), (4, ev.NoticeKind.UNLOCKED)):
        assert recorder.saw(ev.Notice(seq, kind, "bob" if seq == 2 else "ann", "", 1000.0 + seq))
    assert recorder.saw(ev.Notice(5, "a-kind-from-a-newer-version", "zed", "", 1005.0))  # shown, not kept
    kept = [(line.seq, str(line.kind), line.sender) for _id, line in store.lines(conversation)]
    assert kept == [(2, "removed", "bob"), (3, "locked", "ann"), (4, "unlocked", "ann")]
    store.close()
