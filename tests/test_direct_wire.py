"""Direct messages, presence and typing on the wire (ocm_core/wire/direct.py), decoded through
decode_body as the relay does: every frame round trips, every malformed one is a
RemoteProtocolError; a direct-message key in JSON; the longest direct text fits both ways."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocm_core import wire as p
from ocm_core.crypto.direct import PersonalKey, public_text
from ocm_core.crypto.sealed import SealedChannel
from ocm_core.errors import RemoteProtocolError
from ocm_core.wire import DirectState, MailKind, PresenceState, Refusal

U64 = st.integers(0, 2**64 - 1)
KEY = st.binary(min_size=32, max_size=32)
SEALED = st.binary(min_size=49, max_size=600)  # more than the ephemeral key and tag
TEXT_CHARS = st.characters(blacklist_categories=("Cs",))  # what UTF-8 can carry
NAME_CHARS = st.characters(whitelist_categories=("L", "N", "P", "S"))
NAMES = st.one_of(
    st.sampled_from(["alice", "アリス", "山田 太郎", "秘密のメッセージ", "Zoë"]),
    st.text(NAME_CHARS, min_size=1, max_size=60),
).filter(lambda name: len(name.encode("utf-8")) <= p.MAX_NAME_BYTES)
STATE_AND_REFUSAL = st.one_of(
    st.tuples(st.sampled_from([DirectState.KEPT, DirectState.PASSED]), st.just(Refusal.NONE)),
    st.tuples(st.just(DirectState.REFUSED), st.sampled_from([r for r in Refusal if r is not Refusal.NONE])),
)
ALICE_KEY, BOB_KEY = bytes(range(32)), bytes(range(32, 64))
SEALED_49 = bytes(range(49))


def decode(body: bytes):
    return p.decode_body(body)


def refused(body: bytes, match: str | None = None) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        decode(body)


# --- round trips ---------------------------------------------------------------------------


@given(U64, KEY, NAMES, SEALED)
def test_a_direct_round_trips(msg_id, key, recipient, sealed):
    frame = p.Direct(msg_id, key, recipient, sealed)
    assert decode(p.encode_direct(frame)) == frame


@given(U64)
def test_a_mail_got_round_trips(mail_id):
    assert decode(p.encode_mail_got(mail_id)) == p.MailGot(mail_id)


@pytest.mark.parametrize("state", list(PresenceState))
def test_presence_round_trips(state):
    assert decode(p.encode_presence(state)) == p.PresenceFrame(state)


@given(st.one_of(st.just(""), NAMES))
def test_typing_round_trips_to_the_room_or_to_a_name(to):
    assert decode(p.encode_typing(to)) == p.Typing(to)


@given(U64, STATE_AND_REFUSAL, st.text(TEXT_CHARS, max_size=80))
def test_a_direct_state_round_trips(msg_id, state_and_refusal, text):
    state, refusal = state_and_refusal
    frame = p.DirectStateFrame(msg_id, state, refusal, text)
    assert decode(p.encode_direct_state(frame)) == frame


@given(U64, U64, U64, KEY, NAMES, SEALED)
def test_a_mailed_message_round_trips(mail_id, time_ms, msg_id, key, peer, sealed):
    mail = p.Mail(mail_id, MailKind.MESSAGE, time_ms, msg_id, key, peer, sealed)
    assert decode(p.encode_mail(mail)) == mail


@given(U64, U64, U64, KEY, NAMES)
def test_a_receipt_round_trips_without_a_body(mail_id, time_ms, msg_id, key, peer):
    mail = p.Mail(mail_id, MailKind.DELIVERED, time_ms, msg_id, key, peer)
    assert decode(p.encode_mail(mail)) == mail


@given(NAMES, st.sampled_from(list(PresenceState)))
def test_a_presence_note_round_trips(name, state):
    assert decode(p.encode_presence_note(name, state)) == p.PresenceNote(name, state)


@given(NAMES, st.booleans())
def test_a_typing_note_round_trips(name, direct):
    assert decode(p.encode_typing_note(name, direct)) == p.TypingNote(name, direct)


@given(U64, st.text(TEXT_CHARS, min_size=1))
def test_the_sealed_plaintext_round_trips(sent_ms, text):
    message = p.DirectText(sent_ms, text)
    assert p.decode_direct_text(p.encode_direct_text(message)) == message


def test_the_extreme_ids_and_a_japanese_name_survive_exactly():
    top = 2**64 - 1
    direct = p.Direct(top, ALICE_KEY, "ボブ", SEALED_49)
    assert decode(p.encode_direct(direct)) == direct
    mail = p.Mail(top, MailKind.MESSAGE, top, top, BOB_KEY, "アリス", SEALED_49)
    assert decode(p.encode_mail(mail)) == mail
    assert decode(p.encode_mail_got(0)) == p.MailGot(0)


# --- malformed input -------------------------------------------------------------------------

# Each frame whole, and how many of its first bytes every shorter prefix lacks: all of them,
# but for a DIRECT_STATE's text, which runs to the end (so a shorter text is still a text).
# A DIRECT's or a MESSAGE's sealed part runs to the end too, but here it is 49 bytes, one
# more than the least, so every cut into it leaves too little.
TRUNCATED = {
    "direct": (p.encode_direct(p.Direct(7, BOB_KEY, "ボブ", SEALED_49)), None),
    "mail got": (p.encode_mail_got(7), None),
    "presence": (p.encode_presence(PresenceState.AWAY), None),
    "typing to a name": (p.encode_typing("ボブ"), None),
    "typing in the room": (p.encode_typing(""), None),
    "direct state": (p.encode_direct_state(p.DirectStateFrame(7, DirectState.PASSED)), None),
    "refusal": (p.encode_direct_state(p.DirectStateFrame(7, DirectState.REFUSED, Refusal.TOO_LONG, "long")), 13),
    "mailed message": (p.encode_mail(p.Mail(1, MailKind.MESSAGE, 2, 3, ALICE_KEY, "アリス", SEALED_49)), None),
    "receipt": (p.encode_mail(p.Mail(1, MailKind.DELIVERED, 2, 3, BOB_KEY, "ボブ")), None),
    "presence note": (p.encode_presence_note("アリス", PresenceState.ONLINE), None),
    "typing note": (p.encode_typing_note("アリス", True), None),
}


@pytest.mark.parametrize("frame, whole", TRUNCATED.values(), ids=TRUNCATED.keys())
def test_every_truncation_of_a_frame_is_refused(frame, whole):
    decode(frame)  # whole, it decodes
    for length in range(len(frame) if whole is None else whole):
        refused(frame[:length])


@pytest.mark.parametrize(
    "frame",
    [
        p.encode_mail_got(7),
        p.encode_presence(PresenceState.ONLINE),
        p.encode_typing(""),
        p.encode_typing("bob"),
        p.encode_presence_note("bob", PresenceState.AWAY),
        p.encode_typing_note("bob", False),
    ],
)
def test_trailing_bytes_after_a_frame_are_refused(frame):
    refused(frame + b"\x00", "unexpected bytes")


def head(kind: int) -> bytes:
    return bytes((p.FRAME_MAGIC, p.FRAME_VERSION, kind))


@pytest.mark.parametrize(
    "body, match",
    [
        (head(0x07) + b"\x02", "unknown presence 2"),
        (head(0x16) + b"\x02" + b"\x03bob", "unknown presence 2"),
        (head(0x17) + b"\x02" + b"\x03bob", "neither 0 nor 1"),
        (head(0x14) + bytes(8) + b"\x00\x00", "unknown direct state 0"),
        (head(0x14) + bytes(8) + b"\x04\x00", "unknown direct state 4"),
        (head(0x14) + bytes(8) + b"\x03\x07", "unknown refusal 7"),
        (head(0x15) + bytes(8) + b"\x00" + bytes(16) + BOB_KEY + b"\x03bob" + SEALED_49, "unknown mail kind 0"),
        (head(0x15) + bytes(8) + b"\x04" + bytes(16) + BOB_KEY + b"\x03bob", "unknown mail kind 4"),
    ],
)
def test_values_outside_their_enums_are_refused(body, match):
    refused(body, match)


@pytest.mark.parametrize(
    "state, refusal",
    [
        (DirectState.PASSED, Refusal.TOO_LONG),
        (DirectState.KEPT, Refusal.MAILBOX_FULL),
        (DirectState.REFUSED, Refusal.NONE),
    ],
)
def test_a_refusal_comes_exactly_with_the_refused_state(state, refusal):
    refused(head(0x14) + (7).to_bytes(8, "big") + bytes((state, refusal)), "exactly when it is REFUSED")


def test_a_receipt_with_a_body_is_refused():
    receipt = p.encode_mail(p.Mail(1, MailKind.DELIVERED, 2, 3, BOB_KEY, "bob"))
    refused(receipt + b"x", "a receipt carries a body")
    refused(receipt + SEALED_49, "a receipt carries a body")


@pytest.mark.parametrize("size", [0, 1, 47, 48])
def test_a_sealed_part_no_longer_than_its_ephemeral_key_and_tag_is_refused(size):
    direct = p.encode_direct(p.Direct(7, BOB_KEY, "bob", bytes(size)))
    mail = p.encode_mail(p.Mail(1, MailKind.MESSAGE, 2, 3, ALICE_KEY, "alice", bytes(size)))
    refused(direct, "shorter than its ephemeral key and tag")
    refused(mail, "shorter than its ephemeral key and tag")
    assert decode(p.encode_direct(p.Direct(7, BOB_KEY, "bob", bytes(49)))).sealed == bytes(49)


BAD_UTF8 = b"\xff\xfe"


@pytest.mark.parametrize(
    "body",
    [
        head(0x05) + bytes(8) + BOB_KEY + b"\x02" + BAD_UTF8 + SEALED_49,
        head(0x08) + b"\x02" + BAD_UTF8,
        head(0x15) + bytes(8) + b"\x02" + bytes(16) + BOB_KEY + b"\x02" + BAD_UTF8,
        head(0x16) + b"\x01" + b"\x02" + BAD_UTF8,
        head(0x17) + b"\x01" + b"\x03" + "ボ".encode()[:2] + b"x",
        head(0x14) + bytes(8) + b"\x03\x04" + BAD_UTF8,
    ],
    ids=["direct", "typing", "mail", "presence note", "typing note", "direct state text"],
)
def test_names_and_texts_that_are_not_utf8_are_refused(body):
    refused(body, "not valid UTF-8")


@pytest.mark.parametrize(
    "body, match",
    [
        (head(0x05) + bytes(8) + BOB_KEY + b"\x00" + SEALED_49, "recipient is empty"),
        (head(0x15) + bytes(8) + b"\x02" + bytes(16) + BOB_KEY + b"\x00", "name is empty"),
        (head(0x16) + b"\x01\x00", "name is empty"),
        (head(0x17) + b"\x01\x00", "name is empty"),
        (head(0x05) + bytes(8) + BOB_KEY + b"\x03b\x07b" + SEALED_49, "without control characters"),
    ],
)
def test_empty_or_unreadable_names_are_refused_where_a_name_is_needed(body, match):
    refused(body, match)


@pytest.mark.parametrize("plaintext", [b"", bytes(8), bytes(8) + BAD_UTF8])
def test_a_sealed_plaintext_without_text_or_not_utf8_is_refused(plaintext):
    with pytest.raises(RemoteProtocolError):
        p.decode_direct_text(plaintext)


@pytest.mark.parametrize("kind", [0x0C, 0x1B, 0x20])
def test_an_unknown_kind_is_refused(kind):
    refused(head(kind) + bytes(8), "unknown frame kind")


# --- a direct-message key in JSON ------------------------------------------------------------


@given(KEY)
def test_a_key_as_public_text_gives_it_is_read_back(raw):
    text = public_text(raw)
    assert len(text) == 43 and p.decode_direct_key(text) == raw


def test_a_personal_keys_public_text_is_accepted():
    key = PersonalKey.generate()
    assert p.decode_direct_key(public_text(key.public)) == key.public


@pytest.mark.parametrize(
    "text",
    [
        public_text(BOB_KEY) + "=",  # padded
        base64.urlsafe_b64encode(BOB_KEY).decode(),  # padded, as base64 gives it
        public_text(BOB_KEY)[:42],  # short
        public_text(BOB_KEY) + "A",  # long
        public_text(bytes(31)),  # 31 bytes
        public_text(bytes(33)),  # 33 bytes
        "!" * 43,  # not base64 at all
        public_text(bytes([0xFB] * 32)).replace("-", "+").replace("_", "/"),  # standard, not url-safe
        public_text(bytes(32))[:42] + "B",  # a last character with its unused bits set
        "",
    ],
)
def test_a_key_that_is_not_43_characters_of_base64url_for_32_bytes_is_refused(text):
    assert p.decode_direct_key(text) is None


# --- the longest direct text ------------------------------------------------------------------

ROOM, TOKEN = "lobby", b"T" * 22
LONG_ROOM = "r" * 255


def datagram_sizes(text: str, sender: str, recipient: str) -> tuple[int, int]:
    """The sealed datagrams a direct `text` takes: up as a DIRECT in ROOM with TOKEN, and down
    as a MAIL in a room with a 255-byte name."""
    alice, bob = PersonalKey.generate(), PersonalKey.generate()
    plaintext = p.encode_direct_text(p.DirectText(1_700_000_000_000, text))
    sealed = alice.seal(bob.public, 2**64 - 1, plaintext).to_bytes()
    up = p.encode_direct(p.Direct(2**64 - 1, bob.public, recipient, sealed))
    down = p.encode_mail(p.Mail(2**64 - 1, MailKind.MESSAGE, 2**64 - 1, 2**64 - 1, alice.public, sender, sealed))
    up_header, down_header = p.datagram_header(ROOM.encode(), TOKEN), p.datagram_header(LONG_ROOM.encode(), b"")
    return len(up_header) + p.SEAL_OVERHEAD + len(up), len(down_header) + p.SEAL_OVERHEAD + len(down)


@pytest.mark.parametrize("sender, recipient", [("alice", "bob"), ("アリス", "ボブ"), ("a" * 255, "b" * 255)])
def test_a_text_of_the_most_bytes_fits_a_datagram_both_ways_and_one_more_byte_does_not(sender, recipient):
    most = p.max_direct_text_bytes(len(ROOM), len(TOKEN), len(sender.encode()), len(recipient.encode()))
    assert most > 0
    up, down = datagram_sizes("x" * most, sender, recipient)
    assert up <= p.MAX_DATAGRAM and down <= p.MAX_DATAGRAM
    assert p.MAX_DATAGRAM in (up, down)  # the limit is tight
    up, down = datagram_sizes("x" * (most + 1), sender, recipient)
    assert max(up, down) > p.MAX_DATAGRAM


def test_the_most_bytes_fit_when_sealed_for_real():
    most = p.max_direct_text_bytes(len(ROOM), len(TOKEN), len(b"alice"), len(b"bob"))
    alice, bob = PersonalKey.generate(), PersonalKey.generate()
    plaintext = p.encode_direct_text(p.DirectText(1, "x" * most))
    sealed = alice.seal(bob.public, 1, plaintext).to_bytes()
    up = SealedChannel.for_client(bytes(32)).seal(
        p.datagram_header(ROOM.encode(), TOKEN), p.encode_direct(p.Direct(1, bob.public, "bob", sealed))
    )
    down = SealedChannel.for_server(bytes(32), 1).seal(
        p.datagram_header(LONG_ROOM.encode(), b""),
        p.encode_mail(p.Mail(1, MailKind.MESSAGE, 1, 1, alice.public, "alice", sealed)),
    )
    assert len(up) <= p.MAX_DATAGRAM and len(down) == p.MAX_DATAGRAM
    assert p.decode_body(
        SealedChannel.for_client(bytes(32)).open(p.datagram_header(LONG_ROOM.encode(), b""), down[2 + 255 :])
    ) == p.Mail(1, MailKind.MESSAGE, 1, 1, alice.public, "alice", sealed)
