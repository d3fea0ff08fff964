#!/usr/bin/env python3
"""Screenshots of the app's windows in each state, for docs/: one command.

    .venv/bin/python scripts/screenshots.py                 # every state, en + ja, x1 + x2
    .venv/bin/python scripts/screenshots.py --only chat --lang ja --scale 2
    .venv/bin/python scripts/screenshots.py --list

It starts its own virtual screen (Xvfb, on a display number Xvfb picks) and window manager
(openbox, so windows have title bars), runs the real app's windows in this process with a
real ChatServer and real ChatClients on 127.0.0.1, drives them into each state and saves
docs/NAME[-ja][@2x].png. Settings, known servers, downloads and logs live in a temporary
directory (OCM_HOME, XDG_* and HOME point there), never the user's. Nothing is sent beyond 127.0.0.1:
the bundled server is not announced, and the Join dialog's "found on this network" list is
fed from real servers' room lists instead of an mDNS/broadcast search.

To add a state: write a function decorated with @scenario("file-name", "what it shows")
that takes a Shot, drives the app with its helpers and returns the window to photograph
(the root for the main window), or a tuple of windows photographed together, the last in front.
A state that needs a feature not merged yet calls `need(obj, "attribute")` first: it is
skipped with the reason printed (here only: the tests never skip a missing feature).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCREEN = "3200x2400x24"  # room for every window at x2 without the app's nine-tenths-of-the-screen cap

# Names used in more than one state.
HOST, MEMBER, THIRD = "Alice", "Bob", "花子"
ROOM = {"en": "Tea time", "ja": "お茶会"}
OTHER_ROOMS = {"en": ("Design review", "Weekend hike"), "ja": ("デザインの相談", "週末の登山")}
KEPT_ROOM = {"en": "Planning", "ja": "定例ミーティング"}  # a room that ended yesterday, kept on this PC
SWITCHER_LETTER = {"en": "d", "ja": "の"}  # two of the three rooms hold it


class Skip(Exception):
    """A state this checkout cannot show yet (a feature not merged); the reason is printed."""


def need(obj, *attributes: str) -> None:
    """Skip the state unless `obj` has every attribute (a feature still on another branch)."""
    for attribute in attributes:
        if not hasattr(obj, attribute):
            name = getattr(obj, "__name__", type(obj).__name__)
            raise Skip(f"{name} has no {attribute} yet")


@dataclass
class Scenario:
    name: str
    about: str
    run: Callable[[Shot], object]


SCENARIOS: list[Scenario] = []


def scenario(name: str, about: str):
    def register(func):
        SCENARIOS.append(Scenario(name, about, func))
        return func

    return register


# ---------------------------------------------------------------------- the display


class Display:
    """Xvfb on a free display number (Xvfb -displayfd picks it) and openbox on it."""

    ATTEMPTS = 3  # another Xvfb starting at the same moment can take the number Xvfb picked

    def __init__(self):
        missing = [tool for tool in ("Xvfb", "openbox", "xwininfo", "xprop") if shutil.which(tool) is None]
        if missing:
            packages = {"Xvfb": "xvfb", "openbox": "openbox", "xwininfo": "x11-utils", "xprop": "x11-utils"}
            wanted = " ".join(sorted({packages[t] for t in missing}))
            sys.exit(
                f"screenshots: {', '.join(missing)} not found. Install with: sudo apt-get install {wanted} "
                "(bash scripts/setup.sh does it)."
            )
        for _attempt in range(self.ATTEMPTS):
            if self._start():
                return
        sys.exit(f"screenshots: openbox did not start on the virtual screen ({self.ATTEMPTS} tries)")

    def _start(self) -> bool:
        """Xvfb, then openbox on it; False (both stopped) if openbox did not take the screen."""
        read_end, write_end = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp", "-dpi", "96"],
            pass_fds=[write_end],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_end)
        number = b""
        with os.fdopen(read_end, "rb") as pipe:
            while not number.endswith(b"\n"):
                chunk = pipe.read(1)
                if not chunk:
                    self.xvfb.kill()
                    sys.exit("screenshots: Xvfb did not start")
                number += chunk
        self.name = f":{int(number)}"
        env = dict(os.environ, DISPLAY=self.name)
        self.wm = subprocess.Popen(
            ["openbox", "--sm-disable"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not self._wm_running(env):  # openbox says so on the root window when it manages it
            if time.monotonic() > deadline or self.wm.poll() is not None:
                self.close()
                return False
            time.sleep(0.05)
        return True

    @staticmethod
    def _wm_running(env) -> bool:
        out = subprocess.run(
            ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], env=env, capture_output=True, text=True
        ).stdout
        return "window id" in out

    def close(self) -> None:
        for proc in (self.wm, self.xvfb):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()


def frame_geometry(window_id: str, display: str) -> tuple[int, int, int, int]:
    """x, y, width, height of an X window (the WM's frame, with its title bar), on the screen."""
    out = subprocess.run(
        ["xwininfo", "-id", window_id],
        env=dict(os.environ, DISPLAY=display),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = {}
    for line in out.splitlines():
        key, _, value = line.strip().partition(":")
        fields[key] = value.strip()
    return (
        int(fields["Absolute upper-left X"]),
        int(fields["Absolute upper-left Y"]),
        int(fields["Width"]),
        int(fields["Height"]),
    )


# ---------------------------------------------------------------------- one state


class Shot:
    """What a scenario drives: a fresh Tk root and App in one language at one scaling,
    and helpers to start servers and clients; everything is stopped afterwards."""

    def __init__(self, lang: str, scale: int, work: Path, display: str):
        import tkinter as tk

        from ocm_core import i18n
        from ocm_gui import theme
        from ocm_gui.app import App
        from ocm_gui.settings import Settings

        self.lang, self.scale, self.work, self.display = lang, scale, work, display
        self.room = ROOM[lang]
        self.errors: list[str] = []
        self.notes: list[str] = []  # what looks wrong in the app itself, printed with the picture
        self._cleanup: list[Callable[[], object]] = []
        i18n.use_language(lang)
        self.root = tk.Tk(className="OnlineChatMessenger")
        self.root.report_callback_exception = self._callback_failed
        # Relative to 96 dpi, as theme.scaled assumes: the pictures do not depend on the screen.
        self.root.tk.call("tk", "scaling", theme.BASE_SCALING * scale)
        self.settings = Settings.load(work / "settings.json")
        # Light unless a state switches (not the system's choice, which a desktop portal may say);
        # no desktop notifications: rooms not shown get messages, and a notification would go to
        # whatever session bus this process can reach, beyond the virtual screen.
        self.settings.update(name=HOST, appearance="light", notify_desktop=False)
        self.backend = ScreenshotBackend()
        from ocm_core.storage.history import HistoryStore

        # A history of its own: one state's rooms (ended, kept) must not show in the next.
        self.app = App(
            self.root, settings=self.settings, backend=self.backend, history=HistoryStore(work / "history.db")
        )
        self.root.report_callback_exception = self._callback_failed  # App may set its own; ours records
        self.root.geometry("+40+40")
        self.pump(lambda: self.root.winfo_viewable(), "the main window")

    def _callback_failed(self, exc_type, value, tb) -> None:
        self.errors.append("".join(traceback.format_exception(exc_type, value, tb)))

    # -- waiting
    def pump(self, until: Callable[[], object], what: str, timeout: float = 15.0):
        """Run the Tk loop until `until()` is true (returned); fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.root.update()
            if self.errors:
                raise RuntimeError("a Tk callback raised:\n" + self.errors[0])
            value = until()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:g} s for {what}")
            time.sleep(0.005)  # lets worker threads run; the condition decides

    def settle(self, *chats) -> None:
        """Wait until each room has shown everything its client has told it so far."""
        from ocm_gui.inbox import inbox_for

        inbox = inbox_for(self.root)  # the main window's, shared by its rooms
        self.pump(lambda: all(chat.client.events.empty() for chat in chats) and inbox.idle, "the rooms to catch up")
        turns = inbox.ticks
        self.pump(lambda: inbox.ticks >= turns + 2, "two more turns of the inbox")  # the last batch drawn

    def size_window(self, size: tuple[int, int] | None) -> None:
        """The main window at `size` as drawn at 96 dpi (grown with the scaling), as a person
        would leave it; None: at the least size the app allows for the page shown."""
        from ocm_gui import theme

        self.root.update_idletasks()
        width, height = self.root.minsize() if size is None else theme.window_size(self.root, *size)
        self.root.geometry(f"{width}x{height}")
        self.pump(
            lambda: (self.root.winfo_width(), self.root.winfo_height()) == (width, height), "the window's new size"
        )

    # -- real servers and clients on 127.0.0.1
    def server(self):
        from ocm_core.net.server import ChatServer

        server = ChatServer(host="127.0.0.1", tcp_port=0, udp_port=0)
        server.start()
        self._cleanup.append(server.stop)
        return server

    def client(self, server, *, proxy=None, events: queue.Queue | None = None, **timing):
        """A ChatClient of `server`; through `proxy` (a FaultProxy) when given; its event
        queue `events` when given (before its threads start); left afterwards."""
        from ocm_core.net.client import ChatClient

        if proxy is not None:
            timing["udp_address"] = proxy.address
        client = ChatClient("127.0.0.1", server.tcp_address[1], **timing)
        if events is not None:
            client.events = events
        self._cleanup.append(client.leave)
        return client

    def proxy(self, server):
        """A UDP proxy between clients and `server` whose drop rate a scenario sets (0..1)."""
        sys.path.insert(0, str(REPO / "tests"))
        from faultproxy import FaultProxy, Faults

        proxy = FaultProxy(server.udp_address, Faults(), Faults())
        proxy.__enter__()
        self._cleanup.append(lambda: proxy.__exit__(None, None, None))
        return proxy

    def share_address(self, server) -> str:
        from ocm_gui.dialogs.validation import format_address

        return format_address(self.backend.lan_address(), server.tcp_address[1])

    # -- the picture
    def grab(self, windows, path: Path) -> tuple[int, int]:
        """Photograph a window (any widget in it), or several together (a tuple, the last one
        in front and focused: a dialog over the main window), title bars included. A posted
        tk.Menu among them (a context menu and its cascade) is taken as it is, over the windows."""
        import tkinter as tk

        from PIL import ImageGrab

        wins = [w.winfo_toplevel() for w in (windows if isinstance(windows, (list, tuple)) else [windows])]
        # A posted menu has no frame of its own (override-redirect): it is taken where it is, over the rest.
        menus = [w for w in wins if isinstance(w, tk.Menu)]
        wins = [w for w in wins if not isinstance(w, tk.Menu)]
        for win in wins:
            win.deiconify()
            if not menus:
                win.lift()
        front = wins[-1]
        if not menus:
            (front.focus_lastfor() or front).focus_force()  # where the scenario left the cursor
        front.update_idletasks()
        self.pump(
            lambda: all(win.winfo_viewable() and win.wm_frame() != hex(win.winfo_id()) for win in wins),
            "the window on screen",
        )
        # The frames settle once the WM has placed and sized them: two equal readings in a row.
        previous = None
        deadline = time.monotonic() + 5
        while True:
            self.root.update()
            self.root.winfo_pointerxy()  # a round trip: the server has drawn what Tk sent
            frames = [frame_geometry(win.wm_frame(), self.display) for win in wins]
            if frames == previous or time.monotonic() > deadline:
                break
            previous = frames
            time.sleep(0.05)
        frames += [(m.winfo_rootx(), m.winfo_rooty(), m.winfo_width(), m.winfo_height()) for m in menus]
        left = min(x for x, _y, _w, _h in frames)
        top = min(y for _x, y, _w, _h in frames)
        right = max(x + w for x, _y, w, _h in frames)
        bottom = max(y + h for _x, y, _w, h in frames)
        screen = (front.winfo_screenwidth(), front.winfo_screenheight())
        if left < 0 or top < 0 or right > screen[0] or bottom > screen[1]:
            raise RuntimeError(
                f"the window ({right - left}x{bottom - top}+{left}+{top}) does not fit the screen {screen}"
            )
        for win in wins:
            # The app's own fault, not the picture's: say so, and take the picture as a person sees it.
            if win.winfo_width() < win.winfo_reqwidth() or win.winfo_height() < win.winfo_reqheight():
                self.notes.append(
                    f"window {win.winfo_width()}x{win.winfo_height()} is smaller than its content "
                    f"asks for ({win.winfo_reqwidth()}x{win.winfo_reqheight()}): something is cut off"
                )
        image = ImageGrab.grab(bbox=(left, top, right, bottom), xdisplay=self.display)
        image.save(path, optimize=True)
        return right - left, bottom - top

    def close(self) -> None:
        from ocm_gui.background import wait_for_background

        try:
            if not self.app.closing:
                # The palette is the theme module's, not the window's: the next state starts light.
                self.app.appearance.set_choice("light")
                self.root.update()  # ttk redraws for the new styles while the windows are still there
                self.app.quit()
        except Exception:
            traceback.print_exc()
        for step in reversed(self._cleanup):
            try:
                step()
            except Exception:
                traceback.print_exc()
        wait_for_background(timeout=5.0)
        with contextlib.suppress(Exception):
            self.root.destroy()


def ScreenshotBackend():
    """The app's Backend, kept on loopback: servers bind 127.0.0.1 and are not announced, and
    the Join dialog's network search is a stand-in fed with `found` (real servers' rooms)."""
    import queue

    from ocm_gui.backend import Backend

    class StandInBrowser:
        def __init__(self, found):
            self.updates: queue.Queue = queue.Queue()
            self.found = found

        def start(self) -> None:
            if self.found:
                self.updates.put(list(self.found))

        def stop(self) -> None:
            pass

    class LoopbackBackend(Backend):
        found: list = []

        def make_server(self, tcp_port, udp_port, host="127.0.0.1"):
            return super().make_server(tcp_port, udp_port, host="127.0.0.1")

        def make_browser(self):
            return StandInBrowser(self.found)

    return LoopbackBackend(announce=False)


# ---------------------------------------------------------------------- what people say


def conversation(lang: str) -> list[tuple[str, str]]:
    """(sender, text) for the long conversation; HOST's lines are typed in the window."""
    return [
        (MEMBER, "Morning! The new build is up: https://example.com/builds/1.4.2"),
        (HOST, "Thanks 🎉 installing it now"),
        (THIRD, "おはようございます！新しいビルド、さっそく試してみます。"),
        (MEMBER, "What changed:\n- faster file sharing\n- emoji in names 😀\n- the Retry link works in closed rooms"),
        (THIRD, "議事録はこちらです → https://example.com/meetings/2026-11-25 よろしくお願いします🙏"),
        (
            HOST,
            "Looks good. Agenda for later: www.example.com/agenda"
            if lang == "en"
            else "了解です。午後の予定は www.example.com/agenda にあります",
        ),
    ]


def short_conversation(lang: str) -> list[tuple[str, str]]:
    """(sender, text) in the main window's room shown, between HOST (typed) and MEMBER."""
    if lang == "ja":
        return [
            (MEMBER, "4時のお茶会、予定どおりですか？"),
            (HOST, "はい！新しい抹茶を持っていきます 🍵"),
            (MEMBER, "いいですね。先週の写真はこちら: https://example.com/photos"),
            (HOST, "ありがとう、では4時に"),
        ]
    return [
        (MEMBER, "Are we still on for tea at four?"),
        (HOST, "Yes! I'll bring the new matcha 🍵"),
        (MEMBER, "Perfect. Last week's photos are here: https://example.com/photos"),
        (HOST, "Thanks, see you at four"),
    ]


def unread_lines(lang: str) -> list[list[tuple[str, str]]]:
    """(sender, text) said in each of the main window's rooms not shown (OTHER_ROOMS' order)."""
    if lang == "ja":
        return [
            [("Dana", "モックアップができました。金曜までにコメントをお願いします。")],
            [
                ("健太", "土曜日は7時に駅で集合です"),
                ("健太", "雨なら日曜日に延期します"),
                ("Eve", "おやつを持っていきます！"),
            ],
        ]
    return [
        [("Dana", "The mockups are ready: comments by Friday, please.")],
        [
            ("健太", "Saturday, 7:00 at the station"),
            ("健太", "If it rains we go on Sunday"),
            ("Eve", "I'll bring snacks!"),
        ],
    ]


def make_picture(path: Path) -> Path:
    """A small PNG to share: a sky, a hill and a sun, drawn with Pillow."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 400), "#9fd3f0")
    draw = ImageDraw.Draw(image)
    draw.ellipse((470, 40, 590, 160), fill="#ffcf40")
    draw.ellipse((-200, 250, 500, 700), fill="#5fae5a")
    draw.ellipse((250, 290, 900, 760), fill="#468f44")
    image.save(path)
    return path


QUICK_SEND_TIMEOUT = 1.25  # formatted "1.25" in a failure's reason: nothing else there reads so


class UsualTimeoutInReasons(queue.Queue):
    """A client's event queue that words a failure as the app's usual send timeout would (60 s),
    not the short one a screenshot waits for; the reason's sentence is the session's own."""

    def put(self, event, block=True, timeout=None):
        from ocm_core.net.client import ChatClient
        from ocm_core.sansio.events import MessageFailed

        if isinstance(event, MessageFailed):
            usual = inspect.signature(ChatClient).parameters["send_timeout"].default
            event = dataclasses.replace(event, reason=event.reason.replace(f"{QUICK_SEND_TIMEOUT:g}", f"{usual:g}"))
        super().put(event, block, timeout)


def say(shot: Shot, chat, client, text: str) -> None:
    """`client` (another member) says `text`; wait until `chat` shows it."""
    client.send(text)
    shot.pump(lambda: text.splitlines()[-1] in chat.transcript(), f"{text[:20]!r} in the window")


def type_and_send(shot: Shot, chat, text: str, *, confirmed: bool = True) -> int:
    """Type `text` into the window's input and send it, as Enter does; wait for its ✓."""
    chat.input.focus_set()
    chat.input.insert("1.0", text)
    msg_id = chat.send()
    if msg_id is None:
        raise RuntimeError(f"the window refused to send {text!r}: {chat.hint.cget('text')}")
    if confirmed:
        # ✓ replaces the status and the scrollback stops tracking it; a failed one stays tracked
        shot.pump(
            lambda: not chat.scrollback.is_tracked(msg_id) or msg_id in chat.scrollback.failed_ids(),
            "the own message confirmed",
        )
        if msg_id in chat.scrollback.failed_ids():
            raise RuntimeError(f"{text!r} was not delivered")
    return msg_id


def members_room(shot: Shot, *, window: str = HOST, proxy: bool = False, **timing):
    """A real room with HOST, MEMBER and THIRD, shown in the main window; the room is
    `window`'s, the others are plain clients.
    Returns (chat window, {name: client}, server, proxy or None)."""
    server = shot.server()
    relay = shot.proxy(server) if proxy else None
    clients = {}
    for name in (HOST, MEMBER, THIRD):
        mine = name == window
        client = shot.client(server, proxy=relay if mine else None, **(timing if mine else {}))
        if name == HOST:
            client.create_room(shot.room, name)
        else:
            client.join_room(shot.room, name)
        clients[name] = client
    mine = clients[window]
    chat = shot.app.open_chat(mine, share_address=shot.share_address(server) if window == HOST else None)
    shot.pump(lambda: len(chat.member_labels()) == 3, "everyone in the People list")
    return chat, clients, server, relay


# ---------------------------------------------------------------------- the states


@scenario("start", "the main window with no room yet: the start page, the last name filled in")
def start_window(shot: Shot):
    shot.app.start.host_button.focus_set()
    return shot.root


def three_rooms(shot: Shot):
    """The main window of someone in three rooms: one hosted here (a member in it, a short
    conversation, the room shown) and two joined on another server, where others say what
    is counted unread. Returns the room shown."""
    server = shot.server()
    here, member = shot.client(server), shot.client(server)
    here.create_room(shot.room, HOST)
    member.join_room(shot.room, MEMBER)
    chat = shot.app.open_chat(here, share_address=shot.share_address(server))
    shot.size_window((980, 640))
    shot.pump(lambda: len(chat.member_labels()) == 2, "the member in the People list")
    elsewhere = shot.server()
    rooms = []  # (its room in the window, {name: client of the others}) for each joined room
    for room, people in zip(OTHER_ROOMS[shot.lang], (["Dana"], ["健太", "Eve"]), strict=True):
        theirs = {}
        for position, name in enumerate(people):
            theirs[name] = shot.client(elsewhere)
            (theirs[name].create_room if position == 0 else theirs[name].join_room)(room, name)
        mine = shot.client(elsewhere)
        mine.join_room(room, HOST)
        rooms.append((shot.app.open_chat(mine, show=False), theirs))
    for sender, text in short_conversation(shot.lang):
        if sender == HOST:
            type_and_send(shot, chat, text)
        else:
            say(shot, chat, member, text)
    for (room_chat, theirs), lines in zip(rooms, unread_lines(shot.lang), strict=True):
        for sender, text in lines:
            theirs[sender].send(text)
        wanted = len(lines)
        shot.pump(lambda room=room_chat, n=wanted: room.unread == n, f"{wanted} unread in {room_chat.room}")
    shot.settle(chat, *(room_chat for room_chat, _theirs in rooms))
    chat.input.focus_set()
    return chat


@scenario("main", "the main window in three rooms: one hosted here, shown; two joined elsewhere, with unread messages")
def main_window(shot: Shot):
    three_rooms(shot)
    return shot.root


@scenario("main-dark", "the same main window with Appearance set to Dark")
def main_window_dark(shot: Shot):
    from ocm_gui import theme

    three_rooms(shot)
    shot.app.appearance.set_choice("dark")
    shot.pump(lambda: shot.app.appearance.palette is theme.DARK, "the dark palette")
    return shot.root


@scenario("switcher", "the quick switcher (Ctrl+K) over the main window, a letter typed")
def switcher(shot: Shot):
    three_rooms(shot)
    shot.app.open_switcher()
    switch = shot.app.switcher
    switch.entry.insert("end", SWITCHER_LETTER[shot.lang])
    shot.pump(lambda: len(switch.shown) < len(switch.names), "the rooms filtered")
    return shot.root, switch.win


@scenario("link-prompt", "the page an invite link opens: the room, its server and identity, your name")
def link_prompt(shot: Shot):
    from ocm_core.wire.links import InviteLink

    server = shot.server()
    shot.client(server).create_room(shot.room, MEMBER)
    # The link as the host shares it: the address others use, the server's real port and identity.
    host = shot.backend.lan_address()
    shot.app.open_link(InviteLink(host, server.tcp_address[1], shot.room, server.fingerprint).text)
    prompt = shot.pump(lambda: shot.app.link_prompt, "the invite link's page")
    prompt.focus()
    return shot.root


def host_dialog_filled(shot: Shot):
    """The Host dialog opened from the start page, the room's name typed."""
    dialog = shot.app.open_host_dialog()  # what Host a room does
    dialog.room_var.set(shot.room)
    dialog.room_entry.icursor("end")
    return dialog


@scenario("host-dialog", "Host a room, a room name typed")
def host_dialog(shot: Shot):
    return host_dialog_filled(shot).win


@scenario("join-dialog", "Join a room: three rooms found on two servers, one picked")
def join_dialog_found(shot: Shot):
    from ocm_core.net.discovery import FoundRoom

    found = []
    rooms = [
        (shot.room, [HOST, MEMBER, THIRD], None),
        ("Design review", ["Dana"], "s3cret"),
        ("週末の登山", ["健太", "Eve"], None),
    ]
    servers = [shot.server(), shot.server()]
    for index, (room, people, password) in enumerate(rooms):
        server = servers[index % 2]
        for position, name in enumerate(people):
            client = shot.client(server)
            (client.create_room if position == 0 else client.join_room)(room, name, password)
    for server in servers:
        port = server.tcp_address[1]
        for info in shot.client(server).list_rooms():
            found.append(
                FoundRoom(
                    address="127.0.0.1",
                    tcp_port=port,
                    room=info.name,
                    members=info.members,
                    locked=info.locked,
                    host=info.host or "",
                    fingerprint=server.fingerprint,
                )
            )
    shot.backend.found = sorted(found, key=lambda f: f.room.casefold())
    shot.settings.update(name=MEMBER)
    shot.app.start.name_var.set(MEMBER)
    dialog = shot.app.open_join_dialog()  # what Join a room does
    shot.pump(lambda: len(dialog.room_names()) == 3, "three rooms in the list")
    dialog.pick(next(iid for iid in dialog.tree.get_children() if dialog.tree.set(iid, "room") == shot.room))
    dialog.tree.focus_set()
    return dialog.win


@scenario("join-dialog-error", "Join a room by address: a locked room, a wrong password")
def join_dialog_error(shot: Shot):
    from ocm_gui.dialogs.join import BY_ADDRESS

    server = shot.server()
    shot.client(server).create_room(shot.room, HOST, "s3cret")
    shot.client(server).create_room("Design review", "Dana")
    shot.app.start.name_var.set(MEMBER)
    dialog = shot.app.open_join_dialog()  # what Join a room does
    dialog.set_mode(BY_ADDRESS)
    dialog.address_var.set(f"127.0.0.1:{server.tcp_address[1]}")
    dialog.refresh()
    shot.pump(lambda: len(dialog.room_names()) == 2, "the server's rooms")
    dialog.pick(shot.room)
    shot.pump(dialog.password_shown, "the password field")
    dialog.password_var.set("guess")
    dialog.ok()
    shot.pump(lambda: dialog.error_text() and not dialog.busy, "the error line")
    return dialog.win


@scenario("join-dialog-empty", "Join a room: nothing found on this network")
def join_dialog_empty(shot: Shot):
    from ocm_gui.dialogs import join as dialogs

    need(dialogs, "EMPTY_NETWORK_MS")
    dialogs.EMPTY_NETWORK_MS = 0  # say "nothing found" at once rather than after 4 s
    dialog = shot.app.open_join_dialog()  # what Join a room does
    shot.pump(lambda: dialog.help_frame.winfo_ismapped(), "the nothing-found help")
    return dialog.win


@scenario("chat-host-new", "the host's room in the main window right after Host room")
def chat_host_new(shot: Shot):
    dialog = host_dialog_filled(shot)
    dialog.tcp_var.set("0")  # any free ports
    dialog.udp_var.set("0")
    dialog.ok_button.invoke()
    chat = shot.pump(lambda: shot.app.chats and shot.app.chats[0], "the host's chat window")
    shot.pump(lambda: chat.member_labels(), "the People list")
    shot.settle(chat)
    return chat.win


@scenario(
    "chat",
    "a long conversation of three: links, emoji, Japanese, a multi-line message, "
    "a picture, a file, one own message not delivered",
)
def chat_conversation(shot: Shot):
    return long_conversation(shot, size=(960, 760))


@scenario("chat-narrow", "the same conversation in the main window at its smallest size")
def chat_conversation_narrow(shot: Shot):
    return long_conversation(shot, size=None)


def long_conversation(shot: Shot, size: tuple[int, int] | None):
    # The host's datagrams pass a proxy that drops them all for one message, which then fails
    # after send_timeout with its Retry link: a short one here, shown as the app's usual one.
    chat, clients, server, relay = members_room(
        shot, proxy=True, send_timeout=QUICK_SEND_TIMEOUT, events=UsualTimeoutInReasons()
    )
    shot.size_window(size)
    lines = conversation(shot.lang)
    for sender, text in lines[:5]:
        if sender == HOST:
            type_and_send(shot, chat, text)
        else:
            say(shot, chat, clients[sender], text)
    picture = make_picture(shot.work / "hill.png")
    clients[THIRD].send_file(picture)
    shot.pump(lambda: any(line.picture is not None for line in chat.files.lines.values()), "the picture's thumbnail")
    notes = shot.work / "meeting-notes.pdf"
    notes.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 700)
    clients[MEMBER].send_file(notes)
    shot.pump(lambda: len(chat.files.lines) == 2, "the file card")
    for sender, text in lines[5:]:
        if sender == HOST:
            type_and_send(shot, chat, text)
        else:
            say(shot, chat, clients[sender], text)
    relay.faults["up"].drop = 1.0
    lost = type_and_send(
        shot,
        chat,
        "Can we go through it at 15:00?" if shot.lang == "en" else "15時に一緒に確認しませんか？",
        confirmed=False,
    )
    shot.pump(lambda: lost in chat.scrollback.failed_ids(), "the message to fail", timeout=10)
    relay.faults["up"].drop = 0.0
    shot.settle(chat)
    return chat.win


