"""Files without sockets: the request and event codecs, safe names on every system, unique names
in a folder, the file store's reservations."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.storage import filenames
from ocm_core.storage.filenames import claim_unique, safe_name
from ocm_core.storage.filestore import FileStore


def test_hostile_names_are_made_safe():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\..\\Windows\\system.ini") == "system.ini"
    assert safe_name("..") == "file" and safe_name("") == "file" and safe_name(" . ") == "file"
    assert (
        safe_name("CON") == "_CON" and safe_name("nul.txt") == "_nul.txt" and safe_name("com1.tar.gz") == "_com1.tar.gz"
    )
    assert safe_name("LPT9") == "_LPT9" and safe_name("CONSOLE.txt") == "CONSOLE.txt"
    assert safe_name("a\x00b\x1fc\u202e.txt") == "a_b_c_.txt"
    assert safe_name('what?<>:"|*.txt') == "what_______.txt"
    assert safe_name(".bashrc") == "bashrc" and safe_name("trailing. ") == "trailing"
    long = safe_name("日本" * 200 + ".png")
    assert long.endswith(".png") and len(long.encode("utf-8")) <= 255
    assert safe_name("写真 2024.jpg") == "写真 2024.jpg"


def test_claim_unique_counts_up(tmp_path):
    names = []
    for _ in range(3):
        path, handle = claim_unique(tmp_path, "a.txt")
        handle.close()
        names.append(path.name)
    assert names == ["a.txt", "a (1).txt", "a (2).txt"]


def test_claim_unique_gives_up_at_its_limit_of_one_name_and_says_where(tmp_path, monkeypatch):
    monkeypatch.setattr(filenames, "SAME_NAME_LIMIT", 3)  # 10,000 files would be slow to make
    for name in ("a.txt", "a (1).txt", "a (2).txt"):
        (tmp_path / name).touch()
    with pytest.raises(FileExistsError) as refused:
        claim_unique(tmp_path, "a.txt")
    assert str(tmp_path) in str(refused.value) and "3 files named like a.txt" in str(refused.value)
    assert len(list(tmp_path.iterdir())) == 3  # no fourth file made


def test_the_file_store_reserves_space_for_uploads_in_progress(tmp_path):
    store = FileStore(tmp_path, max_file_bytes=100, max_storage_bytes=150)
    store.take_up(set())
    first = store.begin("r", "a", "x", 100, "")
    with pytest.raises(Exception, match="full"):
        store.begin("r", "a", "y", 60, "")
    store.abort(first)
    assert store.used_bytes == 0
    store.begin("r", "a", "y", 60, "")


def test_file_requests_and_events_round_trip_and_bad_ones_are_refused_with_a_reason():
    upload = p.FileRequest("tok", "cHJvb2Y=", "a.png", 10, "image/png")
    assert p.decode_file_request(p.Operation.UPLOAD, p.encode_file_request(upload)) == upload
    download = p.FileRequest("tok", None, file_id="0123456789abcdef")
    assert p.decode_file_request(p.Operation.DOWNLOAD, p.encode_file_request(download)) == download
    for operation, payload, reason in [
        (p.Operation.UPLOAD, b'{"token": "t", "name": "a", "size": -1}', "size"),
        (p.Operation.UPLOAD, b'{"token": "t", "name": "a", "size": true}', "size"),
        (p.Operation.UPLOAD, b'{"token": "t", "name": "", "size": 1}', "name"),
        (p.Operation.UPLOAD, b'{"token": "t", "name": "a", "size": 1, "mime": "\xc3\xa9"}', "type"),
        (p.Operation.DOWNLOAD, b'{"token": "t", "file_id": "../../etc"}', "file id"),
        (p.Operation.FILES, b'{"proof": "x"}', "token"),
        (p.Operation.FILES, b"[1]", "JSON object"),
    ]:
        with pytest.raises(errors.RemoteProtocolError, match=reason):
            p.decode_file_request(operation, payload)
    info = p.FileInfo("0123456789abcdef", "写真.jpg", 12345, "image/jpeg")
    event = p.Event(7, 1000, p.EventType.FILE, "アリス", p.encode_file_event_text(info))
    decoded = p.decode_body(p.encode_event(event))
    assert p.decode_file_event(decoded) == p.FileInfo("0123456789abcdef", "写真.jpg", 12345, "image/jpeg", "アリス")
    with pytest.raises(errors.RemoteProtocolError):
        p.decode_file_event(p.Event(7, 1000, p.EventType.FILE, "a", "not json"))


@given(
    st.sampled_from([p.Operation.UPLOAD, p.Operation.DOWNLOAD, p.Operation.FILES]),
    st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.sampled_from(["token", "proof", "name", "size", "mime", "file_id", "x"]),
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=300), st.lists(st.integers())),
            max_size=7,
        ).map(lambda d: json.dumps(d).encode()),
    ),
)
@settings(max_examples=300, deadline=None)
def test_random_file_requests_decode_or_raise_a_protocol_error(operation, payload):
    try:
        request = p.decode_file_request(operation, payload)
    except errors.ProtocolError:
        return
    assert request.token and (operation is not p.Operation.DOWNLOAD or p.is_file_id(request.file_id))
    if operation is p.Operation.UPLOAD:
        assert request.size >= 0 and request.name and safe_name(request.name)


@given(st.text(max_size=400))
@settings(max_examples=500, deadline=None)
def test_any_name_becomes_one_safe_on_every_system(name):
    safe = safe_name(name)
    assert safe and safe not in (".", "..") and len(safe.encode("utf-8")) <= 255
    assert not set('/\\<>:"|?*') & set(safe) and all(ch >= " " and ch != "\x7f" for ch in safe)
    assert safe == safe.strip(". ") and safe.partition(".")[0].upper() not in {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        "COM1",
        "LPT1",
    }
    assert safe_name(safe) == safe  # making a safe name safe again changes nothing


def test_a_long_name_is_cut_to_exactly_255_bytes_keeping_a_short_extension():
    assert safe_name("x" * 300 + ".png") == "x" * 251 + ".png"
    assert safe_name("v1.2 " + "x" * 300 + ".png") == "v1.2 " + "x" * 246 + ".png"  # the last dot's extension
    assert safe_name("x" * 300 + ".c") == "x" * 253 + ".c"
    assert safe_name("y" * 300 + "." + "e" * 16) == "y" * 238 + "." + "e" * 16  # 16 letters: still an extension
    # 17 letters are more name: cut from the end until the rest is short enough to keep
    assert safe_name("y" * 300 + "." + "e" * 17) == "y" * 238 + "." + "e" * 16
    assert safe_name("a" * 10 + "." + "b" * 300) == "a" * 10 + "." + "b" * 244
    assert safe_name("z" * 300) == "z" * 255
    assert safe_name("w" * 255) == "w" * 255  # exactly the most: kept whole
    assert safe_name("写" * 85 + "a") == "写" * 85  # 256 bytes: one byte too many


def test_a_name_keeps_its_own_letters_and_a_padded_device_name_is_still_the_device():
    assert safe_name("Xmas list.txt") == "Xmas list.txt"
    assert safe_name("con .txt") == "_con .txt"  # Windows ignores the space: still the console
    assert safe_name(" aux") == "_aux"
