"""Chat over UDP: the assignment's outer frame, and the body of our own frames inside it.

Bytes in, typed values out (and back); every malformed input raises RemoteProtocolError with a
reason. Layouts in docs/protocol.md."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ocm_core.errors import LocalProtocolError, RemoteProtocolError
from ocm_core.wire.actions import ACTION_KINDS, decode_action_frame
from ocm_core.wire.direct import DIRECT_KINDS, decode_direct_frame
from ocm_core.wire.limits import FRAME_MAGIC, FRAME_VERSION, MAX_DATAGRAM, NONCE_SIZE, SEAL_OVERHEAD
from ocm_core.wire.pieces import PIECE_KINDS, decode_piece_frame
from ocm_core.wire.tcrp import decode_name

# --- UDP: the outer frame ---------------------------------------------------------


@dataclass(frozen=True)
class Datagram:
    room: str
    token: bytes
    body: bytes


def encode_datagram(room_bytes: bytes, token: bytes, body: bytes) -> bytes:
    data = bytes((len(room_bytes), len(token))) + room_bytes + token + body
    if len(data) > MAX_DATAGRAM:
        raise LocalProtocolError(f"datagram would be {len(data)} bytes; the most is {MAX_DATAGRAM}")
    return data


def datagram_header(room_bytes: bytes, token: bytes) -> bytes:
    """The assignment's header: kept readable on a sealed datagram, and authenticated."""
    return bytes((len(room_bytes), len(token))) + room_bytes + token


def datagram_size(datagram: Datagram) -> int:
    """How many bytes `datagram` takes on the wire."""
    return 2 + len(datagram.room.encode("utf-8")) + len(datagram.token) + len(datagram.body)


def decode_datagram(data: bytes) -> Datagram:
    if len(data) > MAX_DATAGRAM:
        raise RemoteProtocolError(f"datagram is {len(data)} bytes; the most is {MAX_DATAGRAM}")
    if len(data) < 2:
        raise RemoteProtocolError("datagram is shorter than its 2-byte header")
    room_size, token_size = data[0], data[1]
    end = 2 + room_size + token_size
    if len(data) < end:
        raise RemoteProtocolError("datagram is shorter than the room name and token its header announces")
    room = decode_name(data[2 : 2 + room_size], "room name")
    return Datagram(room, data[2 + room_size : end], data[end:])


# --- UDP: the body of our own frames ----------------------------------------------
# FRAME_MAGIC starts our frames (limits.py says why); the frames of direct messages,
# presence and typing are direct.py's, decoded through decode_body like these.

# A sealed body: SEALED_MAGIC (0xFE, also never in UTF-8), a 12-byte nonce, then the
# AEAD ciphertext of one of the frames below with its 16-byte tag (see crypto/sealed.py).
SEALED_MAGIC = 0xFE
SEALED_PREFIX = bytes((SEALED_MAGIC,))


def is_sealed(body: bytes) -> bool:
    return body[:1] == SEALED_PREFIX


def split_sealed(body: bytes) -> tuple[bytes, bytes]:
    """(nonce, ciphertext with tag) of a sealed body."""
    if not is_sealed(body):
        raise RemoteProtocolError("datagram is not sealed")
    if len(body) < SEAL_OVERHEAD:
        raise RemoteProtocolError("sealed datagram is shorter than its nonce and tag")
    return body[1 : 1 + NONCE_SIZE], body[1 + NONCE_SIZE :]


class FrameKind(enum.IntEnum):
    # client -> server
    HEARTBEAT = 0x01  # also the cumulative acknowledgement of room events
    CHAT = 0x02
    RESEND = 0x03
    LEAVE = 0x04
    # server -> client
    EVENT = 0x10
    CHAT_ACK = 0x11
    STATUS = 0x12
    ERROR = 0x13


class EventType(enum.IntEnum):
    CHAT = 1
    JOINED = 2
    LEFT = 3
    TIMED_OUT = 4
    CLOSED = 5
    FILE = 6  # a member shared a file: name is the sender, text the FileInfo as JSON
    # Sent only to members that speak actions (wire/actions.py); others get a chat line instead.
    REPLY = 7  # a chat answering another: text is actions.ReplyText as JSON
    REACTION = 8  # name added or took back an emoji: actions.ReactionText
    EDITED = 9  # name's message now reads otherwise: actions.EditText
    DELETED = 10  # a message is gone: actions.DeleteText
    TOPIC = 11  # the host set the room's topic: text is the topic ("" none)
    REMOVED = 12  # the host removed name from the room (for the others, as LEFT)
    LOCKED = 13  # the host set a password (text "1") or took it away (text "0")


MESSAGE_TYPES = (EventType.CHAT, EventType.REPLY)  # what can be answered, reacted to, edited or deleted


JOINED_PLAIN = "plain"  # a JOINED event's text when the member's traffic is not encrypted


