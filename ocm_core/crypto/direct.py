"""Sealing a direct message for one person, so that the server relaying it cannot read it
(issue 27's primitive; the wire and the app come with that issue).

Each install has a long-lived X25519 key pair (`PersonalKey`, kept in the config folder,
readable only by the user). A message to Bob is sealed with:

- an ephemeral X25519 key of its own, and the sender's long-lived key, both agreed with
  Bob's long-lived public key: ss_e = X25519(e, B), ss_s = X25519(a, B);
- key = HKDF-SHA256(ss_e || ss_s, salt = E, info = LABEL || A || B): 32 bytes for AES-256-GCM;
- nonce: 12 zero bytes (the key is new for every message: its ephemeral half is never reused);
- associated data: LABEL || A || B || message id: a sealed message moved to another pair of
  people, or given another id, does not open.

Only the holder of `a` (the sender) or `b` (Bob) can compute ss_s, so a message that opens is
from the sender Bob believes (authenticated to its sender). The ephemeral half gives forward
secrecy against a later theft of the sender's key, not of Bob's: whoever steals Bob's key can
open what was sent to him. Every primitive is the `cryptography` library's and Web Crypto's
(X25519, HKDF-SHA256, AES-GCM), so a browser can take part. Replays (the same message id
twice) are the caller's to refuse: the id is bound here, remembered there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ocm_core.crypto.identity import write_private
from ocm_core.errors import OCMError

LABEL = b"ocm direct v1"
KEY_BYTES = 32
NONCE = bytes(12)  # one message per key: see the module's docstring
MAX_MESSAGE_ID = (1 << 64) - 1
SAFETY_DIGITS = 20  # what two people read aloud: 4 groups of 5 digits


class DirectOpenFailed(OCMError):
    """A sealed direct message did not open: altered, for someone else, from someone else, or
    given another id. Never says which (all look the same to whoever forged it)."""

    def __init__(self) -> None:
        super().__init__("the direct message did not open")


@dataclass(frozen=True)
class Sealed:
    ephemeral: bytes  # 32 bytes
    ciphertext: bytes  # the message and GCM's 16-byte tag

    def to_bytes(self) -> bytes:
        return self.ephemeral + self.ciphertext

    @classmethod
    def from_bytes(cls, data: bytes) -> Sealed:
        if len(data) < KEY_BYTES + 16:
            raise DirectOpenFailed()
        return cls(data[:KEY_BYTES], data[KEY_BYTES:])


class PersonalKey:
    """This install's long-lived key pair for direct messages."""

    def __init__(self, private_key: X25519PrivateKey):
        self._private = private_key
        self.public = private_key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> PersonalKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: str | os.PathLike, platform: str | None = None) -> PersonalKey:
        """The key in `path` (raw 32 bytes), or a new one written there for this user alone.
        A file that is not a key is kept aside and replaced: losing it costs the people one
        writes to a "key changed" notice, never a message."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        if len(data) == KEY_BYTES:
            return cls(X25519PrivateKey.from_private_bytes(data))
        if data:
            path.replace(path.with_name(path.name + ".broken"))
        key = cls.generate()
        write_private(path, key._private.private_bytes_raw(), platform)
        return key

    def seal(self, recipient: bytes, message_id: int, plaintext: bytes) -> Sealed:
        """`plaintext` for the holder of `recipient` (its public key), as message `message_id`."""
        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = ephemeral.public_key().public_bytes_raw()
        other = _public(recipient)
        secret = ephemeral.exchange(other) + self._private.exchange(other)
        key = _derive(secret, ephemeral_public, self.public, recipient)
        data = AESGCM(key).encrypt(NONCE, plaintext, _associated(self.public, recipient, message_id))
        return Sealed(ephemeral_public, data)

    def open(self, sender: bytes, message_id: int, sealed: Sealed) -> bytes:
        """The plaintext of a message `sender` (its public key) sealed for us, as `message_id`;
        DirectOpenFailed for anything else."""
        try:
            ephemeral = _public(sealed.ephemeral)
            secret = self._private.exchange(ephemeral) + self._private.exchange(_public(sender))
        except ValueError:  # a point of small order: the exchange would be all zeros
            raise DirectOpenFailed() from None
        key = _derive(secret, sealed.ephemeral, sender, self.public)
        try:
            return AESGCM(key).decrypt(NONCE, sealed.ciphertext, _associated(sender, self.public, message_id))
        except InvalidTag:
            raise DirectOpenFailed() from None

    def prove(self, challenge: bytes, token: bytes, server: str) -> bytes:
        """Proof that we hold this key, for the server whose identity is `server` (its
        fingerprint, as checked over TLS) and that gave `token` and `challenge` (its one-off
        public key for this token): only the two ends of X25519(ours, challenge) can make it, so
        nobody joins under another's public key to take their waiting messages; and it names
        the server, so another server cannot pass our proof on to it."""
        try:
            secret = self._private.exchange(_public(challenge))
        except (ValueError, DirectOpenFailed):
            return b""  # a challenge that is not a key: nothing could prove anything with it
        return _possession(secret, self.public, token, server)


class Challenge:
    """The server's side of `PersonalKey.prove`: a key derived from its secret and a member's
    token (so it needs no storing and survives a restart)."""

    def __init__(self, seed: bytes, server: str):
        self._private = X25519PrivateKey.from_private_bytes(seed)
        self.public = self._private.public_key().public_bytes_raw()
        self.server = server  # this server's identity fingerprint

    def check(self, claimed: bytes, token: bytes, proof: bytes) -> bool:
        try:
            secret = self._private.exchange(_public(claimed))
        except (ValueError, DirectOpenFailed):
            return False
        return hmac.compare_digest(proof, _possession(secret, claimed, token, self.server))


def _possession(secret: bytes, public: bytes, token: bytes, server: str) -> bytes:
    info = LABEL + b" possession" + public + server.encode("utf-8")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    return hmac.digest(key, token, "sha256")


def safety_code(one: bytes, other: bytes) -> str:
    """The code two people compare aloud: the same on both sides whoever computes it."""
    digest = hashlib.sha256(LABEL + b" safety" + b"".join(sorted((one, other)))).digest()
    digits = str(int.from_bytes(digest, "big"))[-SAFETY_DIGITS:].rjust(SAFETY_DIGITS, "0")
    return " ".join(digits[i : i + 5] for i in range(0, SAFETY_DIGITS, 5))


def public_text(public: bytes) -> str:
    """A public key as it travels in JSON (base64url without padding)."""
    return base64.urlsafe_b64encode(public).rstrip(b"=").decode("ascii")


def _public(raw: bytes) -> X25519PublicKey:
    if len(raw) != KEY_BYTES:
        raise DirectOpenFailed()
    return X25519PublicKey.from_public_bytes(raw)


def _derive(secret: bytes, ephemeral: bytes, sender: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral, info=LABEL + sender + recipient).derive(secret)


def _associated(sender: bytes, recipient: bytes, message_id: int) -> bytes:
    if not 0 <= message_id <= MAX_MESSAGE_ID:
        raise ValueError(f"message id {message_id} is out of range")
    return LABEL + sender + recipient + message_id.to_bytes(8, "big")
