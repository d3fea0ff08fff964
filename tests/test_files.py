"""Files shared with a room: round trips with checksums, concurrency, cancelling, cut
connections, caps, a full disk, hostile names, history for late joiners, clean-up."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.net import client_files
from ocm_core.net.client import ChatClient
from ocm_core.net.request import read_message
from ocm_core.net.server import ChatServer, ServerLimits
from ocm_core.net.transfers import CHUNK
from ocm_core.sansio import events as ev
from tests.support import EventLog, wait_until

# One server per test, up in milliseconds; the slowest waits two seconds for a trickle.
pytestmark = pytest.mark.mutation_run


@pytest.fixture(autouse=True)
def patience_of_seconds(monkeypatch):
    """A server that answers BUSY for ever, or stops sending, fails its test in seconds rather
    than after the minute a person's client waits (the busy test below retries within it)."""
    monkeypatch.setattr(client_files, "BUSY_WAIT", 5.0)
    monkeypatch.setattr(client_files, "IDLE_TIMEOUT", 5.0)


def make_file(directory: Path, name: str, size: int, seed: int = 1) -> Path:
    path = directory / name
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB, different per seed
    with open(path, "wb") as out:
        left = size
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))
    return path


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def room_of_two(make_client, room: str = "files"):
    alice, bob = make_client(), make_client()
    alice.create_room(room, "alice")
    bob.join_room(room, "bob")
    return alice, bob


