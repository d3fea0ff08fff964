"""A room's id (issue 26): one of its own from its making, in the store and on the wire; a room
made again under a closed one's name gets another; a restart keeps it; a schema-1 database
gives its rooms one each. Registry cases on a fake clock, stores in memory or in tmp files."""

from __future__ import annotations

import re
import sqlite3

import pytest
from support import FakeClock

from ocm_core import wire as p
from ocm_core.errors import RemoteProtocolError
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.storage.roomstore import SCHEMA_VERSION, RoomStore, StoredRoom
from ocm_core.wire import EventType

HEX32 = re.compile(r"[0-9a-f]{32}")
ALICE, BOB = ("10.0.0.1", 5001), ("10.0.0.2", 5002)


def send(registry, token, body, address, room="lobby"):
    return registry.handle_datagram(p.Datagram(room, token, body), address)


def room_id(registry, room):
    return next(r["room_id"] for r in registry.list_rooms() if r["name"] == room)


def test_every_room_gets_an_id_of_32_hex_digits_of_its_own_sent_in_the_snapshot_and_the_list():
    registry = RoomRegistry(clock=FakeClock())
    tokens = {room: registry.create_room(room, "alice", ALICE[0]) for room in ("lobby", "tea", "quiz")}
    ids = {room: room_id(registry, room) for room in tokens}
    assert all(HEX32.fullmatch(i) for i in ids.values()) and len(set(ids.values())) == 3
    snapshot = registry.snapshot(tokens["tea"], ALICE[0], "tea")
    assert (snapshot["room_id"], snapshot["standing"], snapshot["host"]) == (ids["tea"], False, "alice")
    decoded = p.decode_snapshot(p.encode_json({**snapshot, "udp_port": 9091}))
    assert (decoded.room_id, decoded.standing) == (ids["tea"], False)
    listed = p.decode_room_list(p.encode_json({"rooms": registry.list_rooms()}))
    assert [(r.name, r.room_id, r.standing) for r in listed] == [
        ("lobby", ids["lobby"], False),
        ("quiz", ids["quiz"], False),
        ("tea", ids["tea"], False),
    ]


def test_a_room_closed_and_made_again_under_its_name_gets_a_new_id():
    registry = RoomRegistry(clock=FakeClock())
    host = registry.create_room("lobby", "alice", ALICE[0])
    first = room_id(registry, "lobby")
    send(registry, host, p.encode_leave(), ALICE)  # the host left: the room closed
    registry.create_room("lobby", "alice", ALICE[0])
    assert room_id(registry, "lobby") != first


def test_ids_survive_a_registry_taken_up_again_from_the_same_store(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    first = RoomRegistry(clock=FakeClock(), store=store)
    host = first.create_room("lobby", "alice", ALICE[0])
    first.create_room("tea", "bob", BOB[0])
    ids = {room: room_id(first, room) for room in ("lobby", "tea")}
    store.close()

    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=FakeClock(), store=store)
    assert {room: room_id(again, room) for room in ("lobby", "tea")} == ids
    assert again.snapshot(host, ALICE[0], "lobby")["room_id"] == ids["lobby"]
    assert {r.name: r.room_id for r in store.rooms()} == ids
    store.close()


# The schema of a version-1 database, as the server before issue 26 made it.
V1_SCHEMA = """
CREATE TABLE rooms (name TEXT PRIMARY KEY, host TEXT NOT NULL, password_salt BLOB, password_hash BLOB);
CREATE TABLE members (
    token BLOB PRIMARY KEY, room TEXT NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
    name TEXT NOT NULL, ip TEXT NOT NULL, udp_host TEXT, udp_port INTEGER,
    plain_text INTEGER NOT NULL DEFAULT 0, wire INTEGER NOT NULL DEFAULT 0,
    replay_newest INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE events (
    room TEXT NOT NULL REFERENCES rooms(name) ON DELETE CASCADE, seq INTEGER NOT NULL,
    time_ms INTEGER NOT NULL, type INTEGER NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL,
    sender_token BLOB, msg_id INTEGER, PRIMARY KEY (room, seq)
);
INSERT INTO rooms VALUES ('lobby', 'ana', NULL, NULL), ('tea', 'bo', NULL, NULL);
INSERT INTO members VALUES (x'7431', 'lobby', 'ana', '10.0.0.1', '10.0.0.1', 5000, 0, 0, 0);
INSERT INTO members VALUES (x'7432', 'tea', 'bo', '10.0.0.2', '10.0.0.2', 5000, 0, 0, 0);
INSERT INTO events VALUES ('lobby', 1, 1700000000000, 1, 'ana', 'kept words', x'7431', 1);
PRAGMA user_version=1;
"""


