"""The input's counter and refusal words at the room's byte limit (no screen needed).

`counter_state` decides what the counter says and when it turns red; these tests pin it
one byte under, at and one over the limit, for one-byte and three-byte characters.
"""

from __future__ import annotations

import pytest

from ocm_gui.chat.composer_rules import (
    counter_state,
    default_hint,
    input_height,
    too_long_text,
)
from ocm_gui.theme import menu_buttons


def utf8(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize("limit", [1, 100, 4000])
def test_one_under_at_and_one_over_the_limit(limit):
    under, at, over = "a" * (limit - 1), "a" * limit, "a" * (limit + 1)
    assert counter_state(under, utf8(under), limit) == (("1 character left", False))
    assert counter_state(at, utf8(at), limit) == ("0 characters left", False)
    assert counter_state(over, utf8(over), limit) == ("1 character too many", True)


def test_counts_are_in_characters_of_the_kind_last_typed():
    limit = 30
    text = "日本語"  # 9 bytes: 21 left, 7 three-byte characters
    assert counter_state(text, utf8(text), limit) == ("7 characters left", False)
    text = "日" * 10 + "x"  # 31 bytes: one ASCII character too many
    assert counter_state(text, utf8(text), limit) == ("1 character too many", True)
    text = "x" + "日" * 10  # 31 bytes: one Japanese character must go
    assert counter_state(text, utf8(text), limit) == ("1 character too many", True)
    text = "日" * 11  # 33 bytes
    assert counter_state(text, utf8(text), limit) == ("1 character too many", True)


def test_thousands_are_grouped_and_the_empty_input_has_the_whole_limit():
    assert counter_state("", 0, 4000) == ("4,000 characters left", False)
    assert counter_state("", 0, 1) == ("1 character left", False)


def test_refusal_says_how_many_characters_to_cut():
    text = "a" * 12
    assert too_long_text(text, 12, 10) == (
        "Not sent: the message is 2 characters too long; shorten it or split it in two."
    )
    assert too_long_text(text, 12, 11).startswith("Not sent: the message is 1 character too long;")


def test_a_build_without_catalogs_says_the_same_in_its_source_english(monkeypatch):
    import gettext

    from ocm_core import i18n

    monkeypatch.setattr(i18n, "_translation", gettext.NullTranslations())  # as use_language() falls back
    assert counter_state("a" * 8, 8, 10) == ("2 characters left", False)
    assert counter_state("a" * 9, 9, 10) == ("1 character left", False)
    assert counter_state("a" * 13, 13, 10) == ("3 characters too many", True)
    assert counter_state("a" * 11, 11, 10) == ("1 character too many", True)
    assert too_long_text("a" * 12, 12, 10) == (
        "Not sent: the message is 2 characters too long; shorten it or split it in two."
    )
    assert too_long_text("a" * 11, 11, 10) == (
        "Not sent: the message is 1 character too long; shorten it or split it in two."
    )
    assert default_hint() == "Enter sends · Shift+Enter adds a line"


def test_the_input_grows_with_its_text_from_two_to_five_lines_within_its_share_of_the_window():
    assert [input_height(n) for n in (0, 1, 2, 3, 5, 6, 40)] == [2, 2, 2, 3, 5, 5, 5]
    assert input_height(10, fits=3) == 3  # a short window: its share holds three
    assert input_height(10, fits=1) == 2  # never under two lines
    assert input_height(40, fits=12) == 5  # a tall window: still five, then it scrolls


def test_the_inputs_context_menu_opens_with_the_platforms_own_clicks():
    assert menu_buttons("linux") == menu_buttons("win32") == ("<Button-3>",)
    assert set(menu_buttons("darwin")) == {"<Button-2>", "<Button-3>", "<Control-Button-1>"}  # one table for every menu
