"""The line under a conversation that says who is typing: shown on a signal, gone 5 s after
the last one or when their message arrives (ocm_core.sansio.presence decides; this draws)."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ocm_core.i18n import _
from ocm_core.sansio.presence import TypingShown


def typing_text(names: tuple[str, ...]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return _("{name} is typing…").format(name=names[0])
    return _("{names} are typing…").format(names=_(", ").join(names))


class TypingLine:
    def __init__(self, label: ttk.Label, *, clock: Callable[[], float] = time.monotonic):
        self.label = label
        self.shown = TypingShown()
        self._clock = clock
        self._after: str | None = None

    def signal(self, name: str) -> None:
        self.shown.signal(name, self._clock())
        self._draw()

    def spoke(self, name: str) -> None:
        if self.shown.spoke(name):
            self._draw()

    def text(self) -> str:
        return str(self.label.cget("text"))

    def _draw(self) -> None:
        now = self._clock()
        self.shown.tick(now)
        try:
            self.label.configure(text=typing_text(self.shown.names(now)))
        except tk.TclError:
            return  # the window went away
        due = self.shown.next_change()
        if due is not None and self._after is None:
            self._after = self.label.after(max(50, int((due - now) * 1000) + 20), self._due)

    def _due(self) -> None:
        self._after = None
        self._draw()
