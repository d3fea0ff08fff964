"""The chat window: a header, a banner, the scrollback, the People list and the input.

Each part is its own module (`header`, `scrollback`, `members`, `composer`, `banners`, `lost`); this one
puts them together and turns the client's events into what they show. All events come
from ``client.events`` (a ``queue.Queue`` filled by the client's receive thread). The
app's one inbox loop (ocm_gui/inbox.py) drains it on the Tk thread, at most ``BATCH``
events per tick, and the window inserts each batch into the scrollback with one
``Text.insert`` call. The window stops watching when it closes.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING

from ocm_core.errors import ClientError, MessageTooLong, NotConnected
from ocm_core.i18n import _, ngettext
from ocm_core.net.recorder import RoomRecorder
from ocm_core.sansio.events import (
    AppEvent,
    ChatMessage,
    ConnectionLost,
    ConnectionRestored,
    DirectMessage,
    DirectUpdate,
    ErrorEvent,
    FileShared,
    HostNotAnswering,
    KeyChanged,
    MembersChanged,
    MessageFailed,
    MessageSent,
    Notice,
    NoticeKind,
    PresenceChanged,
    Resumed,
    RoomClosed,
    SessionGone,
    TypingSeen,
)
from ocm_core.sansio.mentions import EVERYONE_FREELY_UP_TO, may_name_everyone, mentions_me, names_everyone
from ocm_core.sansio.presence import TypingSender
from ocm_core.storage.history import Line
from ocm_core.words import event_words, everyone_refused_text, notice_text, resumed_words
from ocm_gui import ports, theme
from ocm_gui.backend import Backend
from ocm_gui.background import fire_and_forget
from ocm_gui.chat.banners import Banner
from ocm_gui.chat.chatlines import opening_line
from ocm_gui.chat.composer import Composer
from ocm_gui.chat.composer_rules import too_long_text
from ocm_gui.chat.confirm import Confirm
from ocm_gui.chat.drop import Dropper
from ocm_gui.chat.files import FilePanel
from ocm_gui.chat.findbar import FindBar
from ocm_gui.chat.header import ChatHeader
from ocm_gui.chat.kept import kept_entries
from ocm_gui.chat.lost import LostHost
from ocm_gui.chat.members import MemberList
from ocm_gui.chat.mentionpicker import MentionPicker
from ocm_gui.chat.messageactions import APPLIED as APPLIED_IN_PLACE
from ocm_gui.chat.messageactions import MessageActions
from ocm_gui.chat.paste import Paster
from ocm_gui.chat.scrollback import Entry, Scrollback
from ocm_gui.chat.typingline import TypingLine
from ocm_gui.inbox import inbox_for
from ocm_gui.notify.alerts import bring_forward

if TYPE_CHECKING:
    from ocm_gui.notify.alerts import ChatAlerts

log = logging.getLogger(__name__)

# What a room's client hears that is not the room's own line: for the app's direct
# conversations, and presence and typing shown here.
DIRECT_EVENTS = (DirectMessage, DirectUpdate, KeyChanged, PresenceChanged, TypingSeen)

APP_TITLE = "Online Chat Messenger"
KEPT_LINES = 500  # lines of the history shown when a room opens (Ctrl+F and search reach the rest)
BATCH = 100  # events handled per tick at most (tagging Japanese break spaces makes
# an event dearer; 100 keeps a tick under 100 ms, docs/performance.md)


class ChatWindow:
    """One room's view. ``server`` is the bundled server when this view hosts the room.

    In the app the view is a page of the main window (`container`: the frame the pages
    share); the main window then owns the title, the size and the close button, and says
    when the person is looking at this room (`set_looking`). Without `container` the view
    makes a window of its own (the widget tests, a view on its own)."""

    def __init__(
        self,
        master: tk.Misc,
        client: ports.RoomClient,
        *,
        server: ports.RoomServer | None = None,
        share_address: str | None = None,
        settings=None,
        on_close: Callable[[ChatWindow], None] | None = None,
        on_back: Callable[[ChatWindow], None] | None = None,
        files_dir=None,
        backend: ports.Backend | None = None,
        container: tk.Misc | None = None,
        on_unread: Callable[[ChatWindow], None] | None = None,
        on_wanted: Callable[[ChatWindow], None] | None = None,
        link: str | None = None,
        recorder: RoomRecorder | None = None,
        on_search: Callable[[int, str], object] | None = None,
        on_direct: Callable[[ChatWindow, AppEvent], object] | None = None,
        on_message: Callable[[str], object] | None = None,
        on_rejoined: Callable[[ChatWindow], object] | None = None,
    ):
        """`files_dir`: where Save puts files (default: the user's Downloads folder).
        `backend`: makes the client that Rejoin joins with (default: the app's usual one).
        `on_unread`: told when the unread count changes; `on_wanted`: asked to show this
        room (a notification was clicked) when the view is a page of the main window.
        `recorder`: keeps the room's lines in the person's history; its earlier lines are
        shown first, and what the server sends again is not shown twice. `on_search(conversation,
        query)`: search the room's whole history (the find bar's Older…). `on_direct(window,
        event)`: what arrived for direct conversations and presence (the app's); `on_message(name)`:
        the person asked to write to `name` alone (People list)."""
        self._on_direct = on_direct
        self._on_message = on_message
        self._on_rejoined = on_rejoined  # after a Rejoin: the app's direct conversations and presence
        self._typing_sender = TypingSender()
        self.client = client
        self.server = server
        self.settings = settings
        self.share_address = share_address
        self.link = link  # the room's invite link, ocm://HOST:PORT/ROOM?fp=...
        self.recorder = recorder
        self._on_search = on_search
        self._missed_marked = False  # the "New messages" line is before what was said while away
        self._on_close = on_close
        self._on_back = on_back
        self._on_unread = on_unread
        self._on_wanted = on_wanted
        self.embedded = container is not None
        assert client.room is not None and client.username is not None, "a chat window is for a client in a room"
        self.room: str = client.room
        self.username: str = client.username
        self.is_host = bool(client.is_host)
        self.limit = int(client.max_message_bytes)

        self.unread = 0
        self.focused = True
        self.room_closed = False
        self.room_ended = False  # closed because the room itself is over (not a session the server forgot)
        self.connection_lost = False
        self.destroyed = False
        self.closed = threading.Event()  # the same, for workers, which must not hold the window
        self.ticks = 0  # batches of events handled so far, for tests and diagnostics
        self._later_ids: set[str] = set()
        self.lost = LostHost(self, backend if backend is not None else Backend(announce=False))
        self.confirm: Confirm | None = None  # the question before closing a room others are in
        self._seen_until = 0.0  # the newest room event shown (server time), to skip it when it
        self._replay_until: float | None = None  # comes again in a Rejoin's history
        self.alerts: ChatAlerts | None = None  # the app's ocm_gui.notify.alerts.ChatAlerts: notifications, urgency
        # Made by _build(); declared here for the parts that see the window through a Protocol.
        self.heading: ChatHeader
        self.banners: Banner
        self.people: MemberList
        self.scrollback: Scrollback
        self.composer: Composer
        self.text: tk.Text
        self.input: tk.Text
        self.header: tk.Widget
        self.win: tk.Tk | tk.Toplevel

        if container is not None:
            self.page = ttk.Frame(container)
            self.win = self.page.winfo_toplevel()
        else:
            self.win = tk.Toplevel(master)
            self.win.withdraw()
            default_size = "{}x{}".format(*theme.window_size(self.win, 760, 520))
            size = getattr(settings, "chat_size", "") or default_size
            try:
                self.win.geometry(size)
            except tk.TclError:
                self.win.geometry(default_size)
            self.page = ttk.Frame(self.win)
            self.page.grid(row=0, column=0, sticky="nsew")
            self.win.columnconfigure(0, weight=1)
            self.win.rowconfigure(0, weight=1)
        self._build()
        self.files = FilePanel(self, save_dir=files_dir)
        self.paster = Paster(self, self.files, platform=sys.platform)
        self.dropper = Dropper([self.page, self.text, self.input], self.files, enabled=self.input_enabled)
        self.heading.right_widget = self.files.share_button
        if not self.embedded:
            self._set_min_size()
        self.people.set(tuple(client.members), client.host_name, client.plain_members)
        self.people.set_muted(self.muted)
        self._update_title()
        if recorder is not None:
            self._show_kept(recorder)
        self.show_line(
            opening_line(
                self.room, is_host=self.is_host, you=self.username, members=client.members, address=share_address
            ),
            ("notice",),
        )
        if not self.embedded:
            self.win.protocol("WM_DELETE_WINDOW", lambda: self.ask_before(self.leave))
            self.win.bind("<FocusIn>", self._focus_in, add="+")
            self.win.bind("<FocusOut>", self._focus_out, add="+")
            self.win.bind(theme.shortcut("r"), lambda e: self.retry_failed(), add="+")
            self.win.deiconify()
            self.input.focus_set()
        self._inbox = inbox_for(self.win)
        self._watch(client)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        win = self.page
        win.columnconfigure(0, weight=1)
        win.rowconfigure(3, weight=1)
        self._build_header()
        self.banners = Banner(win, row=1)
        self.finder: FindBar | None = None  # made on the first Ctrl+F (row 2)

        body = ttk.Panedwindow(win, orient="horizontal")
        body.grid(row=3, column=0, sticky="nsew", padx=12)
        self.message_actions = MessageActions(self)
        self.scrollback = Scrollback(
            body,
            username=self.username,
            later=self.later,
            on_retry=self.retry,
            on_message=self._on_message,
            on_quote=self.message_actions.quote_clicked,
            on_chip=self.message_actions.toggle,
            message_items=self.message_actions.menu_items,
        )
        self.scrollback.quote_lookup = self._kept_quote
        body.add(self.scrollback.frame, weight=4)
        self.people = MemberList(
            body,
            you=self.username,
            on_message=self._on_message,
            on_mute=self.mute,
            on_remove=self.message_actions.ask_remove,
        )
        body.add(self.people.frame, weight=1)

        self.composer = Composer(
            win,
            limit=self.limit,
            measure=self.message_size,
            on_send=self.send,
            on_leave=lambda: self.ask_before(self.back_to_start),
            leave_text=self._leave_text(),
            settings=self.settings,
        )
        self.composer.frame.grid(row=4, column=0, sticky="ew")
        self.typing = TypingLine(self.scrollback.typing_label)
        self.mentions = MentionPicker(self.composer.input, members=lambda: self.members, me=self.username)
        self.composer.input.bind("<KeyPress>", self._keystroke, add="+")

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
        self.message_actions.bind(self.input, self.text)

    def _build_header(self) -> None:
        self.heading = ChatHeader(
            self.page,
            room=self.room,
            username=self.username,
            is_host=self.is_host,
            share_address=self.share_address,
            fingerprint=self.client.server_fingerprint,
            later=self.later,
            locked=self.client.locked,
            link=self.link,
        )
        self.heading.frame.grid(row=0, column=0, sticky="ew")
        # The header's widgets, by the names tests and the file panel use.
        self.header = self.heading.frame
        self.room_label, self.who_label = self.heading.room_label, self.heading.who_label
        self.room_name, self.who_name = self.heading.room_name, self.heading.who_name
        self.share_entry = self.heading.share_entry
        self.copy_button = self.heading.copy_button
        self.fingerprint_label = self.heading.fingerprint_label

    def least_size(self) -> tuple[int, int]:
        """The smallest view that still shows every button and the address whole: 560 x 380
        at 96 dpi, grown with the text, or wider where a language's words need it."""
        self.win.update_idletasks()
        width, height = theme.window_size(self.win, 560, 380)
        margin = theme.scaled(self.win, 24)
        needs = [
            self.files.share_button.winfo_reqwidth() + theme.scaled(self.win, 160),
            self.send_button.winfo_reqwidth() + theme.scaled(self.win, 240),
        ]
        needs.append(self.heading.share_width())
        # Tall enough for the header, the input and a few lines of conversation between them:
        # at scaling 2 the header alone took most of a 760-pixel window.
        lines = theme.named_font(self.win, "OCMChat").metrics("linespace")
        content = self.header.winfo_reqheight() + self.composer.frame.winfo_reqheight() + 5 * lines
        return max(width, max(needs) + margin), max(height, content)

    def _set_min_size(self) -> None:
        width, height = self.least_size()
        self.win.minsize(
            min(width, self.win.winfo_screenwidth() * 9 // 10), min(height, self.win.winfo_screenheight() * 9 // 10)
        )

    # ------------------------------------------------------------------ helpers
    def later(self, ms: int, func: Callable[[], object]) -> None:
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
        if self._on_unread is not None:
            self._on_unread(self)
        if self.embedded:
            return  # the main window's title and sidebar show it
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
        if self.alerts is not None:
            self.alerts.seen()
        if self.unread:
            self.unread = 0
            self._update_title()

    def _focus_out(self, event=None) -> None:
        self.focused = False
        self.scrollback.away()

    def set_looking(self, looking: bool) -> None:
        """The main window says whether the person is looking at this room: it is the room
        shown and the window has the focus."""
        if self.destroyed or looking == self.focused:
            return
        if looking:
            self._focus_in()
        else:
            self._focus_out()

    def come_forward(self) -> None:
        """Show this room with the cursor in its input (a notification was clicked), so a
        reply typed at once lands here."""
        if self.destroyed:
            return
        if self._on_wanted is not None:
            self._on_wanted(self)
        else:
            bring_forward(self.win)
        if self.input_enabled():
            self.input.focus_force()

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
        if self.message_actions.editing is not None:
            self.message_actions.send_edit(text)
            return None
        reply_to = self.message_actions.replying or 0
        size = self.message_size(text)
        if size > self.limit:
            self.composer.show_hint(too_long_text(text, size, self.limit), error=True)
            return None
        if names_everyone(text, self.members) and not may_name_everyone(
            self.username, self.host_name, len(self.members)
        ):
            self.composer.show_hint(everyone_refused_text(EVERYONE_FREELY_UP_TO), error=True)
            return None
        try:
            msg_id = self.client.reply(reply_to, text) if reply_to else self.client.send(text)
        except (MessageTooLong, NotConnected, ClientError, OSError) as exc:
            self.composer.show_hint(_("Not sent: {reason}").format(reason=exc), error=True)
            return None
        self.composer.clear()
        self.message_actions.done()
        self._typing_sender.sent_message()
        self.scrollback.clear_unread()  # they answered: they have read up to here
        self.scrollback.write([self.scrollback.own_entry(msg_id, text, time.time(), reply_to)], force_scroll=True)
        if self.recorder is not None:
            self.recorder.sending(msg_id, text, reply_to)
        return msg_id

    def _kept_quote(self, seq: int) -> tuple[str, str] | None:
        """(sender, text) of message `seq` from this PC's history: what a reply to a message
        older than the scrollback quotes."""
        line = self.kept_line(seq)
        return (line.sender, "" if line.deleted else line.text) if line is not None else None

    def kept_line(self, seq: int) -> Line | None:
        if self.recorder is None:
            return None
        try:
            return self.recorder.store.line_at(self.recorder.conversation, seq)
        except (sqlite3.Error, OSError):
            return None

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
        if self.recorder is not None:
            self.recorder.retried(msg_id, new_id)
        return new_id

    def retry_failed(self) -> None:
        for msg_id in self.scrollback.failed_ids():
            self.retry(msg_id)

    # ------------------------------------------------------------------ events
    def _watch(self, client) -> None:
        """Have the inbox hand this window `client`'s events (a Rejoin's new client replaces the old)."""
        self._inbox.watch(self, client.events, self._handle_batch, BATCH)

    def _handle_batch(self, batch: list) -> None:
        if self.destroyed:
            return
        self.ticks += 1
        self.handle_events(batch)

    def handle_events(self, events: list) -> None:
        scrollback = self.scrollback
        line_entry = scrollback.line_entry
        pending: list[Entry] = []
        new_messages = 0

        def flush() -> None:
            scrollback.write(pending)
            pending.clear()

        shown: list = []  # the events as shown (after a Rejoin, what we missed turns live)
        for event in events:
            event = self._kept(event)
            if event is not None:
                event = self._as_shown(event)
            if event is None:
                continue
            shown.append(event)
            if isinstance(event, DIRECT_EVENTS):
                self._direct_event(event)
                continue
            if isinstance(event, (ChatMessage, FileShared)) and event.sender in self.muted:
                continue  # muted by this person: not shown, not counted, no notification
            if isinstance(event, ChatMessage):
                if not event.history:
                    self.typing.spoke(event.sender)
                if event.history and not scrollback.history_shown:
                    pending.append(scrollback.history_separator())
                if not event.history:
                    pending.extend(scrollback.unread_entries())
                    new_messages += 1
                mentioned = event.sender != self.username and mentions_me(event.text, self.username, self.members)
                pending.append(scrollback.message_entry(event, mentioned=mentioned))
            elif isinstance(event, Notice):
                if event.kind is NoticeKind.JOINED and event.name == self.username and not event.history:
                    continue  # the window's opening line already says that you joined
                if event.history and not scrollback.history_shown:
                    pending.append(scrollback.history_separator())
                pending.append(
                    scrollback.notice_entry(notice_text(event.kind, event.name, event.text), event.time, event.history)
                )
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
                self.people.set(tuple(event.members), event.host, event.plain, event.away)
                if self._on_direct is not None:
                    self._on_direct(self, event)
            elif isinstance(event, MessageSent):
                flush()
                scrollback.mark_sent(event.msg_id, event.seq)
            elif isinstance(event, APPLIED_IN_PLACE):
                flush()
                self.message_actions.apply(event)
            elif isinstance(event, MessageFailed):
                flush()
                scrollback.mark_failed(event.msg_id, event.reason or _("no answer from the server"))
            elif isinstance(event, RoomClosed):
                pending.append(line_entry(event.reason or _("The host closed the room."), ("error",)))
                flush()
                self._room_closed(event.reason)
            elif isinstance(event, HostNotAnswering):
                self.lost.not_answering(event)
            elif isinstance(event, SessionGone):
                pending.append(line_entry(event.reason or event_words("session_gone"), ("error",)))
                flush()
                self.lost.session_gone(event)
            elif isinstance(event, ConnectionLost):
                self.connection_lost = True
                if not self.room_closed:
                    self.banners.show(event.text or event_words("connection_lost"))
            elif isinstance(event, ConnectionRestored):
                self.connection_lost = False
                if not self.room_closed:
                    self.banners.hide()
                    self.people.host_not_answering(False)
                pending.append(line_entry(event.text or event_words("connection_restored"), ("notice",)))
            elif isinstance(event, Resumed):
                pending.append(line_entry(resumed_words(event.missed), ("notice",)))
            elif isinstance(event, ErrorEvent):
                pending.append(line_entry(event.text, ("error",)))
            else:
                log.debug("ignoring unknown event %r", event)
        flush()
        if self.alerts is not None:
            self.alerts.arrived(shown)
        if new_messages and not self.focused:
            self.unread += new_messages
            self._update_title()

    @property
    def muted(self) -> frozenset[str]:
        """The people this person muted in this room (kept in the settings by its link)."""
        entries = getattr(self.settings, "muted", None) or []
        return frozenset(name for link, _tab, name in (e.partition("\t") for e in entries) if link == self.link)

    def mute(self, name: str, muted: bool) -> None:
        """Hide `name`'s messages here (or show them again), for this person alone."""
        if self.settings is None or not self.link or name == self.username:
            return
        entry = f"{self.link}\t{name}"
        kept = [e for e in self.settings.muted if e != entry]
        self.settings.update(muted=kept + ([entry] if muted else []))
        self.people.set_muted(self.muted)
        words = (
            _("You muted {name}: their messages are hidden here until you unmute them (right-click them in People).")
            if muted
            else _("You unmuted {name}: their messages show again.")
        )
        self.show_line(words.format(name=name), ("notice",))

    def _direct_event(self, event) -> None:
        """Presence and typing shown here; direct messages handed to the app's conversations."""
        if isinstance(event, PresenceChanged):
            self.people.set_away(event.name, event.away)
        elif isinstance(event, TypingSeen) and not event.direct:
            self.typing.signal(event.name)
            return
        if self._on_direct is not None:
            self._on_direct(self, event)

    def _keystroke(self, event) -> None:
        """A typing signal for the room, at most every few seconds while the person types."""
        if self.room_closed or not event.char or event.char in "\r\n":
            return
        if self._typing_sender.keystroke(time.monotonic()):
            self.client.typing()

    def _show_kept(self, recorder: RoomRecorder) -> None:
        """The room's earlier lines from the history on this PC, as history."""
        try:
            lines = [line for _id, line in recorder.store.lines(recorder.conversation, limit=KEPT_LINES)]
            placed = [line.seq for line in lines if line.seq]
            reactions = recorder.store.reactions(recorder.conversation, min(placed), max(placed)) if placed else {}
        except (sqlite3.Error, OSError) as exc:
            log.warning("could not read the room's history: %s", exc)
            return
        self.scrollback.write(kept_entries(self.scrollback, lines))
        for seq, who in reactions.items():
            self.scrollback.set_reactions(seq, who, self.username)

    def _kept(self, event):
        """Write `event` into the history; None when it was there already (the server sends
        recent history on every join), and what was said while away turned live (unread)."""
        recorder = self.recorder
        if recorder is None:
            return event
        new = recorder.saw(event)
        if not getattr(event, "history", False):
            return event
        if not new:
            return None
        if recorder.caught_up(event):
            if not self._missed_marked:
                # What was said while away starts under "New messages", even in the room shown.
                self._missed_marked = True
                self.scrollback.away()
            return dataclasses.replace(event, history=False)
        return event

    def find(self, query: str | None = None) -> FindBar:
        """Ctrl+F: the find bar over the scrollback, with `query` if given."""
        if self.finder is None:
            older = self._search_older if self._on_search is not None else None
            self.finder = FindBar(self.page, self.text, row=2, on_close=self._found_closed, on_older=older)
        self.finder.open(query)
        return self.finder

    def _search_older(self, query: str) -> None:
        if self._on_search is not None and self.recorder is not None:
            self._on_search(self.recorder.conversation, query)

    def _found_closed(self) -> None:
        if self.input_enabled():
            self.input.focus_set()

    def _as_shown(self, event):
        """Note the newest room event; after a Rejoin, skip its history up to what we showed
        before (None) and return the rest, what we missed, as live."""
        when = getattr(event, "time", None)
        if when is None:
            return event
        if self._replay_until is not None and event.history:
            if when <= self._replay_until or (isinstance(event, Notice) and event.name == self.username):
                return None  # shown before, or our own coming back, which adopt() says in words
            event = dataclasses.replace(event, history=False)
        self._seen_until = max(self._seen_until, when)
        return event

    def _room_closed(self, reason: str) -> None:
        if self.room_closed:
            return
        self.room_ended = True
        self.end_room(
            hint=_("The room is closed; you can no longer send messages."),
            people_heading=_("People"),
            people_line=_("The room is closed"),
        )
        self.banners.show(
            reason or _("The host closed the room."), closed=True, actions=((self.dismiss_text(), self.back_to_start),)
        )
        self.back_button = self.banners.buttons[0]
        self.back_button.focus_set()

    def end_room(self, *, hint: str, people_heading: str, people_line: str) -> None:
        """The room is over for this client: nothing more is sent, the People list says why."""
        self.room_closed = True
        if self.confirm is not None:
            self.confirm.close()  # nothing left to close for everyone
            self.confirm = None
        self.composer.disable(hint, self.dismiss_text() if self.embedded else _("Close window"))
        if self.heading.link_button is not None:
            self.heading.link_button.state(["disabled"])  # nothing left to invite anyone to
        self.scrollback.disable_retry()
        self.files.room_closed()
        self.people.show_ended(people_heading, people_line)
        fire_and_forget(self.client.leave, name="ocm-gui-leave")
        if self._on_unread is not None:
            self._on_unread(self)  # the sidebar greys the room

    def adopt(self, client: ports.RoomClient) -> None:
        """Go on in this window with `client`, which joined the same room again (Rejoin)."""
        self.client = client
        self._watch(client)
        self.is_host = bool(client.is_host)
        self.room_closed = self.room_ended = self.connection_lost = False
        if self.recorder is not None:
            try:  # a room made again (a server restarted without its database) is another conversation
                self.recorder = self.recorder.following(client)
            except (sqlite3.Error, OSError) as exc:
                log.warning("the history of the room joined again cannot be kept: %s", exc)
                self.recorder = None
        self.limit = self.composer.limit = int(client.max_message_bytes)
        self._replay_until = self._seen_until
        self.composer.enable(self._leave_text())
        if self.heading.link_button is not None:
            self.heading.link_button.state(["!disabled"])
        self.scrollback.new_session()
        self.files.room_reopened(client)
        self.people.set(tuple(client.members), client.host_name, client.plain_members)
        self.banners.hide()
        self.show_line(
            _("You joined “{room}” again as {name}.").format(room=self.room, name=self.username), ("notice",)
        )
        self.input.focus_set()
        if self._on_rejoined is not None:
            self._on_rejoined(self)

    def dismiss_text(self) -> str:
        """The words of the button that puts away a room that ended: in the main window the
        room leaves the sidebar; a window of its own goes back to the start window."""
        return _("Remove from the list") if self.embedded else _("Back to start")

    def _leave_text(self) -> str:
        return _("Close room") if self.is_host else _("Leave")

    def others(self) -> int:
        """How many people besides us are in the room."""
        return len([name for name in self.people.members if name != self.username])

    def ask_before(self, action: Callable[[], None]) -> None:
        """Closing a room others are in asks first; anything else goes ahead at once."""
        others = self.others()
        if not self.is_host or self.room_closed or self.destroyed or not others:
            action()
            return
        if self.confirm is not None:
            self.confirm.win.lift()
            return

        def answered(yes: bool) -> None:
            self.confirm = None
            if yes and not self.destroyed:
                action()

        self.confirm = Confirm(
            self.win,
            title=_("Close the room?"),
            yes=_("Close room"),
            cancel=_("Cancel"),
            on_answer=answered,
            question=ngettext(
                "{count} other person is here: close the room for everyone?",
                "{count} other people are here: close the room for everyone?",
                others,
            ).format(count=others),
        )

    # ------------------------------------------------------------------ actions
    def copy_address(self) -> None:
        self.heading.copy_address()

    def back_to_start(self) -> None:
        if self._on_back is not None:
            self._on_back(self)  # first, so the app knows a window stays open
        self.leave()

    def leave(self) -> None:
        """Leave the room (or, as host, close it and then stop the bundled server). The room
        is left even when the windows are gone already (a window destroyed from outside, a
        display that went away): the widget work comes after."""
        if self.destroyed:
            return
        self.destroyed = True
        self.closed.set()
        client, server = self.client, self.server
        if self.is_host and not self.room_closed and self.recorder is not None:
            self.recorder.saw(RoomClosed(_("You closed the room.")))  # its end, in the host's own history

        def shut_down() -> None:
            try:
                client.leave()
            finally:
                if server is not None:
                    server.stop()

        fire_and_forget(shut_down, name="ocm-gui-close-room" if server else "ocm-gui-leave")
        try:
            self._put_away()
        except tk.TclError as exc:
            log.info("the room's widgets were gone already: %s", exc)
        if self._on_close is not None:
            self._on_close(self)

    def _put_away(self) -> None:
        if self.confirm is not None:
            self.confirm.close()
            self.confirm = None
        if self.settings is not None and not self.embedded:
            try:
                size = f"{self.win.winfo_width()}x{self.win.winfo_height()}"
                if self.win.winfo_width() > 1 and size != self.settings.chat_size:
                    self.settings.update(chat_size=size)
            except tk.TclError:
                pass
        self._inbox.forget(self)
        for after_id in list(self._later_ids):
            self.win.after_cancel(after_id)
        self._later_ids.clear()
        self.files.close()
        if self.alerts is not None:
            self.alerts.closed()
        (self.page if self.embedded else self.win).destroy()
