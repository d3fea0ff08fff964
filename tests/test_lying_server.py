"""A server that lies to the client: real TLS with a real identity, then answers the
client's request with bytes we choose. The client must refuse what it is told without
believing it: no allocation of an announced gigabyte, no wait for bytes that never come."""

from __future__ import annotations

import time

import pytest
from liar import liar  # a fixture, used by name

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.net.client import ChatClient
from ocm_core.wire import Operation, State, Status

pytestmark = pytest.mark.mutation_run  # one stub or server per test, up in milliseconds


def announced(size: int, state: State = State.RESPONSE) -> bytes:
    """A TCRP header that announces `size` bytes of payload (none of which follow)."""
    return bytes((0, int(Operation.CREATE), int(state))) + size.to_bytes(29, "big")


def test_an_answer_announcing_more_than_a_client_reads_is_refused_at_once(liar):
    server = liar(announced(p.MAX_RESPONSE_PAYLOAD + 1))
    client = ChatClient("127.0.0.1", server.port, timeout=5.0)
    started = time.monotonic()
    with pytest.raises(errors.RemoteProtocolError, match=f"announced an answer of {p.MAX_RESPONSE_PAYLOAD + 1} bytes"):
        client.list_rooms()
    assert time.monotonic() - started < 5.0  # refused on reading the header, not after waiting for the bytes
    assert len(server.requests) == 1


def test_a_completion_announcing_a_gigabyte_is_refused_too(liar):
    ok = p.encode_tcrp(Operation.CREATE, State.RESPONSE, "", p.encode_status(Status.OK))
    server = liar(ok + announced(1 << 30, State.COMPLETE))
    client = ChatClient("127.0.0.1", server.port, timeout=5.0)
    with pytest.raises(errors.RemoteProtocolError, match=f"announced an answer of {1 << 30} bytes"):
        client.create_room("lobby", "ana")


@pytest.mark.waits
def test_an_answer_cut_short_is_a_broken_connection_not_a_hang(liar):
    server = liar(announced(100)[:-1])  # the header itself never completes
    client = ChatClient("127.0.0.1", server.port, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(errors.ServerUnreachable, match="did not answer in 1 s"):
        client.list_rooms()
    assert time.monotonic() - started < 4.0
