"""Settings kept between runs: last name, last server, ports, window sizes, language, share folder,
how a new message gets attention (desktop notification, flashing window, sound), the rooms
to join again at the next start, start at login, light or dark, and the emoji chosen lately.

Stored as JSON in the user's config directory (`ocm_core.paths.config_dir`: the
platform's usual place, or ``$XDG_CONFIG_HOME`` when set), written atomically
(temporary file in the same directory, then ``os.replace``). A missing or corrupt
file gives the defaults and a log line, never an exception.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ocm_core import paths

log = logging.getLogger(__name__)

FILE_NAME = "settings.json"


def default_path() -> Path:
    return paths.config_dir() / FILE_NAME


@dataclass
class Settings:
    name: str = ""
    server: str = ""
    room: str = ""
    tcp_port: int = 9090
    udp_port: int = 9091
    chat_size: str = ""  # "WxH" as last left; "" is a default size grown with the screen's text size
    recent_servers: list[str] = field(default_factory=list)  # newest first
    language: str = ""  # "" follows the system; else a code from ocm_core.i18n.LANGUAGES
    share_dir: str = ""  # the folder "Share a file…" last picked from; "" is the home folder
    # A message that arrives while its window is in the background (ocm_gui/notify/alerts.py):
    notify_desktop: bool = True  # a desktop notification
    notify_flash: bool = True  # the window's urgency hint / a flashing taskbar button
    notify_sound: bool = True  # a short sound
    # Per room, "LEVEL LINK": "mentions" (only messages that name you) or "nothing"; a room not
    # listed notifies of every message.
    room_alerts: list[str] = field(default_factory=list)
    auto_save_pictures: list[str] = field(default_factory=list)  # room links whose pictures are saved on arrival
    muted: list[str] = field(default_factory=list)  # "LINK<tab>NAME": a person muted in a room, for oneself
    # The main window (ocm_gui/app.py):
    window_geometry: str = ""  # "WxH+X+Y" as last left; "" is a default size grown with the text
    sidebar_width: int = 0  # pixels; 0 is the default
    rooms: list[str] = field(default_factory=list)  # invite links of the rooms to join again at start
    hosted_rooms: list[str] = field(default_factory=list)  # those of them hosted here (closed at quit)
    start_at_login: bool = False
    appearance: str = "system"  # "system", "light" or "dark"
    told_how_to_quit: bool = False  # the note "the app keeps running" was shown
    recent_emoji: list[str] = field(default_factory=list)  # the emoji picker's choices, newest first
    path: Path | None = None

    _persisted = (
        "name",
        "server",
        "room",
        "tcp_port",
        "udp_port",
        "chat_size",
        "recent_servers",
        "language",
        "share_dir",
        "notify_desktop",
        "notify_flash",
        "notify_sound",
        "room_alerts",
        "auto_save_pictures",
        "muted",
        "window_geometry",
        "sidebar_width",
        "rooms",
        "hosted_rooms",
        "start_at_login",
        "appearance",
        "told_how_to_quit",
        "recent_emoji",
    )

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        path = Path(path) if path is not None else default_path()
        settings = cls(path=path)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return settings
        except OSError as exc:
            log.warning("could not read settings %s (%s); using defaults", path, exc)
            return settings
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("top level is not an object")
        except ValueError as exc:
            log.warning("ignoring corrupt settings file %s: %s", path, exc)
            return settings
        types = {f.name: f.type for f in fields(cls)}
        for key in cls._persisted:
            if key not in data:
                continue
            value = data[key]
            expected = {"int": int, "bool": bool, "list[str]": list}.get(str(types[key]), str)
            if expected is list and isinstance(value, list) and not all(isinstance(v, str) for v in value):
                expected = type(None)  # a list, but not of addresses: ignored below
            if type(value) is not expected:
                log.warning("ignoring setting %r in %s: expected %s", key, path, expected.__name__)
                continue
            setattr(settings, key, value)
        return settings

    def to_dict(self) -> dict:
        data = asdict(self)
        return {key: data[key] for key in self._persisted}

    def save(self) -> bool:
        """Write atomically; returns False (and logs) if the disk refuses."""
        path = self.path if self.path is not None else default_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(self.to_dict(), fh, ensure_ascii=False, indent=2)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError as exc:
            log.warning("could not save settings to %s: %s", path, exc)
            return False
        return True

    def update(self, **changes) -> None:
        """Change some values and save at once."""
        for key, value in changes.items():
            if key not in self._persisted:
                raise KeyError(key)
            setattr(self, key, value)
        self.save()
