"""Shared fixtures: a real ChatServer on 127.0.0.1 with free ports, and event waiting with deadlines."""

from __future__ import annotations

import pytest

from ocm_core import i18n
from ocm_core.client import ChatClient
from ocm_core.server import ChatServer


@pytest.fixture(autouse=True)
def english():
    """Tests read the source language unless they choose another (tests/test_i18n.py does),
    whatever the machine's LANG says; the language is put back after each test."""
    i18n.use_language("en")
    yield
    i18n.use_language("en")


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
