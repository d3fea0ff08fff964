"""The Join a room dialog: the rooms found on this network, or a server's by its address;
why nothing shows when nothing does; a locked room's password."""

from __future__ import annotations

import logging
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from tkinter import messagebox, ttk
from typing import Any

from ocm_core.crypto.identity import IdentityChanged
from ocm_core.errors import (
    ClientError,
    NameTaken,
    PasswordRequired,
    ProtocolError,
    RemoteProtocolError,
    RoomNotFound,
    ServerUnreachable,
    WrongPassword,
)
from ocm_core.i18n import N_, _, ngettext
from ocm_core.net.client import RoomInfo, parse_address
from ocm_core.net.discovery import FoundRoom
from ocm_gui import theme
from ocm_gui.background import fire_and_forget, run_in_thread
from ocm_gui.dialogs.base import RECENT_SERVERS, Dialog, error_sentence
from ocm_gui.dialogs.validation import (
    DEFAULT_TCP_PORT,
    clean_name,
    clean_password,
    format_address,
)
from ocm_gui.inbox import inbox_for
from ocm_gui.text.emoji import for_tk
from ocm_gui.text.wrapped import WrappedText

log = logging.getLogger(__name__)


def ask_trust_changed(parent: tk.Misc, error: IdentityChanged) -> bool:
    """Ask the person whether to trust a server whose identity changed; False unless they say so."""
    return bool(
        messagebox.askyesno(
            _("The server's identity changed"),
            _(
                "The server at {address} shows a different identity than last time.\n\n"
                "Now:   {presented}\nBefore: {trusted}\n\n"
                "This happens when the host reinstalled the app or uses another computer, but it is also what "
                "someone pretending to be the server would cause. Ask the host to read out the identity shown "
                "in their chat window. Trust the new identity?"
            ).format(address=error.address, presented=error.presented, trusted=error.trusted),
            icon="warning",
            default="no",
            parent=parent,
        )
    )


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


