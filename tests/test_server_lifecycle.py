"""`ocm-server` stopped with Ctrl+C, in process (a process of its own is in test_durability.py):
with a database its rooms stay for the next start; without one they close and are told so."""

from __future__ import annotations

import queue
import re
import signal
import threading
import time

import pytest

from ocm_core.cli.server import server_main
from ocm_core.net.client import ChatClient
from ocm_core.net.interfaces import lan_address
from ocm_core.net.server import ChatServer
from ocm_core.storage.roomstore import RoomStore
from tests.support import handlers_kept, wait_until  # handlers_kept: a fixture, used by name

pytestmark = pytest.mark.mutation_run  # one stub or server per test, up in milliseconds


def run_until_ctrl_c(monkeypatch, argv: list[str], while_up=lambda port: None) -> tuple[int, int]:
    """server_main(argv) in this (the main) thread, on a port the system picks; once its server
    listens, `while_up(port)` runs in another thread and then Ctrl+C arrives, as from the
    terminal. Returns server_main's exit code and the port. No Ctrl+C is sent once
    server_main has returned (a start that failed), so none reaches pytest itself."""
    from ocm_core.cli import server as cli

    listening: queue.Queue[int | None] = queue.Queue()

    class WatchedServer(ChatServer):
        def start(self):
            super().start()
            listening.put(self.tcp_address[1])

    monkeypatch.setattr(cli, "ChatServer", WatchedServer)
    failures: list[BaseException] = []
    ports: list[int] = []
    inside = {"server_main": True}
    guard = threading.Lock()

    def press_ctrl_c_when_up() -> None:
        try:
            port = listening.get(timeout=20)
            if port is not None:
                ports.append(port)
                while_up(port)
        except BaseException as exc:
            failures.append(exc)
        finally:
            with guard:
                if inside["server_main"]:
                    signal.raise_signal(signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_when_up)
    presser.start()
    try:
        code = server_main([*argv, "--tcp-port", "0", "--udp-port", "0"])
    finally:
        with guard:
            inside["server_main"] = False
        listening.put(None)
        presser.join(30)
    if failures:
        raise failures[0]
    return code, ports[0] if ports else 0


def test_ctrl_c_keeps_the_rooms_of_a_database_for_the_next_start(tmp_path, handlers_kept, capsys, monkeypatch):
    db = tmp_path / "rooms.db"
    first = ChatServer("127.0.0.1", 0, 0, db_path=db)
    first.start()
    host = ChatClient("127.0.0.1", first.tcp_address[1])
    host.create_room("standing", "keeper")
    first.stop(close_rooms=False)
    host.leave()

    argv = ["--host", "127.0.0.1", "--db", str(db), "--no-announce"]
    seen: list[list[str]] = []
    code, port = run_until_ctrl_c(
        monkeypatch, argv, lambda port: seen.append([r.name for r in ChatClient("127.0.0.1", port).list_rooms()])
    )

    assert code == 0 and seen == [["standing"]]
    said = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"ocm-server listening on TCP 127\.0\.0\.1:{port} and UDP 127\.0\.0\.1:[1-9]\d*", said[0])
    assert said[1] == f"Others join with the address 127.0.0.1:{port}. Press Ctrl+C to stop."
    assert re.fullmatch(
        r"Server identity: [A-Z2-7]{4}(-[A-Z2-7]{4}){4} \(joiners see the same; compare it aloud\)", said[2]
    )
    assert said[3:] == [
        f"Rooms are kept in {db}: after a restart, members carry on.",
        "ocm-server stopped; rooms resume when it starts again with the same --db.",
    ]
    store = RoomStore(db)
    try:
        assert [room.name for room in store.rooms()] == ["standing"]
        assert [member.name for member in store.members()] == ["keeper"]
    finally:
        store.close()


