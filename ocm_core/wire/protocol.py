"""Sans-IO codecs for the two wire formats: TCRP over TCP and chat datagrams over UDP.

Bytes in, typed values out (and back). Nothing here opens a socket, starts a
thread or reads a clock; every malformed input raises RemoteProtocolError with a
reason, and a value that cannot be encoded raises LocalProtocolError (both are
ProtocolErrors).
The byte layouts are written down in docs/protocol.md.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import struct
from dataclasses import dataclass

from ocm_core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

# --- limits (UTF-8 bytes, because that is what the wire counts) ---------------------
TCRP_HEADER_SIZE = 32
MAX_NAME_BYTES = 255  # room names and user names: one length byte
MAX_TOKEN_BYTES = 255
MAX_DATAGRAM = 4096
MAX_REQUEST_PAYLOAD = 64 * 1024  # the most a server reads of a request payload
MAX_RESPONSE_PAYLOAD = 16 * 1024 * 1024  # the most a client reads of an answer
PAYLOAD_SIZE_BYTES = 29


class Operation(enum.IntEnum):
    CREATE = 1
    JOIN = 2
    LIST = 3  # ours: list the rooms on a server
    SYNC = 4  # ours: members, history and the UDP port for a token
    UPLOAD = 5  # ours: share a file with the room; its bytes follow the server's OK
    DOWNLOAD = 6  # ours: fetch a shared file; its bytes follow the completion
    FILES = 7  # ours: the room's shared files


class State(enum.IntEnum):
    REQUEST = 0
    RESPONSE = 1  # the server's immediate answer: a status code
    COMPLETE = 2  # the completion: the token (or, for LIST/SYNC, the JSON answer)


class Status(enum.IntEnum):
    OK = 0
    ROOM_EXISTS = 1
    NO_SUCH_ROOM = 2
    NAME_TAKEN = 3
    BAD_REQUEST = 4
    SERVER_FULL = 5
    ROOM_FULL = 6
    PASSWORD_REQUIRED = 7
    WRONG_PASSWORD = 8
    TOO_MANY_ATTEMPTS = 9
    UNKNOWN_TOKEN = 10
    SERVER_ERROR = 11
    BUSY = 12  # too many connections right now (in all, or from one address): retry shortly
    CANNOT_SAVE = 13  # the server's database cannot be written (a full disk): nothing was done
    TRY_LATER = 14  # refused for now; two bytes after the code say in how many seconds to try again
    ENCRYPTION_REQUIRED = 15  # a plain request to a server that admits only TLS clients (13, 14: issue 12)
    FILE_TOO_LARGE = 16  # over the server's per-file cap: refused before any byte is sent
    STORAGE_FULL = 17  # over the server's storage cap, or its disk is full
    NO_SUCH_FILE = 18  # not a file of this room (or the room deleted it)
    TRANSFER_FAILED = 19  # the bytes did not arrive whole or their SHA-256 does not match


# --- telling TLS from a plain TCRP request by its first bytes -------------------------
# A TLS connection opens with a handshake record: 0x16, then the record version 0x03 0x01
# (0x03 0x03 from some clients). A plain TCRP request could begin 0x16 0x03 (a 22-byte room
# name, operation 3) but its third byte is the state, 0 for a request, never 1 to 4: three
# bytes settle it. 0x15 (an alert) may open a TLS answer, never a TCRP one with status.
TLS_HANDSHAKE = 0x16
TLS_ALERT = 0x15
TLS_PREFIX_BYTES = 3


def looks_like_tls(prefix: bytes) -> bool:
    """Whether a connection that began with these TLS_PREFIX_BYTES bytes speaks TLS."""
    if len(prefix) < TLS_PREFIX_BYTES:
        raise ValueError(f"need {TLS_PREFIX_BYTES} bytes to tell TLS from TCRP")
    return prefix[0] == TLS_HANDSHAKE and prefix[1] == 0x03 and 1 <= prefix[2] <= 4


def is_tls_record_start(first: bytes) -> bool:
    """Whether a server's first answer byte opens a TLS record (handshake or alert); a plain
    TCRP answer begins with its room-name size, 0 for every refusal sent before reading."""
    return bool(first) and first[0] in (TLS_HANDSHAKE, TLS_ALERT)


# --- TCRP -------------------------------------------------------------------------


@dataclass(frozen=True)
class TcrpHeader:
    room_name_size: int
    operation: Operation
    state: State
    payload_size: int

    @property
    def body_size(self) -> int:
        return self.room_name_size + self.payload_size


@dataclass(frozen=True)
class TcrpMessage:
    operation: Operation
    state: State
    room: str
    payload: bytes


def encode_tcrp(operation: int, state: int, room: str, payload: bytes = b"") -> bytes:
    room_bytes = room.encode("utf-8")
    if len(room_bytes) > MAX_NAME_BYTES:
        raise LocalProtocolError(f"room name is {len(room_bytes)} bytes; the most is {MAX_NAME_BYTES}")
    header = bytes((len(room_bytes), int(operation), int(state))) + len(payload).to_bytes(
        PAYLOAD_SIZE_BYTES, "big"
    )
    return header + room_bytes + payload


def decode_tcrp_header(data: bytes) -> TcrpHeader:
    if len(data) != TCRP_HEADER_SIZE:
        raise RemoteProtocolError(f"a TCRP header is {TCRP_HEADER_SIZE} bytes, got {len(data)}")
    try:
        operation = Operation(data[1])
    except ValueError:
        raise RemoteProtocolError(f"unknown operation {data[1]}") from None
    try:
        state = State(data[2])
    except ValueError:
        raise RemoteProtocolError(f"unknown state {data[2]}") from None
    return TcrpHeader(data[0], operation, state, int.from_bytes(data[3:], "big"))


def decode_tcrp_body(header: TcrpHeader, body: bytes, *, allow_empty_room: bool = False) -> TcrpMessage:
    if len(body) != header.body_size:
        raise RemoteProtocolError(f"expected {header.body_size} bytes after the header, got {len(body)}")
    room = decode_name(body[: header.room_name_size], "room name", allow_empty=allow_empty_room)
    return TcrpMessage(header.operation, header.state, room, body[header.room_name_size :])


def decode_tcrp(data: bytes, *, allow_empty_room: bool = False) -> TcrpMessage:
    """Decode one whole TCRP message (header and body) from `data`."""
    if len(data) < TCRP_HEADER_SIZE:
        raise RemoteProtocolError(f"a TCRP message needs a {TCRP_HEADER_SIZE}-byte header, got {len(data)} bytes")
    header = decode_tcrp_header(data[:TCRP_HEADER_SIZE])
    return decode_tcrp_body(header, data[TCRP_HEADER_SIZE:], allow_empty_room=allow_empty_room)


def decode_name(raw: bytes, what: str, *, allow_empty: bool = False) -> str:
    if not raw and not allow_empty:
        raise RemoteProtocolError(f"{what} is empty")
    if len(raw) > MAX_NAME_BYTES:
        raise RemoteProtocolError(f"{what} is {len(raw)} bytes; the most is {MAX_NAME_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError(f"{what} is not valid UTF-8") from None
    if raw and (not text.strip() or any(ch < " " or ch == "\x7f" for ch in text)):
        raise RemoteProtocolError(f"{what} must be visible text without control characters")
    return text


def check_name(name: str, what: str) -> bytes:
    """Validate a name a person typed; return its UTF-8 bytes or raise LocalProtocolError."""
    raw = name.encode("utf-8")
    try:
        decode_name(raw, what)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(exc.reason) from None
    return raw


class Dialect(enum.Enum):
    """How a client words its request, and so how it is answered."""

    OURS = "ours"  # a JSON object; status byte and sentence; our UDP frames
    BARE = "bare"  # the assignment's bare UTF-8 username; answered as OURS, chats in plain text
    KANARU = "kanaru"  # a JSON string (kanaru1201/online-chat-messenger): JSON answers, its UDP forms


@dataclass(frozen=True)
class RoomRequest:
    """The payload of a CREATE or JOIN request."""

    username: str
    password: str | None = None
    token: str | None = None  # SYNC names the session by its token
    proof: str | None = None  # SYNC from a sealed member: secure.key_proof, base64
    dialect: Dialect = Dialect.OURS
    request_id: str | None = None  # the same for every retry of one CREATE or JOIN: a repeat gets the same answer
    resume_token: str | None = None  # JOIN: come back as the member that held this token (timed out lately)


MAX_REQUEST_ID_BYTES = 64


def encode_request(request: RoomRequest) -> bytes:
    fields: dict[str, str] = {"username": request.username}
    for key in ("password", "token", "proof", "request_id", "resume_token"):
        if getattr(request, key) is not None:
            fields[key] = getattr(request, key)
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def decode_request(payload: bytes) -> RoomRequest:
    """A JSON object; or, as the assignment's clients send it, a bare UTF-8 username or a
    JSON string holding one (the kanaru dialect)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("request payload is not valid UTF-8") from None
    fields = None
    if text.lstrip().startswith("{"):
        try:
            fields = loads_json(text)
        except (ValueError, RecursionError):
            raise RemoteProtocolError("request payload starts like JSON but is not valid JSON") from None
    elif text.startswith('"'):
        try:
            name = json.loads(text)
        except ValueError:
            name = None  # a bare username that happens to begin with a quote
        if isinstance(name, str) and not is_unicode_text(name):
            raise RemoteProtocolError("username holds a lone surrogate")
        if isinstance(name, str):
            return RoomRequest(decode_name(name.encode("utf-8"), "username"), dialect=Dialect.KANARU)
    if not isinstance(fields, dict):
        username = decode_name(payload.strip(b"\r\n"), "username")
        return RoomRequest(username, dialect=Dialect.BARE)

    def text_field(key: str) -> str | None:
        value = fields.get(key)
        if value is not None and not isinstance(value, str):
            raise RemoteProtocolError(f"'{key}' must be a string")
        return value

    username = text_field("username") or ""
    decode_name(username.encode("utf-8"), "username", allow_empty="token" in fields)
    password = text_field("password")
    if password is not None and len(password.encode("utf-8")) > 1024:
        raise RemoteProtocolError("password is longer than 1024 bytes")
    request_id = text_field("request_id")
    if request_id is not None and not 0 < len(request_id.encode("utf-8")) <= MAX_REQUEST_ID_BYTES:
        raise RemoteProtocolError(f"request_id must be 1 to {MAX_REQUEST_ID_BYTES} bytes")
    return RoomRequest(username, password, text_field("token"), text_field("proof"),
                       request_id=request_id, resume_token=text_field("resume_token"))


