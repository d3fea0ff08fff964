"""The main window: the start page, several rooms in one window, closing and quitting, run_app."""

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


def test_rooms_share_nothing(root, app):
    first = app.open_chat(FakeClient(room="one", username="A", host_name="A", members=("A",)))
    second = app.open_chat(FakeClient(room="two", username="B", host_name="Z", members=("Z", "B")))
    assert [app.sidebar.label(key) for key in app.sidebar.keys()] == ["★ one", "two"]
    app.show_start()
    assert app.start.status_var.get() == "You are in 2 rooms; pick one on the left."
    app.show_room(first)
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
    assert app.sidebar.keys() == [second] and app.shown is second
    second.client.events.put(ChatMessage(1, "Z", "still alive", time.time()))
    pump(root, lambda: "still alive" in second.transcript())


def test_closing_the_window_leaves_no_room_and_says_once_how_to_quit(window_manager, root, app):
    chat = app.open_chat(FakeClient())
    app.close_window()
    assert app.note is not None and "Quit" in app.note_label.cget("text")
    assert not app.closing and app.chats == [chat] and not chat.client.left
    pump(root, lambda: app.note.winfo_viewable(), what="the note on screen")
    app.note.event_generate("<Return>")
    pump(root, lambda: root.state() == "iconic", what="the window to be minimised")
    assert Settings.load().told_how_to_quit
    app.show_window()
    pump(root, lambda: root.state() == "normal", what="the window to come back")
    app.close_window()  # the second time without the note
    assert app.note is None and root.state() == "iconic" and not chat.client.left


def test_closing_the_window_with_a_tray_hides_it(root, settings):
    application = app_module.App(root, settings=settings, tray_available=True)
    chat = application.open_chat(FakeClient())
    application.close_window()
    assert root.state() == "withdrawn" and application.note is None and not chat.client.left
    application.quit()
    assert wait_for_background(timeout=5.0) and chat.client.left


def test_closing_the_window_without_rooms_quits(root, app):
    app.close_window()
    assert app.closing


def test_leaving_the_last_room_shows_the_start_page(root, app):
    chat = app.open_chat(FakeClient())
    chat.back_to_start()
    root.update()
    assert app.start.winfo_ismapped() and not app.closing and app.chats == [] and app.shown is None
    chat = app.open_chat(FakeClient())
    chat.leave_button.invoke()
    root.update()
    assert app.start.winfo_ismapped() and not app.closing
    pump(root, lambda: chat.client.left, what="the client to leave")


def test_window_size_and_sidebar_width_are_remembered(root, app):
    app.open_chat(FakeClient())
    root.geometry("900x620+30+40")
    pump(root, lambda: root.winfo_width() == 900)
    app.body.sashpos(0, 230)
    root.update()
    app.quit()
    saved = Settings.load()
    assert saved.window_geometry.startswith("900x620") and saved.sidebar_width == 230


def test_run_app_opens_the_main_window_and_returns_0(config_home, monkeypatch):
    seen = {}

    class ClosingApp(app_module.App):
        def __init__(self, root, **kwargs):
            super().__init__(root, **kwargs)
            seen["title"] = root.title()
            seen["settings"] = self.settings.path
            root.after(50, self.close_window)

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
            root.after(50, lambda: seen.setdefault("trap", root.report_callback_exception) and self.close_window())

    monkeypatch.setattr(app_module, "App", LoggingApp)
    assert app_module.run_app([]) == 0
    assert seen["trap"].__func__ is app_module.App.report_callback_exception
    text = app_module.log_file_path().read_text(encoding="utf-8")
    assert "WARNING ocm_gui.test: written to the file" in text
    assert app_module.log_file_path() == tmp_path / "state" / "online-chat-messenger" / "log" / "app.log"


def test_the_quit_key_the_note_names_works_in_the_note(window_manager, root, settings):
    application = app_module.App(root, settings=settings)
    chat = application.open_chat(FakeClient())
    application.close_window()
    note = application.note
    assert note is not None and "Ctrl+Q" in application.note_label.cget("text")
    pump(root, lambda: note.winfo_viewable(), what="the note on screen")
    note.focus_force()
    root.update()
    note.event_generate("<Control-q>")
    assert application.closing and wait_for_background(timeout=5.0) and chat.client.left
