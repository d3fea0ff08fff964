"""Shared files on the server's disk: where each room's files live, the two caps, safe names.

Each room has a directory named by a hash of its name (a room name may hold anything a
file system refuses); a file is `<id>` with its description in `<id>.json`, and an upload
in progress is `<id>.part` until its checksum matched. Space is reserved when an upload
is admitted, so two uploads at once cannot both squeeze under the storage cap.
Thread-safe: transfers run on several threads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocm_core import wire as p
from ocm_core.errors import RegistryError
from ocm_core.storage.filenames import safe_name
from ocm_core.wire import FileInfo, Status

log = logging.getLogger(__name__)

DEFAULT_MAX_FILE_BYTES = 16 * 1024**3  # people move 1-100 GB on a LAN; ocm-server --max-file-mib bounds it
DEFAULT_MAX_STORAGE_BYTES = 0  # 0: as much as the disk can spare (--max-storage-mib bounds it)
KEEP_FREE_FRACTION = 0.05  # of the disk, left to the system and other programs, up to KEEP_FREE_BYTES
KEEP_FREE_BYTES = 10 * 1024**3


def disk_space(path: Path) -> tuple[int, int]:
    """(free, total) bytes of the disk `path` is on (its nearest existing folder)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    usage = shutil.disk_usage(path)
    return usage.free, usage.total


@dataclass(frozen=True)
class Upload:
    """Space reserved for a file on its way in."""

    room: str
    file_id: str
    name: str
    size: int
    mime: str
    sender: str
    part: Path
    files: int = 0  # a folder's count of files (wire.FOLDER_MIME), passed on to the FILE event


