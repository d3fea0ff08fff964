"""The main window's direct conversations: one per person and server, in the sidebar beside
the rooms, fed by whichever room's client a message, a receipt or a typing signal came in
on, and written through a room the person shares with us. Also this person's own presence:
away after ten minutes without input anywhere in the app, or by hand (Chat menu).
"""

from __future__ import annotations

import logging
import sqlite3
import time
import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ocm_core.errors import ClientError, NotConnected, OCMError
from ocm_core.i18n import _
from ocm_core.net.recorder import DIRECT_PREFIX, DirectRecorder, direct_name, is_direct
from ocm_core.sansio import events as ev
from ocm_core.sansio.presence import MyPresence, Presence
from ocm_core.storage.history import Conversation, HistoryStore
from ocm_gui.chat.direct import MARK, DirectWindow

if TYPE_CHECKING:
    from ocm_gui.chat.window import ChatWindow
    from ocm_gui.main.sidebar import RoomList
    from ocm_gui.notify.alerts import Notifications


class MainWindow(Protocol):
    """What the conversations need of the main window (ocm_gui.app.App)."""

    root: tk.Tk
    chats: list[ChatWindow]
    sidebar: RoomList
    notifications: Notifications
    history: HistoryStore | None
    shown: object | None
    window_focused: bool
    closing: bool

    @property
    def content(self) -> tk.Misc: ...  # where the pages are
    def show_room(self, key: object) -> None: ...
    def take_off_sidebar(self, key: object) -> None: ...
    def show_window(self) -> None: ...
    def update_title(self) -> None: ...
    def server_label(self, chat: ChatWindow) -> str: ...
    def room_keys_for(self, page: Any) -> None: ...
    def history_call(self, work: Callable[[HistoryStore], Any], default: Any = None) -> Any: ...


log = logging.getLogger(__name__)

PRESENCE_TICK_MS = 15_000  # how often idleness is looked at (away comes after 10 minutes)
KEPT_DIRECT_LINES = 500
GUESSED_LIMIT = 3000  # bytes, while no room can say (a direct message's most is about 3,600)


def server_of(chat: ChatWindow) -> str | None:
    return chat.client.server_fingerprint


