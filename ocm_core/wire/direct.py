"""Direct messages, presence and typing on the wire: the frames inside a member's sealed
datagram (kinds beside datagram.py's), and the plaintext that the sender seals for its
recipient (crypto/direct.py seals it; the server only ever sees the sealed bytes).

Bytes in, typed values out; every malformed input raises RemoteProtocolError. Layouts in
docs/protocol.md, "Direct messages".
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ocm_core.errors import RemoteProtocolError
from ocm_core.wire.limits import FRAME_MAGIC, FRAME_VERSION, MAX_DATAGRAM, MAX_NAME_BYTES, SEAL_OVERHEAD
from ocm_core.wire.tcrp import decode_name

KEY_BYTES = 32  # an X25519 public key
EPHEMERAL_BYTES = 32
GCM_TAG_BYTES = 16
SEALED_DIRECT_OVERHEAD = EPHEMERAL_BYTES + GCM_TAG_BYTES  # what sealing adds to the plaintext


class DirectKind(enum.IntEnum):
    # client -> server
    DIRECT = 0x05  # a sealed message for one person
    MAIL_GOT = 0x06  # a mailbox item received (and kept): the server may forget it
    PRESENCE = 0x07
    TYPING = 0x08
    # server -> client
    DIRECT_STATE = 0x14  # what became of a DIRECT we sent
    MAIL = 0x15  # a mailbox item: a direct message, or a receipt for one of ours
    PRESENCE_NOTE = 0x16
    TYPING_NOTE = 0x17


DIRECT_KINDS = frozenset(int(k) for k in DirectKind)


class DirectState(enum.IntEnum):
    KEPT = 1  # the recipient is away: the server keeps it (sealed) until they are back
    PASSED = 2  # handed to the recipient, who is here; a DELIVERED receipt follows
    REFUSED = 3  # not taken: the frame's text says why


class Refusal(enum.IntEnum):
    """Why a DIRECT was refused (0 when it was not); the client words it (ocm_core.words)."""

    NONE = 0
    NOT_HERE = 1  # nobody of that name with that key has been in this room while it lasted
    YOURSELF = 2
    KEY_CHANGED = 3  # that name now has another key: fetch the room again and look
    TOO_LONG = 4
    MAILBOX_FULL = 5  # too many messages wait for that person already
    NEEDS_KEY = 6  # the sender has no proven key of its own (plain, or an older client)


class MailKind(enum.IntEnum):
    MESSAGE = 1  # a sealed direct message to us
    DELIVERED = 2  # a receipt: the recipient's app has one of ours (msg_id), no body
    UNOPENED = 3  # a receipt: the recipient's app could not open one of ours (or it was dated a year off)


class PresenceState(enum.IntEnum):
    ONLINE = 0
    AWAY = 1


@dataclass(frozen=True)
class Direct:
    """client -> server: `sealed` (ephemeral key, ciphertext and tag) for the person called
    `recipient` whose key is `recipient_key`."""

    msg_id: int
    recipient_key: bytes
    recipient: str
    sealed: bytes


@dataclass(frozen=True)
class MailGot:
    mail_id: int
    kept: bool = True  # False: it did not open, or was dated too far from now (never shown)


@dataclass(frozen=True)
class PresenceFrame:
    state: PresenceState


@dataclass(frozen=True)
class Typing:
    """Typing in the room (`to` is "") or in a direct conversation with `to`."""

    to: str


@dataclass(frozen=True)
class DirectStateFrame:
    msg_id: int
    state: DirectState
    refusal: Refusal = Refusal.NONE
    text: str = ""  # the server's own words on a refusal, for its log and older clients


@dataclass(frozen=True)
class Mail:
    """server -> client: a mailbox item. For MESSAGE, `peer` and `peer_key` are its sender and
    `sealed` the message; for a receipt they are the recipient of our `msg_id`."""

    mail_id: int
    kind: MailKind
    time_ms: int  # when the server took it
    msg_id: int
    peer_key: bytes
    peer: str
    sealed: bytes = b""


@dataclass(frozen=True)
class PresenceNote:
    name: str
    state: PresenceState


@dataclass(frozen=True)
class TypingNote:
    name: str
    direct: bool  # typing to us in a direct conversation (else in the room)


_U64 = struct.Struct("!Q")
_STATE_HEAD = struct.Struct("!QBB")  # msg id, state, refusal
_MAIL_HEAD = struct.Struct("!QBQQ")  # mail id, kind, time, msg id
_PLAIN_HEAD = struct.Struct("!Q")  # the sender's clock, inside the sealed part


def _frame(kind: DirectKind, rest: bytes) -> bytes:
    return bytes((FRAME_MAGIC, FRAME_VERSION, kind)) + rest


def _name(name: str) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) > MAX_NAME_BYTES:
        raise ValueError(f"name is {len(raw)} bytes; the most is {MAX_NAME_BYTES}")
    return bytes((len(raw),)) + raw


def _key(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key is {KEY_BYTES} bytes, not {len(key)}")
    return key


def encode_direct(frame: Direct) -> bytes:
    return _frame(
        DirectKind.DIRECT, _U64.pack(frame.msg_id) + _key(frame.recipient_key) + _name(frame.recipient) + frame.sealed
    )


def encode_mail_got(mail_id: int, kept: bool = True) -> bytes:
    return _frame(DirectKind.MAIL_GOT, _U64.pack(mail_id) + bytes((int(kept),)))


def encode_presence(state: PresenceState) -> bytes:
    return _frame(DirectKind.PRESENCE, bytes((state,)))


def encode_typing(to: str = "") -> bytes:
    return _frame(DirectKind.TYPING, _name(to))


def encode_direct_state(frame: DirectStateFrame) -> bytes:
    head = _STATE_HEAD.pack(frame.msg_id, frame.state, frame.refusal)
    return _frame(DirectKind.DIRECT_STATE, head + frame.text.encode("utf-8"))


def encode_mail(mail: Mail) -> bytes:
    head = _MAIL_HEAD.pack(mail.mail_id, mail.kind, mail.time_ms, mail.msg_id)
    return _frame(DirectKind.MAIL, head + _key(mail.peer_key) + _name(mail.peer) + mail.sealed)


def encode_presence_note(name: str, state: PresenceState) -> bytes:
    return _frame(DirectKind.PRESENCE_NOTE, bytes((state,)) + _name(name))


def encode_typing_note(name: str, direct: bool) -> bytes:
    return _frame(DirectKind.TYPING_NOTE, bytes((int(direct),)) + _name(name))


# --- decoding ---------------------------------------------------------------------------


class _Reader:
    """Reads a frame's fields in order; running short is a RemoteProtocolError naming the frame."""

    def __init__(self, data: bytes, what: str):
        self.data, self.at, self.what = data, 0, what

    def take(self, size: int, field: str) -> bytes:
        if len(self.data) - self.at < size:
            raise RemoteProtocolError(f"{self.what} frame is too short for its {field}")
        part = self.data[self.at : self.at + size]
        self.at += size
        return part

    def u64(self, field: str) -> int:
        return _U64.unpack(self.take(8, field))[0]

    def byte(self, field: str) -> int:
        return self.take(1, field)[0]

    def name(self, field: str, *, allow_empty: bool = False) -> str:
        size = self.byte(f"{field}'s length")
        return decode_name(self.take(size, field), field, allow_empty=allow_empty)

    def rest(self) -> bytes:
        part, self.at = self.data[self.at :], len(self.data)
        return part

    def end(self) -> None:
        if self.at != len(self.data):
            raise RemoteProtocolError(f"{self.what} frame carries {len(self.data) - self.at} unexpected bytes")


