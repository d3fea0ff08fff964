"""What the Host and Join dialogs share: a window with a name field, an error line that says
what went wrong in one sentence (the dialog stays open with what was typed), a busy state
while a worker thread (background.run_in_thread) does the network work, and Cancel, which
abandons that work and cleans up whatever it made."""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from ocm_core.errors import (
    ProtocolError,
    RemoteProtocolError,
)
from ocm_core.i18n import N_, _
from ocm_gui import theme
from ocm_gui.text.labelwrap import show_wrapped

log = logging.getLogger(__name__)


RECENT_SERVERS = 8  # addresses offered under Connect by address


def error_sentence(error: Exception) -> str:
    """A client error is already a sentence; a remote protocol error means the wrong program
    answered; a local one means this app could not put what was typed on the wire."""
    if isinstance(error, RemoteProtocolError):
        return _(
            "The program at that address is not an Online Chat Messenger server ({reason}); check the address and port."
        ).format(reason=error.reason)
    if isinstance(error, ProtocolError):
        return _("That request cannot be sent ({reason}); check what you typed.").format(reason=error.reason)
    return str(error)


def focus_field(widget: tk.Widget) -> None:
    """Give widget the keyboard; an entry's text is selected, so typing replaces what was filled in."""
    widget.focus_set()
    if isinstance(widget, (ttk.Entry, tk.Entry)):  # a ttk.Combobox is a ttk.Entry
        widget.selection_range(0, "end")
        widget.icursor("end")


