"""Light or dark: what the system prefers, asked per platform, and the choice that follows it.

`system_prefers_dark` asks the system once: on Linux the XDG desktop portal's
`org.freedesktop.appearance` `color-scheme` (through `gdbus`), on Windows the registry's
`AppsUseLightTheme`, on macOS `defaults read -g AppleInterfaceStyle`. What each answers is
read by a pure parser, tested on any machine. `Appearance` applies a person's choice
("system", "light" or "dark") to the Tk app and, while it is "system", asks again every few
seconds on a worker thread (the question may take a second) and switches when the answer
changes; the answer reaches the Tk thread through the app's inbox (ocm_gui/inbox.py).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import subprocess
import sys
import threading
import tkinter as tk
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from ocm_core.i18n import N_
from ocm_gui import theme
from ocm_gui.inbox import inbox_for

log = logging.getLogger(__name__)

# What a person can choose, in the order a menu offers them.
APPEARANCE_CHOICES = (("system", N_("Same as the system")), ("light", N_("Light")), ("dark", N_("Dark")))
CHOICES = tuple(key for key, _label in APPEARANCE_CHOICES)

ASK_TIMEOUT = 1.0  # seconds one question to the system may take
INTERVAL = 5.0  # seconds between questions while the choice is "system"

PORTAL_COMMAND = (
    "gdbus",
    "call",
    "--session",
    "--dest",
    "org.freedesktop.portal.Desktop",
    "--object-path",
    "/org/freedesktop/portal/desktop",
    "--method",
    "org.freedesktop.portal.Settings.ReadOne",
    "org.freedesktop.appearance",
    "color-scheme",
)
# Portals before ReadOne (version 2 of the Settings interface) answer only Read, one variant deeper.
PORTAL_READ_COMMAND = PORTAL_COMMAND[:-3] + ("org.freedesktop.portal.Settings.Read",) + PORTAL_COMMAND[-2:]
MACOS_COMMAND = ("defaults", "read", "-g", "AppleInterfaceStyle")
WINDOWS_KEY = r"Software\Microsoft\Windows\CurrentVersion\Themes\Personalize"
WINDOWS_VALUE = "AppsUseLightTheme"

# gdbus prints a reply as a tuple of one value: `(<uint32 1>,)` from ReadOne, `(<<uint32 1>>,)` from Read.
_PORTAL_REPLY = re.compile(r"\(\s*(<+)\s*uint32\s+(\d+)\s*(>+)\s*,?\s*\)")


def parse_portal_reply(output: str) -> int | None:
    """The `color-scheme` number in gdbus's printed reply (ReadOne's or Read's), or None if it is
    not one."""
    match = _PORTAL_REPLY.fullmatch(output.strip())
    if match is None or len(match.group(1)) != len(match.group(3)) or len(match.group(1)) > 2:
        return None
    return int(match.group(2))


def colour_scheme_prefers_dark(value: int | None) -> bool | None:
    """The portal's `color-scheme`: 1 prefers dark, 2 prefers light, 0 says nothing, which the
    desktops that send it mean as their default look, light. None for anything else."""
    return {0: False, 1: True, 2: False}.get(value) if value is not None else None


def macos_prefers_dark(returncode: int, output: str) -> bool:
    """`defaults read -g AppleInterfaceStyle`: "Dark" in dark mode; in light mode the key is
    absent and `defaults` fails."""
    return returncode == 0 and output.strip() == "Dark"


def windows_prefers_dark(value: object) -> bool | None:
    """`AppsUseLightTheme`: 0 for dark apps, 1 for light; None if it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value == 0


class Registry(Protocol):
    """The part of `winreg` read here (a fake in the tests)."""

    @property
    def HKEY_CURRENT_USER(self) -> int: ...  # winreg's names

    def OpenKey(self, key: Any, sub_key: str, /) -> AbstractContextManager[Any]: ...

    def QueryValueEx(self, key: Any, name: str, /) -> tuple[Any, int]: ...


Run = Callable[..., "subprocess.CompletedProcess[str]"]


