"""JSON answers over TCRP: the SYNC snapshot of a room and the LIST of rooms."""

from __future__ import annotations

from dataclasses import dataclass

from ocm_core.errors import RemoteProtocolError
from ocm_core.wire.datagram import Event, event_from_json
from ocm_core.wire.jsontext import decode_json_object

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
        answer["seq"],
        answer["udp_port"],
        answer["host"],
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
