"""ChatClient: create, join and list rooms over TCP, then chat over UDP.

After a successful create or join, two daemon threads run the session: the receive
thread decodes datagrams and puts typed events (ocm_core.events) on `events`, a
queue.Queue that a GUI or terminal loop drains; the timer thread sends heartbeats
(which double as cumulative acknowledgements) and re-sends unacknowledged messages
with backoff. Neither thread touches anything but this object and the queue.
"""

from __future__ import annotations

import base64
import itertools
import logging
import queue
import random
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from . import errors
from . import protocol as p
from . import events as ev
from .identity import KnownServers, fingerprint, public_key_of_certificate
from .protocol import ErrorCode, EventType, Operation, State, Status
from .secure import OpenFailed, PlainAnswer, SealedChannel, TlsClientStream, client_tls_context, key_proof

log = logging.getLogger(__name__)

_STATUS_ERRORS: dict[Status, type[errors.ClientError]] = {
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
    Status.ENCRYPTION_REQUIRED: errors.BadRequest,
}
RESYNC_CHECK_EVERY = 2.0  # seconds: an unsealed "unknown token" is checked over TLS at most this often


@dataclass(frozen=True)
class RoomInfo:
    name: str
    members: int
    locked: bool
    host: str


@dataclass
class _Pending:
    text: str
    first_sent: float
    retry_at: float
    interval: float


def parse_address(text: str, default_port: int = 9090) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' as a person types it; ValueError with a sentence if not."""
    text = text.strip()
    if not text:
        raise ValueError("Enter the server's address, such as 192.168.1.20 or 192.168.1.20:9090.")
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host or any(ch.isspace() for ch in host):
        raise ValueError(f"'{text}' is not a server address; type it like 192.168.1.20:9090.")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"'{port_text}' is not a port number; use a number from 1 to 65535.")
    return host, int(port_text)


