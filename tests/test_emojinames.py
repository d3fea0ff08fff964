"""Emoji by name (ocm_core/sansio/emojinames.py): what a picker offers and in what order, a
search in English and Japanese, the recent choices, and what a typed word stands for."""

from __future__ import annotations

import time

import pytest

from ocm_core.sansio import emojinames
from ocm_core.sansio.emojinames import Group, describe, fold, lookup, offered, recent_first, remember, search


def test_the_offered_emoji_come_in_unicodes_groups_and_order_without_skin_tones():
    emoji = offered()
    groups = [item.group for item in emoji]
    assert list(dict.fromkeys(groups)) == list(Group)  # each group once, in Unicode's order
    texts = [item.text for item in emoji]
    assert texts[0] == "😀" and texts.index("😀") < texts.index("👍") < texts.index("🐱") < texts.index("🇯🇵")
    assert len(set(texts)) == len(texts) > 1800
    assert not any(tone in text for text in texts for tone in "🏻🏼🏽🏾🏿")
    assert "❤️" in texts and "❤" not in texts  # fully qualified only


def test_every_offered_emoji_has_an_english_and_a_japanese_name():
    thumbs = describe("👍")
    assert thumbs is not None
    assert (thumbs.en, thumbs.ja, thumbs.aliases) == ("thumbs up", "サムズアップ", ("thumbsup", "+1"))
    assert thumbs.name("ja") == "サムズアップ" and thumbs.name("en") == "thumbs up"
    assert describe("🇯🇵").name("ja") == "旗 日本"  # the data's "_" as a space
    assert all(item.en for item in offered())
    with_japanese = sum(1 for item in offered() if item.ja)
    assert with_japanese / len(offered()) > 0.95


def test_search_finds_english_words_and_ranks_a_name_that_starts_with_the_query_first():
    found = search("thumb", "en")
    assert found[:2] == ["👍", "👎"]  # "thumbs up", "thumbs down" start with it
    assert "🫰" in found  # "hand with index finger and thumb crossed": a later word
    assert found.index("🫰") > 1
    cats = search("cat", "en")
    assert set(cats[:2]) == {"🐱", "🐈"}  # named "cat" (🐱 by an alias) before "cat with tears of joy"
    assert "😹" in cats and "🪪" not in cats  # not "identifi-cat-ion card": English matches whole words' starts
    assert search("face tears", "en")[0] == "😂"  # every word the start of a word of the name
    assert search("tshirt", "en") == ["👕"]  # "t-shirt" without its hyphen
    assert search("+1", "en") == ["👍"]  # an alias


def test_search_finds_japanese_names_typed_in_hiragana_katakana_or_half_width():
    for query in ("ねこ", "ネコ", "ﾈｺ"):
        assert search(query, "ja")[:2] == ["🐈", "🐱"], query  # "ネコ", then "ネコの顔"
    assert search("すし", "ja")[0] == "🍣"  # the name is in hiragana: found typed either way
    assert search("スシ", "ja")[0] == "🍣"
    faces = search("顔", "ja")
    assert faces[0] == "🌚"  # "顔のある新月" starts with it
    assert "🐱" in faces  # "ネコの顔" holds it


def test_a_match_in_the_persons_language_comes_first_at_equal_rank():
    # Both names start with "b": 😁 "beaming face…" in English, 🔙 "back矢印" in Japanese.
    english, japanese = search("b", "en"), search("b", "ja")
    assert english.index("😁") < english.index("🔙")  # Unicode's order
    assert japanese.index("🔙") < japanese.index("😁")


def test_a_blank_or_unknown_query_finds_nothing():
    assert search("", "en") == []
    assert search("   ", "ja") == []
    assert search("qqqzzz", "en") == []


def test_search_over_every_emoji_is_quick():
    offered()  # the data, read once
    started = time.perf_counter()
    for query in ("a", "thumb", "ねこ", "face with", "zzz"):
        search(query, "en")
    assert (time.perf_counter() - started) / 5 < 0.05  # well under a keystroke's time on a slow PC


def test_recent_choices_come_first_most_recent_first():
    assert recent_first(["🎉", "👍", "🐱"], ["😀", "👍", "🐱", "🎉"]) == ["🎉", "👍", "🐱", "😀"]
    assert recent_first(["🍣"], ["😀", "👍"]) == ["😀", "👍"]  # a recent one not shown stays out
    assert recent_first([], ["😀"]) == ["😀"]


def test_remember_puts_the_choice_first_once_and_keeps_at_most_keep():
    assert remember([], "👍") == ["👍"]
    assert remember(["🎉", "👍", "🐱"], "👍") == ["👍", "🎉", "🐱"]
    many = [chr(0x1F600 + n) for n in range(emojinames.RECENT_KEPT)]
    kept = remember(many, "👍")
    assert len(kept) == emojinames.RECENT_KEPT and kept[0] == "👍" and many[-1] not in kept
    assert remember(["🎉", "🐱", "🍣"], "👍", keep=2) == ["👍", "🎉"]


@pytest.mark.parametrize(
    "word",
    [":thumbs_up:", "thumbs_up", "Thumbs Up", "thumbsup", ":+1:", "👍", "サムズアップ", "さむずあっぷ", " thumbsup "],
)
def test_lookup_turns_a_typed_name_alias_japanese_name_or_the_emoji_into_the_emoji(word):
    assert lookup(word) == "👍"


def test_lookup_gives_the_fully_qualified_form_and_knows_what_a_picker_does_not_offer():
    assert lookup("❤") == "❤️"
    assert lookup("heart") == "❤️"
    assert lookup("thumbs_up_light_skin_tone") == "👍🏻"
    assert lookup(":jp:") == lookup("japan") == "🇯🇵"


@pytest.mark.parametrize("word", ["", "   ", "nonsense", "thumbs sideways", "いいね"])
def test_lookup_of_an_unknown_word_is_none(word):
    # "いいね" is a keyword of 👍 in CLDR, not its name: the data carries names alone.
    assert lookup(word) is None


def test_fold_joins_what_two_spellings_of_a_name_share():
    assert fold(":Thumbs_Up:") == "thumbs up"
    assert fold("ＴＨＵＭＢＳ") == "thumbs"
    assert fold("ねこ") == fold("ネコ") == fold("ﾈｺ") == "ネコ"
    assert fold("woman’s hat") == "womans hat"
