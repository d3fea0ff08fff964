"""The main window as a person uses it all day: rooms in the sidebar with unread counts,
switching by keys and by name, invite links, the rooms of the last run joined again, a
hosted room serving its members while the window is closed, and Quit leaving them all."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from gui_helpers import FakeBackend, FakeClient, pump
from support import EventLog, wait_until

from ocm_core.crypto.identity import ServerIdentity
from ocm_core.errors import PasswordRequired, RoomNotFound, ServerUnreachable
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer
from ocm_core.sansio.events import ChatMessage, RoomClosed
from ocm_core.wire.links import InviteLink, parse_link
from ocm_gui import app as app_module
from ocm_gui.background import wait_for_background
from ocm_gui.dialogs.join import BY_ADDRESS
from ocm_gui.settings import Settings

FINGERPRINT = "ABCD-EFGH-IJKL-MNOP-QRST"


def link_to(room: str, host: str = "192.0.2.7", port: int = 9090) -> str:
    return InviteLink(host, port, room, FINGERPRINT).text


def key(root, widget, sequence: str) -> None:
    widget.focus_force()
    root.update()
    widget.event_generate(sequence)
    root.update()


def shown_room(app) -> str | None:
    return app.shown.room if app.shown is not None else None


@pytest.fixture
def three_rooms(root, app):
    one = app.open_chat(FakeClient(room="one", username="Ann", host_name="Ann", members=("Ann", "Bo")))
    two = app.open_chat(FakeClient(room="two", username="Ann", host_name="Cy", members=("Cy", "Ann")))
    three = app.open_chat(FakeClient(room="three", username="Ann", host_name="Di", members=("Di", "Ann")))
    return one, two, three


def test_three_rooms_in_the_sidebar_with_unread_counts_that_rise_and_clear(root, app, three_rooms):
    one, two, three = three_rooms
    assert [app.sidebar.label(k) for k in app.sidebar.keys()] == ["★ one", "two", "three"]
    assert app.shown is three and root.title() == "three — Online Chat Messenger"
    for n in range(3):
        one.client.events.put(ChatMessage(1, "Bo", f"hello {n}", time.time()))
    two.client.events.put(ChatMessage(1, "Cy", "hi", time.time()))
    pump(root, lambda: one.unread == 3 and two.unread == 1, what="the unread counts")
    tree = app.sidebar.tree
    badges = {app.sidebar.label(k): app.sidebar.badge(k) for k in app.sidebar.keys()}
    assert badges == {"★ one": "3", "two": "1", "three": ""}
    assert tree.item(app.sidebar._items[one], "tags") == ("unread",)
    assert root.title() == "(4) three — Online Chat Messenger"
    app.show_room(one)
    assert one.unread == 0 and app.sidebar.badge(one) == ""
    assert root.title() == "(1) one — Online Chat Messenger"


def test_ctrl_number_and_ctrl_tab_switch_rooms_from_the_input(root, app, three_rooms):
    one, two, three = three_rooms
    key(root, three.input, "<Control-Key-1>")
    assert app.shown is one and root.focus_get() is one.input
    key(root, one.input, "<Control-Tab>")
    assert app.shown is two and root.focus_get() is two.input
    key(root, two.text, "<Control-Tab>")
    assert app.shown is three
    key(root, three.input, "<Control-Tab>")  # round to the first
    assert app.shown is one
    key(root, one.input, "<Control-ISO_Left_Tab>")  # Ctrl+Shift+Tab, as X11 names it
    assert app.shown is three
    key(root, three.input, "<Control-Key-2>")
    assert app.shown is two
    key(root, two.input, "<Control-Key-9>")  # no ninth room: nothing moves
    assert app.shown is two


def test_the_quick_switcher_goes_to_a_room_by_name_and_escape_closes_it(root, app, three_rooms):
    one, two, three = three_rooms
    key(root, three.input, "<Control-k>")
    switcher = app.switcher
    assert switcher is not None and not switcher.closed and three.input_text() == ""
    pump(root, lambda: root.focus_get() is switcher.entry, what="the switcher's entry to take the focus")
    switcher.entry.insert(0, "T")
    root.update()
    assert [switcher.names[i] for i in switcher.shown] == ["two", "three"]  # both start with t
    switcher.entry.insert("end", "w")
    root.update()
    key(root, switcher.entry, "<Return>")
    assert switcher.closed and app.shown is two
    key(root, two.input, "<Control-k>")
    again = app.switcher
    pump(root, lambda: root.focus_get() is again.entry)
    key(root, again.entry, "<Escape>")
    assert again.closed and app.shown is two


def test_a_notification_click_shows_its_room_with_the_cursor_in_the_input(root, app, three_rooms):
    one, two, three = three_rooms
    root.withdraw()
    root.update()
    one.alerts.clicked()
    pump(root, lambda: root.state() == "normal" and app.shown is one, what="the window with room one")
    pump(root, lambda: root.focus_get() is one.input, what="the cursor in one's input")


def test_an_invite_link_asks_first_then_joins_with_the_fingerprint_checked(root, settings):
    backend = FakeBackend()
    app = app_module.App(root, settings=settings, backend=backend)
    try:
        prompt = app.open_link(link_to("会議室"), name="Ann")
        assert prompt is not None and backend.made == []  # nothing joined before Enter
        shown = [label.cget("text") for label in prompt.value_labels]
        assert shown == ["会議室", "192.0.2.7:9090", FINGERPRINT]
        key(root, prompt.join_button, "<Return>")
        pump(root, lambda: app.chats, what="the room to open")
        assert backend.made == [("192.0.2.7", 9090)] and backend.fingerprints == [FINGERPRINT]
        assert backend.joins == [("会議室", "Ann", None)]
        assert app.shown is app.chats[0] and app.link_prompt is None
        assert Settings.load().rooms == [link_to("会議室")]
    finally:
        app.quit()


def test_a_locked_room_asks_for_its_password_in_the_main_window(root, settings):
    backend = FakeBackend(join=[PasswordRequired("This room is locked; enter its password."), None])
    app = app_module.App(root, settings=settings, backend=backend)
    try:
        prompt = app.open_link(link_to("locked"), name="Ann")
        key(root, prompt.join_button, "<Return>")
        pump(root, lambda: prompt.password_entry.winfo_ismapped(), what="the password field")
        assert root.focus_get() is prompt.password_entry and "locked" in prompt.message.cget("text")
        prompt.password_entry.insert(0, "sesame")
        key(root, prompt.password_entry, "<Return>")
        pump(root, lambda: app.chats, what="the room to open")
        assert backend.joins == [("locked", "Ann", None), ("locked", "Ann", "sesame")]
    finally:
        app.quit()


def test_a_bad_link_is_refused_with_its_reason_and_escape_cancels_a_prompt(root, app):
    assert app.open_link("ocm://192.0.2.7:9090/room?fp=ABCD-EFGH-IJKL-MNOP-QRST&password=x") is None
    assert app.problem is not None and "password" in app.problem_label.cget("text")
    prompt = app.open_link(link_to("room"), name="Ann")
    key(root, prompt.name_entry, "<Escape>")
    assert app.link_prompt is None and app.shown is None and app.start.winfo_ismapped()


def test_a_later_launch_with_a_link_opens_the_prompt_under_its_name(root, app):
    app.launched_again(["--name", "Bo", link_to("lobby")])
    assert app.link_prompt is not None and app.link_prompt.name_var.get() == "Bo"
    app.launched_again([])  # nothing but "come forward"
    assert app.link_prompt is not None


def test_each_room_has_a_copy_link_button_whose_link_leads_back_to_it(root, app):
    client = FakeClient(room="雑談 #1", username="Ann", host_name="Bo", members=("Bo", "Ann"))
    client.server_fingerprint = FINGERPRINT
    chat = app.open_chat(client)
    chat.heading.link_button.invoke()
    link = parse_link(root.clipboard_get())
    assert (link.host, link.port, link.room, link.fingerprint) == ("127.0.0.1", 9090, "雑談 #1", FINGERPRINT)
    assert chat.heading.link_button.cget("text") == "Copied ✓"


def test_the_rooms_of_the_last_run_are_joined_again_and_the_gone_ones_listed_once(root, settings):
    kept, gone, hosted = link_to("kept"), link_to("gone"), link_to("mine", host="192.0.2.9")
    settings.update(name="Ann", rooms=[kept, gone, hosted], hosted_rooms=[hosted])
    backend = FakeBackend(join={"gone": RoomNotFound("There is no room named 'gone' on this server.")})
    app = app_module.App(root, settings=settings, backend=backend)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: len(app.chats) == 1 and len(app.gone) == 2, what="the rejoin to finish")
        assert app.chats[0].room == "kept" and app.shown is app.chats[0]
        assert sorted(backend.joins) == [("gone", "Ann", None), ("kept", "Ann", None)]
        labels = {app.sidebar.label(k): app.sidebar.rows[k].gone for k in app.sidebar.keys()}
        assert labels == {"kept": False, "gone": True, "★ mine": True}
        assert Settings.load().rooms == [kept]  # listed once: not tried again next time
        by_room = {g.room: g for g in app.gone}
        app.show_room(by_room["gone"])
        root.update()
        assert "There is no room named 'gone'" in by_room["gone"].reason
        app.show_room(by_room["mine"])
        root.update()
        assert "closed when you quit" in by_room["mine"].reason
        app.leave_shown()
        assert [g.room for g in app.gone] == ["gone"]
    finally:
        app.quit()


def test_closing_the_window_keeps_a_hosted_room_serving_and_quit_closes_it(window_manager, root, settings, tmp_path):
    settings.update(told_how_to_quit=True)
    with ChatServer("127.0.0.1", 0, 0, identity=ServerIdentity.generate()) as server:
        from ocm_core.crypto.identity import KnownServers

        host = ChatClient("127.0.0.1", server.tcp_address[1], known_servers=KnownServers(tmp_path / "a.json"))
        host.create_room("office", "Ann")
        member = ChatClient("127.0.0.1", server.tcp_address[1], known_servers=KnownServers(tmp_path / "b.json"))
        member.join_room("office", "Bo")
        heard = EventLog(member)

        class Hosted:  # the bundled server's hold, as Backend.host_server gives it
            tcp_address = server.tcp_address
            fingerprint = server.fingerprint
            stopped = False

            def stop(self) -> None:
                Hosted.stopped = True

        app = app_module.App(root, settings=settings)
        chat = app.open_chat(host, server=Hosted(), share_address=f"127.0.0.1:{server.tcp_address[1]}")
        pump(root, lambda: chat.others() == 1, what="Bo in the People list")
        assert app.sidebar.label(chat) == "★ office"
        app.close_window()
        pump(root, lambda: root.state() == "iconic", what="the window minimised")
        member.send("still there?")
        pump(root, lambda: "still there?" in chat.transcript(), what="Bo's message in the closed window")
        chat.input.insert("1.0", "yes")
        chat.send()
        heard.wait_for(lambda seen: any(isinstance(e, ChatMessage) and e.text == "yes" for e in seen), what="yes")
        app.ask_quit()
        assert app.confirm is not None and "1 other person" in app.confirm.label.cget("text")
        app.confirm.yes_button.invoke()
        assert app.closing
        assert wait_for_background(timeout=10)
        heard.wait_type(RoomClosed)
        assert Hosted.stopped
        member.leave()


def test_enter_presses_the_focused_button_of_a_closed_rooms_banner(root, app, three_rooms):
    one, two, three = three_rooms
    three.client.events.put(RoomClosed("the host closed the room"))
    pump(root, lambda: three.room_closed, what="the room closed")
    pump(root, lambda: root.focus_get() is three.back_button, what="the focus on Back to start")
    three.back_button.event_generate("<Return>")
    root.update()
    assert three.destroyed and app.chats == [one, two] and app.shown is two


def test_start_at_login_in_the_chat_menu_writes_and_removes_the_autostart_entry(root, app, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # never the real autostart folder
    entry = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "online-chat-messenger.desktop"
    index = app.chat_menu.index("Start at login")
    app.chat_menu.invoke(index)
    assert entry.is_file() and "--background" in entry.read_text(encoding="utf-8")
    assert Settings.load().start_at_login
    app.chat_menu.invoke(index)
    assert not entry.exists() and not Settings.load().start_at_login


def test_quit_leaves_a_room_joined_again_before_the_window_showed_it(root, settings):
    """A logout can come between the server's yes and the Tk thread's turn: the client that
    nobody shows yet is left too, not kept in its room until the server's timeout."""
    settings.update(name="Ann", rooms=[link_to("kept")])
    backend = FakeBackend()
    app = app_module.App(root, settings=settings, backend=backend)
    app.rejoin_saved_rooms()  # the worker joins; the Tk loop is not run, so nothing is shown
    wait_until(lambda: app.arrivals._held, what="the worker's client joined")
    [client] = list(app.arrivals._held)
    app.quit()
    assert wait_for_background(timeout=5) and client.left and app.chats == []


