"""ChatServer: the TCRP server over TCP and the chat relay over UDP.

TCP requests are read by one selector thread, so a peer that sends half a header
and stalls costs a buffer, not a thread; complete requests are answered by a small
worker pool (a locked room's password check is slow on purpose). The UDP loop
decodes each datagram and hands it to the RoomRegistry, which decides what to send.
A tick thread drives time: member timeouts and re-sends of unacknowledged events.
"""

from __future__ import annotations

import collections
import concurrent.futures
import enum
import errno
import logging
import os
import select
import selectors
import shutil
import socket
import sqlite3
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocm_core import wire as p
from ocm_core import words
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.passwords import hash_password
from ocm_core.crypto.sealed import MemberKeys
from ocm_core.crypto.tls import TlsServerSide, server_tls_context
from ocm_core.errors import (
    DatabaseDamaged,
    DatabaseInUse,
    OCMError,
    PortInUse,
    ProtocolError,
    RegistryError,
    RemoteProtocolError,
)
from ocm_core.i18n import _
from ocm_core.logutil import ThrottledLog
from ocm_core.net.transfers import FileTransfers
from ocm_core.sansio.actions import EDIT_WINDOW_SECONDS
from ocm_core.sansio.admission import Admission, Decision
from ocm_core.sansio.fairqueue import FairQueue, QueueFull
from ocm_core.sansio.pace import DEFAULT_MIN_RATE, DEFAULT_WINDOW
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Limits
from ocm_core.sansio.slots import WaitingConnections
from ocm_core.storage.filestore import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_STORAGE_BYTES,
    FileStore,
)
from ocm_core.storage.roomstore import RoomStore, is_damage, move_aside
from ocm_core.wire import Dialect, Operation, State, Status

log = logging.getLogger(__name__)

DEFAULT_TCP_PORT = 9090
DEFAULT_UDP_PORT = 9091
TICK_SECONDS = 0.05
UDP_RECEIVE_BUFFER = 4 << 20  # absorbs bursts while the relay thread is busy (the kernel may cap it)
BATCH_DATAGRAMS = 64  # datagrams already waiting are handled together, in one transaction


def default_max_connections(platform: str = sys.platform) -> int:
    """TCP connections read or answered at once. Windows' select(), the selector there,
    takes at most 512 sockets, the listener and the wake-up socket among them."""
    return 500 if platform == "win32" else 512


def reuses_address(platform: str = sys.platform) -> bool:
    """Whether the listener sets SO_REUSEADDR (to restart despite TIME_WAIT). Not on
    Windows: there it lets a second server bind a port that one already listens on,
    and Windows allows the restart without it."""
    return platform != "win32"


@dataclass
class ServerLimits:
    max_connections: int = field(default_factory=default_max_connections)
    max_connections_per_ip: int = 32
    waiting_per_ip: int = 8  # connections one address may hold before its request arrives (sansio/slots.py)
    waiting_grace: float = 0.5  # how long a connection may wait for its request before it gives way
    handshake_timeout: float = 5.0  # a TLS handshake must be done within this
    request_timeout: float = 10.0  # a request must arrive whole within this
    workers: int = 8
    transfers: int = 8  # file uploads and downloads at once; one more is answered BUSY (the client retries)
    transfers_per_ip: int = 4  # of those, at most this many from one address
    transfers_per_member: int = 2  # and from one member
    transfer_idle_timeout: float = 30.0  # a transfer that moves no byte for this long is cut off
    transfer_min_rate: float = DEFAULT_MIN_RATE  # bytes a second over each window, or it is given up
    transfer_pace_window: float = DEFAULT_WINDOW
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_storage_bytes: int = DEFAULT_MAX_STORAGE_BYTES


class Wrapping(enum.Enum):
    """What a TCP connection's first bytes said it carries."""

    UNKNOWN = "unknown"
    TLS = "tls"
    PLAIN = "plain"  # the assignment's TCRP, unencrypted


