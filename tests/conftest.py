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


@pytest.fixture(autouse=True)
def private_user_dirs(tmp_path_factory, monkeypatch):
    """Each test keeps server identities and trusted keys in directories of its own: a port
    reused by another test's server must not look like a changed identity."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    return base


@pytest.fixture
def server():
    srv = ChatServer("127.0.0.1", 0, 0)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def plain_server():
    """A server started as `ocm-server --allow-plain`: it also admits unencrypted clients."""
    srv = ChatServer("127.0.0.1", 0, 0, allow_plain=True)
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
