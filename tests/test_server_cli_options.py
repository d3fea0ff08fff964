"""What an operator of `ocm-server` sees beyond its first lines (those are in
tests/test_server_lifecycle.py): the log lines on stderr at the level chosen, with the time and
the level; the last line before it waits reaching a pipe at once (a script or a service manager
waits for it); the address to share when it listens on every interface. The server and the LAN
announcer are stand-ins, so nothing listens."""

from __future__ import annotations

import io
import logging
import os
import re
import select
import signal
import threading
import time
from contextlib import contextmanager

import pytest

from ocm_core.cli import server as cli
from ocm_core.cli.server import server_main
from ocm_core.net.interfaces import lan_address
from tests.support import handlers_kept  # a fixture, used by name

pytestmark = pytest.mark.mutation_run  # no socket: stand-ins for the server and the announcer

STUB_LOG = logging.getLogger("tests.stub_server")  # outside ocm_core, so an ERROR line is not a failure


@contextmanager
def root_logger_as_in_a_terminal():
    """The root logger without handlers, as in a fresh `ocm-server` process: under pytest it
    has capture handlers, and logging.basicConfig leaves a logger with handlers alone."""
    root = logging.getLogger()
    kept_handlers, kept_level = root.handlers[:], root.level
    root.handlers = []
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = kept_handlers, kept_level


class LoggingServer:
    """Stands in for ChatServer: logs one line at each level, then fails to start, so
    server_main returns before anything listens."""

    def __init__(self, host, tcp_port, udp_port, **settings):
        pass

    def start(self):
        STUB_LOG.debug("a debug line")
        STUB_LOG.info("an info line")
        STUB_LOG.warning("a warning line")
        STUB_LOG.error("an error line")
        raise OSError(98, "Address already in use")


EVERY_LEVEL = ["DEBUG a debug line", "INFO an info line", "WARNING a warning line", "ERROR an error line"]


