"""The history on each PC, through the terminal tools as people run them: lines exchanged,
the room ended or its server killed, and each member's own `ocm-chat --search` and
`--history` still find them; two servers' rooms of one name kept apart; a member suspended
past the server's timeout, or started again, gets what it missed once."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest
from test_cli import Process, processes  # processes: a fixture, used by name

pytestmark = pytest.mark.slow


def server(processes, *extra: str) -> tuple[Process, str]:
    process = processes("ocm_core", "--host", "127.0.0.1", "--tcp-port", "0", "--udp-port", "0", "--no-db", *extra)
    port = process.expect(r"listening on TCP 127\.0\.0\.1:(\d+) and UDP")[1]
    return process, f"127.0.0.1:{port}"


def chat(processes, history, address: str, *args: str) -> Process:
    return processes("ocm_core.cli.chat", "--history-file", str(history), "--server", address, *args)


def read(history, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ocm_core.cli.chat", "--history-file", str(history), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
    )


def test_the_host_ends_the_room_and_each_member_still_finds_the_lines(processes, tmp_path):
    _server, address = server(processes)
    host = chat(processes, tmp_path / "host.db", address, "--create", "定例", "--name", "アリス")
    host.expect(r"host of room '定例'")
    member = chat(processes, tmp_path / "member.db", address, "--join", "定例", "--name", "Bob")
    member.expect(r"in room '定例'")
    host.type("今日の議事録を共有します")
    member.expect(r"アリス: 今日の議事録を共有します")
    member.type("The MEETING moved to 3 pm")
    host.expect(r"Bob: The MEETING moved to 3 pm")
    member.expect(r"Bob: The MEETING moved to 3 pm ✓")
    host.type("/quit")
    assert host.finish() == 0
    member.expect(r"The host closed the room")
    member.type("")
    assert member.finish() == 0

    found = read(tmp_path / "member.db", "--search", "議事録")
    assert found.returncode == 0, found.stderr
    assert re.search(
        r"定例 \(127\.0\.0\.1:\d+\)  \[\d{4}-\d\d-\d\d \d\d:\d\d\] アリス: 今日の議事録を共有します", found.stdout
    )
    found = read(tmp_path / "member.db", "--search", "meeting")  # Latin, case folded
    assert "Bob: The MEETING moved to 3 pm" in found.stdout
    found = read(tmp_path / "host.db", "--search", "件")  # nothing: said plainly, exit 1
    assert found.returncode == 1 and "Nothing in your history contains “件”" in found.stdout
    shown = read(tmp_path / "member.db", "--history", "定例")
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert re.match(r"== 定例 at 127\.0\.0\.1:\d+ \(ended ", lines[0])
    said = [line for line in lines if "アリス:" in line or "Bob:" in line]
    assert [line.split("] ", 1)[1] for line in said] == [
        "アリス: 今日の議事録を共有します",
        "Bob: The MEETING moved to 3 pm",
    ]
    assert "The host closed the room" in lines[-1]
    # The host's own history holds its lines and the member's, and the room's end.
    host_side = read(tmp_path / "host.db", "--history", "定例").stdout
    assert "アリス: 今日の議事録を共有します" in host_side and "Bob: The MEETING moved" in host_side
    assert re.match(r"== 定例 at 127\.0\.0\.1:\d+ \(ended ", host_side) and "You closed the room." in host_side


def test_a_killed_server_leaves_each_members_history_whole(processes, tmp_path):
    room_server, address = server(processes)
    host = chat(processes, tmp_path / "host.db", address, "--create", "ops", "--name", "Ann")
    host.expect(r"host of room 'ops'")
    member = chat(processes, tmp_path / "member.db", address, "--join", "ops", "--name", "Bo")
    member.expect(r"in room 'ops'")
    for number in range(5):
        host.type(f"status {number} ok")
        member.expect(rf"Ann: status {number} ok")
    room_server.proc.send_signal(signal.SIGKILL)  # the host's PC vanished, and so did the member's client
    room_server.finish()
    member.proc.send_signal(signal.SIGKILL)
    member.finish()
    found = read(tmp_path / "member.db", "--search", "ok")
    assert [line.rsplit("Ann: ", 1)[1] for line in found.stdout.splitlines()] == [f"status {n} ok" for n in range(5)]


def test_two_servers_rooms_of_one_name_are_two_conversations(processes, tmp_path):
    _first, first_address = server(processes)
    _second, second_address = server(processes)
    history = tmp_path / "mine.db"
    for address, line in ((first_address, "on the first server"), (second_address, "on the second server")):
        host = chat(processes, tmp_path / f"host-{line[-6:]}.db", address, "--create", "lobby", "--name", "Host")
        host.expect(r"host of room 'lobby'")
        me = chat(processes, history, address, "--join", "lobby", "--name", "Me")
        me.expect(r"in room 'lobby'")
        host.type(line)
        me.expect(line)
        me.type("/quit")
        assert me.finish() == 0
        host.type("/quit")
        assert host.finish() == 0
    shown = read(history, "--history", "lobby").stdout
    headings = [line for line in shown.splitlines() if line.startswith("== ")]
    assert len(headings) == 2 and {first_address, second_address} == {
        re.search(r"at (\S+)", heading)[1] for heading in headings
    }
    blocks = shown.split("== ")[1:]
    assert sum("on the first server" in block for block in blocks) == 1
    assert all(("on the first server" in block) != ("on the second server" in block) for block in blocks)
    found = read(history, "--search", "server").stdout.splitlines()
    assert sorted(re.search(r"\((\S+)\)", line)[1] for line in found) == sorted([first_address, second_address])


def test_a_member_back_from_suspension_or_a_restart_gets_what_it_missed_once(processes, tmp_path):
    _server, address = server(processes, "--member-timeout", "7")  # above the 3 s heartbeat
    host = chat(processes, tmp_path / "host.db", address, "--create", "desk", "--name", "Ann")
    host.expect(r"host of room 'desk'")
    history = tmp_path / "member.db"
    member = chat(processes, history, address, "--join", "desk", "--name", "Bo")
    member.expect(r"in room 'desk'")
    host.type("before the nap")
    member.expect(r"Ann: before the nap")
    member.proc.send_signal(signal.SIGSTOP)  # a laptop asleep, past the server's member timeout
    host.expect(r"Bo stopped responding and was removed", timeout=30)
    host.type("while you slept")
    host.expect(r"Ann: while you slept ✓")
    member.proc.send_signal(signal.SIGCONT)
    member.expect(r"You were away; 1 message you missed is below", timeout=20)
    member.expect(r"Ann: while you slept")
    member.type("/quit")
    assert member.finish() == 0
    host.type("while you were gone")
    host.expect(r"Ann: while you were gone ✓")
    again = chat(processes, history, address, "--join", "desk", "--name", "Bo")  # a new process, a new key
    again.expect(r"in room 'desk'")
    missed = again.expect(r"Ann: while you were gone(.*)")
    assert "earlier" not in missed[1]  # news to this person, not old history
    again.type("/quit")
    assert again.finish() == 0
    assert not any("before the nap" in line or "while you slept" in line for line in again.seen)
    shown = read(history, "--history", "desk").stdout
    for line in ("before the nap", "while you slept", "while you were gone"):
        assert shown.count(f"Ann: {line}") == 1, shown


def test_a_history_read_into_a_pipe_that_closes_early_ends_quietly(tmp_path):
    from ocm_core.storage.history import HistoryStore, Line, LineKind

    store = HistoryStore(tmp_path / "mine.db")
    room = store.conversation("FP", "a" * 32, room="lobby", server="192.0.2.7:9090", me="Me")
    store.add_many(room, [Line(n, 1000.0 + n, LineKind.CHAT, "Bo", f"line {n} " + "x" * 200) for n in range(1, 3000)])
    store.close()
    reader = subprocess.Popen(
        [sys.executable, "-m", "ocm_core.cli.chat", "--history-file", str(tmp_path / "mine.db"), "--history", "lobby"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stdout.readline().startswith(b"== lobby")
    reader.stdout.close()  # as `| head -1` does
    assert reader.wait(30) == 0
    assert b"Traceback" not in reader.stderr.read()
