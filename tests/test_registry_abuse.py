"""The registry's limits against abuse, on a fake clock: forged resends, reply budgets, repeated
joins, silent members, bursts after a gap, bounded queues and log lines (no sockets)."""

from __future__ import annotations

import pytest
from support import FakeClock

from ocm_core import wire as p
from ocm_core.errors import RegistryError
from ocm_core.sansio.fairqueue import FairQueue, QueueFull
from ocm_core.sansio.joining import ADMIT_SECONDS
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.wire import Status

ALICE, EVE = ("10.0.0.1", 5001), ("10.0.0.66", 6001)


def send(registry, token, body, address):
    return registry.handle_datagram(p.Datagram("lobby", token, body), address)


@pytest.fixture
def busy_room():
    """A room with 64 near-full-size messages; eve is caught up and proven at EVE."""
    clock = FakeClock()
    registry = RoomRegistry(clock=clock, wall_clock=lambda: 1_700_000_000.0)
    alice = registry.create_room("lobby", "alice", ALICE[0])
    eve, _ = registry.join_room("lobby", "eve", EVE[0])
    send(registry, alice, p.encode_heartbeat(1), ALICE)
    send(registry, eve, p.encode_heartbeat(1), EVE)
    for i in range(64):
        clock.now += 0.05
        send(registry, alice, p.encode_chat(i + 1, "x" * 3900), ALICE)
    send(registry, eve, p.encode_heartbeat(65), EVE)
    return registry, clock, alice, eve


def reply_bytes(out, address):
    return sum(len(data) for to, data in out if to == address)


def test_a_forged_resend_from_an_unproven_address_draws_at_most_one_event(busy_room):
    registry, clock, alice, eve = busy_room
    request = p.encode_datagram(b"lobby", eve, p.encode_resend((2, 65)))
    proven = send(registry, eve, p.encode_resend((2, 65)), EVE)
    assert len(proven) == 64  # a proven address gets the whole answer

    victim = (EVE[0], 9999)  # the same IP, any port: the source a forger can claim
    clock.now += 1
    out = send(registry, eve, p.encode_resend((2, 65)), victim)
    assert len(out) <= 1 and reply_bytes(out, victim) <= p.MAX_DATAGRAM
    print(
        f"\nforged RESEND of {len(request)} bytes: {reply_bytes(proven, EVE)} bytes to a proven address, "
        f"{reply_bytes(out, victim)} to an unproven one"
    )
    # The server's own retransmits to that address are held to one event each time too.
    clock.now += 0.1
    send(registry, alice, p.encode_chat(65, "y" * 3900), ALICE)
    clock.now += 5
    assert len([1 for to, _ in registry.tick() if to == victim]) <= 1
    # Acknowledging what was sent there proves it, and the full answers come back.
    send(registry, eve, p.encode_heartbeat(66), victim)
    clock.now += 1
    assert len(send(registry, eve, p.encode_resend((2, 65)), victim)) == 64


def test_a_proven_member_is_held_to_its_reply_byte_budget(busy_room):
    registry, clock, alice, eve = busy_room
    limits = registry.limits
    total = sum(
        reply_bytes(send(registry, eve, p.encode_resend((2, 65)), EVE), EVE) for _ in range(limits.resend_burst)
    )
    assert total <= limits.reply_bytes_burst
    clock.now += 1.0
    one_second = sum(reply_bytes(send(registry, eve, p.encode_resend((2, 65)), EVE), EVE) for _ in range(10))
    assert one_second <= limits.reply_bytes_per_second + p.MAX_DATAGRAM


def test_password_queue_is_bounded_fair_and_says_when_to_try_again():
    status_payload = p.encode_status(Status.TRY_LATER, "many passwords for this room are being checked", 3)
    assert p.decode_status(status_payload) == (Status.TRY_LATER, "many passwords for this room are being checked")
    assert p.decode_retry_after(status_payload) == 3
    queue = FairQueue(per_key=2, total=3)
    queue.push("a", "10.0.0.1", 1)
    with pytest.raises(QueueFull):
        queue.push("b", "10.0.0.1", 2)  # one check per address at a time
    queue.push("a", "10.0.0.2", 3)
    with pytest.raises(QueueFull) as caught:
        queue.push("a", "10.0.0.3", 4)  # the room's budget
    assert caught.value.seconds >= 1
    queue.push("b", "10.0.0.4", 5)  # another room still gets in, and goes second
    assert [queue.pop()[1] for _ in range(3)] == [1, 5, 3]


