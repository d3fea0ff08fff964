"""Names as people read them: which names are refused, and when two names are the same one.

A name (a person's or a room's) is refused when it holds what a reader cannot see or that
reorders what they see: controls, format characters (zero-width spaces and joiners, the
bidirectional overrides and isolates), unassigned or private-use code points, or spaces at
its ends or in a row; and when it mixes scripts that are not written together, so that a
Cyrillic "а" cannot pass for the Latin one in "ana" (Latin may go with Han, Hiragana and
Katakana as Japanese writes them, or with Han and Hangul, or Han and Bopomofo).

Two names are the same when their keys are: Unicode NFKC (full-width and compatibility forms
fold), case-folded, and a name written wholly in Cyrillic or Greek read through the letters
that look like Latin ones, so "Ana", "ＡＮＡ" and a Cyrillic "АНА"-alike "Аnа" cannot stand
beside "ana". The script of a letter is read from its Unicode name (the standard library has
no script property); docs/security.md says what this leaves out. No I/O.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

# Controls, format characters (zero-width, bidirectional), surrogates, private use,
# unassigned, line and paragraph separators: nothing a reader sees where it stands.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


class NameProblem(enum.Enum):
    HIDDEN = "hidden"  # a character a reader cannot see, or that turns the text around
    SPACES = "spaces"  # spaces at an end, or two in a row
    MIXED_SCRIPTS = "mixed scripts"  # letters of scripts not written together


@dataclass(frozen=True)
class NameRefusal:
    problem: NameProblem
    detail: str  # the character (U+200B) or the scripts (cyrillic, latin)


# Scripts that are written together in one name (Unicode's "highly restrictive" sets).
_TOGETHER = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
)
_SCRIPT_OF_NAME = {"CJK": "HAN", "KATAKANA-HIRAGANA": "KATAKANA", "HALFWIDTH": "KATAKANA"}

# Cyrillic and Greek letters that read as Latin ones (lower case, after case folding).
_LOOKS_LATIN = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k",
        "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "у": "y", "ԝ": "w",
        "х": "x", "ү": "y", "ӏ": "l", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k",
        "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    }
)  # fmt: skip


def script_of(ch: str) -> str | None:
    """The script a letter belongs to (LATIN, CYRILLIC, HAN, ...); None for what is common to
    all scripts (digits, punctuation, spaces, marks) or has no name."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    first = unicodedata.name(ch, "").split(" ")[0]
    return _SCRIPT_OF_NAME.get(first, first) or None


def scripts_in(name: str) -> set[str]:
    return {s for s in map(script_of, unicodedata.normalize("NFKC", name)) if s is not None}


ZERO_WIDTH_JOINER = "\u200d"


def _joins_emoji(name: str, index: int) -> bool:
    """A zero-width joiner between two emoji (a family, a profession) is part of one picture."""
    if name[index] != ZERO_WIDTH_JOINER or index == 0 or index == len(name) - 1:
        return False
    before, after = name[index - 1], name[index + 1]
    return unicodedata.category(before) in ("So", "Sk", "Mn") and unicodedata.category(after) == "So"


def refusal(name: str) -> NameRefusal | None:
    """Why `name` (a person's or a room's) cannot be used; None when it can."""
    for index, ch in enumerate(name):
        if unicodedata.category(ch) in HIDDEN_CATEGORIES and not _joins_emoji(name, index):
            return NameRefusal(NameProblem.HIDDEN, f"U+{ord(ch):04X}")
    if name != name.strip() or "  " in name:
        return NameRefusal(NameProblem.SPACES, "")
    scripts = scripts_in(name)
    if len(scripts) > 1 and not any(scripts <= together for together in _TOGETHER):
        return NameRefusal(NameProblem.MIXED_SCRIPTS, ", ".join(sorted(scripts)).lower())
    return None


def name_key(name: str) -> str:
    """What two names are compared by: equal keys are the same name to a reader."""
    key = unicodedata.normalize("NFKC", name).casefold()
    if scripts_in(key) & {"CYRILLIC", "GREEK"}:
        key = key.translate(_LOOKS_LATIN)
    return key