def test_a_join_that_ends_after_quit_is_left_at_once(root, settings):
    release = threading.Event()

    class SlowBackend(FakeBackend):
        def make_client(self, host, tcp_port, expected_fingerprint=None):
            client = super().make_client(host, tcp_port, expected_fingerprint)
            joined = client.join_room

            def slow_join(room, username, password=None):
                assert release.wait(5)
                joined(room, username, password)

            client.join_room = slow_join
            self.clients.append(client)
            return client

    backend = SlowBackend()
    backend.clients = []
    settings.update(name="Ann", rooms=[link_to("slow")])
    app = app_module.App(root, settings=settings, backend=backend)
    app.rejoin_saved_rooms()
    wait_until(lambda: backend.clients, what="the worker's client made")
    app.quit()
    release.set()  # the server says yes only now
    assert wait_for_background(timeout=5) and backend.clients[0].left


def test_leaving_a_room_leaves_nothing_bound_to_the_main_window(root, app, three_rooms):
    """The trial's bug: a room's input kept a <Configure> binding on the main window, and every
    move or resize after leaving the room raised "bad window path name"."""
    one, two, three = three_rooms
    before = str(root.tk.call("bind", str(root), "<Configure>"))
    two.leave()
    root.geometry("1000x700")
    pump(root, lambda: root.winfo_width() == 1000, what="the window resized")  # fails on a callback error
    after = str(root.tk.call("bind", str(root), "<Configure>"))
    assert len(after.splitlines()) == len(before.splitlines()) - 1