class ErrorCode(enum.IntEnum):
    UNKNOWN_TOKEN = 1  # the token is not (or no longer) valid in this room
    RATE_LIMITED = 2
    RESYNC = 3  # the events asked for are no longer buffered: fetch a snapshot (SYNC)
    TOO_LONG = 4
    CANNOT_SAVE = 5  # the chat was not stored, so not relayed or acknowledged: keep it and send it again
    NOT_ALLOWED = 6  # the chat was refused as this member may not send it (@room in a big room): not relayed
    NO_SUCH_MESSAGE = 7  # the action names a message the room does not have (or no longer has)
    TOO_LATE = 8  # the message is older than the server lets it be edited or deleted


@dataclass(frozen=True)
class Heartbeat:
    ack_seq: int


@dataclass(frozen=True)
class Chat:
    """A chat line. `floor` is the sender's lowest id still wanted: ids below it were
    delivered or given up, so the server need not wait for them to keep the sender's order."""

    msg_id: int
    text: str
    floor: int


MAX_RESEND_RANGES = 16
MAX_RESEND_EVENTS = 64  # the most events one RESEND is answered with; clients ask for no more


@dataclass(frozen=True)
class Resend:
    """Ask for the room events in each (first_seq, last_seq) range, inclusive; the gaps a
    client has, all in one request, so losses spread over a burst are repaired in one round."""

    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class PlainText:
    """A chat line from a client that sends the assignment's bare UTF-8 message."""

    text: str


@dataclass(frozen=True)
class Event:
    """A room event as the wire carries it (EVENT frame, SYNC history). What a ChatClient
    tells the app is a different thing: `ocm_core.sansio.events.AppEvent`."""

    seq: int
    time_ms: int
    event_type: EventType
    name: str  # the sender of a chat, or the member a notice is about
    text: str = ""  # chat text; for CLOSED, the reason
    history: bool = False
    edited: bool = False  # a message whose text was changed since (the text is the latest)
    deleted: bool = False  # a message taken back: its text is gone


@dataclass(frozen=True)
class ChatAck:
    msg_id: int
    seq: int


@dataclass(frozen=True)
class StatusFrame:
    latest_seq: int


@dataclass(frozen=True)
class ErrorFrame:
    code: ErrorCode
    text: str


_U32 = struct.Struct("!I")
_U32x2 = struct.Struct("!II")
_EVENT_HEAD = struct.Struct("!IQBBB")  # seq, time_ms, flags, event type, name length
_HISTORY_FLAG = 0x01
_EDITED_FLAG = 0x02
_DELETED_FLAG = 0x04
EVENT_OVERHEAD = 3 + _EVENT_HEAD.size  # magic, version, kind, then the fixed fields
CHAT_OVERHEAD = 3 + _U32x2.size


def _frame(kind: FrameKind, rest: bytes = b"") -> bytes:
    return bytes((FRAME_MAGIC, FRAME_VERSION, kind)) + rest


def encode_heartbeat(ack_seq: int) -> bytes:
    return _frame(FrameKind.HEARTBEAT, _U32.pack(ack_seq))


def encode_chat(msg_id: int, text: str, floor: int | None = None) -> bytes:
    return _frame(FrameKind.CHAT, _U32x2.pack(msg_id, msg_id if floor is None else floor) + text.encode("utf-8"))


def encode_resend(*ranges: tuple[int, int]) -> bytes:
    return _frame(FrameKind.RESEND, b"".join(_U32x2.pack(first, last) for first, last in ranges))


def encode_leave() -> bytes:
    return _frame(FrameKind.LEAVE)


def encode_event(event: Event) -> bytes:
    name = event.name.encode("utf-8")
    flags = (
        (_HISTORY_FLAG if event.history else 0)
        | (_EDITED_FLAG if event.edited else 0)
        | (_DELETED_FLAG if event.deleted else 0)
    )
    head = _EVENT_HEAD.pack(event.seq, event.time_ms, flags, event.event_type, len(name))
    return _frame(FrameKind.EVENT, head + name + event.text.encode("utf-8"))


def encode_chat_ack(msg_id: int, seq: int) -> bytes:
    return _frame(FrameKind.CHAT_ACK, _U32x2.pack(msg_id, seq))


def encode_status_frame(latest_seq: int) -> bytes:
    return _frame(FrameKind.STATUS, _U32.pack(latest_seq))


def encode_error_frame(code: ErrorCode, text: str) -> bytes:
    return _frame(FrameKind.ERROR, bytes((code,)) + text.encode("utf-8"))


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError(f"{what} is not valid UTF-8") from None


def _fixed(rest: bytes, layout: struct.Struct, kind: str) -> tuple:
    if len(rest) != layout.size:
        raise RemoteProtocolError(f"{kind} frame needs {layout.size} bytes after its kind, got {len(rest)}")
    return layout.unpack(rest)


