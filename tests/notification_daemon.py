"""A real notification daemon for tests: Debian's dunst on a private D-Bus session bus.

`running_daemon()` starts a bus of its own (no service activation, so nothing else starts
on it) and dunst on the current DISPLAY, waits until dunst answers, and ends both on exit.
Used by tests/gui/test_notify.py and the frozen app's test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

TOOLS = ("dbus-daemon", "dunst", "dunstctl", "xdotool", "xprop")

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# A left click runs the notification's default action (as on most desktops); notifications
# stay until clicked or withdrawn, so a slow machine cannot let one expire mid-test.
DUNSTRC = """[global]
    mouse_left_click = do_action, close_current
    markup = full
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


def wait(condition, timeout=10.0, what="a condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class Daemon:
    """dunst on a private session bus, and what it shows."""

    def __init__(self, address: str, env: dict[str, str]):
        self.address = address
        self.env = env

    def ctl(self, *args: str) -> str:
        done = subprocess.run(["dunstctl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"dunstctl {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def displayed(self) -> int:
        return int(self.ctl("count", "displayed"))

    def history(self) -> list[dict[str, str]]:
        """Closed notifications, newest first: summary, body, appname."""
        entries = json.loads(self.ctl("history"))["data"][0]
        return [{key: entry[key]["data"] for key in ("summary", "body", "appname")} for entry in entries]

    def window(self) -> str:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--class", "Dunst"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return found.stdout.split()[0] if found.stdout.split() else ""

    def click(self) -> None:
        window = wait(self.window, what="dunst's window")
        self.xdotool("mousemove", "--window", window, "10", "10", "click", "1")
        self.pointer_aside()

    def pointer_aside(self) -> None:
        """The pointer to the screen's bottom-right corner, over no window: with no window
        manager, a window that appears under the pointer can take the keyboard focus."""
        width, height = self.xdotool("getdisplaygeometry").split()
        self.xdotool("mousemove", str(int(width) - 1), str(int(height) - 1))

    def xdotool(self, *args: str) -> str:
        return subprocess.run(
            ["xdotool", *args], env=self.env, check=True, capture_output=True, text=True, timeout=10
        ).stdout


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def focus_another_program() -> None:
    """Give the keyboard focus to the screen's root window, as a person switching to another
    program does (the app then has no focus at all, so nothing in it can take it back)."""
    screen = subprocess.run(["xwininfo", "-root"], capture_output=True, text=True, check=True, timeout=10).stdout
    root_id = screen.split("Window id:")[1].split()[0]
    subprocess.run(["xdotool", "windowfocus", "--sync", root_id], check=True, timeout=10)


def give_the_screen_back() -> None:
    """Undo what these tests do to the shared virtual screen: the keyboard focus back to
    "follow the pointer" and the pointer back to the screen's centre, where the rest of the
    suite (no window manager) expects them."""
    import ctypes
    import ctypes.util

    library = ctypes.util.find_library("X11")
    if library is not None:
        xlib = ctypes.CDLL(library)
        xlib.XOpenDisplay.restype = ctypes.c_void_p
        xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        xlib.XSetInputFocus.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong]
        xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
        display = xlib.XOpenDisplay(None)
        if display:
            xlib.XSetInputFocus(display, 1, 1, 0)  # PointerRoot, RevertToPointerRoot, CurrentTime
            xlib.XCloseDisplay(display)  # flushes the request
    width, height = subprocess.run(
        ["xdotool", "getdisplaygeometry"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.split()
    subprocess.run(["xdotool", "mousemove", str(int(width) // 2), str(int(height) // 2)], check=True, timeout=10)


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if not shutil.which(tool)]


@contextlib.contextmanager
def running_daemon() -> Iterator[Daemon]:
    """dunst on a fresh session bus; the Daemon's `address` is that bus."""
    # A short directory of its own: a unix socket path must stay under 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="ocm-bus-"))
    socket_path = folder / "bus"
    config = folder / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket_path), encoding="utf-8")
    (folder / "dunstrc").write_text(DUNSTRC, encoding="utf-8")
    address = f"unix:path={socket_path}"
    env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=address)
    processes: list[subprocess.Popen] = []
    log = (folder / "dunst.log").open("w")
    try:
        processes.append(
            subprocess.Popen(
                ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        )
        wait(socket_path.exists, what="the session bus")
        processes.append(
            subprocess.Popen(
                ["dunst", "-conf", str(folder / "dunstrc")], env=env, stdout=subprocess.DEVNULL, stderr=log
            )
        )
        found = Daemon(address, env)

        def answers() -> bool:
            try:
                return found.displayed() == 0
            except RuntimeError:
                return False

        wait(answers, what="dunst on the bus")
        found.pointer_aside()
        yield found
    finally:
        for process in reversed(processes):
            _stop(process)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
