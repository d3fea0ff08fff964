"""Lines of the person's own history (ocm_core.storage.history) as scrollback entries: a room
opened again shows what was said before, greyed as history, above what comes now."""

from __future__ import annotations

from collections.abc import Callable

from ocm_core.i18n import _
from ocm_core.sansio.events import ChatMessage
from ocm_core.storage.history import Line, LineKind
from ocm_core.words import line_words, notice_text
from ocm_gui.chat.scrollback import Entry, Scrollback


def kept_entries(
    scrollback: Scrollback, lines: list[Line], *, heading: bool = True, number: Callable[[], int] | None = None
) -> list[Entry]:
    """Entries for `lines` (oldest first), after a line that says where they come from.
    `number()` gives a line without a room position one of the view's own (a direct
    conversation's), so it can be answered."""
    entries: list[Entry] = []
    if heading and lines:
        entries.append(scrollback.line_entry(_("— kept on this PC —"), ("separator",)))
        scrollback.history_shown = True  # the server's "before you joined" line is not needed now
    for line in lines:
        if line.kind is LineKind.CHAT:
            seq = line.seq or (number() if number is not None else 0)
            message = ChatMessage(
                seq,
                line.sender,
                line.text,
                line.time,
                True,
                reply_to=line.reply_to,
                edited=line.edited,
                deleted=line.deleted,
            )
            entries.append(scrollback.message_entry(message))
        elif line.kind is LineKind.ENDED:
            entries.extend(scrollback.day_entries(line.time))
            entries.append(scrollback.line_entry(line.text or _("The room ended."), ("notice", "history")))
        elif line.kind is LineKind.FILE:
            entries.append(scrollback.notice_entry(line_words(line), line.time, True))
        else:
            entries.append(scrollback.notice_entry(notice_text(str(line.kind), line.sender), line.time, True))
    return entries
