"""The server's file transfers: UPLOAD and DOWNLOAD after their request was read.

The selector thread reads a transfer's request like any other (same cap, same 10 s
deadline), then hands the connection here. Each transfer runs on a thread of its own
pool of `ServerLimits.transfers` (8): a request that finds every slot taken is answered
BUSY at once (the client retries with backoff), so nothing queues behind a slow transfer
and chat requests, served by the other pool, never wait for one. The socket turns
blocking with a per-transfer idle timeout: a peer that stops sending or reading for
that long loses its transfer, and only its own. Bytes move in CHUNK-sized pieces through
the connection's TLS state (crypto.tls.TlsServerSide), straight between socket and disk.

So that nobody holds the slots everyone shares: one address has at most `per_address`
transfers at once and one member `per_member`, and a transfer slower than a floor
(sansio/pace.py) over a window is given up, as one that moves nothing is.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import errno
import hashlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

from ocm_core import wire as p
from ocm_core.crypto.tls import TlsServerSide
from ocm_core.errors import ProtocolError, RegistryError
from ocm_core.sansio.pace import DEFAULT_MIN_RATE, DEFAULT_WINDOW, PaceFloor
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Outbound
from ocm_core.storage.filestore import FileStore, Upload
from ocm_core.wire import Operation, State, Status

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
DRAIN_SECONDS = 5.0  # after refusing mid-upload, how long the rest is read so the answer is not lost to a reset
DRAIN_IDLE = 0.5  # and how long a pause in it ends that reading sooner

DISK_FULL = "the server's disk is full, so the file was not shared; the room goes on"
BUSY_MEMBER = "you already have as many transfers going as the server allows one member; try again in a moment"


class TooSlow(TimeoutError):
    """The transfer moved less than its floor over a window (sansio/pace.py)."""


class TransferStream:
    """A blocking socket, plain or through a TLS state begun by the selector thread; every
    byte that moves either way counts towards its pace."""

    def __init__(
        self,
        sock: socket.socket,
        tls: TlsServerSide | None,
        pending: bytes,
        idle_timeout: float,
        pace: PaceFloor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.sock = sock
        self.tls = tls
        self._pending = bytearray(pending)
        # blocking, with a timeout: a peer quiet for a whole pace window has moved too little anyway
        self.idle_timeout = idle_timeout if pace is None else min(idle_timeout, pace.window)
        sock.settimeout(self.idle_timeout)
        self.received = 0
        self._pace, self._clock = pace, clock

    def _moved(self, count: int) -> None:
        if self._pace is not None and not self._pace.moved(count, self._clock()):
            raise TooSlow(f"moved less than {self._pace.min_rate:g} bytes a second over {self._pace.window:g} s")

    def recv(self, limit: int) -> bytes:
        """Up to `limit` bytes of the peer's stream; b"" at its end. socket.timeout when idle too long."""
        while not self._pending:
            data = self.sock.recv(CHUNK)
            if not data:
                return b""
            if self.tls is not None:
                data, reply = self.tls.receive(data)
                if reply:
                    self.sock.sendall(reply)
            if 0 < len(data) <= limit:  # the usual case: hand it on without copying it again
                self.received += len(data)
                self._moved(len(data))
                return data
            self._pending += data
        if len(self._pending) <= limit:
            data, self._pending = bytes(self._pending), bytearray()
        else:
            data = bytes(self._pending[:limit])
            del self._pending[:limit]
        self.received += len(data)
        self._moved(len(data))
        return data

    def recv_exactly(self, size: int) -> bytes:
        parts = []
        while size:
            data = self.recv(size)
            if not data:
                raise ConnectionError("the peer closed the connection early")
            parts.append(data)
            size -= len(data)
        return b"".join(parts)

    def sendall(self, data: bytes) -> None:
        view = memoryview(self.tls.send(data) if self.tls is not None else data)
        while view:  # send() piece by piece: a reader that drains a few bytes at a time is measured
            sent = self.sock.send(view)
            self._moved(sent)
            view = view[sent:]

    def close(self) -> None:
        try:
            if self.tls is not None:
                self.sock.sendall(self.tls.close())
            self.sock.shutdown(socket.SHUT_WR)
        except (OSError, ssl.SSLError):
            pass
        self.sock.close()