def decode_proof(text: str | None) -> bytes | None:
    """A request's key proof (base64) as bytes; None when absent or not base64 (it then fails the check)."""
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def encode_grant(token: bytes, key: bytes) -> bytes:
    """State-2 payload of CREATE/JOIN over TLS: the token and the member's UDP key."""
    return encode_json({"token": token.decode("ascii"), "key": base64.b64encode(key).decode("ascii")})


def decode_grant(payload: bytes) -> tuple[bytes, bytes]:
    grant = decode_json_object(payload)
    token, key = grant.get("token"), grant.get("key")
    if not isinstance(token, str) or not isinstance(key, str):
        raise RemoteProtocolError("the grant lacks its token or key")
    try:
        raw_key = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise RemoteProtocolError("the grant's key is not base64") from None
    raw_token = token.encode("utf-8")
    if not raw_token or len(raw_token) > MAX_TOKEN_BYTES or len(raw_key) != 32:
        raise RemoteProtocolError("the grant's token or key has the wrong size")
    return raw_token, raw_key


# --- the kanaru dialect's TCP answers and UDP forms ------------------------------------
KANARU_REGISTER = "__REGISTER__"
KANARU_LEAVE = "__LEAVE__"
KANARU_ROOM_CLOSED = b"__ROOM_CLOSED__"


