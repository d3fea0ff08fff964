"""Files in the chat window: a picture inline, a corrupt one as a plain file, Save, Cancel.

A real ChatServer and two real ChatClients on 127.0.0.1, each in a real ChatWindow.
"""

from __future__ import annotations

import os
import tkinter as tk
from pathlib import Path

import pytest
from gui_helpers import pump
from PIL import Image

from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer
from ocm_core.words import size_text
from ocm_gui import theme
from ocm_gui.chat.files import THUMBNAIL
from ocm_gui.chat.window import ChatWindow


@pytest.fixture
def room(root, tmp_path):
    theme.apply_theme(root)
    server = ChatServer("127.0.0.1", 0, 0)
    server.start()
    alice, bob = ChatClient("127.0.0.1", server.tcp_address[1]), ChatClient("127.0.0.1", server.tcp_address[1])
    alice.create_room("写真", "alice")
    bob.join_room("写真", "bob")
    windows = [ChatWindow(root, client, files_dir=tmp_path / f"saved-{client.username}") for client in (alice, bob)]
    yield windows
    for window in windows:
        window.leave()
    root.update()
    server.stop()


def picture(path: Path, size=(640, 400)) -> Path:
    image = Image.new("RGB", size)
    for x in range(0, size[0], 40):
        image.paste((x % 255, 120, 255 - x % 255), (x, 0, x + 40, size[1]))
    image.save(path)
    return path


def test_a_picture_shows_inline_opens_full_size_and_a_corrupt_one_stays_a_plain_file(root, room, tmp_path):
    alice_chat, bob_chat = room
    alice_chat.files.share(picture(tmp_path / "sunset.png"))
    line = pump(
        root,
        lambda: next((x for x in bob_chat.files.lines.values() if x.picture is not None), None),
        what="the picture inline in bob's window",
    )
    assert line.event.name == "sunset.png" and line.event.sender == "alice"
    assert line.photo.width() <= theme.scaled(root, THUMBNAIL[0]) and line.photo.height() <= theme.scaled(
        root, THUMBNAIL[1]
    )
    assert line.picture.winfo_manager() == "grid"
    pump(
        root,
        lambda: any(x.picture is not None for x in alice_chat.files.lines.values()),
        what="the sender's own picture",
    )
    full = bob_chat.files.open_picture(line.event.file_id)
    root.update()
    assert full is not None and (full.winfo_reqwidth(), full.winfo_reqheight()) == (640, 400)
    full.destroy()

    broken = tmp_path / "broken.png"
    broken.write_bytes(picture(tmp_path / "whole.png").read_bytes()[:300])  # a PNG cut short
    alice_chat.files.share(broken)
    line = pump(
        root,
        lambda: next(
            (x for x in bob_chat.files.lines.values() if x.event.name == "broken.png" and x.plain_reason), None
        ),
        what="the corrupt picture given up",
    )
    assert line.picture is None and line.frame.winfo_exists()
    assert "broken.png" in [w.cget("text") for w in line.frame.winfo_children() if w.winfo_class() == "Label"]


def test_save_puts_the_file_in_the_folder_without_overwriting_and_reports_it(root, room, tmp_path):
    alice_chat, bob_chat = room
    source = tmp_path / "report.txt"
    source.write_bytes(os.urandom(200_000))
    alice_chat.files.share(source)
    line = pump(root, lambda: next(iter(bob_chat.files.lines.values()), None), what="the file line")
    buttons = {w.cget("text"): w for w in line.frame.winfo_children()[-1].winfo_children()}
    buttons["Save"].invoke()
    pump(root, lambda: len(bob_chat.files.saved) == 1, what="the first save")
    buttons["Save"].invoke()
    pump(root, lambda: len(bob_chat.files.saved) == 2, what="the second save")
    folder = tmp_path / "saved-bob"
    assert sorted(x.name for x in folder.iterdir()) == ["report (1).txt", "report.txt"]
    assert all(x.read_bytes() == source.read_bytes() for x in folder.iterdir())
    assert f"Saved {folder / 'report.txt'}" in bob_chat.transcript()
    chosen = tmp_path / "chosen.txt"
    bob_chat.files._ask_save = lambda **options: str(chosen)
    bob_chat.files.save_last_as()
    pump(root, lambda: chosen.exists() and len(bob_chat.files.saved) == 3, what="Save as…")
    assert chosen.read_bytes() == source.read_bytes()