def test_a_repeated_join_gets_the_same_token_and_one_notice():
    clock = FakeClock()
    registry = RoomRegistry(clock=clock)
    alice = registry.create_room("lobby", "alice", ALICE[0], request_id="c1")
    assert registry.create_room("lobby", "alice", ALICE[0], request_id="c1") == alice  # not ROOM_EXISTS
    send(registry, alice, p.encode_heartbeat(0), ALICE)
    token, out = registry.join_room("lobby", "bob", "10.0.0.2", request_id="j1")
    again, out_again = registry.join_room("lobby", "bob", "10.0.0.2", request_id="j1")
    assert again == token and out_again == [] and len(out) == 1
    with pytest.raises(RegistryError) as caught:  # another request (or address) for the name is refused as before
        registry.join_room("lobby", "bob", "10.0.0.2", request_id="j2")
    assert caught.value.status is Status.NAME_TAKEN


def test_a_member_whose_client_never_got_its_token_is_dropped_and_the_name_freed():
    clock = FakeClock()
    registry = RoomRegistry(clock=clock, member_timeout=30.0)
    alice = registry.create_room("lobby", "alice", ALICE[0])
    send(registry, alice, p.encode_heartbeat(0), ALICE)
    registry.join_room("lobby", "ghost", "10.0.0.2", request_id="lost answer")
    registry.join_room("lobby", "plain", "10.0.0.3")  # the assignment's client: no id, the usual timeout
    synced, _ = registry.join_room("lobby", "synced", "10.0.0.4", request_id="fine")
    registry.snapshot(synced, "10.0.0.4", "lobby")
    clock.now += ADMIT_SECONDS + 0.1
    send(registry, alice, p.encode_heartbeat(0), ALICE)
    registry.tick()
    assert registry.members("lobby") == ["alice", "plain", "synced"]
    registry.join_room("lobby", "ghost", "10.0.0.2", request_id="second try")  # the name is free again


def test_messages_written_during_a_gap_are_delivered_without_a_rate_warning():
    clock = FakeClock()
    registry = RoomRegistry(clock=clock)
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", "10.0.0.2")
    send(registry, alice, p.encode_heartbeat(0), ALICE)
    send(registry, bob, p.encode_heartbeat(0), ("10.0.0.2", 5002))
    clock.now += 10.0  # bob wrote 10 a second into a dead link, then it came back
    batch = [(p.Datagram("lobby", bob, p.encode_chat(i, f"m{i}", 1)), ("10.0.0.2", 5002)) for i in range(1, 101)]
    out = registry.handle_datagrams(batch)
    frames = [p.decode_body(p.decode_datagram(data).body) for to, data in out]
    assert not [f for f in frames if isinstance(f, p.ErrorFrame)]
    assert len([f for f in frames if isinstance(f, p.ChatAck)]) == 100
    # A flood is still a flood: what goes past the credit for the gap is held back.
    more = [(p.Datagram("lobby", bob, p.encode_chat(i, f"m{i}", 101)), ("10.0.0.2", 5002)) for i in range(101, 401)]
    frames = [p.decode_body(p.decode_datagram(data).body) for to, data in registry.handle_datagrams(more)]
    assert [f.code for f in frames if isinstance(f, p.ErrorFrame)] == [p.ErrorCode.RATE_LIMITED]


def test_a_repeated_log_line_is_written_once_per_interval_with_a_count(caplog):
    import logging

    from ocm_core.logutil import ThrottledLog

    clock = FakeClock()
    throttled = ThrottledLog(logging.getLogger("ocm_core.test"), 5.0, clock)
    caplog.set_level(logging.INFO, logger="ocm_core.test")
    for i in range(2656):
        clock.now += 20.0 / 2656
        throttled.log("moved", logging.INFO, "%r moved from %s to %s", "bob", i, i + 1)
    lines = [r.getMessage() for r in caplog.records]
    assert 4 <= len(lines) <= 5
    assert "more like it since the last report" in lines[-1]
