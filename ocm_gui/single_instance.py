"""One app at a time: a second launch hands its arguments to the running copy and exits.

The running copy (the primary) listens on 127.0.0.1 at a port the system picks, so no other
program can hold ours, and writes that port and a fresh secret to `instance.json`, readable
only by its user. A later launch reads the file and sends its arguments, made with the
secret (ocm_core/wire/handoff.py). Who becomes primary is settled by a lock file created
with O_CREAT | O_EXCL, which every platform has. No Tk here: `on_args` runs on the server's
thread, and the app's `on_args` puts the arguments into its inbox.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ocm_core.crypto.identity import write_private
from ocm_core.wire.handoff import HANDOFF_OK, MAX_HANDOFF_BYTES, BadHandoff, decode_handoff, encode_handoff

log = logging.getLogger(__name__)

INSTANCE_FILE = "instance.json"  # {"port": N, "secret": hex, "pid": pid}, the primary's
LOCK_FILE = "instance.lock"  # "pid nonce": held by the primary (or one becoming it)
SECRET_BYTES = 32
READ_DEADLINE = 1.0  # seconds a connection has to send its whole line
SETTLE = 1.0  # seconds a lock is given to show an answering copy before it counts as stale
MAX_CONNECTIONS = 16  # at once; more are closed unread
POLL = 0.02

OnArgs = Callable[[list[str]], None]


@dataclass
class _Pending:
    deadline: float
    data: bytearray = field(default_factory=bytearray)


class Primary:
    """The running copy's end: a loopback server that takes hand-offs and passes their
    arguments to `on_args` (called from its daemon thread), until `close()`."""

    def __init__(
        self,
        directory: Path,
        on_args: OnArgs,
        *,
        lock_token: str | None = None,
        read_deadline: float = READ_DEADLINE,
    ):
        self.directory = directory
        self.path = directory / INSTANCE_FILE
        self._on_args = on_args
        self._lock_token = lock_token  # the lock file's content while it is ours to remove
        self._read_deadline = read_deadline
        self._secret = secrets.token_bytes(SECRET_BYTES)
        self._closed = threading.Event()
        self._close_lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._wake_reader, self._wake_writer = socket.socketpair()
        try:
            if sys.platform == "win32":  # else another program may bind the same port with SO_REUSEADDR
                self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(MAX_CONNECTIONS)
            self._listener.setblocking(False)
            self._wake_reader.setblocking(False)
            self.port: int = self._listener.getsockname()[1]
            record = {"port": self.port, "secret": self._secret.hex(), "pid": os.getpid()}
            write_private(self.path, json.dumps(record).encode("utf-8"))
        except BaseException:
            for sock in (self._listener, self._wake_reader, self._wake_writer):
                sock.close()
            raise
        self._thread = threading.Thread(target=self._serve, name="ocm-single-instance", daemon=True)
        self._thread.start()

    def __enter__(self) -> Primary:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; remove instance.json and the lock if they are still ours."""
        with self._close_lock:
            if self._closed.is_set():
                return
            self._closed.set()
        try:
            self._wake_writer.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout=5)
        for sock in (self._listener, self._wake_reader, self._wake_writer):
            sock.close()
        if _read_json(self.path).get("secret") == self._secret.hex():
            _unlink(self.path)
        if self._lock_token is not None and _read_text(self.directory / LOCK_FILE) == self._lock_token:
            _unlink(self.directory / LOCK_FILE)

    # --- the server's thread ---------------------------------------------------------------

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._wake_reader, selectors.EVENT_READ)
        pending: dict[socket.socket, _Pending] = {}
        try:
            while not self._closed.is_set():
                wait = min((p.deadline for p in pending.values()), default=None)
                ready = selector.select(None if wait is None else max(0.0, wait - time.monotonic()))
                for key, _events in ready:
                    if key.fileobj is self._listener:
                        self._accept(selector, pending)
                    elif key.fileobj is not self._wake_reader:
                        conn = key.fileobj
                        assert isinstance(conn, socket.socket)
                        self._read(conn, pending, selector)
                now = time.monotonic()
                for conn in [c for c, p in pending.items() if p.deadline <= now]:
                    self._drop(conn, pending, selector, f"no whole line within {self._read_deadline:g} s")
        except Exception:
            log.exception("the single-instance server stopped; later launches will not reach this copy")
        finally:
            for conn in list(pending):
                conn.close()
            selector.close()

    def _accept(self, selector: selectors.BaseSelector, pending: dict[socket.socket, _Pending]) -> None:
        try:
            conn, _address = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if len(pending) >= MAX_CONNECTIONS:
            log.warning("dropped a hand-off connection: %d are already waiting", len(pending))
            conn.close()
            return
        conn.setblocking(False)
        pending[conn] = _Pending(time.monotonic() + self._read_deadline)
        selector.register(conn, selectors.EVENT_READ)

    def _read(
        self, conn: socket.socket, pending: dict[socket.socket, _Pending], selector: selectors.BaseSelector
    ) -> None:
        state = pending[conn]
        try:
            chunk = conn.recv(MAX_HANDOFF_BYTES + 1 - len(state.data))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._drop(conn, pending, selector, f"reading failed ({exc})")
            return
        state.data += chunk
        end = state.data.find(b"\n")
        if end < 0:
            if not chunk:
                self._drop(conn, pending, selector, "the connection closed before a whole line")
            elif len(state.data) >= MAX_HANDOFF_BYTES:
                self._drop(conn, pending, selector, f"no line within {MAX_HANDOFF_BYTES} bytes")
            return
        try:
            args = decode_handoff(bytes(state.data[: end + 1]), self._secret)
        except BadHandoff as exc:
            self._drop(conn, pending, selector, exc.reason)
            return
        log.info("a later launch handed over %d argument(s)", len(args))
        try:
            self._on_args(args)
        except Exception:
            log.exception("the app could not take the arguments a later launch handed over")
            self._drop(conn, pending, selector, None)
            return
        try:
            conn.send(HANDOFF_OK)  # a few bytes into an empty send buffer: never blocks
        except OSError as exc:
            log.warning("could not answer a hand-off (%s)", exc)
        self._drop(conn, pending, selector, None)

    @staticmethod
    def _drop(
        conn: socket.socket,
        pending: dict[socket.socket, _Pending],
        selector: selectors.BaseSelector,
        reason: str | None,
    ) -> None:
        if reason is not None:
            log.warning("dropped a hand-off connection: %s", reason)
        selector.unregister(conn)
        del pending[conn]
        conn.close()


