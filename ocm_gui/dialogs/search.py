"""Search all rooms (Ctrl+Shift+F): what is typed is looked up in the history on this PC as it
is typed; each match lists its room, time, sender and line, newest first; Enter or a
double-click opens the room at that line."""

from __future__ import annotations

import datetime
import logging
import sqlite3
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ocm_core.i18n import _, ngettext
from ocm_core.storage.history import HistoryStore, Match
from ocm_gui import theme

log = logging.getLogger(__name__)

TYPING_PAUSE_MS = 150  # a search runs when typing pauses this long, not on every key
SHOWN_LIMIT = 200


def match_time(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")


class SearchWindow:
    """`on_open(match, query)` shows the chosen match's room at its line."""

    def __init__(
        self,
        master: tk.Misc,
        store: HistoryStore,
        *,
        on_open: Callable[[Match, str], None],
        conversation: int | None = None,
        room: str = "",
        query: str = "",
    ):
        """`conversation` (named `room`): search that room's history only."""
        self.store = store
        self.conversation = conversation
        self._on_open = on_open
        self.closed = False
        self.matches: list[Match] = []
        self._pending: str | None = None
        win = self.win = tk.Toplevel(master)
        win.withdraw()
        win.title(_("Search all rooms") if conversation is None else _("Search “{room}”").format(room=room))
        # Not transient: a result opened in the main window comes in front of this one.
        top = master.winfo_toplevel()
        offset = theme.scaled(win, 60)  # over the main window, its rooms still in sight on the left
        win.geometry(
            "{}x{}+{}+{}".format(
                *theme.window_size(win, 720, 460), top.winfo_rootx() + offset * 3, top.winfo_rooty() + offset
            )
        )
        frame = ttk.Frame(win, padding=theme.scaled(win, 12))
        frame.pack(fill="both", expand=True)
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(2, weight=1)
        heading = (
            _("Find in the history of every room:")
            if conversation is None
            else _("Find in the whole history of “{room}”:").format(room=room)
        )
        ttk.Label(frame, text=heading).grid(row=0, column=0, sticky="w")
        self.query = tk.StringVar(win)
        self.entry = ttk.Entry(frame, textvariable=self.query)
        self.entry.grid(row=1, column=0, sticky="ew", pady=theme.pad(win, 4, 8))
        self.tree = ttk.Treeview(
            frame, columns=("room", "time", "sender", "text"), show="headings", selectmode="browse"
        )
        for column, heading, width, stretch in (
            ("room", _("Room"), 110, False),
            ("time", _("Time"), 130, False),
            ("sender", _("From"), 100, False),
            ("text", _("Message"), 300, True),
        ):
            self.tree.heading(column, text=heading, anchor="w")
            self.tree.column(column, width=theme.scaled(win, width), stretch=stretch, anchor="w")
        scrollbar = ttk.Scrollbar(frame, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scrollbar.set)
        self.tree.grid(row=2, column=0, sticky="nsew")
        scrollbar.grid(row=2, column=1, sticky="ns")
        self.status = ttk.Label(frame, text="", style="Muted.TLabel")
        self.status.grid(row=3, column=0, sticky="w", pady=(theme.scaled(win, 6), 0))
        self.query.trace_add("write", lambda *_a: self._typed())
        for key in ("<Return>", "<KP_Enter>"):
            win.bind(key, lambda e: self.open_chosen())
        win.bind("<Escape>", lambda e: self.close())
        self.entry.bind("<Down>", lambda e: self._move(1))
        self.entry.bind("<Up>", lambda e: self._move(-1))
        self.tree.bind("<Double-Button-1>", lambda e: self.open_chosen())
        win.protocol("WM_DELETE_WINDOW", self.close)
        if query:
            self.query.set(query)
            self.search()
        win.deiconify()
        self.entry.focus_force()

    def _typed(self) -> None:
        if self._pending is not None:
            self.win.after_cancel(self._pending)
        self._pending = self.win.after(TYPING_PAUSE_MS, self.search)

    def search(self) -> list[Match]:
        """Look the query up now (typing waits for a pause); the matches, newest first."""
        self._pending = None
        query = self.query.get()
        self.tree.delete(*self.tree.get_children())
        if not query.strip():
            self.matches = []
            self.status.configure(text="")
            return self.matches
        try:
            self.matches = self.store.search(query, conversation=self.conversation, limit=SHOWN_LIMIT)
        except (sqlite3.Error, OSError) as exc:
            log.warning("searching the history failed: %s", exc)
            self.matches = []
        servers: dict[str, set[str]] = {}
        for match in self.matches:
            servers.setdefault(match.room, set()).add(match.server)
        for number, match in enumerate(self.matches):
            line = " ".join(match.text.split())  # one row per match, however many lines it had
            # Two servers' rooms of one name: the server tells them apart.
            room = f"{match.room} · {match.server}" if len(servers[match.room]) > 1 else match.room
            self.tree.insert("", "end", iid=str(number), values=(room, match_time(match.time), match.sender, line))
        if self.matches:
            self.tree.selection_set("0")
            self.tree.see("0")
        count = len(self.matches)
        if count == 0:
            self.status.configure(text=_("Nothing in your history contains “{text}”.").format(text=query))
        elif count >= SHOWN_LIMIT:
            self.status.configure(text=_("The newest {count} matches; type more to narrow them.").format(count=count))
        else:
            self.status.configure(text=ngettext("{count} match", "{count} matches", count).format(count=count))
        return self.matches

    def _move(self, step: int) -> str:
        if self.matches:
            chosen = self.tree.selection()
            at = int(chosen[0]) + step if chosen else 0
            at = max(0, min(len(self.matches) - 1, at))
            self.tree.selection_set(str(at))
            self.tree.see(str(at))
        return "break"

    def open_chosen(self) -> None:
        if self._pending is not None:
            self.search()
        chosen = self.tree.selection()
        if not chosen:
            return
        self._on_open(self.matches[int(chosen[0])], self.query.get())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._pending is not None:
                self.win.after_cancel(self._pending)
            self.win.destroy()
