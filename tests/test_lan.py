"""Discovery across real network namespaces: a server announced in one namespace is
found from another over a bridge, by mDNS and by the broadcast probe, and with multicast
dropped by iptables the probe alone still finds it. Root only; skipped elsewhere."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from netns import NamespaceLan

from ocm_core.net import discovery as d

pytestmark = pytest.mark.skipif(NamespaceLan.unavailable() is not None, reason=str(NamespaceLan.unavailable()))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def namespace_env() -> dict[str, str]:
    """The test's environment (its private data and config directories, from conftest) with
    discovery's real settings: inside the namespaces every interface is ours."""
    env = {k: v for k, v in os.environ.items() if k not in (d.SCOPE_ENV, d.PORT_ENV)}
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", PYTHONPATH=ROOT)
    return env


FOUND_WITHIN = 3.0

# Runs in a namespace: a RoomBrowser with the methods asked for, printing each update as a JSON line.
FINDER = """
import json, queue, sys, time
from ocm_core.net import discovery as d
mdns, broadcast, seconds = sys.argv[1] == "1", sys.argv[2] == "1", float(sys.argv[3])
browser = d.RoomBrowser(d.Scope(mdns=mdns, broadcast=broadcast))
browser.start()
end = time.monotonic() + seconds
servers = {}
while time.monotonic() < end:
    if browser.servers() != servers:
        servers = browser.servers()
        print(json.dumps({"servers": {k: sorted(v) for k, v in servers.items()}}), flush=True)
    try:
        rooms = browser.updates.get(timeout=0.1)
    except queue.Empty:
        continue
    found = [[r.address, r.tcp_port, r.room, r.members, r.locked, r.host] for r in rooms]
    print(json.dumps({"t": round(time.monotonic() - browser.started_at, 3), "rooms": found}), flush=True)
browser.stop()
"""

CREATE_ROOMS = """
import sys
from ocm_core.net.client import ChatClient
for index, name in enumerate(sys.argv[1:]):
    ChatClient("127.0.0.1", 9090).create_room(name, f"ホスト{index}", "pw" if index % 2 else None)
"""


class Lines:
    def __init__(self, proc: subprocess.Popen):
        self.proc, self.queue = proc, queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.queue.put(line.rstrip("\n"))

    def expect(self, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        seen = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=remaining)
            except queue.Empty:
                break
            seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"no matching line within {timeout}s; saw {seen}")


@pytest.fixture
def lan():
    with NamespaceLan(2) as net:
        procs: list[subprocess.Popen] = []

        def start(index: int, *args: str) -> Lines:
            proc = net.run(
                index, *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=namespace_env(), cwd=ROOT
            )
            procs.append(proc)
            return Lines(proc)

        net.start = start  # type: ignore[attr-defined]
        try:
            yield net
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(10)


def host_server(lan, *rooms: str) -> Lines:
    # one script in the namespace creates every room: allow it more than the usual 5 per address
    server = lan.start(
        0,
        sys.executable,
        "-m",
        "ocm_core",
        "--no-db",
        "--member-timeout",
        "120",
        "--max-rooms-per-address",
        str(max(5, len(rooms))),
    )
    server.expect(lambda line: "Announced on the LAN" in line, 15)
    made = lan.run_wait(0, sys.executable, "-c", CREATE_ROOMS, *rooms, env=namespace_env(), cwd=ROOT)
    assert made.returncode == 0, made.stderr
    return server


def finder(lan, mdns: bool, broadcast: bool, seconds: float) -> Lines:
    return lan.start(1, sys.executable, "-c", FINDER, "1" if mdns else "0", "1" if broadcast else "0", str(seconds))


def found(line: str, room: str) -> bool:
    return any(r[2] == room for r in json.loads(line).get("rooms", []))


@pytest.mark.parametrize("mdns, broadcast", [(True, False), (False, True)], ids=["mdns", "broadcast"])
def test_a_room_in_one_namespace_is_found_from_another(lan, mdns, broadcast):
    host_server(lan, "雑談")
    line = finder(lan, mdns, broadcast, 6).expect(lambda out: found(out, "雑談"), 15)
    update = json.loads(line)
    assert update["rooms"] == [[lan.address(0), 9090, "雑談", 1, False, "ホスト0"]]
    print(f"found by {'mDNS' if mdns else 'broadcast'} {update['t']:.3f} s after the browser started")
    assert update["t"] < FOUND_WITHIN


