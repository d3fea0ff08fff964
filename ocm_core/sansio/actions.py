"""What the server decides about a member's action (a reply, a reaction, an edit, a deletion,
the host's topic, removal or password), and how each reads to a client that does not speak
actions. No I/O, no clock of its own: the relay (relay.py) asks, and does what it is told.

A room's `MessageBook` holds what actions need of its recent messages (those the server still
buffers): who said each, from which install, when, its text, whether it is gone, and its
reactions. Older messages can still be answered (the member's app has them); nothing else.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from ocm_core.wire import ActionKind, ErrorCode

EDIT_WINDOW_SECONDS = 24 * 3600.0  # a sender may edit or delete a message this long (ocm-server --edit-window)
MAX_EMOJI_PER_MESSAGE = 20  # different emoji on one message: a palette, not a canvas
EXCERPT_CHARS = 60  # of a message quoted in a text fallback


@dataclass
class Said:
    """A message of the room, as actions see it."""

    seq: int
    name: str
    owner: bytes  # the sender's install key (its token without one): only it may edit
    time: float  # wall-clock seconds when the server took it
    text: str
    deleted: bool = False
    edited: bool = False
    reactions: dict[str, set[str]] = field(default_factory=dict)  # emoji -> who added it


class MessageBook:
    """A room's recent messages, at most `keep` (the event buffer's length), oldest forgotten first."""

    def __init__(self, keep: int):
        self.keep = keep
        self._said: collections.OrderedDict[int, Said] = collections.OrderedDict()

    def add(self, said: Said) -> None:
        self._said[said.seq] = said
        while len(self._said) > self.keep:
            self._said.popitem(last=False)

    def get(self, seq: int) -> Said | None:
        return self._said.get(seq)

    def forget_below(self, seq: int) -> None:
        """Messages below room position `seq` left the server's buffer: nothing acts on them now."""
        while self._said and next(iter(self._said)) < seq:
            self._said.popitem(last=False)

    def __len__(self) -> int:
        return len(self._said)


@dataclass(frozen=True)
class Verdict:
    """A refusal: the ErrorCode and the reason in English (the client words the codes it knows)."""

    code: ErrorCode
    reason: str


NO_SUCH = Verdict(ErrorCode.NO_SUCH_MESSAGE, "that message is not in this room")
GONE = Verdict(ErrorCode.NO_SUCH_MESSAGE, "that message is no longer on the server")
DELETED = Verdict(ErrorCode.NO_SUCH_MESSAGE, "that message was deleted")
NOT_YOURS = Verdict(ErrorCode.NOT_ALLOWED, "only its sender can change a message")
HOST_ONLY = Verdict(ErrorCode.NOT_ALLOWED, "only the host can do that")
STANDING = Verdict(ErrorCode.NOT_ALLOWED, "a standing room has no host to do that")
ALREADY = Verdict(ErrorCode.NOT_ALLOWED, "you already reacted with that")
NOT_REACTED = Verdict(ErrorCode.NOT_ALLOWED, "you have not reacted with that")
TOO_MANY_EMOJI = Verdict(ErrorCode.NOT_ALLOWED, f"a message takes at most {MAX_EMOJI_PER_MESSAGE} different reactions")
NOT_HERE = Verdict(ErrorCode.NOT_ALLOWED, "nobody of that name is in the room")
NOT_YOURSELF = Verdict(ErrorCode.NOT_ALLOWED, "the host cannot remove themselves; leaving closes the room")


def too_late(window: float) -> Verdict:
    hours = window / 3600
    return Verdict(ErrorCode.TOO_LATE, f"a message can be changed for {hours:g} hours after it was sent")


