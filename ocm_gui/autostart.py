"""What the app writes about itself for the current user: "start at login" and the `ocm:` links.

Start at login (off until the person turns it on) starts the app with `--background`:

- Linux and other XDG desktops: `$XDG_CONFIG_HOME/autostart/online-chat-messenger.desktop`.
- macOS: the LaunchAgent `~/Library/LaunchAgents/org.onlinechatmessenger.app.plist` (RunAtLoad).
- Windows: the value "OnlineChatMessenger" under HKCU `Software\\Microsoft\\Windows\\CurrentVersion\\Run`.

The `ocm:` link handler:

- Linux: `$XDG_DATA_HOME/applications/online-chat-messenger-link.desktop` (kept out of the menus,
  so it never clobbers the menu entry packaging/install-desktop-entry.sh installs), made the
  default for `x-scheme-handler/ocm` in `$XDG_CONFIG_HOME/mimeapps.list`, other lines kept.
- Windows: HKCU `Software\\Classes\\ocm`.
- macOS: nothing at run time; the bundle's Info.plist declares the scheme (build.spec).

Plain files and registry values, no Tk. Every function takes `platform` and `home`, and the
Windows ones a `registry` (the `winreg` functions used here), so each branch runs in tests
anywhere. Files are written atomically; removing what is not there is fine; a disk or
registry error reaches the caller as an OSError whose message names the file or key.
"""

from __future__ import annotations

import contextlib
import os
import plistlib
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol
from xml.parsers.expat import ExpatError

APP_TITLE = "Online Chat Messenger"
BACKGROUND_FLAG = "--background"  # the app starts without showing its window
ICON_NAME = "online-chat-messenger"

AUTOSTART_FILE = "online-chat-messenger.desktop"
LAUNCH_AGENT_LABEL = "org.onlinechatmessenger.app"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "OnlineChatMessenger"

SCHEME = "ocm"
SCHEME_MIME_TYPE = f"x-scheme-handler/{SCHEME}"
LINK_DESKTOP_ID = "online-chat-messenger-link.desktop"
MENU_DESKTOP_ID = "online-chat-messenger.desktop"  # what packaging/install-desktop-entry.sh installs
SCHEME_KEY = rf"Software\Classes\{SCHEME}"
SCHEME_DESCRIPTION = "URL:Online Chat Messenger link"
HKCU = "HKEY_CURRENT_USER"


class Registry(Protocol):
    """The few `winreg` names used here; the real module satisfies it, and so does a test's fake."""

    @property
    def HKEY_CURRENT_USER(self) -> int: ...
    @property
    def KEY_QUERY_VALUE(self) -> int: ...
    @property
    def KEY_SET_VALUE(self) -> int: ...
    @property
    def KEY_WRITE(self) -> int: ...
    @property
    def REG_SZ(self) -> int: ...

    def OpenKey(self, key: Any, sub_key: str, reserved: int, access: int, /) -> Any: ...
    def CreateKeyEx(self, key: Any, sub_key: str, reserved: int, access: int, /) -> Any: ...
    def SetValueEx(self, key: Any, value_name: str | None, reserved: int, type: int, value: str, /) -> None: ...
    def QueryValueEx(self, key: Any, name: str, /) -> tuple[Any, int]: ...
    def DeleteValue(self, key: Any, value: str, /) -> None: ...
    def DeleteKey(self, key: Any, sub_key: str, /) -> None: ...
    def CloseKey(self, hkey: Any, /) -> None: ...


def app_command(frozen: bool = getattr(sys, "frozen", False), executable: str = sys.executable) -> list[str]:
    """The command that starts this app: the one-file app runs itself, a source install its module."""
    if frozen:
        return [executable]
    return [executable, "-m", "ocm_gui"]


# --- start at login ------------------------------------------------------------------------


