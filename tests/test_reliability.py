"""No message lost: delivery through a lossy proxy, a killed and restarted server, a silent one.

These run the real client and server over sockets to prove that the I/O shells carry the
session's decisions; the decisions themselves (backoff, give-up, lost and restored, gap
repair under any loss and reordering) are tested with a fake clock in test_session.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from faultproxy import FaultProxy, Faults
from support import EventLog, wait_until

from ocm_core import errors, i18n
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer, next_free_ports
from ocm_core.sansio import events as ev
from ocm_core.sansio.room import Limits

MESSAGES_EACH = 100  # enough for hundreds of drops and duplicates; test_session.py covers the cases


def test_three_clients_through_a_lossy_proxy_get_everything_once_and_in_room_order():
    limits = Limits(rate_per_second=10_000, rate_burst=10_000)  # this test is about loss, not floods
    with ChatServer("127.0.0.1", 0, 0, limits=limits) as server:
        faults = Faults(drop=0.2, duplicate=0.1, max_delay=0.02)
        with FaultProxy(server.udp_address, faults, faults, seed=20261125) as proxy:
            port = server.tcp_address[1]
            clients = [ChatClient("127.0.0.1", port, udp_address=proxy.address) for _ in range(3)]
            clients[0].create_room("lossy", "c0")
            for index in (1, 2):
                clients[index].join_room("lossy", f"c{index}")
            logs = [EventLog(c) for c in clients]
            for log in logs:
                log.wait_for(lambda s, c=log.client: len(c.members) == 3, timeout=15, what="three members")

            def chat(client: ChatClient) -> None:
                for i in range(MESSAGES_EACH):
                    client.send(f"{client.username}:{i}")
                    time.sleep(0.002)  # three people typing at once, not one burst

            threads = [threading.Thread(target=chat, args=(c,)) for c in clients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            for log in logs:
                log.wait_type(ev.ChatMessage, 2 * MESSAGES_EACH, timeout=90)
                log.wait_type(ev.MessageSent, MESSAGES_EACH, timeout=90)
            # Before counting, every stray duplicate must have arrived: the proxy holds none
            # back and the server re-sends nothing (every member acknowledged every event).
            wait_until(
                lambda: proxy.pending == 0 and _all_acknowledged(server),
                timeout=10,
                what="the proxy drained and every member acknowledged the room",
            )
            orders = []
            for log in logs:
                log.pump()
                received = log.of_type(ev.ChatMessage)
                assert len(received) == 2 * MESSAGES_EACH  # exactly once: no duplicates crept in
                seqs = [m.seq for m in received]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
                for sender in {m.sender for m in received}:
                    texts = [m.text for m in received if m.sender == sender]
                    assert texts == [f"{sender}:{i}" for i in range(MESSAGES_EACH)]
                assert not log.of_type(ev.MessageFailed)
                orders.append({m.seq: (m.sender, m.text) for m in received})
            merged = {}
            for order in orders:
                for seq, value in order.items():
                    assert merged.setdefault(seq, value) == value  # one room order, the same for everyone
            extra = proxy.counts["up"] + proxy.counts["down"]
            print(
                f"\nlossy proxy: {3 * MESSAGES_EACH} messages, {6 * MESSAGES_EACH} deliveries, "
                f"{extra} datagrams through the proxy ({extra / (6 * MESSAGES_EACH):.2f} per delivery), "
                f"{proxy.counts['dropped']} dropped, {proxy.counts['duplicated']} duplicated"
            )
            for client in clients:
                client.leave()


def _all_acknowledged(server: ChatServer) -> bool:
    with server.registry._lock:
        return all(m.acked_seq >= m.room.seq for m in server.registry._tokens.values())


def test_message_is_reported_failed_when_the_server_never_answers(make_client):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # swallows every datagram, answers none
    try:
        # timeout: how long joining waits for the UDP answer that never comes
        client = make_client(udp_address=silent.getsockname(), send_timeout=1.0, timeout=1.0)
        client.create_room("room", "alone")
        started = time.monotonic()
        msg_id = client.send("hello?")
        [failed] = EventLog(client).wait_type(ev.MessageFailed, timeout=5)
        elapsed = time.monotonic() - started
        assert failed.msg_id == msg_id and failed.text == "hello?" and "within 1 s" in failed.reason
        assert 1.0 <= elapsed < 1.5
        retry_id = client.retry(msg_id)
        assert retry_id != msg_id
    finally:
        silent.close()


def test_connection_lost_is_reported_and_chat_resumes_when_the_server_answers_again():
    limits = Limits()
    with ChatServer("127.0.0.1", 0, 0, limits=limits) as server:
        blackout = Faults(drop=0.0)
        with FaultProxy(server.udp_address, blackout, blackout) as proxy:
            port = server.tcp_address[1]
            host = ChatClient("127.0.0.1", port, heartbeat_interval=0.3, lost_after=1.0)
            host.create_room("room", "host")
            guest = ChatClient("127.0.0.1", port, udp_address=proxy.address, heartbeat_interval=0.3, lost_after=1.0)
            guest.join_room("room", "guest")
            guest_log, host_log = EventLog(guest), EventLog(host)
            blackout.drop = 1.0  # the network between guest and server goes dark
            guest_log.wait_type(ev.ConnectionLost, timeout=5)
            guest.send("sent in the dark")
            blackout.drop = 0.0
            guest_log.wait_type(ev.ConnectionRestored, timeout=5)
            assert [m.text for m in host_log.wait_type(ev.ChatMessage, timeout=5)] == ["sent in the dark"]
            guest_log.wait_type(ev.MessageSent, timeout=5)
            guest.leave()
            host.leave()


@pytest.mark.slow
def test_server_killed_and_restarted_from_its_database_loses_nothing(tmp_path):
    db = tmp_path / "server.db"
    tcp_port, udp_port = next_free_ports("127.0.0.1", 21000, 21001)

    def start_server() -> subprocess.Popen:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ocm_core",
                "--host",
                "127.0.0.1",
                "--tcp-port",
                str(tcp_port),
                "--udp-port",
                str(udp_port),
                "--db",
                str(db),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        for line in proc.stdout:
            if "listening on" in line:
                return proc
        raise AssertionError("the server did not start")

    proc = start_server()
    try:
        kwargs = dict(heartbeat_interval=0.3, lost_after=1.0)
        host = ChatClient("127.0.0.1", tcp_port, **kwargs)
        host.create_room("durable", "host")
        guest = ChatClient("127.0.0.1", tcp_port, **kwargs)
        guest.join_room("durable", "guest")
        host_log, guest_log = EventLog(host), EventLog(guest)
        for i in range(5):
            guest.send(f"before {i}")
        guest_log.wait_type(ev.MessageSent, 5)  # acknowledged, so it must survive

        proc.send_signal(signal.SIGKILL)
        proc.wait()
        guest_log.wait_type(ev.ConnectionLost, timeout=5)
        for i in range(3):
            guest.send(f"during {i}")
        proc = start_server()

        guest_log.wait_type(ev.ConnectionRestored, timeout=10)
        guest_log.wait_type(ev.MessageSent, 8, timeout=15)
        texts = [m.text for m in host_log.wait_type(ev.ChatMessage, 8, timeout=15)]
        assert texts == [f"before {i}" for i in range(5)] + [f"during {i}" for i in range(3)]
        [room] = ChatClient("127.0.0.1", tcp_port).list_rooms()
        assert (room.name, room.members, room.host) == ("durable", 2, "host")
        late = ChatClient("127.0.0.1", tcp_port)
        late.join_room("durable", "late")
        history = [m.text for m in EventLog(late).wait_type(ev.ChatMessage, 8, timeout=5)]
        assert history == texts
        for client in (late, guest, host):
            client.leave()
    finally:
        proc.kill()
        proc.wait()


# --- joining over a lossy path -----------------------------------------------------------------


class SwallowingProxy:
    """A TCP proxy to `target` that takes the first `swallow` connections and never answers
    them (as a path losing everything would look to the client), then passes the rest on."""

    def __init__(self, target: tuple[str, int], swallow: int):
        self.target, self.swallow = target, swallow
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.swallow:
                self.held.append(conn)
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


def test_a_join_whose_first_requests_are_lost_is_asked_again_quietly(server):
    proxy = SwallowingProxy(server.tcp_address, swallow=3)
    try:
        host = ChatClient("127.0.0.1", server.tcp_address[1])
        host.create_room("lossy", "host")
        guest = ChatClient("127.0.0.1", proxy.port, timeout=0.5)
        guest.join_room("lossy", "guest")  # three lost requests, then through: no error on the way
        assert proxy.accepted >= 4 and server.registry.members("lossy") == ["guest", "host"]
        guest.leave()
        host.leave()
    finally:
        proxy.close()


def test_a_server_that_is_not_there_is_said_at_once_not_after_the_patience():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once it is closed
    started = time.monotonic()
    with pytest.raises(errors.ServerUnreachable) as refused:
        ChatClient("127.0.0.1", port, timeout=0.5).join_room("lobby", "ana")
    assert time.monotonic() - started < 2 and not refused.value.transient


def test_a_member_whose_name_was_taken_while_away_is_told_in_its_own_name(english):
    """Away past the server's timeout, someone else joined under the same name: coming back is
    refused, and the sentence (in Japanese it names the person) names this member."""
    with ChatServer("127.0.0.1", 0, 0, member_timeout=0.6) as server:
        blackout = Faults(drop=0.0)
        with FaultProxy(server.udp_address, blackout, blackout) as proxy:
            port = server.tcp_address[1]
            host = ChatClient("127.0.0.1", port, heartbeat_interval=0.2, lost_after=5.0)
            host.create_room("room", "host")
            away = ChatClient("127.0.0.1", port, udp_address=proxy.address, heartbeat_interval=0.2, lost_after=5.0)
            away.join_room("room", "ana")
            away_log = EventLog(away)
            i18n.use_language("ja")  # the `english` fixture puts English back
            blackout.drop = 1.0
            wait_until(lambda: "ana" not in server.registry.members("room"), what="the server to time ana out")
            newcomer = ChatClient("127.0.0.1", port)
            newcomer.join_room("room", "ana")
            blackout.drop = 0.0
            [gone] = away_log.wait_type(ev.SessionGone, timeout=5)
            assert "「ana」" in gone.reason
            newcomer.leave()
            host.leave()
