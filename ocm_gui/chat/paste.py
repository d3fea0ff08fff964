"""Paste in a room's input: a picture on the clipboard is shared as a PNG after a preview, files
copied in a file manager are shared after one question, and text pastes as Tk always did.

What the clipboard holds is read by `read_clipboard(platform, run, grab)`: on Windows and macOS
Pillow's `ImageGrab.grabclipboard()`; on Linux the tools Pillow itself calls there (`wl-paste` on
Wayland, `xclip` on X11), run here with a timeout, because an owner that never answers would
hang Pillow's call and with it the window. `PastePreview` is the small window before a picture
goes.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import tempfile
import time
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from tkinter import ttk
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from ocm_core import paths
from ocm_core.i18n import _
from ocm_gui import theme

log = logging.getLogger(__name__)

TARGETS_TIMEOUT = 1.0  # seconds to ask which kinds the clipboard holds
DATA_TIMEOUT = 3.0  # seconds to fetch the picture itself
KEEP_PASTED = 24 * 3600  # seconds a pasted picture's file stays in the cache
PREVIEW_BOX = (360, 260)  # the preview's picture at most, at 96 dpi
PICTURE_TARGETS = ("image/png", "image/jpeg", "image/bmp", "image/gif", "image/webp", "image/tiff")

# run(args, timeout) -> (exit status, stdout); raises OSError when the tool is missing and
# subprocess.TimeoutExpired when it does not answer in time.
Runner = Callable[[Sequence[str], float], tuple[int, bytes]]


@dataclass(frozen=True)
class Clipboard:
    """What a paste would share: a picture (PNG bytes), files, or neither (paste text)."""

    picture: bytes | None = None
    paths: tuple[Path, ...] = ()


def run_tool(args: Sequence[str], timeout: float) -> tuple[int, bytes]:
    done = subprocess.run(list(args), capture_output=True, timeout=timeout, check=False)
    return done.returncode, done.stdout


def as_png(data: bytes) -> bytes:
    """Any picture Pillow reads, as PNG bytes (PNG stays as it is)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.save(out, "PNG")
    return out.getvalue()


def parse_uri_list(text: str) -> tuple[Path, ...]:
    """The local files of a `text/uri-list` (or GNOME's `x-special/gnome-copied-files`, whose
    first line is "copy" or "cut"); comments and other schemes are skipped."""
    found = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line or line.startswith("#") or line in ("copy", "cut"):
            continue
        uri = urlparse(line)
        if uri.scheme == "file" and uri.netloc in ("", "localhost"):
            found.append(Path(unquote(uri.path)))
    return tuple(found)


def linux_clipboard(run: Runner, wayland: bool) -> Clipboard:
    """The clipboard through wl-paste (Wayland) or xclip (X11); empty when the tool is missing,
    fails or does not answer in time."""
    if wayland:
        ask_targets: list[str] = ["wl-paste", "--no-newline", "--list-types"]
        fetch = lambda target: ["wl-paste", "--no-newline", "--type", target]
    else:
        ask_targets = ["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"]
        fetch = lambda target: ["xclip", "-selection", "clipboard", "-t", target, "-o"]
    try:
        status, out = run(ask_targets, TARGETS_TIMEOUT)
        if status != 0:
            return Clipboard()
        targets = out.decode("utf-8", "replace").split()
        for target in PICTURE_TARGETS:
            if target in targets:
                status, data = run(fetch(target), DATA_TIMEOUT)
                return Clipboard(picture=as_png(data)) if status == 0 and data else Clipboard()
        for target in ("text/uri-list", "x-special/gnome-copied-files"):
            if target in targets:
                status, data = run(fetch(target), DATA_TIMEOUT)
                if status == 0:
                    return Clipboard(paths=parse_uri_list(data.decode("utf-8", "replace")))
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:  # ValueError: Pillow cannot read it
        log.info("could not read the clipboard: %s", exc)
    return Clipboard()


def grab_with_pillow() -> Any:
    from PIL import ImageGrab

    return ImageGrab.grabclipboard()


