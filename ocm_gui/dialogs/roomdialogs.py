"""The Host a room and Join a room dialogs.

Every failure is one sentence in the dialog's error line; the dialog stays open
with what was typed. Network work (starting the server, create/join/list) runs
in a worker thread (``background.run_in_thread``) so the window never freezes;
Cancel abandons it and cleans up whatever it made.
"""

from __future__ import annotations

import logging
import queue
import tkinter as tk
import tkinter.font as tkfont
from tkinter import messagebox, ttk
from typing import Any, Callable

from ocm_core.crypto.identity import IdentityChanged
from ocm_core.errors import (
    ClientError,
    NameTaken,
    PasswordRequired,
    PortInUse,
    ProtocolError,
    RemoteProtocolError,
    RoomExists,
    RoomNotFound,
    ServerUnreachable,
    WrongPassword,
)
from ocm_core.i18n import N_, _, ngettext
from ocm_core.net.client import RoomInfo, parse_address
from ocm_core.net.discovery import FoundRoom
from ocm_gui import theme
from ocm_gui.background import fire_and_forget, run_in_thread
from ocm_gui.dialogs.validation import (
    DEFAULT_TCP_PORT,
    DEFAULT_UDP_PORT,
    clean_name,
    clean_password,
    format_address,
    parse_port,
)
from ocm_gui.text.emoji import for_tk
from ocm_gui.text.labelwrap import show_wrapped
from ocm_gui.text.wrapped import WrappedText

log = logging.getLogger(__name__)

RECENT_SERVERS = 8  # addresses offered under Connect by address

def _sentence(error: Exception) -> str:
    """A client error is already a sentence; a remote protocol error means the wrong program
    answered; a local one means this app could not put what was typed on the wire."""
    if isinstance(error, RemoteProtocolError):
        return _("The program at that address is not an Online Chat Messenger server ({reason}); "
                 "check the address and port.").format(reason=error.reason)
    if isinstance(error, ProtocolError):
        return _("That request cannot be sent ({reason}); check what you typed.").format(reason=error.reason)
    return str(error)


def ask_trust_changed(parent: tk.Misc, error: IdentityChanged) -> bool:
    """Ask the person whether to trust a server whose identity changed; False unless they say so."""
    return bool(messagebox.askyesno(
        _("The server's identity changed"),
        _("The server at {address} shows a different identity than last time.\n\n"
          "Now:   {presented}\nBefore: {trusted}\n\n"
          "This happens when the host reinstalled the app or uses another computer, but it is also what "
          "someone pretending to be the server would cause. Ask the host to read out the identity shown "
          "in their chat window. Trust the new identity?").format(
            address=error.address, presented=error.presented, trusted=error.trusted),
        icon="warning", default="no", parent=parent))


def focus_field(widget: tk.Widget) -> None:
    """Give widget the keyboard; an entry's text is selected, so typing replaces what was filled in."""
    widget.focus_set()
    if isinstance(widget, (ttk.Entry, tk.Entry)):  # a ttk.Combobox is a ttk.Entry
        widget.selection_range(0, "end")
        widget.icursor("end")


