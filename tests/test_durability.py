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
from support import EventLog, FakeClock, wait_until

from ocm_core import wire as p
from ocm_core.errors import DatabaseDamaged, RegistryError
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer, next_free_ports
from ocm_core.sansio import events as ev
from ocm_core.sansio.registry import STORE_PROBE_SECONDS, RoomRegistry
from ocm_core.sansio.relay import CANNOT_SAVE_TEXT
from ocm_core.storage.roomstore import RoomStore, StoreWriteError
from ocm_core.wire import ErrorCode, EventType, Status

HOST, GUEST = ("10.0.0.1", 5001), ("10.0.0.2", 5002)


class BreakableStore(RoomStore):
    """A real SQLite store whose commits fail while `full` is set, as they do on a full disk."""

    full = False

    def _commit(self) -> None:
        if self.full:
            self._db.rollback()
            raise StoreWriteError(self.path, "database or disk is full")
        super()._commit()


def send(registry, token, body, address):
    return registry.handle_datagram(p.Datagram("lobby", token, body), address)


def frames_to(outbound, address):
    return [p.decode_body(p.decode_datagram(data).body) for to, data in outbound if to == address]


@pytest.fixture
def room(tmp_path):
    clock = FakeClock()
    store = BreakableStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, wall_clock=lambda: 1_700_000_000.0, store=store)
    host = registry.create_room("lobby", "host", HOST[0])
    guest, _ = registry.join_room("lobby", "guest", GUEST[0])
    send(registry, host, p.encode_heartbeat(1), HOST)
    send(registry, guest, p.encode_heartbeat(1), GUEST)
    yield registry, store, clock, host, guest
    store.close()


def test_a_message_that_cannot_be_stored_is_neither_relayed_nor_acknowledged_and_its_sender_is_told(room, caplog):
    registry, store, clock, host, guest = room
    out = send(registry, guest, p.encode_chat(1, "stored"), GUEST)
    assert frames_to(out, GUEST) == [p.ChatAck(1, 2)]
    store.full = True
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the one line an operator must see: expected

    out = send(registry, guest, p.encode_chat(2, "lost if acknowledged"), GUEST)
    assert frames_to(out, HOST) == []
    [told] = frames_to(out, GUEST)
    assert told == p.ErrorFrame(ErrorCode.CANNOT_SAVE, CANNOT_SAVE_TEXT)
    # More messages and a retransmission: still nothing relayed or acknowledged, and no more lines.
    batch = [(p.Datagram("lobby", guest, p.encode_chat(i, f"m{i}", 2)), GUEST) for i in (2, 3, 4)]
    assert registry.handle_datagrams(batch) == []
    assert registry.snapshot(guest, GUEST[0], "lobby")["seq"] == 2  # the numbering did not move on
    failures = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(failures) == 1 and str(store.path) in failures[0].getMessage()
    with pytest.raises(
        RegistryError,
        match=r"^the server cannot save anything right now \(its disk is full or "
        r"failing\); try again later$",
    ) as caught:
        registry.join_room("lobby", "late", "10.0.0.3")
    assert caught.value.status is Status.CANNOT_SAVE

    store.full = False  # space is back: the next probe sees it, with no one's help
    clock.now += STORE_PROBE_SECONDS - 0.001
    registry.tick()
    assert registry.saving_fails  # not probed before its time
    clock.now += 0.001
    registry.tick()
    assert not registry.saving_fails
    out = send(registry, guest, p.encode_chat(2, "lost if acknowledged", 2), GUEST)
    assert frames_to(out, GUEST) == [p.ChatAck(2, 3)]
    [event] = frames_to(out, HOST)
    assert (event.seq, event.text) == (3, "lost if acknowledged")
    assert [r.getMessage() for r in caplog.records if r.name == "ocm_core.sansio.registry"] == [
        f"cannot write to the database {store.path} (database or disk is full); new messages and joins are refused, "
        f"and their senders told, until writing works again (checked every {STORE_PROBE_SECONDS:g} s)",
        f"the database {store.path} can be written again; messages are accepted again",
    ]


def test_plain_text_and_leaving_wait_while_the_database_fails(room, caplog):
    registry, store, clock, host, guest = room
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the outage line is expected
    store.full = True
    send(registry, guest, p.encode_chat(1, "x"), GUEST)  # finds out that the disk is full
    assert send(registry, guest, b"bare text", GUEST) == []  # a bare-text client reads no error frames
    assert send(registry, guest, p.encode_leave(), GUEST) == []  # it times out once the disk is back
    assert registry.members("lobby") == ["guest", "host"]
    assert (registry.dropped["cannot save"], registry.dropped["leave while the database fails"]) == (2, 1)


