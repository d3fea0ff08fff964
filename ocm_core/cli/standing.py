"""`ocm-server --room NAME[:PASSWORD_FILE]`: the standing rooms an operator names, read into
name -> password. A password comes from the first line of a file that only its owner may read
(on POSIX; Windows guards a file by its folder's ACL, so the check is skipped there).
docs/standing-rooms.md is the operator's page."""

from __future__ import annotations

import os
import shlex
import stat

from ocm_core import words
from ocm_core.i18n import _
from ocm_core.wire import MAX_NAME_BYTES, names
from ocm_core.wire.names import name_key


class BadRoomOption(ValueError):
    """A --room value that cannot be used; str() says why, to the operator."""


def checks_file_modes(os_name: str | None = None) -> bool:
    """Whether this system's file modes say who may read a file (POSIX), so that a password
    file open to others is refused. Not on Windows ("nt"), whose files keep no such mode."""
    return (os_name or os.name) != "nt"


def exposed(mode: int) -> bool:
    """Whether a file with `mode` may be read or written by its group or by others."""
    return mode & 0o077 != 0


def read_password_file(path: str, room: str, *, check_mode: bool | None = None) -> str:
    """The first line of `path`, without its line ending: the password of standing room `room`.
    BadRoomOption when it cannot be read, is empty, or (on POSIX) others may read or change it."""
    if check_mode is None:
        check_mode = checks_file_modes()
    if check_mode:
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise BadRoomOption(_cannot_read(path, room, exc)) from None
        if exposed(mode):
            raise BadRoomOption(
                _(
                    "The password file {path} can be read or changed by other users (its mode is {mode}); "
                    "make it yours alone with: chmod 600 {quoted}"
                ).format(path=path, mode=f"{stat.S_IMODE(mode):03o}", quoted=shlex.quote(path))
            )
    try:
        with open(path, "rb") as file:
            text = file.read().decode("utf-8-sig")  # a file saved by Notepad starts with a BOM
    except OSError as exc:
        raise BadRoomOption(_cannot_read(path, room, exc)) from None
    except UnicodeDecodeError:
        raise BadRoomOption(
            _("The password file {path} for --room {room} is not UTF-8 text.").format(path=path, room=room)
        ) from None
    password = text.split("\n", 1)[0].removesuffix("\r")
    if not password:
        raise BadRoomOption(
            _("The first line of the password file {path} for --room {room} is empty; put the password there.").format(
                path=path, room=room
            )
        )
    return password


def _cannot_read(path: str, room: str, exc: OSError) -> str:
    return _("Cannot read the password file {path} for --room {room}: {reason}.").format(
        path=path, room=room, reason=exc.strerror or exc
    )


def check_room_name(room: str) -> None:
    """BadRoomOption when a reader would not see `room` as it is, or the wire cannot carry it."""
    if not room:
        raise BadRoomOption(_("--room needs a room name: --room NAME, or --room NAME:PASSWORD_FILE for a locked one."))
    size = len(room.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise BadRoomOption(
            _("The room name {room} is {size} bytes in UTF-8; the most is {limit}.").format(
                room=room, size=size, limit=MAX_NAME_BYTES
            )
        )
    problem = names.refusal(room)
    if problem is not None:
        raise BadRoomOption(
            _("--room {room}: {problem}").format(room=room, problem=words.name_refusal_text(problem, room=True))
        )


def standing_rooms(values: list[str], *, check_mode: bool | None = None) -> dict[str, str | None]:
    """Each --room value (NAME, or NAME:PASSWORD_FILE split at the first ':') as name -> password
    (None: the room is open), in the order given. BadRoomOption for the first that cannot be used."""
    rooms: dict[str, str | None] = {}
    seen: dict[str, str] = {}
    for value in values:
        room, colon, path = value.partition(":")
        check_room_name(room)
        if name_key(room) in seen:
            raise BadRoomOption(
                _("--room names the room {room} twice (or two names that read the same); name each room once.").format(
                    room=room
                )
            )
        seen[name_key(room)] = room
        if colon and not path:
            raise BadRoomOption(
                _("--room {room}: give the password file after the ':' (--room NAME:PASSWORD_FILE).").format(room=room)
            )
        rooms[room] = read_password_file(path, room, check_mode=check_mode) if colon else None
    return rooms
