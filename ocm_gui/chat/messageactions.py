"""What a person does to a message in a room's window: reply to it, react to it, edit or delete
their own (the host: delete anyone's), and the host's topic, removals and password.

The menu of the right mouse button on a message offers them; a key does too: R replies to the
message clicked last in the scrollback (or the newest one), Up in an empty input edits one's
own last message. While a reply or an edit is being written the line under the input says so,
and Escape lets it go. What comes back from the room (reactions, edits, deletions, the topic)
is shown in place here (`apply`)."""

from __future__ import annotations

import functools
import logging
import time
import tkinter as tk
from typing import Any, Protocol

from ocm_core.errors import ClientError
from ocm_core.i18n import _
from ocm_core.sansio import events as ev
from ocm_core.storage.history import Line
from ocm_gui import ports
from ocm_gui.chat.chatlines import clock_text, day_label
from ocm_gui.chat.composer import Composer
from ocm_gui.chat.confirm import AskText, Confirm
from ocm_gui.chat.emojipicker import open_emoji_picker
from ocm_gui.chat.header import ChatHeader
from ocm_gui.chat.scrollback import Scrollback


class MessageHost(Protocol):
    """What the message actions need of their chat window (ocm_gui.chat.window.ChatWindow)."""

    win: tk.Tk | tk.Toplevel
    client: ports.RoomClient
    settings: Any
    scrollback: Scrollback
    composer: Composer
    heading: ChatHeader
    input: tk.Text
    username: str
    room_closed: bool

    def input_text(self) -> str: ...
    def show_line(self, text: str, tags: tuple) -> None: ...
    def kept_line(self, seq: int) -> Line | None: ...


log = logging.getLogger(__name__)

PALETTE = ("👍", "❤️", "😂", "😮", "😢", "🎉")  # the reactions a menu offers first; any emoji by the picker
APPLIED = (ev.Reacted, ev.MessageEdited, ev.MessageDeleted, ev.TopicChanged, ev.ActionRefused)


