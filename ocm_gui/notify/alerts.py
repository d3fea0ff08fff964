"""Getting a person's attention when a message arrives in a window they are not looking at.

Three ways, each with its own setting (``Settings.notify_desktop``, ``notify_flash``,
``notify_sound``) and a check item in the chat window's Notifications menu:

- a desktop notification (``desktop-notifier``: D-Bus on Linux, WinRT on Windows, the
  Notification Center on macOS); clicking it brings the window forward;
- the window's urgency hint: X11's WM_HINTS urgency flag, a flashing taskbar button on
  Windows (FlashWindowEx), a bouncing Dock icon on macOS (Tk's ``wm attributes -notify``);
- a short sound: the notification's own where the service plays one, else Tk's bell.

The decisions (which events count, what the notification says, how a burst is folded
into one) are ``incoming()`` and ``AlertGate``, without I/O or Tk. desktop-notifier is
asyncio-based: ``NotificationService`` runs its loop in one daemon thread and hands
clicks back through a queue that the Tk thread drains with ``after()``; nothing but the
Tk thread touches a widget. With no notification service (no D-Bus session, no daemon),
the service says so once in the log and stays quiet; the urgency hint still works.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import html
import itertools
import logging
import queue
import sys
import threading
import time
import tkinter as tk
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ocm_core.i18n import _, ngettext
from ocm_core.sansio.events import (
    ChatMessage,
    FileShared,
    HostNotAnswering,
    RoomClosed,
    SessionGone,
)
from ocm_core.words import event_words, host_not_answering_text

log = logging.getLogger(__name__)

APP_NAME = "Online Chat Messenger"
GAP_SECONDS = 10.0        # at most one notification per room this often; a burst waits and is folded
LINE_CHARS = 100          # a message's first line is cut to this many characters in a notification
LINES_SHOWN = 3           # a folded notification quotes this many of the newest messages
POLL_MS = 100             # how often the Tk thread looks for clicks from the notification thread
CALL_TIMEOUT = 5.0        # seconds a notification service gets to answer one call
RETRY_SECONDS = 300.0     # after a failure, how long before the service is asked again
CLOSE_TIMEOUT = 2.0       # seconds the app waits for the notification thread on exit


# ---------------------------------------------------------------------------- decisions

@dataclass(frozen=True)
class Incoming:
    """A message worth a person's attention: who sent it and its first line (or a file's words)."""

    sender: str
    line: str


def first_line(text: str, limit: int = LINE_CHARS) -> str:
    """The first line that has something on it, cut to ``limit`` characters with an ellipsis."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def incoming(events: Iterable[object], own_name: str, room: str = "") -> list[Incoming]:
    """The events that deserve a notification: others' new messages and files (never one's
    own, never history replayed on joining), and the room's end or its host gone silent,
    which a person elsewhere would otherwise learn of only when they look (no sender)."""
    found = []
    for event in events:
        if isinstance(event, RoomClosed):
            found.append(Incoming("", first_line(event.reason or _("The host closed the room."))))
        elif isinstance(event, HostNotAnswering):
            found.append(Incoming("", first_line(host_not_answering_text(event.seconds, room))))
        elif isinstance(event, SessionGone):
            found.append(Incoming("", first_line(event_words("session_gone"))))
        elif isinstance(event, (ChatMessage, FileShared)) and not event.history and event.sender != own_name:
            if isinstance(event, ChatMessage):
                line = first_line(event.text)
            else:
                line = first_line(_("shared a file: {name}").format(name=event.name))
            found.append(Incoming(event.sender, line))
    return found


@dataclass(frozen=True)
class Alert:
    """What one desktop notification says."""

    title: str
    body: str


