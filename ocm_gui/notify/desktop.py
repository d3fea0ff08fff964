"""Desktop notifications through desktop-notifier (D-Bus on Linux, WinRT on Windows, the
Notification Center on macOS), whose asyncio loop runs in one daemon thread. Clicks and bell
requests come back on a queue that the app's inbox drains on the Tk thread."""

from __future__ import annotations

import asyncio
import html
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocm_gui.notify.gate import Alert

log = logging.getLogger(__name__)

APP_NAME = "Online Chat Messenger"
CALL_TIMEOUT = 5.0  # seconds a notification service gets to answer one call
RETRY_SECONDS = 300.0  # after a failure, how long before the service is asked again
CLOSE_TIMEOUT = 2.0  # seconds the app waits for the notification thread on exit
# ---------------------------------------------------------------------------- the service


def _desktop_notifier(app_name: str, icon: Path | None):
    """The library's notifier (imported late: the app starts without it, and a broken
    install costs notifications, not the app)."""
    from desktop_notifier import DesktopNotifier, Icon

    return DesktopNotifier(app_name=app_name, app_icon=Icon(path=icon) if icon else None)


@dataclass(frozen=True)
class NotificationClicked:
    """A person clicked the notification of the chat watched under `key`."""

    key: int


@dataclass(frozen=True)
class BellWanted:
    """Ring instead of (or with) a notification for the chat watched under `key`."""

    key: int


class NotificationService:
    """desktop-notifier and the asyncio loop it needs, in one daemon thread.

    ``send`` and ``withdraw`` may be called from the Tk thread; they only schedule work
    on the loop. Clicks and bell requests come back on ``replies`` (NotificationClicked, BellWanted)
    for the Tk thread to act on. ``factory`` makes the notifier (tests pass a stand-in).
    """

    def __init__(
        self,
        app_name: str = APP_NAME,
        icon: Path | None = None,
        factory: Callable[[str, Path | None], Any] = _desktop_notifier,
    ):
        self.app_name = app_name
        self.icon = icon
        self._factory = factory
        self.replies: queue.Queue[NotificationClicked | BellWanted] = queue.Queue()
        self.available: bool | None = None  # None: not asked yet
        self.sounds = False  # the service plays a notification's sound
        self.delivered = 0  # notifications the service took (for tests and the log)
        self._markup = False  # the service reads the body as markup: escape it
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
                self._thread = threading.Thread(
                    target=self._run, args=(self._loop,), name="ocm-notifications", daemon=True
                )
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
            log.info(
                "desktop notifications through %s", type(getattr(self._notifier, "_backend", self._notifier)).__name__
            )
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
            log.info(
                "desktop notifications are off: no notification service answered (%s); "
                "the window is still marked as needing attention",
                reason or type(reason).__name__,
            )
        self.available = False
        self._retry_at = time.monotonic() + RETRY_SECONDS

    async def _send(self, identifier: str, key: int, alert: Alert, sound: bool, replaces: str | None) -> None:
        if not await self._ready():
            if sound:
                self.replies.put(BellWanted(key))
            return
        if replaces is not None:
            await self._clear(replaces)
        from desktop_notifier import DEFAULT_SOUND, Notification

        dispatched = threading.Event()
        notification = Notification(
            title=alert.title,
            message=html.escape(alert.body, quote=False) if self._markup else alert.body,
            sound=DEFAULT_SOUND if sound and self.sounds else None,
            on_clicked=lambda: self.replies.put(NotificationClicked(key)),
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
            self.replies.put(BellWanted(key))

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
