"""Network facts a host needs to tell others how to reach it."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


def lan_address(interface_addresses: Callable[[], Iterable[str]] | None = None) -> str:
    """The address other machines on the LAN would use to reach this one, or 127.0.0.1.

    Connecting a UDP socket sends nothing; it only asks the kernel which local
    address it would route from, which is the LAN address on a typical machine.
    The target is a documentation-only address (TEST-NET-1), never contacted. A LAN with
    no default route (no internet: a direct cable, a hotspot without uplink, a school's
    closed network) has no such route: then the interfaces' own addresses are asked.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
    except OSError:
        address = ""
    finally:
        probe.close()
    if address and not address.startswith(("0.", "127.")):
        return address
    chosen = pick_lan_address((interface_addresses or _interface_addresses)())
    return chosen or "127.0.0.1"


def pick_lan_address(addresses: Iterable[str]) -> str | None:
    """The IPv4 address others most likely reach: a private one (10/8, 172.16/12, 192.168/16)
    first, then any other that is not loopback, link-local or unspecified."""
    usable = [address for address in map(lan_ipv4, addresses) if address is not None]
    usable.sort(key=lambda address: not address.is_private)
    return str(usable[0]) if usable else None


def lan_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """`text` as an IPv4 address another machine could reach it by; None for IPv6, text that
    is no address, and loopback, link-local, unspecified or multicast addresses."""
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return None
    if address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast:
        return None
    return address


def interface_ipv4s() -> list[tuple[str, int]]:
    """(address, prefix length) of every IPv4 address on this machine's interfaces, asked
    through ifaddr (which python-zeroconf uses too: each OS its own way). May raise OSError."""
    import ifaddr

    return [
        (ip.ip, ip.network_prefix) for adapter in ifaddr.get_adapters() for ip in adapter.ips if isinstance(ip.ip, str)
    ]  # IPv6 comes as a tuple


def _interface_addresses() -> list[str]:
    try:
        return [address for address, _prefix in interface_ipv4s()]
    except OSError as exc:
        log.info("cannot list network interfaces: %s", exc)
        return []
