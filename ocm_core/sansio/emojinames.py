"""Emoji by name: which emoji a picker offers and in what order, their English and Japanese
names, a search over those names, the recent choices, and what a typed word stands for
(":thumbs_up:", "thumbsup", "サムズアップ" or the emoji itself).

The names are CLDR's short names as the `emoji` package carries them; the groups and their
order are Unicode's (emojigroups.py). Both are read on first use and kept: the package's data
is large, and most runs never look an emoji up. No Tk here.

A query and a name are compared folded: NFKC (full-width letters, half-width kana), case, and
hiragana as katakana, so "ねこ", "ネコ" and "ﾈｺ" find "ネコの顔".
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from ocm_core.sansio.emojigroups import GROUPS

RECENT_KEPT = 24  # recent choices remembered; a picker shows them first

VARIATION_SELECTOR = "\ufe0f"  # after a symbol: "draw me as an emoji"


class Group(Enum):
    """Unicode's emoji groups, in Unicode's order (the Component group is never offered)."""

    SMILEYS = "smileys"
    PEOPLE = "people"
    NATURE = "nature"
    FOOD = "food"
    TRAVEL = "travel"
    ACTIVITIES = "activities"
    OBJECTS = "objects"
    SYMBOLS = "symbols"
    FLAGS = "flags"


@dataclass(frozen=True)
class Emoji:
    text: str  # fully qualified: "❤️", not "❤"
    group: Group
    en: str  # "thumbs up"
    ja: str  # "サムズアップ"; "" where the data has no Japanese name
    aliases: tuple[str, ...]  # other English names: "thumbsup", "+1"

    def name(self, language: str) -> str:
        """The name in `language` ("ja" or else English), English where that one is missing."""
        return self.ja if language == "ja" and self.ja else self.en


# ---------------------------------------------------------------------- folding

# Hiragana to katakana (ぁ..ゖ -> ァ..ヶ, ゝゞ -> ヽヾ): kana typed either way find a name.
_KATAKANA = {code: code + 0x60 for code in (*range(0x3041, 0x3097), 0x309D, 0x309E)}
_APOSTROPHES = {ord("'"): None, ord("’"): None}  # "woman’s hat" is found by "womans"
_SEPARATORS = re.compile(r"[\s_:()\[\],.!?\"“”-]+")


def fold(text: str) -> str:
    """What two spellings of a name share: NFKC, case, hiragana as katakana, apostrophes
    dropped, and separators ("_", ":", "-", brackets, runs of spaces) as one space."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_KATAKANA).translate(_APOSTROPHES)
    return _SEPARATORS.sub(" ", folded).strip()


def _words(code_name: str) -> str:
    """A name as the data spells it (":thumbs_up:", ":旗_日本:") in words: "thumbs up"."""
    return " ".join(code_name.strip(":").replace("_", " ").split())


def one_character(text: str) -> bool:
    """Whether an emoji is one character (with or without U+FE0F after it): what a toolkit
    without text shaping draws whole. Flags, keycaps and joined sequences are not."""
    return len(text.removesuffix(VARIATION_SELECTOR)) == 1


# ---------------------------------------------------------------------- the data


@dataclass(frozen=True)
class _Searchable:
    """One emoji's names, folded, as the search compares them."""

    text: str
    names: tuple[tuple[str, str, str, tuple[str, ...]], ...]  # (language, folded name, without spaces, words)
    blob: str  # every folded name and its form without spaces, for a quick "not here"


@dataclass(frozen=True)
class _Catalog:
    offered: tuple[Emoji, ...]
    by_text: dict[str, Emoji]
    searchable: tuple[_Searchable, ...]
    by_name: dict[str, str]  # every folded name, alias and name without spaces -> the emoji
    qualified: dict[str, str]  # any form of an emoji (without U+FE0F too) -> its fully qualified form


_loaded: _Catalog | None = None
_loading = threading.Lock()


def _catalog() -> _Catalog:
    global _loaded
    if _loaded is None:
        with _loading:
            if _loaded is None:
                _loaded = _load()
    return _loaded


def _load() -> _Catalog:
    import emoji  # here, not at the top: its data takes a moment to read and most runs never need it

    emoji.config.load_language("ja")
    data = emoji.EMOJI_DATA
    fully_qualified = emoji.STATUS["fully_qualified"]
    offered = []
    for key, hex_texts in GROUPS:
        group = Group(key)
        for hex_text in hex_texts.split():
            text = "".join(chr(int(point, 16)) for point in hex_text.split("-"))
            found = data.get(text)
            if found is None:
                continue  # newer than the installed `emoji` package: no names to show or search
            aliases = tuple(_words(alias) for alias in found.get("alias", ()))
            offered.append(Emoji(text, group, _words(found["en"]), _words(found.get("ja", "")), aliases))
    searchable = tuple(_searchable(item) for item in offered)

    usable = [(text, found) for text, found in data.items() if found["status"] <= fully_qualified]
    by_name: dict[str, str] = {}
    # Of two emoji with one name, an English name wins over an alias, an alias over a Japanese name.
    for text, found in usable:
        by_name.setdefault(fold(_words(found["en"])), text)
    for text, found in usable:
        for alias in found.get("alias", ()):
            by_name.setdefault(fold(_words(alias)), text)
    for text, found in usable:
        if found.get("ja"):
            by_name.setdefault(fold(_words(found["ja"])), text)
    for folded, text in list(by_name.items()):
        by_name.setdefault(folded.replace(" ", ""), text)  # "thumbsup" for "thumbs up"
    plain = {text.replace(VARIATION_SELECTOR, ""): text for text, _found in usable}
    qualified = {text: plain.get(text.replace(VARIATION_SELECTOR, ""), text) for text in data}
    qualified.update(plain)
    return _Catalog(tuple(offered), {item.text: item for item in offered}, searchable, by_name, qualified)


