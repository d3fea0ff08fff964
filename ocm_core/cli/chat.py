"""`ocm-chat` (and `python -m ocm_core.cli.chat`): the terminal client, with the same features as the app in text.
`ocm-chat LINK` joins the room of an invite link (ocm://HOST:PORT/ROOM?fp=FINGERPRINT)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import logging
import os
import queue
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

from ocm_core import __version__, errors, i18n
from ocm_core.cli.actions import ActionTerminal, actions_help
from ocm_core.cli.direct import DirectTerminal, direct_help
from ocm_core.crypto.identity import IdentityChanged
from ocm_core.i18n import _, ngettext
from ocm_core.net.client import ChatClient, parse_address
from ocm_core.net.direct import DirectKeys
from ocm_core.net.discovery import FoundRoom, find_rooms
from ocm_core.net.recorder import DirectRecorder, RoomRecorder, conversation_for
from ocm_core.paths import downloads_dir
from ocm_core.sansio import events as ev
from ocm_core.sansio.mentions import mentions_me
from ocm_core.storage.folders import FolderSummary
from ocm_core.storage.history import HistoryStore, Line, fold
from ocm_core.wire import FileInfo, InviteLink, parse_link
from ocm_core.words import (
    conversation_title,
    event_words,
    folder_name,
    folder_text,
    history_moved_text,
    host_not_answering_text,
    line_words,
    notice_text,
    rejoin_command,
    resumed_words,
    size_text,
)


def _chat_parser() -> argparse.ArgumentParser:
    i18n.translate_argparse()
    parser = argparse.ArgumentParser(
        prog="ocm-chat", description=_("Chat in an Online Chat Messenger room from a terminal.")
    )
    parser.add_argument(
        "link",
        nargs="?",
        metavar="LINK",
        help=_("an invite link (ocm://HOST:PORT/ROOM?fp=…): join its room, on the server it names"),
    )
    parser.add_argument("--server", help=_("server address, host[:port] (without it, rooms on the LAN are offered)"))
    parser.add_argument(
        "--discover", action="store_true", help=_("list the rooms found on the LAN within a few seconds, then exit")
    )
    parser.add_argument("--discover-seconds", type=float, default=DISCOVER_SECONDS, help=argparse.SUPPRESS)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--create", metavar="ROOM", help=_("create this room and be its host"))
    group.add_argument("--join", metavar="ROOM", help=_("join this room"))
    parser.add_argument("--name", help=_("your name in the room (asked if missing)"))
    parser.add_argument(
        "--password", help=_("the room's password (to lock a room you create, or to join a locked one)")
    )
    parser.add_argument(
        "--search", metavar="TEXT", help=_("print the lines of your history that contain TEXT, then exit")
    )
    parser.add_argument("--history", metavar="ROOM", help=_("print your history of this room, then exit"))
    parser.add_argument(
        "--no-history", action="store_true", help=_("do not keep this conversation in your history on this PC")
    )
    parser.add_argument("--history-file", help=argparse.SUPPRESS)  # another database (tests, a second profile)
    parser.add_argument(
        "--trust-changed-key",
        action="store_true",
        help=_("accept a server whose identity changed since last time (only when its host confirms it did)"),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help=_("show the version and exit")
    )
    return parser


def _ask(prompt: str, default: str | None = None) -> str:
    shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
    answer = input(shown).strip()
    return answer or (default or "")


def _clock(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%H:%M")


def describe(event, *, room: str = "", server: str = "") -> str | None:
    """Terminal text for an event, or None for events a terminal need not show. `room` and
    `server` (host:port) are the client's, for the words about a host or session gone."""
    if isinstance(event, ev.ChatMessage):
        line = f"[{_clock(event.time)}] {event.sender}: {event.text}"
        return _("{line} (earlier)").format(line=line) if event.history else line
    if isinstance(event, ev.Notice):
        return f"* {notice_text(event.kind, event.name, event.text)}"
    if isinstance(event, ev.FileShared):
        line = f"[{_clock(event.time)}] " + _("{sender} shared {name} ({size}): /get {id}").format(
            sender=event.sender, name=event.name, size=size_text(event.size), id=event.file_id
        )
        return _("{line} (earlier)").format(line=line) if event.history else line
    if isinstance(event, ev.MembersChanged):
        names = [_("{name} (host)").format(name=m) if m == event.host else m for m in event.members]
        names = [_("{name} (away)").format(name=n) if m in event.away else n for n, m in zip(names, event.members)]
        return "* " + _("in the room: {names}").format(names=_(", ").join(names))
    if isinstance(event, ev.MessageFailed):
        return "! " + _("not sent: {text} ({reason})").format(text=repr(event.text), reason=event.reason)
    if isinstance(event, ev.RoomClosed):
        return f"* {event.reason}"
    if isinstance(event, ev.ConnectionLost):
        return f"! {event.text or event_words('connection_lost')}"
    if isinstance(event, ev.ConnectionRestored):
        return f"! {event.text or event_words('connection_restored')}"
    if isinstance(event, ev.HostNotAnswering):
        return "! " + host_not_answering_text(event.seconds, room) + " " + _("Type /quit to leave, or keep waiting.")
    if isinstance(event, ev.SessionGone):
        lines = [f"* {event_words('session_gone')} {event.reason}"]
        if server:
            lines.append(
                "* "
                + _("To join “{room}” again as {name}, run: {command}").format(
                    room=event.room, name=event.name, command=rejoin_command(server, event.room, event.name)
                )
            )
        return "\n".join(lines)
    if isinstance(event, ev.Resumed):
        return f"* {resumed_words(event.missed)}"
    if isinstance(event, ev.ErrorEvent):
        return f"! {event.text}"
    return None