def test_an_invite_link_pasted_in_the_join_dialog_opens_its_page(root, app):
    dialog = app.open_join_dialog()
    root.update()
    dialog.name_var.set("Bo")
    dialog.address_var.set(" " + link_to("lobby") + " ")
    dialog.ok()
    assert dialog.closed and app.link_prompt is not None
    assert app.link_prompt.link.room == "lobby" and app.link_prompt.name_var.get() == "Bo"


def test_a_link_to_a_room_already_open_shows_it_even_by_another_address(root, app):
    client = FakeClient(room="lobby", username="Ann", host_name="Bo", members=("Bo", "Ann"))
    client.server_fingerprint = FINGERPRINT
    chat = app.open_chat(client)
    app.show_start()
    assert app.open_link(link_to("lobby", host="192.0.2.99")) is None  # same fingerprint, other address
    assert app.shown is chat and app.link_prompt is None


def test_the_sidebar_keeps_the_saved_order_whichever_rejoin_ends_first(root, settings):
    first, second, third = link_to("first"), link_to("second"), link_to("third")
    settings.update(name="Ann", rooms=[first, second, third])
    release = {room: threading.Event() for room in ("first", "second", "third")}

    class Backend(FakeBackend):
        def make_client(self, host, tcp_port, expected_fingerprint=None):
            client = super().make_client(host, tcp_port, expected_fingerprint)
            joined = client.join_room

            def in_turn(room, username, password=None):
                assert release[room].wait(5)
                joined(room, username, password)

            client.join_room = in_turn
            return client

    app = app_module.App(root, settings=settings, backend=Backend())
    try:
        app.rejoin_saved_rooms()
        for room in ("third", "first", "second"):  # the servers answer in another order
            release[room].set()
            pump(root, lambda room=room: any(c.room == room for c in app.chats), what=f"{room} back")
        assert [app.sidebar.label(k) for k in app.sidebar.keys()] == ["first", "second", "third"]
        assert Settings.load().rooms == [first, second, third]
    finally:
        app.quit()


