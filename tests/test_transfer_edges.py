"""The server's side of file transfers (ocm_core/net/transfers.py) driven directly, with no
server around it: a registry with sealed members, a file store in tmp_path, and the client's
end of a socket pair played by the test. What the client reads, what is left on disk, the
counters and the operator's log lines, for each way a transfer ends: whole, refused, cut,
stalled, too slow, or stopped with the server. Timeouts are set to milliseconds and the pace
is measured on a fake clock, so no test waits for a real one."""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import socket
import ssl
import struct
import termios
import threading

import pytest
from support import FakeClock, wait_until

from ocm_core import wire as p
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.sealed import MemberKeys
from ocm_core.crypto.tls import TlsServerSide, client_tls_context, server_tls_context
from ocm_core.net import transfers
from ocm_core.net.request import read_message
from ocm_core.net.transfers import BUSY_MEMBER, CHUNK, DISK_FULL, FileTransfers
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Transport
from ocm_core.storage.filestore import FileStore
from ocm_core.wire import Operation, State, Status

pytestmark = pytest.mark.mutation_run  # socket pairs and threads, no server: milliseconds each

ROOM = "lobby"
ALICE_IP, BOB_IP = "10.0.0.1", "10.0.0.2"
CONTENT = bytes(range(256)) * 40  # 10,240 bytes: more than one write buffer
IDENTITY = ServerIdentity.generate()  # one for the module: generating it is the slow part


class Side:
    """The server's transfers over a registry of two sealed members, alice (the host) and bob."""

    def __init__(self, tmp_path, store: FileStore | None = None, **options):
        self.keys = MemberKeys(IDENTITY, 1)
        self.registry = RoomRegistry(member_keys=self.keys)
        self.tokens = {"alice": self.registry.create_room(ROOM, "alice", ALICE_IP, wire=Transport.SEALED)}
        self.tokens["bob"] = self.registry.join_room(ROOM, "bob", BOB_IP, wire=Transport.SEALED)[0]
        self.ips = {"alice": ALICE_IP, "bob": BOB_IP}
        self.files = store if store is not None else FileStore(tmp_path / "files")
        self.files.take_up({ROOM})
        self.shared: list = []  # what the room was sent
        self.send_all = self.shared.extend
        self.transfers = FileTransfers(self.registry, self.files, lambda out: self.send_all(out), **options)
        self.ended = threading.Semaphore(0)  # released once per transfer that gave its slot back
        self.peers: list[socket.socket] = []

    def request(self, who: str, operation: Operation, **fields) -> p.TcrpMessage:
        token = self.tokens[who]
        proof = base64.b64encode(self.keys.proof_for(token)).decode("ascii")
        payload = p.encode_file_request(p.FileRequest(token.decode("ascii"), proof, **fields))
        return p.TcrpMessage(operation, State.REQUEST, ROOM, payload)

    def start(self, message: p.TcrpMessage, ip: str = ALICE_IP, pending: bytes = b"") -> socket.socket | None:
        """Hand a connection to the transfers as the selector does; the client's end, or None when refused."""
        ours, theirs = socket.socketpair()
        theirs.settimeout(5)  # a test that goes wrong fails rather than hangs
        if not self.transfers.try_start(ours, None, message, pending, ip, self.ended.release):
            ours.close()
            theirs.close()
            return None
        self.peers.append(theirs)
        return theirs

    def upload(self, who: str = "alice", content: bytes = CONTENT, name: str = "notes.txt") -> socket.socket:
        message = self.request(who, Operation.UPLOAD, name=name, size=len(content), mime="text/plain")
        peer = self.start(message, self.ips[who])
        assert peer is not None
        return peer

    def download(self, file_id: str, who: str = "alice") -> socket.socket | None:
        return self.start(self.request(who, Operation.DOWNLOAD, file_id=file_id), self.ips[who])

    def upload_refused(self, ip: str) -> bool:
        """Whether a further upload from `ip` finds no slot (the selector then answers BUSY)."""
        message = self.request("alice", Operation.UPLOAD, name="more.txt", size=10, mime="")
        ours, theirs = socket.socketpair()
        taken = self.transfers.try_start(ours, None, message, b"", ip, self.ended.release)
        if taken:
            self.peers.append(theirs)
        else:
            ours.close()
            theirs.close()
        return not taken

    def wait_ended(self, count: int = 1) -> None:
        for _ in range(count):
            assert self.ended.acquire(timeout=5), "a transfer never gave its slot back"

    def close(self) -> None:
        self.transfers.shutdown()
        for peer in self.peers:
            peer.close()