class FileStore:
    def __init__(
        self,
        root: str | os.PathLike,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_storage_bytes: int = DEFAULT_MAX_STORAGE_BYTES,
        disk: Callable[[Path], tuple[int, int]] = disk_space,
    ):
        """`max_storage_bytes` 0: no cap but the disk's: a file is taken only while the disk
        keeps KEEP_FREE_FRACTION of itself (at most KEEP_FREE_BYTES) free besides the uploads under way."""
        self.root = Path(root)
        self.max_file_bytes = max_file_bytes
        self.max_storage_bytes = max_storage_bytes
        self._disk = disk
        self._lock = threading.Lock()
        self._files: dict[str, tuple[str, FileInfo]] = {}  # id -> (room, info)
        self._reserved = 0
        self._stored = 0

    def room_dir(self, room: str) -> Path:
        return self.root / hashlib.sha256(room.encode("utf-8")).hexdigest()[:32]

    @property
    def used_bytes(self) -> int:
        """Stored plus reserved for uploads in progress."""
        with self._lock:
            return self._stored + self._reserved

    # --- start-up -------------------------------------------------------------------------

    def take_up(self, rooms: set[str]) -> None:
        """Keep the files of `rooms` (which exist) and delete everything else: rooms that no
        longer exist, uploads a stop cut off, anything unreadable."""
        self.root.mkdir(parents=True, exist_ok=True)
        keep = {self.room_dir(room).name: room for room in rooms}
        for entry in self.root.iterdir():
            room = keep.get(entry.name)
            if room is None or not entry.is_dir():
                _remove(entry)
                continue
            for path in entry.iterdir():
                if path.suffix == ".json":
                    continue
                info = self._described(path)
                if info is None:
                    _remove(path)
                    _remove(path.with_suffix(".json"))
                    continue
                self._files[info.file_id] = (room, info)
                self._stored += info.size
        log.info("took up %d shared files (%d bytes) in %s", len(self._files), self._stored, self.root)

    @staticmethod
    def _described(path: Path) -> FileInfo | None:
        if not p.is_file_id(path.name):
            return None
        try:
            info = p.file_from_json(json.loads(path.with_suffix(".json").read_text("utf-8")))
            return info if info.file_id == path.name and path.stat().st_size == info.size else None
        except (OSError, ValueError, p.ProtocolError):
            return None

    # --- uploads --------------------------------------------------------------------------

    def begin(self, room: str, sender: str, name: str, size: int, mime: str, files: int = 0) -> Upload:
        """Reserve space for a file; RegistryError (with a sentence) when a cap forbids it."""
        if size > self.max_file_bytes:
            raise RegistryError(
                Status.FILE_TOO_LARGE,
                f"the file is {_mib(size)}; this server takes files of at most {_mib(self.max_file_bytes)}",
            )
        with self._lock:
            free, total = self._disk(self.root)
            keep = min(KEEP_FREE_BYTES, int(total * KEEP_FREE_FRACTION))
            if size + self._reserved > free - keep:  # what uploads under way will still write counts too
                raise RegistryError(
                    Status.STORAGE_FULL,
                    f"the server's disk cannot hold a file of {_mib(size)} now "
                    f"({_mib(max(0, free - self._reserved))} free, {_mib(keep)} kept for the system)",
                )
            if self.max_storage_bytes and self._stored + self._reserved + size > self.max_storage_bytes:
                raise RegistryError(
                    Status.STORAGE_FULL,
                    f"the server's file storage ({_mib(self.max_storage_bytes)}) is full; "
                    "files are freed when their rooms close",
                )
            self._reserved += size
        file_id = secrets.token_hex(p.FILE_ID_BYTES // 2)
        directory = self.room_dir(room)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            self._unreserve(size)
            raise
        return Upload(
            room,
            file_id,
            safe_name(name),
            size,
            mime or "application/octet-stream",
            sender,
            directory / f"{file_id}.part",
            files,
        )

    def commit(self, upload: Upload, sha256: str) -> FileInfo:
        """The upload's bytes are all there and checked: keep it as a file."""
        info = FileInfo(upload.file_id, upload.name, upload.size, upload.mime, upload.sender, sha256, upload.files)
        final = upload.part.with_name(upload.file_id)
        try:
            final.with_suffix(".json").write_text(json.dumps(p.file_to_json(info), ensure_ascii=False), "utf-8")
            os.replace(upload.part, final)
        except OSError:
            self.abort(upload)
            raise
        with self._lock:
            self._reserved -= upload.size
            self._stored += upload.size
            self._files[info.file_id] = (upload.room, info)
        return info

    def abort(self, upload: Upload) -> None:
        """Forget an upload that did not finish, and its bytes."""
        _remove(upload.part)
        _remove(upload.part.with_name(upload.file_id + ".json"))
        self._unreserve(upload.size)

    def _unreserve(self, size: int) -> None:
        with self._lock:
            self._reserved -= size

    def discard(self, file_id: str) -> None:
        """Delete one stored file (its room went away while it arrived)."""
        with self._lock:
            entry = self._files.pop(file_id, None)
            if entry is None:
                return
            self._stored -= entry[1].size
        path = self.room_dir(entry[0]) / file_id
        _remove(path)
        _remove(path.with_suffix(".json"))

    # --- reading --------------------------------------------------------------------------

    def get(self, room: str, file_id: str) -> tuple[FileInfo, Path]:
        """A file of `room`; RegistryError NO_SUCH_FILE for another room's or an unknown one."""
        with self._lock:
            entry = self._files.get(file_id)
        if entry is None or entry[0] != room:
            raise RegistryError(Status.NO_SUCH_FILE, "that file is not shared in this room (its room may have closed)")
        return entry[1], self.room_dir(room) / file_id

    def files(self, room: str) -> list[FileInfo]:
        with self._lock:
            return [info for owner, info in self._files.values() if owner == room]

    def delete_room(self, room: str) -> None:
        """Delete a closed room's files (an upload still arriving is discarded when it ends)."""
        with self._lock:
            gone = [file_id for file_id, (owner, _) in self._files.items() if owner == room]
            for file_id in gone:
                self._stored -= self._files.pop(file_id)[1].size
        directory = self.room_dir(room)
        deleted = 0
        for file_id in gone:
            # both, even when the first fails: each failure is named in the log
            content_gone = _remove(directory / file_id)
            description_gone = _remove(directory / f"{file_id}.json")
            deleted += content_gone and description_gone
        try:
            directory.rmdir()  # fails while an upload's .part is still there; that upload cleans up
        except OSError:
            pass
        if deleted < len(gone):
            log.warning("closed room %r: deleted %d of its %d file(s); the rest stay on disk", room, deleted, len(gone))
        elif gone:
            log.info("closed room %r: deleted its %d file(s)", room, deleted)


def _remove(path: Path) -> bool:
    """Delete a file or folder; False (and a log line) when it stays."""
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:  # e.g. Windows refuses while a download holds the file open
        log.warning("could not delete %s: %s", path, exc)
        return False
    return True


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"