def _searchable(item: Emoji) -> _Searchable:
    names = [("en", item.en), *(("en", alias) for alias in item.aliases), ("ja", item.ja)]
    folded = [(language, fold(name)) for language, name in names if name]
    blob = "\n".join(f"{name}\n{name.replace(' ', '')}" for _language, name in folded)
    return _Searchable(
        item.text,
        tuple((language, name, name.replace(" ", ""), tuple(name.split())) for language, name in folded),
        blob,
    )


# ---------------------------------------------------------------------- asking


def offered() -> tuple[Emoji, ...]:
    """Every emoji a picker offers, by group in Unicode's order: fully qualified, no skin tones."""
    return _catalog().offered


def describe(text: str) -> Emoji | None:
    """The offered emoji `text` (in any of its forms), or None."""
    catalog = _catalog()
    return catalog.by_text.get(catalog.qualified.get(text, text))


# How well a name matches a query, best first.
_EXACT, _NAME_PREFIX, _WORD_PREFIXES, _JOINED_PREFIX, _INSIDE = range(5)


def _match(
    query: str, compact: str, query_words: list[str], name: str, name_compact: str, words: tuple[str, ...], inside: bool
) -> int | None:
    """How `name` matches `query` (a rank above), or None; `compact`s are without spaces,
    so that "thumbsup" is "thumbs up" and "tshirt" starts "t-shirt". `inside`: whether the
    query may match in the middle of a word (Japanese, written without spaces)."""
    if name == query or name_compact == compact:
        return _EXACT
    if name.startswith(query):
        return _NAME_PREFIX
    if all(any(word.startswith(wanted) for word in words) for wanted in query_words):
        return _WORD_PREFIXES
    if name_compact.startswith(compact):
        return _JOINED_PREFIX
    if inside and query in name:
        return _INSIDE
    return None


def search(query: str, language: str) -> list[str]:
    """The offered emoji whose English name, Japanese name or an alias matches `query`, best
    first: the whole name, then names that start with it, then names with a word starting
    with each word of it, then names that start with it when spaces are left out ("tshirt"),
    then Japanese names holding it anywhere ("顔" in "ネコの顔"); at equal rank, a match in
    the person's `language` first, then Unicode's order. A blank query matches nothing."""
    query = fold(query)
    if not query:
        return []
    query_words = query.split()
    compact = query.replace(" ", "")
    found: list[tuple[int, int, int, str]] = []
    for position, item in enumerate(_catalog().searchable):
        if compact not in item.blob and not all(word in item.blob for word in query_words):
            continue  # no name holds it: most emoji, decided at once
        best: tuple[int, int] | None = None
        for name_language, name, name_compact, words in item.names:
            rank = _match(query, compact, query_words, name, name_compact, words, inside=name_language == "ja")
            if rank is not None:
                score = (rank, 0 if name_language == language else 1)
                best = score if best is None else min(best, score)
        if best is not None:
            found.append((*best, position, item.text))
    found.sort()
    return [text for *_order, text in found]


def recent_first(recent: Iterable[str], emoji: list[str]) -> list[str]:
    """`emoji` with those chosen recently moved to the front, most recent first."""
    present = set(emoji)
    first = [text for text in dict.fromkeys(recent) if text in present]
    moved = set(first)
    return first + [text for text in emoji if text not in moved]


def remember(recent: list[str], chosen: str, keep: int = RECENT_KEPT) -> list[str]:
    """The recent choices after `chosen`: it first, once, and at most `keep` of them."""
    return [chosen, *(text for text in recent if text != chosen)][: max(0, keep)]


def lookup(word: str) -> str | None:
    """The emoji a typed word stands for: an emoji itself ("👍", "❤" gives "❤️"), its English
    name or an alias, with or without colons and underscores (":thumbs_up:", "thumbs up",
    "thumbsup", ":+1:"), or its Japanese name ("サムズアップ", "さむずあっぷ"); else None."""
    word = word.strip()
    if not word:
        return None
    catalog = _catalog()
    if word in catalog.qualified:
        return catalog.qualified[word]
    folded = fold(word)
    return catalog.by_name.get(folded) or catalog.by_name.get(folded.replace(" ", ""))