def test_ctrl_c_without_a_database_closes_the_rooms_and_says_so(tmp_path, handlers_kept, capsys, monkeypatch):
    argv = ["--host", "0.0.0.0", "--no-db", "--no-announce", "--allow-plain"]
    hosts: list[ChatClient] = []

    def host_a_room(port: int) -> None:
        hosts.append(ChatClient("127.0.0.1", port))
        hosts[0].create_room("brief", "ana")

    code, port = run_until_ctrl_c(monkeypatch, argv, host_a_room)
    assert code == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith(f"ocm-server listening on TCP 0.0.0.0:{port} and UDP 0.0.0.0:")
    assert said[1] == f"Others join with the address {lan_address()}:{port}. Press Ctrl+C to stop."  # not 0.0.0.0
    assert said[3:] == [
        "Clients without encryption are admitted (--allow-plain): what they send can be read on the network.",
        "Rooms are kept in memory only: stopping the server closes them.",
        "ocm-server stopped; every room was told it closed.",
    ]
    wait_until(lambda: hosts[0].closed, what="the host told its room closed")  # by the server, not a timeout
    hosts[0].leave()


# --- what ocm-server makes of its command line ---------------------------------------------------


class RecordedServer:
    """Stands in for ChatServer: keeps what ocm-server asked for, then fails to start, so
    server_main returns before anything listens."""

    made: list[RecordedServer] = []

    def __init__(self, host, tcp_port, udp_port, **settings):
        self.host, self.tcp_port, self.udp_port, self.settings = host, tcp_port, udp_port, settings
        RecordedServer.made.append(self)

    def start(self):
        raise OSError(98, "Address already in use")


@pytest.fixture
def recorded(monkeypatch, handlers_kept):
    from ocm_core.cli import server as cli

    RecordedServer.made = []
    monkeypatch.setattr(cli, "ChatServer", RecordedServer)
    return RecordedServer.made


def test_every_flag_reaches_the_server_it_starts(recorded, tmp_path, capsys):
    argv = [
        "--host", "127.0.0.2", "--tcp-port", "7000", "--udp-port", "7001", "--member-timeout", "12.5",
        "--max-rooms", "9", "--max-rooms-per-address", "2", "--max-members", "7", "--max-connections-per-ip", "4",
        "--rate", "2.5", "--burst", "6", "--db", str(tmp_path / "r.db"), "--max-file-mib", "1.5",
        "--max-storage-mib", "3", "--files-dir", str(tmp_path / "f"), "--move-damaged-db", "--allow-plain",
        "--no-announce", "--log-level", "WARNING", "--room", "lobby", "--room", "tea",
    ]  # fmt: skip
    assert server_main(argv) == 2
    assert capsys.readouterr().err == "ocm-server: [Errno 98] Address already in use\n"
    (made,) = recorded
    limits, server_limits = made.settings["limits"], made.settings["server_limits"]
    assert (made.host, made.tcp_port, made.udp_port) == ("127.0.0.2", 7000, 7001)
    assert made.settings["member_timeout"] == 12.5
    assert (limits.max_rooms, limits.max_rooms_per_address, limits.max_members_per_room) == (9, 2, 7)
    assert (limits.rate_per_second, limits.rate_burst) == (2.5, 6)
    assert server_limits.max_connections_per_ip == 4
    assert (server_limits.max_file_bytes, server_limits.max_storage_bytes) == (1_572_864, 3 * 1024 * 1024)
    assert made.settings["db_path"] == str(tmp_path / "r.db") and made.settings["files_dir"] == str(tmp_path / "f")
    assert made.settings["move_damaged_db"] is True and made.settings["allow_plain"] is True
    assert made.settings["standing_rooms"] == {"lobby": None, "tea": None}