class AlertGate:
    """Decides when a room's window raises a notification and what it says.

    The first message after the window lost focus is shown at once; more within
    ``gap`` seconds of a notification wait and are folded into one ("3 new messages in
    lobby"), so a busy room never floods the screen. ``seen()`` (the window got focus)
    starts over. Time comes in as ``now`` (monotonic seconds): no clock, no I/O.
    """

    def __init__(self, room: str, gap: float = GAP_SECONDS):
        self.room = room
        self.gap = gap
        self.unseen = 0                       # messages since the window lost focus
        self.pending: list[Incoming] = []     # not yet in a notification
        self.last_shown: float | None = None

    def arrived(self, items: list[Incoming], now: float) -> Alert | None:
        """Count new messages; returns the notification to raise now, if one is due."""
        self.unseen += len(items)
        self.pending.extend(items)
        return self.due(now)

    def next_due(self) -> float | None:
        """When held messages are due to be shown (None: nothing is held)."""
        if not self.pending:
            return None
        return self.last_shown + self.gap if self.last_shown is not None else 0.0

    def due(self, now: float) -> Alert | None:
        when = self.next_due()
        if when is None or now < when:
            return None
        alert = self._alert()
        self.pending.clear()
        self.last_shown = now
        return alert

    def seen(self) -> None:
        self.unseen = 0
        self.pending.clear()
        self.last_shown = None

    def _alert(self) -> Alert:
        if self.unseen == 1:
            only = self.pending[-1]
            if not only.sender:  # about the room itself: its name is the title
                return Alert(self.room, only.line)
            return Alert(_("{sender} in {room}").format(sender=only.sender, room=self.room), only.line)
        title = ngettext("{count} new message in {room}", "{count} new messages in {room}",
                         self.unseen).format(count=self.unseen, room=self.room)
        body = "\n".join(_("{sender}: {text}").format(sender=item.sender, text=item.line) if item.sender
                         else item.line for item in self.pending[-LINES_SHOWN:])
        return Alert(title, body)


# ---------------------------------------------------------------------------- urgency

X_URGENCY_HINT = 1 << 8    # XUrgencyHint in WM_HINTS.flags (ICCCM 4.1.2.4)
FLASHW_STOP = 0
FLASHW_TRAY = 0x2
FLASHW_TIMERNOFG = 0xC     # flash until the window comes to the foreground


def urgency_method(windowing_system: str) -> str | None:
    """How this Tk asks for attention: Tk 8.6's ``wm attributes`` has ``-notify`` (a Dock
    bounce) only on macOS; X11 and Windows need a call of their own."""
    return {"x11": "wm_hints", "win32": "flash", "aqua": "dock"}.get(windowing_system)


class _XWMHints(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("input", ctypes.c_int), ("initial_state", ctypes.c_int),
                ("icon_pixmap", ctypes.c_ulong), ("icon_window", ctypes.c_ulong), ("icon_x", ctypes.c_int),
                ("icon_y", ctypes.c_int), ("icon_mask", ctypes.c_ulong), ("window_group", ctypes.c_ulong)]


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
        lib.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                                   ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_void_p),
                                   ctypes.POINTER(ctypes.c_uint)]
        self.lib = lib
        self.display = lib.XOpenDisplay(display_name.encode())
        if not self.display:
            raise OSError(f"cannot open X display {display_name!r}")

    def wrapper(self, window: int) -> int:
        """The window manager's idea of a Tk toplevel: the wrapper around ``winfo_id()``, its
        parent (``wm frame`` names the window manager's own frame instead, or the inner window)."""
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.c_void_p(), ctypes.c_uint()
        if not self.lib.XQueryTree(self.display, window, ctypes.byref(root), ctypes.byref(parent),
                                   ctypes.byref(children), ctypes.byref(count)):
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
    _fields_ = [("cbSize", ctypes.c_uint), ("hwnd", ctypes.c_void_p), ("dwFlags", ctypes.c_uint32),
                ("uCount", ctypes.c_uint), ("dwTimeout", ctypes.c_uint32)]


def flash_info(hwnd: int, on: bool) -> _FlashInfo:
    """FlashWindowEx's argument: flash the taskbar button until the window is in front, or stop."""
    flags = FLASHW_TRAY | FLASHW_TIMERNOFG if on else FLASHW_STOP
    return _FlashInfo(ctypes.sizeof(_FlashInfo), hwnd, flags, 0, 0)


class Urgency:
    """Sets and clears a window's "needs attention" mark the way its platform shows it."""

    def __init__(self, windowing_system: str, user32: Any = None):
        self.method = urgency_method(windowing_system)
        self._user32 = user32      # tests pass a stand-in for Windows' user32
        self._xlib: _Xlib | None = None
        self._broken = False       # a failed call is logged once, then not tried again

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


# ---------------------------------------------------------------------------- the service

