"""The server's file store (ocm_core/storage/filestore.py) as its disk and a second start
see it: each room sees its own files only, the caps hold at their exact edges, an upload
that did not finish leaves nothing, and a store started again from the same folder keeps
whole files and drops everything a stop cut short. No sockets: the mutation run uses these."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
import sys

import pytest

from ocm_core.errors import RegistryError
from ocm_core.storage.filestore import FileStore
from ocm_core.wire import Status


def store_file(store: FileStore, room: str, name: str, data: bytes, sender: str = "ana", mime: str = "text/plain"):
    upload = store.begin(room, sender, name, len(data), mime)
    upload.part.write_bytes(data)
    return store.commit(upload, hashlib.sha256(data).hexdigest())


def started(root, rooms, **caps) -> FileStore:
    store = FileStore(root, **caps)
    store.take_up(set(rooms))
    return store


def test_each_room_lists_and_serves_only_its_own_files(tmp_path):
    store = started(tmp_path, {"lobby", "locked"})
    lobby = store_file(store, "lobby", "plan.txt", b"lobby's plan")
    secret = store_file(store, "locked", "salaries.csv", b"names,pay")

    assert [info.name for info in store.files("lobby")] == ["plan.txt"]
    assert [info.name for info in store.files("locked")] == ["salaries.csv"]
    assert store.files("nobody") == []
    info, path = store.get("lobby", lobby.file_id)
    assert info == lobby and path.read_bytes() == b"lobby's plan"
    with pytest.raises(RegistryError) as refused:
        store.get("lobby", secret.file_id)  # a file id seen elsewhere opens nothing here
    assert refused.value.status is Status.NO_SUCH_FILE
    with pytest.raises(RegistryError):
        store.get("lobby", "0123456789abcdef")


def test_a_committed_file_is_described_on_disk_and_keeps_its_sender_type_and_checksum(tmp_path):
    store = started(tmp_path, {"lobby"})
    info = store_file(store, "lobby", "../../写真 1.png", b"\x89PNG", sender="ken", mime="image/png")

    assert (info.name, info.size, info.mime, info.sender) == ("写真 1.png", 4, "image/png", "ken")
    assert info.sha256 == hashlib.sha256(b"\x89PNG").hexdigest()
    directory = store.room_dir("lobby")
    assert directory.parent == tmp_path and sorted(path.name for path in directory.iterdir()) == sorted(
        [info.file_id, info.file_id + ".json"]
    )
    description = (directory / (info.file_id + ".json")).read_text("utf-8")
    assert "写真 1.png" in description  # an operator looking into the folder reads the name as sent
    described = json.loads(description)
    assert described["name"] == "写真 1.png" and described["sha256"] == info.sha256
    assert store.used_bytes == 4
    assert store_file(store, "lobby", "", b"x").name == "file"  # no name: a safe stand-in
    assert store.begin("lobby", "ana", "a.bin", 1, "").mime == "application/octet-stream"


def test_the_caps_hold_at_their_exact_edges_and_say_the_sizes(tmp_path):
    store = started(tmp_path, {"lobby"}, max_file_bytes=3 * 1024 * 1024, max_storage_bytes=5 * 1024 * 1024)
    with pytest.raises(RegistryError) as too_large:
        store.begin("lobby", "ana", "big", 3 * 1024 * 1024 + 1, "")
    assert too_large.value.status is Status.FILE_TOO_LARGE
    assert "3.0 MiB" in str(too_large.value) and "this server takes files of at most 3.0 MiB" in str(too_large.value)

    first = store.begin("lobby", "ana", "a", 3 * 1024 * 1024, "")  # exactly the file cap
    second = store.begin("lobby", "ana", "b", 2 * 1024 * 1024, "")  # exactly fills the storage
    assert store.used_bytes == 5 * 1024 * 1024
    with pytest.raises(RegistryError) as full:
        store.begin("lobby", "ana", "c", 1, "")
    assert full.value.status is Status.STORAGE_FULL and "(5.0 MiB) is full" in str(full.value)
    store.abort(second)
    assert store.used_bytes == 3 * 1024 * 1024
    store.begin("lobby", "ana", "c", 2 * 1024 * 1024, "")
    store.abort(first)

    small = started(tmp_path / "small", {"lobby"}, max_file_bytes=10, max_storage_bytes=10)
    with pytest.raises(RegistryError, match="the file is 11 bytes; this server takes files of at most 10 bytes"):
        small.begin("lobby", "ana", "x", 11, "")


def test_an_aborted_upload_leaves_no_bytes_and_frees_its_space(tmp_path):
    store = started(tmp_path, {"lobby"}, max_file_bytes=100, max_storage_bytes=100)
    upload = store.begin("lobby", "ana", "half.bin", 100, "")
    upload.part.write_bytes(b"x" * 40)
    store.abort(upload)
    assert list(store.room_dir("lobby").iterdir()) == []
    assert store.used_bytes == 0 and store.files("lobby") == []
    store_file(store, "lobby", "whole.bin", b"y" * 100)  # the whole cap is free again


def test_a_closed_rooms_files_go_and_other_rooms_keep_theirs(tmp_path, caplog):
    store = started(tmp_path, {"lobby", "desk"})
    store_file(store, "lobby", "a.txt", b"aaaa")
    store_file(store, "lobby", "b.txt", b"bb")
    kept = store_file(store, "desk", "c.txt", b"c")
    with caplog.at_level(logging.INFO, logger="ocm_core.storage.filestore"):
        store.delete_room("lobby")
    assert "closed room 'lobby': deleted its 2 file(s)" in caplog.messages
    assert store.files("lobby") == [] and not store.room_dir("lobby").exists()
    assert store.files("desk") == [kept] and store.used_bytes == 1
    assert store.get("desk", kept.file_id)[1].read_bytes() == b"c"

    gone = store_file(store, "desk", "d.txt", b"dd")
    store.discard(gone.file_id)
    assert store.files("desk") == [kept] and store.used_bytes == 1
    assert sorted(path.name for path in store.room_dir("desk").iterdir()) == sorted(
        [kept.file_id, kept.file_id + ".json"]
    )
    store.discard(gone.file_id)  # twice: nothing more happens
    assert store.used_bytes == 1


def test_a_closed_room_with_an_upload_still_arriving_keeps_only_that_upload(tmp_path):
    store = started(tmp_path, {"lobby"})
    store_file(store, "lobby", "a.txt", b"aaaa")
    arriving = store.begin("lobby", "ana", "late.bin", 3, "")
    arriving.part.write_bytes(b"abc")
    store.delete_room("lobby")
    assert [path.name for path in store.room_dir("lobby").iterdir()] == [arriving.part.name]
    store.abort(arriving)
    assert store.used_bytes == 0


def test_a_second_start_keeps_whole_files_and_drops_what_a_stop_cut_short(tmp_path):
    first = started(tmp_path, {"lobby", "desk", "closed"})
    whole = store_file(first, "lobby", "whole.txt", b"all of it")
    cut = store_file(first, "lobby", "cut.txt", b"0123456789")
    undescribed = store_file(first, "lobby", "lost.txt", b"lost")
    of_closed = store_file(first, "closed", "old.txt", b"old")
    desk = store_file(first, "desk", "desk.txt", b"desk")
    arriving = first.begin("lobby", "ana", "part.bin", 5, "")
    arriving.part.write_bytes(b"ab")
    lobby = first.room_dir("lobby")
    (lobby / cut.file_id).write_bytes(b"01234")  # the disk lost the end of it
    (lobby / (undescribed.file_id + ".json")).unlink()
    (lobby / "stray.tmp").write_bytes(b"?")
    (tmp_path / "not-a-room.txt").write_text("?")

    second = started(tmp_path, {"lobby", "desk"})  # the room "closed" is gone meanwhile

    assert second.files("lobby") == [whole]
    assert second.files("desk") == [desk] and second.files("closed") == []
    assert second.used_bytes == len(b"all of it") + len(b"desk")
    assert sorted(path.name for path in lobby.iterdir()) == sorted([whole.file_id, whole.file_id + ".json"])
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [second.room_dir("lobby").name, second.room_dir("desk").name]
    )
    with pytest.raises(RegistryError):
        second.get("lobby", cut.file_id)
    with pytest.raises(RegistryError):
        second.get("closed", of_closed.file_id)


def test_a_description_that_lies_about_its_file_drops_it_at_start(tmp_path):
    first = started(tmp_path, {"lobby"})
    renamed = store_file(first, "lobby", "a.txt", b"abc")
    broken = store_file(first, "lobby", "b.txt", b"def")
    lobby = first.room_dir("lobby")
    other_id = "fedcba9876543210"
    described = json.loads((lobby / (renamed.file_id + ".json")).read_text("utf-8"))
    (lobby / (renamed.file_id + ".json")).write_text(json.dumps({**described, "id": other_id}), "utf-8")
    (lobby / (broken.file_id + ".json")).write_text("{not json", "utf-8")

    second = started(tmp_path, {"lobby"})
    assert second.files("lobby") == [] and second.used_bytes == 0
    assert list(lobby.iterdir()) == []


def test_a_failed_commit_frees_the_space_and_leaves_no_description(tmp_path):
    store = started(tmp_path, {"lobby"}, max_file_bytes=10, max_storage_bytes=10)
    upload = store.begin("lobby", "ana", "a.txt", 10, "")  # its bytes never written: the rename fails
    with pytest.raises(OSError):
        store.commit(upload, "00" * 32)
    assert list(store.room_dir("lobby").iterdir()) == [] and store.used_bytes == 0
    store_file(store, "lobby", "b.txt", b"0123456789")


def test_sizes_in_a_refusal_read_in_mebibytes_from_one_mebibyte_on(tmp_path):
    mib = 1024 * 1024
    store = started(tmp_path, {"lobby"}, max_file_bytes=mib - 1, max_storage_bytes=1000 * mib)
    with pytest.raises(
        RegistryError, match=r"^the file is 1\.0 MiB; this server takes files of at most 1048575 bytes$"
    ):
        store.begin("lobby", "ana", "x", mib, "")
    big = started(tmp_path / "big", {"lobby"}, max_file_bytes=1000 * mib, max_storage_bytes=1000 * mib)
    with pytest.raises(
        RegistryError, match=r"^the file is 1000\.0 MiB; this server takes files of at most 1000\.0 MiB$"
    ):
        big.begin("lobby", "ana", "x", 1000 * mib + 1, "")
    big.begin("lobby", "ana", "y", 600 * mib, "")
    with pytest.raises(
        RegistryError, match=r"^the server's file storage \(1000\.0 MiB\) is full; files are freed when"
    ):
        big.begin("lobby", "ana", "z", 600 * mib, "")


def test_a_file_of_another_room_is_refused_in_words_the_member_can_read(tmp_path):
    store = started(tmp_path, {"lobby", "desk"})
    theirs = store_file(store, "desk", "a.txt", b"a")
    with pytest.raises(RegistryError) as refused:
        store.get("lobby", theirs.file_id)
    assert str(refused.value) == "that file is not shared in this room (its room may have closed)"


# --- start-up, a missing or broken folder, and what the operator reads --------------------------


def test_a_start_makes_a_missing_folder_with_its_parents_and_says_what_it_took_up(tmp_path, caplog):
    root = tmp_path / "data" / "files"
    first = started(root, {"lobby"})
    store_file(first, "lobby", "a.txt", b"abc")
    store_file(first, "lobby", "b.txt", b"defgh")
    with caplog.at_level(logging.INFO, logger="ocm_core.storage.filestore"):
        second = started(root, {"lobby"})
    assert len(second.files("lobby")) == 2
    [line] = [record.getMessage() for record in caplog.records]
    assert "took up 2 shared files" in line and "(8 bytes)" in line and line.endswith(f" in {root}")


def test_files_laid_out_as_an_earlier_version_wrote_them_are_taken_up(tmp_path):
    # The folder layout is what a restart (or an upgrade) relies on: each room's files in a
    # folder named by the first 32 hex digits of the SHA-256 of its name, `<id>` beside `<id>.json`.
    folder = tmp_path / hashlib.sha256("café".encode()).hexdigest()[:32]
    folder.mkdir()
    (folder / "0123456789abcdef").write_bytes(b"hello")
    described = {"id": "0123456789abcdef", "name": "hi.txt", "size": 5, "mime": "text/plain", "sender": "ana"}
    (folder / "0123456789abcdef.json").write_text(json.dumps(described), "utf-8")

    store = started(tmp_path, {"café"})
    [info] = store.files("café")
    assert (info.file_id, info.name, info.size, info.sender) == ("0123456789abcdef", "hi.txt", 5, "ana")
    assert store.get("café", info.file_id)[1].read_bytes() == b"hello"
    assert store.used_bytes == 5


def test_an_upload_after_the_files_folder_was_removed_makes_it_again(tmp_path):
    root = tmp_path / "data" / "files"
    store = started(root, {"lobby"})
    shutil.rmtree(tmp_path / "data")  # an operator's clean-up while the server runs
    info = store_file(store, "lobby", "a.txt", b"abc")
    assert store.get("lobby", info.file_id)[1].read_bytes() == b"abc"


def test_an_upload_whose_folder_cannot_be_made_is_refused_and_reserves_nothing(tmp_path):
    root = tmp_path / "files"
    root.write_bytes(b"a file where the folder should be")
    store = FileStore(root, max_file_bytes=10, max_storage_bytes=10)
    with pytest.raises(OSError):
        store.begin("lobby", "ana", "a.txt", 10, "")
    assert store.used_bytes == 0


@pytest.mark.skipif(sys.platform == "win32", reason="Windows reports a path under a file as missing")
def test_files_that_cannot_be_deleted_are_named_in_the_log_and_forgotten(tmp_path, caplog):
    store = started(tmp_path, {"lobby"})
    info = store_file(store, "lobby", "a.txt", b"abc")
    directory = store.room_dir("lobby")
    shutil.rmtree(directory)
    directory.write_bytes(b"")  # a file where the room's folder was: nothing under it can be deleted
    with caplog.at_level(logging.INFO, logger="ocm_core.storage.filestore"):
        store.delete_room("lobby")
    assert store.files("lobby") == [] and store.used_bytes == 0
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    for path, line in zip([directory / info.file_id, directory / f"{info.file_id}.json"], warnings[:2], strict=True):
        assert line.startswith(f"could not delete {path}: [Errno {errno.ENOTDIR}]")  # which file, and why
    assert warnings[2:] == ["closed room 'lobby': deleted 0 of its 1 file(s); the rest stay on disk"]


GIB = 1024**3


def test_the_default_caps_take_files_up_to_16_gib_while_the_disk_can_spare_them(tmp_path):
    disk = {"free": 100 * GIB, "total": 200 * GIB}  # keeps 5 % (at most 10 GiB) = 10 GiB free

    store = started(tmp_path, {"lobby"}, disk=lambda path: (disk["free"], disk["total"]))
    with pytest.raises(RegistryError) as too_large:  # refused before a byte is sent
        store.begin("lobby", "ana", "disk.img", 20 * GIB, "application/octet-stream")
    assert too_large.value.status is Status.FILE_TOO_LARGE and "16384.0 MiB" in str(too_large.value)
    store.begin("lobby", "ana", "a.img", 16 * GIB, "application/octet-stream")  # the cap's very edge
    disk["free"] = 45 * GIB  # 45 free, 10 kept, 16 still to be written: 19 to spare
    store.begin("lobby", "ana", "b.img", 15 * GIB, "application/octet-stream")
    with pytest.raises(RegistryError) as full:  # 4 to spare now
        store.begin("lobby", "ana", "c.img", 4 * GIB + 1, "application/octet-stream")
    assert full.value.status is Status.STORAGE_FULL
    assert "10240.0 MiB kept for the system" in str(full.value)
    store.begin("lobby", "ana", "c.img", 4 * GIB, "application/octet-stream")


def test_a_small_disk_keeps_five_percent_and_a_big_one_ten_gib_free(tmp_path):
    small = started(tmp_path / "s", {"lobby"}, disk=lambda path: (3 * GIB, 8 * GIB))  # 5 %: 0.4 GiB kept
    small.begin("lobby", "ana", "a.bin", 2 * GIB, "application/octet-stream")
    small.begin("lobby", "ana", "b.bin", 3 * GIB - 2 * GIB - int(0.4 * GIB), "application/octet-stream")
    with pytest.raises(RegistryError) as full:
        small.begin("lobby", "ana", "c.bin", 1, "application/octet-stream")
    assert full.value.status is Status.STORAGE_FULL
    big = started(tmp_path / "b", {"lobby"}, disk=lambda path: (30 * GIB, 4000 * GIB))  # 5 % would be 200
    big.begin("lobby", "ana", "a.bin", 16 * GIB, "application/octet-stream")
    with pytest.raises(RegistryError):
        big.begin("lobby", "ana", "b.bin", 4 * GIB + 1, "application/octet-stream")  # 30 - 10 - 16


def test_a_storage_cap_set_by_flag_still_holds_below_the_disk(tmp_path):
    store = started(tmp_path, {"lobby"}, max_storage_bytes=100, disk=lambda path: (500 * GIB, 1000 * GIB))
    store_file(store, "lobby", "a.txt", b"x" * 60)
    with pytest.raises(RegistryError) as full:
        store.begin("lobby", "ana", "b.txt", 41, "text/plain")
    assert full.value.status is Status.STORAGE_FULL
