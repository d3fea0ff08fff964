"""RoomRecorder: one room's lines written into the person's history as they arrive.

The app and the terminal client both hand every event of a room's client to `saw()` on the
one thread that drains them; what it answers decides whether a line is news. A line the
history already holds (the server sends its recent history again on every join) is a
repeat: the window skips it, so a member who comes back sees what it missed once, marked
unread, and nothing twice. History is a copy for the person: a write that fails (a full
disk) is logged once and the chat goes on without it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from ocm_core.sansio import events as ev
from ocm_core.storage.history import Conversation, HistoryStore, Line, LineKind

log = logging.getLogger(__name__)


def line_from_event(event: ev.AppEvent, now: float) -> Line | None:
    """The line an event of a room leaves in the history, or None (a state, not a line).
    `now` dates the room's end, which the event does not."""
    if isinstance(event, ev.ChatMessage):
        return Line(
            event.seq,
            event.time,
            LineKind.CHAT,
            event.sender,
            event.text,
            reply_to=event.reply_to,
            edited=event.edited,
            deleted=event.deleted,
        )
    if isinstance(event, ev.FileShared):
        return Line(event.seq, event.time, LineKind.FILE, event.sender, event.name, event.size, event.file_id)
    if isinstance(event, ev.Notice):
        try:
            kind = LineKind(str(event.kind))
        except ValueError:  # a notice from a newer version: shown, not kept
            return None
        return Line(event.seq, event.time, kind, event.name, event.text)
    if isinstance(event, ev.RoomClosed):
        return Line(None, now, LineKind.ENDED, "", event.reason)
    return None


def conversation_for(store: HistoryStore, client, *, server: str, hosted: bool = False) -> int:
    """The conversation of `client`'s room (joined): its server's identity and the room's id
    are the key, so two servers' rooms of one name, or a room made again, never mix."""
    room_id = client.room_id or f"name:{client.room}"  # a server from before room ids
    return store.conversation(
        client.server_fingerprint or "plain",
        room_id,
        room=client.room,
        server=server,
        me=client.username,
        hosted=hosted,
        standing=bool(getattr(client, "standing", False)),
    )