def test_a_batch_whose_commit_fails_leaves_memory_as_the_disk_has_it(room, tmp_path, caplog):
    registry, store, clock, host, guest = room
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the outage line is expected
    store.full = True
    # The first datagram is handled while the store still seems fine: only the commit fails.
    out = registry.handle_datagrams(
        [
            (p.Datagram("lobby", guest, p.encode_chat(1, "one")), GUEST),
            (p.Datagram("lobby", guest, p.encode_chat(2, "two")), GUEST),
        ]
    )
    assert [type(f) for f in frames_to(out, GUEST)] == [p.ErrorFrame]
    assert frames_to(out, HOST) == []
    # A retransmission is not taken for a duplicate of a message that never reached the disk.
    store.full = False
    clock.now += STORE_PROBE_SECONDS
    registry.tick()
    out = send(registry, guest, p.encode_chat(1, "one"), GUEST)
    assert frames_to(out, GUEST) == [p.ChatAck(1, 2)]
    store.close()  # one server per file: this one steps aside for the reopening
    reopened = RoomRegistry(store=RoomStore(tmp_path / "server.db"))
    assert reopened.snapshot(guest, GUEST[0], "lobby")["seq"] == 2
    reopened._store.close()


def test_members_are_not_timed_out_while_their_leaving_cannot_be_stored(room, caplog):
    registry, store, clock, host, guest = room
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the outage line is expected
    store.full = True
    send(registry, guest, p.encode_chat(1, "x"), GUEST)  # finds out that the disk is full
    clock.now += registry.member_timeout + 1
    registry.tick()
    assert registry.members("lobby") == ["guest", "host"]
    store.full = False
    clock.now += STORE_PROBE_SECONDS
    registry.tick()  # the probe passes; the time-out is stored on the next tick
    registry.tick()
    assert registry.room_names() == []  # the host timed out too, so the room closed


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


def probe_chat(tcp_port: int) -> str | None:
    """Join a room over TCP; the refusal's sentence, or None when admitted."""
    client = ChatClient("127.0.0.1", tcp_port, timeout=2)
    try:
        client.join_room("durable", f"probe-{uuid.uuid4().hex[:6]}")
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


def test_a_member_that_timed_out_comes_back_with_its_old_token_within_the_grace_period(room):
    registry, store, clock, host, guest = room
    send(registry, guest, p.encode_chat(1, "before"), GUEST)
    clock.now += registry.member_timeout + 1
    send(registry, host, p.encode_heartbeat(2), HOST)
    out = registry.tick()
    assert registry.members("lobby") == ["host"]
    assert [f.event_type for f in frames_to(out, HOST)] == [EventType.TIMED_OUT]
    with pytest.raises(RegistryError):  # a stranger cannot: the token is the proof
        registry.resume("lobby", "guest", "10.9.9.9", b"not-the-token")
    token, out, _ = registry.resume("lobby", "guest", "10.0.0.77", guest)  # another network, same laptop
    assert token == guest and registry.members("lobby") == ["guest", "host"]
    assert [f.event_type for f in frames_to(out, HOST)] == [EventType.JOINED]
    # It kept its message ids: a retransmission of what was relayed before is not relayed twice.
    out = send(registry, guest, p.encode_chat(1, "before"), ("10.0.0.77", 5002))
    assert frames_to(out, HOST) == [] and frames_to(out, ("10.0.0.77", 5002)) == [p.ChatAck(1, 2)]
    clock.now += registry.member_timeout + 1
    send(registry, host, p.encode_heartbeat(4), HOST)
    registry.tick()  # away again ...
    for _ in range(25):  # ... for longer than the grace period, while the host stays
        clock.now += 25
        send(registry, host, p.encode_heartbeat(4), HOST)
        registry.tick()
    with pytest.raises(
        RegistryError, match="you were away a long time, or the server restarted; join the room again"
    ):  # past the grace period
        registry.resume("lobby", "guest", "10.0.0.77", guest)


def test_a_member_whose_room_closed_is_told_the_room_is_gone_not_to_join_again(room):
    registry, store, clock, host, guest = room
    send(registry, host, p.encode_leave(), HOST)  # the host closes the room while the guest's network is dark
    with pytest.raises(RegistryError, match="the host closed the room") as refused:
        registry.resume("lobby", "guest", "10.0.0.77", guest)
    assert refused.value.status is Status.NO_SUCH_ROOM  # the client then says "room closed", not "rejoin"


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


def test_a_file_whose_event_cannot_be_stored_is_not_announced(room, caplog):
    registry, store, clock, host, guest = room
    info = p.FileInfo("0123456789abcdef", "a.txt", 3, "text/plain")
    out = registry.share_file(guest, info)
    assert [f.event_type for f in frames_to(out, HOST) + frames_to(out, GUEST)] == [p.EventType.FILE] * 2
    store.full = True
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # the outage's one line: expected
    with pytest.raises(RegistryError) as caught:
        registry.share_file(guest, info)
    assert caught.value.status is Status.CANNOT_SAVE
    with pytest.raises(RegistryError) as caught:  # and again while the outage lasts, without trying the disk
        registry.share_file(host, info)
    assert caught.value.status is Status.CANNOT_SAVE
    assert (
        registry.snapshot(guest, GUEST[0], "lobby")["seq"] == 2
    )  # the guest joined (1), the first file (2); nothing after
