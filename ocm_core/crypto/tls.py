"""TLS 1.3 for the TCP requests, from the standard library's ssl, driven through memory buffers
(no socket here), so the server's selector thread and the client's blocking socket both feed
it bytes. The server's certificate is self-signed with its identity key; the client pins
that key by fingerprint (identity.KnownServers) instead of trusting a certificate chain."""

from __future__ import annotations

import os
import socket
import ssl
import tempfile

from cryptography.hazmat.primitives import serialization

from ocm_core import wire as p
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.errors import OCMError

READ_SIZE = 65536  # bytes asked of the socket or of TLS at once: several full records


def server_tls_context(identity: ServerIdentity) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.num_tickets = 0  # one request per connection: a resumption ticket would be bytes for nothing
    # ssl loads keys only from files: a private temporary one, gone as soon as it is read.
    fd, path = tempfile.mkstemp()
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(identity.certificate_pem())
            handle.write(
                identity.private_key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return context


def client_tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    # No certificate authority vouches for a LAN host: the key is pinned by its fingerprint
    # after the handshake, which TLS 1.3 has already bound to that key (CertificateVerify).
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class TlsServerSide:
    """The server's end of one TLS connection, fed bytes by whoever reads the socket."""

    def __init__(self, context: ssl.SSLContext):
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self.handshaken = False

    def receive(self, data: bytes) -> tuple[bytes, bytes]:
        """Take bytes from the peer; return (application bytes now readable, bytes to send back).
        ssl.SSLError if the peer does not speak TLS 1.3 properly."""
        self._incoming.write(data)
        if not self.handshaken:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                return b"", self._outgoing.read()
            self.handshaken = True
        plain = bytearray()
        while True:
            try:
                chunk = self._tls.read(READ_SIZE)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            plain += chunk
        return bytes(plain), self._outgoing.read()

    def send(self, data: bytes) -> bytes:
        """The bytes that carry `data` to the peer."""
        self._tls.write(data)
        return self._outgoing.read()

    def close(self) -> bytes:
        """The close_notify alert to send; the peer's answer is not waited for."""
        try:
            self._tls.unwrap()
        except ssl.SSLError:
            pass
        return self._outgoing.read()


class PlainAnswer(OCMError):
    """The server answered the TLS hello with plain TCRP (a refusal sent before reading)."""

    def __init__(self, data: bytes):
        super().__init__("plain answer")
        self.data = data


class TlsClientStream:
    """TLS 1.3 over a connected blocking socket, with `sendall` and `recv` like a socket's."""

    def __init__(self, sock, context: ssl.SSLContext):
        self.sock = sock
        # TLS writes its Finished and then the request separately: with Nagle's algorithm the
        # second waits for the peer's delayed ACK (40 ms on Linux) on every request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=False)

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self.sock.sendall(data)

    def handshake(self) -> bytes:
        """Run the handshake; return the server's certificate (DER). PlainAnswer if the
        server's first bytes are not a TLS record: a busy server refuses before it reads."""
        first = True
        while True:
            try:
                self._tls.do_handshake()
                self._flush()
                certificate = self._tls.getpeercert(binary_form=True)
                if certificate is None:
                    raise ssl.SSLError("the server sent no certificate")
                return certificate
            except ssl.SSLWantReadError:
                self._flush()
            data = self.sock.recv(READ_SIZE)
            if not data:
                raise ConnectionError("the server closed the connection during the TLS handshake")
            if first and not p.is_tls_record_start(data):
                raise PlainAnswer(data)
            first = False
            self._incoming.write(data)

    def sendall(self, data: bytes) -> None:
        self._tls.write(data)
        self._flush()

    def recv(self, size: int) -> bytes:
        while True:
            try:
                return self._tls.read(size)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return b""
            data = self.sock.recv(READ_SIZE)
            if not data:
                return b""
            self._incoming.write(data)


# --- UDP: sealed datagrams -----------------------------------------------------------------