@scenario("chat-connection-lost", "a member's room while the server is silent")
def chat_connection_lost(shot: Shot):
    chat, clients, server, relay = members_room(shot, window=MEMBER, proxy=True, heartbeat_interval=0.3, lost_after=1.0)
    say(
        shot,
        chat,
        clients[HOST],
        "The new build is up: https://example.com/builds/1.4.2"
        if shot.lang == "en"
        else "新しいビルドを公開しました: https://example.com/builds/1.4.2",
    )
    type_and_send(shot, chat, "Downloading it now" if shot.lang == "en" else "ダウンロードしています")
    relay.faults["up"].drop = relay.faults["down"].drop = 1.0
    shot.pump(lambda: chat.connection_lost and chat.banners.visible, "the connection-lost banner", timeout=10)
    shot.settle(chat)
    return chat.win


@scenario("chat-closed", "a member's room after the host closed it")
def chat_closed(shot: Shot):
    chat, clients, server, relay = members_room(shot, window=MEMBER)
    say(
        shot,
        chat,
        clients[HOST],
        "That's all for today, thanks everyone!"
        if shot.lang == "en"
        else "今日はここまでです。ありがとうございました！",
    )
    type_and_send(shot, chat, "Thanks, see you tomorrow 👋" if shot.lang == "en" else "お疲れさまでした 👋")
    clients[HOST].leave()
    shot.pump(lambda: chat.room_closed, "the room closed")
    shot.settle(chat)
    return chat.win


