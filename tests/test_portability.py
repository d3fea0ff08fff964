"""The app on Windows and macOS, checked on Linux.

- mypy with --platform win32, darwin and linux: typeshed knows which names each
  platform has, so a POSIX-only call (fcntl, socket.MSG_DONTWAIT, os.getuid) fails here.
- The app's --self-test and the headless server with what Windows' Python lacks taken
  away (tests/windows_like.py).
- Each platform branch of our own code, called with the platform as a parameter.
- The one-server-per-database lock and the UDP drain that replaced POSIX-only calls.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ocm_core import wire as p
from ocm_core.errors import DatabaseInUse
from ocm_core.net.client import ChatClient
from ocm_core.net.server import (
    BATCH_DATAGRAMS,
    ChatServer,
    default_max_connections,
    reuses_address,
)
from ocm_gui import theme

ROOT = Path(__file__).resolve().parent.parent
WINDOWS_LIKE = ROOT / "tests" / "windows_like.py"


# --- the static check ----------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["win32", "darwin", "linux"])
def test_mypy_is_clean_for(platform):
    # A cache per platform (mypy keys its cache on the options): warm runs take a second or two.
    cache = ROOT / ".mypy_cache" / platform
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--platform", platform, "--cache-dir", str(cache)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


# --- the app without what Windows lacks ----------------------------------------------------


def run_windows_like(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(WINDOWS_LIKE), *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_bootstrap_really_takes_the_posix_names_away():
    probe = "\n".join(
        [
            "import runpy, os, signal, socket",
            f"runpy.run_path({str(WINDOWS_LIKE)!r}, run_name='bootstrap')['take_away']()",
            "import selectors",
            "try:\n    import fcntl\nexcept ImportError:\n    print('no fcntl')",
            "print(hasattr(os, 'fork'), hasattr(os, 'getuid'), hasattr(socket, 'MSG_DONTWAIT'),",
            "      hasattr(signal, 'SIGKILL'), selectors.DefaultSelector.__name__)",
        ]
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["no fcntl", "False False False False SelectSelector"]


def test_self_test_passes_without_what_windows_lacks():
    result = run_windows_like("--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.match(r"self-test passed: relayed a message between two clients", result.stdout), result.stdout


def test_headless_server_with_a_database_runs_without_what_windows_lacks(tmp_path):
    db = tmp_path / "server.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(WINDOWS_LIKE),
            "--server",
            "--host",
            "127.0.0.1",
            "--tcp-port",
            "0",
            "--udp-port",
            "0",
            "--db",
            str(db),
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # blocks until the server says where it listens (or exits: "")
        match = re.search(r"TCP 127\.0\.0\.1:(\d+)", line)
        assert match, line + proc.stderr.read() if proc.poll() is not None else line
        client = ChatClient("127.0.0.1", int(match.group(1)), timeout=10)
        client.create_room("windows room", "host")
        client.leave()
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert db.exists()


# --- each platform's branch ----------------------------------------------------------------


def test_only_windows_skips_so_reuseaddr():
    assert reuses_address("linux") and reuses_address("darwin")
    assert not reuses_address("win32")


def test_windows_keeps_connections_under_selects_512_sockets():
    assert default_max_connections("win32") + 2 <= 512  # the listener and the wake-up socket too
    assert default_max_connections("linux") == default_max_connections("darwin") == 512


@pytest.mark.parametrize(
    ("platform", "installed", "expected"),
    [
        ("win32", {"Arial", "Meiryo", "Yu Gothic UI"}, "Yu Gothic UI"),
        ("win32", {"Arial", "Meiryo"}, "Meiryo"),
        ("darwin", {"Helvetica", "Hiragino Sans", "Noto Sans CJK JP"}, "Hiragino Sans"),
        ("linux", {"DejaVu Sans", "Noto Sans CJK JP", "Meiryo"}, "Noto Sans CJK JP"),
        ("freebsd14", {"IPAGothic"}, "IPAGothic"),
        ("linux", {"DejaVu Sans", "Yu Gothic UI"}, "Yu Gothic UI"),  # another platform's font beats none
        ("win32", {"Arial"}, None),
    ],
)
def test_font_family_per_platform(platform, installed, expected):
    assert theme.choose_family(installed, platform) == expected


@pytest.mark.parametrize(
    ("platform", "themes", "expected"),
    [
        ("win32", ("winnative", "clam", "alt", "default", "classic", "vista", "xpnative"), "vista"),
        ("win32", ("winnative", "clam", "default"), "winnative"),
        ("darwin", ("aqua", "clam", "alt", "default", "classic"), "aqua"),
        ("linux", ("clam", "alt", "default", "classic"), "clam"),
        ("darwin", ("clam", "default"), "clam"),  # a Tk built for X11 on a Mac
        ("linux", ("default",), None),
    ],
)
def test_ttk_theme_per_platform(platform, themes, expected):
    assert theme.choose_theme(themes, platform) == expected


def test_shortcuts_use_command_on_macos_and_control_elsewhere():
    assert theme.shortcut("r", "darwin") == "<Command-r>"
    assert theme.shortcut("r", "win32") == theme.shortcut("r", "linux") == "<Control-r>"


# --- the database lock ---------------------------------------------------------------------


def test_a_second_server_on_the_same_database_gets_a_clear_error_until_the_first_stops(tmp_path):
    db = tmp_path / "server.db"
    first = ChatServer("127.0.0.1", 0, 0, db_path=db)
    first.start()
    try:
        ChatClient("127.0.0.1", first.tcp_address[1], timeout=5).create_room("kept", "host")
        second = ChatServer("127.0.0.1", 0, 0, db_path=db)
        started = time.monotonic()
        with pytest.raises(DatabaseInUse) as caught:
            second.start()
        assert time.monotonic() - started < 2  # at once, not after SQLite's busy wait
        assert str(caught.value) == f"another server is using {db}; stop it or choose another database file"
        assert isinstance(caught.value, OSError)  # what the CLI turns into a sentence and exit 2
        assert not second.running
    finally:
        first.stop(close_rooms=False)
    third = ChatServer("127.0.0.1", 0, 0, db_path=db)
    third.start()
    try:
        assert [r["name"] for r in third.registry.list_rooms()] == ["kept"]
    finally:
        third.stop()


def test_the_lock_holds_across_processes(tmp_path):
    db = tmp_path / "server.db"
    with ChatServer("127.0.0.1", 0, 0, db_path=db):
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "packaging" / "onefile.py"),
                "--server",
                "--host",
                "127.0.0.1",
                "--tcp-port",
                "0",
                "--udp-port",
                "0",
                "--db",
                str(db),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"another server is using {db}; stop it or choose another database file" in result.stderr


# --- the UDP drain -------------------------------------------------------------------------


@pytest.mark.skipif(
    sys.platform != "linux", reason="counts on loopback delivering before sendto returns, as Linux does"
)
@pytest.mark.parametrize("waiting", [30, BATCH_DATAGRAMS + 36])
def test_datagrams_already_waiting_are_handled_together_in_batches_of_at_most_64(waiting):
    """While the relay is busy, datagrams queue in the socket; it then takes them in one go."""
    batches: list[int] = []
    busy, release = threading.Event(), threading.Event()
    with ChatServer("127.0.0.1", 0, 0) as server:
        handle = server.registry.handle_datagrams

        def recording(batch):
            batches.append(len(batch))
            if len(batches) == 1:
                busy.set()
                release.wait(10)
            return handle(batch)

        server.registry.handle_datagrams = recording
        # Well-formed frames with an unknown token: the registry drops them, which is all we need.
        datagram = p.encode_datagram(b"room", b"t" * 22, p.encode_heartbeat(0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(datagram, server.udp_address)
            assert busy.wait(10)
            for _ in range(waiting):
                sender.sendto(datagram, server.udp_address)
            release.set()
            deadline = time.monotonic() + 10
            while sum(batches) < 1 + waiting and time.monotonic() < deadline:
                time.sleep(0.01)
    assert batches[0] == 1
    assert batches[1:] == [min(waiting, BATCH_DATAGRAMS)] + (
        [waiting - BATCH_DATAGRAMS] if waiting > BATCH_DATAGRAMS else []
    )
