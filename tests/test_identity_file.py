"""The server's identity and the client's list of known servers as files and as the certificate
a client is shown (ocm_core/crypto/identity.py): where they are written and how they read, the
certificate's names and dates, the start numbers of a server whose clock says 1970, and what
an operator reads when a start cannot be recorded."""

from __future__ import annotations

import datetime
import errno
import logging
import os
import tempfile
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support import ecdsa_certificate

from ocm_core.crypto import identity as identity_module
from ocm_core.crypto.identity import KnownServers, ServerIdentity, public_key_of_certificate


def test_the_identity_is_written_beside_itself_not_in_the_systems_temporary_folder(tmp_path, monkeypatch):
    """A temporary folder on another disk could not be renamed over the key (and one that is
    missing or full must not stop the server)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-temporary-folder"))
    made = ServerIdentity.load_or_create(tmp_path / "data")
    assert ServerIdentity.load_or_create(tmp_path / "data").public_bytes == made.public_bytes
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == ["server-identity.pem"]


def test_a_list_of_known_servers_that_cannot_be_replaced_fails_and_leaves_no_stray_file(tmp_path, caplog):
    (tmp_path / "known.json").mkdir()  # something else took its name
    with caplog.at_level(logging.WARNING, logger="ocm_core.crypto.identity"), pytest.raises(IsADirectoryError):
        KnownServers(tmp_path / "known.json").check("10.0.0.5:9090", "AAAA-BBBB-CCCC-DDDD-EEEE")
    assert [path.name for path in tmp_path.iterdir()] == ["known.json"]
    assert os.strerror(errno.EISDIR) in caplog.messages[0]  # the reason it could not be read


def test_the_list_of_known_servers_reads_one_address_a_line_in_order(tmp_path):
    known = KnownServers(tmp_path / "known.json")
    known.check("10.0.0.9:9090", "ZZZZ-YYYY-XXXX-WWWW-VVVV")
    known.check("10.0.0.5:9090", "AAAA-BBBB-CCCC-DDDD-EEEE")
    lines = (tmp_path / "known.json").read_text("utf-8").splitlines()
    assert [line.strip() for line in lines] == [
        "{",
        '"10.0.0.5:9090": "AAAA-BBBB-CCCC-DDDD-EEEE",',
        '"10.0.0.9:9090": "ZZZZ-YYYY-XXXX-WWWW-VVVV"',
        "}",
    ]


def test_a_damaged_list_of_known_servers_is_named_with_what_is_wrong(tmp_path, caplog):
    (tmp_path / "known.json").write_text("{not json", "utf-8")
    with caplog.at_level(logging.WARNING, logger="ocm_core.crypto.identity"):
        assert KnownServers(tmp_path / "known.json").get("h:1") is None
    assert "Expecting property name enclosed in double quotes" in caplog.messages[0]


@pytest.fixture
def tokyo():
    """The machine's local time nine hours ahead of UTC."""
    if not hasattr(time, "tzset"):
        pytest.skip("TZ is read again only where time.tzset exists")
    with pytest.MonkeyPatch.context() as patch:  # its own: undoing it leaves other fixtures' changes
        patch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        yield
    time.tzset()


def test_the_certificate_names_the_program_and_is_valid_from_yesterday_for_ten_years_in_utc(tokyo):
    certificate = x509.load_pem_x509_certificate(ServerIdentity.generate().certificate_pem())
    now = datetime.datetime.now(datetime.UTC)
    names = [attribute.value for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    assert names == ["Online Chat Messenger server"] and certificate.issuer == certificate.subject
    # a minute of slack for the time between making it and reading the clock here; a local
    # time taken for UTC would be nine hours off
    assert abs(certificate.not_valid_before_utc - (now - datetime.timedelta(days=1))) < datetime.timedelta(minutes=1)
    assert abs(certificate.not_valid_after_utc - (now + datetime.timedelta(days=3650))) < datetime.timedelta(minutes=1)


def test_a_certificate_with_another_kind_of_key_is_refused_in_words():
    certificate, _key = ecdsa_certificate()
    with pytest.raises(ValueError) as refused:
        public_key_of_certificate(certificate.public_bytes(serialization.Encoding.DER))
    assert str(refused.value) == "the server's certificate does not hold an Ed25519 key"


def never_sleeps(seconds: float) -> None:
    raise AssertionError(f"a start that was recorded should not wait ({seconds} s)")


@pytest.mark.parametrize("kept", [None, ""], ids=["no file yet", "an empty file"])
def test_a_server_whose_clock_says_1970_numbers_its_starts_from_one(tmp_path, kept):
    """A board without a clock battery starts at the epoch; an empty file (a write cut short)
    counts as no start recorded."""
    identity = ServerIdentity.load_or_create(tmp_path)
    if kept is not None:
        (tmp_path / "server-boots").write_text(kept, encoding="ascii")
    boots = [identity.next_boot(clock=lambda: 0.5, sleep=never_sleeps) for _ in range(3)]
    assert boots == [1, 2, 3]
    assert (tmp_path / "server-boots").read_text(encoding="ascii") == "3"


def test_a_start_that_cannot_be_recorded_is_logged_with_the_file_and_the_reason(tmp_path, monkeypatch, caplog):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    identity = ServerIdentity.load_or_create(tmp_path)
    monkeypatch.setattr(identity_module, "write_private", disk_full)
    clock = [1_800_000_000.5]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    with caplog.at_level(logging.WARNING, logger="ocm_core.crypto.identity"):
        assert identity.next_boot(clock=lambda: clock[0], sleep=sleep) == 1_800_000_000
    [line] = caplog.messages
    assert line.startswith(f"cannot record this start in {tmp_path / 'server-boots'} (No space left on device)")
    assert line.endswith("its number comes from the clock")
