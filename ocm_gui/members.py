"""The chat window's People list: who is in the room, the host first."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from ocm_core.i18n import _

from . import theme


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
        self.frame = ttk.Frame(master, padding=(10, 0, 0, 0))
        self.frame.rowconfigure(1, weight=1)
        self.frame.columnconfigure(0, weight=1)
        self.heading = ttk.Label(self.frame, text=_("People"), style="Muted.TLabel")
        self.heading.grid(row=0, column=0, sticky="w", pady=(0, 4))
        self.listbox = tk.Listbox(self.frame, activestyle="none", font="TkDefaultFont", width=18,
                                  background=theme.PANEL, foreground=theme.TEXT, relief="flat",
                                  borderwidth=0, highlightthickness=1, highlightbackground=theme.BORDER,
                                  highlightcolor=theme.ACCENT, selectbackground=theme.OWN_BG,
                                  selectforeground=theme.TEXT, takefocus=0)
        self.listbox.grid(row=1, column=0, sticky="nsew")

    def set(self, members: tuple[str, ...], host: str | None, plain: frozenset[str] = frozenset()) -> None:
        """`plain`: members whose client does not encrypt, marked in words and an amber colour."""
        ordered = sorted(members, key=lambda name: (name != host, name.casefold()))
        self.members = tuple(ordered)
        self.host_name = host
        self.listbox.delete(0, "end")
        for index, name in enumerate(ordered):
            self.listbox.insert("end", member_label(name, host=host, you=self.you, plain=plain))
            if name in plain:
                self.listbox.itemconfigure(index, foreground=theme.WARN_FG)
            elif name == host:
                self.listbox.itemconfigure(index, foreground=theme.ACCENT)
        self.heading.configure(text=_("People ({count})").format(count=len(ordered)))

    def show_ended(self, heading: str, line: str) -> None:
        """The room is over for us (closed, or the session gone): nobody is listed as here;
        `line` says why, greyed, where the names were."""
        self.members = ()
        self.listbox.delete(0, "end")
        self.listbox.insert("end", line)
        self.listbox.itemconfigure(0, foreground=theme.MUTED)
        self.heading.configure(text=heading)

    def labels(self) -> list[str]:
        return list(self.listbox.get(0, "end"))