class Dialog:
    """A Toplevel with a form, an error line, a busy line and OK / Cancel."""

    title = ""  # N_()-marked: shown through _()
    ok_text = N_("OK")
    name_var: tk.StringVar  # every dialog asks for the person's name (made in build())

    def __init__(
        self,
        master: tk.Misc,
        *,
        backend,
        settings,
        on_success: Callable,
        on_close: Callable[[Dialog], None] | None = None,
    ):
        self.master = master
        self.backend = backend
        self.settings = settings
        self._on_success = on_success
        self._on_close = on_close
        self.busy = False
        self.closed = False
        self.cancelled = False
        # The error line is about one field (or, None, the whole form); it goes away when
        # what it was about changes: these are the variables behind each field.
        self._error_about: tk.Widget | None = None
        self._watched: dict[tk.Widget, tk.Variable] = {}

        self.win = tk.Toplevel(master)
        self.win.withdraw()
        self.win.title(_(self.title))
        self.win.transient(master.winfo_toplevel())
        self.win.protocol("WM_DELETE_WINDOW", self.cancel)
        self.win.columnconfigure(0, weight=1)
        self.win.rowconfigure(0, weight=1)
        self.body = ttk.Frame(self.win, padding=self.px(18, 16, 18, 8))
        self.body.grid(row=0, column=0, sticky="nsew")
        self.body.columnconfigure(1, weight=1)
        self._row = 0
        self.build()

        self.error_var = tk.StringVar()
        self.error_label = ttk.Label(
            self.win,
            textvariable=self.error_var,
            style="Error.TLabel",
            wraplength=self.px(420),
            justify="left",
            padding=self.px(18, 0, 18, 0),
        )
        # Always in the grid, empty until an error: an empty label keeps one line's height,
        # so the buttons below do not jump when an error appears.
        self.error_label.grid(row=1, column=0, sticky="ew")
        self.error_label.bind(
            "<Configure>", lambda e: e.widget.configure(wraplength=max(self.px(240), e.width - self.px(36)))
        )
        show_wrapped(self.error_label, self.error_var)  # Japanese lines broken where kinsoku allows
        self.error_actions = ttk.Frame(self.win, padding=self.px(18, 4, 18, 0))
        self.error_actions.grid(row=2, column=0, sticky="w")

        buttons = ttk.Frame(self.win, padding=self.px(18, 10, 18, 16))
        buttons.grid(row=3, column=0, sticky="ew")
        buttons.columnconfigure(0, weight=1)
        self.busy_var = tk.StringVar()
        ttk.Label(buttons, textvariable=self.busy_var, style="Muted.TLabel").grid(row=0, column=0, sticky="w")
        self.ok_button = ttk.Button(buttons, text=_(self.ok_text), style="Accent.TButton", command=self.ok)
        self.ok_button.grid(row=0, column=1, padx=self.px(8, 0))
        self.cancel_button = ttk.Button(buttons, text=_("Cancel"), command=self.cancel)
        self.cancel_button.grid(row=0, column=2, padx=self.px(8, 0))

        self.win.bind("<Return>", self._on_return)
        self.win.bind("<KP_Enter>", self._on_return)
        self.win.bind("<Escape>", lambda e: self.cancel())
        self.win.update_idletasks()
        self.win.minsize(max(theme.scaled(self.win, 460), self.win.winfo_reqwidth()), self.win.winfo_reqheight())
        self._place_over_master()
        self.win.deiconify()
        self.focus_first_field()

    def px(self, *pixels: int) -> Any:
        """Pixels drawn for 96 dpi, grown with the text: one number, or a padding's tuple."""
        grown = tuple(theme.scaled(self.master, value) for value in pixels)
        return grown[0] if len(grown) == 1 else grown

    # -- to override
    def build(self) -> None:
        raise NotImplementedError

    def first_field(self) -> tk.Widget:
        raise NotImplementedError

    def focus_first_field(self) -> None:
        focus_field(self.first_field())

    def ok(self) -> None:
        raise NotImplementedError

    # -- form helpers
    def field(
        self, label: str, value: str = "", *, show: str | None = None, width: int = 30, hint: str | None = None
    ) -> tuple[tk.StringVar, ttk.Entry]:
        var = tk.StringVar(value=value)
        ttk.Label(self.body, text=label).grid(row=self._row, column=0, sticky="w", padx=self.px(0, 12), pady=self.px(4))
        entry = ttk.Entry(self.body, textvariable=var, width=width, show=show or "")
        entry.grid(row=self._row, column=1, sticky="ew", pady=self.px(4))
        self._row += 1
        self.watch(var, entry)
        if hint:
            ttk.Label(self.body, text=hint, style="Small.TLabel").grid(
                row=self._row, column=1, sticky="w", pady=self.px(0, 4)
            )
            self._row += 1
        return var, entry

    def watch(self, var: tk.Variable, *widgets: tk.Widget) -> None:
        """An error shown at one of these widgets goes away once var changes."""
        for widget in widgets:
            self._watched[widget] = var
        var.trace_add("write", lambda *args: self._field_changed(var))

    def _field_changed(self, var: tk.Variable) -> None:
        if self.closed or not self.error_var.get():
            return
        about = self._error_about
        if about is None or self._watched.get(about) is var:
            self.show_error("")

    def _place_over_master(self) -> None:
        top = self.master.winfo_toplevel()
        if not top.winfo_viewable():
            return
        x = top.winfo_rootx() + max(0, (top.winfo_width() - self.win.winfo_reqwidth()) // 2)
        y = top.winfo_rooty() + 40
        self.win.geometry(f"+{x}+{y}")

    def _on_return(self, event) -> str:
        focus = self.win.focus_get()
        if isinstance(focus, ttk.Button) and focus is not self.ok_button:
            focus.invoke()  # Enter on a focused Refresh or Cancel does what it says
        else:
            self.ok()
        return "break"

    # -- state
    def show_error(self, text: str, focus: tk.Widget | None = None) -> None:
        """Show one sentence about the field focus (None: about the whole form); "" clears it."""
        self.error_var.set(text)
        self._error_about = focus if text else None
        for child in self.error_actions.winfo_children():
            child.destroy()
        if focus is not None:
            focus_field(focus)

    def collect(self, *checks) -> list | None:
        """Run (entry, check) pairs in order; the first ValueError is shown at its entry -> None."""
        values = []
        for entry, check in checks:
            try:
                values.append(check())
            except ValueError as exc:
                self.show_error(str(exc), entry)
                return None
        return values

    def error_text(self) -> str:
        return self.error_var.get()

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        self.busy_var.set(text if busy else "")
        self.ok_button.state(["disabled"] if busy else ["!disabled"])
        self.win.configure(cursor="watch" if busy else "")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.win.destroy()
        if self._on_close is not None:
            self._on_close(self)

    def cancel(self) -> None:
        self.cancelled = True
        self.close()

    def typed(self) -> dict[str, str]:
        """What the person typed that is worth keeping when the dialog is cancelled, by
        setting name (never a password)."""
        return {"name": self.name_var.get().strip()}

    def succeed(self, *result) -> None:
        self.close()
        self._on_success(*result)

    def unexpected(self, error: BaseException, what: str) -> None:
        log.error("%s failed", what, exc_info=error)
        self.show_error(
            _("{what} failed unexpectedly ({error}); try again, and report it if it keeps happening.").format(
                what=what, error=error
            )
        )