def _enum(kind: type[enum.IntEnum], value: int, what: str):
    try:
        return kind(value)
    except ValueError:
        raise RemoteProtocolError(f"unknown {what} {value}") from None


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError(f"{what} is not valid UTF-8") from None


def _sealed(raw: bytes, what: str) -> bytes:
    if len(raw) <= SEALED_DIRECT_OVERHEAD:
        raise RemoteProtocolError(f"{what} is shorter than its ephemeral key and tag")
    return raw


def decode_direct_frame(kind_byte: int, rest: bytes):
    """One of this module's frames from its kind byte and the bytes after it (datagram.py's
    decode_body hands them here)."""
    kind: DirectKind = _enum(DirectKind, kind_byte, "frame kind")
    r = _Reader(rest, kind.name.lower().replace("_", " "))
    frame: MailGot | PresenceFrame | Typing | PresenceNote | TypingNote
    if kind is DirectKind.DIRECT:
        msg_id, key = r.u64("message id"), r.take(KEY_BYTES, "recipient key")
        recipient = r.name("recipient")
        return Direct(msg_id, key, recipient, _sealed(r.rest(), "direct message"))
    if kind is DirectKind.MAIL_GOT:
        mail_id, kept = r.u64("mail id"), r.byte("flag")
        if kept > 1:
            raise RemoteProtocolError("mail got's flag is neither 0 nor 1")
        frame = MailGot(mail_id, bool(kept))
    elif kind is DirectKind.PRESENCE:
        frame = PresenceFrame(_enum(PresenceState, r.byte("state"), "presence"))
    elif kind is DirectKind.TYPING:
        frame = Typing(r.name("recipient", allow_empty=True))
    elif kind is DirectKind.DIRECT_STATE:
        msg_id, state, refusal = _STATE_HEAD.unpack(r.take(_STATE_HEAD.size, "fixed fields"))
        state, refusal = _enum(DirectState, state, "direct state"), _enum(Refusal, refusal, "refusal")
        if (state is DirectState.REFUSED) != (refusal is not Refusal.NONE):
            raise RemoteProtocolError("a direct state gives a refusal exactly when it is REFUSED")
        return DirectStateFrame(msg_id, state, refusal, _utf8(r.rest(), "its reason"))
    elif kind is DirectKind.MAIL:
        mail_id, mail_kind, time_ms, msg_id = _MAIL_HEAD.unpack(r.take(_MAIL_HEAD.size, "fixed fields"))
        mail_kind = _enum(MailKind, mail_kind, "mail kind")
        key, peer, body = r.take(KEY_BYTES, "key"), r.name("name"), r.rest()
        if mail_kind is MailKind.MESSAGE:
            _sealed(body, "mailed message")
        elif body:
            raise RemoteProtocolError("a receipt carries a body")
        return Mail(mail_id, mail_kind, time_ms, msg_id, key, peer, body)
    elif kind is DirectKind.PRESENCE_NOTE:
        state = _enum(PresenceState, r.byte("state"), "presence")
        frame = PresenceNote(r.name("name"), state)
    else:
        direct = r.byte("flag")
        if direct > 1:
            raise RemoteProtocolError("typing note's flag is neither 0 nor 1")
        frame = TypingNote(r.name("name"), bool(direct))
    r.end()
    return frame


