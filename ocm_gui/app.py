"""The app: one main window on the Tk root, the rooms in its sidebar; dialogs are Toplevels.

``run_app(argv)`` is the entry point: it hands its arguments to a copy already running
(and returns), or opens the main window, joins again the rooms of the last run, runs the
mainloop and returns the exit code. Each room's view owns its own client, so several
rooms in one process share nothing by accident; hosted rooms share the bundled server.
"""

from __future__ import annotations

import argparse
import gc
import logging
import logging.handlers
import os
import queue
import signal
import sqlite3
import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any, TypeVar

from ocm_core import i18n, paths
from ocm_core.errors import BadLink, ClientError, OCMError, ProtocolError, RoomNotFound
from ocm_core.i18n import _, ngettext
from ocm_core.net.recorder import RoomRecorder, conversation_for
from ocm_core.sansio.presence import Presence
from ocm_core.storage import export
from ocm_core.storage.filenames import safe_name
from ocm_core.storage.history import Conversation, HistoryStore, Match, fold
from ocm_core.wire.links import InviteLink, parse_link
from ocm_core.words import size_text
from ocm_gui import appearance, autostart, single_instance, theme
from ocm_gui.backend import Backend
from ocm_gui.background import fire_and_forget, run_in_thread, wait_for_background
from ocm_gui.chat.confirm import Confirm
from ocm_gui.chat.direct import DirectWindow
from ocm_gui.chat.keptpage import KeptPage
from ocm_gui.chat.window import ChatWindow
from ocm_gui.dialogs.base import Dialog
from ocm_gui.dialogs.host import HostDialog
from ocm_gui.dialogs.join import JoinDialog
from ocm_gui.dialogs.linkjoin import LinkPrompt
from ocm_gui.dialogs.search import SearchWindow
from ocm_gui.dialogs.start import StartWindow
from ocm_gui.icons import icon_files
from ocm_gui.inbox import inbox_for
from ocm_gui.main.directs import DirectConversations
from ocm_gui.main.rules import next_index, window_title
from ocm_gui.main.sidebar import RoomList
from ocm_gui.main.switcher import QuickSwitcher
from ocm_gui.notify.alerts import Notifications
from ocm_gui.settings import Settings
from ocm_gui.text import emoji, tkwords
from ocm_gui.tray import Tray, TrayChose, TrayClicked, tray_offered

D = TypeVar("D", bound=Dialog)
T = TypeVar("T")

# Ctrl+Tab and Ctrl+Shift+Tab go round the rooms, Control on macOS too (Cmd+Tab is the
# system's app switcher there, and Ctrl+Tab is what its browsers use); X11 calls Shift+Tab
# ISO_Left_Tab.
STEP_KEYS = tuple(
    (f"<Control-{key}>", step)
    for key, step in (("Tab", 1), ("Shift-Tab", -1), ("Shift-ISO_Left_Tab", -1), ("ISO_Left_Tab", -1))
)

log = logging.getLogger(__name__)

APP_TITLE = "Online Chat Messenger"
LOG_FILE_NAME = "app.log"


def log_file_path() -> Path:
    """The app's log file, in the platform's log directory (the windowed build has no console)."""
    return paths.log_dir() / LOG_FILE_NAME


def set_window_icon(root: tk.Tk) -> None:
    try:
        # Kept on the root: Tk forgets an image whose Python object is collected.
        images = [tk.PhotoImage(master=root, file=str(f)) for f in icon_files()]
        root.__dict__["icon_images"] = images
        if images:
            root.iconphoto(True, *images)  # True: every later Toplevel gets it too
    except tk.TclError as exc:
        log.info("no window icon: %s", exc)


@dataclass(frozen=True)
class LaunchedAgain:
    """Another launch of the app handed over its arguments (a link, or nothing: come forward)."""

    args: tuple[str, ...]


@dataclass(frozen=True)
class QuitWanted:
    """The system asks the app to end (logout, shutdown, a SIGTERM): leave every room properly."""


