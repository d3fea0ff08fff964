"""Abuse from many addresses and forged sources: the reply-size bound, the rooms-per-address
cap and the fair password queue. Registry cases on a fake clock; the rest on real sockets."""

from __future__ import annotations

import pytest

from ocm_core import protocol as p
from ocm_core.rooms import RoomRegistry

from support import FakeClock

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
    print(f"\nforged RESEND of {len(request)} bytes: {reply_bytes(proven, EVE)} bytes to a proven address, "
          f"{reply_bytes(out, victim)} to an unproven one")
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
    total = sum(reply_bytes(send(registry, eve, p.encode_resend((2, 65)), EVE), EVE) for _ in range(limits.resend_burst))
    assert total <= limits.reply_bytes_burst
    clock.now += 1.0
    one_second = sum(reply_bytes(send(registry, eve, p.encode_resend((2, 65)), EVE), EVE) for _ in range(10))
    assert one_second <= limits.reply_bytes_per_second + p.MAX_DATAGRAM