@scenario("chat-host-not-answering", "a member's room when the host has been silent past the member timeout")
def chat_host_not_answering(shot: Shot):
    from ocm_core.sansio import events

    need(events, "HostNotAnswering")
    chat = chat_connection_lost(shot)
    # The session says this 30 s after the connection was lost (39 s of silence with the
    # defaults; tests/test_session.py); the window's handling from here on is real.
    chat_window = shot.app.chats[0]
    chat_window.client.events.put(events.HostNotAnswering(39))  # type: ignore[attr-defined]
    shot.pump(lambda: chat_window.banners.buttons, "the Leave and Keep waiting buttons")
    shot.settle(chat_window)
    return chat


@scenario("chat-session-gone", "a member's room when the server no longer knows its session: Rejoin")
def chat_session_gone(shot: Shot):
    from ocm_core.i18n import _
    from ocm_core.sansio import events

    need(events, "SessionGone")
    chat, clients, server, relay = members_room(shot, window=MEMBER)
    say(shot, chat, clients[HOST], "Back in five minutes" if shot.lang == "en" else "5分後に戻ります")
    # What the session reports when a restarted server refuses to take it back
    # (tests/gui/test_lost_host_real.py makes it happen for real).
    chat.client.events.put(
        events.SessionGone(  # type: ignore[attr-defined]
            shot.room, MEMBER, _("You were away too long and were removed.")
        )
    )
    shot.pump(lambda: chat.room_closed and chat.banners.buttons, "the Rejoin banner")
    shot.settle(chat)
    return chat.win


