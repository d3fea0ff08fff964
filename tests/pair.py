"""A room's two ends joined in memory (as h11's ConnectionPair joins two connections): a
RoomRegistry and its members' ClientSessions, sealed as our clients are, over a fake link that
loses, duplicates and reorders datagrams, on one fake clock. No socket, no thread: ordering,
re-sends, replays and restarts run in milliseconds, and inside the mutation run."""

from __future__ import annotations

import collections
import heapq
import itertools
import random
from collections.abc import Callable

from support import FakeClock

from ocm_core import wire as p
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.sealed import MemberKeys, SealedChannel
from ocm_core.sansio import events as ev
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Transport
from ocm_core.sansio.session import ClientSession

ROOM = "lobby"
UDP_PORT = 9091


class Pair:
    def __init__(
        self,
        *,
        seed: int = 1,
        loss: float = 0.0,
        duplicate: float = 0.0,
        delay: float = 0.0,
        store=None,
        identity: ServerIdentity | None = None,
        epoch: int = 1,
        features: tuple[str, ...] = p.FEATURES,
    ):
        """`features`: what members say they read at their SYNC (join() may say otherwise)."""
        self.clock = FakeClock()
        self.random = random.Random(seed)
        self.loss, self.duplicate, self.delay = loss, duplicate, delay
        self.identity = identity or ServerIdentity.generate()
        self.keys = MemberKeys(self.identity, epoch)
        self.registry = RoomRegistry(
            clock=self.clock, member_keys=self.keys, store=store, wall_clock=lambda: 1_700_000_000.0 + self.clock.now
        )
        self.sessions: dict[str, ClientSession] = {}
        self.addresses: dict[str, tuple[str, int]] = {}
        self.tokens: dict[str, bytes] = {}
        self.events: dict[str, list[ev.AppEvent]] = collections.defaultdict(list)
        self.to_server: list[tuple[bytes, tuple[str, int]]] = []  # every datagram sent up, as a capture has it
        self._queue: list[tuple[float, int, str, bytes]] = []  # (when, order, to: a name or "server", data)
        self._order = itertools.count()
        self.lost = self.duplicated = 0  # what the link did, so a test can see it did it
        self.features = features
        self.member_features: dict[str, tuple[str, ...]] = {}
        # A test's own loss: (from, to, frame inside) -> True to lose that datagram ("server" is one end)
        self.drop_if: Callable[[str, str, object], bool] | None = None

    # --- members ------------------------------------------------------------------------

    def join(self, name: str, features: tuple[str, ...] | None = None) -> ClientSession:
        """`name` joins (the first one creates the room), sealed, and applies its snapshot
        (having said `features` at its SYNC: the pair's unless given)."""
        self.member_features[name] = self.features if features is None else features
        ip = f"10.0.0.{len(self.sessions) + 1}"
        if self.sessions:
            token, out = self.registry.join_room(ROOM, name, ip, wire=Transport.SEALED)
            self._from_server(out)
        else:
            token = self.registry.create_room(ROOM, name, ip, wire=Transport.SEALED)
        self.tokens[name], self.addresses[name] = token, (ip, 5000 + len(self.sessions))
        session = ClientSession(
            ROOM, name, token, heartbeat_interval=0.5, channel=SealedChannel.for_client(self.keys.key_for(token))
        )
        self.sessions[name] = session
        self._carry(name, session.apply_snapshot(self.snapshot(name), self.clock.now))
        return session

    def snapshot(self, name: str) -> p.RoomSnapshot:
        token, (ip, _port) = self.tokens[name], self.addresses[name]
        answer = self.registry.snapshot(token, ip, ROOM, self.keys.proof_for(token), None, self.member_features[name])
        return p.decode_snapshot(p.encode_json({**answer, "udp_port": UDP_PORT}))

    def send(self, name: str, text: str) -> int:
        msg_id, datagrams = self.sessions[name].send_chat(text, self.clock.now)
        for datagram in datagrams:
            self._post(name, "server", datagram)
        return msg_id

    def chat_seen_by(self, name: str) -> list[str]:
        return [e.text for e in self.events[name] if isinstance(e, ev.ChatMessage)]

    def acknowledged(self, name: str) -> set[int]:
        return {e.msg_id for e in self.events[name] if isinstance(e, ev.MessageSent)}

    # --- time -----------------------------------------------------------------------------

    def run(self, seconds: float, step: float = 0.05) -> None:
        """Move the clock on `step` at a time: deliver what is due, then tick every end."""
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = round(self.clock.now + step, 6)
            while self._queue and self._queue[0][0] <= self.clock.now:
                _when, _n, to, data = heapq.heappop(self._queue)
                self._deliver(to, data)
            for name, session in self.sessions.items():
                self._carry(name, session.tick(self.clock.now))
            self._from_server(self.registry.tick())

    # --- the link ---------------------------------------------------------------------------

    def peek(self, sender: str, to: str, data: bytes) -> object:
        """The frame inside a datagram between `sender` and `to` (one of them "server"), opened
        under a fresh copy of the member's key, so that no end's replay window moves."""
        name = to if sender == "server" else sender
        key = self.keys.key_for(self.tokens[name])
        channel = (
            SealedChannel.for_client(key) if sender == "server" else SealedChannel.for_server(key, self.keys.epoch)
        )
        datagram = p.decode_datagram(data)
        return p.decode_body(channel.open(data[: len(data) - len(datagram.body)], datagram.body))

    def _post(self, sender: str, to: str, data: bytes) -> None:
        if to == "server":
            self.to_server.append((data, self.addresses[sender]))
        if self.drop_if is not None and self.drop_if(sender, to, self.peek(sender, to, data)):
            self.lost += 1
            return
        if self.random.random() < self.loss:
            self.lost += 1
            return
        copies = 2 if self.random.random() < self.duplicate else 1
        self.duplicated += copies - 1
        for _ in range(copies):
            when = self.clock.now + self.random.uniform(0, self.delay)  # a delay spread reorders
            heapq.heappush(self._queue, (when, next(self._order), f"{sender}>{to}" if to == "server" else to, data))

    def _deliver(self, to: str, data: bytes) -> None:
        if to.endswith(">server"):
            sender = to.split(">")[0]
            self._from_server(self.registry.handle_datagrams([(p.decode_datagram(data), self.addresses[sender])]))
        elif to in self.sessions:
            self._carry(to, self.sessions[to].receive(data, self.clock.now))

    def _from_server(self, outbound) -> None:
        by_address = {address: name for name, address in self.addresses.items()}
        for address, data in outbound:
            if address in by_address:
                self._post("server", by_address[address], data)

    def _carry(self, name: str, out) -> None:
        self.events[name] += out.events
        for datagram in out.datagrams:
            self._post(name, "server", datagram)
        if out.fetch_snapshot:  # a SYNC over TCP, which does not lose
            self._carry(name, self.sessions[name].apply_snapshot(self.snapshot(name), self.clock.now))
