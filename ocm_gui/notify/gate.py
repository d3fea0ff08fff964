"""What deserves a person's attention and what to say: which events count, a notification's text,
and how a burst is folded into one (AlertGate). No I/O, no Tk; time passed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ocm_core.i18n import _, ngettext
from ocm_core.sansio.events import (
    ChatMessage,
    FileShared,
    HostNotAnswering,
    RoomClosed,
    SessionGone,
)
from ocm_core.words import event_words, host_not_answering_text

GAP_SECONDS = 10.0  # at most one notification per room this often; a burst waits and is folded
LINE_CHARS = 100  # a message's first line is cut to this many characters in a notification
LINES_SHOWN = 3  # a folded notification quotes this many of the newest messages


# ---------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Incoming:
    """A message worth a person's attention: who sent it and its first line (or a file's words)."""

    sender: str
    line: str


def first_line(text: str, limit: int = LINE_CHARS) -> str:
    """The first line that has something on it, cut to ``limit`` characters with an ellipsis."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def incoming(events: Iterable[object], own_name: str, room: str) -> list[Incoming]:
    """The events that deserve a notification: others' new messages and files (never one's
    own, never history replayed on joining), and the room's end or its host gone silent,
    which a person elsewhere would otherwise learn of only when they look (no sender)."""
    found = []
    for event in events:
        if isinstance(event, RoomClosed):
            found.append(Incoming("", first_line(event.reason or _("The host closed the room."))))
        elif isinstance(event, HostNotAnswering):
            found.append(Incoming("", first_line(host_not_answering_text(event.seconds, room))))
        elif isinstance(event, SessionGone):
            found.append(Incoming("", first_line(event_words("session_gone"))))
        elif isinstance(event, (ChatMessage, FileShared)) and not event.history and event.sender != own_name:
            if isinstance(event, ChatMessage):
                line = first_line(event.text)
            else:
                line = first_line(_("shared a file: {name}").format(name=event.name))
            found.append(Incoming(event.sender, line))
    return found


@dataclass(frozen=True)
class Alert:
    """What one desktop notification says."""

    title: str
    body: str


class AlertGate:
    """Decides when a room's window raises a notification and what it says.

    The first message after the window lost focus is shown at once; more within
    ``gap`` seconds of a notification wait and are folded into one ("3 new messages in
    lobby"), so a busy room never floods the screen. ``seen()`` (the window got focus)
    starts over. Time comes in as ``now`` (monotonic seconds): no clock, no I/O.
    """

    def __init__(self, room: str, gap: float = GAP_SECONDS):
        self.room = room
        self.gap = gap
        self.unseen = 0  # messages since the window lost focus
        self.pending: list[Incoming] = []  # not yet in a notification
        self.last_shown: float | None = None

    def arrived(self, items: list[Incoming], now: float) -> Alert | None:
        """Count new messages; returns the notification to raise now, if one is due."""
        self.unseen += len(items)
        self.pending.extend(items)
        return self.due(now)

    def next_due(self) -> float | None:
        """When held messages are due to be shown (None: nothing is held)."""
        if not self.pending:
            return None
        return self.last_shown + self.gap if self.last_shown is not None else 0.0

    def due(self, now: float) -> Alert | None:
        when = self.next_due()
        if when is None or now < when:
            return None
        alert = self._alert()
        self.pending.clear()
        self.last_shown = now
        return alert

    def seen(self) -> None:
        self.unseen = 0
        self.pending.clear()
        self.last_shown = None

    def _alert(self) -> Alert:
        if self.unseen == 1:
            only = self.pending[-1]
            if not only.sender:  # about the room itself: its name is the title
                return Alert(self.room, only.line)
            return Alert(_("{sender} in {room}").format(sender=only.sender, room=self.room), only.line)
        title = ngettext("{count} new message in {room}", "{count} new messages in {room}", self.unseen).format(
            count=self.unseen, room=self.room
        )
        body = "\n".join(
            _("{sender}: {text}").format(sender=item.sender, text=item.line) if item.sender else item.line
            for item in self.pending[-LINES_SHOWN:]
        )
        return Alert(title, body)