class ChatClient:
    def __init__(
        self,
        server_host: str,
        tcp_port: int = 9090,
        *,
        timeout: float = 5.0,
        heartbeat_interval: float = 3.0,
        send_timeout: float = 60.0,
        lost_after: float | None = None,
        give_up_after: float = 300.0,
        udp_address: tuple[str, int] | None = None,
        known_servers: KnownServers | None = None,
        trust_changed_identity: bool = False,
        plain: bool = False,
    ):
        """`send_timeout`: a message not acknowledged by then is reported failed.
        `lost_after`: seconds of silence from the server before "connection lost".
        `give_up_after`: seconds of silence after which the session ends for good.
        `udp_address`: send chat there instead of where the server says (a relay, a test proxy).
        `known_servers`: the identities trusted so far (default: the user's file); a changed one
        raises identity.IdentityChanged unless `trust_changed_identity` (the person confirmed).
        `plain`: speak the unencrypted protocol (a server with --allow-plain; for comparisons)."""
        self.server_host = server_host
        self.tcp_port = tcp_port
        self.timeout = timeout
        self.heartbeat_interval = heartbeat_interval
        self.send_timeout = send_timeout
        self.lost_after = lost_after if lost_after is not None else max(3.0, 2.5 * heartbeat_interval)
        self.give_up_after = give_up_after
        self._udp_override = udp_address
        self.known_servers = known_servers if known_servers is not None else KnownServers()
        self.trust_changed_identity = trust_changed_identity
        self.plain = plain
        self.server_fingerprint: str | None = None  # set by the first request
        self._channel: SealedChannel | None = None
        self._proof: str | None = None
        self._last_resync_check = float("-inf")
        self.dropped = 0  # datagrams that did not open, or arrived plain to a sealed client
        self.events: queue.Queue = queue.Queue()
        self.room: str | None = None
        self.username: str | None = None
        self.host_name: str | None = None
        self.members: tuple[str, ...] = ()
        self.plain_members: frozenset[str] = frozenset()  # members whose traffic is not encrypted
        self.closed = False
        self._token: bytes = b""
        self._room_bytes = b""
        self._udp: socket.socket | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._msg_ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._failed: dict[int, str] = {}
        self._delivered = 0  # every room event up to here has been handed on
        self._buffered: dict[int, p.Event] = {}
        self._own_seqs: set[int] = set()
        self._acked_sent = -1
        self._last_ack_at = 0.0
        self._last_heartbeat = 0.0
        self._last_heard = 0.0
        self._last_resend_request = 0.0
        self._lost = False
        self._left = threading.Event()
        self._heard_once = threading.Event()
        self._resync_wanted = False
        self._leaving = False
        self._joined_at = 0  # room position when we joined: later lines under our name are ours

    # --- TCP requests -------------------------------------------------------------------

    def _request(self, operation: Operation, room: str, payload: bytes) -> bytes:
        """One TCRP request; a busy server is asked again with jittered backoff until `timeout`."""
        deadline = time.monotonic() + self.timeout
        pause = 0.05
        while True:
            try:
                return self._request_once(operation, room, payload)
            except errors.ServerBusy:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause * random.uniform(0.5, 1.5))
                pause = min(pause * 2, 1.0)

    def _request_once(self, operation: Operation, room: str, payload: bytes) -> bytes:
        where = f"{self.server_host}:{self.tcp_port}"
        try:
            sock = socket.create_connection((self.server_host, self.tcp_port), timeout=self.timeout)
        except socket.gaierror:
            raise errors.ServerUnreachable(f"Cannot find a computer named '{self.server_host}'; check the address.") from None
        except OSError as exc:
            raise errors.ServerUnreachable(
                f"Could not reach a server at {where} ({exc.strerror or exc}); check the address and that the room's host is running."
            ) from None
        with sock:
            try:
                stream = sock if self.plain else self._secure(sock, where)
                stream.sendall(p.encode_tcrp(operation, State.REQUEST, room, payload))
                header, message = self._read_message(stream)
                # The operation byte is not checked: a refusal sent before the request was read
                # (BUSY, or a header too broken to parse) cannot echo it.
                if header.state is not State.RESPONSE:
                    raise errors.ProtocolError("the server's first answer is not a status")
                status, detail = p.decode_status(message.payload)
                if status is not Status.OK:
                    raise _STATUS_ERRORS.get(status, errors.ClientError)(detail[:1].upper() + detail[1:] + ".")
                header, message = self._read_message(stream)
                if header.state is not State.COMPLETE:
                    raise errors.ProtocolError("the server did not complete the request")
                return message.payload
            except socket.timeout:
                raise errors.ServerUnreachable(f"The server at {where} did not answer in {self.timeout:g} s; try again.") from None
            except (ConnectionError, OSError) as exc:
                raise errors.ServerUnreachable(f"The connection to {where} broke ({exc}); try again.") from None

    def _secure(self, sock: socket.socket, where: str) -> TlsClientStream:
        """TLS 1.3 on `sock`, the server's key checked against the one trusted for `where`."""
        stream = TlsClientStream(sock, client_tls_context())
        try:
            certificate = stream.handshake()
        except PlainAnswer as answer:
            raise self._plain_refusal(sock, answer.data, where) from None
        except ssl.SSLError as exc:
            raise errors.ServerUnreachable(f"Could not set up encryption with {where} ({exc.reason or exc}); try again.") from None
        try:
            presented = fingerprint(public_key_of_certificate(certificate))
        except ValueError as exc:
            raise errors.ProtocolError(str(exc)) from None
        self.known_servers.check(where, presented, accept_changed=self.trust_changed_identity)
        self.server_fingerprint = presented
        return stream

    def _plain_refusal(self, sock: socket.socket, first: bytes, where: str) -> errors.OCMError:
        """The error a plain answer to our TLS hello stands for. Unauthenticated, so it is only
        ever a refusal: BUSY (sent before the server reads), or a server without encryption."""
        try:
            data = first + _read_exactly(sock, max(0, p.TCRP_HEADER_SIZE - len(first)))
            header = p.decode_tcrp_header(data[: p.TCRP_HEADER_SIZE])
            body = data[p.TCRP_HEADER_SIZE :]
            body += _read_exactly(sock, min(header.body_size, 4096) - len(body)) if len(body) < min(header.body_size, 4096) else b""
            status, detail = p.decode_status(body[header.room_name_size : header.body_size])
        except errors.ProtocolError as exc:
            return exc  # another program answered
        except (ConnectionError, OSError):
            status, detail = Status.BAD_REQUEST, ""
        if status is Status.BUSY:
            return errors.ServerBusy(detail[:1].upper() + detail[1:] + ".")
        return errors.ServerUnreachable(
            f"The server at {where} does not speak encryption (it may be an older version); update it and try again."
        )

    def _read_message(self, sock) -> tuple[p.TcrpHeader, p.TcrpMessage]:
        header = p.decode_tcrp_header(_read_exactly(sock, p.TCRP_HEADER_SIZE))
        if header.payload_size > p.MAX_RESPONSE_PAYLOAD:
            raise errors.ProtocolError(f"the server announced an answer of {header.payload_size} bytes")
        body = _read_exactly(sock, header.body_size)
        return header, p.decode_tcrp_body(header, body, allow_empty_room=True)

    def list_rooms(self) -> list[RoomInfo]:
        answer = p.decode_json_object(self._request(Operation.LIST, "", b""))
        rooms = answer.get("rooms")
        if not isinstance(rooms, list):
            raise errors.ProtocolError("the room list is missing from the answer")
        try:
            return [RoomInfo(str(r["name"]), int(r["members"]), bool(r["locked"]), str(r["host"])) for r in rooms]
        except (KeyError, TypeError, ValueError):
            raise errors.ProtocolError("the room list has a malformed entry") from None

    def create_room(self, room: str, username: str, password: str | None = None) -> None:
        self._enter(Operation.CREATE, room, username, password)

    def join_room(self, room: str, username: str, password: str | None = None) -> None:
        self._enter(Operation.JOIN, room, username, password)

    def _enter(self, operation: Operation, room: str, username: str, password: str | None) -> None:
        if self._udp is not None:
            raise errors.ClientError("This client is already in a room; use a new ChatClient for another.")
        try:
            p.check_name(room, "room name")
            p.check_name(username, "your name")
        except errors.ProtocolError as exc:
            raise errors.BadRequest(exc.reason[:1].upper() + exc.reason[1:] + ".") from None
        grant = self._request(operation, room, p.encode_request(p.RoomRequest(username, password or None)))
        if self.plain:
            token = grant
        else:
            token, key = p.decode_grant(grant)
            self._channel = SealedChannel.for_client(key)
            self._proof = base64.b64encode(key_proof(key)).decode("ascii")
        if not token or len(token) > p.MAX_TOKEN_BYTES:
            raise errors.ProtocolError("the server sent an unusable token")
        self._token, self.room, self.username = token, room, username
        self._room_bytes = room.encode("utf-8")
        snapshot = self._sync()
        target = self._udp_override or (self.server_host, int(snapshot["udp_port"]))
        try:
            self._udp_address = socket.getaddrinfo(*target, socket.AF_INET, socket.SOCK_DGRAM)[0][4]
        except OSError as exc:
            raise errors.ServerUnreachable(f"Cannot find the server's chat address {target[0]}: {exc}.") from None
        # Not connect()ed: a server listening on every interface may answer from another
        # of its addresses; we take datagrams from the server's chat port instead.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("0.0.0.0", 0))
        udp.settimeout(0.2)
        self._udp = udp
        self._joined_at = int(snapshot["seq"])
        self._apply_snapshot(snapshot, replay_from=0)
        self._last_heard = time.monotonic()
        for name, target in (("ocm-client-recv", self._receive_loop), ("ocm-client-timer", self._timer_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        # The first heartbeat registers our UDP address; until the server answers it, nothing
        # the room says can reach us. Wait for that answer (briefly) so that a joined client is
        # a reachable one; a lost answer is asked for again.
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self._send_body(p.encode_heartbeat(self._delivered))
            if self._heard_once.wait(0.2):
                break
        else:
            log.warning("the server has not answered on UDP yet; going on, the timer keeps trying")

    def _sync(self) -> dict:
        request = p.RoomRequest("", token=self._token.decode("ascii"), proof=self._proof)
        answer = self._request(Operation.SYNC, self.room, p.encode_request(request))
        snapshot = p.decode_json_object(answer)
        for key, kind in (("seq", int), ("udp_port", int), ("host", str), ("members", list), ("history", list)):
            if not isinstance(snapshot.get(key), kind):
                raise errors.ProtocolError(f"the room snapshot lacks '{key}'")
        return snapshot

    def _apply_snapshot(self, snapshot: dict, replay_from: int) -> None:
        """Take members and the event position from a snapshot; show its history after `replay_from`."""
        history = [p.event_from_json(item) for item in snapshot["history"]]
        with self._lock:
            self.host_name = snapshot["host"]
            self.members = tuple(str(m) for m in snapshot["members"])
            self.plain_members = frozenset(str(m) for m in snapshot.get("plain", ()))
            for event in history:
                if event.seq > replay_from:
                    self._hand_on(event, history=replay_from == 0, update_members=False)
            self._delivered = max(self._delivered, int(snapshot["seq"]))
            self._buffered = {s: e for s, e in self._buffered.items() if s > self._delivered}
            self._own_seqs = {s for s in self._own_seqs if s > self._delivered}
            self.events.put(ev.MembersChanged(self.members, self.host_name, self.plain_members))
            self._drain()

    # --- the session --------------------------------------------------------------------

    @property
    def is_host(self) -> bool:
        return self.username is not None and self.username == self.host_name

    @property
    def max_message_bytes(self) -> int:
        return p.max_chat_text_bytes(len(self._room_bytes), len(self._token), len((self.username or "").encode("utf-8")))

    @staticmethod
    def message_size(text: str) -> int:
        return len(text.encode("utf-8"))

    def send(self, text: str) -> int:
        """Send `text` to the room; returns its message id. MessageSent or MessageFailed follows."""
        if self._udp is None or self.closed:
            raise errors.NotConnected("You are not in a room; join one first.")
        if not text.strip():
            raise errors.BadRequest("The message is empty.")
        size, limit = self.message_size(text), self.max_message_bytes
        if size > limit:
            raise errors.MessageTooLong(size, limit)
        with self._lock:
            msg_id = next(self._msg_ids)
            now = time.monotonic()
            self._pending[msg_id] = _Pending(text, now, now + 0.3, 0.3)
            datagram = self._chat_datagram(msg_id, text)
        self._send_raw(datagram)
        return msg_id

    def _chat_datagram(self, msg_id: int, text: str) -> bytes:
        floor = min(self._pending, default=msg_id)  # everything below is delivered or given up
        return self._datagram(p.encode_chat(msg_id, text, floor))

    def _datagram(self, body: bytes) -> bytes:
        """`body` with the assignment's header; sealed unless this client speaks plain."""
        if self._channel is None:
            return p.encode_datagram(self._room_bytes, self._token, body)
        return self._channel.seal(p.datagram_header(self._room_bytes, self._token), body)

    def retry(self, msg_id: int) -> int:
        """Send a failed message again; returns its new message id."""
        with self._lock:
            text = self._failed.pop(msg_id, None)
        if text is None:
            raise errors.ClientError("That message is not waiting for a retry.")
        return self.send(text)

    def leave(self) -> None:
        """Tell the server we leave (the host's leaving closes the room) and stop the threads."""
        if self._udp is None or self.closed:
            self._shutdown()
            return
        self._leaving = True
        for _ in range(3):  # the server answers a leave; a lost one is sent again
            self._send_body(p.encode_leave())
            if self._left.wait(0.3):
                break
        self._shutdown()

    def _shutdown(self) -> None:
        self.closed = True
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(1.0)
        if self._udp is not None:
            self._udp.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc) -> None:
        self.leave()

    # --- sending ------------------------------------------------------------------------

    def _send_body(self, body: bytes) -> None:
        self._send_raw(self._datagram(body))

    def _send_raw(self, datagram: bytes) -> None:
        try:
            self._udp.sendto(datagram, self._udp_address)
        except OSError as exc:  # e.g. ICMP "port unreachable" from a stopped server
            log.debug("UDP send failed: %s", exc)

    # --- receiving ----------------------------------------------------------------------

    def _receive_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self._udp.recvfrom(p.MAX_DATAGRAM + 1)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.05)  # errors while the server is down; the timer thread reports it
                continue
            if source[1] != self._udp_address[1]:
                continue  # not from the server's chat port
            try:
                body, sealed = self._open(data)
                frame = p.decode_body(body)
            except errors.ProtocolError as exc:
                log.warning("ignored a malformed datagram from the server: %s", exc.reason)
                continue
            except OpenFailed as exc:
                self.dropped += 1
                if self.dropped & (self.dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th ...: a flood cannot flood the log
                    log.warning("dropped %d datagrams that did not open as the server's: %s", self.dropped, exc.reason)
                continue
            if self._channel is not None and not sealed:
                self._unsealed(frame)
                continue
            try:
                self._handle(frame)
            except Exception:
                log.exception("error handling %s", type(frame).__name__)

    def _open(self, data: bytes) -> tuple[bytes, bool]:
        """(body, whether it was sealed) of a datagram from the server, opened if this client
        is sealed; a plain body is passed on as it is and judged by `_unsealed`."""
        datagram = p.decode_datagram(data)
        if self._channel is None or not p.is_sealed(datagram.body):
            return datagram.body, False
        return self._channel.open(data[: len(data) - len(datagram.body)], datagram.body), True

    def _unsealed(self, frame) -> None:
        """A plain datagram to a sealed client: anyone could have sent it. Only the server's
        "unknown token" is plain (it has no key for a token it forgot), so that one is a hint,
        checked over TLS before anything ends; everything else is dropped."""
        if not isinstance(frame, p.ErrorFrame) or frame.code is not ErrorCode.UNKNOWN_TOKEN:
            self.dropped += 1
            return
        if self._leaving:
            self._left.set()  # we are going anyway: at worst a forged one makes us go sooner
            return
        now = time.monotonic()
        if now - self._last_resync_check >= RESYNC_CHECK_EVERY:
            self._last_resync_check = now
            self._resync_wanted = True

    def _handle(self, frame) -> None:
        self._heard_once.set()
        with self._lock:
            self._last_heard = time.monotonic()
            if self._lost:
                self._lost = False
                self.events.put(ev.ConnectionRestored())
                for pending in self._pending.values():
                    pending.retry_at = 0.0  # send what waited at once
            if isinstance(frame, p.Event):
                if frame.seq > self._delivered:
                    self._buffered[frame.seq] = frame
                    self._drain()
                else:
                    self._acked_sent = -1  # a re-send of what we have: our last ack was lost, repeat it
            elif isinstance(frame, p.ChatAck):
                pending = self._pending.pop(frame.msg_id, None)
                if pending is not None:
                    # The server relays our messages in id order, so this ack also says that every
                    # older one still waiting went out: its own ack was lost. Its room position
                    # arrives with the stream (seq 0 until then).
                    for older in sorted(i for i in self._pending if i < frame.msg_id):
                        del self._pending[older]
                        self.events.put(ev.MessageSent(older, 0))
                    self.events.put(ev.MessageSent(frame.msg_id, frame.seq))
                if frame.seq > self._delivered:
                    self._own_seqs.add(frame.seq)
                    self._drain()
            elif isinstance(frame, p.StatusFrame):
                if frame.latest_seq > self._delivered and not self._buffered:
                    self._ask_resend(force=True, up_to=frame.latest_seq)
            elif isinstance(frame, p.ErrorFrame):
                self._handle_error(frame)

    def _handle_error(self, frame: p.ErrorFrame) -> None:
        if frame.code is ErrorCode.UNKNOWN_TOKEN:
            self._left.set()
            if not self._leaving and not self.closed:
                self._end(frame.text or "the server no longer knows this session (it may have restarted without its database); join again")
        elif frame.code is ErrorCode.RESYNC:
            self._resync_wanted = True
        else:
            self.events.put(ev.ErrorEvent(frame.text[:1].upper() + frame.text[1:] + "."))

    def _drain(self) -> None:
        """Hand on every event that is now contiguous; ask for the gaps if any are left."""
        while True:
            next_seq = self._delivered + 1
            if next_seq in self._own_seqs:
                self._own_seqs.discard(next_seq)
                self._buffered.pop(next_seq, None)
            elif next_seq in self._buffered:
                self._hand_on(self._buffered.pop(next_seq))
            else:
                break
            self._delivered = next_seq
            if self._stop.is_set():
                return
        if self._buffered:
            self._ask_resend()

    def _ask_resend(self, force: bool = False, up_to: int = 0) -> None:
        """Ask for every gap below the highest event held (or up to `up_to`), in one request."""
        now = time.monotonic()
        if not force and now - self._last_resend_request <= 0.1:
            return
        self._last_resend_request = now
        ranges, wanted, seq = [], 0, self._delivered + 1
        end = max(max(self._buffered, default=0), up_to)
        while seq <= end and len(ranges) < p.MAX_RESEND_RANGES and wanted < p.MAX_RESEND_EVENTS:
            if seq in self._buffered or seq in self._own_seqs:
                seq += 1
                continue
            first = seq
            while seq <= end and seq not in self._buffered and seq not in self._own_seqs and wanted < p.MAX_RESEND_EVENTS:
                seq += 1
                wanted += 1
            ranges.append((first, seq - 1))
        if ranges:
            self._send_body(p.encode_resend(*ranges))

    def _hand_on(self, event: p.Event, history: bool = False, update_members: bool = True) -> None:
        when = event.time_ms / 1000.0
        if event.event_type is EventType.CHAT:
            # Names are unique within a room, so a live message under our name is ours: we showed it
            # when we sent it. History may hold an earlier member's lines under the same name.
            if history or event.name != self.username or event.seq <= self._joined_at:
                self.events.put(ev.ChatMessage(event.seq, event.name, event.text, when, history))
            return
        if event.event_type is EventType.CLOSED:
            if not history:
                self._end(event.text or "the host closed the room")
            return
        kind = {EventType.JOINED: "joined", EventType.LEFT: "left", EventType.TIMED_OUT: "timed_out"}[event.event_type]
        words = {"joined": "joined the room", "left": "left the room", "timed_out": "was away too long and was removed"}
        self.events.put(ev.Notice(event.seq, kind, event.name, f"{event.name} {words[kind]}", when, history))
        if update_members:
            members = set(self.members)
            if kind == "joined":
                members.add(event.name)
                if event.text == p.JOINED_PLAIN:
                    self.plain_members |= {event.name}
            else:
                members.discard(event.name)
                self.plain_members -= {event.name}
            self.members = tuple(sorted(members, key=str.casefold))
            self.events.put(ev.MembersChanged(self.members, self.host_name, self.plain_members))

    def _end(self, reason: str) -> None:
        """The room is gone for us: report it once and stop, without a leave."""
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        for msg_id, pending in self._pending.items():
            self.events.put(ev.MessageFailed(msg_id, pending.text, "the room closed before it was delivered"))
        self._pending.clear()
        self.events.put(ev.RoomClosed(reason[:1].upper() + reason[1:] + "."))

    # --- time-driven work -----------------------------------------------------------------

    def _timer_loop(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self._on_timer(time.monotonic())
            except Exception:
                log.exception("error in the client's timer")

    def _on_timer(self, now: float) -> None:
        if self._resync_wanted:
            self._resync_wanted = False
            try:
                snapshot = self._sync()
                self._apply_snapshot(snapshot, replay_from=self._delivered)
            except errors.NotConnected as exc:
                self._end(str(exc).rstrip(".") or "the server no longer knows this session; join again")
            except errors.ClientError as exc:
                log.warning("could not fetch the room again: %s", exc)
        with self._lock:
            resend = []
            for msg_id, pending in list(self._pending.items()):
                if now - pending.first_sent > self.send_timeout:
                    del self._pending[msg_id]
                    self._failed[msg_id] = pending.text
                    self.events.put(ev.MessageFailed(msg_id, pending.text, f"the server did not confirm it within {self.send_timeout:g} s"))
                elif now >= pending.retry_at and not self._lost:
                    resend.append(self._chat_datagram(msg_id, pending.text))
                    pending.interval = min(pending.interval * 2, 2.0)
                    pending.retry_at = now + pending.interval
            silent_for = now - self._last_heard
            if silent_for > self.give_up_after:
                self._end(f"no answer from the server for {silent_for:.0f} s; the connection is lost")
                return
            if not self._lost and silent_for > self.lost_after:
                self._lost = True
                self.events.put(ev.ConnectionLost())
            # While lost, probe with a backoff of silence: 1, 2, 4 ... up to the heartbeat interval.
            interval = min(self.heartbeat_interval, max(1.0, silent_for / 4)) if self._lost else self.heartbeat_interval
            if self._buffered and now - self._last_resend_request >= 0.2:
                self._ask_resend()  # a gap is still open and nothing new came to prompt a request
            ack_due = self._delivered != self._acked_sent and now - self._last_ack_at >= 0.05
            beat = ack_due or now - self._last_heartbeat >= interval
            if beat:
                self._acked_sent, self._last_ack_at, self._last_heartbeat = self._delivered, now, now
                delivered = self._delivered
        for datagram in resend:
            self._send_raw(datagram)
        if beat:
            self._send_body(p.encode_heartbeat(delivered))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 65536))
        if not chunk:
            raise ConnectionError("the server closed the connection early")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
