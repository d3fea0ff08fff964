"""The chat window: a header, a banner, the scrollback, the People list and the input.

Each part is its own module (`scrollback`, `members`, `composer`, `banners`); this one
puts them together and turns the client's events into what they show. All events come
from ``client.events`` (a ``queue.Queue`` filled by the client's receive thread). The
window drains it on the Tk thread with ``after()``, at most ``BATCH`` events per tick,
and inserts each batch into the scrollback with one ``Text.insert`` call. The poll is
cancelled on close.
"""

from __future__ import annotations

import logging
import queue
import time
import tkinter as tk
from tkinter import ttk
from typing import Callable

from ocm_core.cli import event_words, notice_text, resumed_words
from ocm_core.errors import ClientError, MessageTooLong, NotConnected
from ocm_core.events import (
    ChatMessage,
    ConnectionLost,
    ConnectionRestored,
    ErrorEvent,
    FileShared,
    MembersChanged,
    MessageFailed,
    MessageSent,
    Notice,
    Resumed,
    RoomClosed,
)
from ocm_core.i18n import _

from . import theme
from .background import fire_and_forget
from .banners import Banner
from .chatlines import opening_line
from .composer import Composer, too_long_text
from .files import FilePanel
from .members import MemberList
from .scrollback import Entry, Scrollback
from .tooltip import ElidedLabel

log = logging.getLogger(__name__)

APP_TITLE = "Online Chat Messenger"
POLL_MS = 40             # idle poll interval
BATCH = 100              # events handled per tick at most (tagging Japanese break spaces makes
                         # an event dearer; 100 keeps a tick under 100 ms, docs/performance.md)


def share_row(room: int, first: int, second: int, least_share: float = 1 / 3) -> tuple[int, int]:
    """Widths for two texts that want `first` and `second` pixels in a row `room` wide: both
    whole if they fit, else the first gets what the second leaves, and the second keeps at
    least `least_share` of the row (less if it needs less)."""
    room = max(0, room)
    if first + second <= room:
        return first, second
    second_width = max(min(second, int(room * least_share)), room - first)
    return room - second_width, second_width


