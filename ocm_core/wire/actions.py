"""What a member does to a message or to its room, on the wire: replies, reactions, edits,
deletions, and the host's topic, removals and password. One ACTION frame from the member (a
message of its own, in its order, acknowledged like a chat), a REFUSED frame when the server
will not take it, and the events the room then sees (their text is JSON, like the FILE event's).

Bytes in, typed values out; every malformed input raises RemoteProtocolError. Layouts in
docs/protocol.md, "Replies, reactions, edits and the host's tools".
"""

from __future__ import annotations

import enum
import json
import struct
from dataclasses import dataclass

from ocm_core.errors import RemoteProtocolError
from ocm_core.wire.jsontext import loads_json
from ocm_core.wire.limits import FRAME_MAGIC, FRAME_VERSION

ACTION_KIND = 0x09  # client -> server
REFUSED_KIND = 0x1A  # server -> client
ACTION_KINDS = frozenset((ACTION_KIND, REFUSED_KIND))

# What a member's JOIN says it understands (RoomRequest.features), and the grant what the
# server does: a member that did not say "actions" is sent each new event as a chat line.
FEATURE_ACTIONS = "actions"

MAX_EMOJI_BYTES = 32  # a reaction: one emoji, however many code points it joins
MAX_TOPIC_BYTES = 300


class ActionKind(enum.IntEnum):
    REPLY = 1  # target: the message answered; text: the answer
    REACT = 2  # target: the message; text: the emoji added
    UNREACT = 3  # target: the message; text: the emoji taken back
    EDIT = 4  # target: one's own message; text: its new text
    DELETE = 5  # target: one's own message (any, for the host); no text
    TOPIC = 6  # the host's: text is the room's topic ("" clears it); no target
    REMOVE = 7  # the host's: text is the member to remove; no target
    PASSWORD = 8  # the host's: text is the new password ("" opens the room); no target


_TARGETED = frozenset((ActionKind.REPLY, ActionKind.REACT, ActionKind.UNREACT, ActionKind.EDIT, ActionKind.DELETE))
_NEEDS_TEXT = frozenset((ActionKind.REPLY, ActionKind.REACT, ActionKind.UNREACT, ActionKind.EDIT, ActionKind.REMOVE))


@dataclass(frozen=True)
class Action:
    """One of a member's messages that is not a plain chat line; numbered and ordered with its
    chats (`msg_id`, `floor`: see datagram.Chat)."""

    msg_id: int
    kind: ActionKind
    target: int  # a room position (seq); 0 for the room-wide kinds
    text: str
    floor: int


@dataclass(frozen=True)
class Refused:
    """The server did not take our message `msg_id` (a chat or an action); `code` is an
    ErrorCode, `text` the reason in English (the client words the codes it knows)."""

    msg_id: int
    code: int
    text: str


_ACTION_HEAD = struct.Struct("!IIBI")  # msg_id, floor, kind, target
_REFUSED_HEAD = struct.Struct("!IB")  # msg_id, code


def encode_action(action: Action) -> bytes:
    head = _ACTION_HEAD.pack(action.msg_id, action.floor, action.kind, action.target)
    return bytes((FRAME_MAGIC, FRAME_VERSION, ACTION_KIND)) + head + action.text.encode("utf-8")


def encode_refused(refused: Refused) -> bytes:
    head = _REFUSED_HEAD.pack(refused.msg_id, refused.code)
    return bytes((FRAME_MAGIC, FRAME_VERSION, REFUSED_KIND)) + head + refused.text.encode("utf-8")


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError(f"{what} is not valid UTF-8") from None


