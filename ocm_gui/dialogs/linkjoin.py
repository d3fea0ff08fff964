"""The page an invite link opens: which room, on which server, under which name; Join on
Enter. A link never joins by itself (any web page can open an `ocm:` link), and its
fingerprint is the identity the server must show, so there is no trust question."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ocm_core.errors import PasswordRequired, WrongPassword
from ocm_core.i18n import _
from ocm_core.wire.links import InviteLink
from ocm_gui import ports, theme
from ocm_gui.background import fire_and_forget, run_in_thread
from ocm_gui.dialogs.validation import clean_name
from ocm_gui.text.labelwrap import show_wrapped


class LinkPrompt:
    """`on_joined(prompt, client)` once in the room; `on_cancel(prompt)` for Cancel or Escape."""

    def __init__(
        self,
        master: tk.Misc,
        link: InviteLink,
        *,
        name: str,
        backend: ports.Backend,
        arrivals=None,
        on_joined: Callable[[LinkPrompt, ports.RoomClient], None],
        on_cancel: Callable[[LinkPrompt], None],
    ):
        self.link = link
        self.backend = backend
        self.arrivals = arrivals  # the app's Arrivals: a client joined as the app quits is left
        self._on_joined = on_joined
        self._on_cancel = on_cancel
        self.busy = False
        self.closed = False
        frame = self.frame = ttk.Frame(master, padding=theme.pad(master, 36, 28, 36, 20))
        frame.columnconfigure(1, weight=1)
        ttk.Label(frame, text=_("Join a room by invite link"), style="Title.TLabel").grid(
            row=0, column=0, columnspan=2, sticky="w", pady=theme.pad(master, 0, 16)
        )
        pad = theme.pad(master, 0, 6)
        rows = (
            (_("Room"), link.room, "Heading.TLabel"),
            (_("Server"), f"[{link.host}]:{link.port}" if ":" in link.host else f"{link.host}:{link.port}", "TLabel"),
            (_("Server identity"), link.fingerprint, "TLabel"),
        )
        self.value_labels: list[ttk.Label] = []
        for row, (caption, value, style) in enumerate(rows, start=1):
            ttk.Label(frame, text=caption, style="Muted.TLabel").grid(row=row, column=0, sticky="w", padx=pad, pady=2)
            label = ttk.Label(frame, text=value, style=style, wraplength=theme.scaled(master, 420))
            label.grid(row=row, column=1, sticky="w", pady=2)
            self.value_labels.append(label)
        self.note_var = tk.StringVar(
            frame, value=_("The link says which identity the server must show; the app checks it before you join.")
        )
        note = ttk.Label(frame, style="Small.TLabel", wraplength=theme.scaled(master, 640), justify="left")
        note.grid(row=4, column=0, columnspan=2, sticky="w", pady=theme.pad(master, 2, 14))
        show_wrapped(note, self.note_var)  # Japanese broken where kinsoku allows
        ttk.Label(frame, text=_("Your name")).grid(row=5, column=0, sticky="w", padx=pad)
        self.name_var = tk.StringVar(frame, value=name)
        self.name_entry = ttk.Entry(frame, textvariable=self.name_var, width=28)
        self.name_entry.grid(row=5, column=1, sticky="w")
        self.password_caption = ttk.Label(frame, text=_("Password"))
        self.password_var = tk.StringVar(frame)
        self.password_entry = ttk.Entry(frame, textvariable=self.password_var, width=28, show="•")
        self.message = ttk.Label(frame, style="Error.TLabel", wraplength=theme.scaled(master, 520), justify="left")
        self.message.grid(row=7, column=0, columnspan=2, sticky="w", pady=theme.pad(master, 10, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=8, column=0, columnspan=2, sticky="w", pady=theme.pad(master, 14, 0))
        self.join_button = ttk.Button(buttons, text=_("Join"), style="Accent.TButton", command=self.join)
        self.join_button.pack(side="left")
        self.cancel_button = ttk.Button(buttons, text=_("Cancel"), command=self.cancel)
        self.cancel_button.pack(side="left", padx=(theme.scaled(master, 8), 0))
        for widget in (self.name_entry, self.password_entry, self.join_button):
            for key in ("<Return>", "<KP_Enter>"):
                widget.bind(key, lambda e: self._break(self.join))
        for key in ("<Return>", "<KP_Enter>"):
            self.cancel_button.bind(key, lambda e: self._break(self.cancel))
        for widget in (self.name_entry, self.password_entry, self.join_button, self.cancel_button):
            widget.bind("<Escape>", lambda e: self._break(self.cancel))

    @staticmethod
    def _break(action: Callable[[], object]) -> str:
        action()
        return "break"

    def focus(self) -> None:
        (self.join_button if self.name_var.get().strip() else self.name_entry).focus_set()

    def _ask_password(self, text: str) -> None:
        self.password_caption.grid(row=6, column=0, sticky="w", padx=theme.pad(self.frame, 0, 6), pady=(6, 0))
        self.password_entry.grid(row=6, column=1, sticky="w", pady=(6, 0))
        self.message.configure(text=text)
        self.password_entry.focus_set()

    def join(self) -> None:
        if self.busy or self.closed:
            return
        try:
            name = clean_name(self.name_var.get())
        except ValueError as exc:
            self.message.configure(text=str(exc), style="Error.TLabel")
            self.name_entry.focus_set()
            return
        password = self.password_var.get() or None
        link, backend = self.link, self.backend
        self.busy = True
        self.join_button.state(["disabled"])
        self.message.configure(text=_("Joining…"), style="Muted.TLabel")

        arrivals = self.arrivals

        def work() -> ports.RoomClient | None:
            client = backend.make_client(link.host, link.port, expected_fingerprint=link.fingerprint)
            client.join_room(link.room, name, password)
            if arrivals is not None and not arrivals.joined(client):
                client.leave()  # the app quit meanwhile
                return None
            return client

        run_in_thread(self.frame, work, self._done, name="ocm-gui-join-link")

    def _done(self, client, error: BaseException | None) -> None:
        self.busy = False
        if self.closed:
            if client is not None:
                fire_and_forget(client.leave, name="ocm-gui-leave")
            return
        self.join_button.state(["!disabled"])
        self.message.configure(style="Error.TLabel")
        if isinstance(error, (PasswordRequired, WrongPassword)):
            self._ask_password(str(error))
            return
        if error is not None or client is None:
            self.message.configure(text=str(error))
            self.join_button.focus_set()
            return
        self._on_joined(self, client)

    def cancel(self) -> None:
        if not self.closed:
            self.closed = True
            self._on_cancel(self)

    def close(self) -> None:
        self.closed = True
