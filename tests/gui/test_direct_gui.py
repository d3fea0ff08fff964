"""Direct conversations in the app, with a real server and real clients for the others: a
double-click on a person opens one in the sidebar; what is written there reaches that person
alone and comes back delivered; their answer, their being away and their typing show; a
changed key is said with its safety code; the conversation is kept in the history."""

from __future__ import annotations

import queue

import pytest
from gui_helpers import pump

from ocm_core.net.client import ChatClient
from ocm_core.net.direct import DirectKeys
from ocm_core.net.server import ChatServer
from ocm_core.sansio import events as ev
from ocm_gui.chat.direct import DirectWindow


@pytest.fixture
def office(app, root, tmp_path):
    """The app hosts nothing: it joins "office" on a real server where bob and carol are."""
    server = ChatServer("127.0.0.1", 0, 0)
    server.start()
    port = server.tcp_address[1]
    others: list[ChatClient] = []
    keys: list[DirectKeys] = []

    def person(name: str, folder: str | None = None) -> ChatClient:
        keys.append(DirectKeys.load(tmp_path / (folder or name)))
        client = ChatClient("127.0.0.1", port, direct=keys[-1])
        client.join_room("office", name)
        others.append(client)
        return client

    carol = ChatClient("127.0.0.1", port, direct=DirectKeys.load(tmp_path / "carol"))
    carol.create_room("office", "carol")
    others.append(carol)
    mine = app.backend.make_client("127.0.0.1", port)
    mine.join_room("office", "ann")
    chat = app.open_chat(mine)
    bob = person("bob")
    pump(root, lambda: "bob" in chat.people.members, what="bob in People")
    yield chat, bob, carol, person
    for client in others:
        client.leave()
    server.stop()


def next_event(client: ChatClient, kind, root, where=lambda e: True):
    found = []

    def look() -> bool:
        while True:
            try:
                event = client.events.get_nowait()
            except queue.Empty:
                return False
            if isinstance(event, kind) and where(event):
                found.append(event)
                return True

    pump(root, look, what=f"a {kind.__name__} at {client.username}")
    return found[0]


