"""Encrypted by default (issue 13): sealing, replays, identities and trust, plain dialects, the wire."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import socket
import stat
import threading
import time
from pathlib import Path

import pytest
from support import EventLog, wait_until

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.crypto.identity import (
    IdentityChanged,
    KnownServers,
    ServerIdentity,
    fingerprint,
)
from ocm_core.crypto.sealed import REPLAY_WINDOW, OpenFailed, SealedChannel, key_proof
from ocm_core.crypto.tls import client_tls_context
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer
from ocm_core.sansio import events as ev
from ocm_core.wire import Operation, State

KEY = bytes(range(32))
HEADER = p.datagram_header("部屋".encode(), b"T" * 22)


def pair(epoch: int = 7) -> tuple[SealedChannel, SealedChannel]:
    return SealedChannel.for_client(KEY), SealedChannel.for_server(KEY, epoch)


def open_datagram(channel: SealedChannel, data: bytes) -> bytes:
    datagram = p.decode_datagram(data)
    return channel.open(data[: len(data) - len(datagram.body)], datagram.body)


# --- sealing -------------------------------------------------------------------------------


def test_seal_and_open_round_trip_both_ways_and_the_header_stays_readable():
    client, server = pair()
    body = p.encode_chat(1, "こんにちは, world")
    up = client.seal(HEADER, body)
    assert up.startswith(HEADER) and body not in up and len(up) == len(HEADER) + len(body) + p.SEAL_OVERHEAD
    assert open_datagram(server, up) == body
    down = server.seal(p.datagram_header("部屋".encode(), b""), p.encode_status_frame(5))
    assert p.decode_body(open_datagram(client, down)) == p.StatusFrame(5)


def test_a_direction_key_does_not_open_the_other_direction():
    client, server = pair()
    with pytest.raises(OpenFailed):
        open_datagram(client, client.seal(HEADER, b"\xff\x01\x01" + bytes(4)))  # its own datagram reflected back
    other = SealedChannel.for_server(bytes(32), 7)
    with pytest.raises(OpenFailed):
        open_datagram(other, client.seal(HEADER, b"hello"))


def test_any_bit_flipped_anywhere_in_a_sealed_datagram_is_refused():
    client, server = pair()
    data = client.seal(HEADER, p.encode_chat(3, "attack at dawn"))
    assert open_datagram(SealedChannel.for_server(KEY, 7), data)  # the untouched one opens
    refused = 0
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises((OpenFailed, p.ProtocolError)):
            open_datagram(server, bytes(flipped))
        refused += 1
    assert refused == len(data) * 8
    assert open_datagram(server, data)  # and the window did not move for any of them


def test_nonces_never_repeat_for_a_key_and_a_restarted_server_starts_above(tmp_path):
    client, _ = pair()
    nonces = [p.split_sealed(p.decode_datagram(client.seal(HEADER, b"x")).body)[0] for _ in range(10_000)]
    assert len(set(nonces)) == len(nonces)
    assert [int.from_bytes(n, "big") for n in nonces] == sorted(int.from_bytes(n, "big") for n in nonces)
    identity = ServerIdentity.load_or_create(tmp_path)
    boots = [identity.next_boot() for _ in range(3)]
    assert boots == sorted(boots) and len(set(boots)) == 3
    before = SealedChannel.for_server(KEY, boots[0]).seal(HEADER, b"a")
    after = SealedChannel.for_server(KEY, boots[1]).seal(HEADER, b"a")
    assert p.split_sealed(p.decode_datagram(before).body)[0] < p.split_sealed(p.decode_datagram(after).body)[0]


def test_a_replayed_datagram_is_refused_late_ones_within_the_window_are_not():
    client, server = pair()
    datagrams = [client.seal(HEADER, f"line {i}".encode()) for i in range(REPLAY_WINDOW + 10)]
    assert open_datagram(server, datagrams[5]) == b"line 5"
    with pytest.raises(OpenFailed, match="replayed"):
        open_datagram(server, datagrams[5])
    assert open_datagram(server, datagrams[2]) == b"line 2"  # late, but within the window
    assert open_datagram(server, datagrams[-1])
    with pytest.raises(OpenFailed, match="replayed or too old"):
        open_datagram(server, datagrams[3])  # now older than the window


def test_the_replay_window_holds_at_its_exact_edge_and_a_late_datagram_opens_once():
    client, server = pair()
    datagrams = [client.seal(HEADER, f"line {i}".encode()) for i in range(3 * REPLAY_WINDOW)]
    newest = REPLAY_WINDOW + 20  # counters start at 1: datagrams[i] is position i + 1
    assert open_datagram(server, datagrams[newest - 1])
    with pytest.raises(OpenFailed, match="replayed or too old"):
        open_datagram(server, datagrams[newest - REPLAY_WINDOW - 1])  # exactly one window behind
    oldest_late = datagrams[newest - REPLAY_WINDOW]  # one position less behind: the last it remembers
    assert open_datagram(server, oldest_late) == f"line {newest - REPLAY_WINDOW}".encode()
    with pytest.raises(OpenFailed, match="replayed"):
        open_datagram(server, oldest_late)  # a late datagram, once opened, is seen like any other
    late = datagrams[newest - 2]
    assert open_datagram(server, late)
    # the window moves on by less than its width: what it saw is still refused, what it did not still opens
    assert open_datagram(server, datagrams[newest + 99])
    with pytest.raises(OpenFailed):
        open_datagram(server, late)
    with pytest.raises(OpenFailed):
        open_datagram(server, datagrams[newest - 1])
    assert open_datagram(server, datagrams[newest])
    # and by more than its width: everything before is too old, a gap after it still opens
    assert open_datagram(server, datagrams[newest + 100 + REPLAY_WINDOW])
    with pytest.raises(OpenFailed):
        open_datagram(server, datagrams[newest + 99])
    assert open_datagram(server, datagrams[newest + 101])
    with pytest.raises(OpenFailed):
        open_datagram(server, datagrams[newest + 101])


def test_a_window_taken_up_after_a_restart_refuses_everything_up_to_where_it_stopped():
    client, _ = pair()
    datagrams = [client.seal(HEADER, f"line {i}".encode()) for i in range(40)]
    restarted = SealedChannel.for_server(KEY, 8)
    restarted.window.resume_after(30)  # the store said: position 30 was the newest opened
    for index in (0, 15, 29):
        with pytest.raises(OpenFailed, match="replayed or too old"):
            open_datagram(restarted, datagrams[index])
    assert open_datagram(restarted, datagrams[30]) == b"line 30"  # position 31
    restarted.window.resume_after(10)  # a lower position changes nothing
    with pytest.raises(OpenFailed):
        open_datagram(restarted, datagrams[30])
    assert open_datagram(restarted, datagrams[35]) == b"line 35"


def test_a_sealed_datagram_that_would_overflow_is_refused_before_sending():
    client, _ = pair()
    with pytest.raises(p.ProtocolError):
        client.seal(HEADER, b"x" * (p.MAX_DATAGRAM - len(HEADER) - p.SEAL_OVERHEAD + 1))
    assert len(client.seal(HEADER, b"x" * (p.MAX_DATAGRAM - len(HEADER) - p.SEAL_OVERHEAD))) == p.MAX_DATAGRAM


# --- telling TLS from TCRP -------------------------------------------------------------------


def test_a_tls_hello_and_a_tcrp_request_are_told_apart_by_three_bytes():
    incoming, outgoing = __import__("ssl").MemoryBIO(), __import__("ssl").MemoryBIO()
    tls = client_tls_context().wrap_bio(incoming, outgoing)
    with pytest.raises(__import__("ssl").SSLWantReadError):  # the hello is out; the answer is awaited
        tls.do_handshake()
    hello = outgoing.read()
    assert p.looks_like_tls(hello[:3])
    # The closest TCRP gets: a 22-byte room name (0x16) and operation 3 (0x03), but state 0.
    tricky = p.encode_tcrp(Operation.LIST, State.REQUEST, "r" * 22)
    assert tricky[:2] == b"\x16\x03" and not p.looks_like_tls(tricky[:3])
    assert not p.looks_like_tls(p.encode_tcrp(Operation.CREATE, State.REQUEST, "room", b"{}")[:3])


# --- identity, fingerprint, trust on first use -----------------------------------------------


def test_the_identity_is_kept_private_and_stable(tmp_path):
    first = ServerIdentity.load_or_create(tmp_path)
    path = tmp_path / "server-identity.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ServerIdentity.load_or_create(tmp_path).fingerprint == first.fingerprint
    os.chmod(path, 0o644)  # someone loosened it: it is made private again
    ServerIdentity.load_or_create(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){4}", first.fingerprint)
    assert fingerprint(first.public_bytes) == first.fingerprint != ServerIdentity.generate().fingerprint


def test_on_windows_the_identity_lives_in_the_user_profile_without_mode_bits(tmp_path, monkeypatch):
    import platformdirs.windows

    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(variable)
    known = {"CSIDL_LOCAL_APPDATA": tmp_path / "Local", "CSIDL_APPDATA": tmp_path / "Roaming"}
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda csidl: str(known[csidl]))
    chmods = []
    monkeypatch.setattr(os, "chmod", lambda *args: chmods.append(args))
    identity = ServerIdentity.load_or_create(platform="win32")
    assert (tmp_path / "Local" / "online-chat-messenger" / "server-identity.pem").is_file()
    identity.next_boot(platform="win32")
    trusted = KnownServers(platform="win32")
    trusted.check("h:1", identity.fingerprint)
    assert trusted.path == tmp_path / "Roaming" / "online-chat-messenger" / "known-servers.json"
    assert chmods == []  # no POSIX mode bits on that branch: the profile's access list protects it


def test_a_changed_server_identity_is_refused_then_trusted_on_confirmation(tmp_path):
    known = KnownServers(tmp_path / "known.json")
    with ChatServer("127.0.0.1", 0, 0, identity=ServerIdentity.generate()) as first:
        port = first.tcp_address[1]
        client = ChatClient("127.0.0.1", port, known_servers=known)
        assert client.list_rooms() == []
        assert client.server_fingerprint == first.fingerprint
        assert known.get(f"127.0.0.1:{port}") == first.fingerprint
    impostor = ChatServer("127.0.0.1", port, 0, identity=ServerIdentity.generate())
    with impostor:
        with pytest.raises(IdentityChanged) as refused:
            ChatClient("127.0.0.1", port, known_servers=known).create_room("room", "alice")
        assert refused.value.trusted == first.fingerprint and refused.value.presented == impostor.fingerprint
        assert "different identity" in str(refused.value) and impostor.registry.room_names() == []
        confirmed = ChatClient("127.0.0.1", port, known_servers=known, trust_changed_identity=True)
        confirmed.create_room("room", "alice")
        assert known.get(f"127.0.0.1:{port}") == impostor.fingerprint
        assert ChatClient("127.0.0.1", port, known_servers=known).list_rooms()[0].name == "room"  # trusted now
        confirmed.leave()


def test_the_apps_own_server_is_trusted_over_a_remembered_key_and_nothing_else_is(tmp_path):
    known = KnownServers(tmp_path / "known.json")
    with ChatServer("127.0.0.1", 0, 0, identity=ServerIdentity.generate()) as own:
        where = f"127.0.0.1:{own.tcp_address[1]}"
        known.check(where, "AAAA-BBBB-CCCC-DDDD-EEEE")  # an earlier server on this port
        stranger = ChatClient("127.0.0.1", own.tcp_address[1], known_servers=known)
        stranger.own_server_identity = ServerIdentity.generate().fingerprint  # not the key listening here
        with pytest.raises(IdentityChanged):
            stranger.list_rooms()
        assert known.get(where) == "AAAA-BBBB-CCCC-DDDD-EEEE"
        host = ChatClient("127.0.0.1", own.tcp_address[1], known_servers=known)
        host.own_server_identity = own.fingerprint
        assert host.list_rooms() == []
        assert known.get(where) == own.fingerprint


# --- the server's side of sealing --------------------------------------------------------------


def test_a_sealed_member_needs_its_key_to_fetch_the_room_and_its_old_key_dies_when_it_leaves(server, make_client):
    host, guest = make_client(), make_client()
    host.create_room("keys", "host")
    guest.join_room("keys", "guest")
    channel, token = guest._session._channel, guest._token  # its own channel: the counter runs on
    # SYNC with the token alone (as seen on the LAN) is refused; with the proof it works.
    bare = p.RoomRequest("", token=token.decode())
    with pytest.raises(errors.NotConnected):
        ChatClient("127.0.0.1", server.tcp_address[1]).link.request(Operation.SYNC, "keys", p.encode_request(bare))
    assert guest._sync().members == ("guest", "host")
    host_log = EventLog(host)
    guest.leave()
    host_log.wait_for(lambda s: any(isinstance(e, ev.Notice) and e.kind == "left" for e in s), what="the guest's leave")
    before = server.registry.dropped["unknown token"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(channel.seal(p.datagram_header(b"keys", token), p.encode_chat(99, "old key")), server.udp_address)
        wait_until(lambda: server.registry.dropped["unknown token"] == before + 1, what="the old key to be refused")
    host.send("marker")
    EventLog(host).wait_type(ev.MessageSent)
    assert not [e for e in host_log.of_type(ev.ChatMessage) if e.text == "old key"]


def test_a_datagram_sealed_under_another_key_is_dropped_counted_and_never_relayed(server, make_client):
    host, guest = make_client(), make_client()
    host.create_room("forge", "host")
    guest.join_room("forge", "guest")
    forger = SealedChannel.for_client(os.urandom(32))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(50):
            sock.sendto(
                forger.seal(p.datagram_header(b"forge", guest._token), p.encode_chat(i + 1, "forged")),
                server.udp_address,
            )
        wait_until(lambda: server.registry.dropped["datagram does not open"] == 50, what="50 forgeries dropped")
    guest.send("genuine")
    assert [m.text for m in EventLog(host).wait_type(ev.ChatMessage)] == ["genuine"]


# --- plain clients: the kanaru dialect, written from its description ---------------------------


class KanaruClient:
    """The kanaru1201/online-chat-messenger client as docs/protocol.md describes its dialect."""

    def __init__(self, server: ChatServer):
        self.tcp_port, self.udp = server.tcp_address[1], server.udp_address

    def request(self, operation: int, room: str, username: str):
        room_bytes, payload = room.encode(), json.dumps(username).encode()
        with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=5) as sock:
            sock.sendall(
                bytes([len(room_bytes), operation, 0]) + len(payload).to_bytes(29, "big") + room_bytes + payload
            )
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        messages = []
        while data:
            end = 32 + data[0] + int.from_bytes(data[3:32], "big")
            messages.append(json.loads(data[32 + data[0] : end]))
            data = data[end:]
        return messages  # [{"success": ...}, {"token": ...}]

    def start_chat(self, room: str, token: str) -> None:
        self.room, self.token = room.encode(), token.encode()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(5)
        self.send("__REGISTER__")

    def send(self, text: str) -> None:
        self.sock.sendto(bytes([len(self.room), len(self.token)]) + self.room + self.token + text.encode(), self.udp)

    def receive(self) -> tuple[str, str] | str:
        data = self.sock.recv(4096)
        if data == b"__ROOM_CLOSED__":
            return "__ROOM_CLOSED__"
        return data[1 : 1 + data[0]].decode(), data[1 + data[0] :].decode()


def test_the_kanaru_client_is_refused_in_its_own_words_without_allow_plain(server):
    [answer] = KanaruClient(server).request(1, "plain room", "kanaru")
    assert answer["success"] is False and "--allow-plain" in answer["error"]
    assert server.registry.room_names() == []


def test_the_kanaru_client_joins_chats_leaves_and_sees_the_room_close_with_allow_plain(plain_server):
    server = plain_server
    host = ChatClient("127.0.0.1", server.tcp_address[1])
    host.create_room("mixed", "host")
    host_log = EventLog(host)
    kanaru = KanaruClient(server)
    status, grant = kanaru.request(2, "mixed", "かなる")
    assert status == {"success": True} and len(grant["token"]) >= 22
    kanaru.start_chat("mixed", grant["token"])
    host_log.wait_for(
        lambda s: any(isinstance(e, ev.MembersChanged) and "かなる" in e.plain for e in s),
        what="the plain member's mark",
    )
    wait_until(lambda: server.registry._tokens[grant["token"].encode()].address is not None, what="the __REGISTER__")
    host.send("ようこそ")
    assert kanaru.receive() == ("host", "ようこそ")
    kanaru.send("ありがとう")
    assert [(m.sender, m.text) for m in host_log.wait_type(ev.ChatMessage)] == [("かなる", "ありがとう")]
    second = KanaruClient(server)
    _, other = second.request(2, "mixed", "two")
    second.start_chat("mixed", other["token"])
    assert kanaru.receive() == ("*", "two joined")
    second.send("__LEAVE__")
    assert kanaru.receive() == ("*", "two left")
    host.leave()
    assert kanaru.receive() == "__ROOM_CLOSED__"
    kanaru.sock.close()
    second.sock.close()


# --- the wire: nothing secret in a capture ------------------------------------------------------


class LoopbackCapture:
    """Every frame on the loopback interface while it runs (a raw AF_PACKET socket: root only)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.1)
        self.frames: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.frames.append(self.sock.recv(70000))
            except TimeoutError:
                continue

    def stop(self) -> bytes:
        time.sleep(0.2)  # let the last frames in flight reach the socket
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        return b"".join(self.frames)


