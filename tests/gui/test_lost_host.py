"""A host that stops answering, a session the server forgot (Rejoin), a closed room's People
list, and the question before a host closes a room others are in: against fake clients."""

from __future__ import annotations

import threading

import pytest
from gui_helpers import FakeBackend, FakeClient, pump, pump_for

from ocm_core.errors import RoomNotFound
from ocm_core.sansio.events import (
    ChatMessage,
    ConnectionLost,
    ConnectionRestored,
    HostNotAnswering,
    MessageFailed,
    Notice,
    RoomClosed,
    SessionGone,
)
from ocm_gui import theme
from ocm_gui.chat.window import ChatWindow

NOT_ANSWERING = "lobby's host is not answering (39 s). They may have closed the app or left the network."
GONE = SessionGone("lobby", "Bob", "You were away too long to come back; join the room again.")


class Client(FakeClient):
    """A fake client with the address a Rejoin joins and the keep_waiting the banner calls."""

    server_host, tcp_port = "192.0.2.7", 9090

    def __init__(self, **kwargs):
        kwargs.setdefault("username", "Bob")
        kwargs.setdefault("members", ("Alice", "Bob"))
        super().__init__(**kwargs)
        self.waits = 0

    def keep_waiting(self) -> None:
        self.waits += 1


@pytest.fixture
def make_chat(make_chat):  # the conftest's, with this module's client as the default
    return lambda client=None, **kwargs: make_chat(client or Client(), **kwargs)


def handle(root, chat: ChatWindow, *events) -> None:
    for event in events:
        chat.client.events.put(event)
    pump(root, lambda: chat.client.events.empty(), what="the events handled")
    root.update()


def text_fits(root, chat: ChatWindow) -> None:
    """The banner's words are all shown: wrapped, beside or above every button (never
    under one), none cut off below or on the right."""
    root.update()
    label = chat.banner_label
    assert label.winfo_height() >= label.winfo_reqheight()
    right, bottom = label.winfo_x() + label.winfo_reqwidth(), label.winfo_y() + label.winfo_height()
    for button in chat.banners.buttons:
        assert right <= button.winfo_x() or bottom <= button.winfo_y(), label.cget("text")
        assert button.winfo_x() + button.winfo_width() <= chat.banner.winfo_width()
    assert right <= chat.banner.winfo_width()


# --- the host is not answering ------------------------------------------------------------------


def test_not_answering_says_so_plainly_and_keep_waiting_hides_the_question(root, make_chat):
    chat = make_chat()
    handle(root, chat, ConnectionLost())
    assert chat.banners.text() == "Connection lost, reconnecting…" and chat.banners.button_labels() == []
    handle(root, chat, HostNotAnswering(39))
    assert chat.banners.text() == NOT_ANSWERING and chat.banners.button_labels() == ["Leave", "Keep waiting"]
    assert chat.member_labels() == ["★ Alice (not answering)", "Bob (you)"]
    assert str(chat.members_list.itemcget(0, "foreground")) == theme.MUTED
    chat.banners.button("Keep waiting").invoke()
    assert chat.client.waits == 1  # the client asks again after another period
    assert chat.banners.text() == "Connection lost, reconnecting…" and chat.banners.button_labels() == []
    handle(root, chat, HostNotAnswering(69))
    assert "(69 s)" in chat.banners.text()
    handle(root, chat, ConnectionRestored())
    assert not chat.banners.visible and "Connection restored." in chat.transcript()
    assert chat.member_labels() == ["★ Alice (host)", "Bob (you)"]
    assert chat.input_enabled()


def test_leave_on_the_not_answering_banner_leaves_the_room(root, make_chat):
    chat = make_chat()
    handle(root, chat, ConnectionLost(), HostNotAnswering(39))
    chat.banners.button("Leave").invoke()
    assert chat.destroyed
    pump(root, lambda: chat.client.left, what="the client to leave")


