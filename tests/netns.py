"""A small LAN of network namespaces for the discovery tests (root only).

A "switch" namespace holds a bridge; each host namespace is joined to it by a veth
pair and gets 10.77.0.N/24. Every address and packet stays inside these namespaces.
"""

from __future__ import annotations

import os
import shutil
import subprocess

SUBNET = "10.77.0"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class NamespaceLan:
    def __init__(self, hosts: int):
        self.tag = f"ocm{os.getpid() % 100000}"
        self.switch = f"{self.tag}sw"
        self.hosts = [f"{self.tag}h{i}" for i in range(1, hosts + 1)]
        self.made: list[str] = []

    @staticmethod
    def unavailable() -> str | None:
        """Why namespaces cannot be made here, or None."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return "network namespaces need root"
        if shutil.which("ip") is None:
            return "the ip command (iproute2) is missing"
        probe = f"ocmprobe{os.getpid()}"
        try:
            _ip("netns", "add", probe)
        except (subprocess.CalledProcessError, OSError) as exc:
            return f"cannot create a network namespace: {getattr(exc, 'stderr', exc)!r}"
        _ip("netns", "del", probe)
        return None

    def address(self, index: int) -> str:
        return f"{SUBNET}.{index + 1}"

    def __enter__(self) -> NamespaceLan:
        try:
            for name in [self.switch, *self.hosts]:
                _ip("netns", "add", name)
                self.made.append(name)
                _ip("-n", name, "link", "set", "lo", "up")
            _ip("-n", self.switch, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
            _ip("-n", self.switch, "link", "set", "br0", "up")
            for index, host in enumerate(self.hosts):
                port = f"p{index}"
                _ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host)
                _ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
                _ip("-n", host, "addr", "add", f"{self.address(index)}/24", "brd", f"{SUBNET}.255", "dev", "eth0")
                _ip("-n", host, "link", "set", "eth0", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        self.made.clear()

    def run(self, index: int, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.hosts[index], *args], **kwargs)

    def run_wait(self, index: int, *args: str, timeout: float = 20, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ip", "netns", "exec", self.hosts[index], *args], capture_output=True, text=True, timeout=timeout, **kwargs
        )