def encode_kanaru_status(success: bool, detail: str = "") -> bytes:
    """State-1 payload for a kanaru client: JSON {"success": ...}, with our sentence as "error"."""
    answer: dict[str, object] = {"success": success}
    if detail:
        answer["error"] = detail
    return encode_json(answer)


def encode_kanaru_token(token: bytes) -> bytes:
    return encode_json({"token": token.decode("ascii")})


def encode_kanaru_relay(sender: str, text: str) -> bytes:
    """A relayed line as a kanaru client reads it: sender-name length (1 byte), name, text;
    no room header."""
    name = sender.encode("utf-8")[:MAX_NAME_BYTES]
    return bytes((len(name),)) + name + text.encode("utf-8")


def encode_status(status: Status, detail: str = "", retry_after: int = 1) -> bytes:
    """State-1 payload: one status byte (for TRY_LATER, then the seconds as a u16), then an optional UTF-8 sentence."""
    head = bytes((int(status),))
    if status is Status.TRY_LATER:
        head += min(max(retry_after, 1), 0xFFFF).to_bytes(2, "big")
    return head + detail.encode("utf-8")


def decode_status(payload: bytes) -> tuple[Status, str]:
    if not payload:
        raise RemoteProtocolError("status answer is empty")
    try:
        status = Status(payload[0])
    except ValueError:
        raise RemoteProtocolError(f"unknown status code {payload[0]}") from None
    start = 1
    if status is Status.TRY_LATER:
        if len(payload) < 3:
            raise RemoteProtocolError("a TRY_LATER answer needs its 2-byte seconds")
        start = 3
    return status, payload[start:].decode("utf-8", errors="replace")


