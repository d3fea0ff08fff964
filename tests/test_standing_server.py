"""Standing rooms at the server's edges: `--room NAME[:PASSWORD_FILE]` read into rooms and
passwords, a ChatServer that holds them (or refuses to start), their mark in a broadcast
answer, and ocm-server as a process stopped with SIGTERM and started again: the room, its id
and its history are back (docs/standing-rooms.md)."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from support import EventLog, handlers_kept, wait_until  # handlers_kept: a fixture, used by name
from test_cli import Process, processes  # processes: a fixture, used by name

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.cli import standing as cli_standing
from ocm_core.cli.server import server_main
from ocm_core.cli.standing import BadRoomOption, checks_file_modes, exposed, read_password_file, standing_rooms
from ocm_core.crypto.identity import KnownServers
from ocm_core.net import discovery as d
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer, StandingRoomRefused
from ocm_core.sansio import events as ev
from ocm_core.storage.roomstore import RoomStore

POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="file modes say who may read a file on POSIX only")


def password_file(folder: Path, text: str, mode: int = 0o600, name: str = "pw.txt") -> str:
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    os.chmod(path, mode)
    return str(path)


# --- --room, read ------------------------------------------------------------------------------


def test_each_room_is_a_name_and_a_password_from_the_first_line_of_its_file(tmp_path):
    crlf = password_file(tmp_path, "open sesame\r\nsecond line\r\n", name="crlf.txt")
    bom = password_file(tmp_path, "\ufeffパスワード", name="bom.txt")  # Notepad's UTF-8 starts with a BOM
    colon = password_file(tmp_path, "a:b\n", name="colon.txt")
    assert standing_rooms(["lobby", f"locked:{crlf}", f"雑談:{bom}", f"c:{colon}"]) == {
        "lobby": None,
        "locked": "open sesame",
        "雑談": "パスワード",
        "c": "a:b",
    }
    assert standing_rooms([]) == {}


@pytest.mark.parametrize(
    "values, sentence",
    [
        ([""], r"^--room needs a room name"),
        ([":pw.txt"], r"^--room needs a room name"),
        (["lobby:"], r"^--room lobby: give the password file after the ':'"),
        (["lobby", "LOBBY"], r"^--room names the room LOBBY twice"),
        (["lob\u200bby"], r"^--room lob\u200bby: The room name holds a character that cannot be seen .*\(U\+200B\)"),
        (["x" * 256], r"^The room name x+ is 256 bytes in UTF-8; the most is 255\.$"),
        (["lobby:missing.txt"], r"^Cannot read the password file missing\.txt for --room lobby: "),
    ],
)
def test_a_room_that_cannot_be_used_is_said_in_a_sentence(values, sentence, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadRoomOption, match=sentence):
        standing_rooms(values)


def test_an_empty_first_line_or_a_file_not_utf8_is_refused(tmp_path):
    empty = password_file(tmp_path, "\nthe second line is not the password\n", name="empty.txt")
    with pytest.raises(BadRoomOption, match=r"^The first line of the password file .*empty\.txt for --room r is empty"):
        read_password_file(empty, "r")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("mot de passe été".encode("latin-1"))
    os.chmod(latin1, 0o600)
    with pytest.raises(BadRoomOption, match=r"is not UTF-8 text\.$"):
        read_password_file(str(latin1), "r")


@POSIX_ONLY
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602, 0o620])
def test_on_posix_a_password_file_others_may_read_or_change_is_refused_with_the_chmod_to_run(tmp_path, mode):
    path = password_file(tmp_path, "pw", mode, name="my pw.txt")
    with pytest.raises(BadRoomOption) as refused:
        read_password_file(path, "locked")
    assert str(refused.value) == (
        f"The password file {path} can be read or changed by other users (its mode is {mode:03o}); "
        f"make it yours alone with: chmod 600 '{path}'"
    )


@POSIX_ONLY
def test_a_password_file_only_its_owner_may_read_is_taken(tmp_path):
    assert read_password_file(password_file(tmp_path, "pw", 0o600), "r") == "pw"
    assert read_password_file(password_file(tmp_path, "pw", 0o400, name="ro.txt"), "r") == "pw"


def test_windows_keeps_no_such_mode_so_the_check_is_skipped_there(tmp_path, monkeypatch):
    assert checks_file_modes("nt") is False and checks_file_modes("posix") is True
    assert exposed(0o100644) and exposed(0o100602) and not exposed(0o100600) and not exposed(0o100700)
    path = password_file(tmp_path, "pw\n", 0o644)
    monkeypatch.setattr(cli_standing, "checks_file_modes", lambda os_name=None: False)  # as on Windows
    assert standing_rooms([f"locked:{path}"]) == {"locked": "pw"}


def test_ocm_server_refuses_a_bad_room_before_it_starts(handlers_kept, tmp_path, capsys, monkeypatch):
    from ocm_core.cli import server as cli

    made: list[dict] = []

    class NeverMade:
        def __init__(self, *args, **settings):
            made.append(settings)

    monkeypatch.setattr(cli, "ChatServer", NeverMade)
    assert server_main(["--room", "lobby", "--room", "Lobby"]) == 2
    assert capsys.readouterr().err == (
        "ocm-server: --room names the room Lobby twice (or two names that read the same); name each room once.\n"
    )
    assert made == []


# --- a ChatServer that holds them ------------------------------------------------------------


def test_a_server_without_a_database_holds_its_standing_rooms_and_tells_their_members_at_its_stop(tmp_path):
    server = ChatServer("127.0.0.1", 0, 0, standing_rooms={"lobby": None, "secret": "pw"})
    server.start()
    try:
        known = KnownServers(tmp_path / "known.json")
        client = ChatClient("127.0.0.1", server.tcp_address[1], known_servers=known)
        listed = {r.name: r for r in client.list_rooms()}
        assert {name: (r.host, r.standing, r.locked, r.members) for name, r in listed.items()} == {
            "lobby": ("", True, False, 0),
            "secret": ("", True, True, 0),
        }
        with pytest.raises(errors.WrongPassword):
            client.join_room("secret", "ana", "not it")
        client.join_room("lobby", "ana")
        log = EventLog(client)
    finally:
        server.stop()
    closed = log.wait_type(ev.RoomClosed)[0]
    assert "server stopped" in closed.reason.lower()


def test_a_person_hosted_room_of_that_name_stops_the_start_with_a_sentence_and_frees_the_database(tmp_path):
    db = tmp_path / "server.db"
    first = ChatServer("127.0.0.1", 0, 0, db_path=db)
    first.start()
    host = ChatClient("127.0.0.1", first.tcp_address[1], known_servers=KnownServers(tmp_path / "known.json"))
    host.create_room("lobby", "ana")
    first.stop(close_rooms=False)
    host.leave()

    server = ChatServer("127.0.0.1", 0, 0, db_path=db, standing_rooms={"Lobby": None})
    with pytest.raises(StandingRoomRefused) as refused:
        server.start()
    assert str(refused.value) == (
        "A person hosts a room named “Lobby” on this server (or one whose name reads the same), so --room "
        "cannot hold it. Choose another name, or start once without this --room until that room closes."
    )
    assert isinstance(refused.value, OSError) and not server.running  # ocm-server says it and exits 2
    RoomStore(db).close()  # nothing holds the file any more
    with socket.socket() as probe:  # nor the ports
        probe.bind(("127.0.0.1", 0))


def test_a_standing_room_is_marked_in_the_broadcast_answer(tmp_path):
    server = ChatServer("127.0.0.1", 0, 0, standing_rooms={"lobby": None})
    server.start()
    scope = d.Scope.from_environment()  # the suite keeps discovery on loopback (conftest)
    announcer = d.Announcer(server, scope)
    announcer.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2.0)
    try:
        sock.sendto(p.encode_probe(b"\x07" * 8), ("127.0.0.1", scope.probe_port))
        data, _ = sock.recvfrom(2048)
        assert p.decode_answer(data).rooms == (p.RoomInfo("lobby", 0, False, "", "", True),)
    finally:
        sock.close()
        announcer.stop()
        server.stop()


# --- ocm-server as a process, stopped with SIGTERM and started again ---------------------------


def start_server(db: Path, pw: str, processes) -> tuple[Process, int]:
    server = processes(
        "ocm_core", "--host", "127.0.0.1", "--tcp-port", "0", "--udp-port", "0", "--db", str(db),
        "--no-announce", "--room", "lobby", "--room", f"locked:{pw}",
    )  # fmt: skip
    port = int(server.expect(r"listening on TCP 127\.0\.0\.1:(\d+)")[1])
    server.expect(r"^Standing rooms, held by this server with no host: lobby, locked$")
    return server, port


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM as a service manager sends it")
def test_standing_rooms_and_their_history_outlast_a_restart_of_ocm_server(tmp_path, processes):
    db, known = tmp_path / "server.db", KnownServers(tmp_path / "known.json")
    pw = password_file(tmp_path, "sesame\n")
    server, port = start_server(db, pw, processes)

    ana = ChatClient("127.0.0.1", port, known_servers=known)
    listed = {r.name: r for r in ana.list_rooms()}
    assert [(r.name, r.host, r.standing, r.locked) for r in listed.values()] == [
        ("lobby", "", True, False),
        ("locked", "", True, True),
    ]
    lobby_id = listed["lobby"].room_id
    ana.join_room("lobby", "ana")
    log = EventLog(ana)
    msg_id = ana.send("see you after the restart")
    log.wait_for(lambda seen: any(isinstance(e, ev.MessageSent) and e.msg_id == msg_id for e in seen), what="ack")
    ana.leave()
    wait_until(lambda: [(r.name, r.members) for r in ana.list_rooms()] == [("lobby", 0), ("locked", 0)])
    with pytest.raises(errors.WrongPassword):
        ChatClient("127.0.0.1", port, known_servers=known).join_room("locked", "bo", "not sesame")

    server.proc.send_signal(signal.SIGTERM)
    assert server.finish() == 0
    server.expect(r"ocm-server stopped; rooms resume when it starts again with the same --db\.")

    server, port = start_server(db, pw, processes)
    bo = ChatClient("127.0.0.1", port, known_servers=known)
    listed = {r.name: r for r in bo.list_rooms()}
    assert (listed["lobby"].standing, listed["lobby"].host, listed["lobby"].room_id) == (True, "", lobby_id)
    bo.join_room("lobby", "bo")
    history = EventLog(bo).wait_for(
        lambda seen: [e.text for e in seen if isinstance(e, ev.ChatMessage) and e.history], what="the history"
    )
    assert history == ["see you after the restart"]
    snapshot = bo._sync()
    assert (snapshot.room_id, snapshot.standing, snapshot.host) == (lobby_id, True, "")
    carol = ChatClient("127.0.0.1", port, known_servers=known)
    carol.join_room("locked", "carol", "sesame")
    carol.leave()
    bo.leave()
    server.proc.send_signal(signal.SIGTERM)
    assert server.finish() == 0


@pytest.mark.slow
@POSIX_ONLY
def test_ocm_server_with_a_password_file_others_may_read_exits_with_the_chmod_to_run(tmp_path, processes):
    pw = password_file(tmp_path, "sesame\n", 0o644)
    server = processes(
        "ocm_core", "--host", "127.0.0.1", "--tcp-port", "0", "--udp-port", "0", "--no-db", "--no-announce",
        "--room", f"locked:{pw}",
    )  # fmt: skip
    assert server.finish() == 2
    server.expect(
        rf"^ocm-server: The password file {pw} can be read or changed by other users \(its mode is 644\); "
        rf"make it yours alone with: chmod 600 {pw}$"
    )
