"""Our two TLS ends (ocm_core/crypto/tls.py) joined in memory: the client's stream reads from a
stand-in socket that the server's memory-fed side fills, so the test chooses how the bytes are
cut and sees every byte each end sends. No socket, no thread."""

from __future__ import annotations

import ssl
import warnings

from ocm_core.crypto.identity import ServerIdentity, public_key_of_certificate
from ocm_core.crypto.tls import TlsClientStream, TlsServerSide, client_tls_context, server_tls_context


class ServerInMemory:
    """A socket for TlsClientStream whose peer is a TlsServerSide: what the client sends is fed
    to it at once, and its answers are read back `cut` bytes at a time."""

    def __init__(self, identity: ServerIdentity, cut: int = 1 << 16):
        self.side = TlsServerSide(server_tls_context(identity))
        self.cut = cut
        self.replies: list[bytes] = []  # what the server side sent back for each piece it took
        self.plain = bytearray()  # the application bytes the server read
        self._unread = bytearray()

    def setsockopt(self, *args) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        plain, reply = self.side.receive(data)
        self.plain += plain
        self.replies.append(reply)
        self._unread += reply

    def answer(self, data: bytes) -> None:
        self._unread += self.side.send(data)

    def recv(self, size: int) -> bytes:
        data = bytes(self._unread[: min(size, self.cut)])
        del self._unread[: len(data)]
        return data


def test_the_server_sends_nothing_after_the_handshake_until_it_answers():
    """No resumption ticket: one request per connection, so a ticket is bytes for nothing."""
    identity = ServerIdentity.generate()
    server = ServerInMemory(identity)
    client = TlsClientStream(server, client_tls_context())
    assert public_key_of_certificate(client.handshake()) == identity.public_bytes
    hello_answer, after_finished = server.replies
    assert hello_answer and after_finished == b""
    client.sendall(b"request")
    assert bytes(server.plain) == b"request" and server.replies[-1] == b""


def test_a_handshake_whose_answer_comes_a_byte_at_a_time_still_completes():
    """Only the first byte of the answer tells TLS from a plain refusal; a later piece may
    begin anywhere inside a record."""
    identity = ServerIdentity.generate()
    server = ServerInMemory(identity, cut=1)
    client = TlsClientStream(server, client_tls_context())
    assert public_key_of_certificate(client.handshake()) == identity.public_bytes
    client.sendall(b"ping")
    server.answer(b"pong")
    assert bytes(server.plain) == b"ping" and client.recv(10) == b"pong"  # a record opens whole


def test_a_client_that_closes_its_side_after_the_request_is_still_read():
    """Other TLS clients may send close_notify right behind their request; the request counts."""
    side = TlsServerSide(server_tls_context(ServerIdentity.generate()))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_tls_context().wrap_bio(incoming, outgoing)
    while True:
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            incoming.write(side.receive(outgoing.read())[1])
    client.write(b"the whole request")
    try:
        client.unwrap()
    except ssl.SSLWantReadError:  # it sent its close_notify; the server's answer is not awaited
        pass
    plain, _reply = side.receive(outgoing.read())
    assert plain == b"the whole request"


def test_making_the_contexts_uses_no_deprecated_call():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client_tls_context()
        server_tls_context(ServerIdentity.generate())