@pytest.fixture
def side(tmp_path):
    made: list[Side] = []

    def make(**options) -> Side:
        made.append(Side(tmp_path, **options))
        return made[-1]

    yield make
    for each in made:
        each.close()


def answer(peer: socket.socket) -> tuple[State, Status | None, str, bytes]:
    """One message from the server: its state, and for a RESPONSE its status and sentence."""
    _, message = read_message(peer)
    if message.state is State.RESPONSE:
        status, detail = p.decode_status(message.payload)
        return message.state, status, detail, message.payload
    return message.state, None, "", message.payload


def until_closed(peer: socket.socket) -> bytes:
    """Everything the server still sends, up to its end of the connection."""
    data = b""
    while chunk := peer.recv(65536):
        data += chunk
    return data


def last_line(caplog, pattern: str) -> None:
    """Wait for the line each transfer ends with (logged after its slot is given back)."""
    wait_until(lambda: any(re.fullmatch(pattern, m) for m in caplog.messages), what=f"a line {pattern!r}")


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def share(side: Side, content: bytes = CONTENT) -> str:
    """Upload `content` whole as alice; its file id."""
    peer = side.upload(content=content)
    assert answer(peer)[1] is Status.OK
    peer.sendall(content + sha(content))
    state, _, _, payload = answer(peer)
    assert state is State.COMPLETE
    side.wait_ended()
    return p.decode_json_object(payload)["file_id"]


def leftovers(tmp_path) -> list[str]:
    return sorted(path.name for path in (tmp_path / "files").rglob("*") if path.is_file())


# --- a whole transfer ------------------------------------------------------------------------


def test_a_whole_upload_is_answered_ok_with_nothing_else_then_its_file_id_and_the_log_names_it(side, tmp_path, caplog):
    side = side()
    caplog.set_level(logging.DEBUG, logger="ocm_core.net.transfers")
    peer = side.upload(content=CONTENT, name="notes.txt")
    assert answer(peer)[3] == p.encode_status(Status.OK)  # the bare status: no sentence after it
    peer.sendall(CONTENT + sha(CONTENT))
    state, _, _, payload = answer(peer)
    file_id = p.decode_json_object(payload)["file_id"]
    assert state is State.COMPLETE and until_closed(peer) == b""
    side.wait_ended()
    assert leftovers(tmp_path) == sorted([file_id, f"{file_id}.json"])
    assert (tmp_path / "files").joinpath(side.files.room_dir(ROOM).name, file_id).read_bytes() == CONTENT
    assert side.transfers.stats == {"uploads": 1}
    shared = [m for m in caplog.messages if "shared" in m]
    assert shared == [f"'alice' shared 'notes.txt' ({len(CONTENT)} bytes) in room 'lobby'"]
    last_line(caplog, rf"UPLOAD from {ALICE_IP}: {len(CONTENT) + 32} bytes in \d+\.\d\d s")


def test_a_download_sends_its_description_with_the_sender_then_exactly_the_files_bytes(side, tmp_path, caplog):
    side = side()
    file_id = share(side)
    caplog.set_level(logging.DEBUG, logger="ocm_core.net.transfers")
    peer = side.download(file_id, who="bob")
    assert answer(peer)[3] == p.encode_status(Status.OK)
    state, _, _, payload = answer(peer)
    described = p.file_from_json(p.decode_json_object(payload))
    assert state is State.COMPLETE
    assert (described.name, described.size, described.sender) == ("notes.txt", len(CONTENT), "alice")
    assert described.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert until_closed(peer) == CONTENT
    side.wait_ended()
    assert side.transfers.stats == {"uploads": 1, "downloads": 1}
    last_line(caplog, rf"DOWNLOAD from {BOB_IP}: 0 bytes in \d+\.\d\d s")  # received: the request came before