def read_clipboard(
    platform: str,
    run: Runner = run_tool,
    grab: Callable[[], Any] = grab_with_pillow,
    environ: dict[str, str] | os._Environ[str] = os.environ,
) -> Clipboard:
    """What the clipboard holds that a paste shares, on `platform` (sys.platform's words)."""
    if platform.startswith("linux") or platform.startswith("freebsd"):
        return linux_clipboard(run, wayland=bool(environ.get("WAYLAND_DISPLAY")))
    try:
        content = grab()
    except Exception as exc:  # Pillow raises several kinds for a clipboard it cannot read
        log.info("could not read the clipboard: %s", exc)
        return Clipboard()
    if isinstance(content, list):
        return Clipboard(paths=tuple(Path(p) for p in content if isinstance(p, str)))
    if content is not None and hasattr(content, "save"):
        out = io.BytesIO()
        content.save(out, "PNG")
        return Clipboard(picture=out.getvalue())
    return Clipboard()


def picture_name(when: time.struct_time) -> str:
    """The name a pasted picture is shared under, e.g. "Pasted picture 2026-12-07 21.30.05.png"."""
    return _("Pasted picture {time}").format(time=time.strftime("%Y-%m-%d %H.%M.%S", when)) + ".png"


def cache_dir() -> Path:
    """The app's cache: OCM_HOME/cache when set, else the platform's (platformdirs)."""
    home = os.environ.get(paths.HOME_OVERRIDE, "").strip()
    if home:
        return Path(home) / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(paths.APP_NAME, appauthor=False))


def write_picture(data: bytes, name: str, folder: Path | None = None) -> Path:
    """The PNG in a folder of its own under the app's cache (so its name is the one shared)."""
    base = folder if folder is not None else cache_dir() / "pasted"
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob("paste-*"):  # shared long ago: the server has its own copy
        try:
            if time.time() - old.stat().st_mtime > KEEP_PASTED:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    path = Path(tempfile.mkdtemp(prefix="paste-", dir=base)) / name
    path.write_bytes(data)
    return path


