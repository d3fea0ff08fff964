"""The sentences people read about what the core reports, in one table for the GUI and the
terminal tools, in the person's language (gettext; marked with N_ here because the table is
built at import, before a language is chosen, and shown through _()).

Two kinds live here. The server's reasons: what our server writes on the wire (English,
lower case, as the assignment's clients show it) when a room or a member's place ends,
beside the sentence a client of ours shows for it. And the client's own words for codes:
who joined or left, a refusal by status, a connection lost.
"""

from __future__ import annotations

import datetime
import shlex
import subprocess
import sys

from ocm_core.i18n import (
    N_,
    SOURCE_LANGUAGE,
    _,
    as_sentence,
    current_language,
    ngettext,
)
from ocm_core.wire import ErrorCode, Refusal, Status
from ocm_core.wire.names import NameProblem, NameRefusal

# --- the server's reasons, on the wire and as a client shows them -----------------------

HOST_CLOSED = "the host closed the room"
HOST_WENT_AWAY = "the host went away, so the room closed"
SERVER_STOPPED = "the server stopped"
YOU_LEFT = "you left the room"
YOU_WERE_REMOVED = "the host removed you from the room"
YOU_TIMED_OUT = "you were away too long and were removed"
AWAY_TOO_LONG = "you were away too long to come back"
AWAY_OR_RESTARTED = "you were away a long time, or the server restarted"
JOIN_AGAIN = "join the room again"
TOO_MANY_CONNECTIONS = "the server is busy with too many connections; try again in a moment"
CANNOT_SAVE_MESSAGES = "the server cannot save messages right now; yours will be sent when it can"

SERVER_SENTENCES: dict[str, str] = {
    HOST_CLOSED: N_("The host closed the room."),
    HOST_WENT_AWAY: N_("The host went away, so the room closed."),
    SERVER_STOPPED: N_("The server stopped."),
    YOU_LEFT: N_("You left the room."),
    YOU_WERE_REMOVED: N_("The host removed you from the room."),
    YOU_TIMED_OUT: N_("You were away too long and were removed."),
    f"{AWAY_TOO_LONG}; {JOIN_AGAIN}": N_("You were away too long to come back; join the room again."),
    f"{AWAY_OR_RESTARTED}; {JOIN_AGAIN}": N_(
        "You were away a long time, or the server restarted; join the room again."
    ),
    f"{YOU_LEFT}; {JOIN_AGAIN}": N_("You left the room; join the room again."),
    TOO_MANY_CONNECTIONS: N_("The server is busy with too many connections; try again in a moment."),
    CANNOT_SAVE_MESSAGES: N_("The server cannot save messages right now; yours will be sent when it can."),
}


def _name_sentence(text: str) -> str | None:
    """A name refusal's wire text in the person's language (its detail kept), or None."""
    for wire, sentence in _NAME_REFUSALS.values():
        head, _brace, tail = wire.partition("{detail}")
        if text.startswith(head) and text.endswith(tail) and len(text) >= len(head) + len(tail):
            detail = text[len(head) : len(text) - len(tail)] if _brace else ""
            return _(sentence).format(detail=detail)
    return None


def server_sentence(text: str) -> str:
    """A server's lower-case reason as a sentence: in the person's language when it is one of
    ours, otherwise as the server wrote it, capitalised and ended."""
    known = SERVER_SENTENCES.get(text.rstrip("."))
    return _(known) if known else as_sentence(text)


# --- mentions ---------------------------------------------------------------------------------


def everyone_refused_text(count: int) -> str:
    """Why "@room" was not sent: in a room of more than `count`, only its host may."""
    return _("Only the host can write to everyone (@room, @all) in a room of more than {count}.").format(count=count)


# --- replies, reactions, edits and the host's tools refused --------------------------------