def enable_start_at_login(
    command: list[str], *, platform: str = sys.platform, home: Path | None = None, registry: Registry | None = None
) -> Path | str:
    """Starts `command --background` at this user's next logins; returns the file or registry value written."""
    argv = list(command) if BACKGROUND_FLAG in command else [*command, BACKGROUND_FLAG]
    if platform == "win32":
        reg = registry if registry is not None else _windows_registry()
        _set_string(reg, RUN_KEY, RUN_VALUE, subprocess.list2cmdline(argv))
        return rf"{HKCU}\{RUN_KEY}\{RUN_VALUE}"
    path = _start_at_login_path(platform, home)
    if platform == "darwin":
        agent = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": argv,
            "RunAtLoad": True,
            "LimitLoadToSessionType": "Aqua",  # the desktop session, not an ssh login
        }
        _write_atomic(path, plistlib.dumps(agent, fmt=plistlib.FMT_XML))
        return path
    entry = {
        "Type": "Application",
        "Name": APP_TITLE,
        "Exec": desktop_exec(argv),
        "Icon": ICON_NAME,
        "Terminal": "false",
        "StartupNotify": "false",
        "X-GNOME-Autostart-enabled": "true",
    }
    _write_atomic(path, _desktop_entry(entry))
    return path


def disable_start_at_login(
    *, platform: str = sys.platform, home: Path | None = None, registry: Registry | None = None
) -> None:
    """Removes what enable_start_at_login wrote; nothing there is fine."""
    if platform == "win32":
        reg = registry if registry is not None else _windows_registry()
        _delete_value(reg, RUN_KEY, RUN_VALUE)
        return
    _remove(_start_at_login_path(platform, home))


def start_at_login_enabled(
    *, platform: str = sys.platform, home: Path | None = None, registry: Registry | None = None
) -> bool:
    """Whether the app starts at login: our entry is there and not switched off."""
    if platform == "win32":
        reg = registry if registry is not None else _windows_registry()
        return _get_string(reg, RUN_KEY, RUN_VALUE) is not None
    path = _start_at_login_path(platform, home)
    data = _read(path)
    if data is None:
        return False
    if platform == "darwin":
        try:
            agent = plistlib.loads(data)
        except (ValueError, ExpatError):  # plistlib.InvalidFileException is a ValueError
            return False  # launchd would not load it either
        return isinstance(agent, dict) and agent.get("RunAtLoad") is True and agent.get("Disabled") is not True
    entry = _desktop_entry_values(data.decode("utf-8", "replace"))
    # Desktops switch an autostart entry off with these rather than deleting it.
    return entry.get("Hidden") != "true" and entry.get("X-GNOME-Autostart-enabled") != "false"


def _start_at_login_path(platform: str, home: Path | None) -> Path:
    if platform == "darwin":
        return _home(home) / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    return _xdg_dir("XDG_CONFIG_HOME", home, ".config") / "autostart" / AUTOSTART_FILE


# --- the ocm: link handler -----------------------------------------------------------------


def register_link_handler(
    command: list[str], *, platform: str = sys.platform, home: Path | None = None, registry: Registry | None = None
) -> Path | str | None:
    """Makes `command URL` open ocm: links; returns the file or key written (None on macOS)."""
    if platform == "win32":
        reg = registry if registry is not None else _windows_registry()
        _set_string(reg, SCHEME_KEY, "", SCHEME_DESCRIPTION)
        _set_string(reg, SCHEME_KEY, "URL Protocol", "")
        _set_string(reg, rf"{SCHEME_KEY}\shell\open\command", "", subprocess.list2cmdline(command) + ' "%1"')
        return rf"{HKCU}\{SCHEME_KEY}"
    if platform == "darwin":
        return None  # the bundle's Info.plist declares CFBundleURLTypes (build.spec)
    path = _applications_dir(home) / LINK_DESKTOP_ID
    entry = {
        "Type": "Application",
        "Name": APP_TITLE,
        "Exec": desktop_exec(command) + " %u",
        "Icon": ICON_NAME,
        "Terminal": "false",
        "NoDisplay": "true",  # the menu entry is install-desktop-entry.sh's; this one only opens links
        "MimeType": f"{SCHEME_MIME_TYPE};",
    }
    _write_atomic(path, _desktop_entry(entry))
    mimeapps = _mimeapps_path(home)
    text = _read_text(mimeapps)
    updated = _with_default(text, SCHEME_MIME_TYPE, LINK_DESKTOP_ID)
    if updated != text:
        _write_atomic(mimeapps, updated.encode("utf-8", "surrogateescape"))
    return path