def test_the_counters_go_into_the_servers_own_table(side):
    counters: dict[str, int] = {"uploads": 4}
    side = side(stats=counters)
    share(side)
    assert counters == {"uploads": 5} and side.transfers.stats is counters


# --- given up: stalled, too slow, cut, crashed -------------------------------------------------


def stored(side: Side, content: bytes, sender: str = "alice") -> str:
    """A file already in the store, as an earlier upload left it; its id."""
    upload = side.files.begin(ROOM, sender, "big.bin", len(content), "application/octet-stream")
    upload.part.write_bytes(content)
    return side.files.commit(upload, hashlib.sha256(content).hexdigest()).file_id


@pytest.mark.parametrize(
    "idle_timeout, pace_window, said",
    [(0.05, 15.0, "0.05 s"), (30.0, 0.05, "0.05 s")],  # a quiet pace window cuts before the idle limit
    ids=["idle limit", "pace window"],
)
def test_an_upload_whose_sender_goes_quiet_is_cut_off_and_leaves_nothing(
    side, tmp_path, caplog, idle_timeout, pace_window, said
):
    caplog.set_level(logging.INFO, logger="ocm_core.net.transfers")
    side = side(idle_timeout=idle_timeout, pace_window=pace_window, clock=FakeClock())
    peer = side.upload()
    assert answer(peer)[1] is Status.OK
    peer.sendall(CONTENT[:100])  # then nothing, the line held open
    assert until_closed(peer) == b""  # hung up without a word
    side.wait_ended()
    assert side.transfers.stats == {"transfers stalled": 1}
    assert f"a UPLOAD from {ALICE_IP} stalled for {said} and was cut off" in caplog.messages
    assert leftovers(tmp_path) == [] and side.files.used_bytes == 0


def test_a_download_whose_reader_stops_reading_is_cut_off(side, caplog):
    caplog.set_level(logging.INFO, logger="ocm_core.net.transfers")
    side = side(idle_timeout=0.05)
    file_id = stored(side, bytes(4 * 1024 * 1024))  # far more than the socket buffers hold
    peer = side.download(file_id, who="bob")
    side.wait_ended()  # the test never read a byte
    assert side.transfers.stats == {"transfers stalled": 1}
    assert f"a DOWNLOAD from {BOB_IP} stalled for 0.05 s and was cut off" in caplog.messages
    assert 0 < len(until_closed(peer)) < 4 * 1024 * 1024


def test_an_upload_slower_than_the_floor_is_given_up_with_its_figures(side, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="ocm_core.net.transfers")
    clock = FakeClock()
    side = side(min_rate=1000, pace_window=2.0, clock=clock)
    peer = side.upload()
    assert answer(peer)[1] is Status.OK
    wait_until(lambda: leftovers(tmp_path), what="the file begun on disk")  # the answer's bytes are counted
    clock.now += 2.5  # a whole window with only the answer moved
    peer.sendall(CONTENT[:10])
    assert until_closed(peer) == b""
    side.wait_ended()
    assert side.transfers.stats == {"transfers too slow": 1}
    assert f"a UPLOAD from {ALICE_IP} was given up: it moved less than 1000 bytes a second over 2 s" in caplog.messages
    last_line(caplog, rf"UPLOAD from {ALICE_IP}: 10 bytes in 2\.50 s")
    assert leftovers(tmp_path) == [] and side.files.used_bytes == 0