# sansio/actions.py's reasons as the server sends them, and what a person reads instead.
ACTION_REFUSALS: dict[str, str] = {
    "that message is not in this room": N_("That message is not in this room."),
    "that message is no longer on the server": N_("That message is too old: the server no longer has it."),
    "that message was deleted": N_("That message was deleted."),
    "only its sender can change a message": N_("Only its sender can change a message."),
    "only the host can do that": N_("Only the host can do that."),
    "a standing room has no host to do that": N_("A standing room has no host, so nobody can do that here."),
    "you already reacted with that": N_("You already reacted with that."),
    "you have not reacted with that": N_("You have not reacted with that."),
    "nobody of that name is in the room": N_("Nobody of that name is in the room."),
    "the host cannot remove themselves; leaving closes the room": N_(
        "You cannot remove yourself; leaving closes the room."
    ),
}


def refusal_sentence(code: int, text: str) -> str:
    """Why the server did not take one of our messages or actions, in the person's language."""
    if code == ErrorCode.TOO_LATE:
        return _("That message is too old to change now.")
    if code == ErrorCode.TOO_LONG:
        return _("That message is too long for the server to pass on; shorten it.")
    known = ACTION_REFUSALS.get(text)
    if known:
        return _(known)
    if text.startswith("a message takes at most"):
        return _("That message has as many different reactions as it can take.")
    return server_sentence(text) if text else _("The server refused it.")


# --- direct messages refused, by the server's code ----------------------------------------

DIRECT_REFUSALS: dict[Refusal, str] = {
    Refusal.NOT_HERE: N_("{name} has not been in this room, so the server cannot pass the message on."),
    Refusal.YOURSELF: N_("That is you; pick someone else to write to."),
    Refusal.KEY_CHANGED: N_("{name}'s key has changed; the message was not sent. Look at the conversation first."),
    Refusal.TOO_LONG: N_("The message is too long for a direct message; shorten it."),
    Refusal.MAILBOX_FULL: N_("Too many messages already wait for {name}; try again when they are back."),
    Refusal.NEEDS_KEY: N_("Direct messages need encryption and a current app."),
}


def direct_refusal(refusal: Refusal, name: str) -> str:
    """Why the server refused our direct message to `name`, in the person's language."""
    words = DIRECT_REFUSALS.get(refusal)
    return _(words).format(name=name) if words else _("The server refused the message.")


# --- refusals by status code --------------------------------------------------------------

# The server words its refusals in English; a person reading another language gets the
# client's own sentence for the status code instead (the server's text carries detail,
# such as seconds to wait, that these leave out).
STATUS_WORDS: dict[Status, str] = {
    Status.ROOM_EXISTS: N_("A room named “{room}” already exists; pick another name or join it."),
    Status.NO_SUCH_ROOM: N_("There is no room named “{room}” on this server; check the name."),
    Status.NAME_TAKEN: N_("The name “{name}” is already taken in this room; pick another."),
    Status.SERVER_FULL: N_("This server has as many rooms as it allows; try again later."),
    Status.ROOM_FULL: N_("The room “{room}” is full; try again later."),
    Status.PASSWORD_REQUIRED: N_("This room is locked; enter its password."),
    Status.WRONG_PASSWORD: N_("Wrong password for this room; check it and try again."),
    Status.TOO_MANY_ATTEMPTS: N_("Too many wrong passwords; wait a little and try again."),
    Status.UNKNOWN_TOKEN: N_("The server no longer knows this session; join again."),
    Status.BUSY: N_("The server is busy right now; try again in a moment."),
    Status.CANNOT_SAVE: N_("The server cannot save anything right now (its disk is full or failing); try again later."),
    Status.TRY_LATER: N_("The server is busy checking passwords; try again in {seconds} s."),
    Status.ENCRYPTION_REQUIRED: N_(
        "This server admits only encrypted clients; use a current Online Chat Messenger, "
        "or ask the host to start the server with --allow-plain."
    ),
    Status.FILE_TOO_LARGE: N_("The file is larger than this server accepts; choose a smaller one."),
    Status.STORAGE_FULL: N_(
        "The server has no room for this file now (its storage or disk is full); the room goes on."
    ),
    Status.NO_SUCH_FILE: N_("That file is not shared in this room (its room may have closed)."),
    Status.TRANSFER_FAILED: N_("The file arrived damaged at the server (its checksum did not match); send it again."),
    Status.REMOVED: N_("The host removed you from this room; you cannot join it again while it lasts."),
}


