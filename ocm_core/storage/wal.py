"""Whether SQLite passed over part of a write-ahead log, and so lost what was acknowledged.

SQLite reads a WAL frame by frame and stops, without a word, at the first one whose checksum
fails: what came after is as if never written. A log's frames of the current cycle carry the
header's two salts (frames of an older cycle, left at the end of a reused file, carry others
and are rightly passed over). So a log holding more frames with the current salts than SQLite
took up, or a log whose header is not a WAL header at all, was damaged. Reads bytes only.
"""

from __future__ import annotations

import struct

WAL_MAGIC = (0x377F0682, 0x377F0683)
HEADER = struct.Struct(">IIIIIIII")  # magic, version, page size, checkpoint, salt1, salt2, checksum1, checksum2
FRAME_HEADER = struct.Struct(">IIIIII")  # page, commit size, salt1, salt2, checksum1, checksum2


def frames_of_this_cycle(log: bytes) -> int | None:
    """Whole frames carrying the header's salts; None when `log` has no WAL header (damaged)."""
    if len(log) < HEADER.size:
        return None
    magic, _version, page_size, _checkpoint, salt1, salt2, _c1, _c2 = HEADER.unpack_from(log)
    if magic not in WAL_MAGIC or page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        return None
    frames, offset, step = 0, HEADER.size, FRAME_HEADER.size + page_size
    while offset + step <= len(log):
        _page, _commit, frame_salt1, frame_salt2, _f1, _f2 = FRAME_HEADER.unpack_from(log, offset)
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break
        frames += 1
        offset += step
    return frames


def passed_over(log: bytes, taken_up: int) -> bool:
    """Whether SQLite, having taken up `taken_up` frames of `log`, left some of this cycle's."""
    if not log:
        return False
    frames = frames_of_this_cycle(log)
    return frames is None or frames > taken_up