@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * 1024 * 1024 + 17])
def test_a_file_of_any_size_crosses_byte_for_byte_and_the_room_is_told(server, make_client, tmp_path, size):
    alice, bob = room_of_two(make_client)
    source = make_file(tmp_path, "data.bin", size)
    seen: list[tuple[int, int]] = []
    file_id = alice.send_file(source, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    shared = EventLog(bob).wait_type(ev.FileShared)[0]
    assert (shared.file_id, shared.name, shared.size, shared.sender, shared.mime) == (
        file_id,
        "data.bin",
        size,
        "alice",
        "application/octet-stream",
    )
    assert EventLog(alice).wait_type(ev.FileShared)[0].file_id == file_id  # the sender sees its own line too
    out = tmp_path / "out"
    out.mkdir()
    saved = bob.download(file_id, out)
    assert saved == out / "data.bin" and digest(saved) == digest(source)
    assert [f.file_id for f in bob.list_files()] == [file_id]
    assert (server.stats["uploads"], server.stats["downloads"]) == (1, 1)


def test_downloads_into_a_folder_never_overwrite_and_a_path_is_used_as_given(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    file_id = alice.send_file(make_file(tmp_path, "report.pdf", 5000))
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.pdf").write_bytes(b"mine")
    assert bob.download(file_id, out) == out / "report (1).pdf"
    assert bob.download(file_id, out) == out / "report (2).pdf"
    assert (out / "report.pdf").read_bytes() == b"mine"
    chosen = bob.download(file_id, tmp_path / "chosen name.pdf")
    assert chosen == tmp_path / "chosen name.pdf" and chosen.stat().st_size == 5000
    assert sorted(x.name for x in out.iterdir()) == ["report (1).pdf", "report (2).pdf", "report.pdf"]


def test_two_uploads_and_three_downloads_at_once_while_chat_goes_on(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    carol = make_client()
    carol.join_room("files", "carol")
    first = alice.send_file(make_file(tmp_path, "first.bin", 2 * 1024 * 1024, seed=1))
    sources = {
        name: make_file(tmp_path, name, 3 * 1024 * 1024 + n, seed=n) for n, name in enumerate(("a.bin", "b.bin"), 2)
    }
    results: dict[str, object] = {}

    def run(key, action):
        try:
            results[key] = action()
        except Exception as exc:  # reported by the assert below
            results[key] = exc

    outs = []
    for n in range(3):
        outs.append(tmp_path / f"out{n}")
        outs[-1].mkdir()
    jobs = [
        threading.Thread(target=run, args=("up a", lambda: alice.send_file(sources["a.bin"]))),
        threading.Thread(target=run, args=("up b", lambda: bob.send_file(sources["b.bin"]))),
    ]
    jobs += [
        threading.Thread(target=run, args=(f"down {n}", lambda n=n: (bob, carol, alice)[n].download(first, outs[n])))
        for n in range(3)
    ]
    for job in jobs:
        job.start()
    carol.send("still chatting")
    EventLog(bob).wait_for(lambda seen: any(isinstance(e, ev.ChatMessage) and e.text == "still chatting" for e in seen))
    for job in jobs:
        job.join(30)
    assert not [r for r in results.values() if isinstance(r, Exception)], results
    assert all(digest(results[f"down {n}"]) == digest(tmp_path / "first.bin") for n in range(3))  # type: ignore[arg-type]
    by_id = {f.file_id: f for f in carol.list_files()}
    assert {by_id[results["up a"]].name, by_id[results["up b"]].name} == {"a.bin", "b.bin"}  # type: ignore[index]
    fetched = carol.download(results["up b"], outs[0])  # type: ignore[arg-type]
    assert digest(fetched) == digest(sources["b.bin"])


def test_a_late_joiner_sees_shared_files_in_the_history(server, make_client, tmp_path):
    alice, _bob = room_of_two(make_client)
    file_id = alice.send_file(make_file(tmp_path, "notes.txt", 10))
    late = make_client()
    late.join_room("files", "late")
    shared = EventLog(late).wait_type(ev.FileShared)[0]
    assert shared.history and shared.file_id == file_id and shared.mime == "text/plain" and shared.sender == "alice"


def test_cancelling_an_upload_midway_shares_nothing_and_frees_its_space(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    source = make_file(tmp_path, "big.bin", 8 * CHUNK)
    with pytest.raises(errors.TransferCancelled):
        alice.send_file(source, progress=lambda done, total: done < 3 * CHUNK)
    wait_until(lambda: server.stats["transfers cut"] == 1 and server.files.used_bytes == 0, what="the upload discarded")
    assert bob.list_files() == []
    assert [p_ for p_ in Path(server.files.root).rglob("*") if p_.is_file()] == []
    assert not EventLog(bob).of_type(ev.FileShared)


def test_cancelling_a_download_midway_leaves_no_file_and_the_server_carries_on(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    file_id = alice.send_file(make_file(tmp_path, "big.bin", 40 * CHUNK))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(errors.TransferCancelled):
        bob.download(file_id, out, progress=lambda done, total: done < 2 * CHUNK)
    assert list(out.iterdir()) == []
    with pytest.raises(errors.TransferCancelled):
        bob.download(file_id, out / "named.bin", progress=lambda done, total: done < 2 * CHUNK)
    assert list(out.iterdir()) == []
    wait_until(lambda: server._transfers.running == 0, what="the server's transfers ended")
    assert digest(bob.download(file_id, out)) == digest(tmp_path / "big.bin")


def test_a_download_damaged_on_the_way_is_refused_and_the_file_it_would_replace_survives(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    file_id = alice.send_file(make_file(tmp_path, "report.bin", 3 * CHUNK + 5))
    _, stored = server.files.get("files", file_id)
    damaged = bytearray(stored.read_bytes())
    damaged[CHUNK + 7] ^= 0x01  # the server's disk flipped one bit: same size, other bytes
    stored.write_bytes(bytes(damaged))
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "report.bin"
    mine.write_bytes(b"my own work, not to be lost")
    with pytest.raises(errors.TransferFailed, match="damaged"):
        bob.download(file_id, mine)
    with pytest.raises(errors.TransferFailed, match="damaged"):
        bob.download(file_id, out)
    assert [path.name for path in out.iterdir()] == ["report.bin"]
    assert mine.read_bytes() == b"my own work, not to be lost"


def test_a_cancelled_download_over_an_existing_file_leaves_that_file_as_it_was(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    file_id = alice.send_file(make_file(tmp_path, "big.bin", 40 * CHUNK))
    mine = tmp_path / "mine.bin"
    mine.write_bytes(b"the older copy")
    with pytest.raises(errors.TransferCancelled):
        bob.download(file_id, mine, progress=lambda done, total: done < 2 * CHUNK)
    assert mine.read_bytes() == b"the older copy"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["big.bin", "mine.bin"]
    assert digest(bob.download(file_id, mine)) == digest(tmp_path / "big.bin")  # a whole one replaces it


def raw_upload(server: ChatServer, client: ChatClient, name: str, size: int, send: bytes):
    """An UPLOAD by hand: request, OK, then only `send` of the file's bytes."""
    room, token, proof = client.file_credentials()
    sock, stream = client.link.open(
        p.Operation.UPLOAD,
        room,
        p.encode_file_request(p.FileRequest(token, proof, name, size, "application/octet-stream")),
    )
    stream.sendall(send)
    return sock, stream


def test_a_malformed_transfer_request_is_refused_with_its_reason_and_the_server_carries_on(server, make_client):
    alice, bob = room_of_two(make_client)
    room, token, proof = alice.file_credentials()
    for operation, payload, reason in (
        (p.Operation.DOWNLOAD, b"not json", "The payload is not a UTF-8 JSON object."),
        (p.Operation.UPLOAD, b"[1]", "The payload is not a JSON object."),
    ):
        with pytest.raises(errors.BadRequest) as refused:
            alice.link.open(operation, room, payload)
        assert str(refused.value) == reason
    assert bob.list_files() == [] and alice.list_rooms()[0].name == "files"


def test_a_file_gone_from_the_servers_disk_is_refused_in_words(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    file_id = alice.send_file(make_file(tmp_path, "gone.bin", 10))
    server.files.get("files", file_id)[1].unlink()  # someone cleaned the server's folder by hand
    with pytest.raises(errors.NoSuchFile, match="^That file is no longer on the server"):
        bob.download(file_id, tmp_path)
    assert not (tmp_path / "gone.bin.part").exists() and alice.list_rooms()[0].members == 2


def test_an_upload_cut_off_halfway_is_discarded(server, make_client, tmp_path, caplog):
    alice, bob = room_of_two(make_client)
    sock, _ = raw_upload(server, alice, "half.bin", 1_000_000, os.urandom(400_000))
    wait_until(lambda: server.files.used_bytes == 1_000_000, what="space reserved")
    with caplog.at_level(logging.INFO, logger="ocm_core.net.transfers"):
        sock.close()
        wait_until(
            lambda: server.files.used_bytes == 0 and server.stats["transfers cut"] == 1,
            what="the cut upload discarded",
        )
    assert any(
        re.fullmatch(r"a UPLOAD from 127\.0\.0\.1 broke off: (the upload ended \d+ bytes early|.+)", message)
        for message in caplog.messages
    ), caplog.messages
    assert [x for x in Path(server.files.root).rglob("*") if x.is_file()] == []
    assert bob.list_files() == []


@pytest.mark.waits
def test_a_stalled_upload_is_cut_off_and_holds_up_neither_chat_nor_other_transfers(make_client, tmp_path):
    srv = ChatServer("127.0.0.1", 0, 0, server_limits=ServerLimits(transfer_idle_timeout=1.0, transfers=2))
    srv.start()
    try:
        alice, bob = [ChatClient("127.0.0.1", srv.tcp_address[1]) for _ in range(2)]
        alice.create_room("r", "alice")
        bob.join_room("r", "bob")
        stalled, _ = raw_upload(srv, alice, "stall.bin", 10_000, b"x" * 10)
        started = time.monotonic()
        file_id = bob.send_file(make_file(tmp_path, "ok.bin", 100_000))  # the other slot
        bob.send("hello")
        EventLog(alice).wait_for(lambda seen: any(isinstance(e, ev.ChatMessage) for e in seen))
        assert time.monotonic() - started < 1.0
        wait_until(lambda: srv.stats["transfers stalled"] == 1, timeout=5, what="the stalled upload cut off")
        assert srv.files.used_bytes == 100_000 and [f.file_id for f in alice.list_files()] == [file_id]
        stalled.close()
        for client in (alice, bob):
            client.leave()
    finally:
        srv.stop()


def test_finished_and_refused_transfers_give_their_connection_back(tmp_path):
    # Three connections per address: were a transfer's connection kept, the fourth request
    # of any kind from this address would be refused.
    srv = ChatServer("127.0.0.1", 0, 0, server_limits=ServerLimits(max_connections_per_ip=3))
    srv.start()
    try:
        alice = ChatClient("127.0.0.1", srv.tcp_address[1])
        alice.create_room("r", "alice")
        file_id = alice.send_file(make_file(tmp_path, "a.bin", 1000))
        for round in range(4):
            alice.download(file_id, tmp_path / f"copy {round}.bin")
            with pytest.raises(errors.NoSuchFile):
                alice.download("0123456789abcdef", tmp_path)
        assert [room.name for room in alice.list_rooms()] == ["r"]
        assert alice.send_file(make_file(tmp_path, "b.bin", 10)) != file_id
        assert srv.stats["tcp refused"] == 0
        alice.leave()
    finally:
        srv.stop()


def test_a_busy_server_makes_a_third_transfer_wait_and_retry(make_client, tmp_path):
    srv = ChatServer("127.0.0.1", 0, 0, server_limits=ServerLimits(transfers=1, transfer_idle_timeout=2.0))
    srv.start()
    try:
        alice = ChatClient("127.0.0.1", srv.tcp_address[1])
        alice.create_room("r", "alice")
        holder, _ = raw_upload(srv, alice, "hold.bin", 100, b"")
        threading.Timer(0.5, holder.close).start()
        file_id = alice.send_file(make_file(tmp_path, "later.bin", 1000))  # BUSY, then retried once the slot frees
        assert srv.stats["transfers busy"] >= 1 and p.is_file_id(file_id)
        alice.leave()
    finally:
        srv.stop()


def test_over_a_cap_is_refused_before_any_byte_is_sent(make_client, tmp_path):
    limits = ServerLimits(max_file_bytes=1000, max_storage_bytes=1500)
    srv = ChatServer("127.0.0.1", 0, 0, server_limits=limits)
    srv.start()
    try:
        alice = ChatClient("127.0.0.1", srv.tcp_address[1])
        alice.create_room("r", "alice")
        sent: list[int] = []
        with pytest.raises(errors.FileTooLarge, match="at most 1000 bytes"):
            alice.send_file(make_file(tmp_path, "big.bin", 1001), progress=lambda d, t: sent.append(d))
        assert sent == []
        alice.send_file(make_file(tmp_path, "a.bin", 1000))
        with pytest.raises(errors.StorageFull, match="storage"):
            alice.send_file(make_file(tmp_path, "b.bin", 501), progress=lambda d, t: sent.append(d))
        assert sent == []
        alice.send_file(make_file(tmp_path, "c.bin", 500))
        alice.leave()
        wait_until(lambda: srv.files.used_bytes == 0, what="the closed room's files deleted")
    finally:
        srv.stop()


def test_another_rooms_file_a_stale_token_and_a_sniffed_token_without_its_key_are_refused(
    server, make_client, tmp_path
):
    alice, bob = room_of_two(make_client)
    file_id = alice.send_file(make_file(tmp_path, "secret.txt", 100))
    other = make_client()
    other.create_room("other", "eve")
    with pytest.raises(errors.NoSuchFile):
        other.download(file_id, tmp_path)
    # The token alone, as a sniffer on the LAN sees it in datagrams, with a wrong proof:
    thief = make_client()
    thief.room, thief._token, thief._proof = "files", bob._token, "AAAA"
    thief._session = bob._session
    with pytest.raises(errors.NotConnected):
        thief.download(file_id, tmp_path)
    bob.leave()
    thief._proof = bob._proof  # even with the proof: the token died when bob left
    thief._shut = False
    with pytest.raises(errors.NotConnected):
        client_files.download(thief.link, ("files", bob._token.decode("ascii"), bob._proof), file_id, tmp_path, None)
    assert [x.name for x in tmp_path.iterdir() if x.is_file()] == ["secret.txt"]


def test_a_plain_client_cannot_share_files(plain_server, tmp_path):
    client = ChatClient("127.0.0.1", plain_server.tcp_address[1], plain=True)
    client.create_room("r", "old")
    with pytest.raises(errors.BadRequest, match="encryption"):
        client.send_file(make_file(tmp_path, "x.bin", 10))
    client.leave()


def test_a_hostile_name_arrives_safe_on_both_sides(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    sock, stream = raw_upload(server, alice, "../../CON", 3, b"abc" + hashlib.sha256(b"abc").digest())
    header, _ = read_message(stream)
    sock.close()
    assert header.state is p.State.COMPLETE
    shared = EventLog(bob).wait_type(ev.FileShared)[0]
    assert shared.name == "_CON"
    out = tmp_path / "out"
    out.mkdir()
    assert bob.download(shared.file_id, out) == out / "_CON"
    stored = [x for x in Path(server.files.root).rglob("*") if x.is_file()]
    assert all(x.parent.parent == Path(server.files.root) for x in stored)


def test_a_corrupted_upload_is_refused_by_its_checksum(server, make_client):
    alice, bob = room_of_two(make_client)
    sock, _ = raw_upload(server, alice, "x.bin", 3, b"abc" + hashlib.sha256(b"abd").digest())
    # "uploads refused" is counted once the refused upload's space is given back: wait for that,
    # not for "uploads corrupt", which is counted as the checksum fails, before the abort.
    wait_until(lambda: server.stats["uploads refused"] == 1, what="the upload refused and its space freed")
    sock.close()
    assert server.stats["uploads corrupt"] == 1
    assert server.files.used_bytes == 0 and bob.list_files() == []


def test_a_closed_rooms_files_are_deleted_and_start_up_clears_rooms_that_are_gone(tmp_path):
    db = tmp_path / "db" / "rooms.sqlite"
    srv = ChatServer("127.0.0.1", 0, 0, db_path=db)
    srv.start()
    try:
        host, other = ChatClient("127.0.0.1", srv.tcp_address[1]), ChatClient("127.0.0.1", srv.tcp_address[1])
        host.create_room("kept", "host")
        other.create_room("closed", "other")
        host.send_file(make_file(tmp_path, "keep.bin", 100))
        other.send_file(make_file(tmp_path, "gone.bin", 200))
        other.leave()
        wait_until(lambda: srv.files.used_bytes == 100, what="the closed room's file deleted")
    finally:
        srv.stop(close_rooms=False)
    stray = db.parent / "files" / "0123456789abcdef0123456789abcdef"
    stray.mkdir()
    (stray / "0123456789abcdef").write_bytes(b"orphan")
    srv = ChatServer("127.0.0.1", 0, 0, db_path=db)
    srv.start()
    try:
        assert not stray.exists()
        assert [f.name for f in srv.files.files("kept")] == ["keep.bin"]
    finally:
        srv.stop()
    assert [x for x in (db.parent / "files").rglob("*") if x.is_file()] == []
    host._shutdown()


def test_an_in_memory_servers_files_live_in_a_temporary_directory_removed_at_stop(tmp_path):
    srv = ChatServer("127.0.0.1", 0, 0)
    srv.start()
    root = Path(srv.files.root)
    client = ChatClient("127.0.0.1", srv.tcp_address[1])
    client.create_room("r", "a")
    client.send_file(make_file(tmp_path, "x.bin", 10))
    srv.stop()
    client._shutdown()
    assert not root.exists()


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    if shutil.which("mount") is None or (hasattr(os, "geteuid") and os.geteuid() != 0):
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", f"ocm-test-{uuid.uuid4().hex[:8]}", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"could not mount a tmpfs: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_the_file_with_a_sentence_and_the_room_keeps_chatting(tiny_disk, tmp_path, caplog):
    srv = ChatServer("127.0.0.1", 0, 0, files_dir=tiny_disk / "files")
    srv.start()
    try:
        alice, bob = ChatClient("127.0.0.1", srv.tcp_address[1]), ChatClient("127.0.0.1", srv.tcp_address[1])
        alice.create_room("r", "alice")
        bob.join_room("r", "bob")
        with pytest.raises(errors.StorageFull):  # refused before a byte: the disk cannot hold it
            alice.send_file(make_file(tmp_path, "big.bin", 3 * 1024 * 1024))
        assert [x for x in tiny_disk.rglob("*") if x.is_file()] == []
        assert srv.files.used_bytes == 0
        alice.send("the room goes on")
        EventLog(bob).wait_for(
            lambda seen: any(isinstance(e, ev.ChatMessage) and e.text == "the room goes on" for e in seen)
        )
        small = alice.send_file(make_file(tmp_path, "small.bin", 1000))
        assert [f.file_id for f in bob.list_files()] == [small]
        for client in (alice, bob):
            client.leave()
    finally:
        srv.stop()


@pytest.mark.waits
def test_a_stalled_download_is_cut_off_at_the_idle_timeout(tmp_path):
    srv = ChatServer("127.0.0.1", 0, 0, server_limits=ServerLimits(transfer_idle_timeout=1.0))
    srv.start()
    try:
        alice = ChatClient("127.0.0.1", srv.tcp_address[1])
        alice.create_room("r", "alice")
        file_id = alice.send_file(make_file(tmp_path, "big.bin", 24 * 1024 * 1024))
        sock = alice.link.connect()
        stream = alice.link.secure(sock)
        _, token, proof = alice.file_credentials()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        stream.sendall(
            p.encode_tcrp(
                p.Operation.DOWNLOAD,
                p.State.REQUEST,
                "r",
                p.encode_file_request(p.FileRequest(token, proof, file_id=file_id)),
            )
        )
        # ...and never read: the server's sends fill the socket buffers and stall.
        wait_until(
            lambda: srv.stats["transfers stalled"] == 1 and srv._transfers.running == 0,
            timeout=10,
            what="the stalled download cut off and its slot freed",
        )
        sock.close()
        alice.leave()
    finally:
        srv.stop()


def test_stopping_the_server_ends_its_transfers_at_once(tmp_path):
    srv = ChatServer("127.0.0.1", 0, 0)
    srv.start()
    alice = ChatClient("127.0.0.1", srv.tcp_address[1])
    alice.create_room("r", "alice")
    sock, _ = raw_upload(srv, alice, "slow.bin", 10_000, b"x" * 100)
    wait_until(lambda: srv._transfers.running == 1, what="the upload running")
    transfers = srv._transfers
    srv.stop()
    wait_until(lambda: transfers.running == 0, timeout=2, what="the transfer ended by the stop")
    sock.close()
    alice._shutdown()


# --- trickling transfers -------------------------------------------------------------------


def trickling_upload(
    server: ChatServer, source: str, name: str, size: int, token: bytes | None = None
) -> tuple[socket.socket, object]:
    """A member at `source` (made in the registry, as a real join from there would, unless its
    `token` is given) that asks to upload `size` bytes and is let in: its TLS stream, on which
    the caller trickles."""
    from ocm_core.crypto.sealed import key_proof
    from ocm_core.crypto.tls import TlsClientStream, client_tls_context
    from ocm_core.net.request import check_status
    from ocm_core.sansio.room import Transport

    if token is None:
        token, _ = server.registry.join_room("files", name, source, wire=Transport.SEALED)
    proof = base64.b64encode(key_proof(server.registry.member_keys.key_for(token))).decode()
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(server.tcp_address)
    stream = TlsClientStream(sock, client_tls_context())
    stream.handshake()
    request = p.FileRequest(token.decode(), proof, f"{name}.bin", size, "application/octet-stream")
    stream.sendall(p.encode_tcrp(p.Operation.UPLOAD, p.State.REQUEST, "files", p.encode_file_request(request)))
    check_status(*read_message(stream))
    return sock, stream


@pytest.mark.waits
@pytest.mark.skipif(sys.platform != "linux", reason="needs sources of 127.0.0.0/8 beyond 127.0.0.1 (Linux)")
def test_uploads_trickling_from_eight_addresses_are_given_up_and_another_members_upload_goes_through(tmp_path):
    """Eight members, one per address, each start an upload and then send a few bytes a second:
    every transfer slot is theirs. Under the speed floor each is given up after its window,
    and another member's upload, retrying while the slots are busy, goes through."""
    limits = ServerLimits(transfers=8, transfer_pace_window=2.0, transfer_min_rate=8 * 1024)
    server = ChatServer("127.0.0.1", 0, 0, server_limits=limits)
    server.start()
    tricklers = []
    try:
        alice = ChatClient("127.0.0.1", server.tcp_address[1])
        alice.create_room("files", "alice")
        for i in range(8):
            tricklers.append(trickling_upload(server, f"127.0.3.{i + 1}", f"slow{i}", 1_000_000))
        assert server._transfers.running == 8
        stop = threading.Event()

        def trickle():
            while not stop.is_set():
                for _sock, stream in tricklers:
                    try:
                        stream.sendall(b"x" * 16)
                    except OSError:
                        pass
                stop.wait(0.5)

        threading.Thread(target=trickle, daemon=True).start()
        started = time.monotonic()
        file_id = alice.send_file(make_file(tmp_path, "real.bin", 300_000))
        took = time.monotonic() - started
        stop.set()
        print(f"\nan upload while 8 trickling uploads held every slot: done in {took:.1f} s")
        assert p.is_file_id(file_id)
        assert server.stats["transfers too slow"] >= 1
        assert took < 10
        alice.leave()
    finally:
        for sock, _stream in tricklers:
            sock.close()
        server.stop()


@pytest.mark.skipif(sys.platform != "linux", reason="needs sources of 127.0.0.0/8 beyond 127.0.0.1 (Linux)")
def test_one_address_and_one_member_hold_only_their_share_of_transfer_slots(tmp_path):
    from ocm_core.sansio.room import Transport

    limits = ServerLimits(transfers=8, transfers_per_ip=3, transfers_per_member=2)
    server = ChatServer("127.0.0.1", 0, 0, server_limits=limits)
    server.start()
    held = []
    try:
        ChatClient("127.0.0.1", server.tcp_address[1]).create_room("files", "host")
        ana, _ = server.registry.join_room("files", "ana", "127.0.4.1", wire=Transport.SEALED)
        held.append(trickling_upload(server, "127.0.4.1", "ana", 1_000_000, ana))
        held.append(trickling_upload(server, "127.0.4.1", "ana", 1_000_000, ana))
        with pytest.raises(errors.ServerBusy):  # ana's third: a member's share is two
            held.append(trickling_upload(server, "127.0.4.1", "ana", 1_000_000, ana))
        held.append(trickling_upload(server, "127.0.4.1", "cy", 1_000_000))
        with pytest.raises(errors.ServerBusy):  # a fourth from this address: its share is three
            held.append(trickling_upload(server, "127.0.4.1", "dee", 1_000_000))
        held.append(trickling_upload(server, "127.0.4.2", "eve", 1_000_000))  # another address is served
        assert server._transfers.running == 4
    finally:
        for sock, _stream in held:
            sock.close()
        server.stop()


def test_a_20_gib_file_is_refused_by_the_default_cap_before_a_byte_is_sent(server, make_client, tmp_path):
    from ocm_core.storage.filestore import DEFAULT_MAX_FILE_BYTES

    alice, _bob = room_of_two(make_client)
    sparse = tmp_path / "disk.img"
    with open(sparse, "wb") as out:  # 20 GiB that take no disk: only its size is asked about
        out.truncate(20 * 1024**3)
    sent: list[int] = []
    with pytest.raises(errors.FileTooLarge, match="16384.0 MiB"):
        alice.send_file(sparse, progress=lambda done, total: sent.append(done) or True)
    assert max(sent, default=0) == 0 and server.files.used_bytes == 0
    assert DEFAULT_MAX_FILE_BYTES == 16 * 1024**3
    small = tmp_path / "small.txt"
    small.write_text("the room goes on")
    assert alice.send_file(small)  # and the next file is taken