class Dialog:
    """A Toplevel with a form, an error line, a busy line and OK / Cancel."""

    title = ""        # N_()-marked: shown through _()
    ok_text = N_("OK")
    name_var: tk.StringVar  # every dialog asks for the person's name (made in build())

    def __init__(self, master: tk.Misc, *, backend, settings, on_success: Callable,
                 on_close: Callable[["Dialog"], None] | None = None):
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
        self.error_label = ttk.Label(self.win, textvariable=self.error_var, style="Error.TLabel",
                                     wraplength=self.px(420), justify="left", padding=self.px(18, 0, 18, 0))
        # Always in the grid, empty until an error: an empty label keeps one line's height,
        # so the buttons below do not jump when an error appears.
        self.error_label.grid(row=1, column=0, sticky="ew")
        self.error_label.bind("<Configure>", lambda e: e.widget.configure(
            wraplength=max(self.px(240), e.width - self.px(36))))
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
    def field(self, label: str, value: str = "", *, show: str | None = None, width: int = 30,
              hint: str | None = None) -> tuple[tk.StringVar, ttk.Entry]:
        var = tk.StringVar(value=value)
        ttk.Label(self.body, text=label).grid(row=self._row, column=0, sticky="w", padx=self.px(0, 12), pady=self.px(4))
        entry = ttk.Entry(self.body, textvariable=var, width=width, show=show or "")
        entry.grid(row=self._row, column=1, sticky="ew", pady=self.px(4))
        self._row += 1
        self.watch(var, entry)
        if hint:
            ttk.Label(self.body, text=hint, style="Small.TLabel").grid(
                row=self._row, column=1, sticky="w", pady=self.px(0, 4))
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
        self.show_error(_("{what} failed unexpectedly ({error}); try again, and report it if it keeps happening.").format(
            what=what, error=error))


class HostDialog(Dialog):
    title = N_("Host a room")
    ok_text = N_("Host room")

    def build(self) -> None:
        s = self.settings
        ttk.Label(self.body, text=_("Host a room"), style="Heading.TLabel").grid(
            row=self._row, column=0, columnspan=2, sticky="w", pady=self.px(0, 10))
        self._row += 1
        self.name_var, self.name_entry = self.field(_("Your name"), s.name)
        self.room_var, self.room_entry = self.field(_("Room name"), s.room)
        self.password_var, self.password_entry = self.field(
            _("Password"), show="•", hint=_("Optional. Leave empty for a room anyone may join."))
        self._fallback: tuple[int, int] | None = None  # ports offered after a clash: used, not saved
        self.advanced_var = tk.BooleanVar(value=False)
        self.advanced_button = ttk.Checkbutton(self.body, text=_("Advanced: ports"), variable=self.advanced_var,
                                               command=self._show_advanced)
        self.advanced_button.grid(row=self._row, column=1, sticky="w", pady=self.px(6, 2))
        self._row += 1
        self.advanced = ttk.Frame(self.body)
        self._advanced_row = self._row
        ports = ttk.Frame(self.advanced)
        ttk.Label(self.advanced, text=_("Ports")).grid(row=0, column=0, sticky="w", padx=self.px(0, 12),
                                                       pady=self.px(4))
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
        ttk.Label(self.advanced, text=_("The defaults work; change them only if your network needs other ports. "
                                        "A room hosted while another is open uses the same server and ports."),
                  style="Small.TLabel", wraplength=self.px(340), justify="left").grid(row=1, column=1, sticky="w")
        self._row += 1
        ttk.Label(self.body, text=_("People on this network see the room under Join a room."),
                  style="Small.TLabel").grid(row=self._row, column=1, sticky="w")
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
        self.show_error(_("{error} The next free ports are TCP {tcp} and UDP {udp}.").format(error=error, tcp=tcp, udp=udp),
                        field)
        self.use_ports_button = ttk.Button(self.error_actions, text=_("Use ports {tcp} and {udp}").format(tcp=tcp, udp=udp),
                                           command=lambda: self.use_ports(tcp, udp))
        self.use_ports_button.pack(side="left")

    def use_ports(self, tcp: int, udp: int) -> None:
        self._fallback = (tcp, udp)
        self.tcp_var.set(str(tcp))
        self.udp_var.set(str(udp))
        self.show_error("")
        self.ok_button.focus_set()


def joinable(room: str) -> bool:
    """Whether a room name a server listed could be sent back in a join: JSON can carry a
    lone surrogate, which neither UTF-8 nor Tk can. Such a room is left off, and logged."""
    try:
        room.encode("utf-8")
    except UnicodeEncodeError:
        log.warning("a server listed a room whose name is not text (%r); left off the list", room)
        return False
    return True


