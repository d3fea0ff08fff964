"""The real thing: a server process killed while a real client's window is in the room, and
a restarted server that no longer knows that client's session, answered by Rejoin.

Timings are shortened by parameters (the client's `not_answering_after`, the server's
--member-timeout), not by sleeps: every wait is on a condition with a deadline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultproxy import FaultProxy, Faults
from gui_helpers import pump
from support import EventLog, wait_until

from ocm_core.net.client import ChatClient
from ocm_core.net.server import next_free_ports
from ocm_core.sansio import events as ev
from ocm_gui.backend import Backend
from ocm_gui.chat.window import ChatWindow

LOST_AFTER, NOT_ANSWERING_AFTER = 1.0, 2.0  # the defaults are 9 s and 30 s


class ServerProcess:
    """`python -m ocm_core` on fixed ports and one database, started and killed at will."""

    def __init__(self, db: Path, ports: tuple[int, int]):
        self.db, self.ports = db, ports
        self.proc: subprocess.Popen | None = None

    def start(self, *extra: str) -> None:
        tcp, udp = self.ports
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ocm_core",
                "--host",
                "127.0.0.1",
                "--tcp-port",
                str(tcp),
                "--udp-port",
                str(udp),
                "--db",
                str(self.db),
                "--no-announce",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        output = []
        for line in self.proc.stdout:
            output.append(line)
            if "listening on" in line:
                return
        raise AssertionError("the server did not start: " + "".join(output))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no goodbye to anyone
            self.proc.wait()
            self.proc.stdout.close()


@pytest.mark.slow
def test_a_killed_host_is_called_not_answering_and_a_forgotten_session_rejoins(root, settings, tmp_path):
    tcp_port, udp_port = next_free_ports("127.0.0.1", 21300, 21301)
    server = ServerProcess(tmp_path / "server.db", (tcp_port, udp_port))
    server.start("--member-timeout", "2")
    dark = Faults(drop=0.0)
    host = guest = None
    chat: ChatWindow | None = None
    try:
        host = ChatClient("127.0.0.1", tcp_port, heartbeat_interval=0.3)
        host.create_room("lounge", "host")
        host_log = EventLog(host)
        with FaultProxy(("127.0.0.1", udp_port), dark, dark) as proxy:
            guest = ChatClient(
                "127.0.0.1",
                tcp_port,
                udp_address=proxy.address,
                heartbeat_interval=0.3,
                lost_after=LOST_AFTER,
                not_answering_after=NOT_ANSWERING_AFTER,
            )
            guest.join_room("lounge", "guest")
            chat = ChatWindow(root, guest, settings=settings, backend=Backend(announce=False))
            pump(root, lambda: chat.members == ("host", "guest"), what="both in the People list")

            # 1. The server is killed: the guest's window says the host is not answering.
            server.kill()
            killed_at = time.monotonic()
            pump(
                root,
                lambda: chat.banners.text().startswith("lounge's host is not answering"),
                timeout=15,
                what="the not-answering banner",
            )
            took = time.monotonic() - killed_at
            assert chat.banners.button_labels() == ["Leave", "Keep waiting"]
            assert took >= NOT_ANSWERING_AFTER  # not before the session's decision
            print(
                f"\nbanner 'host is not answering' {took:.1f} s after SIGKILL "
                f"(lost after {LOST_AFTER:g} s + {NOT_ANSWERING_AFTER:g} s; defaults 9 s + 30 s = about 39 s)"
            )
            chat.banners.button("Keep waiting").invoke()

            # 2. The guest's network goes dark; the restarted server (same database) times it
            #    out, and is killed and restarted again: now nothing there remembers the guest.
            dark.drop = 1.0
            server.start("--member-timeout", "2")
            wait_until(
                lambda: [r.members for r in ChatClient("127.0.0.1", tcp_port).list_rooms()] == [1],
                20,
                "the restarted server to time the guest out",
            )
            server.kill()
            server.start("--member-timeout", "30")
            dark.drop = 0.0
            pump(
                root,
                lambda: chat.banners.text() == "The server no longer knows this session.",
                timeout=20,
                what="the session-gone banner",
            )
            assert chat.banners.button_labels() == ["Rejoin", "Back to start"]
            assert chat.members_label.cget("text") == "People"

            # 3. Rejoin: same room, same name, one click; the window goes on with a new client.
            chat.banners.button("Rejoin").invoke()
            pump(root, lambda: chat.client is not guest and chat.input_enabled(), timeout=15, what="the rejoin")
            assert (chat.client.room, chat.client.username) == ("lounge", "guest")
            pump(root, lambda: set(chat.members) == {"host", "guest"}, what="the People list back")
            chat.input.insert("1.0", "back after the restart")
            assert chat.send() is not None
            host_log.wait_for(
                lambda seen: [e for e in seen if isinstance(e, ev.ChatMessage) and e.text == "back after the restart"],
                10,
                "the host to read it",
            )
            pump(root, lambda: "back after the restart  ✓" in chat.transcript(), what="the message confirmed")
    finally:
        if chat is not None:
            chat.leave()
        for client in (host, guest):
            if client is not None:
                client.leave()
        server.kill()