def _run_quietly(run: Run, command: tuple[str, ...]) -> subprocess.CompletedProcess[str] | None:
    try:
        return run(list(command), capture_output=True, text=True, timeout=ASK_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:  # not installed, or no answer in time
        log.debug("%s: %s", command[0], exc)
        return None


def _portal_prefers_dark(run: Run, environ: Mapping[str, str]) -> bool | None:
    runtime = environ.get("XDG_RUNTIME_DIR")
    if not environ.get("DBUS_SESSION_BUS_ADDRESS") and not (runtime and os.path.exists(os.path.join(runtime, "bus"))):
        return None  # no session bus: gdbus would only fail, or start a bus of its own
    for command in (PORTAL_COMMAND, PORTAL_READ_COMMAND):
        done = _run_quietly(run, command)
        if done is None:
            return None
        if done.returncode == 0:
            return colour_scheme_prefers_dark(parse_portal_reply(done.stdout))
    return None  # no portal, or one that knows no appearance


def _windows_prefers_dark(registry: Registry | None) -> bool | None:
    if registry is None:
        if sys.platform != "win32":
            return None
        import winreg

        registry = winreg
    try:
        with registry.OpenKey(registry.HKEY_CURRENT_USER, WINDOWS_KEY) as key:
            value, _kind = registry.QueryValueEx(key, WINDOWS_VALUE)
    except OSError:  # Windows before 10, or never set: the light look
        return None
    return windows_prefers_dark(value)


def system_prefers_dark(
    platform: str = sys.platform,
    run: Run = subprocess.run,
    registry: Registry | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> bool | None:
    """Whether the system asks apps to be dark: True, False, or None when it cannot tell.
    Blocks for up to a second or two: call it off the Tk thread."""
    key = theme.platform_key(platform)
    if key == "win32":
        return _windows_prefers_dark(registry)
    if key == "darwin":
        done = _run_quietly(run, MACOS_COMMAND)
        return None if done is None else macos_prefers_dark(done.returncode, done.stdout)
    return _portal_prefers_dark(run, os.environ if environ is None else environ)


@dataclass(frozen=True)
class SystemAnswer:
    """What the worker heard from the system, for the Tk thread."""

    owner: int
    dark: bool | None


_owners = itertools.count(1)


class Appearance:
    """The palette of a Tk app, by a person's choice: "system", "light" or "dark".

    Made after `theme.apply_theme(root)`. `probe` asks the system (system_prefers_dark);
    `interval` is the time between two questions. `on_change(palette)` runs on the Tk thread
    after each switch."""

    def __init__(
        self,
        root: tk.Misc,
        choice: str,
        on_change: Callable[[theme.Palette], None] | None = None,
        *,
        probe: Callable[[], bool | None] = system_prefers_dark,
        interval: float = INTERVAL,
    ):
        self.root = root.nametowidget(".")
        self.on_change = on_change
        self.probe = probe
        self.interval = interval
        self.choice = ""
        self.system_dark: bool | None = None  # the system's last answer
        self._owner = next(_owners)
        self._stop: threading.Event | None = None
        self.thread: threading.Thread | None = None
        self.closed = False
        self._inbox = inbox_for(self.root)
        self._inbox.handle(SystemAnswer, self._heard, owner=self._owner)
        self.root.bind("<Destroy>", self._root_destroyed, add="+")
        self.set_choice(choice)

    def set_choice(self, choice: str) -> None:
        """Follow `choice` from now on; "light" and "dark" apply at once, "system" as soon as
        the system has answered."""
        if choice not in CHOICES:
            raise ValueError(f"not an appearance: {choice!r}")
        self.choice = choice
        if choice == "system":
            self._apply(self.system_dark)
            self._start_asking()
        else:
            self._stop_asking()
            self._apply(choice == "dark")

    @property
    def palette(self) -> theme.Palette:
        return theme.current_palette()

    def close(self) -> None:
        """Stop asking the system; the palette stays as it is."""
        self.closed = True
        self._stop_asking()
        if not self._inbox.closed:
            self._inbox.forget(self._owner)

    # --- the Tk thread ----------------------------------------------------------------------

    def _apply(self, dark: bool | None) -> None:
        if dark is None or self.closed:
            return  # the system has not said: keep what is shown
        palette = theme.DARK if dark else theme.LIGHT
        if palette is theme.current_palette():
            return
        theme.use_palette(self.root, palette)
        if self.on_change is not None:
            self.on_change(palette)

    def _heard(self, answer: SystemAnswer) -> None:
        self.system_dark = answer.dark
        if self.choice == "system":
            self._apply(answer.dark)

    def _root_destroyed(self, event: tk.Event) -> None:
        if event.widget is self.root:
            self.close()

    def _start_asking(self) -> None:
        if self.thread is not None or self.closed:
            return
        stop = self._stop = threading.Event()
        # The worker holds values, never this object: a closed app is not kept alive by it.
        self.thread = threading.Thread(
            target=_ask_until_stopped,
            args=(self.probe, self.interval, stop, self._inbox.put, self._owner),
            name="ocm-appearance",
            daemon=True,
        )
        self.thread.start()

    def _stop_asking(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self._stop = None
        self.thread = None


def _ask_until_stopped(
    probe: Callable[[], bool | None],
    interval: float,
    stop: threading.Event,
    put: Callable[[object], None],
    owner: int,
) -> None:
    """The worker: ask, hand over each new answer, wait `interval` (or until stopped)."""
    last: object = object()  # nothing said yet
    failing = False
    while not stop.is_set():
        try:
            dark = probe()
            failing = False
        except Exception:  # a question that fails is no answer; the next may do better
            if not failing:  # once, not every few seconds
                log.exception("asking the system for its appearance failed")
            failing = True
            dark = None
        if dark != last and not stop.is_set():
            put(SystemAnswer(owner, dark))
            last = dark
        stop.wait(interval)
