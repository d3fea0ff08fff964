"""Finding rooms on the LAN: a server announces itself, a finder lists what it hears.

Two ways, because networks differ:

- DNS-SD over multicast DNS (python-zeroconf): the service ``_ocm._tcp.local.`` on the
  server's TCP port with a TXT record (protocol.encode_txt). What most networks allow.
- A broadcast probe of ours on UDP ``DISCOVERY_PORT`` for networks that filter multicast:
  the finder broadcasts a padded probe, each server answers with its rooms, never more
  bytes than the probe, at a limited rate (protocol.encode_probe / encode_answer).

A finder then asks each server it found for its rooms with LIST over TCP (TLS, the key
checked against the fingerprint announced), and lists a server's rooms only once that
answered: what is listed is what a join would reach. The probe answer's own room list
serves finders that cannot make the TCP request. The byte
layouts are in wire/discovery.py and docs/protocol.md; docs/network.md says what a firewall
must let through.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ocm_core import wire as p
from ocm_core.crypto.identity import IdentityChanged, KnownServers
from ocm_core.errors import ClientError, ProtocolError
from ocm_core.net.interfaces import interface_ipv4s, lan_ipv4
from ocm_core.sansio.probes import AnswerLimiter
from ocm_core.wire import RoomInfo, ServerAnnouncement

log = logging.getLogger(__name__)

# Where discovery sends and listens. "all" is every usable interface; "loopback" keeps every
# datagram on this machine (127.0.0.1, broadcast to 127.255.255.255, no mDNS), which the test
# suite sets so that no test talks to a real network.
SCOPE_ENV = "OCM_DISCOVERY_SCOPE"
PORT_ENV = "OCM_DISCOVERY_PORT"

ANNOUNCE_POLL_SECONDS = 1.0  # how often an announcer looks for rooms opened or closed
PROBE_SCHEDULE = (0.0, 0.4, 1.2)  # seconds after start; then every PROBE_INTERVAL
PROBE_INTERVAL = 3.0
LIST_INTERVAL = 3.0  # how often a finder asks a found server for its rooms again
LIST_TIMEOUT = 1.5
FORGET_AFTER = 3 * PROBE_INTERVAL + 1.0  # a server only heard by broadcast, silent this long, is gone


@dataclass(frozen=True)
class Scope:
    """Which interfaces discovery uses and on which UDP port the probe travels."""

    mdns: bool = True
    broadcast: bool = True
    loopback_only: bool = False
    probe_port: int = p.DISCOVERY_PORT

    @classmethod
    def from_environment(cls) -> Scope:
        loopback = os.environ.get(SCOPE_ENV, "all").strip().lower() == "loopback"
        port_text = os.environ.get(PORT_ENV, "")
        port = int(port_text) if port_text.isdigit() and 0 < int(port_text) < 65536 else p.DISCOVERY_PORT
        return cls(mdns=not loopback, loopback_only=loopback, probe_port=port)


@dataclass(frozen=True)
class Interface:
    address: str
    prefix: int

    @property
    def broadcast(self) -> str:
        return str(ipaddress.IPv4Network(f"{self.address}/{self.prefix}", strict=False).broadcast_address)


def usable_interfaces(scope: Scope) -> list[Interface]:
    """IPv4 interfaces to announce and probe on: every one with an address but loopback
    (ifaddr, which python-zeroconf uses too, asks each OS its own way), or only loopback."""
    if scope.loopback_only:
        return [Interface("127.0.0.1", 8)]
    return [Interface(address, prefix) for address, prefix in interface_ipv4s() if lan_ipv4(address) is not None]


def broadcast_targets(interfaces: list[Interface], scope: Scope) -> list[str]:
    """The limited broadcast and each interface's directed broadcast (a host with several
    networks sends the limited one out of one interface only)."""
    targets = [] if scope.loopback_only else ["255.255.255.255"]
    for interface in interfaces:
        if interface.broadcast not in targets:
            targets.append(interface.broadcast)
    return targets


def _open_udp(port: int, *, reuse: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if reuse:
            # Several servers on one computer each answer probes; broadcasts reach every
            # socket that shares the port this way.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", port))
    except OSError:
        sock.close()
        raise
    return sock


def _rooms_of(server: Any) -> list[RoomInfo]:
    registry = getattr(server, "registry", None)
    if registry is None:
        return []
    return [
        RoomInfo(r["name"], r["members"], r["locked"], r["host"], r["room_id"], r["standing"])
        for r in registry.list_rooms()
    ]


def machine_name() -> str:
    name = socket.gethostname().split(".")[0] or "computer"
    return name.encode("utf-8")[:63].decode("utf-8", "ignore")


class Announcer:
    """Makes a running ChatServer findable until stop(): registers the mDNS service,
    answers broadcast probes, and updates the record when rooms open or close (it looks
    at the server's room list every ANNOUNCE_POLL_SECONDS)."""

    def __init__(self, server: Any, scope: Scope | None = None, machine: str | None = None):
        self.server = server
        self.scope = scope or Scope.from_environment()
        self.machine = machine if machine is not None else machine_name()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._zeroconf: Any = None
        self._info: Any = None
        self._limiter = AnswerLimiter()
        self.answers_sent = 0
        self.probes_refused = 0

    def announcement(self, rooms: list[RoomInfo]) -> ServerAnnouncement:
        return ServerAnnouncement(
            self.server.tcp_address[1],
            self.server.udp_address[1],
            len(rooms),
            any(r.locked for r in rooms),
            self.machine,
            getattr(self.server, "fingerprint", None) or "",
        )

    def start(self) -> None:
        try:
            if self.scope.broadcast:
                self._sock = _open_udp(self.scope.probe_port, reuse=True)
                self._sock.settimeout(ANNOUNCE_POLL_SECONDS)
        except OSError as exc:
            log.warning("cannot answer discovery probes on UDP %d (%s); mDNS only", self.scope.probe_port, exc)
        summary = self.announcement(_rooms_of(self.server))
        if self.scope.mdns:
            try:
                self._register(summary)
            except Exception as exc:  # no multicast-capable interface, a firewall, ...: broadcast still works
                log.warning("cannot announce over mDNS (%s); broadcast answers only", exc)
                self._close_zeroconf()
        self._thread = threading.Thread(target=self._loop, args=(summary,), name="ocm-announce", daemon=True)
        self._thread.start()
        log.info(
            "announcing TCP port %d (mDNS %s, probe answers on UDP %d)",
            summary.tcp_port,
            "on" if self._zeroconf else "off",
            self.scope.probe_port,
        )

    def _service_info(self, summary: ServerAnnouncement, name: str | None = None):
        from zeroconf import ServiceInfo

        host = self.server.tcp_address[0]
        addresses = [host] if host not in ("0.0.0.0", "") else [i.address for i in usable_interfaces(self.scope)]
        label = "".join(ch if ch.isalnum() else "-" for ch in self.machine.encode("ascii", "ignore").decode()) or "ocm"
        instance = f"{self.machine} {summary.tcp_port}"
        return ServiceInfo(
            p.MDNS_SERVICE_TYPE,
            name or f"{instance}.{p.MDNS_SERVICE_TYPE}",
            port=summary.tcp_port,
            properties=p.encode_txt(summary),
            server=f"{label}-ocm-{summary.tcp_port}.local.",
            parsed_addresses=addresses or ["127.0.0.1"],
        )

    def _register(self, summary: ServerAnnouncement) -> None:
        from zeroconf import IPVersion, Zeroconf

        self._zeroconf = Zeroconf(ip_version=IPVersion.V4Only)
        self._info = self._service_info(summary)
        self._zeroconf.register_service(self._info, allow_name_change=True)

    def _close_zeroconf(self) -> None:
        if self._zeroconf is not None:
            try:
                if self._info is not None:
                    self._zeroconf.unregister_service(self._info)
            except Exception as exc:
                log.info("could not withdraw the mDNS record: %s", exc)
            self._zeroconf.close()
        self._zeroconf = self._info = None

    def _loop(self, summary: ServerAnnouncement) -> None:
        next_poll = time.monotonic() + ANNOUNCE_POLL_SECONDS
        while not self._stop.is_set():
            if self._sock is not None:
                self._answer_one()
            elif self._stop.wait(ANNOUNCE_POLL_SECONDS):
                break
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + ANNOUNCE_POLL_SECONDS
                try:
                    summary = self._update(summary)
                except Exception:  # a bug must cost an update, never the announcing
                    log.exception("could not update the announcement")

    def _update(self, summary: ServerAnnouncement) -> ServerAnnouncement:
        if not self.server.running:
            return summary
        fresh = self.announcement(_rooms_of(self.server))
        if fresh != summary and self._zeroconf is not None and self._info is not None:
            # a ServiceInfo is immutable: a new one under the name registered (maybe renamed on a clash)
            self._info = self._service_info(fresh, self._info.name)
            self._zeroconf.update_service(self._info)
            log.debug("announcement updated: %d rooms", fresh.rooms)
        return fresh

    def _answer_one(self) -> None:
        assert self._sock is not None
        try:
            data, address = self._sock.recvfrom(p.MAX_PROBE_SIZE + 1)
        except TimeoutError:
            return
        except OSError as exc:
            if not self._stop.is_set():
                log.debug("discovery receive error: %s", exc)
                self._stop.wait(0.1)
            return
        try:
            probe = p.decode_probe(data)
        except ProtocolError as exc:
            log.debug("ignored a discovery datagram from %s: %s", address[0], exc.reason)
            return
        if not self._limiter.allow(address[0], time.monotonic()):
            self.probes_refused += 1
            log.debug("probe from %s not answered: rate limit", address[0])
            return
        if not self.server.running:
            return
        rooms = _rooms_of(self.server)
        try:
            answer = p.encode_answer(probe, self.announcement(rooms), rooms)
            self._sock.sendto(answer, address)
            self.answers_sent += 1
        except (ProtocolError, OSError) as exc:
            log.debug("could not answer the probe from %s: %s", address[0], exc)

    def stop(self) -> None:
        """Withdraw the record (a goodbye packet, so finders drop the server at once) and stop answering."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(ANNOUNCE_POLL_SECONDS + 1.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._close_zeroconf()


@dataclass(frozen=True)
class FoundRoom:
    """A room found on the LAN: where its server is, and what LIST (or the answer) said."""

    address: str
    tcp_port: int
    room: str
    members: int
    locked: bool
    host: str  # "" for a standing room
    machine: str = ""
    fingerprint: str = ""
    standing: bool = False  # held by the server itself (ocm-server --room): no host
    room_id: str = ""  # from LIST; "" when only a broadcast answer or an older server told of it

    @property
    def server(self) -> str:
        return f"{self.address}:{self.tcp_port}"


@dataclass
class _Server:
    address: str
    tcp_port: int
    announcement: ServerAnnouncement
    rooms: tuple[RoomInfo, ...] = ()
    mdns_name: str | None = None
    heard: float = 0.0  # last broadcast answer (monotonic)
    next_list: float = 0.0
    listing: bool = False
    sources: set[str] = field(default_factory=set)


def _preferred_address(addresses: list[str], interfaces: list[Interface]) -> str:
    """Of a server's addresses, one on a network this computer is on (else the first)."""
    for address in addresses:
        ip = ipaddress.IPv4Address(address)
        for interface in interfaces:
            if ip in ipaddress.IPv4Network(f"{interface.address}/{interface.prefix}", strict=False):
                return address
    return addresses[0]


class RoomBrowser:
    """Keeps a live list of the rooms on the LAN from start() to stop().

    Every change puts the whole new list (sorted FoundRooms) on `updates` and calls
    `on_change` with it, from the browser's own threads: a GUI drains the queue on its
    own thread. `list_rooms(address, port, fingerprint)` asks a server for its rooms
    (ChatClient's LIST over TLS by default, the key checked against the announced
    fingerprint; a test may pass its own).
    """

    def __init__(
        self,
        scope: Scope | None = None,
        *,
        on_change: Callable[[list[FoundRoom]], None] | None = None,
        list_rooms: Callable[[str, int, str], list[RoomInfo]] | None = None,
    ):
        self.scope = scope or Scope.from_environment()
        self.updates: queue.Queue[list[FoundRoom]] = queue.Queue()
        self._on_change = on_change
        self._list_rooms = list_rooms or _list_over_tcp
        self._servers: dict[tuple[str, int], _Server] = {}
        self._lock = threading.Lock()
        self._published: list[FoundRoom] = []  # nothing is told until something is found
        self._stop = threading.Event()
        self._resolve: queue.Queue[str] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._sock: socket.socket | None = None
        self._zeroconf: Any = None
        self._browser: Any = None
        self._listers: concurrent.futures.ThreadPoolExecutor | None = None
        self._nonce = secrets.token_bytes(8)
        self._interfaces: list[Interface] = []
        self.started_at = 0.0

    # -- life
    def start(self) -> None:
        self.started_at = time.monotonic()
        self._interfaces = usable_interfaces(self.scope)
        self._listers = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="ocm-discovery-list")
        try:
            self._sock = _open_udp(0, reuse=False)
            self._sock.settimeout(0.2)
        except OSError as exc:
            log.warning("cannot send discovery probes (%s); mDNS only", exc)
        if self.scope.mdns:
            try:
                self._browse_mdns()
            except Exception as exc:
                log.warning("cannot browse mDNS (%s); broadcast probes only", exc)
        for name, target in (("ocm-discovery", self._probe_loop), ("ocm-discovery-mdns", self._resolve_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._resolve.put("")
        if self._browser is not None:
            self._browser.cancel()
        if self._zeroconf is not None:
            self._zeroconf.close()
        for thread in self._threads:
            thread.join(LIST_TIMEOUT + 1.0)
        self._threads.clear()
        if self._listers is not None:
            self._listers.shutdown(wait=False, cancel_futures=True)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> RoomBrowser:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what is known
    def rooms(self) -> list[FoundRoom]:
        with self._lock:
            return self._current()

    def server_count(self) -> int:
        with self._lock:
            return len(self._servers)

    def servers(self) -> dict[str, set[str]]:
        """Each server found ("address:port") and how: "mdns", "broadcast" or both."""
        with self._lock:
            return {f"{s.address}:{s.tcp_port}": set(s.sources) for s in self._servers.values()}

    def _current(self) -> list[FoundRoom]:
        found = [
            FoundRoom(
                s.address,
                s.tcp_port,
                r.name,
                r.members,
                r.locked,
                r.host,
                s.announcement.machine,
                s.announcement.fingerprint,
                r.standing,
                r.room_id,
            )
            for s in self._servers.values()
            for r in s.rooms
        ]
        return sorted(found, key=lambda f: (f.room.casefold(), f.address, f.tcp_port))

    def _publish(self) -> None:
        """Called with the lock held after a change: tell listeners if the list differs."""
        current = self._current()
        if current == self._published:
            return
        self._published = current
        self.updates.put(current)
        if self._on_change is not None:
            try:
                self._on_change(current)
            except Exception:
                log.exception("a discovery listener failed")

    def _found(self, address: str, announcement: ServerAnnouncement, mdns_name: str | None = None) -> None:
        key = (address, announcement.tcp_port)
        with self._lock:
            server = self._servers.get(key)
            if server is None:
                server = self._servers[key] = _Server(address, announcement.tcp_port, announcement)
                log.info("found a server at %s:%d", address, announcement.tcp_port)
            elif (
                server.announcement.rooms != announcement.rooms
                or server.announcement.any_locked != announcement.any_locked
            ):
                server.next_list = 0.0  # its rooms changed: ask again now
            server.announcement = announcement
            if mdns_name is not None:
                server.mdns_name = mdns_name
                server.sources.add("mdns")
            else:
                server.heard = time.monotonic()
                server.sources.add("broadcast")
            self._publish()

    def _forget(self, key: tuple[str, int], why: str) -> None:
        with self._lock:
            if self._servers.pop(key, None) is not None:
                log.info("server %s:%d gone: %s", key[0], key[1], why)
                self._publish()

    # -- broadcast
    def _probe_loop(self) -> None:
        step, next_at = 0, PROBE_SCHEDULE[0]
        while not self._stop.is_set():
            elapsed = time.monotonic() - self.started_at
            if elapsed >= next_at:
                self._send_probes()
                step += 1
                next_at = PROBE_SCHEDULE[step] if step < len(PROBE_SCHEDULE) else elapsed + PROBE_INTERVAL
            if self._sock is not None:
                self._read_answers()
            elif self._stop.wait(0.2):
                break
            self._maintain()

    def _send_probes(self) -> None:
        if self._sock is None or not self.scope.broadcast:
            return
        probe = p.encode_probe(self._nonce)
        for target in broadcast_targets(self._interfaces, self.scope):
            try:
                self._sock.sendto(probe, (target, self.scope.probe_port))
            except OSError as exc:
                log.debug("could not send a probe to %s: %s", target, exc)

    def _read_answers(self) -> None:
        assert self._sock is not None
        try:
            data, (address, _port) = self._sock.recvfrom(p.MAX_PROBE_SIZE + 1)
        except TimeoutError:
            return
        except OSError as exc:
            if not self._stop.is_set():
                log.debug("discovery receive error: %s", exc)
                self._stop.wait(0.2)
            return
        try:
            answer = p.decode_answer(data)
        except ProtocolError as exc:
            log.debug("ignored a discovery answer from %s: %s", address, exc.reason)
            return
        if answer.nonce != self._nonce:
            return
        self._found(address, answer.announcement)

    # -- LIST over TCP, and forgetting the silent
    def _maintain(self) -> None:
        now = time.monotonic()
        with self._lock:
            silent = [k for k, s in self._servers.items() if s.mdns_name is None and now - s.heard > FORGET_AFTER]
            due = [s for s in self._servers.values() if not s.listing and s.next_list <= now]
            for server in due:
                server.listing = True
        for key in silent:
            self._forget(key, "no answer to probes")
        for server in due:
            assert self._listers is not None
            try:
                self._listers.submit(self._refresh, server)
            except RuntimeError:  # shut down while stopping
                return

    def _refresh(self, server: _Server) -> None:
        key = (server.address, server.tcp_port)
        try:
            rooms = tuple(self._list_rooms(server.address, server.tcp_port, server.announcement.fingerprint))
        except (ClientError, ProtocolError, OSError) as exc:
            if not self._stop.is_set():
                self._forget(key, f"its room list did not come ({exc})")
            return
        with self._lock:
            server.listing = False
            server.next_list = time.monotonic() + LIST_INTERVAL
            if self._servers.get(key) is server:
                server.rooms = rooms
                self._publish()

    # -- mDNS
    def _browse_mdns(self) -> None:
        from zeroconf import IPVersion, ServiceBrowser, Zeroconf

        self._zeroconf = Zeroconf(ip_version=IPVersion.V4Only)
        self._browser = ServiceBrowser(self._zeroconf, p.MDNS_SERVICE_TYPE, handlers=[self._on_service])

    def _on_service(self, zeroconf, service_type: str, name: str, state_change) -> None:
        # zeroconf's thread: no blocking here, the resolving happens on ours
        from zeroconf import ServiceStateChange

        if state_change is ServiceStateChange.Removed:
            with self._lock:
                keys = [k for k, s in self._servers.items() if s.mdns_name == name]
            for key in keys:
                self._forget(key, "withdrawn over mDNS")
        else:
            self._resolve.put(name)

    def _resolve_loop(self) -> None:
        while not self._stop.is_set():
            name = self._resolve.get()
            if not name or self._stop.is_set() or self._zeroconf is None:
                continue
            try:
                self._resolve_one(name)
            except Exception:
                if self._stop.is_set():  # zeroconf closed under the request: nothing is lost
                    log.debug("resolving %s ended by stop", name)
                else:
                    log.exception("could not resolve %s", name)

    def _resolve_one(self, name: str) -> None:
        from zeroconf import IPVersion

        info = self._zeroconf.get_service_info(p.MDNS_SERVICE_TYPE, name, timeout=int(LIST_TIMEOUT * 1000))
        if info is None or not info.port:
            log.debug("no answer resolving %s", name)
            return
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if not addresses:
            return
        try:
            announcement = p.decode_txt(dict(info.properties), info.port)
        except ProtocolError as exc:
            log.info("ignored the mDNS record %s: %s", name, exc.reason)
            return
        self._found(_preferred_address(addresses, self._interfaces), announcement, mdns_name=name)


class _AnnouncedIdentity(KnownServers):
    """For a finder's LIST: the server's key must be the one its announcement named (when it
    named one), and nothing is written to the person's known servers: that happens when
    they join."""

    def __init__(self, expected: str):
        super().__init__(os.devnull)
        self.expected = expected

    def get(self, address: str) -> str | None:
        return self.expected or None

    def check(self, address: str, presented: str, *, accept_changed: bool = False) -> bool:
        if self.expected and presented != self.expected:
            raise IdentityChanged(address, self.expected, presented)
        return True


def _list_over_tcp(address: str, tcp_port: int, fingerprint: str = "") -> list[RoomInfo]:
    from ocm_core.net.client import ChatClient

    client = ChatClient(address, tcp_port, timeout=LIST_TIMEOUT, known_servers=_AnnouncedIdentity(fingerprint))
    return client.list_rooms()


def find_rooms(timeout: float = 2.5, scope: Scope | None = None) -> list[FoundRoom]:
    """The rooms found on the LAN within `timeout` seconds, by mDNS and broadcast, one
    entry per room per server."""
    with RoomBrowser(scope) as browser:
        time.sleep(timeout)  # the methods answer at their own pace; this is the deadline
        return browser.rooms()