@scenario("chat-close-question", "the host closing a room others are in is asked first")
def chat_close_question(shot: Shot):
    chat, clients, server, relay = members_room(shot, window=HOST)
    need(chat, "confirm")
    chat.leave_button.invoke()
    shot.pump(lambda: chat.confirm is not None and chat.confirm.win.winfo_viewable(), "the question")
    return chat.confirm.win


def open_emoji_picker(shot: Shot, query: str = ""):
    """A room with the picker open over its input, recent choices first, `query` typed."""
    chat = three_rooms(shot)
    shot.settings.update(recent_emoji=["👍", "😂", "🎉", "❤️", "🙏", "👀"])
    chat.input.insert("end", "Sounds good " if shot.lang == "en" else "いいですね ")
    chat.composer.emoji_button.invoke()
    picker = shot.pump(lambda: chat.composer.emoji_picker, "the picker")
    shot.pump(lambda: picker.win.winfo_viewable(), "the picker shown")
    if query:
        picker.entry.insert("end", query)
    return picker


@scenario("emoji-picker", "the emoji picker over the input: a name typed, English or Japanese")
def emoji_picker(shot: Shot):
    picker = open_emoji_picker(shot, "ねこ" if shot.lang == "ja" else "cat")
    return shot.root, picker.win


@scenario("emoji-picker-dark", "the emoji picker, recent choices first, Appearance set to Dark")
def emoji_picker_dark(shot: Shot):
    from ocm_gui import theme

    picker = open_emoji_picker(shot)
    shot.app.appearance.set_choice("dark")
    shot.pump(lambda: shot.app.appearance.palette is theme.DARK, "the dark palette")
    return shot.root, picker.win


