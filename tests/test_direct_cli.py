"""Direct messages as the issue checks them: three terminal clients (each its own install,
so its own key), a message from one to another shown there and nowhere else, and its text
found neither on the server's disk, nor in the server process's memory, nor on the wire."""

from __future__ import annotations

import os
import socket
import sys
import threading

import pytest
from test_cli import processes
from test_encryption import LoopbackCapture

from ocm_core.net.client import ChatClient
from ocm_core.net.direct import DirectKeys

pytestmark = pytest.mark.slow

SECRET = "ZEBRA-SECRET-4217"
SECRET_JA = "極秘の打ち合わせ"


def process_memory(pid: int) -> bytes:
    """The readable, writable memory of a process (its heap and stacks), as root on Linux."""
    chunks = []
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or "w" not in fields[1]:
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                chunks.append(mem.read(end - start))
            except (OSError, ValueError, OverflowError):
                continue
    return b"".join(chunks)


def install(tmp_path, who: str) -> dict[str, str]:
    """A terminal client's own install: its own folders, so its own key."""
    home = tmp_path / who
    home.mkdir()
    return {"OCM_HOME": str(home)}


@pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="AF_PACKET capture and /proc/PID/mem: Linux as root"
)
def test_three_terminals_a_direct_message_is_seen_by_its_recipient_alone(processes, tmp_path):
    db = tmp_path / "server.db"
    server = processes(
        "ocm_core", "--host", "127.0.0.1", "--tcp-port", "0", "--udp-port", "0", "--db", str(db), "--log-level", "DEBUG"
    )
    port = server.expect(r"listening on TCP 127\.0\.0\.1:(\d+) and UDP")[1]
    address = f"127.0.0.1:{port}"
    capture = LoopbackCapture()
    chat = ["ocm_core.cli.chat", "--no-history", "--server", address]
    alice = processes(*chat, "--create", "office", "--name", "alice", env=install(tmp_path, "alice"))
    alice.expect(r"host of room 'office'")
    bob = processes(*chat, "--join", "office", "--name", "bob", env=install(tmp_path, "bob"))
    bob.expect(r"in room 'office'")
    carol = processes(*chat, "--join", "office", "--name", "carol", env=install(tmp_path, "carol"))
    carol.expect(r"in room 'office'")
    alice.expect(r"in the room: .*carol")

    alice.type(f"/dm bob {SECRET} {SECRET_JA}")
    alice.expect(rf"✉ you → bob: {SECRET} {SECRET_JA}")
    bob.expect(rf"✉ alice → you: {SECRET} {SECRET_JA}")
    alice.expect(r"✉ delivered to bob")
    bob.type("/dm alice got it")
    alice.expect(r"✉ bob → you: got it")
    alice.type("a line for everyone")  # carol is alive and reading the room all along
    carol.expect(r"alice: a line for everyone")

    memory = process_memory(server.proc.pid)
    wire = capture.stop()
    for process in (alice, bob, carol):
        process.type("/quit")
        process.finish()
    server.kill()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("server.db*"))
    log_text = "\n".join(server.seen + list(server.lines.queue))
    assert "direct message" in log_text  # the DEBUG log did say one was relayed, without its text
    assert not any(SECRET in line or "✉" in line for line in carol.seen), carol.seen
    # each scan can find what is there: the room's name is in all three
    assert b"office" in memory and b"office" in stored and b"office" in wire
    for secret in (SECRET, SECRET_JA):
        raw = secret.encode("utf-8")
        assert raw not in stored, f"{secret} on the server's disk"
        assert raw not in memory, f"{secret} in the server's memory"
        assert raw not in wire, f"{secret} on the wire"
        assert secret not in log_text
    assert b"a line for everyone" not in wire  # room traffic is sealed too: the capture sees only ciphertext
    assert len(capture.frames) > 20  # it did capture the room's datagrams


def test_away_back_who_and_refusals_in_the_terminal(processes, tmp_path):
    server = processes("ocm_core", "--host", "127.0.0.1", "--tcp-port", "0", "--udp-port", "0", "--no-db")
    address = "127.0.0.1:" + server.expect(r"listening on TCP 127\.0\.0\.1:(\d+) and UDP")[1]
    chat = ["ocm_core.cli.chat", "--no-history", "--server", address]
    alice = processes(*chat, "--create", "office", "--name", "alice", env=install(tmp_path, "alice"))
    alice.expect(r"host of room 'office'")
    bob = processes(*chat, "--join", "office", "--name", "bob", env=install(tmp_path, "bob"))
    bob.expect(r"in room 'office'")
    alice.type("/away")
    alice.expect(r"You are shown as away")
    bob.expect(r"\* alice is away\.")
    bob.type("/who")
    bob.expect(r"here: alice \(away\)")
    alice.type("/back")
    bob.expect(r"\* alice is back\.")
    alice.type("@bob the slides, please")
    bob.expect(r"^» \[\d\d:\d\d\] \[\d+\] alice: @bob the slides, please$")  # a line naming you is marked
    alice.type("no names here")
    bob.expect(r"^\[\d\d:\d\d\] \[\d+\] alice: no names here$")
    bob.type("/dm nobody hello")
    bob.expect(r"Nobody called nobody is in this room")
    bob.type("/dm bob hello")
    bob.expect(r"That is you")
    bob.type("/code alice")
    code = bob.expect(r"✉ Safety code: ([\d ]+) \(compare it aloud with alice\)")[1]
    alice.type("/code bob")
    alice.expect(rf"✉ Safety code: {code} \(compare it aloud with bob\)")  # the same digits on both sides
    # someone typing to alice, from an app: her terminal says so, once per spell
    dan = ChatClient("127.0.0.1", int(address.rsplit(":", 1)[1]), direct=DirectKeys.load(tmp_path / "dan"))
    dan.join_room("office", "dan")
    try:
        alice.expect(r"in the room: .*dan")
        dan.typing("alice")
        alice.expect(r"✉ dan is typing to you…")
    finally:
        dan.leave()
        dan.direct.close()
    for process in (alice, bob):
        process.type("/quit")
        assert process.finish() == 0


def test_a_name_with_a_space_is_found_whole():
    from ocm_core.cli.direct import split_recipient

    members = ("山田", "山田 太郎", "bob")
    assert split_recipient("山田 太郎 資料を送りました", members) == ("山田 太郎", "資料を送りました")
    assert split_recipient("山田 こんにちは", members) == ("山田", "こんにちは")
    assert split_recipient("carol hi there", members) == ("carol", "hi there")
