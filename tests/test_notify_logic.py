"""Notification decisions without Tk or a daemon: which events count, what a notification
says, how a burst is folded, how each platform is asked for attention, and how the service
behaves when there is no notification service at all (ocm_gui/notify/)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time

import pytest

from ocm_core.sansio.events import (
    ChatMessage,
    FileShared,
    HostNotAnswering,
    MembersChanged,
    Notice,
    RoomClosed,
    SessionGone,
)
from ocm_gui.notify import desktop as notify_desktop
from ocm_gui.notify import urgency as notify_urgency
from ocm_gui.notify.desktop import BellWanted, NotificationClicked, NotificationService
from ocm_gui.notify.gate import Alert, AlertGate, Incoming, first_line, incoming
from ocm_gui.notify.urgency import (
    FLASHW_STOP,
    FLASHW_TIMERNOFG,
    FLASHW_TRAY,
    Urgency,
    flash_info,
    urgency_method,
)
from ocm_gui.settings import Settings


def message(sender="Bob", text="hello", history=False, seq=1):
    return ChatMessage(seq, sender, text, 1000.0, history=history)


def shared(sender="Bob", name="photo.png", history=False):
    return FileShared(2, "f1", name, 10, sender, "image/png", 1000.0, history=history)


# -- which events count


def test_only_others_new_messages_and_files_count():
    events = [
        message("Bob", "hi"),
        message("Alice", "my own"),
        message("Bob", "from before", history=True),
        shared("Carol", "notes.txt"),
        shared("Alice", "mine.txt"),
        shared("Bob", "old.txt", history=True),
        Notice(3, "joined", "Dan", "", 1000.0),
        MembersChanged(("Alice", "Bob"), "Alice"),
    ]
    assert incoming(events, own_name="Alice", room="lobby") == [
        Incoming("Bob", "hi"),
        Incoming("Carol", "shared a file: notes.txt"),
    ]


def test_first_line_is_the_first_with_text_and_cut_with_an_ellipsis():
    assert first_line("\n  \n  first  \nsecond") == "first"
    assert first_line("") == ""
    assert first_line("x" * 100) == "x" * 100
    cut = first_line("x" * 101)
    assert len(cut) == 100 and cut.endswith("…") and cut.startswith("x" * 99)
    assert first_line("日本語" * 50, limit=10) == "日本語日本語日本語…"


# -- what a notification says and when


def test_one_message_shows_at_once_with_sender_room_and_line():
    gate = AlertGate("lobby", gap=10)
    assert gate.arrived([Incoming("Bob", "hi there")], now=100.0) == Alert("Bob in lobby", "hi there")
    assert gate.next_due() is None


def test_several_at_once_are_one_notification_with_the_count_and_newest_lines():
    gate = AlertGate("lobby", gap=10)
    items = [Incoming("Bob", f"line {i}") for i in range(1, 6)]
    alert = gate.arrived(items, now=100.0)
    assert alert == Alert("5 new messages in lobby", "Bob: line 3\nBob: line 4\nBob: line 5")


def test_a_burst_waits_for_the_gap_and_is_folded_into_one():
    gate = AlertGate("lobby", gap=10)
    assert gate.arrived([Incoming("Bob", "one")], now=100.0) is not None
    # within the gap: held, however many arrive
    for i, now in enumerate((101.0, 105.0, 109.99)):
        assert gate.arrived([Incoming("Carol", f"more {i}")], now=now) is None
    assert gate.next_due() == 110.0
    assert gate.due(109.999) is None
    alert = gate.due(110.0)
    assert alert is not None and alert.title == "4 new messages in lobby"
    assert alert.body.splitlines() == ["Carol: more 0", "Carol: more 1", "Carol: more 2"]
    assert gate.due(200.0) is None and gate.next_due() is None  # nothing left over


def test_seen_starts_over():
    gate = AlertGate("lobby", gap=10)
    gate.arrived([Incoming("Bob", "one")], now=100.0)
    gate.arrived([Incoming("Bob", "two")], now=101.0)
    gate.seen()
    assert gate.next_due() is None and gate.unseen == 0
    # the next message after focus comes and goes again is shown at once, counted from one
    assert gate.arrived([Incoming("Bob", "three")], now=102.0) == Alert("Bob in lobby", "three")


def test_notification_words_in_japanese():
    from ocm_core import i18n

    try:
        i18n.use_language("ja")
        gate = AlertGate("ロビー", gap=10)
        single = gate.arrived([Incoming("ボブ", "こんにちは")], now=1.0)
        gate.seen()
        folded = gate.arrived([Incoming("ボブ", "一"), Incoming("ボブ", "二")], now=2.0)
        files = incoming([shared("ボブ", "写真.png")], own_name="アリス", room="lobby")
    finally:
        i18n.use_language("en")
    assert (
        single is not None and "ボブ" in single.title and "ロビー" in single.title and single.title != "ボブ in ロビー"
    )
    assert folded is not None and "2" in folded.title and "new messages" not in folded.title
    assert "写真.png" in files[0].line and "shared a file" not in files[0].line


# -- asking for attention on each platform


@pytest.mark.parametrize(
    "system, method", [("x11", "wm_hints"), ("win32", "flash"), ("aqua", "dock"), ("wayland", None)]
)
def test_urgency_method_per_windowing_system(system, method):
    assert urgency_method(system) == method


class FakeWindow:
    """What Urgency calls on a Toplevel, recorded."""

    def __init__(self, frame="0x1a2b"):
        self.frame = frame
        self.attributes: list[tuple] = []

    def winfo_exists(self):
        return True

    def wm_frame(self):
        return self.frame

    def wm_attributes(self, *args):
        self.attributes.append(args)


class FakeUser32:
    def __init__(self):
        self.calls: list[tuple[int, int, int]] = []

    def FlashWindowEx(self, info_ref):
        info = ctypes.cast(info_ref, ctypes.POINTER(notify_urgency._FlashInfo)).contents
        assert info.cbSize == ctypes.sizeof(notify_urgency._FlashInfo)
        self.calls.append((info.hwnd, info.dwFlags, info.uCount))
        return 1


def test_windows_flashes_the_taskbar_until_the_window_is_in_front_and_stops():
    user32 = FakeUser32()
    urgency = Urgency("win32", user32=user32)
    window = FakeWindow(frame="0x00C01A2B")
    assert urgency.set(window, True) and urgency.set(window, False)
    assert user32.calls == [(0xC01A2B, FLASHW_TRAY | FLASHW_TIMERNOFG, 0), (0xC01A2B, FLASHW_STOP, 0)]


def test_flash_info_layout():
    on, off = flash_info(0x10, True), flash_info(0x10, False)
    assert (on.dwFlags, off.dwFlags) == (0x2 | 0xC, 0)
    assert on.cbSize == ctypes.sizeof(notify_urgency._FlashInfo)


def test_macos_bounces_the_dock_icon_through_tk():
    window = FakeWindow()
    urgency = Urgency("aqua")
    assert urgency.set(window, True) and urgency.set(window, False)
    assert window.attributes == [("-notify", True), ("-notify", False)]


def test_an_unknown_windowing_system_does_nothing():
    window = FakeWindow()
    assert Urgency("wayland").set(window, True) is False
    assert window.attributes == []


def test_a_failing_platform_call_is_logged_once_and_not_retried(caplog):
    class Broken(FakeUser32):
        def FlashWindowEx(self, info_ref):
            raise OSError("access denied")

    urgency = Urgency("win32", user32=Broken())
    with caplog.at_level(logging.WARNING, logger="ocm_gui.notify.urgency"):
        assert urgency.set(FakeWindow(), True) is False
        assert urgency.set(FakeWindow(), True) is False
    assert len([r for r in caplog.records if "needing attention" in r.getMessage()]) == 1


# -- the service without a notification daemon


class NoService:
    """A notifier whose service is missing, as desktop-notifier's D-Bus backend is without a bus."""

    made = 0

    def __init__(self, *args):
        NoService.made += 1

    async def get_capabilities(self):
        raise FileNotFoundError(2, "No such file or directory")