def test_without_flags_the_server_gets_the_documented_defaults(recorded, capsys):
    from ocm_core.net.server import ServerLimits
    from ocm_core.sansio.room import Limits
    from ocm_core.storage.filestore import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_STORAGE_BYTES
    from ocm_core.storage.roomstore import default_db_path

    assert server_main([]) == 2
    (made,) = recorded
    limits, server_limits = made.settings["limits"], made.settings["server_limits"]
    assert (made.host, made.tcp_port, made.udp_port) == ("0.0.0.0", 9090, 9091)
    assert made.settings["member_timeout"] == 30.0 and limits == Limits()
    assert server_limits.max_connections_per_ip == ServerLimits().max_connections_per_ip
    assert (server_limits.max_file_bytes, server_limits.max_storage_bytes) == (
        DEFAULT_MAX_FILE_BYTES,
        DEFAULT_MAX_STORAGE_BYTES,
    )
    assert made.settings["db_path"] == str(default_db_path()) and made.settings["files_dir"] is None
    assert made.settings["move_damaged_db"] is False and made.settings["allow_plain"] is False
    assert made.settings["standing_rooms"] == {}
    assert server_main(["--no-db"]) == 2 and recorded[1].settings["db_path"] is None


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_help_names_every_default_in_the_persons_language(language, monkeypatch, capsys):
    import re

    from ocm_core.net.server import ServerLimits
    from ocm_core.sansio.room import Limits

    monkeypatch.setenv("LANGUAGE", language)
    with pytest.raises(SystemExit) as done:
        server_main(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    options = shown[shown.index("--host HOST", shown.index("\n\n")) :]
    lines = re.split(r"\n  (?=-)", options)
    assert len(lines) == 22  # every option from --host to --version has its own help
    for line in lines:
        help_text = re.sub(r"\s+", " ", line.split("  ", 1)[1] if "  " in line else line)
        if language == "ja":  # translated, every one: an English line would mean a message left out
            assert re.search("[\u3040-\u30ff\u4e00-\u9fff]", help_text), line
        else:
            assert re.fullmatch(r"[a-zA-Z0-9 ().,;:'%/_{}\-+=\u2019]+", help_text.split("(default: /")[0]), line
    flat = re.sub(r"\s+", " ", shown)
    for default in (
        Limits.max_rooms,
        Limits.max_rooms_per_address,
        Limits.max_members_per_room,
        ServerLimits.max_connections_per_ip,
        f"{Limits.rate_per_second:g}",
        Limits.rate_burst,
        16384,  # MiB a file (16 GiB)
    ):
        assert re.search(rf"\b{default}[)）]", flat), default
    assert ("5 % of it free)" if language == "en" else "5 % を空けておける範囲）") in flat  # the storage cap's


class RecordedAnnouncer:
    """Stands in for the LAN announcer (mDNS and broadcast answers, tests/test_discovery.py)."""

    made: list[RecordedAnnouncer] = []

    def __init__(self, server):
        self.server, self.started, self.stopped = server, False, False
        self.scope = type("Scope", (), {"probe_port": 9099})()
        RecordedAnnouncer.made.append(self)

    def start(self):
        self.started, self.port = True, self.server.tcp_address[1]  # announced while it listens

    def stop(self):
        self.stopped = True


def test_the_server_is_announced_while_it_runs_unless_told_not_to(tmp_path, handlers_kept, capsys, monkeypatch):
    from ocm_core.cli import server as cli

    RecordedAnnouncer.made = []
    monkeypatch.setattr(cli, "Announcer", RecordedAnnouncer)
    argv = ["--host", "127.0.0.1", "--no-db", "--log-level", "ERROR"]
    code, port = run_until_ctrl_c(monkeypatch, argv)
    assert code == 0
    (announcer,) = RecordedAnnouncer.made
    assert announcer.started and announcer.stopped and announcer.port == port
    assert (
        "Announced on the LAN: people see its rooms under Join (UDP 9099 and mDNS port 5353 must be open)."
        in capsys.readouterr().out.splitlines()
    )


def test_the_version_the_log_levels_and_the_description_are_as_documented(handlers_kept, capsys):
    from ocm_core import __version__

    with pytest.raises(SystemExit) as done:
        server_main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"ocm-server {__version__}\n"
    with pytest.raises(SystemExit) as refused:
        server_main(["--log-level", "debug"])
    assert refused.value.code == 2
    assert "invalid choice: 'debug' (choose from DEBUG, INFO, WARNING, ERROR)" in capsys.readouterr().err.replace(
        "'DEBUG', 'INFO', 'WARNING', 'ERROR'", "DEBUG, INFO, WARNING, ERROR"
    )
    with pytest.raises(SystemExit):
        server_main(["--help"])
    shown = capsys.readouterr().out
    assert "\nRun an Online Chat Messenger server without a screen.\n" in shown
    assert "how much to log (default INFO)" in shown and "{DEBUG,INFO,WARNING,ERROR}" in shown


class StartedServer:
    """Stands in for ChatServer after a start on a troubled disk: what it reports is set by
    the test; Ctrl+C arrives as soon as it has started, unless server_main has returned
    meanwhile (a start that failed), so none reaches pytest itself."""

    made: list[StartedServer] = []
    damaged_log: object = None
    memory_only: str | None = None
    saving_fails = False
    inside_main = False  # set by the test around server_main
    guard = threading.Lock()

    @classmethod
    def press_ctrl_c(cls) -> None:
        with cls.guard:
            if cls.inside_main:
                signal.raise_signal(signal.SIGINT)

    @classmethod
    def main(cls, argv: list[str]) -> int:
        cls.inside_main = True
        try:
            return server_main(argv)
        finally:
            with cls.guard:
                cls.inside_main = False

    def __init__(self, host, tcp_port, udp_port, **settings):
        self.host, self.settings = host, settings
        self.registry = type("Registry", (), {"saving_fails": StartedServer.saving_fails})()
        self.tcp_address, self.udp_address = (host, 7000), (host, 7001)
        self.fingerprint = "AAAA-BBBB-CCCC-DDDD-EEEE"
        self.stopped_with: bool | None = None
        StartedServer.made.append(self)

    def start(self):
        threading.Timer(0.05, StartedServer.press_ctrl_c).start()

    def stop(self, close_rooms=True):
        self.stopped_with = close_rooms


@pytest.mark.parametrize(
    "trouble, lines, closes",
    [
        (
            {"damaged_log": "/data/server.db-wal.damaged-20261207-090000"},
            [
                "The database's log was damaged: rooms and messages written after its last good entry are lost. "
                "The damaged log is kept at /data/server.db-wal.damaged-20261207-090000.",
                "Rooms are kept in {db}: after a restart, members carry on.",
            ],
            False,
        ),
        (
            {"memory_only": "No space left on device"},
            [
                "The database {db} cannot be written (No space left on device): rooms are kept in memory only, "
                "and stopping the server closes them; the file keeps what it had."
            ],
            True,
        ),
        (
            {"saving_fails": True},
            [
                "The database {db} cannot be written now (its disk is full or failing): its rooms are back, "
                "and new messages wait until it can be written."
            ],
            False,
        ),
    ],
)
def test_a_start_on_a_troubled_disk_says_what_it_means_for_the_rooms(
    trouble, lines, closes, tmp_path, handlers_kept, capsys, monkeypatch
):
    from ocm_core.cli import server as cli

    StartedServer.made = []
    for name, value in trouble.items():
        monkeypatch.setattr(StartedServer, name, value)
    monkeypatch.setattr(cli, "ChatServer", StartedServer)
    db = tmp_path / "server.db"
    assert StartedServer.main(["--host", "10.1.2.3", "--db", str(db), "--no-announce"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[:3] == [
        "ocm-server listening on TCP 10.1.2.3:7000 and UDP 10.1.2.3:7001",
        "Others join with the address 10.1.2.3:7000. Press Ctrl+C to stop.",
        "Server identity: AAAA-BBBB-CCCC-DDDD-EEEE (joiners see the same; compare it aloud)",
    ]
    assert said[3:-1] == [line.format(db=db) for line in lines]
    assert StartedServer.made[0].stopped_with is closes
    assert said[-1] == (
        "ocm-server stopped; every room was told it closed."
        if closes
        else "ocm-server stopped; rooms resume when it starts again with the same --db."
    )
