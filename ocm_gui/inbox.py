"""The one thread-safe door into the Tk thread.

Any thread puts a small message (a dataclass) with `Inbox.put`; one `after()` loop on the Tk
thread takes them off and calls the handler registered for the message's type. The same
loop drains the event queues the GUI watches (each chat's client, the Join dialog's room
browser), so that no window runs a poller of its own. Workers capture values, never a
window: whatever a message is for is found through the handlers, which a window removes
when it closes, so a closed window is never kept alive, or touched, by a thread's report.
The loop ends with the root.

Tk objects must also die on the Tk thread: a Tk variable freed on another thread calls into
Tcl from there. A closed window is cyclic garbage (its parts point back at it), which the
garbage collector frees in whichever thread happens to trigger it; so when an owner is
forgotten, the next turn of the loop collects on the Tk thread, before a worker can.
"""

from __future__ import annotations

import gc
import logging
import queue
import tkinter as tk
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

TICK_MS = 25  # how often the loop looks, when nothing is waiting
SOURCE_BATCH = 100  # events taken from one watched queue per tick (a burst is drained over several)

M = TypeVar("M")

_inboxes: weakref.WeakKeyDictionary[tk.Misc, Inbox] = weakref.WeakKeyDictionary()


def inbox_for(widget: tk.Misc) -> Inbox:
    """The inbox of `widget`'s Tk root, made on first use."""
    root = widget.nametowidget(".")
    inbox = _inboxes.get(root)
    if inbox is None or inbox.closed:
        inbox = _inboxes[root] = Inbox(root)
    return inbox


@dataclass(frozen=True)
class _Watched:
    source: queue.Queue
    handle: Callable[[list[Any]], None]
    batch: int


class Inbox:
    def __init__(self, root: tk.Misc):
        self.root = root
        self._messages: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._handlers: dict[tuple[type, Hashable], Callable[[Any], None]] = {}
        self._watched: dict[Hashable, _Watched] = {}
        self.ticks = 0  # loop turns so far, for tests and diagnostics
        self.closed = False
        self._collect = False  # an owner went away: collect its garbage on this thread
        self._after_id: str | None = root.after(1, self._tick)
        # The loop ends with the root: its pending turn is cancelled, not left to fire later.
        root.bind("<Destroy>", self._root_destroyed, add="+")

    # --- any thread -------------------------------------------------------------------------

    def put(self, message: object) -> None:
        """Hand `message` to the Tk thread (from any thread)."""
        self._messages.put(message)

    @property
    def idle(self) -> bool:
        """Nothing waits to be handed over: no message, nothing in a watched queue."""
        return self._messages.empty() and all(w.source.empty() for w in self._watched.values())

    # --- the Tk thread ----------------------------------------------------------------------

    def handle(self, kind: type[M], handler: Callable[[M], None], owner: Hashable = None) -> None:
        """Call `handler` with each message of type `kind` whose `owner` attribute is `owner`
        (messages without one go to the handler registered with owner None)."""
        self._handlers[(kind, owner)] = handler

    def watch(
        self, owner: Hashable, source: queue.Queue, handle: Callable[[list[Any]], None], batch: int = SOURCE_BATCH
    ) -> None:
        """Drain `source` on each tick, handing what it held (at most `batch`) to `handle`."""
        self._watched[owner] = _Watched(source, handle, batch)

    def forget(self, owner: Hashable) -> None:
        """Drop everything registered for `owner` (a window that closes)."""
        self._watched.pop(owner, None)
        for key in [key for key in self._handlers if key[1] == owner]:
            del self._handlers[key]
        self._collect = True

    def _root_destroyed(self, event: tk.Event) -> None:
        if event.widget is self.root:
            self.close()

    def close(self) -> None:
        self.closed = True
        self._handlers.clear()
        self._watched.clear()
        if self._after_id is not None:
            try:
                self.root.after_cancel(self._after_id)
            except tk.TclError:
                pass  # the root is gone already
            self._after_id = None

    def _tick(self) -> None:
        self._after_id = None
        if self.closed:
            return
        self.ticks += 1
        busy = False
        try:
            for _turn in range(500):
                try:
                    message = self._messages.get_nowait()
                except queue.Empty:
                    break
                self._deliver(message)
            for watched in list(self._watched.values()):
                taken: list[Any] = []
                try:
                    while len(taken) < watched.batch:
                        taken.append(watched.source.get_nowait())
                except queue.Empty:
                    pass
                if taken:
                    busy = busy or len(taken) == watched.batch
                    watched.handle(taken)
            if self._collect:
                self._collect = False
                gc.collect()
        finally:
            self._schedule(1 if busy else TICK_MS)

    def _deliver(self, message: object) -> None:
        handler = self._handlers.get((type(message), getattr(message, "owner", None)))
        if handler is None:
            log.debug("no one waits for %s any more", type(message).__name__)
            return
        handler(message)

    def _schedule(self, ms: int) -> None:
        if self.closed:
            return
        try:
            self._after_id = self.root.after(ms, self._tick)
        except tk.TclError:  # the root was destroyed: the loop ends with it
            self.closed = True