class PastePreview:
    """The picture scaled down, its name, Send and Cancel; Enter sends, Escape cancels."""

    def __init__(self, master: tk.Misc, picture: bytes, name: str, on_send: Callable[[], object]):
        from PIL import Image, ImageTk

        self.name = name
        self._on_send = on_send
        top = self.top = tk.Toplevel(master)
        top.title(_("Share a picture"))
        top.transient(master.winfo_toplevel())
        top.resizable(False, False)
        frame = ttk.Frame(top, padding=theme.pad(top, 14, 12, 14, 12))
        frame.grid(sticky="nsew")
        with Image.open(io.BytesIO(picture)) as image:
            image.load()
            shown = image.convert("RGBA") if image.mode not in ("RGB", "RGBA") else image.copy()
        self.size = shown.size
        shown.thumbnail((theme.scaled(top, PREVIEW_BOX[0]), theme.scaled(top, PREVIEW_BOX[1])))
        self.photo = ImageTk.PhotoImage(shown, master=top)
        self.picture = tk.Label(
            frame, image=self.photo, borderwidth=0, highlightthickness=1, highlightbackground=theme.BORDER
        )
        self.picture.grid(row=0, column=0, columnspan=3)
        self.name_label = ttk.Label(frame, text=name, font="OCMChatBold")
        self.name_label.grid(row=1, column=0, columnspan=3, sticky="w", pady=(theme.scaled(top, 8), 0))
        ttk.Label(
            frame,
            text=_("{width} × {height} pixels").format(width=self.size[0], height=self.size[1]),
            style="Small.TLabel",
        ).grid(row=2, column=0, columnspan=3, sticky="w")
        frame.columnconfigure(0, weight=1)
        gap = theme.scaled(top, 6)
        self.cancel_button = ttk.Button(frame, text=_("Cancel"), command=self.cancel)
        self.cancel_button.grid(row=3, column=1, sticky="e", pady=(theme.scaled(top, 10), 0))
        self.send_button = ttk.Button(frame, text=_("Send"), style="Accent.TButton", command=self.send)
        self.send_button.grid(row=3, column=2, sticky="e", padx=(gap, 0), pady=(theme.scaled(top, 10), 0))
        top.bind("<Return>", lambda e: self.send())
        top.bind("<KP_Enter>", lambda e: self.send())
        top.bind("<Escape>", lambda e: self.cancel())
        top.protocol("WM_DELETE_WINDOW", self.cancel)
        self.sent = False
        top.update_idletasks()
        owner = master.winfo_toplevel()
        x = owner.winfo_rootx() + max(0, (owner.winfo_width() - top.winfo_reqwidth()) // 2)
        y = owner.winfo_rooty() + max(0, (owner.winfo_height() - top.winfo_reqheight()) // 2)
        top.geometry(f"+{x}+{y}")
        self.send_button.focus_set()

    def send(self) -> None:
        if not self.sent:
            self.sent = True
            self.top.destroy()
            self._on_send()

    def cancel(self) -> None:
        self.top.destroy()


class PasteHost(Protocol):
    """What paste and drop need of the chat window (ocm_gui.chat.window.ChatWindow)."""

    win: tk.Tk | tk.Toplevel
    input: tk.Text

    def input_enabled(self) -> bool: ...


class PathSharer(Protocol):
    """What paste and drop hand their files to (ocm_gui.chat.files.FilePanel)."""

    def share(self, path: str | Path | None = None) -> int | None: ...
    def share_paths(self, paths: Sequence[Path], *, ask: bool) -> None: ...


class Paster:
    """Binds <<Paste>> (Ctrl+V, Cmd+V, the menu's Paste) on the window's input: a picture opens
    the preview, files are shared, anything else goes on to Tk's own paste of text."""

    def __init__(
        self,
        window: PasteHost,
        files: PathSharer,
        *,
        platform: str,
        read: Callable[[str], Clipboard] = read_clipboard,
        now: Callable[[], time.struct_time] = time.localtime,
        folder: Path | None = None,
    ):
        self.window = window
        self.files = files
        self.platform = platform
        self._read = read
        self._now = now
        self._folder = folder
        self.preview: PastePreview | None = None
        window.input.bind("<<Paste>>", self.paste, add="+")

    def paste(self, event: object = None) -> str | None:
        if not self.window.input_enabled():
            return None
        if self._only_text_offered():
            return None  # text (copied in this app, or elsewhere): Tk's own paste, no tool asked
        content = self._read(self.platform)
        if content.picture is not None:
            self.show_preview(content.picture)
            return "break"
        if content.paths:
            self.files.share_paths(content.paths, ask=True)
            return "break"
        return None  # text: Tk's class binding pastes it

    def _only_text_offered(self) -> bool:
        """On X11, whether the clipboard offers no picture and no files, asked through Tk itself:
        when this app holds the clipboard, a tool (xclip) asking it would wait for our own event
        loop, blocked on that very tool; Tk answers itself, and waits on another owner with
        events running."""
        if not self.platform.startswith("linux"):
            return False
        try:
            targets = str(self.window.win.clipboard_get(type="TARGETS")).split()
        except Exception:  # nothing on the clipboard, or no X selection: the tools are asked as before
            return False
        return not any(
            t.startswith("image/") or t in ("text/uri-list", "x-special/gnome-copied-files") for t in targets
        )

    def show_preview(self, picture: bytes) -> PastePreview | None:
        if self.preview is not None and self.preview.top.winfo_exists():
            self.preview.cancel()
        name = picture_name(self._now())
        try:
            self.preview = PastePreview(self.window.win, picture, name, lambda: self._send(picture, name))
        except Exception as exc:  # Pillow cannot read what the clipboard called a picture
            log.info("could not show the pasted picture: %s", exc)
            self.preview = None
        return self.preview

    def _send(self, picture: bytes, name: str) -> None:
        try:
            path = write_picture(picture, name, self._folder)
        except OSError as exc:
            log.warning("could not keep the pasted picture: %s", exc)
            return
        self.files.share(path)
        if self.window.input_enabled():
            self.window.input.focus_set()
