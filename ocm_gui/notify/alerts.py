"""Getting a person's attention when a message arrives in a window they are not looking at.

Three ways, each with its own setting (``Settings.notify_desktop``, ``notify_flash``,
``notify_sound``) and a check item in the chat window's Notifications menu:

- a desktop notification (``desktop-notifier``: D-Bus on Linux, WinRT on Windows, the
  Notification Center on macOS); clicking it brings the window forward;
- the window's urgency hint: X11's WM_HINTS urgency flag, a flashing taskbar button on
  Windows (FlashWindowEx), a bouncing Dock icon on macOS (Tk's ``wm attributes -notify``);
- a short sound: the notification's own where the service plays one, else Tk's bell.

This module is the Tk side (``Notifications``, ``ChatAlerts``). The decisions (which events
count, what the notification says, how a burst is folded into one) are in gate.py, without
I/O or Tk; the window's mark per platform in urgency.py; desktop-notifier, asyncio-based, in
desktop.py, whose ``NotificationService`` runs its loop in one daemon thread and hands clicks
back through a queue that the app's inbox loop drains on the Tk thread; nothing but the Tk
thread touches a widget. With no notification service (no D-Bus session, no daemon),
the service says so once in the log and stays quiet; the urgency hint still works.
"""

from __future__ import annotations

import itertools
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

from ocm_core.i18n import N_, _
from ocm_core.sansio.events import ChatMessage, FileShared
from ocm_core.sansio.mentions import mentions_me
from ocm_gui.icons import icon_files
from ocm_gui.inbox import inbox_for
from ocm_gui.notify.desktop import BellWanted, NotificationClicked, NotificationService
from ocm_gui.notify.gate import GAP_SECONDS, Alert, AlertGate, incoming
from ocm_gui.notify.urgency import Urgency

# ---------------------------------------------------------------------------- Tk side


def bring_forward(win: tk.Tk | tk.Toplevel) -> None:
    """Show a window on top with the keyboard focus (a click on its notification)."""
    win.deiconify()
    win.lift()
    win.focus_force()


# How much of a room's traffic raises a notification (per room, Notifications menu).
ALL, MENTIONS, NOTHING = "all", "mentions", "nothing"
LEVELS = (ALL, MENTIONS, NOTHING)
LEVEL_LABELS = (
    (ALL, N_("This room: every message")),
    (MENTIONS, N_("This room: only when named")),
    (NOTHING, N_("This room: nothing")),
)


