"""Notifications from real chat windows (ocm_gui/notify/alerts.py).

The first tests run against a real notification daemon (tests/notification_daemon.py):
each starts a private D-Bus session bus (no service activation, so nothing else starts on it) and Debian's `dunst`
on the virtual screen, points DBUS_SESSION_BUS_ADDRESS at the bus, and reads what dunst
shows with `dunstctl`; a click is a real pointer click on dunst's window. The rest use a
recording stand-in for the service, and the conftest's missing bus for the quiet fallback.
"""

from __future__ import annotations

import gc
import html
import logging
import subprocess
import sys
import time

import pytest
from gui_helpers import FakeClient, pump, pump_for
from notification_daemon import (
    focus_another_program,
    give_the_screen_back,
    missing_tools,
    running_daemon,
)

from ocm_core.sansio.events import ChatMessage, FileShared
from ocm_gui.chat.window import ChatWindow
from ocm_gui.notify.alerts import MENTIONS, Notifications

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11, D-Bus and dunst are Linux's")


@pytest.fixture(autouse=True, scope="module")
def screen_given_back():
    """These tests move the pointer and the keyboard focus away (and count on that among
    themselves); the tests after this file get them back."""
    yield
    if not missing_tools():
        give_the_screen_back()


@pytest.fixture
def daemon(monkeypatch):
    missing = missing_tools()
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run scripts/setup.sh")
    with running_daemon() as found:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", found.address)
        yield found