def test_session_gone_offers_rejoin_and_the_window_goes_on_with_the_new_client(root, make_chat):
    backend = FakeBackend()
    chat = make_chat(backend=backend)
    old = chat.client
    handle(root, chat, ChatMessage(1, "Alice", "before the restart", 1000.0))
    chat.input.insert("1.0", "lost words")
    lost_id = chat.send()
    handle(root, chat, MessageFailed(lost_id, "lost words", "the server no longer knew this session"), GONE)
    assert chat.banners.text() == "The server no longer knows this session."
    assert chat.banners.closed and chat.banners.button_labels() == ["Rejoin", "Back to start"]
    assert "You were away too long to come back; join the room again." in chat.transcript()
    assert not chat.input_enabled() and chat.members_label.cget("text") == "People"
    assert chat.member_labels() == [] and chat.people.ended_text() == "You are no longer in the room"
    pump(root, lambda: old.left, what="the old client shut down")

    chat.banners.button("Rejoin").invoke()
    assert chat.banners.text() == "Joining “lobby” again as Bob…"
    assert all(b.instate(["disabled"]) for b in chat.banners.buttons)  # one click is one try
    pump(root, lambda: chat.client is not old, what="the new client adopted")
    assert backend.made == [("192.0.2.7", 9090)] and (chat.client.room, chat.client.username) == ("lobby", "Bob")
    assert not chat.banners.visible and chat.input_enabled() and not chat.room_closed
    assert chat.members_label.cget("text") == "People (1)"  # what the new client knows
    assert chat.people.ended_text() == "" and chat.members_list.winfo_ismapped()
    assert "You joined “lobby” again as Bob." in chat.transcript()
    assert "Retry" not in chat.transcript().split("lost words")[1]  # the old session's id means nothing now
    # The new client's history: what we saw is not shown twice; what we missed is, as live.
    handle(
        root,
        chat,
        ChatMessage(1, "Alice", "before the restart", 1000.0, history=True),
        Notice(2, "joined", "Bob", "", 1001.0, history=True),
        ChatMessage(3, "Alice", "while you were gone", 1002.0, history=True),
    )
    assert chat.transcript().count("before the restart") == 1 and "while you were gone" in chat.transcript()
    assert chat.transcript().count("Bob joined the room") == 0
    missed = chat.text.search("while you were gone", "1.0")
    assert "history" not in chat.text.tag_names(missed)  # what we missed reads as new, not grey
    assert "earlier messages" not in chat.transcript()
    assert chat.composer.foot.winfo_ismapped() and "characters left" in str(chat.counter.cget("text"))
    chat.input.insert("1.0", "back again")
    assert chat.send() is not None and chat.client.sent[-1][1] == "back again" and old.sent[-1][1] == "lost words"


def test_a_failed_rejoin_says_why_and_can_be_tried_again(root, make_chat):
    backend = FakeBackend(join=RoomNotFound("There is no room named “lobby” on this server; check the name."))
    chat = make_chat(backend=backend)
    handle(root, chat, GONE)
    chat.banners.button("Rejoin").invoke()
    pump(root, lambda: chat.banners.text().startswith("Could not join again"), what="the failure")
    assert chat.banners.text() == "Could not join again: There is no room named “lobby” on this server; check the name."
    assert all(b.instate(["!disabled"]) for b in chat.banners.buttons) and chat.room_closed
    backend.join = None  # the host made the room again
    chat.banners.button("Rejoin").invoke()
    pump(root, lambda: not chat.room_closed, what="the second try")
    assert len(backend.made) == 2


def test_a_window_closed_while_rejoining_leaves_the_new_client(root, make_chat):
    backend = FakeBackend()
    chat = make_chat(backend=backend)
    handle(root, chat, GONE)
    made = []
    original = backend.make_client
    window_closed = threading.Event()

    def slow_make(host, port):
        window_closed.wait(10)  # still joining when the window goes
        client = original(host, port)
        made.append(client)
        return client

    backend.make_client = slow_make
    chat.banners.button("Rejoin").invoke()
    chat.leave()
    window_closed.set()
    pump(root, lambda: made and made[0].left, what="the late client to leave")


# --- the room closed: the People list ----------------------------------------------------------


