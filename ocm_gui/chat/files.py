"""Files and pictures in a chat window: share, show, save, with a progress row per transfer.

Transfers run on background threads (ChatClient.send_file / download); they never touch a
widget, nor hold the panel: they put small reports (TransferProgress, TransferDone,
PictureReady, NotAPicture) in the app's inbox, which hands them to this panel on the Tk thread
while it is open (ocm_gui/inbox.py). Each
transfer's row has a bar, the speed and Cancel, which makes its progress callback return
False. Pictures (PNG, JPEG, GIF, WebP up to PICTURE_MAX_BYTES) are fetched at once into a
private cache and shown as a thumbnail that opens full size on click; one Pillow cannot
decode stays a plain file line.

Files also come from a paste (paste.py) and a drop (drop.py), through `share_paths`. After
Save, a card has Open and Show in folder (ocm_gui/files_open.py). A room in the setting
`auto_save_pictures` saves others' pictures as they arrive.
"""

from __future__ import annotations

import functools
import itertools
import logging
import shutil
import sys
import tempfile
import threading
import time
import tkinter as tk
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any, Protocol

from ocm_core.errors import ClientError, ProtocolError, TransferCancelled
from ocm_core.i18n import _
from ocm_core.paths import downloads_dir
from ocm_core.sansio.events import FileShared
from ocm_core.words import folder_name, folder_text, size_text
from ocm_gui import files_open, ports, theme
from ocm_gui.background import fire_and_forget
from ocm_gui.chat.confirm import Confirm
from ocm_gui.inbox import inbox_for
from ocm_gui.text.tooltip import ElidedLabel


class FileHost(Protocol):
    """What the file panel needs of its chat window (ocm_gui.chat.window.ChatWindow)."""

    win: tk.Tk | tk.Toplevel
    page: ttk.Frame
    embedded: bool
    client: ports.RoomClient
    settings: Any
    header: tk.Widget
    text: tk.Text
    input: tk.Text
    username: str
    room_closed: bool
    link: str | None

    def input_enabled(self) -> bool: ...
    def show_line(self, text: str, tags: tuple) -> None: ...
    def append_widget(self, widget: tk.Widget, history: bool = False) -> None: ...
    def widget_grew(self) -> None: ...


log = logging.getLogger(__name__)

PICTURE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
PICTURE_MAX_BYTES = 10 * 1000 * 1000
THUMBNAIL = (280, 200)  # at 96 dpi; grown with the text (theme.scaled)
REPORT_EVERY = 0.1  # seconds between a transfer's progress reports
STACK_BELOW = 140  # a file name given less than this (96-dpi pixels) beside the buttons gets them below it
PICTURES_AT_ONCE = 2  # a history full of pictures is fetched two at a time, leaving the server's slots to others


@dataclass
class Transfer:
    """One upload or download on its way, and its row of widgets."""

    key: int
    title: str
    cancel: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    row: Any = None
    bar: Any = None
    speed: Any = None
    button: Any = None
    file_id: str = ""  # the file a download is for


@dataclass
class FileLine:
    """A shared file as the scrollback shows it."""

    event: FileShared
    frame: Any
    picture: Any = None  # the thumbnail's label, once decoded
    photo: Any = None  # keeps the PhotoImage alive
    cached: Path | None = None
    plain_reason: str = ""  # why a picture is shown as a plain file
    name: Any = None  # the file name's ElidedLabel
    rest: tuple = ()  # what shares the name's row: the size and the buttons
    buttons: Any = None  # the frame of Save, Save as… (and Open, Show in folder once saved)
    saved: Path | None = None  # where it was saved last
    open_button: Any = None
    show_button: Any = None


_panels = itertools.count(1)
_NOT_FAILED = object()


@dataclass(frozen=True)
class TransferProgress:
    owner: int  # the FilePanel it is for
    key: int  # its transfer
    done: int
    total: int


@dataclass(frozen=True)
class TransferDone:
    """A transfer ended: `result` when it worked, else `failure` (None when cancelled)."""

    owner: int
    key: int
    verb: str
    result: Any
    failure: object = _NOT_FAILED

    @property
    def failed(self) -> bool:
        return self.failure is not _NOT_FAILED


@dataclass(frozen=True)
class PictureReady:
    owner: int
    file_id: str
    path: Path
    thumbnail: Any  # a decoded PIL image, made off the Tk thread


