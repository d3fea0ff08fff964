"""Shared fixtures: the user's own files kept out of reach, swallowed errors made loud,
a real ChatServer on 127.0.0.1 with free ports.

Two autouse fixtures guard every test (docs/testing.md says more):
- `isolated_user_dirs` (once per session) points HOME and every data, config, cache and
  state directory at a temporary one, and fails the run if anything under the real
  user's app directories changed meanwhile; it also points D-Bus at a bus that is not
  there, so no test raises a notification on the developer's desktop;
- `no_error_logs` (per test) fails a test in which a logger under ocm_core or ocm_gui
  logged at ERROR or above, unless the test is marked `expect_error_log`.
"""

from __future__ import annotations

import inspect
import logging
import os
import random
import re
import socket
from pathlib import Path

import pytest

from ocm_core import i18n
from ocm_core.net import discovery
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer

# --- no test touches the user's files ---------------------------------------------------

# The variables that decide where the app (and platformdirs) put files, on each platform.
USER_DIR_VARIABLES = {
    "HOME": "home",
    "USERPROFILE": "home",  # Path.home() on Windows
    "XDG_DATA_HOME": "home/.local/share",
    "XDG_CONFIG_HOME": "home/.config",
    "XDG_CACHE_HOME": "home/.cache",
    "XDG_STATE_HOME": "home/.local/state",
    "APPDATA": "home/AppData/Roaming",
    "LOCALAPPDATA": "home/AppData/Local",
}


def _app_dir_name(name: str) -> bool:
    """Whether a directory entry looks like ours ("online-chat-messenger", "OnlineChatMessenger")."""
    return "onlinechatmessenger" in re.sub(r"[^a-z]", "", name.lower())


def real_user_bases(environ: os._Environ | dict[str, str] = os.environ) -> list[Path]:
    """The directories under which the app might keep files for the real user, on any platform."""
    home = Path(environ.get("HOME") or environ.get("USERPROFILE") or Path.home())
    bases = [
        Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share"),
        Path(environ.get("XDG_CONFIG_HOME") or home / ".config"),
        Path(environ.get("XDG_CACHE_HOME") or home / ".cache"),
        Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state"),
        home / "Library" / "Application Support",
        home / "Library" / "Caches",
        home / "Library" / "Logs",
        home / "Library" / "Preferences",
        home,
    ]
    bases += [Path(environ[key]) for key in ("APPDATA", "LOCALAPPDATA") if environ.get(key)]
    return list(dict.fromkeys(bases))


def snapshot_app_dirs(bases: list[Path]) -> dict[str, tuple[int, int]]:
    """Every file and directory under our app's directories in `bases`: path -> (size, mtime)."""
    seen: dict[str, tuple[int, int]] = {}
    for base in bases:
        try:
            entries = [entry for entry in base.iterdir() if _app_dir_name(entry.name)]
        except OSError:
            continue
        for entry in entries:
            for path in [entry, *(entry.rglob("*") if entry.is_dir() else [])]:
                try:
                    stat = path.stat()
                except OSError:
                    continue
                seen[str(path)] = (stat.st_size if path.is_file() else 0, stat.st_mtime_ns)
    return seen


def describe_changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    changes = [f"created {path}" for path in sorted(after.keys() - before.keys())]
    changes += [f"deleted {path}" for path in sorted(before.keys() - after.keys())]
    changes += [f"modified {path}" for path in sorted(before.keys() & after.keys()) if before[path] != after[path]]
    return changes


@pytest.fixture(scope="session", autouse=True)
def isolated_user_dirs(tmp_path_factory):
    """HOME and the app's data/config/cache/state directories in a temporary directory for the
    whole session (subprocesses inherit it), and no D-Bus session bus; fails the run if the
    real directories changed."""
    bases = real_user_bases()
    before = snapshot_app_dirs(bases)
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as patch:
        for variable, relative in USER_DIR_VARIABLES.items():
            path = root / relative
            path.mkdir(parents=True, exist_ok=True)
            patch.setenv(variable, str(path))
        # Servers the tests kill with SIGKILL cannot remove their temporary file folders;
        # pointed here, those folders go with pytest's own temporary directory.
        # The scripts' one-folder override (ocm_core/paths.py) would win over the XDG folders
        # that single tests point elsewhere; a developer's own setting must not reach them.
        patch.delenv("OCM_HOME", raising=False)
        scratch = root / "tmp"
        scratch.mkdir()
        patch.setenv("TMPDIR", str(scratch))
        # No bus at all: a chat window in the background would otherwise raise desktop
        # notifications on the developer's real desktop. tests/gui/test_notify.py starts its own.
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={root / 'no-session-bus'}")
        yield root
    if "MUTANT_UNDER_TEST" in os.environ:
        return  # under mutmut a concurrent write would "kill" a mutant; the directories stay redirected
    changes = describe_changes(before, snapshot_app_dirs(bases))
    if changes:
        pytest.fail(
            "the real user's app files changed while the tests ran (by a test, or by another program"
            " of this user at the same time):\n  " + "\n  ".join(changes[:20]),
            pytrace=False,
        )


# --- a swallowed error fails the test ----------------------------------------------------

