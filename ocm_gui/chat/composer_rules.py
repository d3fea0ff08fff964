"""What the chat window's input decides without a screen: what the counter says, why a
message too long was not sent, the key tips, and how many lines the input takes.

The limit is in bytes, as on the wire; the counter speaks in characters of the kind last
typed. Kept apart from the widget (`composer.py`) so the mutation run reaches every line.
"""

from __future__ import annotations

from ocm_core.i18n import _, chars_left, chars_over, ngettext


def counter_state(text: str, size: int, limit: int) -> tuple[str, bool]:
    """(what the counter says, whether the text is over the limit) for `text` of `size` bytes."""
    if size > limit:
        count = chars_over(text, size - limit)
        label = ngettext("{count:,} character too many", "{count:,} characters too many", count)
        return label.format(count=count), True
    count = chars_left(text, limit - size)
    label = ngettext("{count:,} character left", "{count:,} characters left", count)
    return label.format(count=count), False


def too_long_text(text: str, size: int, limit: int) -> str:
    """Why a message over the limit was not sent, and what to do."""
    count = chars_over(text, size - limit)
    return ngettext(
        "Not sent: the message is {count:,} character too long; shorten it or split it in two.",
        "Not sent: the message is {count:,} characters too long; shorten it or split it in two.",
        count,
    ).format(count=count)


def default_hint() -> str:
    return _("Enter sends · Shift+Enter adds a line")


MIN_LINES = 2  # the input's height when empty
MAX_LINES = 5  # it grows with its text up to this many lines, then scrolls
MAX_SHARE = 1 / 5  # ...and never past this share of the window's height (the scrollback keeps the rest)


def input_height(display_lines: int, fits: int = MAX_LINES) -> int:
    """The input's height in lines for a text that takes `display_lines` (wrapped lines
    count), when at most `fits` lines fit in the window's share for it."""
    return max(MIN_LINES, min(MAX_LINES, fits, display_lines))