class Recording:
    """A notifier that takes every notification, as a service would."""

    def __init__(self, *args):
        self.sent: list = []
        self.cleared: list[str] = []

    async def get_capabilities(self):
        return frozenset()

    async def send_notification(self, notification):
        self.sent.append(notification)
        notification.on_dispatched()
        return notification.identifier

    async def clear(self, identifier):
        self.cleared.append(identifier)

    async def clear_all(self):
        self.cleared.append("*")


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.005)


def test_no_service_is_said_once_quietly_and_rings_instead(caplog):
    NoService.made = 0
    service = NotificationService(factory=NoService)
    try:
        with caplog.at_level(logging.INFO, logger="ocm_gui.notify.desktop"):
            for _ in range(3):
                assert service.send(7, Alert("Bob in lobby", "hi"), sound=True) is not None
            wait_for(lambda: service.replies.qsize() == 3)
    finally:
        service.close()
    assert service.available is False and service.delivered == 0
    assert [service.replies.get_nowait() for _ in range(3)] == [BellWanted(7)] * 3
    said = [r for r in caplog.records if r.name == "ocm_gui.notify.desktop"]
    assert len(said) == 1 and said[0].levelno == logging.INFO and "no notification service" in said[0].getMessage()
    assert NoService.made == 1  # not asked again within RETRY_SECONDS
    assert not service._thread.is_alive()