def test_an_upload_that_breaks_off_says_how_much_was_missing(side, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ocm_core.net.transfers")
    side = side()
    peer = side.upload()
    assert answer(peer)[1] is Status.OK
    peer.sendall(CONTENT[:240])
    peer.shutdown(socket.SHUT_WR)
    assert until_closed(peer) == b""
    side.wait_ended()
    assert side.transfers.stats == {"transfers cut": 1}
    missing = len(CONTENT) - 240
    assert f"a UPLOAD from {ALICE_IP} broke off: the upload ended {missing} bytes early" in caplog.messages
    assert leftovers(tmp_path) == [] and side.files.used_bytes == 0


@pytest.mark.expect_error_log(rf"^error in a UPLOAD from {ALICE_IP}$")
def test_a_crash_while_telling_the_room_is_logged_as_an_error_naming_the_transfer(side):
    side = side()

    def broken(out):
        raise RuntimeError("the room could not be told")

    side.send_all = broken
    peer = side.upload()
    assert answer(peer)[1] is Status.OK
    peer.sendall(CONTENT + sha(CONTENT))
    assert until_closed(peer) == b""  # no file id: the client says it was not shared
    side.wait_ended()


def test_stopping_ends_a_transfer_in_progress_at_once_and_keeps_none_of_it(side, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ocm_core.net.transfers")
    side = side()  # the idle limit of 30 s would be the only other end
    peer = side.upload()
    assert answer(peer)[1] is Status.OK
    side.transfers.shutdown()
    assert until_closed(peer) == b""
    side.wait_ended()
    said = f"a UPLOAD from {ALICE_IP} broke off: the upload ended {len(CONTENT)} bytes early"
    assert said in caplog.messages
    assert leftovers(tmp_path) == [] and side.files.used_bytes == 0


def test_an_uploader_gone_before_the_ok_keeps_no_space_reserved(side, caplog):
    caplog.set_level(logging.INFO, logger="ocm_core.net.transfers")
    side = side()
    ours, theirs = socket.socketpair()
    theirs.close()  # hung up right after its request
    message = side.request("alice", Operation.UPLOAD, name="notes.txt", size=len(CONTENT), mime="text/plain")
    assert side.transfers.try_start(ours, None, message, b"", ALICE_IP, side.ended.release)
    side.wait_ended()
    assert side.transfers.stats == {"transfers cut": 1}
    assert side.files.used_bytes == 0  # else every such hang-up would shrink what the room may share
    assert any(m.startswith(f"a UPLOAD from {ALICE_IP} broke off: ") for m in caplog.messages), caplog.messages


# --- refusals ----------------------------------------------------------------------------------


def refusal(peer: socket.socket) -> tuple[Status | None, str]:
    state, status, detail, _ = answer(peer)
    assert state is State.RESPONSE
    return status, detail


@pytest.mark.parametrize("operation", [Operation.UPLOAD, Operation.DOWNLOAD])
def test_a_token_with_letters_beyond_ascii_is_an_unknown_session(side, operation):
    side = side()
    fields = {"name": "notes.txt", "size": 10} if operation is Operation.UPLOAD else {"file_id": "0" * 16}
    payload = p.encode_file_request(p.FileRequest("tökén", None, **fields))
    peer = side.start(p.TcrpMessage(operation, State.REQUEST, ROOM, payload))
    assert refusal(peer) == (Status.UNKNOWN_TOKEN, "this session is not known to the server; join again")
    assert until_closed(peer) == b""


@pytest.mark.parametrize(
    "breakage, status, sentence",
    [
        ("unknown", Status.NO_SUCH_FILE, "that file is not shared in this room (its room may have closed)"),
        ("deleted", Status.NO_SUCH_FILE, "that file is no longer on the server"),
    ],
)
def test_a_download_of_a_file_that_is_not_there_is_refused_in_words(side, breakage, status, sentence):
    side = side()
    file_id = stored(side, CONTENT)
    if breakage == "unknown":
        file_id = "f" * 16
    else:
        (side.files.room_dir(ROOM) / file_id).unlink()
    peer = side.download(file_id)
    assert refusal(peer) == (status, sentence)
    assert until_closed(peer) == b""
    side.wait_ended()
    assert side.transfers.stats == {}


def test_a_member_holds_at_most_its_share_of_downloads_and_another_member_is_not_held_up(side):
    side = side(per_member=1)
    big = stored(side, bytes(4 * 1024 * 1024))  # alice does not read it: her download holds its slot
    small = stored(side, CONTENT)
    held = side.download(big, who="alice")
    assert answer(held)[1] is Status.OK
    second = side.download(small, who="alice")
    assert refusal(second) == (Status.BUSY, BUSY_MEMBER)
    side.wait_ended()
    bobs = side.download(small, who="bob")
    assert answer(bobs)[1] is Status.OK and answer(bobs)[0] is State.COMPLETE
    assert until_closed(bobs) == CONTENT
    side.wait_ended()
    held.close()
    side.wait_ended()


def test_one_address_holds_at_most_its_share_of_slots_and_gets_them_back_one_by_one(side):
    side = side(slots=3, per_address=2)
    first, second = side.upload(), side.upload(who="alice")  # both wait for their bytes
    for peer in (first, second):
        assert answer(peer)[1] is Status.OK
    assert side.upload_refused(ALICE_IP)
    bobs = side.start(side.request("bob", Operation.UPLOAD, name="b.txt", size=10, mime=""), BOB_IP)
    assert bobs is not None and answer(bobs)[1] is Status.OK
    assert side.upload_refused("10.0.0.3")  # every slot taken
    first.close()
    side.wait_ended()
    third = side.start(side.request("alice", Operation.UPLOAD, name="c.txt", size=10, mime=""), ALICE_IP)
    assert third is not None and answer(third)[1] is Status.OK  # the slot that came back
    bobs.close()
    side.wait_ended()
    assert side.upload_refused(ALICE_IP)  # a slot is free, but this address holds its two again
    assert not side.upload_refused("10.0.0.3")


def test_by_default_eight_transfers_run_at_once_four_from_one_address_and_two_of_one_member(side):
    side = side()
    for n in range(2, 5):  # members on two addresses, two each
        name = f"m{n}"
        side.ips[name] = ALICE_IP if n == 2 else BOB_IP
        side.tokens[name] = side.registry.join_room(ROOM, name, side.ips[name], wire=Transport.SEALED)[0]

    def hold(who: str) -> None:
        """An upload that waits for its bytes, once the server has taken it up (its OK came)."""
        assert answer(side.upload(who=who))[1] is Status.OK

    hold("alice")
    hold("alice")
    assert refusal(side.upload(who="alice")) == (Status.BUSY, BUSY_MEMBER)  # her third
    side.wait_ended()
    hold("m2")
    hold("m2")  # alice's address: four now
    assert side.upload_refused(ALICE_IP)
    for name in ("bob", "bob", "m3", "m3"):
        hold(name)
    assert side.upload_refused("10.0.0.9")  # eight running


def test_a_room_folder_that_cannot_be_made_is_a_full_disk_to_the_sender_and_named_in_the_log(side, caplog):
    caplog.set_level(logging.WARNING, logger="ocm_core.net.transfers")
    side = side()
    side.files.room_dir(ROOM).write_bytes(b"")  # a file where the room's folder would go
    peer = side.upload()
    assert refusal(peer) == (Status.STORAGE_FULL, DISK_FULL)
    side.wait_ended()
    assert [m for m in caplog.messages if m.startswith("cannot make room for a file: ")] == [
        f"cannot make room for a file: [Errno {errno.EEXIST}] {os.strerror(errno.EEXIST)}: "
        f"'{side.files.room_dir(ROOM)}'"
    ]
    assert side.files.used_bytes == 0


def test_a_file_whose_checksum_does_not_match_is_refused_each_time_and_counted(side, tmp_path):
    side = side()
    for _ in range(2):
        peer = side.upload()
        assert answer(peer)[1] is Status.OK
        peer.sendall(CONTENT + sha(b"something else"))
        assert refusal(peer) == (
            Status.TRANSFER_FAILED,
            "the file's checksum did not match what arrived; send it again",
        )
        peer.shutdown(socket.SHUT_WR)
        assert until_closed(peer) == b""
        side.wait_ended()
    assert side.transfers.stats == {"uploads corrupt": 2, "uploads refused": 2}
    assert leftovers(tmp_path) == [] and side.shared == []


def test_after_a_refusal_what_the_sender_still_sends_is_read_so_the_refusal_reaches_it(side, monkeypatch):
    monkeypatch.setattr(transfers, "DRAIN_SECONDS", 60.0)  # the sender's end of stream, not the clock, ends it
    side = side()
    peer = side.upload()
    assert answer(peer)[1] is Status.OK
    peer.sendall(CONTENT + sha(b"something else"))
    peer.sendall(bytes(8 * 1024 * 1024))  # more than the buffers hold: it goes only if the server reads it
    peer.shutdown(socket.SHUT_WR)
    assert refusal(peer)[0] is Status.TRANSFER_FAILED
    assert until_closed(peer) == b""
    side.wait_ended()


def test_after_a_refusal_a_sender_that_says_nothing_more_is_hung_up_on_soon(side, monkeypatch):
    monkeypatch.setattr(transfers, "DRAIN_IDLE", 0.02)
    monkeypatch.setattr(transfers, "DRAIN_SECONDS", 60.0)
    side = side()
    peer = side.upload()
    assert answer(peer)[1] is Status.OK
    peer.sendall(CONTENT + sha(b"something else"))
    assert refusal(peer)[0] is Status.TRANSFER_FAILED
    assert until_closed(peer) == b""  # the line held open, yet the server closed it
    side.wait_ended()


def test_a_room_closed_while_the_file_arrived_keeps_no_file_and_the_sender_is_told(side, tmp_path):
    side = side()
    peer = side.upload()
    assert answer(peer)[1] is Status.OK
    side.registry.close_all()
    peer.sendall(CONTENT + sha(CONTENT))
    assert refusal(peer) == (Status.UNKNOWN_TOKEN, "you are no longer in the room; the file was not shared")
    assert until_closed(peer) == b""
    side.wait_ended()
    assert leftovers(tmp_path) == [] and side.files.used_bytes == 0


def test_a_room_closed_just_as_its_file_is_announced_keeps_no_file(side, tmp_path):
    side = side()
    side.send_all = lambda out: (side.shared.extend(out), side.registry.close_all())
    share(side)  # its file id came back: the room was told
    assert leftovers(tmp_path) == [] and side.files.used_bytes == 0 and side.files.files(ROOM) == []


@pytest.mark.parametrize("on_disk", [-100, +1000], ids=["shorter", "longer"])
def test_a_download_sends_no_more_than_the_size_the_room_was_told(side, caplog, on_disk):
    caplog.set_level(logging.INFO, logger="ocm_core.net.transfers")
    side = side()
    size = CHUNK + 10
    file_id = stored(side, bytes(size))
    path = side.files.room_dir(ROOM) / file_id
    path.write_bytes(bytes(size + on_disk))  # changed under the server
    peer = side.download(file_id)
    assert answer(peer)[1] is Status.OK and answer(peer)[0] is State.COMPLETE
    assert until_closed(peer) == bytes(min(size, size + on_disk))
    side.wait_ended()
    if on_disk < 0:
        assert side.transfers.stats == {"transfers cut": 1}
        said = f"a DOWNLOAD from {ALICE_IP} broke off: {path} is shorter than its {size} bytes"
        assert said in caplog.messages
    else:
        assert side.transfers.stats == {"downloads": 1}


class DiskThatFails(FileStore):
    """A file store over a disk that fills up as the file arrives (writes into /dev/full), or
    whose last step, keeping the file, fails with a chosen error."""

    def __init__(self, root, *, full: bool = False, commit_error: int | None = None):
        super().__init__(root)
        self.full, self.commit_error = full, commit_error

    def begin(self, room, sender, name, size, mime, files=0):
        upload = super().begin(room, sender, name, size, mime)
        if self.full:
            os.symlink("/dev/full", upload.part)
        return upload

    def commit(self, upload, sha256):
        if self.commit_error is not None:
            self.abort(upload)
            raise OSError(self.commit_error, os.strerror(self.commit_error))
        return super().commit(upload, sha256)


# /dev/full (Linux, the BSDs) fails every write with ENOSPC; macOS and Windows have none
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
needs_edquot = pytest.mark.skipif(not hasattr(errno, "EDQUOT"), reason="no disk quotas' errno on this system")


@pytest.mark.parametrize(
    "size, commit_error, said",
    [
        # the bytes fit in the write buffer: flushing them fails
        pytest.param(100, None, "full", marks=needs_dev_full, id="flush"),
        pytest.param(len(CONTENT), None, "full", marks=needs_dev_full, id="write"),  # writing fails
        pytest.param(100, errno.ENOSPC, "full", id="commit ENOSPC"),
        # over the user's quota is full too
        pytest.param(100, getattr(errno, "EDQUOT", 0), "full", marks=needs_edquot, id="commit EDQUOT"),
        pytest.param(
            100, errno.EIO, f"could not store a file: [Errno {errno.EIO}] {os.strerror(errno.EIO)}", id="commit EIO"
        ),
    ],
)
def test_a_disk_that_fails_refuses_the_file_as_full_and_the_log_says_why(tmp_path, caplog, size, commit_error, said):
    caplog.set_level(logging.WARNING, logger="ocm_core.net.transfers")
    store = DiskThatFails(tmp_path / "files", full=commit_error is None, commit_error=commit_error)
    side = Side(tmp_path, store=store)
    try:
        content = CONTENT[:size]
        peer = side.upload(content=content)
        assert answer(peer)[1] is Status.OK
        peer.sendall(content + sha(content))
        assert refusal(peer) == (Status.STORAGE_FULL, DISK_FULL)
        peer.shutdown(socket.SHUT_WR)
        assert until_closed(peer) == b""
        side.wait_ended()
    finally:
        side.close()
    expected = f"the disk under {tmp_path / 'files'} is full; a file was refused" if said == "full" else said
    assert caplog.messages == [expected]
    assert side.transfers.stats == {"uploads disk full": 1, "uploads refused": 1}
    assert leftovers(tmp_path) == [] and side.files.used_bytes == 0 and side.shared == []


# --- through TLS -------------------------------------------------------------------------------


class TlsClient:
    """A client's TLS in memory, its records put on the socket by the test, in whatever cuts it chooses."""

    def __init__(self, server: TlsServerSide):
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = client_tls_context().wrap_bio(self._in, self._out)
        while True:  # the handshake, as the selector thread completes it before the transfer
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._in.write(server.receive(self._out.read())[1])
        server.receive(self._out.read())  # the client's Finished
        self._plain = bytearray()

    def records(self, data: bytes) -> bytes:
        self._tls.write(data)
        return self._out.read()

    def read(self, peer: socket.socket, size: int) -> bytes:
        while len(self._plain) < size:
            chunk = peer.recv(65536)
            assert chunk, "the server hung up"
            self._in.write(chunk)
            with contextlib.suppress(ssl.SSLWantReadError):
                self._plain += self._tls.read(65536)
        data, self._plain = bytes(self._plain[:size]), self._plain[size:]
        return data

    def message(self, peer: socket.socket) -> p.TcrpMessage:
        header = p.decode_tcrp_header(self.read(peer, p.TCRP_HEADER_SIZE))
        return p.decode_tcrp_body(header, self.read(peer, header.body_size))


def unread(sock: socket.socket) -> int:
    return struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_a_tls_record_that_comes_in_pieces_is_waited_for_not_taken_for_the_end(side):
    side = side()
    server = TlsServerSide(server_tls_context(IDENTITY))
    client = TlsClient(server)
    ours, peer = socket.socketpair()
    side.peers.append(peer)
    message = side.request("alice", Operation.UPLOAD, name="notes.txt", size=len(CONTENT), mime="text/plain")
    assert side.transfers.try_start(ours, server, message, b"", ALICE_IP, side.ended.release)
    assert p.decode_status(client.message(peer).payload)[0] is Status.OK
    records = client.records(CONTENT + sha(CONTENT))
    peer.sendall(records[:3])  # not even a record's header
    wait_until(lambda: unread(ours) == 0, what="the server reading the first piece")
    peer.sendall(records[3:])
    done = client.message(peer)
    assert done.state is State.COMPLETE
    side.wait_ended()
    assert side.files.files(ROOM)[0].file_id == p.decode_json_object(done.payload)["file_id"]
