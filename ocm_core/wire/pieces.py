"""Long messages on the wire: a frame too long for one datagram travels as pieces, each a slice
of the frame's encoded bytes, and the receiver decodes the whole frame once it has them all.
Up: the member's whole CHAT (or ACTION) frame in PIECEs, what the server holds said back in
PIECE_GOT. Down: the whole EVENT frame in EVENT_PIECEs, the pieces still wanted asked for in
PIECE_RESEND. Kinds beside datagram.py's; decode_body hands them to decode_piece_frame.

A bitmap names pieces: bit i is piece i, counted from the high bit of the first byte (piece 0
is 0x80 of byte 0, piece 8 is 0x80 of byte 1); it is exactly ceil(count / 8) bytes, and the
bits past `count` are 0.

Bytes in, typed values out; every malformed input raises RemoteProtocolError, every frame this
side could not send raises LocalProtocolError. Layouts in docs/protocol.md, "Long messages".

    PIECE         FF 01 0A | msg_id u32 | index u16 | count u16 | slice (1 byte or more)
    PIECE_RESEND  FF 01 0B | seq u32    | count u16 | bitmap of the pieces wanted (one at least)
    PIECE_GOT     FF 01 18 | msg_id u32 | count u16 | bitmap of the pieces held
    EVENT_PIECE   FF 01 19 | seq u32    | index u16 | count u16 | slice (1 byte or more)
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ocm_core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ocm_core.wire.limits import (
    FRAME_MAGIC,
    FRAME_VERSION,
    MAX_DATAGRAM,
    MAX_NAME_BYTES,
    MAX_TOKEN_BYTES,
    SEAL_OVERHEAD,
)


class PieceKind(enum.IntEnum):
    # client -> server
    PIECE = 0x0A
    PIECE_RESEND = 0x0B
    # server -> client
    PIECE_GOT = 0x18
    EVENT_PIECE = 0x19


PIECE_KINDS = frozenset(int(k) for k in PieceKind)

_SLICE_HEAD = struct.Struct("!IHH")  # msg_id or seq, index, count
_BITMAP_HEAD = struct.Struct("!IH")  # msg_id or seq, count
PIECE_OVERHEAD = 3 + _SLICE_HEAD.size  # magic, version, kind, then the fixed fields: 11

# What a member's SYNC says it reads (RoomRequest.features), and the snapshot what the server
# does: a member that did not say "pieces" is sent a long event as a shortened chat line.
FEATURE_PIECES = "pieces"

MAX_LONG_TEXT_BYTES = 256 * 1024  # the longest text a message may have, in UTF-8 bytes
# The longest whole frame: the text and the fields around it (an EVENT's 20 bytes and a name of
# up to 255, an ACTION's 16), with room to spare for JSON around a reply's or an edit's text.
MAX_LONG_FRAME_BYTES = MAX_LONG_TEXT_BYTES + 4096


def piece_room(room_bytes: int, token_bytes: int) -> int:
    """The longest slice a sealed PIECE or EVENT_PIECE can carry in a datagram with that header:
    a member passes its token's length, the server 0 (its datagrams carry no token). No name
    is in a piece; the sender's name is inside the frame that is cut."""
    return MAX_DATAGRAM - 2 - room_bytes - token_bytes - SEAL_OVERHEAD - PIECE_OVERHEAD


def is_long(frame_bytes: int, room_bytes: int, token_bytes: int) -> bool:
    """Whether a frame of `frame_bytes` is too long for one sealed datagram with that header,
    so that it goes in pieces."""
    return 2 + room_bytes + token_bytes + SEAL_OVERHEAD + frame_bytes > MAX_DATAGRAM