def nothing_found_items() -> list[tuple[int, str]]:
    """What the Join dialog says when no room is found, the usual causes and what to do, as
    (level, text) for ocm_gui/text/wrapped.py: 0 a paragraph, 1 a cause, 2 a step under it."""
    return [
        (0, _("No rooms found on this network yet. What usually causes it:")),
        (
            1,
            _(
                "The host's firewall blocks discovery. Open UDP 5353 (mDNS) and UDP 9089 for the app, "
                "and TCP 9090 and UDP 9091 to chat."
            ),
        ),
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
    columns = (
        ("room", N_("Room"), 170),
        ("host", N_("Host"), 110),
        ("people", N_("People"), 76),
        ("lock", N_("Lock"), 64),
        ("server", N_("Server"), 140),
    )

    def build(self) -> None:
        s = self.settings
        self.rooms: dict[str, RoomInfo] = {}  # by row id: a room name, or server/room for found ones
        self.found: dict[str, FoundRoom] = {}  # row id -> a room found on the LAN, in "network" mode
        self._fetch_serial = 0
        self._listed_from = ""  # the address whose rooms the list shows, in "address" mode
        self._gone: set[str] = set()  # row ids a join found closed: kept off the list while it lists them
        self._browser: Any = None
        self._empty_id: str | None = None
        ttk.Label(self.body, text=_("Join a room"), style="Heading.TLabel").grid(
            row=self._row, column=0, columnspan=2, sticky="w", pady=self.px(0, 10)
        )
        self._row += 1
        self.name_var, self.name_entry = self.field(_("Your name"), s.name)

        can_browse = self.backend.finds_rooms
        self.mode_var = tk.StringVar(value=ON_NETWORK if can_browse else BY_ADDRESS)
        modes = ttk.Frame(self.body)
        modes.grid(row=self._row, column=0, columnspan=2, sticky="w", pady=self.px(4, 2))
        self.network_button = ttk.Radiobutton(
            modes, text=_("Rooms on this network"), value=ON_NETWORK, variable=self.mode_var, command=self._mode_changed
        )
        self.network_button.pack(side="left")
        self.address_button = ttk.Radiobutton(
            modes, text=_("Connect by address"), value=BY_ADDRESS, variable=self.mode_var, command=self._mode_changed
        )
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
        self.address_entry = ttk.Combobox(line, textvariable=self.address_var, width=24, values=list(s.recent_servers))
        self.address_entry.grid(row=0, column=0, sticky="ew")
        self.address_entry.bind("<<ComboboxSelected>>", lambda e: self.refresh())
        # Enter here means "show me this server's rooms", not Join with no room picked yet.
        self.address_entry.bind("<Return>", self._on_address_return)
        self.address_entry.bind("<KP_Enter>", self._on_address_return)
        self.refresh_button = ttk.Button(line, text=_("Refresh rooms"), command=self.refresh)
        self.refresh_button.grid(row=0, column=1, padx=self.px(8, 0))
        self._row += 1
        self.address_hint = ttk.Label(
            self.body,
            text=_("The host's address, like {example}").format(example=f"192.168.1.20:{DEFAULT_TCP_PORT}"),
            style="Small.TLabel",
        )
        self.address_hint.grid(row=self._row, column=1, sticky="w", pady=self.px(0, 6))
        self._row += 1

        frame = ttk.Frame(self.body)
        frame.grid(row=self._row, column=0, columnspan=2, sticky="nsew", pady=self.px(4, 2))
        self.body.rowconfigure(self._row, weight=1)
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(0, weight=1)
        self.tree = ttk.Treeview(
            frame, columns=[c[0] for c in self.columns], show="headings", height=6, selectmode="browse"
        )
        heading_font = tkfont.nametofont(
            ttk.Style(self.win).lookup("Treeview.Heading", "font") or "TkHeadingFont", root=self.win
        )
        for key, heading, width in self.columns:
            # The People count is centred under its heading; the words are left-aligned under theirs.
            self.tree.heading(key, text=_(heading), anchor="center" if key == "people" else "w")
            # Wide enough for its heading in this language at this screen's text size.
            width = max(theme.scaled(self.win, width), heading_font.measure(_(heading)) + theme.scaled(self.win, 16))
            self.tree.column(
                key,
                width=width,
                minwidth=40,
                stretch=key in ("room", "host", "server"),
                anchor="center" if key == "people" else "w",
            )
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
        self.by_address_button = ttk.Button(
            self.help_frame, text=_("Connect by address"), command=lambda: self.set_mode(BY_ADDRESS)
        )
        self.by_address_button.pack(anchor="w", pady=self.px(6, 0))
        self._row += 1

        self.room_var, self.room_entry = self.field(
            _("Room"), s.room, hint=_("Double-click a room above, or type its name.")
        )
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
        inbox_for(self.win).watch(self, self._browser.updates, self._found_changed)
        self._empty_id = self.win.after(EMPTY_NETWORK_MS, self._nothing_found)

    def _stop_browsing(self) -> None:
        inbox_for(self.win).forget(self)
        if self._empty_id is not None:
            self.win.after_cancel(self._empty_id)
        self._empty_id = None
        browser, self._browser = self._browser, None
        if browser is not None:
            fire_and_forget(browser.stop, name="ocm-gui-stop-browsing")

    def _found_changed(self, lists: list) -> None:
        """The browser's threads put whole lists on its queue; only the newest is shown."""
        if not self.closed and self._browser is not None:
            self.fill_found(lists[-1])

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
        self.rooms = {
            iid: RoomInfo(f.room, f.members, f.locked, f.host, f.room_id, f.standing) for iid, f in self.found.items()
        }
        for iid, f in self.found.items():
            self.tree.insert(
                "",
                "end",
                iid=iid,
                values=(f.room, host_shown(f.host, f.standing), f.members, _("locked") if f.locked else "", f.server),
                tags=("locked",) if f.locked else (),
            )
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

    on_link: Callable[[str, str], object] | None = None  # (link, name): the app opens an invite link's page
    # (host, port, room, name): shown if the app is in that room under that name already
    room_open: Callable[[str, int, str, str], bool] | None = None

    def _a_link_typed(self) -> bool:
        """An invite link pasted as the address goes to the link's own page (the app's)."""
        text = self.address_var.get().strip().strip("<>")
        if self.on_link is None or not text.lower().startswith("ocm:"):
            return False
        on_link, name = self.on_link, self.name_var.get().strip()
        self.close()
        on_link(text, name)
        return True

    def refresh(self) -> None:
        if self.closed or self._a_link_typed():
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
                    return self.show_error(error_sentence(error), self.address_entry)
                return self.unexpected(error, _("Fetching the room list"))
            self.fill_rooms(rooms)
            self._listed_from = format_address(host, port)
            self._remember_server(self.address_var.get().strip())

        trust_changed = self.trust_changed  # values: the worker never holds the dialog

        def work():
            client = backend.make_client(host, port)
            client.trust_changed_identity = trust_changed
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
            self.tree.insert(
                "",
                "end",
                iid=info.name,
                values=(info.name, host_shown(info.host, info.standing), info.members, lock, ""),
                tags=("locked",) if info.locked else (),
            )
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
            text = ngettext(
                "{count} room on this network. Double-click it to join.",
                "{count} rooms on this network. Double-click one to join it.",
                count,
            )
        elif count:
            text = ngettext(
                "{count} room. Double-click it to join.", "{count} rooms. Double-click one to join it.", count
            )
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
        if self.busy or self.closed or self._a_link_typed():
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
            return self.show_error(
                _("Pick a room from the list or type its name."),
                self.tree if self.tree.get_children() else self.room_entry,
            )
        values = self.collect(
            (self.room_entry, lambda: clean_name(self.room_var.get(), "room name")),
            (self.password_entry, lambda: clean_password(self.password_var.get()) if self.password_shown() else None),
        )
        if values is None:
            return
        room, password = values
        if self.room_open is not None and self.room_open(host, port, room, name):
            self.close()  # the app shows the room it is in already: joining again would say "name taken"
            return
        self.show_error("")
        self.set_busy(True, _("Joining {room}…").format(room=room))
        backend = self.backend
        address_text = self.address_var.get().strip()

        trust_changed = self.trust_changed  # values: the worker never holds the dialog

        def work():
            client = backend.make_client(host, port)
            client.trust_changed_identity = trust_changed
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
                return self.show_error(_("This room is locked; type its password and press Join."), self.password_entry)
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
                return self.show_error(error_sentence(error), self.address_entry)
            if isinstance(error, (ClientError, ProtocolError)):
                return self.show_error(error_sentence(error))
            if error is not None:
                return self.unexpected(error, _("Joining the room"))
            self.settings.update(name=name, room=room)
            self._remember_server(address_text)
            self.succeed(client)

        run_in_thread(self.master, work, done, name="ocm-gui-join")


def host_shown(host: str, standing: bool) -> str:
    """The Host column: a standing room (ocm-server --room) has no person as its host."""
    return _("(standing room)") if standing else for_tk(host)
