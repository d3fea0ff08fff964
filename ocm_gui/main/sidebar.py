"""The sidebar: every room this person is in, hosted or joined, on any server, each with
its unread count; a star marks a room hosted here, grey a room that is gone."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from tkinter import ttk

from ocm_core.i18n import N_, _
from ocm_gui import theme
from ocm_gui.main.rules import row_labels

HOSTED_MARK = "★ "  # in the Basic Multilingual Plane: Tk 8.6 draws it on every system
PRESENCE_WORDS = {"away": N_("away")}  # "online" needs no word, "offline" is greyed


@dataclass
class Row:
    room: str
    server: str
    hosted: bool
    unread: int = 0
    gone: bool = False  # greyed: not open (it ended, or could not be joined again)
    ended: bool = False  # and it says so: the room itself is over
    presence: str = ""  # a direct conversation's person: "online", "away" or "offline" ("" for a room)


class RoomList:
    """`on_select(key)` when the person picks a room; `on_new()` for the start page."""

    def __init__(self, master: tk.Misc, *, on_select: Callable[[Hashable], None], on_new: Callable[[], None]):
        self._on_select = on_select
        self.rows: dict[Hashable, Row] = {}
        self._items: dict[Hashable, str] = {}
        self._keys: dict[str, Hashable] = {}
        self._marked: Hashable | None = None  # the room marked as shown by the program
        frame = self.frame = ttk.Frame(master, padding=theme.pad(master, 8, 10, 4, 8))
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(1, weight=1)
        ttk.Label(frame, text=_("Rooms"), style="Heading.TLabel").grid(row=0, column=0, sticky="w", pady=(0, 6))
        # Rows as tall as the chat's text, so they grow with the scaling and fit Japanese.
        font = theme.named_font(master, "OCMChat")
        ttk.Style(master).configure(
            "Rooms.Treeview", rowheight=font.metrics("linespace") + theme.scaled(master, 10), font=font
        )
        # Two plain columns, without the tree's indent and without headings.
        self.tree = ttk.Treeview(
            frame, columns=("room", "unread"), show="", selectmode="browse", takefocus=True, style="Rooms.Treeview"
        )
        self.tree.column("room", stretch=True, width=theme.scaled(master, 100), minwidth=theme.scaled(master, 60))
        # Wide enough for a count or the word for a room that ended.
        words = [_("ended"), *(_(word) for word in PRESENCE_WORDS.values())]
        ended = max(theme.named_font(master, "OCMChat").measure(word) for word in words) + theme.scaled(master, 12)
        self.tree.column("unread", stretch=False, width=max(theme.scaled(master, 44), ended), anchor="center")
        self.tree.grid(row=1, column=0, sticky="nsew")
        # Inside the empty list, on its colours (a plain label: the dark palette recolours it).
        self.empty = tk.Label(
            self.tree,
            text=_("No rooms yet"),
            background=theme.PANEL,
            foreground=theme.MUTED,
            font="OCMSmall",
            wraplength=theme.scaled(master, 140),
        )
        self.empty.place(relx=0.5, y=theme.scaled(master, 12), anchor="n")
        bold = theme.named_font(master, "OCMChatBold")
        self.tree.tag_configure("unread", font=bold)
        self.tree.tag_configure("gone", foreground=theme.MUTED)
        self.tree.bind("<<TreeviewSelect>>", self._selected)
        self.new_button = ttk.Button(frame, text=_("Host or join…"), command=on_new)
        self.new_button.grid(row=2, column=0, sticky="ew", pady=(8, 0))
        self.tree.bind("<Return>", lambda e: self._chosen())

    # --- rows
    def add(self, key: Hashable, *, room: str, server: str, hosted: bool) -> None:
        self.rows[key] = Row(room, server, hosted)
        item = self.tree.insert("", "end", values=(room, ""))
        self._items[key], self._keys[item] = item, key
        self._relabel()
        self.empty.place_forget()

    def remove(self, key: Hashable) -> None:
        item = self._items.pop(key, None)
        self.rows.pop(key, None)
        if item is not None:
            self._keys.pop(item, None)
            self.tree.delete(item)
            self._relabel()
        if not self._items:
            self.empty.place(relx=0.5, y=theme.scaled(self.frame, 12), anchor="n")

    def set_unread(self, key: Hashable, unread: int) -> None:
        row = self.rows.get(key)
        if row is not None and row.unread != unread:
            row.unread = unread
            self._draw(key)

    def set_gone(self, key: Hashable, gone: bool = True, *, ended: bool = False) -> None:
        """Grey the room (`gone`), and say "ended" beside it when the room itself is over (not
        when it only could not be reached, or the server forgot this person's place)."""
        row = self.rows.get(key)
        if row is not None:
            row.gone, row.ended = gone, gone and ended
            self._draw(key)

    def set_presence(self, key: Hashable, presence: str) -> None:
        """A direct conversation's person is "online", "away" or "offline" (greyed, and said
        beside the name when nothing is unread)."""
        row = self.rows.get(key)
        if row is not None and row.presence != presence:
            row.presence = presence
            self._draw(key)

    def keys(self) -> list[Hashable]:
        """The rooms in the order shown."""
        return [self._keys[item] for item in self.tree.get_children("")]

    def label(self, key: Hashable) -> str:
        item = self._items.get(key)
        return str(self.tree.set(item, "room")) if item is not None else ""

    def reorder(self, keys: list[Hashable]) -> None:
        """Show the rooms in this order."""
        for at, key in enumerate(keys):
            self.tree.move(self._items[key], "", at)
        self._relabel()

    def badge(self, key: Hashable) -> str:
        """The unread count as the row shows it ("" for none)."""
        item = self._items.get(key)
        return str(self.tree.set(item, "unread")) if item is not None else ""

    def select(self, key: Hashable | None) -> None:
        """Mark `key` as the room shown (None: none), without calling on_select (Tk reports
        the change later, as if clicked; `_selected` knows it by `_marked`)."""
        self._marked = key if key in self._items else None
        if self._marked is None:
            self.tree.selection_set(())
        else:
            item = self._items[self._marked]
            self.tree.selection_set((item,))
            self.tree.focus(item)
            self.tree.see(item)

    def selected(self) -> Hashable | None:
        chosen = self.tree.selection()
        return self._keys.get(chosen[0]) if chosen else None

    # --- drawing
    def _relabel(self) -> None:
        keys = self.keys()
        labels = row_labels([(self.rows[k].room, self.rows[k].server) for k in keys])
        for key, label in zip(keys, labels, strict=True):
            self._draw(key, label)

    def _draw(self, key: Hashable, label: str | None = None) -> None:
        row, item = self.rows[key], self._items[key]
        if label is None:
            label = str(self.tree.set(item, "room")).removeprefix(HOSTED_MARK)
        tags = ("gone",) if row.gone or row.presence == "offline" else ("unread",) if row.unread else ()
        if row.ended:
            note = _("ended")
        elif row.gone:
            note = ""
        elif row.unread:
            note = str(row.unread)
        else:
            note = _(PRESENCE_WORDS[row.presence]) if row.presence in PRESENCE_WORDS else ""
        self.tree.item(item, values=((HOSTED_MARK if row.hosted else "") + label, note), tags=tags)

    def _chosen(self) -> None:
        key = self.selected()
        if key is not None:
            self._on_select(key)

    def _selected(self, _event) -> None:
        key = self.selected()
        if key is not None and key != self._marked:
            self._on_select(key)