def _desktop_notifier(app_name: str, icon: Path | None):
    """The library's notifier (imported late: the app starts without it, and a broken
    install costs notifications, not the app)."""
    from desktop_notifier import DesktopNotifier, Icon

    return DesktopNotifier(app_name=app_name, app_icon=Icon(path=icon) if icon else None)


class NotificationService:
    """desktop-notifier and the asyncio loop it needs, in one daemon thread.

    ``send`` and ``withdraw`` may be called from the Tk thread; they only schedule work
    on the loop. Clicks and bell requests come back on ``replies`` as (kind, key) pairs
    for the Tk thread to act on. ``factory`` makes the notifier (tests pass a stand-in).
    """

    def __init__(self, app_name: str = APP_NAME, icon: Path | None = None,
                 factory: Callable[[str, Path | None], Any] = _desktop_notifier):
        self.app_name = app_name
        self.icon = icon
        self._factory = factory
        self.replies: queue.Queue[tuple[str, int]] = queue.Queue()
        self.available: bool | None = None   # None: not asked yet
        self.sounds = False                  # the service plays a notification's sound
        self.delivered = 0                   # notifications the service took (for tests and the log)
        self._markup = False                 # the service reads the body as markup: escape it
        self._notifier: Any = None
        self._retry_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    # -- from the Tk thread
    def send(self, key: int, alert: Alert, sound: bool, replaces: str | None = None) -> str | None:
        """Schedule a notification; returns its identifier (None once closed)."""
        identifier = str(uuid.uuid4())
        if not self._submit(self._send(identifier, key, alert, sound, replaces)):
            return None
        return identifier

    def withdraw(self, identifier: str) -> None:
        self._submit(self._clear(identifier))

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Take our notifications down, disconnect, and end the thread (bounded wait)."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(timeout)
        except Exception as exc:  # a hung service must not hold the app's exit
            log.info("notification service did not close cleanly: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    # -- the loop thread
    def _submit(self, coro) -> bool:
        with self._lock:
            if self._closed:
                coro.close()
                return False
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._run, args=(self._loop,),
                                                name="ocm-notifications", daemon=True)
                self._thread.start()
            asyncio.run_coroutine_threadsafe(coro, self._loop)
            return True

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            # a call still waiting on a service that never answered: cancelled, not left pending
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.close()

    async def _ready(self) -> bool:
        """Ask for the service once (and again after RETRY_SECONDS if it failed)."""
        if self.available or time.monotonic() < self._retry_at:
            return bool(self.available)
        try:
            if self._notifier is None:
                self._notifier = self._factory(self.app_name, self.icon)
            capabilities = await asyncio.wait_for(self._notifier.get_capabilities(), CALL_TIMEOUT)
            from desktop_notifier import Capability

            self.sounds = Capability.SOUND in capabilities
            self._markup = await self._wants_markup()
        except Exception as exc:
            self._unavailable(exc)
            return False
        if self.available is None:
            log.info("desktop notifications through %s", type(getattr(self._notifier, "_backend", self._notifier)).__name__)
        self.available = True
        return True

    async def _wants_markup(self) -> bool:
        """A freedesktop service that reads the body as markup would take "<b>" in a chat
        message as bold (or drop the body); desktop-notifier does not say, so ask it."""
        interface = getattr(getattr(self._notifier, "_backend", None), "interface", None)
        if interface is None or not hasattr(interface, "call_get_capabilities"):
            return False
        return "body-markup" in await asyncio.wait_for(interface.call_get_capabilities(), CALL_TIMEOUT)

    def _unavailable(self, reason: object) -> None:
        if self.available is not False:  # once per change, not once per message
            log.info("desktop notifications are off: no notification service answered (%s); "
                     "the window is still marked as needing attention", reason or type(reason).__name__)
        self.available = False
        self._retry_at = time.monotonic() + RETRY_SECONDS

    async def _send(self, identifier: str, key: int, alert: Alert, sound: bool, replaces: str | None) -> None:
        if not await self._ready():
            if sound:
                self.replies.put(("bell", key))
            return
        if replaces is not None:
            await self._clear(replaces)
        from desktop_notifier import DEFAULT_SOUND, Notification

        dispatched = threading.Event()
        notification = Notification(
            title=alert.title,
            message=html.escape(alert.body, quote=False) if self._markup else alert.body,
            sound=DEFAULT_SOUND if sound and self.sounds else None,
            on_clicked=lambda: self.replies.put(("click", key)),
            on_dispatched=dispatched.set,
            identifier=identifier,
        )
        try:
            # desktop-notifier logs and swallows a failed send; on_dispatched tells success
            await asyncio.wait_for(self._notifier.send_notification(notification), CALL_TIMEOUT)
        except Exception as exc:
            log.debug("notification failed", exc_info=True)
            self._unavailable(exc)
        if dispatched.is_set():
            self.delivered += 1
        elif self.available:
            self._unavailable("the notification was not delivered")
        if sound and not (dispatched.is_set() and self.sounds):
            self.replies.put(("bell", key))

    async def _clear(self, identifier: str) -> None:
        if not self.available or self._notifier is None:
            return
        try:
            await asyncio.wait_for(self._notifier.clear(identifier), CALL_TIMEOUT)
        except Exception as exc:  # already gone, or the service left: nothing to take down
            log.debug("could not withdraw notification %s: %s", identifier, exc)

    async def _shutdown(self) -> None:
        # sends and withdrawals asked for before close() finish first, on a live connection
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=CLOSE_TIMEOUT / 2)
        if self.available and self._notifier is not None:
            try:
                await asyncio.wait_for(self._notifier.clear_all(), CALL_TIMEOUT)
            except Exception as exc:
                log.debug("could not withdraw notifications: %s", exc)
        # the D-Bus connection (Linux) belongs to the backend; desktop-notifier has no close()
        bus = getattr(getattr(self._notifier, "_backend", None), "bus", None)
        if bus is not None and hasattr(bus, "disconnect"):
            bus.disconnect()