@dataclass
class _Connection:
    sock: socket.socket
    ip: str
    buffer: bytearray = field(default_factory=bytearray)
    header: p.TcrpHeader | None = None
    mode: Wrapping = Wrapping.UNKNOWN  # until the first bytes tell
    tls: TlsServerSide | None = None


class StandingRoomRefused(OCMError, OSError):
    """A standing room (`standing_rooms`, ocm-server's --room) that cannot be opened: the
    server does not start. str() says why, to the operator."""

    def __init__(self, room: str, error: RegistryError, db_path: str | os.PathLike | None):
        if error.status is Status.ROOM_EXISTS:
            message = _(
                "A person hosts a room named “{room}” on this server (or one whose name reads the same), so "
                "--room cannot hold it. Choose another name, or start once without this --room until that "
                "room closes."
            ).format(room=room)
        elif error.status is Status.CANNOT_SAVE:
            message = _(
                "The standing room “{room}” cannot be opened: the database {path} cannot be written now (its "
                "disk is full or failing)."
            ).format(room=room, path=db_path)
        else:
            message = _("The standing room “{room}” cannot be opened: {reason}").format(
                room=room, reason=words.refusal_text(error.status, str(error), room=room)
            )
        super().__init__(message)
        self.room = room
        self.status = error.status