# What else a server may ask to wait for (TRY_LATER with seconds), beside a password check.
ROOMS_TOO_FAST = "your address has opened as many rooms as it may for now"
UNHEARD_MEMBERS = "your address has {count} members that have not begun to chat yet"
_WAIT_SENTENCES = {
    ROOMS_TOO_FAST: N_("Your computer has opened as many rooms as it may for now; try again in {seconds} s."),
    UNHEARD_MEMBERS.split("{")[0]: N_(
        "Many people at your address have joined without starting to chat yet; try again in {seconds} s."
    ),
}


def refusal_text(status: Status, detail: str, room: str = "", name: str = "", seconds: int = 0) -> str:
    """The sentence for a server's refusal, in the person's language."""
    named = _name_sentence(detail) if status is Status.BAD_REQUEST else None
    if named is not None:
        return named
    if status is Status.TRY_LATER and current_language() != SOURCE_LANGUAGE:
        wait = next((s for head, s in _WAIT_SENTENCES.items() if detail.startswith(head)), None)
        if wait is not None:
            return _(wait).format(seconds=seconds)
    words = STATUS_WORDS.get(status)
    if words is None or current_language() == SOURCE_LANGUAGE:
        wait = f"; try again in {seconds} s" if status is Status.TRY_LATER else ""
        return as_sentence(detail + wait)
    return _(words).format(room=room, name=name, seconds=seconds)


# --- what happened in a room, in the client's words -----------------------------------------

EVENT_WORDS = {
    "joined": N_("{name} joined the room."),
    "left": N_("{name} left the room."),
    "timed_out": N_("{name} stopped responding and was removed."),
    "removed": N_("The host removed {name} from the room."),
    "locked": N_("{name} set a password for the room."),
    "unlocked": N_("{name} took the room's password away."),
    "connection_lost": N_("Connection lost, reconnecting…"),
    "connection_restored": N_("Connection restored."),
    "host_not_answering": N_(
        "{room}'s host is not answering ({seconds} s). They may have closed the app or left the network."
    ),
    "session_gone": N_("The server no longer knows this session."),
}


def event_words(kind: str) -> str:
    """EVENT_WORDS[kind] in the person's language."""
    return _(EVENT_WORDS[kind])


def notice_text(kind: str, name: str, text: str = "") -> str:
    """A member's coming or going in words (a notice that carries its own text keeps it)."""
    return text or (_(EVENT_WORDS[kind]) if kind in EVENT_WORDS else "{name}").format(name=name)


def resumed_words(missed: int) -> str:
    """What a person reads on coming back after the server had let them go (a laptop asleep)."""
    return ngettext(
        "You were away; {missed} message you missed is below.",
        "You were away; {missed} messages you missed are below.",
        missed,
    ).format(missed=missed)


def host_not_answering_text(seconds: int, room: str) -> str:
    return event_words("host_not_answering").format(room=room, seconds=seconds)


def rejoin_command(server: str, room: str, name: str) -> str:
    """The ocm-chat command that joins `room` on `server` as `name` again, quoted for this system's shell."""
    args = ["ocm-chat", "--server", server, "--join", room, "--name", name]
    return subprocess.list2cmdline(args) if sys.platform == "win32" else shlex.join(args)


def size_text(size: int) -> str:
    """A file's size as a person reads it: 980 bytes, 12.3 KB, 4.5 MB, 1.2 GB."""
    if size < 1000:
        return ngettext("{n} byte", "{n} bytes", size).format(n=size)
    amount, unit = size / 1000, "KB"
    for bigger in ("MB", "GB"):
        if round(amount, 1) < 1000:  # as shown: 999.95 KB would read "1000.0 KB"
            break
        amount, unit = amount / 1000, bigger
    return f"{amount:.1f} {unit}"