def unregister_link_handler(
    *, platform: str = sys.platform, home: Path | None = None, registry: Registry | None = None
) -> None:
    """Stops this app opening ocm: links: removes the entry and our mimeapps.list lines, keeps the rest."""
    if platform == "win32":
        reg = registry if registry is not None else _windows_registry()
        # Deepest first: RegDeleteKey refuses a key that still has subkeys.
        for below in (r"\shell\open\command", r"\shell\open", r"\shell", ""):
            _delete_key(reg, SCHEME_KEY + below)
        return
    if platform == "darwin":
        return
    mimeapps = _mimeapps_path(home)
    text = _read_text(mimeapps)
    updated = _without(text, SCHEME_MIME_TYPE, {LINK_DESKTOP_ID, MENU_DESKTOP_ID})
    if updated != text:
        if _only_headers(updated) and not mimeapps.is_symlink():
            _remove(mimeapps)  # nothing left but what the registration added
        else:
            _write_atomic(mimeapps, updated.encode("utf-8", "surrogateescape"))
    _remove(_applications_dir(home) / LINK_DESKTOP_ID)


def _applications_dir(home: Path | None) -> Path:
    return _xdg_dir("XDG_DATA_HOME", home, ".local/share") / "applications"


def _mimeapps_path(home: Path | None) -> Path:
    return _xdg_dir("XDG_CONFIG_HOME", home, ".config") / "mimeapps.list"


# --- desktop entries (freedesktop.org Desktop Entry Specification) --------------------------

_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")  # an argument with one of these is quoted
_ESCAPED_IN_QUOTES = set('"`$\\')


