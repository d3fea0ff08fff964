"""Direct messages, presence and typing in the terminal client: `/dm NAME TEXT`, `/away`,
`/back`, `/who`, and the lines that say what came of them. A direct line is marked "✉" and
says who it is between, so it never reads as a room message."""

from __future__ import annotations

import datetime
import threading
import time

from ocm_core.i18n import _
from ocm_core.net.client import ChatClient
from ocm_core.net.recorder import DirectRecorder
from ocm_core.sansio import events as ev
from ocm_core.sansio.presence import MyPresence, Presence, TypingShown

MARK = "✉"


def direct_help() -> str:
    return _(
        "/dm NAME TEXT writes to one person only (sealed: the host cannot read it); /code NAME shows the "
        "safety code to compare with them; /away, /back, /who."
    )


def split_recipient(rest: str, members: tuple[str, ...]) -> tuple[str, str]:
    """(name, text) of "/dm NAME TEXT": a member's name may hold spaces (山田 太郎), so the
    longest member name that starts the line wins; else the first word is the name."""
    for name in sorted(members, key=len, reverse=True):
        if rest.startswith(name + " "):
            return name, rest[len(name) + 1 :]
    name, _space, text = rest.partition(" ")
    return name, text


def _clock(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M")


class DirectTerminal:
    """The terminal's direct messages and presence for one client. `command()` runs on the
    input thread, `describe()` and `tick()` on the printer thread."""

    def __init__(self, client: ChatClient, recorder: DirectRecorder | None = None, *, clock=time.monotonic):
        self.client = client
        self.recorder = recorder
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: dict[int, tuple[str, str]] = {}  # msg id -> (recipient, text), until it is delivered or fails
        self.presence = MyPresence(clock())
        self.typing = TypingShown()
        self.away: set[str] = set()

    # --- the input thread ---------------------------------------------------------------

    def command(self, text: str) -> str | None:
        """Run a direct-message or presence command; a line to print, or None if it is none of them."""
        command, _space, rest = text.strip().partition(" ")
        now = self._clock()
        announce = self.presence.input_seen(now) if command != "/away" else None
        if announce is not None:
            self.client.set_away(False)
        if command == "/dm":
            name, message = split_recipient(rest.strip(), self.client.members)
            if not name or not message.strip():
                return "! " + _("Write it as: /dm NAME TEXT")
            msg_id = self.client.send_direct(name, message)
            with self._lock:
                self._sent[msg_id] = (name, message)
            if self.recorder is not None:
                self.recorder.sent(name, message)
            return f"[{_clock(time.time())}] {MARK} " + _("you → {name}: {text}").format(name=name, text=message)
        if command in ("/away", "/back"):
            changed = self.presence.choose(command == "/away", now)
            if changed is not None:
                self.client.set_away(changed is Presence.AWAY)
            (self.away.add if command == "/away" else self.away.discard)(self.client.username or "")
            return "* " + (_("You are shown as away.") if command == "/away" else _("You are shown as here."))
        if command == "/who":
            return "* " + self.who()
        if command == "/code":
            return self.safety_line(rest.strip())
        return None

    def safety_line(self, name: str) -> str:
        """The safety code with `name`, to read aloud with them (the app shows the same digits)."""
        key = self.client.key_of(name) if name else None
        if key is None or self.client.direct is None:
            return "! " + _("Write it as: /code NAME (someone in this room, or whom you wrote to here)")
        return f"* {MARK} " + _("Safety code: {code} (compare it aloud with {name})").format(
            code=self.client.direct.safety_code(key), name=name
        )

    def who(self) -> str:
        shown = []
        for name in self.client.members:
            label = _("{name} (you)").format(name=name) if name == self.client.username else name
            shown.append(_("{name} (away)").format(name=label) if name in self.away else label)
        return _("here: {names}").format(names=_(", ").join(shown))

    # --- the printer thread ---------------------------------------------------------------

    def tick(self) -> None:
        """Away after a while without a line typed (said to the room, not printed)."""
        if self.presence.tick(self._clock()) is Presence.AWAY:
            self.client.set_away(True)

    def describe(self, event: ev.AppEvent) -> str | None:
        if isinstance(event, ev.MembersChanged):
            self.away = set(event.away)
            return None
        if isinstance(event, ev.DirectMessage):
            self.typing.spoke(event.sender)
            if self.recorder is not None:
                self.recorder.received(event)
            return f"[{_clock(event.time)}] {MARK} " + _("{name} → you: {text}").format(
                name=event.sender, text=event.text
            )
        if isinstance(event, ev.DirectUpdate):
            return self._update(event)
        if isinstance(event, ev.KeyChanged):
            return (
                f"! {MARK} "
                + _("{name}'s key has changed: another PC, a reinstall, or someone else.").format(name=event.name)
                + " "
                + _("Safety code: {code} (compare it aloud with {name})").format(
                    code=self.client.direct.safety_code(event.key) if self.client.direct else "?", name=event.name
                )
            )
        if isinstance(event, ev.PresenceChanged):
            (self.away.add if event.away else self.away.discard)(event.name)
            return "* " + (
                _("{name} is away.").format(name=event.name)
                if event.away
                else _("{name} is back.").format(name=event.name)
            )
        if isinstance(event, ev.TypingSeen):
            if not self.typing.signal(event.name, self._clock()):
                return None  # still typing: said once per spell
            if event.direct:
                return f"* {MARK} " + _("{name} is typing to you…").format(name=event.name)
            return "* " + _("{name} is typing…").format(name=event.name)
        if isinstance(event, ev.ChatMessage) and not event.history:
            self.typing.spoke(event.sender)
        return None

    def _update(self, event: ev.DirectUpdate) -> str | None:
        with self._lock:
            sent = self._sent.get(event.msg_id)
            if event.status in (ev.DirectStatus.DELIVERED, ev.DirectStatus.FAILED):
                self._sent.pop(event.msg_id, None)
        name = event.recipient
        if event.status is ev.DirectStatus.WAITING:
            return f"* {MARK} " + _(
                "{name} is not here; the server keeps your message, sealed, until they are back."
            ).format(name=name)
        if event.status is ev.DirectStatus.DELIVERED:
            return f"* {MARK} " + _("delivered to {name}").format(name=name) if sent is not None else None
        if event.status is ev.DirectStatus.FAILED and sent is not None:
            return "! " + _("not sent to {name}: {text} ({reason})").format(
                name=name, text=repr(sent[1]), reason=event.reason
            )
        return None