@dataclass(frozen=True)
class NotAPicture:
    owner: int
    file_id: str
    reason: str


class FilePanel:
    def __init__(
        self,
        window: FileHost,
        *,
        ask_open: Callable[..., Any] = filedialog.askopenfilename,
        ask_save: Callable[..., Any] = filedialog.asksaveasfilename,
        ask_folder: Callable[..., Any] = filedialog.askdirectory,
        save_dir: Path | None = None,
        launcher: files_open.Launcher | None = None,
        platform: str = sys.platform,
    ):
        self.window = window
        self.client = window.client
        self.owner = next(_panels)  # what this panel's reports are addressed to
        self._inbox = inbox_for(window.win)
        self._inbox.handle(TransferProgress, self._on_progress, owner=self.owner)
        self._inbox.handle(TransferDone, self._on_done, owner=self.owner)
        self._inbox.handle(PictureReady, self._on_picture, owner=self.owner)
        self._inbox.handle(NotAPicture, self._on_not_picture, owner=self.owner)
        self.transfers: dict[int, Transfer] = {}
        self.lines: dict[str, FileLine] = {}
        self.saved: list[Path] = []  # where files were saved, newest last (for tests and the log)
        self._ask_open, self._ask_save, self._ask_folder = ask_open, ask_save, ask_folder
        self._save_dir = save_dir
        self._launcher = launcher or files_open.SystemLauncher()
        self._platform = platform
        self.question: Confirm | None = None  # "Share 3 files?"
        self._keys = itertools.count(1)
        self._cache: Path | None = None
        self._picture_slots = threading.Semaphore(PICTURES_AT_ONCE)
        self._closed = threading.Event()  # workers see it without holding the panel
        self._share_dir = ""  # the folder of the last file shared, when there are no settings to keep it
        self._build()

    @property
    def save_dir(self) -> Path:
        return self._save_dir or downloads_dir()

    def _build(self) -> None:
        win = self.window.win
        self.share_button = ttk.Button(self.window.header, text=_("Share a file…"), command=self.share)
        self.share_button.grid(row=0, column=2, sticky="e")
        self.menu: tk.Menu | None = None
        self.file_menu: tk.Menu | None = None
        if not self.window.embedded:  # the main window's menu and keys serve the room shown
            self.menu = tk.Menu(win)
            file_menu = tk.Menu(self.menu, tearoff=0)
            file_menu.add_command(
                label=_("Share a file…"), command=self.share, accelerator=theme.shortcut("o").strip("<>")
            )
            file_menu.add_command(label=_("Save the last file as…"), command=self.save_last_as)
            file_menu.add_separator()
            self.auto_save_var = tk.BooleanVar(win, value=self.auto_save_pictures)
            file_menu.add_checkbutton(
                label=_("Save pictures automatically"),
                variable=self.auto_save_var,
                command=lambda: self.set_auto_save_pictures(self.auto_save_var.get()),
            )
            self.menu.add_cascade(label=_("File"), menu=file_menu)
            self.file_menu = file_menu
            win.configure(menu=self.menu)
            win.bind(theme.shortcut("o"), lambda e: self.share(), add="+")
        self.window.text.bind("<Configure>", lambda e: self._fit_cards(), add="+")
        self.area = ttk.Frame(self.window.page, padding=theme.pad(win, 12, 0, 12, 6))
        self.area.grid(row=5, column=0, sticky="ew")
        self.area.columnconfigure(1, weight=1)
        self.area.grid_remove()  # shown while a transfer runs: an empty frame keeps its last height
        if not self.window.embedded:  # in the main window, showing a room puts the cursor in its input
            win.bind("<FocusIn>", self._focus_in, add="+")

    # --- focus ------------------------------------------------------------------------
    # A card's button keeps the focus after a click, and then every Space typed presses it
    # again: after acting, and when the person comes back to the window, typing goes to the
    # message input. Tab still reaches the buttons.

    def _to_input(self) -> None:
        if not self._closed.is_set() and self.window.input_enabled():
            self.window.input.focus_set()

    def _then_input(self, action: Callable[..., Any], *args: Any) -> Callable[[], None]:
        def act() -> None:
            action(*args)
            self._to_input()

        return act

    def _is_card_widget(self, path: str) -> bool:
        tops = [str(self.area)] + [str(line.frame) for line in self.lines.values()]
        return any(path == top or path.startswith(top + ".") for top in tops)

    def _focus_in(self, event) -> None:
        # The window itself hears FocusIn only when the focus comes from outside it (another
        # application, another window); Tab within it moves the focus between its widgets.
        if str(event.widget) == str(self.window.win) and self._is_card_widget(str(self.window.win.tk.call("focus"))):
            self._to_input()

    # --- sharing ----------------------------------------------------------------------

    def share(self, path: str | Path | None = None) -> int | None:
        """Send a file (asked for when `path` is None); returns the transfer's key."""
        if self._closed.is_set() or self.window.room_closed:
            return None
        if path is None:
            self._hide_dot_files()
            path = self._ask_open(
                parent=self.window.win, title=_("Share a file with the room"), initialdir=str(self.share_folder())
            )
            if not path:
                return None
            self._remember_share_folder(Path(path).parent)
        path = Path(path)
        transfer = self._add_transfer(_("Sending {name}").format(name=path.name))
        client = self.client  # the worker holds the client, never the window
        self._run(transfer, lambda progress: client.send_file(path, progress=progress), "sent")
        return transfer.key

    def share_paths(self, paths: Sequence[Path], *, ask: bool) -> None:
        """Share pasted or dropped files; folders go to `share_folder_paths`. `ask`: a question
        first when there is more than one file (a paste may not be what was meant)."""
        if self._closed.is_set() or self.window.room_closed or not paths:
            return
        folders = [path for path in paths if path.is_dir()]
        files = [path for path in paths if not path.is_dir()]
        if folders:
            self.share_folder_paths(folders)
        if not files:
            return
        if not ask or len(files) == 1:
            for path in files:
                self.share(path)
            return
        if self.question is not None:
            self.question.close()

        def answered(yes: bool) -> None:
            self.question = None
            if yes:
                for path in files:
                    self.share(path)
            self._to_input()

        self.question = Confirm(
            self.window.win,
            title=_("Share files"),
            question=_("Share {count} files?").format(count=len(files)),
            yes=_("Share"),
            cancel=_("Cancel"),
            on_answer=answered,
        )

    def share_a_folder(self) -> None:
        """Ask for a folder and send it as one item."""
        if self._closed.is_set() or self.window.room_closed:
            return
        chosen = self._ask_folder(
            parent=self.window.win, title=_("Share a folder with the room"), initialdir=str(self.share_folder())
        )
        if chosen:
            self._remember_share_folder(Path(chosen).parent)
            self.share_folder_paths([Path(chosen)])

    def share_folder_paths(self, paths: Sequence[Path]) -> None:
        """Folders pasted or dropped: each sent as one item, its tree kept (ocm_core/storage/folders.py)."""
        if self._closed.is_set() or self.window.room_closed:
            return
        client = self.client  # the worker holds the client, never the window
        for path in paths:
            transfer = self._add_transfer(_("Sending the folder {name}").format(name=path.name))
            self._run(transfer, functools.partial(_send_folder, client, path), "sent")

    def share_folder(self) -> Path:
        """Where the picker opens: the folder of the last file shared, else the home folder
        (never the folder the app happened to be started from)."""
        last = getattr(self.window.settings, "share_dir", "") or self._share_dir
        if last and Path(last).is_dir():
            return Path(last)
        return Path.home()

    def _remember_share_folder(self, folder: Path) -> None:
        self._share_dir = str(folder)
        settings = self.window.settings
        if settings is not None and getattr(settings, "share_dir", None) != self._share_dir:
            settings.update(share_dir=self._share_dir)

    def _hide_dot_files(self) -> None:
        """Tk's own file dialog (X11 only) lists .git and .venv; it hides them when told, and
        then has a "Show hidden files" toggle. Its settings exist once its code is loaded."""
        tcl = self.window.win.tk
        if str(tcl.call("tk", "windowingsystem")) != "x11":
            return
        try:
            tcl.call("tk_getOpenFile", "-no-such-option")  # loads the dialog's code; opens nothing
        except tk.TclError:
            pass
        if str(tcl.call("set", "::tk::dialog::file::showHiddenBtn")) != "1":  # once: the toggle is the person's after
            tcl.call("set", "::tk::dialog::file::showHiddenBtn", "1")
            tcl.call("set", "::tk::dialog::file::showHiddenVar", "0")

    # --- receiving --------------------------------------------------------------------

    def show_file(self, event: FileShared) -> None:
        """A file line in the scrollback: sender, name, size, Save and Save as…; a small
        picture is fetched at once and shown inline."""
        text = self.window.text
        frame = tk.Frame(
            text,
            background=theme.PANEL,
            highlightthickness=1,
            highlightbackground="#d6d3cc",
            padx=theme.scaled(text, 6),
            pady=theme.scaled(text, 4),
        )
        stamp = time.strftime("%H:%M", time.localtime(event.time))
        mine = event.sender == self.window.username
        folder = event.is_folder
        shown_name = "📁 " + folder_name(event.name) if folder else event.name
        what = folder_text(event.files, event.size) if folder else size_text(event.size)
        if folder:
            said = _("You shared a folder · {time}") if mine else _("{sender} shared a folder · {time}")
        else:
            said = _("You shared a file · {time}") if mine else _("{sender} shared a file · {time}")
        tk.Label(
            frame,
            text=said.format(sender=event.sender, time=stamp),
            background=theme.PANEL,
            foreground=theme.MUTED,
            font="OCMSmall",
        ).grid(row=0, column=0, columnspan=3, sticky="w")
        name = tk.Label(frame, background=theme.PANEL, foreground=theme.TEXT, font="OCMChatBold")
        name.grid(row=1, column=0, sticky="w")
        size = tk.Label(frame, text=f"  {what}", background=theme.PANEL, foreground=theme.MUTED, font="OCMSmall")
        size.grid(row=1, column=1, sticky="w", padx=(0, theme.scaled(text, 8)))
        buttons = tk.Frame(frame, background=theme.PANEL)  # Open and Show in folder join after Save
        buttons.grid(row=1, column=2, sticky="e")
        ttk.Button(
            buttons, text=_("Save"), style="Compact.TButton", command=self._then_input(self.save, event.file_id)
        ).pack(side="left")
        ttk.Button(
            buttons, text=_("Save as…"), style="Compact.TButton", command=self._then_input(self.save_as, event.file_id)
        ).pack(side="left", padx=(theme.scaled(text, 4), 0))
        line = FileLine(
            event, frame, name=ElidedLabel(name, shown_name, "OCMChatBold"), rest=(size, buttons), buttons=buttons
        )
        self.lines[event.file_id] = line
        self.window.append_widget(frame, history=event.history)
        self._fit_card(line)
        frame.bind("<Map>", lambda e: self._fit_card(line), add="+")  # again where it really is
        if event.mime in PICTURE_TYPES and event.size <= PICTURE_MAX_BYTES:
            self._fetch_picture(line)

    # --- per room: save pictures as they arrive ---------------------------------------

    @property
    def auto_save_pictures(self) -> bool:
        link = self.window.link
        return bool(link) and link in (getattr(self.window.settings, "auto_save_pictures", None) or [])

    def set_auto_save_pictures(self, on: bool) -> None:
        settings, link = self.window.settings, self.window.link
        if settings is None or not link:
            return
        kept = [room for room in settings.auto_save_pictures if room != link]
        settings.update(auto_save_pictures=kept + ([link] if on else []))
        if self.file_menu is not None:
            self.auto_save_var.set(on)

    # --- after Save: Open and Show in folder -------------------------------------------

    def _add_open_buttons(self, line: FileLine) -> None:
        if line.open_button is not None or not line.buttons.winfo_exists():
            return
        gap = (theme.scaled(line.frame, 4), 0)
        file_id = line.event.file_id
        line.open_button = ttk.Button(
            line.buttons, text=_("Open"), style="Compact.TButton", command=self._then_input(self.open_saved, file_id)
        )
        line.open_button.pack(side="left", padx=gap)
        line.show_button = ttk.Button(
            line.buttons,
            text=_("Show in folder"),
            style="Compact.TButton",
            command=self._then_input(self.show_saved, file_id),
        )
        line.show_button.pack(side="left", padx=gap)
        self._fit_card(line)

    def open_saved(self, file_id: str) -> None:
        self._launch(file_id, files_open.open_file)

    def show_saved(self, file_id: str) -> None:
        self._launch(file_id, files_open.show_in_folder)

    def _launch(self, file_id: str, how: Callable[[Path, str, files_open.Launcher], bool]) -> None:
        line = self.lines.get(file_id)
        if line is None or line.saved is None:
            return
        path, platform, launcher = line.saved, self._platform, self._launcher
        fire_and_forget(lambda: how(path, platform, launcher), name="ocm-gui-open")  # D-Bus may take seconds

    def _card_room(self, frame: tk.Widget) -> int:
        """How wide a card may be: the scrollback's width less its margins and the card's."""
        text = self.window.text
        width = text.winfo_width() if text.winfo_width() > 1 else text.winfo_reqwidth()
        try:
            around = int(text.window_cget(frame, "padx"))
        except tk.TclError:  # not in the scrollback yet
            around = theme.scaled(text, 22)
        inside = int(text.cget("padx")) + int(text.cget("highlightthickness")) + int(text.cget("borderwidth"))
        if frame.winfo_ismapped():  # where it really starts: line margins move it too
            return width - frame.winfo_x() - inside - around - theme.scaled(text, 4)
        return width - 2 * (inside + around) - theme.scaled(text, 4)

    def _fit_card(self, line: FileLine) -> None:
        """Cut a long file name short ("…", whole in a tooltip) so Save as… stays in sight; in a
        narrow scrollback the buttons go under the name rather than leave it a few letters."""
        frame = line.frame
        size, buttons = line.rest
        gap = theme.scaled(frame, 8)
        room = self._card_room(frame) - 2 * (int(frame.cget("padx")) + int(frame.cget("highlightthickness")))
        beside = room - size.winfo_reqwidth() - buttons.winfo_reqwidth() - gap
        stacked = beside < min(line.name.natural_width(), theme.scaled(frame, STACK_BELOW))
        if stacked != (int(buttons.grid_info().get("row", 1)) == 2):
            if stacked:
                buttons.grid(row=2, column=0, columnspan=3, sticky="w", pady=(theme.scaled(frame, 4), 0))
            else:
                buttons.grid(row=1, column=2, columnspan=1, sticky="e", pady=0)
        line.name.fit(room - size.winfo_reqwidth() - gap if stacked else beside)

    def _fit_cards(self) -> None:
        for line in self.lines.values():
            if line.frame.winfo_exists():
                self._fit_card(line)

    def save(self, file_id: str, destination: Path | None = None) -> int | None:
        """Download into the Downloads folder (or `destination`); never overwrites there."""
        line = self.lines.get(file_id)
        if line is None or self._closed.is_set():
            return None
        folder = self.save_dir if destination is None else None
        target = folder if folder is not None else destination
        assert target is not None
        transfer = self._add_transfer(_("Saving {name}").format(name=line.event.name))
        transfer.file_id = file_id
        client = self.client  # the worker holds the client, never the window

        def work(progress):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
            if line.event.is_folder:  # saved as a folder, in the folder chosen (or Downloads)
                into = target if folder is not None else target.parent
                return client.download_folder(file_id, into, progress=progress)
            return client.download(file_id, target, progress=progress)

        self._run(transfer, work, "saved")
        return transfer.key

    def save_as(self, file_id: str) -> int | None:
        line = self.lines.get(file_id)
        if line is None:
            return None
        if line.event.is_folder:  # a folder is saved as a folder, named as it was, where chosen
            place = self._ask_folder(
                parent=self.window.win, title=_("Save the folder in"), initialdir=str(self.save_dir)
            )
            return self.save(file_id, Path(place) / folder_name(line.event.name)) if place else None
        chosen = self._ask_save(
            parent=self.window.win,
            title=_("Save the file as"),
            initialdir=str(self.save_dir),
            initialfile=line.event.name,
        )
        return self.save(file_id, Path(chosen)) if chosen else None

    def save_last_as(self) -> int | None:
        if not self.lines:
            self.window.show_line(_("No file has been shared in this room yet."), ("notice",))
            return None
        return self.save_as(list(self.lines)[-1])

    # --- pictures ---------------------------------------------------------------------

    def _cache_dir(self) -> Path:
        if self._cache is None:
            self._cache = Path(tempfile.mkdtemp(prefix="ocm-pictures-"))
        return self._cache

    def _fetch_picture(self, line: FileLine) -> None:
        file_id, target = line.event.file_id, self._cache_dir() / line.event.file_id
        client, inbox, owner, slots, closed = self.client, self._inbox, self.owner, self._picture_slots, self._closed
        box = (theme.scaled(line.frame, THUMBNAIL[0]), theme.scaled(line.frame, THUMBNAIL[1]))  # on the Tk thread

        def work() -> None:
            try:
                with slots:
                    if closed.is_set():
                        return
                    path = client.download(file_id, target)
                thumbnail = _thumbnail(path, box)
            except (ClientError, ProtocolError, OSError) as exc:
                inbox.put(NotAPicture(owner, file_id, f"could not fetch: {exc}"))
                return
            except Exception as exc:  # Pillow raises many kinds for a damaged picture
                inbox.put(NotAPicture(owner, file_id, f"{type(exc).__name__}: {exc}"))
                return
            inbox.put(PictureReady(owner, file_id, path, thumbnail))

        fire_and_forget(work, name="ocm-gui-picture")

    def _show_picture(self, file_id: str, path: Path, thumbnail) -> None:
        from PIL import ImageTk

        line = self.lines.get(file_id)
        if line is None or not line.frame.winfo_exists():
            return
        line.photo = ImageTk.PhotoImage(thumbnail, master=line.frame)
        line.cached = path
        line.picture = tk.Label(line.frame, image=line.photo, cursor="hand2", background=theme.PANEL, borderwidth=0)
        line.picture.grid(row=3, column=0, columnspan=3, sticky="w", pady=(theme.scaled(line.frame, 4), 0))
        line.picture.bind("<Button-1>", lambda e: self.open_picture(file_id))
        self.window.widget_grew()
        event = line.event
        # Saved by itself only once Pillow decoded it as a picture: the type is the sender's
        # word, and a file that only claims to be one (an .exe called image/png) waits for a click.
        if not event.history and event.sender != self.window.username and self.auto_save_pictures:
            self.save(file_id)

    def open_picture(self, file_id: str) -> tk.Toplevel | None:
        """The picture full size (scaled down to fit the screen) in a window of its own."""
        from PIL import Image, ImageTk

        line = self.lines.get(file_id)
        if line is None or line.cached is None:
            return None
        try:
            with Image.open(line.cached) as image:
                image.load()
                picture = image.convert("RGBA") if image.mode not in ("RGB", "RGBA") else image.copy()
        except Exception as exc:
            log.info("could not open %s again: %s", line.event.name, exc)
            return None
        screen = self.window.win
        picture.thumbnail((screen.winfo_screenwidth() - 80, screen.winfo_screenheight() - 120))
        top = tk.Toplevel(screen)
        top.title(line.event.name)
        photo = ImageTk.PhotoImage(picture, master=top)
        label = tk.Label(top, image=photo, borderwidth=0)
        label.image = photo  # type: ignore[attr-defined]  # Tk keeps no reference of its own
        label.pack()
        label.bind("<Button-1>", lambda e: top.destroy())
        top.bind("<Escape>", lambda e: top.destroy())
        return top

    # --- transfers --------------------------------------------------------------------

    def _add_transfer(self, title: str) -> Transfer:
        transfer = Transfer(next(self._keys), title)
        transfer.row = ttk.Label(self.area, text=title, style="Small.TLabel", width=28)
        transfer.row.grid(row=transfer.key, column=0, sticky="w")
        transfer.bar = ttk.Progressbar(self.area, maximum=1.0, mode="determinate")
        transfer.bar.grid(row=transfer.key, column=1, sticky="ew", padx=6)
        transfer.speed = ttk.Label(self.area, text=_("starting…"), style="Small.TLabel", width=18)
        transfer.speed.grid(row=transfer.key, column=2, sticky="e")
        transfer.button = ttk.Button(self.area, text=_("Cancel"), command=self._then_input(self.cancel, transfer.key))
        transfer.button.grid(row=transfer.key, column=3, padx=(6, 0))
        self.transfers[transfer.key] = transfer
        self.area.grid()
        return transfer

    def _run(self, transfer: Transfer, action: Callable[[Callable[[int, int], bool]], Any], verb: str) -> None:
        inbox, owner, key, cancel = self._inbox, self.owner, transfer.key, transfer.cancel
        last = [0.0]

        def progress(done: int, total: int) -> bool:
            now = time.monotonic()
            if now - last[0] >= REPORT_EVERY or done == total:
                last[0] = now
                inbox.put(TransferProgress(owner, key, done, total))
            return not cancel.is_set()

        def work() -> None:
            try:
                inbox.put(TransferDone(owner, key, verb, action(progress)))
            except TransferCancelled:
                inbox.put(TransferDone(owner, key, verb, None, failure=None))
            except (ClientError, ProtocolError, OSError) as exc:
                inbox.put(TransferDone(owner, key, verb, None, failure=str(exc)))
            except Exception as exc:  # a bug must still end the row, with a sentence, not leave it "starting…"
                log.exception("a transfer failed")
                inbox.put(
                    TransferDone(owner, key, verb, None, failure=_("something went wrong ({error})").format(error=exc))
                )

        fire_and_forget(work, name="ocm-gui-transfer")

    def cancel(self, key: int) -> None:
        transfer = self.transfers.get(key)
        if transfer is not None:
            transfer.cancel.set()
            transfer.speed.configure(text=_("cancelling…"))

    def _end_transfer(self, key: int) -> Transfer | None:
        transfer = self.transfers.pop(key, None)
        if transfer is not None:
            for widget in (transfer.row, transfer.bar, transfer.speed, transfer.button):
                widget.destroy()
            if not self.transfers:
                self.area.grid_remove()
        return transfer

    def _on_progress(self, report: TransferProgress) -> None:
        self._progress(report.key, report.done, report.total)

    def _on_done(self, report: TransferDone) -> None:
        transfer = self._end_transfer(report.key)
        if report.failed:
            if transfer is not None:
                what = _("cancelled") if report.failure is None else report.failure
                self.window.show_line(
                    _("{transfer}: {outcome}").format(transfer=transfer.title, outcome=what),
                    ("notice",) if report.failure is None else ("error",),
                )
        elif report.verb == "saved":
            self.saved.append(report.result)
            line = self.lines.get(transfer.file_id) if transfer is not None else None
            if line is not None:
                line.saved = Path(report.result)
                self._add_open_buttons(line)
            self.window.show_line(_("Saved {path}").format(path=report.result), ("notice",))
        elif transfer is not None:
            log.info("%s: done", transfer.title)

    def _on_picture(self, report: PictureReady) -> None:
        self._show_picture(report.file_id, report.path, report.thumbnail)

    def _on_not_picture(self, report: NotAPicture) -> None:
        log.info("showing %s as a plain file: %s", report.file_id, report.reason)
        if report.file_id in self.lines:
            self.lines[report.file_id].plain_reason = report.reason

    def _progress(self, key: int, done: int, total: int) -> None:
        transfer = self.transfers.get(key)
        if transfer is None or transfer.cancel.is_set():
            return
        transfer.bar.configure(value=1.0 if total == 0 else done / total)
        elapsed = max(time.monotonic() - transfer.started, 1e-3)
        transfer.speed.configure(
            text=_("{speed}/s · {percent}%").format(
                speed=size_text(int(done / elapsed)), percent=100 if total == 0 else done * 100 // total
            )
        )

    def room_closed(self) -> None:
        self.share_button.state(["disabled"])
        if self.file_menu is not None:
            self.file_menu.entryconfigure(0, state="disabled")

    def room_reopened(self, client) -> None:
        """Joined the room again with `client` (Rejoin): sharing and saving go through it."""
        self.client = client
        self.share_button.state(["!disabled"])
        if self.file_menu is not None:
            self.file_menu.entryconfigure(0, state="normal")

    def close(self) -> None:
        """The window goes away: cancel every transfer; the picture cache goes with it."""
        self._closed.set()
        self._inbox.forget(self.owner)
        for transfer in self.transfers.values():
            transfer.cancel.set()
        if self._cache is not None:
            shutil.rmtree(self._cache, ignore_errors=True)


def _thumbnail(path: Path, box: tuple[int, int] = THUMBNAIL):
    """A decoded copy of the picture at `path` scaled to fit `box` (off the Tk thread); raises if it
    does not decode. The whole picture is decoded: a truncated one fails here, not later."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        picture = image.convert("RGBA") if image.mode not in ("RGB", "RGBA") else image.copy()
    picture.thumbnail(box)
    return picture


def _send_folder(client: ports.RoomClient, path: Path, progress) -> str:
    return client.send_folder(path, progress=progress)
