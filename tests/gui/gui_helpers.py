"""Helpers for the GUI tests: a pump with a deadline, free ports, a fake client."""

from __future__ import annotations

import itertools
import queue
import socket
import time
import tkinter as tk
import traceback
from pathlib import Path
from typing import Any

import pytest

from ocm_core.errors import ClientError, MessageTooLong, NotConnected
from ocm_core.wire import RoomInfo
from ocm_gui import ports


def pump(root: tk.Misc, until, timeout: float = 10.0, what: str | None = None):
    """Run the Tk event loop until ``until()`` is true; fail after ``timeout`` seconds.

    Fails at once if a Tk callback raised (see the ``root`` fixture). Returns
    ``until()``'s value so a test can wait for and fetch something in one go.
    """
    deadline = time.monotonic() + timeout
    while True:
        root.update()
        _raise_callback_errors(root)
        value = until()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or until}")
        time.sleep(0.002)  # let worker threads run; the deadline, not this, decides


def pump_for(root: tk.Misc, seconds: float) -> None:
    """Run the Tk event loop for ``seconds`` (many poll intervals), for checks that
    something never happens; fails at once if a Tk callback raised."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        root.update()
        _raise_callback_errors(root)
        time.sleep(0.002)


def _raise_callback_errors(root: tk.Misc) -> None:
    errors = getattr(root.nametowidget("."), "callback_errors", [])
    if errors:
        exc_type, value, tb = errors[0]
        text = "".join(traceback.format_exception(exc_type, value, tb))
        errors.clear()
        pytest.fail(f"a Tk callback raised:\n{text}")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeClient:
    """Stands in for ChatClient in widget tests: same attributes, no network (mypy checks it
    against ocm_gui.ports.RoomClient, below)."""

    server_host, tcp_port = "127.0.0.1", 9090  # class attributes: a test's subclass sets its own

    def __init__(
        self,
        room: str | None = "lobby",
        username: str | None = "Alice",
        host_name: str | None = "Alice",
        members=("Alice",),
        max_message_bytes: int = 4000,
    ):
        self.events: queue.Queue = queue.Queue()
        self.room = room
        self.username = username
        self.host_name = host_name
        self.members = tuple(members)
        self.plain_members: frozenset[str] = frozenset()
        self.max_message_bytes = max_message_bytes
        self.server_fingerprint: str | None = None
        self.room_id = f"id-{room}"  # as the server gives it when the room is made
        self.standing = False
        self.own_server_identity: str | None = None
        self.trust_changed_identity = False
        self.locked = False
        self.password: str | None = None
        self.waiting = 0  # keep_waiting() calls
        self.closed = False
        self.left = False
        self.sent: list[tuple[int, str]] = []
        self.failed: dict[int, str] = {}
        self._ids = itertools.count(1)

    @property
    def is_host(self) -> bool:
        return self.username == self.host_name

    @staticmethod
    def message_size(text: str) -> int:
        return len(text.encode("utf-8"))

    def send(self, text: str) -> int:
        if self.closed:
            raise NotConnected("You are not in a room; join one first.")
        size = self.message_size(text)
        if size > self.max_message_bytes:
            raise MessageTooLong(size, self.max_message_bytes)
        msg_id = next(self._ids)
        self.sent.append((msg_id, text))
        return msg_id

    def fail(self, msg_id: int) -> None:
        """What the real client does when a message was never acknowledged."""
        from ocm_core.sansio.events import MessageFailed

        text = dict(self.sent)[msg_id]
        self.failed[msg_id] = text
        from ocm_core.i18n import _

        reason = _("the server did not confirm it within {seconds:g} s").format(seconds=20)  # as the session says it
        self.events.put(MessageFailed(msg_id, text, reason))

    # Replies, reactions, edits and the host's tools: what was asked is noted in `acted`.
    speaks_actions = True
    topic = ""

    def _act(self, *what) -> int:
        if self.closed:
            raise NotConnected("You are not in a room; join one first.")
        self.acted = getattr(self, "acted", []) + [what]
        return next(self._ids)

    def reply(self, seq: int, text: str) -> int:
        msg_id = self._act("reply", seq, text)
        self.sent.append((msg_id, text))
        return msg_id

    def react(self, seq: int, emoji: str, on: bool = True) -> int:
        return self._act("react" if on else "unreact", seq, emoji)

    def edit(self, seq: int, text: str) -> int:
        return self._act("edit", seq, text)

    def delete(self, seq: int) -> int:
        return self._act("delete", seq)

    def set_topic(self, topic: str) -> int:
        return self._act("topic", topic)

    def remove_member(self, name: str) -> int:
        return self._act("remove", name)

    def set_password(self, password: str) -> int:
        return self._act("password", password)

    def retry(self, msg_id: int) -> int:
        if msg_id not in self.failed:
            raise ClientError("That message is not waiting for a retry.")
        return self.send(self.failed.pop(msg_id))

    def leave(self) -> None:
        self.left = True
        self.closed = True

    def keep_waiting(self) -> None:
        self.waiting += 1

    def create_room(self, room: str, username: str, password: str | None = None) -> None:
        self.room, self.username, self.host_name = room, username, username

    def join_room(self, room: str, username: str, password: str | None = None) -> None:
        self.room, self.username = room, username

    def list_rooms(self) -> list[RoomInfo]:
        return []

    def send_file(self, path, progress=None) -> str:
        raise ClientError("This fake client shares no files.")

    def download(self, file_id: str, destination, progress=None) -> Path:
        raise ClientError("This fake client fetches no files.")

    def send_folder(self, path, progress=None) -> str:
        raise ClientError("This fake client shares no folders.")

    def download_folder(self, file_id: str, destination_dir, progress=None) -> Path:
        raise ClientError("This fake client fetches no folders.")

    # Direct messages: a client without a key (as one on a plain server); presence and typing noted.
    direct = None

    def send_direct(self, name: str, text: str) -> int:
        raise ClientError("This fake client has no key for direct messages.")

    def max_direct_bytes(self, name: str) -> int:
        return self.max_message_bytes

    def key_of(self, name: str) -> bytes | None:
        return None

    def set_away(self, away: bool) -> None:
        self.away = away

    def typing(self, to: str = "") -> None:
        self.typed_to = to


class FakeBackend:
    """Stands in for ocm_gui.backend.Backend: every client it makes answers join_room and
    list_rooms with `join` and `rooms` (an exception is raised), without a socket."""

    def __init__(self, join=None, rooms=()):
        self.join = join
        self.rooms = rooms
        self.made: list[tuple[str, int]] = []
        self.fingerprints: list[str | None] = []  # what each client was told to expect
        self.joins: list[tuple[str, str, str | None]] = []  # (room, name, password) of each join asked
        self.room_ids: dict[str, str] = {}  # the id the server gives a room, when not "id-ROOM"

    def make_client(self, host: str, tcp_port: int, expected_fingerprint: str | None = None):
        self.made.append((host, tcp_port))
        self.fingerprints.append(expected_fingerprint)
        backend = self

        class Client(FakeClient):
            def join_room(self, room, username, password=None):
                backend.joins.append((room, username, password))
                join = backend.join
                if isinstance(join, list):
                    join = join.pop(0)
                elif isinstance(join, dict):  # by room, for joins that run at once
                    join = join.get(room)
                if isinstance(join, BaseException):
                    raise join
                self.room, self.username = room, username
                self.room_id = backend.room_ids.get(room, f"id-{room}")

            def list_rooms(self) -> list[RoomInfo]:
                if isinstance(backend.rooms, BaseException):
                    raise backend.rooms
                return list(backend.rooms)

        client = Client()
        client.server_host, client.tcp_port = host, tcp_port
        client.server_fingerprint = expected_fingerprint  # the server showed what the link promised
        return client

    finds_rooms = False  # a test that browses the LAN gives a backend of its own (test_join_dialog_edits)

    def make_server(self, tcp_port: int, udp_port: int, host: str = "0.0.0.0"):
        raise AssertionError("this fake backend hosts nothing")

    def host_server(self, tcp_port: int, udp_port: int) -> tuple[Any, bool]:
        raise AssertionError("this fake backend hosts nothing")

    def make_browser(self) -> ports.RoomFinder:
        raise AssertionError("this fake backend finds no rooms")

    def next_free_ports(self, tcp_port: int, udp_port: int, host: str = "0.0.0.0") -> tuple[int, int]:
        return tcp_port, udp_port

    def lan_address(self) -> str:
        return "192.0.2.1"


def _fakes_match_the_ports() -> None:
    """Never called: mypy checks here that the fakes satisfy the interfaces the GUI uses."""
    client: ports.RoomClient = FakeClient()
    backend: ports.Backend = FakeBackend()
    del client, backend
