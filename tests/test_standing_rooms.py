"""Standing rooms in the registry (ocm-server --room; docs/standing-rooms.md): the server holds
them, nobody is their host, no one's leaving or silence closes them, a stop lets their members
go but keeps them in the store, and a start that does not name one ends it. Fake clock, no
sockets; stores in tmp files."""

from __future__ import annotations

import logging

import pytest
from support import FakeClock
from test_registry_durability import BreakableStore

from ocm_core import wire as p
from ocm_core import words
from ocm_core.errors import RegistryError
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Limits
from ocm_core.storage.roomstore import RoomStore
from ocm_core.wire import EventType, Status

ANA, BO, CY = ("10.0.0.1", 5001), ("10.0.0.2", 5002), ("10.0.0.3", 5003)
WALL = 1_700_000_000.0


def send(registry, token, body, address, room="lobby"):
    return registry.handle_datagram(p.Datagram(room, token, body), address)


def frames_to(outbound, address):
    return [p.decode_body(p.decode_datagram(data).body) for to, data in outbound if to == address]


def joined(registry, name, address, room="lobby", password=None) -> bytes:
    token, _ = registry.join_room(room, name, address[0], password)
    send(registry, token, p.encode_heartbeat(0), address, room)
    return token


def status_of(call) -> Status:
    with pytest.raises(RegistryError) as refused:
        call()
    return refused.value.status


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def registry(clock):
    return RoomRegistry(member_timeout=30.0, clock=clock, wall_clock=lambda: WALL)


def test_a_standing_room_has_no_host_is_listed_as_standing_and_its_snapshot_says_so(registry):
    room_id = registry.open_standing_room("lobby")
    assert registry.list_rooms() == [
        {"name": "lobby", "members": 0, "locked": False, "host": "", "room_id": room_id, "standing": True}
    ]
    ana = joined(registry, "ana", ANA)
    snapshot = registry.snapshot(ana, ANA[0], "lobby")
    assert (snapshot["host"], snapshot["standing"], snapshot["room_id"]) == ("", True, room_id)
    decoded = p.decode_snapshot(p.encode_json({**snapshot, "udp_port": 9091}))
    assert (decoded.host, decoded.standing, decoded.room_id) == ("", True, room_id)
    assert registry.standing_rooms() == ["lobby"]


def test_no_member_of_a_standing_room_is_its_host_and_the_first_leaving_closes_nothing(registry):
    registry.open_standing_room("lobby")
    ana, bo = joined(registry, "ana", ANA), joined(registry, "bo", BO)
    assert not any(member.is_host for member in registry._rooms["lobby"].members.values())
    out = send(registry, ana, p.encode_leave(), ANA)  # the first to come goes first
    [event] = [f for f in frames_to(out, BO) if isinstance(f, p.Event)]
    assert (event.event_type, event.name) == (EventType.LEFT, "ana")
    out = send(registry, bo, p.encode_leave(), BO)
    assert registry.list_rooms()[0]["members"] == 0 and registry.room_names() == ["lobby"]
    assert [f for f in frames_to(out, BO) if isinstance(f, p.Event) and f.event_type is EventType.CLOSED] == []


def test_an_empty_standing_room_stays_through_many_ticks_past_the_member_timeout(registry, clock):
    room_id = registry.open_standing_room("lobby")
    joined(registry, "ana", ANA)
    for _ in range(40):  # 20 member timeouts, the one member timed out along the way
        clock.now += 15.0
        registry.tick()
    assert registry.list_rooms() == [
        {"name": "lobby", "members": 0, "locked": False, "host": "", "room_id": room_id, "standing": True}
    ]
    assert joined(registry, "bo", BO)  # and it still takes people in


def test_a_locked_standing_room_refuses_no_password_and_a_wrong_one(registry):
    registry.open_standing_room("secret", "open sesame")
    assert registry.list_rooms()[0]["locked"] is True
    assert status_of(lambda: registry.join_room("secret", "ana", ANA[0])) is Status.PASSWORD_REQUIRED
    assert status_of(lambda: registry.join_room("secret", "ana", ANA[0], "open says me")) is Status.WRONG_PASSWORD
    assert registry.join_room("secret", "bo", BO[0], "open sesame")[0]


