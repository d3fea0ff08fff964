"""What the client makes of each answer to a TCP request (`ocm_core/net/request.py`): the
error and the sentence a person reads for every status, in English and in Japanese; a
server that is busy or asks to wait later, with the pauses recorded instead of slept; an
address that names nobody, refuses, or breaks off; identities checked, changed or faked.

A stub TLS server with an identity the test knows answers each connection with bytes the
test chooses; the back-off runs on a fake clock, with the jitter pinned to its ends."""

from __future__ import annotations

import datetime
import errno
import os
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from liar import LyingServer
from support import FakeClock, Jitter, ecdsa_certificate, wait_until

from ocm_core import errors, i18n
from ocm_core import wire as p
from ocm_core.crypto.identity import IdentityChanged, KnownServers, ServerIdentity
from ocm_core.crypto.tls import server_tls_context
from ocm_core.net import request
from ocm_core.net.request import ServerLink, retry_while_busy
from ocm_core.wire import Operation, State, Status
from ocm_core.words import refusal_text

pytestmark = pytest.mark.mutation_run  # stub servers on 127.0.0.1, up in milliseconds


class HangUp(bytes):
    """An answer after which the stub closes the connection (the others are held open)."""


class StubServer(LyingServer):
    """A liar (tests/liar.py) with an identity the test knows, that answers the n-th connection's
    request with answers[n] (the last answer again for any later connection)."""

    def __init__(self, *answers: bytes, context: ssl.SSLContext | None = None):
        super().__init__(self._answer)
        self.identity = ServerIdentity.generate()
        # before any client can connect: the liar reads its context only once one has
        self.context = context or server_tls_context(self.identity)
        self.answers = answers
        self.where = f"127.0.0.1:{self.port}"

    def _answer(self, tls: ssl.SSLSocket, _request: bytes) -> None:
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        tls.sendall(answer)
        if isinstance(answer, HangUp):
            tls.close()


@pytest.fixture
def stub():
    made: list[StubServer] = []

    def make(*answers: bytes, context: ssl.SSLContext | None = None) -> StubServer:
        made.append(StubServer(*answers, context=context))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def known(tmp_path) -> Path:
    return tmp_path / "known.json"


def link_to(port: int, known: Path, **kwargs) -> ServerLink:
    return ServerLink("127.0.0.1", port, timeout=5.0, known_servers=KnownServers(known), **kwargs)


def status_answer(status: Status, detail: str = "", retry_after: int = 1) -> bytes:
    return p.encode_tcrp(Operation.JOIN, State.RESPONSE, "lobby", p.encode_status(status, detail, retry_after))


def completion(payload: bytes) -> bytes:
    return p.encode_tcrp(Operation.JOIN, State.COMPLETE, "lobby", payload)


OK = status_answer(Status.OK)