def test_a_stopped_server_leaves_the_live_list(lan):
    server = host_server(lan, "雑談")
    live = finder(lan, True, True, 20)
    updates: list[list] = []
    both = [False]

    def listed_and_found_both_ways(line: str) -> bool:
        update = json.loads(line)
        if "rooms" in update:
            updates.append(update["rooms"])
        else:
            both[0] = update["servers"] == {f"{lan.address(0)}:9090": ["broadcast", "mdns"]}
        return both[0] and bool(updates) and updates[-1] != []

    live.expect(listed_and_found_both_ways, 15)
    assert all(len(rooms) <= 1 for rooms in updates)  # one server, found twice, listed once
    stopped = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    live.expect(lambda out: json.loads(out).get("rooms") == [], 10)
    print(f"gone from the list {time.monotonic() - stopped:.2f} s after SIGTERM")
    assert server.proc.wait(10) == 0


@pytest.mark.skipif(shutil.which("iptables") is None, reason="iptables is missing (scripts/setup.sh installs it)")
def test_with_multicast_dropped_the_broadcast_probe_still_finds_it(lan):
    for index in (0, 1):
        for chain in ("INPUT", "OUTPUT"):
            rule = lan.run_wait(index, "iptables", "-A", chain, "-d", "224.0.0.0/4", "-j", "DROP")
            assert rule.returncode == 0, rule.stderr
    host_server(lan, "雑談")
    mdns_only = finder(lan, True, False, 4)
    both = finder(lan, True, True, 4)
    line = both.expect(lambda out: found(out, "雑談"), 15)
    assert json.loads(line)["t"] < FOUND_WITHIN
    with pytest.raises(AssertionError, match="no matching line"):
        mdns_only.expect(lambda out: found(out, "雑談"), 6)  # the rule does drop mDNS


def test_ocm_chat_discover_prints_one_line_per_room(lan):
    host_server(lan, "雑談", "Design review")
    started = time.monotonic()
    result = lan.run_wait(
        1,
        sys.executable,
        "-c",
        "import sys; from ocm_core.cli.chat import chat_main; sys.exit(chat_main(['--discover']))",
        env=namespace_env(),
        cwd=ROOT,
    )
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines == [
        f"Design review  (1 person, host ホスト1, locked)  at {lan.address(0)}:9090",
        f"雑談  (1 person, host ホスト0)  at {lan.address(0)}:9090",
    ]
    print(f"ocm-chat --discover took {took:.2f} s")


PROBE_SIZES = (63, 64, 300, 1400)  # three answered: within one address's burst of the rate limit

SEND_PROBES = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
sock.settimeout(1.0)
for size in map(int, sys.argv[2:]):
    probe = b"OCMd\\x01\\x01" + size.to_bytes(8, "big") + bytes(size - 14)
    sock.sendto(probe, (sys.argv[1], 9089))
    try:
        answer = sock.recv(4096)
        print(size, len(answer), answer[6:14] == size.to_bytes(8, "big"), flush=True)
    except TimeoutError:
        print(size, 0, False, flush=True)
"""


def test_the_probe_answer_is_never_larger_than_the_probe(lan):
    host_server(lan, *[f"部屋 {i:02} " + "長い名前" * 6 for i in range(40)])
    result = lan.run_wait(
        1, sys.executable, "-c", SEND_PROBES, "10.77.0.255", *map(str, PROBE_SIZES), env=namespace_env(), cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    answers = {
        int(size): (int(length), ok == "True")
        for size, length, ok in (line.split() for line in result.stdout.split("\n") if line)
    }
    print("probe bytes -> answer bytes:", {size: length for size, (length, _) in answers.items()})
    assert answers[63] == (0, False)  # under the minimum: no answer
    for size in PROBE_SIZES[1:]:
        length, matches = answers[size]
        assert 0 < length <= size and matches
    assert answers[1400][0] > answers[300][0]  # a bigger probe gets more of the 40 rooms


def test_a_host_on_a_lan_without_a_default_route_shares_its_lan_address(lan):
    """No internet, no gateway (a closed school network, a hotspot without uplink): the
    address to share is still the LAN one, not 127.0.0.1 (a new user was told to share that)."""
    result = lan.run_wait(
        0,
        sys.executable,
        "-c",
        "from ocm_core.net.interfaces import lan_address; print(lan_address())",
        env=namespace_env(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == lan.address(0)


def test_the_lan_address_is_a_private_one_when_there_is_a_choice():
    from ocm_core.net.interfaces import pick_lan_address

    assert pick_lan_address(["127.0.0.1", "169.254.3.4", "8.8.4.4", "192.168.1.20", "::1"]) == "192.168.1.20"
    assert pick_lan_address(["127.0.0.1", "203.0.113.9"]) == "203.0.113.9"
    assert pick_lan_address(["127.0.0.1", "0.0.0.0", "fe80::1", "not an address"]) is None
