"""Open and Show in folder, decided per system with a stand-in launcher (nothing is started)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ocm_gui.chat.paste import Clipboard, linux_clipboard, parse_uri_list, picture_name, read_clipboard
from ocm_gui.files_open import open_file, show_in_folder


class StandIn:
    def __init__(self, status: int = 0, fail: BaseException | None = None):
        self.calls: list[tuple] = []
        self.status, self.fail = status, fail

    def start(self, args):
        self.calls.append(("start", list(args)))
        if isinstance(self.fail, OSError):
            raise self.fail

    def call(self, args, timeout):
        self.calls.append(("call", list(args)))
        if isinstance(self.fail, subprocess.TimeoutExpired):
            raise self.fail
        return self.status

    def startfile(self, path):
        self.calls.append(("startfile", path))


PATH = Path("/home/ann/Downloads/my photo's.png")


def test_windows_opens_with_startfile_and_selects_in_explorer():
    launch = StandIn()
    assert open_file(PATH, "win32", launch) and show_in_folder(PATH, "win32", launch)
    assert launch.calls == [("startfile", str(PATH)), ("start", ["explorer", f"/select,{PATH}"])]


def test_macos_uses_open_and_open_reveal():
    launch = StandIn()
    assert open_file(PATH, "darwin", launch) and show_in_folder(PATH, "darwin", launch)
    assert launch.calls == [("start", ["open", str(PATH)]), ("start", ["open", "-R", str(PATH)])]


def test_linux_asks_the_file_manager_over_dbus_first():
    launch = StandIn(status=0)
    assert open_file(PATH, "linux", launch) and show_in_folder(PATH, "linux", launch)
    assert launch.calls[0] == ("start", ["xdg-open", str(PATH)])
    assert launch.calls[1] == (
        "call",
        [
            "gdbus", "call", "--session",
            "--dest", "org.freedesktop.FileManager1",
            "--object-path", "/org/freedesktop/FileManager1",
            "--method", "org.freedesktop.FileManager1.ShowItems",
            "['file:///home/ann/Downloads/my%20photo%27s.png']",  # quoted: no way out of the string
            "",
        ],
    )  # fmt: skip
    assert len(launch.calls) == 2


@pytest.mark.parametrize("failure", [None, subprocess.TimeoutExpired("gdbus", 3)])
def test_linux_falls_back_to_the_folder_when_no_file_manager_answers(failure):
    launch = StandIn(status=1, fail=failure)
    assert show_in_folder(PATH, "linux", launch)
    assert launch.calls[-1] == ("start", ["xdg-open", str(PATH.parent)])


def test_a_missing_program_is_a_false_not_an_exception():
    assert not open_file(PATH, "linux", StandIn(fail=FileNotFoundError("xdg-open")))
    for platform in ("win32", "darwin", "linux"):
        assert not show_in_folder(PATH, platform, StandIn(status=1, fail=FileNotFoundError("x")))


# --- what a paste reads -------------------------------------------------------------------


def test_uri_lists_give_local_files_only():
    text = "# copied\r\nfile:///tmp/a%20b.txt\r\nhttps://example.com/x\r\nfile://localhost/tmp/%E8%A8%88.pdf\r\n"
    assert parse_uri_list(text) == (Path("/tmp/a b.txt"), Path("/tmp/計.pdf"))
    assert parse_uri_list("copy\nfile:///tmp/x") == (Path("/tmp/x"),)


def test_linux_reads_xclip_or_wl_paste_and_gives_up_on_a_silent_owner():
    png = b"\x89PNG\r\n\x1a\n rest"
    asked: list[list[str]] = []

    def run(args, timeout):
        asked.append(list(args))
        return (0, b"TARGETS\nimage/png\nUTF8_STRING\n") if "TARGETS" in args or "--list-types" in args else (0, png)

    assert linux_clipboard(run, wayland=False) == Clipboard(picture=png)
    assert asked[-1] == ["xclip", "-selection", "clipboard", "-t", "image/png", "-o"]
    assert linux_clipboard(run, wayland=True) == Clipboard(picture=png)
    assert asked[-1] == ["wl-paste", "--no-newline", "--type", "image/png"]

    def silent(args, timeout):
        raise subprocess.TimeoutExpired(args, timeout)

    assert linux_clipboard(silent, wayland=False) == Clipboard()
    assert linux_clipboard(lambda a, t: (0, b"UTF8_STRING\nTEXT"), wayland=False) == Clipboard()


def test_windows_and_macos_read_through_pillow():
    from PIL import Image

    got = read_clipboard("win32", grab=lambda: Image.new("RGB", (2, 2)))
    assert got.picture is not None and got.picture.startswith(b"\x89PNG")
    assert read_clipboard("darwin", grab=lambda: ["/a/b.txt"]) == Clipboard(paths=(Path("/a/b.txt"),))
    assert read_clipboard("darwin", grab=lambda: None) == Clipboard()


def test_a_pasted_picture_is_named_by_its_time():
    import time

    assert picture_name(time.strptime("2026-12-07 21:30:05", "%Y-%m-%d %H:%M:%S")) == (
        "Pasted picture 2026-12-07 21.30.05.png"
    )
