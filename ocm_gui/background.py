"""Run blocking network calls off the Tk thread and hand the result back to it.

``run_in_thread(root, func, on_done)`` calls ``func()`` in a worker thread; when
it finishes, ``on_done(result, error)`` runs on the Tk thread (found by polling
with ``after()``; the worker never touches a widget). Threads are remembered so
the app can wait for unfinished ones (a leave, a server stop) before exiting.
"""

from __future__ import annotations

import logging
import threading
import tkinter as tk
from typing import Any, Callable

log = logging.getLogger(__name__)

POLL_MS = 25

_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()


def _start(name: str, target: Callable[[], None]) -> threading.Thread:
    def wrapper() -> None:
        try:
            target()
        finally:
            with _threads_lock:
                _threads.discard(threading.current_thread())

    thread = threading.Thread(target=wrapper, name=name, daemon=True)
    with _threads_lock:
        _threads.add(thread)
    thread.start()
    return thread


def run_in_thread(root: tk.Misc, func: Callable[[], Any],
                  on_done: Callable[[Any, BaseException | None], None],
                  name: str = "ocm-gui-task") -> threading.Thread:
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = func()
        except BaseException as exc:  # handed to on_done, which decides what a person sees
            outcome["error"] = exc

    thread = _start(name, work)

    def check() -> None:
        if thread.is_alive():
            try:
                root.after(POLL_MS, check)
            except tk.TclError:  # the app is gone; nobody is waiting any more
                log.debug("%s finished after the window closed", name)
            return
        on_done(outcome.get("result"), outcome.get("error"))

    root.after(POLL_MS, check)
    return thread


def fire_and_forget(func: Callable[[], Any], name: str = "ocm-gui-cleanup") -> threading.Thread:
    """Run a cleanup (leave a room, stop a server) in the background, logging failures."""

    def work() -> None:
        try:
            func()
        except Exception:
            log.exception("%s failed", name)

    return _start(name, work)


def wait_for_background(timeout: float = 5.0) -> bool:
    """Wait for unfinished background work; True if all of it finished in time."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with _threads_lock:
            pending = [t for t in _threads if t.is_alive()]
        if not pending:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            log.warning("%d background task(s) still running at exit", len(pending))
            return False
        pending[0].join(remaining)
