"""A direct message sealed for one person (ocm_core/crypto/direct.py): it opens for that person
only, only as from its sender, only under its id; anything altered, moved or forged does not,
and says nothing about why. The install's key is kept for this user alone."""

from __future__ import annotations

import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocm_core.crypto.direct import DirectOpenFailed, PersonalKey, Sealed, public_text, safety_code

ALICE, BOB, MALLORY = PersonalKey.generate(), PersonalKey.generate(), PersonalKey.generate()
TEXT = "明日の会議、10時からで大丈夫？ 🙂".encode()


def test_a_message_opens_for_its_recipient_as_from_its_sender():
    sealed = ALICE.seal(BOB.public, 7, TEXT)
    assert TEXT not in sealed.to_bytes()
    assert BOB.open(ALICE.public, 7, Sealed.from_bytes(sealed.to_bytes())) == TEXT


def test_nobody_else_opens_it_and_no_one_passes_for_the_sender():
    sealed = ALICE.seal(BOB.public, 7, TEXT)
    with pytest.raises(DirectOpenFailed):
        MALLORY.open(ALICE.public, 7, sealed)  # the server, or anyone in the room
    forged = MALLORY.seal(BOB.public, 7, TEXT)  # Mallory's message, claimed to be Alice's
    with pytest.raises(DirectOpenFailed):
        BOB.open(ALICE.public, 7, forged)
    assert BOB.open(MALLORY.public, 7, forged) == TEXT  # as from Mallory, it is Mallory's


def test_the_message_id_and_the_pair_are_bound():
    sealed = ALICE.seal(BOB.public, 7, TEXT)
    with pytest.raises(DirectOpenFailed):
        BOB.open(ALICE.public, 8, sealed)  # replayed under another id
    with pytest.raises(DirectOpenFailed):
        ALICE.open(BOB.public, 7, sealed)  # turned round, as if Bob had sent it to Alice


def test_every_message_has_a_key_of_its_own():
    first, second = ALICE.seal(BOB.public, 1, TEXT), ALICE.seal(BOB.public, 1, TEXT)
    assert first.ephemeral != second.ephemeral and first.ciphertext != second.ciphertext


def test_a_small_order_point_or_a_short_message_does_not_open():
    with pytest.raises(DirectOpenFailed):
        BOB.open(ALICE.public, 1, Sealed(bytes(32), bytes(40)))
    with pytest.raises(DirectOpenFailed):
        BOB.open(bytes(32), 1, ALICE.seal(BOB.public, 1, TEXT))
    with pytest.raises(DirectOpenFailed):
        Sealed.from_bytes(bytes(47))
    with pytest.raises(DirectOpenFailed):
        BOB.open(ALICE.public[:31], 1, ALICE.seal(BOB.public, 1, TEXT))
    with pytest.raises(ValueError):
        ALICE.seal(BOB.public, -1, TEXT)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_change_to_the_sealed_bytes_fails_the_same_way(data):
    sealed = ALICE.seal(BOB.public, 3, TEXT).to_bytes()
    position = data.draw(st.integers(0, len(sealed) - 1))
    flip = data.draw(st.integers(1, 255))
    altered = bytearray(sealed)
    altered[position] ^= flip
    cut = data.draw(st.integers(0, len(sealed)))
    for candidate in (bytes(altered), sealed[:cut] if cut < len(sealed) else bytes(altered)):
        with pytest.raises(DirectOpenFailed):
            BOB.open(ALICE.public, 3, Sealed.from_bytes(candidate))


def test_the_safety_code_is_the_same_for_both_and_changes_with_a_key():
    code = safety_code(ALICE.public, BOB.public)
    assert code == safety_code(BOB.public, ALICE.public)
    assert code != safety_code(ALICE.public, MALLORY.public)
    groups = code.split(" ")
    assert len(groups) == 4 and all(len(g) == 5 and g.isdigit() for g in groups)
    assert len(public_text(ALICE.public)) == 43 and "=" not in public_text(ALICE.public)


def test_the_installs_key_is_kept_for_this_user_and_read_back(tmp_path):
    path = tmp_path / "config" / "direct.key"
    key = PersonalKey.load_or_create(path)
    if os.name == "posix":  # on Windows the profile's access list keeps it private
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = PersonalKey.load_or_create(path)
    assert again.public == key.public
    assert again.open(ALICE.public, 1, ALICE.seal(key.public, 1, TEXT)) == TEXT


def test_a_file_that_is_not_a_key_is_kept_aside_and_a_new_key_made(tmp_path):
    path = tmp_path / "direct.key"
    path.write_bytes(b"not a key")
    key = PersonalKey.load_or_create(path)
    assert (tmp_path / "direct.key.broken").read_bytes() == b"not a key"
    assert len(path.read_bytes()) == 32 and PersonalKey.load_or_create(path).public == key.public