class MessageActions:
    def __init__(self, window: MessageHost):
        self.window = window
        self.replying: int | None = None  # the message the next one answers
        self.editing: int | None = None  # one's own message the input now changes
        self._question: Confirm | None = None  # the one open (a test answers it)

    # ------------------------------------------------------------------ what a message offers
    def menu_items(self, index: str) -> list:
        """The message menu's items for the message at `index` ([] when none, or none is possible)."""
        window = self.window
        seq = window.scrollback.seq_at(index)
        if seq is None or window.room_closed or not window.client.speaks_actions:
            return []
        sender, text = window.scrollback.said.get(seq, ("", ""))
        if not text and seq in window.scrollback.said:
            return []  # deleted
        items: list = [(_("Reply"), "normal", lambda: self.start_reply(seq))]
        react: list = [(emoji, "normal", functools.partial(self.toggle, seq, emoji)) for emoji in PALETTE]
        react.append((_("Other emoji…"), "normal", lambda: self.pick_emoji(seq)))
        items.append((_("React"), "normal", react))
        if sender == window.username:
            items.append((_("Edit"), "normal", lambda: self.start_edit(seq)))
        if sender == window.username or window.client.is_host:
            items.append((_("Delete…"), "normal", lambda: self.ask_delete(seq)))
        return items

    def newest_from_others(self) -> int | None:
        said = self.window.scrollback.said
        return max((seq for seq, (who, text) in said.items() if who != self.window.username and text), default=None)

    def own_newest(self) -> int | None:
        said = self.window.scrollback.said
        return max((seq for seq, (who, text) in said.items() if who == self.window.username and text), default=None)

    # ------------------------------------------------------------------ reply and edit
    def start_reply(self, seq: int) -> None:
        window = self.window
        self.editing = None
        self.replying = seq
        quote = window.scrollback.quote_line(seq).removeprefix("↪ ")
        window.composer.show_hint(_("Replying to {quote} · Esc cancels").format(quote=quote))
        window.input.focus_set()

    def start_edit(self, seq: int) -> None:
        window = self.window
        _sender, text = window.scrollback.said.get(seq, ("", ""))
        self.replying = None
        self.editing = seq
        window.input.delete("1.0", "end")
        window.input.insert("1.0", text)
        window.composer.show_hint(_("Editing your message · Enter saves, Esc cancels"))
        window.input.focus_set()

    def cancel(self, event=None) -> str | None:
        """Escape: let the reply or edit go (the input keeps what was typed, unless it was an edit)."""
        if self.replying is None and self.editing is None:
            return None
        if self.editing is not None:
            self.window.input.delete("1.0", "end")
        self.replying = self.editing = None
        self.window.composer.show_hint()
        return "break"

    def done(self) -> None:
        """The reply or edit went out."""
        self.replying = self.editing = None
        self.window.composer.show_hint()

    def send_edit(self, text: str) -> bool:
        """Send the edit being written; False (the reason shown) when it could not go."""
        window = self.window
        seq = self.editing
        assert seq is not None
        _sender, before = window.scrollback.said.get(seq, ("", ""))
        if text == before:
            self.cancel()
            return True
        try:
            window.client.edit(seq, text)
        except (ClientError, OSError) as exc:
            window.composer.show_hint(_("Not changed: {reason}").format(reason=exc), error=True)
            return False
        window.composer.clear()
        self.done()
        return True

    def key_reply(self, event=None) -> str:
        """R in the scrollback: reply to the message clicked last there, or to the newest one."""
        seq = self.window.scrollback.seq_at("insert") or self.newest_from_others()
        if seq is not None and self.window.client.speaks_actions and not self.window.room_closed:
            self.start_reply(seq)
        return "break"

    def key_edit_last(self, event=None) -> str | None:
        """Up in an empty input: edit one's own last message."""
        window = self.window
        if window.input_text().strip() or window.room_closed or not window.client.speaks_actions:
            return None
        seq = self.own_newest()
        if seq is None:
            return None
        self.start_edit(seq)
        return "break"

    # ------------------------------------------------------------------ reactions and deletions
    def toggle(self, seq: int, emoji: str) -> None:
        """Add `emoji` to message `seq`, or take it back when it is already one's own there."""
        window = self.window
        mine = window.username in window.scrollback.reactions.get(seq, {}).get(emoji, [])
        self._tried(lambda: window.client.react(seq, emoji, on=not mine))

    def pick_emoji(self, seq: int) -> None:
        window = self.window
        open_emoji_picker(window.win, window.input, window.settings, lambda emoji: self.toggle(seq, emoji))

    def ask_delete(self, seq: int) -> None:
        window = self.window
        sender, _text = window.scrollback.said.get(seq, ("", ""))
        question = _(
            "Delete this message for everyone? It is taken from the server and from the others' apps and "
            "history. What someone already copied, saved or read cannot be taken back."
        )
        if sender and sender != window.username:
            question = _("Delete {name}'s message for everyone, as the host? {rest}").format(
                name=sender, rest=_("What someone already copied, saved or read cannot be taken back.")
            )

        def answered(yes: bool) -> None:
            self._question = None
            if yes:
                self._tried(lambda: window.client.delete(seq))

        self._question = Confirm(
            window.win,
            title=_("Delete message"),
            question=question,
            yes=_("Delete"),
            cancel=_("Cancel"),
            on_answer=answered,
        )

    # ------------------------------------------------------------------ the host's tools
    def _tried(self, action) -> None:
        """Do `action()`; a refusal said in the room's window."""
        try:
            action()
        except (ClientError, OSError) as exc:
            self.window.show_line(str(exc), ("error",))

    def _ask_then(self, act, **question) -> None:
        """Ask for a line (AskText's `question`), then `act(line)` unless cancelled."""

        def answered(text: str | None) -> None:
            if text is not None:
                self._tried(lambda: act(text))

        self._question = AskText(self.window.win, cancel=_("Cancel"), on_text=answered, **question)

    def ask_topic(self) -> None:
        client = self.window.client
        self._ask_then(
            client.set_topic,
            title=_("Room topic"),
            question=_("A line everyone sees under the room's name (empty: none)."),
            initial=client.topic,
            yes=_("Set topic"),
        )

    def ask_password(self) -> None:
        self._ask_then(
            self.window.client.set_password,
            title=_("Room password"),
            question=_(
                "Newcomers will need this password to join; those in the room stay. Leave it empty to open the room."
            ),
            initial="",
            secret=True,
            yes=_("Set password"),
        )

    def ask_remove(self, name: str) -> None:
        window = self.window

        def answered(yes: bool) -> None:
            if yes:
                self._tried(lambda: window.client.remove_member(name))

        self._question = Confirm(
            window.win,
            title=_("Remove from room"),
            question=_(
                "Remove {name} from the room? They are told, and cannot come back "
                "from the same app while the room lasts."
            ).format(name=name),
            yes=_("Remove"),
            cancel=_("Cancel"),
            on_answer=answered,
        )

    # ------------------------------------------------------------------ what the room says back
    def apply(self, event: ev.AppEvent) -> None:
        window, scrollback = self.window, self.window.scrollback
        if isinstance(event, ev.Reacted):
            who = {emoji: list(names) for emoji, names in scrollback.reactions.get(event.target, {}).items()}
            names = who.setdefault(event.emoji, [])
            if event.on and event.name not in names:
                names.append(event.name)
            elif not event.on and event.name in names:
                names.remove(event.name)
            scrollback.set_reactions(event.target, who, window.username)
        elif isinstance(event, ev.MessageEdited):
            scrollback.set_text(event.target, event.text)
        elif isinstance(event, ev.MessageDeleted):
            scrollback.set_text(event.target, "", deleted=True, by_host=event.by_host)
            if self.editing == event.target:
                self.cancel()
            elif self.replying == event.target:  # what was typed stays, to send as it is or not at all
                self.replying = None
                window.composer.show_hint(_("The message you were answering was deleted."))
        elif isinstance(event, ev.TopicChanged):
            window.heading.set_topic(event.topic)
            if event.seq and not event.history:
                words = (
                    _("{name} set the topic: {topic}").format(name=event.name, topic=event.topic)
                    if event.topic
                    else _("{name} cleared the topic.").format(name=event.name)
                )
                window.scrollback.write([scrollback.notice_entry(words, event.time, False)])
        elif isinstance(event, ev.ActionRefused):
            window.show_line(event.reason, ("error",))

    def quote_clicked(self, seq: int) -> None:
        """A reply's quote clicked: show the message it answers, here or from the history."""
        window = self.window
        if window.scrollback.reveal(seq):
            return
        line = window.kept_line(seq)
        if line is None:
            window.show_line(_("That message is no longer here or in your history."), ("notice",))
        elif line.deleted:
            window.show_line(_("{name}'s message was deleted.").format(name=line.sender), ("notice",))
        else:  # older than the scrollback: said again, whole, from the history on this PC
            when = day_label(line.time, time.time()) + " " + clock_text(line.time)
            window.show_line(
                _("Earlier, {name} wrote ({when}): {text}").format(name=line.sender, when=when, text=line.text),
                ("notice",),
            )

    def bind(self, input_widget: tk.Text, scrollback_text: tk.Text) -> None:
        input_widget.bind("<Escape>", self.cancel, add="+")
        input_widget.bind("<Up>", self.key_edit_last, add="+")
        for key in ("r", "R"):
            scrollback_text.bind(f"<Key-{key}>", self.key_reply, add="+")