# The smallest slice is a member's with the longest room name and token; the longest frame cut
# into slices that small gives the most pieces a message can have (76 today).
MIN_PIECE_BYTES = piece_room(MAX_NAME_BYTES, MAX_TOKEN_BYTES)
MAX_PIECES = -(-MAX_LONG_FRAME_BYTES // MIN_PIECE_BYTES)


@dataclass(frozen=True)
class Piece:
    """client -> server: slice `index` of the `count` of our message `msg_id`'s whole frame."""

    msg_id: int
    index: int
    count: int
    data: bytes


@dataclass(frozen=True)
class PieceGot:
    """server -> client: the pieces of our message `msg_id` that the server holds."""

    msg_id: int
    count: int
    held: frozenset[int]


@dataclass(frozen=True)
class EventPiece:
    """server -> client: slice `index` of the `count` of room event `seq`'s whole EVENT frame."""

    seq: int
    index: int
    count: int
    data: bytes


@dataclass(frozen=True)
class PieceResend:
    """client -> server: send these pieces of room event `seq` again."""

    seq: int
    count: int
    wanted: frozenset[int]


def split(frame: bytes, size: int) -> list[bytes]:
    """`frame` cut into slices of `size` bytes (the last one shorter): at least two of them, at
    most MAX_PIECES. A frame that fits one slice goes whole, as itself."""
    if size < 1:
        raise LocalProtocolError(f"a slice of {size} bytes carries nothing")
    if len(frame) > MAX_LONG_FRAME_BYTES:
        raise LocalProtocolError(
            f"frame is {len(frame)} bytes; the most a long message may be is {MAX_LONG_FRAME_BYTES}"
        )
    if len(frame) <= size:
        raise LocalProtocolError("frame fits one datagram: send it whole")
    slices = [frame[at : at + size] for at in range(0, len(frame), size)]
    if len(slices) > MAX_PIECES:
        raise LocalProtocolError(f"frame would be {len(slices)} pieces of {size} bytes; the most is {MAX_PIECES}")
    return slices


def bitmap(indexes: Iterable[int], count: int) -> bytes:
    """The bitmap of `indexes` among `count` pieces."""
    _check_count(count, LocalProtocolError)
    bits = bytearray(_bitmap_size(count))
    for i in indexes:
        if not 0 <= i < count:
            raise LocalProtocolError(f"piece {i} is not among {count}")
        bits[i >> 3] |= 0x80 >> (i & 7)
    return bytes(bits)


def bitmap_indexes(bits: bytes, count: int) -> frozenset[int]:
    """The pieces a bitmap of `count` pieces names; bad for its length or for a bit past `count`."""
    _check_count(count, RemoteProtocolError)
    if len(bits) != _bitmap_size(count):
        raise RemoteProtocolError(f"bitmap of {count} pieces is {_bitmap_size(count)} bytes, not {len(bits)}")
    if count & 7 and bits[-1] & (0xFF >> (count & 7)):
        raise RemoteProtocolError(f"bitmap names a piece past the {count}")
    return frozenset(i for i in range(count) if bits[i >> 3] & (0x80 >> (i & 7)))


def _bitmap_size(count: int) -> int:
    return (count + 7) // 8


def _check_count(count: int, error: type[ProtocolError]) -> None:
    if not 2 <= count <= MAX_PIECES:
        raise error(f"a long message is 2 to {MAX_PIECES} pieces, not {count}")


def _check_slice(index: int, count: int, data: bytes, error: type[ProtocolError]) -> None:
    _check_count(count, error)
    if not 0 <= index < count:
        raise error(f"piece {index} is not among {count}")
    if not data:
        raise error("piece is empty")


def _frame(kind: PieceKind, rest: bytes) -> bytes:
    return bytes((FRAME_MAGIC, FRAME_VERSION, kind)) + rest


def encode_piece(piece: Piece) -> bytes:
    _check_slice(piece.index, piece.count, piece.data, LocalProtocolError)
    return _frame(PieceKind.PIECE, _SLICE_HEAD.pack(piece.msg_id, piece.index, piece.count) + piece.data)


def encode_event_piece(piece: EventPiece) -> bytes:
    _check_slice(piece.index, piece.count, piece.data, LocalProtocolError)
    return _frame(PieceKind.EVENT_PIECE, _SLICE_HEAD.pack(piece.seq, piece.index, piece.count) + piece.data)


def encode_piece_got(got: PieceGot) -> bytes:
    return _frame(PieceKind.PIECE_GOT, _BITMAP_HEAD.pack(got.msg_id, got.count) + bitmap(got.held, got.count))


def encode_piece_resend(resend: PieceResend) -> bytes:
    if not resend.wanted:
        raise LocalProtocolError("a piece resend asks for no piece")
    body = _BITMAP_HEAD.pack(resend.seq, resend.count) + bitmap(resend.wanted, resend.count)
    return _frame(PieceKind.PIECE_RESEND, body)


def decode_piece_frame(kind_byte: int, rest: bytes) -> Piece | PieceGot | EventPiece | PieceResend:
    """One of this module's frames from its kind byte and the bytes after it (datagram.py's
    decode_body hands them here)."""
    try:
        kind = PieceKind(kind_byte)
    except ValueError:
        raise RemoteProtocolError(f"unknown frame kind {kind_byte:#04x}") from None
    what = kind.name.lower().replace("_", " ")
    if kind in (PieceKind.PIECE, PieceKind.EVENT_PIECE):
        if len(rest) < _SLICE_HEAD.size:
            raise RemoteProtocolError(f"{what} frame is shorter than its fixed fields")
        key, index, count = _SLICE_HEAD.unpack_from(rest)
        data = rest[_SLICE_HEAD.size :]
        _check_slice(index, count, data, RemoteProtocolError)
        return Piece(key, index, count, data) if kind is PieceKind.PIECE else EventPiece(key, index, count, data)
    if len(rest) < _BITMAP_HEAD.size:
        raise RemoteProtocolError(f"{what} frame is shorter than its fixed fields")
    key, count = _BITMAP_HEAD.unpack_from(rest)
    indexes = bitmap_indexes(rest[_BITMAP_HEAD.size :], count)
    if kind is PieceKind.PIECE_GOT:
        return PieceGot(key, count, indexes)
    if not indexes:
        raise RemoteProtocolError("piece resend asks for no piece")
    return PieceResend(key, count, indexes)
