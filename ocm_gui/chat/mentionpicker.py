"""The names offered above the input while an "@" is typed (ocm_core/sansio/mentions.py decides
which): Tab or Enter puts the chosen one in, Up and Down move, Escape closes, a click picks.
Japanese names come as typed: the input method's committed text is what is matched."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from ocm_core.sansio.mentions import suggestions, typed_mention
from ocm_gui import theme


class MentionPicker:
    def __init__(self, entry: tk.Text, *, members: Callable[[], tuple[str, ...]], me: str):
        self.entry = entry
        self._members = members
        self.me = me
        self.names: list[str] = []
        self._at: int | None = None  # where the "@" being completed is, in characters from the start
        top = entry.winfo_toplevel()
        self.listbox = tk.Listbox(
            top,
            activestyle="none",
            font="OCMChat",
            height=1,
            background=theme.PANEL,
            foreground=theme.TEXT,
            selectbackground=theme.OWN_BG,
            selectforeground=theme.TEXT,
            highlightthickness=1,
            highlightbackground=theme.BORDER,
            relief="flat",
            exportselection=False,
            takefocus=0,
        )
        self.listbox.bind("<ButtonRelease-1>", lambda e: self._pick(), add="+")
        # Its own bind tag, first: Enter and Tab complete (and stop there) while it is open.
        tag = self._tag = f"OCMMentions{id(self)}"
        entry.bindtags((tag, *entry.bindtags()))
        # A class binding's command is the root's and outlives the input: it would hold this
        # picker, and through `members` its chat window, until the app ends; both go with the input.
        self._class_bindings: list[tuple[str, str]] = []
        keys: tuple[tuple[str, Callable[[], object]], ...] = (
            ("<Tab>", self._pick),
            ("<Return>", self._pick),
            ("<KP_Enter>", self._pick),
            ("<Down>", lambda: self._move(1)),
            ("<Up>", lambda: self._move(-1)),
            ("<Escape>", self.close),
        )
        for sequence, action in keys:
            self._class_bindings.append((sequence, entry.bind_class(tag, sequence, self._while_open(action))))
        entry.bind("<Destroy>", self._unbind, add="+")
        entry.bind("<KeyRelease>", lambda e: self.update(), add="+")
        entry.bind("<FocusOut>", lambda e: self.close(), add="+")

    def _while_open(self, action: Callable[[], object]) -> Callable[[tk.Event], str | None]:
        """A key's handler: `action` and no more ("break") while the names are shown, else
        nothing (the input's own binding runs: Enter sends, Tab moves on)."""

        def handler(_event: tk.Event) -> str | None:
            if self.open and action() is not False:
                return "break"
            return None

        return handler

    def _unbind(self, event) -> None:
        if event.widget is not self.entry:
            return
        bindings, self._class_bindings = self._class_bindings, []
        root = self.entry.nametowidget(".")
        for sequence, command in bindings:
            try:
                root.unbind_class(self._tag, sequence)
                root.deletecommand(command)
            except tk.TclError:
                pass  # the application is going away
        try:
            self.listbox.destroy()
        except tk.TclError:
            pass

    @property
    def open(self) -> bool:
        return bool(self.listbox.winfo_ismapped())

    def update(self) -> None:
        """Look at what is typed before the cursor: offer names, or close."""
        text = self.entry.get("1.0", "end-1c")
        cursor = len(self.entry.get("1.0", "insert"))
        typed = typed_mention(text, cursor)
        self.names = suggestions(typed[1], self._members(), self.me) if typed else []
        if not self.names:
            self.close()
            return
        self._at = typed[0] if typed else None
        self.listbox.delete(0, "end")
        for name in self.names:
            self.listbox.insert("end", "@" + name)
        self.listbox.configure(height=len(self.names))
        self.listbox.selection_clear(0, "end")
        self.listbox.selection_set(0)
        self.listbox.place(in_=self.entry, x=0, y=0, anchor="sw")
        self.listbox.lift()

    def _move(self, step: int) -> None:
        chosen = self.listbox.curselection()
        at = (chosen[0] if chosen else 0) + step
        at = max(0, min(len(self.names) - 1, at))
        self.listbox.selection_clear(0, "end")
        self.listbox.selection_set(at)

    def _pick(self) -> bool:
        """Put the chosen name in place of what was typed after "@", and a space after it."""
        chosen = self.listbox.curselection()
        if not chosen or self._at is None:
            return False
        name = self.names[chosen[0]]
        start = f"1.0 + {self._at} chars"
        self.entry.delete(start, "insert")
        self.entry.insert(start, f"@{name} ")
        self.close()
        self.entry.focus_set()
        return True

    def close(self) -> None:
        self.listbox.place_forget()
        self.names, self._at = [], None
