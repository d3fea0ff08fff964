"""What the dialogs make from the core: servers, clients, free ports, the LAN address.

The dialogs receive a ``Backend`` instead of constructing these themselves, so that a
test can hand them a fake one (tests/gui/gui_helpers.py's FakeBackend) and exercise
the dialogs without sockets. It is not the GUI's only import from ``ocm_core``: the
windows also use the core's errors, events and words (``ocm_core.cli.EVENT_WORDS``)
directly, which are plain values, not things that do I/O.
"""

from __future__ import annotations


class Backend:
    """Factories for the core's objects, used by the dialogs."""

    def make_server(self, tcp_port: int, udp_port: int, host: str = "0.0.0.0"):
        from ocm_core.server import ChatServer

        return ChatServer(host=host, tcp_port=tcp_port, udp_port=udp_port)

    def make_client(self, host: str, tcp_port: int):
        from ocm_core.client import ChatClient

        return ChatClient(host, tcp_port)

    def next_free_ports(self, tcp_port: int, udp_port: int, host: str = "0.0.0.0") -> tuple[int, int]:
        from ocm_core.server import next_free_ports

        return next_free_ports(host, tcp_port, udp_port)

    def lan_address(self) -> str:
        from ocm_core.netutil import lan_address

        return lan_address()
