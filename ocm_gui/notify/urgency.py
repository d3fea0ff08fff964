"""The window's urgency mark: X11's WM_HINTS urgency flag, a flashing taskbar button on Windows
(FlashWindowEx), a bouncing Dock icon on macOS (Tk's `wm attributes -notify`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import tkinter as tk
from typing import Any

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- urgency

X_URGENCY_HINT = 1 << 8  # XUrgencyHint in WM_HINTS.flags (ICCCM 4.1.2.4)
FLASHW_STOP = 0
FLASHW_TRAY = 0x2
FLASHW_TIMERNOFG = 0xC  # flash until the window comes to the foreground


def urgency_method(windowing_system: str) -> str | None:
    """How this Tk asks for attention: Tk 8.6's ``wm attributes`` has ``-notify`` (a Dock
    bounce) only on macOS; X11 and Windows need a call of their own."""
    return {"x11": "wm_hints", "win32": "flash", "aqua": "dock"}.get(windowing_system)


class _XWMHints(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_long),
        ("input", ctypes.c_int),
        ("initial_state", ctypes.c_int),
        ("icon_pixmap", ctypes.c_ulong),
        ("icon_window", ctypes.c_ulong),
        ("icon_x", ctypes.c_int),
        ("icon_y", ctypes.c_int),
        ("icon_mask", ctypes.c_ulong),
        ("window_group", ctypes.c_ulong),
    ]


class _Xlib:
    """A connection of our own to the X server, for WM_HINTS (Tk does not expose urgency)."""

    def __init__(self, display_name: str):
        lib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        lib.XOpenDisplay.restype = ctypes.c_void_p
        lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        lib.XGetWMHints.restype = ctypes.POINTER(_XWMHints)
        lib.XGetWMHints.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        lib.XSetWMHints.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XWMHints)]
        lib.XFree.argtypes = [ctypes.c_void_p]
        lib.XFlush.argtypes = [ctypes.c_void_p]
        lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
        lib.XQueryTree.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_uint),
        ]
        self.lib = lib
        self.display = lib.XOpenDisplay(display_name.encode())
        if not self.display:
            raise OSError(f"cannot open X display {display_name!r}")

    def wrapper(self, window: int) -> int:
        """The window manager's idea of a Tk toplevel: the wrapper around ``winfo_id()``, its
        parent (``wm frame`` names the window manager's own frame instead, or the inner window)."""
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.c_void_p(), ctypes.c_uint()
        if not self.lib.XQueryTree(
            self.display, window, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children), ctypes.byref(count)
        ):
            raise OSError(f"XQueryTree failed for window {window:#x}")
        if children:
            self.lib.XFree(children)
        return parent.value

    def set_urgent(self, window: int, on: bool) -> None:
        current = self.lib.XGetWMHints(self.display, window)
        hints = _XWMHints()
        if current:
            ctypes.pointer(hints)[0] = current[0]  # copy Tk's hints; change only our flag
            self.lib.XFree(current)
        hints.flags = hints.flags | X_URGENCY_HINT if on else hints.flags & ~X_URGENCY_HINT
        self.lib.XSetWMHints(self.display, window, ctypes.byref(hints))
        self.lib.XFlush(self.display)

    def close(self) -> None:
        if self.display:
            self.lib.XCloseDisplay(self.display)
            self.display = None


class _FlashInfo(ctypes.Structure):
    _fields_ = [
        ("cbSize", ctypes.c_uint),
        ("hwnd", ctypes.c_void_p),
        ("dwFlags", ctypes.c_uint32),
        ("uCount", ctypes.c_uint),
        ("dwTimeout", ctypes.c_uint32),
    ]


def flash_info(hwnd: int, on: bool) -> _FlashInfo:
    """FlashWindowEx's argument: flash the taskbar button until the window is in front, or stop."""
    flags = FLASHW_TRAY | FLASHW_TIMERNOFG if on else FLASHW_STOP
    return _FlashInfo(ctypes.sizeof(_FlashInfo), hwnd, flags, 0, 0)


class Urgency:
    """Sets and clears a window's "needs attention" mark the way its platform shows it."""

    def __init__(self, windowing_system: str, user32: Any = None):
        self.method = urgency_method(windowing_system)
        self._user32 = user32  # tests pass a stand-in for Windows' user32
        self._xlib: _Xlib | None = None
        self._broken = False  # a failed call is logged once, then not tried again

    def x11_window(self, win: tk.Toplevel) -> int | None:
        """The X window that carries WM_HINTS for ``win`` (for tests: xprop reads it)."""
        if self.method != "wm_hints":
            return None
        if self._xlib is None:
            self._xlib = _Xlib(win.winfo_screen())
        return self._xlib.wrapper(win.winfo_id())

    def set(self, win: tk.Toplevel, on: bool) -> bool:
        """True when the mark was changed."""
        if self.method is None or self._broken or not win.winfo_exists():
            return False
        try:
            if self.method == "dock":
                win.wm_attributes("-notify", bool(on))
            elif self.method == "flash":
                self._flash(int(win.wm_frame(), 16), on)
            else:
                if self._xlib is None:
                    self._xlib = _Xlib(win.winfo_screen())
                self._xlib.set_urgent(self._xlib.wrapper(win.winfo_id()), on)
        except (OSError, AttributeError, ValueError, tk.TclError) as exc:
            self._broken = True
            log.warning("cannot mark the window as needing attention (%s): %s", self.method, exc)
            return False
        return True

    def _flash(self, hwnd: int, on: bool) -> None:
        user32 = self._user32
        if user32 is None:
            if sys.platform != "win32":
                raise OSError("FlashWindowEx is Windows only")
            user32 = ctypes.windll.user32
        user32.FlashWindowEx(ctypes.byref(flash_info(hwnd, on)))

    def close(self) -> None:
        if self._xlib is not None:
            self._xlib.close()
            self._xlib = None
