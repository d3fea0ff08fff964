"""A room's history as a file a person keeps or sends: plain text, or one HTML page.

Times are local (yyyy-mm-dd HH:MM); the sentences are the ones the chat window and ocm-chat
show (ocm_core.words), in the person's language. The page stands alone: UTF-8, its style
inline, nothing fetched, every text escaped.
"""

from __future__ import annotations

import datetime
import html
import os
import time
from collections.abc import Iterable
from pathlib import Path

from ocm_core.crypto.identity import write_private
from ocm_core.i18n import _, current_language
from ocm_core.storage.history import Conversation, Line, LineKind
from ocm_core.words import conversation_title, line_words

HTML_SUFFIXES = (".html", ".htm")
STAMP_WIDTH = len("2026-01-31 23:59")

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 48em; margin: 2em auto; padding: 0 1em;
       color: #1f1f1f; background: #fff; }
h1 { font-size: 1.25em; margin-bottom: 0.2em; }
p.me { color: #666; margin-top: 0; }
ol { list-style: none; padding: 0; }
li { margin: 0.15em 0; }
time { color: #777; margin-right: 0.8em; font-variant-numeric: tabular-nums; }
.sender { font-weight: 600; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
li.joined, li.left, li.timed_out, li.ended { color: #666; font-style: italic; }
@media (prefers-color-scheme: dark) {
  body { color: #ddd; background: #1e1e1e; }
  time, p.me, li.joined, li.left, li.timed_out, li.ended { color: #aaa; }
}
"""


def stamp(when: float) -> str:
    """A line's time as the export shows it: local, to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))


def _me(conversation: Conversation) -> str:
    return _("Your name in this room: {name}").format(name=conversation.me)


def as_text(conversation: Conversation, lines: Iterable[Line]) -> str:
    """The history as plain text: a heading, then one line per line, a message's later
    lines indented under its first."""
    out = [conversation_title(conversation), _me(conversation), ""]
    indent = " " * (STAMP_WIDTH + 2)
    for line in lines:
        first, *more = line_words(line).splitlines() or [""]
        out.append(f"{stamp(line.time)}  {first}")
        out += [indent + part for part in more]
    return "\n".join(out) + "\n"


def _html_line(line: Line) -> str:
    when = datetime.datetime.fromtimestamp(line.time).astimezone().isoformat(timespec="seconds")
    head = f'<li class="{html.escape(str(line.kind))}"><time datetime="{when}">{stamp(line.time)}</time>'
    if line.kind is LineKind.CHAT:
        sender, text = html.escape(line.sender), html.escape(line.text)
        said = f'<span class="sender">{sender}</span>: <span class="text">{text}</span>'
    else:
        said = f'<span class="text">{html.escape(line_words(line))}</span>'
    return head + said + "</li>"


def as_html(conversation: Conversation, lines: Iterable[Line]) -> str:
    """The history as one standalone HTML page."""
    title = html.escape(conversation_title(conversation))
    body = "\n".join(_html_line(line) for line in lines)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(current_language())}">\n'
        '<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f'<body>\n<h1>{title}</h1>\n<p class="me">{html.escape(_me(conversation))}</p>\n'
        f"<ol>\n{body}\n</ol>\n</body>\n</html>\n"
    )


def save(path: str | os.PathLike, conversation: Conversation, lines: Iterable[Line]) -> None:
    """Write the history to `path`: HTML for .html or .htm, plain text otherwise, UTF-8.
    Atomic: a file of that name is replaced whole or not at all. Private to its user, as the
    history is (crypto.identity.write_private: 0600, or the profile's ACL on Windows)."""
    path = Path(path)
    render = as_html if path.suffix.lower() in HTML_SUFFIXES else as_text
    write_private(path, render(conversation, lines).encode("utf-8"))
