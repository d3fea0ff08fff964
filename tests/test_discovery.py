"""Discovery: the TXT and probe codecs (bytes in, bytes out), the answer limiter with a
fake clock, and an announcer found by a browser over loopback broadcast."""

from __future__ import annotations

import socket
import time
from dataclasses import replace

from ocm_core import wire as p
from ocm_core.net import discovery as d
from ocm_core.net.client import ChatClient
from ocm_core.wire import ServerAnnouncement

NONCE = b"\x01\x02\x03\x04\x05\x06\x07\x08"


def wait_for(queue_, predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no matching update in time"
        rooms = queue_.get(timeout=remaining)
        if predicate(rooms):
            return rooms


def test_browser_finds_a_room_over_loopback_broadcast_and_drops_a_stopped_server(server):
    scope = d.Scope.from_environment()  # the suite keeps discovery on loopback (conftest)
    assert scope.loopback_only and not scope.mdns
    host = ChatClient("127.0.0.1", server.tcp_address[1])
    host.create_room("雑談", "ゆき", "pw")
    announcer = d.Announcer(server, scope, machine="desk")
    announcer.start()
    try:
        with d.RoomBrowser(scope) as browser:
            rooms = wait_for(browser.updates, bool, 3.0)
            [room_id] = [r["room_id"] for r in server.registry.list_rooms()]
            assert rooms == [
                d.FoundRoom(
                    "127.0.0.1",
                    server.tcp_address[1],
                    "雑談",
                    1,
                    True,
                    "ゆき",
                    "desk",
                    server.fingerprint,
                    False,
                    room_id,
                )
            ]
            host.leave()
            wait_for(browser.updates, lambda r: r == [], 2 * d.LIST_INTERVAL + 2)
            server.stop()
            assert browser.server_count() in (0, 1)
            deadline = time.monotonic() + 2 * d.LIST_INTERVAL + 2
            while browser.server_count() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert browser.server_count() == 0
    finally:
        announcer.stop()
        host.leave()


def test_announcer_drops_garbage_and_answers_within_the_probe(server):
    scope = d.Scope.from_environment()
    announcer = d.Announcer(server, scope)
    announcer.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2.0)
    try:
        sock.sendto(b"garbage", ("127.0.0.1", scope.probe_port))
        sock.sendto(p.encode_probe(NONCE, 64), ("127.0.0.1", scope.probe_port))
        data, _ = sock.recvfrom(2048)
        assert len(data) <= 64 and p.decode_answer(data).nonce == NONCE
    finally:
        sock.close()
        announcer.stop()


def test_a_server_whose_key_is_not_the_announced_one_is_not_listed(server):
    """The finder's LIST checks the TLS key against the fingerprint in the announcement:
    an answer naming another identity (forged, or a server in the middle) lists nothing."""
    scope = d.Scope.from_environment()
    host = ChatClient("127.0.0.1", server.tcp_address[1])
    host.create_room("雑談", "ゆき")
    announcer = d.Announcer(server, scope)
    honest = announcer.announcement
    announcer.announcement = lambda rooms: replace(honest(rooms), fingerprint="AAAA-BBBB-CCCC-DDDD-EEEE")
    announcer.start()
    try:
        with d.RoomBrowser(scope) as browser:
            # found by the probe, refused by LIST at once, found again by the next probe...:
            # its rooms are never listed
            deadline = time.monotonic() + d.PROBE_SCHEDULE[-1] + 0.5
            while time.monotonic() < deadline:
                assert browser.rooms() == []
                time.sleep(0.02)
            assert browser.updates.empty()
    finally:
        announcer.stop()
        host.leave()


def test_the_finder_does_not_pin_the_servers_it_lists(server, private_user_dirs):
    from ocm_core.crypto.identity import KnownServers

    assert d._list_over_tcp("127.0.0.1", server.tcp_address[1], server.fingerprint) == []
    assert KnownServers().get(f"127.0.0.1:{server.tcp_address[1]}") is None


class FakeZeroconf:
    """Stands in for python-zeroconf's Zeroconf: records what the announcer asks, sends nothing."""

    made: list[FakeZeroconf] = []

    def __init__(self, **kwargs):
        self.calls: list[tuple[str, dict]] = []
        FakeZeroconf.made.append(self)

    def register_service(self, info, allow_name_change=False):
        self.calls.append(("register", dict(info.properties)))

    def update_service(self, info):
        self.calls.append(("update", dict(info.properties)))

    def unregister_service(self, info):
        self.calls.append(("unregister", {}))

    def close(self):
        self.calls.append(("close", {}))


def test_the_mdns_record_is_registered_updated_as_rooms_change_and_withdrawn(server, monkeypatch):
    import zeroconf

    monkeypatch.setattr(zeroconf, "Zeroconf", FakeZeroconf)
    FakeZeroconf.made.clear()
    scope = d.Scope(mdns=True, broadcast=False, loopback_only=True)
    announcer = d.Announcer(server, scope, machine="desk")
    announcer.start()
    (zc,) = FakeZeroconf.made
    host = ChatClient("127.0.0.1", server.tcp_address[1])
    try:
        host.create_room("雑談", "ゆき", "pw")
        deadline = time.monotonic() + 3 * d.ANNOUNCE_POLL_SECONDS
        while len(zc.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        register, update = zc.calls[:2]
        assert register == (
            "register",
            p.encode_txt(
                ServerAnnouncement(server.tcp_address[1], server.udp_address[1], 0, False, "desk", server.fingerprint)
            ),
        )
        assert update[0] == "update" and update[1][b"rooms"] == b"1" and update[1][b"locked"] == b"1"
    finally:
        host.leave()
        announcer.stop()
    assert [c[0] for c in zc.calls[-2:]] == ["unregister", "close"]
