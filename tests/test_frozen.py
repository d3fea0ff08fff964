"""The app's own command line, unfrozen and as the one-file executable from build.spec.

The fast tests run the entry script (packaging/onefile.py) with --version, --self-test and --server.
The slow ones build build.spec once per session into a temporary directory, then run
the executable: --version, --self-test, --server (reached by a real ChatClient), and
with no flags on the virtual screen (pytest-xvfb's DISPLAY) until the start window
shows, then close it the way a window manager's close button does and expect exit 0.
"""

from __future__ import annotations

import configparser
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocm_core import __version__
from ocm_core.net.client import ChatClient
from ocm_core.sansio.events import ChatMessage
from ocm_gui import autostart

ROOT = Path(__file__).resolve().parent.parent
APP = "OnlineChatMessenger"
WINDOW_NAME = "Online Chat Messenger"
BUILD_TIMEOUT = 900  # seconds; a build here takes well under a minute


# --- helpers ------------------------------------------------------------------------------


def run(cmd: list[str], timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env
    )


def start_program(cmd: list[str], **kwargs) -> subprocess.Popen:
    """Starts a program in its own process group, so kill_all() can end all of it.

    (The one-file app is two processes: the bootloader and the Python program it
    unpacks and runs. Killing only the first leaves the second holding our pipes.)
    """
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )


def kill_all(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(port: int, proc: subprocess.Popen, deadline_s: float = 30.0) -> None:
    """Polls the server's TCP port with a real list request until it answers."""
    deadline = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            out, err = proc.communicate(timeout=15)
            pytest.fail(f"the server exited with {proc.returncode} before it answered:\n{out}\n{err}")
        try:
            ChatClient("127.0.0.1", port, timeout=1.0).list_rooms()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def check_headless_server(cmd: list[str], db: Path) -> None:
    """Starts `cmd --server` on free ports with a fresh `db`, creates a room in it, stops it with Ctrl+C."""
    tcp_port, udp_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    proc = start_program(
        [
            *cmd,
            "--server",
            "--host",
            "127.0.0.1",
            "--tcp-port",
            str(tcp_port),
            "--udp-port",
            str(udp_port),
            "--db",
            str(db),
        ]
    )
    client = None
    try:
        wait_for_server(tcp_port, proc)
        client = ChatClient("127.0.0.1", tcp_port, timeout=5.0)
        client.create_room("frozen server check", "host")
        listed = {room.name: room for room in ChatClient("127.0.0.1", tcp_port).list_rooms()}
        assert "frozen server check" in listed and listed["frozen server check"].members == 1, listed
        client.leave()
        client = None
        proc.send_signal(signal.SIGINT)  # what Ctrl+C in the terminal does
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
        assert db.is_file(), "the server kept its rooms somewhere other than --db"
    finally:
        if client is not None:
            client.leave()
        kill_all(proc)


def visible_windows(name: str) -> set[str]:
    result = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", name], capture_output=True, text=True, timeout=10
    )
    return set(result.stdout.split())


class _XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessageEvent), ("pad", ctypes.c_long * 24)]


def press_close_button(window: int) -> None:
    """Sends WM_DELETE_WINDOW to `window`, as a window manager's close button does.

    (`xdotool windowclose` destroys the window under Tk's feet instead, and Tk then
    dies of a BadWindow X error; Xvfb has no window manager to ask.)
    """
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(_XEvent)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    assert display, f"cannot open the X display {os.environ.get('DISPLAY')!r}"
    try:
        event = _XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
        event.xclient.data[1] = 0  # CurrentTime
        x11.XSendEvent(display, window, 0, 0, ctypes.byref(event))
        x11.XFlush(display)
    finally:
        x11.XCloseDisplay(display)


# --- unfrozen: the entry script, packaging/onefile.py ----------------------------------

UNFROZEN = [sys.executable, str(Path(__file__).resolve().parents[1] / "packaging" / "onefile.py")]


