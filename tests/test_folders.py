"""A folder as one item, without sockets: pack and unpack round trips byte for byte, hostile
archives refused whole with their sentence and nothing written, links never followed, the
bounds, and the FILE event's optional "files" count."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import time
import unicodedata
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocm_core import wire as p
from ocm_core.errors import RemoteProtocolError
from ocm_core.storage import folders
from ocm_core.storage.folders import FolderRefused, pack, summary, unpack
from ocm_core.wire.datagram import Event, EventType
from ocm_core.wire.files import FOLDER_MIME, MAX_FOLDER_FILES, FileInfo, FileRequest, decode_file_request
from ocm_core.wire.tcrp import Operation

pytestmark = pytest.mark.mutation_run


def tree_of(folder: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under `folder`, by relative POSIX path."""
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        found[path.relative_to(folder).as_posix()] = None if path.is_dir() else path.read_bytes()
    return found


def make_tree(root: Path, tree: dict[str, bytes | None]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in tree.items():
        path = root / name
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return root


NESTED = {
    "写真/夏 休み/海.jpg": os.urandom(3000),
    "写真/夏 休み/空のフォルダー": None,
    "写真/README": b"",
    "my notes.txt": "こんにちは\n".encode(),
    "a/b/c/d/deep file.bin": os.urandom(70_000),
    "empty": None,
}


def test_a_nested_tree_with_japanese_names_spaces_and_empty_folders_comes_back_byte_for_byte(tmp_path):
    source = make_tree(tmp_path / "旅行 2024", NESTED)
    packed = pack(source, tmp_path / "out.zip")
    assert (packed.name, packed.files, packed.bytes) == ("旅行 2024", 4, 3000 + 0 + 16 + 70_000)
    assert (packed.skipped, packed.renamed) == ((), ())
    listed = summary(tmp_path / "out.zip")
    assert (listed.name, listed.files, listed.bytes) == ("out", 4, 73_016)
    into = tmp_path / "into"
    into.mkdir()
    saved = unpack(tmp_path / "out.zip", into, name=packed.name)
    assert saved == into / "旅行 2024"
    assert tree_of(saved) == tree_of(source)
    assert os.listdir(into) == ["旅行 2024"]  # the temporary folder is gone


def test_a_name_taken_in_the_destination_gets_a_number_and_nothing_is_overwritten(tmp_path):
    source = make_tree(tmp_path / "Photos", {"a.txt": b"new"})
    pack(source, tmp_path / "Photos.zip")
    into = make_tree(tmp_path / "into", {"Photos/a.txt": b"old", "Photos (1)": None})
    assert unpack(tmp_path / "Photos.zip", into) == into / "Photos (2)"
    assert (into / "Photos" / "a.txt").read_bytes() == b"old"
    assert (into / "Photos (2)" / "a.txt").read_bytes() == b"new"


_SAFE_PART = st.text(alphabet=st.sampled_from("abcXYZ019 _-あいうえお漢字テスト"), min_size=1, max_size=12).filter(
    lambda name: name.strip(" ") == name
)


@st.composite
def trees(draw) -> dict[str, bytes | None]:
    tree: dict[str, bytes | None] = {}
    keys: set[str] = set()
    for _ in range(draw(st.integers(0, 12))):
        parts = draw(st.lists(_SAFE_PART, min_size=1, max_size=4))
        path = "/".join(parts)
        prefixes = {"/".join(parts[:i]).casefold() for i in range(1, len(parts) + 1)}
        if prefixes & keys or any(k.startswith(path.casefold() + "/") for k in keys):
            continue  # a name already used as a file, or the same name with other case
        keys |= prefixes
        tree[path] = draw(st.one_of(st.none(), st.binary(max_size=300)))
    return tree


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees())
def test_any_tree_of_safe_names_round_trips_byte_for_byte(tree):
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        source = make_tree(base / "src", tree)
        packed = pack(source, base / "src.zip")
        into = base / "into"
        into.mkdir()
        assert tree_of(unpack(base / "src.zip", into)) == tree_of(source)
        assert packed.files == sum(1 for data in tree_of(source).values() if data is not None)


