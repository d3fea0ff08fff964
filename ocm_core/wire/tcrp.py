"""TCRP over TCP: the 32-byte header, room names, the create/join request and its answers.

Bytes in, typed values out (and back); every malformed input raises RemoteProtocolError with a
reason, a value that cannot be encoded LocalProtocolError. Layouts in docs/protocol.md."""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass

from ocm_core.errors import LocalProtocolError, RemoteProtocolError
from ocm_core.wire.jsontext import (
    decode_json_object,
    encode_json,
    is_unicode_text,
    loads_json,
)
from ocm_core.wire.limits import (
    MAX_NAME_BYTES,
    MAX_TOKEN_BYTES,
    PAYLOAD_SIZE_BYTES,
    TCRP_HEADER_SIZE,
)


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
    REMOVED = 20  # the host removed this member (this install, or this address) from the room


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


def is_tls_record_start(answer: bytes) -> bool:
    """Whether a server's answer opens with a TLS record (handshake or alert), by its first
    byte; a plain TCRP answer begins with its room-name size, 0 for every refusal sent before
    reading."""
    return bool(answer) and answer[0] in (TLS_HANDSHAKE, TLS_ALERT)


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
    header = bytes((len(room_bytes), int(operation), int(state))) + len(payload).to_bytes(PAYLOAD_SIZE_BYTES, "big")
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
    proof: str | None = None  # SYNC from a sealed member: crypto.sealed.key_proof, base64
    dialect: Dialect = Dialect.OURS
    request_id: str | None = None  # the same for every retry of one CREATE or JOIN: a repeat gets the same answer
    resume_token: str | None = None  # JOIN: come back as the member that held this token (timed out lately)
    direct_key: str | None = None  # CREATE/JOIN: the install's public key for direct messages, base64url
    direct_proof: str | None = None  # SYNC: that we hold that key (crypto.direct.PersonalKey.prove), base64
    features: tuple[str, ...] = ()  # SYNC: what the client understands beyond chat (wire.FEATURES)


MAX_REQUEST_ID_BYTES = 64


def encode_request(request: RoomRequest) -> bytes:
    fields: dict[str, str] = {"username": request.username}
    for key in ("password", "token", "proof", "request_id", "resume_token", "direct_key", "direct_proof"):
        if getattr(request, key) is not None:
            fields[key] = getattr(request, key)
    body: dict[str, object] = dict(fields)
    if request.features:
        body["features"] = list(request.features)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


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
    return RoomRequest(
        username,
        password,
        text_field("token"),
        text_field("proof"),
        request_id=request_id,
        resume_token=text_field("resume_token"),
        direct_key=_direct_key(text_field("direct_key")),
        direct_proof=text_field("direct_proof"),
        features=_features(fields.get("features")),
    )


MAX_FEATURES = 16


def _features(value: object) -> tuple[str, ...]:
    """A request's `features`: a short list of short words; those this side does not know are kept
    (and ignored by whoever reads them), so a newer client does not fail here."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_FEATURES:
        raise RemoteProtocolError(f"'features' must be a list of at most {MAX_FEATURES} words")
    if not all(isinstance(word, str) and 0 < len(word) <= 32 for word in value):
        raise RemoteProtocolError("'features' holds something that is not a short word")
    return tuple(value)


def _direct_key(text: str | None) -> str | None:
    """A request's direct-message key: base64url of 32 bytes (43 characters, no padding)."""
    if text is not None and decode_direct_key(text) is None:
        raise RemoteProtocolError("'direct_key' is not a base64url key of 32 bytes")
    return text


def decode_direct_key(text: str) -> bytes | None:
    """The 32 bytes of a base64url public key, or None if `text` is not one."""
    if len(text) != 43:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 and base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") == text else None


def decode_proof(text: str | None) -> bytes | None:
    """A request's key proof (base64) as bytes; None when absent or not base64 (it then fails the check)."""
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def encode_grant(token: bytes, key: bytes, direct_challenge: bytes | None = None) -> bytes:
    """State-2 payload of CREATE/JOIN over TLS: the token and the member's UDP key; for a
    member that gave a direct-message key, the public key it proves that key against."""
    grant = {"token": token.decode("ascii"), "key": base64.b64encode(key).decode("ascii")}
    if direct_challenge is not None:
        grant["direct_challenge"] = base64.urlsafe_b64encode(direct_challenge).rstrip(b"=").decode("ascii")
    return encode_json(grant)


def decode_grant_challenge(payload: bytes) -> bytes | None:
    """The grant's `direct_challenge` (32 bytes), or None when it has none or a malformed one."""
    text = decode_json_object(payload).get("direct_challenge")
    return decode_direct_key(text) if isinstance(text, str) else None


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
