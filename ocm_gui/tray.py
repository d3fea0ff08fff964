"""The tray (notification-area) icon: Show, the rooms, Quit.

On Windows and on Linux desktops that offer a tray (an X11 system-tray manager: KDE, Xfce,
MATE, Cinnamon, LXQt) the icon comes from pystray, in its own thread. Not on macOS, where the
Dock icon does this work and pystray wants the main thread that Tk holds; nor where no tray
manager runs (GNOME): `tray_offered` says so, and the app minimises instead of hiding.

pystray's thread never touches Tk: a click puts `TrayClicked` or `TrayChose` into the app's
inbox. Its X11 backend has no menus, only a click, so there the Tk side pops up the menu
(`TrayClicked`); on Windows the menu is pystray's own (`TrayChose`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrayClicked:
    """The icon was clicked where the tray has no menus of its own (X11): show ours."""


@dataclass(frozen=True)
class TrayChose:
    """An entry of the tray's own menu (Windows): "show", "quit", or a room's place in the sidebar."""

    what: str | int


def tray_offered(platform: str = sys.platform, environ: dict[str, str] | None = None) -> bool:
    """Whether this desktop shows tray icons we can put one in."""
    if platform == "darwin":
        return False
    if platform == "win32":
        return _importable("pystray")
    env = os.environ if environ is None else environ
    if not env.get("DISPLAY"):
        return False  # Wayland without X11, or no screen: no XEmbed tray to ask
    try:
        from Xlib import display as xdisplay  # type: ignore[import-untyped]
    except ImportError:
        log.info("no tray: python-xlib is not installed")
        return False
    try:
        screen = xdisplay.Display(env["DISPLAY"])
    except Exception as exc:  # a display Xlib cannot open: no tray, the app minimises instead
        log.info("no tray: cannot open %s: %s", env["DISPLAY"], exc)
        return False
    try:
        manager = screen.intern_atom(f"_NET_SYSTEM_TRAY_S{screen.get_default_screen()}")
        return bool(screen.get_selection_owner(manager))
    finally:
        screen.close()


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except Exception:  # pystray raises more than ImportError when its backend cannot start
        return False
    return True


def _hear_clicks_on_x11(icon: Any) -> None:
    """pystray 0.19.5's X11 icon handles ButtonPress but never asks X for it, so a click did
    nothing (pystray issue #151, on MATE and tint2): ask for it on the icon's window."""
    window, screen = getattr(icon, "_window", None), getattr(icon, "_display", None)
    if window is None or screen is None:
        return  # another backend: it hears clicks itself
    try:
        from Xlib import X

        window.change_attributes(event_mask=X.ExposureMask | X.StructureNotifyMask | X.ButtonPressMask)
        screen.flush()
    except Exception:
        log.warning("the tray icon will not answer clicks", exc_info=True)


class Tray:
    """The icon. `put` hands a message to the Tk thread (the inbox's put); `rooms` is the
    sidebar's labels, read when the menu is built (pystray's thread: keep it a plain tuple)."""

    def __init__(self, *, title: str, icon: Path, put: Callable[[object], None], words: dict[str, str]):
        self.title = title
        self.icon_path = icon
        self._put = put
        self._words = words
        self.rooms: tuple[str, ...] = ()
        self._icon: Any = None
        self.started = threading.Event()

    def start(self) -> bool:
        """Show the icon; False (logged) if pystray cannot."""
        try:
            import pystray  # type: ignore[import-untyped]
            from PIL import Image
        except Exception as exc:
            log.warning("no tray icon: %s", exc)
            return False
        image = Image.open(self.icon_path)
        image.load()
        menu = pystray.Menu(
            pystray.MenuItem(self._words["show"], self._clicked, default=True),
            pystray.Menu.SEPARATOR,
            pystray.MenuItem(self._words["rooms"], pystray.Menu(self._room_items)),
            pystray.Menu.SEPARATOR,
            pystray.MenuItem(self._words["quit"], lambda: self._put(TrayChose("quit"))),
        )
        self._icon = pystray.Icon("OnlineChatMessenger", image, self.title, menu)
        _hear_clicks_on_x11(self._icon)  # before its thread starts: Xlib's display is not shared

        def setup(icon) -> None:
            icon.visible = True
            self.started.set()

        if getattr(self._icon, "HAS_MENU", True):
            self._icon.run_detached(setup)
        else:
            # pystray 0.19.5's X11 run_detached() calls run() again without our setup, and the
            # second setup thread never ends (stop() then waits 5 s): run it in our thread.
            threading.Thread(target=self._icon.run, args=(setup,), name="ocm-tray", daemon=True).start()
        return True

    def _clicked(self) -> None:
        # Where the tray has no menu (X11) a click is all there is: the Tk side offers the menu.
        has_menu = bool(getattr(self._icon, "HAS_MENU", True))
        self._put(TrayChose("show") if has_menu else TrayClicked())

    def _room_items(self) -> Sequence[Any]:
        import pystray

        return [pystray.MenuItem(label, self._choose(index)) for index, label in enumerate(self.rooms)]

    def _choose(self, index: int) -> Callable[[], None]:
        return lambda: self._put(TrayChose(index))

    def set_rooms(self, labels: Sequence[str]) -> None:
        self.rooms = tuple(labels)
        if self._icon is not None and getattr(self._icon, "HAS_MENU", False):
            try:
                self._icon.update_menu()
            except Exception:
                log.debug("could not update the tray's menu", exc_info=True)

    def stop(self) -> None:
        if self._icon is not None:
            try:
                self._icon.stop()
            except Exception:
                log.debug("the tray icon did not stop cleanly", exc_info=True)
            self._icon = None
