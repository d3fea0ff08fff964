"""Paste and drop in a room: a picture put on the real X clipboard by the test and pasted with
Ctrl+V (preview, then Send), text pasted as before, files copied in a file manager, files
dropped (as tkdnd hands them over), and pictures saved as they arrive when the room says so."""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from gui_helpers import FakeClient, pump, pump_for
from PIL import Image

from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer
from ocm_gui import theme
from ocm_gui.chat.confirm import Confirm
from ocm_gui.chat.drop import parse_drop_data
from ocm_gui.chat.window import ChatWindow

needs_xclip = pytest.mark.skipif(shutil.which("xclip") is None, reason="xclip is not installed (scripts/setup.sh)")


class SharingClient(FakeClient):
    """Keeps what each send_file was given: its name and its bytes at the time."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.shared: list[tuple[str, bytes]] = []
        self.folders: list[Path] = []  # what each send_folder was given
        self._lock = threading.Lock()

    def send_file(self, path, progress=None) -> str:
        data = Path(path).read_bytes()
        with self._lock:
            self.shared.append((Path(path).name, data))
        if progress is not None:
            progress(len(data), len(data))
        return f"file-{len(self.shared)}"

    def send_folder(self, path, progress=None) -> str:
        with self._lock:
            self.folders.append(Path(path))
        return f"folder-{len(self.folders)}"


@pytest.fixture
def chat(root, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("OCM_HOME", str(tmp_path / "home"))  # the pasted picture's cache
    theme.apply_theme(root)
    window = ChatWindow(root, SharingClient(), settings=settings, files_dir=tmp_path / "saved")
    root.update()
    yield window
    window.leave()
    root.update()


class OnClipboard:
    """xclip owns the X clipboard with `data` as `target` until stopped."""

    def __init__(self, data: bytes, target: str):
        self.proc = subprocess.Popen(
            ["xclip", "-quiet", "-selection", "clipboard", "-t", target, "-i"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.close()

    def ready(self, target: str) -> bool:
        targets = subprocess.run(
            ["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"], capture_output=True, timeout=5, check=False
        )
        return target in targets.stdout.decode()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


@pytest.fixture
def clipboard():
    owners: list[OnClipboard] = []

    def put(data: bytes, target: str) -> OnClipboard:
        owner = OnClipboard(data, target)
        owners.append(owner)
        return owner

    yield put
    for owner in owners:
        owner.stop()


def a_picture(size=(300, 200)) -> tuple[bytes, Image.Image]:
    image = Image.new("RGB", size)
    for x in range(0, size[0], 30):
        image.paste((x % 255, 90, 255 - x % 255), (x, 0, x + 30, size[1]))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue(), image


def press_paste(root, chat) -> None:
    chat.input.focus_force()
    pump(root, lambda: root.focus_get() is chat.input, what="the input focused")
    chat.input.event_generate("<Control-v>")


@needs_xclip
def test_a_picture_on_the_clipboard_is_previewed_then_shared_as_png(root, chat, clipboard):
    data, image = a_picture()
    owner = clipboard(data, "image/png")
    pump(root, lambda: owner.ready("image/png"), what="xclip owning the clipboard")
    press_paste(root, chat)
    preview = pump(root, lambda: chat.paster.preview, what="the preview")
    assert preview.top.winfo_exists() and preview.size == (300, 200)
    assert preview.name.startswith("Pasted picture ") and preview.name.endswith(".png")
    assert chat.input.get("1.0", "end-1c") == ""  # no "0x89 0x50 ..." in the input
    preview.send_button.invoke()
    name, sent = pump(root, lambda: chat.client.shared and chat.client.shared[0], what="send_file called")
    assert name == preview.name and not preview.top.winfo_exists()
    with Image.open(io.BytesIO(sent)) as got:
        assert got.format == "PNG" and got.size == image.size
        assert got.convert("RGB").tobytes() == image.tobytes()


@needs_xclip
def test_escape_cancels_the_preview(root, chat, clipboard):
    owner = clipboard(a_picture()[0], "image/png")
    pump(root, lambda: owner.ready("image/png"), what="xclip owning the clipboard")
    press_paste(root, chat)
    preview = pump(root, lambda: chat.paster.preview, what="the preview")
    preview.top.focus_force()
    pump(root, lambda: root.focus_get() is not None and root.focus_get().winfo_toplevel() is preview.top)
    preview.top.event_generate("<Escape>")
    pump(root, lambda: not preview.top.winfo_exists(), what="the preview closed")
    pump_for(root, 0.2)
    assert chat.client.shared == []


@needs_xclip
def test_text_on_the_clipboard_pastes_as_text(root, chat, clipboard):
    owner = clipboard("こんにちは, world".encode(), "UTF8_STRING")
    pump(root, lambda: owner.ready("UTF8_STRING"), what="xclip owning the clipboard")
    press_paste(root, chat)
    pump(root, lambda: chat.input.get("1.0", "end-1c") == "こんにちは, world", what="the text pasted")
    assert chat.paster.preview is None and chat.client.shared == []


@needs_xclip
def test_files_copied_in_a_file_manager_are_shared_after_one_question(root, chat, clipboard, tmp_path):
    first, second = tmp_path / "report one.txt", tmp_path / "計画.pdf"
    first.write_text("one")
    second.write_bytes(b"%PDF-two")
    uris = f"{first.as_uri()}\r\n{second.as_uri()}\r\n".encode()
    owner = clipboard(uris, "text/uri-list")
    pump(root, lambda: owner.ready("text/uri-list"), what="xclip owning the clipboard")
    press_paste(root, chat)
    question: Confirm = pump(root, lambda: chat.files.question, what="the question")
    assert question.label.cget("text") == "Share 2 files?"
    assert chat.input.get("1.0", "end-1c") == ""
    question.yes_button.invoke()
    pump(root, lambda: len(chat.client.shared) == 2, what="both files shared")
    assert sorted(chat.client.shared) == [("report one.txt", b"one"), ("計画.pdf", b"%PDF-two")]


def test_files_and_a_folder_dropped_on_the_window_are_shared(root, chat, tmp_path):
    assert chat.dropper.active, "tkdnd did not load into the app's Tk"
    assert {str(w) for w in chat.dropper.targets} >= {str(chat.page), str(chat.input)}
    spaced, japanese = tmp_path / "my holiday photo.txt", tmp_path / "日本語の名前.txt"
    spaced.write_text("spaced")
    japanese.write_text("japanese")
    folder = tmp_path / "a folder"
    folder.mkdir()
    data = f"{{{spaced}}} {japanese} {{{folder}}}"  # as tkdnd's %D gives it: a Tcl list
    assert parse_drop_data(root, data) == (spaced, japanese, folder)
    binding = str(root.tk.call("bind", str(chat.input), "<<Drop:DND_Files>>"))
    command = binding.split()[0]
    assert root.tk.call(command, data) == "copy"  # the handler tkdnd calls on a drop
    pump(root, lambda: len(chat.client.shared) == 2, what="both files shared")
    assert sorted(chat.client.shared) == [("my holiday photo.txt", b"spaced"), ("日本語の名前.txt", b"japanese")]
    pump(root, lambda: chat.client.folders == [folder], what="the folder shared as one item")


def test_without_tkdnd_there_is_no_drop_and_the_share_button_stays(root, chat):
    from ocm_gui.chat.drop import Dropper

    dropper = Dropper([chat.page, chat.input], chat.files, enabled=chat.input_enabled, load=lambda root: False)
    assert not dropper.active and dropper.dropped("/tmp/x") == "refuse_drop"
    assert chat.files.share_button.winfo_ismapped()


# --- pictures saved as they arrive --------------------------------------------------------


@pytest.fixture
def two_rooms(root, tmp_path, settings):
    theme.apply_theme(root)
    server = ChatServer("127.0.0.1", 0, 0)
    server.start()
    alice, bob = ChatClient("127.0.0.1", server.tcp_address[1]), ChatClient("127.0.0.1", server.tcp_address[1])
    alice.create_room("写真", "alice")
    bob.join_room("写真", "bob")
    link = "ocm://127.0.0.1/写真"
    windows = [
        ChatWindow(root, client, files_dir=tmp_path / f"saved-{client.username}", settings=settings, link=link)
        for client in (alice, bob)
    ]
    yield windows
    for window in windows:
        window.leave()
    root.update()
    server.stop()


@pytest.mark.parametrize("on", [True, False])
def test_pictures_are_saved_on_arrival_only_when_the_room_says_so(root, two_rooms, tmp_path, settings, on):
    alice_chat, bob_chat = two_rooms
    bob_chat.files.set_auto_save_pictures(on)
    assert settings.auto_save_pictures == (["ocm://127.0.0.1/写真"] if on else [])
    picture = tmp_path / "sunset.png"
    picture.write_bytes(a_picture()[0])
    alice_chat.files.share(picture)
    line = pump(root, lambda: next(iter(bob_chat.files.lines.values()), None), what="the file in bob's room")
    pump(root, lambda: line.picture is not None, what="the thumbnail")
    if on:
        saved = pump(root, lambda: bob_chat.files.saved, what="the picture saved")
        assert saved[0].read_bytes() == picture.read_bytes() and saved[0].parent == tmp_path / "saved-bob"
        pump(root, lambda: line.open_button is not None, what="Open on the card")
    else:
        pump_for(root, 0.3)
        assert bob_chat.files.saved == []
    pump_for(root, 0.1)
    assert alice_chat.files.saved == []  # never one's own


def test_after_save_open_and_show_in_folder_go_to_the_system(root, two_rooms, tmp_path):
    alice_chat, bob_chat = two_rooms
    calls: list[tuple] = []
    done = threading.Event()

    class StandIn:
        def start(self, args):
            calls.append(("start", list(args)))
            done.set()

        def call(self, args, timeout):
            calls.append(("call", list(args)))
            return 1  # no file manager on D-Bus

        def startfile(self, path):
            calls.append(("startfile", path))

    bob_chat.files._launcher = StandIn()
    bob_chat.files._platform = "linux"
    (tmp_path / "notes.txt").write_text("notes")
    alice_chat.files.share(tmp_path / "notes.txt")
    line = pump(root, lambda: next(iter(bob_chat.files.lines.values()), None), what="the file in bob's room")
    assert line.open_button is None
    bob_chat.files.save(line.event.file_id)
    pump(root, lambda: line.open_button is not None, what="Open and Show in folder after Save")
    saved = bob_chat.files.saved[0]
    line.open_button.invoke()
    pump(root, done.is_set, what="xdg-open started")
    assert calls == [("start", ["xdg-open", str(saved)])]
    done.clear()
    line.show_button.invoke()
    pump(root, done.is_set, what="the folder shown")
    assert calls[1][0] == "call" and "org.freedesktop.FileManager1.ShowItems" in calls[1][1]
    assert calls[2] == ("start", ["xdg-open", str(saved.parent)])


def test_the_file_menu_ticks_save_pictures_automatically_for_the_room_shown(app, root):
    from gui_helpers import FakeClient

    chat = app.open_chat(FakeClient(room="a", username="ann", members=("ann", "bob")))
    chat.link = "ocm://192.0.2.7:9090/a?fp=T"
    app.show_room(chat)
    app._file_menu_shown()
    assert not app.auto_save_var.get()
    app.file_menu.invoke(app.auto_save_entry)
    assert chat.files.auto_save_pictures and app.settings.auto_save_pictures == [chat.link]
    app._file_menu_shown()
    assert app.auto_save_var.get()


def test_a_file_that_only_claims_to_be_a_picture_is_not_saved_by_itself(root, two_rooms, tmp_path):
    alice_chat, bob_chat = two_rooms
    bob_chat.files.set_auto_save_pictures(True)
    claimed = tmp_path / "invoice.png"  # shared as image/png by its name; a program inside
    claimed.write_bytes(b"MZ" + bytes(4000))
    alice_chat.files.share(claimed)
    line = pump(root, lambda: next(iter(bob_chat.files.lines.values()), None), what="the file in bob's room")
    assert line.event.mime == "image/png"
    pump_for(root, 1.0)  # its fetch and failed decode: time enough for a save that must not come
    assert line.picture is None and bob_chat.files.saved == []
    assert not (tmp_path / "saved-bob").exists() or list((tmp_path / "saved-bob").iterdir()) == []


def test_a_paste_of_text_this_app_copied_does_not_ask_the_clipboard_tools(root, chat):
    asked = []
    chat.paster._read = lambda platform: asked.append(platform)
    root.clipboard_clear()
    root.clipboard_append("copied here")
    assert chat.paster.paste() is None and asked == []  # Tk's own paste follows, at once