def test_service_sends_replaces_and_withdraws_then_closes_its_thread():
    made = []

    def factory(*args):
        made.append(Recording())
        return made[0]

    service = NotificationService(factory=factory)
    first = service.send(1, Alert("Bob in lobby", "a <b> & c"), sound=False)
    second = service.send(1, Alert("2 new messages in lobby", "x"), sound=False, replaces=first)
    wait_for(lambda: service.delivered == 2)
    service.withdraw(second)
    service.close()
    notifier = made[0]
    assert [n.identifier for n in notifier.sent] == [first, second]
    assert notifier.sent[0].message == "a <b> & c"  # no markup service: the text as typed
    assert notifier.cleared == [first, second, "*"]
    assert service.replies.empty()  # no sound asked: no bell
    assert not service._thread.is_alive()
    assert service.send(1, Alert("t", "b"), sound=False) is None  # closed: nothing more


def test_a_click_comes_back_as_the_windows_key():
    notifier = Recording()
    service = NotificationService(factory=lambda *a: notifier)
    try:
        service.send(42, Alert("Bob in lobby", "hi"), sound=False)
        wait_for(lambda: service.delivered == 1)
        notifier.sent[0].on_clicked()  # as the backend does on the service's ActionInvoked
        assert service.replies.get(timeout=1) == NotificationClicked(42)
    finally:
        service.close()


def test_a_send_the_library_swallowed_marks_the_service_unavailable(caplog):
    class Swallows(Recording):
        async def send_notification(self, notification):  # logged by the library, no dispatch
            return notification.identifier

    service = NotificationService(factory=Swallows)
    try:
        with caplog.at_level(logging.INFO, logger="ocm_gui.notify.desktop"):
            service.send(1, Alert("t", "b"), sound=True)
            wait_for(lambda: not service.replies.empty())
    finally:
        service.close()
    assert service.available is False and service.replies.get_nowait() == BellWanted(1)
    assert any("not delivered" in r.getMessage() for r in caplog.records)


def test_a_hung_service_does_not_hold_the_exit(monkeypatch):
    monkeypatch.setattr(notify_desktop, "CALL_TIMEOUT", 0.2)

    class Hangs(Recording):
        async def get_capabilities(self):
            await asyncio.sleep(60)

    service = NotificationService(factory=Hangs)
    service.send(1, Alert("t", "b"), sound=True)
    assert service.replies.get(timeout=5) == BellWanted(1)  # timed out: unavailable, rings instead
    started = time.monotonic()
    service.close(timeout=2.0)
    assert time.monotonic() - started < 2.5 and not service._thread.is_alive()


# -- settings


