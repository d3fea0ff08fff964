"""Invite links, ocm://HOST:PORT/ROOM?fp=FINGERPRINT (ocm_core/wire/links.py): text in, a link
or a reason out; every link a host can make reads back as itself."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocm_core import errors, wire
from ocm_core.wire import links
from ocm_core.wire.links import MAX_HOST_CHARS, MAX_LINK_CHARS, InviteLink, parse_link
from ocm_core.wire.names import refusal

FP = "VXQ4-RZ2B-6LMN-FA7K-3TUE"


def reason(text: str) -> str:
    with pytest.raises(errors.BadLink) as refused:
        parse_link(text)
    return str(refused.value)


# --- strategies ---------------------------------------------------------------------------

# Letters people name rooms with (Latin with Japanese, as one name may mix them), digits, and
# every character a link must encode.
ROOM_ALPHABET = (
    "abcxyzABCXYZ0129"
    "あいうえおがぱんアイウエオガパンー漢字雑談部屋会議室"
    " /?#%&=+@:;,[]<>\"'!$()*~._-"
    "ＡＢ１２！"  # full-width forms
    "🙂"
)
rooms = (
    st.text(alphabet=ROOM_ALPHABET, min_size=1, max_size=80)
    .filter(lambda room: refusal(room) is None)
    .filter(lambda room: len(room.encode()) <= wire.MAX_NAME_BYTES)
)
_label = st.from_regex(r"[a-z0-9_]([a-z0-9_-]{0,14}[a-z0-9_])?", fullmatch=True)
hostnames = (
    st.lists(_label, min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda name: not all(label.isdigit() for label in name.split(".")))
)
hosts = st.one_of(
    hostnames,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
fingerprints = st.lists(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=4, max_size=4), min_size=5, max_size=5
).map("-".join)
invite_links = st.builds(InviteLink, hosts, st.integers(1, 65535), rooms, fingerprints)


# --- round trips --------------------------------------------------------------------------


@given(invite_links)
@settings(max_examples=300)
def test_every_link_reads_back_as_itself(link):
    assert parse_link(link.text) == link


@given(invite_links, st.sampled_from(["{}", " {} ", "<{}>", "\n <{}>\t", "< {} >"]))
def test_a_link_pasted_from_mail_with_spaces_and_angle_brackets_reads_the_same(link, wrapping):
    assert parse_link(wrapping.format(link.text)) == link


@given(invite_links)
def test_a_link_is_plain_ascii_with_the_room_in_one_encoded_piece(link):
    text = link.text
    assert text.isascii() and not any(ch.isspace() for ch in text)
    encoded_room = text.split("/", 3)[3].partition("?")[0]
    assert not set(encoded_room) & set("/?#& ")
    assert re.fullmatch(r"(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+", encoded_room)
    assert text.endswith(f"?fp={link.fingerprint}")


@given(invite_links)
def test_the_scheme_and_the_fingerprint_may_come_in_lower_case(link):
    text = link.text.replace("ocm://", "OcM://", 1).replace(link.fingerprint, link.fingerprint.lower())
    assert parse_link(text) == link


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_any_text_is_a_link_or_a_bad_link_never_a_crash(text):
    try:
        parse_link(text)
    except errors.BadLink as exc:
        assert str(exc)


@given(invite_links, st.data())
def test_a_link_with_a_character_changed_is_a_link_or_a_bad_link(link, data):
    text = link.text
    index = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from(["", "%", "/", "?", "#", ":", "@", "[", "]", " ", "&", "=", "é", "0"]))
    try:
        parse_link(text[:index] + replacement + text[index + 1 :])
    except errors.BadLink as exc:
        assert str(exc)


# --- examples -----------------------------------------------------------------------------


def test_a_japanese_room_is_percent_encoded_utf8_and_comes_back():
    link = InviteLink("192.168.1.20", 9090, "雑談", FP)
    assert link.text == f"ocm://192.168.1.20:9090/%E9%9B%91%E8%AB%87?fp={FP}"
    assert parse_link(link.text).room == "雑談"


@pytest.mark.parametrize(
    ("room", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("what?", "what%3F"),
        ("#1", "%231"),
        ("100%", "100%25"),
        ("tea time", "tea%20time"),
        ("a&fp=x", "a%26fp%3Dx"),
        ("お茶 & ケーキ", "%E3%81%8A%E8%8C%B6%20%26%20%E3%82%B1%E3%83%BC%E3%82%AD"),
    ],
)
def test_odd_room_names_are_encoded_so_the_link_keeps_its_shape(room, encoded):
    link = InviteLink("desk.local", 9090, room, FP)
    assert link.text == f"ocm://desk.local:9090/{encoded}?fp={FP}"
    assert parse_link(link.text) == link


def test_an_ipv6_address_goes_in_brackets_and_is_written_short():
    link = InviteLink("fe80::1", 9090, "lobby", FP)
    assert link.text == f"ocm://[fe80::1]:9090/lobby?fp={FP}"
    assert parse_link(f"ocm://[FE80:0:0:0::0001]:9090/lobby?fp={FP}") == link
    zoned = parse_link(f"ocm://[fe80::1%25eth0]:9090/lobby?fp={FP}")
    assert zoned.host == "fe80::1%eth0" and parse_link(zoned.text) == zoned
    assert "[fe80::1%25eth0]" in zoned.text


def test_a_host_name_is_kept_in_lower_case_and_an_ipv4_address_as_written():
    assert parse_link(f"ocm://Desk-PC.Local:9090/lobby?fp={FP}").host == "desk-pc.local"
    assert parse_link(f"ocm://10.0.0.7:1/lobby?fp={FP}").host == "10.0.0.7"
    assert parse_link(f"ocm://localhost:65535/lobby?fp={FP}").port == 65535


def test_a_room_name_as_a_browser_shows_it_unencoded_is_read_too():
    assert parse_link(f"ocm://desk.local:9090/雑談?fp={FP}").room == "雑談"


def test_the_longest_room_on_the_longest_host_name_still_fits_in_a_link():
    host = ".".join(["h" * 63] * 4)[:MAX_HOST_CHARS]
    room = "雑" * (wire.MAX_NAME_BYTES // 3)
    link = InviteLink(host, 65535, room, FP)
    assert len(link.text) <= MAX_LINK_CHARS and parse_link(link.text) == link


def test_it_is_exported_from_the_wire_like_the_other_codecs():
    assert wire.parse_link is links.parse_link and wire.InviteLink is InviteLink
    assert wire.BadLink is errors.BadLink
    assert issubclass(errors.BadLink, ValueError) and issubclass(errors.BadLink, errors.OCMError)


# --- refusals, each with its reason --------------------------------------------------------

REFUSED = [
    ("", "Paste an invite link; it begins with ocm://."),
    ("  <>  ", "Paste an invite link"),
    ("https://example.com/lobby", "This is not an invite link; an invite link begins with ocm://."),
    ("desk.local:9090/lobby", "This is not an invite link"),
    (f"ocm:lobby?fp={FP}", "This is not an invite link"),
    (f"ocm:/desk:9090/lobby?fp={FP}", "This is not an invite link"),
    (
        f"ocm://desk:9090/lobby?fp={FP}&password=secret",
        "An invite link never carries a password; ask the host for the room's password another way, "
        "and for a link without it.",
    ),
    (f"ocm://desk:9090/lobby?pw=secret&fp={FP}", "never carries a password"),
    (f"ocm://desk:9090/lobby?fp={FP}&PWD=", "never carries a password"),
    (
        f"ocm://alice:secret@desk:9090/lobby?fp={FP}",
        "An invite link never carries a name or a password before the server's address; ask the host for a new link.",
    ),
    (
        f"ocm://desk:9090/lobby?fp={FP}&v=2",
        "The invite link has a part that invite links do not have (v=); ask the host for a new link.",
    ),
    (f"ocm://desk:9090/lobby?room=x&fp={FP}", "do not have (room=)"),
    (f"ocm://desk:9090/lobby/extra?fp={FP}", "do not have (/extra)"),
    (f"ocm://desk:9090/lobby/?fp={FP}", "do not have (/)"),
    (f"ocm://desk:9090/lobby?fp={FP}#top", "do not have (#top)"),
    (
        f"ocm://desk:9090/lobby?fp={FP}&fp={FP}",
        "The invite link names the server's identity more than once; ask the host for a new link.",
    ),
    (
        "ocm://desk:9090/lobby",
        "The invite link does not say which identity the server has (?fp=…); ask the host for the whole link.",
    ),
    ("ocm://desk:9090/lobby?fp=", "is not a server identity"),
    (
        "ocm://desk:9090/lobby?fp=VXQ4-RZ2B",
        "'VXQ4-RZ2B' in the invite link is not a server identity, which is five groups of four letters and digits "
        "like VXQ4-RZ2B-6LMN-FA7K-3TUE.",
    ),
    ("ocm://desk:9090/lobby?fp=VXQ4-RZ2B-6LMN-FA7K-3TU1", "'VXQ4-RZ2B-6LMN-FA7K-3TU1' in the invite link is not"),
    ("ocm://desk:9090/lobby?fp=VXQ4RZ2B6LMNFA7K3TUE", "is not a server identity"),
    (
        f"ocm://desk/lobby?fp={FP}",
        "The invite link has no port number after the server's address; ask the host for the whole link.",
    ),
    (f"ocm://desk:/lobby?fp={FP}", "no port number"),
    (f"ocm://[::1]/lobby?fp={FP}", "no port number"),
    (
        f"ocm://desk:0/lobby?fp={FP}",
        "'0' in the invite link is not a port number; a port is a number from 1 to 65535.",
    ),
    (f"ocm://desk:65536/lobby?fp={FP}", "'65536' in the invite link is not a port number"),
    (f"ocm://desk:90a/lobby?fp={FP}", "'90a' in the invite link is not a port number"),
    (f"ocm://desk:+90/lobby?fp={FP}", "'+90' in the invite link is not a port number"),
    (f"ocm://desk:٩٠/lobby?fp={FP}", "is not a port number"),  # Arabic-Indic digits
    (
        f"ocm://:9090/lobby?fp={FP}",
        "The invite link does not name a server; ask the host for the whole link.",
    ),
    (
        f"ocm://bad!host:9090/lobby?fp={FP}",
        "'bad!host' in the invite link is not a computer name or an IP address (an IPv6 address goes in brackets); "
        "ask the host for the whole link.",
    ),
    (f"ocm://::1:9090/lobby?fp={FP}", "'::1:9090' in the invite link is not a computer name"),
    (f"ocm://[desk.local]:9090/lobby?fp={FP}", "is not a computer name"),
    (f"ocm://[::1:9090/lobby?fp={FP}", "is not a computer name"),
    (f"ocm://[::1]x:9090/lobby?fp={FP}", "is not a computer name"),
    (f"ocm://999.1.1.1:9090/lobby?fp={FP}", "'999.1.1.1' in the invite link is not a computer name"),
    (f"ocm://-desk:9090/lobby?fp={FP}", "is not a computer name"),
    (f"ocm://desk..local:9090/lobby?fp={FP}", "is not a computer name"),
    (f"ocm://例え.jp:9090/lobby?fp={FP}", "is not a computer name"),
    (
        f"ocm://{'h' * (MAX_HOST_CHARS + 1)}:9090/lobby?fp={FP}",
        "The server's name in the invite link is longer than 253 characters, more than a computer name can be.",
    ),
    (f"ocm://desk:9090/?fp={FP}", "The invite link does not name a room; ask the host for the whole link."),
    (f"ocm://desk:9090?fp={FP}", "does not name a room"),
    (
        f"ocm://desk:9090/lobby%FF?fp={FP}",
        "The room name in the invite link is damaged (it is not percent-encoded UTF-8); copy the link again.",
    ),
    (f"ocm://desk:9090/%E9%9B?fp={FP}", "is damaged"),
    (f"ocm://desk:9090/100%?fp={FP}", "is damaged"),
    (f"ocm://desk:9090/a%zzb?fp={FP}", "is damaged"),
    (
        f"ocm://desk:9090/{quote('あ' * 86)}?fp={FP}",
        "The room name in the invite link is 258 bytes; a room name can be at most 255 bytes.",
    ),
    (
        f"ocm://desk:9090/%20lobby?fp={FP}",
        "The room name in the invite link has spaces at its ends or two in a row; ask the host for a new link.",
    ),
    (f"ocm://desk:9090/tea%20%20time?fp={FP}", "spaces at its ends or two in a row"),
    (f"ocm://desk:9090/%20%20%20?fp={FP}", "spaces at its ends or two in a row"),
    (
        f"ocm://desk:9090/lo%E2%80%8Bbby?fp={FP}",
        "The room name in the invite link holds a character that cannot be seen (U+200B); ask the host for a new link.",
    ),
    (f"ocm://desk:9090/lobby%00?fp={FP}", "cannot be seen (U+0000)"),
    (f"ocm://desk:9090/%E2%80%AEbby?fp={FP}", "cannot be seen (U+202E)"),  # a right-to-left override
    (
        f"ocm://desk:9090/p%D0%B0ypal?fp={FP}",
        "The room name in the invite link mixes letters of scripts that look alike (cyrillic, latin); "
        "ask the host for a new link.",
    ),
    (
        f"ocm://desk:9090/tea time?fp={FP}",
        "This invite link has spaces or line breaks inside it; copy it again as one line.",
    ),
    (f"ocm://desk:9090/lobby\n?fp={FP}", "spaces or line breaks inside it"),
    (f"ocm://desk:9090/lob\u200bby?fp={FP}", "spaces or line breaks inside it"),
    (
        f"ocm://desk:9090/{'a' * 2100}?fp={FP}",
        f"This invite link is {len('ocm://desk:9090/?fp=') + 2100 + len(FP)} characters long, more than the "
        "2048 an invite link can have; copy it again from the invitation.",
    ),
]


@pytest.mark.parametrize(("text", "expected"), REFUSED)
def test_a_link_that_cannot_be_used_is_refused_with_its_reason(text, expected):
    assert expected in reason(text)


def test_a_refused_piece_of_the_link_is_quoted_back_shortened():
    said = reason(f"ocm://desk:9090/lobby?fp={'A' * 300}")
    assert f"'{'A' * 39}…'" in said and "A" * 41 not in said


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("desk", 9090, "lobby", "VXQ4"), "is not a server identity"),
        (("desk", 0, "lobby", FP), "'0' in the invite link is not a port number"),
        (("desk", True, "lobby", FP), "is not a port number"),
        (("[::1]", 9090, "lobby", FP), "is not a computer name"),
        (("", 9090, "lobby", FP), "does not name a server"),
        (("desk", 9090, "", FP), "does not name a room"),
        (("desk", 9090, " lobby", FP), "spaces at its ends"),
        (("desk", 9090, "\ud800", FP), "cannot be seen (U+D800)"),
        (("desk", 9090, "x" * 256, FP), "is 256 bytes"),
    ],
)
def test_a_link_cannot_be_made_of_parts_it_could_not_carry(arguments, expected):
    with pytest.raises(errors.BadLink) as refused:
        InviteLink(*arguments)
    assert expected in str(refused.value)


def test_a_link_made_of_parts_keeps_them_in_the_form_it_reads_them():
    link = InviteLink("Desk.LOCAL", 9090, "lobby", FP.lower())
    assert (link.host, link.fingerprint) == ("desk.local", FP)
    assert InviteLink("2001:DB8:0::1", 9090, "lobby", FP).host == str(ipaddress.IPv6Address("2001:db8::1"))
