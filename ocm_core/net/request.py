"""One TCRP request to a server over TLS, with the server's identity checked, and the back-off
that asks a busy server again: used by ChatClient's requests and by its file transfers.

`ServerLink` knows where the server is and which identity it must show; `open()` leaves a
connection whose request was answered OK (a file's bytes follow on it), `request()` reads
the completion too. `retry_while_busy` is the one back-off: jittered, doubling, bounded.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import time
from collections.abc import Callable
from typing import TypeVar

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.crypto.identity import (
    IdentityChanged,
    KnownServers,
    LinkContradictsRemembered,
    LinkIdentityMismatch,
    fingerprint,
    public_key_of_certificate,
)
from ocm_core.crypto.tls import PlainAnswer, TlsClientStream, client_tls_context
from ocm_core.i18n import _
from ocm_core.wire import Operation, State, Status
from ocm_core.words import refusal_text

log = logging.getLogger(__name__)

T = TypeVar("T")

STATUS_ERRORS: dict[Status, type[errors.ClientError]] = {
    Status.ROOM_EXISTS: errors.RoomExists,
    Status.NO_SUCH_ROOM: errors.RoomNotFound,
    Status.NAME_TAKEN: errors.NameTaken,
    Status.BAD_REQUEST: errors.BadRequest,
    Status.SERVER_FULL: errors.ServerFull,
    Status.ROOM_FULL: errors.RoomFull,
    Status.PASSWORD_REQUIRED: errors.PasswordRequired,
    Status.WRONG_PASSWORD: errors.WrongPassword,
    Status.TOO_MANY_ATTEMPTS: errors.TooManyAttempts,
    Status.UNKNOWN_TOKEN: errors.NotConnected,
    Status.SERVER_ERROR: errors.ClientError,
    Status.BUSY: errors.ServerBusy,
    Status.CANNOT_SAVE: errors.CannotSave,
    Status.ENCRYPTION_REQUIRED: errors.BadRequest,
    Status.FILE_TOO_LARGE: errors.FileTooLarge,
    Status.STORAGE_FULL: errors.StorageFull,
    Status.NO_SUCH_FILE: errors.NoSuchFile,
    Status.TRANSFER_FAILED: errors.TransferFailed,
    Status.REMOVED: errors.RemovedFromRoom,
}


def retry_while_busy(
    attempt: Callable[[], T],
    *,
    within: float,
    first_pause: float,
    longest_pause: float,
    honour_try_later: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`attempt()`, asked again while the server says BUSY (jittered pauses that double up
    to `longest_pause`) or TRY_LATER (the seconds it names), as long as `within` allows."""
    deadline, pause = clock() + within, first_pause
    while True:
        try:
            return attempt()
        except errors.ServerBusy:
            if clock() + pause > deadline:
                raise
            sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, longest_pause)
        except errors.TryAgainLater as exc:
            wait = exc.seconds * random.uniform(0.8, 1.2)
            if not honour_try_later or clock() + wait > deadline:
                raise
            sleep(wait)


def check_status(header: p.TcrpHeader, message: p.TcrpMessage, room: str = "", name: str = "") -> None:
    """Raise the typed error for a status answer that is not OK, worded for a person."""
    # The operation byte is not checked: a refusal sent before the request was read
    # (BUSY, or a header too broken to parse) cannot echo it.
    if header.state is not State.RESPONSE:
        raise errors.RemoteProtocolError("the server's first answer is not a status")
    status, detail = p.decode_status(message.payload)
    if status is Status.TRY_LATER:
        seconds = p.decode_retry_after(message.payload)
        raise errors.TryAgainLater(refusal_text(status, detail, seconds=seconds), seconds)
    if status is not Status.OK:
        raise STATUS_ERRORS.get(status, errors.ClientError)(refusal_text(status, detail, room, name))


def read_message(stream) -> tuple[p.TcrpHeader, p.TcrpMessage]:
    """One TCRP message from the server, refused if it announces more than a client reads."""
    header = p.decode_tcrp_header(read_exactly(stream, p.TCRP_HEADER_SIZE))
    if header.payload_size > p.MAX_RESPONSE_PAYLOAD:
        raise errors.RemoteProtocolError(f"the server announced an answer of {header.payload_size} bytes")
    body = read_exactly(stream, header.body_size)
    return header, p.decode_tcrp_body(header, body, allow_empty_room=True)


