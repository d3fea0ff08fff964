"""Nothing acknowledged is ever lost: a database that cannot be written (a full disk) and a
damaged database file. Registry cases run on a fake clock with a store whose commits are
made to fail; the real cases mount a tiny tmpfs under a server process and kill it with -9."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from support import EventLog, wait_until
from test_registry_durability import send

from ocm_core import wire as p
from ocm_core.errors import DatabaseDamaged
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer, next_free_ports
from ocm_core.sansio import events as ev
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.storage.roomstore import RoomStore

HOST, GUEST = ("10.0.0.1", 5001), ("10.0.0.2", 5002)


# --- the real thing: a full tmpfs under a server process, and kill -9 -------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk` with a file of its own."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


class ServerProcess:
    def __init__(self, db: Path, ports: tuple[int, int]):
        self.db, self.ports = db, ports
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []

    def start(self) -> None:
        tcp, udp = self.ports
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ocm_core",
                "--host",
                "127.0.0.1",
                "--tcp-port",
                str(tcp),
                "--udp-port",
                str(udp),
                "--db",
                str(self.db),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        for line in self.proc.stdout:
            self.output.append(line)
            if "listening on" in line:
                return
        raise AssertionError("the server did not start: " + "".join(self.output))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.output += self.proc.stdout.readlines()
        self.proc.stdout.close()


@pytest.mark.slow
def test_full_disk_and_kill_9_lose_no_acknowledged_message_and_never_number_backwards(tiny_disk):
    server = ServerProcess(tiny_disk / "server.db", next_free_ports("127.0.0.1", 21100, 21101))
    server.start()
    kwargs = dict(heartbeat_interval=0.3, lost_after=1.5, send_timeout=600.0)
    clients: list[ChatClient] = []
    try:
        host = ChatClient("127.0.0.1", server.ports[0], **kwargs)
        host.create_room("durable", "host")
        guest = ChatClient("127.0.0.1", server.ports[0], **kwargs)
        guest.join_room("durable", "guest")
        clients += [host, guest]
        host_log, guest_log = EventLog(host), EventLog(guest)
        sent = {guest.send(f"before {i}"): f"before {i}" for i in range(20)}
        guest_log.wait_type(ev.MessageSent, 20, timeout=10)

        filler = fill(tiny_disk)
        for i in range(150):
            sent[guest.send(f"full {i:03d} " + "x" * 200)] = f"full {i:03d} " + "x" * 200
        try:
            told = guest_log.wait_for(
                lambda s: [e for e in s if isinstance(e, ev.ErrorEvent) and "cannot save" in e.text],
                timeout=10,
                what="the sender told that the server cannot save",
            )
        except AssertionError:
            server.kill()
            raise AssertionError("".join(server.output)[-4000:]) from None
        acked_before_kill = {e.msg_id for e in guest_log.of_type(ev.MessageSent)}
        server.kill()  # while full
        log_text = "".join(server.output)
        assert log_text.count("cannot write to the database") == 1, log_text[-3000:]
        assert "Traceback" not in log_text, log_text[-3000:]

        server.start()  # still full: it must start and keep what it had
        wait_until(lambda: "cannot save" in (probe_chat(server.ports[0]) or ""), 10, "a full server that says so")
        server.kill()
        filler.unlink()  # space is back
        server.start()
        guest_log.wait_type(ev.MessageSent, len(sent), timeout=90)  # every message, in the end
        acked = {e.msg_id for e in guest_log.of_type(ev.MessageSent)}
        assert acked_before_kill <= acked and len(acked) == len(sent)
        texts = [m.text for m in host_log.wait_type(ev.ChatMessage, len(sent), timeout=30)]
        assert texts == list(sent.values())  # every one, once, in order: none acknowledged and lost
        seqs = [m.seq for m in host_log.of_type(ev.ChatMessage)]
        assert seqs == sorted(set(seqs))  # the room's numbering never went back
        assert told  # and the sender heard why its messages waited
        print(f"\nacknowledged before kill -9 while full: {len(acked_before_kill)}, lost: 0 of {len(sent)}")
    finally:
        for client in clients:
            client.leave()
        if server.proc and server.proc.poll() is None:
            server.kill()


def probe_chat(tcp_port: int, room: str = "durable") -> str | None:
    """Join a room over TCP; the refusal's sentence, or None when admitted."""
    client = ChatClient("127.0.0.1", tcp_port, timeout=2)
    try:
        client.join_room(room, f"probe-{uuid.uuid4().hex[:6]}")
    except Exception as exc:
        return str(exc)
    client.leave()
    return None


