"""Shared fixtures: a real ChatServer on 127.0.0.1 with free ports, and event waiting with deadlines."""

from __future__ import annotations

import queue
import time

import pytest

from ocm_core.client import ChatClient
from ocm_core.server import ChatServer


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
        return self.wait_for(lambda seen: (found := [e for e in seen if isinstance(e, kind)]) and len(found) >= count and found,
                             timeout, f"{count} x {kind.__name__}")


def wait_until(condition, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
    return result


@pytest.fixture
def server():
    srv = ChatServer("127.0.0.1", 0, 0)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def make_client(server):
    clients: list[ChatClient] = []

    def make(**kwargs) -> ChatClient:
        client = ChatClient("127.0.0.1", server.tcp_address[1], **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.leave()