def urgent(app_or_owner, win) -> bool:
    owner = getattr(app_or_owner, "notifications", app_or_owner)
    window = owner.urgency.x11_window(win)
    hints = subprocess.run(
        ["xprop", "-id", str(window), "WM_HINTS"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    return "urgency hint bit is set" in hints


def open_chat(app, **kwargs) -> tuple[ChatWindow, FakeClient]:
    client = FakeClient(username="Alice", members=("Alice", "Bob"), **kwargs)
    chat = app.open_chat(client)
    app.root.update()
    return chat, client


def look_away(app, chat: ChatWindow) -> None:
    """Look at something else in the main window (its start page), as a person switching rooms does."""
    chat.input.focus_force()
    pump(app.root, lambda: chat.focused, what="the room's focus")
    app.show_start()
    pump(app.root, lambda: not chat.focused, what="the room to be out of sight")


def message(text="hello", sender="Bob", history=False, seq=1):
    return ChatMessage(seq, sender, text, time.time(), history=history)


# ------------------------------------------------------------------ the real daemon


def test_a_message_in_the_background_shows_on_the_real_daemon_and_marks_the_window(app, daemon):
    chat, client = open_chat(app)
    look_away(app, chat)
    assert not urgent(app, chat.win)
    started = time.monotonic()
    client.events.put(message("hello <b>there</b> & you\nsecond line"))
    pump(app.root, lambda: daemon.displayed() == 1, what="dunst to show the notification")
    took = time.monotonic() - started
    print(f"message to notification on screen: {took * 1000:.0f} ms")  # docs/gui.md quotes it
    assert urgent(app, chat.win)
    daemon.ctl("close-all")
    shown = daemon.history()[0]
    assert shown["summary"] == "Bob in lobby"
    # dunst reads the body as markup: the text is escaped, so it shows as typed
    assert shown["body"] == html.escape("hello <b>there</b> & you", quote=False)
    assert shown["appname"] == "Online Chat Messenger"


def test_a_room_set_to_only_when_named_shows_a_mention_alone_on_the_real_daemon(app, daemon):
    chat, client = open_chat(app)
    chat.link = "ocm://192.0.2.7:9090/lobby?fp=TEST"
    app.notifications.set_level(chat.link, MENTIONS)
    look_away(app, chat)
    client.events.put(message("lunch at noon?", seq=1))
    pump_for(app.root, 0.5)  # time enough for a notification that must not come
    assert daemon.displayed() == 0
    client.events.put(message("@Alice can you bring the key?", seq=2))
    pump(app.root, lambda: daemon.displayed() == 1, what="dunst to show the mention")
    daemon.ctl("close-all")
    (shown,) = daemon.history()
    assert shown["summary"] == "Bob in lobby" and shown["body"] == "@Alice can you bring the key?"


def test_clicking_the_notification_brings_the_window_forward(app, daemon):
    chat, client = open_chat(app)
    look_away(app, chat)
    chat.win.withdraw()  # as if minimised
    app.root.update()
    client.events.put(message("look at this"))
    pump(app.root, lambda: daemon.displayed() == 1, what="dunst to show the notification")
    daemon.click()
    pump(app.root, lambda: chat.win.state() == "normal" and chat.focused, what="the window to come forward")
    assert str(chat.win.focus_get()).startswith(str(chat.win))
    assert not urgent(app, chat.win)  # the mark is taken down with the focus
    assert daemon.displayed() == 0


def test_a_burst_is_one_notification_replaced_by_the_count(app, daemon):
    app.notifications.gap = 0.5
    chat, client = open_chat(app)
    look_away(app, chat)
    client.events.put(message("first", seq=1))
    pump(app.root, lambda: daemon.displayed() == 1, what="the first notification")
    for seq in range(2, 6):
        client.events.put(message(f"more {seq}", sender="Carol", seq=seq))
    pump(app.root, lambda: chat.alerts.raised == 2, what="the folded notification")
    pump(app.root, lambda: daemon.displayed() == 1 and len(daemon.history()) == 1, what="the first to be replaced")
    daemon.ctl("close-all")
    newest, first = daemon.history()[:2]
    assert first["summary"] == "Bob in lobby"
    assert newest["summary"] == "5 new messages in lobby"
    assert newest["body"].splitlines() == ["Carol: more 3", "Carol: more 4", "Carol: more 5"]


def test_focus_withdraws_the_notification(app, daemon):
    chat, client = open_chat(app)
    look_away(app, chat)
    client.events.put(message())
    pump(app.root, lambda: daemon.displayed() == 1, what="the notification")
    app.show_room(chat)  # back to the room
    pump(app.root, lambda: daemon.displayed() == 0, what="the notification to go away")


def test_quitting_closes_the_notification_thread_cleanly(app, daemon, caplog):
    chat, client = open_chat(app)
    look_away(app, chat)
    client.events.put(message())
    pump(app.root, lambda: daemon.displayed() == 1, what="the notification")
    thread = app.notifications.service._thread
    with caplog.at_level(logging.DEBUG):
        app.quit()  # the window's withdrawal and the service's shutdown overlap on the loop
        gc.collect()  # asyncio reports a task left pending when it is collected
    assert not thread.is_alive()
    assert daemon.displayed() == 0
    complaints = [r for r in caplog.records if r.levelno >= logging.WARNING or r.name == "asyncio"]
    assert not complaints, [r.getMessage() for r in complaints]


# ------------------------------------------------------------------ without a daemon


def test_without_a_notification_service_the_window_is_still_marked_quietly(app, caplog):
    # tests/conftest.py points D-Bus at a bus that is not there
    chat, client = open_chat(app)
    rings = []
    chat.win.bell = lambda *a, **k: rings.append(1)
    look_away(app, chat)
    with caplog.at_level(logging.INFO, logger="ocm_gui.notify.desktop"):
        client.events.put(message("one", seq=1))
        pump(app.root, lambda: rings, what="the bell instead")
        app.show_room(chat)
        pump(app.root, lambda: chat.focused)
        look_away(app, chat)
        client.events.put(message("two", seq=2))
        pump(app.root, lambda: len(rings) == 2, what="the bell again")
    assert urgent(app, chat.win)
    assert app.problem is None  # no error window
    said = [r for r in caplog.records if r.name == "ocm_gui.notify.desktop"]
    assert [r.levelno for r in said] == [logging.INFO] and "no notification service" in said[0].getMessage()


# ------------------------------------------------------------------ decisions in the window


class FakeService:
    def __init__(self):
        import queue

        self.replies: queue.Queue = queue.Queue()
        self.sent: list[tuple] = []
        self.withdrawn: list[str] = []
        self.closed = False

    def send(self, key, alert, sound, replaces=None):
        self.sent.append((key, alert, sound, replaces))
        return f"n{len(self.sent)}"

    def withdraw(self, identifier):
        self.withdrawn.append(identifier)

    def close(self):
        self.closed = True


@pytest.fixture
def watched(root, settings):
    """A chat window watched by Notifications with a recording service."""
    service = FakeService()
    owner = Notifications(root, settings, service=service)
    made = []

    def make(client=None):
        chat = ChatWindow(root, client or FakeClient(username="Alice"), settings=settings)
        chat.alerts = owner.watch(chat)
        made.append(chat)
        root.update()
        return chat

    yield owner, service, make
    for chat in made:
        chat.leave()
    owner.close()


def unfocus(root, chat):
    chat.win.event_generate("<FocusOut>")
    root.update()


def test_nothing_for_own_messages_history_or_a_focused_window(root, watched):
    owner, service, make = watched
    chat = make()
    chat.input.focus_force()
    pump(root, chat.alerts.in_front, what="the window to have the focus")
    chat.client.events.put(message("in front"))
    pump(root, lambda: "in front" in chat.transcript())
    unfocus(root, chat)
    for event in (
        message("mine", sender="Alice", seq=2),
        message("old", history=True, seq=3),
        FileShared(4, "f", "mine.txt", 3, "Alice", "text/plain", time.time()),
        FileShared(5, "g", "old.txt", 3, "Bob", "text/plain", time.time(), history=True),
    ):
        chat.client.events.put(event)
    pump(root, lambda: "old" in chat.transcript())
    pump_for(root, 0.2)
    assert service.sent == [] and not urgent(owner, chat.win)
    chat.client.events.put(FileShared(6, "h", "notes.txt", 3, "Bob", "text/plain", time.time()))
    pump(root, lambda: service.sent, what="a notification for Bob's file")
    assert service.sent[0][1].title == "Bob in lobby" and "notes.txt" in service.sent[0][1].body


def test_another_chat_window_in_front_does_not_silence_this_one(root, watched):
    owner, service, make = watched
    first, second = make(), make()
    # Tk names them ".!toplevel" and ".!toplevel2": the second's widgets' names begin with the first's
    assert str(second.win).startswith(str(first.win))
    second.input.focus_force()
    pump(root, second.alerts.in_front, what="the second window to have the focus")
    first.win.event_generate("<FocusIn>")  # a stale belief: the first thinks it has the focus
    root.update()
    assert first.focused and not first.alerts.in_front()
    first.client.events.put(message("over here"))
    pump(root, lambda: service.sent, what="a notification for the window behind")
    assert service.sent[0][1].body == "over here"


def test_a_window_that_never_had_the_focus_is_not_in_front(root, watched):
    owner, service, make = watched
    focus_another_program()  # the keyboard is elsewhere while the chat window opens
    pump(root, lambda: root.focus_get() is None, what="the app to lose the focus")
    chat = make()
    pump_for(root, 0.2)
    assert chat.focused  # what the window believes: it has had no FocusOut
    assert not chat.alerts.in_front()
    chat.client.events.put(message("are you there?"))
    pump(root, lambda: service.sent, what="a notification")
    assert service.sent[0][1].body == "are you there?"


def test_each_setting_turns_its_part_off(root, watched, settings):
    owner, service, make = watched
    chat = make()
    rings = []
    chat.win.bell = lambda *a, **k: rings.append(1)
    owner.desktop.set(False)
    owner.flash.set(False)
    unfocus(root, chat)
    chat.client.events.put(message())
    pump(root, lambda: rings, what="the sound alone")
    assert service.sent == [] and not urgent(owner, chat.win)
    owner.sound.set(False)
    chat.win.event_generate("<FocusIn>")
    unfocus(root, chat)
    chat.client.events.put(message("again", seq=2))
    pump(root, lambda: "again" in chat.transcript())
    pump_for(root, 0.2)
    assert len(rings) == 1 and service.sent == []
    owner.desktop.set(True)
    chat.win.event_generate("<FocusIn>")
    unfocus(root, chat)
    chat.client.events.put(message("third", seq=3))
    pump(root, lambda: service.sent)
    assert service.sent[0][2] is False  # no sound asked of the notification


def test_the_menu_changes_and_keeps_the_settings(root, watched, settings):
    from ocm_gui.settings import Settings

    owner, service, make = watched
    chat = make()
    menubar = chat.files.menu
    cascades = {
        menubar.entrycget(i, "label"): menubar.entrycget(i, "menu")
        for i in range(menubar.index("end") + 1)
        if menubar.type(i) == "cascade"
    }
    assert list(cascades) == ["File", "Notifications"]
    menu = root.nametowidget(cascades["Notifications"])
    items = {menu.entrycget(i, "label"): i for i in range(menu.index("end") + 1) if menu.type(i) != "separator"}
    assert list(items) == [
        "Desktop notifications",
        "Flash the window",
        "Sound",
        "This room: every message",  # the room's own choice (tests/gui/test_mentions_gui.py)
        "This room: only when named",
        "This room: nothing",
    ]
    for label in ("Desktop notifications", "Flash the window", "Sound"):
        menu.invoke(items[label])
    kept = Settings.load(settings.path)
    assert (kept.notify_desktop, kept.notify_flash, kept.notify_sound) == (False, False, False)
    menu.invoke(items["Flash the window"])
    assert Settings.load(settings.path).notify_flash is True


def test_a_closed_window_takes_its_notification_down(root, watched):
    owner, service, make = watched
    chat = make()
    unfocus(root, chat)
    chat.client.events.put(message())
    pump(root, lambda: service.sent)
    chat.leave()
    assert service.withdrawn == ["n1"] and chat.alerts.key not in owner.watched