# --- a damaged database file ------------------------------------------------------------------


def damaged_copy(tmp_path: Path) -> Path:
    """A real database with rooms and messages, its pages past the first overwritten with junk."""
    path = tmp_path / "real.db"
    registry = RoomRegistry(store=RoomStore(path))
    host = registry.create_room("lobby", "host", HOST[0])
    send(registry, host, p.encode_heartbeat(0), HOST)
    for i in range(300):
        send(registry, host, p.encode_chat(i + 1, f"message {i} " + "y" * 100), HOST)
    registry._store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    rng = random.Random(12)
    for start in range(page, len(data), page):
        data[start : start + page] = rng.randbytes(page)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind", ["random bytes", "overwritten pages"])
def test_a_damaged_database_is_named_with_a_way_out_and_can_be_moved_aside(tmp_path, kind, caplog):
    if kind == "random bytes":
        db = tmp_path / "server.db"
        db.write_bytes(random.Random(7).randbytes(50_000))
    else:
        db = damaged_copy(tmp_path)
    before = db.read_bytes()
    server = ChatServer("127.0.0.1", 0, 0, db_path=db)
    with pytest.raises(DatabaseDamaged) as caught:
        server.start()
    sentence = str(caught.value)
    assert str(db) in sentence and "damaged" in sentence and "--move-damaged-db" in sentence and "--db" in sentence
    assert db.read_bytes() == before  # nothing is done to the file unasked
    assert not server.running

    caplog.set_level(logging.WARNING, logger="ocm_core.net.server")  # the move is reported: expected
    server = ChatServer("127.0.0.1", 0, 0, db_path=db, move_damaged_db=True)
    server.start()
    try:
        assert server.registry.room_names() == []
        [moved] = [f for f in tmp_path.iterdir() if ".damaged-" in f.name and not f.name.endswith(("-wal", "-shm"))]
        assert moved.read_bytes() == before
        assert any(str(moved) in r.getMessage() for r in caplog.records)
    finally:
        server.stop()


