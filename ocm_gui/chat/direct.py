"""A direct conversation: one person on one server, as a page of the main window.

It has no connection of its own: what is typed goes out through one of the rooms this
person shares with us (the app picks it, `send`), and what arrives for it the app hands
in (`received`, `update`, `key_changed`, `typing_seen`, `set_presence`). Sealed end to
end, so the header says who can read it; a changed key is said in a banner with the safety
code to compare.
"""

from __future__ import annotations

import itertools
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING

from ocm_core.errors import ClientError, MessageTooLong
from ocm_core.i18n import _
from ocm_core.sansio.actions import excerpt
from ocm_core.sansio.events import ChatMessage, DirectMessage, DirectStatus, DirectUpdate, KeyChanged
from ocm_core.sansio.presence import Presence, TypingSender
from ocm_core.storage.history import Line
from ocm_gui import theme
from ocm_gui.chat.banners import Banner
from ocm_gui.chat.composer import Composer
from ocm_gui.chat.composer_rules import too_long_text
from ocm_gui.chat.kept import kept_entries
from ocm_gui.chat.scrollback import Scrollback
from ocm_gui.chat.typingline import TypingLine

if TYPE_CHECKING:
    from ocm_gui.notify.alerts import ChatAlerts

MARK = "✉"


def presence_text(presence: Presence) -> str:
    if presence is Presence.AWAY:
        return _("away")
    if presence is Presence.OFFLINE:
        return _("offline")
    return _("online")