def test_version_unfrozen():
    result = run([*UNFROZEN, "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Online Chat Messenger {__version__}"


def test_self_test_unfrozen():
    result = run([*UNFROZEN, "--self-test"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("self-test passed: relayed a message"), result.stdout
    assert "found the room by probe (_ocm._tcp.local.)" in lines[0]  # zeroconf is in the build


def test_self_test_failure_is_one_line_and_exit_1(monkeypatch, capsys):
    from ocm_gui import __main__ as entry
    from ocm_gui import selftest

    def broken(timeout):
        raise selftest.SelfTestFailed("the server did not start (port in use)")

    monkeypatch.setattr(selftest, "run", broken)
    assert entry.main(["--self-test"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "self-test failed: the server did not start (port in use)\n"


def test_server_flag_forwards_the_rest(monkeypatch):
    import ocm_core.cli.server

    entry = onefile_entry()
    seen = []
    monkeypatch.setattr(ocm_core.cli.server, "server_main", lambda argv=None: seen.append(argv) or 7)
    assert entry.main(["--server", "--tcp-port", "9999", "--log-level", "DEBUG"]) == 7
    assert seen == [["--tcp-port", "9999", "--log-level", "DEBUG"]]


def onefile_entry():
    """packaging/onefile.py, the one-file app's entry script, as a module."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "packaging" / "onefile.py"
    spec = importlib.util.spec_from_file_location("onefile_entry", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_server_flag_must_come_first(capsys):
    entry = onefile_entry()

    assert entry.main(["--version", "--server"]) == 2
    assert "--server must come first" in capsys.readouterr().err


def test_headless_server_unfrozen(tmp_path):
    check_headless_server(UNFROZEN, tmp_path / "server.db")


# --- the Linux desktop entry, installed for one user -------------------------------------


MIMEAPPS_OF_SOMEONE = """\
[Default Applications]
text/html=firefox-esr.desktop
x-scheme-handler/mailto=thunderbird.desktop

[Added Associations]
image/png=gimp.desktop;
"""


def fake_xdg_mime(folder: Path, *, works: bool) -> Path:
    """A bin folder with an xdg-mime that records its arguments and succeeds, or fails as on a bare system."""
    folder.mkdir()
    script = folder / "xdg-mime"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/calls"\nexit {0 if works else 1}\n')
    script.chmod(0o755)
    return folder


def files_left(folder: Path) -> list[Path]:
    """The files under a folder, but update-desktop-database's cache (on a machine that has it)."""
    return sorted(p for p in folder.rglob("*") if not p.is_dir() and p.name != "mimeinfo.cache")


def install_env(home: Path, bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    return env | {"HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


def test_install_desktop_entry_for_one_user(tmp_path, monkeypatch):
    app = tmp_path / "build" / APP
    app.parent.mkdir()
    app.write_text("#!/bin/sh\nexit 0\n")
    home = tmp_path / "home dir $x"  # a space and a dollar, as the Exec quoting must survive
    bin_dir = fake_xdg_mime(tmp_path / "bin", works=False)  # so the script edits mimeapps.list itself
    env = install_env(home, bin_dir)
    script = str(ROOT / "packaging" / "install-desktop-entry.sh")
    mimeapps = home / ".config" / "mimeapps.list"
    mimeapps.parent.mkdir(parents=True)
    mimeapps.write_text(MIMEAPPS_OF_SOMEONE)

    result = run(["bash", script, str(app)], env=env)
    assert result.returncode == 0, result.stderr
    installed = home / ".local" / "bin" / APP
    assert installed.read_text() == app.read_text() and os.access(installed, os.X_OK)
    share = home / ".local" / "share"
    for size in (48, 128, 256):
        icon = share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "online-chat-messenger.png"
        assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    desktop = share / "applications" / "online-chat-messenger.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(desktop, encoding="utf-8")
    group = entry["Desktop Entry"]
    assert group["Type"] == "Application"
    assert group["Name"] == "Online Chat Messenger"
    assert group["Exec"] == autostart.desktop_exec([str(installed)]) + " %u"  # quoted as the app quotes
    assert group["Exec"].startswith('"') and "\\\\$x" in group["Exec"]
    assert group["TryExec"] == str(installed)
    assert group["MimeType"] == "x-scheme-handler/ocm;"
    assert group["Icon"] == "online-chat-messenger"
    assert group["Terminal"] == "false"
    if shutil.which("desktop-file-validate"):
        check = run(["desktop-file-validate", str(desktop)])
        assert check.returncode == 0, check.stdout + check.stderr
    assert (bin_dir / "calls").read_text() == "default online-chat-messenger.desktop x-scheme-handler/ocm\n"
    assert mimeapps.read_text() == MIMEAPPS_OF_SOMEONE.replace(
        "thunderbird.desktop\n", "thunderbird.desktop\nx-scheme-handler/ocm=online-chat-messenger.desktop\n"
    )

    # What the app itself may add later (ocm_gui/autostart.py): the uninstall takes it away too.
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    autostart.enable_start_at_login([str(installed)], platform="linux", home=home)
    autostart.register_link_handler([str(installed)], platform="linux", home=home)
    assert "ocm=online-chat-messenger-link.desktop" in mimeapps.read_text()

    result = run(["bash", script, "--uninstall"], env=env)
    assert result.returncode == 0, result.stderr
    assert not installed.exists() and not desktop.exists()
    assert not list((share / "icons").rglob("online-chat-messenger.png"))
    assert mimeapps.read_text() == MIMEAPPS_OF_SOMEONE  # every other line kept
    assert files_left(home) == [mimeapps]  # no autostart entry, no link entry, no temporary file


def test_install_desktop_entry_uses_xdg_mime_and_leaves_nothing_behind(tmp_path):
    app = tmp_path / APP
    app.write_text("#!/bin/sh\nexit 0\n")
    home = tmp_path / "ホーム"
    bin_dir = fake_xdg_mime(tmp_path / "bin", works=True)
    env = install_env(home, bin_dir) | {
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    script = str(ROOT / "packaging" / "install-desktop-entry.sh")

    assert run(["bash", script, str(app)], env=env).returncode == 0
    assert (bin_dir / "calls").read_text() == "default online-chat-messenger.desktop x-scheme-handler/ocm\n"
    assert (tmp_path / "data" / "applications" / "online-chat-messenger.desktop").is_file()
    # xdg-mime's own generic branch writes this line; the uninstall takes it out again.
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mimeapps.list").write_text(
        "[Default Applications]\nx-scheme-handler/ocm=online-chat-messenger.desktop\n"
    )
    autostart_entry = tmp_path / "cfg" / "autostart" / "online-chat-messenger.desktop"
    autostart_entry.parent.mkdir()
    autostart_entry.write_text("[Desktop Entry]\n")

    result = run(["bash", script, "--uninstall"], env=env)
    assert result.returncode == 0, result.stderr
    assert [p for p in files_left(tmp_path) if bin_dir not in p.parents] == [app]


DESKTOP_SESSION_VARIABLES = (
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_DESKTOP",
    "DESKTOP_SESSION",
    "KDE_FULL_SESSION",
    "KDE_SESSION_VERSION",
    "GNOME_DESKTOP_SESSION_ID",
    "MATE_DESKTOP_SESSION_ID",
    "LXQT_SESSION_CONFIG",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
)


@pytest.mark.skipif(not shutil.which("xdg-mime"), reason="needs xdg-utils' xdg-mime")
def test_install_desktop_entry_with_the_real_xdg_mime(tmp_path):
    """Outside any desktop session xdg-mime edits mimeapps.list itself; the uninstall undoes it."""
    app = tmp_path / APP
    app.write_text("#!/bin/sh\nexit 0\n")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in DESKTOP_SESSION_VARIABLES}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "cfg"), "XDG_DATA_HOME": str(home / "data")}
    mimeapps = home / "cfg" / "mimeapps.list"
    mimeapps.parent.mkdir(parents=True)
    mimeapps.write_text(MIMEAPPS_OF_SOMEONE)
    script = str(ROOT / "packaging" / "install-desktop-entry.sh")

    result = run(["bash", script, str(app)], env=env)
    assert result.returncode == 0, result.stderr
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(mimeapps.read_text())
    assert parsed["Default Applications"]["x-scheme-handler/ocm"] == "online-chat-messenger.desktop"
    assert parsed["Default Applications"]["text/html"] == "firefox-esr.desktop"

    result = run(["bash", script, "--uninstall"], env=env)
    assert result.returncode == 0, result.stderr
    assert "x-scheme-handler/ocm" not in mimeapps.read_text()
    for line in MIMEAPPS_OF_SOMEONE.splitlines():
        assert line in mimeapps.read_text().splitlines()
    assert files_left(home) == [mimeapps]


def test_install_desktop_entry_without_a_build_says_what_to_do(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path))
    result = run(["bash", str(ROOT / "packaging" / "install-desktop-entry.sh"), str(tmp_path / "missing")], env=env)
    assert result.returncode == 1
    assert "build it first with: bash scripts/build_app.sh" in result.stderr
    assert not (tmp_path / ".local").exists()


# --- frozen: the one-file executable -----------------------------------------------------


@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory) -> Path:
    """Builds build.spec once for this module; returns the executable's path."""
    base = tmp_path_factory.mktemp("pyinstaller")
    dist, work = base / "dist", base / "work"
    started = time.monotonic()
    result = run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(dist),
            "--workpath",
            str(work),
            str(ROOT / "build.spec"),
        ],
        timeout=BUILD_TIMEOUT,
    )
    if result.returncode != 0:
        pytest.fail(f"pyinstaller build.spec failed ({result.returncode}):\n{result.stderr[-4000:]}")
    exe = dist / (APP + ".exe" if os.name == "nt" else APP)
    assert exe.is_file(), f"no {exe} after the build; dist holds {sorted(p.name for p in dist.iterdir())}"
    print(f"\nbuilt {exe} in {time.monotonic() - started:.0f} s, {exe.stat().st_size / 1e6:.1f} MB")
    return exe


@pytest.mark.slow
def test_frozen_size_is_under_40_mb(frozen_app):
    assert frozen_app.stat().st_size < 40_000_000


@pytest.mark.slow
def test_frozen_version(frozen_app):
    result = run([str(frozen_app), "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Online Chat Messenger {__version__}"


@pytest.mark.slow
def test_frozen_self_test(frozen_app):
    result = run([str(frozen_app), "--self-test"])
    assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("self-test passed: relayed a message"), result.stdout
    assert "found the room by probe (_ocm._tcp.local.)" in lines[0]  # zeroconf is in the build
    assert "Tcl 8.6" in lines[0]


@pytest.mark.slow
def test_frozen_headless_server(frozen_app, tmp_path):
    check_headless_server([str(frozen_app)], tmp_path / "server.db")


@pytest.mark.slow
def test_frozen_app_carries_the_catalogs_and_speaks_japanese(frozen_app):
    env = {**os.environ, "LANG": "ja_JP.UTF-8", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
    result = run([str(frozen_app), "--server", "--help"], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("使い方: ocm-server"), result.stdout
    assert "画面なしで Online Chat Messenger のサーバーを動かします。" in result.stdout


@pytest.mark.slow
def test_frozen_app_opens_start_window_and_closes(frozen_app):
    if not os.environ.get("DISPLAY"):
        pytest.skip("no DISPLAY: pytest-xvfb was disabled and there is no screen")
    before = visible_windows(WINDOW_NAME)
    started = time.monotonic()
    proc = start_program([str(frozen_app)])
    try:
        window = None
        while window is None:
            if proc.poll() is not None:
                out, err = proc.communicate(timeout=15)
                pytest.fail(f"the app exited with {proc.returncode} before its window appeared:\n{out}\n{err}")
            if time.monotonic() - started > 30:
                pytest.fail(f"no new window named {WINDOW_NAME!r} within 30 s")
            new = visible_windows(WINDOW_NAME) - before
            window = min(new, key=int) if new else None
            time.sleep(0.05)
        print(f"\nstart window after {time.monotonic() - started:.2f} s")
        if shutil.which("xprop"):  # the desktop entry's StartupWMClass must name this window's class
            wm_class = run(["xprop", "-id", window, "WM_CLASS"]).stdout
            entry = (ROOT / "packaging" / "online-chat-messenger.desktop").read_text(encoding="utf-8")
            startup_class = next(
                line.split("=", 1)[1] for line in entry.splitlines() if line.startswith("StartupWMClass=")
            )
            assert wm_class.rstrip().endswith(f'"{startup_class}"'), wm_class

        press_close_button(int(window))
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, f"exit {proc.returncode} after closing the start window\n{out}\n{err}"
        assert not (visible_windows(WINDOW_NAME) - before)
    finally:
        kill_all(proc)


def test_committed_icons_are_what_make_icons_draws():
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import make_icons
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    committed = (ROOT / "packaging" / "online-chat-messenger-48.png").read_bytes()
    assert make_icons.png_bytes(48, make_icons.render(48)) == committed
    ico = (ROOT / "packaging" / "online-chat-messenger.ico").read_bytes()
    assert ico[:6] == b"\x00\x00\x01\x00\x07\x00"  # an icon file with 7 sizes
    assert (ROOT / "packaging" / "online-chat-messenger.icns").read_bytes()[:4] == b"icns"


# --- frozen, as a new user tries it: two copies of the app on one screen ----------------


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=15, capture_output=True)


def watch_windows(pattern: str, proc: subprocess.Popen, found, what: str, timeout: float) -> str:
    """Polls the windows matching `pattern` until `found(windows)` gives a value; fails if the
    app exits first or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not (value := found(visible_windows(pattern))):
        if proc.poll() is not None:
            out, err = proc.communicate(timeout=15)
            pytest.fail(f"the app exited with {proc.returncode} while waiting for {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f} s")
        time.sleep(0.05)
    return value


def wait_for_new_window(pattern: str, before: set[str], proc: subprocess.Popen, timeout: float = 30.0) -> str:
    return watch_windows(
        pattern,
        proc,
        lambda shown: min(shown - before, key=int, default=None),
        f"new window matching {pattern!r}",
        timeout,
    )


def wait_for_window_gone(window: str, pattern: str, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Waits until `window` is no longer shown after its close button was pressed."""
    watch_windows(
        pattern, proc, lambda shown: window not in shown, f"closing of window {window} ({pattern!r})", timeout
    )


def keyboard(window: str, *steps: str) -> None:
    """Focuses `window` and types: "Tab", "Return", "ctrl+q" are keys, anything else is text."""
    xdotool("windowfocus", "--sync", window)
    for step in steps:
        if step in ("Tab", "Return", "ctrl+q"):
            xdotool("key", "--clearmodifiers", step)
        else:
            xdotool("type", "--delay", "15", step)


@pytest.mark.slow
def test_frozen_app_two_copies_host_join_and_chat(frozen_app, tmp_path):
    """The issue's check: host in one copy, join from a second, chat, close both.

    Everything goes through the keyboard (real X input via xdotool); a third member,
    a ChatClient in this test, sees both people's messages relayed.
    """
    if not os.environ.get("DISPLAY"):
        pytest.skip("no DISPLAY: pytest-xvfb was disabled and there is no screen")
    # One main window per copy: its title names the room shown (after its unread count).
    start_title, chat_title = "^Online Chat Messenger$", r"^(\([0-9]+\) )?lobby .* Online Chat Messenger$"
    tcp, udp = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    procs: list[subprocess.Popen] = []

    def launch(person: str, ports: tuple[int, int] | None = None) -> tuple[subprocess.Popen, str]:
        home = tmp_path / person
        home.mkdir()
        if ports is not None:
            settings = home / ".config" / "online-chat-messenger" / "settings.json"
            settings.parent.mkdir(parents=True)
            settings.write_text(json.dumps({"tcp_port": ports[0], "udp_port": ports[1]}), encoding="utf-8")
        env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
        before = visible_windows(start_title)
        proc = start_program([str(frozen_app)], env=env)
        procs.append(proc)
        return proc, wait_for_new_window(start_title, before, proc)

    carol = None
    try:
        # Alice hosts "lobby" on free ports (her settings hold them: the ports sit under
        # Advanced, where the defaults usually do): her name, Tab to Host a room, Enter;
        # the dialog starts at the room name: type it, Enter.
        alice, alice_start = launch("alice", ports=(tcp, udp))
        keyboard(alice_start, "Alice", "Tab", "Return")
        host_dialog = wait_for_new_window("^Host a room$", set(), alice)
        chats_before = visible_windows(chat_title)
        keyboard(host_dialog, "lobby", "Return")
        alice_chat = wait_for_new_window(chat_title, chats_before, alice)

        carol = ChatClient("127.0.0.1", tcp, timeout=5.0)
        carol.join_room("lobby", "Carol")

        # Bob joins from a second copy: his name, Tab Tab to Join a room, Enter. The dialog
        # opens on the rooms found on the network (the suite keeps discovery on loopback),
        # with the keyboard on the list, which picks the first room found: Enter joins it.
        # An Enter before the room is listed only says "pick a room"; so press until in.
        bob, bob_start = launch("bob")
        keyboard(bob_start, "Bob", "Tab", "Tab", "Return")
        join_dialog = wait_for_new_window("^Join a room$", set(), bob)
        deadline = time.monotonic() + 15
        while not (bob_chats := visible_windows(chat_title) - chats_before - {alice_chat}):
            assert time.monotonic() < deadline, "Bob's Join dialog did not join the room found"
            try:
                keyboard(join_dialog, "Return")
            except subprocess.CalledProcessError:
                pass  # the dialog closed between the look and the key: the join is under way
            wait_until_deadline = time.monotonic() + 1.0
            while time.monotonic() < wait_until_deadline and not (
                visible_windows(chat_title) - chats_before - {alice_chat}
            ):
                time.sleep(0.05)
        bob_chat = min(bob_chats, key=int)

        keyboard(alice_chat, "hello from Alice, こんにちは", "Return")
        keyboard(bob_chat, "hi Alice, Bob here", "Return")
        seen = []
        deadline = time.monotonic() + 15
        while len(seen) < 2 and time.monotonic() < deadline:
            try:
                event = carol.events.get(timeout=0.2)
            except Exception:
                continue
            if isinstance(event, ChatMessage):
                seen.append((event.sender, event.text))
        assert sorted(seen) == [("Alice", "hello from Alice, こんにちは"), ("Bob", "hi Alice, Bob here")]
        carol.leave()
        carol = None

        # The close button leaves no room: the copy goes on (and says how to quit). Ctrl+Q
        # quits: Bob first, then Alice, whose room is empty by then, so she is not asked.
        for proc, chat in ((bob, bob_chat), (alice, alice_chat)):
            press_close_button(int(chat))
            wait_for_new_window(start_title, {chat}, proc)  # the note "keeps running"
            assert proc.poll() is None, "closing the window ended the app"
            keyboard(chat, "ctrl+q")
            out, err = proc.communicate(timeout=15)
            assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    finally:
        if carol is not None:
            carol.leave()
        for proc in procs:
            kill_all(proc)


@pytest.mark.slow
def test_frozen_app_raises_a_desktop_notification(frozen_app, tmp_path):
    """The one-file app's notification path (desktop-notifier, dbus-fast's compiled parts)
    against dunst: Alice hosts, goes to another program, and Carol's message shows on dunst
    with its sender, room and text. (What a click does is tested in tests/gui/test_notify.py:
    in this run without a window manager the click reaches the app, but the X focus was seen
    not to move to the chat window, for a reason not yet found.)"""
    from notification_daemon import (
        focus_another_program,
        give_the_screen_back,
        missing_tools,
        running_daemon,
        wait,
    )

    if not os.environ.get("DISPLAY"):
        pytest.skip("no DISPLAY: pytest-xvfb was disabled and there is no screen")
    if missing_tools():
        pytest.fail(f"missing {', '.join(missing_tools())}: run scripts/setup.sh")
    start_title, chat_title = "^Online Chat Messenger$", r"^(\([0-9]+\) )?lobby .* Online Chat Messenger$"
    tcp, udp = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
    home = tmp_path / "alice"
    settings = home / ".config" / "online-chat-messenger" / "settings.json"
    settings.parent.mkdir(parents=True)
    # Name and room from the settings: only Return is pressed, so no typed letter can be lost.
    settings.write_text(
        json.dumps({"tcp_port": tcp, "udp_port": udp, "name": "Alice", "room": "lobby"}), encoding="utf-8"
    )
    carol = proc = None
    with running_daemon() as daemon:
        try:
            env = dict(
                os.environ,
                HOME=str(home),
                XDG_CONFIG_HOME=str(home / ".config"),
                DBUS_SESSION_BUS_ADDRESS=daemon.address,
            )
            before = visible_windows(start_title)
            proc = start_program([str(frozen_app)], env=env)
            start = wait_for_new_window(start_title, before, proc)
            keyboard(start, "Return")  # Host a room has the keyboard when the name is known
            host_dialog = wait_for_new_window("^Host a room$", set(), proc)
            keyboard(host_dialog, "Return")
            chat = wait_for_new_window(chat_title, set(), proc)
            focus_another_program()  # Alice goes to another program

            carol = ChatClient("127.0.0.1", tcp, timeout=5.0)
            carol.join_room("lobby", "Carol")
            carol.send("are you there?")
            wait(lambda: daemon.displayed() == 1, timeout=15, what="the frozen app's notification")
            assert chat in visible_windows(chat_title)
            daemon.ctl("close-all")
            shown = daemon.history()[0]
            assert (shown["summary"], shown["body"]) == ("Carol in lobby", "are you there?")
        finally:
            if carol is not None:
                carol.leave()
            if proc is not None:
                kill_all(proc)
            give_the_screen_back()  # the focus went to the root window: the next tests need it back
