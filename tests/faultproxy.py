"""A UDP proxy for tests that drops, duplicates, delays and reorders datagrams.

Each client address gets its own upstream socket, so the server sees one source
port per client, as it would without the proxy. Decisions come from a seeded
random.Random, so a failing run can be replayed with the same seed.
"""

from __future__ import annotations

import heapq
import itertools
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class Faults:
    drop: float = 0.0  # probability a datagram is lost
    duplicate: float = 0.0  # probability it is delivered twice
    max_delay: float = 0.0  # each copy waits a random time up to this (seconds): reorders


class FaultProxy:
    def __init__(self, server: tuple[str, int], upstream: Faults, downstream: Faults, seed: int = 1):
        self.server = server
        self.faults = {"up": upstream, "down": downstream}
        self.random = random.Random(seed)
        self.counts = {"up": 0, "down": 0, "dropped": 0, "duplicated": 0}
        self._listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._listen.bind(("127.0.0.1", 0))
        self._upstreams: dict[tuple[str, int], socket.socket] = {}
        self._clients: dict[socket.socket, tuple[str, int]] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listen, selectors.EVENT_READ, None)
        self._queue: list = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self._listen.getsockname()

    @property
    def pending(self) -> int:
        """Datagrams received and not yet passed on (delayed copies included)."""
        return len(self._queue)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(2)
        for sock in [self._listen, *self._upstreams.values()]:
            sock.close()
        self._selector.close()

    def _schedule(self, direction: str, sock: socket.socket, data: bytes, to) -> None:
        faults = self.faults[direction]
        self.counts[direction] += 1
        if self.random.random() < faults.drop:
            self.counts["dropped"] += 1
            return
        copies = 1
        if self.random.random() < faults.duplicate:
            copies = 2
            self.counts["duplicated"] += 1
        now = time.monotonic()
        for _ in range(copies):
            due = now + self.random.uniform(0, faults.max_delay)
            heapq.heappush(self._queue, (due, next(self._order), sock, data, to))

    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = 0.05
            if self._queue:
                timeout = max(0.0, min(timeout, self._queue[0][0] - time.monotonic()))
            for key, _ in self._selector.select(timeout):
                sock = key.fileobj
                try:
                    data, source = sock.recvfrom(65536)
                except OSError:
                    continue
                if sock is self._listen:
                    upstream = self._upstreams.get(source)
                    if upstream is None:
                        upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        upstream.bind(("127.0.0.1", 0))
                        self._upstreams[source] = upstream
                        self._clients[upstream] = source
                        self._selector.register(upstream, selectors.EVENT_READ, None)
                    self._schedule("up", upstream, data, self.server)
                else:
                    self._schedule("down", self._listen, data, self._clients[sock])
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, sock, data, to = heapq.heappop(self._queue)
                try:
                    sock.sendto(data, to)
                except OSError:
                    pass