class DirectWindow:
    """`send(text)` sends through a shared room and returns the message id (ClientError with a
    sentence when it cannot); `limit()` is the most bytes a message may have now; `safety()`
    gives (the safety code, whether it was marked compared) or None before a key is known;
    `on_verified()` marks it compared; `on_typing()` is called when a typing signal is due."""

    def __init__(
        self,
        container: tk.Misc,
        *,
        name: str,
        me: str,
        server: str,
        send: Callable[[str], int],
        limit: Callable[[], int],
        safety: Callable[[], tuple[str, bool, bytes] | None],
        on_verified: Callable[[bytes], object],
        on_typing: Callable[[], object],
        on_close: Callable[[DirectWindow], object],
        on_wanted: Callable[[DirectWindow], object],
        kept: list[Line] = (),  # type: ignore[assignment]
    ):
        self.name, self.username, self.server = name, me, server
        self.room = f"{MARK} {name}"  # how notifications and the title name it
        self._send, self._limit, self._safety = send, limit, safety
        self._on_verified, self._on_typing, self._on_close = on_verified, on_typing, on_close
        self._on_wanted = on_wanted
        self.page = ttk.Frame(container)
        self.win = self.page.winfo_toplevel()
        self.unread = 0
        self.focused = False
        self.destroyed = False
        self.alerts: ChatAlerts | None = None  # the app's notifications for this conversation
        self.presence = Presence.OFFLINE
        self._texts: dict[int, str] = {}  # our messages not yet delivered, for Retry
        self.stranded = False  # no room open on this server: nothing can be sent for now
        self._typing_sender = TypingSender()
        # A direct message has no room position: the view numbers its own, so one can be answered.
        self._numbers = itertools.count(1)
        self.replying: tuple[str, str] | None = None  # (name, the start of their message) the next one answers
        self._build()
        if kept:
            self.scrollback.write(kept_entries(self.scrollback, list(kept), number=self._number))
        self.scrollback.write([self.scrollback.line_entry(self._opening_line(), ("notice",))])

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        page = self.page
        page.columnconfigure(0, weight=1)
        page.rowconfigure(2, weight=1)
        header = ttk.Frame(page, padding=theme.pad(page, 12, 10, 12, 6))
        header.grid(row=0, column=0, sticky="ew")
        header.columnconfigure(1, weight=1)
        self.title_label = ttk.Label(header, text=self.room, style="Heading.TLabel")
        self.title_label.grid(row=0, column=0, sticky="w")
        self.presence_label = ttk.Label(header, text=presence_text(self.presence), style="Muted.TLabel")
        self.presence_label.grid(row=0, column=1, sticky="w", padx=(theme.scaled(page, 10), 0))
        self.safety_button = ttk.Button(header, text=_("Safety code…"), command=self.show_safety)
        self.safety_button.grid(row=0, column=2, sticky="e")
        self.sealed_label = ttk.Label(
            header,
            text=_(
                "Only you and {name} can read this conversation: it is sealed on your PC and opened on theirs."
            ).format(name=self.name),
            style="Small.TLabel",
            justify="left",
        )
        self.sealed_label.grid(row=1, column=0, columnspan=3, sticky="w", pady=(theme.scaled(page, 2), 0))
        margin = theme.scaled(page, 36)  # the header's padding and a little air before the edge
        header.bind("<Configure>", lambda e: self.sealed_label.configure(wraplength=max(40, e.width - margin)), add="+")
        self.banners = Banner(page, row=1)
        body = ttk.Frame(page, padding=theme.pad(page, 12, 0, 12, 0))
        body.grid(row=2, column=0, sticky="nsew")
        body.columnconfigure(0, weight=1)
        body.rowconfigure(0, weight=1)
        self.scrollback = Scrollback(
            body, username=self.username, later=self.later, on_retry=self.retry, message_items=self._message_items
        )
        self.scrollback.frame.grid(row=0, column=0, sticky="nsew")
        self.typing = TypingLine(self.scrollback.typing_label)
        self.composer = Composer(
            page,
            limit=self._limit(),
            measure=lambda text: len(text.encode("utf-8")),
            on_send=self.send,
            on_leave=lambda: self._on_close(self),
            leave_text=_("Close"),
        )
        self.composer.frame.grid(row=3, column=0, sticky="ew")
        self.input, self.text = self.composer.input, self.scrollback.text
        self.input.bind("<KeyPress>", self._keystroke, add="+")
        self.input.bind("<Escape>", self._cancel_reply, add="+")

    def _opening_line(self) -> str:
        return _("Direct messages with {name} on {server}.").format(name=self.name, server=self.server)

    def later(self, ms: int, func: Callable[[], object]) -> None:
        def run() -> None:
            if not self.destroyed:
                func()

        self.win.after(ms, run)

    # ------------------------------------------------------------------ replies
    def _number(self) -> int:
        return next(self._numbers)

    def _message_items(self, index: str) -> list:
        seq = self.scrollback.seq_at(index)
        if seq is None or self.stranded:
            return []
        sender, text = self.scrollback.said.get(seq, ("", ""))
        return [(_("Reply"), "normal", lambda: self.start_reply(sender, text))] if text else []

    def start_reply(self, sender: str, text: str) -> None:
        """The next message answers `sender`'s `text`: it goes with a quoted line, which every
        app shows (a direct message carries nothing the other app might not read)."""
        self.replying = (sender, excerpt(text, 60))
        self.composer.show_hint(_("Replying to {quote} · Esc cancels").format(quote=f"{sender}: {self.replying[1]}"))
        self.input.focus_set()

    def _cancel_reply(self, event=None) -> str | None:
        if self.replying is None:
            return None
        self.replying = None
        self.composer.show_hint()
        return "break"

    # ------------------------------------------------------------------ sending
    def send(self) -> int | None:
        text = self.composer.message()
        if not text.strip():
            return None
        if self.replying is not None:
            text = f"> {self.replying[0]}: {self.replying[1]}\n{text}"
        limit = self._limit()
        size = len(text.encode("utf-8"))
        if size > limit:
            self.composer.show_hint(too_long_text(text, size, limit), error=True)
            return None
        try:
            msg_id = self._send(text)
        except MessageTooLong as exc:
            self.composer.show_hint(too_long_text(text, exc.size, exc.limit), error=True)
            return None
        except (ClientError, OSError) as exc:
            self.composer.show_hint(_("Not sent: {reason}").format(reason=exc), error=True)
            return None
        self.composer.clear()
        self._cancel_reply()
        self._typing_sender.sent_message()
        self._texts[msg_id] = text
        self.scrollback.clear_unread()
        self.scrollback.write([self.scrollback.own_entry(msg_id, text, time.time())], force_scroll=True)
        self.scrollback.placed(msg_id, self._number())
        return msg_id

    def retry(self, msg_id: int) -> int | None:
        text = self._texts.pop(msg_id, None)
        if text is None:
            return None
        try:
            new_id = self._send(text)
        except (ClientError, OSError) as exc:
            self._texts[msg_id] = text
            self.composer.show_hint(_("Could not retry: {reason}").format(reason=exc), error=True)
            return None
        self._texts[new_id] = text
        self.scrollback.mark_sending(msg_id, new_id)
        return new_id

    def _keystroke(self, event) -> None:
        if event.char and event.char not in "\r\n" and self._typing_sender.keystroke(time.monotonic()):
            self._on_typing()

    # ------------------------------------------------------------------ what arrives
    def received(self, event: DirectMessage, looking: bool) -> None:
        self.typing.spoke(event.sender)
        entries = [] if looking else self.scrollback.unread_entries()
        message = ChatMessage(self._number(), event.sender, event.text, event.time)
        self.scrollback.write([*entries, self.scrollback.message_entry(message)])
        if not looking:
            self.unread += 1
        if self.alerts is not None:
            self.alerts.arrived([message])

    def update(self, event: DirectUpdate) -> None:
        """Our message's progress: waiting (they are away), sent, delivered, or failed."""
        if event.status is DirectStatus.WAITING:
            self.scrollback.mark_status(event.msg_id, _("waiting for {name}").format(name=self.name))
        elif event.status is DirectStatus.SENT:
            self.scrollback.mark_status(event.msg_id, "✓")
        elif event.status is DirectStatus.DELIVERED:
            self._texts.pop(event.msg_id, None)
            self.scrollback.mark_status(event.msg_id, "✓✓ " + _("delivered"), keep=False)
        else:
            self.scrollback.mark_failed(event.msg_id, event.reason)

    def room_ended(self, msg_ids: list[int]) -> None:
        """The room our waiting messages were kept in ended: the server dropped them."""
        for msg_id in msg_ids:
            self.scrollback.mark_failed(msg_id, _("the room it waited in ended"))

    def no_room_shared(self) -> None:
        """No room is open on this server now (its rooms ended, or the app just started)."""
        self.stranded = True
        self.set_presence(Presence.OFFLINE)
        self.composer.disable(
            _("You share no open room with {name} now; you can write again once you do.").format(name=self.name),
            _("Close"),
        )

    def back_in_a_room(self) -> None:
        self.stranded = False
        self.composer.enable(_("Close"))
        self.set_presence(self.presence)  # its hint again, if they are offline

    def key_changed(self, event: KeyChanged) -> None:
        text = _(
            "{name}'s key has changed: another PC, a reinstall, or someone else. "
            "Compare the safety code with {name} before you write anything private."
        ).format(name=self.name)
        self.banners.show(text, actions=((_("Safety code…"), self.show_safety),))
        self.scrollback.write([self.scrollback.line_entry(f"{MARK} " + text, ("error",))])

    def set_presence(self, presence: Presence) -> None:
        self.presence = presence
        self.presence_label.configure(text=presence_text(presence))
        if presence is Presence.OFFLINE:
            self.typing.spoke(self.name)
        if not self.stranded:  # under the input: what writing to someone offline does
            waiting = _("{name} is offline: what you write waits for them on the server.")
            self.composer.show_hint(waiting.format(name=self.name) if presence is Presence.OFFLINE else None)

    def typing_seen(self, name: str) -> None:
        self.typing.signal(name)

    # ------------------------------------------------------------------ the safety code
    def show_safety(self) -> None:
        safety = self._safety()
        if safety is None:
            self.composer.show_hint(_("No key of {name}'s is known yet.").format(name=self.name), error=True)
            return
        code, verified, key = safety
        SafetyCode(self.win, self.name, code, verified, lambda: self._verified(key))

    def _verified(self, key: bytes) -> None:
        """The code shown, made from `key`, matched: that key is marked compared (not whichever
        came since)."""
        self._on_verified(key)
        self.banners.hide()

    # ------------------------------------------------------------------ the page
    def set_looking(self, looking: bool) -> None:
        self.focused = looking
        if looking:
            self.unread = 0
            if self.alerts is not None:
                self.alerts.seen()

    def come_forward(self) -> None:
        """A notification was clicked: the app shows this conversation, the cursor in its input."""
        if not self.destroyed:
            self._on_wanted(self)
            self.input.focus_force()

    def input_enabled(self) -> bool:
        return self.composer.enabled()

    def destroy(self) -> None:
        self.destroyed = True
        if self.alerts is not None:
            self.alerts.closed()
        self.page.destroy()


