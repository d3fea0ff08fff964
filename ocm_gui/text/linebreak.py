"""Where a line of mixed Japanese and English text may break, for Tk's word wrapping.

Tk's Text wraps either by word or by character, per line: a message that mixes a Japanese
run with English words needs both. Tk's word wrapping breaks only after ASCII white space
(its X11 font code tests isspace() on code points below 256; U+200B is not one), so the
chat view wraps by word and gets a real space at each break opportunity inside a Japanese
run, tagged BREAK_TAG, whose one-pixel font draws it zero wide. An opportunity lies between
two characters when either is CJK, except where the Japanese line-breaking rules (kinsoku)
forbid it: closing punctuation (。、」）), small kana and the prolonged sound mark never
start a line; opening brackets (「（) never end one; a number keeps its unit (60秒, 15時,
６０秒); a paragraph's last line holds two characters at least. Latin words are never
broken (unless one alone is wider than the view). The chat view leaves the tagged spaces
out of what is copied and of its transcript.

`with_break_opportunities` marks the opportunities with U+200B (a pure function, tested
on its own); `glued` keeps a phrase of our own whole where it has a space Tk would break
at (a number and its unit, a status mark and its word); `spaces_for_breaks` turns the
marks in a batch into spaces and says where they are, so the chat view tags them all in
one call. A Label has no such trick (it wraps CJK text anywhere): `wrap_to_width` breaks
its text into lines by the same rules beforehand (ocm_gui/text/labelwrap.py puts it on a label).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ocm_gui.text.emoji import ASTRAL_UNITS, tk_length

BREAK = "\u200b"
BREAK_TAG = "brk"  # configured by the chat view: a font one pixel high

# Kana, kanji, CJK punctuation and symbols, full-width forms, Hangul.
CJK = (
    "\u2e80-\u2fff\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)
# Never at the start of a line: closing brackets and quotes, stops and commas, the middle
# dot, iteration marks, the prolonged sound mark, small kana, and their half- and
# full-width and Latin counterparts.
NO_START = (
    "、。，．・：；？！゛゜ヽヾゝゞ々〻ー‐゠〜～…‥"
    "」』）］｝〕〉》】〙〗〟’”»›"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
    "ｧｨｩｪｫｯｬｭｮｰ｡､｣"
    ",.!?:;)]}%"
)
# Never at the end of a line: opening brackets and quotes.
NO_END = "「『（［｛〔〈《【〘〖〝‘“«‹([{｢"

# Digits, and what may follow a number as its unit or counter (kanji, katakana): no break
# between them, with or without a no-break space.
DIGITS = "0-9\uff10-\uff19"
UNITS = "\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
NBSP = "\u00a0"

_cjk = f"[{CJK}]"
_no_start = "[" + re.escape(NO_START) + r"\s]"
_no_end = "[" + re.escape(NO_END) + r"\s]"
# A position between a and b where a break may go: one of them is CJK, a may end a line,
# b may start one.
_number_unit = f"(?!(?<=[{DIGITS}])[{DIGITS}{UNITS}])(?!(?<=[{DIGITS}]{NBSP})[{UNITS}])"
# The last line of a paragraph never holds one character alone (a lone "す", or "す ✓"
# with an own message's mark): no break before a line's last character.
_not_last = r"(?![^\n](?:\n|\Z))"
_OPPORTUNITY = re.compile(
    f"(?<={_cjk})(?<!{_no_end})(?!{_no_start})(?=.){_number_unit}{_not_last}"
    f"|(?<=.)(?<!{_no_end})(?={_cjk})(?!{_no_start}){_number_unit}{_not_last}",
    re.DOTALL,
)
# Spaces in our own phrases that Tk must not break at: between a number and the word after
# it ("60 s", "60 秒") and after a status mark ("✗ not delivered").
_GLUE = re.compile(f"(?<=[{DIGITS}]) (?=[^\\W\\d_])|(?<=[✓✗]) ")
_HAS_CJK = re.compile(_cjk)


def has_cjk(text: str) -> bool:
    return _HAS_CJK.search(text) is not None


def with_break_opportunities(text: str) -> str:
    """text with a zero-width space wherever a line may break inside or beside a CJK run."""
    if not _HAS_CJK.search(text):
        return text  # the common English line: no work
    return _OPPORTUNITY.sub(BREAK, text.replace(BREAK, ""))


def glued(text: str) -> str:
    """text with a no-break space (which Tk's word wrapping never breaks at) for each space
    that would split a number from its unit or a mark from its word."""
    return _GLUE.sub(NBSP, text)


_PIECE_END = re.compile(rf"(?<=\s)(?!\s)|{BREAK}")  # after a run of spaces, or at a mark


def wrap_to_width(text: str, measure: Callable[[str], int], width: int) -> str:
    """text with a newline wherever a line measured by measure(line) would pass width,
    breaking only at spaces and at the opportunities above: so no line starts with 。 or
    」. A piece wider than width alone gets a line of its own (the label then breaks it).
    Text without CJK comes back as it is: a Label already wraps it at spaces."""
    if width <= 0 or not has_cjk(text):
        return text
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in _PIECE_END.split(with_break_opportunities(paragraph)):
            if line and measure((line + piece).rstrip()) > width:
                lines.append(line.rstrip())
                line = piece
            else:
                line += piece
        lines.append(line)
    return "\n".join(lines)


def strip_breaks(text: str) -> str:
    return text.replace(BREAK, "")


def spaces_for_breaks(flat: list, line: int, column: int, astral_units: int = ASTRAL_UNITS) -> list[str]:
    """Turn the marks in Text.insert arguments (text, tags, text, tags, ...) into spaces, in
    place, for text inserted at line.column; returns the "line.col" start and end of each
    space, for one `tag add BREAK_TAG` call (one call costs a fifth of a tag per piece).
    Columns are Tk's: an emoji beyond U+FFFF takes astral_units places in Tk 8.6."""
    ranges: list[str] = []
    for position in range(0, len(flat), 2):
        text = flat[position]
        if BREAK in text:
            for ch in text:
                if ch == BREAK:
                    ranges += [f"{line}.{column}", f"{line}.{column + 1}"]
                if ch == "\n":
                    line, column = line + 1, 0
                else:
                    column += astral_units if ch > "\uffff" else 1
            flat[position] = text.replace(BREAK, " ")
        else:
            newlines = text.count("\n")
            if newlines:
                line, column = line + newlines, tk_length(text[text.rindex("\n") + 1 :], astral_units)
            else:
                column += tk_length(text, astral_units)
    return ranges
