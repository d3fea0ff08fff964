"""Codec tests: bytes in, bytes out. No sockets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocm_core import protocol as p
from ocm_core.errors import ProtocolError


def test_tcrp_header_layout_matches_the_assignment():
    data = p.encode_tcrp(p.Operation.CREATE, p.State.REQUEST, "room", b"alice")
    assert data[:3] == bytes([4, 1, 0])
    assert data[3:32] == (5).to_bytes(29, "big")
    assert data[32:] == b"roomalice"


def test_tcrp_round_trip_with_japanese_room():
    data = p.encode_tcrp(p.Operation.JOIN, p.State.REQUEST, "雑談", "たろう".encode())
    message = p.decode_tcrp(data)
    assert message == p.TcrpMessage(p.Operation.JOIN, p.State.REQUEST, "雑談", "たろう".encode())
    assert data[0] == len("雑談".encode())  # sizes count UTF-8 bytes, not characters


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x04\x01\x00" + b"\x00" * 28, "32-byte header"),
        (bytes([4, 9, 0]) + bytes(29) + b"room", "unknown operation 9"),
        (bytes([4, 1, 7]) + bytes(29) + b"room", "unknown state 7"),
        (bytes([4, 1, 0]) + (3).to_bytes(29, "big") + b"room", "expected 7 bytes"),
        (bytes([0, 1, 0]) + bytes(29), "room name is empty"),
        (bytes([2, 1, 0]) + bytes(29) + b"\xff\xfe", "not valid UTF-8"),
        (bytes([3, 1, 0]) + bytes(29) + b"a\nb", "control characters"),
    ],
)
def test_tcrp_rejects_malformed_messages_with_a_reason(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        p.decode_tcrp(data)


def test_room_name_over_255_bytes_is_refused_when_encoding():
    with pytest.raises(ProtocolError, match="256 bytes"):
        p.encode_tcrp(p.Operation.CREATE, p.State.REQUEST, "a" * 256)


def test_request_payload_json_object():
    payload = p.encode_request(p.RoomRequest("アリス", "secret"))
    assert json.loads(payload) == {"username": "アリス", "password": "secret"}
    assert p.decode_request(payload) == p.RoomRequest("アリス", "secret")


def test_request_payload_bare_username_as_the_assignment_sends_it():
    assert p.decode_request("たろう".encode()) == p.RoomRequest("たろう", dialect=p.Dialect.BARE)
    assert p.decode_request(b"bob\n") == p.RoomRequest("bob", dialect=p.Dialect.BARE)
    assert p.decode_request(b'"quoted') == p.RoomRequest('"quoted', dialect=p.Dialect.BARE)  # not JSON after all


def test_request_payload_json_string_is_the_kanaru_dialect():
    assert p.decode_request(json.dumps("たろう").encode()) == p.RoomRequest("たろう", dialect=p.Dialect.KANARU)
    assert p.decode_request(b'"\\u30bf"') == p.RoomRequest("\u30bf", dialect=p.Dialect.KANARU)
    with pytest.raises(ProtocolError):
        p.decode_request(b'""')  # an empty name is refused in every dialect


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"", "username is empty"),
        (b'{"username": 5}', "'username' must be a string"),
        (b'{"username": "a", "password": ["x"]}', "'password' must be a string"),
        (b'{"username": "a"', "not valid JSON"),
        (b"\xc3\x28", "not valid UTF-8"),
        (("x" * 256).encode(), "256 bytes"),
    ],
)
def test_request_payload_errors(payload, reason):
    with pytest.raises(ProtocolError, match=reason):
        p.decode_request(payload)


def test_status_payload():
    assert p.encode_status(p.Status.ROOM_EXISTS, "room 'x' already exists") == b"\x01room 'x' already exists"
    assert p.decode_status(b"\x03taken") == (p.Status.NAME_TAKEN, "taken")
    with pytest.raises(ProtocolError, match="unknown status"):
        p.decode_status(b"\xee")


def test_datagram_layout_and_round_trip():
    data = p.encode_datagram("部屋".encode(), b"tok", b"hello")
    assert data == bytes([6, 3]) + "部屋".encode() + b"tok" + b"hello"
    assert p.decode_datagram(data) == p.Datagram("部屋", b"tok", b"hello")


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x04", "shorter than its 2-byte header"),
        (bytes([10, 5]) + b"short", "shorter than the room name"),
        (bytes([1, 0]) + b"r" + b"x" * 4094, "4097 bytes"),
        (bytes([0, 1]) + b"t", "room name is empty"),
    ],
)
def test_datagram_errors(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        p.decode_datagram(data)


def test_plain_text_body_is_a_chat_line_from_an_assignment_client():
    assert p.decode_body("やあ".encode()) == p.PlainText("やあ")


@pytest.mark.parametrize(
    "frame",
    [
        p.Heartbeat(7),
        p.Chat(3, "こんにちは", 2),
        p.Resend(((4, 9),)),
        p.Resend(((4, 9), (12, 12), (20, 30))),
        p.Leave(),
        p.Event(12, 1_700_000_000_123, p.EventType.CHAT, "アリス", "hi"),
        p.Event(13, 5, p.EventType.JOINED, "bob"),
        p.Event(14, 5, p.EventType.CLOSED, "host", "the host closed the room", history=True),
        p.ChatAck(3, 12),
        p.StatusFrame(99),
        p.ErrorFrame(p.ErrorCode.RATE_LIMITED, "slow down"),
    ],
)
def test_frames_round_trip(frame):
    encoders = {
        p.Heartbeat: lambda f: p.encode_heartbeat(f.ack_seq),
        p.Chat: lambda f: p.encode_chat(f.msg_id, f.text, f.floor),
        p.Resend: lambda f: p.encode_resend(*f.ranges),
        p.Leave: lambda f: p.encode_leave(),
        p.Event: p.encode_event,
        p.ChatAck: lambda f: p.encode_chat_ack(f.msg_id, f.seq),
        p.StatusFrame: lambda f: p.encode_status_frame(f.latest_seq),
        p.ErrorFrame: lambda f: p.encode_error_frame(f.code, f.text),
    }
    body = encoders[type(frame)](frame)
    assert body[:2] == b"\xff\x01"
    assert p.decode_body(body) == frame


def test_frame_bytes_are_as_documented():
    assert p.encode_chat(2, "hi", 1) == bytes.fromhex("ff0102 00000002 00000001") + b"hi"
    assert p.encode_heartbeat(5) == bytes.fromhex("ff0101 00000005")
    assert p.encode_event(p.Event(2, 1000, p.EventType.JOINED, "bo")) == bytes.fromhex(
        "ff0110 00000002 00000000000003e8 00 02 02") + b"bo"


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "no message"),
        (b"\xff\x01", "3-byte head"),
        (b"\xff\x02\x01", "version 2"),
        (b"\xff\x01\x7f", "unknown frame kind"),
        (b"\xff\x01\x01\x00", "heartbeat frame needs 4 bytes"),
        (b"\xff\x01\x02" + bytes.fromhex("0000000100000001"), "chat frame has no text"),
        (b"\xff\x01\x02" + bytes.fromhex("0000000100000002") + b"x", "floor is above its own id"),
        (b"\xff\x01\x03" + bytes.fromhex("0000000900000004"), "runs backwards"),
        (b"\xff\x01\x03" + bytes.fromhex("00000009"), "1 to 16 ranges"),
        (b"\xff\x01\x03" + bytes(8 * 17), "1 to 16 ranges"),
        (b"\xff\x01\x04x", "unexpected bytes"),
        (b"\xff\x01\x02" + bytes.fromhex("0000000100000001") + b"\xff", "not valid UTF-8"),
        (b"\xff\x01\x10" + bytes(14) + b"\x09\x00", "unknown event type"),
        (b"\xff\x01\x13\x63", "unknown error code"),
    ],
)
def test_frame_errors(body, reason):
    with pytest.raises(ProtocolError, match=reason):
        p.decode_body(body)


def test_max_chat_text_fits_both_directions():
    room, token, name = "部屋".encode(), b"t" * 22, "アリス".encode()
    limit = p.max_chat_text_bytes(len(room), len(token), len(name))
    text = "x" * limit
    up = p.encode_datagram(room, token, p.encode_chat(1, text))
    down = p.encode_datagram(room, b"", p.encode_event(p.Event(1, 1, p.EventType.CHAT, "アリス", text)))
    assert max(len(up), len(down)) == p.MAX_DATAGRAM - p.SEAL_OVERHEAD  # room left for the seal
    longer = p.encode_datagram(room, token, p.encode_chat(1, text + "x"))
    assert len(longer) + p.SEAL_OVERHEAD > p.MAX_DATAGRAM  # one byte more would not fit sealed


# --- property tests: random and mutated bytes never crash a decoder -----------------------


def _decode_all(data: bytes) -> None:
    for decoder in (p.decode_tcrp, p.decode_datagram, p.decode_body, p.decode_request):
        try:
            decoder(data)
        except ProtocolError:
            pass


@settings(max_examples=400)
@given(st.binary(max_size=600))
def test_random_bytes_give_a_message_or_a_protocol_error(data):
    _decode_all(data)


valid_samples = [
    p.encode_tcrp(p.Operation.JOIN, p.State.REQUEST, "雑談", p.encode_request(p.RoomRequest("アリス", "pw"))),
    p.encode_datagram(b"room", b"token", p.encode_chat(9, "hello")),
    p.encode_event(p.Event(1, 2, p.EventType.CHAT, "a", "b")),
    p.encode_resend((1, 5), (7, 9)),
]


@settings(max_examples=400)
@given(st.sampled_from(valid_samples), st.lists(st.tuples(st.integers(0, 700), st.integers(0, 255)), max_size=6), st.integers(0, 700))
def test_mutated_messages_give_a_message_or_a_protocol_error(sample, flips, cut):
    data = bytearray(sample)
    for index, value in flips:
        if data:
            data[index % len(data)] = value
    _decode_all(bytes(data[: cut or None]))


names = st.text(st.characters(min_codepoint=0x20, blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: s.strip() and "\x7f" not in s and len(s.encode()) <= 255
)


@given(names, st.sampled_from(list(p.Operation)), st.binary(max_size=300))
def test_tcrp_encode_then_decode_gives_back_the_original(room, operation, payload):
    assert p.decode_tcrp(p.encode_tcrp(operation, p.State.REQUEST, room, payload)) == p.TcrpMessage(operation, p.State.REQUEST, room, payload)


@given(names, st.binary(min_size=1, max_size=255), st.integers(0, 2**32 - 1), st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200))
def test_chat_datagram_encode_then_decode_gives_back_the_original(room, token, msg_id, text):
    body = p.encode_chat(msg_id, text)
    datagram = p.decode_datagram(p.encode_datagram(room.encode(), token, body))
    assert (datagram.room, datagram.token) == (room, token)
    assert p.decode_body(datagram.body) == p.Chat(msg_id, text, msg_id)


# --- whose fault: local and remote protocol errors --------------------------------------------


def test_bad_bytes_from_a_peer_are_remote_errors_and_unencodable_values_local_ones():
    from ocm_core.errors import LocalProtocolError, OCMError, RegistryError, RemoteProtocolError

    for decode, data in ((p.decode_datagram, b"\x01"), (p.decode_body, b"\xff\x09\x01"),
                         (p.decode_tcrp_header, b"short"), (p.decode_snapshot, b"[]")):
        with pytest.raises(RemoteProtocolError):
            decode(data)
    with pytest.raises(LocalProtocolError, match="datagram would be 4097 bytes"):
        p.encode_datagram(b"r", b"", b"x" * 4094)
    with pytest.raises(LocalProtocolError, match="room name is 256 bytes"):
        p.encode_tcrp(p.Operation.JOIN, p.State.REQUEST, "x" * 256)
    with pytest.raises(LocalProtocolError, match="your name is empty"):
        p.check_name("", "your name")
    assert issubclass(RegistryError, OCMError) and not issubclass(RegistryError, ProtocolError)


def test_snapshot_and_room_list_answers_decode_to_typed_values():
    history = [p.event_to_json(p.Event(3, 5, p.EventType.CHAT, "アリス", "hi"))]
    answer = p.encode_json({"room": "r", "seq": 3, "udp_port": 9091, "host": "アリス", "members": ["アリス"],
                            "locked": False, "history": history})
    assert p.decode_snapshot(answer) == p.RoomSnapshot(
        3, 9091, "アリス", ("アリス",), (p.Event(3, 5, p.EventType.CHAT, "アリス", "hi", history=True),))
    with pytest.raises(ProtocolError, match="lacks 'udp_port'"):
        p.decode_snapshot(p.encode_json({"seq": 3, "host": "a", "members": [], "history": []}))
    rooms = p.encode_json({"rooms": [{"name": "r", "members": 2, "locked": True, "host": "a"}]})
    assert p.decode_room_list(rooms) == [p.RoomInfo("r", 2, True, "a")]
    with pytest.raises(ProtocolError, match="malformed entry"):
        p.decode_room_list(p.encode_json({"rooms": [{"name": "r"}]}))


def test_sizes_the_server_works_out_come_from_the_codec():
    datagram = p.decode_datagram(p.encode_datagram("部屋".encode(), b"tok", b"body"))
    assert p.datagram_size(datagram) == 2 + 6 + 3 + 4
    room, name = "部屋".encode(), "アリス".encode()
    text = "x" * p.max_relayed_text_bytes(len(room), len(name))
    relayed = p.encode_datagram(room, b"", p.encode_event(p.Event(1, 1, p.EventType.CHAT, "アリス", text)))
    assert len(relayed) + p.SEAL_OVERHEAD == p.MAX_DATAGRAM  # exactly full once sealed