# --- packing: links, special files and unsafe names ----------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_links_in_the_folder_are_left_out_never_followed(tmp_path):
    outside = make_tree(tmp_path / "secret", {"key.pem": b"PRIVATE"})
    source = make_tree(tmp_path / "share", {"ok.txt": b"ok"})
    os.symlink(outside / "key.pem", source / "key link")
    os.symlink(outside, source / "dir link", target_is_directory=True)
    os.mkfifo(source / "pipe")
    packed = pack(source, tmp_path / "share.zip")
    assert sorted(packed.skipped) == ["dir link", "key link", "pipe"] and packed.files == 1
    assert b"PRIVATE" not in (tmp_path / "share.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "share.zip") as zipped:
        assert zipped.namelist() == ["ok.txt"]


@pytest.mark.skipif(sys.platform == "win32", reason="Windows cannot make these names")
def test_names_some_computer_refuses_are_made_safe_and_case_twins_unique_when_packed(tmp_path):
    names = {"CON.txt": b"1", "name. ": b"2", "A.txt": b"3", "what?.txt": b"4", "tab\tname": b"6"}
    if sys.platform != "darwin":  # macOS's disks ignore case: these two are one file there
        names |= {"a.txt": b"5"}
    source = make_tree(tmp_path / "odd", names)
    packed = pack(source, tmp_path / "odd.zip")
    with zipfile.ZipFile(tmp_path / "odd.zip") as zipped:
        written = set(zipped.namelist())
    assert {"_CON.txt", "name", "A.txt", "what_.txt", "tab_name"} <= written
    if sys.platform != "darwin":
        assert "a (1).txt" in written
    assert len(written) == len(names) == packed.files and ("CON.txt", "_CON.txt") in packed.renamed
    into = tmp_path / "into"
    into.mkdir()
    assert sorted(tree_of(unpack(tmp_path / "odd.zip", into)).values()) == sorted(names.values())


def test_over_the_bounds_nothing_is_packed(tmp_path):
    source = make_tree(tmp_path / "big", {f"{n}.txt": b"x" * 10 for n in range(4)})
    with pytest.raises(FolderRefused, match="more than 3 files; share a smaller one"):
        pack(source, tmp_path / "a.zip", max_files=3)
    with pytest.raises(FolderRefused, match="add up to more than 39 bytes; share a smaller one"):
        pack(source, tmp_path / "b.zip", max_bytes=39)
    with pytest.raises(FolderRefused, match="is not a folder"):
        pack(source / "0.txt", tmp_path / "c.zip")
    assert not list(tmp_path.glob("*.zip"))


# --- unpacking hostile archives: refused whole, with the sentence, nothing written ----------


def hostile(path: Path, *members: tuple[str | zipfile.ZipInfo, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": the point of one case
        for name, data in members:
            zipped.writestr(name, data)
    return path


def link_member(name: str) -> zipfile.ZipInfo:
    member = zipfile.ZipInfo(name)
    member.external_attr = (stat.S_IFLNK | 0o777) << 16
    return member


NFC, NFD = unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")
OUTSIDE, BAD_NAME, SAME, LINK = "would land outside it", "is not a name every computer accepts", "same file", "link"

HOSTILE = {
    "parent": ([("ok.txt", b"ok"), ("../escape", b"x")], OUTSIDE),
    "deeper parent": ([("a/../../escape", b"x")], OUTSIDE),
    "absolute": ([("/abs", b"x")], OUTSIDE),
    "drive": ([("C:\\x", b"x")], OUTSIDE),
    "drive relative": ([("C:x", b"x")], OUTSIDE),
    "backslashes": ([("a\\..\\b", b"x")], BAD_NAME),
    "device with extension": ([("CON.txt", b"x")], BAD_NAME),
    "device in a folder": ([("sub/nul", b"x")], BAD_NAME),
    "device with spaces": ([("COM1 .log", b"x")], BAD_NAME),
    "trailing dot and space": ([("name. ", b"x")], BAD_NAME),
    "control character": ([("bell\x07", b"x")], BAD_NAME),
    "bidi override": ([("txt.\u202eexe", b"x")], BAD_NAME),
    "empty part": ([("a//b", b"x")], BAD_NAME),
    "dot part": ([("a/./b", b"x")], BAD_NAME),
    "windows forbidden": ([("what?.txt", b"x")], BAD_NAME),
    "colon stream": ([("file.txt:stream", b"x")], BAD_NAME),
    "symlink member": ([("ok.txt", b"ok"), (link_member("link"), b"/etc/passwd")], LINK),
    "case twins": ([("A.txt", b"1"), ("a.txt", b"2")], SAME),
    "unicode twins": ([(NFC, b"1"), (NFD, b"2")], SAME),
    "folder case twins": ([("Dir/x", b"1"), ("dir/y", b"2")], SAME),
    "file and folder": ([("a", b"1"), ("a/b", b"2")], SAME),
    "the same name twice": ([("a", b"1"), ("a", b"2")], SAME),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_archive_is_refused_whole_with_its_sentence_and_nothing_written(tmp_path, case):
    members, sentence = HOSTILE[case]
    archive = hostile(tmp_path / "evil.zip", *members)
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(FolderRefused, match=sentence):
        unpack(archive, into)
    with pytest.raises(FolderRefused, match=sentence):
        summary(archive)
    assert os.listdir(into) == [] and not (tmp_path / "escape").exists()


def test_a_name_with_nul_is_refused_though_zipfile_would_cut_it_short(tmp_path):
    archive = hostile(tmp_path / "nul.zip", ("aXb.txt", b"x"))
    archive.write_bytes(archive.read_bytes().replace(b"aXb.txt", b"a\x00b.txt"))
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(FolderRefused, match=BAD_NAME):
        unpack(archive, into)
    assert os.listdir(into) == []


def test_more_than_ten_thousand_files_are_refused_before_any_is_written(tmp_path):
    archive = hostile(tmp_path / "many.zip", *((f"{n}", b"") for n in range(MAX_FOLDER_FILES + 1)))
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(FolderRefused, match="more than 10,000 files; it was not saved"):
        unpack(archive, into)
    assert os.listdir(into) == []


def test_an_end_record_declaring_a_huge_directory_is_refused_before_zipfile_reads_it(tmp_path):
    archive = hostile(tmp_path / "lie.zip", ("a", b"x"))
    data = bytearray(archive.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (60_000).to_bytes(2, "little") * 2  # entries on this disk and in all
    archive.write_bytes(bytes(data))
    with pytest.raises(FolderRefused, match="more than 10,000 files"):
        summary(archive)


def test_a_zip_bomb_is_refused_by_its_declared_size_and_nothing_written(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("zeros", bytes(3_000_000))
    assert archive.stat().st_size < 10_000
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(FolderRefused, match="larger than 1.0 MB"):
        unpack(archive, into, max_bytes=1_000_000)
    assert os.listdir(into) == []


def test_a_member_that_lies_about_its_size_is_refused_and_nothing_written(tmp_path):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("first.txt", b"fine")
        zipped.writestr("zeros", bytes(3_000_000))
    data = bytearray(archive.read_bytes())
    size = (3_000_000).to_bytes(4, "little")
    assert data.count(size) == 2  # the local header's and the central directory's uncompressed size
    archive.write_bytes(bytes(data).replace(size, (10).to_bytes(4, "little")))
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(FolderRefused, match="damaged"):
        unpack(archive, into, max_bytes=1_000_000)
    assert os.listdir(into) == []


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x05\x06" + bytes(18)[:10]])
def test_what_is_no_archive_is_called_damaged(tmp_path, data):
    (tmp_path / "x.zip").write_bytes(data)
    with pytest.raises(FolderRefused, match="damaged"):
        unpack(tmp_path / "x.zip", tmp_path)
    assert os.listdir(tmp_path) == ["x.zip"]


def test_an_encrypted_member_is_refused(tmp_path):
    archive = hostile(tmp_path / "locked.zip", ("a.txt", b"x"))
    data = bytearray(archive.read_bytes())
    for at in (0, data.rfind(b"PK\x01\x02")):  # general purpose flags: local header at 6, central at 8
        data[at + (6 if at == 0 else 8)] |= 1
    archive.write_bytes(bytes(data))
    with pytest.raises(FolderRefused, match=LINK):
        summary(archive)


def test_the_limits_are_the_servers_defaults():
    assert folders.MAX_FOLDER_BYTES == 4 * 1024**3 and MAX_FOLDER_FILES == 10_000


# --- the wire: an optional "files" count, ignored by readers that do not know it -------------


def test_a_folders_count_rides_in_the_file_event_and_the_upload_request():
    info = FileInfo("0123456789abcdef", "Photos.zip", 1234, FOLDER_MIME, "alice", files=12)
    text = p.encode_file_event_text(info)
    assert '"files":12' in text.replace(" ", "")
    back = p.decode_file_event(Event(seq=1, event_type=EventType.FILE, time_ms=0, name="alice", text=text))
    assert (back.files, back.is_folder, back.sender) == (12, True, "alice")
    assert p.file_from_json(p.file_to_json(info)) == info
    plain = FileInfo("0123456789abcdef", "a.txt", 1, "text/plain")
    assert "files" not in p.file_to_json(plain) and not plain.is_folder
    request = FileRequest("tok", "proof", "Photos.zip", 1234, FOLDER_MIME, files=12)
    assert decode_file_request(Operation.UPLOAD, p.encode_file_request(request)) == request


def test_unknown_keys_are_ignored_and_a_bad_count_is_refused():
    entry = {"id": "0123456789abcdef", "name": "a", "size": 1, "mime": "x/y", "future": [1, 2]}
    assert p.file_from_json(entry).files == 0
    for bad in (-1, True, "3", 1.5, MAX_FOLDER_FILES + 1):
        with pytest.raises(RemoteProtocolError, match="file count"):
            p.file_from_json(entry | {"files": bad})


def test_what_the_receiver_would_refuse_is_left_out_or_refused_when_packing(tmp_path):
    source = tmp_path / "src"
    deep = source / ("d" * 200) / ("e" * 200) / ("f" * 200) / ("g" * 200) / ("h" * 200) / ("i" * 40)
    deep.mkdir(parents=True)
    (deep / "x.txt").write_text("deep")  # over 1,024 bytes of path: left out, said so
    (source / "ok.txt").write_text("ok")
    if sys.platform.startswith("linux"):
        (source / "bad\udcff.txt".encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")).write_text("?")
    summary = folders.pack(source, tmp_path / "out.zip")
    assert summary.files == 1 and any(name.endswith("i" * 40) for name in summary.skipped)
    (tmp_path / "into").mkdir()
    unpacked = folders.unpack(tmp_path / "out.zip", tmp_path / "into")
    assert (unpacked / "ok.txt").read_text() == "ok"
    many = tmp_path / "many"
    many.mkdir()
    for n in range(31):
        (many / f"d{n}").mkdir()
    with pytest.raises(folders.FolderRefused, match="more than 15 files"):
        folders.pack(many, tmp_path / "many.zip", max_files=15)  # 31 folders: over twice 15 entries


def test_dot_files_keep_their_names(tmp_path):
    source = tmp_path / "project"
    (source / ".git").mkdir(parents=True)
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (source / ".env").write_text("A=1\n")
    (source / "env").write_text("not the same\n")
    summary = folders.pack(source, tmp_path / "p.zip")
    assert summary.renamed == ()
    (tmp_path / "into").mkdir()
    unpacked = folders.unpack(tmp_path / "p.zip", tmp_path / "into")
    assert (unpacked / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (unpacked / ".env").read_text() == "A=1\n" and (unpacked / "env").read_text() == "not the same\n"
    assert folders.member_name("..") != ".." and folders.member_name(".") != "."


def test_a_zip64_locator_that_points_elsewhere_than_zipfile_reads_is_refused(tmp_path):
    import struct

    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zipped:
        zipped.writestr("a.txt", "a")
    data = plain.read_bytes()
    body, end = data[:-22], data[-22:]
    (entries, directory_bytes, directory_at) = struct.unpack_from("<HII", end, 10)
    record_at = len(body)
    record = struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, directory_bytes, directory_at
    )
    for pointed, refused in ((record_at, False), (0, True)):  # where it is, and a decoy's place
        locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, pointed, 1)
        archive = tmp_path / f"zip64-{pointed}.zip"
        archive.write_bytes(body + record + locator + end)
        into = tmp_path / f"into-{pointed}"
        into.mkdir()
        if refused:
            with pytest.raises(folders.FolderRefused, match="damaged"):
                folders.unpack(archive, into)
            assert os.listdir(into) == []
        else:
            assert (folders.unpack(archive, into) / "a.txt").read_text() == "a"


def test_each_member_carries_its_kind_permissions_and_time(tmp_path):
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text("a")
    when = time.mktime((2021, 6, 15, 10, 20, 30, 0, 0, -1))
    os.utime(source / "sub" / "a.txt", (when, when))
    old = source / "old.txt"
    old.write_text("old")
    os.utime(old, (0, 0))  # 1970: before what a ZIP can say
    folders.pack(source, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zipped:
        by_name = {m.filename: m for m in zipped.infolist()}
    folder, file = by_name["sub/"], by_name["sub/a.txt"]
    assert folder.external_attr >> 16 == stat.S_IFDIR | 0o755 and folder.external_attr & 0x10
    assert file.external_attr >> 16 == stat.S_IFREG | 0o644 and not file.external_attr & 0x10
    assert file.date_time == (2021, 6, 15, 10, 20, 30)  # a folder's own time is not kept
    assert folder.date_time == (1980, 1, 1, 0, 0, 0)
    assert by_name["old.txt"].date_time == (1980, 1, 1, 0, 0, 0)
    assert {m.compress_type for m in by_name.values()} == {zipfile.ZIP_STORED}
    assert zipped.filename and by_name["sub/"].file_size == 0


def test_a_file_that_cannot_be_read_or_is_swapped_while_packing_is_said_so(tmp_path, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text("a")
    real_open = os.open

    def refusing(path, flags, *args):
        if str(path).endswith("a.txt"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(folders.os, "open", refusing)
    with pytest.raises(folders.FolderRefused) as refused:
        folders.pack(source, tmp_path / "out.zip")
    assert str(refused.value) == f"Cannot read {source / 'a.txt'} (Permission denied); check the folder."
    monkeypatch.setattr(folders.os, "open", real_open)
    listing = folders._listing

    def then_swapped(folder, max_files, max_bytes):
        found = listing(folder, max_files, max_bytes)
        (source / "a.txt").unlink()
        (source / "a.txt").mkdir()  # a folder where the file was listed
        return found

    monkeypatch.setattr(folders, "_listing", then_swapped)
    with pytest.raises(folders.FolderRefused) as swapped:
        folders.pack(source, tmp_path / "out2.zip")
    assert str(swapped.value).startswith(f"Cannot read {source / 'a.txt'}") or str(swapped.value) == (
        f"{source / 'a.txt'} changed while the folder was packed; try again."
    )
