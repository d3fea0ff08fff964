"""Which discovery probes a server answers: a few a second from one address, a few dozen in
all, so that a flood of (possibly forged) probes makes little traffic. No I/O; time passed in."""

from __future__ import annotations

from ocm_core.sansio.room import TokenBucket, forget_full_buckets


class AnswerLimiter:
    """Decides whether a probe is answered: a few a second from one address, a few dozen
    in all, so that a flood of (possibly forged) probes makes little traffic. No I/O;
    the caller passes the time."""

    def __init__(
        self,
        per_address: float = 2.0,
        per_address_burst: int = 4,
        total: float = 40.0,
        total_burst: int = 40,
        max_addresses: int = 1024,
    ):
        self._per_address = (per_address, per_address_burst)
        self._total = TokenBucket(total, total_burst, float(total_burst), 0.0)
        self._started = False
        self._buckets: dict[str, TokenBucket] = {}
        self._max_addresses = max_addresses

    def allow(self, ip: str, now: float) -> bool:
        if not self._started:
            self._total.at, self._started = now, True
        bucket = self._buckets.get(ip)
        if bucket is None:
            if len(self._buckets) >= self._max_addresses:
                forget_full_buckets(self._buckets, now)
                if len(self._buckets) >= self._max_addresses:
                    return False
            rate, burst = self._per_address
            bucket = self._buckets[ip] = TokenBucket(rate, burst, float(burst), now)
        if not bucket.take(now):
            return False
        return self._total.take(now)
