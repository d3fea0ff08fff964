"""The registry over a store whose commits fail, on a fake clock: what cannot be stored is neither
relayed nor acknowledged, and memory stays as the disk has it (no sockets, no processes)."""

from __future__ import annotations

import logging

import pytest
from support import FakeClock

from ocm_core import wire as p
from ocm_core.errors import RegistryError
from ocm_core.sansio.durability import STORE_PROBE_SECONDS
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.relay import CANNOT_SAVE_TEXT
from ocm_core.storage.roomstore import RoomStore, StoreWriteError
from ocm_core.wire import ErrorCode, EventType, Status

HOST, GUEST = ("10.0.0.1", 5001), ("10.0.0.2", 5002)


class BreakableStore(RoomStore):
    """A real SQLite store whose commits fail while `full` is set, as they do on a full disk."""

    full = False

    def _commit(self) -> None:
        if self.full:
            self._db.rollback()
            raise StoreWriteError(self.path, "database or disk is full")
        super()._commit()


def send(registry, token, body, address):
    return registry.handle_datagram(p.Datagram("lobby", token, body), address)


def frames_to(outbound, address):
    return [p.decode_body(p.decode_datagram(data).body) for to, data in outbound if to == address]


@pytest.fixture
def room(tmp_path):
    clock = FakeClock()
    store = BreakableStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, wall_clock=lambda: 1_700_000_000.0, store=store)
    host = registry.create_room("lobby", "host", HOST[0])
    guest, _ = registry.join_room("lobby", "guest", GUEST[0])
    send(registry, host, p.encode_heartbeat(1), HOST)
    send(registry, guest, p.encode_heartbeat(1), GUEST)
    yield registry, store, clock, host, guest
    store.close()


def test_a_message_that_cannot_be_stored_is_neither_relayed_nor_acknowledged_and_its_sender_is_told(room, caplog):
    registry, store, clock, host, guest = room
    out = send(registry, guest, p.encode_chat(1, "stored"), GUEST)
    assert frames_to(out, GUEST) == [p.ChatAck(1, 2)]
    store.full = True
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the one line an operator must see: expected

    out = send(registry, guest, p.encode_chat(2, "lost if acknowledged"), GUEST)
    assert frames_to(out, HOST) == []
    [told] = frames_to(out, GUEST)
    assert told == p.ErrorFrame(ErrorCode.CANNOT_SAVE, CANNOT_SAVE_TEXT)
    # More messages and a retransmission: still nothing relayed or acknowledged, and no more lines.
    batch = [(p.Datagram("lobby", guest, p.encode_chat(i, f"m{i}", 2)), GUEST) for i in (2, 3, 4)]
    assert registry.handle_datagrams(batch) == []
    assert registry.snapshot(guest, GUEST[0], "lobby")["seq"] == 2  # the numbering did not move on
    failures = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(failures) == 1 and str(store.path) in failures[0].getMessage()
    with pytest.raises(
        RegistryError,
        match=r"^the server cannot save anything right now \(its disk is full or "
        r"failing\); try again later$",
    ) as caught:
        registry.join_room("lobby", "late", "10.0.0.3")
    assert caught.value.status is Status.CANNOT_SAVE

    store.full = False  # space is back: the next probe sees it, with no one's help
    clock.now += STORE_PROBE_SECONDS - 0.001
    registry.tick()
    assert registry.saving_fails  # not probed before its time
    clock.now += 0.001
    registry.tick()
    assert not registry.saving_fails
    out = send(registry, guest, p.encode_chat(2, "lost if acknowledged", 2), GUEST)
    assert frames_to(out, GUEST) == [p.ChatAck(2, 3)]
    [event] = frames_to(out, HOST)
    assert (event.seq, event.text) == (3, "lost if acknowledged")
    assert [r.getMessage() for r in caplog.records if r.name == "ocm_core.sansio.registry"] == [
        f"cannot write to the database {store.path} (database or disk is full); new messages and joins are refused, "
        f"and their senders told, until writing works again (checked every {STORE_PROBE_SECONDS:g} s)",
        f"the database {store.path} can be written again; messages are accepted again",
    ]


def test_plain_text_and_leaving_wait_while_the_database_fails(room, caplog):
    registry, store, clock, host, guest = room
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the outage line is expected
    store.full = True
    send(registry, guest, p.encode_chat(1, "x"), GUEST)  # finds out that the disk is full
    assert send(registry, guest, b"bare text", GUEST) == []  # a bare-text client reads no error frames
    assert send(registry, guest, p.encode_leave(), GUEST) == []  # it times out once the disk is back
    assert registry.members("lobby") == ["guest", "host"]
    assert (registry.dropped["cannot save"], registry.dropped["leave while the database fails"]) == (2, 1)