def test_a_standing_room_takes_no_name_a_person_hosts_and_a_person_none_it_holds(registry):
    registry.create_room("tea", "ana", ANA[0])
    for name in ("tea", "TEA", "ｔｅａ"):  # the same, or read as the same
        with pytest.raises(RegistryError, match="hosted by 'ana'") as refused:
            registry.open_standing_room(name)
        assert refused.value.status is Status.ROOM_EXISTS
    registry.open_standing_room("lobby")
    assert status_of(lambda: registry.create_room("Lobby", "bo", BO[0])) is Status.ROOM_EXISTS
    assert status_of(lambda: registry.open_standing_room("LOBBY")) is Status.ROOM_EXISTS
    assert status_of(lambda: registry.open_standing_room("lob\u200bby")) is Status.BAD_REQUEST
    assert status_of(lambda: registry.open_standing_room("")) is Status.BAD_REQUEST


def test_standing_rooms_do_not_count_as_hosted_from_any_address(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(max_rooms_per_address=1))
    registry.open_standing_room("lobby")
    registry.join_room("lobby", "ana", ANA[0])
    assert registry.create_room("tea", "ana", ANA[0])  # ana's one room is her own, not the lobby


def test_a_person_hosted_room_still_closes_when_its_host_leaves(registry):
    registry.open_standing_room("lobby")
    host = registry.create_room("tea", "ana", ANA[0])
    bo = joined(registry, "bo", BO, room="tea")
    out = send(registry, host, p.encode_leave(), ANA, room="tea")
    [closed] = [f for f in frames_to(out, BO) if isinstance(f, p.Event)]
    assert (closed.event_type, closed.text) == (EventType.CLOSED, words.HOST_CLOSED)
    assert registry.room_names() == ["lobby"] and bo not in registry._tokens


def test_close_all_lets_a_standing_rooms_members_go_but_the_store_keeps_it_and_its_history(tmp_path, clock):
    store = RoomStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, wall_clock=lambda: WALL, store=store)
    room_id = registry.open_standing_room("lobby")
    ana = joined(registry, "ana", ANA)
    send(registry, ana, p.encode_chat(1, "still here tomorrow"), ANA)
    registry.create_room("tea", "bo", BO[0])
    out = registry.close_all()
    [closed] = frames_to(out, ANA)
    assert (closed.event_type, closed.name, closed.text) == (EventType.CLOSED, "", words.SERVER_STOPPED)
    assert registry.room_names() == [] and registry.member_count() == 0
    assert [(r.name, r.room_id, r.standing) for r in store.rooms()] == [("lobby", room_id, True)]
    assert store.members() == []
    store.close()

    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, wall_clock=lambda: WALL, store=store)
    assert again.open_standing_room("lobby") == room_id
    cy = joined(again, "cy", CY)
    history = again.snapshot(cy, CY[0], "lobby")["history"]
    assert [(h["name"], h["text"]) for h in history if h["type"] == EventType.CHAT] == [("ana", "still here tomorrow")]
    assert again.snapshot(cy, CY[0], "lobby")["room_id"] == room_id
    store.close()


def test_a_standing_room_kept_with_its_members_through_a_restart_is_not_closed_as_hostless(tmp_path, clock):
    """A stop that closes nothing (ocm-server with its database): the room comes back with its
    members, as a person's room does, and is not taken for a room whose host went away."""
    store = RoomStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, store=store)
    room_id = registry.open_standing_room("lobby")
    ana = joined(registry, "ana", ANA)
    store.close()

    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, store=store)
    assert again.end_standing_rooms(keep=["lobby"]) == []
    assert again.open_standing_room("lobby") == room_id
    assert again.members("lobby") == ["ana"] and again.snapshot(ana, ANA[0], "lobby")["standing"] is True
    store.close()


