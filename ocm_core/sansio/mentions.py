"""Mentions in a message: "@Carol", "@山田 太郎", "@room" and "@all", decided without I/O.

A mention is "@" followed by a member's name as it is in the room (width and case folded,
so "@ｃａｒｏｌ" and "@carol" both name "Carol"), where the "@" starts the text or follows a
space or punctuation (so an e-mail address is not a mention), and the name is not followed by
more of a word. Of two members whose names start alike ("山田" and "山田 太郎"), the longer
one that fits wins. "@room" and "@all" name everyone.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

EVERYONE = ("room", "all")  # "@room" and "@all": everyone in the room
EVERYONE_FREELY_UP_TO = 10  # in a bigger room only the host may write to everyone at once
MAX_SUGGESTIONS = 8


@dataclass(frozen=True)
class Mention:
    start: int  # where the "@" is in the text
    end: int  # just after the name
    name: str  # the member as the room knows them, or "room"/"all" for everyone


def fold(text: str) -> str:
    """What two spellings of one name have in common: width and case."""
    return unicodedata.normalize("NFKC", text).casefold()


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def find_mentions(text: str, members: tuple[str, ...] | list[str]) -> list[Mention]:
    """Every mention in `text` of one of `members` (or of everyone), in order."""
    # Longest first, so "@山田 太郎" is not taken as "@山田" followed by text.
    names = sorted({*members, *EVERYONE}, key=len, reverse=True)
    folded_names = [(fold(name), name) for name in names]
    found: list[Mention] = []
    at = text.find("@")
    while at != -1:
        before = text[at - 1] if at > 0 else " "
        if not _word_char(before):
            rest = text[at + 1 :]
            for folded, name in folded_names:
                size = _matching_prefix(rest, folded)
                if size and (size == len(rest) or not _word_char(rest[size])):
                    found.append(Mention(at, at + 1 + size, name))
                    break
        at = text.find("@", at + 1)
    return found


def _matching_prefix(text: str, folded_name: str) -> int:
    """How many characters of `text` spell `folded_name` once folded (0: they do not)."""
    for size in range(1, len(text) + 1):
        piece = fold(text[:size])
        if piece == folded_name:
            return size
        if not folded_name.startswith(piece):
            return 0
    return 0


def mentions_me(text: str, me: str, members: tuple[str, ...] | list[str]) -> bool:
    """Whether `text` names `me`, or everyone."""
    if "@" not in text:  # asked of every message shown
        return False
    return any(m.name == me or m.name in EVERYONE for m in find_mentions(text, (*members, me)))


def names_everyone(text: str, members: tuple[str, ...] | list[str]) -> bool:
    if "@" not in text:  # nearly every message: the server asks this of each
        return False
    return any(m.name in EVERYONE for m in find_mentions(text, members))


def may_name_everyone(sender: str, host: str | None, member_count: int) -> bool:
    """In a room of more than EVERYONE_FREELY_UP_TO, only the host writes to everyone at once."""
    return member_count <= EVERYONE_FREELY_UP_TO or (host is not None and sender == host)


def suggestions(typed: str, members: tuple[str, ...] | list[str], me: str) -> list[str]:
    """The names offered for what follows an "@" being typed: members whose name starts with
    it (folded), "room" when it fits, then those containing it; never oneself."""
    wanted = fold(typed)
    others = sorted((m for m in members if m != me), key=fold)
    starting = [m for m in others if fold(m).startswith(wanted)]
    # Inside a name only from two characters on: "@c" offering Alice would be noise.
    inside = [m for m in others if len(wanted) > 1 and wanted in fold(m) and m not in starting]
    everyone = [name for name in EVERYONE[:1] if name.startswith(wanted)]
    return (starting + everyone + inside)[:MAX_SUGGESTIONS]


def typed_mention(text: str, cursor: int) -> tuple[int, str] | None:
    """The "@" being typed just before `cursor`, and what follows it so far, or None: the
    input asks for suggestions while this is not None."""
    at = text.rfind("@", 0, cursor)
    if at == -1 or (at > 0 and _word_char(text[at - 1])):
        return None
    typed = text[at + 1 : cursor]
    if "\n" in typed or typed.count(" ") > 1:  # a name holds at most one space ("山田 太郎")
        return None
    return at, typed