def same_server(first: str, second: str) -> bool:
    """Whether two typed addresses name one server (192.0.2.1 is 192.0.2.1:9090)."""
    try:
        return parse_address(first) == parse_address(second)
    except ValueError:
        return first.strip() == second.strip()


ON_NETWORK, BY_ADDRESS = "network", "address"  # the Join dialog's two ways to find a room
EMPTY_NETWORK_MS = 4000  # nothing found by then: say why that usually happens
BROWSER_POLL_MS = 200

def nothing_found_items() -> list[tuple[int, str]]:
    """What the Join dialog says when no room is found, the usual causes and what to do, as
    (level, text) for ocm_gui/text/wrapped.py: 0 a paragraph, 1 a cause, 2 a step under it."""
    return [
        (0, _("No rooms found on this network yet. What usually causes it:")),
        (1, _("The host's firewall blocks discovery. Open UDP 5353 (mDNS) and UDP 9089 for the app, "
              "and TCP 9090 and UDP 9091 to chat.")),
        (2, _("Windows: allow Online Chat Messenger when Windows Security asks, on Private networks.")),
        (2, _("macOS: System Settings › Network › Firewall › Options, allow it.")),
        (2, _("Linux: for example sudo ufw allow 5353,9089,9091/udp and sudo ufw allow 9090/tcp.")),
        (1, _("You are on different networks (another subnet, a VPN, guest Wi-Fi).")),
        (1, _("The Wi-Fi keeps its devices apart (client or AP isolation).")),
        (0, _("Ask the host for the address in their chat window and connect by address.")),
    ]


