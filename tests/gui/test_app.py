"""The start window, several chat windows in one process, and run_app."""

from __future__ import annotations

import logging
import time
import tkinter as tk

import pytest
from gui_helpers import FakeClient, pump

from ocm_core.sansio.events import ChatMessage
from ocm_gui import app as app_module
from ocm_gui.background import wait_for_background
from ocm_gui.dialogs.host import HostDialog
from ocm_gui.dialogs.join import JoinDialog
from ocm_gui.settings import Settings


def test_start_window_has_the_name_two_big_buttons_and_the_last_name(root, config_home):
    Settings(path=config_home / "online-chat-messenger" / "settings.json", name="さくら").save()
    application = app_module.App(root, settings=Settings.load())
    root.update()
    assert root.title() == "Online Chat Messenger"
    assert application.start.name_var.get() == "さくら"
    assert application.start.host_button.cget("text") == "Host a room"
    assert application.start.join_button.cget("text") == "Join a room"
    assert str(application.start.host_button.cget("style")) == "Big.TButton"
    assert root.focus_get() is application.start.host_button
    application.quit()


def test_enter_in_the_name_field_goes_on_to_host_a_room(root, app):
    app.start.name_entry.focus_force()
    root.update()
    app.start.name_entry.insert("end", "Kai")
    app.start.name_entry.event_generate("<Return>")
    root.update()
    assert root.focus_get() is app.start.host_button and not app.dialogs  # a choice, not yet an action
    app.start.host_button.event_generate("<Return>")
    root.update()
    assert list(app.dialogs) == [HostDialog]


def test_buttons_open_one_dialog_each_and_keyboard_works(root, app):
    app.start.host_button.focus_force()
    app.start.host_button.event_generate("<Return>")
    root.update()
    host = app.dialogs[HostDialog]
    assert host.win.title() == "Host a room"
    app.start.host_button.invoke()  # a second click raises the same dialog
    assert list(app.dialogs) == [HostDialog]
    app.start.join_button.invoke()
    join = app.dialogs[JoinDialog]
    assert join.win.title() == "Join a room"
    for dialog in (join, host):
        field = dialog.first_field()
        field.focus_force()
        root.update()  # key events go to the window that has the focus once X says so
        field.event_generate("<Escape>")
        root.update()
        assert dialog.closed
    assert app.dialogs == {}


def test_chat_windows_share_nothing(root, app):
    first = app.open_chat(FakeClient(room="one", username="A", host_name="A", members=("A",)))
    second = app.open_chat(FakeClient(room="two", username="B", host_name="Z", members=("Z", "B")))
    assert app.start.status_var.get() == "2 chat windows open."
    first.client.events.put(ChatMessage(1, "X", "only in one", time.time()))
    pump(root, lambda: "only in one" in first.transcript())
    first.input.insert("1.0", "draft in one")
    root.update()
    assert "only in one" not in second.transcript()
    assert second.input_text() == ""
    assert second.member_labels() == ["★ Z (host)", "B (you)"]
    first.leave()
    assert wait_for_background(timeout=5.0) and first.client.left
    assert app.chats == [second] and second.client.left is False
    second.client.events.put(ChatMessage(1, "Z", "still alive", time.time()))
    pump(root, lambda: "still alive" in second.transcript())


def test_closing_the_start_window_hides_it_until_the_last_chat_closes(root, app):
    chat = app.open_chat(FakeClient())
    app.close_start()
    assert root.state() == "withdrawn" and not app.closing
    chat.leave()  # the last window: the app quits
    assert app.closing
    assert wait_for_background(timeout=5.0) and chat.client.left


def test_back_to_start_and_leave_show_the_start_window(root, app):
    chat = app.open_chat(FakeClient())
    app.close_start()
    chat.back_to_start()
    assert root.state() == "normal" and not app.closing and app.chats == []
    chat = app.open_chat(FakeClient())
    app.close_start()
    chat.leave_button.invoke()
    assert root.state() == "normal" and not app.closing
    pump(root, lambda: chat.client.left, what="the client to leave")


def test_chat_window_size_is_remembered(root, app):
    chat = app.open_chat(FakeClient())
    chat.win.geometry("800x600")
    pump(root, lambda: chat.win.winfo_width() == 800)
    chat.leave()
    assert Settings.load().chat_size == "800x600"


def test_run_app_opens_the_start_window_and_returns_0(config_home, monkeypatch):
    seen = {}

    class ClosingApp(app_module.App):
        def __init__(self, root, **kwargs):
            super().__init__(root, **kwargs)
            seen["title"] = root.title()
            seen["settings"] = self.settings.path
            root.after(50, self.close_start)

    monkeypatch.setattr(app_module, "App", ClosingApp)
    assert app_module.run_app([]) == 0
    assert seen["title"] == "Online Chat Messenger"
    assert seen["settings"] == config_home / "online-chat-messenger" / "settings.json"


def test_windows_carry_the_app_icon(app):
    from ocm_gui.icons import icon_files

    assert [f.name for f in icon_files()] == ["online-chat-messenger-256.png", "online-chat-messenger-48.png"]
    assert [(image.width(), image.height()) for image in app.root.icon_images] == [(256, 256), (48, 48)]


@pytest.mark.expect_error_log("^a window action failed$")
def test_an_exception_in_a_callback_is_logged_and_shown_not_lost(root, app, caplog):
    root.report_callback_exception = app.report_callback_exception  # as run_app sets it

    def broken() -> None:
        raise RuntimeError("a bug in a button")

    button = tk.Button(root, command=broken)
    with caplog.at_level(logging.ERROR, logger="ocm_gui.app"):
        button.invoke()
        pump(root, lambda: app.problem is not None and app.problem.winfo_exists(), what="the problem window")
    [record] = [r for r in caplog.records if r.name == "ocm_gui.app" and r.levelno == logging.ERROR]
    assert record.exc_info[0] is RuntimeError and "a bug in a button" in caplog.text
    shown = app.problem_label.cget("text")
    assert shown.startswith("Something went wrong: RuntimeError: a bug in a button") and "app.log" in shown


def test_run_app_logs_warnings_to_the_app_log_file_and_traps_callback_errors(config_home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    seen = {}

    class LoggingApp(app_module.App):
        def __init__(self, root, **kwargs):
            super().__init__(root, **kwargs)
            logging.getLogger("ocm_gui.test").warning("written to the file")
            root.after(50, lambda: seen.setdefault("trap", root.report_callback_exception) and self.close_start())

    monkeypatch.setattr(app_module, "App", LoggingApp)
    assert app_module.run_app([]) == 0
    assert seen["trap"].__func__ is app_module.App.report_callback_exception
    text = app_module.log_file_path().read_text(encoding="utf-8")
    assert "WARNING ocm_gui.test: written to the file" in text
    assert app_module.log_file_path() == tmp_path / "state" / "online-chat-messenger" / "log" / "app.log"