def test_a_capture_of_a_locked_room_holds_no_words_names_password_or_keys(server, make_client):
    if not hasattr(socket, "AF_PACKET"):
        pytest.skip("raw packet capture is Linux-only")
    try:
        capture = LoopbackCapture()
    except PermissionError:
        pytest.skip("capturing needs root (CAP_NET_RAW)")
    secrets = {
        "password": "marmalade-sunrise-42",
        "host name": "Sakura-Host",
        "guest name": "Kenji-Guest",
        "word 1": "rendezvous-at-the-lighthouse",
        "word 2": "秘密のメッセージ",
    }
    host, guest = make_client(), make_client()
    host.create_room("lockedroom", secrets["host name"], secrets["password"])
    guest.join_room("lockedroom", secrets["guest name"], secrets["password"])
    host.send(secrets["word 1"])
    guest_log = EventLog(guest)
    guest_log.wait_type(ev.ChatMessage)
    guest.send(secrets["word 2"])
    EventLog(host).wait_type(ev.ChatMessage)
    members = host.list_rooms()
    guest.leave()
    host.leave()
    wire = capture.stop()
    assert members and b"lockedroom" in wire  # the capture saw the traffic (room names stay readable)
    guest_key_proof = base64.b64decode(guest._proof)
    for what, secret in secrets.items():
        for form in {secret.encode("utf-8"), secret.encode("utf-16-le"), json.dumps(secret).encode()}:
            assert form not in wire, f"the {what} crossed the wire readable"
    assert guest_key_proof not in wire and guest._proof.encode() not in wire
    assert key_proof(bytes(32)) not in wire


