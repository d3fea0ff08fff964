"""The chat window's People list: who is in the room, the host first."""

from __future__ import annotations

import functools
import sys
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Literal

from ocm_core.i18n import _
from ocm_gui import theme
from ocm_gui.text.tooltip import ListboxTooltip, ellipsize


def member_label(
    name: str,
    *,
    host: str | None,
    you: str,
    plain: frozenset[str],
    shown: str | None = None,
    away: frozenset[str] = frozenset(),
    muted: frozenset[str] = frozenset(),
) -> str:
    """How one member reads in the list; marks in words (Tk shows 🔓 and the like as boxes).
    `shown`: the name as it fits (cut with "…"), the marks around it kept whole."""
    label = name if shown is None else shown
    you_away = name == you and name in away and name != host  # one mark for both, as for the host
    if name == host and name == you:  # one mark for both keeps the line short (a narrow list, Japanese)
        label = "★ " + _("{name} (host, you)").format(name=label)
    elif name == host:
        label = "★ " + _("{name} (host)").format(name=label)
    elif you_away:
        label = _("{name} (you, away)").format(name=label)
    elif name == you:
        label = _("{name} (you)").format(name=label)
    if name in plain:
        label = _("{name} (not encrypted)").format(name=label)
    if name in away and not you_away:
        label = _("{name} (away)").format(name=label)
    if name in muted:
        label = _("{name} (muted)").format(name=label)
    return label


def fit_label(name: str, label_for: Callable[[str], str], width: int, measure: Callable[[str], int]) -> str:
    """`label_for(name)` if it fits in `width`; else the name is cut with "…" and the marks
    ("(you)", "(host)") stay whole, so a person still finds themselves in a narrow list."""
    whole = label_for(name)
    if measure(whole) <= width:
        return whole
    short = ellipsize(name, width - measure(label_for("")), measure)
    return label_for(short) if short else ellipsize(whole, width, measure)


def not_answering_label(shown: str) -> str:
    # In place of "(host)": the star still says who it is, and the line stays short.
    return "★ " + _("{name} (not answering)").format(name=shown)