def decode_action_frame(kind: int, rest: bytes) -> Action | Refused:
    """An ACTION or REFUSED frame's fields after its 3-byte head."""
    if kind == REFUSED_KIND:
        if len(rest) < _REFUSED_HEAD.size:
            raise RemoteProtocolError("refused frame is shorter than its fixed fields")
        msg_id, code = _REFUSED_HEAD.unpack_from(rest)
        return Refused(msg_id, code, _utf8(rest[_REFUSED_HEAD.size :], "refusal text"))
    if len(rest) < _ACTION_HEAD.size:
        raise RemoteProtocolError("action frame is shorter than its fixed fields")
    msg_id, floor, raw_kind, target = _ACTION_HEAD.unpack_from(rest)
    try:
        action_kind = ActionKind(raw_kind)
    except ValueError:
        raise RemoteProtocolError(f"unknown action {raw_kind}") from None
    if floor > msg_id:
        raise RemoteProtocolError("action floor is above its own id")
    if (target != 0) != (action_kind in _TARGETED):
        raise RemoteProtocolError(f"{action_kind.name.lower()} {'needs' if target == 0 else 'takes no'} target")
    text = _utf8(rest[_ACTION_HEAD.size :], "action text")
    if action_kind in _NEEDS_TEXT and not text:
        raise RemoteProtocolError(f"{action_kind.name.lower()} has no text")
    if action_kind is ActionKind.DELETE and text:
        raise RemoteProtocolError("delete carries text")
    if action_kind in (ActionKind.REACT, ActionKind.UNREACT) and (
        len(text.encode("utf-8")) > MAX_EMOJI_BYTES or any(ch.isspace() for ch in text)
    ):
        raise RemoteProtocolError(f"a reaction is one emoji of at most {MAX_EMOJI_BYTES} bytes")
    if action_kind is ActionKind.TOPIC and len(text.encode("utf-8")) > MAX_TOPIC_BYTES:
        raise RemoteProtocolError(f"a topic is at most {MAX_TOPIC_BYTES} bytes")
    return Action(msg_id, action_kind, target, text, floor)


# --- the events' text: JSON objects ---------------------------------------------------------


@dataclass(frozen=True)
class ReplyText:
    """A REPLY event: `text` answers the message at room position `to`."""

    to: int
    text: str


@dataclass(frozen=True)
class ReactionText:
    """A REACTION event: the event's member added (`on`) or took back an emoji on message `to`."""

    to: int
    emoji: str
    on: bool


@dataclass(frozen=True)
class EditText:
    """An EDITED event: message `to` now reads `text`."""

    to: int
    text: str


@dataclass(frozen=True)
class DeleteText:
    """A DELETED event: message `to` is gone; `by_host` when the host took someone else's."""

    to: int
    by_host: bool


def _dumps(fields: dict) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def encode_reply_text(value: ReplyText) -> str:
    return _dumps({"to": value.to, "text": value.text})


def encode_reaction_text(value: ReactionText) -> str:
    return _dumps({"to": value.to, "emoji": value.emoji, "on": value.on})


def encode_edit_text(value: EditText) -> str:
    return _dumps({"to": value.to, "text": value.text})


def encode_delete_text(value: DeleteText) -> str:
    return _dumps({"to": value.to, "by_host": value.by_host})


def _fields(text: str, what: str) -> dict:
    try:
        fields = loads_json(text)
    except (ValueError, RecursionError):
        raise RemoteProtocolError(f"{what} event text is not JSON") from None
    if not isinstance(fields, dict):
        raise RemoteProtocolError(f"{what} event text is not an object")
    to = fields.get("to")
    if not isinstance(to, int) or isinstance(to, bool) or not 0 < to < 1 << 32:
        raise RemoteProtocolError(f"{what} event names no message")
    return fields


def _string(fields: dict, key: str, what: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str):
        raise RemoteProtocolError(f"{what} event has no '{key}' text")
    return value


def _flag(fields: dict, key: str, what: str) -> bool:
    value = fields.get(key)
    if not isinstance(value, bool):
        raise RemoteProtocolError(f"{what} event has no '{key}' flag")
    return value


def decode_reply_text(text: str) -> ReplyText:
    fields = _fields(text, "reply")
    return ReplyText(fields["to"], _string(fields, "text", "reply"))


def decode_reaction_text(text: str) -> ReactionText:
    fields = _fields(text, "reaction")
    emoji = _string(fields, "emoji", "reaction")
    if not emoji or len(emoji.encode("utf-8")) > MAX_EMOJI_BYTES:
        raise RemoteProtocolError("reaction event's emoji is empty or too long")
    return ReactionText(fields["to"], emoji, _flag(fields, "on", "reaction"))


def decode_edit_text(text: str) -> EditText:
    fields = _fields(text, "edit")
    return EditText(fields["to"], _string(fields, "text", "edit"))


def decode_delete_text(text: str) -> DeleteText:
    fields = _fields(text, "delete")
    return DeleteText(fields["to"], _flag(fields, "by_host", "delete"))
