"""A server that lies to the client: real TLS with a real identity, then answers the
client's request with bytes we choose. The client must refuse what it is told without
believing it: no allocation of an announced gigabyte, no wait for bytes that never come."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from liar import liar  # a fixture, used by name

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.net.client import ChatClient
from ocm_core.wire import Operation, State, Status

pytestmark = pytest.mark.mutation_run  # one stub or server per test, up in milliseconds


def announced(size: int, state: State = State.RESPONSE) -> bytes:
    """A TCRP header that announces `size` bytes of payload (none of which follow)."""
    return bytes((0, int(Operation.CREATE), int(state))) + size.to_bytes(29, "big")


def test_an_answer_announcing_more_than_a_client_reads_is_refused_at_once(liar):
    server = liar(announced(p.MAX_RESPONSE_PAYLOAD + 1))
    client = ChatClient("127.0.0.1", server.port, timeout=5.0)
    started = time.monotonic()
    with pytest.raises(errors.RemoteProtocolError, match=f"announced an answer of {p.MAX_RESPONSE_PAYLOAD + 1} bytes"):
        client.list_rooms()
    assert time.monotonic() - started < 5.0  # refused on reading the header, not after waiting for the bytes
    assert len(server.requests) == 1


def test_a_completion_announcing_a_gigabyte_is_refused_too(liar):
    ok = p.encode_tcrp(Operation.CREATE, State.RESPONSE, "", p.encode_status(Status.OK))
    server = liar(ok + announced(1 << 30, State.COMPLETE))
    client = ChatClient("127.0.0.1", server.port, timeout=5.0)
    with pytest.raises(errors.RemoteProtocolError, match=f"announced an answer of {1 << 30} bytes"):
        client.create_room("lobby", "ana")


@pytest.mark.waits
def test_an_answer_cut_short_is_a_broken_connection_not_a_hang(liar):
    server = liar(announced(100)[:-1])  # the header itself never completes
    client = ChatClient("127.0.0.1", server.port, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(errors.ServerUnreachable, match="did not answer in 1 s"):
        client.list_rooms()
    assert time.monotonic() - started < 4.0


class PlainServer:
    """Answers every connection at once with `answer`, in plain bytes, before any TLS: a busy
    server's refusal, an older server without encryption, or another program on the port."""

    def __init__(self, answer: bytes, close: bool = True):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answer, self.close_after = answer, close
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            sock.sendall(self.answer)
            if self.close_after:
                sock.close()
            else:
                self.held.append(sock)

    def stop(self) -> None:
        self.listener.close()
        for sock in self.held:
            sock.close()


@pytest.fixture
def plain():
    made: list[PlainServer] = []

    def make(answer: bytes, close: bool = True) -> PlainServer:
        made.append(PlainServer(answer, close))
        return made[-1]

    yield make
    for server in made:
        server.stop()


def status_answer(status: Status, detail: str = "", room: str = "") -> bytes:
    return p.encode_tcrp(Operation.CREATE, State.RESPONSE, room, p.encode_status(status, detail))


def test_a_plain_busy_answer_to_the_hello_is_a_busy_server(plain):
    server = plain(status_answer(Status.BUSY, "too many connections"))
    with pytest.raises(errors.ServerBusy):
        ChatClient("127.0.0.1", server.port, timeout=2.0).link.request_once(Operation.LIST, "", b"")


@pytest.mark.parametrize(
    "answer",
    [
        status_answer(Status.BAD_REQUEST, "a TCRP header is 32 bytes", room="lobby"),  # an older server, refusing
        status_answer(Status.OK),
        status_answer(Status.BAD_REQUEST)[:20],  # cut short, then closed
    ],
)
def test_a_plain_answer_that_is_not_busy_is_a_server_without_encryption(plain, answer):
    server = plain(answer)
    client = ChatClient("127.0.0.1", server.port, timeout=2.0)
    with pytest.raises(
        errors.ServerUnreachable,
        match=rf"^The server at 127\.0\.0\.1:{server.port} does not speak encryption \(it may be an older version\); "
        r"update it and try again\.$",
    ):
        client.list_rooms()


def test_another_program_on_the_port_is_a_protocol_error(plain):
    server = plain(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" + bytes(40))
    with pytest.raises(errors.ProtocolError):
        ChatClient("127.0.0.1", server.port, timeout=2.0).list_rooms()


def test_a_server_that_accepts_and_never_speaks_did_not_answer_in_its_time(plain):
    server = plain(b"", close=False)
    with pytest.raises(
        errors.ServerUnreachable,
        match=rf"^The server at 127\.0\.0\.1:{server.port} did not answer in 0\.3 s; try again\.$",
    ) as silent:
        ChatClient("127.0.0.1", server.port, timeout=0.3).link.request_once(Operation.LIST, "", b"")
    assert silent.value.transient