class SentEcho:
    """The terminal's confirmation of one's own lines: when the server acknowledges a message,
    it is printed back as "[HH:MM] NAME: text ✓". The acknowledgement (printer thread) may come
    before `send()` returns its id (input thread); either order gives the line once."""

    def __init__(self, name: str, clock=time.time, shown: ActionTerminal | None = None):
        """`shown`: numbers the line (its room position known) and quotes what a reply answers."""
        self.name = name
        self._clock = clock
        self._shown = shown
        self._lock = threading.Lock()
        self._texts: dict[int, tuple[str, int]] = {}  # msg id -> (text, the seq it answers)
        self._early: dict[int, int] = {}  # acknowledged (at this seq) before their text was recorded

    def _line(self, text: str, seq: int, reply_to: int) -> str:
        if self._shown is not None:
            return self._shown.own_line(seq, text, self._clock(), reply_to)
        return f"[{_clock(self._clock())}] {self.name}: {text} ✓"

    def sent(self, msg_id: int, text: str, reply_to: int = 0) -> str | None:
        """Record a sent message; its line if the acknowledgement came first."""
        with self._lock:
            if msg_id in self._early:
                return self._line(text, self._early.pop(msg_id), reply_to)
            self._texts[msg_id] = (text, reply_to)
            return None

    def acknowledged(self, msg_id: int, seq: int = 0) -> str | None:
        with self._lock:
            own = self._texts.pop(msg_id, None)
            if own is None:
                self._early[msg_id] = seq
                return None
            return self._line(own[0], seq, own[1])


log = logging.getLogger(__name__)

DISCOVER_SECONDS = 2.5


def found_line(found: FoundRoom) -> str:
    """One room found on the LAN, as `ocm-chat --discover` prints it."""
    people = ngettext("{count} person", "{count} people", found.members).format(count=found.members)
    if found.standing:
        line = (
            _("{room}  ({people}, standing, locked)  at {server}")
            if found.locked
            else _("{room}  ({people}, standing)  at {server}")
        )
        return line.format(room=found.room, people=people, server=found.server)
    if found.locked:
        line = _("{room}  ({people}, host {host}, locked)  at {server}")
    else:
        line = _("{room}  ({people}, host {host})  at {server}")
    return line.format(room=found.room, people=people, host=found.host, server=found.server)