@scenario("paste-preview", "a picture pasted in the input (Ctrl+V): its preview with Send and Cancel")
def paste_preview(shot: Shot):
    chat, clients, server, relay = members_room(shot, window=HOST)
    need(chat, "paster")
    say(shot, chat, clients[MEMBER], short_conversation(shot.lang)[0][1])
    chat.paster._now = lambda: time.strptime("2026-12-07 21:30:05", "%Y-%m-%d %H:%M:%S")  # the same name in every shot
    picture = make_picture(shot.work / "pasted.png").read_bytes()
    preview = chat.paster.show_preview(picture)
    shot.pump(lambda: preview is not None and preview.top.winfo_viewable(), "the preview")
    shot.settle(chat)
    return (shot.root, preview.top)


def ended_conversation(lang: str) -> list[tuple[str, str]]:
    """(sender, text) of yesterday's meeting, kept on this PC after the room ended."""
    if lang == "ja":
        return [
            (MEMBER, "定例ミーティングの議事録を共有します"),
            (THIRD, "ありがとうございます。次回は木曜の10時で大丈夫です"),
            (HOST, "了解です。件名は「リリース計画」にします"),
            (MEMBER, "会議室Bを予約しました"),
        ]
    return [
        (MEMBER, "Sharing the notes from today's planning meeting"),
        (THIRD, "Thanks! Thursday at 10 works for the next meeting"),
        (HOST, "Great, I'll call it 'Release plan'"),
        (MEMBER, "Meeting room B is booked"),
    ]


