"""What the GUI needs of the core, as interfaces (typing.Protocol) that the real objects and
the test fakes both satisfy, so that mypy checks the fakes too (tests/gui/gui_helpers.py)
and no window falls back to getattr() for an attribute a client might not have."""

from __future__ import annotations

import os
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ocm_core.net.discovery import FoundRoom
from ocm_core.wire import RoomInfo

Progress = Callable[[int, int], "bool | None"]


class RoomClient(Protocol):
    """One person's place in one room (ocm_core.net.client.ChatClient)."""

    events: queue.Queue
    room: str | None
    username: str | None
    locked: bool
    password: str | None
    server_host: str
    tcp_port: int
    own_server_identity: str | None
    trust_changed_identity: bool
    room_id: str  # the server's id of the room (a room made again under its name has another)
    standing: bool  # held by the server itself (ocm-server --room)

    @property
    def server_fingerprint(self) -> str | None: ...
    @property
    def members(self) -> tuple[str, ...]: ...
    @property
    def plain_members(self) -> frozenset[str]: ...
    @property
    def host_name(self) -> str | None: ...
    @property
    def is_host(self) -> bool: ...
    @property
    def max_message_bytes(self) -> int: ...

    def message_size(self, text: str) -> int: ...
    def create_room(self, room: str, username: str, password: str | None = None) -> None: ...
    def join_room(self, room: str, username: str, password: str | None = None) -> None: ...
    def list_rooms(self) -> list[RoomInfo]: ...
    def send(self, text: str) -> int: ...
    def retry(self, msg_id: int) -> int: ...
    def keep_waiting(self) -> None: ...
    def leave(self) -> None: ...
    def send_file(self, path: str | os.PathLike, progress: Progress | None = None) -> str: ...
    def download(self, file_id: str, destination: str | os.PathLike, progress: Progress | None = None) -> Path: ...


class RoomServer(Protocol):
    """The app's bundled server as a hosted room holds it (ocm_gui.backend.HostedServer)."""

    @property
    def tcp_address(self) -> tuple[str, int]: ...
    @property
    def fingerprint(self) -> str: ...
    def stop(self) -> None: ...


class RoomFinder(Protocol):
    """The rooms on the LAN, live (ocm_core.net.discovery.RoomBrowser): each change puts the
    whole list on `updates`."""

    updates: queue.Queue[list[FoundRoom]]

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Backend(Protocol):
    """What the dialogs make from the core (ocm_gui.backend.Backend). `finds_rooms`: whether
    make_browser() gives a finder (without one, rooms are reached by typed address only)."""

    finds_rooms: bool

    def host_server(self, tcp_port: int, udp_port: int) -> tuple[Any, bool]: ...
    def make_client(self, host: str, tcp_port: int, expected_fingerprint: str | None = None) -> RoomClient: ...
    def make_browser(self) -> RoomFinder: ...
    def next_free_ports(self, tcp_port: int, udp_port: int, host: str = "0.0.0.0") -> tuple[int, int]: ...
    def lan_address(self) -> str: ...
