"""A folder shared as one item: packed into a ZIP, unpacked as a folder, safe both ways.

`pack` stores a folder's regular files and directories (empty ones too) under relative
POSIX names, each part made safe with `filenames.safe_name` (and unique, ignoring case,
in its directory); links and special files are skipped, never followed. ZIP_STORED:
pictures and archives do not shrink, and speed matters.

`unpack` trusts nothing in the archive: every member's name and type is checked before a
byte is written (no path that leaves the folder, no name some computer refuses, no two
names that are one file on Windows or macOS, no links), the declared sizes and the bytes
actually written are both bounded, and the folder is built under a hidden temporary name
and renamed in place at the end, so a refusal or a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import struct
import sys
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ocm_core.errors import OCMError
from ocm_core.i18n import _
from ocm_core.storage.filenames import SAME_NAME_LIMIT, safe_name
from ocm_core.wire.files import MAX_FOLDER_FILES
from ocm_core.words import size_text

MAX_FOLDER_BYTES = 4 * 1024**3  # a folder is packed whole before it goes (below the server's 16 GiB default)
MAX_MEMBER_NAME_BYTES = 1024  # a whole relative path; each part is at most 255 bytes (safe_name)
_CENTRAL_ENTRY_BYTES = 46 + 256  # a central directory entry: fixed part, name and a little extra
_COPY_CHUNK = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class FolderRefused(OCMError):
    """A folder that cannot be packed, or an archive that cannot be unpacked safely;
    str() says why, to a person."""


@dataclass(frozen=True)
class FolderSummary:
    """What a folder holds: its name, how many files and how many bytes in all; what
    `pack` left out (links, special files) and renamed (to names every computer takes)."""

    name: str
    files: int
    bytes: int
    skipped: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()


# --- packing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    source: Path
    name: str  # in the archive: relative POSIX, safe parts; a directory's ends with "/"
    size: int = 0
    mtime: float = 0.0


def pack(
    folder: Path,
    out: BinaryIO | Path,
    *,
    max_files: int = MAX_FOLDER_FILES,
    max_bytes: int = MAX_FOLDER_BYTES,
) -> FolderSummary:
    """Write `folder` as a ZIP to `out` (a path, removed again on failure, or an open file).
    The tree is listed first: over `max_files` files or `max_bytes` in all is refused
    before anything is written."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        raise FolderRefused(_("{path} is not a folder; choose a folder to share.").format(path=folder))
    entries, skipped, renamed = _listing(folder, max_files, max_bytes)
    name = safe_name(folder.resolve().name, fallback="folder")
    if isinstance(out, Path):
        try:
            with open(out, "xb") as sink:
                total = _write(entries, sink, max_bytes)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    else:
        total = _write(entries, out, max_bytes)
    files = sum(1 for entry in entries if not entry.name.endswith("/"))
    return FolderSummary(name, files, total, tuple(skipped), tuple(renamed))


