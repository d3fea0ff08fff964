"""Long messages: the piece frames bytes in, bytes out (wire/pieces.py), the Assembler and the
Sender on a fake clock (sansio/pieces.py), and a long Japanese text through a lossy link both
ways, sealed, arriving whole and byte for byte."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocm_core import wire as p
from ocm_core.crypto.sealed import SealedChannel
from ocm_core.errors import LocalProtocolError, RemoteProtocolError
from ocm_core.sansio.pieces import (
    ANSWER_EVERY,
    SERVER,
    Assembler,
    PieceState,
    Sender,
    Took,
)
from ocm_core.sansio.session import GAP_RETRY, RESEND_SPACING
from ocm_core.wire.pieces import (
    MAX_LONG_FRAME_BYTES,
    MAX_LONG_TEXT_BYTES,
    MAX_PIECES,
    MIN_PIECE_BYTES,
    PIECE_KINDS,
    EventPiece,
    Piece,
    PieceGot,
    PieceResend,
    bitmap,
    bitmap_indexes,
    decode_piece_frame,
    encode_event_piece,
    encode_piece,
    encode_piece_got,
    encode_piece_resend,
    is_long,
    piece_room,
    split,
)

TOKEN = b"Xq3v9dK2mP0aB7cR5tY1wQ"
U32 = st.integers(0, 2**32 - 1)
COUNTS = st.integers(2, MAX_PIECES)
SLICES = st.binary(min_size=1, max_size=64)


def decode(body: bytes):
    """A body as decode_body will read it once it hands the piece kinds to decode_piece_frame."""
    if body[:2] == bytes((p.FRAME_MAGIC, p.FRAME_VERSION)) and body[2] in PIECE_KINDS:
        return decode_piece_frame(body[2], body[3:])
    return p.decode_body(body)


def refused(body: bytes, match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        decode(body)


@st.composite
def slices_of(draw, kind):
    count = draw(COUNTS)
    return kind(draw(U32), draw(st.integers(0, count - 1)), count, draw(SLICES))


@st.composite
def bitmaps_of(draw, kind, min_size=0):
    count = draw(COUNTS)
    return kind(draw(U32), count, frozenset(draw(st.sets(st.integers(0, count - 1), min_size=min_size))))


# --- the frames, bytes in and out ----------------------------------------------------------


def test_each_frame_in_bytes():
    assert encode_piece(Piece(7, 1, 2, b"\x93\xe3")).hex(" ") == "ff 01 0a 00 00 00 07 00 01 00 02 93 e3"
    assert encode_event_piece(EventPiece(3, 0, 9, b"\xff")).hex(" ") == "ff 01 19 00 00 00 03 00 00 00 09 ff"
    assert encode_piece_got(PieceGot(7, 10, frozenset({0, 2, 9}))).hex(" ") == "ff 01 18 00 00 00 07 00 0a a0 40"
    assert encode_piece_resend(PieceResend(3, 8, frozenset({7}))).hex(" ") == "ff 01 0b 00 00 00 03 00 08 01"
    assert decode(bytes.fromhex("ff010a0000000700010002 93e3")) == Piece(7, 1, 2, b"\x93\xe3")
    assert decode(bytes.fromhex("ff0118 00000007 000a a040")) == PieceGot(7, 10, frozenset({0, 2, 9}))
    assert decode(bytes.fromhex("ff010b 00000003 0008 01")) == PieceResend(3, 8, frozenset({7}))
    assert decode(bytes.fromhex("ff0119 00000003 0000 0009 ff")) == EventPiece(3, 0, 9, b"\xff")


def test_the_kinds_are_new_and_the_figures_hold():
    used = {int(k) for k in p.FrameKind} | set(p.DIRECT_KINDS) | {0x09, 0x1A}  # 0x09, 0x1A: actions
    assert PIECE_KINDS == {0x0A, 0x0B, 0x18, 0x19} and not PIECE_KINDS & used
    assert piece_room(5, 22) == 4027 and piece_room(5, 0) == 4049  # "lobby", our 22-byte token
    assert MIN_PIECE_BYTES == piece_room(255, 255) == 3544
    assert (
        MAX_PIECES == 76 and (MAX_PIECES - 1) * MIN_PIECE_BYTES < MAX_LONG_FRAME_BYTES <= MAX_PIECES * MIN_PIECE_BYTES
    )
    # the longest text's EVENT, with the longest name, is cut into no more than MAX_PIECES
    longest = p.encode_event(p.Event(1, 0, p.EventType.CHAT, "名" * 85, "あ" * (MAX_LONG_TEXT_BYTES // 3)))
    assert len(split(longest, MIN_PIECE_BYTES)) <= MAX_PIECES


@pytest.mark.parametrize(("room", "token"), [(b"lobby", TOKEN), (b"r" * 255, b"t" * 255), (b"x", b"")])
def test_a_full_piece_fits_a_sealed_datagram(room, token):
    size = piece_room(len(room), len(token))
    channel = SealedChannel.for_client(bytes(32))
    longest_whole = p.MAX_DATAGRAM - 2 - len(room) - len(token) - p.SEAL_OVERHEAD
    assert not is_long(longest_whole, len(room), len(token)) and is_long(longest_whole + 1, len(room), len(token))
    assert len(channel.seal(p.datagram_header(room, token), b"\xff" * longest_whole)) == p.MAX_DATAGRAM
    body = encode_piece(Piece(2**32 - 1, MAX_PIECES - 1, MAX_PIECES, b"\xab" * size))
    assert len(channel.seal(p.datagram_header(room, token), body)) == p.MAX_DATAGRAM
    with pytest.raises(LocalProtocolError):
        channel.seal(p.datagram_header(room, token), body + b"\xab")


@given(slices_of(Piece))
def test_a_piece_round_trips(piece):
    assert decode(encode_piece(piece)) == piece


@given(slices_of(EventPiece))
def test_an_event_piece_round_trips(piece):
    assert decode(encode_event_piece(piece)) == piece


@given(bitmaps_of(PieceGot))
def test_a_piece_got_round_trips(got):
    assert decode(encode_piece_got(got)) == got


@given(bitmaps_of(PieceResend, min_size=1))
def test_a_piece_resend_round_trips(resend):
    assert decode(encode_piece_resend(resend)) == resend


@given(st.binary(min_size=2, max_size=MAX_LONG_FRAME_BYTES // 64), st.integers(1, 4096))
def test_split_cuts_a_frame_into_equal_slices_and_a_last_one(frame, size):
    if len(frame) <= size or -(-len(frame) // size) > MAX_PIECES:
        with pytest.raises(LocalProtocolError):
            split(frame, size)
        return
    slices = split(frame, size)
    assert b"".join(slices) == frame and 2 <= len(slices) <= MAX_PIECES
    assert {len(s) for s in slices[:-1]} == {size} and 0 < len(slices[-1]) <= size


def test_split_refuses_what_is_not_a_long_message():
    with pytest.raises(LocalProtocolError, match="whole"):
        split(b"abc", 3)
    with pytest.raises(LocalProtocolError, match="carries nothing"):
        split(b"abc", 0)
    with pytest.raises(LocalProtocolError, match="the most a long message"):
        split(b"x" * (MAX_LONG_FRAME_BYTES + 1), 4000)
    with pytest.raises(LocalProtocolError, match="pieces of 10 bytes"):
        split(b"x" * (10 * MAX_PIECES + 1), 10)


@given(st.integers(2, MAX_PIECES).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_a_bitmap_names_its_pieces(case):
    count, indexes = case
    bits = bitmap(indexes, count)
    assert len(bits) == (count + 7) // 8 and bitmap_indexes(bits, count) == indexes


@pytest.mark.parametrize(
    ("hex_body", "match"),
    [
        ("ff010a 00000007 0000", "shorter than its fixed fields"),
        ("ff0119 00000007 00000002", "piece is empty"),
        ("ff010a 00000007 0000 0001 aa", "2 to 76 pieces, not 1"),
        ("ff010a 00000007 0000 0000 aa", "2 to 76 pieces, not 0"),
        ("ff010a 00000007 0000 004d aa", "2 to 76 pieces, not 77"),
        ("ff010a 00000007 0002 0002 aa", "piece 2 is not among 2"),
        ("ff0119 00000007 ffff 0002 aa", "piece 65535 is not among 2"),
        ("ff0118 00000007 00", "shorter than its fixed fields"),
        ("ff0118 00000007 0002", "bitmap of 2 pieces is 1 bytes, not 0"),
        ("ff0118 00000007 0002 c000", "bitmap of 2 pieces is 1 bytes, not 2"),
        ("ff0118 00000007 0002 e0", "names a piece past the 2"),
        ("ff0118 00000007 0009 0040", "names a piece past the 9"),
        ("ff0118 00000007 0001 80", "2 to 76 pieces, not 1"),
        ("ff010b 00000007 0002 00", "asks for no piece"),
        ("ff010b 00000007 0002 c0 00", "bitmap of 2 pieces is 1 bytes, not 2"),
    ],
)
def test_every_malformed_piece_frame_is_refused_with_its_reason(hex_body, match):
    refused(bytes.fromhex(hex_body), match)


def test_an_unknown_kind_is_refused_here_too():
    with pytest.raises(RemoteProtocolError, match="unknown frame kind 0x0c"):
        decode_piece_frame(0x0C, b"")


@pytest.mark.parametrize(
    "make",
    [
        lambda: encode_piece(Piece(1, 2, 2, b"x")),
        lambda: encode_piece(Piece(1, 0, 1, b"x")),
        lambda: encode_event_piece(EventPiece(1, 0, 2, b"")),
        lambda: encode_piece_got(PieceGot(1, 2, frozenset({2}))),
        lambda: encode_piece_got(PieceGot(1, MAX_PIECES + 1, frozenset())),
        lambda: encode_piece_resend(PieceResend(1, 2, frozenset())),
    ],
)
def test_what_the_wire_cannot_carry_is_never_encoded(make):
    with pytest.raises(LocalProtocolError):
        make()


@given(st.sampled_from(sorted(PIECE_KINDS)), st.binary(max_size=40))
def test_any_bytes_decode_or_are_refused_never_crash(kind, rest):
    try:
        frame = decode_piece_frame(kind, rest)
    except RemoteProtocolError:
        return
    assert isinstance(frame, (Piece, PieceGot, EventPiece, PieceResend))


# --- the worked example in the protocol's "Long messages" section ---------------------------
# The same dumps are in the section (notes/pieces-protocol.md until it joins docs/protocol.md).

PIECE_0_DUMP = """\
05                                               RoomNameSize = 5
16                                               TokenSize = 22
6c 6f 62 62 79                                   room "lobby"
58 71 33 76 39 64 4b 32 6d 50 30 61 42 37 63 52  token "Xq3v9dK2mP0aB7cR5tY1wQ"
35 74 59 31 77 51
ff                                               magic 0xFF
01                                               version 1
0a                                               kind 0x0A (PIECE)
00 00 00 07                                      msg_id = 7
00 00                                            index = 0
00 02                                            count = 2
ff 01 02 00 00 00 07 00 00 00 05 e3 81           slice: bytes 0 to 12 of the CHAT frame
"""

EVENT_PIECE_0_DUMP = """\
05                                               RoomNameSize = 5
00                                               TokenSize = 0
6c 6f 62 62 79                                   room "lobby"
ff                                               magic 0xFF
01                                               version 1
19                                               kind 0x19 (EVENT_PIECE)
00 00 00 03                                      seq = 3
00 00                                            index = 0
00 02                                            count = 2
ff 01 10 00 00 00 03 00 00 01 8b cf e5 6f d0 00  slice: bytes 0 to 29 of the EVENT frame
01 09 e3 82 a2 e3 83 aa e3 82 b9 e3 81 93
"""

ONE_LINERS = {  # the rest of the example, as the section gives them
    "piece 1": "05 16 6c6f626279 5871337639644b326d50306142376352357459317751 ff 01 0a 00000007 0001 0002 "
    "93e38293e381abe381a1e381af",
    "got 0": "05 00 6c6f626279 ff 01 18 00000007 0002 80",
    "got both": "05 00 6c6f626279 ff 01 18 00000007 0002 c0",
    "event piece 1": "05 00 6c6f626279 ff 01 19 00000003 0001 0002 e38293e381abe381a1e381af",
    "resend 0": "05 16 6c6f626279 5871337639644b326d50306142376352357459317751 ff 01 0b 00000003 0002 80",
}


def dump_bytes(dump: str) -> bytes:
    return bytes.fromhex(" ".join(line[:48] for line in dump.splitlines()))


def test_the_worked_example_is_what_the_code_makes():
    chat = p.encode_chat(7, "こんにちは", 5)
    up = split(chat, 13)
    pieces = [p.encode_datagram(b"lobby", TOKEN, encode_piece(Piece(7, i, 2, s))) for i, s in enumerate(up)]
    assert pieces[0] == dump_bytes(PIECE_0_DUMP) and len(pieces[0]) == 53
    assert pieces[1] == bytes.fromhex(ONE_LINERS["piece 1"])
    for name, held in (("got 0", {0}), ("got both", {0, 1})):
        got = encode_piece_got(PieceGot(7, 2, frozenset(held)))
        assert p.encode_datagram(b"lobby", b"", got) == bytes.fromhex(ONE_LINERS[name])
    assert p.decode_body(b"".join(up)) == p.Chat(7, "こんにちは", 5)

    event = p.Event(3, 1700000002000, p.EventType.CHAT, "アリス", "こんにちは")
    down = split(p.encode_event(event), 30)
    pieces = [p.encode_datagram(b"lobby", b"", encode_event_piece(EventPiece(3, i, 2, s))) for i, s in enumerate(down)]
    assert pieces[0] == dump_bytes(EVENT_PIECE_0_DUMP) and len(pieces[0]) == 48
    assert pieces[1] == bytes.fromhex(ONE_LINERS["event piece 1"])
    resend = encode_piece_resend(PieceResend(3, 2, frozenset({0})))
    assert p.encode_datagram(b"lobby", TOKEN, resend) == bytes.fromhex(ONE_LINERS["resend 0"])
    assert p.decode_body(b"".join(down)) == event
    doc = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text("utf-8")
    assert PIECE_0_DUMP in doc and EVENT_PIECE_0_DUMP in doc  # section 14.7 shows what the code makes
    packed = "".join(doc.split())
    for line in ONE_LINERS.values():
        assert "".join(line.split()) in packed


# --- the Assembler on a fake clock ---------------------------------------------------------

FRAME = bytes(range(256)) * 40  # 10240 bytes
SIZE = 1000  # 11 pieces: 10 of 1000 bytes and one of 240
SLICES_11 = split(FRAME, SIZE)


def assembler(**limits) -> Assembler:
    return Assembler(**{"total_bytes": 1 << 24, **limits})


def feed(asm: Assembler, order, owner=b"tok", key=1, now=0.0, slices=SLICES_11):
    return [asm.add(owner, key, i, len(slices), slices[i], now) for i in order]


def whole_once(results) -> bytes:
    wholes = [r.frame for r in results if r.took is Took.WHOLE]
    assert len(wholes) == 1
    return wholes[0]


@pytest.mark.parametrize("order", [range(11), reversed(range(11))], ids=["in order", "reversed"])
def test_the_whole_frame_comes_out_once(order):
    asm = assembler()
    results = feed(asm, list(order))
    assert whole_once(results) == FRAME
    assert [r.took for r in results[:-1]] == [Took.KEPT] * 10
    assert asm.bytes_held == 0 and asm.partials(b"tok") == [] and asm.held(b"tok", 1) == frozenset(range(11))


@given(st.permutations(range(11)), st.lists(st.integers(0, 10), max_size=20), st.randoms())
def test_shuffled_and_duplicated_pieces_give_the_frame_once(order, copies, rng):
    pieces = list(order) + copies
    rng.shuffle(pieces)
    asm = assembler()
    results = feed(asm, pieces)
    assert whole_once(results) == FRAME
    whole_at = next(i for i, r in enumerate(results) if r.took is Took.WHOLE)
    assert all(r.took in (Took.KEPT, Took.DUPLICATE) for r in results[:whole_at])
    assert all(r.took is Took.DONE for r in results[whole_at + 1 :])
    assert asm.bytes_held == 0


def test_progress_and_when_to_answer():
    asm = assembler()
    results = feed(asm, [0, 1, 2, 3, 4, 5, 6, 7, 10, 3], now=5.0)
    assert [r.answer for r in results] == [False] * 7 + [True, True, True]  # the 8th, the last, a copy
    assert results[-1].took is Took.DUPLICATE and asm.dropped["duplicate piece"] == 1
    assert asm.held(b"tok", 1) == frozenset({0, 1, 2, 3, 4, 5, 6, 7, 10})
    assert asm.missing(b"tok", 1) == frozenset({8, 9})
    [progress] = asm.partials(b"tok")
    assert (progress.key, progress.count, progress.missing, progress.started) == (1, 11, frozenset({8, 9}), 5.0)
    assert asm.bytes_held == 8 * 1000 + 240
    assert asm.held(b"tok", 2) == asm.missing(b"tok", 2) == frozenset()  # unknown
    assert ANSWER_EVERY == 8


def test_a_piece_that_never_comes_is_given_up_and_its_memory_released():
    asm = assembler()
    feed(asm, range(10), now=100.0)
    assert asm.bytes_held == 10_000
    assert asm.expire(159.9) == [] and asm.bytes_held == 10_000
    assert asm.expire(160.0) == [(b"tok", 1)]
    assert asm.bytes_held == 0 and asm.partials(b"tok") == [] and asm.dropped["expired"] == 1
    assert asm._owner_bytes == {} and asm._owner_partials == {}
    # the last piece, late: a new partial (not a message whole), itself given up in time
    assert feed(asm, [10], now=161.0)[0].took is Took.KEPT


def test_a_count_that_disagrees_refuses_the_whole_partial():
    asm = assembler()
    feed(asm, [0, 1, 2])
    result = asm.add(b"tok", 1, 3, 12, SLICES_11[3], 0.0)
    assert (result.took, result.reason) == (Took.REFUSED, "count disagrees")
    assert asm.bytes_held == 0 and asm.partials(b"tok") == [] and asm.dropped["count disagrees"] == 1


def test_a_message_over_the_cap_is_refused_whole():
    asm = assembler(max_message_bytes=5000)
    results = feed(asm, range(6))
    assert [r.took for r in results] == [Took.KEPT] * 5 + [Took.REFUSED]
    assert results[-1].reason == "message too long" and asm.bytes_held == 0
    assert feed(asm, [0])[0].took is Took.KEPT  # started again from nothing, refused again in time


def test_a_bad_piece_is_refused():
    asm = assembler()
    for index, count, data in ((2, 2, b"x"), (0, 1, b"x"), (0, MAX_PIECES + 1, b"x"), (0, 2, b"")):
        assert asm.add(b"tok", 1, index, count, data, 0.0).reason == "bad piece"
    assert asm.dropped["bad piece"] == 4


def test_an_owner_has_at_most_its_partials_and_its_bytes():
    asm = assembler(partials_per_owner=4, bytes_per_owner=12_000)
    for key in range(1, 5):
        assert feed(asm, [0], key=key)[0].took is Took.KEPT
    refused = feed(asm, [0], key=5)[0]
    assert (refused.took, refused.reason) == (Took.REFUSED, "too many partials")
    assert feed(asm, [0], owner=b"other", key=5)[0].took is Took.KEPT  # another owner is not held back
    results = feed(asm, range(1, 10), key=1)  # 4000 held by this owner, 8000 more allowed
    assert [r.took for r in results] == [Took.KEPT] * 8 + [Took.REFUSED]
    assert results[-1].reason == "owner over its bytes"
    assert asm.missing(b"tok", 1) == frozenset() and asm.bytes_held == 4000  # keys 2-4 and the other's
    assert feed(asm, [0], key=5)[0].took is Took.KEPT  # a place came free


def test_all_owners_together_stay_under_the_total():
    asm = assembler(total_bytes=25_000)
    for owner in (b"a", b"b"):
        feed(asm, range(10), owner=owner)
    results = feed(asm, range(6), owner=b"c")
    assert [r.took for r in results] == [Took.KEPT] * 5 + [Took.REFUSED]
    assert results[-1].reason == "all over their bytes" and asm.bytes_held == 20_000
    assert whole_once(feed(asm, [10], owner=b"a")) == FRAME  # the others complete
    assert asm.bytes_held == 10_000


def test_a_whole_message_is_remembered_for_a_while_then_forgotten():
    asm = assembler(done_seconds=120.0, max_done=2)
    whole_once(feed(asm, range(11), now=10.0))
    late = asm.add(b"tok", 1, 4, 11, SLICES_11[4], 50.0)
    assert (late.took, late.answer) == (Took.DONE, True) and asm.dropped["late piece"] == 1
    assert asm.is_done(b"tok", 1) and asm.held(b"tok", 1) == frozenset(range(11))
    assert asm.add(b"tok", 1, 4, 99, b"junk", 50.0).took is Took.DONE  # whole is whole
    asm.expire(129.9)
    assert asm.is_done(b"tok", 1)
    asm.expire(130.0)
    assert not asm.is_done(b"tok", 1) and asm.bytes_held == 0
    for key in (2, 3, 4):  # at most max_done remembered: the oldest goes first
        whole_once(feed(asm, range(11), key=key, now=131.0))
    assert [asm.is_done(b"tok", k) for k in (2, 3, 4)] == [False, True, True]


def test_one_message_can_be_forgotten_arriving_or_whole():
    asm = assembler()
    feed(asm, range(5), key=1)
    whole_once(feed(asm, range(11), key=2))
    asm.forget(b"tok", 1)
    asm.forget(b"tok", 2)
    asm.forget(b"tok", 3)  # unknown: nothing to do
    assert asm.bytes_held == 0 and asm.partials(b"tok") == [] and not asm.is_done(b"tok", 2)
    assert feed(asm, [0], key=2)[0].took is Took.KEPT  # wanted again


def test_an_owner_that_goes_is_forgotten():
    asm = assembler()
    feed(asm, range(5), owner=b"gone", key=1)
    whole_once(feed(asm, range(11), owner=b"gone", key=2))
    feed(asm, range(3), owner=b"stays", key=1)
    asm.drop_owner(b"gone")
    assert asm.partials(b"gone") == [] and not asm.is_done(b"gone", 2) and asm.bytes_held == 3000
    assert asm.dropped["owner gone"] == 1 and len(asm.partials(b"stays")) == 1


# --- the Sender -----------------------------------------------------------------------------

BIG = bytes(range(256)) * 200  # 51200 bytes: 52 pieces of 1000


def test_the_sender_keeps_a_window_and_slides_it_on_what_is_held():
    sender = Sender(BIG, 1000, 0.0, window=32)
    assert sender.count == 52 and sender.due(0.0) == list(range(32)) and sender.due(0.01) == []
    assert sender.acknowledged(52, range(10), 0.1)  # in order so far: nothing is lost
    assert sender.due(0.1) == list(range(32, 42))
    assert not sender.acknowledged(51, range(52), 0.1)  # not this message's count: ignored
    assert not sender.complete


def test_a_piece_missing_below_a_held_one_is_sent_again_at_once():
    sender = Sender(BIG, 1000, 0.0, window=32)
    sender.due(0.0)
    sender.acknowledged(52, set(range(16)) - {3, 7}, 0.1)
    assert sender.states[3] is PieceState.LOST and sender.states[20] is PieceState.ON_ITS_WAY
    assert sender.due(0.1) == [3, 7] + list(range(32, 46))


def test_silence_sends_again_what_is_on_its_way_with_a_backoff():
    sender = Sender(BIG, 1000, 0.0, window=4, first_retry=0.3, max_retry=2.0)
    assert sender.due(0.0) == [0, 1, 2, 3]
    assert sender.due(0.29) == []
    assert sender.due(0.3) == [0, 1, 2, 3] and sender.interval == 0.6
    assert sender.due(0.8) == [] and sender.due(0.9) == [0, 1, 2, 3]
    for _ in range(5):
        sender.due(sender.retry_at)
    assert sender.interval == 2.0
    sender.acknowledged(52, {0, 1}, 20.0)  # progress: back to the first interval
    assert sender.interval == 0.3 and sender.due(20.0) == [4, 5]
    assert sender.sent == 4 * 8 + 2


def test_pieces_the_receiver_lost_are_sent_again():
    sender = Sender(BIG, 1000, 0.0, window=64)
    sender.due(0.0)
    sender.acknowledged(52, range(40), 0.1)
    sender.acknowledged(52, {45}, 61.0)  # its partial expired; one piece sent since made a new one
    assert sender.due(61.0) == list(range(45))  # 46 to 51 went after 45: still on their way
    assert sender.states[46] is PieceState.ON_ITS_WAY
    sender.acknowledged(52, range(52), 61.1)
    assert sender.complete and sender.due(99.0) == []


# --- a long Japanese text through a lossy link, both ways -----------------------------------

LONG_TEXT = "".join(random.Random(28).choice("あいうえおかきくけこ日本語の長い文章です、。") for _ in range(60_000))


class LossyLink:
    """Drops each datagram with probability `loss`; counts what went in."""

    def __init__(self, rng: random.Random, loss: float):
        self.rng, self.loss, self.sent = rng, loss, 0

    def carry(self, datagrams: list[bytes]) -> list[bytes]:
        self.sent += len(datagrams)
        return [d for d in datagrams if self.rng.random() >= self.loss]


class SealedPath:
    """One member's sealed datagrams in one direction, with the room's header."""

    def __init__(self, seal: SealedChannel, open_: SealedChannel, token: bytes):
        self.seal, self.open, self.header = seal, open_, p.datagram_header(b"lobby", token)

    def out(self, body: bytes) -> bytes:
        return self.seal.seal(self.header, body)  # raises if over MAX_DATAGRAM

    def into(self, datagram: bytes):
        return decode(self.open.open(self.header, datagram[len(self.header) :]))


def paths() -> tuple[SealedPath, SealedPath]:
    key = bytes(range(32))
    client, server = SealedChannel.for_client(key), SealedChannel.for_server(key, 1)
    return SealedPath(client, server, TOKEN), SealedPath(server, client, b"")


def send_up(text: str, rng: random.Random, loss: float) -> dict:
    """A member's CHAT in PIECEs; the server's PIECE_GOTs and CHAT_ACK; until the member knows."""
    up, down = paths()
    up_link, down_link = LossyLink(rng, loss), LossyLink(rng, loss)
    chat = p.encode_chat(1, text, 1)
    now, ticks, gots = 1000.0, 0, 0
    sender = Sender(chat, piece_room(5, len(TOKEN)), now)
    server = Assembler(total_bytes=8 * MAX_LONG_FRAME_BYTES)
    whole, acked = None, False
    while not acked:
        ticks += 1
        assert ticks < 10_000, "the message never got through"
        sent = [up.out(encode_piece(Piece(1, i, sender.count, sender.slices[i]))) for i in sender.due(now)]
        answers = []
        for datagram in up_link.carry(sent):
            piece = up.into(datagram)
            taken = server.add(TOKEN, piece.msg_id, piece.index, piece.count, piece.data, now)
            if taken.took is Took.WHOLE:
                whole = taken.frame
                answers.append(p.encode_chat_ack(1, 2))
            if taken.answer:
                answers.append(encode_piece_got(PieceGot(1, piece.count, server.held(TOKEN, 1))))
                gots += 1
        for datagram in down_link.carry([down.out(a) for a in answers]):
            frame = down.into(datagram)
            if isinstance(frame, PieceGot):
                sender.acknowledged(frame.count, frame.held, now)
            acked = acked or isinstance(frame, p.ChatAck) or sender.complete
        now += 0.05
    assert whole is not None and server.bytes_held == 0
    assert p.decode_body(whole) == p.Chat(1, text, 1)
    datagrams = up_link.sent + down_link.sent
    return {"pieces": sender.count, "sent": sender.sent, "got": gots, "datagrams": datagrams, "ticks": ticks}


def send_down(text: str, rng: random.Random, loss: float) -> dict:
    """The server's EVENT in EVENT_PIECEs; the member's PIECE_RESENDs; the server's probe of an
    unacknowledged event (its last piece, with a backoff); until the member has it whole."""
    up, down = paths()
    up_link, down_link = LossyLink(rng, loss), LossyLink(rng, loss)
    event = p.Event(2, 1700000000000, p.EventType.CHAT, "アリス", text)
    slices = split(p.encode_event(event), piece_room(5, 0))
    count = len(slices)
    member = Assembler(total_bytes=4 * MAX_LONG_FRAME_BYTES)
    now, ticks, asked = 1000.0, 0, 0
    last_ask, probe_at, probe_interval = float("-inf"), now + 0.25, 0.25
    outgoing = list(range(count))  # the event, emitted: every piece once
    whole = None
    while whole is None:
        ticks += 1
        assert ticks < 10_000, "the event never got through"
        if now >= probe_at:  # the registry's tick: the event is still unacknowledged
            outgoing.append(count - 1)
            probe_interval = min(2.0, probe_interval * 2)
            probe_at = now + probe_interval
        sent = [down.out(encode_event_piece(EventPiece(2, i, count, slices[i]))) for i in outgoing]
        outgoing, ask = [], False
        for datagram in down_link.carry(sent):
            piece = down.into(datagram)
            taken = member.add(SERVER, piece.seq, piece.index, piece.count, piece.data, now)
            if taken.took is Took.WHOLE:
                whole = taken.frame
            ask = ask or (taken.answer and taken.took in (Took.KEPT, Took.DUPLICATE))
        requests = []
        for progress in member.partials(SERVER):
            quiet = now - progress.last_piece_at >= GAP_RETRY
            if (ask or quiet) and now - last_ask >= RESEND_SPACING:
                requests.append(up.out(encode_piece_resend(PieceResend(progress.key, count, progress.missing))))
                last_ask, asked = now, asked + 1
        for datagram in up_link.carry(requests):
            resend = up.into(datagram)
            outgoing += sorted(resend.wanted)
        now += 0.05
    assert member.bytes_held == 0
    assert p.decode_body(whole) == event
    return {"pieces": count, "asked": asked, "datagrams": up_link.sent + down_link.sent, "ticks": ticks}


@pytest.mark.parametrize("seed", [1, 2, 3, 28, 2024])
def test_a_long_japanese_text_arrives_whole_through_a_fifth_lost(seed):
    assert len(LONG_TEXT) == 60_000 and len(LONG_TEXT.encode("utf-8")) == 180_000
    rng = random.Random(seed)
    upward = send_up(LONG_TEXT, rng, 0.2)
    downward = send_down(LONG_TEXT, rng, 0.2)
    print(
        f"\nseed {seed}, 20% lost each way; up: {upward['pieces']} pieces, {upward['sent']} PIECEs sent, "
        f"{upward['got']} PIECE_GOTs, {upward['datagrams']} datagrams in all, {upward['ticks']} ticks of 50 ms; "
        f"down: {downward['pieces']} pieces, {downward['asked']} PIECE_RESENDs, "
        f"{downward['datagrams']} datagrams in all, {downward['ticks']} ticks of 50 ms"
    )
