"""Codec tests: bytes in, bytes out. No sockets."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocm_core import wire as p
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
        # valid JSON, but "\ud800" alone is no Unicode text: refused, not a server error
        (b'{"username": "\\ud800"}', "not valid JSON"),
        (b'{"username": "a", "password": "\\udfff"}', "not valid JSON"),
        (b'"\\ud800x"', "lone surrogate"),
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
    assert (
        p.encode_event(p.Event(2, 1000, p.EventType.JOINED, "bo"))
        == bytes.fromhex("ff0110 00000002 00000000000003e8 00 02 02") + b"bo"
    )


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


# --- exactly at every limit: one byte under, at and over -----------------------------------


@pytest.mark.parametrize("size", [p.MAX_DATAGRAM - 1, p.MAX_DATAGRAM])
def test_datagram_up_to_exactly_4096_bytes_decodes(size):
    data = bytes([4, 3]) + b"room" + b"tok" + p.encode_chat(1, "x" * (size - 9 - p.CHAT_OVERHEAD))
    assert len(data) == size
    datagram = p.decode_datagram(data)
    assert p.decode_body(datagram.body) == p.Chat(1, "x" * (size - 9 - p.CHAT_OVERHEAD), 1)
    assert p.encode_datagram(b"room", b"tok", datagram.body) == data


def test_datagram_one_byte_over_4096_is_refused_both_ways():
    body = b"x" * (p.MAX_DATAGRAM + 1 - 9)
    with pytest.raises(ProtocolError, match="4097 bytes; the most is 4096"):
        p.encode_datagram(b"room", b"tok", body)
    with pytest.raises(ProtocolError, match="4097 bytes; the most is 4096"):
        p.decode_datagram(bytes([4, 3]) + b"room" + b"tok" + body)


# 255 bytes three ways: ASCII, three-byte kana (85 x 3) and a mix that ends on a four-byte emoji
NAMES_OF_255_BYTES = ["n" * 255, "あ" * 85, "a" * 251 + "😀"]


@pytest.mark.parametrize("name", NAMES_OF_255_BYTES)
def test_names_of_exactly_255_bytes_pass_everywhere(name):
    assert len(name.encode()) == 255
    assert p.check_name(name, "room name") == name.encode()
    assert p.decode_tcrp(p.encode_tcrp(p.Operation.CREATE, p.State.REQUEST, name, b"x")).room == name
    assert p.decode_datagram(p.encode_datagram(name.encode(), b"t" * 255, b"hi")) == p.Datagram(name, b"t" * 255, b"hi")
    assert p.decode_request(p.encode_request(p.RoomRequest(name))) == p.RoomRequest(name)
    assert p.decode_request(name.encode()).username == name


@pytest.mark.parametrize("name", ["n" * 256, "あ" * 85 + "a", "a" * 252 + "😀"])
def test_names_of_256_bytes_are_refused_everywhere(name):
    assert len(name.encode()) == 256
    with pytest.raises(ProtocolError, match="256 bytes; the most is 255"):
        p.check_name(name, "room name")
    with pytest.raises(ProtocolError, match="256 bytes"):
        p.encode_tcrp(p.Operation.CREATE, p.State.REQUEST, name)
    with pytest.raises(ProtocolError, match="256 bytes"):
        p.decode_request(p.encode_request(p.RoomRequest(name)))
    with pytest.raises(ProtocolError, match="256 bytes"):
        p.decode_name(name.encode(), "username")


def test_password_of_1024_bytes_is_accepted_and_1025_refused():
    at = p.decode_request(p.encode_request(p.RoomRequest("bob", "ぱ" * 341 + "x")))
    assert len(at.password.encode()) == 1024
    with pytest.raises(ProtocolError, match="longer than 1024 bytes"):
        p.decode_request(p.encode_request(p.RoomRequest("bob", "ぱ" * 341 + "xy")))


def test_resend_carries_up_to_16_ranges():
    ranges = tuple((i, i + 1) for i in range(1, 33, 2))
    assert len(ranges) == p.MAX_RESEND_RANGES
    assert p.decode_body(p.encode_resend(*ranges)) == p.Resend(ranges)
    with pytest.raises(ProtocolError, match="1 to 16 ranges"):
        p.decode_body(p.encode_resend(*ranges, (40, 41)))


@pytest.mark.parametrize(
    "name_bytes, binding", [(14, "upstream"), (15, "both"), (16, "downstream"), (255, "downstream")]
)
def test_the_longest_chat_fills_a_datagram_exactly_in_the_binding_direction(name_bytes, binding):
    """Sealed both ways; upstream carries the 22-byte token and CHAT_OVERHEAD, downstream the name and EVENT_OVERHEAD:
    which one is full depends on the name, and the longest text fills that one to the byte."""
    room, token, name = b"lobby", b"t" * 22, "n" * name_bytes
    limit = p.max_chat_text_bytes(len(room), len(token), name_bytes)
    up = len(p.encode_datagram(room, token, p.encode_chat(1, "x" * limit))) + p.SEAL_OVERHEAD
    down = (
        len(p.encode_datagram(room, b"", p.encode_event(p.Event(1, 1, p.EventType.CHAT, name, "x" * limit))))
        + p.SEAL_OVERHEAD
    )
    assert {"upstream": up, "downstream": down, "both": min(up, down)}[binding] == p.MAX_DATAGRAM
    assert max(up, down) == p.MAX_DATAGRAM and (binding != "both" or up == down)


def test_fixed_frames_refuse_one_byte_more_or_less():
    for body in (p.encode_heartbeat(1), p.encode_chat_ack(1, 2), p.encode_status_frame(3)):
        assert p.decode_body(body)  # exactly the size
        with pytest.raises(ProtocolError, match="frame needs"):
            p.decode_body(body + b"\x00")
        with pytest.raises(ProtocolError, match="frame needs"):
            p.decode_body(body[:-1])


def test_event_name_length_is_exact():
    body = p.encode_event(p.Event(1, 2, p.EventType.JOINED, "abc"))
    assert p.decode_body(body).name == "abc"
    with pytest.raises(ProtocolError, match="shorter than its name"):
        p.decode_body(body[:-1])
    with pytest.raises(ProtocolError, match="shorter than its fixed fields"):
        p.decode_body(body[: 3 + 14])


# --- every refusal says exactly why (the reason reaches logs and BAD_REQUEST answers) -------

EVENT_HEAD = bytes.fromhex("ff0110 00000001 0000000000000002 00 02")


@pytest.mark.parametrize(
    "decode, data, reason",
    [
        (p.decode_tcrp_header, bytes(31), "a TCRP header is 32 bytes, got 31"),
        (
            p.decode_tcrp,
            bytes([4, 1, 0]) + (3).to_bytes(29, "big") + b"room",
            "expected 7 bytes after the header, got 4",
        ),
        (p.decode_status, b"", "status answer is empty"),
        (p.decode_datagram, b"\x04", "datagram is shorter than its 2-byte header"),
        (p.decode_datagram, bytes([0, 0]), "room name is empty"),
        (
            p.decode_datagram,
            bytes([4, 2]) + b"roomt",
            "datagram is shorter than the room name and token its header announces",
        ),
        (p.decode_request, b"\xc3\x28", "request payload is not valid UTF-8"),
        (p.decode_request, b'{"username"', "request payload starts like JSON but is not valid JSON"),
        (p.decode_request, b'{"username": "a", "token": 5}', "'token' must be a string"),
        (p.decode_request, b'{"password": "pw"}', "username is empty"),
        (p.decode_request, b" \n", "username must be visible text without control characters"),
        (p.decode_request, b"a\x7fb", "username must be visible text without control characters"),
        (p.decode_body, b"", "datagram has no message"),
        (p.decode_body, b"\xc3\x28", "message is not valid UTF-8"),
        (p.decode_body, b"\xff\x01", "frame is shorter than its 3-byte head"),
        (p.decode_body, b"\xff\x02\x01", "frame version 2 is not supported (this side speaks 1)"),
        (p.decode_body, b"\xff\x01\x7f", "unknown frame kind 0x7f"),
        (p.decode_body, b"\xff\x01\x01\x00", "heartbeat frame needs 4 bytes after its kind, got 1"),
        (p.decode_body, b"\xff\x01\x02" + bytes(8), "chat frame has no text"),
        (p.decode_body, b"\xff\x01\x02" + bytes.fromhex("0000000100000002") + b"x", "chat floor is above its own id"),
        (p.decode_body, b"\xff\x01\x02" + bytes(8) + b"\xff", "chat text is not valid UTF-8"),
        (p.decode_body, b"\xff\x01\x03" + bytes.fromhex("0000000900000004"), "resend range runs backwards"),
        (p.decode_body, b"\xff\x01\x03", "resend frame needs 1 to 16 ranges of 8 bytes, got 0 bytes"),
        (p.decode_body, b"\xff\x01\x04x", "leave frame carries unexpected bytes"),
        (p.decode_body, EVENT_HEAD[:-1], "event frame is shorter than its fixed fields"),
        (p.decode_body, EVENT_HEAD[:-1] + b"\x63\x00", "unknown event type 99"),
        (p.decode_body, EVENT_HEAD + b"\x02a", "event frame is shorter than its name"),
        (p.decode_body, EVENT_HEAD + b"\x01\xff", "event name is not valid UTF-8"),
        (p.decode_body, EVENT_HEAD + b"\x01a\xff", "event text is not valid UTF-8"),
        (p.decode_body, b"\xff\x01\x11" + bytes(7), "chat ack frame needs 8 bytes after its kind, got 7"),
        (p.decode_body, b"\xff\x01\x12" + bytes(5), "status frame needs 4 bytes after its kind, got 5"),
        (p.decode_body, b"\xff\x01\x13", "error frame has no code"),
        (p.decode_body, b"\xff\x01\x13\x63", "unknown error code 99"),
        (p.decode_body, b"\xff\x01\x13\x01\xff", "error text is not valid UTF-8"),
        (p.decode_json_object, b"\xff", "the payload is not a UTF-8 JSON object"),
        (p.decode_json_object, b"[1]", "the payload is not a JSON object"),
        (p.event_from_json, [], "history entry is not an object"),
        (p.event_from_json, {"seq": 1, "time_ms": 2, "type": 1}, "history entry is missing a field or has a bad one"),
        (
            p.event_from_json,
            {"seq": 1, "time_ms": 2, "type": 99, "name": "a"},
            "history entry is missing a field or has a bad one",
        ),
        (
            p.event_from_json,
            {"seq": "x", "time_ms": 2, "type": 1, "name": "a"},
            "history entry is missing a field or has a bad one",
        ),
        (
            p.event_from_json,
            {"seq": None, "time_ms": 2, "type": 1, "name": "a"},
            "history entry is missing a field or has a bad one",
        ),
    ],
)
def test_each_refusal_gives_its_exact_reason(decode, data, reason):
    with pytest.raises(ProtocolError) as caught:
        decode(data)
    assert caught.value.reason == reason and str(caught.value) == reason


def test_the_payload_size_is_read_from_all_29_big_endian_bytes():
    header = p.decode_tcrp_header(bytes([4, 2, 0]) + b"\x01" + bytes(27) + b"\x02")
    assert (header.room_name_size, header.operation, header.state) == (4, p.Operation.JOIN, p.State.REQUEST)
    assert header.payload_size == 2**224 + 2 and header.body_size == 2**224 + 6
    assert p.encode_tcrp(1, 0, "r", b"x" * 258)[3:32] == (258).to_bytes(29, "big")


def test_an_empty_room_name_is_allowed_only_where_asked():
    data = p.encode_tcrp(p.Operation.LIST, p.State.REQUEST, "", b"")
    assert p.decode_tcrp(data, allow_empty_room=True) == p.TcrpMessage(p.Operation.LIST, p.State.REQUEST, "", b"")
    with pytest.raises(ProtocolError, match="room name is empty"):
        p.decode_tcrp(data)


def test_request_payload_bytes_are_utf8_json_with_only_the_fields_given():
    assert p.encode_request(p.RoomRequest("アリス")) == '{"username": "アリス"}'.encode()
    assert p.encode_request(p.RoomRequest("", token="tok")) == b'{"username": "", "token": "tok"}'
    assert p.encode_request(p.RoomRequest("a", "pw", "t")) == b'{"username": "a", "password": "pw", "token": "t"}'


def test_request_payload_details():
    assert p.decode_request(b' \t{"username": "bob"}') == p.RoomRequest("bob")  # JSON after blanks
    assert p.decode_request(b"bob\r\n").username == "bob"  # a line as a terminal sends it
    assert p.decode_request(b"\r\nbob").username == "bob"
    assert p.decode_request(b'{"token": "tok"}') == p.RoomRequest("", None, "tok")  # SYNC needs no name
    assert p.decode_request(b'{"username": "a", "token": "tok"}').token == "tok"
    assert p.decode_request(b'{"username": "a", "password": null}') == p.RoomRequest("a")
    assert p.decode_request(b"123").username == "123"  # JSON, but not an object: a bare name
    with pytest.raises(ProtocolError, match="username is empty"):
        p.decode_request(b'{"username": ""}')


def test_status_detail_is_utf8_and_survives_bad_bytes():
    assert p.encode_status(p.Status.ROOM_FULL, "部屋") == b"\x06" + "部屋".encode()
    assert p.decode_status(b"\x00") == (p.Status.OK, "")
    assert p.decode_status(b"\x06" + "部屋".encode() + b"\xff") == (p.Status.ROOM_FULL, "部屋\ufffd")


def test_json_answers_are_compact_utf8_and_history_entries_round_trip():
    assert p.encode_json({"room": "部屋", "n": [1, 2]}) == '{"room":"部屋","n":[1,2]}'.encode()
    assert p.decode_json_object('{"room": "部屋"}'.encode()) == {"room": "部屋"}
    event = p.Event(7, 1_700_000_000_123, p.EventType.CLOSED, "アリス", "bye")
    entry = p.event_to_json(event)
    assert entry == {"seq": 7, "time_ms": 1_700_000_000_123, "type": 5, "name": "アリス", "text": "bye"}
    assert p.event_from_json(entry) == p.Event(7, 1_700_000_000_123, p.EventType.CLOSED, "アリス", "bye", history=True)
    assert p.event_from_json({"seq": "3", "time_ms": 4, "type": "2", "name": "b"}) == p.Event(
        3, 4, p.EventType.JOINED, "b", "", True
    )


def test_check_name_returns_the_utf8_bytes_and_names_the_field():
    assert p.check_name("部屋", "room name") == "部屋".encode()
    with pytest.raises(ProtocolError) as caught:
        p.check_name("", "your name")
    assert caught.value.reason == "your name is empty"
    with pytest.raises(ProtocolError, match="^room name must be visible text"):
        p.check_name("a\tb", "room name")


def test_frames_carry_their_fields_in_order():
    assert p.encode_chat(3, "é") == bytes.fromhex("ff0102 00000003 00000003") + "é".encode()
    assert (
        p.encode_event(p.Event(1, 2, p.EventType.CHAT, "é", "ü", history=True))
        == bytes.fromhex("ff0110 00000001 0000000000000002 01 01 02") + "é".encode() + "ü".encode()
    )
    assert p.encode_error_frame(p.ErrorCode.TOO_LONG, "é") == b"\xff\x01\x13\x04" + "é".encode()
    assert p.encode_datagram("é".encode(), b"t", b"x") == b"\x02\x01" + "é".encode() + b"tx"
    assert p.decode_body(p.encode_event(p.Event(1, 2, p.EventType.CHAT, "é", "ü", history=False))).history is False


# --- property tests: random and mutated bytes never crash a decoder -----------------------


def _decode_all(data: bytes) -> None:
    for decoder in (p.decode_tcrp, p.decode_datagram, p.decode_body, p.decode_request):
        try:
            decoder(data)
        except ProtocolError:
            pass


@settings(max_examples=400)
@given(st.one_of(st.binary(max_size=600), st.binary(min_size=p.MAX_DATAGRAM - 2, max_size=p.MAX_DATAGRAM + 2)))
def test_random_bytes_give_a_message_or_a_protocol_error(data):
    _decode_all(data)


valid_samples = [
    p.encode_tcrp(p.Operation.JOIN, p.State.REQUEST, "雑談", p.encode_request(p.RoomRequest("アリス", "pw"))),
    p.encode_datagram(b"room", b"token", p.encode_chat(9, "hello")),
    p.encode_event(p.Event(1, 2, p.EventType.CHAT, "a", "b")),
    p.encode_resend((1, 5), (7, 9)),
]


@settings(max_examples=400)
@given(
    st.sampled_from(valid_samples),
    st.lists(st.tuples(st.integers(0, 700), st.integers(0, 255)), max_size=6),
    st.integers(0, 700),
)
def test_mutated_messages_give_a_message_or_a_protocol_error(sample, flips, cut):
    data = bytearray(sample)
    for index, value in flips:
        if data:
            data[index % len(data)] = value
    _decode_all(bytes(data[: cut or None]))


def _at_most_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, on a character boundary."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


# Up to 255 characters cut to 255 bytes: long names reach the one-byte length limit exactly.
names = (
    st.text(st.characters(min_codepoint=0x20, blacklist_categories=("Cs",)), min_size=1, max_size=255)
    .map(lambda s: _at_most_bytes(s, p.MAX_NAME_BYTES))
    .filter(lambda s: s.strip() and "\x7f" not in s)
)
any_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=p.MAX_DATAGRAM)


@given(names, st.sampled_from(list(p.Operation)), st.binary(max_size=300))
def test_tcrp_encode_then_decode_gives_back_the_original(room, operation, payload):
    assert p.decode_tcrp(p.encode_tcrp(operation, p.State.REQUEST, room, payload)) == p.TcrpMessage(
        operation, p.State.REQUEST, room, payload
    )


@given(names, st.binary(min_size=1, max_size=255), st.integers(0, 2**32 - 1), any_text, st.booleans())
def test_chat_datagram_encode_then_decode_gives_back_the_original(room, token, msg_id, text, fill):
    room_bytes = room.encode()
    room_left = p.MAX_DATAGRAM - 2 - len(room_bytes) - len(token) - p.CHAT_OVERHEAD
    text = _at_most_bytes(text, room_left)
    if fill:  # pad to exactly the datagram limit
        text += "x" * (room_left - len(text.encode()))
    if not text:
        return
    body = p.encode_chat(msg_id, text)
    data = p.encode_datagram(room_bytes, token, body)
    assert len(data) <= p.MAX_DATAGRAM and (not fill or len(data) == p.MAX_DATAGRAM)
    datagram = p.decode_datagram(data)
    assert (datagram.room, datagram.token) == (room, token)
    assert p.decode_body(datagram.body) == p.Chat(msg_id, text, msg_id)
    if fill:
        with pytest.raises(ProtocolError, match="4097 bytes"):
            p.encode_datagram(room_bytes, token, body + b"x")


@given(
    names,
    any_text,
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.sampled_from(list(p.EventType)),
    st.booleans(),
)
def test_event_encode_then_decode_gives_back_the_original(name, text, seq, time_ms, event_type, history):
    event = p.Event(seq, time_ms, event_type, name, text, history)
    assert p.decode_body(p.encode_event(event)) == event


@given(names, st.text(max_size=1100))
def test_request_encode_then_decode_keeps_username_and_password(username, password):
    payload = p.encode_request(p.RoomRequest(username, password))
    if len(password.encode()) > 1024:
        with pytest.raises(ProtocolError, match="longer than 1024 bytes"):
            p.decode_request(payload)
    else:
        assert p.decode_request(payload) == p.RoomRequest(username, password)


# --- whose fault: local and remote protocol errors --------------------------------------------


def test_bad_bytes_from_a_peer_are_remote_errors_and_unencodable_values_local_ones():
    from ocm_core.errors import (
        LocalProtocolError,
        OCMError,
        RegistryError,
        RemoteProtocolError,
    )

    for decode, data in (
        (p.decode_datagram, b"\x01"),
        (p.decode_body, b"\xff\x09\x01"),
        (p.decode_tcrp_header, b"short"),
        (p.decode_snapshot, b"[]"),
    ):
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
    answer = p.encode_json(
        {
            "room": "r",
            "seq": 3,
            "udp_port": 9091,
            "host": "アリス",
            "members": ["アリス"],
            "locked": False,
            "history": history,
        }
    )
    assert p.decode_snapshot(answer) == p.RoomSnapshot(
        3, 9091, "アリス", ("アリス",), (p.Event(3, 5, p.EventType.CHAT, "アリス", "hi", history=True),)
    )
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


# --- the encryption layer's codecs: TLS detection, sealed bodies, grants ----------------


@pytest.mark.parametrize(
    "prefix, tls",
    [
        (bytes([0x16, 0x03, 0x01]), True),  # the usual ClientHello record version
        (bytes([0x16, 0x03, 0x03]), True),
        (bytes([0x16, 0x03, 0x04]), True),  # the highest record minor version accepted
        (bytes([0x16, 0x03, 0x00]), False),  # a 22-byte room name, operation 3, state 0: TCRP
        (bytes([0x16, 0x03, 0x05]), False),
        (bytes([0x16, 0x02, 0x01]), False),
        (bytes([0x15, 0x03, 0x01]), False),  # an alert never opens a client's connection
        (bytes([0x17, 0x03, 0x01]), False),
        (bytes([0x16, 0x03, 0x01, 0x00]), True),  # only the first three bytes count
    ],
)
def test_tls_is_told_from_tcrp_by_three_bytes(prefix, tls):
    assert p.looks_like_tls(prefix) is tls


def test_tls_detection_needs_all_three_bytes():
    with pytest.raises(ValueError, match="need 3 bytes"):
        p.looks_like_tls(bytes([0x16, 0x03]))
    assert p.TLS_PREFIX_BYTES == 3


@pytest.mark.parametrize(
    "first, tls",
    [
        (b"\x16", True),
        (b"\x15", True),
        (b"\x15\x03", True),
        (b"\x00", False),
        (b"\x14", False),
        (b"\x17", False),
        (b"", False),
    ],
)
def test_a_servers_first_byte_tells_a_tls_record_from_a_tcrp_answer(first, tls):
    assert p.is_tls_record_start(first) is tls


def test_a_sealed_body_splits_into_nonce_and_ciphertext_with_tag():
    nonce, sealed = bytes(range(12)), b"c" * 5 + b"t" * 16
    body = b"\xfe" + nonce + sealed
    assert p.is_sealed(body) and p.SEAL_OVERHEAD == 29
    assert p.split_sealed(body) == (nonce, sealed)
    # exactly the overhead: an empty ciphertext, just the tag
    assert p.split_sealed(b"\xfe" + nonce + b"t" * 16) == (nonce, b"t" * 16)
    with pytest.raises(ProtocolError, match="shorter than its nonce and tag"):
        p.split_sealed(b"\xfe" + nonce + b"t" * 15)
    with pytest.raises(ProtocolError, match="not sealed"):
        p.split_sealed(b"\xff" + nonce + b"t" * 16)
    assert not p.is_sealed(b"") and not p.is_sealed(b"hello")


def test_a_grant_round_trips_and_a_bad_one_is_refused():
    from ocm_core.errors import RemoteProtocolError

    key = bytes(range(32))
    payload = p.encode_grant(b"tok", key)
    assert json.loads(payload) == {"token": "tok", "key": base64.b64encode(key).decode()}
    assert p.decode_grant(payload) == (b"tok", key)
    assert p.decode_grant(p.encode_grant(b"t" * 255, key)) == (b"t" * 255, key)
    b64 = base64.b64encode(key).decode()
    for bad, reason in (
        ({"key": b64}, "lacks its token or key"),
        ({"token": "tok"}, "lacks its token or key"),
        ({"token": 5, "key": b64}, "lacks its token or key"),
        ({"token": "tok", "key": 5}, "lacks its token or key"),
        ({"token": "tok", "key": "!!"}, "not base64"),
        ({"token": "", "key": b64}, "wrong size"),
        ({"token": "t" * 256, "key": b64}, "wrong size"),
        ({"token": "tok", "key": base64.b64encode(bytes(31)).decode()}, "wrong size"),
        ({"token": "tok", "key": base64.b64encode(bytes(33)).decode()}, "wrong size"),
    ):
        with pytest.raises(RemoteProtocolError, match=reason):
            p.decode_grant(p.encode_json(bad))


def test_a_key_proof_is_base64_or_none():
    assert p.decode_proof(None) is None
    assert p.decode_proof(base64.b64encode(b"\x00proof").decode()) == b"\x00proof"
    assert p.decode_proof("not base64!") is None
    assert p.decode_proof("YQ") is None  # unpadded: refused, not guessed


def test_kanaru_dialect_answers_and_relay_form():
    assert json.loads(p.encode_kanaru_status(True)) == {"success": True}
    assert json.loads(p.encode_kanaru_status(False, "room is full")) == {"success": False, "error": "room is full"}
    assert p.encode_kanaru_status(True) == b'{"success":true}'
    assert p.encode_kanaru_token(b"abc") == b'{"token":"abc"}'
    assert p.encode_kanaru_relay("アリス", "やあ") == bytes([9]) + "アリス".encode() + "やあ".encode()
    long_name = "x" * 300  # cut to what its one length byte can say
    assert p.encode_kanaru_relay(long_name, "t") == bytes([255]) + b"x" * 255 + b"t"
    assert p.encode_kanaru_relay("", "") == b"\x00"
    assert (p.KANARU_REGISTER, p.KANARU_LEAVE, p.KANARU_ROOM_CLOSED) == (
        "__REGISTER__",
        "__LEAVE__",
        b"__ROOM_CLOSED__",
    )


def test_try_later_status_carries_its_seconds_clamped_to_a_u16():
    assert p.encode_status(p.Status.TRY_LATER, "busy", 7) == bytes([int(p.Status.TRY_LATER), 0, 7]) + b"busy"
    assert p.encode_status(p.Status.TRY_LATER, "", 258) == bytes([int(p.Status.TRY_LATER), 1, 2])
    assert p.encode_status(p.Status.TRY_LATER) == bytes([int(p.Status.TRY_LATER), 0, 1])  # at least a second
    assert p.encode_status(p.Status.OK) == b"\x00"  # no seconds, no sentence
    assert p.encode_status(p.Status.ROOM_FULL, "部屋") == b"\x06" + "部屋".encode()
    assert p.decode_status(b"\x06" + "部屋".encode()) == (p.Status.ROOM_FULL, "部屋")
    assert p.decode_retry_after(p.encode_status(p.Status.TRY_LATER, retry_after=0)) == 1
    assert p.decode_retry_after(p.encode_status(p.Status.TRY_LATER, retry_after=70000)) == 0xFFFF
    assert p.decode_status(p.encode_status(p.Status.TRY_LATER, "busy", 7)) == (p.Status.TRY_LATER, "busy")
    with pytest.raises(ProtocolError, match="2-byte seconds"):
        p.decode_status(bytes([int(p.Status.TRY_LATER), 0]))
    with pytest.raises(ProtocolError, match="empty"):
        p.decode_status(b"")
    with pytest.raises(ProtocolError, match="unknown status code 250"):
        p.decode_status(bytes([250]))


def test_snapshot_plain_members_are_read_only_from_a_list():
    base = {"seq": 1, "udp_port": 9091, "host": "a", "members": ["a", "b"], "history": []}
    assert p.decode_snapshot(p.encode_json({**base, "plain": ["b"]})).plain == ("b",)
    assert p.decode_snapshot(p.encode_json({**base, "plain": "b"})).plain == ()
    assert p.decode_snapshot(p.encode_json(base)).plain == ()
    for key in ("seq", "host", "members", "history"):
        with pytest.raises(ProtocolError, match=f"lacks '{key}'"):
            p.decode_snapshot(p.encode_json({k: v for k, v in base.items() if k != key}))
    with pytest.raises(ProtocolError, match="room list is missing"):
        p.decode_room_list(p.encode_json({"rooms": {}}))


# --- file entries and the discovery codecs at their edges --------------------------------

FILE_ID = "0123456789abcdef"


def test_a_file_entry_keeps_its_sender_and_checksum_and_defaults_them():
    entry = {"id": FILE_ID, "name": "a.txt", "size": 0}
    assert p.file_from_json(entry) == p.FileInfo(FILE_ID, "a.txt", 0, "", "", "")  # an empty file is a file
    assert p.file_from_json(entry, sender="アリス").sender == "アリス"
    full = p.FileInfo(FILE_ID, "a.txt", 5, "text/plain", "bob", "ab" * 32)
    assert p.file_to_json(full) == {
        "id": FILE_ID,
        "name": "a.txt",
        "size": 5,
        "mime": "text/plain",
        "sender": "bob",
        "sha256": "ab" * 32,
    }
    assert p.file_from_json(p.file_to_json(full), sender="not bob") == full
    assert p.file_to_json(p.FileInfo(FILE_ID, "a", 1, "")) == {"id": FILE_ID, "name": "a", "size": 1, "mime": ""}
    for bad, reason in (
        ([entry], "not an object"),
        ({**entry, "id": FILE_ID.upper()}, "lacks its id or name"),
        ({**entry, "id": FILE_ID[:-1]}, "lacks its id or name"),
        ({**entry, "id": 5}, "lacks its id or name"),
        ({**entry, "name": ""}, "lacks its id or name"),
        ({**entry, "name": 5}, "lacks its id or name"),
        ({**entry, "size": -1}, "bad size, type or checksum"),
        ({**entry, "size": True}, "bad size, type or checksum"),
        ({**entry, "size": "5"}, "bad size, type or checksum"),
        ({**entry, "mime": None}, "bad size, type or checksum"),
        ({**entry, "sha256": 5}, "bad size, type or checksum"),
    ):
        with pytest.raises(ProtocolError, match=reason):
            p.file_from_json(bad)


TXT = {b"v": b"1", b"udp": b"9091", b"rooms": b"2", b"locked": b"0"}


def test_a_txt_record_at_its_edges():
    assert p.decode_txt(TXT, 9090) == p.ServerAnnouncement(9090, 9091, 2, False, "", "")  # host and fp optional
    assert p.decode_txt({**TXT, b"udp": b"65535", b"rooms": b"65535"}, 65535).udp_port == 65535
    assert p.decode_txt({**TXT, b"host": "机".encode() * 85}, 9090).machine == "机" * 85  # 255 bytes
    assert p.decode_txt({**TXT, b"fp": b"f" * 64}, 9090).fingerprint == "f" * 64
    for change, reason in (
        ({b"udp": b"65536"}, "'udp' is not a number up to 65535"),
        ({b"rooms": b"65536"}, "'rooms' is not a number up to 65535"),
        ({b"udp": b"0"}, "UDP port 0 is not a port number"),
        ({b"v": b"256"}, "'v' is not a number up to 255"),
        ({b"v": b"255"}, "discovery version 255 is not 1"),
        ({b"locked": b"2"}, "'locked' is '2', not 0 or 1"),
        ({b"locked": None}, "lacks 'locked'"),
        ({b"host": b"x" * 256}, "'host' is 256 bytes"),
        ({b"fp": b"f" * 65}, "fingerprint is too long"),
        ({b"host": b"\xff"}, "'host' is not UTF-8"),
    ):
        with pytest.raises(ProtocolError, match=reason):
            p.decode_txt({**TXT, **change}, 9090)
    with pytest.raises(ProtocolError, match="TCP port 0 is not a port number"):
        p.decode_txt(TXT, 0)
    too_long = p.ServerAnnouncement(9090, 9091, 0, False, "x" * 251)  # "host=" and 251 bytes: 256
    with pytest.raises(ProtocolError, match="TXT entry host is 251 bytes; the most is 250"):
        p.encode_txt(too_long)
    assert p.encode_txt(p.ServerAnnouncement(9090, 9091, 0, False, "x" * 250))[b"host"] == b"x" * 250


def test_a_probe_answer_at_its_edges():
    probe = p.Probe(b"12345678", 64)
    server = p.ServerAnnouncement(9090, 9091, 0, False, "pc", "")
    answer = p.encode_answer(probe, server, [])
    assert answer[:14] == b"OCMd\x01\x02" + b"12345678"
    assert answer[14:21] == bytes([0x23, 0x82, 0x23, 0x83, 0, 0, 0])  # ports, no flags, no rooms
    decoded = p.decode_answer(answer)
    assert decoded == p.ProbeAnswer(b"12345678", server, (), False)
    room = p.RoomInfo("r", 70000, True, "h")  # members beyond a u16 are said as 65535
    entry_size = 1 + 1 + 3 + 1 + 1
    fits = p.Probe(b"12345678", len(answer) + entry_size)
    full = p.encode_answer(fits, p.ServerAnnouncement(9090, 9091, 1, True, "pc", ""), [room])
    assert len(full) == fits.size and full[18] == p.ANSWER_ANY_LOCKED  # exactly full, nothing left out
    got = p.decode_answer(full)
    assert got.rooms == (p.RoomInfo("r", 65535, True, "h"),) and got.announcement.any_locked and not got.truncated
    short = p.encode_answer(p.Probe(b"12345678", fits.size - 1), server, [room])
    assert p.decode_answer(short).truncated and p.decode_answer(short).rooms == ()
    assert short[18] == p.ANSWER_TRUNCATED
    with pytest.raises(ProtocolError, match="no answer fits in a 20-byte probe"):
        p.encode_answer(p.Probe(b"12345678", 20), server, [])
    with pytest.raises(ProtocolError, match="the computer's name is 256 bytes"):
        p.encode_answer(probe, p.ServerAnnouncement(9090, 9091, 0, False, "x" * 256), [])
    with pytest.raises(ProtocolError, match="a room name is 256 bytes"):
        p.encode_answer(probe, server, [p.RoomInfo("x" * 256, 1, False, "h")])
    for data, reason in (
        (answer + b"zz", "2 bytes after the last room"),
        (answer[:16], "the answer ends inside the ports"),
        (answer[:21] + b"\x05pc", "ends inside the computer's name"),
        (answer[:-1], "ends inside the fingerprint"),
        (answer[:19] + b"\x00\x01" + answer[21:] + b"\x00", "a room name is empty"),
        (answer[:19] + b"\x00\x01" + answer[21:] + b"\x01r\x00", "ends inside a room's entry"),
        (answer[:19] + b"\x00\x01" + answer[21:] + b"\x01r\x00\x01\x00\x05h", "ends inside a host's name"),
        (answer[:24] + b"\x41" + b"f" * 65, "fingerprint is too long"),
        (answer[:14] + b"\x00\x00" + answer[16:], "TCP port 0"),
        (answer[:16] + b"\x00\x00" + answer[18:], "UDP port 0"),
    ):
        with pytest.raises(ProtocolError, match=reason):
            p.decode_answer(data)


def test_file_requests_at_their_limits():
    def upload(**fields):
        return p.decode_file_request(p.Operation.UPLOAD, p.encode_json({"token": "t", "proof": "pr", **fields}))

    assert upload(name="名" * 85, size=0) == p.FileRequest("t", "pr", "名" * 85, 0, "")  # 255 bytes, empty, no type
    assert upload(name="a", size=1, mime="x" * 100).mime == "x" * 100
    for fields, reason in (
        ({"name": "a" * 256, "size": 1}, "file name must be 1 to 255 bytes"),
        ({"name": "a", "size": 1, "mime": "x" * 101}, "file type must be ASCII, at most 100"),
        ({"name": "a", "size": 1, "mime": "é"}, "file type must be ASCII"),
        ({"name": "a", "size": -1}, "whole number of bytes, 0 or more"),
    ):
        with pytest.raises(ProtocolError, match=reason):
            upload(**fields)
    download = p.encode_json({"token": "t", "proof": "pr", "file_id": FILE_ID})
    assert p.decode_file_request(p.Operation.DOWNLOAD, download) == p.FileRequest("t", "pr", file_id=FILE_ID)
    assert p.decode_file_request(p.Operation.FILES, download) == p.FileRequest("t", "pr")
    with pytest.raises(ProtocolError, match="a download names a file id of 16 hex characters"):
        p.decode_file_request(p.Operation.DOWNLOAD, p.encode_json({"token": "t", "file_id": "g" * 16}))
    with pytest.raises(ProtocolError, match="needs the member's token"):
        p.decode_file_request(p.Operation.FILES, p.encode_json({"token": "t", "proof": 5}))


def test_probes_at_their_sizes():
    for size in (p.MIN_PROBE_SIZE, p.MAX_PROBE_SIZE):
        data = p.encode_probe(b"12345678", size)
        assert len(data) == size and p.decode_probe(data) == p.Probe(b"12345678", size)
    for size in (p.MIN_PROBE_SIZE - 1, p.MAX_PROBE_SIZE + 1):
        with pytest.raises(ProtocolError, match="a probe is 64 to 1400 bytes"):
            p.encode_probe(b"12345678", size)
    with pytest.raises(ProtocolError, match="a probe's nonce is 8 bytes"):
        p.encode_probe(b"1234567")
    head = p.encode_probe(b"12345678")[:14]
    with pytest.raises(ProtocolError, match="a probe is at least 64 bytes, got 14"):
        p.decode_probe(head)  # exactly the head is read as one, then found too short
    with pytest.raises(ProtocolError, match="at least 14 bytes, got 13"):
        p.decode_probe(head[:13])
    with pytest.raises(ProtocolError, match="at most 1400 bytes, got 1401"):
        p.decode_probe(head + bytes(1387))
    with pytest.raises(ProtocolError, match="not an Online Chat Messenger discovery datagram"):
        p.decode_probe(b"OCMe" + head[4:] + bytes(50))


def test_retry_after_is_read_from_its_two_bytes_only():
    assert p.decode_retry_after(p.encode_status(p.Status.TRY_LATER, "busy", 7)) == 7
    assert p.decode_proof("YQ==") == b"a" and p.decode_proof("YQ==\n") is None  # strict base64


def test_every_request_field_round_trips_and_the_request_id_has_its_bounds():
    full = p.RoomRequest("アリス", "pw", "tok", "cHJvb2Y=", request_id="r" * 64, resume_token="old")
    assert p.decode_request(p.encode_request(full)) == full
    assert p.decode_request(p.encode_request(p.RoomRequest("a", request_id="r"))).request_id == "r"
    for request_id in ("", "r" * 65):
        with pytest.raises(ProtocolError, match="request_id must be 1 to 64 bytes"):
            p.decode_request(p.encode_json({"username": "a", "request_id": request_id}))
    assert p.decode_request(p.encode_json({"username": "a", "password": "p" * 1024})).password == "p" * 1024
    with pytest.raises(ProtocolError, match="password is longer than 1024 bytes"):
        p.decode_request(p.encode_json({"username": "a", "password": "p" * 1025}))
    assert p.decode_request(b"XXbob\r\n") == p.RoomRequest("XXbob", dialect=p.Dialect.BARE)
    assert p.decode_request(p.encode_json({"token": "tok"})) == p.RoomRequest("", token="tok")  # SYNC: no name


def test_json_answers_and_file_events_with_a_lone_surrogate_are_protocol_errors():
    with pytest.raises(ProtocolError, match="not a UTF-8 JSON object"):
        p.decode_json_object(b'{"members": ["ok", "\\ud83d"]}')
    assert p.decode_json_object(b'{"members": ["\\ud83d\\ude00"]}') == {"members": ["\U0001f600"]}  # a pair is fine
    event = p.Event(seq=1, time_ms=0, event_type=p.EventType.FILE, name="bob", text='{"id": "\\ud800"}')
    with pytest.raises(ProtocolError):
        p.decode_file_event(event)