# --- what the sender seals --------------------------------------------------------------


@dataclass(frozen=True)
class DirectText:
    sent_ms: int  # the sender's clock: the recipient refuses what is older than it remembers ids
    text: str


def encode_direct_text(message: DirectText) -> bytes:
    return _PLAIN_HEAD.pack(message.sent_ms) + message.text.encode("utf-8")


def decode_direct_text(plaintext: bytes) -> DirectText:
    if len(plaintext) <= _PLAIN_HEAD.size:
        raise RemoteProtocolError("direct message has no text")
    (sent_ms,) = _PLAIN_HEAD.unpack_from(plaintext)
    return DirectText(sent_ms, _utf8(plaintext[_PLAIN_HEAD.size :], "direct message"))


DIRECT_OVERHEAD = 3 + 8 + KEY_BYTES + 1  # magic, version, kind, msg id, key, name length
MAIL_OVERHEAD = 3 + _MAIL_HEAD.size + KEY_BYTES + 1


def max_direct_text_bytes(room_bytes: int, token_bytes: int, sender_bytes: int, recipient_bytes: int) -> int:
    """The longest direct text (UTF-8 bytes) that fits both ways: up in the sender's room with
    its token and the recipient's name, and down in a MAIL that names the sender, in whatever
    room the recipient is reached through (so any room name)."""
    sealed = SEALED_DIRECT_OVERHEAD + _PLAIN_HEAD.size
    up = MAX_DATAGRAM - 2 - room_bytes - token_bytes - SEAL_OVERHEAD - DIRECT_OVERHEAD - recipient_bytes - sealed
    down = MAX_DATAGRAM - 2 - MAX_NAME_BYTES - SEAL_OVERHEAD - MAIL_OVERHEAD - sender_bytes - sealed
    return min(up, down)
