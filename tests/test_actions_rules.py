"""sansio/actions.py alone: who may do what to a message, how the book of a room's messages
changes, and the lines an older client reads instead, each rule at its edges."""

from __future__ import annotations

import pytest

from ocm_core.sansio.actions import (
    EDIT_WINDOW_SECONDS,
    EXCERPT_CHARS,
    MAX_EMOJI_PER_MESSAGE,
    MessageBook,
    Said,
    apply,
    excerpt,
    fallback_text,
    fit,
    judge,
    quoted,
    too_late,
)
from ocm_core.wire import ActionKind, ErrorCode

MINE, THEIRS = b"k-mine", b"k-theirs"


def book_with(*said: Said, keep: int = 100) -> MessageBook:
    book = MessageBook(keep)
    for one in said:
        book.add(one)
    return book


def ruling(book, kind, target=5, text="x", *, name="ann", owner=MINE, host="hal", now=1000.0, oldest=1, latest=10):
    return judge(
        book,
        kind,
        target,
        text,
        name=name,
        owner=owner,
        host=host,
        members=("ann", "bob", "hal"),
        latest_seq=latest,
        oldest_buffered=oldest,
        now=now,
    )


def test_the_book_keeps_its_newest_and_forgets_below_the_buffer():
    book = book_with(*(Said(seq, "ann", MINE, 0.0, f"m{seq}") for seq in range(1, 6)), keep=3)
    assert len(book) == 3 and book.get(2) is None and book.get(3).text == "m3"
    book.forget_below(5)
    assert len(book) == 1 and book.get(4) is None and book.get(5) is not None
    book.forget_below(5)
    assert len(book) == 1


def test_a_message_must_be_there_and_be_a_message():
    book = book_with(Said(5, "bob", THEIRS, 1000.0, "hi"))
    assert ruling(book, ActionKind.REPLY, target=0).code is ErrorCode.NO_SUCH_MESSAGE
    assert ruling(book, ActionKind.REPLY, target=11).code is ErrorCode.NO_SUCH_MESSAGE
    assert ruling(book, ActionKind.REPLY, target=10, latest=10, oldest=1).reason == "that message is not in this room"
    assert ruling(book, ActionKind.REPLY, target=5) is None
    # older than the buffer: a reply is taken (the member's app has it), nothing else is
    assert ruling(book, ActionKind.REPLY, target=2, oldest=3) is None
    assert ruling(book, ActionKind.REACT, target=2, oldest=3).reason == "that message is no longer on the server"
    assert ruling(book, ActionKind.REPLY, target=3, oldest=3).reason == "that message is not in this room"
    assert ruling(book, ActionKind.REACT, target=3, oldest=3).reason == "that message is not in this room"
    first = book_with(Said(1, "bob", THEIRS, 1000.0, "the first"))
    assert ruling(first, ActionKind.REACT, target=1, text="👍") is None


def test_a_deleted_message_takes_nothing_more():
    book = book_with(Said(5, "bob", THEIRS, 1000.0, "", deleted=True))
    for kind in (ActionKind.REPLY, ActionKind.REACT, ActionKind.EDIT, ActionKind.DELETE):
        assert ruling(book, kind, owner=THEIRS).reason == "that message was deleted"


def test_reactions_once_each_and_at_most_twenty_emoji():
    said = Said(5, "bob", THEIRS, 1000.0, "vote")
    book = book_with(said)
    assert ruling(book, ActionKind.REACT, text="👍") is None
    apply(book, ActionKind.REACT, 5, "👍", "ann")
    assert ruling(book, ActionKind.REACT, text="👍").reason == "you already reacted with that"
    assert ruling(book, ActionKind.REACT, text="👍", name="bob") is None
    assert ruling(book, ActionKind.UNREACT, text="🎉").reason == "you have not reacted with that"
    assert ruling(book, ActionKind.UNREACT, text="👍") is None
    for n in range(MAX_EMOJI_PER_MESSAGE - 1):
        apply(book, ActionKind.REACT, 5, chr(0x1F600 + n), "bob")
    assert len(said.reactions) == MAX_EMOJI_PER_MESSAGE
    assert ruling(book, ActionKind.REACT, text="🦊").code is ErrorCode.NOT_ALLOWED
    assert ruling(book, ActionKind.REACT, text="😀") is None  # one already there takes more people


def test_taking_back_a_reaction_drops_an_emoji_nobody_holds():
    said = Said(5, "bob", THEIRS, 1000.0, "x")
    book = book_with(said)
    apply(book, ActionKind.REACT, 5, "👍", "ann")
    apply(book, ActionKind.REACT, 5, "👍", "bob")
    apply(book, ActionKind.UNREACT, 5, "👍", "ann")
    assert said.reactions == {"👍": {"bob"}}
    apply(book, ActionKind.UNREACT, 5, "👍", "bob")
    assert said.reactions == {}
    apply(book, ActionKind.UNREACT, 5, "🎉", "bob")  # nothing there: nothing happens
    apply(book, ActionKind.REACT, 99, "👍", "bob")  # a message not in the book: nothing happens
    assert said.reactions == {}


