"""Password checks for locked rooms: wrong guesses counted per address with a growing wait,
and one slow hash at a time per address. No I/O; the clock and the hasher are injected."""

from __future__ import annotations

import contextlib
import hmac
import logging
import threading
from collections.abc import Callable, Iterator

from ocm_core.errors import RegistryError
from ocm_core.sansio.room import Limits
from ocm_core.wire import Status

log = logging.getLogger("ocm_core.sansio.registry")  # one logger for the registry and its parts

Hasher = Callable[[str, "bytes | None"], tuple[bytes, bytes]]


class PasswordGuard:
    """Counts wrong passwords per address; past `limits.password_failures_free` of them, each
    guess waits twice as long as the last (at most `limits.password_lockout_max` s), and a quiet
    spell that long forgives them."""

    def __init__(self, hasher: Hasher, clock: Callable[[], float], limits: Limits):
        self._hasher, self._clock, self._limits = hasher, clock, limits
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # ip -> (wrong in a row, no guess before)
        self._hashing: set[str] = set()

    def hash_new(self, ip: str, password: str) -> tuple[bytes, bytes]:
        """(salt, digest) for a new room's password, one hash at a time for `ip`."""
        with self.hash_slot(ip):
            return self._hasher(password, None)

    @contextlib.contextmanager
    def hash_slot(self, ip: str) -> Iterator[None]:
        """One password hash at a time per address: a burst of locked requests from one
        host cannot take every worker (the client retries BUSY by itself)."""
        with self._lock:
            if ip in self._hashing:
                raise RegistryError(
                    Status.BUSY, "a password from your address is still being checked; try again in a moment"
                )
            self._hashing.add(ip)
        try:
            yield
        finally:
            with self._lock:
                self._hashing.discard(ip)

    def check(self, ip: str, password: str | None, salt: bytes, expected: bytes) -> None:
        """Return if `password` opens the room; RegistryError saying why not otherwise."""
        now = self._clock()
        with self._lock:
            failures, until = self._failures.get(ip, (0, 0.0))
            if now > until + self._limits.password_lockout_max:
                failures = 0  # a quiet minute forgives earlier mistakes
            if now < until:
                raise RegistryError(
                    Status.TOO_MANY_ATTEMPTS, f"too many wrong passwords; wait {until - now:.0f} s and try again"
                )
            if password is None:
                raise RegistryError(Status.PASSWORD_REQUIRED, "this room is locked; enter its password")
            # Counted as a failure before hashing, so parallel guesses cannot slip past the count.
            failures += 1
            over = failures - self._limits.password_failures_free
            wait = min(self._limits.password_lockout_max, 2.0**over) if over >= 0 else 0.0
            self._failures[ip] = (failures, now + wait)
        with self.hash_slot(ip):
            correct = hmac.compare_digest(self._hasher(password, salt)[1], expected)
        if correct:
            with self._lock:
                self._failures.pop(ip, None)
            return
        log.warning("wrong room password from %s (%d in a row)", ip, failures)
        raise RegistryError(Status.WRONG_PASSWORD, "wrong password for this room; check it and try again")

    def matches(self, password: str, salt: bytes, expected: bytes) -> bool:
        """Whether `password` is the one hashed to `expected`, counted against no one (the
        server's own: a standing room's password at a start)."""
        return hmac.compare_digest(self._hasher(password, salt)[1], expected)

    def failures(self, ip: str) -> int:
        """Wrong passwords from `ip` not yet forgiven (0 when none)."""
        with self._lock:
            return self._failures.get(ip, (0, 0.0))[0]

    def guessed_wrong(self, ip: str) -> bool:
        """Whether `ip` gave a wrong room password lately (its count is not yet forgiven)."""
        with self._lock:
            return ip in self._failures

    def forgive(self, now: float) -> None:
        """Forget addresses whose last wait ended more than the lockout's longest ago."""
        forgiven = now - self._limits.password_lockout_max
        with self._lock:
            for ip in [ip for ip, (_, until) in self._failures.items() if until < forgiven]:
                del self._failures[ip]

    def __len__(self) -> int:
        with self._lock:
            return len(self._failures)
