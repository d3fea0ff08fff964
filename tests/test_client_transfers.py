"""The client's side of file transfers (ocm_core/net/client_files.py) against a server in memory
whose every byte and every break the test places: a stream cut into pieces, a file followed by
more bytes, a connection that breaks at a chosen point, a file on disk that changes while it
moves. No socket: deterministic where a real connection leaves it to timing which way it goes."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from liar import liar  # a fixture, used by name
from support import FakeClock, Jitter

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.crypto.identity import KnownServers
from ocm_core.net import client_files, request
from ocm_core.net.request import ServerLink
from ocm_core.wire import Operation, State, Status

FILE_ID = "0123456789abcdef"
CREDENTIALS = ("lobby", "token", "proof")
CONTENT = b"the whole file, 32 bytes long..!"
ADDRESS = "192.0.2.7:9090"


class ScriptedStream:
    """The client's end of a connection whose OK was already read: `recv` hands out the
    server's `pieces` one at a time (no more than asked), then `after` (the end, or an error);
    `sendall` keeps the bytes, or raises `break_sending` once `send_limit` bytes went out."""

    def __init__(self, pieces, after=None, *, send_limit=None, break_sending=None):
        self.pieces = [bytearray(piece) for piece in pieces]
        self.after = after
        self.sent = bytearray()
        self.send_limit = send_limit
        self.break_sending = break_sending

    def recv(self, size: int) -> bytes:
        while self.pieces and not self.pieces[0]:
            self.pieces.pop(0)
        if not self.pieces:
            if self.after is not None:
                raise self.after
            return b""
        piece = self.pieces[0]
        data = bytes(piece[:size])
        del piece[:size]
        return data

    def sendall(self, data: bytes) -> None:
        if self.send_limit is not None and len(self.sent) + len(data) > self.send_limit:
            raise self.break_sending
        self.sent += data


class ScriptedLink:
    """Stands in for ServerLink: `open` answers OK at once and hands over the scripted stream."""

    where = ADDRESS

    def __init__(self, stream: ScriptedStream | None = None, refusals: tuple[BaseException, ...] = ()):
        self.stream = stream
        self.refusals = list(refusals)  # what the first requests raise, one each
        self.requests: list[tuple[Operation, str, bytes]] = []

    def open(self, operation, room, payload, *, idle_timeout=None, name=""):
        self.requests.append((operation, room, payload))
        if self.refusals:
            raise self.refusals.pop(0)
        return contextlib.nullcontext(), self.stream


def described(size: int = len(CONTENT), sha256: str = hashlib.sha256(CONTENT).hexdigest()) -> bytes:
    info = {"id": FILE_ID, "name": "notes.txt", "size": size, "mime": "text/plain", "sha256": sha256}
    return p.encode_tcrp(Operation.DOWNLOAD, State.COMPLETE, "", json.dumps(info).encode())


def completed(file_id: str = FILE_ID) -> bytes:
    return p.encode_tcrp(Operation.UPLOAD, State.COMPLETE, "", json.dumps({"file_id": file_id}).encode())


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# --- asking ---------------------------------------------------------------------------------


def test_a_connection_that_breaks_while_asking_names_the_server_and_the_cause(tmp_path, english):
    link = ScriptedLink(refusals=(ConnectionResetError(104, "Connection reset by peer"),))
    with pytest.raises(errors.TransferFailed) as failed:
        client_files.download(link, CREDENTIALS, FILE_ID, tmp_path, None)
    assert str(failed.value) == (
        f"The connection to {ADDRESS} broke ([Errno 104] Connection reset by peer); try again."
    )


def test_a_server_that_asks_to_try_later_is_not_waited_out_by_a_transfer(tmp_path):
    """Only a busy server is asked again; "try later" goes to the person at once."""
    link = ScriptedLink(ScriptedStream([described(), CONTENT]), refusals=(errors.TryAgainLater("later", 0),))
    with pytest.raises(errors.TryAgainLater):
        client_files.download(link, CREDENTIALS, FILE_ID, tmp_path, None)
    assert len(link.requests) == 1 and names_in(tmp_path) == []


def download_from(link, tmp_path: Path, clock: FakeClock):
    return client_files.download(link, CREDENTIALS, FILE_ID, tmp_path, None, sleep=clock.sleep, clock=clock)


def upload_to(link, tmp_path: Path, clock: FakeClock):
    source = source_of(tmp_path, CONTENT)
    return client_files.upload(link, CREDENTIALS, source, None, sleep=clock.sleep, clock=clock)


@pytest.mark.parametrize("transfer", [download_from, upload_to], ids=["download", "upload"])
@pytest.mark.parametrize(("end", "jitter"), [("low", 0.5), ("high", 1.5)])
def test_a_busy_server_is_asked_again_after_pauses_doubling_up_to_two_seconds_for_a_minute(
    tmp_path, monkeypatch, transfer, end, jitter
):
    monkeypatch.setattr(request, "random", Jitter(end))  # each pause at one end of its spread
    link = ScriptedLink(refusals=tuple(errors.ServerBusy("busy") for _ in range(1000)))
    clock = FakeClock()
    with pytest.raises(errors.ServerBusy):
        transfer(link, tmp_path, clock)
    steps = [0.1, 0.2, 0.4, 0.8, 1.6] + [2.0] * (len(clock.pauses) - 5)
    assert clock.pauses == pytest.approx([jitter * step for step in steps])
    # it stops when the next step would pass the minute; the jitter of the last one may pass it
    assert client_files.BUSY_WAIT - 2.0 <= sum(clock.pauses) <= client_files.BUSY_WAIT + 1.0
    assert len(link.requests) == len(clock.pauses) + 1


@pytest.mark.parametrize("transfer", [download_from, upload_to], ids=["download", "upload"])
def test_a_server_busy_at_first_is_asked_again_and_the_transfer_goes_through(tmp_path, transfer):
    answers = [described(), CONTENT] if transfer is download_from else [completed()]
    link = ScriptedLink(ScriptedStream(answers), refusals=(errors.ServerBusy("busy"), errors.ServerBusy("busy")))
    clock = FakeClock()
    transfer(link, tmp_path, clock)
    assert len(link.requests) == 3 and len(clock.pauses) == 2


@pytest.mark.mutation_run  # a stub TLS server, up in milliseconds
def test_a_stalled_download_is_given_up_at_the_idle_timeout_not_the_connections(liar, tmp_path, monkeypatch):
    """The connection's own timeout is long (asking may be slow); once the file moves, a
    stall of IDLE_TIMEOUT ends it, not the connection's 60 s."""
    monkeypatch.setattr(client_files, "IDLE_TIMEOUT", 0.2)
    ok = p.encode_tcrp(Operation.DOWNLOAD, State.RESPONSE, "", p.encode_status(Status.OK))
    server = liar(ok + described() + CONTENT[:10])  # then nothing, the line held open
    link = ServerLink("127.0.0.1", server.port, timeout=60.0, known_servers=KnownServers(tmp_path / "known.json"))
    started = time.monotonic()
    with pytest.raises(errors.TransferFailed, match=r"^The server stopped sending the file; download it again\.$"):
        client_files.download(link, CREDENTIALS, FILE_ID, tmp_path / "notes.txt", None)
    assert time.monotonic() - started < 30  # 0.2 s here; the connection's timeout would be 60
    assert names_in(tmp_path) == ["known.json"]


