"""Network facts a host needs to tell others how to reach it."""

from __future__ import annotations

import socket


def lan_address() -> str:
    """The address other machines on the LAN would use to reach this one, or 127.0.0.1.

    Connecting a UDP socket sends nothing; it only asks the kernel which local
    address it would route from, which is the LAN address on a typical machine.
    The target is a documentation-only address (TEST-NET-1), never contacted.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()
    return address if address and not address.startswith("0.") else "127.0.0.1"