def test_a_standing_room_not_named_at_a_start_ends_with_its_history_and_its_members_are_told(tmp_path, clock, caplog):
    store = RoomStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, store=store)
    registry.open_standing_room("lobby")
    registry.open_standing_room("old")
    ana = joined(registry, "ana", ANA, room="old")
    send(registry, ana, p.encode_chat(1, "words"), ANA, room="old")
    store.close()

    caplog.set_level(logging.INFO, logger="ocm_core.sansio.registry")
    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, store=store)
    out = again.end_standing_rooms(keep=["lobby"])
    [closed] = frames_to(out, ANA)  # ana's address came back from the store
    assert (closed.event_type, closed.text) == (EventType.CLOSED, words.STANDING_ROOM_ENDED)
    assert again.room_names() == ["lobby"] and [r.name for r in store.rooms()] == ["lobby"]
    assert store.events("old", 10) == [] and store.members() == []
    assert any("'old' is not named at this start" in r.getMessage() for r in caplog.records)
    store.close()


def test_a_standing_rooms_password_follows_the_start_that_names_it(tmp_path, clock):
    store = RoomStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, store=store)
    room_id = registry.open_standing_room("lobby", "first")
    store.close()

    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, store=store)
    assert again.open_standing_room("lobby", "second") == room_id
    assert status_of(lambda: again.join_room("lobby", "ana", ANA[0], "first")) is Status.WRONG_PASSWORD
    assert again.join_room("lobby", "bo", BO[0], "second")[0]
    assert again.open_standing_room("lobby") == room_id  # no password: open
    assert again.join_room("lobby", "cy", CY[0])[0]
    store.close()


def test_on_a_full_disk_a_standing_room_named_as_before_is_held_again_and_a_change_is_refused(tmp_path, clock):
    store = BreakableStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, store=store)
    room_id = registry.open_standing_room("lobby", "pw")
    store.close()

    store = BreakableStore(tmp_path / "server.db")
    store.full = True
    again = RoomRegistry(clock=clock, store=store)
    assert again.open_standing_room("lobby", "pw") == room_id  # the same password: nothing to write
    assert status_of(lambda: again.open_standing_room("lobby", "changed")) is Status.CANNOT_SAVE
    assert status_of(lambda: again.open_standing_room("new")) is Status.CANNOT_SAVE
    assert again.room_names() == ["lobby"] and again.is_locked("lobby")
    store.close()


def test_a_changed_password_is_the_one_the_store_keeps(tmp_path, clock):
    store = RoomStore(tmp_path / "server.db")
    RoomRegistry(clock=clock, store=store).open_standing_room("lobby", "first")
    store.close()
    store = RoomStore(tmp_path / "server.db")
    RoomRegistry(clock=clock, store=store).open_standing_room("lobby", "second")
    store.close()
    store = RoomStore(tmp_path / "server.db")  # read back as stored, without naming it again
    loaded = RoomRegistry(clock=clock, store=store)
    assert loaded.standing_rooms() == ["lobby"]
    assert status_of(lambda: loaded.join_room("lobby", "ana", ANA[0], "first")) is Status.WRONG_PASSWORD
    assert loaded.join_room("lobby", "bo", BO[0], "second")[0]
    store.close()


def test_standing_rooms_are_listed_by_name_and_an_ended_ones_members_hear_why(tmp_path, clock):
    registry = RoomRegistry(clock=clock)
    for name in ("zebra", "Apple", "mango"):
        registry.open_standing_room(name)
    assert registry.standing_rooms() == ["Apple", "mango", "zebra"]
    token = joined(registry, "ana", ANA, room="mango")
    assert token
    outbound = registry.end_standing_rooms(keep={"Apple", "zebra"})
    closed = [f for f in frames_to(outbound, ANA) if isinstance(f, p.Event) and f.event_type is EventType.CLOSED]
    assert closed and closed[0].text == words.STANDING_ROOM_ENDED
    assert registry.standing_rooms() == ["Apple", "zebra"]