@pytest.mark.parametrize(
    "argv, shown",
    [
        ([], EVERY_LEVEL[1:]),
        (["--log-level", "DEBUG"], EVERY_LEVEL),
        (["--log-level", "INFO"], EVERY_LEVEL[1:]),
        (["--log-level", "WARNING"], EVERY_LEVEL[2:]),
        (["--log-level", "ERROR"], EVERY_LEVEL[3:]),
    ],
)
def test_the_log_shows_the_time_the_level_and_the_message_from_the_level_chosen(
    argv, shown, handlers_kept, capsys, monkeypatch
):
    monkeypatch.setattr(cli, "ChatServer", LoggingServer)
    with root_logger_as_in_a_terminal():
        assert server_main(["--no-announce", *argv]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == "ocm-server: [Errno 98] Address already in use"
    logged = lines[:-1]
    assert [line[9:] for line in logged] == shown
    for line in logged:
        assert re.fullmatch(r"\d\d:\d\d:\d\d [A-Z]+ [a-z ]+", line), line  # the time of day, to the second


# --- the last line before waiting, through a pipe -------------------------------------------


class QuietServer:
    """Stands in for ChatServer on a troubled or a sound disk, as the test sets it."""

    damaged_log: object = None
    memory_only: str | None = None
    saving_fails = False
    made: list[QuietServer] = []

    def __init__(self, host, tcp_port, udp_port, **settings):
        self.registry = type("Registry", (), {"saving_fails": QuietServer.saving_fails})()
        self.tcp_address, self.udp_address = (host, 7000), (host, 7001)
        self.fingerprint = "AAAA-BBBB-CCCC-DDDD-EEEE"
        self.stopped = False
        QuietServer.made.append(self)

    def start(self):
        pass

    def stop(self, close_rooms=True):
        self.stopped = True


class QuietAnnouncer:
    def __init__(self, server):
        self.scope = type("Scope", (), {"probe_port": 9099})()

    def start(self):
        pass

    def stop(self):
        pass


def run_with_stdout_a_pipe(monkeypatch, argv: list[str], last_line: str) -> tuple[int, list[str], bool]:
    """server_main(argv) with stdout a pipe, block-buffered as a process's is when a script or
    a service manager reads it. Ctrl+C is pressed once `last_line` has come through the pipe
    while the server runs, or after 10 s if it never does. Returns the exit code, every line
    read, and whether `last_line` came through before Ctrl+C."""
    read_end, write_end = os.pipe()
    piped = io.TextIOWrapper(io.BufferedWriter(io.FileIO(write_end, "w"), buffer_size=8192), encoding="utf-8")
    monkeypatch.setattr("sys.stdout", piped)
    received = bytearray()
    came: list[bool] = []
    inside = {"server_main": True}
    guard = threading.Lock()

    def press_ctrl_c_once_the_line_is_read() -> None:
        deadline = time.monotonic() + 10
        while (last_line + "\n").encode() not in received and time.monotonic() < deadline:
            if select.select([read_end], [], [], 0.05)[0]:
                received.extend(os.read(read_end, 65536))
        came.append((last_line + "\n").encode() in received)
        with guard:
            if inside["server_main"]:
                os.kill(os.getpid(), signal.SIGINT)  # to the process, as from the terminal

    presser = threading.Thread(target=press_ctrl_c_once_the_line_is_read)
    presser.start()
    try:
        code = server_main(argv)
    finally:
        with guard:
            inside["server_main"] = False
        presser.join(30)
        piped.close()
        while chunk := os.read(read_end, 65536):
            received.extend(chunk)
        os.close(read_end)
    return code, received.decode().splitlines(), came[0]


MEMORY_ONLY = "Rooms are kept in memory only: stopping the server closes them."
KEPT_IN_DB = "Rooms are kept in {db}: after a restart, members carry on."


@pytest.mark.parametrize(
    "argv, trouble, said",
    [
        (["--no-db", "--no-announce"], {}, [MEMORY_ONLY]),
        (["--db", "{db}", "--no-announce"], {}, [KEPT_IN_DB]),
        (
            ["--db", "{db}", "--no-announce"],
            {"damaged_log": "/data/server.db-wal.damaged-20261207-090000"},
            [
                "The database's log was damaged: rooms and messages written after its last good entry are lost. "
                "The damaged log is kept at /data/server.db-wal.damaged-20261207-090000.",
                KEPT_IN_DB,
            ],
        ),
        (
            ["--db", "{db}", "--no-announce"],
            {"memory_only": "No space left on device"},
            [
                "The database {db} cannot be written (No space left on device): rooms are kept in memory only, "
                "and stopping the server closes them; the file keeps what it had."
            ],
        ),
        (
            ["--db", "{db}", "--no-announce"],
            {"saving_fails": True},
            [
                "The database {db} cannot be written now (its disk is full or failing): its rooms are back, "
                "and new messages wait until it can be written."
            ],
        ),
        (
            ["--no-db", "--allow-plain"],
            {},
            [
                "Clients without encryption are admitted (--allow-plain): what they send can be read on the network.",
                MEMORY_ONLY,
                "Announced on the LAN: people see its rooms under Join (UDP 9099 and mDNS port 5353 must be open).",
            ],
        ),
    ],
)
def test_the_last_line_before_waiting_reaches_a_pipe_while_the_server_runs(
    argv, trouble, said, tmp_path, handlers_kept, monkeypatch
):
    QuietServer.made = []
    for name, value in trouble.items():
        monkeypatch.setattr(QuietServer, name, value)
    monkeypatch.setattr(cli, "ChatServer", QuietServer)
    monkeypatch.setattr(cli, "Announcer", QuietAnnouncer)
    db = tmp_path / "server.db"
    argv = [arg.format(db=db) for arg in ["--host", "10.1.2.3", *argv]]
    said = [line.format(db=db) for line in said]
    code, lines, came_while_running = run_with_stdout_a_pipe(monkeypatch, argv, said[-1])
    assert code == 0
    assert came_while_running, f"not read before Ctrl+C: {lines}"
    assert lines[:3] == [
        "ocm-server listening on TCP 10.1.2.3:7000 and UDP 10.1.2.3:7001",
        "Others join with the address 10.1.2.3:7000. Press Ctrl+C to stop.",
        "Server identity: AAAA-BBBB-CCCC-DDDD-EEEE (joiners see the same; compare it aloud)",
    ]
    assert lines[3:-1] == said
    assert lines[-1].startswith("ocm-server stopped;") and QuietServer.made[0].stopped


@pytest.mark.parametrize("host", ["0.0.0.0", ""])
def test_on_every_interface_the_address_to_share_is_the_lans(host, handlers_kept, monkeypatch):
    QuietServer.made = []
    monkeypatch.setattr(cli, "ChatServer", QuietServer)
    code, lines, _came = run_with_stdout_a_pipe(monkeypatch, ["--host", host, "--no-db", "--no-announce"], MEMORY_ONLY)
    assert code == 0
    assert lines[1] == f"Others join with the address {lan_address()}:7000. Press Ctrl+C to stop."
