"""Where the app keeps its files: settings, the server's database, logs, saved downloads.

platformdirs gives each platform's usual place: XDG on Linux; on Windows %APPDATA%
for settings (they roam with the profile) and %LOCALAPPDATA% for data and logs; on
macOS ~/Library/Application Support and ~/Library/Logs. An XDG_CONFIG_HOME,
XDG_DATA_HOME or XDG_STATE_HOME that is set wins on every platform, as it did for the
settings before, so tests (and people who like one tree) can move every file.

Earlier versions wrote the database under ~/.local/share on every platform (the
settings were already where they are now): `existing_or_legacy` finds a database left
there while the new place has none, so nobody on Windows or macOS loses their rooms.

OCM_HOME, when set, wins over all of that on every platform: one folder holds config/,
data/, log/ and downloads/. The benchmarks and scripts/ point it at a folder of their own,
so nothing they start writes where the user's real app keeps its files.

Every function takes `platform` (default: this one) so each branch is tested anywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

from platformdirs.api import PlatformDirsABC

APP_NAME = "online-chat-messenger"


def _platform_dirs(platform: str, *, roaming: bool = False) -> PlatformDirsABC:
    # Imported per branch: each module is what platformdirs itself loads on that platform.
    if platform == "win32":
        from platformdirs.windows import Windows

        return Windows(appname=APP_NAME, appauthor=False, roaming=roaming)
    if platform == "darwin":
        from platformdirs.macos import MacOS

        return MacOS(appname=APP_NAME, appauthor=False)
    from platformdirs.unix import Unix

    return Unix(appname=APP_NAME, appauthor=False)


HOME_OVERRIDE = "OCM_HOME"


def _override(part: str) -> Path | None:
    value = os.environ.get(HOME_OVERRIDE, "").strip()
    return Path(value) / part if value else None


def _xdg(variable: str) -> Path | None:
    value = os.environ.get(variable, "").strip()
    return Path(value) / APP_NAME if value else None


def config_dir(platform: str | None = None) -> Path:
    """Settings and the trusted-keys file."""
    return (
        _override("config")
        or _xdg("XDG_CONFIG_HOME")
        or Path(_platform_dirs(platform or sys.platform, roaming=True).user_config_dir)
    )


def data_dir(platform: str | None = None) -> Path:
    """The server's database and anything else kept that is not a setting."""
    return _override("data") or _xdg("XDG_DATA_HOME") or Path(_platform_dirs(platform or sys.platform).user_data_dir)


def log_dir(platform: str | None = None) -> Path:
    """Log files, for a person to attach to a bug report."""
    state = _xdg("XDG_STATE_HOME")
    if state is not None:
        state = state / "log"
    return _override("log") or state or Path(_platform_dirs(platform or sys.platform).user_log_dir)


def downloads_dir(platform: str | None = None) -> Path:
    """The user's Downloads folder, where saved files go unless a person picks another."""
    return _override("downloads") or Path(_platform_dirs(platform or sys.platform).user_downloads_dir)


def legacy_data_dirs() -> list[Path]:
    """Where earlier versions put the database: ~/.local/share on every platform, unless
    XDG_DATA_HOME was set (then they used it too, and `data_dir` still does)."""
    if _xdg("XDG_DATA_HOME") is not None or _override("data") is not None:
        return []
    return [Path.home() / ".local" / "share" / APP_NAME]


def existing_or_legacy(path: Path, legacy_dirs: Iterable[Path]) -> Path:
    """`path` if it exists or no legacy directory has a file of its name; else the legacy file.

    A database found there stays there: moving a live SQLite file (and its -wal) is a
    risk that buys nothing, since the file works wherever it is.
    """
    if path.exists():
        return path
    for directory in legacy_dirs:
        old = directory / path.name
        if old != path and old.is_file():
            return old
    return path