def decode_retry_after(payload: bytes) -> int:
    """The seconds a TRY_LATER answer asks the client to wait."""
    decode_status(payload)
    return int.from_bytes(payload[1:3], "big")


def encode_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads_json(text: str) -> object:
    """json.loads that also refuses a lone surrogate (JSON's "\\ud800" escape is valid JSON
    but no Unicode text: it cannot be encoded, shown or stored); ValueError for all of it."""
    value = json.loads(text)
    if not is_unicode_text(json.dumps(value, ensure_ascii=False)):
        raise ValueError("a string holds a lone surrogate")
    return value


def is_unicode_text(text: str) -> bool:
    """False for a str holding a lone surrogate, which no UTF-8 encoder or Tk takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_json_object(payload: bytes) -> dict:
    try:
        value = loads_json(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RemoteProtocolError("answer is not a UTF-8 JSON object") from None
    if not isinstance(value, dict):
        raise RemoteProtocolError("answer is not a JSON object")
    return value


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
# A body that starts with FRAME_MAGIC is one of our versioned frames; 0xFF never
# occurs in UTF-8, so any other body is a plain-text chat line from a client that
# speaks only the assignment's framing.

FRAME_MAGIC = 0xFF
FRAME_VERSION = 1

# A sealed body: SEALED_MAGIC (0xFE, also never in UTF-8), a 12-byte nonce, then the
# AEAD ciphertext of one of the frames below with its 16-byte tag (see secure.py).
SEALED_MAGIC = 0xFE
SEALED_PREFIX = bytes((SEALED_MAGIC,))
NONCE_SIZE = 12
TAG_SIZE = 16
SEAL_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE


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


JOINED_PLAIN = "plain"  # a JOINED event's text when the member's traffic is not encrypted


class ErrorCode(enum.IntEnum):
    UNKNOWN_TOKEN = 1  # the token is not (or no longer) valid in this room
    RATE_LIMITED = 2
    RESYNC = 3  # the events asked for are no longer buffered: fetch a snapshot (SYNC)
    TOO_LONG = 4
    CANNOT_SAVE = 5  # the chat was not stored, so not relayed or acknowledged: keep it and send it again


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
    head = _EVENT_HEAD.pack(
        event.seq, event.time_ms, _HISTORY_FLAG if event.history else 0, event.event_type, len(name)
    )
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
            raise RemoteProtocolError(f"resend frame needs 1 to {MAX_RESEND_RANGES} ranges of 8 bytes, got {len(rest)} bytes")
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
        return Event(seq, time_ms, event_type, name, text, bool(flags & _HISTORY_FLAG))
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
    return {"seq": event.seq, "time_ms": event.time_ms, "type": int(event.event_type), "name": event.name, "text": event.text}


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


# --- files (UPLOAD, DOWNLOAD, FILES over TCRP; the FILE event) ---------------------------
# The requests are JSON like a SYNC's: the member's token and key proof, plus what the
# operation needs. The file's bytes travel raw inside the TLS stream, outside any TCRP
# message: after the server's OK for an UPLOAD (then the 32-byte SHA-256 of what was
# sent), after the completion for a DOWNLOAD. docs/protocol.md has the byte tables.
FILE_DIGEST_SIZE = 32
FILE_ID_BYTES = 16  # hex characters of a file id
MAX_FILE_NAME_BYTES = 255
MAX_MIME_BYTES = 100


@dataclass(frozen=True)
class FileInfo:
    """A shared file as the room knows it."""

    file_id: str
    name: str
    size: int
    mime: str
    sender: str = ""
    sha256: str = ""  # hex; in a DOWNLOAD's completion, so the client can check what arrives


@dataclass(frozen=True)
class FileRequest:
    """The payload of UPLOAD (name, size, mime), DOWNLOAD (file_id) and FILES (neither)."""

    token: str
    proof: str | None = None
    name: str = ""
    size: int = 0
    mime: str = ""
    file_id: str = ""


def is_file_id(text: str) -> bool:
    return len(text) == FILE_ID_BYTES and all(ch in "0123456789abcdef" for ch in text)


def encode_file_request(request: FileRequest) -> bytes:
    fields: dict[str, object] = {"token": request.token}
    if request.proof is not None:
        fields["proof"] = request.proof
    if request.name:
        fields.update(name=request.name, size=request.size, mime=request.mime)
    if request.file_id:
        fields["file_id"] = request.file_id
    return encode_json(fields)


def decode_file_request(operation: Operation, payload: bytes) -> FileRequest:
    fields = decode_json_object(payload)
    token, proof = fields.get("token"), fields.get("proof")
    if not isinstance(token, str) or not token or (proof is not None and not isinstance(proof, str)):
        raise RemoteProtocolError("a file request needs the member's token (and key proof) as strings")
    if operation is Operation.UPLOAD:
        name, size, mime = fields.get("name"), fields.get("size"), fields.get("mime", "")
        if not isinstance(name, str) or not name or len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
            raise RemoteProtocolError(f"a file name must be 1 to {MAX_FILE_NAME_BYTES} bytes of text")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RemoteProtocolError("a file size must be a whole number of bytes, 0 or more")
        if not isinstance(mime, str) or len(mime) > MAX_MIME_BYTES or not mime.isascii():
            raise RemoteProtocolError(f"a file type must be ASCII, at most {MAX_MIME_BYTES} characters")
        return FileRequest(token, proof, name, size, mime)
    if operation is Operation.DOWNLOAD:
        file_id = fields.get("file_id")
        if not isinstance(file_id, str) or not is_file_id(file_id):
            raise RemoteProtocolError("a download names a file id of 16 hex characters")
        return FileRequest(token, proof, file_id=file_id)
    return FileRequest(token, proof)


def file_to_json(info: FileInfo) -> dict:
    fields: dict[str, object] = {"id": info.file_id, "name": info.name, "size": info.size, "mime": info.mime}
    if info.sender:
        fields["sender"] = info.sender
    if info.sha256:
        fields["sha256"] = info.sha256
    return fields


def file_from_json(value: object, sender: str = "") -> FileInfo:
    if not isinstance(value, dict):
        raise RemoteProtocolError("a file entry is not an object")
    file_id, name, size, mime = value.get("id"), value.get("name"), value.get("size"), value.get("mime", "")
    sha = value.get("sha256", "")
    if not isinstance(file_id, str) or not is_file_id(file_id) or not isinstance(name, str) or not name:
        raise RemoteProtocolError("a file entry lacks its id or name")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(mime, str) or not isinstance(sha, str):
        raise RemoteProtocolError("a file entry has a bad size, type or checksum")
    return FileInfo(file_id, name, size, mime, str(value.get("sender", sender)), sha)


def encode_file_event_text(info: FileInfo) -> str:
    """A FILE event's text (its name field is the sender)."""
    return encode_json(file_to_json(FileInfo(info.file_id, info.name, info.size, info.mime))).decode("utf-8")