def test_a_room_not_reached_at_start_is_tried_again_next_time(root, settings):
    reached, unreachable = link_to("gone-for-now"), link_to("lost")
    settings.update(name="Ann", rooms=[reached, unreachable])
    backend = FakeBackend(
        join={
            "gone-for-now": ServerUnreachable("Could not reach a server at 192.0.2.7:9090 (refused)."),
            "lost": RoomNotFound("There is no room named 'lost' on this server."),
        }
    )
    app = app_module.App(root, settings=settings, backend=backend)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: len(app.gone) == 2, what="both listed greyed")
        assert Settings.load().rooms == [reached]  # the room that is gone is listed once only
    finally:
        app.quit()


def test_quit_leaves_the_rooms_when_the_window_was_destroyed_from_outside(root, app, three_rooms):
    root.destroy()  # what a window manager's kill, or `xdotool windowclose`, does
    app.quit()
    assert wait_for_background(timeout=5)
    assert all(chat.client.left for chat in three_rooms)


def test_joining_a_room_the_app_is_in_already_shows_it(root, app, three_rooms):
    one, two, three = three_rooms
    dialog = app.open_join_dialog()
    root.update()
    dialog.set_mode(BY_ADDRESS)
    dialog.name_var.set("Ann")
    dialog.address_var.set("127.0.0.1:9090")
    dialog.room_var.set("two")
    dialog.ok()
    assert dialog.closed and app.shown is two and len(app.chats) == 3
    other = app.open_join_dialog()  # another person at this computer joins under another name
    root.update()
    other.set_mode(BY_ADDRESS)
    other.name_var.set("Cy")
    other.address_var.set("127.0.0.1:9090")  # the same server and room: the join is tried
    other.room_var.set("two")
    other.ok()
    assert not other.closed
    pump(root, lambda: other.error_var.get(), what="the dialog's sentence about the address")
    other.close()
