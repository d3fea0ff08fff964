"""Shared fixtures: a real ChatServer on 127.0.0.1 with free ports, and event waiting with deadlines."""

from __future__ import annotations

import pytest

from ocm_core.client import ChatClient
from ocm_core.server import ChatServer


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
