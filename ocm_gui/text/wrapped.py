"""A few paragraphs and bullets that wrap to the width they are given, for help in a dialog.

A ttk.Label wraps at a fixed pixel width and only at spaces: a narrow column on a wide
dialog, and Japanese broken anywhere there is a space ("Windows：Windows" / "セキュリティ…")
or a bullet left alone on its line. This is a read-only Text instead: it wraps at its own
width, breaks Japanese where the line-breaking rules let it (ocm_gui/text/linebreak.py), hangs a
bullet's later lines under its first word, and is as tall as its lines.
"""

from __future__ import annotations

import math
import tkinter as tk

from ocm_gui import theme
from ocm_gui.text.linebreak import (
    BREAK_TAG,
    spaces_for_breaks,
    strip_breaks,
    with_break_opportunities,
)

BULLETS = {1: "•", 2: "–"}  # the mark of each indented level; level 0 is a plain paragraph


class WrappedText:
    """`items`: (level, text) pairs; level 0 a paragraph, 1 a bullet, 2 a bullet under it."""

    def __init__(
        self,
        master: tk.Misc,
        items: list[tuple[int, str]],
        *,
        font: str = "OCMSmall",
        foreground: str | None = None,  # theme.MUTED and theme.BG of the palette in use
        background: str | None = None,
    ):
        self.font = theme.named_font(master, font)
        self.text = tk.Text(
            master,
            wrap="word",
            font=self.font,
            foreground=foreground or theme.MUTED,
            background=background or theme.BG,
            relief="flat",
            borderwidth=0,
            highlightthickness=0,
            padx=0,
            pady=0,
            width=1,
            height=1,
            cursor="arrow",
            takefocus=0,
            insertwidth=0,
        )
        gap = theme.scaled(master, 2)
        for level, mark in BULLETS.items():
            # The mark sits in the margin of the level above; later lines start under the text.
            before = self.font.measure(BULLETS[level - 1] + " ") if level > 1 else 0
            hang = before + self.font.measure(mark + " ")
            self.text.tag_configure(f"level{level}", lmargin1=before, lmargin2=hang, spacing1=gap)
        self.text.tag_configure("level0", spacing1=gap)
        self.text.tag_configure(BREAK_TAG, font=(self.font.actual("family"), -1))
        flat: list = []
        for number, (level, words) in enumerate(items):
            mark = BULLETS[level] + " " if level else ""
            end = "\n" if number < len(items) - 1 else ""
            flat += [mark + with_break_opportunities(words) + end, (f"level{level}",)]
        breaks = spaces_for_breaks(flat, 1, 0)
        self.text.insert("1.0", *flat)
        if breaks:
            self.text.tag_add(BREAK_TAG, *breaks)
        self.text.configure(state="disabled")
        self._height = 1
        self.text.bind("<Configure>", lambda e: self.fit(), add="+")

    def fit(self) -> None:
        """Be as tall as the text is at this width (Tk counts its height in lines of the font)."""
        self.text.update_idletasks()
        pixels = int(self.text.tk.call(str(self.text), "count", "-ypixels", "1.0", "end"))
        lines = max(1, math.ceil(pixels / max(1, self.font.metrics("linespace"))))
        if lines != self._height:
            self._height = lines
            self.text.configure(height=lines)

    def plain(self) -> str:
        """The words as shown, marks included, without the break spaces."""
        ranges = self.text.tag_ranges(BREAK_TAG)
        if not ranges:
            return self.text.get("1.0", "end-1c")
        pieces, position = [], "1.0"
        for start, end in zip(ranges[0::2], ranges[1::2]):
            pieces.append(self.text.get(position, start))
            position = str(end)
        pieces.append(self.text.get(position, "end-1c"))
        return strip_breaks("".join(pieces))

    def display_lines(self) -> list[str]:
        return display_lines(self.text)


def display_lines(text: tk.Text) -> list[str]:
    """The lines of a Text as drawn at its present width, break spaces left out: what the
    tests check wrapping by (only the lines in view have a place)."""
    rows: dict[int, list[str]] = {}
    index = "1.0"
    while text.compare(index, "<", "end-1c"):
        line = text.dlineinfo(index)
        if line is not None and text.get(index) != "\n" and BREAK_TAG not in text.tag_names(index):
            rows.setdefault(line[1], []).append(text.get(index))
        index = text.index(f"{index} +1c")
    return ["".join(chars).strip() for _y, chars in sorted(rows.items())]