class SafetyCode:
    """The safety code, large enough to read aloud, and a button to say it matched."""

    def __init__(self, master: tk.Misc, name: str, code: str, verified: bool, on_match: Callable[[], object]):
        self.top = top = tk.Toplevel(master)
        top.title(_("Safety code with {name}").format(name=name))
        top.transient(master.winfo_toplevel())
        frame = ttk.Frame(top, padding=theme.pad(top, 16, 14, 16, 14))
        frame.grid(sticky="nsew")
        ttk.Label(
            frame,
            text=_(
                "Read this code aloud with {name}, or compare it side by side. If it is the same on "
                "their screen, nobody stands between you: not even the host can read what you write."
            ).format(name=name),
            wraplength=theme.scaled(top, 360),
            justify="left",
        ).grid(row=0, column=0, columnspan=2, sticky="w")
        self.code_label = ttk.Label(frame, text=code, style="Heading.TLabel")
        self.code_label.grid(row=1, column=0, columnspan=2, pady=theme.scaled(top, 12))
        state = _("You marked this code as compared.") if verified else _("Not compared yet.")
        ttk.Label(frame, text=state, style="Muted.TLabel").grid(row=2, column=0, columnspan=2, sticky="w")
        buttons = ttk.Frame(frame)
        buttons.grid(row=3, column=0, columnspan=2, sticky="e", pady=(theme.scaled(top, 12), 0))

        def matched() -> None:
            on_match()
            top.destroy()

        self.match_button = ttk.Button(buttons, text=_("It matches"), style="Accent.TButton", command=matched)
        self.match_button.grid(row=0, column=0, padx=(0, theme.scaled(top, 8)))
        ttk.Button(buttons, text=_("Close"), command=top.destroy).grid(row=0, column=1)
        top.bind("<Escape>", lambda e: top.destroy())