# The error a caller catches for each refusal (the GUI and ocm-chat tell them apart), written
# out rather than read from request.STATUS_ERRORS so that a wrong entry there fails.
REFUSALS = {
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


def test_every_status_but_ok_and_try_later_has_its_refusal():
    assert set(REFUSALS) == set(Status) - {Status.OK, Status.TRY_LATER}


@pytest.mark.parametrize("status", list(REFUSALS), ids=lambda status: status.name)
def test_each_refusal_is_its_error_with_the_servers_reason_as_a_sentence(stub, known, status):
    server = stub(status_answer(status, f"refused with {status.name.lower()}"))
    with pytest.raises(REFUSALS[status]) as refused:
        link_to(server.port, known).request_once(Operation.JOIN, "lobby", b"", name="ana")
    assert type(refused.value) is REFUSALS[status]
    assert str(refused.value) == f"Refused with {status.name.lower()}."


def test_a_name_refusal_reads_as_the_clients_own_sentence(stub, known):
    server = stub(status_answer(Status.BAD_REQUEST, "your name has spaces at its ends or two in a row; remove them"))
    with pytest.raises(errors.BadRequest, match=r"^Your name has spaces at its ends or two in a row; remove them\.$"):
        link_to(server.port, known).request(Operation.JOIN, "lobby", b"", name=" ana")


@pytest.mark.parametrize("status", list(REFUSALS), ids=lambda status: status.name)
def test_each_refusal_reads_in_japanese_when_chosen(stub, known, status):
    server = stub(status_answer(status, f"refused with {status.name.lower()}"))
    i18n.use_language("ja")  # the autouse `english` fixture puts English back
    with pytest.raises(REFUSALS[status]) as refused:
        link_to(server.port, known).request_once(Operation.JOIN, "lobby", b"", name="ana")
    assert str(refused.value) == refusal_text(status, f"refused with {status.name.lower()}", "lobby", "ana")
    assert "refused with" not in str(refused.value)


def by_request(link: ServerLink) -> None:
    link.request(Operation.JOIN, "lobby", b"", name="ana")


def by_request_once(link: ServerLink) -> None:
    link.request_once(Operation.JOIN, "lobby", b"", name="ana")


def by_open(link: ServerLink) -> None:
    link.open(Operation.UPLOAD, "lobby", b"", name="ana")


@pytest.mark.parametrize("ask", [by_request, by_request_once, by_open])
@pytest.mark.parametrize(
    ("status", "named"),
    [
        (Status.ROOM_EXISTS, "lobby"),
        (Status.NO_SUCH_ROOM, "lobby"),
        (Status.ROOM_FULL, "lobby"),
        (Status.NAME_TAKEN, "ana"),
    ],
    ids=lambda value: value.name if isinstance(value, Status) else value,
)
def test_a_japanese_refusal_names_the_room_or_the_person_asked_for(stub, known, ask, status, named):
    server = stub(status_answer(status, "no"))
    i18n.use_language("ja")
    with pytest.raises(REFUSALS[status]) as refused:
        ask(link_to(server.port, known))
    assert named in str(refused.value)
    assert str(refused.value) == refusal_text(status, "no", "lobby", "ana")


def test_two_japanese_refusals_word_for_word(stub, known):
    # the tests above compare with refusal_text; these pin the catalogue's words themselves
    i18n.use_language("ja")
    taken, full = stub(status_answer(Status.NAME_TAKEN, "no")), stub(status_answer(Status.ROOM_FULL, "no"))
    with pytest.raises(errors.NameTaken) as refused:
        link_to(taken.port, known).request_once(Operation.JOIN, "lobby", b"", name="ana")
    assert str(refused.value) == "「ana」という名前はこのルームですでに使われています。別の名前にしてください。"
    with pytest.raises(errors.RoomFull) as refused:
        link_to(full.port, known).request_once(Operation.JOIN, "lobby", b"", name="ana")
    assert str(refused.value) == "ルーム「lobby」は満員です。しばらくしてからもう一度お試しください。"


# --- waiting: TRY_LATER and BUSY --------------------------------------------------------


def test_try_later_says_how_long_to_wait_in_english_and_japanese(stub, known):
    server = stub(status_answer(Status.TRY_LATER, "checking passwords", retry_after=7))
    link = link_to(server.port, known)
    with pytest.raises(errors.TryAgainLater, match=r"^Checking passwords; try again in 7 s\.$") as told:
        link.request_once(Operation.JOIN, "lobby", b"")
    assert told.value.seconds == 7
    i18n.use_language("ja")
    with pytest.raises(errors.TryAgainLater) as told:
        link.request_once(Operation.JOIN, "lobby", b"")
    assert str(told.value) == refusal_text(Status.TRY_LATER, "checking passwords", seconds=7)
    assert "7" in str(told.value)
    assert "checking passwords" not in str(told.value)


class Refusing:
    """An attempt that raises each of `refusals` in turn, then answers "done"; `tries` counts calls."""

    def __init__(self, *refusals: Exception):
        self.left = list(refusals)
        self.tries = 0

    def __call__(self) -> str:
        self.tries += 1
        if self.left:
            raise self.left.pop(0)
        return "done"


def busy(count: int) -> list[Exception]:
    return [errors.ServerBusy("busy") for _ in range(count)]


@pytest.mark.parametrize(
    ("end", "pauses"),
    [
        ("low", [0.125, 0.25, 0.5, 0.5, 0.5]),  # half of 0.25, 0.5, 1, then 1 (the longest) again
        ("high", [0.375, 0.75, 1.5, 1.5, 1.5]),  # one and a half of the same
    ],
)
def test_a_busy_server_is_asked_again_after_pauses_that_double_up_to_the_longest(monkeypatch, end, pauses):
    monkeypatch.setattr(request, "random", Jitter(end))
    clock = FakeClock()
    attempt = Refusing(*busy(5))
    answer = retry_while_busy(attempt, within=60.0, first_pause=0.25, longest_pause=1.0, sleep=clock.sleep, clock=clock)
    assert answer == "done"
    assert clock.pauses == pauses
    assert attempt.tries == 6


def test_a_busy_server_is_asked_until_the_next_pause_would_pass_the_deadline(monkeypatch):
    monkeypatch.setattr(request, "random", Jitter("middle"))
    clock = FakeClock()
    attempt = Refusing(*busy(10))
    with pytest.raises(errors.ServerBusy):
        retry_while_busy(attempt, within=0.75, first_pause=0.25, longest_pause=4.0, sleep=clock.sleep, clock=clock)
    # 0.25 and then 0.5 end exactly at the deadline (still allowed); the next, 1.0, would pass it
    assert clock.pauses == [0.25, 0.5]
    assert attempt.tries == 3


@pytest.mark.parametrize(("end", "pause"), [("low", 1.6), ("high", 2.4)])
def test_try_later_is_waited_out_for_the_seconds_it_names_give_or_take_a_fifth(monkeypatch, end, pause):
    monkeypatch.setattr(request, "random", Jitter(end))
    clock = FakeClock()
    attempt = Refusing(errors.TryAgainLater("wait", 2))
    assert retry_while_busy(attempt, within=60.0, first_pause=0.1, longest_pause=1.0, sleep=clock.sleep, clock=clock)
    assert clock.pauses == [pytest.approx(pause)]


def test_try_later_that_ends_exactly_at_the_deadline_is_waited_and_one_past_it_is_not(monkeypatch):
    monkeypatch.setattr(request, "random", Jitter("middle"))
    clock = FakeClock()
    attempt = Refusing(errors.TryAgainLater("wait", 2), errors.TryAgainLater("wait", 2))
    with pytest.raises(errors.TryAgainLater):
        retry_while_busy(attempt, within=2.0, first_pause=0.1, longest_pause=1.0, sleep=clock.sleep, clock=clock)
    assert clock.pauses == [2.0]  # the second wait would end 2 s after the deadline
    assert attempt.tries == 2


def test_try_later_is_passed_on_at_once_when_not_honoured(monkeypatch):
    monkeypatch.setattr(request, "random", Jitter("middle"))
    clock = FakeClock()
    attempt = Refusing(errors.TryAgainLater("wait", 2))
    with pytest.raises(errors.TryAgainLater):
        retry_while_busy(
            attempt,
            within=60.0,
            first_pause=0.1,
            longest_pause=1.0,
            honour_try_later=False,
            sleep=clock.sleep,
            clock=clock,
        )
    assert clock.pauses == []


def test_a_request_asks_a_busy_server_again_from_a_twentieth_up_to_a_second(stub, known, monkeypatch):
    monkeypatch.setattr(request, "random", Jitter("high"))
    server = stub(*[status_answer(Status.BUSY, "busy")] * 7, OK + completion(b"rooms"))
    clock = FakeClock()
    link = link_to(server.port, known, sleep=clock.sleep, clock=clock)
    link.timeout = 7.5  # the pauses below add up to 5.325 s; the next would pass it
    assert link.request(Operation.LIST, "", b"") == b"rooms"
    assert clock.pauses == pytest.approx([0.075, 0.15, 0.3, 0.6, 1.2, 1.5, 1.5])
    assert len(server.requests) == 8


def test_a_request_gives_up_on_a_busy_server_once_its_time_is_spent(stub, known, monkeypatch):
    monkeypatch.setattr(request, "random", Jitter("middle"))
    server = stub(status_answer(Status.BUSY, "busy"))  # busy for every connection
    clock = FakeClock()
    link = link_to(server.port, known, sleep=clock.sleep, clock=clock)
    link.timeout = 2.0
    with pytest.raises(errors.ServerBusy):
        link.request(Operation.LIST, "", b"")
    assert clock.pauses == [0.05, 0.1, 0.2, 0.4, 0.8]  # the next, 1.0, would pass the 2 s
    assert len(server.requests) == 6


def test_a_request_waits_out_try_later_and_asks_again(stub, known, monkeypatch):
    monkeypatch.setattr(request, "random", Jitter("low"))
    server = stub(status_answer(Status.TRY_LATER, "checking passwords", retry_after=3), OK + completion(b"joined"))
    clock = FakeClock()
    link = link_to(server.port, known, sleep=clock.sleep, clock=clock)
    link.timeout = 60.0  # a wait of 3 s fits in the time the request may take
    assert link.request(Operation.JOIN, "lobby", b"") == b"joined"
    assert clock.pauses == [pytest.approx(2.4)]


# --- answers that are not what they should be ---------------------------------------------


def test_a_first_answer_that_is_not_a_status_is_refused(stub, known):
    server = stub(completion(b"{}"))
    with pytest.raises(errors.RemoteProtocolError, match=r"^the server's first answer is not a status$"):
        link_to(server.port, known).request_once(Operation.LIST, "", b"")


def test_a_second_status_instead_of_the_completion_is_refused(stub, known):
    server = stub(OK + OK)
    with pytest.raises(errors.RemoteProtocolError, match=r"^the server did not complete the request$"):
        link_to(server.port, known).request_once(Operation.LIST, "", b"")


def test_a_completion_of_exactly_the_most_a_client_reads_is_read_whole(stub, known):
    payload = bytes(range(256)) * (p.MAX_RESPONSE_PAYLOAD // 256)
    assert len(payload) == p.MAX_RESPONSE_PAYLOAD
    server = stub(OK + completion(payload))
    assert link_to(server.port, known).request_once(Operation.LIST, "", b"") == payload


def test_a_server_that_hangs_up_midway_is_a_broken_connection_worth_another_try(stub, known):
    server = stub(HangUp(OK + completion(b"x" * 100)[:20]))
    with pytest.raises(errors.ServerUnreachable) as broke:
        link_to(server.port, known).request_once(Operation.LIST, "", b"")
    assert str(broke.value) == (
        f"The connection to {server.where} broke (the server closed the connection early); try again."
    )
    assert broke.value.transient


# --- addresses that lead nowhere ------------------------------------------------------------


def test_a_name_that_resolves_to_no_computer_says_so(known, monkeypatch):
    def no_such_name(address, timeout=None):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # what the resolver answers for a name nobody has, without asking a real one (none may answer)
    monkeypatch.setattr(request.socket, "create_connection", no_such_name)
    link = ServerLink("nowhere.invalid", 9090, timeout=2.0, known_servers=KnownServers(known))
    with pytest.raises(
        errors.ServerUnreachable, match=r"^Cannot find a computer named 'nowhere\.invalid'; check the address\.$"
    ):
        link.request_once(Operation.LIST, "", b"")


def test_a_port_nobody_listens_on_is_unreachable_with_the_systems_reason(known):
    with socket.socket() as bound:  # the port stays ours, so nothing else can start listening there
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(errors.ServerUnreachable) as refused:
            link_to(port, known).request(Operation.LIST, "", b"")
    assert str(refused.value) == (
        f"Could not reach a server at 127.0.0.1:{port} ({os.strerror(errno.ECONNREFUSED)}); "
        "check the address and that the room's host is running."
    )
    assert not refused.value.transient


def test_a_server_that_cannot_agree_on_tls_1_3_says_why_encryption_failed(stub, known):
    context = server_tls_context(ServerIdentity.generate())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    server = stub(OK, context=context)
    with pytest.raises(errors.ServerUnreachable) as failed:
        link_to(server.port, known).request_once(Operation.LIST, "", b"")
    assert (
        str(failed.value)
        == f"Could not set up encryption with {server.where} (TLSV1_ALERT_PROTOCOL_VERSION); try again."
    )


def ecdsa_context(tmp_path: Path) -> ssl.SSLContext:
    """A TLS server whose certificate holds a P-256 key, not the Ed25519 key of our servers."""
    certificate, key = ecdsa_certificate()
    pem = tmp_path / "ecdsa.pem"
    pem.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    return context


def test_a_certificate_without_an_ed25519_key_is_refused_and_not_remembered(stub, known, tmp_path):
    server = stub(OK + completion(b""), context=ecdsa_context(tmp_path))
    with pytest.raises(errors.RemoteProtocolError, match=r"^the server's certificate does not hold an Ed25519 key$"):
        link_to(server.port, known).request_once(Operation.LIST, "", b"")
    assert KnownServers(known).get(server.where) is None


# --- identities ---------------------------------------------------------------------------


def test_the_first_identity_seen_is_remembered_and_shown(stub, known):
    server = stub(OK + completion(b"rooms"))
    link = link_to(server.port, known)
    assert link.fingerprint is None  # no request has shown one yet
    assert link.request(Operation.LIST, "", b"") == b"rooms"
    assert link.fingerprint == server.identity.fingerprint
    assert KnownServers(known).get(server.where) == server.identity.fingerprint


def remembered_otherwise(server: StubServer, known: Path) -> str:
    """Trust another identity for the stub's address, as if it had shown that one before."""
    before = ServerIdentity.generate().fingerprint
    KnownServers(known).check(server.where, before)
    return before


def test_a_changed_identity_is_refused_by_default_and_nothing_is_sent(stub, known):
    server = stub(OK + completion(b"rooms"))
    before = remembered_otherwise(server, known)
    with pytest.raises(IdentityChanged) as changed:
        link_to(server.port, known).request(Operation.LIST, "", b"")
    assert (changed.value.address, changed.value.trusted, changed.value.presented) == (
        server.where,
        before,
        server.identity.fingerprint,
    )
    # the liar notes an empty request when the client hangs up without asking
    assert wait_until(lambda: server.requests, what="the client to hang up") == [b""]
    assert KnownServers(known).get(server.where) == before


def test_a_changed_identity_the_person_confirmed_is_trusted_from_then_on(stub, known):
    server = stub(OK + completion(b"rooms"))
    remembered_otherwise(server, known)
    link = link_to(server.port, known, trust_changed_identity=True)
    assert link.request(Operation.LIST, "", b"") == b"rooms"
    assert KnownServers(known).get(server.where) == server.identity.fingerprint


def test_the_apps_own_server_is_trusted_whatever_was_remembered(stub, known):
    server = stub(OK + completion(b"rooms"))
    remembered_otherwise(server, known)
    link = link_to(server.port, known)
    link.own_server_identity = server.identity.fingerprint
    assert link.request(Operation.LIST, "", b"") == b"rooms"
    assert KnownServers(known).get(server.where) == server.identity.fingerprint


def test_another_server_where_the_apps_own_should_be_is_refused(stub, known):
    server = stub(OK + completion(b"rooms"))
    link = link_to(server.port, known)
    own = ServerIdentity.generate().fingerprint
    link.own_server_identity = own
    with pytest.raises(IdentityChanged) as changed:
        link.request(Operation.LIST, "", b"")
    assert (changed.value.address, changed.value.trusted, changed.value.presented) == (
        server.where,
        own,
        server.identity.fingerprint,
    )
    assert wait_until(lambda: server.requests, what="the client to hang up") == [b""]


# --- a connection left open for a transfer ------------------------------------------------


@pytest.mark.parametrize(("idle_timeout", "waits"), [(None, 5.0), (30.0, 30.0)])
def test_the_connection_open_leaves_waits_the_transfers_idle_timeout(stub, known, idle_timeout, waits):
    server = stub(OK)
    sock, _stream = link_to(server.port, known).open(Operation.DOWNLOAD, "lobby", b"", idle_timeout=idle_timeout)
    with sock:
        assert sock.gettimeout() == waits


# --- plain answers to the TLS hello -------------------------------------------------------


class ScriptedPeer:
    """Stands in for a connected socket: what is sent is kept, and each recv returns the next
    scripted chunk (at most what was asked), then end of stream."""

    def __init__(self, *chunks: bytes):
        self.chunks = list(chunks)
        self.sent = b""

    def setsockopt(self, *option) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        chunk, self.chunks[0] = self.chunks[0][:size], self.chunks[0][size:]
        if not self.chunks[0]:
            self.chunks.pop(0)
        return chunk


BUSY_ANSWER = p.encode_tcrp(Operation.JOIN, State.RESPONSE, "", p.encode_status(Status.BUSY, "too many connections"))


@pytest.mark.parametrize(
    "chunks",
    [
        (BUSY_ANSWER,),
        (BUSY_ANSWER[: p.TCRP_HEADER_SIZE + 3], BUSY_ANSWER[p.TCRP_HEADER_SIZE + 3 :]),  # the detail comes later
        (BUSY_ANSWER[:10], BUSY_ANSWER[10:]),  # so does the rest of the header
    ],
    ids=["whole", "detail-later", "header-later"],
)
def test_a_plain_busy_refusal_to_the_hello_reads_as_a_busy_server(known, chunks):
    peer = ScriptedPeer(*chunks)
    with pytest.raises(errors.ServerBusy, match=r"^Too many connections\.$"):
        link_to(9090, known).secure(peer)  # type: ignore[arg-type]
    assert peer.sent  # the hello went out before the refusal came


def test_a_plain_busy_refusal_reads_in_japanese_when_chosen(known):
    i18n.use_language("ja")
    with pytest.raises(errors.ServerBusy) as refused:
        link_to(9090, known).secure(ScriptedPeer(BUSY_ANSWER))  # type: ignore[arg-type]
    assert str(refused.value) == refusal_text(Status.BUSY, "too many connections")
    assert "too many connections" not in str(refused.value).lower()


def test_a_plain_busy_refusal_followed_by_more_bytes_is_still_a_busy_server(known):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        theirs, _ = listener.accept()
    with ours, theirs:
        theirs.sendall(BUSY_ANSWER + b"\x00" * 64)  # whatever else the port sends is not read
        with pytest.raises(errors.ServerBusy, match=r"^Too many connections\.$"):
            link_to(9090, known).secure(ours)


def test_a_plain_busy_refusal_is_waited_for_no_further_than_4_kib(known):
    """Unauthenticated bytes: past what came with the header, the client waits for 4,096 bytes
    of the body (the status byte and 4,095 of the detail), however long the refusal says it is."""
    answer = p.encode_tcrp(Operation.JOIN, State.RESPONSE, "", p.encode_status(Status.BUSY, "a" * 5000))
    peer = ScriptedPeer(answer[: p.TCRP_HEADER_SIZE], answer[p.TCRP_HEADER_SIZE :])
    with pytest.raises(errors.ServerBusy) as refused:
        link_to(9090, known).secure(peer)  # type: ignore[arg-type]
    assert str(refused.value) == "A" + "a" * 4094 + "."