class Arrivals:
    """Clients a worker has joined that the Tk thread has not shown yet. Quit leaves them too:
    a logout's SIGTERM can come between the server's yes and the Tk thread's turn, and a
    client nobody shows would stay in its room until the server's timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[Any] = set()
        self.closed = False

    def joined(self, client) -> bool:
        """A worker's client is in its room: held until shown; False once the app quits
        (the worker then leaves at once)."""
        with self._lock:
            if self.closed:
                return False
            self._held.add(client)
            return True

    def shown(self, client) -> None:
        with self._lock:
            self._held.discard(client)

    def close(self) -> list[Any]:
        """The app quits: no more arrivals; the ones not shown, to be left."""
        with self._lock:
            self.closed = True
            held, self._held = list(self._held), set()
        return held


@dataclass(eq=False)
class GoneRoom:
    """A room the app was in when it last ran that is not there any more (a sidebar row, greyed)."""

    link: str  # "" for a room only the history remembers (it ended)
    room: str
    server: str
    hosted: bool
    reason: str
    conversation: int | None = None  # its history on this PC (ocm_core.storage.history)
    around_line: int | None = None  # open its page at this line (a search result)
    ended: bool = False  # the room itself is over (not only out of reach)
    new_room: bool = False  # and a new room has its name on that server now


class App:
    """The main window: the rooms in a sidebar, the room shown beside it, the start page
    when none is. Closing the window does not leave any room; Quit does."""

    def __init__(
        self,
        root: tk.Tk,
        settings: Settings | None = None,
        backend: Backend | None = None,
        *,
        tray_available: bool = False,
        history: HistoryStore | None = None,
    ):
        """`history`: the person's history on this PC (default: opened from the data folder)."""
        self.root = root
        self.settings = settings if settings is not None else Settings.load()
        self.backend = backend if backend is not None else Backend()
        self.chats: list[ChatWindow] = []
        self.gone: list[GoneRoom] = []
        self.dialogs: dict[type, Dialog] = {}
        self.closing = False
        self.problem: tk.Toplevel | None = None  # the window that reports a failed callback
        self.shown: object | None = None  # the sidebar key of the room shown; None: the start page
        self.window_focused = True
        self.tray_available = tray_available
        self.tray: Tray | None = None
        self.tray_menu: tk.Menu | None = None
        self.switcher: QuickSwitcher | None = None
        self.confirm: Confirm | None = None
        self.link_prompt: LinkPrompt | None = None
        self.note: tk.Toplevel | None = None  # "the app keeps running", said once
        self.arrivals = Arrivals()
        self.notifications = Notifications(root, self.settings)
        self.history: HistoryStore | None = history if history is not None else open_history()
        if self.history is not None and self.history.keep_days:
            store = self.history
            run_in_thread(root, store.prune_expired, _pruned, name="ocm-gui-prune")
        self.search_window: SearchWindow | None = None

        theme.apply_theme(root)
        choice = self.settings.appearance if self.settings.appearance in appearance.CHOICES else "system"
        self.appearance = appearance.Appearance(root, choice)
        set_window_icon(root)
        root.title(APP_TITLE)
        root.columnconfigure(0, weight=1)
        root.rowconfigure(0, weight=1)
        self.body = ttk.Panedwindow(root, orient="horizontal")
        self.body.grid(row=0, column=0, sticky="nsew")
        self.sidebar = RoomList(self.body, on_select=self.show_room, on_new=self.show_start)
        self.content = ttk.Frame(self.body)
        self.content.columnconfigure(0, weight=1)
        self.content.rowconfigure(0, weight=1)
        self.body.add(self.sidebar.frame, weight=0)
        self.body.add(self.content, weight=1)
        self.start = self._make_start(self.settings.name)
        self.directs = DirectConversations(self)
        self._build_menu()
        tkwords.speak(self.root, i18n.current_language())  # Tk's own file chooser and message boxes too
        self._say_if_kept()
        self._bind_keys()
        self._place_window()
        root.protocol("WM_DELETE_WINDOW", self.close_window)
        # A wider sidebar leaves the room less: the window's minimum follows the sash.
        self.body.bind("<ButtonRelease-1>", lambda e: self._fit_min_size(), add="+")
        root.bind("<FocusIn>", lambda e: self._window_focus(True), add="+")
        root.bind("<FocusOut>", lambda e: self._window_focus(False), add="+")
        inbox = inbox_for(root)
        inbox.handle(LaunchedAgain, lambda m: self.launched_again(list(m.args)))
        inbox.handle(QuitWanted, lambda m: self.quit())
        inbox.handle(TrayClicked, lambda m: self.pop_up_tray_menu())
        inbox.handle(TrayChose, lambda m: self._tray_chose(m.what))
        self.show_start()
        if self.settings.name:
            self.start.host_button.focus_set()
        else:
            self.start.name_entry.focus_set()

    # -- the window
    def _make_start(self, name: str) -> StartWindow:
        start = StartWindow(
            self.content,
            name=name,
            on_host=self.open_host_dialog,
            on_join=self.open_join_dialog,
            language=self.settings.language,
            on_language=self.set_language,
        )
        start.grid(row=0, column=0, sticky="nsew")
        if self.shown is not None:
            start.grid_remove()
        self.start = start
        self._fit_min_size()
        return start

    def _fit_min_size(self) -> None:
        """Never smaller than what the page shown asks for: at a large Tk scaling or in a
        wordier language a fixed minimum cut the buttons' captions. (The start page is wider
        than a room needs, so the minimum follows the page.)"""
        self.root.update_idletasks()
        least_width, least_height = theme.window_size(self.root, 640, 400)
        chat = self.shown_chat
        if chat is not None:
            width, height = chat.least_size()
        else:
            width, height = self.start.winfo_reqwidth(), self.start.winfo_reqheight()
        # The sidebar as drawn (the sash may make it narrower than it asks), else as it asks.
        side = self._sidebar_width() or self.sidebar.frame.winfo_reqwidth()
        side += self._sash_width()
        self.root.minsize(
            min(max(least_width, width + side), self.root.winfo_screenwidth() * 9 // 10),
            min(max(least_height, height), self.root.winfo_screenheight() * 9 // 10),
        )

    def _sash_width(self) -> int:
        """The sash between the sidebar and the room, as drawn (a guess before it is)."""
        drawn = self.body.winfo_width() - self.content.winfo_width() - self._sidebar_width()
        return drawn if self.content.winfo_width() > 1 and 0 <= drawn < 40 else theme.scaled(self.root, 6)

    def _sidebar_width(self) -> int:
        try:
            return int(self.body.sashpos(0))
        except tk.TclError:  # one pane only, or not drawn yet
            return 0

    def _place_window(self) -> None:
        """Where the person left it: size, position and the sidebar's width."""
        default = "{}x{}".format(*theme.window_size(self.root, 940, 600))
        try:
            self.root.geometry(self.settings.window_geometry or default)
        except tk.TclError:
            self.root.geometry(default)
        self.root.update_idletasks()
        # A quarter of the window at most: at double scaling on a small screen the room needs the rest.
        width = self.settings.sidebar_width or min(theme.scaled(self.root, 190), self.root.winfo_width() // 4)
        try:
            self.body.sashpos(0, width)
        except tk.TclError:
            pass

    def _remember_place(self) -> None:
        try:
            if self.root.state() == "normal" and self.root.winfo_width() > 1:
                self.settings.window_geometry = self.root.geometry()
            self.settings.sidebar_width = int(self.body.sashpos(0))
        except tk.TclError:
            return
        self.settings.save()

    def _build_menu(self) -> None:
        menubar = self.menubar = tk.Menu(self.root)
        chat_menu = self.chat_menu = tk.Menu(menubar, tearoff=0, postcommand=self._chat_menu_shown)
        accel = {key: key_label(key) for key in ("k", "w", "q", "o", "f")}
        chat_menu.add_command(label=_("Host a room…"), command=self.open_host_dialog)
        chat_menu.add_command(label=_("Join a room…"), command=self.open_join_dialog)
        chat_menu.add_separator()
        chat_menu.add_command(label=_("Switch room…"), command=self.open_switcher, accelerator=accel["k"])
        chat_menu.add_command(label=_("Leave this room"), command=self.leave_shown)
        chat_menu.add_checkbutton(
            label=_("Show me as away"), variable=self.directs.away_by_hand, command=self.directs.choose_away
        )
        chat_menu.add_command(label=_("Room topic…"), command=lambda: self._host_tool("ask_topic"))
        self.host_tool_entries: tuple[int, ...] = (chat_menu.index("end") or 0,)
        chat_menu.add_command(label=_("Room password…"), command=lambda: self._host_tool("ask_password"))
        self.host_tool_entries += (chat_menu.index("end") or 0,)
        chat_menu.add_separator()
        self.start_at_login = tk.BooleanVar(self.root, value=bool(self.settings.start_at_login))
        chat_menu.add_checkbutton(
            label=_("Start at login"), variable=self.start_at_login, command=self._start_at_login_changed
        )
        looks = tk.Menu(chat_menu, tearoff=0)
        self.appearance_var = tk.StringVar(self.root, value=self.appearance.choice)
        for value, label in appearance.APPEARANCE_CHOICES:
            looks.add_radiobutton(
                label=_(label), value=value, variable=self.appearance_var, command=self._appearance_changed
            )
        chat_menu.add_cascade(label=_("Appearance"), menu=looks)
        chat_menu.add_separator()
        chat_menu.add_command(label=_("Close window"), command=self.close_window, accelerator=accel["w"])
        chat_menu.add_command(label=_("Quit"), command=self.ask_quit, accelerator=accel["q"])
        menubar.add_cascade(label=_("Chat"), menu=chat_menu)
        file_menu = self.file_menu = tk.Menu(menubar, tearoff=0, postcommand=self._file_menu_shown)
        self.auto_save_var = tk.BooleanVar(self.root, value=False)
        file_menu.add_command(
            label=_("Share a file…"), command=lambda: self._in_shown(lambda c: c.files.share()), accelerator=accel["o"]
        )
        file_menu.add_command(
            label=_("Share a folder…"), command=lambda: self._in_shown(lambda c: c.files.share_a_folder())
        )
        file_menu.add_command(
            label=_("Save the last file as…"), command=lambda: self._in_shown(lambda c: c.files.save_last_as())
        )
        file_menu.add_separator()
        file_menu.add_checkbutton(
            label=_("Save pictures automatically"),
            variable=self.auto_save_var,
            command=lambda: self._in_shown(lambda chat: chat.files.set_auto_save_pictures(self.auto_save_var.get())),
        )
        self.auto_save_entry = file_menu.index("end") or 0
        menubar.add_cascade(label=_("File"), menu=file_menu)
        history_menu = self.history_menu = tk.Menu(menubar, tearoff=0, postcommand=self._history_menu_shown)
        history_menu.add_command(label=_("Find in this room…"), command=self.find_in_room, accelerator=accel["f"])
        history_menu.add_command(
            label=_("Search all rooms…"), command=self.open_search, accelerator=key_label("Shift+F")
        )
        history_menu.add_command(label=_("Save conversation as…"), command=lambda: self.save_conversation())
        history_menu.add_separator()
        keeping = self._history_call(lambda st: st.keeping, False)
        self.keep_history = tk.BooleanVar(self.root, value=bool(keeping))
        history_menu.add_checkbutton(
            label=_("Keep history on this PC"), variable=self.keep_history, command=self._keeping_changed
        )
        keep_for = tk.Menu(history_menu, tearoff=0)
        self.keep_days = tk.IntVar(self.root, value=self._history_call(lambda st: st.keep_days, 0) or 0)
        for days, label in ((0, _("Forever")), (365, _("1 year")), (30, _("30 days"))):
            keep_for.add_radiobutton(label=label, value=days, variable=self.keep_days, command=self._keep_for_changed)
        history_menu.add_cascade(label=_("Keep for"), menu=keep_for)
        history_menu.add_command(label=_("Forget this room…"), command=lambda: self.ask_forget_room())
        history_menu.add_command(label=_("Forget everything…"), command=self.ask_forget_everything)
        history_menu.add_separator()
        history_menu.add_command(label=_("History on this PC: {size}").format(size="…"), state="disabled")
        self.history_size_entry = history_menu.index("end") or 0
        if self.history is None:
            for entry in range(self.history_size_entry + 1):
                if history_menu.type(entry) != "separator":
                    history_menu.entryconfigure(entry, state="disabled")
        menubar.add_cascade(label=_("History"), menu=history_menu)
        self.notifications.add_menu(menubar)
        self.root.configure(menu=menubar)

    def _bind_keys(self) -> None:
        root = self.root
        for number in range(1, 10):
            root.bind(theme.shortcut(f"Key-{number}"), self._nth_room_key(number - 1))
        for sequence, step in STEP_KEYS:
            try:
                root.bind(sequence, self._step_key(step))
            except tk.TclError:
                pass  # ISO_Left_Tab is an X11 key name
        root.bind(theme.shortcut("k"), lambda e: self.open_switcher())
        root.bind(theme.shortcut("K"), lambda e: self.open_switcher())
        root.bind(theme.shortcut("w"), lambda e: self.close_window())
        root.bind(theme.shortcut("q"), lambda e: self.ask_quit())
        root.bind(theme.shortcut("o"), lambda e: self._in_shown(lambda c: c.files.share()))
        root.bind(theme.shortcut("r"), lambda e: self._in_shown(lambda c: c.retry_failed()))
        root.bind(theme.shortcut("f"), lambda e: self.find_in_room())
        root.bind(theme.shortcut("F"), lambda e: self.open_search())

    def _room_keys(self, chat: ChatWindow | DirectWindow) -> None:
        """The main window's shortcuts also work where the room's text widgets have keys of
        their own (Tk's Text takes Ctrl+K to cut a line and Tab to move on)."""
        for widget in (chat.input, chat.text):
            widget.bind(theme.shortcut("k"), lambda e: self._break(self.open_switcher))
            widget.bind(theme.shortcut("f"), lambda e: self._break(self.find_in_room))  # not Tk's forward-char
            widget.bind(theme.shortcut("F"), lambda e: self._break(self.open_search))
            for sequence, step in STEP_KEYS:
                try:
                    widget.bind(sequence, self._step_key(step))
                except tk.TclError:
                    pass

    def room_keys_for(self, page) -> None:
        """The main window's shortcuts in a page's text widgets (a room's, or a direct conversation's)."""
        self._room_keys(page)

    def _nth_room_key(self, index: int) -> Callable[[tk.Event], str]:
        return lambda _event: self._nth_room(index)

    def _step_key(self, step: int) -> Callable[[tk.Event], str]:
        return lambda _event: self.step_room(step)

    @staticmethod
    def _break(action: Callable[[], object]) -> str:
        action()
        return "break"

    def _window_focus(self, focused: bool) -> None:
        self.window_focused = focused
        shown = self.shown
        if isinstance(shown, (ChatWindow, DirectWindow)):
            shown.set_looking(focused)
            if isinstance(shown, DirectWindow) and focused:
                self.sidebar.set_unread(shown, 0)
                self._update_title()

    def set_language(self, choice: str) -> None:
        """Speak another language ("" = the system's) from now on: the start page and the
        menus are built again at once; rooms open now keep their words."""
        self.settings.update(language=choice)
        i18n.use_language(choice)
        typed = self.start.name_var.get()
        self.start.destroy()
        self.start = self._make_start(typed)
        self._build_menu()
        tkwords.speak(self.root, i18n.current_language())  # Tk's own file chooser and message boxes too
        self.start.language_box.focus_set()

    # -- pages
    @property
    def shown_chat(self) -> ChatWindow | None:
        return self.shown if isinstance(self.shown, ChatWindow) else None

    def _pages(self) -> list[tk.Widget]:
        pages: list[tk.Widget] = [self.start, *(chat.page for chat in self.chats)]
        pages += [window.page for window in self.directs.windows.values()]
        if self.link_prompt is not None:
            pages.append(self.link_prompt.frame)
        if self.gone_page is not None:
            pages.append(self.gone_page)
        return pages

    kept_page: KeptPage | None = None
    shown_before: object | None = None  # the page shown until now (told it is no longer looked at)

    @property
    def gone_page(self) -> ttk.Frame | None:
        return self.kept_page.frame if self.kept_page is not None else None

    def _show_page(self, page: tk.Widget, key: object | None) -> None:
        previous = self.shown_chat
        for other in self._pages():
            if other is not page:
                other.grid_remove()
        page.grid(row=0, column=0, sticky="nsew")
        self.shown = key
        if previous is not None and previous is not key:
            previous.set_looking(False)
        if isinstance(self.shown_before, DirectWindow) and self.shown_before is not key:
            self.shown_before.set_looking(False)
        self.shown_before = key
        self.sidebar.select(key if key in self.sidebar.rows else None)
        self.notifications.showing(key.link if isinstance(key, ChatWindow) else None)
        self._update_title()
        self._fit_min_size()

    def show_start(self) -> None:
        self._drop_gone_page()
        self._show_page(self.start, None)
        self.start.set_rooms(len(self.chats))
        self.start.host_button.focus_set()

    def show_room(self, key: object) -> None:
        if isinstance(key, GoneRoom):
            self._show_gone(key)
            return
        if isinstance(key, DirectWindow):
            if key.destroyed:
                return
            self._drop_gone_page()
            self._show_page(key.page, key)
            key.set_looking(self.window_focused)
            self.sidebar.set_unread(key, 0)
            key.input.focus_set()
            self._update_title()
            return
        if not isinstance(key, ChatWindow) or key not in self.chats:
            return
        self._drop_gone_page()
        self._show_page(key.page, key)
        key.set_looking(self.window_focused)
        if key.input_enabled():
            key.input.focus_set()

    def _nth_room(self, index: int) -> str:
        keys = self.sidebar.keys()
        if 0 <= index < len(keys):
            self.show_room(keys[index])
        return "break"

    def step_room(self, step: int) -> str:
        keys = self.sidebar.keys()
        current = keys.index(self.shown) if self.shown in keys else None
        index = next_index(current, len(keys), step)
        if index is not None:
            self.show_room(keys[index])
        return "break"

    def open_switcher(self) -> str:
        if self.switcher is not None and not self.switcher.closed:
            self.switcher.win.lift()
            self.switcher.entry.focus_force()
            return "break"
        keys = self.sidebar.keys()
        self.switcher = QuickSwitcher(
            self.root, [self.sidebar.label(k) for k in keys], lambda i: self.show_room(keys[i])
        )
        return "break"

    def update_title(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        unread = sum(chat.unread for chat in self.chats) + sum(w.unread for w in self.directs.windows.values())
        chat = self.shown_chat
        room = chat.room if chat is not None else getattr(self.shown, "room", None)
        self.root.title(window_title(APP_TITLE, room, unread))

    def _in_shown(self, action: Callable[[ChatWindow], object]) -> str:
        chat = self.shown_chat
        if chat is not None and not chat.destroyed:
            action(chat)
        return "break"

    # -- dialogs
    def _open_dialog(self, cls: type[D], on_success) -> D:
        existing = self.dialogs.get(cls)
        if isinstance(existing, cls) and not existing.closed:
            existing.win.lift()
            existing.focus_first_field()
            return existing
        self.settings.name = self.start.name  # the dialog starts from what the start page shows
        dialog = cls(
            self.root,
            backend=self.backend,
            settings=self.settings,
            on_success=on_success,
            on_close=lambda d: self._forget_dialog(d),
        )
        self.dialogs[cls] = dialog
        return dialog

    def _forget_dialog(self, dialog: Dialog) -> None:
        self.dialogs.pop(type(dialog), None)
        if dialog.cancelled and not self.closing:
            self._keep_typed(dialog.typed())

    def _keep_typed(self, kept: dict[str, str]) -> None:
        """A cancelled dialog loses nothing typed: its name goes back to the start page and
        the rest waits in memory for the next dialog (saved with the next host or join)."""
        name = kept.pop("name", "")
        if name:
            self.start.name_var.set(name)
            self.settings.name = name
        for key, value in kept.items():
            setattr(self.settings, key, value)

    def open_host_dialog(self) -> HostDialog:
        return self._open_dialog(HostDialog, self._hosted)

    def open_join_dialog(self) -> JoinDialog:
        dialog = self._open_dialog(JoinDialog, self._joined)
        dialog.on_link = lambda link, name: self.open_link(link, name=name or None)
        dialog.room_open = self._show_if_open
        return dialog

    def _show_if_open(self, host: str, port: int, room: str, name: str) -> bool:
        """Show the room if the app is in it already, on that server under that name (joining
        again would only hear "name taken"); True if so. Another name joins: a second person
        at the same computer."""
        for chat in self.chats:
            client = chat.client
            same = chat.room == room and chat.username == name and (client.server_host, client.tcp_port) == (host, port)
            if same and not chat.room_closed:
                self.show_window()
                self.show_room(chat)
                return True
        return False

    def _hosted(self, server, client, share_address: str) -> None:
        self.open_chat(client, server=server, share_address=share_address)

    def _joined(self, client) -> None:
        self.open_chat(client)

    # -- rooms
    def open_chat(self, client, server=None, share_address: str | None = None, *, show: bool = True) -> ChatWindow:
        """Add a room the client is in to the sidebar (and show it)."""
        self.start.name_var.set(client.username)
        link = invite_link(client, share_address)
        server_text = _server_text(client)
        recorder = self._recorder_for(client, server_text)
        chat = ChatWindow(
            self.root,
            client,
            server=server,
            share_address=share_address,
            settings=self.settings,
            on_close=self._chat_closed,
            on_back=self._left,
            backend=self.backend,
            container=self.content,
            on_unread=self._unread_changed,
            on_wanted=self._wanted,
            link=link,
            recorder=recorder,
            on_search=self.search_room,
            on_direct=self.directs.arrived,
            on_message=lambda name: self.directs.open(chat, name),
            on_rejoined=self.directs.rejoined,
        )
        if recorder is not None:
            for kept in [g for g in self.gone if g.conversation == recorder.conversation]:
                self.gone.remove(kept)
                self.sidebar.remove(kept)
        chat.alerts = self.notifications.watch(chat)
        self._room_keys(chat)
        self.chats.append(chat)
        self._forget_gone(link)
        self.sidebar.add(chat, room=chat.room, server=server_text, hosted=chat.is_host)
        self._tray_rooms()
        if link:
            self._remember_room(link, hosted=chat.is_host)
        self._fit_min_size()
        if self.directs.me.state is Presence.AWAY:
            self.directs.say_presence(chat)
        self.directs.room_opened(chat)
        if show:
            self.show_room(chat)
        else:
            chat.page.grid_remove()
            chat.set_looking(False)
        return chat

    def _unread_changed(self, chat: ChatWindow) -> None:
        self.sidebar.set_unread(chat, chat.unread)
        self.sidebar.set_gone(chat, chat.room_closed, ended=chat.room_ended)
        if chat.room_closed:  # the room ended (or the server forgot us): its direct conversations know
            self.directs.room_over(chat, ended=chat.room_ended)
        self._update_title()

    def _wanted(self, chat: ChatWindow) -> None:
        """A notification of `chat` was clicked: the window comes forward showing that room."""
        self.show_window()
        self.show_room(chat)

    def _left(self, chat: ChatWindow) -> None:
        """The person left the room (or put away one that ended): not rejoined at the next start,
        and off the list (its history stays, searchable)."""
        if chat.link:
            self._forget_room(chat.link)
        if chat.recorder is not None:
            conversation = chat.recorder.conversation
            self._history_call(lambda store: store.set_listed(conversation, False))

    # -- the history on this PC
    def server_label(self, chat: ChatWindow) -> str:
        """The server's address as the sidebar shows it."""
        return _server_text(chat.client)

    def history_call(self, work: Callable[[HistoryStore], T], default: T | None = None) -> T | None:
        return self._history_call(work, default)

    def _history_call(self, work: Callable[[HistoryStore], T], default: T | None = None) -> T | None:
        """`work(store)`, or `default` without a history or when the database fails (logged:
        the history is the person's copy, never a reason for the chat to stop)."""
        if self.history is None:
            return default
        try:
            return work(self.history)
        except (sqlite3.Error, OSError) as exc:
            log.warning("the history on this PC failed: %s", exc)
            return default

    def _recorder_for(self, client, server: str) -> RoomRecorder | None:
        store = self.history
        if store is None or not self._history_call(lambda st: st.keeping, False):
            return None
        conversation = self._history_call(
            lambda st: conversation_for(st, client, server=server, hosted=bool(client.is_host))
        )
        if conversation is None:
            return None
        self._history_call(lambda st: st.set_listed(conversation, True))
        return RoomRecorder(store, conversation, client.username or "")

    def _conversation_of(self, link: InviteLink) -> Conversation | None:
        """The newest conversation kept for the room a saved link names."""
        return self._history_call(lambda st: st.newest_named(link.fingerprint, link.room))

    def _ended_while_away(self, client, link: InviteLink) -> str | None:
        """When the room a saved link names is another one now (the old one ended, while the app
        was not running or before it quit, and someone made one of the same name): the old
        conversation is marked ended, and the sentence that says so comes back."""
        old = self._conversation_of(link)
        if old is None or not client.room_id or old.room_id == client.room_id:
            return None
        return self._ended_before(link)

    def _ended_before(self, link: InviteLink) -> str:
        """The conversation of a saved link ended (marked so now if it was not yet): the
        sentence that says a new room has the name."""
        old = self._conversation_of(link)
        if old is not None and old.ended is None:
            self._history_call(lambda st: st.mark_ended(old.id, _("The room ended while you were away.")))
        return _(
            "“{room}” has ended. A new room of that name is open there now: join it to start a new conversation."
        ).format(room=link.room)

    def _list_ended_rooms(self) -> None:
        """Rooms that ended with their history kept, greyed in the sidebar until removed."""
        listed = {g.conversation for g in self.gone}
        for conversation in self._history_call(lambda st: st.conversations()) or []:
            if conversation.ended is None or not conversation.listed or conversation.id in listed:
                continue
            self._add_kept(conversation)

    def _add_kept(self, conversation, around_line: int | None = None) -> GoneRoom:
        gone = GoneRoom(
            "",
            conversation.room,
            conversation.server,
            conversation.hosted,
            conversation.ended_reason or _("The room ended."),
            conversation.id,
            around_line,
            ended=conversation.ended is not None,
        )
        self.gone.append(gone)
        self.sidebar.add(gone, room=gone.room, server=gone.server, hosted=gone.hosted)
        self.sidebar.set_gone(gone, ended=gone.ended)
        self._keep_saved_order()
        self._tray_rooms()
        return gone

    def find_in_room(self) -> str:
        """Ctrl+F: find in the room shown (its page, when it is not open)."""
        chat = self.shown_chat
        if chat is not None and not chat.destroyed:
            chat.find()
        elif self.kept_page is not None:
            self.kept_page.find()
        return "break"

    def open_search(self) -> str:
        """Ctrl+Shift+F: search the history of every room."""
        if self.history is None:
            self._show_problem(_("Your history is not kept on this PC, so there is nothing to search."))
            return "break"
        if self.search_window is not None and not self.search_window.closed:
            self.search_window.win.lift()
            self.search_window.entry.focus_force()
            return "break"
        self.search_window = SearchWindow(self.root, self.history, on_open=self.open_match)
        return "break"

    def search_room(self, conversation: int, query: str) -> None:
        """The find bar's Older…: the room's whole history, in the search window."""
        found = self._history_call(lambda st: st.get(conversation))
        if self.history is None or found is None:
            return
        if self.search_window is not None and not self.search_window.closed:
            self.search_window.close()
        self.search_window = SearchWindow(
            self.root, self.history, on_open=self.open_match, conversation=conversation, room=found.room, query=query
        )

    def open_match(self, match: Match, query: str) -> None:
        """Show the room of a search result at its line: the room itself when it is open and
        shows that line, else its kept page opened around the line. The main window comes
        in front of the search window (which stays, for the next result)."""
        self.root.lift()
        self.root.focus_force()
        live = next((c for c in self.chats if c.recorder and c.recorder.conversation == match.conversation), None)
        if live is not None:
            self.show_room(live)
            if live.find(query).go_to_line_with(match.text):
                return
            self._show_earlier(live, match, query)  # older than the room's view holds
            return
        kept = next((g for g in self.gone if g.conversation == match.conversation), None)
        if kept is None:
            conversation = self._history_call(lambda st: st.get(match.conversation))
            if conversation is None:
                return
            self._history_call(lambda st: st.set_listed(match.conversation, True))
            kept = self._add_kept(conversation)
            if conversation.ended is None:
                kept.reason = _("You are not in this room now; what was said while you were is kept on this PC.")
        kept.around_line = match.line_id
        self.show_room(kept)
        if self.kept_page is not None:
            page_finder = self.kept_page.find(query)
            if page_finder is not None:
                page_finder.go_to_line_with(match.text)

    def _show_earlier(self, chat: ChatWindow, match: Match, query: str) -> None:
        """A room still open, at a line older than its view holds: its kept lines around that
        line, on a page of their own, with the way back to the room."""
        self._drop_gone_page()
        earlier = GoneRoom("", chat.room, _server_text(chat.client), chat.is_host, "", match.conversation)
        page = self.kept_page = KeptPage(
            self.content,
            title=chat.room,
            subtitle=_("Earlier lines of this room, kept on this PC."),
            reason="",
            actions=[
                (_("Back to the room"), lambda: self.show_room(chat)),
                (_("Save conversation as…"), lambda: self.save_conversation(match.conversation)),
            ],
            store=self.history,
            conversation=match.conversation,
            me=chat.username,
            around_line=match.line_id,
        )
        self._show_page(page.frame, earlier)
        finder = page.find(query)
        if finder is not None:
            finder.go_to_line_with(match.text)

    def _shown_conversation(self) -> int | None:
        chat = self.shown_chat
        if chat is not None:
            return chat.recorder.conversation if chat.recorder is not None else None
        return self.shown.conversation if isinstance(self.shown, GoneRoom) else None

    def save_conversation(self, conversation: int | None = None) -> Path | None:
        """Save conversation as…: the room's history as plain text or HTML."""
        if conversation is None:
            conversation = self._shown_conversation()
        found = self._history_call(lambda st: st.get(conversation)) if conversation is not None else None
        if found is None:
            self._show_problem(_("This room has no history kept on this PC to save."))
            return None
        stamp = time.strftime("%Y-%m-%d")
        kinds = [(_("Plain text"), "*.txt"), (_("Web page (HTML)"), "*.html")]
        kind = tk.StringVar(self.root, value=kinds[0][0])
        chosen = filedialog.asksaveasfilename(
            parent=self.root,
            title=_("Save conversation as"),
            initialfile=safe_name(f"{found.room} {stamp}"),
            initialdir=str(paths.downloads_dir()),
            filetypes=kinds,
            typevariable=kind,
        )
        if not chosen:
            return None
        path = Path(chosen)
        if not path.suffix:  # the kind picked in the dialog says which, when the name does not
            path = path.with_name(path.name + (".html" if kind.get() == kinds[1][0] else ".txt"))
        return self.write_conversation(found, path)

    def write_conversation(self, conversation, path: Path) -> Path | None:
        lines = self._history_call(lambda st: [line for _id, line in st.lines(conversation.id, limit=None)])
        try:
            export.save(path, conversation, lines or [])
        except OSError as exc:
            self._show_problem(_("Could not save {path}: {error}").format(path=path, error=exc.strerror or exc))
            return None
        saved = _("Saved the conversation in {path}.").format(path=path)
        chat = self.shown_chat
        if chat is not None and chat.recorder is not None and chat.recorder.conversation == conversation.id:
            chat.show_line(saved, ("notice",))
        elif self.kept_page is not None and self.kept_page.conversation == conversation.id:
            self.kept_page.reason.configure(text=saved)
        return path

    def ask_forget_room(self, conversation: int | None = None) -> None:
        """Forget this room: its history goes from this PC (asked first)."""
        if conversation is None:
            conversation = self._shown_conversation()
        found = self._history_call(lambda st: st.get(conversation)) if conversation is not None else None
        if found is None:
            return

        self._ask_first(
            _("Forget this room?"),
            _("Forget"),
            _("Delete everything kept on this PC about “{room}” on {server}? It cannot be undone.").format(
                room=found.room, server=found.server
            ),
            lambda: self.forget_room(found.id),
        )

    def _ask_first(self, title: str, yes: str, question: str, then: Callable[[], object]) -> None:
        """A question before something that cannot be undone; `then()` on yes. One at a time:
        while one is open, it comes forward instead."""
        if self.confirm is not None:
            self.confirm.win.lift()
            return

        def answered(agreed: bool) -> None:
            self.confirm = None
            if agreed:
                then()

        self.confirm = Confirm(
            self.root, title=title, yes=yes, cancel=_("Cancel"), on_answer=answered, question=question
        )

    def forget_room(self, conversation: int) -> None:
        """Delete the room's history (on a worker: leaving no trace rewrites the file)."""
        for gone in [g for g in self.gone if g.conversation == conversation]:
            gone.conversation = None
            if not gone.link:
                self._remove_gone(gone)
            elif self.shown is gone:
                self._show_gone(gone)
        self._forget_in_background(lambda store: store.forget(conversation), {conversation})

    def _forget_in_background(self, work: Callable[[HistoryStore], object], conversations: set[int] | None) -> None:
        """Run a forgetting on a worker; then rooms still open that were in it (`None`: every
        room) go on in a new conversation."""
        store = self.history
        if store is None:
            return
        # Rooms still open: what they said so far is forgotten, and stays so when the server
        # sends its recent history again at the next join.
        floors = {
            chat: chat.recorder.newest_seen
            for chat in self.chats
            if chat.recorder is not None and (conversations is None or chat.recorder.conversation in conversations)
        }

        def done(_result, error: BaseException | None) -> None:
            if error is not None:
                log.warning("forgetting failed: %s", error)
                self._show_problem(_("Could not delete the history: {error}").format(error=error))
            for chat, floor in floors.items():
                if chat.destroyed or chat.recorder is None:
                    continue
                recorder = chat.recorder = self._recorder_for(chat.client, _server_text(chat.client))
                if recorder is not None and error is None:
                    self._keep_from(recorder.conversation, floor)

        run_in_thread(self.root, lambda: work(store), done, name="ocm-gui-forget")

    def _keep_from(self, conversation: int, seq: int) -> None:
        self._history_call(lambda st: st.keep_from(conversation, seq))

    def ask_forget_everything(self) -> None:
        self._ask_first(
            _("Forget everything?"),
            _("Forget everything"),
            _("Delete the history of every room from this PC? It cannot be undone."),
            self.forget_everything,
        )

    def forget_everything(self) -> None:
        for gone in list(self.gone):
            gone.conversation = None
            if not gone.link:
                self._remove_gone(gone)
        self._forget_in_background(lambda store: store.forget_everything(), None)

    def _keeping_changed(self) -> None:
        keep = bool(self.keep_history.get())
        self._history_call(lambda st: st.set_keeping(keep))
        self._say_if_kept()
        for chat in self.chats:
            chat.recorder = self._recorder_for(chat.client, _server_text(chat.client)) if keep else None

    def _say_if_kept(self) -> None:
        store = self.history
        keeping = None if store is None else bool(self._history_call(lambda st: st.keeping))
        moved = str(store.moved_aside) if store is not None and store.moved_aside is not None else None
        self.start.set_history_note(keeping, moved)

    def _keep_for_changed(self) -> None:
        """Keep for…: older lines go at once, on a worker (leaving no trace rewrites the file)."""
        days = int(self.keep_days.get())
        self._forget_in_background(lambda store: store.set_keep_days(days), set())

    def _history_menu_shown(self) -> None:
        size = self._history_call(lambda st: st.size_bytes(), 0) or 0
        self.history_menu.entryconfigure(
            self.history_size_entry, label=_("History on this PC: {size}").format(size=size_text(size))
        )

    def _chat_closed(self, chat: ChatWindow) -> None:
        if chat in self.chats:
            self.chats.remove(chat)
        # A host's leaving ends its room (a standing room has no host: its mail stays).
        self.directs.room_over(chat, ended=chat.room_ended or chat.is_host)
        if self.closing:
            return
        self.take_off_sidebar(chat)
        self._tray_rooms()

    def take_off_sidebar(self, key: object) -> None:
        """Remove a room or conversation from the sidebar; if it was shown, the one now in its
        place (or the start page) is shown."""
        keys = self.sidebar.keys()
        at = keys.index(key) if key in keys else 0
        self.sidebar.remove(key)
        if self.shown is key:
            rest = self.sidebar.keys()
            if rest:
                self.show_room(rest[min(at, len(rest) - 1)])
            else:
                self.show_start()
        self._update_title()

    def _file_menu_shown(self) -> None:
        """ "Save pictures automatically" is the room's shown, ticked as it is set for it."""
        chat = self.shown_chat
        self.auto_save_var.set(bool(chat is not None and chat.files.auto_save_pictures))
        self.file_menu.entryconfigure(self.auto_save_entry, state="normal" if chat is not None else "disabled")

    def _chat_menu_shown(self) -> None:
        """The host's tools are offered to the host of the room shown, on a server that takes them."""
        chat = self.shown_chat
        hosting = chat is not None and not chat.room_closed and chat.client.is_host and chat.client.speaks_actions
        for entry in self.host_tool_entries:
            self.chat_menu.entryconfigure(entry, state="normal" if hosting else "disabled")

    def _host_tool(self, name: str) -> None:
        """The host's topic or password for the room shown (said why not to anyone else)."""
        chat = self.shown_chat
        if chat is None or chat.room_closed:
            return
        if not chat.client.is_host or not chat.client.speaks_actions:
            chat.show_line(
                _("Only the host can change the room's topic or password.")
                if chat.client.speaks_actions
                else _("This room's server is an older version: it does not take replies or reactions."),
                ("notice",),
            )
            return
        getattr(chat.message_actions, name)()

    def leave_shown(self) -> None:
        chat = self.shown_chat
        if isinstance(self.shown, DirectWindow):
            self.directs.close(self.shown)  # "leave" a direct conversation: off the list, kept in the history
        elif chat is not None:
            chat.ask_before(chat.back_to_start)
        elif isinstance(self.shown, GoneRoom):
            self._forget_gone(self.shown.link)

    # -- rooms kept between runs
    def _remember_room(self, link: str, *, hosted: bool) -> None:
        """Keep the room for the next start, in its place: the sidebar's order (and so
        Ctrl+1…9) stays the same from day to day, whichever rejoin finishes first."""
        rooms = list(self.settings.rooms)
        if link not in rooms:
            rooms.append(link)
        hosted_rooms = [entry for entry in self.settings.hosted_rooms if entry != link]
        if hosted:
            hosted_rooms.append(link)
        self.settings.update(rooms=rooms, hosted_rooms=hosted_rooms)
        self._keep_saved_order()

    def _keep_saved_order(self) -> None:
        """Rooms kept between runs stand in the sidebar in the saved order; others after them."""
        saved = {link: at for at, link in enumerate(self.settings.rooms)}

        def place(key) -> int:
            link = key.link if isinstance(key, (ChatWindow, GoneRoom)) else None
            return saved.get(link, len(saved)) if link else len(saved)

        keys = self.sidebar.keys()
        wanted = sorted(keys, key=lambda k: (place(k), keys.index(k)))
        if wanted != keys:
            self.sidebar.reorder(wanted)
            self._tray_rooms()

    def _forget_room(self, link: str) -> None:
        self.settings.update(
            rooms=[entry for entry in self.settings.rooms if entry != link],
            hosted_rooms=[entry for entry in self.settings.hosted_rooms if entry != link],
        )

    def rejoin_saved_rooms(self) -> None:
        """Back where the person was: join again each room the app was in when it last ran,
        under the same name; the ones that are gone are listed greyed, and so are the rooms
        that ended with their history kept on this PC, until the person removes them."""
        self._list_ended_rooms()
        self.directs.restore()
        name = self.settings.name
        for text in list(self.settings.rooms):
            try:
                link = parse_link(text)
            except BadLink as exc:
                log.warning("forgetting a saved room whose link is bad: %s", exc)
                self._forget_room(text)
                continue
            if text in self.settings.hosted_rooms:
                self._add_gone(text, link, hosted=True, reason=_("You hosted it; it closed when you quit."), ended=True)
                continue
            if not name:
                self._add_gone(text, link, hosted=False, reason=_("Enter your name to join again."))
                continue
            self._rejoin(text, link, name)

    def _rejoin(
        self, text: str, link: InviteLink, name: str, *, show_gone: bool = False, new_room_ok: bool = False
    ) -> None:
        """Join a saved room again; `new_room_ok`: even when its name now belongs to a new room
        (the person asked for it with Try again)."""
        backend = self.backend

        arrivals = self.arrivals
        old = None if new_room_ok else self._conversation_of(link)
        known_room_id = old.room_id if old is not None else None

        def work():
            client = backend.make_client(link.host, link.port, expected_fingerprint=link.fingerprint)
            if known_room_id is not None and _another_room_now(client, link.room, known_room_id):
                return None  # not joined: the others never see us come and go
            client.join_room(link.room, name)
            if not arrivals.joined(client):
                client.leave()  # the app quit meanwhile
                return None
            return client

        def done(client, error: BaseException | None) -> None:
            if client is not None:
                self.arrivals.shown(client)
            if self.closing:
                if client is not None:
                    fire_and_forget(client.leave, name="ocm-gui-leave")
                return
            if error is None and client is None and not self.closing:
                self._add_gone(text, link, hosted=False, reason=self._ended_before(link), ended=True, new_room=True)
                return
            if error is not None:
                log.info("could not rejoin %s: %s", text, error)
                # A room the server says is gone is listed once; one not reached (the network
                # not up yet at login, the server restarting) is tried again next time.
                self._add_gone(text, link, hosted=False, reason=str(error), forget=isinstance(error, RoomNotFound))
                if show_gone:
                    self.show_room(next(g for g in self.gone if g.link == text))
                return
            ended = None if new_room_ok else self._ended_while_away(client, link)
            if ended is not None:
                # Another room of the same name: not entered silently (it is a new conversation).
                fire_and_forget(client.leave, name="ocm-gui-leave")
                self._add_gone(text, link, hosted=False, reason=ended, ended=True, new_room=True)
                return
            # The first room back is shown; later ones wait in the sidebar, so nothing the
            # person is looking at moves under their hands.
            self.open_chat(client, show=self.shown is None and self.link_prompt is None)

        run_in_thread(self.root, work, done, name="ocm-gui-rejoin-saved")

    def _add_gone(
        self,
        text: str,
        link: InviteLink,
        *,
        hosted: bool,
        reason: str,
        forget: bool = True,
        ended: bool = False,
        new_room: bool = False,
    ) -> None:
        if any(gone.link == text for gone in self.gone):
            return
        old = self._conversation_of(link)
        conversation = old.id if old is not None else None
        for kept in self.gone:
            if conversation is not None and kept.conversation == conversation:
                kept.link, kept.reason, kept.hosted = text, reason, hosted  # one row for one conversation
                kept.ended, kept.new_room = kept.ended or ended, new_room
                self.sidebar.set_gone(kept, ended=kept.ended)
                if forget:
                    self._forget_room(text)
                return
        gone = GoneRoom(
            text, link.room, f"{link.host}:{link.port}", hosted, reason, conversation, ended=ended, new_room=new_room
        )
        self.gone.append(gone)
        self.sidebar.add(gone, room=gone.room, server=gone.server, hosted=hosted)
        self.sidebar.set_gone(gone, ended=ended)
        self._keep_saved_order()
        self._tray_rooms()
        if forget:  # listed once: the next start does not try it again
            self._forget_room(text)

    def _forget_gone(self, link: str | None) -> None:
        for gone in [g for g in self.gone if g.link == link]:
            self.gone.remove(gone)
            self.sidebar.remove(gone)
            if self.shown is gone:
                self.show_start()

    def _drop_gone_page(self) -> None:
        if self.kept_page is not None:
            self.kept_page.destroy()
            self.kept_page = None

    def _show_gone(self, gone: GoneRoom) -> None:
        self._drop_gone_page()
        actions: list[tuple[str, Callable[[], object]]] = []
        if gone.hosted and gone.link:
            actions.append((_("Host it again…"), lambda: self._host_again(gone)))
        elif gone.link:
            again = _("Join the new room") if gone.new_room else _("Try again")
            actions.append((again, lambda: self._try_again(gone)))
        if gone.conversation is not None and self.history is not None:
            actions.append((_("Save conversation as…"), lambda: self.save_conversation(gone.conversation)))
            actions.append((_("Forget this room…"), lambda: self.ask_forget_room(gone.conversation)))
        actions.append((_("Remove from the list"), lambda: self._remove_gone(gone)))
        if gone.link:
            subtitle = _("Could not join this room on {server} again.").format(server=gone.server)
        else:
            subtitle = _("This room on {server} has ended; what was said is kept on this PC.").format(
                server=gone.server
            )
        page = self.kept_page = KeptPage(
            self.content,
            title=gone.room,
            subtitle=subtitle,
            reason=gone.reason,
            actions=actions,
            store=self.history,
            conversation=gone.conversation,
            me=self._me_in(gone.conversation),
            around_line=gone.around_line,
        )
        gone.around_line = None
        self._show_page(page.frame, gone)
        page.buttons[0].focus_set()

    def _me_in(self, conversation: int | None) -> str:
        """The name this person had in a kept conversation (their lines are shown as their own)."""
        found = self._history_call(lambda st: st.get(conversation)) if conversation is not None else None
        return found.me if found is not None else self.settings.name

    def _remove_gone(self, gone: GoneRoom) -> None:
        """Off the list (its history stays, searchable, until forgotten)."""
        conversation = gone.conversation
        if conversation is not None:
            self._history_call(lambda store: store.set_listed(conversation, False))
        if gone.link:
            self._forget_gone(gone.link)
        elif gone in self.gone:
            self.gone.remove(gone)
            self.sidebar.remove(gone)
            if self.shown is gone:
                self.show_start()
            self._tray_rooms()

    def _host_again(self, gone: GoneRoom) -> None:
        self.settings.room = gone.room
        self._forget_gone(gone.link)
        self.open_host_dialog()

    def _try_again(self, gone: GoneRoom) -> None:
        link = parse_link(gone.link)
        if gone.new_room and gone.conversation is not None:
            # The old conversation stays listed, ended, beside the new room.
            text, gone.link, gone.new_room = gone.link, "", False
            self._forget_room(text)
            self._rejoin(text, link, self.start.name or self.settings.name, show_gone=True, new_room_ok=True)
            return
        self._forget_gone(gone.link)
        self._rejoin(gone.link, link, self.start.name or self.settings.name, show_gone=True, new_room_ok=True)

    # -- invite links and later launches
    def open_link(self, text: str, name: str | None = None) -> LinkPrompt | None:
        """Show which room a link leads to, on which server, under which name; join on Enter.
        A link never joins silently: any web page can open one."""
        try:
            link = parse_link(text)
        except BadLink as exc:
            self.show_window()
            self._show_problem(_("That invite link cannot be used: {reason}").format(reason=exc))
            return None
        self.show_window()
        for chat in self.chats:
            same_server = (chat.client.server_host, chat.client.tcp_port) == (link.host, link.port) or (
                chat.client.server_fingerprint == link.fingerprint  # the same server by another address
            )
            if chat.room == link.room and same_server and not chat.room_closed:
                self.show_room(chat)  # already in it
                return None
        if self.link_prompt is not None:
            self.link_prompt.frame.destroy()
        self._drop_gone_page()
        prompt = self.link_prompt = LinkPrompt(
            self.content,
            link,
            name=name or self.start.name or self.settings.name,
            backend=self.backend,
            arrivals=self.arrivals,
            on_joined=self._joined_by_link,
            on_cancel=self._link_cancelled,
        )
        self._show_page(prompt.frame, None)
        prompt.focus()
        return prompt

    def _joined_by_link(self, prompt: LinkPrompt, client) -> None:
        self.arrivals.shown(client)
        prompt.frame.destroy()
        if self.link_prompt is prompt:
            self.link_prompt = None
        if client.username and client.username != self.settings.name:
            self.settings.update(name=client.username)
        self.open_chat(client)

    def _link_cancelled(self, prompt: LinkPrompt) -> None:
        prompt.frame.destroy()
        if self.link_prompt is prompt:
            self.link_prompt = None
        self.show_start()

    def launched_again(self, args: list[str]) -> None:
        """Another launch handed over its arguments: come forward, and open a link if one came."""
        options = _parse_args(args, exit_on_error=False)
        if options is not None and options.link:
            self.open_link(options.link, name=options.name)
        else:
            self.show_window()

    # -- the tray icon
    def start_tray(self) -> bool:
        """Put the app's icon in the tray; from then on the close box hides the window."""
        files = icon_files()
        if not files:
            return False
        tray = Tray(
            title=APP_TITLE,
            icon=files[-1],
            put=inbox_for(self.root).put,
            words={"show": _("Show"), "rooms": _("Rooms"), "quit": _("Quit")},
        )
        if not tray.start():
            return False
        self.tray, self.tray_available = tray, True
        self._tray_rooms()
        return True

    def _tray_rooms(self) -> None:
        if self.tray is not None:
            self.tray.set_rooms([self.sidebar.label(key) for key in self.sidebar.keys()])

    def pop_up_tray_menu(self) -> None:
        """The tray's menu where the tray has none of its own (X11): Show, the rooms, Quit,
        at the pointer."""
        if self.closing:
            return
        if self.tray_menu is not None:
            self.tray_menu.destroy()
        menu = self.tray_menu = tk.Menu(self.root, tearoff=0)
        menu.add_command(label=_("Show"), command=self.show_window)
        keys = self.sidebar.keys()
        if keys:
            menu.add_separator()
        for index, key in enumerate(keys):
            menu.add_command(label=self.sidebar.label(key), command=self._tray_room_command(index))
        menu.add_separator()
        menu.add_command(label=_("Quit"), command=self.ask_quit)
        x, y = self.root.winfo_pointerxy()
        menu.tk_popup(x, y)

    def _tray_room_command(self, index: int) -> Callable[[], None]:
        return lambda: self._tray_chose(index)

    def _tray_chose(self, what: str | int) -> None:
        if what == "quit":
            self.ask_quit()
            return
        self.show_window()
        keys = self.sidebar.keys()
        if isinstance(what, int) and 0 <= what < len(keys):
            self.show_room(keys[what])

    # -- the window's close box, the app's end
    def show_window(self) -> None:
        """Bring the main window forward (a later launch, the tray, the Dock, a notification)."""
        self.root.deiconify()
        self.root.lift()
        try:
            self.root.focus_force()
        except tk.TclError:
            pass

    def close_window(self) -> None:
        """The close box hides the window and leaves no room; with no room open it quits."""
        if not self.chats:
            self.quit()
            return
        self._remember_place()
        if self.tray_available:
            self.root.withdraw()
            return
        if self.settings.told_how_to_quit:
            self.root.iconify()
            return
        self._tell_how_to_quit()

    def _tell_how_to_quit(self) -> None:
        """Said once: the app keeps running, and how to end it."""
        if self.note is not None and self.note.winfo_exists():
            self.note.lift()
            return
        note = self.note = tk.Toplevel(self.root)
        note.title(APP_TITLE)
        note.transient(self.root)
        note.resizable(False, False)
        frame = ttk.Frame(note, padding=theme.scaled(note, 16))
        frame.pack(fill="both", expand=True)
        quit_key = key_label("q")
        self.note_label = ttk.Label(
            frame,
            text=_(
                "Online Chat Messenger keeps running, so your rooms stay open and you hear of new messages. "
                "To leave every room and end it, choose Chat ▸ Quit ({key})."
            ).format(key=quit_key),
            wraplength=theme.scaled(note, 380),
            justify="left",
        )
        self.note_label.pack(anchor="w")

        def understood() -> None:
            self.settings.update(told_how_to_quit=True)
            note.destroy()
            self.note = None
            self.root.iconify()

        button = ttk.Button(frame, text=_("OK"), command=understood, style="Accent.TButton")
        button.pack(anchor="e", pady=(theme.scaled(note, 12), 0))
        button.focus_set()
        for key in ("<Return>", "<KP_Enter>", "<Escape>"):
            note.bind(key, lambda e: understood())
        note.protocol("WM_DELETE_WINDOW", understood)
        note.bind(theme.shortcut("q"), lambda e: self.ask_quit())  # the key it names works here too

    def hosting_others(self) -> int:
        """How many people are in the rooms this app hosts, besides the person."""
        return sum(chat.others() for chat in self.chats if chat.is_host and not chat.room_closed)

    def ask_quit(self) -> str:
        """Quit, asking first when it would close a room others are in."""
        others = self.hosting_others()
        if not others:
            self.quit()
            return "break"
        if self.confirm is None:
            self.show_window()
        self._ask_first(
            _("Quit?"),
            _("Quit"),
            ngettext(
                "{count} other person is in a room you host: quitting closes it for them.",
                "{count} other people are in rooms you host: quitting closes them for them.",
                others,
            ).format(count=others),
            self.quit,
        )
        return "break"

    def _appearance_changed(self) -> None:
        """Light, dark or the system's, switched at once in every window."""
        choice = self.appearance_var.get()
        self.appearance.set_choice(choice)
        self.settings.update(appearance=choice)

    def _start_at_login_changed(self) -> None:
        wanted = bool(self.start_at_login.get())
        try:
            if wanted:
                autostart.enable_start_at_login(autostart.app_command())
            else:
                autostart.disable_start_at_login()
        except OSError as exc:
            log.warning("could not change start at login: %s", exc)
            self.start_at_login.set(not wanted)
            self._show_problem(_("Could not change Start at login: {error}").format(error=exc))
            return
        self.settings.update(start_at_login=wanted)

    # -- a callback that raised
    def report_callback_exception(self, exc_type, value, tb) -> None:
        """Tk calls this for an exception in any callback (set on the root by run_app): log it
        with its traceback and tell the person in a small window, never silently."""
        log.error("a window action failed", exc_info=(exc_type, value, tb))
        if self.closing:
            return
        try:
            self._show_problem(
                _(
                    "Something went wrong: {error}\nThe details are in {path}. You can go on; "
                    "if it happens again, restart the app."
                ).format(error=f"{exc_type.__name__}: {value}", path=log_file_path())
            )
        except tk.TclError:
            pass  # the windows are going away; the log has it

    def _show_problem(self, text: str) -> None:
        if self.problem is not None and self.problem.winfo_exists():
            self.problem.destroy()
        self.problem = win = tk.Toplevel(self.root)
        win.title(APP_TITLE)
        win.transient(self.root)  # over the main window, not in a corner of the screen
        win.resizable(False, False)
        self.problem_label = ttk.Label(win, text=text, wraplength=420, justify="left")
        self.problem_label.grid(row=0, column=0, padx=16, pady=(16, 8), sticky="w")
        button = ttk.Button(win, text=_("OK"), command=win.destroy)
        button.grid(row=1, column=0, padx=16, pady=(0, 16), sticky="e")
        button.focus_set()
        win.bind("<Return>", lambda _e: win.destroy())
        win.bind("<Escape>", lambda _e: win.destroy())

    def quit(self) -> None:
        """Leave every room (closing the hosted ones) and end the app; the rooms are kept in
        the settings, to be joined again at the next start."""
        if self.closing:
            return
        self._remember_place()
        self.closing = True
        for client in self.arrivals.close():
            fire_and_forget(client.leave, name="ocm-gui-leave")
        for chat in list(self.chats):
            chat.leave()  # leaves even when the windows are gone already
        if self.tray is not None:
            self.tray.stop()
        self.appearance.close()
        try:
            for dialog in list(self.dialogs.values()):
                dialog.close()
            if self.link_prompt is not None:
                self.link_prompt.close()
            self.notifications.close()
            if self.search_window is not None:
                self.search_window.close()
            self.root.destroy()
        except tk.TclError as exc:  # the main window was destroyed from outside
            log.info("the windows were gone before Quit: %s", exc)
        if self.history is not None:
            self.history.close()  # every line was written as it came: nothing waits
        # Tk objects must die on the Tk thread: the windows' cycles are collected here, not
        # by a background thread (a leave, a server stop) that happens to trigger a collection.
        gc.collect()


def _another_room_now(client, room: str, known_room_id: str) -> bool:
    """Whether the server lists a room of this name with another id than the one we were in
    (asked before joining, so that nobody sees us come and go). False when it cannot tell."""
    try:
        listed = client.list_rooms()
    except (ClientError, ProtocolError, OSError) as exc:
        log.info("could not list the rooms before joining again: %s", exc)
        return False
    wanted = fold(room)
    return any(fold(info.name) == wanted and info.room_id and info.room_id != known_room_id for info in listed)


def _pruned(count: int | None, error: BaseException | None) -> None:
    if error is not None:
        log.warning("could not delete the lines older than the keeping time: %s", error)
    elif count:
        log.info("deleted %d lines older than the keeping time", count)


def _server_text(client) -> str:
    host = f"[{client.server_host}]" if ":" in client.server_host else client.server_host
    return f"{host}:{client.tcp_port}"


def open_history() -> HistoryStore | None:
    """The person's history database; None (logged) when it cannot be opened at all. A damaged
    one is moved aside by HistoryStore and a new one started: the app always starts."""
    try:
        store = HistoryStore(HistoryStore.default_path())
    except (sqlite3.Error, OSError, OCMError) as exc:
        log.warning("the history on this PC cannot be opened: %s", exc)
        return None
    if store.moved_aside is not None:
        log.warning("the history database was damaged and moved aside to %s", store.moved_aside)
    return store


def key_label(key: str, platform: str = sys.platform) -> str:
    """A shortcut as menus write it: "Ctrl+K", "Cmd+K" on macOS."""
    modifier = "Cmd" if theme.platform_key(platform) == "darwin" else "Ctrl"
    *others, last = key.split("+")  # "Shift+F": Ctrl+Shift+F
    return "+".join([modifier, *others, last.upper()])


def invite_link(client, share_address: str | None) -> str | None:
    """The room's invite link: the address the host shares (a member: the server's), the
    room, the server's fingerprint. None for a server without encryption."""
    fingerprint = client.server_fingerprint
    if not fingerprint or not client.room:
        return None
    host, port = client.server_host, client.tcp_port
    if share_address:
        shared_host, _sep, shared_port = share_address.rpartition(":")
        if shared_host and shared_port.isdigit():
            host, port = shared_host.strip("[]"), int(shared_port)
    try:
        return InviteLink(host, port, client.room, fingerprint).text
    except BadLink as exc:
        log.info("no invite link for %s: %s", client.room, exc)
        return None


def _parse_args(argv: list[str] | None, *, exit_on_error: bool = True) -> argparse.Namespace | None:
    """The app's options; with `exit_on_error` False (arguments handed over by a later
    launch), None instead of an exit for arguments that make no sense."""
    i18n.translate_argparse()
    parser = argparse.ArgumentParser(
        prog="ocm", description=_("Online Chat Messenger desktop app."), exit_on_error=exit_on_error
    )
    parser.add_argument("--settings", type=Path, help=_("settings file to use instead of the usual one"))
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help=_("how much to log to stderr"),
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=_scale_from_environment(),
        metavar="FACTOR",
        help=_(
            "draw text and windows FACTOR times their usual size, e.g. 2 on a screen "
            "that reports the wrong dpi (default: the screen's own; also OCM_SCALE)"
        ),
    )
    parser.add_argument("--name", help=_("your name in the rooms, when none is saved yet"))
    parser.add_argument(
        "--background", action="store_true", help=_("start without showing the window (start at login)")
    )
    parser.add_argument("link", nargs="?", help=_("an invite link, ocm://HOST:PORT/ROOM?fp=FINGERPRINT"))
    if exit_on_error:
        return parser.parse_args(argv)
    try:
        options, rest = parser.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit) as exc:
        log.warning("ignoring the arguments of a later launch %r: %s", argv, exc)
        return None
    if rest:
        log.info("ignoring %r from a later launch", rest)
    return options


def _scale_from_environment() -> float | None:
    value = os.environ.get("OCM_SCALE", "")
    try:
        return float(value) if value else None
    except ValueError:
        log.warning("ignoring OCM_SCALE=%r: not a number", value)
        return None


def _open_log_file() -> logging.Handler | None:
    """Warnings and errors also go to the app's log file; None if it cannot be written."""
    path = log_file_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=1, encoding="utf-8")
    except OSError as exc:
        log.warning("no log file at %s: %s", path, exc)
        return None
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler


def run_app(argv: list[str] | None = None) -> int:
    """Open the main window, run until Quit, return the exit code. A second launch hands
    its arguments to the running copy and returns at once."""
    args = _parse_args(argv)
    assert args is not None
    if not logging.getLogger().handlers:
        logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    arrived: queue.Queue[LaunchedAgain] = queue.Queue()
    handed = sys.argv[1:] if argv is None else list(argv)
    primary = single_instance.claim(instance_dir(), lambda later: arrived.put(LaunchedAgain(tuple(later))), handed)
    if primary is None:
        log.info("handed %r to the copy already running", handed)
        return 0
    log_file = _open_log_file()
    try:
        return _run(args, arrived)
    finally:
        primary.close()
        if log_file is not None:
            logging.getLogger().removeHandler(log_file)
            log_file.close()


def instance_dir() -> Path:
    """Where the running copy leaves the address later launches hand their arguments to."""
    return paths.config_dir()


def _run(args: argparse.Namespace, arrived: queue.Queue[LaunchedAgain]) -> int:
    emoji.guard_colour_fonts(paths.data_dir())  # before Tk loads any font
    theme.declare_dpi_awareness()
    try:
        root = tk.Tk(className="OnlineChatMessenger")
    except tk.TclError as exc:
        log.error("cannot open a window: %s", exc)
        sys.stderr.write(
            _(
                "Online Chat Messenger needs a graphical display ({error}); run ocm-chat for the terminal version."
            ).format(error=exc)
            + "\n"
        )
        return 1
    if args.scale is not None:
        theme.set_scale(root, args.scale)
    settings = Settings.load(args.settings)
    if args.name and not settings.name:
        settings.name = args.name
    i18n.use_language(settings.language)
    app = App(root, settings=settings)
    root.report_callback_exception = app.report_callback_exception
    if tray_offered():
        app.start_tray()
    if args.background:  # started at login: out of sight, in the tray or minimised
        root.withdraw() if app.tray_available else root.iconify()
    inbox = inbox_for(root)

    def later_launches(batch: list[LaunchedAgain]) -> None:
        for message in batch:
            app.launched_again(list(message.args))

    inbox.watch(arrived, arrived, later_launches)
    ask_to_quit_on_system_end(root)
    take_platform_requests(root, app)
    app.rejoin_saved_rooms()
    if args.link:
        app.open_link(args.link, name=args.name)
    try:
        root.mainloop()
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        if not app.closing:
            try:
                app.quit()  # leaves every room and stops bundled servers
            except tk.TclError:
                pass  # the window system went away first
        wait_for_background(timeout=3.0)
    return 0


def ask_to_quit_on_system_end(root: tk.Tk) -> None:
    """Leave every room properly when the system ends the app: a logout or shutdown sends
    SIGTERM (or SIGHUP) on Linux and macOS, the Dock and the session ask through Tk's
    Quit command on macOS, and Windows asks through WM_SAVE_YOURSELF."""
    inbox = inbox_for(root)

    def wanted(*_args) -> None:
        inbox.put(QuitWanted())  # a signal handler must not touch Tk; the loop does it

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and threading.current_thread() is threading.main_thread():
            signal.signal(number, wanted)
    root.protocol("WM_SAVE_YOURSELF", wanted)
    if str(root.tk.call("tk", "windowingsystem")) == "aqua":
        root.createcommand("::tk::mac::Quit", wanted)


def take_platform_requests(root: tk.Tk, app: App) -> None:
    """What the system asks of the app besides its arguments: on macOS a clicked `ocm:` link
    arrives as an Apple Event and a click on the Dock icon asks for the window; on Windows
    the app registers itself (per user) as the handler of `ocm:` links."""
    if str(root.tk.call("tk", "windowingsystem")) == "aqua":
        root.createcommand("::tk::mac::LaunchURL", lambda url: app.open_link(str(url)))
        root.createcommand("::tk::mac::ReopenApplication", app.show_window)
    if sys.platform == "win32":
        try:
            autostart.register_link_handler(autostart.app_command())
        except OSError as exc:
            log.warning("could not register the ocm: link handler: %s", exc)
