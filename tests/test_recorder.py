"""RoomRecorder: a room's events as lines of the history, what is news and what is a repeat."""

from __future__ import annotations

import pytest

from ocm_core.net.recorder import RoomRecorder, conversation_for, line_from_event
from ocm_core.sansio import events as ev
from ocm_core.storage.history import HistoryStore, HistoryWriteError, Line, LineKind

# --- what a client's events leave ---------------------------------------------------------------


def test_each_line_a_client_reports_becomes_a_line_of_the_history():
    now = 5000.0
    assert line_from_event(ev.ChatMessage(4, "bo", "こんにちは", 1000.0, history=True), now) == Line(
        4, 1000.0, LineKind.CHAT, "bo", "こんにちは"
    )
    shared = ev.FileShared(5, "f1", "議事録.pdf", 1234, "bo", "application/pdf", 1001.0)
    assert line_from_event(shared, now) == Line(5, 1001.0, LineKind.FILE, "bo", "議事録.pdf", 1234, "f1")
    for kind, line_kind in [
        (ev.NoticeKind.JOINED, LineKind.JOINED),
        (ev.NoticeKind.LEFT, LineKind.LEFT),
        (ev.NoticeKind.TIMED_OUT, LineKind.TIMED_OUT),
    ]:
        assert line_from_event(ev.Notice(6, kind, "chen", "", 1002.0), now) == Line(6, 1002.0, line_kind, "chen", "")
    closed = line_from_event(ev.RoomClosed("The host closed the room."), now)
    assert closed == Line(None, now, LineKind.ENDED, "", "The host closed the room.")
    assert closed is not None and closed.kind is LineKind.ENDED


@pytest.mark.parametrize(
    "event",
    [
        ev.MembersChanged(("ana", "bo"), "ana"),
        ev.MessageSent(1, 7),
        ev.MessageFailed(1, "hi", "gone"),
        ev.ConnectionLost(),
        ev.ConnectionRestored(),
        ev.HostNotAnswering(30),
        ev.SessionGone("lobby", "ana", "The server no longer knows this session."),  # the room may go on
        ev.Resumed(3),
        ev.ErrorEvent("oops"),
    ],
)
def test_events_that_are_no_line_leave_none(event):
    assert line_from_event(event, 5000.0) is None


# --- the recorder -----------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    history = HistoryStore(tmp_path / "history.db", clock=lambda: 9000.0)
    yield history
    history.close()


def recorder_for(store: HistoryStore, me: str = "ann") -> RoomRecorder:
    conversation = store.conversation("FP", "r1", room="lobby", server="192.0.2.7:9090", me=me)
    return RoomRecorder(store, conversation, me, clock=lambda: 9000.0)


def test_a_line_sent_again_on_a_later_join_is_a_repeat_and_what_came_while_away_is_news(store):
    first = recorder_for(store)
    assert not first.had_history
    assert first.saw(ev.ChatMessage(1, "bo", "hello", 1000.0, history=True))  # new to this PC
    assert first.saw(ev.ChatMessage(2, "bo", "lunch?", 1001.0))
    again = recorder_for(store)  # the app started again and joined
    assert again.had_history and again.newest_before == 2
    repeat = ev.ChatMessage(2, "bo", "lunch?", 1001.0, history=True)
    missed = ev.ChatMessage(3, "bo", "where are you", 1100.0, history=True)
    assert not again.saw(repeat) and again.saw(missed)
    assert not again.caught_up(repeat) and again.caught_up(missed)
    assert [line.text for _id, line in store.lines(again.conversation)] == ["hello", "lunch?", "where are you"]
    assert again.saw(ev.MembersChanged(("ann", "bo"), "bo"))  # no line: nothing to skip


def test_my_message_is_kept_when_the_server_confirms_it_with_its_position(store):
    recorder = recorder_for(store)
    recorder.sending(1, "first try")
    recorder.retried(1, 2)
    recorder.sending(3, "second")
    assert store.lines(recorder.conversation) == []  # nothing before the server has it
    assert recorder.saw(ev.MessageSent(2, 10))
    recorder.sent(3, 0)  # confirmed without its position (an acknowledgement lost): kept all the same
    lines = [line for _id, line in store.lines(recorder.conversation)]
    assert [(line.seq, line.sender, line.text) for line in lines] == [(10, "ann", "first try"), (None, "ann", "second")]
    assert store.get(recorder.conversation).read_seq == 10
    recorder.sent(99, 11)  # not told of yet: nothing kept until it is
    assert len(store.lines(recorder.conversation)) == 2


def test_an_acknowledgement_that_comes_before_its_message_is_told_of_still_keeps_the_line(store):
    recorder = recorder_for(store)  # ocm-chat: the printer thread may see the ack before the input thread records
    recorder.saw(ev.MessageSent(1, 5))
    assert store.lines(recorder.conversation) == []
    recorder.sending(1, "quick one")
    assert [(line.seq, line.text) for _id, line in store.lines(recorder.conversation)] == [(5, "quick one")]