def kept_room(shot: Shot):
    """Yesterday's room that ended, as the history on this PC keeps it: listed greyed, its page shown."""
    from ocm_core.storage.history import Line, LineKind

    store = shot.app.history
    yesterday = time.time() - 86_400
    conversation = store.conversation(
        "ABCD-EFGH-IJKL-MNOP-QRST", "0" * 32, room=KEPT_ROOM[shot.lang], server="192.168.1.20:9090", me=HOST
    )
    lines = [Line(1, yesterday, LineKind.JOINED, HOST, "")]
    lines += [
        Line(seq, yesterday + 60 * seq, LineKind.CHAT, sender, text)
        for seq, (sender, text) in enumerate(ended_conversation(shot.lang), 2)
    ]
    store.add_many(conversation, lines)
    from ocm_core.i18n import _

    store.mark_ended(conversation, _("The host closed the room."), yesterday + 600)
    shot.app._list_ended_rooms()
    kept = next(g for g in shot.app.gone if g.conversation == conversation)
    shot.app.show_room(kept)
    shot.pump(lambda: shot.app.kept_page is not None, "the room's page")
    return kept


@scenario("history-ended", "a room that ended, greyed in the sidebar, its history kept on this PC and readable")
def history_ended(shot: Shot):
    three_rooms(shot)
    kept_room(shot)
    return shot.root


@scenario("history-find", "Ctrl+F in a room: every match highlighted, the current one stronger, 1 of N")
def history_find(shot: Shot):
    chat = three_rooms(shot)
    finder = chat.find("4" if shot.lang == "ja" else "four")
    shot.pump(lambda: finder.matches, "the matches")
    return shot.root


@scenario("history-search", "Search all rooms (Ctrl+Shift+F): matches with room, time and sender")
def history_search(shot: Shot):
    three_rooms(shot)
    kept_room(shot)
    shot.app.open_search()
    search = shot.app.search_window
    search.query.set("会議" if shot.lang == "ja" else "meeting")
    search.search()
    return shot.root, search.win


def direct_lines(lang: str) -> list[tuple[str, str]]:
    """(sender, text) of a direct conversation between HOST (typed) and MEMBER."""
    if lang == "ja":
        return [
            (HOST, "ボブさん、来週の評価面談の資料をこっそり見てもらえますか？"),
            (MEMBER, "もちろん。ここなら他の人には見えないので安心です"),
            (HOST, "助かります 🙏 共有フォルダーではなく直接送りますね"),
        ]
    return [
        (HOST, "Bob, could you look over my review notes before Monday? Just between us"),
        (MEMBER, "Of course. Nobody else can read this, not even the host"),
        (HOST, "Thanks 🙏 I'll send them here rather than in the room"),
    ]


