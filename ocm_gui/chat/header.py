"""The chat window's header: the room, your name and role, the address a host shares with
its Copy button, the room's invite link, and the server identity line. Long names end in "…" with the whole name
in a tooltip; the file panel puts its Share button at the row's right end."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ocm_core.i18n import _
from ocm_gui import theme
from ocm_gui.text.tooltip import ElidedLabel


def share_row(room: int, first: int, second: int, least_share: float = 1 / 3) -> tuple[int, int]:
    """Widths for two texts that want `first` and `second` pixels in a row `room` wide: both
    whole if they fit, else the first gets what the second leaves, and the second keeps at
    least `least_share` of the row (less if it needs less)."""
    room = max(0, room)
    if first + second <= room:
        return first, second
    second_width = max(min(second, int(room * least_share)), room - first)
    return room - second_width, second_width


class ChatHeader:
    """`later(ms, func)`: after() cancelled with the window (the Copy button's "Copied ✓")."""

    def __init__(
        self,
        win: tk.Misc,
        *,
        room: str,
        username: str,
        is_host: bool,
        share_address: str | None,
        fingerprint: str | None,
        later: Callable[[int, Callable[[], object]], None],
        locked: bool = False,
        link: str | None = None,
    ):
        self.win = win
        self.share_address = share_address
        self.link = link
        self._later = later
        self.right_widget: tk.Widget | None = None  # what the row keeps at its right end (Share a file…)
        frame = self.frame = ttk.Frame(win, padding=theme.pad(win, 12, 10, 12, 6))
        frame.columnconfigure(1, weight=1)
        self.room_label = ttk.Label(frame, style="Heading.TLabel")
        self.room_label.grid(row=0, column=0, sticky="w")
        role = _("you host this room") if is_host else _("you are a member")
        if locked:  # a host who set a password is reminded that newcomers need it
            role = _("{role} · locked with a password").format(role=role)
        self.who_label = ttk.Label(frame, style="Muted.TLabel")
        self.who_label.grid(row=0, column=1, sticky="w", padx=(theme.scaled(win, 10), 0))
        self.room_name = ElidedLabel(self.room_label, room, "OCMHeading")
        self.who_name = ElidedLabel(self.who_label, f"{username} · {role}", "TkDefaultFont")
        frame.bind("<Configure>", lambda e: self.fit(), add="+")
        self.share_entry: ttk.Entry | None = None
        # The room's topic, set by its host: under everything else, shown only when there is one.
        self.topic_label = ttk.Label(frame, style="Muted.TLabel", justify="left")
        self.topic = ""
        self.copy_button: ttk.Button | None = None
        self.link_button: ttk.Button | None = None
        copy_width = theme.chars_to_fit(frame, [_("Copy"), _("Copied ✓")], font="TkDefaultFont")
        if share_address:
            share = self.share_row = ttk.Frame(frame)
            share.grid(row=1, column=0, columnspan=3, sticky="w", pady=(theme.scaled(win, 6), 0))
            ttk.Label(share, text=_("Others join with this address:")).pack(side="left")
            self._share_var = tk.StringVar(value=share_address)
            self.share_entry = ttk.Entry(
                share,
                textvariable=self._share_var,
                state="readonly",
                font="OCMHeading",
                width=theme.chars_to_fit(frame, [share_address], font="OCMHeading"),
            )
            self.share_entry.pack(side="left", padx=theme.pad(win, 6, 6))
            # As wide as its longer word, so "Copied ✓" does not move anything.
            self.copy_button = ttk.Button(share, text=_("Copy"), command=self.copy_address, width=copy_width)
            self.copy_button.pack(side="left")
        self.fingerprint_label: ttk.Label | None = None
        if fingerprint:
            self.fingerprint_label = ttk.Label(
                frame,
                style="Small.TLabel",
                # Words, not a lock emoji: Tk 8.6 draws characters beyond U+FFFF as empty boxes.
                text=_(
                    "Encrypted · server identity {fingerprint} · everyone in the room sees the same; compare it aloud"
                ).format(fingerprint=fingerprint),
            )
            self.fingerprint_label.grid(
                row=2, column=0, columnspan=2, sticky="w", pady=(theme.scaled(win, 4), 0)
            )  # under the file button too
        if link:
            # Beside the identity the link carries: whoever opens it joins without a trust question.
            self.link_button = ttk.Button(
                frame,
                text=_("Copy link"),
                command=self.copy_link,
                style="Compact.TButton",
                width=theme.chars_to_fit(frame, [_("Copy link"), _("Copied ✓")], font="TkDefaultFont"),
            )
            self.link_button.grid(row=2, column=2, sticky="ne", pady=(theme.scaled(win, 4), 0))

    def share_width(self) -> int:
        """What the row of the address and the link asks for (0 when there is neither)."""
        row = getattr(self, "share_row", None)
        return row.winfo_reqwidth() if row is not None else 0

    def fit(self) -> None:
        """Share the first row between the room name and "NAME · role" (the room first, but
        the person's own name keeps at least a third), and wrap the fingerprint line to the
        header's width: a narrow window or large text cuts nothing."""
        padding = theme.scaled(self.win, 24)
        if self.fingerprint_label is not None:
            # The last column holds the link button and, above it, the file button: the widest sets it.
            column = [w.winfo_reqwidth() for w in (self.link_button, self.right_widget) if w is not None]
            beside = max(column) + theme.scaled(self.win, 8) if self.link_button is not None else 0
            self.fingerprint_label.configure(
                wraplength=max(theme.scaled(self.win, 100), self.frame.winfo_width() - padding - beside)
            )
        taken = self.right_widget.winfo_reqwidth() if self.right_widget is not None else 0
        room = self.frame.winfo_width() - padding - taken - theme.scaled(self.win, 10 + 12)
        room_width, who_width = share_row(room, self.room_name.natural_width(), self.who_name.natural_width())
        self.room_name.fit(room_width)
        self.who_name.fit(who_width)

    def copy_address(self) -> None:
        if self.share_address:  # a member's header has no address to copy
            self._copy(self.share_address, self.copy_button, _("Copy"))

    def copy_link(self) -> None:
        if self.link:
            self._copy(self.link, self.link_button, _("Copy link"))

    def _copy(self, text: str, button: ttk.Button | None, caption: str) -> None:
        if button is None:
            return
        self.win.clipboard_clear()
        self.win.clipboard_append(text)
        button.configure(text=_("Copied ✓"))
        self._later(1500, lambda: button.configure(text=caption))

    def set_topic(self, topic: str) -> None:
        """Show the room's topic under the header's rows ("" hides the line)."""
        self.topic = topic
        if not topic:
            self.topic_label.grid_remove()
            return
        self.topic_label.configure(text=topic, wraplength=max(200, self.frame.winfo_width() - 24))
        self.topic_label.grid(row=9, column=0, columnspan=3, sticky="w", pady=(theme.scaled(self.win, 4), 0))