def test_a_closed_room_lists_nobody_and_says_it_is_closed(root, make_chat):
    chat = make_chat()
    assert chat.member_labels() == ["★ Alice (host)", "Bob (you)"]
    handle(root, chat, RoomClosed("The host closed the room."))
    assert chat.members_label.cget("text") == "People"
    assert chat.member_labels() == [] and chat.members == () and chat.people.ended_text() == "The room is closed"
    assert not chat.members_list.winfo_ismapped() and chat.people.ended.winfo_ismapped()
    handle(root, chat, HostNotAnswering(39))  # late news about a room already closed changes nothing
    assert chat.banners.text() == "The host closed the room."


# --- closing a room others are in asks first ----------------------------------------------------


def host_client(members=("Alice", "Bob", "Carol", "Dan")) -> Client:
    return Client(username="Alice", host_name="Alice", members=members)


def test_the_host_is_asked_before_closing_a_room_others_are_in_and_escape_cancels(root, make_chat):
    chat = make_chat(host_client())
    chat.leave_button.invoke()
    confirm = chat.confirm
    assert confirm is not None and not chat.destroyed
    assert str(confirm.label.cget("text")) == "3 other people are here: close the room for everyone?"
    assert [str(b.cget("text")) for b in (confirm.yes_button, confirm.cancel_button)] == ["Close room", "Cancel"]
    root.update()
    confirm.win.event_generate("<Escape>")
    root.update()
    assert chat.confirm is None and not chat.destroyed and not chat.client.left
    chat.win.protocol("WM_DELETE_WINDOW")  # the window's close box asks too
    chat.win.tk.call(chat.win.protocol("WM_DELETE_WINDOW"))
    assert chat.confirm is not None
    chat.confirm.cancel_button.invoke()
    assert not chat.destroyed
    chat.leave_button.invoke()
    chat.confirm.yes_button.invoke()
    assert chat.destroyed
    pump(root, lambda: chat.client.left, what="the room closed")


def test_one_other_person_is_counted_in_the_singular(root, make_chat):
    chat = make_chat(host_client(("Alice", "Bob")))
    chat.leave_button.invoke()
    assert str(chat.confirm.label.cget("text")) == "1 other person is here: close the room for everyone?"
    chat.confirm.cancel_button.invoke()


def test_nobody_else_here_or_not_the_host_or_a_closed_room_closes_without_a_question(root, make_chat):
    alone = make_chat(host_client(("Alice",)))
    alone.leave_button.invoke()
    assert alone.destroyed and alone.confirm is None
    member = make_chat(Client())
    member.leave_button.invoke()
    assert member.destroyed
    closed = make_chat(host_client())
    handle(root, closed, RoomClosed("The server stopped."))
    closed.leave_button.invoke()
    assert closed.destroyed


def test_the_question_goes_away_when_the_room_closes_meanwhile(root, make_chat):
    chat = make_chat(host_client())
    chat.leave_button.invoke()
    confirm = chat.confirm
    handle(root, chat, RoomClosed("The server stopped."))
    assert chat.confirm is None and confirm.answered and not confirm.win.winfo_exists()
    pump_for(root, 0.1)


def test_rejoin_into_a_locked_room_uses_the_password_the_window_came_in_with(root, make_chat):
    backend = FakeBackend()
    chat = make_chat(backend=backend)
    chat.client.password = "s3cret"
    handle(root, chat, GONE)
    chat.banners.button("Rejoin").invoke()
    pump(root, lambda: backend.joins, what="the rejoin")
    assert backend.joins == [("lobby", "Bob", "s3cret")]


def test_the_not_answering_bar_counts_the_silence_on(root, make_chat):
    chat = make_chat()
    now = [500.0]
    chat.lost.clock = lambda: now[0]
    handle(root, chat, ConnectionLost(), HostNotAnswering(39))
    assert "(39 s)" in chat.banners.text()
    now[0] += 21
    chat.lost.tick()
    assert "(60 s)" in chat.banners.text() and chat.banners.button_labels() == ["Leave", "Keep waiting"]
    chat.banners.button("Keep waiting").invoke()  # the question goes; the count stops with it
    now[0] += 5
    chat.lost.tick()
    assert "not answering" not in chat.banners.text()
