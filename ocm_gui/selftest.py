"""A self-test that needs no person and no display: the app's `--self-test`.

It exercises the pieces that a packaged build can lose: every module of the app,
the bundled Tcl library (an interpreter without Tk, so no screen is needed), the
desktop-notification library's backend for this platform, and the
whole chat path over real sockets on 127.0.0.1 (a hosted server on free ports, one
client that creates a room, a second that joins it, one message relayed from the
first to the second and acknowledged back to the sender).

`run()` returns a one-line summary or raises SelfTestFailed with a one-line reason.
It logs what it does and prints nothing; `ocm_gui.__main__` decides what a person sees.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import pkgutil
import queue
import sys
import time
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

ROOM = "self-test room ✓"
HOST_NAME = "host"
GUEST_NAME = "guest"
MESSAGE = "hello from the self-test, こんにちは"


class SelfTestFailed(Exception):
    """One step of the self-test failed; str(exc) says which, in one line."""


@contextlib.contextmanager
def _step(what: str) -> Iterator[None]:
    """Turns any error inside into SelfTestFailed("<what> failed (<error>)")."""
    try:
        yield
    except SelfTestFailed:
        raise
    except Exception as exc:
        raise SelfTestFailed(f"{what} failed ({type(exc).__name__}: {exc})") from exc


def check_tcl() -> str:
    """Starts a Tcl interpreter (no Tk, no display) and returns its patch level."""
    with _step("importing tkinter"):
        import tkinter
    with _step("starting the bundled Tcl library"):
        level = str(tkinter.Tcl().eval("info patchlevel"))
    log.info("Tcl %s starts", level)
    return level


def check_pictures() -> int:
    """Encodes and decodes a small picture in each type shown inline (PNG, JPEG, GIF, WebP):
    a build that lost one of Pillow's codecs would show those pictures as plain files."""
    import io

    with _step("importing Pillow"):
        from PIL import Image, ImageTk  # noqa: F401  (ImageTk: the thumbnails' bridge to Tk)
    kinds = ("PNG", "JPEG", "GIF", "WEBP")
    for kind in kinds:
        with _step(f"decoding a {kind} picture"):
            data = io.BytesIO()
            Image.new("RGB", (8, 8), (200, 80, 40)).save(data, kind)
            with Image.open(io.BytesIO(data.getvalue())) as image:
                image.load()
                image.thumbnail((4, 4))
    log.info("Pillow decodes %s", ", ".join(kinds))
    return len(kinds)


def check_emoji_names() -> int:
    """Loads the emoji picker's names (the `emoji` package's data files, which a build can
    lose) and finds one in English and in Japanese; how many the picker offers."""
    with _step("loading the emoji names"):
        from ocm_core.sansio import emojinames

        if "👍" not in emojinames.search("thumbs", "en") or "🐱" not in emojinames.search("ねこ", "ja"):
            raise LookupError("the emoji names are not all there")
        offered = len(emojinames.offered())
    log.info("the emoji picker offers %d emoji", offered)
    return offered


def check_drag_and_drop(platform: str = sys.platform) -> int:
    """Finds tkinterdnd2's Tk extension (tkdnd) for this kind of system in the build: it is
    loaded only when a room opens, so a build that lost it would just take no drops."""
    import importlib.util
    from pathlib import Path

    with _step("finding the drag-and-drop extension"):
        spec = importlib.util.find_spec("tkinterdnd2")
        if spec is None or spec.origin is None:
            raise ImportError("tkinterdnd2 is not in this build")
        prefix = {"win32": "win-", "darwin": "osx-"}.get(platform, "linux-")
        found = [d for d in (Path(spec.origin).parent / "tkdnd").glob(prefix + "*") if (d / "pkgIndex.tcl").is_file()]
        if not found:
            raise FileNotFoundError(f"no tkdnd for {prefix}* in this build")
    log.info("drag and drop through tkdnd (%d builds for this system)", len(found))
    return len(found)


def check_notifications() -> str:
    """Loads the desktop-notification library and this platform's backend (D-Bus, WinRT or
    macOS's, imported lazily by the library, so a build can lose them); asks no service."""
    with _step("loading the desktop notification library"):
        from desktop_notifier.main import get_backend_class

        backend = get_backend_class().__name__
    log.info("notifications through %s", backend)
    return backend


def check_tray(platform: str = sys.platform) -> str:
    """Finds the tray library's backend for this platform (pystray imports it by name and
    connects to the screen on import, so only its presence is checked); "none" on macOS."""
    if platform == "darwin":
        return "none"
    import importlib.util

    backend = "_win32" if platform == "win32" else "_xorg"
    with _step("finding the tray icon library"):
        # The package is found, not imported: importing it would open the screen.
        spec = importlib.util.find_spec("pystray")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("pystray is not in this build")
        found = {info.name for info in pkgutil.iter_modules(spec.submodule_search_locations)}
        if backend not in found:
            raise ImportError(f"pystray.{backend} is not in this build")
        if platform != "win32" and importlib.util.find_spec("Xlib") is None:
            raise ImportError("python-xlib is not in this build")
    log.info("tray icon through pystray.%s", backend)
    return backend.lstrip("_")


