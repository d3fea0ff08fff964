"""The client's side of file transfers (ocm_core/net/client_files.py) against a server that
fails in each way it can: it hangs up before the file, during it, or after the last byte; it
stalls; it answers something else; it refuses midway. Each failure is one sentence a person
can act on, and leaves no file behind; a good transfer reports its progress to the byte."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from pathlib import Path

import pytest
from liar import liar  # a fixture, used by name

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.crypto.identity import KnownServers
from ocm_core.net import client_files
from ocm_core.net.request import ServerLink
from ocm_core.wire import Operation, State, Status

pytestmark = pytest.mark.mutation_run  # a stub server per test, up in milliseconds

FILE_ID = "0123456789abcdef"
CREDENTIALS = ("lobby", "token", "proof")
CONTENT = b"the whole file, 32 bytes long..!"


def ok(operation: Operation) -> bytes:
    return p.encode_tcrp(operation, State.RESPONSE, "", p.encode_status(Status.OK))


def described(size: int = len(CONTENT), sha256: str = hashlib.sha256(CONTENT).hexdigest()) -> bytes:
    info = {"id": FILE_ID, "name": "notes.txt", "size": size, "mime": "text/plain", "sha256": sha256}
    return p.encode_tcrp(Operation.DOWNLOAD, State.COMPLETE, "", json.dumps(info).encode())


def link_to(server, tmp_path: Path, timeout: float = 2.0) -> ServerLink:
    return ServerLink("127.0.0.1", server.port, timeout=timeout, known_servers=KnownServers(tmp_path / "known.json"))


def hang_up(tls) -> None:
    tls.shutdown(socket.SHUT_RDWR)
    tls.close()


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_a_whole_download_reports_its_progress_from_zero_to_the_last_byte(liar, tmp_path, out):
    server = liar(ok(Operation.DOWNLOAD) + described() + CONTENT)
    seen: list[tuple[int, int]] = []
    saved = client_files.download(
        link_to(server, tmp_path), CREDENTIALS, FILE_ID, out, lambda done, total: seen.append((done, total))
    )
    assert saved == out / "notes.txt" and saved.read_bytes() == CONTENT
    assert seen == [(0, len(CONTENT)), (len(CONTENT), len(CONTENT))]
    request = p.decode_tcrp(server.requests[0])
    assert (request.operation, request.room) == (Operation.DOWNLOAD, "lobby")
    assert p.decode_file_request(Operation.DOWNLOAD, request.payload).file_id == FILE_ID


def test_a_progress_that_says_false_cancels_and_none_goes_on(liar, tmp_path, out):
    server = liar(ok(Operation.DOWNLOAD) + described() + CONTENT)
    with pytest.raises(errors.TransferCancelled, match=r"^The transfer was cancelled\.$"):
        client_files.download(link_to(server, tmp_path), CREDENTIALS, FILE_ID, out, lambda done, total: False)
    assert list(out.iterdir()) == []
    again = liar(ok(Operation.DOWNLOAD) + described() + CONTENT)
    saved = client_files.download(link_to(again, tmp_path), CREDENTIALS, FILE_ID, out, lambda done, total: None)
    assert saved.read_bytes() == CONTENT


def test_a_server_that_hangs_up_before_the_file_is_a_connection_broken_before_it_came(liar, tmp_path, out):
    server = liar(lambda tls, request: (tls.sendall(ok(Operation.DOWNLOAD)), hang_up(tls)))
    with pytest.raises(errors.TransferFailed, match=r"^The connection broke before the file came \(.+\); try again\.$"):
        client_files.download(link_to(server, tmp_path), CREDENTIALS, FILE_ID, out, None)
    assert list(out.iterdir()) == []


def test_a_server_that_answers_something_else_than_the_files_description_is_refused(liar, tmp_path, out):
    server = liar(ok(Operation.DOWNLOAD) + ok(Operation.DOWNLOAD))
    with pytest.raises(errors.RemoteProtocolError, match="the server did not describe the file"):
        client_files.download(link_to(server, tmp_path), CREDENTIALS, FILE_ID, out, None)


def test_a_server_that_hangs_up_during_the_file_leaves_nothing_and_says_so(liar, tmp_path, out):
    server = liar(lambda tls, request: (tls.sendall(ok(Operation.DOWNLOAD) + described() + CONTENT[:10]), hang_up(tls)))
    kept = out / "notes.txt"
    kept.write_bytes(b"mine")
    with pytest.raises(
        errors.TransferFailed,
        match=r"^The connection broke during the download \(the server closed the connection early\); "
        r"download it again\.$",
    ):
        client_files.download(link_to(server, tmp_path), CREDENTIALS, FILE_ID, kept, None)
    assert [path.name for path in out.iterdir()] == ["notes.txt"] and kept.read_bytes() == b"mine"


def test_a_server_that_stalls_during_the_file_is_given_up(liar, tmp_path, out, monkeypatch):
    monkeypatch.setattr(client_files, "IDLE_TIMEOUT", 0.3)
    server = liar(ok(Operation.DOWNLOAD) + described() + CONTENT[:10])  # then nothing, the line held open
    started = time.monotonic()
    with pytest.raises(errors.TransferFailed, match=r"^The server stopped sending the file; download it again\.$"):
        client_files.download(link_to(server, tmp_path), CREDENTIALS, FILE_ID, out, None)
    assert time.monotonic() - started < 5  # the idle timeout, not the connection's
    assert list(out.iterdir()) == []


def test_a_folder_that_cannot_be_written_is_named_with_the_reason(liar, tmp_path):
    server = liar(ok(Operation.DOWNLOAD) + described() + CONTENT)
    missing = tmp_path / "gone" / "notes.txt"
    with pytest.raises(
        errors.BadRequest, match=r"^Cannot write in .*gone.notes\.txt \(No such file or directory\); choose another"
    ):
        client_files.download(link_to(server, tmp_path), CREDENTIALS, FILE_ID, missing, None)


def test_a_file_id_that_is_none_is_refused_before_asking(liar, tmp_path, out):
    server = liar(b"")
    with pytest.raises(errors.NoSuchFile, match=r"^'zz' is not a file id; /files lists the room's files\.$"):
        client_files.download(link_to(server, tmp_path), CREDENTIALS, "zz", out, None)
    assert server.requests == []


def test_a_server_that_does_not_answer_the_request_is_said_to_be_silent(liar, tmp_path, out, monkeypatch):
    monkeypatch.setattr(client_files, "IDLE_TIMEOUT", 0.3)
    server = liar(b"")  # reads the request, then says nothing
    with pytest.raises(errors.TransferFailed, match=r"^The server at 127\.0\.0\.1:\d+ did not answer; try again\.$"):
        client_files.download(link_to(server, tmp_path), CREDENTIALS, FILE_ID, out, None)
    assert list(out.iterdir()) == []


def test_a_server_that_is_gone_is_a_connection_that_broke(tmp_path, out):
    with socket.create_server(("127.0.0.1", 0)) as gone:
        port = gone.getsockname()[1]
    link = ServerLink("127.0.0.1", port, timeout=1.0, known_servers=KnownServers(tmp_path / "known.json"))
    with pytest.raises(errors.ClientError, match=rf"127\.0\.0\.1:{port}"):
        client_files.download(link, CREDENTIALS, FILE_ID, out, None)


# --- uploads ---------------------------------------------------------------------------------


def read_upload(tls, request: bytes, size: int) -> bytes:
    """The file's bytes and its checksum, as the client sends them after the OK."""
    data = b""
    while len(data) < size + 32:
        chunk = tls.recv(size + 32 - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_a_whole_upload_sends_its_bytes_and_checksum_and_reports_progress(liar, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_bytes(CONTENT)
    received: list[bytes] = []

    def take(tls, request):
        tls.sendall(ok(Operation.UPLOAD))
        received.append(read_upload(tls, request, len(CONTENT)))
        tls.sendall(p.encode_tcrp(Operation.UPLOAD, State.COMPLETE, "", json.dumps({"file_id": FILE_ID}).encode()))

    server = liar(take)
    seen: list[tuple[int, int]] = []
    file_id = client_files.upload(
        link_to(server, tmp_path), CREDENTIALS, source, lambda done, total: seen.append((done, total))
    )
    assert file_id == FILE_ID
    assert received == [CONTENT + hashlib.sha256(CONTENT).digest()]
    assert seen == [(0, len(CONTENT)), (len(CONTENT), len(CONTENT))]
    request = p.decode_file_request(Operation.UPLOAD, p.decode_tcrp(server.requests[0]).payload)
    assert (request.name, request.size, request.mime) == ("notes.txt", len(CONTENT), "text/plain")


def test_a_file_that_cannot_be_read_is_named_with_the_reason(liar, tmp_path):
    server = liar(b"")
    with pytest.raises(
        errors.BadRequest, match=r"^Cannot read .*absent\.txt \(No such file or directory\); choose another file\.$"
    ):
        client_files.upload(link_to(server, tmp_path), CREDENTIALS, tmp_path / "absent.txt", None)
    assert server.requests == []


def test_a_refusal_midway_is_said_in_the_servers_words(liar, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(3 * client_files.CHUNK))

    def refuse(tls, request):
        tls.sendall(ok(Operation.UPLOAD))
        tls.recv(1000)
        tls.sendall(p.encode_tcrp(Operation.UPLOAD, State.RESPONSE, "", p.encode_status(Status.STORAGE_FULL, "disk")))
        hang_up(tls)

    server = liar(refuse)
    with pytest.raises(errors.StorageFull):
        client_files.upload(link_to(server, tmp_path), CREDENTIALS, source, None)


def test_a_server_that_hangs_up_midway_without_a_word_did_not_take_the_file(liar, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(3 * client_files.CHUNK))
    server = liar(lambda tls, request: (tls.sendall(ok(Operation.UPLOAD)), tls.recv(1000), hang_up(tls)))
    with pytest.raises(
        errors.TransferFailed, match=r"^The connection broke while sending \(.+\); the file was not shared\.$"
    ):
        client_files.upload(link_to(server, tmp_path), CREDENTIALS, source, None)


def test_a_server_that_takes_the_bytes_and_goes_quiet_did_not_share_the_file(liar, tmp_path, monkeypatch):
    monkeypatch.setattr(client_files, "IDLE_TIMEOUT", 0.3)
    source = tmp_path / "notes.txt"
    source.write_bytes(CONTENT)
    server = liar(lambda tls, request: (tls.sendall(ok(Operation.UPLOAD)), read_upload(tls, request, len(CONTENT))))
    with pytest.raises(
        errors.TransferFailed, match=r"^The server stopped taking the file; it was not shared\. Try again\.$"
    ):
        client_files.upload(link_to(server, tmp_path), CREDENTIALS, source, None)


@pytest.mark.parametrize(
    "completion, problem",
    [
        (
            p.encode_tcrp(Operation.UPLOAD, State.RESPONSE, "", p.encode_status(Status.OK)),
            "did not complete the upload",
        ),
        (p.encode_tcrp(Operation.UPLOAD, State.COMPLETE, "", b'{"file_id": 7}'), "upload answer has no file id"),
        (p.encode_tcrp(Operation.UPLOAD, State.COMPLETE, "", b'{"file_id": "../x"}'), "upload answer has no file id"),
    ],
)
def test_an_upload_answer_without_a_file_id_is_refused(liar, tmp_path, completion, problem):
    source = tmp_path / "notes.txt"
    source.write_bytes(CONTENT)
    server = liar(
        lambda tls, request: (
            tls.sendall(ok(Operation.UPLOAD)),
            read_upload(tls, request, len(CONTENT)),
            tls.sendall(completion),
        )
    )
    with pytest.raises(errors.RemoteProtocolError, match=problem):
        client_files.upload(link_to(server, tmp_path), CREDENTIALS, source, None)


def test_a_refused_upload_is_refused_in_the_servers_words(liar, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_bytes(CONTENT)
    refusal = p.encode_status(Status.FILE_TOO_LARGE, "the file is 32 bytes; this server takes files of at most 8")
    server = liar(p.encode_tcrp(Operation.UPLOAD, State.RESPONSE, "", refusal))
    with pytest.raises(errors.FileTooLarge):
        client_files.upload(link_to(server, tmp_path), CREDENTIALS, source, None)


def test_an_unknown_name_gets_the_generic_type_and_a_known_one_its_own():
    assert client_files.guess_mime("photo.png") == "image/png"
    assert client_files.guess_mime("data.unknownext") == "application/octet-stream"
    assert client_files.guess_mime("archive.tar.gz") == "application/x-tar"
