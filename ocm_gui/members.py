"""The chat window's People list: who is in the room, the host first."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from ocm_core.i18n import _

from . import theme
from .tooltip import ListboxTooltip, ellipsize


def member_label(name: str, *, host: str | None, you: str, plain: frozenset[str]) -> str:
    """How one member reads in the list; marks in words (Tk shows 🔓 and the like as boxes)."""
    label = name
    if name == host:
        label = "★ " + _("{name} (host)").format(name=name)
    if name == you:
        label = _("{name} (you)").format(name=label)
    if name in plain:
        label = _("{name} (not encrypted)").format(name=label)
    return label


class MemberList:
    """A heading with the count and a list box; `set` replaces what it shows."""

    def __init__(self, master: tk.Misc, *, you: str):
        self.you = you
        self.members: tuple[str, ...] = ()
        self.host_name: str | None = None
        self.full_labels: list[str] = []  # each row's whole label; the list shows them cut to its width
        self.frame = ttk.Frame(master, padding=theme.pad(master, 10, 0, 0, 0))
        self.frame.rowconfigure(1, weight=1)
        self.frame.columnconfigure(0, weight=1)
        self.heading = ttk.Label(self.frame, text=_("People"), style="Muted.TLabel")
        self.heading.grid(row=0, column=0, sticky="w", pady=(0, theme.scaled(master, 4)))
        self.listbox = tk.Listbox(self.frame, activestyle="none", font="TkDefaultFont", width=18,
                                  background=theme.PANEL, foreground=theme.TEXT, relief="flat",
                                  borderwidth=0, highlightthickness=1, highlightbackground=theme.BORDER,
                                  highlightcolor=theme.ACCENT, selectbackground=theme.OWN_BG,
                                  selectforeground=theme.TEXT, takefocus=0)
        self.listbox.grid(row=1, column=0, sticky="nsew")
        self.tooltip = ListboxTooltip(self.listbox, lambda row: self.full_labels[row])
        self.listbox.bind("<Configure>", lambda e: self.fit(), add="+")

    def set(self, members: tuple[str, ...], host: str | None, plain: frozenset[str] = frozenset()) -> None:
        """`plain`: members whose client does not encrypt, marked in words and an amber colour."""
        ordered = sorted(members, key=lambda name: (name != host, name.casefold()))
        self.members = tuple(ordered)
        self.host_name = host
        self.listbox.delete(0, "end")
        self.full_labels = [member_label(name, host=host, you=self.you, plain=plain) for name in ordered]
        for index, name in enumerate(ordered):
            self.listbox.insert("end", self.full_labels[index])
            if name in plain:
                self.listbox.itemconfigure(index, foreground=theme.WARN_FG)
            elif name == host:
                self.listbox.itemconfigure(index, foreground=theme.ACCENT)
        self.heading.configure(text=_("People ({count})").format(count=len(ordered)))
        self.fit()

    def fit(self) -> None:
        """Cut labels wider than the list to end in "…" (the tooltip has the whole one)."""
        box = self.listbox
        width = box.winfo_width() if box.winfo_width() > 1 else box.winfo_reqwidth()
        room = width - 2 * (int(box.cget("highlightthickness")) + int(box.cget("borderwidth"))) - theme.scaled(box, 6)
        font = theme.named_font(box, str(box.cget("font")))
        for index, full in enumerate(self.full_labels):
            shown = ellipsize(full, room, font.measure)
            if shown != box.get(index):
                colour = box.itemcget(index, "foreground")
                box.delete(index)
                box.insert(index, shown)
                if colour:
                    box.itemconfigure(index, foreground=colour)

    def labels(self) -> list[str]:
        """Each row's whole label (what the list shows may be cut short to its width)."""
        return list(self.full_labels)

    def shown_labels(self) -> list[str]:
        return list(self.listbox.get(0, "end"))