def decode_file_event(event: Event) -> FileInfo:
    try:
        value = loads_json(event.text)
    except (ValueError, RecursionError):
        raise RemoteProtocolError("a FILE event's text is not JSON") from None
    return file_from_json(value, sender=event.name)


def decode_file_list(payload: bytes) -> list[FileInfo]:
    files = decode_json_object(payload).get("files")
    if not isinstance(files, list):
        raise RemoteProtocolError("the file list is missing from the answer")
    return [file_from_json(item) for item in files]


# --- the SYNC answer and the room list (JSON over TCRP) ------------------------------


@dataclass(frozen=True)
class RoomSnapshot:
    """What a member needs to start (or start again): the room's latest event position,
    the chat port, the host, the members and recent history (each event marked history)."""

    seq: int
    udp_port: int
    host: str
    members: tuple[str, ...]
    history: tuple[Event, ...]
    plain: tuple[str, ...] = ()  # members whose traffic is not encrypted (--allow-plain)


def decode_snapshot(payload: bytes) -> RoomSnapshot:
    answer = decode_json_object(payload)
    for key, kind in (("seq", int), ("udp_port", int), ("host", str), ("members", list), ("history", list)):
        if not isinstance(answer.get(key), kind):
            raise RemoteProtocolError(f"the room snapshot lacks '{key}'")
    return RoomSnapshot(
        answer["seq"], answer["udp_port"], answer["host"],
        tuple(str(m) for m in answer["members"]),
        tuple(event_from_json(item) for item in answer["history"]),
        tuple(str(m) for m in answer.get("plain", ()) if isinstance(answer.get("plain"), list)),
    )