def double_click(root, listbox, row: int) -> None:
    root.update()
    x, y, _w, h = listbox.bbox(row)
    for _click in range(2):  # Tk makes the second press within its interval a double click
        listbox.event_generate("<ButtonPress-1>", x=x + 2, y=y + h // 2)
        listbox.event_generate("<ButtonRelease-1>", x=x + 2, y=y + h // 2)
    root.update()


def test_a_double_click_opens_a_direct_conversation_that_reaches_only_that_person(app, root, office):
    chat, bob, carol, _person = office
    double_click(root, chat.people.listbox, chat.people.members.index("bob"))
    window = app.shown
    assert isinstance(window, DirectWindow) and window.name == "bob"
    assert app.sidebar.label(window) == "✉ bob"
    assert "Only you and bob can read this conversation" in window.sealed_label.cget("text")
    window.input.insert("1.0", "the report is on my desk 机の上")
    msg_id = window.send()
    message = next_event(bob, ev.DirectMessage, root)
    assert (message.sender, message.text) == ("ann", "the report is on my desk 机の上")
    pump(root, lambda: window.scrollback.status_text(msg_id) is None, what="delivered")
    assert "✓✓\xa0delivered" in window.scrollback.transcript()  # a no-break space keeps the mark whole
    carol_saw = []
    while not carol.events.empty():
        carol_saw.append(carol.events.get_nowait())
    assert not any(isinstance(e, ev.DirectMessage) for e in carol_saw)

    # bob answers while another room page is shown: an unread count beside his name
    app.show_room(chat)
    bob.send_direct("ann", "thanks!")
    pump(root, lambda: app.sidebar.badge(window) == "1", what="the unread badge")
    assert "bob" in window.scrollback.transcript() and "thanks!" in window.scrollback.transcript()
    app.show_room(window)
    assert app.sidebar.badge(window) == ""


def test_presence_and_typing_show_in_people_the_sidebar_and_the_conversation(app, root, office):
    chat, bob, carol, _person = office
    window = app.directs.open(chat, "bob")
    assert window.presence.value == "online"
    bob.set_away(True)
    pump(root, lambda: "bob (away)" in chat.people.labels(), what="bob marked away in People")
    pump(root, lambda: app.sidebar.badge(window) == "away", what="away beside his conversation")
    assert window.presence_label.cget("text") == "away"
    bob.typing("ann")
    pump(root, lambda: window.typing.text() == "bob is typing…", what="the typing line")
    carol.typing()  # in the room: shown under the room, not in bob's conversation
    pump(root, lambda: chat.typing.text() == "carol is typing…", what="room typing")
    assert window.typing.text() == "bob is typing…"
    bob.leave()
    pump(root, lambda: window.presence.value == "offline", what="offline once he left")
    assert window.presence_label.cget("text") == "offline"
    assert window.composer.hint.cget("text") == "bob is offline: what you write waits for them on the server."


def test_a_changed_key_is_said_in_the_conversation_with_its_safety_code(app, root, office):
    chat, bob, _carol, person = office
    window = app.directs.open(chat, "bob")
    bob.leave()
    pump(root, lambda: "bob" not in chat.people.members, what="bob gone")
    impostor = person("bob", folder="bob-elsewhere")
    pump(root, lambda: window.banners.visible, what="the key-changed banner")
    assert "bob's key has changed" in window.banners.text()
    code, verified, _key = app.directs._safety((chat.client.server_fingerprint, "bob"))
    assert code == impostor.direct.safety_code(chat.client.direct.public) and not verified


def test_a_direct_conversation_is_kept_in_the_history_and_shown_when_opened_again(app, root, office):
    chat, bob, _carol, _person = office
    bob.send_direct("ann", "keep this line")
    window = pump(root, lambda: app.directs.windows.get((chat.client.server_fingerprint, "bob")), what="opened")
    pump(root, lambda: "keep this line" in window.scrollback.transcript(), what="the line")
    app.directs.close(window)
    assert window not in app.sidebar.keys()
    again = app.directs.open(chat, "bob")
    assert "keep this line" in again.scrollback.transcript()
    assert "kept on this PC" in again.scrollback.transcript()


def test_a_senders_name_in_the_room_offers_a_direct_message(app, root, office):
    chat, bob, _carol, _person = office
    bob.send("who has the projector key?")
    pump(root, lambda: "projector" in chat.transcript(), what="bob's line")
    text = chat.scrollback.text
    start, _end = text.tag_prevrange("sender", "end")
    assert text.get(start, _end).strip() == "bob"
    items = {label: action for label, _state, action in chat.scrollback.actions.menu_items(start)}
    assert "Message bob…" in items
    assert not any(label.startswith("Message") for label, _s, _a in chat.scrollback.actions.menu_items("1.0"))
    items["Message bob…"]()
    assert isinstance(app.shown, DirectWindow) and app.shown.name == "bob"


def test_a_notification_click_shows_the_direct_conversation(app, root, office):
    chat, bob, _carol, _person = office
    bob.send_direct("ann", "are you there?")
    window = pump(root, lambda: app.directs.windows.get((chat.client.server_fingerprint, "bob")), what="opened")
    assert app.shown is chat  # it came in the background
    window.alerts.clicked()
    assert app.shown is window


def test_the_direct_conversations_of_the_last_run_come_back_with_their_room(app, root, office, tmp_path):
    chat, bob, _carol, _person = office
    bob.send_direct("ann", "see you tomorrow")
    key = (chat.client.server_fingerprint, "bob")
    window = pump(root, lambda: app.directs.windows.get(key), what="opened")
    pump(root, lambda: "see you tomorrow" in window.scrollback.transcript(), what="the line")
    # the next run: the same history, the room opened again
    app.directs.windows.clear()
    app.sidebar.remove(window)
    window.destroy()
    app.directs.room_opened(chat)
    again = app.directs.windows.get(key)
    assert again is not None and again in app.sidebar.keys() and app.shown is chat
    assert "see you tomorrow" in again.scrollback.transcript()
    # one put away with Close does not come back
    app.directs.close(again)
    app.directs.room_opened(chat)
    assert key not in app.directs.windows


def test_when_the_only_shared_room_ends_the_conversation_says_so_and_waits(app, root, office):
    chat, bob, carol, _person = office
    window = app.directs.open(chat, "bob")
    carol.leave()  # the host: the room closes for everyone
    pump(root, lambda: chat.room_closed, what="the room closed")
    assert window.presence.value == "offline" and window.stranded
    assert not window.input_enabled()
    assert "You share no open room with bob now" in window.composer.hint.cget("text")
    assert app.sidebar.tree.item(app.sidebar._items[window], "tags") == ("gone",)


def test_the_conversations_listed_last_time_are_back_at_start_before_any_room(app, root, office):
    chat, bob, _carol, _person = office
    bob.send_direct("ann", "morning")
    key = (chat.client.server_fingerprint, "bob")
    window = pump(root, lambda: app.directs.windows.get(key), what="opened")
    pump(root, lambda: "morning" in window.scrollback.transcript(), what="the line")
    app.directs.windows.clear()  # as at the next start, before any room is joined
    app.sidebar.remove(window)
    window.destroy()
    app.directs.restore()
    again = app.directs.windows[key]
    assert "morning" in again.scrollback.transcript() and again.stranded and not again.input_enabled()
    assert app.sidebar.tree.item(app.sidebar._items[again], "tags") == ("gone",)  # greyed: nobody to reach
    app.directs.room_opened(chat)  # its server's room is open again: writing works
    assert again.input_enabled() and again.presence.value == "online"


def test_being_away_by_hand_shows_on_ones_own_name(app, root, office):
    chat, bob, _carol, _person = office
    app.directs.away_by_hand.set(True)
    app.directs.choose_away()
    assert "ann (you, away)" in chat.people.labels()
    pump(root, lambda: _away_in(bob, "ann"), what="bob sees ann away")


def _away_in(client, name: str) -> bool:
    while not client.events.empty():
        event = client.events.get_nowait()
        if isinstance(event, ev.PresenceChanged) and event.name == name and event.away:
            return True
    return False


def test_a_rejoined_room_gives_its_conversations_back_their_input(make_chat, fake_client):
    rejoined = []
    chat = make_chat(on_rejoined=rejoined.append)
    chat.adopt(fake_client)
    assert rejoined == [chat]


def test_a_host_closing_its_room_marks_what_waited_in_it(app, root, tmp_path):
    server = ChatServer("127.0.0.1", 0, 0)
    server.start()
    port = server.tcp_address[1]
    mine = app.backend.make_client("127.0.0.1", port)
    mine.create_room("hq", "ann")
    chat = app.open_chat(mine)
    dave = ChatClient("127.0.0.1", port, direct=DirectKeys.load(tmp_path / "dave"))
    dave.join_room("hq", "dave")
    pump(root, lambda: "dave" in chat.people.members, what="dave here")
    window = app.directs.open(chat, "dave")
    dave.leave()
    pump(root, lambda: "dave" not in chat.people.members, what="dave gone")
    window.input.insert("1.0", "for when you are back")
    msg_id = window.send()
    pump(root, lambda: "waiting for dave" in (window.scrollback.status_text(msg_id) or ""), what="waiting")
    chat.leave()  # the host closes the room: the server drops what waited in it
    pump(root, lambda: "the room it waited in ended" in window.scrollback.transcript(), what="marked")
    dave.direct.close()
    server.stop()