def test_the_worked_example_in_protocol_md_is_what_the_code_makes():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
    key, token = bytes(range(32)), b"Xq3v9dK2mP0aB7cR5tY1wQ"
    up = SealedChannel.for_client(key).seal(p.datagram_header(b"lobby", token), p.encode_heartbeat(0))
    down = SealedChannel.for_server(key, 3).seal(p.datagram_header(b"lobby", b""), p.encode_status_frame(0))
    assert f"{up[-23:-16].hex()} {up[-16:].hex()}" in doc
    assert f"{down[-23:-16].hex()} {down[-16:].hex()}" in doc
    assert p.encode_grant(token, key).decode() in doc
    assert base64.b64encode(key_proof(key)).decode() in doc


# --- the client's session, sealed (fake clock, no sockets) -----------------------------------


class SealedSessionPair:
    """A sealed ClientSession and the server's channel for it."""

    def __init__(self):
        from ocm_core.sansio.session import ClientSession

        key = bytes(range(32))
        self.server = SealedChannel.for_server(key, 1)
        self.session = ClientSession("room", "me", b"tok", channel=SealedChannel.for_client(key))
        self.session.apply_snapshot(p.RoomSnapshot(0, 9091, "bob", ("bob", "me"), (), ("bob",)), 1000.0)

    def sealed(self, body: bytes) -> bytes:
        return self.server.seal(p.datagram_header(b"room", b""), body)


