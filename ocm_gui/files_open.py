"""Open a saved file, or show it in its folder, each system's own way.

`open_file(path, platform, launch)` and `show_in_folder(path, platform, launch)` decide; the
`Launcher` does (tests pass a stand-in). Only argument lists are run, never a shell string.

- Windows: `os.startfile(path)`; `explorer /select,PATH`.
- macOS: `open PATH`; `open -R PATH`.
- Linux and other Unix: `xdg-open PATH`; the file manager's D-Bus `org.freedesktop.FileManager1.
  ShowItems` (through `gdbus call`), else `xdg-open` on the folder.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

SHOW_TIMEOUT = 3.0  # seconds for the file manager to answer over D-Bus


class Launcher(Protocol):
    def start(self, args: Sequence[str]) -> None:
        """Start a program and do not wait for it; raises OSError when it cannot start."""

    def call(self, args: Sequence[str], timeout: float) -> int:
        """Run a program to its end (at most `timeout` seconds); its exit status."""

    def startfile(self, path: str) -> None:
        """Windows' os.startfile."""


class SystemLauncher:
    def start(self, args: Sequence[str]) -> None:
        subprocess.Popen(list(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def call(self, args: Sequence[str], timeout: float) -> int:
        return subprocess.run(list(args), capture_output=True, timeout=timeout, check=False).returncode

    def startfile(self, path: str) -> None:
        if sys.platform == "win32":
            os.startfile(path)
        else:
            raise OSError("os.startfile is Windows' own")


def open_file(path: Path, platform: str, launch: Launcher) -> bool:
    """Open `path` with the program the system gives its kind; False when that failed."""
    try:
        if platform == "win32":
            launch.startfile(str(path))
        elif platform == "darwin":
            launch.start(["open", str(path)])
        else:
            launch.start(["xdg-open", str(path)])
    except OSError as exc:
        log.warning("could not open %s: %s", path, exc)
        return False
    return True


def show_in_folder(path: Path, platform: str, launch: Launcher) -> bool:
    """Show `path` selected in the system's file manager (or at least its folder)."""
    try:
        if platform == "win32":
            launch.start(["explorer", f"/select,{path}"])
            return True
        if platform == "darwin":
            launch.start(["open", "-R", str(path)])
            return True
        if _show_items(path, launch):
            return True
        launch.start(["xdg-open", str(path.parent)])
    except OSError as exc:
        log.warning("could not show %s in its folder: %s", path, exc)
        return False
    return True


def _show_items(path: Path, launch: Launcher) -> bool:
    """Ask the desktop's file manager over D-Bus to select the file (Nautilus, Dolphin, Nemo...)."""
    uri = path.absolute().as_uri()
    args = [
        "gdbus", "call", "--session",
        "--dest", "org.freedesktop.FileManager1",
        "--object-path", "/org/freedesktop/FileManager1",
        "--method", "org.freedesktop.FileManager1.ShowItems",
        f"['{uri}']", "",
    ]  # fmt: skip
    try:
        return launch.call(args, SHOW_TIMEOUT) == 0
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("no file manager answered on D-Bus: %s", exc)
        return False