class FileTransfers:
    def __init__(
        self,
        registry: RoomRegistry,
        files: FileStore,
        send_all: Callable[[Outbound], None],
        *,
        slots: int = 8,
        per_address: int = 4,
        per_member: int = 2,
        idle_timeout: float = 30.0,
        min_rate: float = DEFAULT_MIN_RATE,
        pace_window: float = DEFAULT_WINDOW,
        stats=None,
        clock: Callable[[], float] = time.monotonic,
    ):
        """`clock` measures each transfer's pace and duration (a test passes a fake one)."""
        self.registry = registry
        self.files = files
        self._send_all = send_all
        self.slots = slots
        self.per_address, self.per_member = per_address, per_member
        self.idle_timeout = idle_timeout
        self.min_rate, self.pace_window = min_rate, pace_window
        self._by_address: collections.Counter[str] = collections.Counter()
        self._by_member: collections.Counter[bytes] = collections.Counter()
        self._pool = concurrent.futures.ThreadPoolExecutor(slots, thread_name_prefix="ocm-transfer")
        self._lock = threading.Lock()
        self.running = 0
        self._active: set[socket.socket] = set()
        self.stats = stats if stats is not None else {}
        self._clock = clock

    def try_start(
        self,
        sock: socket.socket,
        tls: TlsServerSide | None,
        message: p.TcrpMessage,
        pending: bytes,
        ip: str,
        done: Callable[[], None],
    ) -> bool:
        """Run the transfer on a free slot; False (nothing taken) when every slot is busy, or
        every one this address may hold."""
        with self._lock:
            if self.running >= self.slots or self._by_address[ip] >= self.per_address:
                return False
            self.running += 1
            self._by_address[ip] += 1
        self._pool.submit(self._run, sock, tls, message, pending, ip, done)
        return True

    def shutdown(self) -> None:
        """The server stops: end every transfer now (each cleans up as for a cut connection)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            active = list(self._active)
        for sock in active:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self, sock, tls, message: p.TcrpMessage, pending: bytes, ip: str, done: Callable[[], None]) -> None:
        started = self._clock()
        pace = PaceFloor(started, self.min_rate, self.pace_window)
        stream = TransferStream(sock, tls, pending, self.idle_timeout, pace, self._clock)
        with self._lock:
            self._active.add(sock)
        try:
            with contextlib.ExitStack() as held:  # the member's slot, once it is known
                if message.operation is Operation.UPLOAD:
                    self._upload(stream, message, ip, held)
                else:
                    self._download(stream, message, ip, held)
        except TooSlow as exc:
            self._count("transfers too slow")
            log.info("a %s from %s was given up: it %s", message.operation.name, ip, exc)
        except TimeoutError:
            self._count("transfers stalled")
            log.info("a %s from %s stalled for %g s and was cut off", message.operation.name, ip, stream.idle_timeout)
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            self._count("transfers cut")
            log.info("a %s from %s broke off: %s", message.operation.name, ip, exc)
        except Exception:
            log.exception("error in a %s from %s", message.operation.name, ip)
        finally:
            with self._lock:
                self._active.discard(sock)
                self.running -= 1
                self._by_address[ip] -= 1
                if self._by_address[ip] <= 0:
                    del self._by_address[ip]
            stream.close()
            done()
            log.debug(
                "%s from %s: %d bytes in %.2f s",
                message.operation.name,
                ip,
                stream.received,
                self._clock() - started,
            )

    def _count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    @staticmethod
    def _answer(
        stream: TransferStream,
        operation: Operation,
        room: str,
        status: Status,
        detail: str = "",
        completion: bytes | None = None,
    ) -> None:
        data = p.encode_tcrp(operation, State.RESPONSE, room, p.encode_status(status, detail))
        if completion is not None:
            data += p.encode_tcrp(operation, State.COMPLETE, room, completion)
        stream.sendall(data)

    def _member(self, message: p.TcrpMessage, ip: str) -> tuple[p.FileRequest, bytes, str]:
        """The request, its token and the name of the member it names; RegistryError when none may."""
        request = p.decode_file_request(message.operation, message.payload)
        proof = p.decode_proof(request.proof)
        token = request.token.encode("ascii", "replace")  # beyond ASCII: a token no member has
        return request, token, self.registry.file_member(token, ip, message.room, proof)

    @contextlib.contextmanager
    def _member_slot(self, token: bytes):
        """One of the member's own slots for the transfer's life; RegistryError BUSY when it has none."""
        with self._lock:
            if self._by_member[token] >= self.per_member:
                raise RegistryError(Status.BUSY, BUSY_MEMBER)
            self._by_member[token] += 1
        try:
            yield
        finally:
            with self._lock:
                self._by_member[token] -= 1
                if self._by_member[token] <= 0:
                    del self._by_member[token]

    def _upload(self, stream: TransferStream, message: p.TcrpMessage, ip: str, held: contextlib.ExitStack) -> None:
        op, room = message.operation, message.room
        try:
            request, token, sender = self._member(message, ip)
            held.enter_context(self._member_slot(token))
            upload = self.files.begin(room, sender, request.name, request.size, request.mime, request.files)
        except ProtocolError as exc:
            return self._answer(stream, op, room, Status.BAD_REQUEST, exc.reason)
        except RegistryError as exc:
            return self._answer(stream, op, room, exc.status, str(exc))
        except OSError as exc:
            log.warning("cannot make room for a file: %s", exc)
            return self._answer(stream, op, room, Status.STORAGE_FULL, DISK_FULL)
        try:  # from the OK on: a peer gone even before it arrives must not keep the space reserved
            self._answer(stream, op, room, Status.OK)
            status, detail, info = self._receive(stream, upload)
        except BaseException:
            self.files.abort(upload)
            raise
        if info is None:
            self._count("uploads refused")
            self._answer(stream, op, room, status, detail)
            self._drain(stream)
            return None
        try:
            self._send_all(self.registry.share_file(token, info))
        except RegistryError as exc:  # the member left (or the room closed) while it arrived
            self.files.discard(info.file_id)
            self._answer(stream, op, room, exc.status, str(exc))
            return None
        if room not in self.registry.room_names():  # closed just now: its clean-up may have missed this file
            self.files.discard(info.file_id)
        self._count("uploads")
        log.info("%r shared %r (%d bytes) in room %r", sender, info.name, info.size, room)
        stream.sendall(p.encode_tcrp(op, State.COMPLETE, room, p.encode_json({"file_id": info.file_id})))
        return None

    def _receive(self, stream: TransferStream, upload: Upload) -> tuple[Status, str, p.FileInfo | None]:
        """Write the upload's bytes to its .part file; check them; commit. Raises when the
        connection breaks; returns a refusal (status, sentence, None), the upload dropped,
        when the disk or the checksum does."""
        digest = hashlib.sha256()
        remaining = upload.size
        disk_error: OSError | None = None
        out = open(upload.part, "wb")
        try:
            while remaining:
                data = stream.recv(min(remaining, CHUNK))
                if not data:
                    raise ConnectionError(f"the upload ended {remaining} bytes early")
                remaining -= len(data)
                digest.update(data)
                if disk_error is None:
                    try:
                        out.write(data)
                    except OSError as exc:
                        disk_error = exc  # keep reading: the sender learns why once it has sent
            claimed = stream.recv_exactly(p.FILE_DIGEST_SIZE)
        finally:
            try:
                out.close()  # writes what is still buffered: a disk that fills at the last bytes fails here
            except OSError as exc:
                disk_error = disk_error or exc
        if disk_error is not None:
            self.files.abort(upload)
            return self._disk_refusal(disk_error)
        if claimed != digest.digest():
            self.files.abort(upload)
            self._count("uploads corrupt")
            return Status.TRANSFER_FAILED, "the file's checksum did not match what arrived; send it again", None
        try:
            return Status.OK, "", self.files.commit(upload, digest.hexdigest())
        except OSError as exc:  # the store has dropped the upload itself
            return self._disk_refusal(exc)

    def _disk_refusal(self, exc: OSError) -> tuple[Status, str, None]:
        self._count("uploads disk full")
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            log.warning("the disk under %s is full; a file was refused", self.files.root)
        else:
            log.warning("could not store a file: %s", exc)
        return Status.STORAGE_FULL, DISK_FULL, None

    def _drain(self, stream: TransferStream) -> None:
        """Read what the peer still sends for a little while, so our answer reaches it
        rather than being lost to the reset that closing with unread bytes causes."""
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            stream.sock.settimeout(DRAIN_IDLE)
            while time.monotonic() < deadline and stream.recv(CHUNK):
                pass
        except (OSError, ssl.SSLError):
            pass

    def _download(self, stream: TransferStream, message: p.TcrpMessage, ip: str, held: contextlib.ExitStack) -> None:
        op, room = message.operation, message.room
        try:
            request, token, _ = self._member(message, ip)
            held.enter_context(self._member_slot(token))
            info, path = self.files.get(room, request.file_id)
            handle = open(path, "rb")
        except ProtocolError as exc:
            return self._answer(stream, op, room, Status.BAD_REQUEST, exc.reason)
        except RegistryError as exc:
            return self._answer(stream, op, room, exc.status, str(exc))
        except OSError:
            return self._answer(stream, op, room, Status.NO_SUCH_FILE, "that file is no longer on the server")
        with handle:
            self._answer(stream, op, room, Status.OK, completion=p.encode_json(p.file_to_json(info)))
            sent = 0
            while sent < info.size:
                data = handle.read(min(CHUNK, info.size - sent))
                if not data:
                    raise OSError(f"{path} is shorter than its {info.size} bytes")
                stream.sendall(data)
                sent += len(data)
        self._count("downloads")
        return None
