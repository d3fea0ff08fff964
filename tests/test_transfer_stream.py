"""The server's byte pipe for one transfer (ocm_core/net/transfers.py TransferStream) over a
socket pair: what the selector had already read comes first, no read returns more than asked,
every byte is counted, a peer that ends early or goes slower than the floor is told apart,
and one that goes quiet times out at the pace window when that is shorter than the idle limit."""

from __future__ import annotations

import socket
import threading

import pytest

from ocm_core.net.transfers import CHUNK, TooSlow, TransferStream
from ocm_core.sansio.pace import PaceFloor


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def test_bytes_the_selector_read_come_first_and_no_read_returns_more_than_asked(pair):
    ours, theirs = pair
    stream = TransferStream(ours, None, b"0123456789", idle_timeout=2)
    theirs.sendall(b"abcdef")
    assert stream.recv(4) == b"0123"
    assert stream.recv(100) == b"456789"  # what was pending, not more: the socket is read next time
    assert stream.recv(3) == b"abc"
    assert stream.recv(3) == b"def"
    assert stream.received == 16
    theirs.shutdown(socket.SHUT_WR)
    assert stream.recv(10) == b""


def test_a_read_that_brings_exactly_what_was_asked_is_handed_on_whole(pair):
    ours, theirs = pair
    stream = TransferStream(ours, None, b"", idle_timeout=2)
    theirs.sendall(b"x" * 10)
    assert stream.recv(10) == b"x" * 10
    theirs.sendall(b"y")
    assert stream.recv(1) == b"y" and stream.received == 11


def test_exactly_n_bytes_are_gathered_from_pieces_and_an_early_end_is_a_broken_connection(pair):
    ours, theirs = pair
    stream = TransferStream(ours, None, b"ab", idle_timeout=2)
    theirs.sendall(b"cd")
    assert stream.recv_exactly(4) == b"abcd"
    theirs.sendall(b"ef")
    theirs.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionError, match="^the peer closed the connection early$"):
        stream.recv_exactly(3)


def test_everything_sent_arrives_and_closing_ends_the_peers_stream(pair):
    ours, theirs = pair
    stream = TransferStream(ours, None, b"", idle_timeout=2)
    data = bytes(range(256)) * (3 * CHUNK // 256)
    received = bytearray()

    def read_all():
        while chunk := theirs.recv(1 << 16):
            received.extend(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    stream.sendall(data)
    stream.close()
    reader.join(5)
    assert bytes(received) == data


def test_a_transfer_slower_than_the_floor_is_given_up_with_its_figures(pair):
    ours, theirs = pair
    clock = [0.0]
    pace = PaceFloor(0.0, min_rate=100, window=10)
    stream = TransferStream(ours, None, b"", idle_timeout=30, pace=pace, clock=lambda: clock[0])
    theirs.sendall(b"x" * 10)
    assert stream.recv(10) == b"x" * 10  # within the first window: fine
    clock[0] = 10.0
    theirs.sendall(b"y" * 10)
    with pytest.raises(TooSlow, match="^moved less than 100 bytes a second over 10 s$"):
        stream.recv(10)  # 20 bytes in 10 s, when 1,000 were the least


def test_a_quiet_peer_times_out_at_the_pace_window_when_it_is_shorter(pair):
    ours, theirs = pair
    stream = TransferStream(ours, None, b"", idle_timeout=30, pace=PaceFloor(0.0, window=0.2))
    with pytest.raises(TimeoutError):
        stream.recv(10)
    quiet = TransferStream(ours, None, b"", idle_timeout=0.2)
    with pytest.raises(TimeoutError):
        quiet.recv(10)