def _listing(folder: Path, max_files: int, max_bytes: int) -> tuple[list[_Entry], list[str], list[tuple[str, str]]]:
    entries: list[_Entry] = []
    skipped: list[str] = []
    renamed: list[tuple[str, str]] = []
    files = total = 0
    pending: list[tuple[Path, str]] = [(folder, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as listing:
                found = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            raise FolderRefused(
                _("Cannot read {path} ({error}); check the folder.").format(path=directory, error=exc.strerror or exc)
            ) from None
        taken: set[str] = set()
        for item in found:
            shown = prefix + item.name
            try:
                item.name.encode("utf-8")
            except UnicodeEncodeError:  # bytes that are no name in any language (Linux allows them)
                skipped.append(shown.encode("utf-8", "replace").decode("utf-8"))
                continue
            if _is_link(item):
                skipped.append(shown)
                continue
            is_dir = item.is_dir(follow_symlinks=False)
            if not is_dir and not item.is_file(follow_symlinks=False):
                skipped.append(shown)  # a pipe, socket or device
                continue
            part = _unique(member_name(item.name), taken)
            if part != unicodedata.normalize("NFC", item.name):
                renamed.append((shown, prefix + part))
            if len((prefix + part + "/").encode("utf-8")) > MAX_MEMBER_NAME_BYTES:
                skipped.append(shown)  # a path the receiver's side would refuse: left out, and said so
                continue
            if len(entries) >= 2 * max_files:  # the receiver's bound on files and folders in all
                raise FolderRefused(
                    _("The folder has more than {n} files; share a smaller one.").format(n=f"{max_files:,}")
                )
            if is_dir:
                entries.append(_Entry(Path(item.path), prefix + part + "/"))
                pending.append((Path(item.path), prefix + part + "/"))
                continue
            info = item.stat(follow_symlinks=False)
            files += 1
            total += info.st_size
            if files > max_files:
                raise FolderRefused(
                    _("The folder has more than {n} files; share a smaller one.").format(n=f"{max_files:,}")
                )
            if total > max_bytes:
                raise FolderRefused(
                    _("The folder's files add up to more than {size}; share a smaller one.").format(
                        size=size_text(max_bytes)
                    )
                )
            entries.append(_Entry(Path(item.path), prefix + part, info.st_size, info.st_mtime))
    return entries, skipped, renamed


def member_name(name: str, fallback: str = "file") -> str:
    """A name inside a shared folder, safe on every system: as `safe_name`, but a leading dot is
    kept (".git", ".env" are what a project's folder holds; inside a new folder they hide nothing
    and escape nowhere: "." and ".." alone are never names)."""
    dots = len(name) - len(name.lstrip("."))
    if dots and name.strip("."):
        return "." * dots + safe_name(name[dots:], fallback=fallback)
    return safe_name(name, fallback=fallback)


def _is_link(item: os.DirEntry) -> bool:
    if item.is_symlink():
        return True
    if sys.platform == "win32":  # a junction is no symlink to Python 3.11, but leads elsewhere all the same
        attributes = item.stat(follow_symlinks=False).st_file_attributes
        return bool(attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT)
    return False


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or "stem (1).ext"... if another in the same directory is the same file
    on Windows or macOS (same letters but for case, or Unicode normalisation)."""
    base = Path(name)
    for number in range(SAME_NAME_LIMIT):
        candidate = name if number == 0 else f"{base.stem} ({number}){base.suffix}"
        key = _same_file_key(candidate)
        if key not in taken:
            taken.add(key)
            return candidate
    raise FolderRefused(_("The folder has too many files named like {name}.").format(name=name))


def _same_file_key(name: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _write(entries: list[_Entry], sink: BinaryIO, max_bytes: int) -> int:
    total = 0
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for entry in entries:
            if entry.name.endswith("/"):
                archive.writestr(_member(entry.name, entry.mtime, stat.S_IFDIR | 0o755), b"")
                continue
            try:
                source = os.fdopen(os.open(entry.source, os.O_RDONLY | _NOFOLLOW | _BINARY), "rb")
            except OSError as exc:
                raise FolderRefused(
                    _("Cannot read {path} ({error}); check the folder.").format(
                        path=entry.source, error=exc.strerror or exc
                    )
                ) from None
            with source:
                if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                    raise FolderRefused(
                        _("{path} changed while the folder was packed; try again.").format(path=entry.source)
                    )
                member = _member(entry.name, entry.mtime, stat.S_IFREG | 0o644)
                with archive.open(member, "w", force_zip64=entry.size > 0x7FFF_0000) as target:
                    while data := source.read(_COPY_CHUNK):
                        total += len(data)
                        if total > max_bytes:
                            raise FolderRefused(
                                _("The folder's files add up to more than {size}; share a smaller one.").format(
                                    size=size_text(max_bytes)
                                )
                            )
                        target.write(data)
    return total


def _member(name: str, mtime: float, mode: int) -> zipfile.ZipInfo:
    stamp = time.localtime(mtime)
    date_time = (stamp.tm_year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, stamp.tm_sec)
    if stamp.tm_year < 1980:  # the earliest time a ZIP can say
        date_time = (1980, 1, 1, 0, 0, 0)
    elif stamp.tm_year > 2107:
        date_time = (2107, 12, 31, 23, 59, 58)
    member = zipfile.ZipInfo(name, date_time)
    member.compress_type = zipfile.ZIP_STORED
    member.external_attr = mode << 16
    if name.endswith("/"):
        member.external_attr |= 0x10  # MS-DOS directory flag
    return member


# --- reading -------------------------------------------------------------------------------


def summary(archive: Path, *, max_files: int = MAX_FOLDER_FILES, max_bytes: int = MAX_FOLDER_BYTES) -> FolderSummary:
    """How many files and bytes the archive says it holds, every name checked, nothing
    extracted. The name is the archive's without ".zip"."""
    with _open_archive(archive, max_files) as zipped:
        members = _checked(zipped, max_files, max_bytes)
    files = [m for m in members if not m.is_dir()]
    return FolderSummary(_folder_name(archive), len(files), sum(m.file_size for m in files))


def _folder_name(archive: Path) -> str:
    name = archive.name[:-4] if archive.name.lower().endswith(".zip") else archive.name
    return safe_name(name, fallback="folder")


def _damaged(error: object) -> FolderRefused:
    return FolderRefused(_("The folder's archive is damaged ({error}); download it again.").format(error=error))


def _open_archive(archive: Path, max_files: int) -> zipfile.ZipFile:
    """The archive opened, once its end record has shown a bounded count of entries:
    zipfile reads the whole central directory into memory when it opens."""
    try:
        with open(archive, "rb") as source:
            entries, directory_bytes = _declared_entries(source)
    except OSError as exc:
        raise FolderRefused(
            _("Cannot read {path} ({error}); download it again.").format(path=archive, error=exc.strerror or exc)
        ) from None
    if entries > 2 * max_files or directory_bytes > 2 * max_files * _CENTRAL_ENTRY_BYTES:
        raise FolderRefused(_("The folder holds more than {n} files; it was not saved.").format(n=f"{max_files:,}"))
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise _damaged(exc) from None


def _declared_entries(source: BinaryIO) -> tuple[int, int]:
    """(entries, central directory bytes) from the ZIP's end record (ZIP64's if it has one)."""
    size = source.seek(0, os.SEEK_END)
    tail_start = max(0, size - (22 + 0xFFFF))
    source.seek(tail_start)
    tail = source.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise _damaged(_("it has no end record"))
    entries, directory_bytes = struct.unpack_from("<xxxxxxxxxxHI", tail, at)
    locator = at - 20
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        # zipfile reads the ZIP64 record just before the locator, whatever offset the locator
        # gives: read that very one, and refuse an archive whose two do not agree.
        (record,) = struct.unpack_from("<Q", tail, locator + 8)
        if record != tail_start + locator - 56:
            raise _damaged(_("it has no end record"))
        source.seek(record)
        zip64 = source.read(56)
        if len(zip64) < 56 or zip64[:4] != b"PK\x06\x06":
            raise _damaged(_("it has no end record"))
        entries, directory_bytes = struct.unpack_from("<QQ", zip64, 32)
    return entries, directory_bytes


def _checked(zipped: zipfile.ZipFile, max_files: int, max_bytes: int) -> list[zipfile.ZipInfo]:
    members = zipped.infolist()
    files = [m for m in members if not m.is_dir()]
    if len(files) > max_files or len(members) > 2 * max_files:
        raise FolderRefused(_("The folder holds more than {n} files; it was not saved.").format(n=f"{max_files:,}"))
    if sum(m.file_size for m in files) > max_bytes:
        raise FolderRefused(_("The folder is larger than {size}; it was not saved.").format(size=size_text(max_bytes)))
    seen: dict[str, tuple[str, bool]] = {}  # same-file key -> (the name as written, a file?)
    for member in members:
        parts = _checked_name(member)
        kind = stat.S_IFMT(member.external_attr >> 16)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR) or member.flag_bits & 0x1:
            raise FolderRefused(
                _("The folder cannot be saved: {name} is a link or a special file, which are not shared.").format(
                    name=repr(member.orig_filename)
                )
            )
        for depth in range(1, len(parts) + 1):  # each parent too: "A/x" and "a/y" are one folder on Windows
            shown = "/".join(parts[:depth])
            key = "/".join(_same_file_key(part) for part in parts[:depth])
            is_file = depth == len(parts) and not member.is_dir()
            before = seen.get(key)
            if before is not None and (is_file or before[1] or before[0] != shown):
                raise FolderRefused(
                    _(
                        "The folder cannot be saved: {name} and {other} would be the same file on Windows and macOS."
                    ).format(name=repr(shown), other=repr(before[0]))
                )
            seen[key] = (shown, is_file)
    return members


def _checked_name(member: zipfile.ZipInfo) -> list[str]:
    """The member's path as safe NFC parts, or FolderRefused with the reason."""
    raw = member.orig_filename  # zipfile cuts a name at NUL and turns "\\" into "/" on Windows: look at what came
    shown = repr(raw)
    path = raw[:-1] if raw.endswith("/") else raw
    parts = path.split("/")
    if (
        not path
        or raw.startswith("/")
        or ".." in parts
        or (len(path) > 1 and path[1] == ":" and path[0].isascii() and path[0].isalpha())
    ):
        raise FolderRefused(_("The folder cannot be saved: {name} would land outside it.").format(name=shown))
    if (
        "\\" in raw
        or len(raw.encode("utf-8", "replace")) > MAX_MEMBER_NAME_BYTES
        or any(not part or member_name(part, fallback="") != unicodedata.normalize("NFC", part) for part in parts)
    ):
        raise FolderRefused(
            _("The folder cannot be saved: {name} is not a name every computer accepts.").format(name=shown)
        )
    return [unicodedata.normalize("NFC", part) for part in parts]


# --- unpacking -----------------------------------------------------------------------------


def unpack(
    archive: Path,
    into: Path,
    *,
    name: str | None = None,
    max_files: int = MAX_FOLDER_FILES,
    max_bytes: int = MAX_FOLDER_BYTES,
) -> Path:
    """Extract `archive` into a new folder in `into`, named `name` (default: the archive's
    name without ".zip"), or "name (1)"... if that is taken; return the folder's path."""
    folder_name = safe_name(name, fallback="folder") if name is not None else _folder_name(archive)
    into = Path(into)
    with _open_archive(archive, max_files) as zipped:
        members = _checked(zipped, max_files, max_bytes)
        building = into / f".ocm-unpacking-{secrets.token_hex(4)}"
        building.mkdir()
        try:
            _extract(zipped, members, building, max_bytes)
            return _claim(building, into, folder_name)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise


def _extract(zipped: zipfile.ZipFile, members: list[zipfile.ZipInfo], building: Path, max_bytes: int) -> None:
    written = 0
    stamps: list[tuple[Path, tuple[int, int, int, int, int, int]]] = []
    for member in members:
        target = building.joinpath(*_checked_name(member))
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zipped.open(member) as source, open(target, "xb") as sink:
                left = member.file_size
                while data := source.read(_COPY_CHUNK):
                    left -= len(data)
                    written += len(data)
                    if left < 0 or written > max_bytes:
                        raise FolderRefused(
                            _("The folder's archive is damaged (a file is longer than it says); it was not saved.")
                        )
                    sink.write(data)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError) as exc:
            raise _damaged(exc) from None
        stamps.append((target, member.date_time))
    for target, date_time in stamps:
        try:
            when = time.mktime((*date_time, 0, 0, -1))
        except (OverflowError, ValueError):
            continue  # a nonsense date: the file keeps the time it was written
        os.utime(target, (when, when))


def _claim(building: Path, into: Path, name: str) -> Path:
    """Rename the finished folder to `name`, "name (1)"...: never onto something there."""
    for number in range(SAME_NAME_LIMIT):
        candidate = into / (name if number == 0 else f"{name} ({number})")
        if os.path.lexists(candidate):
            continue
        try:
            os.rename(building, candidate)  # fails on Windows if it exists; on POSIX unless it is an empty folder
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            continue
        except OSError:
            if candidate.exists():  # ENOTEMPTY: someone made it meanwhile
                continue
            raise
        return candidate
    raise FolderRefused(_("{folder} already has too many folders named like {name}.").format(folder=into, name=name))
