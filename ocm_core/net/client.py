"""ChatClient: create, join and list rooms over TCP, then chat over UDP.

The client is the I/O shell around a `ClientSession` (ocm_core.sansio.session), which makes
every decision: ordering, acknowledgements, re-sends, lost connections. After a
successful create or join, two daemon threads drive it: the receive thread hands the
session each datagram, the timer thread calls its tick(); both send the datagrams it
returns and put the typed events (ocm_core.sansio.events) it returns on `events`, a
queue.Queue that a GUI or terminal loop drains. The session is not thread-safe: every
call into it holds `_lock`, and events are queued under that lock so they keep order.
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.crypto.direct import public_text
from ocm_core.crypto.identity import (
    KnownServers,
)
from ocm_core.crypto.sealed import SealedChannel, key_proof
from ocm_core.i18n import _, as_sentence
from ocm_core.net import client_files
from ocm_core.net.client_files import Packed, Progress
from ocm_core.net.direct import DirectKeys
from ocm_core.net.request import ServerLink
from ocm_core.sansio import events as ev
from ocm_core.sansio.mentions import EVERYONE_FREELY_UP_TO, may_name_everyone, names_everyone
from ocm_core.sansio.session import (
    HOST_NOT_ANSWERING_AFTER,
    ClientSession,
    Output,
    SessionState,
)
from ocm_core.storage.roomstore import StoreWriteError
from ocm_core.wire import Operation, RoomInfo, names
from ocm_core.words import everyone_refused_text, name_refusal_text

log = logging.getLogger(__name__)

T = TypeVar("T")

# A CREATE or JOIN whose answer did not come (a lossy network) is asked again, with the same
# request id, for this long in all before the person is told: TCP over 40 % loss takes
# several of its own retransmissions for one request.
ENTER_PATIENCE = 30.0
# A long message arrives as up to 76 datagrams at once: room for them while the receive thread
# works (the kernel may cap it, and a piece lost to a full buffer is asked for again).
UDP_RECEIVE_BUFFER = 1 << 20

__all__ = ["ChatClient", "RoomInfo", "parse_address"]


def parse_address(text: str, default_port: int = 9090) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' as a person types it; ValueError with a sentence if not."""
    text = text.strip()
    if not text:
        raise ValueError(_("Enter the server's address, such as 192.168.1.20 or 192.168.1.20:9090."))
    host, port_text = text, ""
    if text.startswith("["):
        host, _sep, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host or any(ch.isspace() for ch in host):
        raise ValueError(_("'{text}' is not a server address; type it like 192.168.1.20:9090.").format(text=text))
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(_("'{port}' is not a port number; use a number from 1 to 65535.").format(port=port_text))
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
        not_answering_after: float = HOST_NOT_ANSWERING_AFTER,
        udp_address: tuple[str, int] | None = None,
        known_servers: KnownServers | None = None,
        trust_changed_identity: bool = False,
        plain: bool = False,
        expected_fingerprint: str | None = None,
        direct: DirectKeys | None = None,
    ):
        """`send_timeout`: a message not acknowledged by then is reported failed.
        `lost_after`: seconds of silence from the server before "connection lost".
        `give_up_after`: seconds of silence after which the session ends for good.
        `not_answering_after`: seconds of a lost connection before HostNotAnswering.
        `udp_address`: send chat there instead of where the server says (a relay, a test proxy).
        `known_servers`: the identities trusted so far (default: the user's file); a changed one
        raises identity.IdentityChanged unless `trust_changed_identity` (the person confirmed).
        `plain`: speak the unencrypted protocol (a server with --allow-plain; for comparisons).
        `expected_fingerprint`: the identity an invite link promised (wire.parse_link): the server
        must show it, and an address remembered with another one refuses it (identity.
        LinkIdentityRefused); never overwrites what is remembered (see ServerLink).
        `direct`: this install's key for direct messages (net.direct); without it the client
        neither sends nor receives them."""
        self.server_host = server_host
        self.tcp_port = tcp_port
        self.timeout = timeout
        self.link = ServerLink(
            server_host,
            tcp_port,
            timeout=timeout,
            known_servers=known_servers if known_servers is not None else KnownServers(),
            trust_changed_identity=trust_changed_identity,
            plain=plain,
            expected_fingerprint=expected_fingerprint,
        )
        self._timing: dict[str, Any] = dict(
            heartbeat_interval=heartbeat_interval,
            send_timeout=send_timeout,
            lost_after=lost_after,
            give_up_after=give_up_after,
            not_answering_after=not_answering_after,
        )
        self._udp_override = udp_address
        self.plain = plain
        self._key: bytes | None = None  # the member's UDP key, from the grant
        self._proof: str | None = None
        self.direct = direct if not plain else None
        self._direct_proof: str | None = None  # that we hold direct's key, for our SYNCs
        self._unsettled: list[ev.MembersChanged | p.Mail] = []  # for _settle(), outside _lock
        self._settling = threading.Lock()
        self._away = False  # what we last told the room; said again after the server forgot it
        self.events: queue.Queue = queue.Queue()
        self.room: str | None = None
        self.username: str | None = None
        self.locked = False  # the room was entered with a password (created with one, or joined)
        self.password: str | None = None
        self._session: ClientSession | None = None
        self._shut = False
        self._token: bytes = b""
        self._udp: socket.socket | None = None
        self._lock = threading.RLock()
        self._answered = threading.Event()  # the server has answered on UDP (the session is past JOINING)
        self._stop = threading.Event()  # set when the session is over: the threads end
        self._threads: list[threading.Thread] = []
        self._snapshot_wanted = False  # a datagram asked for a snapshot (SYNC over TLS)
        # The id the server gave the room when it was created ("" from a server before ids):
        # a room closed and made again under the same name is another conversation.
        self.room_id = ""
        self.standing = False  # held by the server itself (ocm-server --room): no person hosts it

    # --- the server's identity (kept by the link that makes every TCP request) -----------

    @property
    def server_fingerprint(self) -> str | None:
        """The server's identity, once a request has shown it."""
        return self.link.fingerprint

    @property
    def own_server_identity(self) -> str | None:
        """The one identity to accept whatever was remembered: set by the app when it talks
        to the server it started itself, whose key it knows first-hand."""
        return self.link.own_server_identity

    @own_server_identity.setter
    def own_server_identity(self, value: str | None) -> None:
        self.link.own_server_identity = value

    @property
    def trust_changed_identity(self) -> bool:
        return self.link.trust_changed_identity

    @trust_changed_identity.setter
    def trust_changed_identity(self, value: bool) -> None:
        self.link.trust_changed_identity = value

    @property
    def known_servers(self) -> KnownServers:
        return self.link.known_servers

    # --- TCP requests -------------------------------------------------------------------

    def list_rooms(self) -> list[RoomInfo]:
        return p.decode_room_list(self.link.request(Operation.LIST, "", b""))

    def create_room(self, room: str, username: str, password: str | None = None) -> None:
        self._enter(Operation.CREATE, room, username, password)

    def join_room(self, room: str, username: str, password: str | None = None) -> None:
        self._enter(Operation.JOIN, room, username, password)

    def _enter(self, operation: Operation, room: str, username: str, password: str | None) -> None:
        if self._session is not None:
            raise errors.ClientError(_("This client is already in a room; use a new ChatClient for another."))
        try:
            p.check_name(room, "room name")
            p.check_name(username, "your name")
        except errors.ProtocolError as exc:
            raise errors.BadRequest(as_sentence(exc.reason)) from None
        for name, is_room in ((room, operation is Operation.CREATE), (username, False)):
            problem = names.refusal(name)
            if problem is not None:  # the server would refuse it too: said here in the person's language
                raise errors.BadRequest(name_refusal_text(problem, room=is_room))
        # One id for every attempt: if an answer was lost after the server admitted us, the
        # retry gets the same token instead of "name taken".
        payload = p.encode_request(
            p.RoomRequest(username, password or None, request_id=uuid.uuid4().hex, direct_key=self._direct_key_text())
        )
        deadline = time.monotonic() + max(ENTER_PATIENCE, 2 * self.timeout)
        grant = self._patiently(lambda: self.link.request(operation, room, payload, username), deadline)
        if self.plain:
            token = grant
        else:
            token, self._key = p.decode_grant(grant)
            self._proof = base64.b64encode(key_proof(self._key)).decode("ascii")
            self._prove_direct_key(grant, token)
        if not token or len(token) > p.MAX_TOKEN_BYTES:
            raise errors.RemoteProtocolError("the server sent an unusable token")
        self._token, self.room, self.username = token, room, username
        self.locked = bool(password)
        self.password = password or None  # kept for a Rejoin after the server forgot this session
        snapshot = self._patiently(self._sync, deadline)
        self.room_id, self.standing = snapshot.room_id, snapshot.standing
        chat_target = self._udp_override or (self.server_host, snapshot.udp_port)
        try:
            self._udp_address = socket.getaddrinfo(*chat_target, socket.AF_INET, socket.SOCK_DGRAM)[0][4]
        except OSError as exc:
            raise errors.ServerUnreachable(
                _("Cannot find the server's chat address {host}: {error}.").format(host=chat_target[0], error=exc)
            ) from None
        # Not connect()ed: a server listening on every interface may answer from another
        # of its addresses; we take datagrams from the server's chat port instead.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("0.0.0.0", 0))
        udp.settimeout(0.2)
        try:
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        except OSError:
            log.debug("could not enlarge the UDP receive buffer")
        self._udp = udp
        channel = SealedChannel.for_client(self._key) if self._key is not None else None
        session = ClientSession(room, username, token, channel=channel, **self._timing)
        with self._lock:
            self._session = session
            now = time.monotonic()
            datagrams = self._carry_out(session.apply_snapshot(snapshot, now)) + self._carry_out(session.tick(now))
        self._send_all(datagrams)
        self._settle()
        for name, target in (("ocm-client-recv", self._receive_loop), ("ocm-client-timer", self._timer_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        # The first heartbeat (sent above, then by the timer every 0.2 s until answered) registers
        # our UDP address; until the server answers it, nothing the room says can reach us.
        # Wait for that answer (briefly) so that a joined client is a reachable one.
        if not self._answered.wait(self.timeout):
            log.warning("the server has not answered on UDP yet; going on, the timer keeps trying")

    def _patiently(self, request: Callable[[], T], deadline: float) -> T:
        """`request()`, asked again while it times out or its connection breaks, until `deadline`."""
        while True:
            try:
                return request()
            except errors.ServerUnreachable as exc:
                if not exc.transient or time.monotonic() + self.timeout > deadline:
                    raise
                log.info("asking %s again: %s", self.link.where, exc)

    def file_credentials(self) -> tuple[str, str, str]:
        """The room, token and key proof that file requests carry (refused for a plain client)."""
        self._live_session()
        if self._proof is None:
            raise errors.BadRequest(_("Files are shared only over encryption, and this client joined without it."))
        assert self.room is not None  # a live session has its room
        return self.room, self._token.decode("ascii"), self._proof

    def send_file(self, path: str | os.PathLike, progress: Progress | None = None) -> str:
        """Share the file at `path` with the room; return its file id once the server has it
        whole and checked. FileShared follows on the queue, as for every member.
        `progress(done, total)` is called as bytes go; returning False cancels (TransferCancelled)."""
        return client_files.upload(self.link, self.file_credentials(), Path(path), progress)

    def send_folder(
        self, path: str | os.PathLike, progress: Progress | None = None, *, packed: Packed | None = None
    ) -> str:
        """Share the folder at `path` as one item (its tree, empty folders too; links and
        special files left out); return its file id. `packed` is told what the folder holds
        (a `FolderSummary`) before its bytes go. A folder over 10,000 files or the size cap
        is refused (BadRequest, with a sentence) before anything is sent."""
        return client_files.upload_folder(self.link, self.file_credentials(), Path(path), progress, packed)

    def download_folder(
        self, file_id: str, destination_dir: str | os.PathLike, progress: Progress | None = None
    ) -> Path:
        """Fetch a shared folder and save it as a new folder in `destination_dir` ("name (1)"
        if taken); return its path. An archive with an unsafe name, a link, too many files or
        bytes is refused whole (TransferFailed, with a sentence) and nothing is left."""
        return client_files.download_folder(
            self.link, self.file_credentials(), file_id, Path(destination_dir), progress
        )

    def download(self, file_id: str, destination: str | os.PathLike, progress: Progress | None = None) -> Path:
        """Fetch a shared file into `destination`: a folder (the file keeps its name, made
        unique there: "name (1).ext") or a file path (replaced once the file is whole).
        Returns where it was saved; a transfer that fails or is cancelled leaves nothing."""
        return client_files.download(self.link, self.file_credentials(), file_id, Path(destination), progress)

    def list_files(self) -> list[p.FileInfo]:
        """The files shared in the room while it exists."""
        room, token, proof = self.file_credentials()
        return p.decode_file_list(
            self.link.request(Operation.FILES, room, p.encode_file_request(p.FileRequest(token, proof)))
        )

    def _direct_key_text(self) -> str | None:
        return public_text(self.direct.public) if self.direct is not None else None

    def _prove_direct_key(self, grant: bytes, token: bytes) -> None:
        challenge = p.decode_grant_challenge(grant) if self.direct is not None else None
        server = self.server_fingerprint  # as TLS showed it: a proof for this server alone
        if self.direct is not None and challenge is not None and server is not None:
            proof = self.direct.personal.prove(challenge, token, server)
            self._direct_proof = base64.b64encode(proof).decode("ascii")

    def _sync(self) -> p.RoomSnapshot:
        assert self.room is not None  # set by joining
        request = p.RoomRequest(
            "",
            token=self._token.decode("ascii"),
            proof=self._proof,
            direct_proof=self._direct_proof,
            features=p.FEATURES,
        )
        return p.decode_snapshot(self.link.request(Operation.SYNC, self.room, p.encode_request(request)))

    # --- the session --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the room is over for this client: left, closed by its host, or given up."""
        return self._shut or (self._session is not None and self._session.state is SessionState.CLOSED)

    @property
    def state(self) -> SessionState | None:
        """The session's state, or None before a room is entered."""
        return self._session.state if self._session is not None else None

    @property
    def members(self) -> tuple[str, ...]:
        return self._session.members if self._session is not None else ()

    @property
    def plain_members(self) -> frozenset[str]:
        """Members whose traffic is not encrypted (on a server started with --allow-plain)."""
        return self._session.plain if self._session is not None else frozenset()

    @property
    def host_name(self) -> str | None:
        return self._session.host if self._session is not None else None

    @property
    def is_host(self) -> bool:
        return self.username is not None and self.username == self.host_name

    @property
    def max_message_bytes(self) -> int:
        """The longest message (UTF-8 bytes) we may send: 256 KiB when the room's server takes
        long messages in pieces, else what fits one datagram."""
        if self._session is not None:
            return self._session.max_message_bytes
        return p.max_chat_text_bytes(0, 0, 0)  # before a room: the most any room allows

    @staticmethod
    def message_size(text: str) -> int:
        return len(text.encode("utf-8"))

    def send(self, text: str) -> int:
        """Send `text` to the room; returns its message id. MessageSent or MessageFailed follows."""
        self._live_session()
        if not text.strip():
            raise errors.BadRequest(_("The message is empty."))
        size, limit = self.message_size(text), self.max_message_bytes
        if size > limit:
            raise errors.MessageTooLong(size, limit, text)
        members = self.members
        if names_everyone(text, members) and not may_name_everyone(self.username or "", self.host_name, len(members)):
            raise errors.BadRequest(everyone_refused_text(EVERYONE_FREELY_UP_TO))
        return self._send_chat(
            lambda session, now: session.send_chat(text, now),
            errors.NotConnected(_("You are not in a room; join one first.")),
        )

    # --- replies, reactions, edits and the host's tools (wire/actions.py) ----------------

    @property
    def speaks_actions(self) -> bool:
        """Whether this room's server takes replies, reactions, edits and the host's tools."""
        return self._session is not None and self._session.speaks_actions

    @property
    def topic(self) -> str:
        return self._session.topic if self._session is not None else ""

    def reply(self, seq: int, text: str) -> int:
        """Answer the message at room position `seq` with `text`; like send(), MessageSent or
        MessageFailed follows (a reply is a message of ours)."""
        if not text.strip():
            raise errors.BadRequest(_("The message is empty."))
        size = len(p.encode_reply_text(p.ReplyText(seq, text)).encode("utf-8"))
        if size > self.max_message_bytes:
            raise errors.MessageTooLong(size, self.max_message_bytes, text)
        members = self.members
        if names_everyone(text, members) and not may_name_everyone(self.username or "", self.host_name, len(members)):
            raise errors.BadRequest(everyone_refused_text(EVERYONE_FREELY_UP_TO))
        return self._act(p.ActionKind.REPLY, seq, text)

    def react(self, seq: int, emoji: str, on: bool = True) -> int:
        """Add `emoji` to the message at `seq` (`on`), or take ours back. Its Reacted event comes
        with the room's; ActionRefused if the server says no."""
        if not emoji or len(emoji.encode("utf-8")) > p.MAX_EMOJI_BYTES or any(ch.isspace() for ch in emoji):
            raise errors.BadRequest(_("A reaction is one emoji."))
        return self._act(p.ActionKind.REACT if on else p.ActionKind.UNREACT, seq, emoji)

    def edit(self, seq: int, text: str) -> int:
        """Change our message at `seq` to read `text` (MessageEdited comes back, or ActionRefused)."""
        if not text.strip():
            raise errors.BadRequest(_("The message is empty."))
        size = len(p.encode_edit_text(p.EditText(seq, text)).encode("utf-8"))
        if size > self.max_message_bytes:
            raise errors.MessageTooLong(size, self.max_message_bytes, text)
        return self._act(p.ActionKind.EDIT, seq, text)

    def delete(self, seq: int) -> int:
        """Take back our message at `seq` (the host: anyone's); MessageDeleted comes back."""
        return self._act(p.ActionKind.DELETE, seq, "")

    def set_topic(self, topic: str) -> int:
        """The host's: the room's topic, shown under its name ("" clears it)."""
        topic = " ".join(topic.split())
        if len(topic.encode("utf-8")) > p.MAX_TOPIC_BYTES:
            raise errors.BadRequest(_("A topic is at most {count} bytes.").format(count=p.MAX_TOPIC_BYTES))
        return self._act(p.ActionKind.TOPIC, 0, topic)

    def remove_member(self, name: str) -> int:
        """The host's: take `name` out of the room, for as long as the room lasts."""
        return self._act(p.ActionKind.REMOVE, 0, name)

    def set_password(self, password: str) -> int:
        """The host's: a new password for the room ("" opens it); it crosses our sealed channel."""
        return self._act(p.ActionKind.PASSWORD, 0, password)

    def _act(self, kind: p.ActionKind, target: int, text: str) -> int:
        session = self._live_session()
        if not session.speaks_actions:
            raise errors.BadRequest(_("This room's server is an older version: it does not take replies or reactions."))
        return self._send_chat(
            lambda session, now: session.send_action(kind, target, text, now),
            errors.NotConnected(_("You are not in a room; join one first.")),
        )

    def retry(self, msg_id: int) -> int:
        """Send a failed message again; returns its new message id."""
        return self._send_chat(
            lambda session, now: session.retry(msg_id, now),
            errors.ClientError(_("That message is not waiting for a retry.")),
        )

    def _send_chat(self, make, refusal: errors.ClientError) -> int:
        """Have the session queue a message (`make(session, now)`), send the datagrams it gives
        (none while it waits behind a long one; a long one's first pieces), return its id;
        `refusal` is raised if the session refuses."""
        session = self._live_session()
        with self._lock:
            try:
                msg_id, datagrams = make(session, time.monotonic())
            except errors.LocalProtocolError:
                raise refusal from None
        self._send_all(datagrams)
        return msg_id

    def keep_waiting(self) -> None:
        """After HostNotAnswering: wait on; the next one comes after as long again."""
        session = self._session
        if session is not None:
            with self._lock:
                session.keep_waiting(time.monotonic())

    def _live_session(self) -> ClientSession:
        if self._session is None or self.closed:
            raise errors.NotConnected(_("You are not in a room; join one first."))
        return self._session

    def leave(self) -> None:
        """Tell the server we leave (the host's leaving closes the room) and stop the threads."""
        session = self._session
        if session is not None and not self.closed:
            for _attempt in range(3):  # the server answers a leave; a lost one is sent again
                with self._lock:
                    try:
                        out = session.leave(time.monotonic())
                    except errors.LocalProtocolError:
                        break  # the room closed meanwhile
                self._send_all(out.datagrams)
                if self._stop.wait(0.3):
                    break
            with self._lock:
                session.close()
        self._shutdown()

    def _shutdown(self) -> None:
        self._shut = True
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

    @property
    def _joined_session(self) -> ClientSession:
        """The session, for code that only runs once the client has joined."""
        assert self._session is not None
        return self._session

    def _carry_out(self, out: Output) -> list[bytes]:
        """Queue the session's events (the caller holds `_lock`, which keeps their order)
        and note what its state now means for the threads; return the datagrams to send.
        Direct messages and members' keys are set aside for `_settle()`, which the caller runs
        after it lets go of the lock: they write to the disk, which must not hold up the others."""
        for event in out.events:
            if isinstance(event, ev.MembersChanged):
                self._unsettled.append(event)
            self.events.put(event)
        self._unsettled.extend(out.mail)
        state = self._joined_session.state
        if state is not SessionState.JOINING:
            self._answered.set()
        if state is SessionState.CLOSED:
            self._stop.set()
        return out.datagrams

    def _settle(self) -> None:
        """Remember members' keys and open direct messages set aside by `_carry_out` (outside
        `_lock`), then acknowledge what was taken."""
        with self._settling:
            while self._unsettled:
                item = self._unsettled.pop(0)
                try:
                    if isinstance(item, ev.MembersChanged):
                        self._learn_keys(item)
                    else:
                        self._send_all(self._take_mail(item))
                except Exception:  # a bug (or a broken file) costs this item, never the receiving
                    log.exception("error taking a direct message or a member's key")

    def _learn_keys(self, event: ev.MembersChanged) -> None:
        server = self.server_fingerprint
        if self.direct is None or server is None:
            return
        for name, key in event.keys:
            try:
                changed = self.direct.learn(server, name, key)
            except StoreWriteError as exc:
                log.warning("could not remember %r's key: %s", name, exc)
                continue
            if changed is not None:
                self.events.put(changed)

    def _take_mail(self, mail: p.Mail) -> list[bytes]:
        server = self.server_fingerprint
        if self.direct is None or server is None:
            return []
        try:
            taken, kept = self.direct.open(server, mail)
        except StoreWriteError as exc:  # not recorded as seen: the server hands it again later
            log.warning("could not keep a direct message yet: %s", exc)
            return []
        for event in taken:
            self.events.put(event)
        with self._lock:
            return [self._joined_session.mail_got(mail.mail_id, kept)]

    # --- direct messages, presence, typing -------------------------------------------------

    def key_of(self, name: str) -> bytes | None:
        """The direct-message key of `name`: the one it proved in this room now, else the one
        we remember from before on this server (it may be away)."""
        if self._session is not None and name in self._session.keys:
            return self._session.keys[name]
        server = self.server_fingerprint
        if self.direct is None or server is None:
            return None
        return self.direct.book.known_key(server, name)

    def max_direct_bytes(self, name: str) -> int:
        return self._live_session().max_direct_bytes(name)

    def send_direct(self, name: str, text: str) -> int:
        """Send `text` to `name` alone, sealed so that only they can read it; returns its id.
        DirectUpdate events follow (waiting, sent, delivered, or failed with a reason)."""
        session = self._live_session()
        if self.direct is None or self._direct_proof is None:
            raise errors.BadRequest(_("Direct messages need encryption, and this client has no key for them."))
        if not text.strip():
            raise errors.BadRequest(_("The message is empty."))
        if name == self.username:
            raise errors.BadRequest(_("That is you; pick someone else to write to."))
        key = self.key_of(name)
        if key is None and name not in session.members:
            raise errors.BadRequest(
                _("Nobody called {name} is in this room, or has written from it; check the name.").format(name=name)
            )
        if key is None:
            raise errors.BadRequest(
                _("{name} has not been seen with a key on this server; they need a current app.").format(name=name)
            )
        size, limit = self.message_size(text), session.max_direct_bytes(name)
        if size > limit:
            raise errors.MessageTooLong(size, limit, text)
        frame = self.direct.seal(name, key, text)
        with self._lock:
            try:
                datagram = session.send_direct(frame, time.monotonic())
            except errors.LocalProtocolError:
                raise errors.NotConnected(_("You are not in a room; join one first.")) from None
        self._send_raw(datagram)
        return frame.msg_id

    def set_away(self, away: bool) -> None:
        """Tell the room we are away (or back)."""
        self._away = away
        self._signal(lambda session: session.presence(away))

    def typing(self, to: str = "") -> None:
        """Tell the room (or `to`, in our direct conversation) that we are typing."""
        self._signal(lambda session: session.typing(to))

    def _signal(self, make: Callable[[ClientSession], bytes]) -> None:
        session = self._session
        if session is None or self.closed or self.plain:
            return  # a signal for nobody: presence and typing are never owed
        with self._lock:
            datagram = make(session)
        self._send_raw(datagram)

    # --- sending ------------------------------------------------------------------------

    def _send_all(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self._send_raw(datagram)

    def _send_raw(self, datagram: bytes) -> None:
        assert self._udp is not None  # set by joining
        try:
            self._udp.sendto(datagram, self._udp_address)
        except OSError as exc:  # e.g. ICMP "port unreachable" from a stopped server
            log.debug("UDP send failed: %s", exc)

    # --- the two threads ----------------------------------------------------------------

    def _receive_loop(self) -> None:
        assert self._udp is not None  # set by joining
        while not self._stop.is_set():
            try:
                data, source = self._udp.recvfrom(p.MAX_DATAGRAM + 1)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(0.05)  # errors while the server is down; the timer thread reports it
                continue
            if source[1] != self._udp_address[1]:
                continue  # not from the server's chat port
            try:
                with self._lock:
                    out = self._joined_session.receive(data, time.monotonic())
                    datagrams = self._carry_out(out)
                if out.fetch_snapshot:
                    self._snapshot_wanted = True  # fetched by the timer thread: this one keeps receiving
            except errors.ProtocolError as exc:
                log.warning("ignored a malformed datagram from the server: %s", exc.reason)
                continue
            except Exception:
                log.exception("error handling a datagram from the server")
                continue
            self._send_all(datagrams)
            self._settle()

    def _timer_loop(self) -> None:
        while not self._stop.wait(0.05):
            try:
                with self._lock:
                    out = self._joined_session.tick(time.monotonic())
                    datagrams = self._carry_out(out)
                self._send_all(datagrams)
                if out.fetch_snapshot or self._snapshot_wanted:
                    self._snapshot_wanted = False
                    self._resync()
                if out.resume:
                    self._resume()
            except Exception:
                log.exception("error in the client's timer")

    def _resume(self) -> None:
        """The server forgot us (we were away past its timeout): ask to come back into the
        room as ourselves, with our token as the proof, and fetch what we missed."""
        session = self._joined_session
        payload = p.encode_request(
            p.RoomRequest(
                session.username, resume_token=self._token.decode("ascii"), direct_key=self._direct_key_text()
            )
        )
        try:
            grant = self.link.request(Operation.JOIN, session.room, payload, session.username)
            token = grant if self.plain else p.decode_grant(grant)[0]
            if not self.plain:
                self._prove_direct_key(grant, token)
            if token != self._token:
                raise errors.RemoteProtocolError("the server took us back under another token")
            snapshot = self._sync()
        except errors.ServerUnreachable as exc:
            log.warning("could not come back into the room yet: %s", exc)
            with self._lock:
                session.resume_later(time.monotonic())
            return
        except (errors.ClientError, errors.ProtocolError) as exc:
            with self._lock:
                datagrams = self._carry_out(
                    session.resume_failed(str(exc), room_gone=isinstance(exc, errors.RoomNotFound))
                )
            self._send_all(datagrams)
            return
        with self._lock:
            try:
                datagrams = self._carry_out(session.resumed(snapshot, time.monotonic()))
            except errors.LocalProtocolError:
                return  # we left meanwhile
        self._send_all(datagrams)
        self._settle()
        if self._away:  # a server that took us back knows nothing of it
            self.set_away(True)

    def _resync(self) -> None:
        """The server no longer holds events we missed: fetch the room over TCP again."""
        try:
            snapshot = self._sync()
        except errors.NotConnected as exc:  # asked over TLS: the server really forgot us
            with self._lock:
                self._carry_out(self._joined_session.forgotten(str(exc)))
            return
        except (errors.ClientError, errors.ProtocolError) as exc:
            log.warning("could not fetch the room again: %s", exc)
            return
        with self._lock:
            try:
                datagrams = self._carry_out(self._joined_session.apply_snapshot(snapshot, time.monotonic()))
            except errors.LocalProtocolError:
                return  # we left, or the room closed, while the snapshot was on its way
        self._send_all(datagrams)
        self._settle()
        if self._away and self.username not in snapshot.away:
            self.set_away(True)  # the server lost it (a restart): said again
