"""Decisions of the main window without Tk: which room a key leads to, what the switcher
offers for what is typed, what the title says."""

from __future__ import annotations

from collections.abc import Sequence


def next_index(current: int | None, count: int, step: int) -> int | None:
    """The room `step` places after `current` (Ctrl+Tab is +1, Ctrl+Shift+Tab -1), going round."""
    if count == 0:
        return None
    if current is None:
        return 0 if step > 0 else count - 1
    return (current + step) % count


def switcher_matches(query: str, names: Sequence[str]) -> list[int]:
    """The rooms whose name holds what was typed (case and width folded), those that start
    with it first, each group in sidebar order."""
    wanted = _folded(query.strip())
    if not wanted:
        return list(range(len(names)))
    starts = [i for i, name in enumerate(names) if _folded(name).startswith(wanted)]
    inside = [i for i, name in enumerate(names) if wanted in _folded(name) and i not in starts]
    return starts + inside


def _folded(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", text).casefold()


def window_title(app_name: str, room: str | None, unread_total: int) -> str:
    """ "(3) lobby — Online Chat Messenger": the rooms' unread messages, then the room shown."""
    prefix = f"({unread_total}) " if unread_total else ""
    return f"{prefix}{room} — {app_name}" if room else f"{prefix}{app_name}"


def row_labels(rooms: Sequence[tuple[str, str]]) -> list[str]:
    """What the sidebar calls each (room, server) pair: the room's name, with its server
    after it only where two rooms of the same name are on different servers."""
    names = [room for room, _server in rooms]
    return [f"{room} · {server}" if names.count(room) > 1 else room for room, server in rooms]
