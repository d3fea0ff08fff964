"""Who a server is: its long-lived key, the fingerprint people compare, and the keys a
client has trusted (trust on first use, like SSH's accept-new).

The server's identity is an Ed25519 key kept in its data directory, readable only by
the user: file mode 0600 on POSIX; on Windows the directory is in the user's own
profile, which other users cannot read. From the same key the server derives the
secret behind each member's UDP key (crypto.sealed.MemberKeys), so a restarted server that
takes its members up from the database can still open their datagrams.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from ocm_core import paths
from ocm_core.errors import ClientError
from ocm_core.i18n import _

log = logging.getLogger(__name__)

IDENTITY_FILE = "server-identity.pem"
BOOTS_FILE = "server-boots"
KNOWN_SERVERS_FILE = "known-servers.json"
FINGERPRINT_GROUPS = 5
FINGERPRINT_GROUP_LETTERS = 4  # 5 x 4 base32 letters: 100 bits, short enough to read aloud


def fingerprint(public_key: bytes) -> str:
    """A short, readable name for a public key: base32 of its SHA-256, in groups, e.g. 'K3QF-7ZPA-...'."""
    letters = base64.b32encode(hashlib.sha256(public_key).digest()).decode("ascii")
    size = FINGERPRINT_GROUP_LETTERS
    return "-".join(letters[i * size : (i + 1) * size] for i in range(FINGERPRINT_GROUPS))


def write_private(path: Path, data: bytes, platform: str | None = None) -> None:
    """Write `data` so only this user can read it, replacing `path` whole (never half-written).

    POSIX: created with mode 0600 (mkstemp does), then renamed over `path`. Windows has no
    such mode bits: the file lives under the user's profile, whose access list is the user's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # on the disk before the rename makes it the file
        if (platform or sys.platform) != "win32":
            os.chmod(temp, 0o600)  # mkstemp already did; said again so the promise is visible here
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class ServerIdentity:
    """A server's long-lived Ed25519 key."""

    def __init__(self, private_key: ed25519.Ed25519PrivateKey, directory: Path | None = None):
        self.private_key = private_key
        self.directory = directory
        self.public_bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.fingerprint = fingerprint(self.public_bytes)

    @classmethod
    def generate(cls) -> ServerIdentity:
        """A throwaway identity (tests, or a server told to keep nothing)."""
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, directory: str | os.PathLike | None = None, platform: str | None = None) -> ServerIdentity:
        directory = Path(directory) if directory is not None else paths.data_dir(platform)
        path = directory / IDENTITY_FILE
        if not path.exists():
            key = ed25519.Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            write_private(path, pem, platform)
            log.info("made a new server identity in %s", path)
        elif (platform or sys.platform) != "win32" and path.stat().st_mode & 0o077:
            log.warning("%s was readable by others; making it private to this user", path)
            os.chmod(path, 0o600)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 key; move it away and a new identity is made")
        return cls(loaded, directory)

    def private_bytes(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def certificate_pem(self) -> bytes:
        """A self-signed certificate for TLS. Clients pin the key by its fingerprint, so the
        certificate's names and dates carry no trust; it is made fresh at each start."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Online Chat Messenger server")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(self.private_key, None)  # Ed25519 signs without a separate hash
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def next_boot(
        self,
        platform: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> int:
        """A number that grows at every start (kept beside the key): the server's datagram
        nonces begin with it, so a restarted server never repeats a nonce under a member's key.

        It is at least the clock's second, so it still grows when it cannot be written (a full
        disk): such a start waits until the clock has passed its number before it goes on, so
        that no later start is given the same one. Should the clock be far behind the number
        kept, an unwritten start takes a random one above it instead (two of them collide once
        in four billion)."""
        if self.directory is None:
            return 0  # a throwaway identity: its member keys die with the process
        path = self.directory / BOOTS_FILE
        try:
            stored = int(path.read_text(encoding="ascii").strip() or 0)
        except (FileNotFoundError, ValueError):
            stored = 0
        now = int(clock())
        boots = max(stored + 1, now)
        try:
            write_private(path, str(boots).encode("ascii"), platform)
        except OSError as exc:
            log.warning(
                "cannot record this start in %s (%s); its number comes from the clock", path, exc.strerror or exc
            )
            if boots > now + 2:  # the clock is far behind: waiting for it would hold the start
                return secrets.randbelow((1 << 32) - 1 - stored) + stored + 1
            while int(clock()) <= boots:
                sleep(max(0.01, boots + 1 - clock()))
        return boots


def public_key_of_certificate(der: bytes) -> bytes:
    """The raw Ed25519 public key in a server's certificate; ValueError if it holds another kind."""
    key = x509.load_der_x509_certificate(der).public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("the server's certificate does not hold an Ed25519 key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class IdentityChanged(ClientError):
    """The server at an address shows another identity than the one trusted before."""

    def __init__(self, address: str, trusted: str, presented: str):
        super().__init__(
            _(
                "The server at {address} has a different identity than last time ({presented}, was {trusted}). "
                "Someone may be pretending to be it; if its host says it changed, confirm to trust the new one."
            ).format(address=address, presented=presented, trusted=trusted)
        )
        self.address = address
        self.trusted = trusted
        self.presented = presented


class LinkIdentityRefused(ClientError):
    """An invite link's introduction that does not hold: the identity the link promised for
    `address` is not the one `found` there. Never confirmed away: the link is refused, and
    what the client remembers for the address stays as it was."""

    def __init__(self, message: str, address: str, promised: str, found: str):
        super().__init__(message)
        self.address = address
        self.promised = promised
        self.found = found


class LinkIdentityMismatch(LinkIdentityRefused):
    """The server at the address shows another identity than the invite link promised."""

    def __init__(self, address: str, promised: str, presented: str):
        super().__init__(
            _(
                "The server at {address} does not have the identity the invite link promised (it shows {presented}, "
                "the link says {promised}); someone may be pretending to be it, so check the link with its host."
            ).format(address=address, presented=presented, promised=promised),
            address,
            promised,
            presented,
        )


class LinkContradictsRemembered(LinkIdentityRefused):
    """The identity remembered for the address is another than the invite link's."""

    def __init__(self, address: str, promised: str, remembered: str):
        super().__init__(
            _(
                "The invite link does not match the identity remembered for {address} (the link says {promised}, "
                "remembered {remembered}); ask its host which one is right before joining."
            ).format(address=address, promised=promised, remembered=remembered),
            address,
            promised,
            remembered,
        )


class KnownServers:
    """The fingerprint first seen at each address (host:port), kept in a small JSON file."""

    def __init__(self, path: str | os.PathLike | None = None, platform: str | None = None):
        self.path = Path(path) if path is not None else paths.config_dir(platform) / KNOWN_SERVERS_FILE
        self._platform = platform
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("could not read %s (%s); starting a new list of known servers", self.path, exc)
            return {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def get(self, address: str) -> str | None:
        with self._lock:
            return self._read().get(address)

    def check(self, address: str, presented: str, *, accept_changed: bool = False) -> bool:
        """True if `presented` is the identity trusted for `address`, or is now trusted because
        none was (first use) or because the person confirmed a change; IdentityChanged if not."""
        with self._lock:
            known = self._read()
            trusted = known.get(address)
            if trusted == presented:
                return True
            if trusted is not None and not accept_changed:
                raise IdentityChanged(address, trusted, presented)
            if trusted is not None:
                log.warning("trusting a changed identity for %s: %s (was %s)", address, presented, trusted)
            known[address] = presented
            write_private(self.path, json.dumps(known, indent=1, sort_keys=True).encode("utf-8"), self._platform)
            return True
