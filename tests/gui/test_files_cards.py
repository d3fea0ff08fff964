"""File cards and transfer rows in the chat window, as a new user met them: the focus a Save
button kept, the wheel over a picture, the strip a finished transfer left, where the picker opens.

A FakeClient with files stands in for the network; its transfers wait on a gate the test opens.
"""

from __future__ import annotations

import threading
import time
import tkinter as tk
from pathlib import Path

import pytest
from gui_helpers import FakeClient, pump

from ocm_core.sansio.events import FileShared
from ocm_gui.chat.window import ChatWindow
from ocm_gui.settings import Settings


class FileClient(FakeClient):
    """Uploads and downloads that finish when `gate` is set."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.downloads: list[Path] = []
        self.uploads: list[Path] = []

    def send_file(self, path, progress=None):
        self.gate.wait(10)
        progress(1, 1)
        self.uploads.append(Path(path))
        return "sent"

    def download(self, file_id, target, progress=None):
        self.gate.wait(10)
        target = Path(target)
        if target.is_dir():
            target = target / f"{file_id}-{len(self.downloads)}.txt"
        target.write_text("hello")
        self.downloads.append(target)
        return target


@pytest.fixture
def chat(root, settings, tmp_path):
    client = FileClient()
    window = ChatWindow(root, client, settings=settings, files_dir=tmp_path / "saved")
    root.update()
    yield window
    client.gate.set()
    window.leave()


def card(chat, name="notes.txt"):
    event = FileShared(seq=1, file_id=name, name=name, size=5, sender="Bob", mime="text/plain", time=time.time())
    chat.files.show_file(event)
    chat.win.update()
    return chat.files.lines[name]


def card_button(line, text):
    return next(w for w in line.frame.winfo_children()[-1].winfo_children() if w.cget("text") == text)


def focus(root) -> str:
    return str(root.tk.call("focus"))


def take_focus(root, chat):
    chat.win.focus_force()
    chat.input.focus_set()
    pump(root, lambda: focus(root) == str(chat.input), what="the input focused")


def test_after_save_typing_goes_to_the_input_not_to_the_button(root, chat):
    chat.client.gate.set()
    line = card(chat)
    take_focus(root, chat)
    save = card_button(line, "Save")
    save.event_generate("<ButtonPress-1>", x=4, y=4)  # a real click: ttk gives the button the focus
    save.event_generate("<ButtonRelease-1>", x=4, y=4)
    pump(root, lambda: len(chat.files.saved) == 1, what="the file saved")
    assert focus(root) == str(chat.input)
    for key in ("h", "i", "space", "y", "o", "u"):
        root.nametowidget(focus(root)).event_generate("<KeyPress>", keysym=key)
    root.update()
    assert chat.input_text() == "hi you"
    assert len(chat.client.downloads) == 1  # the Space did not press Save again


def test_cancel_and_save_as_give_the_focus_back_to_the_input(root, chat, tmp_path):
    line = card(chat)
    take_focus(root, chat)
    chat.files._ask_save = lambda **options: str(tmp_path / "chosen.txt")
    save_as = card_button(line, "Save as…")
    save_as.focus_set()
    save_as.invoke()
    assert focus(root) == str(chat.input)
    transfer = next(iter(chat.files.transfers.values()))
    transfer.button.focus_set()
    transfer.button.invoke()
    assert focus(root) == str(chat.input) and transfer.cancel.is_set()
    chat.client.gate.set()


def test_coming_back_to_the_window_puts_the_focus_in_the_input_but_tab_still_reaches_the_card(root, chat):
    line = card(chat)
    take_focus(root, chat)
    save = card_button(line, "Save")
    save.focus_set()  # as Tab does: a keyboard user may stand on the button
    root.update()
    assert focus(root) == str(save)
    other = tk.Tk()  # another application takes the focus
    try:
        other.focus_force()
        pump(
            root, lambda: focus(root) == "" and (other.update() or True), what="the focus gone to the other application"
        )
        root.update()
        save.focus_force()  # coming back, Tk gives the focus to the widget that last had it
        pump(root, lambda: focus(root) == str(chat.input), what="the focus back in the input")
    finally:
        other.destroy()


def test_the_wheel_over_a_card_and_a_picture_added_later_scrolls_the_scrollback(root, chat):
    for number in range(120):
        chat.show_line(f"line {number}", ("notice",))
    line = card(chat)
    picture = tk.Label(line.frame, text="(picture)")  # as a picture arrives after the card
    picture.grid(row=3, column=0)
    chat.widget_grew()
    root.update()
    assert chat.text.yview()[1] >= 0.999 and chat.following
    for _ in range(5):
        picture.event_generate("<Button-4>")  # X11's wheel up
    pump(root, lambda: not chat.following, what="the scrollback left the end")
    scrolled = chat.text.yview()[0]
    assert scrolled < 0.95
    line.name.label.event_generate("<MouseWheel>", delta=120)  # Windows' wheel up over the name
    root.update()
    assert chat.text.yview()[0] < scrolled
    for _ in range(40):
        picture.event_generate("<MouseWheel>", delta=-120)
    pump(root, lambda: chat.following, what="the scrollback back at the end, following it")


def test_a_finished_transfer_leaves_no_strip_above_the_input(root, chat, tmp_path):
    chat.win.geometry("760x520")
    root.update()
    before = chat.composer.frame.winfo_rooty()
    source = tmp_path / "a.txt"
    source.write_text("a")
    key = chat.files.share(source)
    root.update()
    assert chat.composer.frame.winfo_rooty() < before  # the row pushes the input up while it runs
    chat.client.gate.set()
    pump(root, lambda: key not in chat.files.transfers, what="the upload done")
    root.update()
    assert chat.composer.frame.winfo_rooty() == before


def test_the_picker_opens_at_home_then_in_the_last_folder_and_hides_dot_files(root, chat, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the app was started from: not where the picker opens
    folder = tmp_path / "documents"
    folder.mkdir()
    asked = []
    chat.files._ask_open = lambda **options: asked.append(options) or str(folder / "plan.txt")
    chat.client.gate.set()
    chat.files.share()
    assert asked[0]["initialdir"] == str(Path.home())
    chat.files.share()
    assert asked[1]["initialdir"] == str(folder)
    assert Settings.load().share_dir == str(folder)  # kept for the next run
    assert root.tk.call("set", "::tk::dialog::file::showHiddenVar") in ("0", 0)
    assert root.tk.call("set", "::tk::dialog::file::showHiddenBtn") in ("1", 1)
    root.tk.call("set", "::tk::dialog::file::showHiddenVar", "1")  # the person ticks "Show hidden files"
    folder.rmdir()  # a remembered folder that is gone: home again
    chat.files.share()
    assert asked[2]["initialdir"] == str(Path.home())
    assert root.tk.call("set", "::tk::dialog::file::showHiddenVar") in ("1", 1)  # their choice stays
    pump(root, lambda: not chat.files.transfers, what="the uploads done")
