"""JSON answers over TCRP: the SYNC snapshot of a room and the LIST of rooms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocm_core.errors import RemoteProtocolError
from ocm_core.wire.datagram import Event, event_from_json
from ocm_core.wire.jsontext import decode_json_object
from ocm_core.wire.tcrp import decode_direct_key

# --- the SYNC answer and the room list (JSON over TCRP) ------------------------------

ROOM_ID = re.compile(r"[0-9a-f]{32}")  # a room id: 32 lowercase hex digits (16 random bytes)


def _room_id(answer: dict, where: str) -> str:
    """The `room_id` field: absent (an older server) is "", anything but 32 hex digits is
    refused, since a client may name what it keeps of a room by it."""
    value = answer.get("room_id", "")
    if not isinstance(value, str) or (value and not ROOM_ID.fullmatch(value)):
        raise RemoteProtocolError(f"{where} has a malformed 'room_id'")
    return value


def _standing(answer: dict, where: str) -> bool:
    value = answer.get("standing", False)
    if not isinstance(value, bool):
        raise RemoteProtocolError(f"{where} has a 'standing' that is not true or false")
    return value


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
    room_id: str = ""  # the room's id, new with every room made ("" from an older server)
    standing: bool = False  # held by the server itself: no host (host is ""), no one's leaving closes it
    keys: tuple[tuple[str, bytes], ...] = ()  # (member, its direct-message key) for each member that has one
    away: tuple[str, ...] = ()  # members who are away now (not stored: presence is only ever current)
    topic: str = ""  # the room's topic, set by its host ("" none)
    features: tuple[str, ...] = ()  # what the server takes beyond chat (wire.FEATURES); () from an older one


def decode_snapshot(payload: bytes) -> RoomSnapshot:
    answer = decode_json_object(payload)
    for key, kind in (("seq", int), ("udp_port", int), ("host", str), ("members", list), ("history", list)):
        if not isinstance(answer.get(key), kind):
            raise RemoteProtocolError(f"the room snapshot lacks '{key}'")
    return RoomSnapshot(
        answer["seq"],
        answer["udp_port"],
        answer["host"],
        tuple(str(m) for m in answer["members"]),
        tuple(event_from_json(item) for item in answer["history"]),
        tuple(str(m) for m in answer.get("plain", ()) if isinstance(answer.get("plain"), list)),
        _room_id(answer, "the room snapshot"),
        _standing(answer, "the room snapshot"),
        _keys(answer),
        tuple(str(m) for m in answer.get("away", ()) if isinstance(answer.get("away"), list)),
        answer["topic"] if isinstance(answer.get("topic"), str) else "",
        tuple(str(f) for f in answer.get("features", ()) if isinstance(answer.get("features"), list)),
    )


def _keys(answer: dict) -> tuple[tuple[str, bytes], ...]:
    """The `keys` object: member name -> base64url key. A key that is not one is left out
    (that member cannot be written to directly), never guessed at."""
    value = answer.get("keys", {})
    if not isinstance(value, dict):
        raise RemoteProtocolError("the room snapshot's 'keys' is not an object")
    keys = []
    for name, text in value.items():
        raw = decode_direct_key(text) if isinstance(text, str) else None
        if raw is not None:
            keys.append((str(name), raw))
    return tuple(keys)


@dataclass(frozen=True)
class RoomInfo:
    name: str
    members: int
    locked: bool
    host: str  # "" for a standing room
    room_id: str = ""  # "" from an older server, and in a broadcast answer (protocol.md 10.2)
    standing: bool = False


def decode_room_list(payload: bytes) -> list[RoomInfo]:
    rooms = decode_json_object(payload).get("rooms")
    if not isinstance(rooms, list):
        raise RemoteProtocolError("the room list is missing from the answer")
    try:
        return [
            RoomInfo(
                str(r["name"]),
                int(r["members"]),
                bool(r["locked"]),
                str(r["host"]),
                _room_id(r, "the room list"),
                _standing(r, "the room list"),
            )
            for r in rooms
        ]
    except (KeyError, TypeError, ValueError):
        raise RemoteProtocolError("the room list has a malformed entry") from None