@dataclass(frozen=True)
class RoomInfo:
    name: str
    members: int
    locked: bool
    host: str


def decode_room_list(payload: bytes) -> list[RoomInfo]:
    rooms = decode_json_object(payload).get("rooms")
    if not isinstance(rooms, list):
        raise RemoteProtocolError("the room list is missing from the answer")
    try:
        return [RoomInfo(str(r["name"]), int(r["members"]), bool(r["locked"]), str(r["host"])) for r in rooms]
    except (KeyError, TypeError, ValueError):
        raise RemoteProtocolError("the room list has a malformed entry") from None


# --- discovery: the DNS-SD TXT record and the broadcast probe and answer ---------------
# docs/protocol.md ("Finding servers on the LAN") has the layouts.

DISCOVERY_VERSION = 1
MDNS_SERVICE_TYPE = "_ocm._tcp.local."
DISCOVERY_PORT = 9089  # UDP, fixed: below the 9090/9091 pairs that next_free_ports walks upward
PROBE_MAGIC = b"OCMd"
PROBE_SIZE = 1024  # what a finder sends: padded, so that an answer of this size is no amplification
MIN_PROBE_SIZE = 64  # a smaller probe is not answered: no useful answer fits
MAX_PROBE_SIZE = 1400  # a datagram that stays one Ethernet frame
MAX_TXT_VALUE = 255  # one DNS character-string
MAX_FINGERPRINT_BYTES = 64


class DiscoveryKind(enum.IntEnum):
    PROBE = 1
    ANSWER = 2


@dataclass(frozen=True)
class ServerAnnouncement:
    """What a server says about itself when found: its ports, a summary of its rooms,
    the computer's name and (once the server has an identity) its fingerprint."""

    tcp_port: int
    udp_port: int
    rooms: int
    any_locked: bool
    machine: str = ""
    fingerprint: str = ""
    version: int = DISCOVERY_VERSION


def _port(value: int, what: str) -> int:
    if not 0 < value < 65536:
        raise RemoteProtocolError(f"{what} {value} is not a port number")
    return value


def encode_txt(announcement: ServerAnnouncement) -> dict[bytes, bytes]:
    """The TXT record's properties (the TCP port is the SRV record's, not repeated here)."""
    values = {
        b"v": str(announcement.version).encode(),
        b"udp": str(announcement.udp_port).encode(),
        b"rooms": str(announcement.rooms).encode(),
        b"locked": b"1" if announcement.any_locked else b"0",
        b"host": announcement.machine.encode("utf-8"),
    }
    if announcement.fingerprint:
        values[b"fp"] = announcement.fingerprint.encode("utf-8")
    for key, value in values.items():
        if len(key) + 1 + len(value) > MAX_TXT_VALUE:
            raise LocalProtocolError(f"the TXT entry {key.decode()} is {len(value)} bytes; the most is {MAX_TXT_VALUE - len(key) - 1}")
    return values


