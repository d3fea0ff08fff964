"""A label that wraps Japanese by the kinsoku rules: Tk's Label breaks CJK text between any
two characters, so a line can begin with 。 or 」. The text is broken into lines beforehand
(linebreak.wrap_to_width) at the label's wraplength, measured with the label's font, and
again whenever the label is resized or its text changes."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from ocm_gui.text.linebreak import wrap_to_width


def label_font(label: ttk.Label) -> str:
    """The font a ttk.Label draws with: its own, its style's, or Tk's default."""
    font = str(label.cget("font"))
    if font:
        return font
    style = str(label.cget("style")) or label.winfo_class()
    return str(ttk.Style(label).lookup(style, "font")) or "TkDefaultFont"


def show_wrapped(label: ttk.Label, source: tk.StringVar) -> None:
    """Show source's text in label, broken into lines by the kinsoku rules at its wraplength.
    source keeps the text as it was set (what tests and callers read); the label shows a copy."""
    shown = tk.StringVar(master=label)

    def update(*_args) -> None:
        if not label.winfo_exists():
            return  # source set after its window closed
        width = label.winfo_pixels(str(label.cget("wraplength")) or "0")
        font = label_font(label)
        shown.set(wrap_to_width(source.get(), lambda text: int(label.tk.call("font", "measure", font, text)), width))

    source.trace_add("write", update)
    label.bind("<Configure>", update, add="+")  # after a binding that sets wraplength from the width
    label.configure(textvariable=shown)
    update()
