"""ChatServer and ChatClient over real sockets on 127.0.0.1 with free ports."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from support import EventLog, wait_until

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.net.client import ChatClient, parse_address
from ocm_core.net.server import ChatServer, ServerLimits, next_free_ports
from ocm_core.sansio import events as ev


def test_create_join_list_and_chat_both_ways_in_japanese(make_client):
    host, guest = make_client(), make_client()
    host.create_room("雑談", "アリス")
    guest.join_room("雑談", "たろう")
    assert [(r.name, r.members, r.locked, r.host) for r in make_client().list_rooms()] == [("雑談", 2, False, "アリス")]
    host_log, guest_log = EventLog(host), EventLog(guest)
    host_log.wait_for(lambda s: any(isinstance(e, ev.Notice) and e.name == "たろう" and e.kind == "joined" for e in s))
    assert (
        set(host.members) == {"アリス", "たろう"} and guest.host_name == "アリス" and not guest.is_host and host.is_host
    )

    sent_id = host.send("こんにちは 🌸")
    [message] = guest_log.wait_type(ev.ChatMessage)
    assert (message.sender, message.text, message.history) == ("アリス", "こんにちは 🌸", False)
    assert abs(message.time - time.time()) < 5
    assert host_log.wait_type(ev.MessageSent)[0].msg_id == sent_id

    guest.send("やあ")
    assert host_log.wait_type(ev.ChatMessage)[0].text == "やあ"
    assert not guest_log.of_type(ev.ChatMessage)[1:]  # our own message is not echoed back to us


@pytest.mark.parametrize(
    "setup, action, error, words",
    [
        (
            lambda c: c.create_room("taken", "a"),
            lambda c: c.create_room("taken", "b"),
            errors.RoomExists,
            "Room 'taken' already exists",
        ),
        (lambda c: None, lambda c: c.join_room("missing", "b"), errors.RoomNotFound, "no room 'missing'"),
        (lambda c: c.create_room("r", "same"), lambda c: c.join_room("r", "same"), errors.NameTaken, "'same' is taken"),
        (lambda c: None, lambda c: c.create_room("r", ""), errors.BadRequest, "empty"),
        (lambda c: None, lambda c: c.create_room("x" * 256, "a"), errors.BadRequest, "256 bytes"),
    ],
)
def test_refusals_reach_the_person_as_typed_errors(make_client, setup, action, error, words):
    setup(make_client())
    with pytest.raises(error, match=words):
        action(make_client())


def test_unreachable_server_is_a_typed_error():
    port, _ = next_free_ports("127.0.0.1", 20000, 20001)
    with pytest.raises(errors.ServerUnreachable, match="Could not reach a server at 127.0.0.1"):
        ChatClient("127.0.0.1", port, timeout=1).list_rooms()


def test_message_over_the_long_message_cap_is_refused_with_its_size(make_client):
    client = make_client()
    client.create_room("room", "alice")
    limit = client.max_message_bytes
    assert limit == p.MAX_LONG_TEXT_BYTES == 262_144  # the cap, not one datagram: longer ones go in pieces
    with pytest.raises(errors.MessageTooLong) as caught:
        client.send("a" * (limit + 1))
    assert (caught.value.size, caught.value.limit) == (limit + 1, limit)
    assert str(caught.value) == "This message is 1 character too long; shorten it or split it in two."
    kana = "あ" * (limit // 3 + 1)  # one kana over (or less): cut one character
    with pytest.raises(errors.MessageTooLong, match="^This message is 1 character too long"):
        client.send(kana)
    with pytest.raises(errors.MessageTooLong, match="^This message is 101 characters too long"):
        client.send("a" * (limit + 101))
    client.send("a" * limit)  # exactly the cap: sent


@pytest.mark.parametrize("sender", ["al", "n" * 100], ids=["full-upstream", "full-downstream"])
def test_the_longest_message_in_one_datagram_fills_it_and_a_byte_more_goes_in_pieces(make_client, sender):
    """Sealed, with a short name the sender's CHAT is the full datagram, with a long one the relayed EVENT;
    one byte more and it is sent (or relayed) in pieces, and arrives whole all the same."""
    alice, bob = make_client(), make_client()
    alice.create_room("room", sender)
    bob.join_room("room", "bob")
    bob_log = EventLog(bob)
    limit = p.max_chat_text_bytes(len(b"room"), len(alice._token), len(sender))
    text = "あ" * (limit // 3) + "x" * (limit % 3)
    assert len(text.encode()) == limit
    up = len(p.encode_datagram(b"room", alice._token, p.encode_chat(1, text))) + p.SEAL_OVERHEAD
    down = (
        len(p.encode_datagram(b"room", b"", p.encode_event(p.Event(1, 1, p.EventType.CHAT, sender, text))))
        + p.SEAL_OVERHEAD
    )
    assert max(up, down) == p.MAX_DATAGRAM
    alice.send(text)
    alice.send(text + "x")
    messages = bob_log.wait_type(ev.ChatMessage, 2)
    assert [(m.sender, m.text) for m in messages] == [(sender, text), (sender, text + "x")]


def test_host_leaving_closes_the_room_for_everyone(make_client, server):
    host, guest = make_client(), make_client()
    host.create_room("room", "host")
    guest.join_room("room", "guest")
    guest_log = EventLog(guest)
    host.leave()
    [closed] = guest_log.wait_type(ev.RoomClosed)
    assert closed.reason == "The host closed the room."
    assert guest.closed and server.registry.room_names() == []
    with pytest.raises(errors.NotConnected):
        guest.send("anyone?")


def test_member_leaving_is_announced_and_the_member_list_shrinks(make_client):
    host, guest = make_client(), make_client()
    host.create_room("room", "host")
    guest.join_room("room", "guest")
    host_log = EventLog(host)
    started = time.monotonic()
    guest.leave()
    assert time.monotonic() - started < 1.0
    host_log.wait_for(lambda s: any(isinstance(e, ev.Notice) and e.kind == "left" and e.name == "guest" for e in s))
    host_log.wait_for(lambda s: any(isinstance(e, ev.MembersChanged) and e.members == ("host",) for e in s))


def test_silent_member_is_removed_after_the_timeout():
    with ChatServer("127.0.0.1", 0, 0, member_timeout=0.5) as server:
        host = ChatClient("127.0.0.1", server.tcp_address[1], heartbeat_interval=0.1)
        host.create_room("room", "host")
        guest = ChatClient("127.0.0.1", server.tcp_address[1], heartbeat_interval=0.1)
        guest.join_room("room", "guest")
        guest._stop.set()  # the guest's threads stop: it goes silent without leaving
        log = EventLog(host)
        log.wait_for(
            lambda s: any(isinstance(e, ev.Notice) and e.kind == "timed_out" and e.name == "guest" for e in s),
            timeout=5,
        )
        host.leave()


def test_late_joiner_gets_recent_history_marked_as_history(make_client):
    host = make_client()
    host.create_room("room", "host")
    for i in range(3):
        host.send(f"earlier {i}")
    EventLog(host).wait_type(ev.MessageSent, 3)
    late = make_client()
    late.join_room("room", "late")
    history = EventLog(late).wait_type(ev.ChatMessage, 3)
    assert [(m.text, m.history) for m in history] == [(f"earlier {i}", True) for i in range(3)]


def test_fifty_parallel_joins_get_distinct_tokens_and_see_each_other(make_client, server):
    host = make_client()
    host.create_room("big", "host")
    clients = [make_client() for _ in range(49)]
    failures = []

    def join(index):
        try:
            clients[index].join_room("big", f"member{index:02d}")
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=join, args=(i,)) for i in range(49)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    everyone = [host] + clients
    assert len({c._token for c in everyone}) == 50
    # Each member's list holds the other 49. 2,500 member-list datagrams in a burst can
    # overflow a socket buffer on a loaded machine; the lost ones come back by the
    # acknowledgement/heartbeat repair (seconds), so the bound is generous, not the speed.
    for client in everyone:
        wait_until(
            lambda client=client: len(client.members) == 50, timeout=30, what=f"{client.username} to see 50 members"
        )
    assert server.registry.members("big") == sorted(c.username for c in everyone)


def test_stop_returns_within_a_second_and_frees_both_ports():
    server = ChatServer("127.0.0.1", 0, 0)
    server.start()
    tcp_port, udp_port = server.tcp_address[1], server.udp_address[1]
    client = ChatClient("127.0.0.1", tcp_port)
    client.create_room("room", "host")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    assert EventLog(client).wait_type(ev.RoomClosed)[0].reason == "The server stopped."
    again = ChatServer("127.0.0.1", tcp_port, udp_port)
    again.start()
    again.stop()


def test_ports_in_use_are_reported_and_the_next_free_ones_offered(server):
    tcp_port, udp_port = server.tcp_address[1], server.udp_address[1]
    with pytest.raises(errors.PortInUse, match=f"TCP port {tcp_port} is already in use"):
        ChatServer("127.0.0.1", tcp_port, 0).start()
    with pytest.raises(errors.PortInUse, match=f"UDP port {udp_port} is already in use"):
        ChatServer("127.0.0.1", 0, udp_port).start()
    free_tcp, free_udp = next_free_ports("127.0.0.1", tcp_port, udp_port)
    assert (free_tcp, free_udp) != (tcp_port, udp_port)
    with ChatServer("127.0.0.1", free_tcp, free_udp) as other:
        assert other.tcp_address[1] == free_tcp


def test_parse_address():
    assert parse_address("192.168.1.20") == ("192.168.1.20", 9090)
    assert parse_address(" host.lan:7000 ") == ("host.lan", 7000)
    assert parse_address("[::1]:9000") == ("::1", 9000)
    for bad, words in (
        ("", "Enter the server"),
        ("host:port", "not a port"),
        ("host:70000", "not a port"),
        ("a b", "not a server address"),
    ):
        with pytest.raises(ValueError, match=words):
            parse_address(bad)


# --- a client written from the assignment's framing alone --------------------------------


def _assignment_request(port: int, operation: int, room: str, username: str) -> tuple[int, bytes]:
    """Send a TCRP request with a bare-username payload; return (status, token)."""
    room_bytes, payload = room.encode(), username.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(bytes([len(room_bytes), operation, 0]) + len(payload).to_bytes(29, "big") + room_bytes + payload)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    first = p.decode_tcrp(data[: 32 + data[0] + int.from_bytes(data[3:32], "big")])
    assert first.state == 1
    status = first.payload[0]
    rest = data[32 + data[0] + int.from_bytes(data[3:32], "big") :]
    token = p.decode_tcrp(rest).payload if rest else b""
    return status, token


def test_an_assignment_client_is_refused_in_words_by_a_server_without_allow_plain(server):
    status, token = _assignment_request(server.tcp_address[1], 1, "classic", "ホスト")
    assert (status, token) == (p.Status.ENCRYPTION_REQUIRED, b"")
    assert server.registry.room_names() == []


def test_an_assignment_client_with_bare_usernames_creates_joins_and_chats(plain_server):
    server = plain_server
    port, udp_port = server.tcp_address[1], server.udp_address[1]
    status, host_token = _assignment_request(port, 1, "classic", "ホスト")
    assert status == 0 and len(host_token) >= 22
    status, guest_token = _assignment_request(port, 2, "classic", "guest")
    assert status == 0 and guest_token != host_token

    def udp_for(token):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(5)
        sock.sendto(bytes([7, len(token)]) + b"classic" + token + "来たよ".encode(), ("127.0.0.1", udp_port))
        return sock

    guest = udp_for(guest_token)  # registers the guest's address with its first message
    host = udp_for(host_token)
    data = guest.recv(4096)
    assert data.endswith("ホスト: 来たよ".encode())  # the host's first line, relayed as text
    assert data[:2] == bytes([7, 0]) and data[2:9] == b"classic"
    status, _ = _assignment_request(port, 1, "classic", "again")
    assert status == p.Status.ROOM_EXISTS
    guest.close()
    host.close()


# --- bad input over TCP and UDP ------------------------------------------------------------


def _raw_tcp(port: int, data: bytes, *, wait_close: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait_close) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        return received


def test_oversize_payload_claim_gets_bad_request_without_reading_it(server):
    header = bytes([4, 1, 0]) + (10**12).to_bytes(29, "big")
    answer = p.decode_tcrp(_raw_tcp(server.tcp_address[1], header + b"room"), allow_empty_room=True)
    status, detail = p.decode_status(answer.payload)
    assert status is p.Status.BAD_REQUEST and "over the 65536-byte limit" in detail


@pytest.mark.parametrize(
    "garbage, words",
    [
        (bytes([4, 99, 0]) + bytes(29) + b"room", "unknown operation"),
        (bytes([4, 1, 2]) + bytes(29) + b"room", "state 0"),
        (bytes([4, 1, 0]) + (2).to_bytes(29, "big") + b"room\xff\xfe", "not valid UTF-8"),
    ],
)
def test_malformed_requests_get_a_bad_request_status(plain_server, garbage, words):
    # A plain server reads the payload; without --allow-plain its refusal comes first.
    answer = p.decode_tcrp(_raw_tcp(plain_server.tcp_address[1], garbage), allow_empty_room=True)
    status, detail = p.decode_status(answer.payload)
    assert status is p.Status.BAD_REQUEST and words in detail


def test_half_a_header_is_cut_off_after_the_timeout_and_others_are_served():
    server = ChatServer("127.0.0.1", 0, 0, server_limits=ServerLimits(request_timeout=0.5))
    server.start()
    try:
        stalled = socket.create_connection(server.tcp_address, timeout=5)
        stalled.sendall(b"\x04\x01")
        ChatClient("127.0.0.1", server.tcp_address[1]).list_rooms()  # served meanwhile
        started = time.monotonic()
        assert stalled.recv(10) == b""  # the server closed it
        assert time.monotonic() - started < 3
        assert server.stats["tcp timeouts"] == 1
        stalled.close()
    finally:
        server.stop()


def test_peer_vanishing_mid_request_costs_nothing(server, make_client):
    for _ in range(20):
        sock = socket.create_connection(server.tcp_address)
        sock.sendall(bytes([4, 1, 0]) + (5).to_bytes(29, "big") + b"ro")
        sock.close()
    wait_until(lambda: server._open_total == 0, what="the server to release vanished connections")
    make_client().create_room("still", "works")


def test_malformed_and_forged_datagrams_are_dropped_and_chat_goes_on(make_client, server):
    host, guest = make_client(), make_client()
    host.create_room("room", "host")
    guest.join_room("room", "guest")
    udp = server.udp_address
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for data in (
        b"",
        b"\x01",
        bytes([200, 3]) + b"abc",
        b"x" * 5000,
        p.encode_datagram(b"room", b"forged", p.encode_chat(1, "evil")),
        p.encode_datagram(b"room", host._token, b"\xff\x01\x02"),
    ):
        junk.sendto(data, udp)
    junk.close()
    wait_until(lambda: sum(server.registry.dropped.values()) >= 5, what="drops to be counted")
    host.send("after the junk")
    guest_log = EventLog(guest)
    assert [m.text for m in guest_log.wait_type(ev.ChatMessage)] == ["after the junk"]
    assert server.registry.dropped["unknown token"] == 1
    assert set(server.registry.dropped) == {
        "malformed datagram",
        "unknown token",
        "datagram does not open",
    }  # fixed categories: junk cannot grow them


def test_history_from_an_earlier_member_with_my_name_is_shown(make_client):
    host, first = make_client(), make_client()
    host.create_room("room", "host")
    first.join_room("room", "bob")
    first.send("I was here first")
    EventLog(first).wait_type(ev.MessageSent)
    first.leave()
    second = make_client()
    second.join_room("room", "bob")
    [line] = EventLog(second).wait_type(ev.ChatMessage)
    assert (line.sender, line.text, line.history) == ("bob", "I was here first", True)


def test_a_client_knows_whether_its_room_is_locked(make_client):
    host, guest, open_host = make_client(), make_client(), make_client()
    assert not host.locked
    host.create_room("club", "host", "sesame")
    guest.join_room("club", "guest", "sesame")
    open_host.create_room("open", "anyone")
    assert host.locked and guest.locked and not open_host.locked
    assert (host.password, guest.password, open_host.password) == ("sesame", "sesame", None)  # for a Rejoin