def decode_body(body: bytes):
    """Decode the body of a datagram into one of the frame types above (or PlainText)."""
    if not body:
        raise RemoteProtocolError("datagram has no message")
    if body[0] != FRAME_MAGIC:
        return PlainText(_utf8(body, "message"))
    if len(body) < 3:
        raise RemoteProtocolError("frame is shorter than its 3-byte head")
    if body[1] != FRAME_VERSION:
        raise RemoteProtocolError(f"frame version {body[1]} is not supported (this side speaks {FRAME_VERSION})")
    if body[2] in DIRECT_KINDS:
        return decode_direct_frame(body[2], body[3:])
    if body[2] in ACTION_KINDS:
        return decode_action_frame(body[2], body[3:])
    if body[2] in PIECE_KINDS:
        return decode_piece_frame(body[2], body[3:])
    try:
        kind = FrameKind(body[2])
    except ValueError:
        raise RemoteProtocolError(f"unknown frame kind {body[2]:#04x}") from None
    rest = body[3:]
    if kind is FrameKind.HEARTBEAT:
        return Heartbeat(*_fixed(rest, _U32, "heartbeat"))
    if kind is FrameKind.CHAT:
        if len(rest) < _U32x2.size + 1:
            raise RemoteProtocolError("chat frame has no text")
        msg_id, floor = _U32x2.unpack_from(rest)
        if floor > msg_id:
            raise RemoteProtocolError("chat floor is above its own id")
        return Chat(msg_id, _utf8(rest[_U32x2.size :], "chat text"), floor)
    if kind is FrameKind.RESEND:
        if not rest or len(rest) % _U32x2.size or len(rest) > MAX_RESEND_RANGES * _U32x2.size:
            raise RemoteProtocolError(
                f"resend frame needs 1 to {MAX_RESEND_RANGES} ranges of 8 bytes, got {len(rest)} bytes"
            )
        ranges = tuple(_U32x2.iter_unpack(rest))
        if any(first > last for first, last in ranges):
            raise RemoteProtocolError("resend range runs backwards")
        return Resend(ranges)
    if kind is FrameKind.LEAVE:
        if rest:
            raise RemoteProtocolError("leave frame carries unexpected bytes")
        return Leave()
    if kind is FrameKind.EVENT:
        if len(rest) < _EVENT_HEAD.size:
            raise RemoteProtocolError("event frame is shorter than its fixed fields")
        seq, time_ms, flags, etype, name_len = _EVENT_HEAD.unpack_from(rest)
        try:
            event_type = EventType(etype)
        except ValueError:
            raise RemoteProtocolError(f"unknown event type {etype}") from None
        start = _EVENT_HEAD.size
        if len(rest) < start + name_len:
            raise RemoteProtocolError("event frame is shorter than its name")
        name = _utf8(rest[start : start + name_len], "event name")
        text = _utf8(rest[start + name_len :], "event text")
        return Event(
            seq,
            time_ms,
            event_type,
            name,
            text,
            bool(flags & _HISTORY_FLAG),
            bool(flags & _EDITED_FLAG),
            bool(flags & _DELETED_FLAG),
        )
    if kind is FrameKind.CHAT_ACK:
        return ChatAck(*_fixed(rest, _U32x2, "chat ack"))
    if kind is FrameKind.STATUS:
        return StatusFrame(*_fixed(rest, _U32, "status"))
    # ERROR
    if not rest:
        raise RemoteProtocolError("error frame has no code")
    try:
        code = ErrorCode(rest[0])
    except ValueError:
        raise RemoteProtocolError(f"unknown error code {rest[0]}") from None
    return ErrorFrame(code, _utf8(rest[1:], "error text"))


def event_to_json(event: Event) -> dict:
    """The shape an event has inside a SYNC answer's history list."""
    fields: dict = {
        "seq": event.seq,
        "time_ms": event.time_ms,
        "type": int(event.event_type),
        "name": event.name,
        "text": event.text,
    }
    if event.edited:
        fields["edited"] = True
    if event.deleted:
        fields["deleted"] = True
    return fields


def event_from_json(value: object) -> Event:
    if not isinstance(value, dict):
        raise RemoteProtocolError("history entry is not an object")
    try:
        return Event(
            int(value["seq"]),
            int(value["time_ms"]),
            EventType(int(value["type"])),
            str(value["name"]),
            str(value.get("text", "")),
            history=True,
            edited=value.get("edited") is True,
            deleted=value.get("deleted") is True,
        )
    except (KeyError, TypeError, ValueError):
        raise RemoteProtocolError("history entry is missing a field or has a bad one") from None


def max_relayed_text_bytes(room_bytes: int, name_bytes: int) -> int:
    """The longest chat text (UTF-8 bytes) that the server can relay to members in one
    datagram, an EVENT frame that carries the sender's name (and no token), sealed."""
    return MAX_DATAGRAM - 2 - room_bytes - SEAL_OVERHEAD - EVENT_OVERHEAD - name_bytes


def max_chat_text_bytes(room_bytes: int, token_bytes: int, name_bytes: int) -> int:
    """The longest chat text (UTF-8 bytes) that fits in a datagram both ways, sealed:
    client -> server carries the token, server -> members carries the sender's name."""
    upstream = MAX_DATAGRAM - 2 - room_bytes - token_bytes - SEAL_OVERHEAD - CHAT_OVERHEAD
    return min(upstream, max_relayed_text_bytes(room_bytes, name_bytes))