# --- names refused (wire/names.py decides), on the wire and as a client shows them ----------

_NAME_REFUSALS: dict[tuple[NameProblem, bool], tuple[str, str]] = {
    (NameProblem.HIDDEN, False): (
        "your name holds a character that cannot be seen or that turns the text around ({detail}); type it again",
        N_("Your name holds a character that cannot be seen or that turns the text around ({detail}); type it again."),
    ),
    (NameProblem.HIDDEN, True): (
        "the room name holds a character that cannot be seen or that turns the text around ({detail}); type it again",
        N_(
            "The room name holds a character that cannot be seen or that turns the text around ({detail}); "
            "type it again."
        ),
    ),
    (NameProblem.SPACES, False): (
        "your name has spaces at its ends or two in a row; remove them",
        N_("Your name has spaces at its ends or two in a row; remove them."),
    ),
    (NameProblem.SPACES, True): (
        "the room name has spaces at its ends or two in a row; remove them",
        N_("The room name has spaces at its ends or two in a row; remove them."),
    ),
    (NameProblem.MIXED_SCRIPTS, False): (
        "your name mixes letters of scripts that look alike ({detail}); write it in one",
        N_("Your name mixes letters of scripts that look alike ({detail}); write it in one."),
    ),
    (NameProblem.MIXED_SCRIPTS, True): (
        "the room name mixes letters of scripts that look alike ({detail}); write it in one",
        N_("The room name mixes letters of scripts that look alike ({detail}); write it in one."),
    ),
}


def name_refusal_wire(refusal: NameRefusal, *, room: bool) -> str:
    """The server's reason for refusing a name (English, lower case, as the wire carries it)."""
    return _NAME_REFUSALS[(refusal.problem, room)][0].format(detail=refusal.detail)


def name_refusal_text(refusal: NameRefusal, *, room: bool) -> str:
    """The same in the person's language."""
    return _(_NAME_REFUSALS[(refusal.problem, room)][1]).format(detail=refusal.detail)


# --- the person's own history (ocm_core/storage/history.py) -------------------------------


def line_words(line) -> str:
    """A history line in words, without its time: "Alice: text", a file shared, a notice."""
    kind = str(line.kind)
    if kind == "chat":
        return f"{line.sender}: {line.text}"
    if kind == "file":
        return _("{sender} shared {name} ({size})").format(
            sender=line.sender, name=line.text, size=size_text(line.size)
        )
    if kind == "ended":
        return line.text or _("The room ended.")
    return notice_text(kind, line.sender)


def conversation_title(conversation) -> str:
    """A conversation as a list names it: the room, its server, and whether it ended."""
    title = _("{room} at {server}").format(room=conversation.room, server=conversation.server)
    if conversation.ended is not None:
        when = datetime.datetime.fromtimestamp(conversation.ended).strftime("%Y-%m-%d %H:%M")
        title += " " + _("(ended {when})").format(when=when)
    return title


def history_moved_text(path: str) -> str:
    return _("Your history file was damaged, so it was moved aside to {path} and a new one was started.").format(
        path=path
    )


# --- standing rooms (ocm-server --room; docs/standing-rooms.md) ---------------------------

STANDING_ROOM_ENDED = "the server no longer holds this room"
SERVER_SENTENCES[STANDING_ROOM_ENDED] = N_("The server no longer holds this room.")


# --- files and folders -------------------------------------------------------------------


def folder_text(files: int, size: int) -> str:
    """What a shared folder holds, as a person reads it: "folder, 12 files, 3.4 MB"."""
    if not files:  # a count the server did not pass on
        return _("folder, {size}").format(size=size_text(size))
    return ngettext("folder, {n} file, {size}", "folder, {n} files, {size}", files).format(
        n=files, size=size_text(size)
    )


def folder_name(name: str) -> str:
    """A shared folder's name as a person knows it: its archive's name without \".zip\"."""
    return name[:-4] if name.lower().endswith(".zip") else name