def test_a_version_1_database_gives_each_room_a_fresh_id_once_and_keeps_everything_else(tmp_path):
    path = tmp_path / "server.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
    store = RoomStore(path)
    rooms = store.rooms()
    assert [(r.name, r.host, r.standing) for r in rooms] == [("lobby", "ana", False), ("tea", "bo", False)]
    assert all(HEX32.fullmatch(r.room_id) for r in rooms) and rooms[0].room_id != rooms[1].room_id
    assert [(e.seq, e.text) for e in store.events("lobby", 10)] == [(1, "kept words")]
    assert [m.name for m in store.members()] == ["ana", "bo"]
    registry = RoomRegistry(clock=FakeClock(), store=store)
    assert registry.snapshot(b"t1", "10.0.0.1", "lobby")["room_id"] == rooms[0].room_id
    store.close()

    again = RoomStore(path)  # migrated once: the ids stay
    assert again.rooms() == rooms
    again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_the_store_keeps_a_standing_room_without_a_host_member(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    store.add_room(StoredRoom("lobby", "", None, None, "ab" * 16, True))
    store.lock_room("lobby", b"salt", b"hash")
    store.close()
    again = RoomStore(tmp_path / "server.db")
    assert again.rooms() == [StoredRoom("lobby", "", b"salt", b"hash", "ab" * 16, True)]
    assert again.members() == []
    again.close()


# --- on the wire: tolerant of an older server, strict on a wrong type ----------------------

SNAPSHOT = {"seq": 1, "udp_port": 9091, "host": "", "members": ["a"], "history": []}
ENTRY = {"name": "lobby", "members": 1, "locked": False, "host": ""}


def test_an_older_servers_snapshot_and_list_have_no_id_and_nothing_standing():
    snapshot = p.decode_snapshot(p.encode_json(SNAPSHOT))
    assert (snapshot.room_id, snapshot.standing) == ("", False)
    [room] = p.decode_room_list(p.encode_json({"rooms": [ENTRY]}))
    assert (room.room_id, room.standing) == ("", False)
    standing = p.decode_snapshot(p.encode_json({**SNAPSHOT, "room_id": "0f" * 16, "standing": True}))
    assert (standing.room_id, standing.standing, standing.host) == ("0f" * 16, True, "")
    [listed] = p.decode_room_list(p.encode_json({"rooms": [{**ENTRY, "room_id": "0f" * 16, "standing": True}]}))
    assert listed == p.RoomInfo("lobby", 1, False, "", "0f" * 16, True)


@pytest.mark.parametrize(
    "field, value",
    [
        ("room_id", 5),
        ("room_id", None),
        ("room_id", "0F" * 16),  # upper case is not the form
        ("room_id", "0f" * 15),
        ("room_id", "0f" * 16 + "\n"),
        ("room_id", "../" * 11),  # a client may name files by it
        ("standing", "yes"),
        ("standing", 1),
        ("standing", None),
    ],
)
def test_a_malformed_id_or_standing_mark_is_the_servers_fault(field, value):
    with pytest.raises(RemoteProtocolError, match=f"the room snapshot has .*'{field}'"):
        p.decode_snapshot(p.encode_json({**SNAPSHOT, field: value}))
    with pytest.raises(RemoteProtocolError, match=f"the room list has .*'{field}'"):
        p.decode_room_list(p.encode_json({"rooms": [{**ENTRY, field: value}]}))


def test_a_broadcast_answer_marks_a_standing_room_and_carries_no_id():
    probe = p.Probe(b"\x01" * 8, 200)
    summary = p.ServerAnnouncement(9090, 9091, 2, True, "desk", "")
    rooms = [p.RoomInfo("lobby", 0, True, "", "0f" * 16, True), p.RoomInfo("tea", 2, False, "ana")]
    answer = p.encode_answer(probe, summary, rooms)
    lobby_flags = answer[answer.index(b"\x05lobby") + 6 + 2]
    assert lobby_flags == p.ROOM_LOCKED | p.ROOM_STANDING
    assert p.decode_answer(answer).rooms == (
        p.RoomInfo("lobby", 0, True, "", "", True),
        p.RoomInfo("tea", 2, False, "ana"),
    )


def test_the_closing_event_of_a_standing_room_names_no_one():
    registry = RoomRegistry(clock=FakeClock())
    registry.open_standing_room("lobby")
    token, _ = registry.join_room("lobby", "ana", ALICE[0])
    send(registry, token, p.encode_heartbeat(0), ALICE)
    [(to, data)] = registry.close_all()
    event = p.decode_body(p.decode_datagram(data).body)
    assert to == ALICE and (event.event_type, event.name, event.text) == (EventType.CLOSED, "", "the server stopped")