class MemberList:
    """A heading with the count and a list box; `set` replaces what it shows."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        you: str,
        on_message: Callable[[str], object] | None = None,
        on_mute: Callable[[str, bool], object] | None = None,
        on_remove: Callable[[str], object] | None = None,
    ):
        """`on_message(name)`: write to that person alone (double-click, or the right-click menu);
        `on_mute(name, muted)`: hide (or show again) that person's messages, for oneself;
        `on_remove(name)`: the host's, take that person out of the room (offered to the host alone)."""
        self.you = you
        self.on_message = on_message
        self.on_mute = on_mute
        self.on_remove = on_remove
        self.away: frozenset[str] = frozenset()
        self.muted: frozenset[str] = frozenset()
        self.members: tuple[str, ...] = ()
        self.host_name: str | None = None
        self.full_labels: list[str] = []  # each row's whole label; the list shows them cut to its width
        self._label_for: list[Callable[[str], str]] = []  # per row: the label around a (cut) name
        self._shown: tuple = ((), None, frozenset(), frozenset())  # the last set()'s arguments
        self.frame = ttk.Frame(master, padding=theme.pad(master, 10, 0, 0, 0))
        self.frame.rowconfigure(1, weight=1)
        self.frame.columnconfigure(0, weight=1)
        self.heading = ttk.Label(self.frame, text=_("People"), style="Muted.TLabel")
        self.heading.grid(row=0, column=0, sticky="w", pady=(0, theme.scaled(master, 4)))
        self.listbox = tk.Listbox(
            self.frame,
            activestyle="none",
            font="TkDefaultFont",
            width=18,
            background=theme.PANEL,
            foreground=theme.TEXT,
            relief="flat",
            borderwidth=0,
            highlightthickness=1,
            highlightbackground=theme.BORDER,
            highlightcolor=theme.ACCENT,
            selectbackground=theme.OWN_BG,
            selectforeground=theme.TEXT,
            takefocus=0,
        )
        self.listbox.grid(row=1, column=0, sticky="nsew")
        self.tooltip = ListboxTooltip(self.listbox, lambda row: self.full_labels[row])
        self.listbox.bind("<Configure>", lambda e: self.fit(), add="+")
        self.listbox.bind("<Double-Button-1>", self._double_clicked, add="+")
        for sequence in theme.menu_buttons(sys.platform):
            self.listbox.bind(sequence, self.open_menu, add="+")
        self.menu = tk.Menu(self.listbox, tearoff=0)
        # Said in place of the list once the room is over for us; wraps, as the heading does.
        self.ended = ttk.Label(self.frame, style="Muted.TLabel", justify="left", anchor="nw")
        self.frame.bind("<Configure>", self._wrap, add="+")

    def _wrap(self, event) -> None:
        for label in (self.heading, self.ended):
            label.configure(wraplength=max(40, event.width - theme.scaled(self.frame, 12)))

    def set(
        self,
        members: tuple[str, ...],
        host: str | None,
        plain: frozenset[str] = frozenset(),
        away: frozenset[str] = frozenset(),
    ) -> None:
        """`plain`: members whose client does not encrypt, marked in words and an amber colour;
        `away`: members away from their PC, marked in words and greyed."""
        self._shown = (members, host, plain, away)
        self.away = away
        ordered = sorted(members, key=lambda name: (name != host, name.casefold()))
        self.members = tuple(ordered)
        self.host_name = host
        self.ended.grid_remove()
        self.listbox.grid()
        self.listbox.delete(0, "end")
        self._label_for = [functools.partial(self._member_label, name, host, plain) for name in ordered]
        self.full_labels = [label_for(name) for label_for, name in zip(self._label_for, ordered)]
        for index, name in enumerate(ordered):
            self.listbox.insert("end", self.full_labels[index])
            # Blue is "you" everywhere (your name in the scrollback too); the star marks the host.
            if name in plain:
                self.listbox.itemconfigure(index, foreground=theme.WARN_FG)
            elif name in away:
                self.listbox.itemconfigure(index, foreground=theme.MUTED)
            elif name == self.you:
                self.listbox.itemconfigure(index, foreground=theme.OWN_FG)
        self.heading.configure(text=_("People ({count})").format(count=len(ordered)))
        self.fit()

    def _member_label(self, name: str, host: str | None, plain: frozenset[str], shown: str) -> str:
        return member_label(name, host=host, you=self.you, plain=plain, shown=shown, away=self.away, muted=self.muted)

    def set_muted(self, muted: frozenset[str]) -> None:
        self.muted = muted
        self.set(*self._shown)

    def set_away(self, name: str, away: bool) -> None:
        members, host, plain, was_away = self._shown
        self.set(members, host, plain, was_away | {name} if away else was_away - {name})

    # --- writing to one person
    def _row_at(self, event) -> str | None:
        if not self.members:
            return None
        index = self.listbox.nearest(event.y)
        if index < 0 or index >= len(self.members):
            return None
        return self.members[index]

    def _double_clicked(self, event) -> None:
        name = self._row_at(event)
        if name is not None and name != self.you and self.on_message is not None:
            self.on_message(name)

    def open_menu(self, event) -> str:
        name = self._row_at(event)
        if name is None or (self.on_message is None and self.on_mute is None):
            return "break"
        self.listbox.selection_clear(0, "end")
        self.listbox.selection_set(self.members.index(name))
        self.menu.delete(0, "end")
        state: Literal["normal", "disabled"] = "disabled" if name == self.you else "normal"
        on_message, on_mute = self.on_message, self.on_mute
        if on_message is not None:
            self.menu.add_command(
                label=_("Message {name}…").format(name=name), command=lambda: on_message(name), state=state
            )
        if on_mute is not None:
            muted = name in self.muted
            label = _("Unmute {name}") if muted else _("Mute {name}")
            self.menu.add_command(label=label.format(name=name), command=lambda: on_mute(name, not muted), state=state)
        on_remove = self.on_remove
        if on_remove is not None and self.host_name == self.you and name != self.you:
            self.menu.add_separator()
            self.menu.add_command(
                label=_("Remove {name} from the room…").format(name=name), command=lambda: on_remove(name)
            )
        try:
            self.menu.tk_popup(event.x_root, event.y_root)
        finally:
            self.menu.grab_release()
        return "break"

    def fit(self) -> None:
        """Cut labels wider than the list to end in "…" (the tooltip has the whole one)."""
        box = self.listbox
        width = box.winfo_width() if box.winfo_width() > 1 else box.winfo_reqwidth()
        room = width - 2 * (int(box.cget("highlightthickness")) + int(box.cget("borderwidth"))) - theme.scaled(box, 6)
        font = theme.named_font(box, str(box.cget("font")))
        for index, (name, label_for) in enumerate(zip(self.members, self._label_for)):
            shown = fit_label(name, label_for, room, font.measure)
            if shown != box.get(index):
                colour = box.itemcget(index, "foreground")
                box.delete(index)
                box.insert(index, shown)
                if colour:
                    box.itemconfigure(index, foreground=colour)

    def host_not_answering(self, silent: bool) -> None:
        """Mark the host as not answering (greyed, in words), or show it as usual again."""
        if self.host_name not in self.members:
            return
        self.set(*self._shown)
        if silent:
            index = self.members.index(self.host_name)
            self._label_for[index] = not_answering_label
            label = self.full_labels[index] = self._label_for[index](self.host_name)
            self.listbox.delete(index)
            self.listbox.insert(index, label)
            self.listbox.itemconfigure(index, foreground=theme.MUTED)
            self.fit()

    def show_ended(self, heading: str, line: str) -> None:
        """The room is over for us (closed, or the session gone): nobody is listed as here;
        `line` says why, greyed, where the names were."""
        self.members = ()
        self.full_labels, self._label_for = [], []
        self.listbox.delete(0, "end")
        self.listbox.grid_remove()
        self.ended.configure(text=line)
        self.ended.grid(row=1, column=0, sticky="nsew")
        self.heading.configure(text=heading)

    def ended_text(self) -> str:
        """What stands where the names were ("" while the room goes on)."""
        return str(self.ended.cget("text")) if self.ended.winfo_manager() else ""

    def labels(self) -> list[str]:
        """Each row's whole label (what the list shows may be cut short to its width)."""
        return list(self.full_labels)

    def shown_labels(self) -> list[str]:
        return list(self.listbox.get(0, "end"))
