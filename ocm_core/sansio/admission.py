"""What the server answers to one TCP request (create, join, come back, list, sync, files):
decided without I/O from the request, the caller's address and whether it came over TLS.
The server's TCP code only reads the request and writes the `Decision`'s answer."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ocm_core import wire as p
from ocm_core.errors import ProtocolError, RegistryError, RemoteProtocolError
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Outbound, Transport
from ocm_core.wire import Dialect, Operation, Status

log = logging.getLogger(__name__)

PLAIN_REFUSED = (
    "this server admits only encrypted clients; use a current Online Chat Messenger, "
    "or ask the host to start the server with --allow-plain"
)


@dataclass(frozen=True)
class Decision:
    """The answer to a request: its status and sentence, the completion's payload (a token, a
    grant, or JSON), the dialect to answer in, and datagrams to send (a join's notices)."""

    status: Status
    detail: str = ""
    completion: bytes | None = None
    dialect: Dialect = Dialect.OURS
    outbound: Outbound = field(default_factory=list)
    retry_after: int = 1  # seconds, for a TRY_LATER


class Admission:
    """Decides TCP requests against a registry. `udp_port` and `room_files` are asked at each
    request (the port is known once the server has bound it; files come from its store)."""

    def __init__(
        self,
        registry: RoomRegistry,
        *,
        allow_plain: bool,
        udp_port: Callable[[], int],
        room_files: Callable[[str], list[p.FileInfo]],
        stats: collections.Counter[str] | None = None,
    ):
        self.registry = registry
        self.allow_plain = allow_plain
        self._udp_port = udp_port
        self._room_files = room_files
        self.stats: collections.Counter[str] = stats if stats is not None else collections.Counter()

    def needs_hashing(self, message: p.TcrpMessage) -> bool:
        """A CREATE with a password, or a JOIN with one to a locked room: scrypt work."""
        if message.operation not in (Operation.CREATE, Operation.JOIN):
            return False
        try:
            password = p.decode_request(message.payload).password
        except ProtocolError:
            return False  # answered BAD_REQUEST when decided
        return bool(password) and (message.operation is Operation.CREATE or self.registry.is_locked(message.room))

    def decide(self, ip: str, message: p.TcrpMessage, secure: bool) -> Decision:
        op = message.operation
        dialect = Dialect.OURS
        if op is not Operation.LIST:
            try:
                dialect = p.decode_request(message.payload).dialect
            except ProtocolError:
                pass  # answered below as a bad request
        sealed = secure and dialect is Dialect.OURS
        if not sealed and not self.allow_plain:
            self.stats["plain refused"] += 1
            log.info("refused a plain %s request from %s (start with --allow-plain to admit it)", op.name, ip)
            return Decision(Status.ENCRYPTION_REQUIRED, PLAIN_REFUSED, dialect=dialect)
        try:
            status, completion, outbound = self._admitted(ip, message, sealed)
        except ProtocolError as exc:
            return Decision(Status.BAD_REQUEST, exc.reason, dialect=dialect)
        except RegistryError as exc:
            return Decision(exc.status, str(exc), dialect=dialect, retry_after=exc.retry_after)
        return Decision(status, "", completion, dialect, outbound)

    def _admitted(self, ip: str, message: p.TcrpMessage, sealed: bool) -> tuple[Status, bytes | None, Outbound]:
        op, room, registry = message.operation, message.room, self.registry
        if op is Operation.LIST:
            return Status.OK, p.encode_json({"rooms": registry.list_rooms(), "udp_port": self._udp_port()}), []
        if not room:
            raise RemoteProtocolError("room name is empty")
        if op is Operation.FILES:
            files_request = p.decode_file_request(op, message.payload)
            registry.file_member(
                files_request.token.encode("ascii", "replace"), ip, room, p.decode_proof(files_request.proof)
            )
            return Status.OK, p.encode_json({"files": [p.file_to_json(info) for info in self._room_files(room)]}), []
        request = p.decode_request(message.payload)
        if op in (Operation.CREATE, Operation.JOIN) and not request.username:
            raise RemoteProtocolError("username is empty")
        transport = (
            Transport.SEALED if sealed else Transport.KANARU if request.dialect is Dialect.KANARU else Transport.PLAIN
        )
        direct_key = p.decode_direct_key(request.direct_key) if request.direct_key and sealed else None
        if op is Operation.CREATE:
            token = registry.create_room(
                room,
                request.username,
                ip,
                request.password,
                wire=transport,
                request_id=request.request_id,
                direct_key=direct_key,
            )
            return Status.OK, self.grant(token, transport, direct_key is not None), []
        if op is Operation.JOIN and request.resume_token:
            token, outbound, transport = registry.resume(
                room, request.username, ip, request.resume_token.encode("ascii", "replace"), direct_key
            )
            return Status.OK, self.grant(token, transport, direct_key is not None), outbound
        if op is Operation.JOIN:
            token, outbound = registry.join_room(
                room,
                request.username,
                ip,
                request.password,
                wire=transport,
                request_id=request.request_id,
                direct_key=direct_key,
            )
            return Status.OK, self.grant(token, transport, direct_key is not None), outbound
        token = (request.token or "").encode("ascii", "replace")
        snapshot = registry.snapshot(
            token,
            ip,
            room,
            p.decode_proof(request.proof) if sealed else None,
            p.decode_proof(request.direct_proof) if sealed else None,
            request.features,
        )
        snapshot["udp_port"] = self._udp_port()
        return Status.OK, p.encode_json(snapshot), []

    def grant(self, token: bytes, transport: Transport, direct: bool = False) -> bytes:
        """The completion of a CREATE or JOIN, in the form its client reads; with the challenge
        its direct-message key is proved against when it gave one (`direct`)."""
        if transport is Transport.SEALED:
            keys = self.registry.member_keys
            assert keys is not None  # a server that admits sealed members has them
            challenge = keys.direct_challenge(token).public if direct else None
            return p.encode_grant(token, keys.key_for(token), challenge)
        return p.encode_kanaru_token(token) if transport is Transport.KANARU else token
