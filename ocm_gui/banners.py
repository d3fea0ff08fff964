"""The strip under the chat window's header that says what is wrong with the room.

A yellow banner for a passing state (the connection is lost, the host is not
answering) and a red one for an end (the room closed, the session is gone), with
up to two buttons that say what the person can do about it.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Callable

from . import theme


class Banner:
    """One line of text with optional action buttons; hidden until `show`."""

    def __init__(self, master: tk.Misc, *, row: int):
        self.frame = ttk.Frame(master, style="Banner.TFrame", padding=theme.pad(master, 12, 6))
        self.frame.columnconfigure(0, weight=1)
        self.label = ttk.Label(self.frame, style="Banner.TLabel")
        self.label.grid(row=0, column=0, sticky="w")
        self.buttons: list[ttk.Button] = []
        self.frame.grid(row=row, column=0, sticky="ew")
        self.frame.grid_remove()
        self.visible = False
        self.closed = False

    def show(self, text: str, *, closed: bool = False,
             actions: tuple[tuple[str, Callable[[], object]], ...] = ()) -> None:
        """`closed`: the red look of an end; `actions`: (label, command) buttons, first is default."""
        self.closed = closed
        self.frame.configure(style="Closed.TFrame" if closed else "Banner.TFrame")
        self.label.configure(text=text, style="Closed.TLabel" if closed else "Banner.TLabel")
        for button in self.buttons:
            button.destroy()
        self.buttons = []
        for column, (label, command) in enumerate(actions, start=1):
            button = ttk.Button(self.frame, text=label, command=command)
            button.grid(row=0, column=column, sticky="e", padx=(theme.scaled(self.frame, 8), 0))
            self.buttons.append(button)
        self.frame.grid()
        self.visible = True

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