def decode_txt(properties: dict[bytes, bytes | None], tcp_port: int) -> ServerAnnouncement:
    """Properties as python-zeroconf hands them over (a key without '=' has the value None)."""

    def text(key: bytes, required: bool = True) -> str:
        value = properties.get(key)
        if value is None:
            if required:
                raise RemoteProtocolError(f"the TXT record lacks '{key.decode()}'")
            return ""
        if len(value) > MAX_TXT_VALUE:
            raise RemoteProtocolError(f"the TXT entry '{key.decode()}' is {len(value)} bytes")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteProtocolError(f"the TXT entry '{key.decode()}' is not UTF-8") from None

    def number(key: bytes, top: int) -> int:
        raw = text(key)
        if not raw.isascii() or not raw.isdigit() or int(raw) > top:
            raise RemoteProtocolError(f"the TXT entry '{key.decode()}' is not a number up to {top}: {raw!r}")
        return int(raw)

    version = number(b"v", 255)
    if version != DISCOVERY_VERSION:
        raise RemoteProtocolError(f"discovery version {version} is not {DISCOVERY_VERSION}")
    locked = text(b"locked")
    if locked not in ("0", "1"):
        raise RemoteProtocolError(f"the TXT entry 'locked' is {locked!r}, not 0 or 1")
    machine = text(b"host", required=False)
    fingerprint = text(b"fp", required=False)
    if len(fingerprint.encode()) > MAX_FINGERPRINT_BYTES:
        raise RemoteProtocolError("the fingerprint is too long")
    return ServerAnnouncement(
        _port(tcp_port, "TCP port"), _port(number(b"udp", 65535), "UDP port"), number(b"rooms", 65535),
        locked == "1", machine, fingerprint, version,
    )


# probe:  magic(4) version(1) kind(1) nonce(8) padding
# answer: magic(4) version(1) kind(1) nonce(8) tcp(2) udp(2) flags(1) room count(2)
#         then machine, fingerprint (each: length(1), UTF-8), then rooms that fit
_DISCOVERY_HEAD = struct.Struct("!4sBB8s")
_ANSWER_FIXED = struct.Struct("!HHBH")
_ROOM_FIXED = struct.Struct("!HB")  # members, flags
ANSWER_TRUNCATED = 0x01  # not every room fitted: ask the server with LIST
ANSWER_ANY_LOCKED = 0x02
ROOM_LOCKED = 0x01


@dataclass(frozen=True)
class Probe:
    nonce: bytes  # 8 bytes; the answer repeats it, so a finder ignores answers it did not ask for
    size: int  # the datagram's length: the most an answer to it may be


@dataclass(frozen=True)
class ProbeAnswer:
    nonce: bytes
    announcement: ServerAnnouncement
    rooms: tuple[RoomInfo, ...]
    truncated: bool


def encode_probe(nonce: bytes, size: int = PROBE_SIZE) -> bytes:
    if len(nonce) != 8:
        raise LocalProtocolError("a probe's nonce is 8 bytes")
    if not MIN_PROBE_SIZE <= size <= MAX_PROBE_SIZE:
        raise LocalProtocolError(f"a probe is {MIN_PROBE_SIZE} to {MAX_PROBE_SIZE} bytes")
    head = _DISCOVERY_HEAD.pack(PROBE_MAGIC, DISCOVERY_VERSION, DiscoveryKind.PROBE, nonce)
    return head + bytes(size - len(head))


def _discovery_head(data: bytes, kind: DiscoveryKind) -> bytes:
    if len(data) < _DISCOVERY_HEAD.size:
        raise RemoteProtocolError(f"a discovery datagram is at least {_DISCOVERY_HEAD.size} bytes, got {len(data)}")
    if len(data) > MAX_PROBE_SIZE:
        raise RemoteProtocolError(f"a discovery datagram is at most {MAX_PROBE_SIZE} bytes, got {len(data)}")
    magic, version, got, nonce = _DISCOVERY_HEAD.unpack_from(data)
    if magic != PROBE_MAGIC:
        raise RemoteProtocolError("not an Online Chat Messenger discovery datagram")
    if version != DISCOVERY_VERSION:
        raise RemoteProtocolError(f"discovery version {version} is not {DISCOVERY_VERSION}")
    if got != kind:
        raise RemoteProtocolError(f"expected discovery kind {int(kind)}, got {got}")
    return nonce