def test_the_sealed_session_seals_what_it_sends_and_opens_only_the_servers_datagrams():
    pair = SealedSessionPair()
    session = pair.session
    assert session.plain == frozenset({"bob"})
    msg_id, [datagram] = session.send_chat("secret words", 1000.0)
    assert b"secret words" not in datagram
    assert p.decode_body(open_datagram(pair.server, datagram)) == p.Chat(msg_id, "secret words", msg_id)
    chat = pair.sealed(p.encode_event(p.Event(1, 1, p.EventType.CHAT, "bob", "hi")))
    assert [e.text for e in session.receive(chat, 1000.1).events if isinstance(e, ev.ChatMessage)] == ["hi"]
    assert session.receive(chat, 1000.2).events == [] and session.dropped == 1  # the replay
    forged = p.encode_datagram(b"room", b"", p.encode_event(p.Event(2, 1, p.EventType.CHAT, "bob", "forged")))
    assert session.receive(forged, 1000.3).events == [] and session.dropped == 2  # plain: anyone could send it
    joined = pair.sealed(p.encode_event(p.Event(2, 1, p.EventType.JOINED, "old-client", p.JOINED_PLAIN)))
    [members] = [e for e in session.receive(joined, 1000.4).events if isinstance(e, ev.MembersChanged)]
    assert members.plain == frozenset({"bob", "old-client"})


