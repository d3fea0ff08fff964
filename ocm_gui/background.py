"""Run blocking network calls off the Tk thread and hand the result back to it.

``run_in_thread(widget, func, on_done)`` calls ``func()`` in a worker thread; when it
finishes, ``on_done(result, error)`` runs on the Tk thread: the worker puts a ``TaskDone``
in the app's inbox (ocm_gui/inbox.py) and holds nothing else, so it never touches a widget
and never keeps a window alive. Threads are remembered so the app can wait for unfinished
ones (a leave, a server stop) before exiting.
"""

from __future__ import annotations

import itertools
import logging
import threading
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocm_gui.inbox import inbox_for

log = logging.getLogger(__name__)

_task_ids = itertools.count(1)


@dataclass(frozen=True)
class TaskDone:
    owner: int  # the task's number
    result: Any
    error: BaseException | None


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


def run_in_thread(
    widget: tk.Misc,
    func: Callable[[], Any],
    on_done: Callable[[Any, BaseException | None], None],
    name: str = "ocm-gui-task",
) -> threading.Thread:
    inbox, task = inbox_for(widget), next(_task_ids)

    def done(report: TaskDone) -> None:
        inbox.forget(task)
        on_done(report.result, report.error)

    inbox.handle(TaskDone, done, owner=task)

    def work() -> None:
        try:
            report = TaskDone(task, func(), None)
        except BaseException as exc:  # handed to on_done, which decides what a person sees
            report = TaskDone(task, None, exc)
        inbox.put(report)

    return _start(name, work)


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
