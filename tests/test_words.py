"""The words people read that ocm_core/words.py makes: file sizes, the line after a long
absence, the command that joins again, a refused name in the person's language, and the
server's reasons turned into sentences, in English and (where the two differ) Japanese."""

from __future__ import annotations

import re
import shlex
import sys

import pytest

from ocm_core import i18n
from ocm_core.wire import Status, names
from ocm_core.words import (
    ROOMS_TOO_FAST,
    SERVER_SENTENCES,
    UNHEARD_MEMBERS,
    name_refusal_text,
    name_refusal_wire,
    refusal_text,
    rejoin_command,
    resumed_words,
    server_sentence,
    size_text,
)


@pytest.mark.parametrize(
    "size, text",
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1000, "1.0 KB"),
        (12_345, "12.3 KB"),
        (999_949, "999.9 KB"),
        (999_950, "1.0 MB"),  # what would round to "1000.0 KB" reads in the next unit
        (999_999, "1.0 MB"),
        (1_000_000, "1.0 MB"),
        (4_500_000, "4.5 MB"),
        (999_000_000, "999.0 MB"),
        (999_960_000, "1.0 GB"),
        (1_000_000_000, "1.0 GB"),
        (1_234_000_000_000, "1234.0 GB"),  # no unit above GB: a big number of them
    ],
)
def test_a_size_reads_as_bytes_then_kilo_mega_and_gigabytes(size, text):
    assert size_text(size) == text


def test_the_line_after_an_absence_counts_what_was_missed():
    assert resumed_words(1) == "You were away; 1 message you missed is below."
    assert resumed_words(12) == "You were away; 12 messages you missed are below."


def test_the_command_to_join_again_is_quoted_for_this_systems_shell():
    command = rejoin_command("10.0.0.5:9090", "design review", "Ana's laptop")
    if sys.platform == "win32":
        assert command == 'ocm-chat --server 10.0.0.5:9090 --join "design review" --name "Ana\'s laptop"'
    else:
        assert shlex.split(command) == [
            "ocm-chat",
            "--server",
            "10.0.0.5:9090",
            "--join",
            "design review",
            "--name",
            "Ana's laptop",
        ]


@pytest.mark.parametrize(
    "name, room, wire, sentence",
    [
        (
            "ana\u200b",
            False,
            "your name holds a character that cannot be seen or that turns the text around (U+200B); type it again",
            "Your name holds a character that cannot be seen or that turns the text around (U+200B); type it again.",
        ),
        (
            " lobby",
            True,
            "the room name has spaces at its ends or two in a row; remove them",
            "The room name has spaces at its ends or two in a row; remove them.",
        ),
        (
            "\u0430na",
            False,
            "your name mixes letters of scripts that look alike (cyrillic, latin); write it in one",
            "Your name mixes letters of scripts that look alike (cyrillic, latin); write it in one.",
        ),
    ],
)
def test_a_refused_name_is_said_on_the_wire_and_to_the_person(name, room, wire, sentence):
    refusal = names.refusal(name)
    assert refusal is not None
    assert name_refusal_wire(refusal, room=room) == wire
    assert name_refusal_text(refusal, room=room) == sentence
    # an older client's view: the server's wire words come back as the same sentence
    assert refusal_text(Status.BAD_REQUEST, wire) == sentence


def test_a_server_reason_we_do_not_know_is_kept_capitalised_and_ended():
    assert server_sentence("the moon is in the way") == "The moon is in the way."
    assert server_sentence("Already a sentence.") == "Already a sentence."
    # a name refusal whose detail is cut off is not one of ours: it stays as written
    assert server_sentence("your name holds a character") == "Your name holds a character."


def test_the_same_refusal_reads_in_japanese_when_chosen():
    i18n.use_language("ja")
    try:
        refusal = names.refusal("ana\u200b")
        assert refusal is not None
        assert name_refusal_text(refusal, room=False).startswith("名前に、目に見えない文字")
    finally:
        i18n.use_language("en")


def test_a_name_a_shell_would_expand_is_quoted_in_the_command():
    command = rejoin_command("10.0.0.5:9090", "lobby", "$HOME")
    if sys.platform == "win32":
        assert command.endswith("--name $HOME")  # cmd.exe does not expand $
    else:
        assert command.endswith("--name '$HOME'")


def test_a_notice_of_a_kind_without_words_is_the_name_alone_and_one_with_text_keeps_it():
    from ocm_core.words import notice_text

    assert notice_text("joined", "ana") == "ana joined the room."
    assert notice_text("waved", "ana") == "ana"
    assert notice_text("joined", "ana", "ana came back") == "ana came back"


