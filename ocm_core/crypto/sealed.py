"""Sealed datagrams: each member's datagrams are sealed with AES-256-GCM under keys derived
(HKDF-SHA256) from the member's 256-bit key, one key per direction, the datagram's header as
associated data, a counter as nonce and a sliding replay window. The layout is in
wire/datagram.py (SEALED_MAGIC) and docs/protocol.md."""

from __future__ import annotations

import hmac
import itertools

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ocm_core import wire as p
from ocm_core.crypto.direct import Challenge
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.errors import LocalProtocolError, OCMError, ProtocolError

MEMBER_KEY_BYTES = 32
REPLAY_WINDOW = 1024  # how far behind the newest datagram a late one may still arrive


def _hkdf(key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(key)


# --- TCP: TLS 1.3 ------------------------------------------------------------------------


class OpenFailed(OCMError):
    """A datagram that is not sealed under this key, was altered, or was seen before."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ReplayWindow:
    """Which nonces were seen: any above the newest is new; below it, a bit per position
    for the last REPLAY_WINDOW; older than that is refused (too late or a replay)."""

    def __init__(self, size: int = REPLAY_WINDOW):
        self.size = size
        self.newest = 0
        self._seen = 1  # bit i: position newest - i was seen; position 0 is never sent

    def fresh(self, position: int) -> bool:
        if position > self.newest:
            return True
        behind = self.newest - position
        return behind < self.size and not (self._seen >> behind) & 1

    def resume_after(self, position: int) -> None:
        """Go on as a window that has seen every position up to `position` (a restart: what
        arrived before it is unknown, so none of it may open again)."""
        if position >= self.newest:
            self.newest = position
            self._seen = (1 << self.size) - 1

    def mark(self, position: int) -> None:
        if position > self.newest:
            shift = position - self.newest
            self._seen = ((self._seen << shift) | 1) & ((1 << self.size) - 1) if shift < self.size else 1
            self.newest = position
        else:
            self._seen |= 1 << (self.newest - position)


class SealedChannel:
    """One member's sealing state on one side: a key each way, a counter, a replay window.

    Nonce = epoch (4 bytes) || counter (8 bytes), sent in the clear after SEALED_MAGIC. The
    counter only grows; the server's epoch grows at each start (ServerIdentity.next_boot), so
    a key's nonce never repeats even across restarts. Not thread-safe for `open`: one reader."""

    def __init__(self, send_key: bytes, receive_key: bytes, epoch: int = 0):
        self._seal = AESGCM(send_key)
        self._open = AESGCM(receive_key)
        self._prefix = epoch.to_bytes(4, "big")
        self._counter = itertools.count(1)  # next() is atomic: threads may seal at once
        self.window = ReplayWindow()

    @classmethod
    def for_client(cls, member_key: bytes) -> SealedChannel:
        return cls(_hkdf(member_key, b"ocm udp client to server"), _hkdf(member_key, b"ocm udp server to client"))

    @classmethod
    def for_server(cls, member_key: bytes, epoch: int) -> SealedChannel:
        return cls(
            _hkdf(member_key, b"ocm udp server to client"), _hkdf(member_key, b"ocm udp client to server"), epoch
        )

    def seal(self, header: bytes, body: bytes) -> bytes:
        """The whole datagram: `header` (kept readable, authenticated) and `body` sealed."""
        counter = next(self._counter)
        if counter >= 1 << 64:
            raise LocalProtocolError("this key has sealed all the datagrams it may; join again")
        nonce = self._prefix + counter.to_bytes(8, "big")
        data = header + p.SEALED_PREFIX + nonce + self._seal.encrypt(nonce, body, header)
        if len(data) > p.MAX_DATAGRAM:
            raise LocalProtocolError(f"sealed datagram would be {len(data)} bytes; the most is {p.MAX_DATAGRAM}")
        return data

    def open(self, header: bytes, sealed: bytes) -> bytes:
        """The body of a datagram whose header is `header` and the rest `sealed`; OpenFailed if
        it is not genuine or not new. The window moves only for genuine datagrams."""
        try:
            nonce, ciphertext = p.split_sealed(sealed)
        except ProtocolError as exc:
            raise OpenFailed(exc.reason) from None
        position = int.from_bytes(nonce, "big")
        if not self.window.fresh(position):
            raise OpenFailed("replayed or too old")
        try:
            body = self._open.decrypt(nonce, ciphertext, header)
        except InvalidTag:
            raise OpenFailed("does not open under this member's key") from None
        self.window.mark(position)
        return body


class MemberKeys:
    """Derives each member's UDP key from the server's identity and the member's token:
    unique and unpredictable per member, and the same after a restart, so the database
    need not hold keys. The epoch keeps the server's nonces from repeating across starts."""

    def __init__(self, identity: ServerIdentity, epoch: int):
        self._secret = _hkdf(identity.private_bytes(), b"ocm member keys v1")
        self.epoch = epoch
        self.fingerprint = identity.fingerprint

    def key_for(self, token: bytes) -> bytes:
        return hmac.digest(self._secret, token, "sha256")

    def channel_for(self, token: bytes) -> SealedChannel:
        return SealedChannel.for_server(self.key_for(token), self.epoch)

    def proof_for(self, token: bytes) -> bytes:
        return key_proof(self.key_for(token))

    def direct_challenge(self, token: bytes) -> Challenge:
        """The one-off key a member proves its direct-message key against (crypto/direct.py)."""
        return Challenge(hmac.digest(self._secret, b"direct challenge " + token, "sha256"), self.fingerprint)


def key_proof(member_key: bytes) -> bytes:
    """What a member shows, inside TLS, to prove it holds its key (SYNC): a token seen on
    the LAN is not enough to read a room's history."""
    return _hkdf(member_key, b"ocm sync proof")
