"""Typed events that a ChatClient puts on its queue for a GUI or terminal loop.

They are plain frozen dataclasses so that a consumer can match on the type and
never needs to touch the client's sockets or threads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatMessage:
    """Another member's message, in room order. `time` is the server's epoch seconds."""

    seq: int
    sender: str
    text: str
    time: float
    history: bool = False


@dataclass(frozen=True)
class Notice:
    """A system notice: kind is 'joined', 'left' or 'timed_out'."""

    seq: int
    kind: str
    name: str
    text: str
    time: float
    history: bool = False


@dataclass(frozen=True)
class MembersChanged:
    members: tuple[str, ...]
    host: str
    plain: frozenset[str] = frozenset()  # members whose traffic crosses the network unencrypted


@dataclass(frozen=True)
class MessageSent:
    """The server acknowledged one of our own messages and gave it room position `seq`
    (0 when the acknowledgement came with a later message's, whose own ack was lost)."""

    msg_id: int
    seq: int


@dataclass(frozen=True)
class MessageFailed:
    """One of our own messages was never acknowledged; `retry(msg_id)` sends it again."""

    msg_id: int
    text: str
    reason: str


@dataclass(frozen=True)
class RoomClosed:
    reason: str


@dataclass(frozen=True)
class ConnectionLost:
    text: str = "Connection lost, reconnecting…"


@dataclass(frozen=True)
class ConnectionRestored:
    text: str = "Connection restored."


@dataclass(frozen=True)
class ErrorEvent:
    text: str


Event = (
    ChatMessage
    | Notice
    | MembersChanged
    | MessageSent
    | MessageFailed
    | RoomClosed
    | ConnectionLost
    | ConnectionRestored
    | ErrorEvent
)
