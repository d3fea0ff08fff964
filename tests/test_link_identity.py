"""Joining by an invite link is an introduction: the server must show the identity the link
promised, an address remembered with another identity refuses the link, and what is remembered
is never replaced on a link's word. Real servers on free ports, a known-servers file of the
test's own."""

from __future__ import annotations

import pytest
from support import EventLog

from ocm_core.crypto.identity import (
    IdentityChanged,
    KnownServers,
    LinkContradictsRemembered,
    LinkIdentityMismatch,
    LinkIdentityRefused,
    ServerIdentity,
)
from ocm_core.net.client import ChatClient
from ocm_core.net.request import ServerLink
from ocm_core.net.server import ChatServer
from ocm_core.sansio import events as ev
from ocm_core.wire import InviteLink, parse_link

SOMEONE_ELSE = "AAAA-BBBB-CCCC-DDDD-EEEE"


@pytest.fixture
def hosted(tmp_path):
    """A server with an identity of its own, and its host in room 雑談 (trusting from its own file)."""
    with ChatServer("127.0.0.1", 0, 0, identity=ServerIdentity.generate()) as server:
        host = ChatClient("127.0.0.1", server.tcp_address[1], known_servers=KnownServers(tmp_path / "host.json"))
        host.create_room("雑談", "アリス")
        yield server, host
        host.leave()


def guest_by_link(server: ChatServer, known: KnownServers, fingerprint: str, **kwargs) -> ChatClient:
    link = parse_link(InviteLink("127.0.0.1", server.tcp_address[1], "雑談", fingerprint).text)
    return ChatClient(link.host, link.port, known_servers=known, expected_fingerprint=link.fingerprint, **kwargs)


def test_a_link_with_the_servers_identity_joins_chats_and_is_remembered(hosted, tmp_path):
    server, host = hosted
    known = KnownServers(tmp_path / "known.json")
    guest = guest_by_link(server, known, server.fingerprint.lower())
    try:
        guest.join_room("雑談", "たろう")
        assert guest.server_fingerprint == server.fingerprint
        assert known.get(f"127.0.0.1:{server.tcp_address[1]}") == server.fingerprint
        host.send("ようこそ")
        said = EventLog(guest).wait_type(ev.ChatMessage)[0]
        assert (said.sender, said.text) == ("アリス", "ようこそ")
    finally:
        guest.leave()
    again = guest_by_link(server, known, server.fingerprint)  # remembered as the link said: welcome again
    assert [room.name for room in again.list_rooms()] == ["雑談"]


@pytest.mark.parametrize("trust_changed_identity", [False, True])
def test_a_link_whose_identity_is_not_the_servers_is_refused_and_nothing_is_remembered(
    hosted, tmp_path, trust_changed_identity
):
    server, _host = hosted
    path = tmp_path / "known.json"
    known = KnownServers(path)
    known.check("192.0.2.1:9090", SOMEONE_ELSE)  # another server, remembered before
    before = path.read_bytes()
    guest = guest_by_link(server, known, SOMEONE_ELSE, trust_changed_identity=trust_changed_identity)
    with pytest.raises(LinkIdentityMismatch) as refused:
        guest.join_room("雑談", "たろう")
    where = f"127.0.0.1:{server.tcp_address[1]}"
    assert str(refused.value) == (
        f"The server at {where} does not have the identity the invite link promised (it shows "
        f"{server.fingerprint}, the link says {SOMEONE_ELSE}); someone may be pretending to be it, "
        "so check the link with its host."
    )
    assert (refused.value.address, refused.value.promised, refused.value.found) == (
        where,
        SOMEONE_ELSE,
        server.fingerprint,
    )
    assert path.read_bytes() == before and known.get(where) is None
    assert server.registry.members("雑談") == ["アリス"]  # nothing was asked of the server


@pytest.mark.parametrize("trust_changed_identity", [False, True])
def test_an_address_remembered_with_another_identity_refuses_the_link_and_keeps_it(
    hosted, tmp_path, trust_changed_identity
):
    server, _host = hosted
    where = f"127.0.0.1:{server.tcp_address[1]}"
    path = tmp_path / "known.json"
    known = KnownServers(path)
    known.check(where, SOMEONE_ELSE)  # an earlier server on this port
    before = path.read_bytes()
    guest = guest_by_link(server, known, server.fingerprint, trust_changed_identity=trust_changed_identity)
    with pytest.raises(LinkContradictsRemembered) as refused:
        guest.join_room("雑談", "たろう")
    assert str(refused.value) == (
        f"The invite link does not match the identity remembered for {where} (the link says "
        f"{server.fingerprint}, remembered {SOMEONE_ELSE}); ask its host which one is right before joining."
    )
    assert isinstance(refused.value, LinkIdentityRefused) and not isinstance(refused.value, IdentityChanged)
    assert path.read_bytes() == before and known.get(where) == SOMEONE_ELSE
    assert server.registry.members("雑談") == ["アリス"]


def test_a_stale_link_to_a_server_remembered_as_it_is_is_refused_too(hosted, tmp_path):
    server, _host = hosted
    where = f"127.0.0.1:{server.tcp_address[1]}"
    known = KnownServers(tmp_path / "known.json")
    assert ChatClient("127.0.0.1", server.tcp_address[1], known_servers=known).list_rooms()  # first use
    with pytest.raises(LinkContradictsRemembered):
        guest_by_link(server, known, SOMEONE_ELSE).list_rooms()
    assert known.get(where) == server.fingerprint


def test_without_a_link_the_remembered_identity_is_checked_as_before(hosted, tmp_path):
    server, _host = hosted
    where = f"127.0.0.1:{server.tcp_address[1]}"
    known = KnownServers(tmp_path / "known.json")
    known.check(where, SOMEONE_ELSE)
    with pytest.raises(IdentityChanged):
        ChatClient("127.0.0.1", server.tcp_address[1], known_servers=known).list_rooms()
    confirmed = ChatClient("127.0.0.1", server.tcp_address[1], known_servers=known, trust_changed_identity=True)
    assert confirmed.list_rooms()
    assert known.get(where) == server.fingerprint


def test_a_plain_connection_cannot_stand_behind_a_links_identity(tmp_path):
    with pytest.raises(ValueError):
        known = KnownServers(tmp_path / "k.json")
        ServerLink("127.0.0.1", 9090, timeout=1.0, known_servers=known, plain=True, expected_fingerprint=SOMEONE_ELSE)
    with pytest.raises(ValueError):
        ChatClient("127.0.0.1", 9090, plain=True, expected_fingerprint=SOMEONE_ELSE)
