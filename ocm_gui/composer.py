"""The chat window's input: the text box, Send and Leave, a hint line and the counter.

The limit is in bytes, as on the wire; the counter speaks in characters of the kind
last typed (`counter_state`, a pure function the mutation tests reach without a screen).
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Callable

from ocm_core.i18n import _, chars_left, chars_over, ngettext

from . import theme
from .emoji import configure_emoji_tag, retag_emoji


def counter_state(text: str, size: int, limit: int) -> tuple[str, bool]:
    """(what the counter says, whether the text is over the limit) for `text` of `size` bytes."""
    if size > limit:
        count = chars_over(text, size - limit)
        label = ngettext("{count:,} character too many", "{count:,} characters too many", count)
        return label.format(count=count), True
    count = chars_left(text, limit - size)
    label = ngettext("{count:,} character left", "{count:,} characters left", count)
    return label.format(count=count), False


def too_long_text(text: str, size: int, limit: int) -> str:
    """Why a message over the limit was not sent, and what to do."""
    count = chars_over(text, size - limit)
    return ngettext("Not sent: the message is {count:,} character too long; shorten it or split it in two.",
                    "Not sent: the message is {count:,} characters too long; shorten it or split it in two.",
                    count).format(count=count)


def default_hint() -> str:
    return _("Enter sends · Shift+Enter adds a line")


class Composer:
    """Input, buttons and the line under them. `measure(text)` gives a message's size in bytes."""

    def __init__(self, master: tk.Misc, *, limit: int, measure: Callable[[str], int],
                 on_send: Callable[[], object], on_leave: Callable[[], object], leave_text: str):
        self.limit = limit
        self._measure = measure
        self.over_limit = False
        frame = self.frame = ttk.Frame(master, padding=(12, 8, 12, 10))
        frame.columnconfigure(0, weight=1)
        self.input = tk.Text(frame, height=3, wrap="word", font="OCMChat", undo=True,
                             background=theme.PANEL, foreground=theme.TEXT, relief="flat", borderwidth=0,
                             highlightthickness=1, highlightbackground=theme.BORDER,
                             highlightcolor=theme.ACCENT, padx=6, pady=4, width=40)
        self.input.grid(row=0, column=0, rowspan=2, sticky="nsew")
        configure_emoji_tag(self.input)
        self.send_button = ttk.Button(frame, text=_("Send"), style="Accent.TButton", command=on_send)
        self.send_button.grid(row=0, column=1, sticky="nsew", padx=(8, 0))
        self.leave_button = ttk.Button(frame, text=leave_text, command=on_leave)
        self.leave_button.grid(row=1, column=1, sticky="ew", padx=(8, 0), pady=(4, 0))
        foot = ttk.Frame(frame)
        foot.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        foot.columnconfigure(0, weight=1)
        self.hint = ttk.Label(foot, style="Small.TLabel", text="")
        self.hint.grid(row=0, column=0, sticky="w")
        self.counter = ttk.Label(foot, style="Small.TLabel")
        self.counter.grid(row=0, column=1, sticky="e")
        self.show_hint()

        self.input.bind("<Return>", self._on_return(on_send))
        self.input.bind("<KP_Enter>", self._on_return(on_send))
        self.input.bind("<Shift-Return>", self._on_shift_return)
        self.input.bind("<Shift-KP_Enter>", self._on_shift_return)
        self.input.bind("<<Modified>>", self._on_modified)
        self.update_counter()

    @staticmethod
    def _on_return(on_send: Callable[[], object]) -> Callable[[object], str]:
        def handler(event=None) -> str:
            on_send()
            return "break"
        return handler

    def _on_shift_return(self, event=None) -> str:
        self.input.insert("insert", "\n")
        self.input.see("insert")
        return "break"

    def _on_modified(self, event=None) -> None:
        self.input.edit_modified(False)
        retag_emoji(self.input)
        self.update_counter()

    def text(self) -> str:
        return self.input.get("1.0", "end-1c")

    def message(self) -> str:
        """What Send would send: the text without leading and trailing empty lines."""
        return self.text().strip("\n")

    def clear(self) -> None:
        self.input.delete("1.0", "end")
        self.input.edit_reset()
        self.show_hint()
        self.update_counter()

    def show_hint(self, text: str | None = None, error: bool = False) -> None:
        self.hint.configure(text=default_hint() if text is None else text,
                            style="Over.Small.TLabel" if error else "Small.TLabel")

    def update_counter(self) -> None:
        text = self.message()
        label, self.over_limit = counter_state(text, self._measure(text), self.limit)
        self.counter.configure(text=label, style="Over.Small.TLabel" if self.over_limit else "Small.TLabel")

    def disable(self, hint: str, leave_text: str) -> None:
        """The room is gone: no more typing or sending; Leave becomes Close window."""
        self.input.configure(state="disabled", background=theme.DISABLED_BG)
        self.send_button.state(["disabled"])
        self.leave_button.configure(text=leave_text)
        self.show_hint(hint)

    def enable(self, leave_text: str) -> None:
        """The room is back (joined again): typing and sending as before."""
        self.input.configure(state="normal", background=theme.PANEL)
        self.send_button.state(["!disabled"])
        self.leave_button.configure(text=leave_text)
        self.show_hint()

    def enabled(self) -> bool:
        return str(self.input.cget("state")) == "normal" and not self.send_button.instate(["disabled"])