def test_a_transfer_shows_progress_and_cancel_stops_it_on_both_sides(root, room, tmp_path):
    alice_chat, bob_chat = room
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(30 * 1024 * 1024))
    key = alice_chat.files.share(big)
    transfer = alice_chat.files.transfers[key]
    assert transfer.row.cget("text") == "Sending big.bin" and transfer.button.cget("text") == "Cancel"
    transfer.button.invoke()
    pump(root, lambda: key not in alice_chat.files.transfers, what="the cancelled upload's row gone")
    assert "Sending big.bin: cancelled" in alice_chat.transcript()
    assert alice_chat.client.list_files() == []

    key = alice_chat.files.share(big)
    pump(root, lambda: key not in alice_chat.files.transfers, timeout=30, what="the upload")
    line = pump(root, lambda: next(iter(bob_chat.files.lines.values()), None), what="bob's file line")
    key = bob_chat.files.save(line.event.file_id)
    bob_chat.files.transfers[key].button.invoke()
    pump(root, lambda: key not in bob_chat.files.transfers, what="the cancelled download's row gone")
    assert "Saving big.bin: cancelled" in bob_chat.transcript()
    assert list((tmp_path / "saved-bob").iterdir()) == []  # the part it had is gone

    key = bob_chat.files.save(line.event.file_id)
    seen = []
    pump(
        root,
        lambda: (
            seen.append(bob_chat.files.transfers.get(key) and bob_chat.files.transfers[key].speed.cget("text"))
            or key not in bob_chat.files.transfers
        ),
        timeout=30,
        what="the download",
    )
    assert any(text and "/s" in text for text in seen)  # the speed was shown on the way
    assert (tmp_path / "saved-bob" / "big.bin").read_bytes() == big.read_bytes()


def test_share_asks_for_a_file_and_a_closed_room_disables_it(root, room, tmp_path):
    alice_chat, bob_chat = room
    asked = []
    bob_chat.files._ask_open = lambda **options: asked.append(options) or ""
    bob_chat.files.share_button.invoke()
    assert asked and bob_chat.files.transfers == {}
    alice_chat.client.leave()
    pump(root, lambda: bob_chat.room_closed, what="the room closed")
    assert bob_chat.files.share_button.instate(["disabled"])
    assert bob_chat.files.share() is None


def test_a_late_joiner_sees_an_earlier_picture_under_the_history_line(root, room, tmp_path):
    alice_chat, _ = room
    alice_chat.files.share(picture(tmp_path / "earlier.png", (100, 60)))
    pump(root, lambda: alice_chat.files.lines, what="the file shared")
    late = ChatClient("127.0.0.1", alice_chat.client.tcp_port)
    late.join_room("写真", "carol")
    window = ChatWindow(root, late, files_dir=tmp_path / "saved-carol")
    try:
        line = pump(
            root,
            lambda: next((x for x in window.files.lines.values() if x.picture is not None), None),
            what="the earlier picture in the late joiner's window",
        )
        assert line.event.history and line.event.name == "earlier.png"
        assert "earlier messages, before you joined" in window.transcript()
    finally:
        window.leave()


def test_a_dropped_folder_crosses_as_one_item_and_is_saved_as_a_folder(root, room, tmp_path):
    alice_chat, bob_chat = room
    source = tmp_path / "議事録 2026"
    (source / "12月" / "空のフォルダー").mkdir(parents=True)
    (source / "12月" / "第1回.txt").write_text("出席: アリス、ボブ\n", "utf-8")
    (source / "README.md").write_bytes(b"# minutes\n" * 100)
    alice_chat.files.share_folder_paths([source])
    line = pump(root, lambda: next(iter(bob_chat.files.lines.values()), None), what="the folder in bob's window")
    assert line.event.is_folder and line.event.files == 2
    shown = [child.cget("text") for child in line.frame.winfo_children() if isinstance(child, tk.Label)]
    assert "alice shared a folder" in shown[0] and "📁 議事録 2026" in shown
    assert f"  folder, 2 files, {size_text(line.event.size)}" in shown  # what crosses: the archive
    bob_chat.files.save(line.event.file_id)
    saved = tmp_path / "saved-bob" / "議事録 2026"
    pump(root, lambda: (saved / "README.md").exists(), what="the folder saved")
    assert (saved / "12月" / "第1回.txt").read_text("utf-8") == "出席: アリス、ボブ\n"
    assert (saved / "12月" / "空のフォルダー").is_dir()
    assert sorted(os.listdir(tmp_path / "saved-bob")) == ["議事録 2026"]  # no archive left beside it


def test_share_a_folder_asks_for_one_and_sends_it(root, room, tmp_path):
    alice_chat, bob_chat = room
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.txt").write_text("a")
    asked = []
    alice_chat.files._ask_folder = lambda **options: asked.append(options) or str(tmp_path / "photos")
    alice_chat.files.share_a_folder()
    line = pump(root, lambda: next(iter(bob_chat.files.lines.values()), None), what="the folder at bob's")
    assert line.event.is_folder and line.event.files == 1 and asked[0]["title"] == "Share a folder with the room"