class Notifications:
    """The app's one notification service, urgency marker and settings, shared by its chat windows.

    ``watch(chat)`` (App.open_chat) gives a chat window its ``ChatAlerts`` and a
    Notifications menu; ``close()`` (App.quit) ends the service thread.
    """

    def __init__(
        self,
        root: tk.Tk,
        settings,
        service: NotificationService | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.root = root
        self.settings = settings
        self.clock = clock
        self.gap = GAP_SECONDS
        self.service = service if service is not None else NotificationService(icon=_app_icon())
        self.urgency = Urgency(str(root.tk.call("tk", "windowingsystem")))
        self.watched: dict[int, ChatAlerts] = {}
        self._keys = itertools.count(1)
        self._closed = False
        inbox_for(root).watch(self, self.service.replies, self._replies)
        self.desktop = self._setting_var("notify_desktop")
        self.flash = self._setting_var("notify_flash")
        self.sound = self._setting_var("notify_sound")
        self.room_level = tk.StringVar(root, value=ALL)
        self._shown_link: str | None = None
        self.menu: tk.Menu | None = None
        self.room_menu_start = 0

    def _setting_var(self, name: str) -> tk.BooleanVar:
        var = tk.BooleanVar(self.root, value=bool(getattr(self.settings, name, True)))

        def changed(*_args) -> None:
            if self.settings is not None:
                self.settings.update(**{name: bool(var.get())})

        var.trace_add("write", changed)
        return var

    def watch(self, chat) -> ChatAlerts:
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
        menu.add_separator()
        self.room_menu_start = menu.index("end") or 0
        for level, label in LEVEL_LABELS:
            menu.add_radiobutton(
                label=_(label), value=level, variable=self.room_level, command=self._level_chosen, state="disabled"
            )
        self.menu = menu
        menubar.add_cascade(label=_("Notifications"), menu=menu)
        return menu

    # --- per room: every message, mentions only, nothing
    def level_of(self, link: str | None) -> str:
        for entry in self.settings.room_alerts:
            level, _space, where = entry.partition(" ")
            if where == link and level in LEVELS:
                return level
        return ALL

    def set_level(self, link: str, level: str) -> None:
        kept = [e for e in self.settings.room_alerts if e.partition(" ")[2] != link]
        self.settings.update(room_alerts=kept + ([f"{level} {link}"] if level != ALL else []))

    def showing(self, link: str | None) -> None:
        """The room shown now (its invite link; None: no room, or a direct conversation,
        which always notifies): the menu's three choices are about it."""
        self._shown_link = link
        self.room_level.set(self.level_of(link))
        if self.menu is not None:
            for offset in range(1, len(LEVEL_LABELS) + 1):
                self.menu.entryconfigure(self.room_menu_start + offset, state="normal" if link else "disabled")

    def _level_chosen(self) -> None:
        if self._shown_link:
            self.set_level(self._shown_link, self.room_level.get())

    def forget(self, key: int) -> None:
        self.watched.pop(key, None)

    def notify(self, key: int, alert: Alert, replaces: str | None) -> str | None:
        """Raise (or replace) a notification, or only ring, as the settings say."""
        sound = bool(self.sound.get())
        if not self.desktop.get():
            if sound:
                self._bell(key)
            return None
        return self.service.send(key, alert, sound, replaces)

    def _replies(self, replies: list[NotificationClicked | BellWanted]) -> None:
        if self._closed:
            return
        for reply in replies:
            if isinstance(reply, NotificationClicked):
                self._clicked(reply.key)
            else:
                self._bell(reply.key)

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
        inbox_for(self.root).forget(self)
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
        self.shown: str | None = None  # the notification on screen for this room
        self.urgent = False
        self.raised = 0  # notifications raised (for tests)
        self._after_id: str | None = None
        # The chat view says when it is looked at (seen) and when it goes away (closed).

    def arrived(self, events: list) -> None:
        """Called by the chat window with each batch of events it handled."""
        if self.chat.destroyed or self.in_front():
            return
        link = getattr(self.chat, "link", None)  # a direct conversation has none: it always notifies
        level = self.owner.level_of(link) if link else ALL
        if level == NOTHING:
            return
        if level == MENTIONS:
            events = [e for e in events if not isinstance(e, (ChatMessage, FileShared)) or self._names_me(e)]
        items = incoming(events, self.chat.username, self.chat.room)
        if not items:
            return
        if self.owner.flash.get() and not self.urgent:
            self.urgent = self.owner.urgency.set(self.chat.win, True)
        self._show(self.gate.arrived(items, self.owner.clock()))

    def _names_me(self, event) -> bool:
        return isinstance(event, ChatMessage) and mentions_me(event.text, self.chat.username, self.chat.members)

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
        return holder == name or holder.startswith(name if name.endswith(".") else name + ".")

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
            self.chat.come_forward()

    def seen(self) -> None:
        """The person looks at the room: what was held back is dropped, the marks come down."""
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

    def closed(self) -> None:
        """The room's view went away."""
        self._cancel_held()
        if self.shown is not None:
            self.owner.service.withdraw(self.shown)
            self.shown = None
        self.owner.forget(self.key)


def _app_icon() -> Path | None:
    """The app's icon for notifications (the same PNG as the windows'), if there is one."""
    files = icon_files()
    return files[0] if files else None
