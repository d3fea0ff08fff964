"""Replies, reactions, edits and deletions in the terminal client, and the host's tools.

Every message the terminal prints gets a short number, "[3]", counted from 1 in this session.
`/reply 3 TEXT` answers it (the chat loop sends it: a reply is a message of ours); `/react 3 👍`
(or a name: `/react 3 thumbsup`), `/unreact 3 👍`, `/edit 3 TEXT` and `/delete 3` act on it.
A reply is printed with the line it answers; a reaction, an edit or a deletion as a short line
naming the message's number. The host has `/topic TEXT`, `/remove NAME` and `/password [NEW]`."""

from __future__ import annotations

import collections
import datetime
import threading

from ocm_core.i18n import _
from ocm_core.net.client import ChatClient
from ocm_core.sansio import emojinames
from ocm_core.sansio import events as ev
from ocm_core.sansio.actions import excerpt

NUMBERS_KEPT = 1000  # messages a number still reaches; older ones are said to be too far back


def actions_help() -> str:
    return _(
        "Messages are numbered [N]: /reply N TEXT answers one, /react N EMOJI (or /unreact) reacts, "
        "/edit N TEXT and /delete N change your own. Host: /topic TEXT, /remove NAME, /password [NEW]."
    )


def _clock(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M")


class Numbered:
    """What the terminal has shown: room position <-> its number, and who said what there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 1
        self._number: collections.OrderedDict[int, int] = collections.OrderedDict()  # seq -> number
        self._seq: dict[int, int] = {}  # number -> seq
        self._said: dict[int, tuple[str, str]] = {}  # seq -> (sender, text)

    def number(self, seq: int, sender: str, text: str) -> int:
        """The number of the message at `seq` (given now if new); its text remembered for quotes."""
        with self._lock:
            self._said[seq] = (sender, text)
            if seq in self._number:
                return self._number[seq]
            number, self._next = self._next, self._next + 1
            self._number[seq], self._seq[number] = number, seq
            while len(self._number) > NUMBERS_KEPT:
                old_seq, old_number = self._number.popitem(last=False)
                self._seq.pop(old_number, None)
                self._said.pop(old_seq, None)
            return number

    def seq_of(self, number: int) -> int | None:
        with self._lock:
            return self._seq.get(number)

    def label(self, seq: int) -> str:
        """ "[3] alice “hello…”" for a message shown here, or words for one that was not."""
        with self._lock:
            number, said = self._number.get(seq), self._said.get(seq)
        if number is None or said is None:
            return _("an earlier message")
        if not said[1]:
            return f"[{number}] {said[0]} " + _("(message deleted)")
        return f"[{number}] {said[0]} “{excerpt(said[1], 40)}”"

    def ref(self, seq: int) -> str:
        """ "[3]" for a message shown here, or words for one that was not."""
        with self._lock:
            number = self._number.get(seq)
        return f"[{number}]" if number is not None else _("an earlier message")

    def changed(self, seq: int, text: str) -> None:
        with self._lock:
            if seq in self._said:
                self._said[seq] = (self._said[seq][0], text)


class ActionTerminal:
    """The terminal's numbered messages and actions for one client. `command()` runs on the input
    thread, `describe()` and `sent()` on the printer thread."""

    def __init__(self, client: ChatClient):
        self.client = client
        self.shown = Numbered()

    # --- the input thread ---------------------------------------------------------------

    def command(self, text: str) -> str | None:
        """Run an action command; a line to print ("" for none: its effect comes from the room), or
        None if `text` is none of them."""
        command, _space, rest = text.strip().partition(" ")
        rest = rest.strip()
        client = self.client
        if command in ("/react", "/unreact", "/edit", "/delete"):
            number_text, _space, argument = rest.partition(" ")
            seq = self.command_seq(number_text)
            if isinstance(seq, str):
                return seq
            argument = argument.strip()
            if command == "/delete":
                client.delete(seq)
                return ""
            if not argument:
                return "! " + actions_help()
            if command == "/edit":
                client.edit(seq, argument)
                return ""
            emoji = emojinames.lookup(argument)
            if emoji is None:
                return "! " + _("“{word}” is not an emoji this app knows; type the emoji or its name.").format(
                    word=argument
                )
            client.react(seq, emoji, on=command == "/react")
            return ""
        if command == "/topic":
            client.set_topic(rest)
            return ""
        if command == "/remove" and rest:
            client.remove_member(rest)
            return ""
        if command == "/password":
            client.set_password(rest)  # the room's notice says it was done (or the refusal why not)
            return ""
        return None

    def command_seq(self, number_text: str) -> int | str:
        """The room position of message [N], or the line that says why there is none."""
        try:
            number = int(number_text.strip("[]#"))
        except ValueError:
            return "! " + actions_help()
        seq = self.shown.seq_of(number)
        if seq is None:
            return "! " + _("No message [{number}] here (it is too far back, or not a message).").format(number=number)
        return seq

    # --- the printer thread ---------------------------------------------------------------

    def own_line(self, seq: int, text: str, when: float, reply_to: int = 0) -> str:
        """One of our messages, acknowledged at room position `seq` (0: not said)."""
        me = self.client.username or ""
        number = f"[{self.shown.number(seq, me, text)}] " if seq else ""
        answered = " ↪ " + self.shown.label(reply_to) if reply_to else ""
        return f"[{_clock(when)}] {number}{me}{answered}: {text} ✓"

    def describe(self, event: ev.AppEvent) -> str | None:
        """The line for a message (numbered) or an action's event; None for other events."""
        shown = self.shown
        if isinstance(event, ev.ChatMessage):
            number = shown.number(event.seq, event.sender, event.text)
            answered = " ↪ " + shown.label(event.reply_to) if event.reply_to else ""
            if event.deleted:
                text = _("(message deleted)")
            else:
                text = event.text + (" " + _("(edited)") if event.edited else "")
            line = f"[{_clock(event.time)}] [{number}] {event.sender}{answered}: {text}"
            return _("{line} (earlier)").format(line=line) if event.history else line
        if isinstance(event, (ev.Reacted, ev.MessageEdited, ev.MessageDeleted, ev.TopicChanged)) and (
            event.history and event.seq
        ):
            # Said before we came: the messages as shown already read as they are now.
            if isinstance(event, ev.MessageEdited):
                shown.changed(event.target, event.text)
            elif isinstance(event, ev.MessageDeleted):
                shown.changed(event.target, "")
            return ""
        if isinstance(event, ev.Reacted):
            words = _("{name} reacted {emoji} to {message}") if event.on else _("{name} took back {emoji} on {message}")
            return "* " + words.format(name=event.name, emoji=event.emoji, message=shown.label(event.target))
        if isinstance(event, ev.MessageEdited):
            shown.changed(event.target, event.text)
            return (
                "* "
                + _("{name} edited {message}").format(name=event.name, message=shown.ref(event.target))
                + (f": {event.text}")
            )
        if isinstance(event, ev.MessageDeleted):
            line = (
                _("The host deleted {message}").format(message=shown.label(event.target))
                if event.by_host
                else _("{name} deleted {message}").format(name=event.name, message=shown.ref(event.target))
            )
            shown.changed(event.target, "")
            return "* " + line
        if isinstance(event, ev.TopicChanged):
            if not event.topic:
                return "" if event.seq == 0 else "* " + _("{name} cleared the topic.").format(name=event.name)
            return "* " + _("Topic: {topic}").format(topic=event.topic)
        if isinstance(event, ev.ActionRefused):
            return f"! {event.reason}"
        return None