def test_the_room_closing_ends_the_conversation_once(store):
    recorder = recorder_for(store)
    recorder.saw(ev.RoomClosed("The host closed the room."))
    recorder.saw(ev.RoomClosed("The host closed the room."))
    kept = store.get(recorder.conversation)
    assert kept.ended == 9000.0 and kept.ended_reason == "The host closed the room."
    assert [line.kind for _id, line in store.lines(kept.id)] == [LineKind.ENDED]


def test_a_history_that_cannot_be_written_is_logged_once_and_the_chat_goes_on(store, caplog):
    recorder = recorder_for(store)
    store.close()
    with caplog.at_level("WARNING"):
        assert recorder.saw(ev.ChatMessage(1, "bo", "one", 1000.0))
        assert recorder.saw(ev.ChatMessage(2, "bo", "two", 1001.0))
    assert recorder.failing
    assert len([r for r in caplog.records if "history not kept" in r.getMessage()]) == 1


class Joined:
    """What conversation_for reads of a joined ChatClient."""

    def __init__(self, room_id="b" * 32, fingerprint="FP-ONE", room="lobby", username="ann", standing=False):
        self.room_id, self.server_fingerprint, self.room = room_id, fingerprint, room
        self.username, self.standing = username, standing
        self.is_host = False


def test_a_clients_conversation_is_keyed_by_its_servers_identity_and_the_rooms_id(store):
    one = conversation_for(store, Joined(), server="192.0.2.7:9090", hosted=True)
    assert conversation_for(store, Joined(), server="192.0.2.7:9090") == one  # joined again: the same
    kept = store.get(one)
    assert (kept.server_fingerprint, kept.room_id, kept.room, kept.server, kept.me) == (
        "FP-ONE",
        "b" * 32,
        "lobby",
        "192.0.2.7:9090",
        "ann",
    )
    other_server = conversation_for(store, Joined(fingerprint="FP-TWO"), server="192.0.2.8:9090")
    made_again = conversation_for(store, Joined(room_id="c" * 32), server="192.0.2.7:9090")
    assert len({one, other_server, made_again}) == 3
    standing = store.get(conversation_for(store, Joined(room_id="d" * 32, standing=True), server="s"))
    assert standing.standing and not standing.hosted
    hosted = store.get(conversation_for(store, Joined(room_id="e" * 32), server="s", hosted=True))
    assert hosted.hosted and not hosted.standing
    # A server from before room ids, or one without an identity (--allow-plain): still apart by name.
    old = store.get(conversation_for(store, Joined(room_id="", fingerprint=None), server="s"))
    assert (old.server_fingerprint, old.room_id) == ("plain", "name:lobby")


def test_the_newest_position_shown_is_followed_for_what_forgetting_keeps_out(store):
    recorder = recorder_for(store)
    assert recorder.newest_seen == 0 and recorder.newest_before == 0
    recorder.saw(ev.ChatMessage(4, "bo", "four", 1000.0))
    recorder.saw(ev.ChatMessage(2, "bo", "two", 999.0))
    assert recorder.newest_seen == 4
    recorder.sending(1, "mine")
    recorder.sent(1, 9)
    assert recorder.newest_seen == 9
    assert not recorder.caught_up(ev.MembersChanged(("ann",), "bo"))  # no position: never news


def test_a_history_that_works_again_is_written_again_and_said_so(store, caplog, monkeypatch):
    recorder = recorder_for(store)
    real_add = store.add
    failures = iter([True, False])

    def add(conversation, line):
        if next(failures, False):
            raise HistoryWriteError(store.path, "disk full")
        return real_add(conversation, line)

    monkeypatch.setattr(store, "add", add)
    with caplog.at_level("INFO"):
        assert recorder.saw(ev.ChatMessage(1, "bo", "lost to the full disk", 1000.0))
        assert recorder.failing
        assert recorder.saw(ev.ChatMessage(2, "bo", "kept again", 1001.0))
    assert not recorder.failing
    assert any("written again" in r.getMessage() for r in caplog.records)
    assert [line.text for _id, line in store.lines(recorder.conversation)] == ["kept again"]


def test_the_rooms_end_is_dated_by_the_recorders_clock(store):
    recorder = recorder_for(store)
    recorder.saw(ev.RoomClosed("The host closed the room."))
    [(_id, line)] = store.lines(recorder.conversation)
    assert line.time == 9000.0 and store.get(recorder.conversation).ended == 9000.0


def test_joined_again_into_the_same_room_the_recorder_goes_on_and_into_a_new_one_it_starts_anew(store):
    first = conversation_for(store, Joined(), server="192.0.2.7:9090")
    recorder = RoomRecorder(store, first, "ann")
    assert recorder.following(Joined()) is recorder
    anew = recorder.following(Joined(room_id="f" * 32))
    assert anew.conversation != first and anew.me == "ann"
    assert store.get(anew.conversation).server == "192.0.2.7:9090"  # the address it was shown under
