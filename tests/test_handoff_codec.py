"""The hand-off line between two copies of the app, bytes in and bytes out: round trips,
and every refusal with its reason (a correct mac on each, so the reason is the one named)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocm_core import wire
from ocm_core.errors import LocalProtocolError, RemoteProtocolError
from ocm_core.wire import (
    HANDOFF_OK,
    MAX_HANDOFF_ARGS,
    MAX_HANDOFF_BYTES,
    BadHandoff,
    decode_handoff,
    encode_handoff,
)
from ocm_core.wire.jsontext import encode_json

SECRET = bytes(range(32))
LINK = "ocm://192.168.1.20:9090/%E9%83%A8%E5%B1%8B?fp=K3QF-7ZPA-AAAA-BBBB-CCCC"


def mac_for(args: object, secret: bytes = SECRET) -> str:
    return hmac.new(secret, b"ocm-handoff-v1\n" + encode_json(args), hashlib.sha256).hexdigest()


def line(value: object) -> bytes:
    return encode_json(value) + b"\n"


def signed(args: object, **fields: object) -> bytes:
    return line({"v": 1, "args": args, "mac": mac_for(args), **fields})


def test_the_bytes_of_a_handoff_and_the_answer():
    data = encode_handoff(SECRET, [LINK])
    assert data == b'{"v":1,"args":["' + LINK.encode() + b'"],"mac":"' + mac_for([LINK]).encode() + b'"}\n'
    assert data.count(b"\n") == 1
    assert decode_handoff(data, SECRET) == [LINK]
    assert HANDOFF_OK == b"ok\n"
    assert wire.BadHandoff is BadHandoff and issubclass(BadHandoff, RemoteProtocolError)


def test_no_arguments_means_come_forward():
    assert decode_handoff(encode_handoff(SECRET, []), SECRET) == []


@given(st.lists(st.text(max_size=100), max_size=MAX_HANDOFF_ARGS), st.binary(min_size=16, max_size=64))
def test_any_unicode_arguments_round_trip_on_one_line(args, secret):
    data = encode_handoff(secret, args)
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert decode_handoff(data, secret) == args


def test_japanese_newlines_and_quotes_survive():
    args = ["ocm://ホスト:9090/部屋?fp=x", 'say "hi"\nand\tbye', "\\", "🎉", ""]
    assert decode_handoff(encode_handoff(SECRET, args), SECRET) == args


@pytest.mark.parametrize(
    "data, reason",
    [
        (encode_handoff(b"another copy's secret", [LINK]), "not made with this copy's secret"),
        (b"hello\n", "not UTF-8 JSON"),
        (b'{"v":1,"args":["\xff"],"mac":""}\n', "not UTF-8 JSON"),
        (b'{"v":1,"args":["\\ud800"],"mac":""}\n', "not UTF-8 JSON"),  # a lone surrogate
        (b"[" * 100_000 + b"\n", "the most is"),
        (b"[" * 5000 + b"]" * 5000 + b"\n", "not UTF-8 JSON"),  # too deep for json
        (line([LINK]), "not a JSON object"),
        (b'"ocm://x"\n', "not a JSON object"),
        (line({"v": 1, "args": [LINK]}), "fields"),
        (signed([LINK], extra=1), "fields"),
        (signed([LINK], v=2), "version 2"),
        (signed([LINK], v=True), "version True"),
        (signed([LINK], v="1"), "version '1'"),
        (signed(LINK), "not a list"),
        (signed({"0": LINK}), "not a list"),
        (signed([LINK, 1]), "not a string"),
        (signed([None]), "not a string"),
        (signed([[LINK]]), "not a string"),
        (signed(["x"] * (MAX_HANDOFF_ARGS + 1)), f"at most {MAX_HANDOFF_ARGS}"),
        (signed(["x" * MAX_HANDOFF_BYTES]), f"the most is {MAX_HANDOFF_BYTES}"),
        (line({"v": 1, "args": [LINK], "mac": 7}), "mac is not ASCII"),
        (line({"v": 1, "args": [LINK], "mac": "é" * 64}), "mac is not ASCII"),
        (line({"v": 1, "args": [LINK], "mac": mac_for([LINK])[:-1]}), "secret"),
        (line({"v": 1, "args": [LINK + "x"], "mac": mac_for([LINK])}), "secret"),
        (encode_handoff(SECRET, [LINK])[:-1], "one line"),
        (encode_handoff(SECRET, [LINK]) * 2, "one line"),
        (b"", "one line"),
    ],
)
def test_every_malformed_handoff_is_refused_with_its_reason(data, reason):
    with pytest.raises(BadHandoff, match=reason):
        decode_handoff(data, SECRET)


def test_the_largest_handoff_passes_and_one_byte_more_does_not():
    overhead = len(encode_handoff(SECRET, [""]))
    largest = encode_handoff(SECRET, ["x" * (MAX_HANDOFF_BYTES - overhead)])
    assert len(largest) == MAX_HANDOFF_BYTES
    assert decode_handoff(largest, SECRET) == ["x" * (MAX_HANDOFF_BYTES - overhead)]
    with pytest.raises(LocalProtocolError, match="the most is"):
        encode_handoff(SECRET, ["x" * (MAX_HANDOFF_BYTES - overhead + 1)])


@pytest.mark.parametrize(
    "args, reason",
    [
        (["x"] * (MAX_HANDOFF_ARGS + 1), "at most"),
        (["\udcff"], "not Unicode text"),  # an argv byte that was not UTF-8 (surrogateescape)
        ([b"bytes"], "not Unicode text"),
    ],
)
def test_what_cannot_travel_is_our_mistake(args, reason):
    with pytest.raises(LocalProtocolError, match=reason):
        encode_handoff(SECRET, args)


def test_a_short_secret_is_refused_on_both_ends():
    with pytest.raises(LocalProtocolError, match="secret"):
        encode_handoff(b"short", [LINK])
    with pytest.raises(LocalProtocolError, match="secret"):
        decode_handoff(encode_handoff(SECRET, [LINK]), b"")


@given(st.binary(max_size=300))
def test_random_bytes_are_refused_never_a_crash(data):
    with pytest.raises(BadHandoff):
        decode_handoff(data, SECRET)


@given(st.data())
def test_a_changed_byte_is_refused_or_changes_nothing(data):
    good = bytearray(encode_handoff(SECRET, [LINK, "部屋"]))
    index = data.draw(st.integers(0, len(good) - 1))
    good[index] = data.draw(st.integers(0, 255).filter(lambda b: b != good[index]))
    try:
        assert decode_handoff(bytes(good), SECRET) == [LINK, "部屋"]
    except BadHandoff:
        pass


def test_exactly_the_most_arguments_pass():
    args = ["x"] * MAX_HANDOFF_ARGS
    assert decode_handoff(encode_handoff(SECRET, args), SECRET) == args


@pytest.mark.parametrize(
    "data, reason",
    [
        (encode_handoff(SECRET, [LINK]) + b"\n", "a hand-off is one line ending in a newline"),  # a blank line after
        (line([LINK]), "the hand-off is not a JSON object"),
        (signed(LINK), "the hand-off's args are not a list"),
    ],
)
def test_the_reasons_read_whole(data, reason):
    with pytest.raises(BadHandoff) as refused:
        decode_handoff(data, SECRET)
    assert refused.value.reason == reason


def test_an_argument_that_is_not_text_is_refused_in_words():
    with pytest.raises(LocalProtocolError) as refused:
        encode_handoff(SECRET, ["\udcff"])
    assert str(refused.value) == "a hand-off argument is not Unicode text"