# --- downloads -------------------------------------------------------------------------------


def test_a_download_to_a_path_grows_beside_it_as_part_and_replaces_it_only_at_the_end(tmp_path):
    kept = tmp_path / "notes.txt"
    kept.write_bytes(b"mine")
    link = ScriptedLink(ScriptedStream([described(), CONTENT]))
    seen = []

    def progress(done, total):
        seen.append((done, names_in(tmp_path), kept.read_bytes()))

    assert client_files.download(link, CREDENTIALS, FILE_ID, kept, progress) == kept
    assert seen[-1] == (len(CONTENT), ["notes.txt", "notes.txt.part"], b"mine")
    assert names_in(tmp_path) == ["notes.txt"] and kept.read_bytes() == CONTENT


def test_bytes_after_the_announced_size_are_not_part_of_the_file(tmp_path):
    # The file comes in two pieces, the second followed by bytes the server should not have sent.
    link = ScriptedLink(ScriptedStream([described(), CONTENT[:10], CONTENT[10:] + b"and then some more"]))
    saved = client_files.download(link, CREDENTIALS, FILE_ID, tmp_path, None)
    assert saved == tmp_path / "notes.txt" and saved.read_bytes() == CONTENT


def test_a_part_file_taken_away_midway_is_a_file_that_could_not_be_saved(tmp_path, english):
    kept = tmp_path / "notes.txt"
    kept.write_bytes(b"mine")
    link = ScriptedLink(ScriptedStream([described(), CONTENT]))

    def another_program_cleans_up(done, total):
        if done == total:
            (tmp_path / "notes.txt.part").unlink()

    with pytest.raises(errors.TransferFailed) as failed:
        client_files.download(link, CREDENTIALS, FILE_ID, kept, another_program_cleans_up)
    assert str(failed.value) == (
        f"Could not save the file ({os.strerror(errno.ENOENT)}); check the folder and its free space."
    )
    assert names_in(tmp_path) == ["notes.txt"] and kept.read_bytes() == b"mine"


def test_a_damaged_download_is_refused_in_words_and_the_file_it_would_replace_stays(tmp_path, english):
    kept = tmp_path / "notes.txt"
    kept.write_bytes(b"mine")
    link = ScriptedLink(ScriptedStream([described(sha256=hashlib.sha256(b"other").hexdigest()), CONTENT]))
    with pytest.raises(errors.TransferFailed) as failed:
        client_files.download(link, CREDENTIALS, FILE_ID, kept, None)
    assert str(failed.value) == "The file arrived damaged (its checksum does not match); download it again."
    assert names_in(tmp_path) == ["notes.txt"] and kept.read_bytes() == b"mine"