class RoomRecorder:
    def __init__(self, store: HistoryStore, conversation: int, me: str, *, clock: Callable[[], float] = time.time):
        self.store = store
        self.conversation = conversation
        self.me = me
        self._clock = clock
        self._lock = threading.Lock()
        self._own: dict[int, tuple[str, int]] = {}  # our messages (text, what they answer) awaiting acknowledgement
        # Acknowledgements that came before sending() was told of their message: the terminal
        # client sends on its input thread while another thread reads the events.
        self._early: dict[int, int] = {}
        self.failing = False
        known = store.get(conversation)
        # Lines above this position are news even when the server marks them history: they
        # were said while this person was away.
        self.newest_before = known.newest_seq if known is not None else 0
        self.had_history = known is not None and known.last_time is not None
        self.newest_seen = self.newest_before  # the newest room position this room has shown

    def _write(self, work: Callable[[], bool]) -> bool:
        try:
            result = work()
        except (sqlite3.Error, OSError) as exc:
            if not self.failing:
                log.warning("history not kept for conversation %d: %s", self.conversation, exc)
            self.failing = True
            return True  # shown as if new: a failing history must not hide the chat
        if self.failing:
            log.info("history is written again for conversation %d", self.conversation)
            self.failing = False
        return result

    def following(self, client) -> RoomRecorder:
        """The recorder for `client`, which joined this room again (Rejoin): this one, or when
        the room is another one now (made again under its name) a recorder of a new conversation."""
        known = self.store.get(self.conversation)
        if known is not None and known.room_id == client.room_id:
            return self
        server = known.server if known is not None else f"{client.server_host}:{client.tcp_port}"
        conversation = conversation_for(self.store, client, server=server, hosted=bool(client.is_host))
        return RoomRecorder(self.store, conversation, client.username or self.me, clock=self._clock)

    def saw(self, event: ev.AppEvent) -> bool:
        """Keep what `event` says, if it is a line; False when the history already had it."""
        if isinstance(event, ev.MessageSent):
            self.sent(event.msg_id, event.seq)
            return True
        if isinstance(event, (ev.MessageEdited, ev.MessageDeleted, ev.Reacted)):
            return self._write(lambda: self._changed(event))
        line = line_from_event(event, self._clock())
        if line is None:
            return True
        self.newest_seen = max(self.newest_seen, line.seq or 0)
        if line.kind is LineKind.ENDED:

            def end() -> bool:
                self.store.mark_ended(self.conversation, line.text, line.time)
                return True

            self._write(end)
            return True
        return self._write(lambda: self.store.add(self.conversation, line))

    def _changed(self, event: ev.MessageEdited | ev.MessageDeleted | ev.Reacted) -> bool:
        """A kept message edited, deleted or reacted to; whether the history had it."""
        if isinstance(event, ev.MessageEdited):
            return self.store.edit(self.conversation, event.target, event.text)
        if isinstance(event, ev.MessageDeleted):
            return self.store.delete_text(self.conversation, event.target)
        self.store.react(self.conversation, event.target, event.emoji, event.name, event.on)
        return True

    def caught_up(self, event: ev.AppEvent) -> bool:
        """Whether an event the server sent as history is one said while we were away (news)."""
        return self.had_history and getattr(event, "seq", 0) > self.newest_before

    def sending(self, msg_id: int, text: str, reply_to: int = 0) -> None:
        with self._lock:
            self._own[msg_id] = (text, reply_to)
            early = msg_id in self._early
            seq = self._early.pop(msg_id, 0)
        if early:
            self.sent(msg_id, seq)

    def retried(self, old_id: int, new_id: int) -> None:
        with self._lock:
            text = self._own.pop(old_id, None)
            if text is not None:
                self._own[new_id] = text

    def sent(self, msg_id: int, seq: int) -> None:
        """The server acknowledged our message at room position `seq` (0: not said)."""
        with self._lock:
            own = self._own.pop(msg_id, None)
            if own is None:
                self._early[msg_id] = seq
                return
        self.newest_seen = max(self.newest_seen, seq)
        text, reply_to = own
        line = Line(seq or None, self._clock(), LineKind.CHAT, self.me, text, reply_to=reply_to)
        self._write(lambda: self.store.add(self.conversation, line))
        if seq:

            def read() -> bool:
                self.store.mark_read(self.conversation, seq)  # they wrote after it: read up to here
                return True

            self._write(read)


DIRECT_PREFIX = "direct:"  # a direct conversation's "room id": one per person per server
DIRECT_MARK = "✉"  # before the person's name where a direct conversation is listed with rooms


def is_direct(conversation: Conversation) -> bool:
    return conversation.room_id.startswith(DIRECT_PREFIX)


def direct_name(conversation: Conversation) -> str:
    """The person a direct conversation is with."""
    return conversation.room_id.removeprefix(DIRECT_PREFIX)


class DirectRecorder:
    """One server's direct conversations in the history, one per person (by name: a person
    whose key changed is still the same conversation, with the change said in it)."""

    def __init__(
        self,
        store: HistoryStore,
        server_fingerprint: str,
        server: str,
        me: str,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.store, self.server_fingerprint, self.server, self.me = store, server_fingerprint, server, me
        self._clock = clock
        self._conversations: dict[str, int] = {}
        self.failing = False

    def conversation(self, name: str) -> int:
        if name not in self._conversations:
            self._conversations[name] = self.store.conversation(
                self.server_fingerprint,
                DIRECT_PREFIX + name,
                room=f"{DIRECT_MARK} {name}",
                server=self.server,
                me=self.me,
            )
        return self._conversations[name]

    def received(self, event: ev.DirectMessage) -> None:
        self._keep(event.sender, Line(None, event.time, LineKind.CHAT, event.sender, event.text))

    def sent(self, name: str, text: str) -> None:
        self._keep(name, Line(None, self._clock(), LineKind.CHAT, self.me, text))

    def _keep(self, name: str, line: Line) -> None:
        try:
            self.store.add(self.conversation(name), line)
        except (sqlite3.Error, OSError) as exc:
            if not self.failing:
                log.warning("direct conversation with %r not kept: %s", name, exc)
            self.failing = True
            return
        self.failing = False