def test_notification_settings_persist_and_bad_values_are_ignored(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings.load(path)
    assert (settings.notify_desktop, settings.notify_flash, settings.notify_sound) == (True, True, True)
    settings.update(notify_desktop=False, notify_sound=False)
    again = Settings.load(path)
    assert (again.notify_desktop, again.notify_flash, again.notify_sound) == (False, True, False)
    path.write_text('{"notify_desktop": "no", "notify_flash": 0, "notify_sound": false}', encoding="utf-8")
    odd = Settings.load(path)
    assert (odd.notify_desktop, odd.notify_flash, odd.notify_sound) == (True, True, False)


def test_close_lets_a_withdrawal_finish_before_it_disconnects():
    class Bus:
        def __init__(self, notifier):
            self.notifier = notifier
            self.seen_at_disconnect: list[str] | None = None

        def disconnect(self):
            self.seen_at_disconnect = list(self.notifier.cleared)

    class Slow(Recording):
        def __init__(self, *args):
            super().__init__()
            self._backend = type("Backend", (), {"bus": Bus(self)})()

        async def clear(self, identifier):
            await asyncio.sleep(0.2)  # a service that takes its time
            self.cleared.append(identifier)

    notifier = Slow()
    service = NotificationService(factory=lambda *a: notifier)
    shown = service.send(1, Alert("t", "b"), sound=False)
    wait_for(lambda: service.delivered == 1)
    service.withdraw(shown)  # as a closing window does, just before the app's close()
    service.close()
    assert notifier._backend.bus.seen_at_disconnect == [shown, "*"]
    assert not service._thread.is_alive()


def test_a_call_still_hanging_at_close_is_cancelled_not_left_pending(monkeypatch):
    monkeypatch.setattr(notify_desktop, "CLOSE_TIMEOUT", 0.4)
    cancelled = []

    class Stuck(Recording):
        async def clear(self, identifier):
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.append(identifier)
                raise

    notifier = Stuck()
    service = NotificationService(factory=lambda *a: notifier)
    shown = service.send(1, Alert("t", "b"), sound=False)
    wait_for(lambda: service.delivered == 1)
    service.withdraw(shown)
    service.close(timeout=1.0)
    assert cancelled == [shown] and not service._thread.is_alive()


def test_the_room_ending_or_its_host_gone_silent_is_told_too_under_the_room_name():
    events = [
        RoomClosed("The host closed the room."),
        HostNotAnswering(39),
        SessionGone("lobby", "Alice", "you were away a long time, or the server restarted"),
    ]
    assert incoming(events, own_name="Alice", room="lobby") == [
        Incoming("", "The host closed the room."),
        Incoming("", "lobby's host is not answering (39 s). They may have closed the app or left the network."),
        Incoming("", "The server no longer knows this session."),
    ]
    gate = AlertGate("lobby")
    assert gate.arrived([Incoming("", "The host closed the room.")], now=0.0) == Alert(
        "lobby", "The host closed the room."
    )
    gate = AlertGate("lobby")
    alert = gate.arrived([Incoming("Bob", "bye"), Incoming("", "The host closed the room.")], now=0.0)
    assert alert == Alert("2 new messages in lobby", "Bob: bye\nThe host closed the room.")


# --- what mutation testing found unpinned -------------------------------------------------------


def test_a_room_that_closed_without_a_reason_says_its_host_closed_it():
    assert incoming([RoomClosed("")], "Alice", "lobby") == [Incoming("", "The host closed the room.")]
    assert incoming([RoomClosed("the server stopped")], "Alice", "lobby") == [Incoming("", "the server stopped")]


def test_two_messages_fold_into_a_plural_title():
    gate = AlertGate("lobby", gap=10)
    gate.arrived([Incoming("Bob", "one")], 0.0)
    assert gate.arrived([Incoming("Cy", "two")], 11.0) == Alert("2 new messages in lobby", "Cy: two")


def test_a_long_line_is_cut_at_a_word_without_a_space_before_the_ellipsis():
    line = "word " * 30
    cut = first_line(line)
    assert len(cut) <= 100 and cut.endswith("word…") and not cut.startswith(" ")
    assert first_line("   " + "x" * 200) == "x" * 99 + "…"


def test_a_line_cut_at_a_space_has_no_space_before_its_ellipsis():
    assert first_line("ab " * 50) == ("ab " * 33).rstrip() + "…"