def judge(
    book: MessageBook,
    kind: ActionKind,
    target: int,
    text: str,
    *,
    name: str,
    owner: bytes,
    host: str | None,
    members: tuple[str, ...],
    latest_seq: int,
    oldest_buffered: int,
    now: float,
    edit_window: float = EDIT_WINDOW_SECONDS,
) -> Verdict | None:
    """None when `name` (from install `owner`) may do this now; else why not. `host` is the
    room's host (None for a standing room), `oldest_buffered` the oldest room position the
    server still holds (positions below it can be answered but not otherwise acted on)."""
    if kind in (ActionKind.TOPIC, ActionKind.REMOVE, ActionKind.PASSWORD):
        if host is None:
            return STANDING
        if name != host:
            return HOST_ONLY
        if kind is ActionKind.REMOVE:
            if text == name:
                return NOT_YOURSELF
            if text not in members:
                return NOT_HERE
        return None
    if not 0 < target <= latest_seq:
        return NO_SUCH
    said = book.get(target)
    if said is None:
        if kind is ActionKind.REPLY and target < oldest_buffered:
            return None  # older than the server holds: the member's app has it
        return GONE if target < oldest_buffered else NO_SUCH
    if said.deleted:
        return DELETED
    if kind is ActionKind.REPLY:
        return None
    if kind is ActionKind.REACT:
        if name in said.reactions.get(text, ()):
            return ALREADY
        if text not in said.reactions and len(said.reactions) >= MAX_EMOJI_PER_MESSAGE:
            return TOO_MANY_EMOJI
        return None
    if kind is ActionKind.UNREACT:
        return None if name in said.reactions.get(text, ()) else NOT_REACTED
    # EDIT, DELETE
    if said.owner != owner:
        return None if kind is ActionKind.DELETE and host is not None and name == host else NOT_YOURS
    if now - said.time > edit_window:
        return too_late(edit_window)
    return None


def apply(book: MessageBook, kind: ActionKind, target: int, text: str, name: str) -> None:
    """Change the book as an accepted action on message `target` does."""
    said = book.get(target)
    if said is None:
        return
    if kind is ActionKind.REACT:
        said.reactions.setdefault(text, set()).add(name)
    elif kind is ActionKind.UNREACT:
        who = said.reactions.get(text, set())
        who.discard(name)
        if not who:
            said.reactions.pop(text, None)
    elif kind is ActionKind.EDIT:
        said.text, said.edited = text, True
    elif kind is ActionKind.DELETE:
        said.text, said.deleted = "", True
        said.reactions.clear()


# --- how an action reads to a client that does not speak actions ----------------------------


def excerpt(text: str, chars: int = EXCERPT_CHARS) -> str:
    """The start of a message on one line, marked when cut."""
    line = " ".join(text.split())
    return line if len(line) <= chars else line[: chars - 1] + "…"


def quoted(said: Said | None) -> str:
    return f"{said.name}: “{excerpt(said.text)}”" if said is not None else "an earlier message"


def fallback_text(kind: ActionKind, text: str, target: Said | None, *, by_host: bool = False) -> str:
    """The chat line an older client (or the assignment's) is sent in place of the action's event."""
    if kind is ActionKind.REPLY:
        quote = f"{target.name}: {excerpt(target.text)}" if target is not None else "…"
        return f"> {quote}\n{text}"
    if kind is ActionKind.REACT:
        return f"(reacted {text} to {quoted(target)})"
    if kind is ActionKind.UNREACT:
        return f"(took back {text} on {quoted(target)})"
    if kind is ActionKind.EDIT:
        return f"(edited) {text}"
    if kind is ActionKind.DELETE:
        owner = target.name if target is not None else "someone"
        return f"(deleted a message by {owner})" if by_host else "(deleted a message)"
    if kind is ActionKind.TOPIC:
        return f"(set the topic: {text})" if text else "(cleared the topic)"
    if kind is ActionKind.PASSWORD:
        return "(set a password for the room)" if text else "(took the room's password away)"
    return ""  # REMOVE reads as the member leaving


def fit(text: str, limit: int) -> str:
    """`text` cut (marked "…") to at most `limit` UTF-8 bytes."""
    if len(text.encode("utf-8")) <= limit:
        return text
    cut = text.encode("utf-8")[: max(0, limit - 3)].decode("utf-8", "ignore")
    return cut + "…"