class DirectConversations:
    def __init__(self, app: MainWindow, *, clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.windows: dict[tuple[str, str], DirectWindow] = {}
        self._via: dict[tuple[str, str], ChatWindow] = {}  # the room a conversation last went through
        self._sent: dict[int, DirectWindow] = {}  # our messages' ids -> their conversation
        self._waiting: dict[int, ChatWindow] = {}  # our messages the server keeps -> the room they wait in
        self._changed: dict[tuple[str, str], ev.KeyChanged] = {}  # told before the conversation was open
        self._recorders: dict[str, DirectRecorder] = {}
        self._clock = clock
        self.me = MyPresence(clock())
        root = app.root
        self.away_by_hand = tk.BooleanVar(root, value=False)
        for sequence in ("<KeyPress>", "<ButtonPress>"):
            root.bind_all(sequence, lambda e: self._input_seen(), add="+")
        root.after(PRESENCE_TICK_MS, self._tick)

    # --- this person's presence -------------------------------------------------------------

    def _input_seen(self) -> None:
        if self.me.input_seen(self._clock()) is not None:
            self._tell_everyone(away=False)

    def _tick(self) -> None:
        if self.app.closing:
            return
        if self.me.tick(self._clock()) is Presence.AWAY:
            self._tell_everyone(away=True)
        self.app.root.after(PRESENCE_TICK_MS, self._tick)

    def choose_away(self) -> None:
        """The Chat menu's "Show me as away" was toggled."""
        changed = self.me.choose(bool(self.away_by_hand.get()), self._clock())
        if changed is not None:
            self._tell_everyone(away=changed is Presence.AWAY)

    def _tell_everyone(self, *, away: bool) -> None:
        for chat in self.app.chats:
            self.say_presence(chat, away)
            chat.people.set_away(chat.username, away)  # the person sees it too, on their own name
        self.away_by_hand.set(self.me.by_hand and away)

    def say_presence(self, chat: ChatWindow, away: bool | None = None) -> None:
        """Tell one room whether we are away (now, or as `away` says)."""
        if not chat.room_closed:
            chat.client.set_away(self.me.state is Presence.AWAY if away is None else away)

    # --- conversations ------------------------------------------------------------------------

    def can_write(self, chat: ChatWindow) -> bool:
        return chat.client.direct is not None and server_of(chat) is not None

    def open(self, chat: ChatWindow, name: str, *, show: bool = True) -> DirectWindow | None:
        """The conversation with `name` on `chat`'s server, made if new (and shown)."""
        server = server_of(chat)
        if server is None or not self.can_write(chat) or name == chat.username:
            return None
        key = (server, name)
        window = self.windows.get(key)
        self._via[key] = chat
        if window is None:
            window = self._make(server, name, chat.username, self.app.server_label(chat))
            self._listed(server, name, True)
        elif window.stranded:
            window.back_in_a_room()
        if show:
            self.app.show_room(window)
        return window

    def restore(self) -> None:
        """At start: the direct conversations listed when the app last ran, back in the sidebar
        with their kept lines, before any room is open (those of a server with no room open
        stay offline and say so; writing waits for a room there)."""
        for key, conversation in self._listed_last_time():
            if key not in self.windows:
                window = self._make(*key, conversation.me, conversation.server)
                window.no_room_shared()
                self.app.sidebar.set_presence(window, Presence.OFFLINE.value)

    def _listed_last_time(self, server: str | None = None) -> list[tuple[tuple[str, str], Conversation]]:
        """((server, name), conversation) of the direct conversations the history lists (on
        `server` alone, if given), oldest first, so the newest ends up first in the sidebar."""
        if self.app.history is None:
            return []
        listed = self.app.history_call(lambda st: st.conversations()) or []
        return [
            ((c.server_fingerprint, direct_name(c)), c)
            for c in reversed(listed)
            if c.listed and is_direct(c) and server in (None, c.server_fingerprint)
        ]

    def _make(self, server: str, name: str, me: str, server_label: str) -> DirectWindow:
        app = self.app
        recorder = self._recorder(server, server_label, me)
        key = (server, name)
        window = DirectWindow(
            app.content,
            name=name,
            me=me,
            server=server_label,
            send=lambda text: self.send(key, text),
            limit=lambda: self._limit(key),
            safety=lambda: self._safety(key),
            on_verified=lambda person: self._verified(key, person),
            on_typing=lambda: self._typing(key),
            on_close=self.close,
            on_wanted=self._wanted,
            kept=self._kept_lines(recorder, name),
        )
        self.windows[key] = window
        window.alerts = app.notifications.watch(window)
        window.page.grid_remove()
        app.sidebar.add(window, room=f"{MARK} {name}", server=window.server, hosted=False)
        app.room_keys_for(window)
        self._show_presence(window, self.presence_of(server, name))
        changed = self._changed.pop((server, name), None)
        if changed is not None:
            window.key_changed(changed)
        return window

    def room_opened(self, chat: ChatWindow) -> None:
        """A room on a server is open: the direct conversations listed there last time come back
        to the sidebar (not shown), with their kept lines; those waiting for a room can write again."""
        server = server_of(chat)
        if server is None or not self.can_write(chat):
            return
        for (_where, name), _conversation in self._listed_last_time(server):
            if (server, name) not in self.windows and name != chat.username:
                self.open(chat, name, show=False)
        for (where, name), window in self.windows.items():
            if where == server and window.stranded:
                self._via.setdefault((where, name), chat)
                window.back_in_a_room()
        self.refresh_presence(server)

    def rejoined(self, chat: ChatWindow) -> None:
        """A room came back (Rejoin): its conversations can write again, and it hears whether we are away."""
        self.say_presence(chat)
        self.room_opened(chat)

    def _listed(self, server: str, name: str, listed: bool) -> None:
        recorder = self._recorders.get(server)
        if recorder is not None:
            self.app.history_call(lambda st: st.set_listed(recorder.conversation(name), listed))

    def _wanted(self, window: DirectWindow) -> None:
        self.app.show_window()
        self.app.show_room(window)

    def close(self, window: DirectWindow) -> None:
        """Off the sidebar; its lines stay in the history (and come back when it is opened again)."""
        app = self.app
        for (server, name), open_window in list(self.windows.items()):
            if open_window is window:
                self._listed(server, name, False)
        self.windows = {k: w for k, w in self.windows.items() if w is not window}
        app.take_off_sidebar(window)
        window.destroy()

    def _recorder(self, server: str, server_label: str, me: str) -> DirectRecorder | None:
        store = self.app.history
        if store is None or not self.app.history_call(lambda st: st.keeping, False):
            return None
        if server not in self._recorders:
            self._recorders[server] = DirectRecorder(store, server, server_label, me)
        return self._recorders[server]

    def _recorder_of(self, chat: ChatWindow, server: str) -> DirectRecorder | None:
        return self._recorder(server, self.app.server_label(chat), chat.username)

    def _kept_lines(self, recorder: DirectRecorder | None, name: str) -> list:
        if recorder is None:
            return []

        def lines(store: HistoryStore) -> list:
            found = store.find(recorder.server_fingerprint, DIRECT_PREFIX + name)
            if found is None:
                return []
            return [line for _id, line in store.lines(found.id, limit=KEPT_DIRECT_LINES)]

        return self.app.history_call(lines, []) or []

    # --- sending ----------------------------------------------------------------------------

    def _route(self, key: tuple[str, str]) -> ChatWindow | None:
        """The room to write through: one where the person is now, else the one last used."""
        server, name = key
        live = [c for c in self.app.chats if server_of(c) == server and not c.room_closed and self.can_write(c)]
        here = [c for c in live if name in c.client.members]
        if here:
            return here[0]
        via = self._via.get(key)
        return via if via in live else (live[0] if live else None)

    def send(self, key: tuple[str, str], text: str) -> int:
        server, name = key
        chat = self._route(key)
        if chat is None:
            raise NotConnected(
                _("You are in no room on this server now; join one that {name} is in.").format(name=name)
            )
        msg_id = chat.client.send_direct(name, text)
        self._sent[msg_id] = self.windows[key]
        self._via[key] = chat
        recorder = self._recorder_of(chat, server)
        if recorder is not None:
            recorder.sent(name, text)
        return msg_id

    def _limit(self, key: tuple[str, str]) -> int:
        chat = self._route(key)
        try:
            return chat.client.max_direct_bytes(key[1]) if chat is not None else GUESSED_LIMIT
        except ClientError:
            return GUESSED_LIMIT  # until there is a room to ask; the room refuses more

    def _typing(self, key: tuple[str, str]) -> None:
        chat = self._route(key)
        if chat is not None and key[1] in chat.client.members:
            chat.client.typing(key[1])

    def _safety(self, key: tuple[str, str]) -> tuple[str, bool, bytes] | None:
        """The safety code with the person's key now, whether it was marked compared, and that key."""
        chat = self._route(key) or self._via.get(key)
        direct = chat.client.direct if chat is not None else None
        person = chat.client.key_of(key[1]) if chat is not None else None
        if chat is None or direct is None or person is None:
            return None
        try:
            verified = direct.book.is_verified(key[0], key[1], person)
        except sqlite3.Error:
            verified = False
        return direct.safety_code(person), verified, person

    def _verified(self, key: tuple[str, str], person: bytes) -> None:
        """The person said the code shown (for `person`, the key it was made from) matched."""
        chat = self._route(key) or self._via.get(key)
        if chat is None or chat.client.direct is None:
            return
        try:
            chat.client.direct.book.mark_verified(key[0], key[1], person)
        except (sqlite3.Error, OSError, OCMError) as exc:
            log.warning("could not mark the safety code as compared: %s", exc)

    # --- what arrives -----------------------------------------------------------------------

    def arrived(self, chat: ChatWindow, event: ev.AppEvent) -> None:
        """An event of a room's client that belongs to direct conversations or presence."""
        server = server_of(chat)
        if server is None:
            return
        if isinstance(event, ev.DirectMessage):
            window = self.open(chat, event.sender, show=False)
            if window is None:
                return
            looking = self.app.shown is window and self.app.window_focused
            window.received(event, looking)
            recorder = self._recorder_of(chat, server)
            if recorder is not None:
                recorder.received(event)
            self.app.sidebar.set_unread(window, window.unread)
            self.app.update_title()
        elif isinstance(event, ev.DirectUpdate):
            window = self._sent.get(event.msg_id)
            if window is None or window.destroyed:
                return
            window.update(event)
            if event.status is ev.DirectStatus.WAITING:
                self._waiting[event.msg_id] = chat
            elif event.status in (ev.DirectStatus.DELIVERED, ev.DirectStatus.FAILED):
                self._waiting.pop(event.msg_id, None)
                self._sent.pop(event.msg_id, None)
        elif isinstance(event, ev.KeyChanged):
            window = self.windows.get((server, event.name))
            if window is not None:
                window.key_changed(event)
            else:
                self._changed[(server, event.name)] = event
        elif isinstance(event, ev.TypingSeen) and event.direct:
            window = self.windows.get((server, event.name))
            if window is not None:
                window.typing_seen(event.name)
        elif isinstance(event, (ev.PresenceChanged, ev.MembersChanged)):
            self.refresh_presence(server)

    def room_over(self, chat: ChatWindow, *, ended: bool) -> None:
        """We are out of a room. If the room itself `ended`, the server dropped what waited in
        it for someone away (said on each line); if we only left, it still waits. Presence moves."""
        for msg_id in [m for m, c in self._waiting.items() if c is chat and ended]:
            del self._waiting[msg_id]
            window = self._sent.pop(msg_id, None)
            if window is not None and not window.destroyed:
                window.room_ended([msg_id])
        server = server_of(chat)
        if server is None:
            return
        self.refresh_presence(server, leaving=chat)
        live = [c for c in self.app.chats if c is not chat and server_of(c) == server and not c.room_closed]
        if not live:
            for (where, _name), window in self.windows.items():
                if where == server and not window.stranded:
                    window.no_room_shared()
                    self.app.sidebar.set_presence(window, Presence.OFFLINE.value)

    def presence_of(self, server: str, name: str, leaving: ChatWindow | None = None) -> Presence:
        rooms = [
            c
            for c in self.app.chats
            if c is not leaving and server_of(c) == server and not c.room_closed and name in c.client.members
        ]
        if not rooms:
            return Presence.OFFLINE
        away = all(name in c.people.away for c in rooms)
        return Presence.AWAY if away else Presence.ONLINE

    def refresh_presence(self, server: str, leaving: ChatWindow | None = None) -> None:
        for (where, name), window in self.windows.items():
            if where == server:
                presence = self.presence_of(server, name, leaving)
                if presence is not window.presence:
                    self._show_presence(window, presence)

    def _show_presence(self, window: DirectWindow, presence: Presence) -> None:
        """In the conversation and beside it in the sidebar."""
        window.set_presence(presence)
        self.app.sidebar.set_presence(window, presence.value)