def decode_probe(data: bytes) -> Probe:
    nonce = _discovery_head(data, DiscoveryKind.PROBE)
    if len(data) < MIN_PROBE_SIZE:
        raise RemoteProtocolError(f"a probe is at least {MIN_PROBE_SIZE} bytes, got {len(data)}")
    return Probe(nonce, len(data))


def _short_text(text: str, what: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > MAX_NAME_BYTES:
        raise LocalProtocolError(f"{what} is {len(raw)} bytes; the most is {MAX_NAME_BYTES}")
    return bytes((len(raw),)) + raw


def encode_answer(probe: Probe, announcement: ServerAnnouncement, rooms: list[RoomInfo] | tuple[RoomInfo, ...]) -> bytes:
    """The answer to `probe`: never longer than the probe. Rooms that do not fit are left
    out and the answer says so (the finder then asks the server's LIST over TCP)."""
    flags = ANSWER_ANY_LOCKED if announcement.any_locked else 0
    head = _DISCOVERY_HEAD.pack(PROBE_MAGIC, DISCOVERY_VERSION, DiscoveryKind.ANSWER, probe.nonce)
    tail = _short_text(announcement.machine, "the computer's name") + _short_text(announcement.fingerprint, "the fingerprint")
    fixed_size = len(head) + _ANSWER_FIXED.size + len(tail)
    if fixed_size > probe.size:
        raise LocalProtocolError(f"no answer fits in a {probe.size}-byte probe")
    entries: list[bytes] = []
    room_bytes = 0
    for info in rooms:
        entry = (_short_text(info.name, "a room name") + _ROOM_FIXED.pack(min(info.members, 65535), ROOM_LOCKED if info.locked else 0)
                 + _short_text(info.host, "a host's name"))
        if fixed_size + room_bytes + len(entry) > probe.size:
            break
        entries.append(entry)
        room_bytes += len(entry)
    if len(entries) < len(rooms):
        flags |= ANSWER_TRUNCATED
    fixed = _ANSWER_FIXED.pack(announcement.tcp_port, announcement.udp_port, flags, len(entries))
    return head + fixed + tail + b"".join(entries)


class _Reader:
    def __init__(self, data: bytes, offset: int):
        self.data, self.offset = data, offset

    def take(self, size: int, what: str) -> bytes:
        if self.offset + size > len(self.data):
            raise RemoteProtocolError(f"the answer ends inside {what}")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def short_text(self, what: str, allow_empty: bool = True) -> str:
        raw = self.take(self.take(1, what)[0], what)
        return decode_name(raw, what, allow_empty=allow_empty)


def decode_answer(data: bytes) -> ProbeAnswer:
    nonce = _discovery_head(data, DiscoveryKind.ANSWER)
    reader = _Reader(data, _DISCOVERY_HEAD.size)
    tcp, udp, flags, count = _ANSWER_FIXED.unpack(reader.take(_ANSWER_FIXED.size, "the ports"))
    machine = reader.short_text("the computer's name")
    fingerprint = reader.short_text("the fingerprint")
    if len(fingerprint.encode()) > MAX_FINGERPRINT_BYTES:
        raise RemoteProtocolError("the fingerprint is too long")
    rooms = []
    for _ in range(count):
        name = reader.short_text("a room name", allow_empty=False)
        members, room_flags = _ROOM_FIXED.unpack(reader.take(_ROOM_FIXED.size, "a room's entry"))
        host = reader.short_text("a host's name")
        rooms.append(RoomInfo(name, members, bool(room_flags & ROOM_LOCKED), host))
    if reader.offset != len(data):
        raise RemoteProtocolError(f"{len(data) - reader.offset} bytes after the last room")
    announcement = ServerAnnouncement(
        _port(tcp, "TCP port"), _port(udp, "UDP port"), len(rooms), bool(flags & ANSWER_ANY_LOCKED), machine, fingerprint,
    )
    return ProbeAnswer(nonce, announcement, tuple(rooms), bool(flags & ANSWER_TRUNCATED))
