"""What the scrollback decides about its lines, without Tk: where links are and what they
open, which messages share a name and time, the date lines, the words of the opening line,
and which mouse buttons open the context menu.

Each is a pure function of its inputs (times as epoch seconds, `now` passed in), tested on
its own in tests/test_chatlines.py; ocm_gui/chat/scrollback.py draws what they decide.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

from ocm_core.i18n import N_, _, ngettext
from ocm_gui.theme import platform_key

GROUP_SECONDS = 5 * 60  # a sender's next message within this joins their group
NAMES_SHOWN = 3  # the opening line names this many people before "and N others"

# A link starts with http://, https:// or www. where no word or path runs into it (Japanese
# text right before it is fine) and runs over printable ASCII: a URL typed in a chat is
# ASCII, and Japanese text written right after one ends it. Quotes and angle brackets
# end it too, as they surround links in text.
_LINK = re.compile(r"(?<![A-Za-z0-9._/@-])(?:https?://|www\.)[!#-;=?-~]+", re.IGNORECASE)
_TRAILING = ".,;:!?'*"  # punctuation after a link ends a sentence, it is not the link's
_PAIRS = {")": "(", "]": "[", "}": "{"}
OPENABLE_SCHEMES = ("http", "https")


def find_links(text: str) -> list[tuple[int, int]]:
    """(start, end) of each link in text, trailing punctuation and unpaired closing
    brackets left out (a Wikipedia link's own "(...)" stays in)."""
    found = []
    for match in _LINK.finditer(text):
        start, end = match.span()
        while end > start:
            last = text[end - 1]
            if last in _TRAILING:
                end -= 1
            elif last in _PAIRS and text.count(_PAIRS[last], start, end) < text.count(last, start, end):
                end -= 1
            else:
                break
        if link_target(text[start:end]) is not None:
            found.append((start, end))
    return found


def link_target(link: str) -> str | None:
    """The address a link opens: www.x opens as https://www.x; None for anything that is
    not an http(s) address with a host (javascript:, file:, data: and the like never open)."""
    if link[:4].lower() == "www.":
        link = "https://" + link
    try:
        parts = urlsplit(link)
    except ValueError:  # a malformed port or bracket
        return None
    if parts.scheme.lower() not in OPENABLE_SCHEMES or not parts.hostname:
        return None
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in link):
        return None
    return link


def pick_colour(name: str, taken: Collection[int], count: int) -> int:
    """A sender's colour, 0 to count - 1: the one their name hashes to, unless another sender
    in this window has it already, then the next free one; the same names seen in the same
    order get the same colours, and the first `count` senders all differ."""
    own = zlib.crc32(name.encode("utf-8")) % count
    return next((i % count for i in range(own, own + count) if i % count not in taken), own)


def continues_group(previous: tuple[str, float] | None, sender: str, stamp: float) -> bool:
    """Does a message by `sender` at `stamp` go under the name and time of the group before,
    `previous` = (its sender, the time it shows)? Only within GROUP_SECONDS on the same day."""
    if previous is None:
        return False
    last_sender, last_stamp = previous
    # Either order: one's own messages carry this machine's clock, the others the server's.
    return sender == last_sender and abs(stamp - last_stamp) <= GROUP_SECONDS and day_of(stamp) == day_of(last_stamp)


def day_of(stamp: float) -> tuple[int, int, int]:
    return time.localtime(stamp)[:3]


def clock_text(stamp: float) -> str:
    """HH:MM: the date lines say which day."""
    return time.strftime("%H:%M", time.localtime(stamp))


# As a date line shows them: a language may shorten them there (Japanese: 火).
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday"))
MONTHS = (
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
)


def day_label(stamp: float, now: float) -> str:
    """'Today', 'Yesterday', or the date in the person's language
    ('Tuesday, 24 November 2026', '2026年11月24日(火)')."""
    day = time.localtime(stamp)
    today = time.localtime(now)
    if day[:3] == today[:3]:
        return _("Today")
    yesterday = time.localtime(time.mktime((today.tm_year, today.tm_mon, today.tm_mday - 1, 12, 0, 0, 0, 0, -1)))
    if day[:3] == yesterday[:3]:
        return _("Yesterday")
    return _("{weekday}, {day} {month} {year}").format(
        weekday=_(WEEKDAYS[day.tm_wday]), day=day.tm_mday, month=_(MONTHS[day.tm_mon - 1]), year=day.tm_year
    )


def names_text(names: Iterable[str], shown: int = NAMES_SHOWN) -> str:
    """'A', 'A and B', 'A, B and C'; past `shown` + 1 names, 'A, B, C and N others'."""
    names = list(names)
    if len(names) > shown + 1:
        rest = len(names) - shown
        return ngettext("{names} and {count} other", "{names} and {count} others", rest).format(
            names=_(", ").join(names[:shown]), count=rest
        )
    if len(names) <= 1:
        return "".join(names)
    return _("{names} and {last}").format(names=_(", ").join(names[:-1]), last=names[-1])


def opening_line(room: str, *, is_host: bool, you: str, members: Iterable[str], address: str | None) -> str:
    """The first line of a new chat window: a host is told to share the address, a member
    who is here."""
    if is_host:
        if address:
            return _("You host “{room}”. Others join with {address} — share it.").format(room=room, address=address)
        return _("You host “{room}”.").format(room=room)
    others = [name for name in members if name != you]
    if not others:
        return _("You joined “{room}”. No one else is here yet.").format(room=room)
    return _("You joined “{room}”. Here now: {names}").format(room=room, names=names_text(others))


def menu_keys(platform: str) -> tuple[str, ...]:
    """Keys that open the context menu from the keyboard: Shift+F10 everywhere, and the
    menu key (X11 calls it Menu, Windows App; macOS keyboards have none)."""
    key = {"win32": ("<App>",), "linux": ("<Menu>",)}.get(platform_key(platform), ())
    return ("<Shift-F10>",) + key
