"""The assignment's plain dialects: bare text over UDP, and the kanaru client's TCP answers and UDP forms."""

from __future__ import annotations

from ocm_core.errors import ProtocolError, RemoteProtocolError
from ocm_core.wire.datagram import Event, EventType, Heartbeat, Leave, PlainText
from ocm_core.wire.files import decode_file_event
from ocm_core.wire.jsontext import encode_json
from ocm_core.wire.limits import MAX_NAME_BYTES

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


def plain_event_text(event: Event) -> str:
    """How an event reads to a client that shows datagrams as text (the assignment's bare clients)."""
    if event.event_type is EventType.CHAT:
        return f"{event.name}: {event.text}"
    if event.event_type is EventType.CLOSED:
        return f"* {event.text}"
    if event.event_type is EventType.FILE:
        try:
            info = decode_file_event(event)
        except ProtocolError:
            return f"* {event.name} shared a file"
        return f"* {event.name} shared a file: {info.name} ({info.size} bytes)"
    verb = {EventType.JOINED: "joined", EventType.LEFT: "left", EventType.TIMED_OUT: "timed out"}[event.event_type]
    return f"* {event.name} {verb}"


def encode_kanaru_event(event: Event) -> bytes:
    """An event as the kanaru client reads it: a line with its sender, or the bare close word."""
    if event.event_type is EventType.CLOSED:
        return KANARU_ROOM_CLOSED
    if event.event_type is EventType.CHAT:
        return encode_kanaru_relay(event.name, event.text)
    return encode_kanaru_relay("*", plain_event_text(event).removeprefix("* "))


def decode_kanaru_body(body: bytes) -> Heartbeat | Leave | PlainText:
    """What a kanaru client's datagram means in our frames: register, leave, or a chat line."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("message is not valid UTF-8") from None
    if not text:
        raise RemoteProtocolError("datagram has no message")
    if text == KANARU_REGISTER:
        return Heartbeat(0)
    if text == KANARU_LEAVE:
        return Leave()
    return PlainText(text)