def _discover(seconds: float) -> int:
    found = find_rooms(seconds)
    for item in found:
        print(found_line(item), flush=True)
    if not found:
        print(
            _(
                "No rooms found on this network within {seconds} seconds. If someone hosts one, their firewall "
                "may block UDP 9089 and mDNS (UDP 5353), or you are on different networks: use --server with "
                "their address."
            ).format(seconds=f"{seconds:g}"),
            flush=True,
        )
    return 0


def _offer_found(args) -> tuple[str, int, str | None]:
    """Without --server: list what the LAN has and let the person pick a room or type an address."""
    print(_("Looking for rooms on this network…"), flush=True)
    found = find_rooms(args.discover_seconds)
    if not found:
        print(_("No rooms found on this network."), flush=True)
        host, port = parse_address(_ask(_("Server address"), "127.0.0.1:9090"))
        return host, port, None
    for number, item in enumerate(found, 1):
        print(f"{number}) {found_line(item)}", flush=True)
    while True:
        answer = _ask(_("Join which room (number), or type a server address"), "1")
        if answer.isdigit() and 1 <= int(answer) <= len(found):
            chosen = found[int(answer) - 1]
            return chosen.address, chosen.tcp_port, chosen.room
        if answer.isdigit():
            print(_("Pick a number from 1 to {count}.").format(count=len(found)), flush=True)
            continue
        host, port = parse_address(answer)
        return host, port, None


class ProgressPrinter:
    """Progress lines for a terminal: one each 10% (and at the end), with the speed."""

    def __init__(self, what: str, clock=time.monotonic):
        self.what = what
        self._clock = clock
        self._started = clock()
        self._next = 0

    def __call__(self, done: int, total: int) -> bool:
        percent = 100 if total == 0 else done * 100 // total
        if percent >= self._next:
            elapsed = max(self._clock() - self._started, 1e-6)
            print(
                "  "
                + _("{what}: {share} of {size} ({speed}/s)").format(
                    what=self.what, share=f"{percent}%", size=size_text(total), speed=size_text(int(done / elapsed))
                ),
                flush=True,
            )
            self._next = percent // 10 * 10 + 10
        return True


def file_help() -> str:
    return _(
        "/send PATH shares a file or a folder, /files lists the room's files, "
        "/get ID [FOLDER] saves one (to Downloads by default)."
    )


def _listed(info: FileInfo) -> str:
    if info.is_folder:
        name, what = folder_name(info.name), folder_text(info.files, info.size)
    else:
        name, what = info.name, size_text(info.size)
    return _("{id}  {name} ({size}) from {sender}").format(
        id=info.file_id, name=name, size=what, sender=info.sender or "?"
    )


def _told_packed(summary: FolderSummary) -> None:
    line = "  " + _("{name}: {what}").format(name=summary.name, what=folder_text(summary.files, summary.bytes))
    if summary.skipped:
        line += " " + ngettext(
            "({n} link or special file left out)", "({n} links or special files left out)", len(summary.skipped)
        ).format(n=len(summary.skipped))
    print(line, flush=True)


def file_command(client: ChatClient, text: str) -> str | None:
    """Run a file command (/send, /get, /files) on a thread of its own, so chat goes on;
    return a line to print at once, or None if `text` is not a file command."""
    command, _space, rest = text.strip().partition(" ")
    rest = rest.strip()
    if command == "/files":
        files = client.list_files()
        if not files:
            return "* " + _("No files shared in this room yet.")
        return "\n".join("* " + _listed(f) for f in files)
    if command == "/send" and rest:
        path = rest.strip('"')
        progress = ProgressPrinter(_("sending {path}").format(path=path))
        if Path(path).expanduser().is_dir():
            tree = Path(path).expanduser()
            _in_background(
                lambda: (
                    "* "
                    + _("Shared {path} (id {id}).").format(
                        path=path, id=client.send_folder(tree, progress, packed=_told_packed)
                    )
                )
            )
        else:
            _in_background(
                lambda: "* " + _("Shared {path} (id {id}).").format(path=path, id=client.send_file(path, progress))
            )
        return "* " + _("Sending {path}…").format(path=path)
    if command == "/get" and rest:
        file_id, _space, folder = rest.partition(" ")
        target = folder.strip().strip('"') or str(downloads_dir())
        _in_background(lambda: "* " + _("Saved {path}.").format(path=_fetch(client, file_id, _folder(target))))
        return "* " + _("Fetching {id} into {folder}…").format(id=file_id, folder=target)
    if command in ("/send", "/get"):
        return "! " + file_help()
    return None


