"""The page of a room that is not open: one that ended, or could not be joined again. It
says why, offers what can be done (join again, host again, save, forget, remove), and shows
the room's history kept on this PC, readable and searchable (Ctrl+F), until the person
removes it from the list."""

from __future__ import annotations

import logging
import sqlite3
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from ocm_core.storage.history import HistoryStore, Line
from ocm_gui import theme
from ocm_gui.chat.findbar import FindBar
from ocm_gui.chat.kept import kept_entries
from ocm_gui.chat.scrollback import Scrollback

log = logging.getLogger(__name__)

PAGE_LINES = 2000  # lines shown at once; a search result further back opens the page around it


class KeptPage:
    def __init__(
        self,
        master: tk.Misc,
        *,
        title: str,
        subtitle: str,
        reason: str,
        actions: Sequence[tuple[str, Callable[[], object]]],
        store: HistoryStore | None,
        conversation: int | None,
        me: str,
        around_line: int | None = None,
    ):
        self.store = store
        self.conversation = conversation
        frame = self.frame = ttk.Frame(master, padding=theme.pad(master, 24, 18, 24, 12))
        frame.columnconfigure(0, weight=1)
        ttk.Label(frame, text=title, style="Title.TLabel").grid(row=0, column=0, sticky="w")
        ttk.Label(frame, text=subtitle, style="Muted.TLabel").grid(
            row=1, column=0, sticky="w", pady=theme.pad(master, 4, 0)
        )
        self.reason = ttk.Label(frame, text=reason, wraplength=theme.scaled(master, 520), justify="left")
        self.reason.grid(row=2, column=0, sticky="w", pady=theme.pad(master, 6, 10))
        buttons = ttk.Frame(frame)
        buttons.grid(row=3, column=0, sticky="w", pady=(0, theme.scaled(master, 10)))
        self.buttons: list[ttk.Button] = []
        for number, (text, command) in enumerate(actions):
            button = ttk.Button(buttons, text=text, command=command)
            button.pack(side="left", padx=(theme.scaled(master, 8) if number else 0, 0))
            self.buttons.append(button)
        self.lines: list[tuple[int, Line]] = self._read(around_line)
        self.finder: FindBar | None = None
        self.scrollback: Scrollback | None = None
        if self.lines:
            frame.rowconfigure(5, weight=1)

            def later(ms: int, func: Callable[[], object]) -> None:
                frame.after(ms, func)

            self.scrollback = Scrollback(
                frame,
                username=me,
                later=later,
                on_retry=lambda msg_id: None,
            )
            self.scrollback.retry_enabled = False
            self.scrollback.frame.grid(row=5, column=0, sticky="nsew")
            self.scrollback.write(kept_entries(self.scrollback, [line for _id, line in self.lines], heading=False))
            if around_line is None:
                self.scrollback.scroll_to_end()

    def _read(self, around_line: int | None) -> list[tuple[int, Line]]:
        if self.store is None or self.conversation is None:
            return []
        try:
            if around_line is not None:
                return self.store.lines_around(self.conversation, around_line, before=PAGE_LINES // 2)
            return self.store.lines(self.conversation, limit=PAGE_LINES)
        except (sqlite3.Error, OSError) as exc:
            log.warning("could not read the history of conversation %s: %s", self.conversation, exc)
            return []

    @property
    def text(self) -> tk.Text | None:
        return self.scrollback.text if self.scrollback is not None else None

    def find(self, query: str | None = None) -> FindBar | None:
        if self.scrollback is None:
            return None
        if self.finder is None:
            self.finder = FindBar(self.frame, self.scrollback.text, row=4)
        self.finder.open(query)
        return self.finder

    def transcript(self) -> str:
        return self.scrollback.transcript() if self.scrollback is not None else ""

    def destroy(self) -> None:
        self.frame.destroy()
