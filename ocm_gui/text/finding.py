"""Where a typed text occurs in what a room shows, as people read it: width and case folded.

The history database folds both sides with NFKC and casefold (ocm_core.storage.history.fold);
finding in the text on screen must agree with it, or the search across rooms would list a
line that Ctrl+F in the room then cannot find. Folding can change a text's length
("ﾃﾞ" is two characters that fold to one, "ß" folds to "ss"), so each character is folded
on its own and the folded text keeps, for every one of its characters, where in the text the
characters it came from begin and end.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _folded_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    parts: list[str] = []
    starts: list[int] = []  # the offset in `text` where each part began
    for offset, char in enumerate(text):
        folded = fold(char)
        if folded and unicodedata.combining(folded[0]) and parts:
            # A mark that folds onto the character before (ｶﾞ is ガ): fold the two together.
            parts[-1] = fold(text[starts[-1] : offset + 1])
            continue
        parts.append(folded)
        starts.append(offset)
    ends = [*starts[1:], len(text)]
    origins = [start for part, start in zip(parts, starts, strict=True) for _char in part]
    finishes = [end for part, end in zip(parts, ends, strict=True) for _char in part]
    return "".join(parts), origins, finishes


def find_all(text: str, query: str) -> list[tuple[int, int]]:
    """The (start, end) character offsets in `text` of every non-overlapping match of
    `query`, both folded; [] for an empty or blank query."""
    wanted = fold(query).strip()  # as the history search takes it
    if not wanted:
        return []
    folded, origins, finishes = _folded_with_offsets(text)
    found: list[tuple[int, int]] = []
    at = folded.find(wanted)
    while at >= 0:
        last = at + len(wanted) - 1
        start, end = origins[at], finishes[last]
        found.append((start, end))
        at = folded.find(wanted, at + len(wanted))
    return found