# ---------------------------------------------------------------------------- Tk side

def bring_forward(win: tk.Toplevel) -> None:
    """Show a window on top with the keyboard focus (a click on its notification)."""
    win.deiconify()
    win.lift()
    win.focus_force()


class Notifications:
    """The app's one notification service, urgency marker and settings, shared by its chat windows.

    ``watch(chat)`` (App.open_chat) gives a chat window its ``ChatAlerts`` and a
    Notifications menu; ``close()`` (App.quit) ends the service thread.
    """

    def __init__(self, root: tk.Tk, settings, service: NotificationService | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.root = root
        self.settings = settings
        self.clock = clock
        self.gap = GAP_SECONDS
        self.service = service if service is not None else NotificationService(icon=_app_icon())
        self.urgency = Urgency(str(root.tk.call("tk", "windowingsystem")))
        self.watched: dict[int, ChatAlerts] = {}
        self._keys = itertools.count(1)
        self._poll_id: str | None = None
        self._closed = False
        self.desktop = self._setting_var("notify_desktop")
        self.flash = self._setting_var("notify_flash")
        self.sound = self._setting_var("notify_sound")

    def _setting_var(self, name: str) -> tk.BooleanVar:
        var = tk.BooleanVar(self.root, value=bool(getattr(self.settings, name, True)))

        def changed(*_args) -> None:
            if self.settings is not None:
                self.settings.update(**{name: bool(var.get())})

        var.trace_add("write", changed)
        return var

    def watch(self, chat) -> "ChatAlerts":
        key = next(self._keys)
        alerts = ChatAlerts(self, chat, key)
        self.watched[key] = alerts
        menu = getattr(getattr(chat, "files", None), "menu", None)
        if menu is not None:
            self.add_menu(menu)
        return alerts

    def add_menu(self, menubar: tk.Menu) -> tk.Menu:
        menu = tk.Menu(menubar, tearoff=0)
        menu.add_checkbutton(label=_("Desktop notifications"), variable=self.desktop)
        menu.add_checkbutton(label=_("Flash the window"), variable=self.flash)
        menu.add_checkbutton(label=_("Sound"), variable=self.sound)
        menubar.add_cascade(label=_("Notifications"), menu=menu)
        return menu

    def forget(self, key: int) -> None:
        self.watched.pop(key, None)

    def notify(self, key: int, alert: Alert, replaces: str | None) -> str | None:
        """Raise (or replace) a notification, or only ring, as the settings say."""
        sound = bool(self.sound.get())
        if not self.desktop.get():
            if sound:
                self._bell(key)
            return None
        identifier = self.service.send(key, alert, sound, replaces)
        self._start_polling()
        return identifier

    def _start_polling(self) -> None:
        if self._poll_id is None and not self._closed:
            self._poll_id = self.root.after(POLL_MS, self._poll)

    def _poll(self) -> None:
        self._poll_id = None
        if self._closed:
            return
        try:
            for _n in range(50):
                kind, key = self.service.replies.get_nowait()
                if kind == "click":
                    self._clicked(key)
                elif kind == "bell":
                    self._bell(key)
        except queue.Empty:
            pass
        finally:
            self._start_polling()

    def _clicked(self, key: int) -> None:
        alerts = self.watched.get(key)
        if alerts is not None:
            alerts.clicked()

    def _bell(self, key: int) -> None:
        alerts = self.watched.get(key)
        target = alerts.chat.win if alerts is not None else self.root
        try:
            target.bell()
        except tk.TclError:
            pass  # the window went away meanwhile

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._poll_id is not None:
            try:
                self.root.after_cancel(self._poll_id)
            except tk.TclError:
                pass
            self._poll_id = None
        self.service.close()
        self.urgency.close()


class ChatAlerts:
    """One chat window's side: counts what arrives while it is in the background, raises the
    notification and the urgency mark, and takes both down when the window gets focus."""

    def __init__(self, owner: Notifications, chat, key: int):
        self.owner = owner
        self.chat = chat
        self.key = key
        self.gate = AlertGate(chat.room, gap=owner.gap)
        self.shown: str | None = None     # the notification on screen for this room
        self.urgent = False
        self.raised = 0                   # notifications raised (for tests)
        self._after_id: str | None = None
        chat.win.bind("<FocusIn>", self._focus_in, add="+")
        chat.win.bind("<Destroy>", self._destroyed, add="+")

    def arrived(self, events: list) -> None:
        """Called by the chat window with each batch of events it handled."""
        if self.chat.destroyed or self.in_front():
            return
        items = incoming(events, self.chat.username, self.chat.room)
        if not items:
            return
        if self.owner.flash.get() and not self.urgent:
            self.urgent = self.owner.urgency.set(self.chat.win, True)
        self._show(self.gate.arrived(items, self.owner.clock()))

    def in_front(self) -> bool:
        """Whether the person is looking: the window thinks it has the focus and Tk agrees.
        (A window that opened while the focus stayed elsewhere, as without a window manager or
        under focus-stealing prevention, never saw a FocusIn, yet starts out "focused".)"""
        if not self.chat.focused:
            return False
        try:
            holder = str(self.chat.win.tk.call("focus", "-displayof", self.chat.win))
        except tk.TclError:
            return False
        name = str(self.chat.win)
        return holder == name or holder.startswith(name + ".")

    def _show(self, alert: Alert | None) -> None:
        if alert is not None:
            self.shown = self.owner.notify(self.key, alert, self.shown) or self.shown
            self.raised += 1
        when = self.gate.next_due()
        if when is not None and self._after_id is None:
            delay = max(1, int((when - self.owner.clock()) * 1000))
            self._after_id = self.chat.win.after(delay, self._held_due)

    def _held_due(self) -> None:
        self._after_id = None
        if not self.chat.destroyed:
            self._show(self.gate.due(self.owner.clock()))

    def clicked(self) -> None:
        if not self.chat.destroyed:
            bring_forward(self.chat.win)

    def _focus_in(self, event=None) -> None:
        self.gate.seen()
        self._cancel_held()
        if self.urgent:
            self.owner.urgency.set(self.chat.win, False)
            self.urgent = False
        if self.shown is not None:
            self.owner.service.withdraw(self.shown)
            self.shown = None

    def _cancel_held(self) -> None:
        if self._after_id is not None:
            try:
                self.chat.win.after_cancel(self._after_id)
            except tk.TclError:
                pass
            self._after_id = None

    def _destroyed(self, event) -> None:
        if event.widget is not self.chat.win:
            return  # <Destroy> of a child, seen through the toplevel's binding
        self._cancel_held()
        if self.shown is not None:
            self.owner.service.withdraw(self.shown)
            self.shown = None
        self.owner.forget(self.key)


def _app_icon() -> Path | None:
    """The app's icon for notifications (the same PNG as the windows'), if there is one."""
    from ocm_gui.app import icon_files

    files = icon_files()
    return files[0] if files else None
