"""Mentions decided without a screen (ocm_core/sansio/mentions.py): who a message names."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ocm_core.sansio.mentions import (
    Mention,
    find_mentions,
    may_name_everyone,
    mentions_me,
    names_everyone,
    suggestions,
    typed_mention,
)

MEMBERS = ("Carol", "山田", "山田 太郎", "bob", "Ann-Marie")


def names(text: str) -> list[str]:
    return [m.name for m in find_mentions(text, MEMBERS)]


def test_a_mention_names_a_member_as_the_room_knows_them():
    assert find_mentions("hi @carol, lunch?", MEMBERS) == [Mention(3, 9, "Carol")]
    assert names("@ｃａｒｏｌ and @BOB") == ["Carol", "bob"]  # width and case folded
    assert names("@Ann-Marie!") == ["Ann-Marie"]


def test_the_longer_of_two_names_that_start_alike_wins():
    assert names("@山田 太郎 資料をお願いします") == ["山田 太郎"]
    assert names("@山田 さん、資料を") == ["山田"]
    assert names("@山田さん") == []  # more of a word follows: not the member 山田


def test_an_email_address_or_a_longer_word_is_no_mention():
    assert names("write to carol@carol.example") == []
    assert names("@caroline is not here") == []
    assert names("@nobody") == []


def test_room_and_all_name_everyone():
    assert names_everyone("@room standup in 5", MEMBERS) and names_everyone("@ALL done", MEMBERS)
    assert not names_everyone("the room is booked", MEMBERS)
    assert mentions_me("@room hello", "bob", MEMBERS)
    assert mentions_me("thanks @Bob", "bob", MEMBERS)
    assert not mentions_me("thanks @Carol", "bob", MEMBERS)


def test_only_the_host_names_everyone_in_a_room_of_more_than_ten():
    assert may_name_everyone("bob", "ann", 10)
    assert not may_name_everyone("bob", "ann", 11)
    assert may_name_everyone("ann", "ann", 200)
    assert not may_name_everyone("bob", None, 11)  # a standing room: nobody may


def test_suggestions_start_with_what_is_typed_then_contain_it_never_oneself():
    assert suggestions("", MEMBERS, "bob") == ["Ann-Marie", "Carol", "山田", "山田 太郎", "room"]
    assert suggestions("ca", MEMBERS, "bob") == ["Carol"]
    assert suggestions("山", MEMBERS, "bob") == ["山田", "山田 太郎"]
    assert suggestions("marie", MEMBERS, "bob") == ["Ann-Marie"]
    assert suggestions("ro", MEMBERS, "bob") == ["room", "Carol"]
    assert suggestions("r", MEMBERS, "bob") == ["room"]  # one character: names starting with it only
    assert "bob" not in suggestions("b", MEMBERS, "bob")


def test_the_mention_being_typed_is_found_before_the_cursor():
    assert typed_mention("hi @ca", 6) == (3, "ca")
    assert typed_mention("@山田 太", 5) == (0, "山田 太")
    assert typed_mention("mail me@ex", 10) is None
    assert typed_mention("@a b c", 6) is None  # two spaces: no longer a name
    assert typed_mention("no at sign", 5) is None


@given(st.text(max_size=60))
def test_mentions_lie_inside_the_text_in_order_and_each_starts_with_an_at(text):
    found = find_mentions(text, MEMBERS)
    assert all(text[m.start] == "@" and m.start < m.end <= len(text) for m in found)
    assert [m.start for m in found] == sorted(m.start for m in found)
