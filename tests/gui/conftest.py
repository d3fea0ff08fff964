"""Fixtures for the GUI tests: a trapped Tk root, settings in a temporary XDG_CONFIG_HOME, an App.

pytest-xvfb gives every test session a virtual screen, so these run headless.
"""

from __future__ import annotations

import gc
import os
import subprocess
import tempfile
import time
import tkinter as tk
import traceback
from pathlib import Path

import pytest
from gui_helpers import FakeClient

from ocm_core.storage.history import HistoryStore
from ocm_gui.app import App
from ocm_gui.background import wait_for_background
from ocm_gui.chat.window import ChatWindow
from ocm_gui.settings import Settings
from ocm_gui.text.emoji import guard_colour_fonts

# As run_app does before Tk starts: a libXft too old for colour glyphs gets no colour fonts
# (drawing one would end the test run with an X error). Writes nothing on a newer libXft.
guard_colour_fonts(Path(tempfile.gettempdir()) / "ocm-gui-test-fonts")


@pytest.fixture
def root():
    """A Tk root whose swallowed callback exceptions fail the test; destroyed afterwards."""
    tk_root = tk.Tk()
    tk_root.callback_errors = []

    def report(exc_type, value, tb):
        tk_root.callback_errors.append((exc_type, value, tb))

    tk_root.report_callback_exception = report
    yield tk_root
    try:
        tk_root.update()
    except tk.TclError:
        pass
    errors = list(tk_root.callback_errors)
    try:
        tk_root.destroy()
    except tk.TclError:
        pass  # the test (App.quit) destroyed it already
    gc.collect()  # the test's Tk objects die on the Tk thread, as App.quit makes them do
    finished = wait_for_background(timeout=5.0)
    assert finished, "background leave/stop threads did not finish"
    if errors:
        exc_type, value, tb = errors[0]
        pytest.fail("a Tk callback raised:\n" + "".join(traceback.format_exception(exc_type, value, tb)))


@pytest.fixture(autouse=True)
def own_history(tmp_path, monkeypatch):
    """Each test's app keeps its history in a database of its own: the session's data folder
    is shared, and one test's kept lines would show in the next one's room of the same name."""
    path = tmp_path / "history" / "history.db"
    monkeypatch.setattr(HistoryStore, "default_path", staticmethod(lambda: path))
    return path


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    """XDG_CONFIG_HOME pointed at a fresh temporary directory."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def settings(config_home):
    return Settings.load()


@pytest.fixture
def app(root, settings):
    application = App(root, settings=settings)
    root.update()
    yield application
    if not application.closing:
        application.quit()


@pytest.fixture
def make_chat(root, settings):
    """Opens chat windows on the test's root (`client` defaults to a FakeClient) and leaves
    them at the end. A test module may wrap it under the same name for its own defaults."""
    windows = []

    def make(client=None, **kwargs):
        window = ChatWindow(root, client or FakeClient(), settings=settings, **kwargs)
        windows.append(window)
        root.update()
        return window

    yield make
    for window in windows:
        window.leave()


@pytest.fixture
def fake_client():
    return FakeClient()


@pytest.fixture
def window_manager():
    """openbox on the test session's virtual screen, for what only a window manager does:
    minimising, a close request from the title bar. Stopped after the test."""
    env = dict(os.environ)
    proc = subprocess.Popen(["openbox", "--sm-disable"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _wm_running(env):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("openbox did not start on the test's screen")
        time.sleep(0.02)
    yield proc
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _wm_running(env) -> bool:
    """openbox says on the root window that it manages the screen."""
    answer = subprocess.run(
        ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], env=env, capture_output=True, text=True, check=False
    )
    return "window id #" in answer.stdout
