"""A server that lies to the client: real TLS with a real identity, then answers the
client's request with bytes we choose. The client must refuse what it is told without
believing it: no allocation of an announced gigabyte, no wait for bytes that never come."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.tls import server_tls_context
from ocm_core.net.client import ChatClient
from ocm_core.wire import Operation, State, Status

pytestmark = pytest.mark.mutation_run  # one stub or server per test, up in milliseconds


class LyingServer:
    """Accepts TLS connections on 127.0.0.1, reads one request from each and sends `answer`;
    the connection is then held open (a liar that waits) until the server is closed."""

    def __init__(self, answer: bytes):
        self.answer = answer
        self.context = server_tls_context(ServerIdentity.generate())
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[bytes] = []
        self.held: list[ssl.SSLSocket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            try:
                tls = self.context.wrap_socket(sock, server_side=True)
                header = tls.recv(p.TCRP_HEADER_SIZE)
                body_size = p.decode_tcrp_header(header).body_size if len(header) == p.TCRP_HEADER_SIZE else 0
                body = b""
                while len(body) < body_size:
                    body += tls.recv(body_size - len(body))
                self.requests.append(header + body)
                tls.sendall(self.answer)
                self.held.append(tls)
            except (OSError, ssl.SSLError, p.ProtocolError):
                sock.close()

    def close(self) -> None:
        self.listener.close()
        for tls in self.held:
            tls.close()


@pytest.fixture
def liar():
    made: list[LyingServer] = []

    def make(answer: bytes) -> LyingServer:
        made.append(LyingServer(answer))
        return made[-1]

    yield make
    for server in made:
        server.close()


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


def test_an_answer_cut_short_is_a_broken_connection_not_a_hang(liar):
    server = liar(announced(100)[:-1])  # the header itself never completes
    client = ChatClient("127.0.0.1", server.port, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(errors.ServerUnreachable, match="did not answer in 1 s"):
        client.list_rooms()
    assert time.monotonic() - started < 4.0