def test_a_refusal_in_japanese_names_the_room_the_person_and_the_wait():
    i18n.use_language("ja")
    try:
        assert "lobby" in refusal_text(Status.NO_SUCH_ROOM, "no such room", room="lobby")
        assert "ana" in refusal_text(Status.NAME_TAKEN, "name taken", room="lobby", name="ana")
        assert "7" in refusal_text(Status.TRY_LATER, "checking passwords", seconds=7)
        spaces = name_refusal_wire(names.refusal(" lobby"), room=True)  # a refusal without a detail
        assert refusal_text(Status.BAD_REQUEST, spaces) == name_refusal_text(names.refusal(" lobby"), room=True)
        assert refusal_text(Status.BAD_REQUEST, spaces).startswith("ルーム名")
    finally:
        i18n.use_language("en")
    assert refusal_text(Status.TRY_LATER, "checking passwords", seconds=7) == "Checking passwords; try again in 7 s."


# --- what mutation testing found unpinned -----------------------------------------------------

JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.mark.parametrize(
    "size, text",
    [(0, "0 bytes"), (1, "1 byte"), (2, "2 bytes"), (999, "999 bytes"), (1000, "1.0 KB")],
)
def test_a_build_without_catalogs_still_counts_bytes_in_english(size, text, monkeypatch, tmp_path):
    # gettext answers from the catalogue when it has one; without it, the plural written in the code shows
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert i18n.use_language("en") == "en"
    assert size_text(size) == text


def test_a_build_without_catalogs_still_says_how_many_messages_were_missed(monkeypatch, tmp_path):
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.use_language("en")
    assert resumed_words(1) == "You were away; 1 message you missed is below."
    assert resumed_words(2) == "You were away; 2 messages you missed are below."
    assert resumed_words(0) == "You were away; 0 messages you missed are below."


@pytest.mark.parametrize("size, text", [(0, "0 バイト"), (1, "1 バイト"), (2, "2 バイト"), (999, "999 バイト")])
def test_japanese_counts_bytes_with_its_one_plural_form(size, text):
    i18n.use_language("ja")
    assert size_text(size) == text


@pytest.mark.parametrize("reason", sorted(SERVER_SENTENCES))
def test_each_reason_of_our_server_reads_in_japanese_with_or_without_its_full_stop(reason):
    i18n.use_language("ja")
    sentence = server_sentence(reason)
    assert JAPANESE.search(sentence) and not re.search("[a-zA-Z]{3}", sentence), sentence
    assert server_sentence(reason + ".") == sentence


@pytest.mark.parametrize(
    "name, room, detail",
    [("ana\u200b", False, "U+200B"), ("lobby\u202e", True, "U+202E"), ("\u0430na", False, "cyrillic, latin")],
)
def test_a_refused_name_with_a_detail_reads_in_japanese_from_the_servers_words(name, room, detail):
    refusal = names.refusal(name)
    assert refusal is not None
    wire = name_refusal_wire(refusal, room=room)  # what an older server of ours sends, in English
    i18n.use_language("ja")
    shown = refusal_text(Status.BAD_REQUEST, wire)
    assert shown == name_refusal_text(refusal, room=room)
    assert detail in shown and JAPANESE.search(shown)


def test_the_status_decides_the_sentence_even_when_its_words_look_like_a_name_refusal():
    wire = name_refusal_wire(names.refusal("ana\u200b"), room=False)
    i18n.use_language("ja")
    shown = refusal_text(Status.ROOM_EXISTS, wire, room="lobby")
    assert "lobby" in shown and "U+200B" not in shown


def test_a_wait_for_too_many_rooms_keeps_the_servers_words_in_english_and_has_its_own_in_japanese():
    assert (
        refusal_text(Status.TRY_LATER, ROOMS_TOO_FAST, seconds=5)
        == "Your address has opened as many rooms as it may for now; try again in 5 s."
    )
    i18n.use_language("ja")
    rooms = refusal_text(Status.TRY_LATER, ROOMS_TOO_FAST, seconds=5)
    members = refusal_text(Status.TRY_LATER, UNHEARD_MEMBERS.format(count=4), seconds=5)
    assert "5" in rooms and "5" in members and rooms != members
    assert JAPANESE.search(rooms) and JAPANESE.search(members)
    # another refusal that happens to begin with those words is still that refusal
    assert "lobby" in refusal_text(Status.ROOM_FULL, ROOMS_TOO_FAST, room="lobby")


def test_the_command_to_join_again_on_windows_is_quoted_for_cmd(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    assert (
        rejoin_command("10.0.0.5:9090", "design review", "Ana's laptop")
        == 'ocm-chat --server 10.0.0.5:9090 --join "design review" --name "Ana\'s laptop"'
    )
    monkeypatch.setattr(sys, "platform", "linux")
    assert rejoin_command("10.0.0.5:9090", "design review", "Ana's laptop").endswith("--name 'Ana'\"'\"'s laptop'")
