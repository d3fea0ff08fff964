"""A small question before something that cannot be undone (closing a room others are in).

Not a blocking messagebox: the answer comes back through a callback, so the chat
window's poll keeps running while the question is open, and a test can press the
buttons. Escape and the window's close box mean the safe answer (cancel).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ocm_gui import theme


class Confirm:
    """`question` with a `yes` button and a Cancel; `on_answer(True)` only for `yes`."""

    def __init__(
        self, master: tk.Misc, *, title: str, question: str, yes: str, cancel: str, on_answer: Callable[[bool], object]
    ):
        self._on_answer = on_answer
        self.answered = False
        win = self.win = tk.Toplevel(master)
        win.withdraw()
        win.title(title)
        win.transient(master.winfo_toplevel())
        win.resizable(False, False)
        pad = theme.scaled(win, 16)
        frame = ttk.Frame(win, padding=pad)
        frame.pack(fill="both", expand=True)
        self.label = ttk.Label(frame, text=question, wraplength=theme.scaled(win, 360), justify="left")
        self.label.grid(row=0, column=0, columnspan=2, sticky="w")
        buttons = self.buttons = ttk.Frame(frame)
        buttons.grid(row=1, column=0, columnspan=2, sticky="e", pady=(pad, 0))
        self.yes_button = ttk.Button(buttons, text=yes, command=lambda: self._answer(True))
        self.yes_button.pack(side="left")
        self.cancel_button = ttk.Button(
            buttons, text=cancel, style="Accent.TButton", command=lambda: self._answer(False)
        )
        self.cancel_button.pack(side="left", padx=(theme.scaled(win, 8), 0))
        win.bind("<Escape>", lambda e: self._answer(False))
        win.bind("<Return>", lambda e: self._answer(e.widget is self.yes_button))
        win.protocol("WM_DELETE_WINDOW", lambda: self._answer(False))
        win.deiconify()
        self.cancel_button.focus_set()  # the safe answer is the one Enter or Space gives by default
        try:
            win.grab_set()
        except tk.TclError:  # another grab (a file dialog) is up: the question still works
            pass

    def _answer(self, yes: bool) -> None:
        if self.answered:
            return
        self.answered = True
        try:
            self.win.grab_release()
        except tk.TclError:
            pass
        self.win.destroy()
        self._on_answer(yes)

    def close(self) -> None:
        """Withdraw the question unanswered (its window is going away)."""
        if not self.answered:
            self.answered = True
            self.win.destroy()


class AskText(Confirm):
    """`question` with a line to type (`secret`: shown as dots); `on_text(text)` for the `yes`
    button (or Enter), `on_text(None)` for Cancel, Escape or the close box."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        title: str,
        question: str,
        initial: str,
        yes: str,
        cancel: str,
        on_text: Callable[[str | None], object],
        secret: bool = False,
    ):
        self.value = tk.StringVar(master, value=initial)
        super().__init__(
            master,
            title=title,
            question=question,
            yes=yes,
            cancel=cancel,
            on_answer=lambda ok: on_text((self.value.get() if secret else self.value.get().strip()) if ok else None),
        )
        # The line between the question and the buttons, and the button that takes it the default.
        self.entry = ttk.Entry(self.label.master, textvariable=self.value, show="•" if secret else "", width=40)
        self.entry.grid(row=1, column=0, columnspan=2, sticky="ew", pady=(theme.scaled(self.win, 10), 0))
        self.buttons.grid_configure(row=2)
        self.yes_button.configure(style="Accent.TButton")
        self.cancel_button.configure(style="TButton")
        self.label.master.columnconfigure(0, weight=1)
        self.entry.bind("<Return>", lambda e: self._answer(True))
        self.entry.focus_set()
        self.entry.icursor("end")