def direct_room(shot: Shot):
    """A room where HOST (this app), MEMBER and THIRD each have a key of their own, and a
    direct conversation between HOST and MEMBER. Returns (the room, its window, MEMBER, THIRD)."""
    from ocm_core.net.direct import DirectKeys

    server = shot.server()

    def keys(who: str) -> DirectKeys:
        found = DirectKeys.load(shot.work / "keys" / who)
        shot._cleanup.append(found.close)
        return found

    here = shot.client(server, direct=keys("here"))
    here.create_room(shot.room, HOST)
    bob = shot.client(server, direct=keys("bob"))
    bob.join_room(shot.room, MEMBER)
    hanako = shot.client(server, direct=keys("hanako"))
    hanako.join_room(shot.room, THIRD)
    chat = shot.app.open_chat(here, share_address=shot.share_address(server))
    shot.size_window((980, 640))
    shot.pump(lambda: len(chat.member_labels()) == 3, "three people in the room")
    window = shot.app.directs.open(chat, MEMBER)
    for sender, text in direct_lines(shot.lang):
        if sender == HOST:
            window.input.insert("1.0", text)
            msg_id = window.send()
            shot.pump(lambda m=msg_id: not window.scrollback.is_tracked(m), "the message delivered")
        else:
            bob.send_direct(HOST, text)
            shot.pump(lambda t=text: t in window.scrollback.transcript(), "Bob's answer")
    return chat, window, bob, hanako


def third_away(shot: Shot, chat, client) -> None:
    """THIRD (`client`) says they are away; wait until `chat`'s People marks them."""
    client.set_away(True)
    shot.pump(lambda: any(THIRD in label and label != THIRD for label in chat.member_labels()), "花子 away")


@scenario("direct", "a direct conversation: sealed for one person, delivered marks, who is away and who is typing")
def direct(shot: Shot):
    chat, window, bob, hanako = direct_room(shot)
    need(window, "typing")
    third_away(shot, chat, hanako)
    bob.typing(HOST)
    shot.pump(lambda: window.typing.text(), "Bob typing")
    window.input.focus_set()
    return shot.root


@scenario("people-presence", "a room's People: who is away, who is typing, and the direct conversation in the sidebar")
def people_presence(shot: Shot):
    chat, _window, bob, hanako = direct_room(shot)
    shot.app.show_room(chat)
    third_away(shot, chat, hanako)
    bob.typing()
    shot.pump(lambda: chat.typing.text(), "Bob typing in the room")
    chat.input.focus_set()
    return shot.root


@scenario("mentions", "a message that names you stands out; typing @ offers the room's people")
def mentions(shot: Shot):
    chat, _window, bob, hanako = direct_room(shot)
    shot.app.show_room(chat)
    need(chat, "mentions")
    text = (
        "@Alice 4時の会議の資料、見てもらえますか？"
        if shot.lang == "ja"
        else "@Alice could you look at the slides before four?"
    )
    say(shot, chat, bob, text)
    say(shot, chat, hanako, "了解です" if shot.lang == "ja" else "Sounds good")
    chat.input.focus_set()
    chat.input.insert("insert", "@")
    chat.mentions.update()
    shot.pump(lambda: chat.mentions.open, "the names offered")
    return shot.root


@scenario("direct-no-room", "a direct conversation whose only shared room ended: greyed, said, input off")
def direct_no_room(shot: Shot):
    chat, window, _bob, _hanako = direct_room(shot)
    need(window, "stranded")
    chat.leave()  # the room hosted here closes: nothing shared with Bob on that server now
    shot.pump(lambda: window.stranded, "the conversation told")
    shot.app.show_room(window)
    return shot.root


@scenario("mentions-dark", "mentions and a direct conversation in the sidebar, Appearance set to Dark")
def mentions_dark(shot: Shot):
    from ocm_gui import theme

    chat = mentions(shot)
    shot.app.appearance.set_choice("dark")
    shot.pump(lambda: shot.app.appearance.palette is theme.DARK, "the dark palette")
    return chat


def reply_lines(lang: str) -> dict[str, str]:
    """What is said in the replies state: MEMBER asks, THIRD answers him, MEMBER corrects
    himself and takes a line back, HOST (this window) is answering."""
    if lang == "ja":
        return {
            "ask": "4時の打ち合わせの前に、スライドを見てもらえますか？",
            "answer": "3時までに見ておきます！",
            "room": "会議室は3階のBです",
            "room-edited": "会議室は4階のBに変わりました",
            "oops": "（間違えて送りました）",
            "topic": "金曜のリリース準備 · 資料は共有フォルダーへ",
            "writing": "ありがとう、私も2枚目だけ直します",
        }
    return {
        "ask": "Could someone look over the slides before the four o'clock meeting?",
        "answer": "On it, I'll send comments by three",
        "room": "We're in room 3B",
        "room-edited": "We're in room 4B now, 3B is taken",
        "oops": "(sent to the wrong room, sorry)",
        "topic": "Friday's release · notes in the shared folder",
        "writing": "Thanks! I'll fix slide 2 myself",
    }


def seq_of(shot: Shot, chat, text: str) -> int:
    """The room position of the message reading `text` in `chat`, once it is shown."""
    return shot.pump(
        lambda: next((seq for seq, (_who, said) in chat.scrollback.said.items() if said == text), None),
        f"{text[:20]!r} placed",
    )


