"""A server that lies: real TLS with a real identity, then whatever the test scripts.

`LyingServer(answer)` reads one TCRP request from each connection and then either sends
`answer` (bytes) and holds the connection open, or calls `answer(tls, request)` to play a
part (send some of a file and hang up, stall, refuse midway). For the client's side of
transfers and requests: what it must refuse without believing it."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable

import pytest

from ocm_core import wire as p
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.tls import server_tls_context

Script = Callable[[ssl.SSLSocket, bytes], None]


class LyingServer:
    """Accepts TLS connections on 127.0.0.1, reads one request from each and sends `answer`;
    the connection is then held open (a liar that waits) until the server is closed."""

    def __init__(self, answer: bytes | Script):
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
                self.held.append(tls)
                if callable(self.answer):
                    self.answer(tls, header + body)
                else:
                    tls.sendall(self.answer)
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


@pytest.fixture
def liar():
    made: list[LyingServer] = []

    def make(answer: bytes | Script) -> LyingServer:
        made.append(LyingServer(answer))
        return made[-1]

    yield make
    for server in made:
        server.close()
