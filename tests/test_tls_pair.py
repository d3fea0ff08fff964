"""Both ends of our TLS (ocm_core/crypto/tls.py) over a loopback socket pair, no server: the client's
blocking stream against the server's memory-fed side, as the server's selector loop feeds it.
What each end reads is what the other wrote, in any cut; a refusal in plain TCRP and a peer
that hangs up mid-handshake are told apart. Fast enough for the mutation run."""

from __future__ import annotations

import socket
import threading

import pytest

from ocm_core import wire as p
from ocm_core.crypto.identity import ServerIdentity, public_key_of_certificate
from ocm_core.crypto.tls import PlainAnswer, TlsClientStream, TlsServerSide, client_tls_context, server_tls_context
from ocm_core.wire import Operation, State, Status


@pytest.fixture
def ends():
    """A connected TCP pair on the loopback (the client sets TCP_NODELAY, which a Unix pair lacks)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client_sock = socket.create_connection(listener.getsockname())
        server_sock, _ = listener.accept()
    client_sock.settimeout(5)
    server_sock.settimeout(5)
    yield client_sock, server_sock
    client_sock.close()
    server_sock.close()


class ServerEnd:
    """Reads the server's socket in a thread and feeds TlsServerSide as the server does,
    collecting the application bytes and what each receive() returned."""

    def __init__(self, sock: socket.socket, identity: ServerIdentity, expect: int):
        self.sock, self.side = sock, TlsServerSide(server_tls_context(identity))
        self.expect = expect
        self.plain = bytearray()
        self.handshaken_after_first = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            first = True
            while len(self.plain) < self.expect:
                data = self.sock.recv(1 << 20)
                if not data:
                    return
                plain, reply = self.side.receive(data)
                if first:
                    self.handshaken_after_first, first = self.side.handshaken, False
                self.plain += plain
                if reply:
                    self.sock.sendall(reply)
        except BaseException as exc:
            self.error = exc

    def join(self) -> None:
        self.thread.join(5)
        assert not self.thread.is_alive(), "the server end is stuck"
        if self.error is not None:
            raise self.error


def test_a_handshake_shows_the_servers_key_and_bytes_cross_both_ways_whole(ends):
    client_sock, server_sock = ends
    identity = ServerIdentity.generate()
    request = bytes(range(256)) * 160  # 40 KiB: three TLS records, which may arrive in one read
    server = ServerEnd(server_sock, identity, expect=len(request))
    client = TlsClientStream(client_sock, client_tls_context())

    certificate = client.handshake()
    assert public_key_of_certificate(certificate) == identity.public_bytes
    client.sendall(request)
    server.join()
    assert bytes(server.plain) == request
    assert server.handshaken_after_first is False and server.side.handshaken  # the hello alone finishes nothing

    answer = p.encode_tcrp(Operation.LIST, State.RESPONSE, "", p.encode_status(Status.OK)) + b"x" * 70_000
    server_sock.sendall(server.side.send(answer))
    received = bytearray()
    while len(received) < len(answer):
        chunk = client.recv(len(answer) - len(received))
        assert chunk, "the stream ended early"
        received += chunk
    assert bytes(received) == answer
    server_sock.sendall(server.side.close())  # close_notify: the client reads the end, not an error
    assert client.recv(10) == b""


def test_a_peer_that_hangs_up_reads_as_the_end(ends):
    client_sock, server_sock = ends
    server = ServerEnd(server_sock, ServerIdentity.generate(), expect=1)
    client = TlsClientStream(client_sock, client_tls_context())
    client.handshake()
    client.sendall(b"!")
    server.join()
    server_sock.close()  # no close_notify: the connection just ends
    assert client.recv(10) == b""


def test_a_plain_refusal_in_place_of_a_hello_comes_back_as_it_was_sent(ends):
    client_sock, server_sock = ends
    busy = p.encode_tcrp(Operation.CREATE, State.RESPONSE, "", p.encode_status(Status.BUSY, "busy"))
    server_sock.sendall(busy)
    with pytest.raises(PlainAnswer) as refused:
        TlsClientStream(client_sock, client_tls_context()).handshake()
    assert refused.value.data == busy


def test_a_server_that_hangs_up_mid_handshake_is_a_broken_connection(ends):
    client_sock, server_sock = ends

    def take_the_hello_and_leave():
        server_sock.recv(1 << 16)
        server_sock.close()

    leaver = threading.Thread(target=take_the_hello_and_leave)
    leaver.start()
    with pytest.raises(ConnectionError, match="^the server closed the connection during the TLS handshake$"):
        TlsClientStream(client_sock, client_tls_context()).handshake()
    leaver.join(5)


def test_a_client_that_speaks_something_else_is_refused_by_the_server_side():
    side = TlsServerSide(server_tls_context(ServerIdentity.generate()))
    with pytest.raises(Exception) as refused:
        side.receive(p.encode_tcrp(Operation.LIST, State.REQUEST, "lobby"))
    assert isinstance(refused.value, OSError)  # ssl.SSLError: the server drops the connection
