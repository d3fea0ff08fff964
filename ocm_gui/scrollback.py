"""The chat window's scrollback: messages, notices and file cards in a read-only Text.

Entries go in as (segments, line count): `segments` alternate text and tag tuples, so a
whole batch is one `Text.insert`. The oldest whole entries are dropped past
`SCROLLBACK_LINES`. The view follows the newest line unless the person scrolled up;
only their own actions change that. An own message carries a status ("sending…", ✓,
"✗ not delivered · Retry") under a tag of its own so it can be changed in place.
"""

from __future__ import annotations

import collections
import time
import tkinter as tk
from tkinter import font as tkfont
from tkinter import ttk
from typing import Callable

from ocm_core.events import ChatMessage
from ocm_core.i18n import _

from . import theme
from .emoji import EMOJI_TAG, configure_emoji_tag, emoji_ranges, for_tk
from .linebreak import BREAK_TAG, spaces_for_breaks, with_break_opportunities

SCROLLBACK_LINES = 5000  # oldest whole entries are dropped past this many lines

Entry = tuple[list, int]  # (segments for Text.insert, lines they take)


def clock_text(epoch: float, now: float | None = None) -> str:
    """HH:MM today, MM-DD HH:MM on another day."""
    stamp = time.localtime(epoch)
    today = time.localtime(time.time() if now is None else now)
    if stamp[:3] == today[:3]:
        return time.strftime("%H:%M", stamp)
    return time.strftime("%m-%d %H:%M", stamp)


def line_entry(text: str, tags: tuple) -> Entry:
    return [with_break_opportunities(text) + "\n", tags], text.count("\n") + 1


