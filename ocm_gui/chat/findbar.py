"""Find in a room (Ctrl+F): a bar over the scrollback that highlights every match of what is
typed, width and case folded as the history search folds (ocm_gui/text/finding.py), and
walks them with Enter / Shift+Enter or the arrows; Escape closes it."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ocm_core.i18n import _
from ocm_gui import theme
from ocm_gui.text.finding import find_all
from ocm_gui.text.linebreak import BREAK_TAG

FOUND_TAG = "found"
FOUND_NOW_TAG = "found_now"


def readable_text(text: tk.Text) -> tuple[str, list[int]]:
    """What the widget shows as a person reads it (without the spaces that mark where Japanese
    may break: ocm_gui/text/linebreak.py), and for each of its characters its offset in the
    widget. Offsets go to Tk as "1.0 + N chars", which counts a character beyond the BMP as
    one, as Python does (its "line.column" indices count two in Tk 8.6)."""
    parts: list[str] = []
    offsets: list[int] = []
    at, hidden = 0, False
    for key, value, _index in text.dump("1.0", "end-1c", text=True, tag=True):
        if key in ("tagon", "tagoff") and value == BREAK_TAG:
            hidden = key == "tagon"
        elif key == "text":
            if not hidden:
                parts.append(value)
                offsets.extend(range(at, at + len(value)))
            at += len(value)
    return "".join(parts), offsets


def _whole_message(content: str, start: int, end: int) -> bool:
    before = content[max(0, start - 2) : start]
    line_end = content.find("\n", end)
    after = content[end : line_end if line_end >= 0 else len(content)].strip()
    return (start == 0 or before.endswith("\n") or before == "  ") and (
        not after or after[0] in "✓✗" or after == _("sending…")
    )


class FindBar:
    def __init__(
        self,
        master: tk.Misc,
        text: tk.Text,
        *,
        row: int = 0,
        on_close: Callable[[], object] | None = None,
        on_older: Callable[[str], object] | None = None,
    ):
        """`on_older(query)`: look further back than the view holds (the room's whole history)."""
        self.text = text
        self._on_close = on_close
        self.matches: list[tuple[str, str]] = []  # (start, end) Tk indices
        self.current = -1
        frame = self.frame = ttk.Frame(master, padding=theme.pad(master, 12, 4, 12, 4))
        self._row = row
        self._master = master
        frame.columnconfigure(1, weight=1)
        ttk.Label(frame, text=_("Find:")).grid(row=0, column=0, padx=(0, theme.scaled(master, 6)))
        self.query = tk.StringVar(frame)
        self.entry = ttk.Entry(frame, textvariable=self.query)
        self.entry.grid(row=0, column=1, sticky="ew")
        self.count = ttk.Label(frame, text="", style="Muted.TLabel", width=12, anchor="center")
        self.count.grid(row=0, column=2, padx=theme.scaled(master, 6))
        self.previous_button = ttk.Button(frame, text="↑", width=3, command=lambda: self.step(-1), takefocus=0)
        self.previous_button.grid(row=0, column=3)
        self.next_button = ttk.Button(frame, text="↓", width=3, command=lambda: self.step(1), takefocus=0)
        self.next_button.grid(row=0, column=4, padx=(theme.scaled(master, 2), 0))
        self.close_button = ttk.Button(frame, text=_("Close"), command=self.close, takefocus=0)
        self.close_button.grid(row=0, column=6, padx=(theme.scaled(master, 8), 0))
        self.older_button: ttk.Button | None = None
        if on_older is not None:
            self.older_button = ttk.Button(
                frame, text=_("Older…"), command=lambda: on_older(self.query.get()), takefocus=0
            )
            self.older_button.grid(row=0, column=5, padx=(theme.scaled(master, 8), 0))
        self.query.trace_add("write", lambda *a: self.search())
        self.entry.bind("<Return>", lambda e: self._key(1))
        self.entry.bind("<KP_Enter>", lambda e: self._key(1))
        self.entry.bind("<Shift-Return>", lambda e: self._key(-1))
        self.entry.bind("<Escape>", lambda e: self._key(0))
        text.tag_configure(FOUND_TAG, background=theme.WARN_BG, foreground=theme.WARN_FG)
        text.tag_configure(FOUND_NOW_TAG, background=theme.ACCENT, foreground=theme.PANEL)
        text.tag_raise(FOUND_TAG)
        text.tag_raise(FOUND_NOW_TAG)
        self.shown = False

    def _key(self, step: int) -> str:
        if step:
            self.step(step)
        else:
            self.close()
        return "break"

    def open(self, query: str | None = None) -> None:
        if not self.shown:
            self.frame.grid(row=self._row, column=0, sticky="ew")
            self.shown = True
        if query is not None and query != self.query.get():
            self.query.set(query)  # searches (trace)
        else:
            self.search()
        self.entry.focus_set()
        self.entry.select_range(0, "end")

    def close(self) -> None:
        self._clear()
        self.frame.grid_remove()
        self.shown = False
        if self._on_close is not None:
            self._on_close()

    def _clear(self) -> None:
        self.text.tag_remove(FOUND_TAG, "1.0", "end")
        self.text.tag_remove(FOUND_NOW_TAG, "1.0", "end")
        self.matches, self.current = [], -1

    def search(self) -> None:
        """Highlight every match and make the newest one current (a person looks for a recent line first)."""
        self._clear()
        content, offsets = readable_text(self.text)
        for start, end in find_all(content, self.query.get()):
            first = self.text.index(f"1.0 + {offsets[start]} chars")
            last = self.text.index(f"1.0 + {offsets[end - 1] + 1} chars")
            self.matches.append((first, last))
            self.text.tag_add(FOUND_TAG, first, last)
        if self.matches:
            self._go(len(self.matches) - 1)
        self._say_count()

    def _say_count(self) -> None:
        if not self.query.get().strip():
            self.count.configure(text="")
        elif not self.matches:
            self.count.configure(text=_("No matches"))
        else:
            self.count.configure(text=_("{index} of {count}").format(index=self.current + 1, count=len(self.matches)))

    def _go(self, index: int) -> None:
        self.text.tag_remove(FOUND_NOW_TAG, "1.0", "end")
        self.current = index
        first, last = self.matches[index]
        self.text.tag_add(FOUND_NOW_TAG, first, last)
        self.text.see(first)

    def step(self, step: int) -> None:
        """The next (1) or previous (-1) match, round the ends."""
        if not self.matches:
            return
        self._go((self.current + step) % len(self.matches))
        self._say_count()

    def go_to_line_with(self, line_text: str) -> bool:
        """Make current the match inside the (last) line that contains `line_text` (a search
        result opened from the search across rooms)."""
        content, offsets = readable_text(self.text)
        places = find_all(content, line_text)
        if not places or not self.matches:
            return False
        # The line itself, not a longer one that contains it ("会議" in "明日の会議"): its text
        # is the whole of a message, after the sender's name (or a continuation's margin) and
        # before the line's end or its delivery mark.
        whole = [place for place in places if _whole_message(content, *place)]
        start = (whole or places)[-1][0]
        line_start = self.text.index(f"1.0 + {offsets[start]} chars")
        for number, (first, _last) in enumerate(self.matches):
            if self.text.compare(first, ">=", line_start):
                self._go(number)
                self._say_count()
                return True
        return False