WATCHED_LOGGERS = ("ocm_core", "ocm_gui")


class _ErrorRecords(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _describe(record: logging.LogRecord) -> str:
    text = f"{record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


@pytest.fixture(autouse=True)
def no_error_logs(request):
    """Fails the test if ocm_core or ocm_gui logged at ERROR or above while it ran (set up first,
    torn down last, so servers stopping in other fixtures are watched too).

    A test that provokes such a log on purpose says so: `@pytest.mark.expect_error_log(pattern)`
    requires at least one, and every one, to match `pattern` (a regular expression searched in
    the message).
    """
    handler = _ErrorRecords()
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    expected = request.node.get_closest_marker("expect_error_log")
    records = list(handler.records)
    if expected is None:
        if records:
            pytest.fail("logged at ERROR during the test:\n" + "\n".join(map(_describe, records)), pytrace=False)
        return
    pattern = expected.args[0] if expected.args else ""
    unexpected = [r for r in records if not re.search(pattern, r.getMessage())]
    if unexpected:
        pytest.fail(
            f"logged at ERROR, not matching {pattern!r}:\n" + "\n".join(map(_describe, unexpected)), pytrace=False
        )
    if not records:
        pytest.fail(f"the test expected an ERROR log matching {pattern!r}, and none came", pytrace=False)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "expect_error_log(pattern): the test provokes an ERROR log under ocm_core/ocm_gui matching pattern"
    )
    config.addinivalue_line(
        "markers", "network: opens sockets or starts processes (set from its fixtures and source; see below)"
    )
    config.addinivalue_line(
        "markers", "mutation_run: uses sockets, yet quick enough for the mutation run (a stub peer, one server)"
    )
    config.addinivalue_line(
        "markers", "source_text: reads the source or build files as text (which the mutation run rewrites)"
    )
    config.addinivalue_line(
        "markers",
        "waits: waits a second or more on a timeout; left out of the mutation run, where each survivor pays it",
    )


# Tests that reach a server, a socket or a process, told apart without running them, so the
# mutation run can leave them out (`-m "not network or mutation_run"`; docs/testing.md):
# through every server they start, a mutant in the crypto or the store would cost seconds each.
NETWORK_FIXTURES = {"server", "plain_server", "make_client"}
NETWORK_CALLS = (
    "ChatServer(",
    "ChatClient(",
    "socket.socket(",
    "socket.create_connection(",
    "subprocess.",
    "ServerProcess(",
    "start_cli_server(",
)


def pytest_collection_modifyitems(config, items):
    _shuffle_if_asked(config, items)
    for item in items:
        function = getattr(item, "function", None)
        try:
            source = inspect.getsource(function) if function is not None else ""
        except (OSError, TypeError):
            source = ""
        if (
            item.get_closest_marker("slow") is not None
            or NETWORK_FIXTURES & set(getattr(item, "fixturenames", ()))
            or any(call in source for call in NETWORK_CALLS)
        ):
            item.add_marker("network")


def _shuffle_if_asked(config, items) -> None:
    """OCM_TEST_ORDER=random (or a number, to repeat an order) runs the tests shuffled, to
    find one that passes only after another; the seed is printed so a failure can be re-run."""
    order = os.environ.get("OCM_TEST_ORDER", "")
    if not order:
        return
    seed = random.randrange(1_000_000) if order == "random" else int(order)
    random.Random(seed).shuffle(items)
    config.get_terminal_writer().line(f"tests shuffled: OCM_TEST_ORDER={seed} repeats this order")


# --- a real server -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """Tests read the source language unless they choose another (tests/test_i18n.py does),
    whatever the machine's LANG says; the language is put back after each test. LANGUAGE
    (read first by gettext and by `i18n.use_language()`) says English to the CLIs the tests
    start in process or as children, while LANG and LC_ALL keep the machine's encoding and
    formats: the suite runs in ja_JP.UTF-8 as well as C.UTF-8 (docs/testing.md)."""
    monkeypatch.setenv("LANGUAGE", "en")
    i18n.use_language("en")
    yield
    i18n.use_language("en")


@pytest.fixture(autouse=True)
def private_user_dirs(tmp_path_factory, monkeypatch):
    """Each test keeps server identities and trusted keys in directories of its own: a port
    reused by another test's server must not look like a changed identity."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    return base


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# No test announces or probes on a real network: discovery stays on loopback (no mDNS,
# broadcast to 127.255.255.255), on a probe port of this run's own so that parallel runs
# do not hear each other. Set here, so CLI subprocesses inherit it; tests/test_lan.py
# gives its namespaced processes the real settings.
os.environ[discovery.SCOPE_ENV] = "loopback"
os.environ[discovery.PORT_ENV] = str(_free_udp_port())


@pytest.fixture
def server():
    srv = ChatServer("127.0.0.1", 0, 0)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def plain_server():
    """A server started as `ocm-server --allow-plain`: it also admits unencrypted clients."""
    srv = ChatServer("127.0.0.1", 0, 0, allow_plain=True)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def make_client(server):
    clients: list[ChatClient] = []

    def make(**kwargs) -> ChatClient:
        client = ChatClient("127.0.0.1", server.tcp_address[1], **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.leave()
