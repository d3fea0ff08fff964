"""Where a line of mixed Japanese and English text may break, for Tk's word wrapping.

Tk's Text wraps either by word (at spaces) or by character, per line: a message that mixes
a Japanese run with English words needs both. So the chat view wraps by word and gets
break opportunities inside Japanese runs as zero-width spaces (U+200B, which Tk counts as
a space but draws as nothing): between two characters when either is CJK, except where
the Japanese line-breaking rules (kinsoku) forbid it. Closing punctuation (。、」）),
small kana and the prolonged sound mark never start a line; opening brackets (「（)
never end one. Latin words are never broken (unless one alone is wider than the view).
`strip_breaks` takes the marks out again for copying and for reading the scrollback.
"""

from __future__ import annotations

import re

BREAK = "\u200b"

# Kana, kanji, CJK punctuation and symbols, full-width forms, Hangul.
CJK = "\u2e80-\u2fff\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
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

_cjk = f"[{CJK}]"
_no_start = "[" + re.escape(NO_START) + r"\s]"
_no_end = "[" + re.escape(NO_END) + r"\s]"
# A position between a and b where a break may go: one of them is CJK, a may end a line,
# b may start one.
_OPPORTUNITY = re.compile(
    f"(?<={_cjk})(?<!{_no_end})(?!{_no_start})(?=.)"
    f"|(?<=.)(?<!{_no_end})(?={_cjk})(?!{_no_start})",
    re.DOTALL,
)
_HAS_CJK = re.compile(_cjk)


def has_cjk(text: str) -> bool:
    return _HAS_CJK.search(text) is not None


def with_break_opportunities(text: str) -> str:
    """text with a zero-width space wherever a line may break inside or beside a CJK run."""
    if not _HAS_CJK.search(text):
        return text  # the common English line: no work
    return _OPPORTUNITY.sub(BREAK, text.replace(BREAK, ""))


def strip_breaks(text: str) -> str:
    return text.replace(BREAK, "")