def test_a_connection_that_breaks_before_the_description_names_the_cause(tmp_path, english):
    link = ScriptedLink(ScriptedStream([], after=ConnectionResetError(104, "Connection reset by peer")))
    with pytest.raises(errors.TransferFailed) as failed:
        client_files.download(link, CREDENTIALS, FILE_ID, tmp_path, None)
    assert str(failed.value) == (
        "The connection broke before the file came ([Errno 104] Connection reset by peer); try again."
    )
    assert names_in(tmp_path) == []


def test_an_answer_that_is_not_the_files_description_is_refused_as_such(tmp_path):
    link = ScriptedLink(ScriptedStream([p.encode_tcrp(Operation.DOWNLOAD, State.RESPONSE, "", b"\x00")]))
    with pytest.raises(errors.RemoteProtocolError) as refused:
        client_files.download(link, CREDENTIALS, FILE_ID, tmp_path, None)
    assert refused.value.reason == "the server did not describe the file"
    assert names_in(tmp_path) == []


# --- uploads ---------------------------------------------------------------------------------


def source_of(tmp_path: Path, data: bytes) -> Path:
    source = tmp_path / "notes.bin"
    source.write_bytes(data)
    return source


def test_an_upload_moves_in_chunks_and_sends_the_bytes_then_their_checksum(tmp_path):
    data = bytes(range(256)) * (client_files.CHUNK // 256) * 2 + b"tail"
    stream = ScriptedStream([completed()])
    seen: list[tuple[int, int]] = []
    file_id = client_files.upload(
        ScriptedLink(stream), CREDENTIALS, source_of(tmp_path, data), lambda done, total: seen.append((done, total))
    )
    assert file_id == FILE_ID
    assert bytes(stream.sent) == data + hashlib.sha256(data).digest()
    chunk = client_files.CHUNK
    assert seen == [(0, len(data)), (chunk, len(data)), (2 * chunk, len(data)), (len(data), len(data))]


def test_a_file_that_grows_while_it_is_sent_is_sent_at_the_size_announced(tmp_path):
    data = b"a" * client_files.CHUNK + b"the end"
    source = source_of(tmp_path, data)
    stream = ScriptedStream([completed()])

    def someone_appends(done, total):
        if done == 0:
            with open(source, "ab") as more:
                more.write(b" and a postscript written meanwhile")

    link = ScriptedLink(stream)
    client_files.upload(link, CREDENTIALS, source, someone_appends)
    [(operation, room, payload)] = link.requests
    assert p.decode_file_request(operation, payload).size == len(data)
    assert bytes(stream.sent) == data + hashlib.sha256(data).digest()


def test_a_file_that_shrinks_while_it_is_sent_is_not_shared(tmp_path, english):
    source = source_of(tmp_path, CONTENT)
    stream = ScriptedStream([completed()])

    def someone_truncates(done, total):
        source.write_bytes(b"")

    with pytest.raises(errors.TransferFailed) as failed:
        client_files.upload(ScriptedLink(stream), CREDENTIALS, source, someone_truncates)
    assert str(failed.value) == "The file got shorter while it was being sent; it was not shared."
    assert bytes(stream.sent) == b""


def test_a_send_that_breaks_on_a_refusal_is_said_in_the_servers_words(tmp_path, english):
    # The server refuses midway (its disk filled) and hangs up: the client's next write breaks,
    # and what it then reads is the refusal.
    refusal = p.encode_tcrp(Operation.UPLOAD, State.RESPONSE, "", p.encode_status(Status.STORAGE_FULL, "disk"))
    stream = ScriptedStream([refusal], send_limit=client_files.CHUNK, break_sending=BrokenPipeError(32, "Broken pipe"))
    source = source_of(tmp_path, bytes(3 * client_files.CHUNK))
    with pytest.raises(errors.StorageFull):
        client_files.upload(ScriptedLink(stream), CREDENTIALS, source, None)
    assert len(stream.sent) == client_files.CHUNK


def test_a_send_that_breaks_without_a_word_names_the_cause(tmp_path, english):
    stream = ScriptedStream([], send_limit=client_files.CHUNK, break_sending=BrokenPipeError(32, "Broken pipe"))
    source = source_of(tmp_path, bytes(3 * client_files.CHUNK))
    with pytest.raises(errors.TransferFailed) as failed:
        client_files.upload(ScriptedLink(stream), CREDENTIALS, source, None)
    assert str(failed.value) == "The connection broke while sending ([Errno 32] Broken pipe); the file was not shared."


@pytest.mark.parametrize(
    "completion, problem",
    [
        (
            p.encode_tcrp(Operation.UPLOAD, State.RESPONSE, "", p.encode_status(Status.OK)),
            "the server did not complete the upload",
        ),
        (completed(file_id="../x"), "the server's upload answer has no file id"),
    ],
    ids=["a status", "a bad file id"],
)
def test_an_upload_answer_that_is_no_completion_is_refused_as_such(tmp_path, completion, problem):
    stream = ScriptedStream([completion])
    with pytest.raises(errors.RemoteProtocolError) as refused:
        client_files.upload(ScriptedLink(stream), CREDENTIALS, source_of(tmp_path, CONTENT), None)
    assert refused.value.reason == problem
