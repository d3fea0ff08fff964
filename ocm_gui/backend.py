"""The one place the GUI reaches into ``ocm_core`` to make servers and clients.

Windows receive a ``Backend`` so tests can hand them a fake one; the real one
imports the core lazily.
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
