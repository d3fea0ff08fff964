"""What the dialogs make from the core: servers, clients, free ports, the LAN address,
and a browser of the rooms on the LAN.

The dialogs receive a ``Backend`` instead of constructing these themselves, so that a
test can hand them a fake one (tests/gui/gui_helpers.py's FakeBackend) and exercise
the dialogs without sockets. It is not the GUI's only import from ``ocm_core``: the
windows also use the core's errors, events and words (``ocm_core.words``)
directly, which are plain values, not things that do I/O.

The app hosts every room on one bundled server: the first hosted room starts it (and
announces it on the LAN), later ones use it, and it stops when the last one closes.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocm_core.net.client import ChatClient
    from ocm_core.net.direct import DirectKeys
    from ocm_core.net.discovery import RoomBrowser

log = logging.getLogger(__name__)


class HostedServer:
    """One hosted room's hold on the app's server: what the chat window calls stop() on."""

    def __init__(self, backend: Backend, server):
        self._backend = backend
        self.server = server
        self._released = False

    @property
    def tcp_address(self) -> tuple[str, int]:
        return self.server.tcp_address

    @property
    def udp_address(self) -> tuple[str, int]:
        return self.server.udp_address

    @property
    def running(self) -> bool:
        return self.server.running

    @property
    def fingerprint(self) -> str:
        return self.server.fingerprint

    def stop(self) -> None:
        if not self._released:
            self._released = True
            self._backend._release()


class Backend:
    """Factories for the core's objects, used by the dialogs."""

    finds_rooms = True

    def __init__(self, announce: bool = True):
        self.announce = announce
        self._lock = threading.Lock()
        self._server: Any = None
        self._announcer: Any = None
        self._holds = 0
        self._direct: DirectKeys | None = None
        self._direct_failed = False

    def make_server(self, tcp_port: int, udp_port: int, host: str = "0.0.0.0"):
        from ocm_core.net.server import ChatServer

        return ChatServer(host=host, tcp_port=tcp_port, udp_port=udp_port)

    def host_server(self, tcp_port: int, udp_port: int) -> tuple[HostedServer, bool]:
        """A hold on the app's running server, started on these ports if there is none
        yet; True when an already running one is reused (its ports may differ)."""
        with self._lock:
            if self._server is not None and self._server.running:
                self._holds += 1
                return HostedServer(self, self._server), True
        server = self.make_server(tcp_port, udp_port)
        server.start()
        announcer = None
        if self.announce:
            from ocm_core.net.discovery import Announcer

            announcer = Announcer(server)
            try:
                announcer.start()
            except Exception:  # the room works without being found; people type the address
                log.warning("could not announce the hosted server", exc_info=True)
                announcer = None
        with self._lock:
            self._server, self._announcer, self._holds = server, announcer, 1
        return HostedServer(self, server), False

    def _release(self) -> None:
        with self._lock:
            self._holds -= 1
            if self._holds > 0:
                return
            server, announcer = self._server, self._announcer
            self._server = self._announcer = None
        if announcer is not None:
            announcer.stop()  # withdrawn first, so nobody is offered a room that is closing
        if server is not None:
            server.stop()

    def make_client(self, host: str, tcp_port: int, expected_fingerprint: str | None = None) -> ChatClient:
        """`expected_fingerprint`: the identity an invite link promised; the server must show it."""
        from ocm_core.net.client import ChatClient

        return ChatClient(host, tcp_port, expected_fingerprint=expected_fingerprint, direct=self.direct_keys())

    def direct_keys(self) -> DirectKeys | None:
        """This install's key for direct messages, one for every room (loaded once); None
        when its folder cannot be written (the rooms work without direct messages)."""
        with self._lock:
            if self._direct is None and not self._direct_failed:
                from ocm_core.net.direct import DirectKeys

                try:
                    self._direct = DirectKeys.load()
                except Exception as exc:  # a broken or unwritable config folder costs only this feature
                    log.warning("direct messages are off: %s", exc)
                    self._direct_failed = True
            return self._direct

    def make_browser(self) -> RoomBrowser:
        from ocm_core.net.discovery import RoomBrowser

        return RoomBrowser()

    def next_free_ports(self, tcp_port: int, udp_port: int, host: str = "0.0.0.0") -> tuple[int, int]:
        from ocm_core.net.server import next_free_ports

        return next_free_ports(host, tcp_port, udp_port)

    def lan_address(self) -> str:
        from ocm_core.net.interfaces import lan_address

        return lan_address()