def replies_room(shot: Shot):
    """HOST's room (this window) where a message has two reactions (one HOST's), a reply quotes
    it, a message was edited, one deleted, the topic is set, and HOST writes a reply.
    Returns the room's window and the asked message's position."""
    chat, clients, _server, _relay = members_room(shot)
    shot.size_window((980, 680))
    need(chat, "message_actions")
    lines = reply_lines(shot.lang)
    bob, hanako = clients[MEMBER], clients[THIRD]
    chat.client.set_topic(lines["topic"])
    shot.pump(lambda: chat.heading.topic == lines["topic"], "the topic in the header")
    say(shot, chat, bob, lines["ask"])
    asked = seq_of(shot, chat, lines["ask"])
    hanako.react(asked, "👍")
    hanako.react(asked, "❤️")
    chat.message_actions.toggle(asked, "👍")  # one's own: the accent colour
    shot.pump(
        lambda: (
            sorted(chat.scrollback.reactions.get(asked, {}).get("👍", [])) == sorted([HOST, THIRD])
            and chat.scrollback.reactions.get(asked, {}).get("❤️")
        ),
        "the two reactions",
    )
    hanako.reply(asked, lines["answer"])
    seq_of(shot, chat, lines["answer"])
    say(shot, chat, bob, lines["room"])
    moved = seq_of(shot, chat, lines["room"])
    bob.edit(moved, lines["room-edited"])
    seq_of(shot, chat, lines["room-edited"])
    say(shot, chat, bob, lines["oops"])
    oops = seq_of(shot, chat, lines["oops"])
    bob.delete(oops)
    shot.pump(lambda: chat.scrollback.said.get(oops, ("", "x"))[1] == "", "the message deleted")
    shot.settle(chat)
    chat.message_actions.start_reply(asked)
    chat.input.insert("1.0", lines["writing"])
    chat.input.focus_set()
    return chat, asked


@scenario(
    "replies",
    "replies, reactions (one's own in the accent colour), an edit, a deletion, the topic in the "
    "header, and a reply being written",
)
def replies(shot: Shot):
    replies_room(shot)
    return shot.root


@scenario("replies-dark", "the same room with Appearance set to Dark")
def replies_dark(shot: Shot):
    from ocm_gui import theme

    replies_room(shot)
    shot.app.appearance.set_choice("dark")
    shot.pump(lambda: shot.app.appearance.palette is theme.DARK, "the dark palette")
    return shot.root


@scenario("replies-menu", "a message's menu of the right mouse button, its React palette open")
def replies_menu(shot: Shot):
    chat, asked = replies_room(shot)
    chat.message_actions.cancel()
    chat.input.delete("1.0", "end")
    text = chat.scrollback.text
    start = text.tag_ranges(f"t{asked}")[0]
    text.see(start)
    shot.root.update_idletasks()
    x, y, _w, h = text.bbox(f"{start} + 3c")
    actions = chat.scrollback.actions
    actions.post_menu(f"{start} + 3c", text.winfo_rootx() + x, text.winfo_rooty() + y + h)
    menu = actions.menu
    shot.pump(lambda: menu.winfo_viewable(), "the menu")
    react = next(i for i in range(menu.index("end") + 1) if menu.type(i) == "cascade")
    menu.activate(react)
    menu.tk.call(menu, "postcascade", react)
    submenu = shot.root.nametowidget(menu.entrycget(react, "menu"))
    shot.pump(lambda: submenu.winfo_viewable(), "the React palette")
    return shot.root, menu, submenu


@scenario("direct-key-changed", "a person's key changed: said plainly, with the safety code to compare aloud")
def direct_key_changed(shot: Shot):
    from ocm_core.net.direct import DirectKeys

    chat, window, bob, _hanako = direct_room(shot)
    bob.leave()
    shot.pump(lambda: MEMBER not in chat.client.members, "Bob gone")
    again = shot.client(shot_server_of(chat), direct=DirectKeys.load(shot.work / "keys" / "bob-new-pc"))
    again.join_room(shot.room, MEMBER)
    shot.pump(lambda: window.banners.visible, "the key-changed banner")
    window.show_safety()
    dialog = next(w for w in shot.root.winfo_children() if w.winfo_class() == "Toplevel")
    shot.pump(lambda: dialog.winfo_viewable(), "the safety code")
    return shot.root, dialog


def shot_server_of(chat):
    """A stand-in with the tcp_address Shot.client wants, for the server `chat` is on."""
    return type("Where", (), {"tcp_address": ("127.0.0.1", chat.client.tcp_port)})()


# ---------------------------------------------------------------------- running


def file_name(name: str, lang: str, scale: int) -> str:
    return f"{name}{'' if lang == 'en' else '-' + lang}{'' if scale == 1 else f'@{scale}x'}.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="just this state (again for more)")
    parser.add_argument("--lang", action="append", choices=["en", "ja"], help="default: en and ja")
    parser.add_argument("--scale", action="append", type=int, choices=[1, 2], help="default: 1 and 2")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the PNGs (default docs/)")
    parser.add_argument("--list", action="store_true", help="list the states and exit")
    args = parser.parse_args(argv)
    if args.list:
        for s in SCENARIOS:
            print(f"{s.name:26} {s.about}")
        return 0
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    unknown = set(args.only or ()) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"no such state: {', '.join(sorted(unknown))} (see --list)")
    langs, scales = args.lang or ["en", "ja"], args.scale or [1, 2]
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    display = Display()
    made, skipped, failed = [], [], []
    with tempfile.TemporaryDirectory(prefix="ocm-screenshots-") as temp:
        # Everything the app keeps goes here, never into the user's folders.
        sys.path.insert(0, str(REPO / "benchmarks"))
        from private_home import point_home_at  # the benchmarks' own: OCM_HOME, HOME and the XDG folders

        point_home_at(temp)
        home = Path(temp)
        os.environ["DISPLAY"] = display.name
        sys.path.insert(0, str(REPO))
        import gc
        import logging

        logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
        gc.disable()  # as in the GUI tests: a Tk variable collected on a worker thread would hang
        try:
            for lang in langs:
                for scale in scales:
                    for s in chosen:
                        name = file_name(s.name, lang, scale)
                        work = home / "states" / name
                        work.mkdir(parents=True)
                        t0 = time.monotonic()
                        shot = None
                        try:
                            shot = Shot(lang, scale, work, display.name)
                            window = s.run(shot)
                            width, height = shot.grab(window, args.out / name)
                            made.append(name)
                            print(f"{name:34} {width}x{height}  {time.monotonic() - t0:4.1f} s", flush=True)
                            for note in shot.notes:
                                print(f"{'':34} note: {note}", flush=True)
                        except Skip as why:
                            skipped.append(name)
                            print(f"{name:34} skipped: {why}", flush=True)
                        except Exception:
                            failed.append(name)
                            print(f"{name:34} FAILED", flush=True)
                            traceback.print_exc()
                        finally:
                            if shot is not None:
                                shot.close()
                            gc.collect()
        finally:
            display.close()
    print(
        f"{len(made)} pictures in {args.out}, {len(skipped)} skipped, {len(failed)} failed, "
        f"{time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
