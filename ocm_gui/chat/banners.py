"""The strip under the chat window's header that says what is wrong with the room.

A yellow banner for a passing state (the connection is lost, the host is not
answering) and a red one for an end (the room closed, the session is gone), with
up to two buttons that say what the person can do about it. The text wraps in the
width the buttons leave it, so that no button ever covers a word, at any scaling.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ocm_gui import theme

BUTTON_GAP = 8  # pixels at 96 dpi between the text and each button
PAD_X, PAD_Y = 12, 6  # pixels at 96 dpi around the banner's content
MIN_TEXT_WIDTH = 200  # pixels at 96 dpi the text needs beside the buttons; else they go under it


class Banner:
    """Text with optional action buttons on its right; hidden until `show`."""

    def __init__(self, master: tk.Misc, *, row: int):
        self.frame = ttk.Frame(
            master, style="Banner.TFrame", padding=(theme.scaled(master, PAD_X), theme.scaled(master, PAD_Y))
        )
        self.frame.columnconfigure(0, weight=1)
        self.label = ttk.Label(self.frame, style="Banner.TLabel", justify="left")
        self.label.grid(row=0, column=0, sticky="w")
        self.buttons: list[ttk.Button] = []
        self.frame.grid(row=row, column=0, sticky="ew")
        self.frame.grid_remove()
        self.visible = False
        self.closed = False
        self.frame.bind("<Configure>", lambda e: self._wrap(e.width), add="+")

    def show(
        self, text: str, *, closed: bool = False, actions: tuple[tuple[str, Callable[[], object]], ...] = ()
    ) -> None:
        """`closed`: the red look of an end; `actions`: (label, command) buttons, first is default."""
        self.closed = closed
        self.frame.configure(style="Closed.TFrame" if closed else "Banner.TFrame")
        self.label.configure(text=text, style="Closed.TLabel" if closed else "Banner.TLabel")
        for button in self.buttons:
            button.destroy()
        self.buttons = []
        gap = theme.scaled(self.frame, BUTTON_GAP)
        for column, (label, command) in enumerate(actions, start=1):
            button = ttk.Button(self.frame, text=label, command=command)
            button.grid(row=0, column=column, sticky="e", padx=(gap, 0))
            # A new button's size is known once it is laid out: wrap again then.
            button.bind("<Configure>", lambda e: self._wrap(self.frame.winfo_width()), add="+")
            self.buttons.append(button)
        self.frame.grid()
        self.visible = True
        # Wrap for the width the window has now; <Configure> keeps it right as it changes.
        self._wrap(self.frame.winfo_width() if self.frame.winfo_ismapped() else self.frame.master.winfo_width())

    def set_text(self, text: str) -> None:
        """New words, same buttons (a Rejoin under way, or the reason it failed)."""
        self.label.configure(text=text)

    def enable_buttons(self, enabled: bool) -> None:
        for button in self.buttons:
            button.state(["!disabled"] if enabled else ["disabled"])

    def _wrap(self, width: int) -> None:
        """Give the text the frame's width less its padding and the buttons; where that
        leaves too little (a narrow screen at large scaling), the buttons go under the text."""
        if width <= 1:  # not laid out yet
            return
        gap = theme.scaled(self.frame, BUTTON_GAP)
        taken = sum(button.winfo_reqwidth() + gap for button in self.buttons)
        padding = 2 * theme.scaled(self.frame, PAD_X)
        beside = width - taken - padding >= theme.scaled(self.frame, MIN_TEXT_WIDTH)
        for button in self.buttons:
            button.grid_configure(row=0 if beside else 1, pady=(0 if beside else theme.scaled(self.frame, PAD_Y), 0))
        self.label.grid_configure(columnspan=1 if beside else len(self.buttons) + 1)
        self.label.configure(wraplength=max(1, width - padding - (taken if beside else 0)))

    def hide(self) -> None:
        self.frame.grid_remove()
        self.visible = False

    def text(self) -> str:
        return str(self.label.cget("text")) if self.visible else ""

    def button_labels(self) -> list[str]:
        return [str(button.cget("text")) for button in self.buttons]

    def button(self, label: str) -> ttk.Button:
        for button in self.buttons:
            if str(button.cget("text")) == label:
                return button
        raise KeyError(label)
