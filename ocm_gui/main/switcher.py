"""The quick switcher (Ctrl+K): type part of a room's name, Enter goes there, Escape closes."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from ocm_core.i18n import _
from ocm_gui import theme
from ocm_gui.main.rules import switcher_matches


class QuickSwitcher:
    """Offers `names` (the sidebar's labels, in its order); `on_pick(index)` for the chosen one."""

    def __init__(self, master: tk.Misc, names: Sequence[str], on_pick: Callable[[int], None]):
        self.names = list(names)
        self._on_pick = on_pick
        self.closed = False
        self.shown: list[int] = []
        win = self.win = tk.Toplevel(master)
        win.withdraw()
        win.title(_("Switch room"))
        win.transient(master.winfo_toplevel())
        win.resizable(False, False)
        frame = ttk.Frame(win, padding=theme.scaled(win, 12))
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=_("Go to the room named:")).pack(anchor="w")
        self.query = tk.StringVar(win)
        self.entry = ttk.Entry(frame, textvariable=self.query, width=32)
        self.entry.pack(fill="x", pady=(theme.scaled(win, 4), theme.scaled(win, 6)))
        self.listbox = tk.Listbox(
            frame,
            height=min(8, max(1, len(self.names))),
            activestyle="none",
            exportselection=False,
            background=theme.PANEL,
            foreground=theme.TEXT,
            selectbackground=theme.SELECT_BG,  # as the sidebar's chosen row
            selectforeground=theme.PANEL,
            highlightthickness=1,
            highlightbackground=theme.BORDER,
            highlightcolor=theme.BORDER,
            relief="flat",
            borderwidth=theme.scaled(win, 4),  # the names off the frame's edge
            font="OCMChat",
        )
        self.listbox.pack(fill="both", expand=True)
        self.query.trace_add("write", lambda *_a: self._refresh())
        for key in ("<Return>", "<KP_Enter>"):
            win.bind(key, lambda e: self.pick())
        win.bind("<Escape>", lambda e: self.close())
        win.bind("<Down>", lambda e: self._move(1))
        win.bind("<Up>", lambda e: self._move(-1))
        self.listbox.bind("<Double-Button-1>", lambda e: self.pick())
        win.protocol("WM_DELETE_WINDOW", self.close)
        self._refresh()
        win.deiconify()
        self.entry.focus_force()

    def _refresh(self) -> None:
        self.shown = switcher_matches(self.query.get(), self.names)
        self.listbox.delete(0, "end")
        for index in self.shown:
            self.listbox.insert("end", self.names[index])
        if self.shown:
            self.listbox.selection_set(0)

    def _move(self, step: int) -> str:
        if self.shown:
            chosen = self.listbox.curselection()
            at = (chosen[0] if chosen else 0) + step
            at = max(0, min(len(self.shown) - 1, at))
            self.listbox.selection_clear(0, "end")
            self.listbox.selection_set(at)
            self.listbox.see(at)
        return "break"

    def pick(self) -> None:
        chosen = self.listbox.curselection()
        index = self.shown[chosen[0]] if chosen and self.shown else None
        self.close()
        if index is not None:
            self._on_pick(index)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.win.destroy()