class ChatWindow:
    """One room's window. ``server`` is the bundled server when this window hosts the room."""

    def __init__(self, master: tk.Misc, client, *, server=None, share_address: str | None = None,
                 settings=None, on_close: Callable[["ChatWindow"], None] | None = None,
                 on_back: Callable[["ChatWindow"], None] | None = None, files_dir=None):
        """`files_dir`: where Save puts files (default: the user's Downloads folder)."""
        self.client = client
        self.server = server
        self.settings = settings
        self.share_address = share_address
        self._on_close = on_close
        self._on_back = on_back
        self.room = client.room
        self.username = client.username
        self.is_host = bool(client.is_host)
        self.limit = int(client.max_message_bytes)

        self.unread = 0
        self.focused = True
        self.room_closed = False
        self.connection_lost = False
        self.destroyed = False
        self.ticks = 0                      # poll ticks so far, for tests and diagnostics
        self._poll_id: str | None = None
        self._later_ids: set[str] = set()

        self.win = tk.Toplevel(master)
        self.win.withdraw()
        default_size = "{}x{}".format(*theme.window_size(self.win, 760, 520))
        size = getattr(settings, "chat_size", "") or default_size
        try:
            self.win.geometry(size)
        except tk.TclError:
            self.win.geometry(default_size)
        self._build()
        self.files = FilePanel(self, save_dir=files_dir)
        self._set_min_size()
        self.people.set(tuple(client.members), client.host_name, frozenset(getattr(client, "plain_members", ())))
        self._update_title()
        self.show_line(opening_line(self.room, is_host=self.is_host, you=self.username, members=client.members,
                                    address=share_address), ("notice",))
        self.win.protocol("WM_DELETE_WINDOW", self.leave)
        self.win.bind("<FocusIn>", self._focus_in, add="+")
        self.win.bind("<FocusOut>", self._focus_out, add="+")
        self.win.bind(theme.shortcut("r"), lambda e: self.retry_failed(), add="+")
        self.win.deiconify()
        self.input.focus_set()
        self._poll_id = self.win.after(1, self._poll)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        win = self.win
        win.columnconfigure(0, weight=1)
        win.rowconfigure(2, weight=1)
        self._build_header()
        self.banners = Banner(win, row=1)

        body = ttk.Panedwindow(win, orient="horizontal")
        body.grid(row=2, column=0, sticky="nsew", padx=12)
        self.scrollback = Scrollback(body, username=self.username, later=self._later, on_retry=self.retry)
        body.add(self.scrollback.frame, weight=4)
        self.people = MemberList(body, you=self.username)
        body.add(self.people.frame, weight=1)

        self.composer = Composer(win, limit=self.limit, measure=self.message_size, on_send=self.send,
                                 on_leave=self.back_to_start,
                                 leave_text=_("Close room") if self.is_host else _("Leave"))
        self.composer.frame.grid(row=3, column=0, sticky="ew")

        # The parts' widgets, by the names tests and the file panel use.
        self.text = self.scrollback.text
        self.more_button = self.scrollback.more_button
        self.members_list = self.people.listbox
        self.members_label = self.people.heading
        self.input = self.composer.input
        self.send_button = self.composer.send_button
        self.leave_button = self.composer.leave_button
        self.hint = self.composer.hint
        self.counter = self.composer.counter
        self.banner = self.banners.frame
        self.banner_label = self.banners.label
        for widget in (self.input, self.text):
            widget.bind("<Tab>", self._focus_next)
            widget.bind("<Shift-Tab>", self._focus_prev)
            widget.bind("<ISO_Left_Tab>", self._focus_prev)

    def _build_header(self) -> None:
        header = self.header = ttk.Frame(self.win, padding=theme.pad(self.win, 12, 10, 12, 6))
        header.grid(row=0, column=0, sticky="ew")
        header.columnconfigure(1, weight=1)
        self.room_label = ttk.Label(header, style="Heading.TLabel")
        self.room_label.grid(row=0, column=0, sticky="w")
        role = _("you host this room") if self.is_host else _("you are a member")
        self.who_label = ttk.Label(header, style="Muted.TLabel")
        self.who_label.grid(row=0, column=1, sticky="w", padx=(theme.scaled(self.win, 10), 0))
        # Long names end in "…" with the whole name in a tooltip (fitted in _fit_header).
        self.room_name = ElidedLabel(self.room_label, self.room, "OCMHeading")
        self.who_name = ElidedLabel(self.who_label, f"{self.username} · {role}", "TkDefaultFont")
        header.bind("<Configure>", lambda e: self._fit_header(), add="+")
        self.share_entry = None
        if self.share_address:
            share = ttk.Frame(header)
            share.grid(row=1, column=0, columnspan=3, sticky="w", pady=(theme.scaled(self.win, 6), 0))
            ttk.Label(share, text=_("Others join with this address:")).pack(side="left")
            self._share_var = tk.StringVar(value=self.share_address)
            self.share_entry = ttk.Entry(share, textvariable=self._share_var, state="readonly", font="OCMHeading",
                                         width=theme.chars_to_fit(header, [self.share_address], font="OCMHeading"))
            self.share_entry.pack(side="left", padx=theme.pad(self.win, 6, 6))
            # As wide as its longer word, so "Copied ✓" does not move anything.
            self.copy_button = ttk.Button(share, text=_("Copy"), command=self.copy_address,
                                          width=theme.chars_to_fit(header, [_("Copy"), _("Copied ✓")],
                                                                   font="TkDefaultFont"))
            self.copy_button.pack(side="left")

        fingerprint = getattr(self.client, "server_fingerprint", None)
        self.fingerprint_label = None
        if fingerprint:
            self.fingerprint_label = ttk.Label(
                header, style="Small.TLabel",
                # Words, not a lock emoji: Tk 8.6 draws characters beyond U+FFFF as empty boxes.
                text=_("Encrypted · server identity {fingerprint} · everyone in the room sees the same; "
                       "compare it aloud").format(fingerprint=fingerprint))
            self.fingerprint_label.grid(row=2, column=0, columnspan=3, sticky="w",
                                        pady=(theme.scaled(self.win, 4), 0))  # under the file button too

    def _set_min_size(self) -> None:
        """The smallest window that still shows every button and the address whole: 560 x 380
        at 96 dpi, grown with the text, or wider where a language's words need it."""
        self.win.update_idletasks()
        width, height = theme.window_size(self.win, 560, 380)
        margin = theme.scaled(self.win, 24)
        needs = [self.files.share_button.winfo_reqwidth() + theme.scaled(self.win, 160),
                 self.send_button.winfo_reqwidth() + theme.scaled(self.win, 240)]
        if self.share_entry is not None:
            needs.append(self.share_entry.master.winfo_reqwidth())
        self.win.minsize(min(max(width, max(needs) + margin), self.win.winfo_screenwidth() * 9 // 10), height)

    def _fit_header(self) -> None:
        """Share the header's first row between the room name and "NAME · role" (the room
        first, but the person's own name keeps at least a third), and wrap the fingerprint
        line to the header's width: a narrow window or large text cuts nothing."""
        header = self.header
        padding = theme.scaled(self.win, 24)
        if self.fingerprint_label is not None:
            self.fingerprint_label.configure(wraplength=max(theme.scaled(self.win, 200), header.winfo_width() - padding))
        share_button = getattr(getattr(self, "files", None), "share_button", None)
        taken = share_button.winfo_reqwidth() if share_button is not None else 0
        room = header.winfo_width() - padding - taken - theme.scaled(self.win, 10 + 12)
        room_width, who_width = share_row(room, self.room_name.natural_width(), self.who_name.natural_width())
        self.room_name.fit(room_width)
        self.who_name.fit(who_width)

    # ------------------------------------------------------------------ helpers
    def _later(self, ms: int, func: Callable[[], object]) -> None:
        """after() that is cancelled when the window goes away."""
        after_id = None

        def run() -> None:
            self._later_ids.discard(after_id)
            if not self.destroyed:
                func()

        after_id = self.win.after(ms, run)
        self._later_ids.add(after_id)

    def _focus_next(self, event) -> str:
        event.widget.tk_focusNext().focus_set()
        return "break"

    def _focus_prev(self, event) -> str:
        event.widget.tk_focusPrev().focus_set()
        return "break"

    def _update_title(self) -> None:
        prefix = f"({self.unread}) " if self.unread else ""
        self.win.title(f"{prefix}{self.room} — {APP_TITLE}")

    @property
    def following(self) -> bool:
        return self.scrollback.following

    @property
    def over_limit(self) -> bool:
        return self.composer.over_limit

    @property
    def members(self) -> tuple[str, ...]:
        return self.people.members

    @property
    def host_name(self) -> str | None:
        return self.people.host_name

    def plain_text(self, start: str, end: str) -> str:
        return self.scrollback.plain_text(start, end)

    def transcript(self) -> str:
        """The scrollback as a person reads it (without the break marks)."""
        return self.scrollback.transcript()

    def scroll_to_end(self) -> None:
        self.scrollback.scroll_to_end()

    def show_line(self, text: str, tags: tuple) -> None:
        """One line of its own in the scrollback (a notice, an error)."""
        self.scrollback.write([self.scrollback.line_entry(text, tags)])

    def append_widget(self, widget: tk.Widget, history: bool = False) -> None:
        self.scrollback.append_widget(widget, history)

    def widget_grew(self) -> None:
        self.scrollback.widget_grew()

    def status_text(self, msg_id: int) -> str | None:
        """What the scrollback shows as the status of an own message still tracked (for tests)."""
        return self.scrollback.status_text(msg_id)

    def member_labels(self) -> list[str]:
        return self.people.labels()

    def input_text(self) -> str:
        return self.composer.text()

    def input_enabled(self) -> bool:
        return self.composer.enabled()

    # ------------------------------------------------------------------ focus / unread
    def _focus_in(self, event=None) -> None:
        self.focused = True
        self.scrollback.back()
        if self.unread:
            self.unread = 0
            self._update_title()

    def _focus_out(self, event=None) -> None:
        self.focused = False
        self.scrollback.away()

    # ------------------------------------------------------------------ sending
    def message_size(self, text: str) -> int:
        return int(self.client.message_size(text))

    def send(self) -> int | None:
        """Send what is typed; returns the msg_id, or None when refused (reason shown)."""
        if self.room_closed or self.destroyed:
            return None
        text = self.composer.message()
        if not text.strip():
            return None
        size = self.message_size(text)
        if size > self.limit:
            self.composer.show_hint(too_long_text(text, size, self.limit), error=True)
            return None
        try:
            msg_id = self.client.send(text)
        except (MessageTooLong, NotConnected, ClientError, OSError) as exc:
            self.composer.show_hint(_("Not sent: {reason}").format(reason=exc), error=True)
            return None
        self.composer.clear()
        self.scrollback.clear_unread()  # they answered: they have read up to here
        self.scrollback.write([self.scrollback.own_entry(msg_id, text, time.time())], force_scroll=True)
        return msg_id

    def retry(self, msg_id: int) -> int | None:
        """Send a failed message again; its line goes back to 'sending…'."""
        if not self.scrollback.is_tracked(msg_id) or self.room_closed:
            return None
        try:
            new_id = self.client.retry(msg_id)
        except (ClientError, OSError) as exc:
            self.composer.show_hint(_("Could not retry: {reason}").format(reason=exc), error=True)
            return None
        self.scrollback.mark_sending(msg_id, new_id)
        return new_id

    def retry_failed(self) -> None:
        for msg_id in self.scrollback.failed_ids():
            self.retry(msg_id)

    # ------------------------------------------------------------------ events
    def _poll(self) -> None:
        self._poll_id = None
        if self.destroyed:
            return
        self.ticks += 1
        batch: list[object] = []
        try:
            while len(batch) < BATCH:
                batch.append(self.client.events.get_nowait())
        except queue.Empty:
            pass
        try:
            if batch:
                self.handle_events(batch)
            self.files.drain()
        finally:
            if not self.destroyed:
                self._poll_id = self.win.after(1 if len(batch) == BATCH else POLL_MS, self._poll)

    def handle_events(self, events: list) -> None:
        scrollback = self.scrollback
        line_entry = scrollback.line_entry
        pending: list[Entry] = []
        new_messages = 0

        def flush() -> None:
            scrollback.write(pending)
            pending.clear()

        for event in events:
            if isinstance(event, ChatMessage):
                if event.history and not scrollback.history_shown:
                    pending.append(scrollback.history_separator())
                if not event.history:
                    pending.extend(scrollback.unread_entries())
                    new_messages += 1
                pending.append(scrollback.message_entry(event))
            elif isinstance(event, Notice):
                if event.history and not scrollback.history_shown:
                    pending.append(scrollback.history_separator())
                pending.append(scrollback.notice_entry(notice_text(event), event.time, event.history))
            elif isinstance(event, FileShared):
                if event.history and not scrollback.history_shown:
                    pending.append(scrollback.history_separator())
                if not event.history and event.sender != self.username:
                    pending.extend(scrollback.unread_entries())
                pending.extend(scrollback.day_entries(event.time))
                flush()
                self.files.show_file(event)
                if not event.history:
                    new_messages += 1
            elif isinstance(event, MembersChanged):
                self.people.set(tuple(event.members), event.host, event.plain)
            elif isinstance(event, MessageSent):
                flush()
                scrollback.mark_sent(event.msg_id)
            elif isinstance(event, MessageFailed):
                flush()
                scrollback.mark_failed(event.msg_id, event.reason or _("no answer from the server"))
            elif isinstance(event, RoomClosed):
                pending.append(line_entry(event.reason or _("The host closed the room."), ("error",)))
                flush()
                self._room_closed(event.reason)
            elif isinstance(event, ConnectionLost):
                self.connection_lost = True
                if not self.room_closed:
                    self.banners.show(event.text or event_words("connection_lost"))
            elif isinstance(event, ConnectionRestored):
                self.connection_lost = False
                if not self.room_closed:
                    self.banners.hide()
                pending.append(line_entry(event.text or event_words("connection_restored"), ("notice",)))
            elif isinstance(event, Resumed):
                pending.append(line_entry(resumed_words(event.missed), ("notice",)))
            elif isinstance(event, ErrorEvent):
                pending.append(line_entry(event.text, ("error",)))
            else:
                log.debug("ignoring unknown event %r", event)
        flush()
        if new_messages and not self.focused:
            self.unread += new_messages
            self._update_title()

    def _room_closed(self, reason: str) -> None:
        if self.room_closed:
            return
        self.room_closed = True
        self.banners.show(reason or _("The host closed the room."), closed=True,
                          actions=((_("Back to start"), self.back_to_start),))
        self.back_button = self.banners.buttons[0]
        self.composer.disable(_("The room is closed; you can no longer send messages."), _("Close window"))
        self.scrollback.disable_retry()
        self.files.room_closed()
        self.back_button.focus_set()
        fire_and_forget(self.client.leave, name="ocm-gui-leave")

    # ------------------------------------------------------------------ actions
    def copy_address(self) -> None:
        if not self.share_address:
            return
        self.win.clipboard_clear()
        self.win.clipboard_append(self.share_address)
        self.copy_button.configure(text=_("Copied ✓"))
        self._later(1500, lambda: self.copy_button.configure(text=_("Copy")))

    def back_to_start(self) -> None:
        if self._on_back is not None:
            self._on_back(self)  # first, so the app knows a window stays open
        self.leave()

    def leave(self) -> None:
        """Leave the room (or, as host, close it and then stop the bundled server)."""
        if self.destroyed:
            return
        self.destroyed = True
        if self.settings is not None:
            try:
                size = f"{self.win.winfo_width()}x{self.win.winfo_height()}"
                if self.win.winfo_width() > 1 and size != self.settings.chat_size:
                    self.settings.update(chat_size=size)
            except tk.TclError:
                pass
        if self._poll_id is not None:
            self.win.after_cancel(self._poll_id)
            self._poll_id = None
        for after_id in list(self._later_ids):
            self.win.after_cancel(after_id)
        self._later_ids.clear()
        self.files.close()
        client, server = self.client, self.server

        def shut_down() -> None:
            try:
                client.leave()
            finally:
                if server is not None:
                    server.stop()

        fire_and_forget(shut_down, name="ocm-gui-close-room" if server else "ocm-gui-leave")
        self.win.destroy()
        if self._on_close is not None:
            self._on_close(self)