def read_exactly(sock, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 65536))
        if not chunk:
            raise ConnectionError("the server closed the connection early")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class ServerLink:
    """Where a server is and which identity it must show. `known_servers`: the identities
    trusted so far; a changed one raises IdentityChanged unless `trust_changed_identity`.
    `own_server_identity`: the one to accept whatever was remembered (the app's own server,
    whose key it knows first-hand). `plain`: no TLS (a server with --allow-plain). `sleep` and
    `clock`: how `request` waits between asking a busy server again (tests pass fake ones).
    `expected_fingerprint`: the identity an invite link introduced (wire/links.py): the server
    must show exactly it (LinkIdentityMismatch), an address remembered with another identity
    refuses the link (LinkContradictsRemembered) and is never overwritten, whatever
    `trust_changed_identity` says; an address not remembered yet is remembered with it."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        known_servers: KnownServers,
        trust_changed_identity: bool = False,
        plain: bool = False,
        expected_fingerprint: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        if plain and expected_fingerprint is not None:
            raise ValueError("a plain connection shows no identity to compare with the expected fingerprint")
        self.host, self.port, self.timeout = host, port, timeout
        self.known_servers = known_servers
        self.trust_changed_identity = trust_changed_identity
        self.own_server_identity: str | None = None
        self.plain = plain
        self.expected_fingerprint = expected_fingerprint
        self.fingerprint: str | None = None  # the server's, once a request has shown it
        self.sleep = sleep
        self.clock = clock

    @property
    def where(self) -> str:
        """The server's address as a person reads it."""
        return f"{self.host}:{self.port}"

    def _no_answer(self) -> errors.ServerUnreachable:
        """Silence for `timeout`: worth another try, the answer may have been lost on the way."""
        return errors.ServerUnreachable(
            _("The server at {address} did not answer in {seconds:g} s; try again.").format(
                address=self.where, seconds=self.timeout
            ),
            transient=True,
        )

    def connect(self) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except TimeoutError:  # no answer to the connection at all: lost on the way, perhaps
            raise self._no_answer() from None
        except socket.gaierror:
            raise errors.ServerUnreachable(
                _("Cannot find a computer named '{host}'; check the address.").format(host=self.host)
            ) from None
        except OSError as exc:
            raise errors.ServerUnreachable(
                _(
                    "Could not reach a server at {address} ({error}); check the address and that the room's host "
                    "is running."
                ).format(address=self.where, error=exc.strerror or exc)
            ) from None

    def secure(self, sock: socket.socket) -> TlsClientStream:
        """TLS 1.3 on `sock`, the server's key checked against the one trusted for its address
        (or the one an invite link promised)."""
        where = self.where
        expected = self.expected_fingerprint
        if expected is not None:  # refused before the handshake: no answer of the server's changes it
            remembered = self.known_servers.get(where)
            if remembered is not None and remembered != expected:
                raise LinkContradictsRemembered(where, expected, remembered)
        stream = TlsClientStream(sock, client_tls_context())
        try:
            certificate = stream.handshake()
        except PlainAnswer as answer:
            raise self._plain_refusal(sock, answer.data) from None
        except ssl.SSLError as exc:
            raise errors.ServerUnreachable(
                _("Could not set up encryption with {address} ({error}); try again.").format(
                    address=where, error=exc.reason or exc
                )
            ) from None
        try:
            presented = fingerprint(public_key_of_certificate(certificate))
        except ValueError as exc:
            raise errors.RemoteProtocolError(str(exc)) from None
        if self.own_server_identity is not None and presented != self.own_server_identity:
            raise IdentityChanged(where, self.own_server_identity, presented)  # not our server at all
        if expected is not None and presented != expected:
            raise LinkIdentityMismatch(where, expected, presented)
        # With a link, the address is remembered with its identity or with none (checked above):
        # the link introduces the server, and is never a reason to replace what is remembered.
        confirmed = self.trust_changed_identity or presented == self.own_server_identity
        self.known_servers.check(where, presented, accept_changed=confirmed and expected is None)
        self.fingerprint = presented
        return stream

    def _plain_refusal(self, sock: socket.socket, first: bytes) -> errors.OCMError:
        """The error a plain answer to our TLS hello stands for. Unauthenticated, so it is only
        ever a refusal: BUSY (sent before the server reads), or a server without encryption."""
        try:
            data = first + read_exactly(sock, max(0, p.TCRP_HEADER_SIZE - len(first)))
            header = p.decode_tcrp_header(data[: p.TCRP_HEADER_SIZE])
            body = data[p.TCRP_HEADER_SIZE :]
            wanted = min(header.body_size, 4096)
            body += read_exactly(sock, wanted - len(body)) if len(body) < wanted else b""
            status, detail = p.decode_status(body[header.room_name_size : header.body_size])
        except errors.ProtocolError as exc:
            return exc  # another program answered
        except (ConnectionError, OSError):
            status, detail = Status.BAD_REQUEST, ""
        if status is Status.BUSY:
            return errors.ServerBusy(refusal_text(status, detail))
        return errors.ServerUnreachable(
            _(
                "The server at {address} does not speak encryption (it may be an older version); "
                "update it and try again."
            ).format(address=self.where)
        )

    def open(
        self, operation: Operation, room: str, payload: bytes, *, idle_timeout: float | None = None, name: str = ""
    ) -> tuple[socket.socket, TlsClientStream]:
        """A connection on which `operation`'s request was sent and answered OK (what follows
        is the caller's). The typed ClientError of a refusal otherwise; the socket is closed."""
        sock = self.connect()
        try:
            stream = self.secure(sock)
            if idle_timeout is not None:
                sock.settimeout(idle_timeout)
            stream.sendall(p.encode_tcrp(operation, State.REQUEST, room, payload))
            check_status(*read_message(stream), room, name)
            return sock, stream
        except BaseException:
            sock.close()
            raise

    def request_once(self, operation: Operation, room: str, payload: bytes, name: str = "") -> bytes:
        """One request and its completion's payload."""
        sock = self.connect()
        with sock:
            try:
                stream = sock if self.plain else self.secure(sock)
                stream.sendall(p.encode_tcrp(operation, State.REQUEST, room, payload))
                check_status(*read_message(stream), room, name)
                header, message = read_message(stream)
                if header.state is not State.COMPLETE:
                    raise errors.RemoteProtocolError("the server did not complete the request")
                return message.payload
            except TimeoutError:
                raise self._no_answer() from None
            except (ConnectionError, OSError) as exc:
                raise errors.ServerUnreachable(
                    _("The connection to {address} broke ({error}); try again.").format(address=self.where, error=exc),
                    transient=True,
                ) from None

    def request(self, operation: Operation, room: str, payload: bytes, name: str = "") -> bytes:
        """One request; a busy server is asked again with jittered back-off until `timeout`."""
        return retry_while_busy(
            lambda: self.request_once(operation, room, payload, name),
            within=self.timeout,
            first_pause=0.05,
            longest_pause=1.0,
            sleep=self.sleep,
            clock=self.clock,
        )