def hand_off(directory: Path, args: Sequence[str], timeout: float = 1.0) -> bool:
    """Send `args` to the copy that runs from `directory`; True once it has taken them.

    False, within `timeout`, for anything else: no instance.json, a port nobody (or a
    stranger) answers on, a refused connection, a wrong answer. LocalProtocolError, before
    any I/O, for arguments no hand-off can carry (ocm_core/wire/handoff.py's limits)."""
    deadline = time.monotonic() + timeout
    record = _read_json(directory / INSTANCE_FILE)
    port, secret_hex = record.get("port"), record.get("secret")
    if type(port) is not int or not 0 < port < 65536 or not isinstance(secret_hex, str):
        if record:
            log.debug("%s holds no port and secret", directory / INSTANCE_FILE)
        return False
    try:
        secret = bytes.fromhex(secret_hex)
    except ValueError:
        log.debug("%s holds a secret that is not hex", directory / INSTANCE_FILE)
        return False
    line = encode_handoff(secret, list(args))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=max(0.01, deadline - time.monotonic())) as sock:
            sock.sendall(line)
            answer = b""
            while len(answer) < len(HANDOFF_OK) and not answer.endswith(b"\n"):
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(len(HANDOFF_OK) - len(answer))
                if not chunk:
                    break
                answer += chunk
    except OSError as exc:
        log.debug("no copy took the hand-off at port %d (%s)", port, exc)
        return False
    if answer != HANDOFF_OK:
        log.debug("the copy at port %d answered %r", port, answer)
        return False
    return True


def claim(directory: Path, on_args: OnArgs, args: Sequence[str] = (), *, settle: float = SETTLE) -> Primary | None:
    """Become the one running copy, or hand `args` to it.

    None: a running copy took `args`; this launch should exit. A Primary: this launch is the
    running copy (it holds the lock until `close()`). A lock whose holder shows no answering
    server within `settle` seconds was left by a copy that crashed: it is removed, once.
    OSError if `directory` cannot be written; LocalProtocolError as hand_off."""
    args = list(args)
    if hand_off(directory, args):
        return None
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / LOCK_FILE
    removed_stale = False
    for _attempt in range(3):
        token = _create_lock(lock)
        if token is not None:
            try:
                return Primary(directory, on_args, lock_token=token)
            except BaseException:
                _unlink(lock)
                raise
        seen = _read_text(lock)
        if seen is None:
            continue  # the holder has just closed: try again
        log.info("another copy holds the lock (%r); waiting for it to answer", seen.strip())
        if _wait_for_primary(directory, args, settle):
            return None
        if removed_stale:
            break
        if _read_text(lock) == seen:
            log.warning("removing the lock a copy left behind (%r): no copy answers", seen.strip())
            _unlink(lock)
        removed_stale = True
    log.warning("could not settle which copy runs; this one runs without the lock")
    return Primary(directory, on_args)


def _wait_for_primary(directory: Path, args: list[str], settle: float) -> bool:
    """Hand `args` off as soon as a copy answers, for at most `settle` seconds."""
    deadline = time.monotonic() + settle
    while True:
        if hand_off(directory, args, timeout=max(0.05, min(1.0, deadline - time.monotonic()))):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def _create_lock(path: Path) -> str | None:
    """The new lock's content, or None if a lock is already there."""
    token = f"{os.getpid()} {secrets.token_hex(8)}\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token)
    return token


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_json(path: Path) -> dict:
    text = _read_text(path)
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s (%s)", path, exc)