def test_a_batch_whose_commit_fails_leaves_memory_as_the_disk_has_it(room, tmp_path, caplog):
    registry, store, clock, host, guest = room
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the outage line is expected
    store.full = True
    # The first datagram is handled while the store still seems fine: only the commit fails.
    out = registry.handle_datagrams(
        [
            (p.Datagram("lobby", guest, p.encode_chat(1, "one")), GUEST),
            (p.Datagram("lobby", guest, p.encode_chat(2, "two")), GUEST),
        ]
    )
    assert [type(f) for f in frames_to(out, GUEST)] == [p.ErrorFrame]
    assert frames_to(out, HOST) == []
    # A retransmission is not taken for a duplicate of a message that never reached the disk.
    store.full = False
    clock.now += STORE_PROBE_SECONDS
    registry.tick()
    out = send(registry, guest, p.encode_chat(1, "one"), GUEST)
    assert frames_to(out, GUEST) == [p.ChatAck(1, 2)]
    store.close()  # one server per file: this one steps aside for the reopening
    reopened = RoomRegistry(store=RoomStore(tmp_path / "server.db"))
    assert reopened.snapshot(guest, GUEST[0], "lobby")["seq"] == 2
    reopened._store.close()


def test_members_are_not_timed_out_while_their_leaving_cannot_be_stored(room, caplog):
    registry, store, clock, host, guest = room
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the outage line is expected
    store.full = True
    send(registry, guest, p.encode_chat(1, "x"), GUEST)  # finds out that the disk is full
    clock.now += registry.member_timeout + 1
    registry.tick()
    assert registry.members("lobby") == ["guest", "host"]
    store.full = False
    clock.now += STORE_PROBE_SECONDS
    registry.tick()  # the probe passes; the time-out is stored on the next tick
    registry.tick()
    assert registry.room_names() == []  # the host timed out too, so the room closed


def test_a_member_that_timed_out_comes_back_with_its_old_token_within_the_grace_period(room):
    registry, store, clock, host, guest = room
    send(registry, guest, p.encode_chat(1, "before"), GUEST)
    clock.now += registry.member_timeout + 1
    send(registry, host, p.encode_heartbeat(2), HOST)
    out = registry.tick()
    assert registry.members("lobby") == ["host"]
    assert [f.event_type for f in frames_to(out, HOST)] == [EventType.TIMED_OUT]
    with pytest.raises(RegistryError):  # a stranger cannot: the token is the proof
        registry.resume("lobby", "guest", "10.9.9.9", b"not-the-token")
    token, out, _ = registry.resume("lobby", "guest", "10.0.0.77", guest)  # another network, same laptop
    assert token == guest and registry.members("lobby") == ["guest", "host"]
    assert [f.event_type for f in frames_to(out, HOST)] == [EventType.JOINED]
    # It kept its message ids: a retransmission of what was relayed before is not relayed twice.
    out = send(registry, guest, p.encode_chat(1, "before"), ("10.0.0.77", 5002))
    assert frames_to(out, HOST) == [] and frames_to(out, ("10.0.0.77", 5002)) == [p.ChatAck(1, 2)]
    clock.now += registry.member_timeout + 1
    send(registry, host, p.encode_heartbeat(4), HOST)
    registry.tick()  # away again ...
    for _ in range(25):  # ... for longer than the grace period, while the host stays
        clock.now += 25
        send(registry, host, p.encode_heartbeat(4), HOST)
        registry.tick()
    with pytest.raises(
        RegistryError, match="you were away a long time, or the server restarted; join the room again"
    ):  # past the grace period
        registry.resume("lobby", "guest", "10.0.0.77", guest)


def test_a_member_whose_room_closed_is_told_the_room_is_gone_not_to_join_again(room):
    registry, store, clock, host, guest = room
    send(registry, host, p.encode_leave(), HOST)  # the host closes the room while the guest's network is dark
    with pytest.raises(RegistryError, match="the host closed the room") as refused:
        registry.resume("lobby", "guest", "10.0.0.77", guest)
    assert refused.value.status is Status.NO_SUCH_ROOM  # the client then says "room closed", not "rejoin"


def test_a_file_whose_event_cannot_be_stored_is_not_announced(room, caplog):
    registry, store, clock, host, guest = room
    info = p.FileInfo("0123456789abcdef", "a.txt", 3, "text/plain")
    out = registry.share_file(guest, info)
    assert [f.event_type for f in frames_to(out, HOST) + frames_to(out, GUEST)] == [p.EventType.FILE] * 2
    store.full = True
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the outage's one line: expected
    with pytest.raises(RegistryError) as caught:
        registry.share_file(guest, info)
    assert caught.value.status is Status.CANNOT_SAVE
    with pytest.raises(RegistryError) as caught:  # and again while the outage lasts, without trying the disk
        registry.share_file(host, info)
    assert caught.value.status is Status.CANNOT_SAVE
    assert (
        registry.snapshot(guest, GUEST[0], "lobby")["seq"] == 2
    )  # the guest joined (1), the first file (2); nothing after