def test_a_plain_unknown_token_is_only_a_hint_checked_over_tls_at_most_every_two_seconds():
    from ocm_core.sansio.session import SessionState

    session = SealedSessionPair().session
    hint = p.encode_datagram(b"room", b"", p.encode_error_frame(p.ErrorCode.UNKNOWN_TOKEN, "the host closed the room"))
    first = session.receive(hint, 1000.0)
    assert first.fetch_snapshot and first.events == [] and session.state is not SessionState.CLOSED
    assert not session.receive(hint, 1001.0).fetch_snapshot  # a flood of them costs one check per 2 s
    assert session.receive(hint, 1002.1).fetch_snapshot
    assert session.forgotten("The host closed the room.").events == []  # what the TLS check answered ...
    assert session.tick(1002.2).resume  # ... so it asks to come back (it may only have been away too long)
    closed = session.resume_failed("room 'room' closed while you were away", room_gone=True)  # and the server says no
    assert [e.reason for e in closed.events if isinstance(e, ev.RoomClosed)] == [
        "Room 'room' closed while you were away."
    ]
    assert session.state is SessionState.CLOSED


# --- stalled and broken TLS peers ----------------------------------------------------------------


def test_stalled_and_garbled_tls_handshakes_hold_no_thread_and_others_are_served(tmp_path):
    import ssl as ssl_module

    from ocm_core.net.server import ServerLimits

    incoming, outgoing = ssl_module.MemoryBIO(), ssl_module.MemoryBIO()
    tls = client_tls_context().wrap_bio(incoming, outgoing)
    with pytest.raises(ssl_module.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    with ChatServer(
        "127.0.0.1", 0, 0, server_limits=ServerLimits(request_timeout=1.0, max_connections_per_ip=256)
    ) as server:
        threads_before = threading.active_count()
        stalled = []
        for i in range(50):  # half a ClientHello, then nothing
            sock = socket.create_connection(server.tcp_address, timeout=5)
            sock.sendall(hello[: 10 + i])
            stalled.append(sock)
        garbled = socket.create_connection(server.tcp_address, timeout=5)
        garbled.sendall(b"\x16\x03\x01\x00\x05" + b"\xff" * 5)  # a TLS record that is no handshake
        wait_until(lambda: server.stats["tls failures"] == 1, what="the garbled handshake to be refused")
        started = time.monotonic()
        client = ChatClient("127.0.0.1", server.tcp_address[1])
        client.create_room("busy", "host")  # served while 50 handshakes stall
        assert time.monotonic() - started < 1.0
        # At most the worker pool and the client's two threads came: not one per stalled peer.
        assert threading.active_count() <= threads_before + server.server_limits.workers + 2
        wait_until(
            lambda: server.stats["tcp timeouts"] == 50 and server._open_total == 0,
            timeout=5,
            what="the stalled handshakes to be cut off",
        )
        for sock in stalled + [garbled]:
            sock.close()
        client.leave()


def test_a_start_whose_number_cannot_be_written_still_gets_a_new_one(tmp_path, monkeypatch, caplog):
    """The boot number begins every nonce the server seals: on a disk that takes no write it
    comes from the clock, and the start waits into the next second so no later one repeats it."""
    from ocm_core.crypto import identity as identity_module

    identity = ServerIdentity.load_or_create(tmp_path)
    clock = [1_800_000_000.25]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    def disk_full(path, data, platform=None):
        raise OSError(28, "No space left on device")

    assert identity.next_boot(clock=lambda: clock[0], sleep=sleep) == 1_800_000_000  # written: the clock's second
    monkeypatch.setattr(identity_module, "write_private", disk_full)
    with caplog.at_level(logging.WARNING, logger="ocm_core.crypto.identity"):
        unwritten = [identity.next_boot(clock=lambda: clock[0], sleep=sleep) for _ in range(3)]
    assert unwritten == [1_800_000_001, 1_800_000_002, 1_800_000_003]  # each waited into the next second
    assert len(slept) >= 3 and int(clock[0]) == 1_800_000_004
    assert "cannot record this start" in caplog.text and "No space left on device" in caplog.text
    # A clock behind the number kept: a random number above it, never one below.
    clock[0] = 1_000_000_000.0
    behind = {identity.next_boot(clock=lambda: clock[0], sleep=sleep) for _ in range(20)}
    assert min(behind) > 1_800_000_000 and max(behind) < 1 << 32 and len(behind) == 20


# --- what mutation testing found unpinned in the identity and member keys ---------------------


def _disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_a_server_upgraded_in_place_derives_the_same_member_keys():
    """Members are taken up from the database without their keys: the server derives them
    again from its identity and their tokens. A known answer pins that derivation, so a
    version that changed it would be caught before it left every member unable to speak."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from ocm_core.crypto.sealed import MemberKeys

    identity = ServerIdentity(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    keys = MemberKeys(identity, epoch=5)
    token = b"Xq3v9dK2mP0aB7cR5tY1wQ"
    assert keys.key_for(token).hex() == "20c65f20b19d26cf331a84beb72161960be0b5e042d1e2c1cfc40270f5797f2c"
    assert keys.proof_for(token).hex() == "f290553e87722322cbc5be3ac125a009513ba7dc0919f1cbe3151a0f35de1d10"
    assert MemberKeys(ServerIdentity.generate(), 5).key_for(token) != keys.key_for(token)


def test_unwritten_starts_wait_exactly_into_the_next_second(tmp_path, monkeypatch):
    from ocm_core.crypto import identity as identity_module

    identity = ServerIdentity.load_or_create(tmp_path)
    (tmp_path / "server-boots").write_text("1800000000", encoding="ascii")
    monkeypatch.setattr(identity_module, "write_private", _disk_full)
    clock = [1_800_000_000.25]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    assert identity.next_boot(clock=lambda: clock[0], sleep=sleep) == 1_800_000_001
    assert identity.next_boot(clock=lambda: clock[0], sleep=sleep) == 1_800_000_002
    clock[0] = 1_800_000_003.5
    assert identity.next_boot(clock=lambda: clock[0], sleep=sleep) == 1_800_000_003
    assert slept == [1.75, 1.0, 0.5]


@pytest.mark.parametrize("stored_ahead, waits", [(1, True), (2, False)])
def test_a_clock_two_seconds_behind_still_waits_and_three_behind_takes_a_random_number(
    tmp_path, monkeypatch, stored_ahead, waits
):
    from ocm_core.crypto import identity as identity_module

    identity = ServerIdentity.load_or_create(tmp_path)
    now = 1_800_000_000
    (tmp_path / "server-boots").write_text(str(now + stored_ahead), encoding="ascii")
    monkeypatch.setattr(identity_module, "write_private", _disk_full)
    bounds: list[int] = []

    def highest(bound: int) -> int:
        bounds.append(bound)
        return bound - 1

    monkeypatch.setattr(identity_module.secrets, "randbelow", highest)
    clock = [now + 0.5]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    boots = identity.next_boot(clock=lambda: clock[0], sleep=sleep)
    if waits:  # its number is now + 2: waiting 2.5 s is less harm than a number out of thin air
        assert boots == now + 2 and bounds == [] and clock[0] == now + 3
    else:  # the highest random number is the last one a 4-byte epoch holds
        assert boots == (1 << 32) - 1 and bounds == [(1 << 32) - 1 - (now + 2)] and clock[0] == now + 0.5
        monkeypatch.setattr(identity_module.secrets, "randbelow", lambda bound: 0)
        assert identity.next_boot(clock=lambda: clock[0], sleep=sleep) == now + 3  # the lowest: just above


def test_a_private_identity_is_left_alone_and_a_loose_one_is_mended_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="ocm_core.crypto.identity"):
        ServerIdentity.load_or_create(tmp_path)
    path = tmp_path / "server-identity.pem"
    assert caplog.messages == [f"made a new server identity in {path}"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ocm_core.crypto.identity"):
        ServerIdentity.load_or_create(tmp_path)
    assert caplog.messages == []
    os.chmod(path, 0o640)
    with caplog.at_level(logging.INFO, logger="ocm_core.crypto.identity"):
        ServerIdentity.load_or_create(tmp_path)
    assert caplog.messages == [f"{path} was readable by others; making it private to this user"]


def test_on_windows_a_loose_looking_identity_is_not_chmodded(tmp_path, monkeypatch):
    ServerIdentity.load_or_create(tmp_path)
    os.chmod(tmp_path / "server-identity.pem", 0o644)  # what Windows' stat reports for any file
    chmods = []
    monkeypatch.setattr(os, "chmod", lambda *args: chmods.append(args))
    ServerIdentity.load_or_create(tmp_path, platform="win32")
    assert chmods == []


def test_an_identity_file_holding_another_kind_of_key_is_refused_with_what_to_do(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "server-identity.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(path, 0o600)
    with pytest.raises(ValueError, match="does not hold an Ed25519 key; move it away and a new identity is made"):
        ServerIdentity.load_or_create(tmp_path)


def test_a_changed_identity_is_named_in_full_and_trusted_only_when_confirmed(tmp_path, caplog):
    known = KnownServers(tmp_path / "known.json")
    assert known.get("10.0.0.5:9090") is None
    assert known.check("10.0.0.5:9090", "AAAA-BBBB-CCCC-DDDD-EEEE")  # first use: trusted
    assert known.check("10.0.0.5:9090", "AAAA-BBBB-CCCC-DDDD-EEEE")
    with pytest.raises(IdentityChanged) as changed:
        known.check("10.0.0.5:9090", "ZZZZ-YYYY-XXXX-WWWW-VVVV")
    assert (changed.value.address, changed.value.trusted, changed.value.presented) == (
        "10.0.0.5:9090",
        "AAAA-BBBB-CCCC-DDDD-EEEE",
        "ZZZZ-YYYY-XXXX-WWWW-VVVV",
    )
    assert str(changed.value) == (
        "The server at 10.0.0.5:9090 has a different identity than last time (ZZZZ-YYYY-XXXX-WWWW-VVVV, was "
        "AAAA-BBBB-CCCC-DDDD-EEEE). Someone may be pretending to be it; if its host says it changed, confirm to "
        "trust the new one."
    )
    assert known.get("10.0.0.5:9090") == "AAAA-BBBB-CCCC-DDDD-EEEE"  # a refusal changes nothing
    with caplog.at_level(logging.WARNING, logger="ocm_core.crypto.identity"):
        assert known.check("10.0.0.5:9090", "ZZZZ-YYYY-XXXX-WWWW-VVVV", accept_changed=True)
    assert caplog.messages == [
        "trusting a changed identity for 10.0.0.5:9090: ZZZZ-YYYY-XXXX-WWWW-VVVV (was AAAA-BBBB-CCCC-DDDD-EEEE)"
    ]
    again = KnownServers(tmp_path / "known.json")  # kept on disk, one entry per address
    assert again.get("10.0.0.5:9090") == "ZZZZ-YYYY-XXXX-WWWW-VVVV"
    assert json.loads((tmp_path / "known.json").read_text("utf-8")) == {"10.0.0.5:9090": "ZZZZ-YYYY-XXXX-WWWW-VVVV"}


def test_a_damaged_list_of_known_servers_starts_a_new_one_with_a_warning(tmp_path, caplog):
    path = tmp_path / "known.json"
    path.write_text("{not json", "utf-8")
    with caplog.at_level(logging.WARNING, logger="ocm_core.crypto.identity"):
        assert KnownServers(path).get("h:1") is None
    assert caplog.messages[0].startswith(f"could not read {path} (") and caplog.messages[0].endswith(
        "); starting a new list of known servers"
    )
    path.write_text('["a list"]', "utf-8")
    assert KnownServers(path).get("h:1") is None
    path.write_text('{"h:1": 5}', "utf-8")
    assert KnownServers(path).get("h:1") == "5"