class Scrollback:
    """`later(ms, func)` runs func on the Tk thread unless the window went away;
    `on_retry(msg_id)` is called when the person clicks a failed message's Retry."""

    def __init__(self, master: tk.Misc, *, username: str, later: Callable[[int, Callable[[], object]], None],
                 on_retry: Callable[[int], object]):
        self.username = username
        self._later = later
        self._on_retry = on_retry
        self.following = True               # keep the newest line in view
        self.history_shown = False
        self.retry_enabled = True
        self._entry_lines: collections.deque[int] = collections.deque()
        self._line_total = 0
        self._status_tags: dict[int, str] = {}   # msg_id -> tag over its status text
        self._failed: dict[str, int] = {}        # status tag -> msg_id, for messages to retry
        self._serial = 0

        frame = self.frame = ttk.Frame(master)
        frame.rowconfigure(0, weight=1)
        frame.columnconfigure(0, weight=1)
        self.text = tk.Text(frame, wrap="word", state="disabled", font="OCMChat", background=theme.PANEL,
                            foreground=theme.TEXT, relief="flat", borderwidth=0, highlightthickness=1,
                            highlightbackground=theme.BORDER, highlightcolor=theme.ACCENT, padx=6, pady=6,
                            cursor="arrow", width=40, height=10, takefocus=1)
        self.scrollbar = ttk.Scrollbar(frame, orient="vertical", command=self._on_scrollbar)
        self.text.configure(yscrollcommand=self._on_scroll)
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>", "<KeyRelease>", "<ButtonRelease-1>"):
            self.text.bind(sequence, self._user_scrolled, add="+")
        self.text.bind("<Configure>", self._on_resize, add="+")
        # The scrollback holds zero-width break spaces (ocm_gui/linebreak.py); what a person
        # copies, or pastes with the middle button, is the text without them.
        self.text.bind("<<Copy>>", self._copy)
        for kind in ("STRING", "UTF8_STRING"):
            self.text.selection_handle(self._selected_text, type=kind)
        self.text.grid(row=0, column=0, sticky="nsew")
        self.scrollbar.grid(row=0, column=1, sticky="ns")
        self.more_button = ttk.Button(frame, text=_("New messages ↓"), style="Link.TButton",
                                      command=self.scroll_to_end, takefocus=0)
        self._configure_tags()

    def _configure_tags(self) -> None:
        t = self.text
        t.tag_configure("entry", lmargin1=4, lmargin2=26, rmargin=6, spacing1=3, spacing3=3)
        t.tag_configure("cont", lmargin1=26, spacing1=0)   # second and later lines of a message
        t.tag_configure("time", foreground=theme.MUTED, font="OCMSmall")
        t.tag_configure("sender", font="OCMChatBold")
        for index, colour in enumerate(theme.SENDER_COLOURS):
            t.tag_configure(f"c{index}", foreground=colour)
        t.tag_configure("own", background=theme.OWN_BG)
        t.tag_configure("ownsender", foreground=theme.OWN_FG)
        t.tag_configure("status", foreground=theme.MUTED, font="OCMSmall")
        t.tag_configure("failed", foreground=theme.ERROR, font="OCMSmall")
        t.tag_configure("retry", font="OCMSmall")
        self._retry_look()
        t.tag_configure("notice", foreground=theme.NOTICE, font="OCMNotice", justify="center",
                        spacing1=5, spacing3=5)
        t.tag_configure("error", foreground=theme.ERROR, font="OCMNotice", justify="center",
                        spacing1=5, spacing3=5)
        t.tag_configure("separator", foreground=theme.MUTED, font="OCMSmall", justify="center",
                        spacing1=6, spacing3=6)
        t.tag_configure("history", foreground="#8d9299")  # created late: wins over sender colours
        # Break spaces in Japanese runs (ocm_gui/linebreak.py): last, so their font wins.
        t.tag_configure(BREAK_TAG, font=(tkfont.nametofont("TkDefaultFont").actual("family"), -1))
        configure_emoji_tag(t)  # emoji runs in the emoji font (ocm_gui/emoji.py)
        t.tag_bind("retry", "<Button-1>", self._on_retry_click)
        t.tag_bind("retry", "<Enter>", lambda e: t.configure(cursor="hand2" if self.retry_enabled else "arrow"))
        t.tag_bind("retry", "<Leave>", lambda e: t.configure(cursor="arrow"))

    # ------------------------------------------------------------------ copying
    def _copy(self, event=None) -> str:
        if not self.text.tag_ranges("sel"):
            return "break"  # nothing selected
        self.text.clipboard_clear()
        self.text.clipboard_append(self.plain_text("sel.first", "sel.last"))
        return "break"

    def _selected_text(self, offset, length) -> str:
        if not self.text.tag_ranges("sel"):
            return ""
        return self.plain_text("sel.first", "sel.last")[int(offset):int(offset) + int(length)]

    def plain_text(self, start: str, end: str) -> str:
        """The text from start to end without the break spaces."""
        inside = BREAK_TAG in self.text.tag_names(start)
        pieces = []
        for key, value, _index in self.text.dump(start, end, text=True, tag=True):
            if key == "text" and not inside:
                pieces.append(value)
            elif value == BREAK_TAG:
                inside = key == "tagon"
        return "".join(pieces)

    def transcript(self) -> str:
        return self.plain_text("1.0", "end-1c")

    # ------------------------------------------------------------------ following the end
    def _at_bottom(self) -> bool:
        return self.text.yview()[1] >= 0.999

    def _on_scroll(self, first, last) -> None:
        self.scrollbar.set(first, last)
        if float(last) >= 0.999:
            self.following = True
            self.more_button.place_forget()

    def _on_scrollbar(self, *args) -> None:
        self.text.yview(*args)
        self._update_following()

    def _user_scrolled(self, event=None) -> None:
        self._later(0, self._update_following)  # after the Text class binding has scrolled

    def _update_following(self) -> None:
        self.following = self._at_bottom()
        if self.following:
            self.more_button.place_forget()

    def _on_resize(self, event=None) -> None:
        if self.following:  # a smaller window, a banner: keep the newest line in view
            self.text.yview_moveto(1.0)

    def scroll_to_end(self) -> None:
        self.following = True
        self.text.yview_moveto(1.0)
        self.more_button.place_forget()

    # ------------------------------------------------------------------ entries
    @staticmethod
    def _entry_segments(stamp: float, sender: str, text: str, base: tuple, name_tags: tuple,
                        status: list | None = None) -> Entry:
        """time  sender  text [status]; later lines of the text indented under the first."""
        sender, text = with_break_opportunities(sender), with_break_opportunities(text)
        first, *rest = text.split("\n")
        segs = [f"{clock_text(stamp)}  ", base + ("time",), sender, base + name_tags, "  " + first, base]
        for line in rest:
            segs += ["\n" + line, base + ("cont",)]
        segs += (status or []) + ["\n", base]
        return segs, len(rest) + 1

    def own_entry(self, msg_id: int, text: str, stamp: float) -> Entry:
        """An own message just sent, its status 'sending…' until the server confirms it."""
        self._serial += 1
        tag = f"st{self._serial}"
        self._status_tags[msg_id] = tag
        base = ("entry", "own")
        status = ["  " + _("sending…"), base + ("status", tag)]
        return self._entry_segments(stamp, self.username, text, base, ("sender", "ownsender"), status)

    def message_entry(self, msg: ChatMessage) -> Entry:
        extra = ("history",) if msg.history else ()
        if msg.sender == self.username:
            base, name_tags = ("entry", "own") + extra, ("sender", "ownsender")
        else:
            colour = theme.SENDER_COLOURS.index(theme.sender_colour(msg.sender))
            base, name_tags = ("entry",) + extra, ("sender", f"c{colour}")
        return self._entry_segments(msg.time, msg.sender, msg.text, base, name_tags)

    def history_separator(self) -> Entry:
        self.history_shown = True
        return line_entry(_("— earlier messages, before you joined —"), ("separator",))

    def write(self, entries: list[Entry], force_scroll: bool = False) -> None:
        """Append entries in one insert, trim, and scroll if wanted."""
        if not entries:
            return
        stick = force_scroll or self.following
        flat: list = []
        for segments, lines in entries:
            flat.extend(segments)
            self._entry_lines.append(lines)
            self._line_total += lines
        flat[0::2] = map(for_tk, flat[0::2])  # a remote NUL or lone surrogate must not derail the insert
        line, column = (int(part) for part in self.text.index("end-1c").split("."))
        breaks = spaces_for_breaks(flat, line, column)
        emoji = emoji_ranges(flat, line, column)
        self.text.configure(state="normal")
        self.text.insert("end-1c", *flat)
        if breaks:
            self.text.tag_add(BREAK_TAG, *breaks)
        if emoji:
            self.text.tag_add(EMOJI_TAG, *emoji)
        self._trim()
        self.text.configure(state="disabled")
        if stick:
            self.scroll_to_end()
        else:
            self.more_button.place(relx=1.0, rely=1.0, x=-24, y=-10, anchor="se")

    def append_widget(self, widget: tk.Widget, history: bool = False) -> None:
        """Put a widget (a shared file's card) at the end, on a line of its own."""
        if history and not self.history_shown:
            self.write([self.history_separator()])
        stick = self.following
        self.text.configure(state="normal")
        self.text.window_create("end-1c", window=widget, padx=22, pady=3)
        self.text.insert("end-1c", "\n", ("entry",))
        self._entry_lines.append(1)
        self._line_total += 1
        self._trim()
        self.text.configure(state="disabled")
        if stick:
            self.scroll_to_end()

    def widget_grew(self) -> None:
        """An embedded widget got taller (a picture arrived): keep the end in view if we follow it."""
        if self.following:
            self.text.update_idletasks()
            self.scroll_to_end()

    def _trim(self) -> None:
        drop = 0
        while self._line_total > SCROLLBACK_LINES and self._entry_lines:
            lines = self._entry_lines.popleft()
            self._line_total -= lines
            drop += lines
        if drop:
            self.text.delete("1.0", f"{drop + 1}.0")

    # ------------------------------------------------------------------ own messages' status
    def _set_status(self, msg_id: int, text: str, tags: tuple, keep: bool) -> str | None:
        tag = self._status_tags.get(msg_id)
        if tag is None:
            return None
        ranges = self.text.tag_ranges(tag)
        if not keep:
            del self._status_tags[msg_id]
        if not ranges:  # trimmed out of the scrollback already
            self.text.tag_delete(tag)
            return None
        start, end = ranges[0], ranges[-1]
        self.text.configure(state="normal")
        self.text.delete(start, end)
        self.text.insert(start, text, tags + (tag,) if keep else tags)
        self.text.configure(state="disabled")
        if not keep:
            self.text.tag_delete(tag)
        return tag

    def mark_sent(self, msg_id: int) -> None:
        self._set_status(msg_id, "  ✓", ("entry", "own", "status"), keep=False)

    def mark_failed(self, msg_id: int, reason: str) -> None:
        tag = self._set_status(msg_id, "  " + _("✗ not delivered ({reason})").format(reason=reason),
                               ("entry", "own", "failed"), keep=True)
        if tag is None:
            return
        self._failed[tag] = msg_id
        start = self.text.tag_ranges(tag)[-1]
        self.text.configure(state="normal")
        self.text.insert(start, " ", ("entry", "own", tag), _("Retry"), ("entry", "own", "retry", tag))
        self.text.configure(state="disabled")

    def mark_sending(self, msg_id: int, new_id: int) -> None:
        """A failed message sent again under `new_id`: back to 'sending…'."""
        tag = self._status_tags[msg_id]
        self._failed.pop(tag, None)
        self._set_status(msg_id, "  " + _("sending…"), ("entry", "own", "status"), keep=True)
        self._status_tags[new_id] = self._status_tags.pop(msg_id)

    def is_tracked(self, msg_id: int) -> bool:
        return msg_id in self._status_tags

    def failed_ids(self) -> list[int]:
        return list(self._failed.values())

    def status_text(self, msg_id: int) -> str | None:
        """What the scrollback shows as the status of an own message still tracked."""
        tag = self._status_tags.get(msg_id)
        if tag is None:
            return None
        ranges = self.text.tag_ranges(tag)
        return self.plain_text(str(ranges[0]), str(ranges[-1])).strip() if ranges else None

    def _on_retry_click(self, event) -> str:
        if not self.retry_enabled:
            return "break"
        index = self.text.index(f"@{event.x},{event.y}")
        for tag in self.text.tag_names(index):
            if tag in self._failed:
                self._on_retry(self._failed[tag])
                break
        return "break"

    def _retry_look(self) -> None:
        self.text.tag_configure("retry", foreground=theme.ACCENT, underline=True, relief="raised", borderwidth=1,
                                background="#f7f7f5")

    def new_session(self) -> None:
        """Joined the room again (Rejoin): our earlier messages keep their words and marks,
        but their ids were the old session's, so they are no longer tracked nor retried;
        Retry works again for what is sent from now on."""
        ranges = self.text.tag_ranges("retry")
        self.text.configure(state="normal")
        for start, end in reversed(list(zip(ranges[::2], ranges[1::2]))):
            self.text.delete(start, end)
        self.text.configure(state="disabled")
        for tag in self._status_tags.values():
            self.text.tag_delete(tag)
        self._status_tags.clear()
        self._failed.clear()
        self.retry_enabled = True
        self._retry_look()

    def disable_retry(self) -> None:
        """The room is closed: Retry links stay as words but look and act disabled."""
        self.retry_enabled = False
        self.text.tag_configure("retry", foreground=theme.MUTED, underline=False, relief="flat",
                                background="")
