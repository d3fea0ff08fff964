"""The tray icon on an X11 desktop that has a tray (tests/gui/tray_host.py speaks the System
Tray Protocol as KDE's or Xfce's panel does): the icon docks, a real click on it offers Show,
the rooms and Quit; closing the window then hides it instead of minimising; without a tray
manager the app says there is none."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gui_helpers import FakeClient, pump

from ocm_gui import app as app_module
from ocm_gui.tray import tray_offered

HOST = Path(__file__).with_name("tray_host.py")


def xwininfo(window: str) -> str:
    return subprocess.run(["xwininfo", "-id", window], capture_output=True, text=True, check=False).stdout


class TrayHost:
    """tray_host.py in its own process; its lines are read by a thread, waited for with a deadline."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, str(HOST)], stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout: float = 10.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the tray manager said nothing for {timeout} s") from None


@pytest.fixture
def tray_host():
    host = TrayHost()
    try:
        assert host.next_line() == "ready"
        yield host
    finally:
        host.process.terminate()
        host.process.wait(5)


def test_without_a_tray_manager_there_is_no_tray():
    assert not tray_offered()  # the test screen has no panel
    assert not tray_offered(platform="darwin")  # the Dock does this on macOS
    assert not tray_offered(platform="linux", environ={})  # no X11 display at all


def test_the_tray_icon_docks_and_a_click_offers_show_the_rooms_and_quit(tray_host, root, settings):
    assert tray_offered()
    app = app_module.App(root, settings=settings)
    try:
        app.open_chat(FakeClient(room="one", username="Ann", host_name="Ann"))
        app.open_chat(FakeClient(room="two", username="Ann", host_name="Bo", members=("Bo", "Ann")))
        assert app.start_tray() and app.tray_available
        line = pump(root, lambda: tray_host.lines.qsize() and tray_host.next_line().split(), what="the icon docked")
        assert line[0] == "docked"
        icon_window = line[1]
        assert app.tray is not None and app.tray.rooms == ("★ one", "two")
        app.close_window()  # with a tray: hidden, not minimised, and no note
        root.update()
        assert root.state() == "withdrawn" and app.note is None
        # The icon is on screen once the X server says so (docked and mapped); a click before
        # that lands nowhere, so it is clicked again until the menu comes, within a deadline.
        pump(root, lambda: "IsViewable" in xwininfo(icon_window), what="the icon on screen")
        deadline = time.monotonic() + 20
        while app.tray_menu is None:
            assert time.monotonic() < deadline, "no menu after clicks on the tray icon for 20 s"
            subprocess.run(
                ["xdotool", "mousemove", "--window", icon_window, "8", "8", "click", "1"], check=True, timeout=10
            )
            try:
                pump(root, lambda: app.tray_menu, timeout=2, what="the tray's menu after a click on the icon")
            except AssertionError:
                continue
        menu = app.tray_menu
        labels = [menu.entrycget(i, "label") for i in range(menu.index("end") + 1) if menu.type(i) == "command"]
        assert labels == ["Show", "★ one", "two", "Quit"]
        menu.unpost()
        menu.invoke(menu.index("two"))
        pump(root, lambda: root.state() == "normal" and app.shown is app.chats[1], what="the window with room two")
        assert app.tray.started.wait(5)
        app._tray_chose("quit")  # Alice is in the room hosted here: Quit asks first
        assert app.confirm is not None and not app.closing
        app.confirm.yes_button.invoke()
        assert app.closing
    finally:
        if not app.closing:
            app.quit()
