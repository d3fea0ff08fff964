"""The Host a room dialog: starts (or reuses) the app's server, creates the room, opens it."""

from __future__ import annotations

import logging
import tkinter as tk
from tkinter import ttk

from ocm_core.errors import (
    ClientError,
    PortInUse,
    RoomExists,
)
from ocm_core.i18n import N_, _
from ocm_gui.background import fire_and_forget, run_in_thread
from ocm_gui.dialogs.base import Dialog
from ocm_gui.dialogs.validation import (
    DEFAULT_UDP_PORT,
    clean_name,
    clean_password,
    format_address,
    parse_port,
)

log = logging.getLogger(__name__)


class HostDialog(Dialog):
    title = N_("Host a room")
    ok_text = N_("Host room")

    def build(self) -> None:
        s = self.settings
        ttk.Label(self.body, text=_("Host a room"), style="Heading.TLabel").grid(
            row=self._row, column=0, columnspan=2, sticky="w", pady=self.px(0, 10)
        )
        self._row += 1
        self.name_var, self.name_entry = self.field(_("Your name"), s.name)
        self.room_var, self.room_entry = self.field(_("Room name"), s.room)
        self.password_var, self.password_entry = self.field(
            _("Password"), show="•", hint=_("Optional. Leave empty for a room anyone may join.")
        )
        self._fallback: tuple[int, int] | None = None  # ports offered after a clash: used, not saved
        self.advanced_var = tk.BooleanVar(value=False)
        self.advanced_button = ttk.Checkbutton(
            self.body, text=_("Advanced: ports"), variable=self.advanced_var, command=self._show_advanced
        )
        self.advanced_button.grid(row=self._row, column=1, sticky="w", pady=self.px(6, 2))
        self._row += 1
        self.advanced = ttk.Frame(self.body)
        self._advanced_row = self._row
        ports = ttk.Frame(self.advanced)
        ttk.Label(self.advanced, text=_("Ports")).grid(
            row=0, column=0, sticky="w", padx=self.px(0, 12), pady=self.px(4)
        )
        ports.grid(row=0, column=1, sticky="w", pady=self.px(4))
        self.tcp_var = tk.StringVar(value=str(s.tcp_port))
        self.udp_var = tk.StringVar(value=str(s.udp_port))
        ttk.Label(ports, text="TCP").pack(side="left")
        self.tcp_entry = ttk.Entry(ports, textvariable=self.tcp_var, width=7)
        self.tcp_entry.pack(side="left", padx=self.px(4, 12))
        ttk.Label(ports, text="UDP").pack(side="left")
        self.udp_entry = ttk.Entry(ports, textvariable=self.udp_var, width=7)
        self.udp_entry.pack(side="left", padx=self.px(4, 0))
        self.watch(self.tcp_var, self.tcp_entry)
        self.watch(self.udp_var, self.udp_entry)
        ttk.Label(
            self.advanced,
            text=_(
                "The defaults work; change them only if your network needs other ports. "
                "A room hosted while another is open uses the same server and ports."
            ),
            style="Small.TLabel",
            wraplength=self.px(340),
            justify="left",
        ).grid(row=1, column=1, sticky="w")
        self._row += 1
        ttk.Label(
            self.body, text=_("People on this network see the room under Join a room."), style="Small.TLabel"
        ).grid(row=self._row, column=1, sticky="w")
        self._row += 1

    def show_error(self, text: str, focus: tk.Widget | None = None) -> None:
        if focus is not None and focus in (self.tcp_entry, self.udp_entry):
            self.advanced_var.set(True)  # a port to fix is never hidden
            self._show_advanced()
        super().show_error(text, focus)

    def _show_advanced(self) -> None:
        if self.advanced_var.get():
            self.advanced.grid(row=self._advanced_row, column=0, columnspan=2, sticky="w")
        else:
            self.advanced.grid_remove()

    def first_field(self) -> tk.Widget:
        return self.room_entry if self.name_var.get().strip() else self.name_entry

    def ok(self) -> None:
        if self.busy or self.closed:
            return
        values = self.collect(
            (self.name_entry, lambda: clean_name(self.name_var.get(), "name")),
            (self.room_entry, lambda: clean_name(self.room_var.get(), "room name")),
            (self.password_entry, lambda: clean_password(self.password_var.get())),
            (self.tcp_entry, lambda: parse_port(self.tcp_var.get(), "TCP")),
            (self.udp_entry, lambda: parse_port(self.udp_var.get(), "UDP", DEFAULT_UDP_PORT)),
        )
        if values is None:
            return
        name, room, password, tcp, udp = values
        self.show_error("")
        self.set_busy(True, _("Starting the server…"))
        backend = self.backend

        def work():
            try:
                server, _reused = backend.host_server(tcp, udp)
            except PortInUse as exc:
                try:
                    exc.suggested = backend.next_free_ports(tcp, udp)
                except (PortInUse, OSError):
                    exc.suggested = None
                raise
            try:
                tcp_port = server.tcp_address[1]
                client = backend.make_client("127.0.0.1", tcp_port)
                # The server on this port is the one just started here: its key is known
                # first-hand, so it is trusted even if another key was remembered for the port,
                # and any other key (another program on 127.0.0.1) is refused.
                client.own_server_identity = server.fingerprint
                client.create_room(room, name, password)
                share = format_address(backend.lan_address(), tcp_port)
            except BaseException:
                server.stop()
                raise
            return server, client, share

        def done(result, error) -> None:
            if self.closed:  # cancelled while starting: undo what was made
                if result is not None:
                    server, client, _share = result
                    fire_and_forget(lambda: (client.leave(), server.stop()), name="ocm-gui-undo-host")
                return
            self.set_busy(False)
            if isinstance(error, PortInUse):
                return self._port_in_use(error)
            if isinstance(error, RoomExists):
                return self.show_error(str(error), self.room_entry)
            if isinstance(error, ClientError):
                return self.show_error(str(error), self.name_entry)
            if error is not None:
                return self.unexpected(error, _("Hosting the room"))
            ports = {} if (tcp, udp) == self._fallback else dict(tcp_port=tcp, udp_port=udp)
            self.settings.update(name=name, room=room, **ports)
            self.succeed(*result)

        run_in_thread(self.master, work, done, name="ocm-gui-host")

    def _port_in_use(self, error: PortInUse) -> None:
        field = self.tcp_entry if error.kind == "TCP" else self.udp_entry
        suggested = getattr(error, "suggested", None)
        if not suggested:
            return self.show_error(str(error), field)
        tcp, udp = suggested
        self.show_error(
            _("{error} The next free ports are TCP {tcp} and UDP {udp}.").format(error=error, tcp=tcp, udp=udp), field
        )
        self.use_ports_button = ttk.Button(
            self.error_actions,
            text=_("Use ports {tcp} and {udp}").format(tcp=tcp, udp=udp),
            command=lambda: self.use_ports(tcp, udp),
        )
        self.use_ports_button.pack(side="left")

    def use_ports(self, tcp: int, udp: int) -> None:
        self._fallback = (tcp, udp)
        self.tcp_var.set(str(tcp))
        self.udp_var.set(str(udp))
        self.show_error("")
        self.ok_button.focus_set()