def _fetch(client: ChatClient, file_id: str, target: Path) -> Path:
    """A folder is saved as a folder, anything else as a file."""
    progress = ProgressPrinter(_("receiving {id}").format(id=file_id))
    if any(f.file_id == file_id and f.is_folder for f in client.list_files()):
        return client.download_folder(file_id, target, progress)
    return client.download(file_id, target, progress)


def _folder(path: str) -> Path:
    folder = Path(path).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _in_background(action) -> None:
    def run() -> None:
        try:
            print(action(), flush=True)
        except (errors.ClientError, errors.ProtocolError, OSError) as exc:
            print(f"! {exc}", flush=True)

    threading.Thread(target=run, daemon=True).start()


def _refuse_options_beside_a_link(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A link names the server, the room, and the identity to trust: options that would say
    otherwise are a usage error (exit 2), not silently ignored."""
    if args.link is None:
        return
    given = {
        "--server": args.server is not None,
        "--create": args.create is not None,
        "--join": args.join is not None,
        "--discover": args.discover,
        "--trust-changed-key": args.trust_changed_key,
    }
    clashing = [option for option, present in given.items() if present]
    if clashing:
        parser.error(
            _("an invite link names the server and the room; leave out {options}").format(options=", ".join(clashing))
        )


def chat_main(argv: list[str] | None = None) -> int:
    i18n.use_language()
    parser = _chat_parser()
    args = parser.parse_args(argv)
    _refuse_options_beside_a_link(parser, args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.discover:
        return _discover(args.discover_seconds)
    if args.search is not None or args.history is not None:
        return _read_history(args)
    try:
        picked = None
        link: InviteLink | None = parse_link(args.link) if args.link is not None else None
        if link is not None:  # joins the room it names (never creates it), on the identity it names
            host, port, picked = link.host, link.port, link.room
        elif args.server:
            host, port = parse_address(args.server)
        elif args.create or args.join:
            host, port = parse_address(_ask(_("Server address"), "127.0.0.1:9090"))
        else:
            host, port, picked = _offer_found(args)
        client = ChatClient(
            host,
            port,
            trust_changed_identity=args.trust_changed_key,
            expected_fingerprint=link.fingerprint if link is not None else None,
            direct=_direct_keys(),
        )
        room, create = args.create or args.join or picked, bool(args.create)
        if room is None:
            create = _ask(_("Create a room or join one? (c/j)"), "j").lower().startswith("c")
            if not create:
                rooms = client.list_rooms()
                names = [_("{room} (locked)").format(room=r.name) if r.locked else r.name for r in rooms]
                print(_("Rooms: {rooms}").format(rooms=_(", ").join(names) or _("none yet")))
            room = _ask(_("Room name"))
        name = args.name or _ask(_("Your name"))
        password = args.password
        while True:
            try:
                (client.create_room if create else client.join_room)(room, name, password)
                break
            except (errors.PasswordRequired, errors.WrongPassword) as exc:
                if args.password is not None or not sys.stdin.isatty():
                    raise
                print(exc)
                password = _ask(_("Password"))
    except IdentityChanged as exc:
        print(_("ocm-chat: {error}").format(error=exc), file=sys.stderr)
        print(
            _("ocm-chat: if the host confirms the new identity, run again with --trust-changed-key."), file=sys.stderr
        )
        return 1
    except (errors.ClientError, errors.ProtocolError, ValueError) as exc:
        print(_("ocm-chat: {error}").format(error=exc), file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print()
        return 130
    if client.is_host:
        welcome = _("You are {name}, host of room '{room}'. Type a message and press Enter; /quit leaves.")
    else:
        welcome = _("You are {name}, in room '{room}'. Type a message and press Enter; /quit leaves.")
    print(welcome.format(name=name, room=room), flush=True)
    print(file_help(), flush=True)
    print(direct_help(), flush=True)
    if client.speaks_actions:
        print(actions_help(), flush=True)
    print(
        _("Server identity: {fingerprint} (compare it aloud with the host's)").format(
            fingerprint=client.server_fingerprint
        ),
        flush=True,
    )
    actions = ActionTerminal(client)
    echo = SentEcho(name, shown=actions)
    recorder = None if args.no_history else _recorder(args, client)
    if recorder is not None:
        print(
            _("This conversation is kept in your history on this PC: ocm-chat --search TEXT finds it later."),
            flush=True,
        )
    direct = DirectTerminal(client, _direct_recorder(recorder, client))
    printer = threading.Thread(target=_print_events, args=(client, echo, recorder, direct, actions), daemon=True)
    printer.start()
    try:
        for line in sys.stdin:
            text = line.rstrip("\n")
            if text.strip() == "/quit" or client.closed:
                break
            if not text.strip():
                continue
            try:
                line = direct.command(text)
                if line is None:
                    line = file_command(client, text)
                if line is None and text.startswith("/reply "):
                    number, _space, answer = text[len("/reply ") :].strip().partition(" ")
                    reply_to = actions.command_seq(number)
                    if isinstance(reply_to, str):
                        line = reply_to
                    elif not answer.strip():
                        line = "! " + actions_help()
                    else:
                        msg_id = client.reply(reply_to, answer.strip())
                        if recorder is not None:
                            recorder.sending(msg_id, answer.strip(), reply_to)
                        line = echo.sent(msg_id, answer.strip(), reply_to) or ""
                elif line is None and text.startswith("/"):
                    line = actions.command(text)
                if line is not None:
                    if line:
                        print(line, flush=True)
                    continue
                msg_id = client.send(text)
                if recorder is not None:
                    recorder.sending(msg_id, text)
                confirmed = echo.sent(msg_id, text)
                if confirmed is not None:
                    print(confirmed, flush=True)
            except errors.ClientError as exc:
                print(f"! {exc}", flush=True)
    except KeyboardInterrupt:
        pass
    closed_by_room = client.closed
    if recorder is not None and client.is_host and not closed_by_room:
        recorder.saw(ev.RoomClosed(_("You closed the room.")))  # its end, in the host's own history
    client.leave()
    printer.join(1.0)
    if not closed_by_room:
        print(_("You left the room."), flush=True)
    return 0


def _print_events(
    client: ChatClient,
    echo: SentEcho,
    recorder: RoomRecorder | None = None,
    direct: DirectTerminal | None = None,
    actions: ActionTerminal | None = None,
) -> None:
    while True:
        if direct is not None:
            direct.tick()
        try:
            event = client.events.get(timeout=0.2)
        except queue.Empty:
            if client.closed:
                return
            continue
        try:
            _print_event(event, client, echo, recorder, direct, actions)
        except Exception:  # one event that cannot be shown must not end the terminal's output
            log.exception("could not show %r", event)
            print("! " + _("Something could not be shown; the chat goes on (details in the log)."), flush=True)


def _print_event(
    event: ev.AppEvent,
    client: ChatClient,
    echo: SentEcho,
    recorder: RoomRecorder | None,
    direct: DirectTerminal | None,
    actions: ActionTerminal | None,
) -> None:
    if recorder is not None and getattr(event, "history", False):
        if not recorder.saw(event):
            return  # printed in an earlier session
        if recorder.caught_up(event):
            event = dataclasses.replace(cast(Any, event), history=False)  # said while this person was away
    elif recorder is not None:
        recorder.saw(event)
    host = f"[{client.server_host}]" if ":" in client.server_host else client.server_host  # as parse_address reads it
    direct_line = direct.describe(event) if direct is not None else None
    action_line = actions.describe(event) if actions is not None else None
    if isinstance(event, ev.MessageSent):
        line = echo.acknowledged(event.msg_id, event.seq)
    elif direct_line is not None:
        line = direct_line
    elif action_line is not None:
        line = action_line
    else:
        line = describe(event, room=client.room or "", server=f"{host}:{client.tcp_port}")
    if line and isinstance(event, ev.ChatMessage) and named_me(event, client):
        line = MENTION_MARK + line  # a line that names you, or everyone: found at a glance
    if line:
        print(line, flush=True)
    if isinstance(event, (ev.RoomClosed, ev.SessionGone)):
        print(_("Press Enter to quit."), flush=True)


def _direct_keys() -> DirectKeys | None:
    """This install's key for direct messages; without one (an unwritable config folder) the
    terminal chats on without them."""
    try:
        return DirectKeys.load()
    except (OSError, sqlite3.Error, errors.OCMError) as exc:
        print("! " + _("Direct messages are off this time: {error}").format(error=exc), flush=True)
        return None


def _direct_recorder(recorder: RoomRecorder | None, client: ChatClient) -> DirectRecorder | None:
    """Direct conversations go into the same history as the room's, when it is kept."""
    if recorder is None or client.server_fingerprint is None:
        return None
    host = f"[{client.server_host}]" if ":" in client.server_host else client.server_host
    return DirectRecorder(recorder.store, client.server_fingerprint, f"{host}:{client.tcp_port}", client.username or "")


MENTION_MARK = "» "


def named_me(event: ev.ChatMessage, client: ChatClient) -> bool:
    me = client.username or ""
    return event.sender != me and mentions_me(event.text, me, client.members)


def _history_store(args) -> HistoryStore:
    store = HistoryStore(args.history_file or HistoryStore.default_path())
    if store.moved_aside is not None:
        print("! " + history_moved_text(str(store.moved_aside)), file=sys.stderr, flush=True)
    store.prune_expired()
    return store


def _recorder(args, client: ChatClient) -> RoomRecorder | None:
    """The room's history on this PC, written as the chat goes (None when it cannot be kept)."""
    try:
        store = _history_store(args)
        if not store.keeping:
            store.close()
            return None
        host = f"[{client.server_host}]" if ":" in client.server_host else client.server_host
        conversation = conversation_for(store, client, server=f"{host}:{client.tcp_port}", hosted=client.is_host)
    except (OSError, sqlite3.Error, errors.OCMError) as exc:
        print("! " + _("Your history is not kept this time: {error}").format(error=exc), flush=True)
        return None
    return RoomRecorder(store, conversation, client.username or "")


def history_line(line: Line) -> str:
    """One line of the history as the terminal prints it (with its date: it may be old)."""
    when = datetime.datetime.fromtimestamp(line.time).strftime("%Y-%m-%d %H:%M")
    return f"[{when}] {line_words(line)}"


def _read_history(args) -> int:
    """--search TEXT and --history ROOM: print from the history on this PC, without a server."""
    try:
        store = _history_store(args)
    except (OSError, sqlite3.Error, errors.OCMError) as exc:
        print(_("ocm-chat: {error}").format(error=exc), file=sys.stderr)
        return 1
    try:
        return _print_history(args, store)
    except BrokenPipeError:  # `ocm-chat --history lobby | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


def _print_history(args, store: HistoryStore) -> int:
    with contextlib.closing(store):
        if args.search is not None:
            matches = store.search(args.search)
            for match in reversed(matches):  # oldest first, as a terminal reads down
                when = datetime.datetime.fromtimestamp(match.time).strftime("%Y-%m-%d %H:%M")
                print(f"{match.room} ({match.server})  [{when}] {match.sender}: {match.text}", flush=True)
            if not matches:
                print(_("Nothing in your history contains “{text}”.").format(text=args.search), flush=True)
                return 1
            return 0
        wanted = fold(args.history)
        found = [c for c in store.conversations() if fold(c.room) == wanted]
        if not found:
            print(_("Your history has no room called “{room}”.").format(room=args.history), flush=True)
            return 1
        for conversation in reversed(found):
            print(f"== {conversation_title(conversation)}", flush=True)
            for _line_id, line in store.lines(conversation.id, limit=None):
                print(history_line(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(chat_main())
