"""The chat window's scrollback: messages, notices and file cards in a read-only Text.

Entries go in as (segments, line count): `segments` alternate text and tag tuples, so a
whole batch is one `Text.insert`. The oldest whole entries are dropped past
`SCROLLBACK_LINES`. The view follows the newest line unless the person scrolled up;
only their own actions change that (the wheel over an embedded file card too: ocm_gui/chat/wheel.py).
An own message carries a status ("sending…", ✓,
"✗ not delivered · Retry") under a tag of its own so it can be changed in place; the
status is tagged MARK_TAG too, and copies leave it out (ocm_gui/chat/textactions.py).

Entries are built in order, so the scrollback decides as it builds them: a message from the
sender of the one before, within minutes, goes under its name and time; a date line comes
before the first entry of each day; a "New messages" line before the first message that
arrived while the window was in the background. Links are tagged LINK_TAG; what a click on
one or the right button does is in ocm_gui/chat/textactions.py. The decisions are pure functions
in ocm_gui/chat/chatlines.py.
"""

from __future__ import annotations

import collections
import functools
import re
import time
import tkinter as tk
import webbrowser
from collections.abc import Callable
from tkinter import font as tkfont
from tkinter import ttk
from typing import NamedTuple

from ocm_core.i18n import _
from ocm_core.sansio.actions import excerpt
from ocm_core.sansio.events import ChatMessage
from ocm_gui import theme
from ocm_gui.chat.chatlines import (
    clock_text,
    continues_group,
    day_label,
    day_of,
    find_links,
    pick_colour,
)
from ocm_gui.chat.textactions import LINK_TAG, MARK_TAG, TextActions
from ocm_gui.chat.wheel import button_lines, wheel_lines
from ocm_gui.text.emoji import EMOJI_TAG, configure_emoji_tag, emoji_ranges, for_tk
from ocm_gui.text.linebreak import (
    BREAK_TAG,
    NBSP,
    glued,
    spaces_for_breaks,
    with_break_opportunities,
)
from ocm_gui.text.tooltip import Tooltip

SCROLLBACK_LINES = 5000  # oldest whole entries are dropped past this many lines
UNREAD_TAG = "unread"
QUOTE_TAG = "quote"  # the line a reply quotes: a click shows the message it answers
CHIP_TAG = "chip"  # a reaction under a message: a click adds or takes back one's own
FLASH_MS = 1600  # how long a message shown from a quote stays highlighted
QUOTE_CHARS = 60
TEXT_QUOTE = re.compile(r"> ([^:\n]{1,64}): ([^\n]*)\n(.+)", re.DOTALL)  # "> NAME: start" then the answer


class Entry(NamedTuple):
    """What one entry puts in: segments for Text.insert, the lines they take, and, for a
    message under the name of the one before, its own time and name (`head`), put in front
    of it should the trim take the group's first message away."""

    segments: list
    lines: int
    head: list | None = None


def line_entry(text: str, tags: tuple) -> Entry:
    return Entry([with_break_opportunities(text) + "\n", tags], text.count("\n") + 1)


def text_segments(text: str, tags: tuple) -> list:
    """text (break marks in) as Text.insert segments, each link its own piece tagged LINK_TAG."""
    segments: list = []
    position = 0
    for start, end in find_links(text):
        if start > position:
            segments += [text[position:start], tags]
        segments += [text[start:end], tags + (LINK_TAG,)]
        position = end
    if position < len(text) or not segments:
        segments += [text[position:], tags]
    return segments


def status_segments(text: str, tags: tuple, tag: str | None) -> list:
    """Insert arguments for an own message's status after its text: two spaces, then the
    status, both under `tag` (what a later status replaces). The spaces carry no status
    font, so Tk sees them as a break of their own: a status too long for the line moves
    down alone (Tk wraps a run that starts with spaces with the word before it). Inside
    the status, a number keeps its unit and Japanese breaks where it may."""
    own = tuple(t for t in tags if t in ("entry", "own", MARK_TAG))
    extra = (tag,) if tag else ()
    return ["  ", own + extra, with_break_opportunities(glued(text)), tags + extra]


