"""File names that are safe on every system, and saving without overwriting.

Used on both sides: the server names what it stores with `safe_name`, and a client
saving a download into a folder picks a name no existing file has ("name (1).ext").
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import BinaryIO

from ocm_core import wire as p

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in range(1, 10)
}
_WINDOWS_FORBIDDEN = set('<>:"/\\|?*')


def safe_name(name: str, fallback: str = "file") -> str:
    """A file name that is safe to create on Windows, macOS and Linux: the last part of any
    path, without control characters or characters Windows refuses, not `.`/`..`, not a
    reserved device name (CON, NUL, COM1...), at most 255 UTF-8 bytes with its extension kept."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if ch in _WINDOWS_FORBIDDEN or unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in name)
    name = name.strip().strip(". ").strip()  # Windows drops trailing dots and spaces; leading dots hide files
    if not name:
        return fallback
    if name.partition(".")[0].upper().rstrip() in _WINDOWS_RESERVED:  # "NUL.txt" is the device too
        name = "_" + name
    while len(name.encode("utf-8")) > p.MAX_FILE_NAME_BYTES:
        base, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16 and base:
            name = base[:-1] + "." + ext
        else:
            name = name[:-1]
    return name


SAME_NAME_LIMIT = 10_000  # "stem (9999).ext" is the last one tried


def claim_unique(directory: Path, name: str) -> tuple[Path, BinaryIO]:
    """Create `name` in `directory`, or "stem (1).ext", "stem (2).ext"... if it is taken;
    return the path and the file opened for writing. Never overwrites: the name is claimed
    by an exclusive create, so two downloads at once cannot pick the same one."""
    base = Path(safe_name(name))
    for number in range(SAME_NAME_LIMIT):
        candidate = directory / (base.name if number == 0 else f"{base.stem} ({number}){base.suffix}")
        try:
            return candidate, open(candidate, "xb")
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory} already has {SAME_NAME_LIMIT} files named like {base.name}")
