"""Who keeps a TCP slot while the server waits for requests: decided without I/O, time passed in.

A connection holds one of the server's slots from its accept until its request has arrived
whole (then a worker answers it at once). Someone who opens connections and sends nothing, or
half a TLS hello, holds slots for nothing; many addresses doing it would starve everyone else.
So a connection that has waited longer than `grace` without a request gives way to a new one:

- when its address already has `per_address` waiting (its oldest goes: a client that retries
  is not locked out by its own stalled attempts);
- when the server is full (the oldest of the address with the most waiting goes), so that a
  newcomer finds a slot while anyone holds more than a fair share.

Connections younger than `grace` are never given up (parallel requests from one address, an
office behind one router): a full server then refuses the newcomer, which tries again. And any
connection goes when its handshake is not done within `handshake_seconds`, or its request within
`request_seconds`.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # what names a connection (the server's socket)


@dataclass
class _Waiting:
    ip: str
    since: float
    handshaken: bool = False


@dataclass
class WaitingConnections(Generic[K]):
    """The connections that hold a slot and have not yet sent a whole request."""

    total: int  # slots in all (waiting and being answered)
    per_address: int = 8  # waiting connections one address may hold
    handshake_seconds: float = 5.0
    request_seconds: float = 10.0
    grace: float = 0.5  # a TLS 1.3 handshake takes one round trip: a LAN takes milliseconds, a poor Wi-Fi a few hundred
    _waiting: dict[K, _Waiting] = field(default_factory=dict)
    _by_ip: collections.Counter[str] = field(default_factory=collections.Counter)

    def admit(
        self, key: K, ip: str, now: float, open_total: int, *, address_full: bool = False
    ) -> tuple[bool, list[K]]:
        """A new connection from `ip` (`open_total` slots taken, itself not counted): whether it
        may have a slot, and the waiting connections to give up for it. Admitted, it waits too.
        `address_full`: the address holds all the connections it may (waiting or not)."""
        shed: list[K] = []
        if self._by_ip[ip] and (address_full or self._by_ip[ip] >= self.per_address):
            oldest = self._oldest(ip)
            if now - self._waiting[oldest].since >= self.grace:
                shed.append(oldest)
        if not shed and open_total >= self.total:
            stale = [(w.since, key) for key, w in self._waiting.items() if now - w.since >= self.grace]
            if stale:
                # The address with the most waiting, another's before the newcomer's own in a
                # tie, and of those the connection that has waited longest.
                stale_ips = collections.Counter(self._waiting[k].ip for _since, k in stale)
                most = max(stale_ips.values())
                greedy = {a for a, n in stale_ips.items() if n == most and a != ip} or {ip}
                shed.append(min((since, key) for since, key in stale if self._waiting[key].ip in greedy)[1])
        admitted = bool(shed) or (open_total < self.total and not address_full)
        for old in shed:
            self.done(old)
        if admitted:
            self._waiting[key] = _Waiting(ip, now)
            self._by_ip[ip] += 1
        return admitted, shed

    def handshaken(self, key: K) -> None:
        """Its TLS handshake finished (or it speaks plain TCRP): only the request is awaited."""
        if key in self._waiting:
            self._waiting[key].handshaken = True

    def done(self, key: K) -> None:
        """It sent its request, went away or was closed: it waits no more."""
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            self._by_ip[waiting.ip] -= 1
            if self._by_ip[waiting.ip] <= 0:
                del self._by_ip[waiting.ip]

    def overdue(self, now: float) -> list[K]:
        """Those whose handshake or request is late; they are given up."""
        late = [
            key
            for key, waiting in self._waiting.items()
            if now - waiting.since
            > (self.request_seconds if waiting.handshaken else min(self.handshake_seconds, self.request_seconds))
        ]
        for key in late:
            self.done(key)
        return late

    def waiting_from(self, ip: str) -> int:
        return self._by_ip[ip]

    def __len__(self) -> int:
        return len(self._waiting)

    def _oldest(self, ip: str) -> K:
        return min((w.since, i, key) for i, (key, w) in enumerate(self._waiting.items()) if w.ip == ip)[2]
