"""`ocm-server` stopped with Ctrl+C, in process (a process of its own is in test_durability.py):
with a database its rooms stay for the next start; without one they close and are told so."""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest

from ocm_core.cli.server import server_main
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer
from ocm_core.storage.roomstore import RoomStore
from tests.support import wait_until

pytestmark = pytest.mark.mutation_run  # one stub or server per test, up in milliseconds


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def handlers_kept():
    """server_main sets its own SIGINT and SIGTERM handlers; pytest's come back afterwards."""
    kept = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in kept.items():
        signal.signal(signum, handler)


def run_until_ctrl_c(argv: list[str], port: int, while_up=lambda: None) -> int:
    """server_main(argv) in this (the main) thread; once it answers on `port`, `while_up()`
    runs in another thread and then Ctrl+C arrives, as from the terminal."""
    failures: list[BaseException] = []

    def press_ctrl_c_when_up() -> None:
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    ChatClient("127.0.0.1", port, timeout=1.0).list_rooms()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            while_up()
        except BaseException as exc:
            failures.append(exc)
        finally:
            signal.raise_signal(signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_when_up)
    presser.start()
    code = server_main(argv)
    presser.join(10)
    if failures:
        raise failures[0]
    return code


def test_ctrl_c_keeps_the_rooms_of_a_database_for_the_next_start(tmp_path, handlers_kept, capsys):
    db = tmp_path / "rooms.db"
    first = ChatServer("127.0.0.1", 0, 0, db_path=db)
    first.start()
    host = ChatClient("127.0.0.1", first.tcp_address[1])
    host.create_room("standing", "keeper")
    first.stop(close_rooms=False)
    host.leave()

    port = free_tcp_port()
    argv = ["--host", "127.0.0.1", "--tcp-port", str(port), "--udp-port", "0", "--db", str(db), "--no-announce"]
    seen: list[list[str]] = []
    code = run_until_ctrl_c(
        argv, port, lambda: seen.append([r.name for r in ChatClient("127.0.0.1", port).list_rooms()])
    )

    assert code == 0 and seen == [["standing"]]
    assert "rooms resume when it starts again with the same --db" in capsys.readouterr().out
    store = RoomStore(db)
    try:
        assert [room.name for room in store.rooms()] == ["standing"]
        assert [member.name for member in store.members()] == ["keeper"]
    finally:
        store.close()


def test_ctrl_c_without_a_database_closes_the_rooms_and_says_so(tmp_path, handlers_kept, capsys):
    port = free_tcp_port()
    argv = ["--host", "127.0.0.1", "--tcp-port", str(port), "--udp-port", "0", "--no-db", "--no-announce"]
    hosts: list[ChatClient] = []

    def host_a_room() -> None:
        hosts.append(ChatClient("127.0.0.1", port))
        hosts[0].create_room("brief", "ana")

    assert run_until_ctrl_c(argv, port, host_a_room) == 0
    out = capsys.readouterr().out
    assert "Rooms are kept in memory only: stopping the server closes them." in out
    assert "ocm-server stopped; every room was told it closed." in out
    wait_until(lambda: hosts[0].closed, what="the host told its room closed")  # by the server, not a timeout
    hosts[0].leave()