def check_imports() -> int:
    """Imports every module of the app and the core; returns how many.

    A frozen build that lost a module (a lazy import the analysis missed, or one the
    spec excluded) fails here, not when a person first opens that window.
    """
    import ocm_core
    import ocm_gui

    count = 0
    for package in (ocm_core, ocm_gui):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if info.name.rsplit(".", 1)[-1] == "__main__":
                continue  # importing a package's __main__ would run it
            with _step(f"importing {info.name}"):
                importlib.import_module(info.name)
            count += 1
    log.info("%d modules import", count)
    return count


def _wait_for(events: queue.Queue, want: Callable[[object], bool], deadline: float, what: str) -> object:
    """Takes events off a client's queue until one satisfies `want` or the deadline passes."""
    seen: list[object] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            kinds = ", ".join(type(e).__name__ for e in seen) or "nothing"
            raise SelfTestFailed(f"timed out waiting for {what} (got {kinds})")
        try:
            event = events.get(timeout=min(remaining, 0.2))
        except queue.Empty:
            continue
        log.debug("event while waiting for %s: %r", what, event)
        if want(event):
            return event
        seen.append(event)


def check_chat(timeout: float = 10.0) -> str:
    """Hosts a room on free ports, joins it, relays one message; returns a summary."""
    from ocm_core.net.client import ChatClient
    from ocm_core.net.server import ChatServer
    from ocm_core.sansio.events import ChatMessage, MessageSent

    started = time.monotonic()
    deadline = started + timeout
    server = ChatServer("127.0.0.1", 0, 0)
    clients: list = []
    try:
        with _step("starting the server"):
            server.start()
        host, tcp_port = server.tcp_address
        udp_port = server.udp_address[1]
        log.info("server on %s tcp %d udp %d", host, tcp_port, udp_port)

        def new_client() -> ChatClient:
            client = ChatClient(host, tcp_port, timeout=max(1.0, deadline - time.monotonic()))
            clients.append(client)
            return client

        creator = new_client()
        with _step("creating a room"):
            creator.create_room(ROOM, HOST_NAME)
        joiner = new_client()
        with _step("joining the room"):
            joiner.join_room(ROOM, GUEST_NAME)
        with _step("sending a message"):
            msg_id = creator.send(MESSAGE)
        _wait_for(
            joiner.events,
            lambda e: isinstance(e, ChatMessage) and e.sender == HOST_NAME and e.text == MESSAGE,
            deadline,
            "the message to reach the second client",
        )
        _wait_for(
            creator.events,
            lambda e: isinstance(e, MessageSent) and e.msg_id == msg_id,
            deadline,
            "the server to acknowledge the message",
        )
        with _step("finding the room on loopback"):
            found = check_discovery(server, deadline)
        elapsed = time.monotonic() - started
        return (
            f"relayed a message between two clients via 127.0.0.1 tcp {tcp_port} udp {udp_port} "
            f"and found the room by probe ({found}) in {elapsed:.2f} s"
        )
    finally:
        for client in reversed(clients):
            try:
                client.leave()
            except Exception:
                log.warning("leaving the room failed during self-test clean-up", exc_info=True)
        try:
            server.stop()
        except Exception:
            log.warning("stopping the server failed during self-test clean-up", exc_info=True)


def check_discovery(server, deadline: float) -> str:
    """Builds the server's mDNS record (python-zeroconf, which a build can lose) and finds
    its room with the broadcast probe, kept on loopback: the self-test sends nothing
    onto a real network."""
    import socket

    from ocm_core.net import discovery

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    scope = discovery.Scope(mdns=False, loopback_only=True, probe_port=port)
    announcer = discovery.Announcer(server, scope)
    record = announcer._service_info(announcer.announcement([]))
    announcer.start()
    try:
        with discovery.RoomBrowser(scope) as browser:
            while True:
                rooms = [f.room for f in browser.rooms()]
                if ROOM in rooms:
                    return record.type
                if time.monotonic() > deadline:
                    raise SelfTestFailed(f"the room was not found by the probe (found {rooms})")
                time.sleep(0.05)
    finally:
        announcer.stop()


def run(timeout: float = 10.0) -> str:
    """Runs every check; returns a one-line summary or raises SelfTestFailed."""
    modules = check_imports()
    tcl = check_tcl()
    pictures = check_pictures()
    emoji = check_emoji_names()
    check_drag_and_drop()
    notifications = check_notifications()
    tray = check_tray()
    chat = check_chat(timeout)
    return (
        f"{chat}; {modules} modules import; Tcl {tcl} starts; {pictures} picture types decode; "
        f"{emoji} emoji named; notifications through {notifications}; tray icon through {tray}"
    )
