"""Discovery's bytes and decisions without sockets: the TXT record, the probe and its answer
(never larger than the probe), the answer limiter, broadcast targets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocm_core import wire as p
from ocm_core.errors import ProtocolError, RemoteProtocolError
from ocm_core.net import discovery as d
from ocm_core.wire import RoomInfo, ServerAnnouncement

NONCE = b"\x01\x02\x03\x04\x05\x06\x07\x08"


SUMMARY = ServerAnnouncement(9090, 9091, 2, True, "desk", "ab12-cd34")


def test_txt_round_trip_and_bytes():
    txt = p.encode_txt(SUMMARY)
    assert txt == {b"v": b"1", b"udp": b"9091", b"rooms": b"2", b"locked": b"1", b"host": b"desk", b"fp": b"ab12-cd34"}
    assert p.decode_txt(txt, 9090) == SUMMARY
    assert b"fp" not in p.encode_txt(ServerAnnouncement(9090, 9091, 0, False, "desk"))
    # Ports at their limits: 1 and 65535 are ports, 0 and 65536 are not.
    found = p.decode_txt({**txt, b"udp": b"1"}, 65535)
    assert (found.tcp_port, found.udp_port) == (65535, 1)
    for tcp_port in (0, 65536):
        with pytest.raises(RemoteProtocolError, match="^TCP port .* is not a port number$"):
            p.decode_txt(txt, tcp_port)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({b"v": b"2"}, "version"),
        ({b"udp": b"70000"}, "udp"),
        ({b"udp": b"0"}, "port"),
        ({b"rooms": b"-1"}, "rooms"),
        ({b"locked": b"yes"}, "locked"),
        ({b"host": b"\xff"}, "UTF-8"),
        ({b"udp": None}, "udp"),
        ({b"fp": b"x" * 65}, "fingerprint"),
        ({b"host": b"x" * 256}, "host"),
        ({b"rooms": "１".encode()}, "rooms"),
    ],
)
def test_txt_malformed_is_rejected(change, reason):
    txt = {**p.encode_txt(SUMMARY), **change}
    with pytest.raises(RemoteProtocolError, match=reason):
        p.decode_txt(txt, 9090)


def test_txt_oversized_is_refused_locally():
    with pytest.raises(ProtocolError):
        p.encode_txt(ServerAnnouncement(9090, 9091, 0, False, "x" * 260))


def test_probe_bytes():
    probe = p.encode_probe(NONCE, 64)
    assert probe == b"OCMd\x01\x01" + NONCE + bytes(50)
    assert p.decode_probe(probe) == p.Probe(NONCE, 64)
    assert len(p.encode_probe(NONCE)) == p.PROBE_SIZE


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"OCMd\x01\x01" + NONCE + bytes(10), "at least 64"),
        (b"OCMd\x01\x01" + NONCE + bytes(1500), "at most"),
        (b"XXXX\x01\x01" + NONCE + bytes(50), "not an Online Chat"),
        (b"OCMd\x02\x01" + NONCE + bytes(50), "version"),
        (b"OCMd\x01\x02" + NONCE + bytes(50), "kind"),
        (b"OCMd", "at least"),
    ],
)
def test_probe_malformed_is_rejected(data, reason):
    with pytest.raises(RemoteProtocolError, match=reason):
        p.decode_probe(data)


def test_answer_bytes_and_round_trip():
    probe = p.Probe(NONCE, 64)
    rooms = [RoomInfo("雑談", 3, True, "ゆき")]
    answer = p.encode_answer(probe, SUMMARY, rooms)
    assert answer == (
        b"OCMd\x01\x02"
        + NONCE
        + b"\x23\x82\x23\x83\x02\x00\x01"
        + b"\x04desk"
        + b"\x09ab12-cd34"
        + b"\x06"
        + "雑談".encode()
        + b"\x00\x03\x01"
        + b"\x06"
        + "ゆき".encode()
    )
    decoded = p.decode_answer(answer)
    assert decoded.rooms == tuple(rooms) and not decoded.truncated
    assert decoded.announcement.machine == "desk" and decoded.announcement.fingerprint == "ab12-cd34"


@given(st.integers(p.MIN_PROBE_SIZE, p.MAX_PROBE_SIZE), st.integers(0, 120))
def test_answer_is_never_larger_than_the_probe(size, count):
    rooms = [RoomInfo(f"部屋{i:03}" * 5, i, i % 2 == 0, "ホスト" * 8) for i in range(count)]
    try:
        answer = p.encode_answer(p.Probe(NONCE, size), SUMMARY, rooms)
    except ProtocolError:
        assert size < 200  # only a probe too small for the fixed part is refused
        return
    assert len(answer) <= size
    decoded = p.decode_answer(answer)
    assert decoded.truncated == (len(decoded.rooms) < count)
    assert list(decoded.rooms) == rooms[: len(decoded.rooms)]


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_answer_truncated_or_padded_is_rejected(cut):
    answer = p.encode_answer(p.Probe(NONCE, 200), SUMMARY, [RoomInfo("a", 1, False, "b")])
    with pytest.raises(RemoteProtocolError):
        p.decode_answer(answer[:-cut])
    with pytest.raises(RemoteProtocolError, match="after the last room"):
        p.decode_answer(answer + b"\x00")


@given(st.binary(max_size=1500))
def test_random_bytes_never_crash_the_decoders(data):
    for decode in (p.decode_probe, p.decode_answer):
        try:
            decode(data)
        except ProtocolError:
            pass


def test_limiter_answers_a_few_a_second_per_address_and_in_all():
    limiter = d.AnswerLimiter(per_address=2.0, per_address_burst=4, total=10.0, total_burst=10)
    assert [limiter.allow("10.0.0.1", 100.0) for _ in range(6)] == [True] * 4 + [False] * 2
    assert limiter.allow("10.0.0.1", 100.5)  # one more token after half a second
    assert not limiter.allow("10.0.0.1", 100.5)
    others = [limiter.allow(f"10.0.1.{i}", 100.5) for i in range(20)]
    assert others.count(True) == 9  # the total bucket: 10 - 4, refilled to 10, - 1
    assert not limiter.allow("10.0.2.1", 100.5)
    assert limiter.allow("10.0.2.1", 101.0)


def test_limiter_remembers_a_bounded_number_of_addresses():
    limiter = d.AnswerLimiter(total=1e9, total_burst=10**9, max_addresses=3)
    for i in range(3):
        assert limiter.allow(f"10.0.0.{i}", 0.0)
    assert not limiter.allow("10.0.0.9", 0.0)  # every remembered address is still recent
    assert limiter.allow("10.0.0.9", 10.0)  # later their buckets are full again and forgotten


def test_directed_broadcasts():
    interfaces = [d.Interface("192.168.1.20", 24), d.Interface("10.7.3.4", 16)]
    assert d.broadcast_targets(interfaces, d.Scope()) == ["255.255.255.255", "192.168.1.255", "10.7.255.255"]
    assert d.broadcast_targets(d.usable_interfaces(d.Scope(loopback_only=True)), d.Scope(loopback_only=True)) == [
        "127.255.255.255"
    ]
