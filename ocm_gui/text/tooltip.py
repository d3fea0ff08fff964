"""Whole names where the window has room only for part of them.

`ellipsize` cuts a text to a width and ends it in "…" (a pure function: the width of a
text comes from a `measure` callable, a font's in the app and a fake one in tests).
`Tooltip` shows a small window with the whole text after a short hover, and goes away on
leave or click; it never takes the focus. `ElidedLabel` puts the two together for a
label, and `ListboxTooltip` does it for the row of a list box under the pointer.
"""

from __future__ import annotations

import tkinter as tk
import unicodedata
from collections.abc import Callable
from tkinter import ttk

from ocm_gui import theme

ELLIPSIS = "…"
DELAY_MS = 500  # long enough not to flash while the pointer passes over


def ellipsize(text: str, width: int, measure: Callable[[str], int]) -> str:
    """`text` if it is at most `width` wide, else its longest beginning that fits with "…"
    after it ("" when not even "…" fits). A combining mark stays with its letter."""
    if measure(text) <= width:
        return text
    if measure(ELLIPSIS) > width:
        return ""
    low, high = 0, len(text)  # the longest prefix that fits lies in [low, high)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle] + ELLIPSIS) <= width:
            low = middle
        else:
            high = middle - 1
    while 0 < low < len(text) and unicodedata.combining(text[low]):
        low -= 1  # never part a base letter from the accent drawn on it
    return text[:low].rstrip() + ELLIPSIS


class Tooltip:
    """A hover text for `widget`. `text` is a string or a callable giving it at show time
    (an empty result shows nothing: a name shown whole needs no tooltip)."""

    def __init__(self, widget: tk.Widget, text: str | Callable[[], str], *, delay_ms: int = DELAY_MS):
        self.widget = widget
        self.text = text
        self.delay_ms = delay_ms
        self.window: tk.Toplevel | None = None
        self._after: str | None = None
        self._pointer = (0, 0)
        widget.bind("<Enter>", self.schedule, add="+")
        widget.bind("<Motion>", self._moved, add="+")
        widget.bind("<Leave>", self.hide, add="+")
        widget.bind("<ButtonPress>", self.hide, add="+")
        widget.bind("<Destroy>", self.hide, add="+")

    def current_text(self) -> str:
        return self.text() if callable(self.text) else self.text

    def _moved(self, event) -> None:
        self._pointer = (event.x_root, event.y_root)
        if self.window is None and self._after is None:
            self.schedule(event)

    def schedule(self, event=None) -> None:
        """Show the tooltip after its delay (an earlier wait starts again)."""
        if event is not None:
            self._pointer = (event.x_root, event.y_root)
        self._cancel()
        self._after = self.widget.after(self.delay_ms, self.show)

    def _cancel(self) -> None:
        if self._after is not None:
            try:
                self.widget.after_cancel(self._after)
            except tk.TclError:
                pass
            self._after = None

    def show(self) -> None:
        """Show the tooltip now, just below the pointer."""
        self._after = None
        text = self.current_text()
        self._close_window()
        if not text or not self.widget.winfo_exists():
            return
        window = self.window = tk.Toplevel(self.widget)
        window.withdraw()
        window.overrideredirect(True)  # no title bar, and the window manager gives it no focus
        try:
            window.wm_attributes("-type", "tooltip")  # X11 only: tells the window manager what it is
        except tk.TclError:
            pass
        label = tk.Label(
            window,
            text=text,
            justify="left",
            background=theme.TOOLTIP_BG,
            foreground=theme.TEXT,
            relief="solid",
            borderwidth=1,
            font="TkTooltipFont",
            wraplength=theme.scaled(window, 420),
            padx=theme.scaled(window, 6),
            pady=theme.scaled(window, 3),
        )
        label.pack()
        x, y = self._pointer if self._pointer != (0, 0) else (self.widget.winfo_rootx(), self.widget.winfo_rooty())
        window.update_idletasks()
        # On screen, even for a name at the screen's right edge.
        x = max(0, min(x + theme.scaled(window, 12), window.winfo_screenwidth() - label.winfo_reqwidth() - 2))
        y = y + theme.scaled(window, 18)
        window.geometry(f"+{x}+{y}")
        window.deiconify()

    def _close_window(self) -> None:
        if self.window is not None:
            try:
                self.window.destroy()
            except tk.TclError:
                pass
            self.window = None

    def hide(self, event=None) -> None:
        self._cancel()
        self._close_window()

    def shown_text(self) -> str:
        """What the tooltip shows now ("" when hidden), for tests."""
        if self.window is None:
            return ""
        return str(self.window.winfo_children()[0].cget("text"))


class ElidedLabel:
    """A label that shows as much of `full` as fits `width` pixels (set by its owner as the
    window's size changes) and the whole text in a tooltip when it had to cut."""

    def __init__(self, label: tk.Label | ttk.Label, full: str, font: str):
        self.label = label
        self.full = full
        self.font = theme.named_font(label, font)
        self.tooltip = Tooltip(label, lambda: self.full if self.elided else "")
        label.configure(text=full)

    @property
    def elided(self) -> bool:
        return str(self.label.cget("text")) != self.full

    def natural_width(self) -> int:
        return self.font.measure(self.full)

    def fit(self, width: int) -> None:
        shown = ellipsize(self.full, max(0, width), self.font.measure)
        if shown != str(self.label.cget("text")):
            self.label.configure(text=shown)


class ListboxTooltip:
    """The whole label of the list box row under the pointer, for rows shown cut short.
    `full(index)` gives a row's whole label; a row shown whole gets no tooltip."""

    def __init__(self, listbox: tk.Listbox, full: Callable[[int], str]):
        self.listbox = listbox
        self._full = full
        self._row = -1
        self.tooltip = Tooltip(listbox, self._text)
        listbox.bind("<Motion>", self._moved, add="+")

    def _row_at(self, y: int) -> int:
        size = self.listbox.size()
        if not size:
            return -1
        row = self.listbox.nearest(y)
        box = self.listbox.bbox(row)
        return row if box and box[1] <= y < box[1] + box[3] else -1  # below the last row: none

    def _moved(self, event) -> None:
        row = self._row_at(event.y)
        if row != self._row:
            self._row = row
            self.tooltip.hide()
            self.tooltip.schedule(event)

    def _text(self) -> str:
        if self._row < 0 or self._row >= self.listbox.size():
            return ""
        whole = self._full(self._row)
        return whole if whole != self.listbox.get(self._row) else ""

    def show_row(self, row: int) -> None:
        """Show the tooltip for `row` at once (as hovering over it would), for tests."""
        self._row = row
        self.tooltip.show()
