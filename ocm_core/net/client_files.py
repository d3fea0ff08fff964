"""A ChatClient's file transfers: UPLOAD and DOWNLOAD over their own TLS connection, opened
by the client's `ServerLink` with the room, token and key proof the client hands over.

Bytes move in CHUNK-sized pieces between the file and the socket, never the whole file
in memory; SHA-256 is computed on the way (the sender's digest follows the bytes, the
server's comes with a download's description). Every failure is a typed ClientError
with a sentence, and leaves no partial file behind on either side.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.i18n import _
from ocm_core.net.request import (
    ServerLink,
    check_status,
    read_message,
    retry_while_busy,
)
from ocm_core.storage import folders
from ocm_core.storage.filenames import claim_unique, safe_name
from ocm_core.wire import Operation, State
from ocm_core.wire.files import FOLDER_MIME

if TYPE_CHECKING:
    from ocm_core.crypto.tls import TlsClientStream

Credentials = tuple[str, str, str]  # room, token, key proof (ChatClient.file_credentials)

CHUNK = 256 * 1024
BUSY_WAIT = 60.0  # how long a transfer keeps asking a server whose transfer slots are all taken
IDLE_TIMEOUT = 30.0  # a transfer that moves no byte for this long has failed

Progress = Callable[[int, int], "bool | None"]  # (bytes done, bytes in all); False cancels
Packed = Callable[[folders.FolderSummary], object]  # told what a folder holds once it is packed
Sleep = Callable[[float], None]
Clock = Callable[[], float]


def guess_mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None and progress(done, total) is False:
        raise errors.TransferCancelled(_("The transfer was cancelled."))


def _open(
    link: ServerLink, operation: Operation, room: str, payload: bytes, sleep: Sleep, clock: Clock
) -> tuple[socket.socket, TlsClientStream]:
    """A connection on which `operation`'s request was sent and answered OK. A server
    whose transfer slots are all busy is asked again with jittered backoff for BUSY_WAIT."""
    try:
        return retry_while_busy(
            lambda: link.open(operation, room, payload, idle_timeout=IDLE_TIMEOUT),
            within=BUSY_WAIT,
            first_pause=0.1,
            longest_pause=2.0,
            honour_try_later=False,
            sleep=sleep,
            clock=clock,
        )
    except TimeoutError:
        raise errors.TransferFailed(
            _("The server at {address} did not answer; try again.").format(address=link.where)
        ) from None
    except (ConnectionError, OSError, ssl.SSLError) as exc:
        raise errors.TransferFailed(
            _("The connection to {address} broke ({error}); try again.").format(address=link.where, error=exc)
        ) from None


def upload(
    link: ServerLink,
    credentials: Credentials,
    path: Path,
    progress: Progress | None,
    *,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    name: str = "",
    mime: str = "",
    files: int = 0,
) -> str:
    """Share the file at `path` as `name` (default: its own) of type `mime` (default: guessed
    from the name); `files` is a folder's count, for a folder's archive."""
    room, token, proof = credentials
    try:
        source = open(path, "rb")
        size = os.fstat(source.fileno()).st_size
    except OSError as exc:
        raise errors.BadRequest(
            _("Cannot read {path} ({error}); choose another file.").format(path=path, error=exc.strerror or exc)
        ) from None
    name = name or path.name
    request = p.FileRequest(token, proof, name, size, mime or guess_mime(name), files=files)
    with source:
        sock, stream = _open(link, Operation.UPLOAD, room, p.encode_file_request(request), sleep, clock)
        with sock:
            try:
                _send(stream, source, size, progress)
                header, message = read_message(stream)
            except TimeoutError:
                raise errors.TransferFailed(
                    _("The server stopped taking the file; it was not shared. Try again.")
                ) from None
            except (ConnectionError, OSError, ssl.SSLError) as exc:
                _raise_answer_if_any(stream)  # the server may have refused midway (a full disk) and said why
                raise errors.TransferFailed(
                    _("The connection broke while sending ({error}); the file was not shared.").format(error=exc)
                ) from None
            if header.state is State.RESPONSE:
                check_status(header, message)
            if header.state is not State.COMPLETE:
                raise errors.RemoteProtocolError("the server did not complete the upload")
            file_id = p.decode_json_object(message.payload).get("file_id")
            if not isinstance(file_id, str) or not p.is_file_id(file_id):
                raise errors.RemoteProtocolError("the server's upload answer has no file id")
            return file_id


def _send(stream: TlsClientStream, source, size: int, progress: Progress | None) -> None:
    digest = hashlib.sha256()
    sent = 0
    _report(progress, 0, size)
    while sent < size:
        data = source.read(min(CHUNK, size - sent))
        if not data:
            raise errors.TransferFailed(_("The file got shorter while it was being sent; it was not shared."))
        digest.update(data)
        stream.sendall(data)
        sent += len(data)
        _report(progress, sent, size)
    stream.sendall(digest.digest())


def _raise_answer_if_any(stream: TlsClientStream) -> None:
    try:
        header, message = read_message(stream)
    except (ConnectionError, OSError, ssl.SSLError, errors.ProtocolError):
        return
    check_status(header, message)


def upload_folder(
    link: ServerLink,
    credentials: Credentials,
    folder: Path,
    progress: Progress | None,
    packed: Packed | None = None,
    *,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> str:
    """Share a folder as one item: packed into a ZIP in a temporary folder (deleted after),
    sent as "<name>.zip" of type FOLDER_MIME with its count of files."""
    with tempfile.TemporaryDirectory(prefix="ocm-folder-") as scratch:
        archive = Path(scratch) / "folder.zip"
        try:
            summary = folders.pack(folder, archive)
        except folders.FolderRefused as exc:
            raise errors.BadRequest(str(exc)) from None
        except OSError as exc:
            raise errors.BadRequest(
                _("Cannot pack {path} ({error}); check the folder and the free space.").format(
                    path=folder, error=exc.strerror or exc
                )
            ) from None
        if packed is not None:
            packed(summary)
        return upload(
            link,
            credentials,
            archive,
            progress,
            sleep=sleep,
            clock=clock,
            name=safe_name(summary.name + ".zip"),  # a 255-byte name loses letters, not ".zip"
            mime=FOLDER_MIME,
            files=summary.files,
        )


def download_folder(
    link: ServerLink,
    credentials: Credentials,
    file_id: str,
    destination: Path,
    progress: Progress | None,
    *,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> Path:
    """Fetch a shared folder and save it as a new folder in `destination` ("name (1)" if
    the name is taken). The archive waits in a hidden temporary folder there, deleted after;
    a refused or broken archive leaves nothing."""
    try:
        scratch = tempfile.TemporaryDirectory(prefix=".ocm-folder-", dir=destination)
    except OSError as exc:
        raise errors.BadRequest(
            _("Cannot write in {folder} ({error}); choose another folder.").format(
                folder=destination, error=exc.strerror or exc
            )
        ) from None
    with scratch:
        archive, info = _fetch(link, credentials, file_id, Path(scratch.name), progress, sleep=sleep, clock=clock)
        if not info.is_folder:
            raise errors.BadRequest(_("{name} is a file, not a folder; save it as a file.").format(name=info.name))
        try:
            return folders.unpack(archive, destination, max_bytes=max(folders.MAX_FOLDER_BYTES, info.size))
        except folders.FolderRefused as exc:
            raise errors.TransferFailed(str(exc)) from None
        except OSError as exc:
            raise errors.TransferFailed(
                _("Could not save the folder ({error}); check the folder and its free space.").format(
                    error=exc.strerror or exc
                )
            ) from None


def download(
    link: ServerLink,
    credentials: Credentials,
    file_id: str,
    destination: Path,
    progress: Progress | None,
    *,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> Path:
    return _fetch(link, credentials, file_id, destination, progress, sleep=sleep, clock=clock)[0]


def _fetch(
    link: ServerLink,
    credentials: Credentials,
    file_id: str,
    destination: Path,
    progress: Progress | None,
    *,
    sleep: Sleep,
    clock: Clock,
) -> tuple[Path, p.FileInfo]:
    """Download into `destination` (a folder, or the file path to replace); return where
    the file went and the server's description of it."""
    room, token, proof = credentials
    if not p.is_file_id(file_id):
        raise errors.NoSuchFile(_("'{id}' is not a file id; /files lists the room's files.").format(id=file_id))
    sock, stream = _open(
        link,
        Operation.DOWNLOAD,
        room,
        p.encode_file_request(p.FileRequest(token, proof, file_id=file_id)),
        sleep,
        clock,
    )
    with sock:
        try:
            header, message = read_message(stream)
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            raise errors.TransferFailed(
                _("The connection broke before the file came ({error}); try again.").format(error=exc)
            ) from None
        if header.state is not State.COMPLETE:
            raise errors.RemoteProtocolError("the server did not describe the file")
        info = p.file_from_json(p.decode_json_object(message.payload))
        try:
            if destination.is_dir():
                final, sink = claim_unique(destination, info.name)
                partial = final
            else:
                final, partial = destination, destination.with_name(destination.name + ".part")
                sink = open(partial, "wb")
        except OSError as exc:
            raise errors.BadRequest(
                _("Cannot write in {folder} ({error}); choose another folder.").format(
                    folder=destination, error=exc.strerror or exc
                )
            ) from None
        finished = False
        try:
            with sink:
                digest = _receive(stream, sink, info.size, progress)
            if info.sha256 and digest != info.sha256:
                raise errors.TransferFailed(
                    _("The file arrived damaged (its checksum does not match); download it again.")
                )
            if partial != final:
                os.replace(partial, final)
            finished = True
            return final, info
        except TimeoutError:
            raise errors.TransferFailed(_("The server stopped sending the file; download it again.")) from None
        except (ConnectionError, ssl.SSLError) as exc:
            raise errors.TransferFailed(
                _("The connection broke during the download ({error}); download it again.").format(error=exc)
            ) from None
        except OSError as exc:
            raise errors.TransferFailed(
                _("Could not save the file ({error}); check the folder and its free space.").format(
                    error=exc.strerror or exc
                )
            ) from None
        finally:
            if not finished:
                partial.unlink(missing_ok=True)


def _receive(stream: TlsClientStream, sink, size: int, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    received = 0
    _report(progress, 0, size)
    while received < size:
        data = stream.recv(min(CHUNK, size - received))
        if not data:
            raise ConnectionError("the server closed the connection early")
        digest.update(data)
        sink.write(data)
        received += len(data)
        _report(progress, received, size)
    return digest.hexdigest()
