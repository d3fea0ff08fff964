"""Waiting helpers for tests: collect a client's events and wait on conditions with deadlines."""

from __future__ import annotations

import queue
import time

from ocm_core.net.client import ChatClient


class EventLog:
    """Collects a client's events and waits, with a deadline, until a condition holds."""

    def __init__(self, client: ChatClient):
        self.client = client
        self.seen: list = []

    def pump(self) -> None:
        while True:
            try:
                self.seen.append(self.client.events.get_nowait())
            except queue.Empty:
                return

    def wait_for(self, condition, timeout: float = 5.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            result = condition(self.seen)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; events: {self.seen[-20:]}")
            time.sleep(0.01)

    def of_type(self, kind) -> list:
        self.pump()
        return [e for e in self.seen if isinstance(e, kind)]

    def wait_type(self, kind, count: int = 1, timeout: float = 5.0) -> list:
        return self.wait_for(
            lambda seen: (found := [e for e in seen if isinstance(e, kind)]) and len(found) >= count and found,
            timeout,
            f"{count} x {kind.__name__}",
        )


def wait_until(condition, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
    return result


class FakeClock:
    """A clock that moves only when a test moves it (`clock.now += seconds`)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