def test_ocm_server_says_the_database_is_damaged_without_a_traceback(tmp_path):
    db = damaged_copy(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocm_core",
            "--host",
            "127.0.0.1",
            "--tcp-port",
            "0",
            "--udp-port",
            "0",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert f"The database {db} is damaged" in result.stderr and "--move-damaged-db" in result.stderr


# --- a laptop that sleeps past the member timeout ---------------------------------------------


@pytest.mark.slow
def test_a_client_suspended_past_the_timeout_comes_back_by_itself(tmp_path):
    """SIGSTOP a real client process for longer than the member timeout, then SIGCONT it."""
    server = ChatServer("127.0.0.1", 0, 0, member_timeout=2.0)
    server.start()
    host = ChatClient("127.0.0.1", server.tcp_address[1], heartbeat_interval=0.5)
    host.create_room("nap", "host")
    host_log = EventLog(host)
    child = subprocess.Popen(
        [sys.executable, "-c", _SLEEPER, str(server.tcp_address[1])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "joined"
        child.stdin.write("send written before the nap\n")
        child.stdin.flush()
        host_log.wait_for(lambda s: [e for e in s if isinstance(e, ev.ChatMessage)], 5, "the first message")
        child.send_signal(signal.SIGSTOP)
        wait_until(lambda: server.registry.members("nap") == ["host"], 10, "the sleeper to time out")
        for i in range(3):
            host.send(f"while you slept {i}")
        child.send_signal(signal.SIGCONT)
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while not any(line.startswith(("resumed", "closed")) for line in lines) and time.monotonic() < deadline:
            lines.append(child.stdout.readline().strip())
        assert "resumed 3" in lines, lines
        wait_until(lambda: "sleeper" in server.registry.members("nap"), 5, "the sleeper back in the room")
        more = [child.stdout.readline().strip() for _ in range(3)]
        assert more == [f"chat while you slept {i}" for i in range(3)]  # below the notice
        host.send("welcome back")
        assert child.stdout.readline().strip() == "chat welcome back"  # and live again
    finally:
        host.leave()
        child.kill()
        child.wait()
        server.stop()


_SLEEPER = r"""
import sys, threading
from ocm_core.net.client import ChatClient
from ocm_core.sansio import events as ev

client = ChatClient("127.0.0.1", int(sys.argv[1]), heartbeat_interval=0.5)
client.join_room("nap", "sleeper")
print("joined", flush=True)

def show():
    while True:
        event = client.events.get()
        if isinstance(event, ev.Resumed):
            print(f"resumed {event.missed}", flush=True)
        elif isinstance(event, ev.ChatMessage):
            print(f"chat {event.text}", flush=True)
        elif isinstance(event, ev.RoomClosed):
            print(f"closed {event.reason}", flush=True)

threading.Thread(target=show, daemon=True).start()
for line in sys.stdin:
    if line.startswith("send "):
        client.send(line[5:].rstrip("\n"))
"""


# --- a full disk at start ------------------------------------------------------------------


def start_cli_server(db: Path, env: dict[str, str]) -> tuple[subprocess.Popen, list[str], int]:
    """`ocm-server --db DB` as a process; (process, its lines, TCP port) once it has said where
    its rooms are kept."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocm_core",
            "--host",
            "127.0.0.1",
            "--tcp-port",
            "0",
            "--udp-port",
            "0",
            "--db",
            str(db),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    port = 0
    for line in proc.stdout:
        lines.append(line)
        if "ocm-server listening on" in line:
            port = int(line.split("TCP 127.0.0.1:")[1].split()[0])
        if port and ("Rooms are kept" in line or "The database" in line):
            return proc, lines, port
    proc.wait()
    raise AssertionError("the server did not start:\n" + "".join(lines))


def stop_cli_server(proc: subprocess.Popen, lines: list[str]) -> None:
    proc.send_signal(signal.SIGINT)
    lines += proc.stdout.readlines()
    proc.stdout.close()
    assert proc.wait(10) == 0, "".join(lines)


def disk_env(disk: Path) -> dict[str, str]:
    """The server's data folder (identity, boot number) on `disk`, in English."""
    home = disk / "home"
    return dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        LANG="C.UTF-8",
        LANGUAGE="",
        LC_ALL="",
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
    )


@pytest.mark.slow
def test_a_server_whose_data_folder_is_on_a_full_disk_starts_and_its_rooms_come_back(tiny_disk):
    """Identity, boot number and database on a full disk: the server starts (the boot number
    from the clock), takes up the rooms the database holds, and says in one sentence that new
    messages wait; once there is room again they are taken."""
    env, db = disk_env(tiny_disk), tiny_disk / "server.db"
    proc, lines, port = start_cli_server(db, env)  # an identity and a room, while there is room
    keeper = ChatClient("127.0.0.1", port)
    keeper.create_room("kept", "host")
    keeper.send("written before the disk filled")
    EventLog(keeper).wait_type(ev.MessageSent)
    stop_cli_server(proc, lines)
    filler = fill(tiny_disk)

    proc, lines, port = start_cli_server(db, env)
    try:
        said = "".join(lines)
        assert "Traceback" not in said
        assert "cannot record this start" in said  # the boot number came from the clock instead
        assert f"The database {db} cannot be written now (its disk is full or failing)" in said
        assert [room.name for room in ChatClient("127.0.0.1", port).list_rooms()] == ["kept"]
        assert "cannot save" in (probe_chat(port, "kept") or "")  # a join waits for the disk, and is told so
        filler.unlink()
        wait_until(lambda: probe_chat(port, "kept") is None, 10, "a join once there is room again")
    finally:
        stop_cli_server(proc, lines)
    assert [room.name for room in RoomStore(db).rooms()] == ["kept"]


@pytest.mark.slow
def test_a_database_that_cannot_be_made_on_a_full_disk_leaves_the_server_serving_from_memory(tiny_disk):
    env = disk_env(tiny_disk)
    proc, lines, _port = start_cli_server(tiny_disk / "first.db", env)  # the identity, while there is room
    stop_cli_server(proc, lines)
    fill(tiny_disk)
    db = tiny_disk / "new" / "server.db"
    proc, lines, port = start_cli_server(db, env)
    try:
        said = "".join(lines)
        assert "Traceback" not in said
        assert f"The database {db} cannot be written (" in said and "rooms are kept in memory only" in said
        ana, bo = ChatClient("127.0.0.1", port), ChatClient("127.0.0.1", port)
        ana.create_room("new", "ana")
        bo.join_room("new", "bo")
        ana.send("from memory")
        assert [m.text for m in EventLog(bo).wait_type(ev.ChatMessage)] == ["from memory"]
        bo.leave()
        ana.leave()
    finally:
        stop_cli_server(proc, lines)
    assert "every room was told it closed" in "".join(lines)


def test_an_in_memory_server_starts_on_a_full_disk_as_the_apps_host_a_room_does(tiny_disk, monkeypatch):
    """The app's bundled server keeps no database, but its identity and boot number live in
    the data folder: on a full disk it still starts, and a second one after it too, with
    another boot number (its nonces never repeat those of the first)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tiny_disk / "data"))
    with ChatServer("127.0.0.1", 0, 0) as first:  # makes the identity while there is room
        identity = first.fingerprint
    fill(tiny_disk)
    with ChatServer("127.0.0.1", 0, 0) as again, ChatServer("127.0.0.1", 0, 0) as third:
        assert again.fingerprint == third.fingerprint == identity
        assert again.registry.member_keys.epoch != third.registry.member_keys.epoch
        client = ChatClient("127.0.0.1", again.tcp_address[1])
        client.create_room("lobby", "ana")
        client.leave()


# --- a damaged write-ahead log -----------------------------------------------------------------


def crashed_copy(tmp_path: Path, name: str) -> Path:
    """A database with a room, as a process killed mid-run leaves it: its write-ahead log not
    yet checkpointed into the file (copied while the store is still open)."""
    import shutil

    source = tmp_path / f"live-{name}"
    store = RoomStore(source)
    registry = RoomRegistry(store=store)
    registry.create_room("kept in the log", "host", "10.0.0.1")
    copy = tmp_path / name
    shutil.copy(source, copy)
    shutil.copy(str(source) + "-wal", str(copy) + "-wal")
    store.close()
    return copy


def test_a_damaged_write_ahead_log_is_said_in_one_sentence_and_kept_aside(tmp_path, caplog):
    good = RoomStore(crashed_copy(tmp_path, "good.db"))
    assert [room.name for room in good.rooms()] == ["kept in the log"] and good.damaged_log is None
    good.close()
    damaged = crashed_copy(tmp_path, "damaged.db")
    log_path = Path(str(damaged) + "-wal")
    data = bytearray(log_path.read_bytes())
    data[32 + 24 + 100] ^= 0xFF  # a byte of the first frame's page: its checksum no longer holds
    log_path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="ocm_core.storage.roomstore"):
        store = RoomStore(damaged)
    assert store.rooms() == []  # what SQLite passed over is lost...
    assert store.damaged_log is not None and store.damaged_log.read_bytes() == bytes(data)  # ...but kept
    assert [r.getMessage() for r in caplog.records] == [
        f"the write-ahead log of {damaged} was damaged: what was written after its last good entry is lost; "
        f"the damaged log is kept at {store.damaged_log}"
    ]
    store.close()


def test_a_reused_log_with_an_older_cycles_frames_at_its_end_is_not_damage():
    from ocm_core.storage import wal

    page = 1024
    header = wal.HEADER.pack(0x377F0682, 3007000, page, 1, 11, 22, 0, 0)
    frame = lambda salts: wal.FRAME_HEADER.pack(1, 1, *salts, 0, 0) + bytes(page)
    log = header + frame((11, 22)) * 2 + frame((5, 6)) * 3  # two of this cycle, three left from before
    assert wal.frames_of_this_cycle(log) == 2
    assert not wal.passed_over(log, 2) and wal.passed_over(log, 1)
    assert wal.passed_over(b"not a log" * 10, 0) and not wal.passed_over(b"", 0)