class JoinDialog(Dialog):
    title = N_("Join a room")
    ok_text = N_("Join")
    columns = (("room", N_("Room"), 170), ("host", N_("Host"), 110), ("people", N_("People"), 76), ("lock", N_("Lock"), 64),
               ("server", N_("Server"), 140))

    def build(self) -> None:
        s = self.settings
        self.rooms: dict[str, RoomInfo] = {}  # by row id: a room name, or server/room for found ones
        self.found: dict[str, FoundRoom] = {}  # row id -> a room found on the LAN, in "network" mode
        self._fetch_serial = 0
        self._listed_from = ""  # the address whose rooms the list shows, in "address" mode
        self._gone: set[str] = set()  # row ids a join found closed: kept off the list while it lists them
        self._browser: Any = None
        self._poll_id: str | None = None
        self._empty_id: str | None = None
        ttk.Label(self.body, text=_("Join a room"), style="Heading.TLabel").grid(
            row=self._row, column=0, columnspan=2, sticky="w", pady=self.px(0, 10))
        self._row += 1
        self.name_var, self.name_entry = self.field(_("Your name"), s.name)

        can_browse = hasattr(self.backend, "make_browser")
        self.mode_var = tk.StringVar(value=ON_NETWORK if can_browse else BY_ADDRESS)
        modes = ttk.Frame(self.body)
        modes.grid(row=self._row, column=0, columnspan=2, sticky="w", pady=self.px(4, 2))
        self.network_button = ttk.Radiobutton(modes, text=_("Rooms on this network"), value=ON_NETWORK,
                                              variable=self.mode_var, command=self._mode_changed)
        self.network_button.pack(side="left")
        self.address_button = ttk.Radiobutton(modes, text=_("Connect by address"), value=BY_ADDRESS,
                                              variable=self.mode_var, command=self._mode_changed)
        self.address_button.pack(side="left", padx=self.px(16, 0))
        if not can_browse:
            self.network_button.state(["disabled"])
        self._row += 1

        self.address_label = ttk.Label(self.body, text=_("Server"))
        self.address_label.grid(row=self._row, column=0, sticky="w", padx=self.px(0, 12), pady=self.px(4))
        self.address_line = line = ttk.Frame(self.body)
        line.grid(row=self._row, column=1, sticky="ew", pady=self.px(4))
        line.columnconfigure(0, weight=1)
        self.address_var = tk.StringVar(value=s.server)
        self.address_entry = ttk.Combobox(line, textvariable=self.address_var, width=24,
                                          values=list(s.recent_servers))
        self.address_entry.grid(row=0, column=0, sticky="ew")
        self.address_entry.bind("<<ComboboxSelected>>", lambda e: self.refresh())
        # Enter here means "show me this server's rooms", not Join with no room picked yet.
        self.address_entry.bind("<Return>", self._on_address_return)
        self.address_entry.bind("<KP_Enter>", self._on_address_return)
        self.refresh_button = ttk.Button(line, text=_("Refresh rooms"), command=self.refresh)
        self.refresh_button.grid(row=0, column=1, padx=self.px(8, 0))
        self._row += 1
        self.address_hint = ttk.Label(self.body, text=_("The host's address, like {example}").format(
                                          example=f"192.168.1.20:{DEFAULT_TCP_PORT}"),
                                      style="Small.TLabel")
        self.address_hint.grid(row=self._row, column=1, sticky="w", pady=self.px(0, 6))
        self._row += 1

        frame = ttk.Frame(self.body)
        frame.grid(row=self._row, column=0, columnspan=2, sticky="nsew", pady=self.px(4, 2))
        self.body.rowconfigure(self._row, weight=1)
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(0, weight=1)
        self.tree = ttk.Treeview(frame, columns=[c[0] for c in self.columns], show="headings",
                                 height=6, selectmode="browse")
        heading_font = tkfont.nametofont(ttk.Style(self.win).lookup("Treeview.Heading", "font") or "TkHeadingFont",
                                         root=self.win)
        for key, heading, width in self.columns:
            # The People count is centred under its heading; the words are left-aligned under theirs.
            self.tree.heading(key, text=_(heading), anchor="center" if key == "people" else "w")
            # Wide enough for its heading in this language at this screen's text size.
            width = max(theme.scaled(self.win, width), heading_font.measure(_(heading)) + theme.scaled(self.win, 16))
            self.tree.column(key, width=width, minwidth=40, stretch=key in ("room", "host", "server"),
                             anchor="center" if key == "people" else "w")
        self.tree.tag_configure("locked", foreground=theme.WARN_FG)
        scroll = ttk.Scrollbar(frame, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        self.tree.bind("<<TreeviewSelect>>", self._on_select)
        self.tree.bind("<Double-1>", self._on_double_click)
        self.tree.bind("<FocusIn>", self._on_tree_focus, add="+")
        self._row += 1
        self.list_status = tk.StringVar(value=_("Type the server's address, then Refresh rooms."))
        self.list_status_label = ttk.Label(self.body, textvariable=self.list_status, style="Small.TLabel")
        self.list_status_label.grid(row=self._row, column=0, columnspan=2, sticky="w", pady=self.px(0, 6))
        self._row += 1
        self.help_frame = ttk.Frame(self.body)
        self._help_row = self._row
        # Wraps to the dialog's width, Japanese where it may break, bullets hanging.
        self.help_text = WrappedText(self.help_frame, nothing_found_items())
        self.help_text.text.pack(fill="x")
        self.by_address_button = ttk.Button(self.help_frame, text=_("Connect by address"),
                                            command=lambda: self.set_mode(BY_ADDRESS))
        self.by_address_button.pack(anchor="w", pady=self.px(6, 0))
        self._row += 1

        self.room_var, self.room_entry = self.field(
            _("Room"), s.room, hint=_("Double-click a room above, or type its name."))
        self.password_label = ttk.Label(self.body, text=_("Password"))
        self.password_var = tk.StringVar()
        self.password_entry = ttk.Entry(self.body, textvariable=self.password_var, show="•", width=30)
        self._password_row = self._row
        self._row += 1
        self.watch(self.address_var, self.address_entry)
        self.watch(self.room_var, self.tree)
        self.watch(self.password_var, self.password_entry)
        # The server the room field belongs to: a room typed or picked for one server is
        # cleared when the address moves to another ("" : typed before any address).
        self._room_server = s.server if s.room else ""
        # The room field's text as this dialog put it there (the remembered room, or a list's
        # only room), None once the person changed it: a list that lacks it clears it.
        self._auto_room: str | None = s.room or None
        self.room_var.trace_add("write", lambda *a: self._room_changed())
        self.address_var.trace_add("write", lambda *a: self._address_changed())
        self._mode_changed()

    def _room_changed(self) -> None:
        self._room_server = self.address_var.get().strip()
        if self.room_var.get() != self._auto_room:
            self._auto_room = None
        self._sync_password_row()

    def _address_changed(self) -> None:
        if self.room_var.get() and self._room_server and not same_server(self._room_server, self.address_var.get()):
            self.room_var.set("")
            self.tree.selection_remove(*self.tree.selection())

    def _on_address_return(self, event=None) -> str:
        self.refresh()
        return "break"

    def typed(self) -> dict[str, str]:
        kept = super().typed()
        address = self.address_var.get().strip()
        if address:
            kept["server"] = address
        return kept

    # -- the two ways: rooms found on the LAN, or one server's rooms by its address
    def set_mode(self, mode: str) -> None:
        self.mode_var.set(mode)
        self._mode_changed()

    def _mode_changed(self, auto_refresh: bool = True) -> None:
        network = self.mode_var.get() == ON_NETWORK
        for widget in (self.address_label, self.address_line, self.address_hint):
            widget.grid() if not network else widget.grid_remove()
        self.tree.delete(*self.tree.get_children())
        self.rooms, self.found = {}, {}
        self._hide_help()
        if network:
            self._start_browsing()
        else:
            self._stop_browsing()
            self.list_status.set(_("Type the server's address, then Refresh rooms."))
            if auto_refresh and self.address_var.get().strip():
                self.master.after_idle(self._auto_refresh)

    def _start_browsing(self) -> None:
        if self._browser is None:
            self._browser = self.backend.make_browser()
            self._browser.start()
        self.list_status.set(_("Looking for rooms on this network…"))
        self._poll_id = self.win.after(BROWSER_POLL_MS, self._poll_browser)
        self._empty_id = self.win.after(EMPTY_NETWORK_MS, self._nothing_found)

    def _stop_browsing(self) -> None:
        for after_id in (self._poll_id, self._empty_id):
            if after_id is not None:
                self.win.after_cancel(after_id)
        self._poll_id = self._empty_id = None
        browser, self._browser = self._browser, None
        if browser is not None:
            fire_and_forget(browser.stop, name="ocm-gui-stop-browsing")

    def _poll_browser(self) -> None:
        """The browser's threads put whole lists on its queue; only this (Tk) thread shows them."""
        self._poll_id = None
        if self.closed or self._browser is None:
            return
        latest = None
        while True:
            try:
                latest = self._browser.updates.get_nowait()
            except queue.Empty:
                break
        if latest is not None:
            self.fill_found(latest)
        self._poll_id = self.win.after(BROWSER_POLL_MS, self._poll_browser)

    def _nothing_found(self) -> None:
        self._empty_id = None
        if not self.closed and self.mode_var.get() == ON_NETWORK and not self.found:
            # The help takes the status line's place: an empty line above it is a gap.
            self.list_status.set("")
            self.list_status_label.grid_remove()
            self.help_frame.grid(row=self._help_row, column=0, columnspan=2, sticky="ew", pady=self.px(0, 8))

    def _hide_help(self) -> None:
        self.help_frame.grid_remove()
        self.list_status_label.grid()

    def fill_found(self, found) -> None:
        found = [f for f in found if joinable(f.room)]
        selected = self.tree.selection()
        self.tree.delete(*self.tree.get_children())
        listed = {f"{f.server}/{f.room}": f for f in found}
        self._gone &= set(listed)  # once the network stops listing it, a room of that name is new
        self.found = {iid: f for iid, f in listed.items() if iid not in self._gone}
        found = list(self.found.values())
        self.rooms = {iid: RoomInfo(f.room, f.members, f.locked, f.host) for iid, f in self.found.items()}
        for iid, f in self.found.items():
            self.tree.insert("", "end", iid=iid, values=(f.room, for_tk(f.host), f.members, _("locked") if f.locked else "", f.server),
                             tags=("locked",) if f.locked else ())
        if selected and selected[0] in self.found:
            self.tree.selection_set(selected[0])
        self._settle_room_field()
        if self.tree.get_children() and self.win.focus_get() is self.tree:
            self._on_tree_focus()
        if found:
            self._hide_help()
            self._show_count()
        elif self._empty_id is None:
            self._nothing_found()
        self._sync_password_row()

    def close(self) -> None:
        if not self.closed:
            self._stop_browsing()
        super().close()

    def first_field(self) -> tk.Widget:
        if not self.name_var.get().strip():
            return self.name_entry
        if self.mode_var.get() == ON_NETWORK:
            return self.tree  # the first room found is picked while the list has the keyboard
        if not self.address_var.get().strip():
            return self.address_entry
        return self.tree if self.tree.get_children() else self.room_entry

    # -- password row: shown for a room the list says is locked, or after the server asked
    def show_password(self, focus: bool = False) -> None:
        self.password_label.grid(row=self._password_row, column=0, sticky="w", padx=self.px(0, 12), pady=self.px(4))
        self.password_entry.grid(row=self._password_row, column=1, sticky="ew", pady=self.px(4))
        if focus:
            self.password_entry.focus_set()

    def hide_password(self) -> None:
        self.password_label.grid_remove()
        self.password_entry.grid_remove()
        self.password_var.set("")

    def password_shown(self) -> bool:
        return bool(self.password_entry.winfo_manager())

    def _sync_password_row(self) -> None:
        typed = self.room_var.get().strip()
        selected = self.tree.selection()
        info = self.rooms.get(selected[0]) if selected and selected[0] in self.rooms else None
        if info is None or info.name != typed:
            info = next((r for r in self.rooms.values() if r.name == typed), None)
        if info is not None and info.locked:
            self.show_password()
        elif info is not None and self.password_shown():
            self.hide_password()

    # -- the room list
    def _auto_refresh(self) -> None:
        if not self.closed:
            self.refresh()

    def refresh(self) -> None:
        if self.closed:
            return
        if self.mode_var.get() != BY_ADDRESS:
            self.mode_var.set(BY_ADDRESS)
            self._mode_changed(auto_refresh=False)
        try:
            host, port = parse_address(self.address_var.get())
        except ValueError as exc:
            return self.show_error(str(exc), self.address_entry)
        self.show_error("")
        self._fetch_serial += 1
        serial = self._fetch_serial
        self.list_status.set(_("Asking {address} for its rooms…").format(address=format_address(host, port)))
        self.refresh_button.state(["disabled"])
        backend = self.backend

        def done(rooms, error) -> None:
            if self.closed or serial != self._fetch_serial:
                return
            self.refresh_button.state(["!disabled"])
            if error is not None:
                if same_server(self._listed_from, format_address(host, port)) and self.tree.get_children():
                    # The server answered a moment ago: its rooms are likely still there.
                    self.list_status.set(_("The refresh failed; these are the rooms this server listed before."))
                else:  # another server's rooms must not look like this one's
                    self.tree.delete(*self.tree.get_children())
                    self.rooms, self._listed_from = {}, ""
                    self.list_status.set(_("No room list."))
                if isinstance(error, IdentityChanged):
                    return self._identity_changed(error, self.refresh)
                if isinstance(error, (ClientError, ProtocolError)):
                    return self.show_error(_sentence(error), self.address_entry)
                return self.unexpected(error, _("Fetching the room list"))
            self.fill_rooms(rooms)
            self._listed_from = format_address(host, port)
            self._remember_server(self.address_var.get().strip())

        def work():
            client = backend.make_client(host, port)
            client.trust_changed_identity = self.trust_changed
            return client.list_rooms()

        run_in_thread(self.master, work, done, name="ocm-gui-list-rooms")

    def _remember_server(self, address: str) -> None:
        recent = [address] + [a for a in self.settings.recent_servers if a != address]
        self.settings.update(server=address, recent_servers=recent[:RECENT_SERVERS])
        self.address_entry.configure(values=self.settings.recent_servers)

    def fill_rooms(self, rooms) -> None:
        rooms = [r for r in rooms if joinable(r.name)]
        self.tree.delete(*self.tree.get_children())
        self.rooms = {r.name: r for r in rooms}
        for info in sorted(rooms, key=lambda r: r.name.casefold()):
            lock = _("locked") if info.locked else ""
            self.tree.insert("", "end", iid=info.name, values=(info.name, for_tk(info.host), info.members, lock, ""),
                             tags=("locked",) if info.locked else ())
        self._show_count()
        typed = self.room_var.get().strip()
        if typed in self.rooms:
            self.tree.selection_set(typed)
            self.tree.see(typed)
        self._settle_room_field()
        self._sync_password_row()

    def _settle_room_field(self) -> None:
        """A list arrived: the room field loses a room the dialog filled in that the list does
        not hold (it has closed), and an empty field takes the list's only room."""
        typed = self.room_var.get().strip()
        if typed and typed == self._auto_room and typed not in {info.name for info in self.rooms.values()}:
            self.room_var.set("")
        rows = self.tree.get_children()
        if len(rows) == 1 and not self.room_var.get().strip():
            self._auto_room = self.tree.set(rows[0], "room")
            self.pick(rows[0])

    def _show_count(self) -> None:
        count = len(self.tree.get_children())
        if self.mode_var.get() == ON_NETWORK:
            text = ngettext("{count} room on this network. Double-click it to join.",
                            "{count} rooms on this network. Double-click one to join it.", count)
        elif count:
            text = ngettext("{count} room. Double-click it to join.", "{count} rooms. Double-click one to join it.", count)
        else:
            text = _("No rooms on this server yet; ask the host to create one, or type a name.")
        self.list_status.set(text.format(count=count))

    def _drop_closed_room(self, address: str, room: str) -> None:
        """A join found the room gone: take it off the list that still showed it."""
        if self.mode_var.get() == ON_NETWORK:
            iid = f"{address}/{room}"
            self._gone.add(iid)
            self.found.pop(iid, None)
        elif same_server(self._listed_from, address):
            iid = room
        else:
            return  # the list shows another server's rooms
        self.rooms.pop(iid, None)
        if self.tree.exists(iid):
            self.tree.delete(iid)
            if self.mode_var.get() == ON_NETWORK and not self.found:
                self._nothing_found()  # the last room found is gone: why none shows, not "0 rooms"
            else:
                self._show_count()
            self.hide_password()  # a lock of a room that is gone

    def room_names(self) -> list[str]:
        return [self.tree.set(iid, "room") for iid in self.tree.get_children()]

    def pick(self, room: str) -> None:
        """Select a room in the list, as a click would."""
        self.tree.selection_set(room)
        self.tree.focus(room)
        self.tree.see(room)
        self.win.update_idletasks()
        self._on_select()

    def _on_select(self, event=None) -> None:
        selected = self.tree.selection()
        if selected:
            found = self.found.get(selected[0])
            if found is not None:
                self._room_server = found.server  # the room field is about to follow the address
                self.address_var.set(found.server)
            self.room_var.set(self.tree.set(selected[0], "room"))

    def _on_tree_focus(self, event=None) -> None:
        """Tabbing into the list with nothing picked yet puts the keyboard on its first room."""
        rows = self.tree.get_children()
        if rows and not self.tree.selection() and not self.room_var.get().strip():
            self.pick(rows[0])

    def _on_double_click(self, event) -> str:
        row = self.tree.identify_row(event.y)
        if not row:
            return "break"
        self.tree.selection_set(row)
        self._on_select()
        info = self.rooms.get(row)
        if info is not None and info.locked and not self.password_var.get():
            self.show_password(focus=True)
            self.show_error(_("This room is locked; type its password and press Join."), self.password_entry)
        else:
            self.ok()
        return "break"

    # -- a server whose identity changed
    trust_changed = False  # set once the person confirmed a changed identity in this dialog

    def _identity_changed(self, error: IdentityChanged, retry: Callable[[], None]) -> None:
        if not self.trust_changed and ask_trust_changed(self.win, error):
            self.trust_changed = True
            return retry()
        self.show_error(str(error), self.address_entry)

    # -- joining
    def ok(self) -> None:
        if self.busy or self.closed:
            return
        if self.mode_var.get() == ON_NETWORK:
            typed = self.room_var.get().strip()
            if not typed:
                return self.show_error(_("Pick a room from the list, or connect by address."), self.tree)
            servers = {f.server for f in self.found.values() if f.room == typed}
            if len(servers) == 1:  # a found room's name typed by hand: its server
                self._room_server = server = servers.pop()
                self.address_var.set(server)
            try:
                parse_address(self.address_var.get())
            except ValueError:  # not a room found here: the address must be typed
                self.mode_var.set(BY_ADDRESS)
                self._mode_changed(auto_refresh=False)
        values = self.collect(
            (self.name_entry, lambda: clean_name(self.name_var.get(), "name")),
            (self.address_entry, lambda: parse_address(self.address_var.get())),
        )
        if values is None:
            return
        name, (host, port) = values
        if not self.room_var.get().strip():
            if not self.tree.get_children():
                self.refresh()
            return self.show_error(_("Pick a room from the list or type its name."),
                                   self.tree if self.tree.get_children() else self.room_entry)
        values = self.collect(
            (self.room_entry, lambda: clean_name(self.room_var.get(), "room name")),
            (self.password_entry,
             lambda: clean_password(self.password_var.get()) if self.password_shown() else None),
        )
        if values is None:
            return
        room, password = values
        self.show_error("")
        self.set_busy(True, _("Joining {room}…").format(room=room))
        backend = self.backend
        address_text = self.address_var.get().strip()

        def work():
            client = backend.make_client(host, port)
            client.trust_changed_identity = self.trust_changed
            client.join_room(room, name, password)
            return client

        def done(client, error) -> None:
            if self.closed:
                if client is not None:
                    fire_and_forget(client.leave, name="ocm-gui-undo-join")
                return
            self.set_busy(False)
            if isinstance(error, IdentityChanged):
                return self._identity_changed(error, self.ok)
            if isinstance(error, PasswordRequired):
                self.show_password()
                # One sentence: the server's "enter its password" and a hint to do so said it twice.
                return self.show_error(_("This room is locked; type its password and press Join."),
                                       self.password_entry)
            if isinstance(error, WrongPassword):
                self.show_password()
                self.password_var.set("")
                return self.show_error(str(error), self.password_entry)
            if isinstance(error, NameTaken):
                return self.show_error(str(error), self.name_entry)
            if isinstance(error, RoomNotFound):
                self._drop_closed_room(address_text, room)
                return self.show_error(str(error), self.room_entry)
            if isinstance(error, (ServerUnreachable, RemoteProtocolError)):
                return self.show_error(_sentence(error), self.address_entry)
            if isinstance(error, (ClientError, ProtocolError)):
                return self.show_error(_sentence(error))
            if error is not None:
                return self.unexpected(error, _("Joining the room"))
            self.settings.update(name=name, room=room)
            self._remember_server(address_text)
            self.succeed(client)

        run_in_thread(self.master, work, done, name="ocm-gui-join")