def _bind(kind: int, host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM and reuses_address():
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUse(port, "TCP" if kind == socket.SOCK_STREAM else "UDP") from exc
        raise
    return sock


def next_free_ports(
    host: str = "0.0.0.0", tcp_port: int = DEFAULT_TCP_PORT, udp_port: int = DEFAULT_UDP_PORT, tries: int = 100
) -> tuple[int, int]:
    """The first (tcp, udp) pair at or after the given ports that both bind right now."""
    for step in range(tries):
        tcp, udp = tcp_port + 2 * step, udp_port + 2 * step
        try:
            _bind(socket.SOCK_STREAM, host, tcp).close()
            _bind(socket.SOCK_DGRAM, host, udp).close()
        except (PortInUse, OSError):
            continue
        return tcp, udp
    raise PortInUse(tcp_port, "TCP")


class ChatServer:
    def __init__(
        self,
        host: str = "0.0.0.0",
        tcp_port: int = DEFAULT_TCP_PORT,
        udp_port: int = DEFAULT_UDP_PORT,
        *,
        member_timeout: float = 30.0,
        limits: Limits | None = None,
        server_limits: ServerLimits | None = None,
        registry: RoomRegistry | None = None,
        db_path: str | os.PathLike | None = None,
        identity: ServerIdentity | None = None,
        allow_plain: bool = False,
        files_dir: str | os.PathLike | None = None,
        move_damaged_db: bool = False,
        standing_rooms: Mapping[str, str | None] | None = None,
        edit_window: float = EDIT_WINDOW_SECONDS,
    ):
        """`db_path` keeps rooms, members and messages in SQLite across restarts; None keeps them in memory.
        `identity`: the server's long-lived key (default: the one in the user's data directory).
        `allow_plain`: also admit clients that speak the assignment's protocol without encryption.
        `files_dir`: where shared files are kept (default: `files` beside the database, or a
        temporary directory, removed at stop, for a server without one).
        `move_damaged_db`: a damaged database file is moved aside and the server starts empty
        (otherwise start() raises DatabaseDamaged).
        `standing_rooms`: rooms the server holds itself, name -> password (None: open), opened
        by start() (StandingRoomRefused if one cannot be); standing rooms the database kept
        from an earlier start and not named here end (docs/standing-rooms.md).
        `edit_window`: seconds during which a sender may edit or delete its message."""
        self.move_damaged_db = move_damaged_db
        self.host = host
        self.identity = identity or ServerIdentity.load_or_create()
        self.allow_plain = allow_plain
        self._tls_context = server_tls_context(self.identity)
        member_keys = MemberKeys(self.identity, self.identity.next_boot())
        self._requested = (tcp_port, udp_port)
        # Password hashing runs on one thread of its own: scrypt's 16 MiB working set then
        # lives in one thread's memory, not in every worker's, and a burst of locked
        # requests queues there instead of taking every worker.
        self._hashing = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ocm-password")
        # Requests that need a password hashed wait here, not in the TCP workers: a join
        # that needs no hash never queues behind scrypt work, and rooms take turns.
        self._password_queue = FairQueue()
        self._password_ready = threading.Condition()
        self._registry_args: dict[str, Any] = dict(
            member_timeout=member_timeout,
            limits=limits,
            hasher=self._hash_password,
            member_keys=member_keys,
            edit_window=edit_window,
        )
        self.registry: RoomRegistry | None = registry or (None if db_path else RoomRegistry(**self._registry_args))
        if self.registry is not None and self.registry.member_keys is None:
            self.registry.member_keys = member_keys
        self.db_path = db_path
        self._store: RoomStore | None = None
        self.server_limits = server_limits or ServerLimits()
        self._tcp: socket.socket | None = None
        self._udp: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._open_by_ip: collections.Counter[str] = collections.Counter()
        self._open_total = 0
        self._open_lock = threading.Lock()
        self.stats: collections.Counter[str] = collections.Counter()
        self._files_dir = files_dir
        self._files_temporary: str | None = None
        self.files: FileStore | None = None
        self._transfers: FileTransfers | None = None
        self._admission: Admission | None = None
        self._waiting: WaitingConnections[socket.socket] = WaitingConnections(total=1)  # made anew by start()
        self._quiet_log = ThrottledLog(log, 5.0)  # lines that an attack would repeat thousands of times
        self.memory_only: str | None = None  # why the database could not be written at start, if it could not
        self.standing_rooms: dict[str, str | None] = dict(standing_rooms or {})

    def _hash_password(self, password: str, salt: bytes | None) -> tuple[bytes, bytes]:
        return self._hashing.submit(hash_password, password, salt).result()

    # --- life -------------------------------------------------------------------------

    @property
    def tcp_address(self) -> tuple[str, int]:
        if self._tcp is None:
            raise RuntimeError("server is not started")
        return self._tcp.getsockname()

    @property
    def udp_address(self) -> tuple[str, int]:
        if self._udp is None:
            raise RuntimeError("server is not started")
        return self._udp.getsockname()

    @property
    def fingerprint(self) -> str:
        """The identity's short form, for people to compare with what their clients show."""
        return self.identity.fingerprint

    @property
    def damaged_log(self) -> Path | None:
        """Where the database's damaged write-ahead log was kept at start, if it was damaged."""
        return self._store.damaged_log if self._store is not None else None

    @property
    def running(self) -> bool:
        return self._tcp is not None and not self._stopping.is_set()

    def _open_store(self) -> None:
        assert self.db_path is not None
        # RoomStore holds the file's lock (DatabaseInUse for a second server on it). A database
        # that opens but cannot be written (a full disk) is kept: what it holds is taken up, and
        # new messages wait unacknowledged until it can be written again.
        try:
            self._store = RoomStore(self.db_path)
            self.registry = RoomRegistry(store=self._store, **self._registry_args)
        except sqlite3.DatabaseError as exc:
            if self._store is not None:
                self._store.close()
                self._store = None
            if not is_damage(exc):
                self._from_memory(str(exc))  # a full or read-only disk: the file could not be made
                return
            if not self.move_damaged_db:
                raise DatabaseDamaged(str(self.db_path), str(exc)) from None
            moved = move_aside(self.db_path)
            log.warning(
                "the database %s was damaged (%s); moved it to %s and starting with no rooms", self.db_path, exc, moved
            )
            self._store = RoomStore(self.db_path)
            self.registry = RoomRegistry(store=self._store, **self._registry_args)
        except DatabaseInUse:
            raise
        except OSError as exc:  # the folder or the file cannot be made
            self._from_memory(exc.strerror or str(exc))
            return
        self.registry.check_store()

    def _from_memory(self, reason: str) -> None:
        """Serve from memory: the database file could not be made or opened for writing (a full
        or read-only disk), so nothing of this run is kept; a file that was there keeps what it had."""
        self.registry = RoomRegistry(**self._registry_args)
        self.memory_only = reason
        log.warning(
            "cannot write the database %s (%s); serving from memory: rooms and messages from now on are not "
            "kept across a restart, and the file keeps what it had",
            self.db_path,
            reason,
        )

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def start(self) -> None:
        tcp_port, udp_port = self._requested
        self._tcp = _bind(socket.SOCK_STREAM, self.host, tcp_port)
        try:
            self._udp = _bind(socket.SOCK_DGRAM, self.host, udp_port)
            if self.db_path and self._store is None:
                self._open_store()  # it makes the folder, or serves from memory where it cannot
            self._hold_standing_rooms()
        except Exception:
            self._close_store()
            self._tcp.close()
            self._tcp = None
            if self._udp is not None:
                self._udp.close()
                self._udp = None
            raise
        try:
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        except OSError:
            log.debug("could not enlarge the UDP receive buffer")
        self._tcp.listen(128)
        self._tcp.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        limits = self.server_limits
        self._waiting = WaitingConnections[socket.socket](
            total=limits.max_connections,
            per_address=limits.waiting_per_ip,
            handshake_seconds=limits.handshake_timeout,
            request_seconds=limits.request_timeout,
            grace=limits.waiting_grace,
        )
        self._workers = concurrent.futures.ThreadPoolExecutor(
            self.server_limits.workers, thread_name_prefix="ocm-tcp-worker"
        )
        self._start_files()
        self._stopping.clear()
        loops = (
            ("ocm-tcp", self._tcp_loop),
            ("ocm-udp", self._udp_loop),
            ("ocm-tick", self._tick_loop),
            ("ocm-password-queue", self._password_loop),
        )
        for name, target in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("listening on TCP %s:%d and UDP %s:%d", *self.tcp_address, *self.udp_address)

    def _hold_standing_rooms(self) -> None:
        """End the standing rooms the database kept but this start does not name, then open the
        named ones (taken up as they were, when the database kept them)."""
        assert self.registry is not None and self._udp is not None
        self._send_all(self.registry.end_standing_rooms(keep=self.standing_rooms))  # members the database knew
        for name, password in self.standing_rooms.items():
            try:
                self.registry.open_standing_room(name, password)
            except RegistryError as exc:
                raise StandingRoomRefused(name, exc, self.db_path) from None

    def _start_files(self) -> None:
        assert self.registry is not None
        limits = self.server_limits
        if self._files_dir is not None:
            root = str(self._files_dir)
        elif self.db_path:
            root = os.path.join(os.path.dirname(os.path.abspath(self.db_path)), "files")
        else:
            root = self._files_temporary = tempfile.mkdtemp(prefix="ocm-files-")
        self.files = FileStore(root, limits.max_file_bytes, limits.max_storage_bytes)
        try:
            self.files.take_up(set(self.registry.room_names()))  # rooms that no longer exist lose their files
        except OSError as exc:  # the folder cannot be made (a full or read-only disk): files wait in a temporary one
            root = self._files_temporary = tempfile.mkdtemp(prefix="ocm-files-")
            log.warning(
                "cannot use %s for shared files (%s); keeping them in %s until the server stops",
                self.files.root,
                exc.strerror or exc,
                root,
            )
            self.files = FileStore(root, limits.max_file_bytes, limits.max_storage_bytes)
            self.files.take_up(set())
        self.registry.room_closed_hooks.append(self.files.delete_room)
        self._transfers = FileTransfers(
            self.registry,
            self.files,
            self._send_all,
            slots=limits.transfers,
            per_address=limits.transfers_per_ip,
            per_member=limits.transfers_per_member,
            idle_timeout=limits.transfer_idle_timeout,
            min_rate=limits.transfer_min_rate,
            pace_window=limits.transfer_pace_window,
            stats=self.stats,
        )
        self._admission = Admission(
            self.registry,
            allow_plain=self.allow_plain,
            udp_port=lambda: self.udp_address[1],
            room_files=self.files.files,
            stats=self.stats,
        )

    def stop(self, close_rooms: bool = True) -> None:
        """Stop the threads and free both ports (within a second).

        Without a database every room is closed and its members told. With one,
        `close_rooms=False` keeps rooms and members on disk for the next start;
        members see "connection lost" and carry on when the server is back.
        """
        if self._tcp is None or self._stopping.is_set():
            return
        # set by start():
        assert self.registry is not None and self._udp is not None and self._workers is not None
        assert self._wake_r is not None and self._wake_w is not None
        if close_rooms or self._store is None:
            try:
                goodbyes = self.registry.close_all(words.SERVER_STOPPED)
                self._send_all(goodbyes + goodbyes)  # twice: no one is left to answer a re-send
            except Exception:
                log.exception("could not tell the rooms that the server stops")
        self._stopping.set()
        with self._password_ready:
            self._password_ready.notify_all()
        self._wake_w.send(b"x")
        try:  # wake the blocking recvfrom with a datagram of our own
            wake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            host, port = self.udp_address
            wake.sendto(b"", ("127.0.0.1" if host in ("0.0.0.0", "") else host, port))
            wake.close()
        except OSError:
            pass
        deadline = time.monotonic() + 0.8
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._workers.shutdown(wait=False, cancel_futures=True)
        if self._transfers is not None:
            self._transfers.shutdown()
        if self.files is not None:
            self.registry.room_closed_hooks.remove(self.files.delete_room)
        if self._files_temporary is not None:
            shutil.rmtree(
                self._files_temporary, ignore_errors=True
            )  # a transfer still open may keep a file: it goes with the OS's temp clean-up
            self._files_temporary = None
        with self._password_ready:  # requests still queued for a password check get no answer
            while (item := self._password_queue.pop()) is not None:
                conn = item[1][0]
                conn.sock.close()
                self._release(conn.ip)
        for sock in (self._tcp, self._udp, self._wake_r, self._wake_w):
            sock.close()
        self._threads.clear()
        self._tcp = self._udp = None
        self._close_store()
        log.info("server stopped")

    def __enter__(self) -> ChatServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- UDP --------------------------------------------------------------------------

    def _send_all(self, outbound) -> None:
        sock = self._udp
        assert sock is not None
        for address, data in outbound:
            try:
                sock.sendto(data, address)
            except OSError as exc:
                self.stats["send errors"] += 1
                log.debug("could not send to %s: %s", address, exc)
        self.stats["datagrams sent"] += len(outbound)

    def _udp_loop(self) -> None:
        sock = self._udp
        registry = self.registry
        assert sock is not None and registry is not None
        while not self._stopping.is_set():
            try:
                data, address = sock.recvfrom(p.MAX_DATAGRAM + 1)
            except OSError as exc:
                if self._stopping.is_set():
                    break
                log.debug("UDP receive error: %s", exc)
                continue
            if self._stopping.is_set():
                break
            arrived = [(data, address)]
            # Drain what is already waiting without blocking. A zero-wait select works on
            # every OS (MSG_DONTWAIT is POSIX-only) and leaves the socket blocking for the
            # threads that send on it.
            while len(arrived) < BATCH_DATAGRAMS and select.select([sock], [], [], 0)[0]:
                try:
                    arrived.append(sock.recvfrom(p.MAX_DATAGRAM + 1))
                except OSError:  # e.g. Windows' report of an ICMP "port unreachable"; the next read goes on
                    break
            self.stats["datagrams received"] += len(arrived)
            batch = []
            for data, address in arrived:
                try:
                    batch.append((p.decode_datagram(data), address))
                except ProtocolError as exc:
                    registry.drop("malformed datagram", address, exc.reason)
            try:
                self._send_all(registry.handle_datagrams(batch))
            except Exception:  # a bug must cost these datagrams, never the relay
                log.exception("error handling %d datagrams", len(batch))

    def _tick_loop(self) -> None:
        assert self.registry is not None
        while not self._stopping.wait(TICK_SECONDS):
            try:
                self._send_all(self.registry.tick())
            except Exception:
                log.exception("error in the maintenance tick")

    # --- TCP --------------------------------------------------------------------------

    def _tcp_loop(self) -> None:
        assert self._tcp is not None and self._wake_r is not None
        selector = selectors.DefaultSelector()
        selector.register(self._tcp, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        connections: dict[socket.socket, _Connection] = {}
        try:
            while not self._stopping.is_set():
                for key, _ in selector.select(timeout=0.5):
                    if key.data == "wake":
                        continue
                    if key.data is None:
                        self._accept(selector, connections)
                    else:
                        self._read(selector, connections, key.data)
                for late in self._waiting.overdue(time.monotonic()):
                    conn = connections.get(late)
                    if conn is not None:
                        self._quiet_log.log(
                            ("late", conn.ip),
                            logging.INFO,
                            "closing a TCP connection from %s that sent no whole request in time",
                            conn.ip,
                        )
                        self.stats["tcp timeouts"] += 1
                        self._finish(selector, connections, conn)
        finally:
            for conn in list(connections.values()):
                self._finish(selector, connections, conn)
            selector.close()

    def _accept(self, selector, connections) -> None:
        limits = self.server_limits
        assert self._tcp is not None
        while True:
            try:
                sock, (ip, _port) = self._tcp.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            with self._open_lock:
                total, from_ip = self._open_total, self._open_by_ip[ip]
            # Connections that have waited too long for their request give way (sansio/slots.py);
            # only when no such one is left is the newcomer refused.
            admitted, shed = self._waiting.admit(
                sock, ip, time.monotonic(), total, address_full=from_ip >= limits.max_connections_per_ip
            )
            for old in shed:
                stalled = connections.get(old)
                if stalled is not None:
                    self.stats["tcp shed"] += 1
                    self._quiet_log.log(
                        ("shed", stalled.ip),
                        logging.INFO,
                        "gave up a TCP connection from %s that sent no request, for a new one",
                        stalled.ip,
                    )
                    self._finish(selector, connections, stalled)
            if not admitted:
                full = total >= limits.max_connections
                refuse = (
                    words.TOO_MANY_CONNECTIONS
                    if full
                    else "too many connections from your address at once; try again in a moment"
                )
                self.stats["tcp refused"] += 1
                self._quiet_log.log(
                    ("refused", ip), logging.WARNING, "refused a TCP connection from %s: %s", ip, refuse
                )
                self._answer_and_close(sock, Operation.CREATE, "", Status.BUSY, refuse)
                continue
            with self._open_lock:
                self._open_total += 1
                self._open_by_ip[ip] += 1
            sock.setblocking(False)
            sock.setsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
            )  # a TLS flight, then the answer: no 40 ms wait between
            conn = _Connection(sock, ip)
            connections[sock] = conn
            selector.register(sock, selectors.EVENT_READ, conn)

    def _release(self, ip: str) -> None:
        with self._open_lock:
            self._open_total -= 1
            self._open_by_ip[ip] -= 1
            if self._open_by_ip[ip] <= 0:
                del self._open_by_ip[ip]

    def _finish(self, selector, connections, conn: _Connection) -> None:
        self._waiting.done(conn.sock)
        selector.unregister(conn.sock)
        connections.pop(conn.sock, None)
        conn.sock.close()
        self._release(conn.ip)

    def _read(self, selector, connections, conn: _Connection) -> None:
        assert self._workers is not None
        try:
            chunk = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._finish(selector, connections, conn)  # the peer went away mid-request: nothing to do
            return
        request_bytes = self._unwrap(selector, connections, conn, chunk)
        if request_bytes is None:
            return
        conn.buffer += request_bytes
        try:
            if conn.header is None and len(conn.buffer) >= p.TCRP_HEADER_SIZE:
                conn.header = p.decode_tcrp_header(bytes(conn.buffer[: p.TCRP_HEADER_SIZE]))
                if conn.header.state is not State.REQUEST:
                    raise RemoteProtocolError(f"a client sends state 0 (request), not {int(conn.header.state)}")
                if conn.header.payload_size > p.MAX_REQUEST_PAYLOAD:
                    raise RemoteProtocolError(
                        f"payload of {conn.header.payload_size} bytes is over the {p.MAX_REQUEST_PAYLOAD}-byte limit"
                    )
            if conn.header is None or len(conn.buffer) < p.TCRP_HEADER_SIZE + conn.header.body_size:
                return
            message = p.decode_tcrp(
                bytes(conn.buffer[: p.TCRP_HEADER_SIZE + conn.header.body_size]), allow_empty_room=True
            )
        except ProtocolError as exc:
            self.stats["tcp bad requests"] += 1
            log.info("bad TCRP request from %s: %s", conn.ip, exc.reason)
            operation = conn.header.operation if conn.header else Operation.CREATE
            self._waiting.done(conn.sock)
            selector.unregister(conn.sock)
            connections.pop(conn.sock, None)
            self._workers.submit(
                self._answer_and_close, conn.sock, operation, "", Status.BAD_REQUEST, exc.reason, conn.ip, tls=conn.tls
            )
            return
        self._waiting.done(conn.sock)
        selector.unregister(conn.sock)
        connections.pop(conn.sock, None)
        if message.operation in (Operation.UPLOAD, Operation.DOWNLOAD):
            self._hand_to_transfers(conn, message)
            return
        assert self._admission is not None and self.registry is not None  # set by start()
        if self._admission.needs_hashing(message):
            with self._password_ready:
                # Addresses that guessed wrong lately queue apart from the rest, so the room's
                # own members are not refused for the guessers' sake.
                line = (message.room, self.registry.guessed_wrong(conn.ip))
                try:
                    self._password_queue.push(line, conn.ip, (conn, message))
                except QueueFull as exc:
                    self.stats["password checks refused"] += 1
                    self._workers.submit(
                        self._answer_and_close,
                        conn.sock,
                        message.operation,
                        message.room,
                        Status.TRY_LATER,
                        str(exc),
                        conn.ip,
                        None,
                        tls=conn.tls,
                        retry_after=exc.seconds,
                    )
                    return
                self._password_ready.notify()
            return
        self._workers.submit(self._serve_request, conn, message)

    def _password_loop(self) -> None:
        while not self._stopping.is_set():
            with self._password_ready:
                item = self._password_queue.pop()
                if item is None:
                    self._password_ready.wait(0.5)
                    continue
            ip, (conn, message) = item
            started = time.monotonic()
            try:
                decision = self._decision(conn, message)
            finally:  # before the answer: the client's next request must find its address free
                with self._password_ready:
                    self._password_queue.done(ip, time.monotonic() - started)
            self._answer_decision(conn, message, decision)

    BUSY_TRANSFERS = "the server is busy with other file transfers; try again in a moment"

    def _hand_to_transfers(self, conn: _Connection, message: p.TcrpMessage) -> None:
        """A file's bytes follow this request: move the connection off the selector to a
        transfer slot, or answer at once (plain, or every slot busy)."""
        assert self._workers is not None and self._transfers is not None and conn.header is not None
        refusal = None
        if conn.tls is None:
            self.stats["plain refused"] += 1
            refusal = (
                Status.ENCRYPTION_REQUIRED,
                "files are shared only over encryption; use a current Online Chat Messenger",
            )
        else:
            pending = bytes(conn.buffer[p.TCRP_HEADER_SIZE + conn.header.body_size :])
            if self._transfers.try_start(
                conn.sock, conn.tls, message, pending, conn.ip, lambda: self._release(conn.ip)
            ):
                return
            self.stats["transfers busy"] += 1
            refusal = (Status.BUSY, self.BUSY_TRANSFERS)
        self._workers.submit(
            self._answer_and_close, conn.sock, message.operation, message.room, *refusal, conn.ip, tls=conn.tls
        )

    def _unwrap(self, selector, connections, conn: _Connection, chunk: bytes) -> bytes | None:
        """The request bytes in `chunk`: as they are on a plain connection, decrypted on a TLS
        one (whose handshake answers go out here). None when there is nothing to add yet."""
        if conn.mode is Wrapping.UNKNOWN:
            conn.buffer += chunk
            if len(conn.buffer) < p.TLS_PREFIX_BYTES:
                return None
            if not p.looks_like_tls(bytes(conn.buffer[: p.TLS_PREFIX_BYTES])):
                conn.mode = Wrapping.PLAIN
                self._waiting.handshaken(conn.sock)  # no handshake to wait for: only the request
                return b""
            conn.mode, conn.tls = Wrapping.TLS, TlsServerSide(self._tls_context)
            chunk = bytes(conn.buffer)
            conn.buffer.clear()
        if conn.tls is None:
            return chunk
        try:
            plain, reply = conn.tls.receive(chunk)
            if reply:
                conn.sock.sendall(reply)  # a handshake flight: far less than a socket buffer
            if conn.tls.handshaken:
                self._waiting.handshaken(conn.sock)
        except (ssl.SSLError, OSError) as exc:
            self.stats["tls failures"] += 1
            log.info("TLS handshake with %s failed: %s", conn.ip, exc)
            self._finish(selector, connections, conn)
            return None
        return plain

    def _serve_request(self, conn: _Connection, message: p.TcrpMessage) -> None:
        self._answer_decision(conn, message, self._decision(conn, message))

    def _decision(self, conn: _Connection, message: p.TcrpMessage) -> Decision:
        assert self._admission is not None  # set by start()
        try:
            decision = self._admission.decide(conn.ip, message, conn.tls is not None)
        except Exception:
            log.exception("error answering a %s request from %s", message.operation.name, conn.ip)
            return Decision(Status.SERVER_ERROR, "the server hit an internal error; try again")
        self._send_all(decision.outbound)
        return decision

    def _answer_decision(self, conn: _Connection, message: p.TcrpMessage, decision: Decision) -> None:
        self._answer_and_close(
            conn.sock,
            message.operation,
            message.room,
            decision.status,
            decision.detail,
            conn.ip,
            decision.completion,
            tls=conn.tls,
            dialect=decision.dialect,
            retry_after=decision.retry_after,
        )

    def _answer_and_close(
        self,
        sock,
        operation,
        room,
        status,
        detail,
        ip=None,
        completion=None,
        *,
        tls: TlsServerSide | None = None,
        dialect: Dialect = Dialect.OURS,
        retry_after: int = 1,
    ) -> None:
        try:
            sock.setblocking(True)
            sock.settimeout(5.0)
            if dialect is Dialect.KANARU:
                answer = p.encode_kanaru_status(status is Status.OK, "" if status is Status.OK else detail)
            else:
                answer = p.encode_status(status, detail, retry_after)
            data = p.encode_tcrp(operation, State.RESPONSE, room, answer)
            if status is Status.OK and completion is not None:
                data += p.encode_tcrp(operation, State.COMPLETE, room, completion)
            if tls is not None:
                data = tls.send(data) + tls.close()
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (OSError, ssl.SSLError) as exc:
            log.debug("could not answer %s: %s", ip, exc)
        finally:
            sock.close()
            if ip is not None:
                self._release(ip)
