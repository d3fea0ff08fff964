"""What the chat window says and offers when the host stops answering or the server no
longer knows this session.

The session decides when (ocm_core.sansio.session: HostNotAnswering after 30 s of a lost
connection, SessionGone when the server will not take us back); this part words it in
the banner and carries out the person's answer: Leave, Keep waiting (the client asks
again after as long), or Rejoin (a new client joins the same room under the same name,
off the Tk thread; on success the window goes on with it, keeping the conversation).
"""

from __future__ import annotations

import logging
import threading
import time
import tkinter as tk
from collections.abc import Callable
from typing import Protocol

from ocm_core.i18n import _
from ocm_core.sansio.events import HostNotAnswering, SessionGone
from ocm_core.words import event_words, host_not_answering_text
from ocm_gui import ports
from ocm_gui.background import fire_and_forget, run_in_thread
from ocm_gui.chat.banners import Banner
from ocm_gui.chat.members import MemberList


class LostWindow(Protocol):
    """What this part needs of its chat window (ocm_gui.chat.window.ChatWindow)."""

    win: tk.Tk | tk.Toplevel
    client: ports.RoomClient
    room: str
    banners: Banner
    people: MemberList
    destroyed: bool
    closed: threading.Event
    room_closed: bool
    connection_lost: bool

    def later(self, ms: int, func: Callable[[], object]) -> None: ...
    def adopt(self, client: ports.RoomClient) -> None: ...
    def back_to_start(self) -> None: ...
    def dismiss_text(self) -> str: ...
    def end_room(self, *, hint: str, people_heading: str, people_line: str) -> None: ...


log = logging.getLogger(__name__)


class LostHost:
    def __init__(self, window: LostWindow, backend: ports.Backend):
        """`backend.make_client(host, port)` makes the client a Rejoin joins with."""
        self.window = window
        self.backend = backend
        self.gone: SessionGone | None = None  # set while Rejoin is on offer
        self.rejoining = False
        self.clock = time.monotonic
        self._asking: tuple[float, HostNotAnswering] | None = None  # (silent since, the question)
        self._round = 0

    # --- the host is not answering ------------------------------------------------------

    def not_answering(self, event: HostNotAnswering) -> None:
        window = self.window
        if window.room_closed:
            return
        window.people.host_not_answering(True)
        window.banners.show(
            host_not_answering_text(event.seconds, window.room),
            actions=((_("Leave"), window.back_to_start), (_("Keep waiting"), self.keep_waiting)),
        )
        self._round += 1
        self._asking = (self.clock() - event.seconds, event)
        self._tick_later()

    def _tick_later(self) -> None:
        current = self._round  # a newer question starts its own count; this one then stops
        self.window.later(1000, lambda: self.tick() if self._round == current else None)

    def tick(self) -> None:
        """Count the silence on in the bar each second while it asks (a number that stood
        still at 39 s for minutes read as wrong)."""
        window = self.window
        if self._asking is None or not window.connection_lost or window.room_closed or not window.banners.visible:
            self._asking = None
            return
        since, event = self._asking
        seconds = int(self.clock() - since)
        window.banners.set_text(host_not_answering_text(seconds, window.room))
        self._tick_later()

    def keep_waiting(self) -> None:
        """Hide the question; the client asks it again after as long (or the host comes back)."""
        window = self.window
        self._asking = None
        window.client.keep_waiting()
        if window.connection_lost and not window.room_closed:
            window.banners.show(event_words("connection_lost"))  # still true: we wait, the client probes
        else:
            window.banners.hide()

    # --- the server no longer knows this session --------------------------------------------

    def session_gone(self, event: SessionGone) -> None:
        self.gone = event
        window = self.window
        window.end_room(
            hint=_("You are no longer in the room; press Rejoin to come back."),
            people_heading=_("People"),
            people_line=_("You are no longer in the room"),
        )
        window.banners.show(
            event_words("session_gone"),
            closed=True,
            actions=((_("Rejoin"), self.rejoin), (window.dismiss_text(), window.back_to_start)),
        )
        window.banners.button(_("Rejoin")).focus_set()

    def rejoin(self) -> None:
        """Join the same room under the same name with a new client; on success go on with it."""
        gone, window = self.gone, self.window
        if gone is None or self.rejoining or window.destroyed:
            return
        self.rejoining = True
        window.banners.set_text(_("Joining “{room}” again as {name}…").format(room=gone.room, name=gone.name))
        window.banners.enable_buttons(False)
        old = window.client
        host, port = old.server_host, old.tcp_port
        password = old.password  # a locked room takes the one we came in with
        backend, closed = self.backend, window.closed  # values: the worker never holds the window

        def join():
            client = backend.make_client(host, port)
            client.join_room(gone.room, gone.name, password)
            if closed.is_set():  # closed (or the app quit) meanwhile: there may be no Tk left to hand it to
                client.leave()
            return client

        # Handed back through the app's inbox, which outlives the window: a client that joins
        # after the window closed is still handed back, and left.
        run_in_thread(window.win, join, self._joined, name="ocm-gui-rejoin")

    def _joined(self, client, error: BaseException | None) -> None:
        self.rejoining = False
        window = self.window
        if window.destroyed:  # closed while joining: leave again quietly
            if client is not None:
                fire_and_forget(client.leave, name="ocm-gui-leave")
            return
        if error is not None:
            if not isinstance(error, Exception):
                raise error
            log.info("rejoin failed: %s", error)
            window.banners.set_text(_("Could not join again: {reason}").format(reason=error))
            window.banners.enable_buttons(True)
            return
        self.gone = None
        window.adopt(client)