def desktop_exec(argv: Iterable[str]) -> str:
    """An Exec value that runs exactly `argv`, quoted and escaped as the spec says.

    Each argument with a reserved character is double-quoted, with `"`, backquote, `$` and
    a backslash escaped inside; `%` is doubled (field codes); then the string-value escapes
    apply on top (a backslash doubled, newline as \\n), so a literal backslash is four.
    """
    words = []
    for arg in argv:
        word = arg.replace("%", "%%")
        if not word or _RESERVED.intersection(word):
            word = '"' + "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in word) + '"'
        words.append(word)
    return _escape_value(" ".join(words))


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _desktop_entry(values: dict[str, str]) -> bytes:
    lines = ["[Desktop Entry]", *(f"{key}={value}" for key, value in values.items())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _desktop_entry_values(text: str) -> dict[str, str]:
    """The raw key=value lines of the [Desktop Entry] group (enough to see if it is switched off)."""
    values: dict[str, str] = {}
    group = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            group = stripped[1:-1]
        elif group == "Desktop Entry" and "=" in stripped and not stripped.startswith("#"):
            key, _, value = stripped.partition("=")
            values.setdefault(key.strip(), value.strip())
    return values


# --- mimeapps.list (freedesktop.org MIME Applications Associations), edited line by line --------

_DEFAULTS = "Default Applications"
_ADDED = "Added Associations"


def _section(line: str) -> str | None:
    stripped = line.strip()
    return stripped[1:-1] if stripped.startswith("[") and stripped.endswith("]") else None


def _key(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or "=" not in stripped:
        return None
    return stripped.partition("=")[0].strip()


def _with_default(text: str, mime_type: str, desktop_id: str) -> str:
    """`text` with `mime_type=desktop_id` in [Default Applications]; every other line as it was."""
    new_line = f"{mime_type}={desktop_id}\n"
    out: list[str] = []
    section = None
    done = False
    for line in text.splitlines(keepends=True):
        header = _section(line)
        if header is not None:
            if section == _DEFAULTS and not done:
                _insert_before_blank_tail(out, new_line)
                done = True
            section = header
        elif section == _DEFAULTS and _key(line) == mime_type:
            if not done:
                out.append(new_line)
                done = True
            continue  # a second line for the same type: the first one wins, so drop it
        out.append(line)
    if section == _DEFAULTS and not done:
        _insert_before_blank_tail(out, new_line)
        done = True
    if not done:
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        if out and out[-1].strip():
            out.append("\n")
        out += [f"[{_DEFAULTS}]\n", new_line]
    return "".join(out)


def _only_headers(text: str) -> bool:
    return all(not line.strip() or _section(line) is not None for line in text.splitlines())


def _insert_before_blank_tail(out: list[str], new_line: str) -> None:
    at = len(out)
    while at > 0 and not out[at - 1].strip():
        at -= 1
    if at > 0 and not out[at - 1].endswith("\n"):
        out[at - 1] += "\n"
    out.insert(at, new_line)


def _without(text: str, mime_type: str, desktop_ids: set[str]) -> str:
    """`text` with `desktop_ids` taken out of `mime_type`'s defaults and added associations."""
    out: list[str] = []
    section = None
    for line in text.splitlines(keepends=True):
        header = _section(line)
        if header is not None:
            section = header
        elif section in (_DEFAULTS, _ADDED) and _key(line) == mime_type:
            value = line.partition("=")[2]
            body = value.rstrip("\r\n")
            ending = value[len(body) :]
            ids = [item.strip() for item in body.split(";") if item.strip()]
            kept = [item for item in ids if item not in desktop_ids]
            if kept != ids:
                if not kept:
                    continue
                trailer = ";" if body.rstrip().endswith(";") else ""
                line = f"{mime_type}={';'.join(kept)}{trailer}" + (ending or "\n")
        out.append(line)
    return "".join(out)


# --- Windows registry ---------------------------------------------------------------------------


def _windows_registry() -> Registry:
    if sys.platform == "win32":
        import winreg

        return winreg
    raise OSError("the Windows registry exists only on Windows")


def _set_string(reg: Registry, sub_key: str, name: str, value: str) -> None:
    try:
        key = reg.CreateKeyEx(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_WRITE)
        try:
            reg.SetValueEx(key, name, 0, reg.REG_SZ, value)
        finally:
            reg.CloseKey(key)
    except OSError as exc:
        raise _located(exc, rf"{HKCU}\{sub_key}") from exc


def _get_string(reg: Registry, sub_key: str, name: str) -> str | None:
    try:
        key = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_QUERY_VALUE)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _located(exc, rf"{HKCU}\{sub_key}") from exc
    try:
        value, _kind = reg.QueryValueEx(key, name)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _located(exc, rf"{HKCU}\{sub_key}") from exc
    finally:
        reg.CloseKey(key)
    return str(value)


def _delete_value(reg: Registry, sub_key: str, name: str) -> None:
    try:
        key = reg.OpenKey(reg.HKEY_CURRENT_USER, sub_key, 0, reg.KEY_SET_VALUE)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _located(exc, rf"{HKCU}\{sub_key}") from exc
    try:
        reg.DeleteValue(key, name)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _located(exc, rf"{HKCU}\{sub_key}") from exc
    finally:
        reg.CloseKey(key)


def _delete_key(reg: Registry, sub_key: str) -> None:
    try:
        reg.DeleteKey(reg.HKEY_CURRENT_USER, sub_key)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _located(exc, rf"{HKCU}\{sub_key}") from exc


# --- files ----------------------------------------------------------------------------------------


def _home(home: Path | None) -> Path:
    return Path(home) if home is not None else Path.home()


def _xdg_dir(variable: str, home: Path | None, default: str) -> Path:
    value = os.environ.get(variable, "")
    if value and os.path.isabs(value):  # the spec says a relative path is to be ignored
        return Path(value)
    return _home(home) / default


def _located(exc: OSError, where: Path | str) -> OSError:
    """The same kind of error, its message naming `where` (the file or key a person can look at)."""
    if exc.errno is None or exc.strerror is None:
        return type(exc)(f"{exc}: {where}" if str(exc) else str(where))
    return type(exc)(exc.errno, f"{exc.strerror}: {where}")


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _located(exc, path) from exc


def _read_text(path: Path) -> str:
    data = _read(path)
    return "" if data is None else data.decode("utf-8", "surrogateescape")


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file beside it and os.replace.

    A symbolic link (a dotfiles manager's mimeapps.list) is followed, so the link stays.
    """
    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(temp, mode)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except OSError as exc:
        raise _located(exc, path) from exc


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise _located(exc, path) from exc
