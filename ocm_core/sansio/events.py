"""Typed events that a ChatClient puts on its queue for a GUI or terminal loop.

They are plain frozen dataclasses, all AppEvents, so that a consumer can match on the
type and never needs to touch the client's sockets or threads. (A room event on the
wire is `protocol.Event`; these are what the app is told.) The core gives codes and
data, not sentences of its own: the GUI and CLI word notices and connection changes
(one table, `ocm_core.words`). Reasons the server sends are passed on as is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ocm_core.wire.files import FOLDER_MIME


@dataclass(frozen=True)
class AppEvent:
    """Base of everything a ChatClient puts on its event queue."""


@dataclass(frozen=True)
class ChatMessage(AppEvent):
    """Another member's message, in room order. `time` is the server's epoch seconds."""

    seq: int
    sender: str
    text: str
    time: float
    history: bool = False
    reply_to: int = 0  # the room position of the message this one answers (0: none)
    edited: bool = False  # changed by its sender since; `text` is the latest
    deleted: bool = False  # taken back: `text` is empty


class NoticeKind(enum.StrEnum):
    """How a member came or went (a str, so that the words' table is keyed by it)."""

    JOINED = "joined"
    LEFT = "left"
    TIMED_OUT = "timed_out"
    REMOVED = "removed"  # the host removed `name` (the notice's text is the host's name)
    LOCKED = "locked"  # the host (`name`) set a password for the room
    UNLOCKED = "unlocked"  # the host took the room's password away


@dataclass(frozen=True)
class Notice(AppEvent):
    """A member came or went. `text` is empty from the client (the UI words it from
    `kind` and `name`)."""

    seq: int
    kind: NoticeKind
    name: str
    text: str
    time: float
    history: bool = False


@dataclass(frozen=True)
class FileShared(AppEvent):
    """A member (perhaps this client) shared a file; `ChatClient.download(file_id, ...)` fetches it."""

    seq: int
    file_id: str
    name: str
    size: int
    sender: str
    mime: str
    time: float
    history: bool = False
    files: int = 0  # a folder's count of files (wire.FOLDER_MIME); 0 for a file

    @property
    def is_folder(self) -> bool:
        return self.mime == FOLDER_MIME


@dataclass(frozen=True)
class Reacted(AppEvent):
    """`name` added (`on`) or took back `emoji` on the message at room position `target`."""

    seq: int
    target: int
    name: str
    emoji: str
    on: bool
    time: float
    history: bool = False


@dataclass(frozen=True)
class MessageEdited(AppEvent):
    """`name` changed its message at room position `target`: it now reads `text`."""

    seq: int
    target: int
    name: str
    text: str
    time: float
    history: bool = False


@dataclass(frozen=True)
class MessageDeleted(AppEvent):
    """The message at room position `target` is gone (`by_host`: the host took it, `name`)."""

    seq: int
    target: int
    name: str
    by_host: bool
    time: float
    history: bool = False


@dataclass(frozen=True)
class TopicChanged(AppEvent):
    """The room's topic is now `topic` ("" none), set by `name` (seq 0: as the room was found)."""

    seq: int
    name: str
    topic: str
    time: float
    history: bool = False


@dataclass(frozen=True)
class ActionRefused(AppEvent):
    """The server did not take our action `msg_id` (a reaction, an edit ...): `reason` says why."""

    msg_id: int
    kind: str  # wire.ActionKind's name, lower case: "react", "edit", "delete", "topic", "remove", "password"
    target: int
    reason: str


@dataclass(frozen=True)
class MembersChanged(AppEvent):
    members: tuple[str, ...]
    host: str
    plain: frozenset[str] = frozenset()  # members whose traffic crosses the network unencrypted
    keys: tuple[tuple[str, bytes], ...] = ()  # (member, its direct-message key) for those who gave one
    away: frozenset[str] = frozenset()  # members who are away (no input for a while, or said so)


@dataclass(frozen=True)
class MessageSent(AppEvent):
    """The server acknowledged one of our own messages and gave it room position `seq`
    (0 when the acknowledgement came with a later message's, whose own ack was lost)."""

    msg_id: int
    seq: int


@dataclass(frozen=True)
class MessageFailed(AppEvent):
    """One of our own messages was never acknowledged; `retry(msg_id)` sends it again."""

    msg_id: int
    text: str
    reason: str


@dataclass(frozen=True)
class RoomClosed(AppEvent):
    reason: str


@dataclass(frozen=True)
class ConnectionLost(AppEvent):
    """The server has been silent for a while; the client keeps probing."""

    text: str = ""


@dataclass(frozen=True)
class ConnectionRestored(AppEvent):
    text: str = ""


@dataclass(frozen=True)
class HostNotAnswering(AppEvent):
    """The connection has been lost for `session.HOST_NOT_ANSWERING_AFTER` seconds: the
    host (and its server) has not answered for `seconds`. The client keeps probing;
    `ChatClient.keep_waiting()` asks for the next reminder, `leave()` gives up."""

    seconds: int


@dataclass(frozen=True)
class SessionGone(AppEvent):
    """The server no longer knows this session and would not take it back (it restarted
    without it, or we were away too long); the room may still be there: joining `room`
    again as `name` with a new client may work. `reason` is the server's, as a sentence."""

    room: str
    name: str
    reason: str


@dataclass(frozen=True)
class Resumed(AppEvent):
    """We were away past the server's timeout and came back into the room by ourselves;
    the `missed` messages we missed follow this event."""

    missed: int


@dataclass(frozen=True)
class ErrorEvent(AppEvent):
    text: str


# --- direct messages, presence, typing ----------------------------------------------------


class DirectStatus(enum.StrEnum):
    """Where one of our direct messages is."""

    WAITING = "waiting"  # the server keeps it, sealed, until its recipient is back
    SENT = "sent"  # handed to the recipient, who is here; DELIVERED follows
    DELIVERED = "delivered"  # the recipient's app has it
    FAILED = "failed"  # refused by the server, or never confirmed: `reason` says which


@dataclass(frozen=True)
class DirectMessage(AppEvent):
    """A direct message to us, opened: only `sender` (who holds `sender_key`) can have
    sealed it. `time` is when the server took it, `sent` the sender's own clock."""

    sender: str
    sender_key: bytes
    msg_id: int
    text: str
    time: float
    sent: float


@dataclass(frozen=True)
class DirectUpdate(AppEvent):
    """What became of our direct message `msg_id` (to `recipient`)."""

    msg_id: int
    recipient: str
    status: DirectStatus
    reason: str = ""  # for FAILED, a sentence in the person's language


@dataclass(frozen=True)
class KeyChanged(AppEvent):
    """`name` on this server now has another key than the one remembered: perhaps another PC
    or a reinstall, perhaps someone else. Compare the safety code to know."""

    name: str
    previous: bytes
    key: bytes


@dataclass(frozen=True)
class PresenceChanged(AppEvent):
    name: str
    away: bool


@dataclass(frozen=True)
class TypingSeen(AppEvent):
    """`name` is typing, in the room or (`direct`) to us; shown until sessions.presence says not."""

    name: str
    direct: bool
