"""Room passwords as the server keeps them: a salted scrypt digest, never the password."""

from __future__ import annotations

import hashlib
import secrets

# scrypt costs ~16 MiB and tens of milliseconds per guess: cheap for a person, slow for a guesser.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """(salt, digest) for `password`; a new random salt unless one is given."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return salt, digest