def test_edits_and_deletions_are_the_senders_within_the_window_and_the_hosts_deletions_any_time():
    book = book_with(Said(5, "bob", THEIRS, 1000.0, "draft"))
    assert ruling(book, ActionKind.EDIT, owner=MINE).reason == "only its sender can change a message"
    assert ruling(book, ActionKind.EDIT, name="hal", owner=MINE).code is ErrorCode.NOT_ALLOWED  # the host neither
    assert ruling(book, ActionKind.DELETE, name="hal", owner=MINE, now=1e9) is None
    assert ruling(book, ActionKind.DELETE, name="ann", owner=MINE, host=None).code is ErrorCode.NOT_ALLOWED
    at_the_edge = 1000.0 + EDIT_WINDOW_SECONDS
    assert ruling(book, ActionKind.EDIT, owner=THEIRS, now=at_the_edge) is None
    late = ruling(book, ActionKind.EDIT, owner=THEIRS, now=at_the_edge + 0.001)
    assert late.code is ErrorCode.TOO_LATE and late.reason == "a message can be changed for 24 hours after it was sent"
    assert ruling(book, ActionKind.DELETE, owner=THEIRS, now=at_the_edge + 1).code is ErrorCode.TOO_LATE
    assert too_late(1800).reason == "a message can be changed for 0.5 hours after it was sent"


def test_the_hosts_tools_are_the_hosts_and_a_standing_room_has_none():
    book = MessageBook(10)
    for kind in (ActionKind.TOPIC, ActionKind.PASSWORD):
        assert ruling(book, kind, target=0, name="hal") is None
        assert ruling(book, kind, target=0, name="ann").reason == "only the host can do that"
        assert ruling(book, kind, target=0, name="hal", host=None).reason == "a standing room has no host to do that"
    assert ruling(book, ActionKind.REMOVE, target=0, text="bob", name="hal") is None
    assert (
        ruling(book, ActionKind.REMOVE, target=0, text="zed", name="hal").reason == "nobody of that name is in the room"
    )
    assert ruling(book, ActionKind.REMOVE, target=0, text="hal", name="hal").code is ErrorCode.NOT_ALLOWED


def test_an_edit_and_a_deletion_change_the_book():
    said = Said(5, "bob", THEIRS, 1000.0, "draft")
    book = book_with(said)
    apply(book, ActionKind.REACT, 5, "👍", "ann")
    apply(book, ActionKind.EDIT, 5, "final", "bob")
    assert (said.text, said.edited, said.deleted) == ("final", True, False)
    apply(book, ActionKind.DELETE, 5, "", "bob")
    assert (said.text, said.deleted, said.reactions) == ("", True, {})


def test_an_excerpt_is_one_line_and_marked_when_cut():
    assert excerpt("a  b\\nc".replace("\\n", "\n")) == "a b c"
    exact = "x" * EXCERPT_CHARS
    assert excerpt(exact) == exact
    assert excerpt(exact + "y") == "x" * (EXCERPT_CHARS - 1) + "…"
    assert excerpt("abcdef", 4) == "abc…"


@pytest.mark.parametrize(
    ("kind", "text", "by_host", "line"),
    [
        (ActionKind.REPLY, "yes", False, "> bob: lunch?\nyes"),
        (ActionKind.REACT, "👍", False, "(reacted 👍 to bob: “lunch?”)"),
        (ActionKind.UNREACT, "👍", False, "(took back 👍 on bob: “lunch?”)"),
        (ActionKind.EDIT, "lunch at 1?", False, "(edited) lunch at 1?"),
        (ActionKind.DELETE, "", False, "(deleted a message)"),
        (ActionKind.DELETE, "", True, "(deleted a message by bob)"),
        (ActionKind.TOPIC, "Q3", False, "(set the topic: Q3)"),
        (ActionKind.TOPIC, "", False, "(cleared the topic)"),
        (ActionKind.PASSWORD, "pw", False, "(set a password for the room)"),
        (ActionKind.PASSWORD, "", False, "(took the room's password away)"),
        (ActionKind.REMOVE, "bob", False, ""),
    ],
)
def test_each_action_reads_as_a_line_to_an_older_client(kind, text, by_host, line):
    target = Said(5, "bob", THEIRS, 0.0, "lunch?")
    assert fallback_text(kind, text, target, by_host=by_host) == line


def test_a_deletion_is_its_senders_unless_said_otherwise():
    assert fallback_text(ActionKind.DELETE, "", Said(5, "bob", THEIRS, 0.0, "x")) == "(deleted a message)"


def test_a_line_about_a_message_the_server_no_longer_holds():
    assert fallback_text(ActionKind.REPLY, "yes", None) == "> …\nyes"
    assert fallback_text(ActionKind.REACT, "👍", None) == "(reacted 👍 to an earlier message)"
    assert fallback_text(ActionKind.DELETE, "", None, by_host=True) == "(deleted a message by someone)"
    assert quoted(Said(1, "ann", MINE, 0.0, "x" * 100)) == "ann: “" + "x" * (EXCERPT_CHARS - 1) + "…”"


def test_fit_cuts_to_bytes_on_a_character_boundary_and_marks_it():
    assert fit("abc", 3) == "abc"
    assert fit("abcd", 3) == "…"
    assert fit("abcdefgh", 6) == "abc…"
    assert fit("日本語テキスト", 9) == "日本…"  # 6 bytes of text and the 3-byte mark
    assert fit("日本語テキスト", 10) == "日本…"  # not half of 語
    assert fit("日本語テキスト", 12) == "日本語…"
    assert fit("", 0) == ""
