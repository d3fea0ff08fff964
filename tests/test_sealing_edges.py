"""Sealed datagrams (ocm_core/crypto/sealed.py) at their edges: why a datagram that does not open
was dropped, as the member's log says it, and a nonce our sealer never uses. The datagrams a
peer would forge are made with the `cryptography` library's AES-GCM, under keys the test chose."""

from __future__ import annotations

import logging

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ocm_core import wire as p
from ocm_core.crypto.sealed import OpenFailed, SealedChannel
from ocm_core.sansio.session import ClientSession

KEY = bytes(range(32))
HEADER = p.datagram_header(b"room", b"")


def member_session() -> tuple[ClientSession, SealedChannel]:
    """A sealed member's session in a room, and the server's channel for it."""
    session = ClientSession("room", "me", b"tok", channel=SealedChannel.for_client(KEY))
    session.apply_snapshot(p.RoomSnapshot(0, 9091, "bob", ("bob", "me"), (), ()), 1000.0)
    return session, SealedChannel.for_server(KEY, 1)


def replayed(server: SealedChannel, session: ClientSession) -> bytes:
    datagram = server.seal(HEADER, p.encode_status_frame(0))
    session.receive(datagram, 1000.1)
    return datagram


def under_another_key(server: SealedChannel, session: ClientSession) -> bytes:
    return SealedChannel.for_server(bytes(32), 1).seal(HEADER, p.encode_status_frame(0))


def cut_short(server: SealedChannel, session: ClientSession) -> bytes:
    return HEADER + p.SEALED_PREFIX + bytes(p.SEAL_OVERHEAD - 2)


@pytest.mark.parametrize(
    "make, reason",
    [
        (replayed, "replayed or too old"),
        (under_another_key, "does not open under this member's key"),
        (cut_short, "sealed datagram is shorter than its nonce and tag"),
    ],
)
def test_the_member_log_says_why_a_datagram_was_dropped(caplog, make, reason):
    session, server = member_session()
    datagram = make(server, session)
    with caplog.at_level(logging.WARNING, logger="ocm_core.sansio.session"):
        session.receive(datagram, 1000.2)
    [line] = caplog.messages
    assert line.startswith("dropped 1 datagrams not genuinely from the server") and line.endswith(f"({reason})")
    assert session.dropped == 1


def forged(receive_key: bytes, counter: int, body: bytes) -> bytes:
    """A datagram sealed outside our code, as another implementation holding the key would."""
    nonce = bytes(4) + counter.to_bytes(8, "big")
    return HEADER + p.SEALED_PREFIX + nonce + AESGCM(receive_key).encrypt(nonce, body, HEADER)


def test_a_datagram_at_nonce_zero_is_refused_even_under_the_right_key():
    receive_key = bytes(range(100, 132))
    channel = SealedChannel(bytes(32), receive_key)
    with pytest.raises(OpenFailed) as refused:
        channel.open(HEADER, forged(receive_key, 0, b"zero")[len(HEADER) :])
    assert refused.value.reason == "replayed or too old"
    assert channel.open(HEADER, forged(receive_key, 1, b"one")[len(HEADER) :]) == b"one"


def test_a_window_resumed_at_its_own_newest_position_refuses_the_gaps_below_it():
    """Resuming means every position up to the one given was seen: one that never arrived
    before it may not open afterwards either."""
    client, server = SealedChannel.for_client(KEY), SealedChannel.for_server(KEY, 1)
    datagrams = [client.seal(HEADER, f"line {i}".encode()) for i in range(30)]  # positions 1 to 30
    assert server.open(HEADER, datagrams[29][len(HEADER) :]) == b"line 29"
    server.window.resume_after(30)
    with pytest.raises(OpenFailed) as refused:
        server.open(HEADER, datagrams[24][len(HEADER) :])
    assert refused.value.reason == "replayed or too old"