class Scrollback:
    """`later(ms, func)` runs func on the Tk thread unless the window went away;
    `on_retry(msg_id)` is called when the person clicks a failed message's Retry."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        username: str,
        later: Callable[[int, Callable[[], object]], None],
        on_retry: Callable[[int], object],
        open_url: Callable[[str], object] = webbrowser.open,
        now: Callable[[], float] = time.time,
        on_message: Callable[[str], object] | None = None,
        on_quote: Callable[[int], object] | None = None,
        on_chip: Callable[[int, str], object] | None = None,
        message_items: Callable[[str], list] | None = None,
    ):
        """`open_url(address)` opens a clicked link (the browser; tests put a recorder there);
        `now()` tells the date lines which day is today; `on_quote(seq)`: a reply's quote was
        clicked; `on_chip(seq, emoji)`: a reaction under message `seq` was clicked."""
        self._on_quote = on_quote
        self._on_chip = on_chip
        self.said: dict[int, tuple[str, str]] = {}  # seq -> (sender, text) of the messages shown, for quotes
        self._chips: dict[str, tuple[int, str]] = {}  # chip tag -> (seq, emoji)
        self._own_texts: dict[int, str] = {}  # msg_id -> text of our messages not yet placed
        self._text_quotes: dict[str, tuple[str, str]] = {}  # quote tag -> (name, start) of a quote in a text
        self.reactions: dict[int, dict[str, list[str]]] = {}  # seq -> emoji -> who, as shown
        self.username = username
        self._later = later
        self._on_retry = on_retry
        self._now = now
        self._group: tuple[str, float, bool] | None = None  # (sender, time, history) a next message may join
        self._day: tuple[int, int, int] | None = None  # the day of the last dated entry
        self._relative_days: list[tuple[str, float]] = []  # (tag, time) of date lines saying Today or Yesterday
        self._unread_next = False  # the next new message gets the unread line
        self._colours: dict[str, int] = {}  # sender -> index in theme.SENDER_COLOURS
        self.following = True  # keep the newest line in view
        self.history_shown = False
        self.retry_enabled = True
        self._entry_lines: collections.deque[int] = collections.deque()
        self._entry_heads: collections.deque[list | None] = collections.deque()  # Entry.head of each
        self._line_total = 0
        self._status_tags: dict[int, str] = {}  # msg_id -> tag over its status text
        self._failed: dict[str, int] = {}  # status tag -> msg_id, for messages to retry
        self._serial = 0

        frame = self.frame = ttk.Frame(master)
        frame.rowconfigure(0, weight=1)
        frame.columnconfigure(0, weight=1)
        self.text = tk.Text(
            frame,
            wrap="word",
            state="disabled",
            font="OCMChat",
            background=theme.PANEL,
            foreground=theme.TEXT,
            relief="flat",
            borderwidth=0,
            highlightthickness=1,
            highlightbackground=theme.BORDER,
            highlightcolor=theme.ACCENT,
            padx=theme.scaled(master, 6),
            pady=theme.scaled(master, 6),
            cursor="arrow",
            width=40,
            height=10,
            takefocus=1,
        )
        self.scrollbar = ttk.Scrollbar(frame, orient="vertical", command=self._on_scrollbar)
        self.text.configure(yscrollcommand=self._on_scroll)
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>", "<KeyRelease>", "<ButtonRelease-1>"):
            self.text.bind(sequence, self._user_scrolled, add="+")
        self.text.bind("<Configure>", self._on_resize, add="+")
        # Embedded widgets (file cards, pictures) get this tag first: the wheel over them scrolls the text.
        # A class binding outlives the widget, and its Tcl command (the root's) would hold this
        # scrollback and its window until the app ends: both go with the text widget.
        self._wheel_tag = f"OCMWheel{id(self)}"
        wheel = {
            "<MouseWheel>": self._wheel_over_widget,
            "<Button-4>": lambda e: self._scroll_lines(button_lines(4)),
            "<Button-5>": lambda e: self._scroll_lines(button_lines(5)),
        }
        self._class_bindings = [(seq, self.text.bind_class(self._wheel_tag, seq, func)) for seq, func in wheel.items()]
        self.text.bind("<Destroy>", self._unbind_wheel, add="+")
        self.text.grid(row=0, column=0, sticky="nsew")
        self.scrollbar.grid(row=0, column=1, sticky="ns")
        # Who is typing (chat/typingline.py): one small line kept free, so nothing jumps.
        self.typing_label = ttk.Label(frame, text="", style="Small.TLabel")
        self.typing_label.grid(row=1, column=0, columnspan=2, sticky="w")
        self.more_button = ttk.Button(
            frame, text=_("New messages ↓"), style="Link.TButton", command=self.scroll_to_end, takefocus=0
        )
        self._configure_tags()
        # After the tags: its link tag wins. A sender's name offers a direct message.
        self.actions = TextActions(self.text, open_url=open_url, on_message=on_message, message_items=message_items)
        # Who reacted: the names behind the reaction under the pointer.
        self._hovered_chip: tuple[int, str] | None = None
        self.chip_tooltip = Tooltip(self.text, self._chip_names)
        self.text.bind("<Motion>", self._chip_hovered, add="+")

    def _configure_tags(self) -> None:
        t = self.text
        px = functools.partial(theme.scaled, t)  # margins and spacings grow with the text
        t.tag_configure("entry", lmargin1=px(4), lmargin2=px(26), rmargin=px(6), spacing1=px(3), spacing3=px(3))
        t.tag_configure("cont", lmargin1=px(26), spacing1=0)  # second and later lines of a message
        t.tag_configure("time", foreground=theme.MUTED, font="OCMSmall")
        t.tag_configure("sender", font="OCMChatBold")
        for index, colour in enumerate(theme.SENDER_COLOURS):
            t.tag_configure(f"c{index}", foreground=colour)
        t.tag_configure("own", background=theme.OWN_BG)
        t.tag_configure("mention", background=theme.WARN_BG)  # a message that names you
        t.tag_configure("ownsender", foreground=theme.OWN_FG)
        t.tag_configure("status", foreground=theme.MUTED, font="OCMSmall")
        t.tag_configure("failed", foreground=theme.ERROR, font="OCMSmall")
        t.tag_configure("retry", font="OCMSmall")
        self._retry_look()
        t.tag_configure(
            "notice", foreground=theme.NOTICE, font="OCMNotice", justify="center", spacing1=px(5), spacing3=px(5)
        )
        t.tag_configure(
            "error", foreground=theme.ERROR, font="OCMNotice", justify="center", spacing1=px(5), spacing3=px(5)
        )
        t.tag_configure(
            "separator", foreground=theme.MUTED, font="OCMSmall", justify="center", spacing1=px(6), spacing3=px(6)
        )
        t.tag_configure("history", foreground=theme.HISTORY)  # created late: wins over sender colours
        t.tag_configure("grouped", lmargin1=px(26), spacing1=px(1))  # a message under the name of the one before
        t.tag_configure(
            "dateline", foreground=theme.MUTED, font="OCMSmall", justify="center", spacing1=px(8), spacing3=px(4)
        )
        t.tag_configure(
            UNREAD_TAG, foreground=theme.ERROR, font="OCMSmall", justify="center", spacing1=px(6), spacing3=px(4)
        )
        # Break spaces in Japanese runs (ocm_gui/text/linebreak.py): last, so their font wins.
        t.tag_configure(BREAK_TAG, font=(tkfont.nametofont("TkDefaultFont").actual("family"), -1))
        configure_emoji_tag(t)  # emoji runs in the emoji font (ocm_gui/text/emoji.py)
        t.tag_configure(QUOTE_TAG, foreground=theme.MUTED, font="OCMSmall")
        t.tag_configure("edited", foreground=theme.MUTED, font="OCMSmall")
        t.tag_configure("deleted", foreground=theme.MUTED, font="OCMNotice")
        # A reaction looks like a small button (a click toggles one's own): Retry's face, on any band.
        t.tag_configure(
            CHIP_TAG, font="OCMSmall", background=theme.RETRY_BG, relief="raised", borderwidth=max(1, px(1))
        )
        t.tag_configure("minechip", foreground=theme.ACCENT)
        t.tag_configure("flash", background=theme.WARN_BG)
        # Above the quote, chip, edited and deleted fonts: emoji in a quote or a chip keep the emoji
        # font (else ❤️ 😂 fall back to a black outline), and Japanese break spaces stay invisible.
        t.tag_raise(EMOJI_TAG)
        t.tag_raise(BREAK_TAG)
        t.tag_bind(QUOTE_TAG, "<ButtonRelease-1>", self._on_quote_click)
        t.tag_bind(CHIP_TAG, "<ButtonRelease-1>", self._on_chip_click)
        for tag in (QUOTE_TAG, CHIP_TAG):
            t.tag_bind(tag, "<Enter>", lambda e: t.configure(cursor="hand2"))
            t.tag_bind(tag, "<Leave>", lambda e: t.configure(cursor="arrow"))
        t.tag_bind("retry", "<Button-1>", self._on_retry_click)
        t.tag_bind("retry", "<Enter>", lambda e: t.configure(cursor="hand2" if self.retry_enabled else "arrow"))
        t.tag_bind("retry", "<Leave>", lambda e: t.configure(cursor="arrow"))

    def plain_text(self, start: str, end: str, marks: bool = True) -> str:
        return self.actions.plain_text(start, end, marks)

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

    def _unbind_wheel(self, event) -> None:
        if event.widget is not self.text:
            return
        bindings, self._class_bindings = self._class_bindings, []
        root = self.text.nametowidget(".")  # a class binding's command is the root's
        for sequence, command in bindings:
            try:
                root.unbind_class(self._wheel_tag, sequence)
                root.deletecommand(command)
            except tk.TclError:
                return  # the whole application is going: its bindings and commands go with it

    def _wheel_over_widget(self, event) -> str:
        return self._scroll_lines(wheel_lines(int(event.delta), str(self.text.tk.call("tk", "windowingsystem"))))

    def _scroll_lines(self, lines: int) -> str:
        self.text.yview_scroll(lines, "units")
        self._user_scrolled()
        return "break"

    def _wheel_scrolls_text(self, widget: tk.Misc) -> None:
        """The wheel over `widget` and everything in it scrolls the text (idempotent)."""
        tags = widget.bindtags()
        if self._wheel_tag not in tags:
            widget.bindtags((self._wheel_tag,) + tags)
        for child in widget.winfo_children():
            self._wheel_scrolls_text(child)

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
    def _entry_segments(
        self,
        stamp: float,
        sender: str,
        text: str,
        base: tuple,
        name_tags: tuple,
        status: list | None = None,
        history: bool = False,
        text_tag: str = "",
        quote: str | None = None,
        quote_tag: str = "",
        marks: str = "",
    ) -> Entry:
        """[date line] time  sender  text [status]; later lines of the text indented under the
        first. A message that joins the group before it is its text alone, indented the same.
        `text_tag` covers the text (what an edit replaces), `quote` is the line a reply puts
        first (tagged `quote_tag`), `marks` ("edited") follows the text, muted."""
        date = self._date_segments(stamp)
        # Measured from the group's first message: the one time shown is never more than
        # GROUP_SECONDS off any message under it.
        grouped = continues_group(self._group[:2] if self._group and self._group[2] == history else None, sender, stamp)
        self._group = (sender, self._group[1] if grouped and self._group else stamp, history)
        head = [
            f"{clock_text(stamp)}  ",
            base + ("time",),
            with_break_opportunities(sender),
            base + name_tags,
            "  ",
            base,
        ]
        own_tags = (text_tag,) if text_tag else ()
        if quote is not None:
            self._group = None  # a message after a reply is not read as part of it
        segs = [] if grouped else head
        quoted = 0
        if quote is not None:
            quote_tags = base + ("grouped",) if grouped else base
            segs = segs + [with_break_opportunities(quote), quote_tags + (QUOTE_TAG, quote_tag), "\n", base + ("cont",)]
            quoted = 1
        first, *rest = with_break_opportunities(text).split("\n")
        if grouped or quoted:
            segs = segs + text_segments(first, base + (("cont",) if quoted else ("grouped",)) + own_tags)
        else:
            segs = segs + text_segments(first, base + own_tags)
        for line in rest:
            segs += ["\n", base + ("cont",) + own_tags] + text_segments(line, base + ("cont",) + own_tags)
        if marks:
            segs += [" ", base, marks, base + ("edited", MARK_TAG)]
        segs += (status or []) + ["\n", base]
        return Entry(date.segments + segs, date.lines + len(rest) + 1 + quoted, head if grouped else None)

    def _date_segments(self, stamp: float) -> Entry:
        """The date line to put before an entry of `stamp`'s day, if the day changed."""
        day = day_of(stamp)
        if day == self._day:
            return Entry([], 0)
        self._day = day
        self._group = None
        now = self._now()
        self._relabel_days(now)
        label = day_label(stamp, now)
        self._serial += 1
        tag = f"day{self._serial}"
        if label in (_("Today"), _("Yesterday")):
            self._relative_days.append((tag, stamp))
        return line_entry(label, ("dateline", tag))

    def _relabel_days(self, now: float) -> None:
        """A window open past midnight: yesterday's 'Today' line now says 'Yesterday', and so on."""
        kept = []
        for tag, stamp in self._relative_days:
            found = self.text.tag_ranges(tag)
            if not found:
                continue  # trimmed away
            label = day_label(stamp, now)
            start, end = str(found[0]), f"{found[-1]}-1c"  # the label, not its newline
            if self.plain_text(start, end) != label:
                self.text.configure(state="normal")
                self.text.delete(start, end)
                self.text.insert(start, label, ("dateline", tag))
                self.text.configure(state="disabled")
            if label in (_("Today"), _("Yesterday")):
                kept.append((tag, stamp))
        self._relative_days = kept

    def own_entry(self, msg_id: int, text: str, stamp: float, reply_to: int = 0) -> Entry:
        """An own message just sent, its status 'sending…' until the server confirms it (and
        gives it a room position: `mark_sent`)."""
        self._serial += 1
        tag = f"st{self._serial}"
        self._status_tags[msg_id] = tag
        self._own_texts[msg_id] = text
        base = ("entry", "own")
        status = status_segments(_("sending…"), base + ("status", MARK_TAG), tag)
        quote, quote_tag = (self.quote_line(reply_to), f"q{reply_to}") if reply_to else (None, "")
        if not reply_to and (quoted := self._quoted_in_text(text)):
            quote, quote_tag, text = quoted
            self._own_texts[msg_id] = text
        return self._entry_segments(
            stamp,
            self.username,
            text,
            base,
            ("sender", "ownsender"),
            status,
            text_tag=f"to{msg_id}",
            quote=quote,
            quote_tag=quote_tag,
        )

    def _quoted_in_text(self, text: str) -> tuple[str, str, str] | None:
        """A message that starts "> NAME: the start of theirs" on a line of its own (a direct
        conversation's reply, or an older app's): (its quote line, the quote's tag, the rest)."""
        found = TEXT_QUOTE.match(text)
        if found is None:
            return None
        name, start, rest = found.groups()
        self._serial += 1
        tag = f"qx{self._serial}"
        self._text_quotes[tag] = (name, start.rstrip("…").strip())
        return f"↪ {name}: {start}", tag, rest

    def message_entry(self, msg: ChatMessage, *, mentioned: bool = False) -> Entry:
        """Another's message (or ours, from the history); `mentioned`: it names this person
        (or everyone), and stands out."""
        extra: tuple[str, ...] = ("history",) if msg.history else ()
        extra += ("mention",) if mentioned else ()
        if msg.sender == self.username:
            base, name_tags = ("entry", "own") + extra, ("sender", "ownsender")
        else:
            base, name_tags = ("entry",) + extra, ("sender", f"c{self.colour_of(msg.sender)}")
        text, marks = msg.text, _("(edited)") if msg.edited else ""
        quote, quote_tag = (self.quote_line(msg.reply_to), f"q{msg.reply_to}") if msg.reply_to else (None, "")
        if not msg.reply_to and not msg.deleted and (quoted := self._quoted_in_text(text)):
            quote, quote_tag, text = quoted
        if msg.seq:
            self.said[msg.seq] = (msg.sender, "" if msg.deleted else text)
        if msg.deleted:
            text, marks, base = _("message deleted"), "", base + ("deleted",)
        return self._entry_segments(
            msg.time,
            msg.sender,
            text,
            base,
            name_tags,
            history=msg.history,
            text_tag=f"t{msg.seq}" if msg.seq else "",
            quote=quote,
            quote_tag=quote_tag,
            marks=marks,
        )

    # ------------------------------------------------------------------ replies, edits, reactions
    quote_lookup: Callable[[int], tuple[str, str] | None] | None = None  # older messages, from the history

    def quote_line(self, seq: int) -> str:
        """ "↪ alice: the start of her message" for the reply to `seq`."""
        found = self.said.get(seq) or (self.quote_lookup(seq) if self.quote_lookup else None)
        if found is None:
            return "↪ " + _("an earlier message")
        sender, text = found
        if not text:
            return "↪ " + _("{name}: message deleted").format(name=sender)
        return f"↪ {sender}: {excerpt(text, QUOTE_CHARS)}"

    def seq_at(self, index: str) -> int | None:
        """The room position of the message at `index` (its text, or its time and name)."""
        for where in (index, f"{index} lineend -1c", f"{index} +1 lines linestart"):
            for tag in self.text.tag_names(where):
                if tag.startswith("t") and tag[1:].isdigit():
                    return int(tag[1:])
                if tag.startswith("rs") and tag[2:].isdigit():
                    return int(tag[2:])
        return None

    def has_message(self, seq: int) -> bool:
        return bool(self.text.tag_ranges(f"t{seq}"))

    def placed(self, msg_id: int, seq: int) -> None:
        """Our message `msg_id` is at room position `seq`: edits and reactions find it there."""
        ranges = self.text.tag_ranges(f"to{msg_id}")
        text = self._own_texts.pop(msg_id, None)
        if seq and ranges:
            self.text.tag_add(f"t{seq}", *ranges)
            if text is not None:
                self.said[seq] = (self.username, text)
        self.text.tag_delete(f"to{msg_id}")

    def reveal(self, seq: int) -> bool:
        """Bring message `seq` into view, highlighted a moment; False if it is not shown here."""
        ranges = self.text.tag_ranges(f"t{seq}")
        if not ranges:
            return False
        self.following = False
        self.text.see(ranges[0])
        self.text.tag_remove("flash", "1.0", "end")
        self.text.tag_add("flash", *ranges)
        self._later(FLASH_MS, lambda: self.text.tag_remove("flash", "1.0", "end"))
        return True

    def set_text(self, seq: int, text: str, *, deleted: bool = False, by_host: bool = False) -> bool:
        """Message `seq` now reads `text` (edited), or is gone (`deleted`, `by_host`: the host took
        it); the replies quoting it say so too. False if it is not shown."""
        tag = f"t{seq}"
        if not self.text.tag_ranges(tag):
            return False
        if deleted:  # its reactions go with it
            self.reactions.pop(seq, None)
            self._clear_chips(seq)
        ranges = self.text.tag_ranges(tag)
        start, end = str(ranges[0]), str(ranges[-1])
        kept = tuple(t for t in self.text.tag_names(start) if t not in (LINK_TAG, EMOJI_TAG, BREAK_TAG, tag))
        old_lines = self.text.get(start, end).count("\n")
        if seq in self.said:
            self.said[seq] = (self.said[seq][0], "" if deleted else text)
        self.text.configure(state="normal")
        after = f"{end} lineend"
        marked = self.text.tag_nextrange("edited", end, after)
        if marked:  # the earlier "(edited)" goes with the text it marked
            self.text.delete(end, marked[1])
        self.text.delete(start, end)
        segments: list
        if deleted:
            gone = _("message deleted by the host") if by_host else _("message deleted")
            segments = [gone, kept + ("deleted", tag)]
        else:
            first, *rest = with_break_opportunities(text).split("\n")
            segments = text_segments(first, kept + (tag,))
            cont = tuple(t for t in kept if t != "grouped") + ("cont", tag)
            for more in rest:
                segments += ["\n", cont] + text_segments(more, cont)
            segments += [" ", kept, _("(edited)"), kept + ("edited", MARK_TAG)]
        segments[0::2] = map(for_tk, segments[0::2])
        line, column = (int(part) for part in start.split("."))
        breaks = spaces_for_breaks(segments, line, column)
        emoji = emoji_ranges(segments, line, column)
        self.text.insert(start, *segments)
        if breaks:
            self.text.tag_add(BREAK_TAG, *breaks)
        if emoji:
            self.text.tag_add(EMOJI_TAG, *emoji)
        self.text.configure(state="disabled")
        new_lines = "".join(segments[0::2]).count("\n")
        self._lines_changed(line, new_lines - old_lines)
        self._requote(seq)
        return True

    def _requote(self, seq: int) -> None:
        """The replies to message `seq` quote it as it is now (edited, or deleted: its text gone)."""
        tag = f"q{seq}"
        ranges = self.text.tag_ranges(tag)
        if not ranges:
            return
        quote = for_tk(with_break_opportunities(self.quote_line(seq)))
        self.text.configure(state="normal")
        for start, end in reversed(list(zip(ranges[::2], ranges[1::2]))):
            kept = tuple(t for t in self.text.tag_names(start) if t not in (EMOJI_TAG, BREAK_TAG))
            self.text.delete(start, end)
            self.text.insert(start, quote, kept)
        self.text.configure(state="disabled")

    def _lines_changed(self, line: int, delta: int) -> None:
        """The entry holding `line` now takes `delta` more lines (an edit with more or fewer)."""
        if not delta:
            return
        first = 1
        for position, lines in enumerate(self._entry_lines):
            if first <= line < first + lines:
                self._entry_lines[position] += delta
                self._line_total += delta
                return
            first += lines

    def set_reactions(self, seq: int, reactions: dict[str, list[str]], me: str) -> bool:
        """Show `reactions` (emoji -> who) after message `seq`; False if it is not shown."""
        ranges = self.text.tag_ranges(f"t{seq}")
        if not ranges:
            return False
        self.reactions[seq] = {emoji: list(who) for emoji, who in reactions.items() if who}
        self._clear_chips(seq)
        if not self.reactions[seq]:
            return True
        end = str(ranges[-1])
        marked = self.text.tag_nextrange("edited", end, f"{end} lineend")
        at = str(marked[1]) if marked else end
        segments: list = []
        for emoji, who in self.reactions[seq].items():
            self._serial += 1
            chip = f"rc{self._serial}"
            self._chips[chip] = (seq, emoji)
            look = (CHIP_TAG, "minechip") if me in who else (CHIP_TAG,)
            segments += [
                " ",
                ("entry", MARK_TAG, f"rs{seq}"),
                f"{emoji}{NBSP}{len(who)}",  # one chip: never its count alone on the next line
                look + ("entry", MARK_TAG, chip, f"rs{seq}"),
            ]
        segments[0::2] = map(for_tk, segments[0::2])
        line, column = (int(part) for part in at.split("."))
        emoji_at = emoji_ranges(segments, line, column)
        self.text.configure(state="normal")
        self.text.insert(at, *segments)
        if emoji_at:
            self.text.tag_add(EMOJI_TAG, *emoji_at)
        self.text.configure(state="disabled")
        return True

    def _clear_chips(self, seq: int) -> None:
        ranges = self.text.tag_ranges(f"rs{seq}")
        if ranges:
            self.text.configure(state="normal")
            for start, end in reversed(list(zip(ranges[::2], ranges[1::2]))):
                self.text.delete(start, end)
            self.text.configure(state="disabled")
        for chip in [c for c, (s, _e) in self._chips.items() if s == seq]:
            del self._chips[chip]
            self.text.tag_delete(chip)

    def chip_at(self, index: str) -> tuple[int, str] | None:
        """(seq, emoji) of the reaction at `index`."""
        for tag in self.text.tag_names(index):
            if tag in self._chips:
                return self._chips[tag]
        return None

    def _chip_hovered(self, event) -> None:
        chip = self.chip_at(f"@{event.x},{event.y}")
        if chip != self._hovered_chip:
            self._hovered_chip = chip
            self.chip_tooltip.hide()
            if chip is not None:
                self.chip_tooltip.schedule(event)

    def _chip_names(self) -> str:
        """ "👍 ann, bob" for the reaction under the pointer ("": none there)."""
        if self._hovered_chip is None:
            return ""
        seq, emoji = self._hovered_chip
        who = self.reactions.get(seq, {}).get(emoji, [])
        return f"{emoji} " + _(", ").join(who) if who else ""

    def show_chip_names(self, seq: int, emoji: str) -> str:
        """Show who reacted with `emoji` to message `seq` at once (as hovering would), for tests."""
        self._hovered_chip = (seq, emoji)
        self.chip_tooltip.show()
        return self.chip_tooltip.shown_text()

    def _on_chip_click(self, event) -> str:
        found = self.chip_at(f"@{event.x},{event.y}")
        if found is not None and self._on_chip is not None:
            self._on_chip(*found)
        return "break"

    def _on_quote_click(self, event) -> str:
        index = f"@{event.x},{event.y}"
        for tag in self.text.tag_names(index):
            if tag in self._text_quotes:
                self.reveal_quoted(*self._text_quotes[tag])
                break
            if tag.startswith("q") and tag[1:].isdigit() and self._on_quote is not None:
                self._on_quote(int(tag[1:]))
                break
        return "break"

    def reveal_quoted(self, name: str, start: str) -> bool:
        """Show the newest message of `name` that starts with `start` (a quote made of text)."""
        for seq in sorted(self.said, reverse=True):
            sender, text = self.said[seq]
            if sender == name and " ".join(text.split()).startswith(start):
                return self.reveal(seq)
        return False

    def colour_of(self, sender: str) -> int:
        """The sender's colour (an index in theme.SENDER_COLOURS), told apart from the others here."""
        if sender not in self._colours:
            self._colours[sender] = pick_colour(sender, set(self._colours.values()), len(theme.SENDER_COLOURS))
        return self._colours[sender]

    def line_entry(self, text: str, tags: tuple) -> Entry:
        """A line of its own (a notice, an error, a separator): the next message starts a group."""
        self._group = None
        return line_entry(text, tags)

    def notice_entry(self, text: str, stamp: float, history: bool) -> Entry:
        """Someone came or went: 'text  ·  HH:MM', after a date line if the day changed. The
        sentence's full stop goes: a stop and then a dot ("joined.  ·", "参加しました。 ・") is a stutter."""
        date = self._date_segments(stamp)
        line = self.line_entry(
            f"{text.rstrip('.。')}  ·  {clock_text(stamp)}", ("notice", "history") if history else ("notice",)
        )
        return Entry(date.segments + line.segments, date.lines + line.lines)

    def day_entries(self, stamp: float) -> list[Entry]:
        """A date line, if an entry of `stamp`'s day needs one (for a file card, put in on its own)."""
        date = self._date_segments(stamp)
        return [date] if date.lines else []

    def history_separator(self) -> Entry:
        self.history_shown = True
        return self.line_entry(_("— earlier messages, before you joined —"), ("separator",))

    # ------------------------------------------------------------------ the unread line
    def away(self) -> None:
        """The window went to the background: the next new message gets the unread line."""
        self._unread_next = True

    def back(self) -> None:
        """The window is in front again: messages from now on are seen as they come."""
        self._unread_next = False

    def unread_entries(self) -> list[Entry]:
        """[the unread line] before the first new message since the window went to the
        background, moved from wherever it was (there is only one); [] otherwise."""
        if not self._unread_next:
            return []
        self._unread_next = False
        self.clear_unread()
        return [self.line_entry(_("— New messages —"), (UNREAD_TAG,))]

    def clear_unread(self) -> None:
        """Take the unread line away (the person sent a message: they have read up to here)."""
        ranges = self.text.tag_ranges(UNREAD_TAG)
        if not ranges:
            return
        line = int(str(ranges[0]).split(".")[0])
        first = 1
        for position, lines in enumerate(self._entry_lines):  # which entry is it, for the trim count
            if first == line:
                del self._entry_lines[position]
                del self._entry_heads[position]
                self._line_total -= lines
                break
            first += lines
        self.text.configure(state="normal")
        self.text.delete(f"{line}.0", f"{line + 1}.0")
        self.text.configure(state="disabled")

    def write(self, entries: list[Entry], force_scroll: bool = False) -> None:
        """Append entries in one insert, trim, and scroll if wanted."""
        if not entries:
            return
        stick = force_scroll or self.following
        flat: list = []
        for segments, lines, head in entries:
            flat.extend(segments)
            self._entry_lines.append(lines)
            self._entry_heads.append(head)
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
            self.more_button.place(
                relx=1.0, rely=1.0, x=-theme.scaled(self.text, 24), y=-theme.scaled(self.text, 10), anchor="se"
            )

    def append_widget(self, widget: tk.Widget, history: bool = False) -> None:
        """Put a widget (a shared file's card) at the end, on a line of its own."""
        if history and not self.history_shown:
            self.write([self.history_separator()])
        self._group = None
        stick = self.following
        self.text.configure(state="normal")
        self.text.window_create(
            "end-1c", window=widget, padx=theme.scaled(self.text, 22), pady=theme.scaled(self.text, 3)
        )
        self._wheel_scrolls_text(widget)
        self.text.insert("end-1c", "\n", ("entry",))
        self._entry_lines.append(1)
        self._entry_heads.append(None)
        self._line_total += 1
        self._trim()
        self.text.configure(state="disabled")
        if stick:
            self.scroll_to_end()

    def widget_grew(self) -> None:
        """An embedded widget got taller (a picture arrived): keep the end in view if we follow it."""
        for name in self.text.window_names():  # the new picture scrolls the text too
            self._wheel_scrolls_text(self.text.nametowidget(name))
        if self.following:
            self.text.update_idletasks()
            self.scroll_to_end()

    def _trim(self) -> None:
        drop = 0
        while self._line_total > SCROLLBACK_LINES and self._entry_lines:
            lines = self._entry_lines.popleft()
            self._entry_heads.popleft()
            self._line_total -= lines
            drop += lines
        if drop:
            self.text.delete("1.0", f"{drop + 1}.0")
            if self._entry_heads and self._entry_heads[0] is not None:
                self._put_head_back()

    def _put_head_back(self) -> None:
        """The first message left was under the name of one now trimmed away: give it its own."""
        head = list(self._entry_heads[0] or [])
        self._entry_heads[0] = None
        self.text.tag_remove("grouped", "1.0", "1.end")
        head[0::2] = map(for_tk, head[0::2])
        breaks = spaces_for_breaks(head, 1, 0)
        emoji = emoji_ranges(head, 1, 0)
        self.text.insert("1.0", *head)
        if breaks:
            self.text.tag_add(BREAK_TAG, *breaks)
        if emoji:
            self.text.tag_add(EMOJI_TAG, *emoji)

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
        segments = status_segments(text, tags, tag if keep else None)
        line, column = (int(part) for part in self.text.index(start).split("."))
        breaks = spaces_for_breaks(segments, line, column)
        self.text.configure(state="normal")
        self.text.delete(start, end)
        self.text.insert(start, *segments)
        if breaks:
            self.text.tag_add(BREAK_TAG, *breaks)
        self.text.configure(state="disabled")
        if not keep:
            self.text.tag_delete(tag)
        return tag

    def mark_sent(self, msg_id: int, seq: int = 0) -> None:
        self._set_status(msg_id, "✓", ("entry", "own", "status", MARK_TAG), keep=False)
        self.placed(msg_id, seq)

    def mark_status(self, msg_id: int, text: str, *, keep: bool = True) -> None:
        """Another word for an own message's progress ("waiting for Bob", "✓✓ delivered");
        `keep`: more may follow (its line stays tracked)."""
        self._set_status(msg_id, text, ("entry", "own", "status", MARK_TAG), keep=keep)

    def mark_failed(self, msg_id: int, reason: str) -> None:
        tag = self._set_status(
            msg_id,
            _("✗ not delivered ({reason})").format(reason=reason),
            ("entry", "own", "failed", MARK_TAG),
            keep=True,
        )
        if tag is None:
            return
        self._failed[tag] = msg_id
        start = self.text.tag_ranges(tag)[-1]
        self.text.configure(state="normal")
        self.text.insert(
            start, " ", ("entry", "own", MARK_TAG, tag), _("Retry"), ("entry", "own", "retry", MARK_TAG, tag)
        )
        self.text.configure(state="disabled")

    def mark_sending(self, msg_id: int, new_id: int) -> None:
        """A failed message sent again under `new_id`: back to 'sending…'."""
        tag = self._status_tags[msg_id]
        self._failed.pop(tag, None)
        self._set_status(msg_id, _("sending…"), ("entry", "own", "status", MARK_TAG), keep=True)
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
        return self.plain_text(str(ranges[0]), str(ranges[-1])).replace(NBSP, " ").strip() if ranges else None

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
        self.text.tag_configure(
            "retry",
            foreground=theme.ACCENT,
            underline=True,
            relief="raised",
            borderwidth=max(1, theme.scaled(self.text, 1)),
            background=theme.RETRY_BG,
        )

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
        self.text.tag_configure("retry", foreground=theme.MUTED, underline=False, relief="flat", background="")
