"""A folder through a real ChatServer between two real ChatClients: shared as one item,
saved as a folder byte for byte; a hostile archive posing as a folder refused whole."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from ocm_core import errors
from ocm_core.cli import chat
from ocm_core.net import client_files
from ocm_core.sansio import events as ev
from ocm_core.wire.files import FOLDER_MIME
from tests.support import EventLog, wait_until
from tests.test_folders import NESTED, make_tree, tree_of

pytestmark = pytest.mark.mutation_run


def room_of_two(make_client):
    alice, bob = make_client(), make_client()
    alice.create_room("folders", "alice")
    bob.join_room("folders", "bob")
    return alice, bob


def test_a_folder_crosses_as_one_item_and_is_saved_as_a_folder(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    source = make_tree(tmp_path / "写真 2024", NESTED)
    told = []
    seen: list[tuple[int, int]] = []
    file_id = alice.send_folder(source, lambda done, total: seen.append((done, total)), packed=told.append)
    assert [(s.name, s.files, s.bytes) for s in told] == [("写真 2024", 4, 73_016)]
    assert seen[-1][0] == seen[-1][1] > 73_016  # the archive: the files and their headers
    shared = EventLog(bob).wait_type(ev.FileShared)[0]
    assert (shared.file_id, shared.name, shared.mime, shared.sender) == (file_id, "写真 2024.zip", FOLDER_MIME, "alice")
    assert shared.is_folder and shared.files == 4  # the server passes the count on
    listed = {f.file_id: f for f in bob.list_files()}[file_id]
    assert listed.is_folder and listed.size == shared.size and listed.files == 4

    into = tmp_path / "bob"
    into.mkdir()
    first = bob.download_folder(file_id, into)
    second = bob.download_folder(file_id, into)
    assert (first, second) == (into / "写真 2024", into / "写真 2024 (1)")
    assert tree_of(first) == tree_of(second) == tree_of(source)
    assert sorted(os.listdir(into)) == ["写真 2024", "写真 2024 (1)"]  # no archive or temporary folder left


def test_a_file_is_not_taken_for_a_folder(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    (tmp_path / "a.txt").write_bytes(b"plain")
    file_id = alice.send_file(tmp_path / "a.txt")
    into = tmp_path / "bob"
    into.mkdir()
    with pytest.raises(errors.BadRequest, match="is a file, not a folder"):
        bob.download_folder(file_id, into)
    assert os.listdir(into) == []


def test_a_hostile_archive_posing_as_a_folder_is_refused_and_leaves_nothing(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zipped:
        zipped.writestr("fine.txt", b"ok")
        zipped.writestr("../../escape.txt", b"gotcha")
    file_id = client_files.upload(
        alice.link, alice.file_credentials(), evil, None, name="Photos.zip", mime=FOLDER_MIME, files=1
    )
    into = tmp_path / "bob" / "downloads"
    into.mkdir(parents=True)
    with pytest.raises(errors.TransferFailed, match="would land outside it"):
        bob.download_folder(file_id, into)
    assert os.listdir(into) == [] and not list(tmp_path.rglob("escape.txt"))


def test_a_folder_over_ten_thousand_files_is_refused_before_anything_is_sent(server, make_client, tmp_path):
    alice, bob = room_of_two(make_client)
    source = make_tree(tmp_path / "many", {f"{n}.txt": b"" for n in range(10_001)})
    with pytest.raises(errors.BadRequest, match="more than 10,000 files; share a smaller one"):
        alice.send_folder(source)
    assert bob.list_files() == []


def test_the_terminal_sends_a_folder_and_gets_it_back_as_a_folder(server, make_client, tmp_path, capsys):
    alice, bob = room_of_two(make_client)
    out: list[str] = []
    source = make_tree(tmp_path / "Photos", {"a/b.txt": b"hello", "c.txt": b"world!", "empty": None})
    assert chat.file_command(alice, f"/send {source}") == "* " + f"Sending {source}…"
    shared = EventLog(bob).wait_type(ev.FileShared)[0]
    into = tmp_path / "saved"
    assert chat.file_command(bob, f"/get {shared.file_id} {into}") == f"* Fetching {shared.file_id} into {into}…"
    wait_until(lambda: "Saved " in "".join(out.append(capsys.readouterr().out) or out))
    assert tree_of(into / "Photos") == tree_of(source)
    assert "Photos: folder, 2 files, 11 bytes" in "".join(out)
    listing = chat.file_command(bob, "/files") or ""
    assert f"{shared.file_id}  Photos (folder, " in listing and "from alice" in listing


def test_the_folder_words():
    assert chat.folder_text(12, 3_400_000) == "folder, 12 files, 3.4 MB"
    assert chat.folder_text(1, 5) == "folder, 1 file, 5 bytes"
    assert chat.folder_text(0, 5) == "folder, 5 bytes"
