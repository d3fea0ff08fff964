"""The chat window: scrollback, member list, input with byte counter, Leave.

All events come from ``client.events`` (a ``queue.Queue`` filled by the
client's receive thread). The window drains it on the Tk thread with
``after()``, at most ``BATCH`` events per tick, and inserts each batch into the
scrollback with one ``Text.insert`` call. The poll is cancelled on close.
"""

from __future__ import annotations

import collections
import logging
import queue
import time
import tkinter as tk
from tkinter import font as tkfont
from tkinter import ttk
from typing import Callable

from ocm_core.cli import event_words, notice_text, resumed_words
from ocm_core.errors import ClientError, MessageTooLong, NotConnected
from ocm_core.events import (
    ChatMessage,
    ConnectionLost,
    ConnectionRestored,
    ErrorEvent,
    FileShared,
    MembersChanged,
    MessageFailed,
    MessageSent,
    Notice,
    Resumed,
    RoomClosed,
)
from ocm_core.i18n import _, chars_left, chars_over, ngettext

from . import theme
from .background import fire_and_forget
from .files import FilePanel
from .linebreak import BREAK_TAG, spaces_for_breaks, with_break_opportunities

log = logging.getLogger(__name__)

APP_TITLE = "Online Chat Messenger"
POLL_MS = 40             # idle poll interval
BATCH = 100              # events handled per tick at most (tagging Japanese break spaces makes
                         # an event dearer; 100 keeps a tick under 100 ms, docs/performance.md)
SCROLLBACK_LINES = 5000  # oldest whole entries are dropped past this many lines




def _clock(epoch: float) -> str:
    stamp = time.localtime(epoch)
    if time.strftime("%Y-%m-%d", stamp) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", stamp)
    return time.strftime("%m-%d %H:%M", stamp)


class ChatWindow:
    """One room's window. ``server`` is the bundled server when this window hosts the room."""

    def __init__(self, master: tk.Misc, client, *, server=None, share_address: str | None = None,
                 settings=None, on_close: Callable[["ChatWindow"], None] | None = None,
                 on_back: Callable[["ChatWindow"], None] | None = None, files_dir=None):
        """`files_dir`: where Save puts files (default: the user's Downloads folder)."""
        self.client = client
        self.server = server
        self.settings = settings
        self.share_address = share_address
        self._on_close = on_close
        self._on_back = on_back
        self.room = client.room
        self.username = client.username
        self.is_host = bool(client.is_host)
        self.limit = int(client.max_message_bytes)

        self.unread = 0
        self.focused = True
        self.following = True               # keep the newest line in view
        self.room_closed = False
        self.connection_lost = False
        self.destroyed = False
        self.ticks = 0                      # poll ticks so far, for tests and diagnostics
        self._poll_id: str | None = None
        self._later_ids: set[str] = set()
        self._entry_lines: collections.deque[int] = collections.deque()
        self._line_total = 0
        self._status_tags: dict[int, str] = {}   # msg_id -> tag over its status text
        self._failed: dict[str, int] = {}        # status tag -> msg_id, for messages to retry
        self._serial = 0
        self._history_shown = False

        self.win = tk.Toplevel(master)
        self.win.withdraw()
        self.win.minsize(*theme.window_size(self.win, 560, 380))
        default_size = "{}x{}".format(*theme.window_size(self.win, 760, 520))
        size = getattr(settings, "chat_size", "") or default_size
        try:
            self.win.geometry(size)
        except tk.TclError:
            self.win.geometry(default_size)
        self._build()
        self.files = FilePanel(self, save_dir=files_dir)
        self._set_members(tuple(client.members), client.host_name, frozenset(getattr(client, "plain_members", ())))
        self._update_title()
        self._update_counter()
        self.win.protocol("WM_DELETE_WINDOW", self.leave)
        self.win.bind("<FocusIn>", self._focus_in, add="+")
        self.win.bind("<FocusOut>", self._focus_out, add="+")
        self.win.bind(theme.shortcut("r"), lambda e: self.retry_failed(), add="+")
        self.win.deiconify()
        self.input.focus_set()
        self._poll_id = self.win.after(1, self._poll)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        win = self.win
        win.columnconfigure(0, weight=1)
        win.rowconfigure(2, weight=1)

        header = self.header = ttk.Frame(win, padding=(12, 10, 12, 6))
        header.grid(row=0, column=0, sticky="ew")
        header.columnconfigure(1, weight=1)
        self.room_label = ttk.Label(header, text=self.room, style="Heading.TLabel")
        self.room_label.grid(row=0, column=0, sticky="w")
        role = _("you host this room") if self.is_host else _("you are a member")
        self.who_label = ttk.Label(header, text=f"  {self.username} · {role}", style="Muted.TLabel")
        self.who_label.grid(row=0, column=1, sticky="w")
        self.share_entry = None
        if self.share_address:
            share = ttk.Frame(header)
            share.grid(row=1, column=0, columnspan=2, sticky="w", pady=(6, 0))
            ttk.Label(share, text=_("Others join with this address:")).pack(side="left")
            self._share_var = tk.StringVar(value=self.share_address)
            self.share_entry = ttk.Entry(share, textvariable=self._share_var, width=len(self.share_address) + 2,
                                         state="readonly", font="OCMHeading")
            self.share_entry.pack(side="left", padx=(6, 6))
            self.copy_button = ttk.Button(share, text=_("Copy"), command=self.copy_address)
            self.copy_button.pack(side="left")

        fingerprint = getattr(self.client, "server_fingerprint", None)
        self.fingerprint_label = None
        if fingerprint:
            self.fingerprint_label = ttk.Label(
                header, style="Small.TLabel",
                # Words, not a lock emoji: Tk 8.6 draws characters beyond U+FFFF as empty boxes.
                text=_("Encrypted · server identity {fingerprint} · everyone in the room sees the same; "
                       "compare it aloud").format(fingerprint=fingerprint))
            self.fingerprint_label.grid(row=2, column=0, columnspan=3, sticky="w", pady=(4, 0))  # under the file button too
            line = self.fingerprint_label
            header.bind("<Configure>", lambda e: line.configure(wraplength=max(200, e.width - 24)),
                        add="+")  # a narrow window or large text wraps the line instead of cutting it

        self.banner = ttk.Frame(win, style="Banner.TFrame", padding=(12, 6))
        self.banner.columnconfigure(0, weight=1)
        self.banner_label = ttk.Label(self.banner, style="Banner.TLabel")
        self.banner_label.grid(row=0, column=0, sticky="w")
        self.back_button = ttk.Button(self.banner, text=_("Back to start"), command=self.back_to_start)
        self.banner.grid(row=1, column=0, sticky="ew")
        self.banner.grid_remove()

        body = ttk.Panedwindow(win, orient="horizontal")
        body.grid(row=2, column=0, sticky="nsew", padx=12)
        left = ttk.Frame(body)
        left.rowconfigure(0, weight=1)
        left.columnconfigure(0, weight=1)
        self.text = tk.Text(left, wrap="word", state="disabled", font="OCMChat", background=theme.PANEL,
                            foreground=theme.TEXT, relief="flat", borderwidth=0, highlightthickness=1,
                            highlightbackground="#c9c6bf", highlightcolor=theme.ACCENT, padx=6, pady=6,
                            cursor="arrow", width=40, height=10, takefocus=1)
        self.scrollbar = ttk.Scrollbar(left, orient="vertical", command=self._on_scrollbar)
        self.text.configure(yscrollcommand=self._on_scroll)
        # "Follow" the end unless the person scrolled up; only their own actions change it.
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
        self.more_button = ttk.Button(left, text=_("New messages ↓"), style="Link.TButton",
                                      command=self.scroll_to_end, takefocus=0)
        self._configure_tags()
        body.add(left, weight=4)

        right = ttk.Frame(body, padding=(10, 0, 0, 0))
        right.rowconfigure(1, weight=1)
        right.columnconfigure(0, weight=1)
        self.members_label = ttk.Label(right, text=_("People"), style="Muted.TLabel")
        self.members_label.grid(row=0, column=0, sticky="w", pady=(0, 4))
        self.members_list = tk.Listbox(right, activestyle="none", font="TkDefaultFont", width=18,
                                       background=theme.PANEL, foreground=theme.TEXT, relief="flat",
                                       borderwidth=0, highlightthickness=1, highlightbackground="#c9c6bf",
                                       highlightcolor=theme.ACCENT, selectbackground=theme.OWN_BG,
                                       selectforeground=theme.TEXT, takefocus=0)
        self.members_list.grid(row=1, column=0, sticky="nsew")
        body.add(right, weight=1)

        bottom = ttk.Frame(win, padding=(12, 8, 12, 10))
        bottom.grid(row=3, column=0, sticky="ew")
        bottom.columnconfigure(0, weight=1)
        self.input = tk.Text(bottom, height=3, wrap="word", font="OCMChat", undo=True,
                             background=theme.PANEL, foreground=theme.TEXT, relief="flat", borderwidth=0,
                             highlightthickness=1, highlightbackground="#c9c6bf",
                             highlightcolor=theme.ACCENT, padx=6, pady=4, width=40)
        self.input.grid(row=0, column=0, rowspan=2, sticky="nsew")
        self.send_button = ttk.Button(bottom, text=_("Send"), style="Accent.TButton", command=self.send)
        self.send_button.grid(row=0, column=1, sticky="nsew", padx=(8, 0))
        leave_text = _("Close room") if self.is_host else _("Leave")
        self.leave_button = ttk.Button(bottom, text=leave_text, command=self.back_to_start)
        self.leave_button.grid(row=1, column=1, sticky="ew", padx=(8, 0), pady=(4, 0))
        foot = ttk.Frame(bottom)
        foot.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(4, 0))
        foot.columnconfigure(0, weight=1)
        self.hint = ttk.Label(foot, style="Small.TLabel", text="")
        self.hint.grid(row=0, column=0, sticky="w")
        self.counter = ttk.Label(foot, style="Small.TLabel")
        self.counter.grid(row=0, column=1, sticky="e")
        self._show_hint()

        self.input.bind("<Return>", self._on_return)
        self.input.bind("<KP_Enter>", self._on_return)
        self.input.bind("<Shift-Return>", self._on_shift_return)
        self.input.bind("<Shift-KP_Enter>", self._on_shift_return)
        self.input.bind("<<Modified>>", self._on_modified)
        for widget in (self.input, self.text):
            widget.bind("<Tab>", self._focus_next)
            widget.bind("<Shift-Tab>", self._focus_prev)
            widget.bind("<ISO_Left_Tab>", self._focus_prev)

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
        t.tag_configure("retry", foreground=theme.ACCENT, font="OCMSmall", underline=True,
                        relief="raised", borderwidth=1, background="#f7f7f5")
        t.tag_configure("notice", foreground=theme.NOTICE, font="OCMNotice", justify="center",
                        spacing1=5, spacing3=5)
        t.tag_configure("error", foreground=theme.ERROR, font="OCMNotice", justify="center",
                        spacing1=5, spacing3=5)
        t.tag_configure("separator", foreground=theme.MUTED, font="OCMSmall", justify="center",
                        spacing1=6, spacing3=6)
        t.tag_configure("history", foreground="#8d9299")  # created late: wins over sender colours
        # Break spaces in Japanese runs (ocm_gui/linebreak.py): last, so their font wins.
        t.tag_configure(BREAK_TAG, font=(tkfont.nametofont("TkDefaultFont").actual("family"), -1))
        t.tag_bind("retry", "<Button-1>", self._on_retry_click)
        t.tag_bind("retry", "<Enter>", lambda e: t.configure(cursor="hand2"))
        t.tag_bind("retry", "<Leave>", lambda e: t.configure(cursor="arrow"))

    # ------------------------------------------------------------------ helpers
    def _later(self, ms: int, func: Callable[[], object]) -> None:
        """after() that is cancelled when the window goes away."""
        after_id = None

        def run() -> None:
            self._later_ids.discard(after_id)
            if not self.destroyed:
                func()

        after_id = self.win.after(ms, run)
        self._later_ids.add(after_id)

    def _copy(self, event=None) -> str:
        if not self.text.tag_ranges("sel"):
            return "break"  # nothing selected
        self.win.clipboard_clear()
        self.win.clipboard_append(self.plain_text("sel.first", "sel.last"))
        return "break"

    def _selected_text(self, offset, length) -> str:
        if not self.text.tag_ranges("sel"):
            return ""
        return self.plain_text("sel.first", "sel.last")[int(offset):int(offset) + int(length)]

    def plain_text(self, start: str, end: str) -> str:
        """The scrollback's text from start to end without the break spaces."""
        inside = BREAK_TAG in self.text.tag_names(start)
        pieces = []
        for key, value, _index in self.text.dump(start, end, text=True, tag=True):
            if key == "text" and not inside:
                pieces.append(value)
            elif value == BREAK_TAG:
                inside = key == "tagon"
        return "".join(pieces)

    def _focus_next(self, event) -> str:
        event.widget.tk_focusNext().focus_set()
        return "break"

    def _focus_prev(self, event) -> str:
        event.widget.tk_focusPrev().focus_set()
        return "break"

    def _show_hint(self, text: str | None = None, error: bool = False) -> None:
        if text is None:
            text = _("Enter sends · Shift+Enter adds a line")
        self.hint.configure(text=text, style="Over.Small.TLabel" if error else "Small.TLabel")

    def _update_title(self) -> None:
        prefix = f"({self.unread}) " if self.unread else ""
        self.win.title(f"{prefix}{self.room} — {APP_TITLE}")

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

    # ------------------------------------------------------------------ focus / unread
    def _focus_in(self, event=None) -> None:
        self.focused = True
        if self.unread:
            self.unread = 0
            self._update_title()

    def _focus_out(self, event=None) -> None:
        self.focused = False

    # ------------------------------------------------------------------ input
    def input_text(self) -> str:
        return self.input.get("1.0", "end-1c")

    def _on_return(self, event=None) -> str:
        self.send()
        return "break"

    def _on_shift_return(self, event=None) -> str:
        self.input.insert("insert", "\n")
        self.input.see("insert")
        return "break"

    def _on_modified(self, event=None) -> None:
        self.input.edit_modified(False)
        self._update_counter()

    def message_size(self, text: str) -> int:
        return int(self.client.message_size(text))

    def _update_counter(self) -> None:
        """Characters left, of the kind last typed (the limit itself is in bytes, as on the
        wire); past the limit, how many characters to cut."""
        text = self.input_text().strip("\n")
        size = self.message_size(text)
        over = size > self.limit
        if over:
            count = chars_over(text, size - self.limit)
            label = ngettext("{count:,} character too many", "{count:,} characters too many", count)
        else:
            count = chars_left(text, self.limit - size)
            label = ngettext("{count:,} character left", "{count:,} characters left", count)
        self.counter.configure(text=label.format(count=count), style="Over.Small.TLabel" if over else "Small.TLabel")
        self.over_limit = over

    def send(self) -> int | None:
        """Send what is typed; returns the msg_id, or None when refused (reason shown)."""
        if self.room_closed or self.destroyed:
            return None
        text = self.input_text().strip("\n")
        if not text.strip():
            return None
        size = self.message_size(text)
        if size > self.limit:
            count = chars_over(text, size - self.limit)
            self._show_hint(ngettext("Not sent: the message is {count:,} character too long; shorten it or split it in two.",
                                     "Not sent: the message is {count:,} characters too long; shorten it or split it in two.",
                                     count).format(count=count), error=True)
            return None
        try:
            msg_id = self.client.send(text)
        except MessageTooLong as exc:
            self._show_hint(_("Not sent: {reason}").format(reason=exc), error=True)
            return None
        except (NotConnected, ClientError, OSError) as exc:
            self._show_hint(_("Not sent: {reason}").format(reason=exc), error=True)
            return None
        self.input.delete("1.0", "end")
        self.input.edit_reset()
        self._show_hint()
        self._update_counter()
        segments, lines = self._own_segments(msg_id, text, time.time())
        self._write([(segments, lines)], force_scroll=True)
        return msg_id

    # ------------------------------------------------------------------ scrollback
    @staticmethod
    def _entry_segments(stamp: float, sender: str, text: str, base: tuple, name_tags: tuple,
                        status: list | None = None) -> tuple[list, int]:
        """time  sender  text [status]; later lines of the text indented under the first."""
        sender, text = with_break_opportunities(sender), with_break_opportunities(text)
        first, *rest = text.split("\n")
        segs = [f"{_clock(stamp)}  ", base + ("time",), sender, base + name_tags, "  " + first, base]
        for line in rest:
            segs += ["\n" + line, base + ("cont",)]
        segs += (status or []) + ["\n", base]
        return segs, len(rest) + 1

    def _own_segments(self, msg_id: int, text: str, stamp: float) -> tuple[list, int]:
        self._serial += 1
        tag = f"st{self._serial}"
        self._status_tags[msg_id] = tag
        base = ("entry", "own")
        status = ["  " + _("sending…"), base + ("status", tag)]
        return self._entry_segments(stamp, self.username, text, base, ("sender", "ownsender"), status)

    def _message_segments(self, msg: ChatMessage) -> tuple[list, int]:
        extra = ("history",) if msg.history else ()
        if msg.sender == self.username:
            base, name_tags = ("entry", "own") + extra, ("sender", "ownsender")
        else:
            colour = theme.SENDER_COLOURS.index(theme.sender_colour(msg.sender))
            base, name_tags = ("entry",) + extra, ("sender", f"c{colour}")
        return self._entry_segments(msg.time, msg.sender, msg.text, base, name_tags)

    @staticmethod
    def _line_segments(text: str, tags: tuple) -> tuple[list, int]:
        return [with_break_opportunities(text) + "\n", tags], text.count("\n") + 1

    def _history_separator(self) -> tuple[list, int]:
        self._history_shown = True
        return self._line_segments(_("— earlier messages, before you joined —"), ("separator",))

    def _write(self, entries: list[tuple[list, int]], force_scroll: bool = False) -> None:
        """Append entries (segments, line count) in one insert, trim, and scroll if wanted."""
        if not entries:
            return
        stick = force_scroll or self.following
        flat: list = []
        for segments, lines in entries:
            flat.extend(segments)
            self._entry_lines.append(lines)
            self._line_total += lines
        line, column = (int(part) for part in self.text.index("end-1c").split("."))
        breaks = spaces_for_breaks(flat, line, column)
        self.text.configure(state="normal")
        self.text.insert("end-1c", *flat)
        if breaks:
            self.text.tag_add(BREAK_TAG, *breaks)
        self._trim()
        self.text.configure(state="disabled")
        if stick:
            self.scroll_to_end()
        else:
            self.more_button.place(relx=1.0, rely=1.0, x=-24, y=-10, anchor="se")

    def show_line(self, text: str, tags: tuple) -> None:
        """One line of its own in the scrollback (a notice, an error)."""
        self._write([self._line_segments(text, tags)])

    def append_widget(self, widget: tk.Widget, history: bool = False) -> None:
        """Put a widget (a shared file's line) at the end of the scrollback, on a line of its own."""
        if history and not self._history_shown:
            self._write([self._history_separator()])
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
            self.win.update_idletasks()
            self.scroll_to_end()

    def _trim(self) -> None:
        drop = 0
        while self._line_total > SCROLLBACK_LINES and self._entry_lines:
            lines = self._entry_lines.popleft()
            self._line_total -= lines
            drop += lines
        if drop:
            self.text.delete("1.0", f"{drop + 1}.0")

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

    def _mark_sent(self, msg_id: int) -> None:
        self._set_status(msg_id, "  ✓", ("entry", "own", "status"), keep=False)

    def _mark_failed(self, event: MessageFailed) -> None:
        reason = event.reason or _("no answer from the server")
        tag = self._set_status(event.msg_id, "  " + _("✗ not delivered ({reason})").format(reason=reason),
                               ("entry", "own", "failed"), keep=True)
        if tag is None:
            return
        self._failed[tag] = event.msg_id
        start = self.text.tag_ranges(tag)[-1]
        self.text.configure(state="normal")
        self.text.insert(start, " ", ("entry", "own", tag), _("Retry"), ("entry", "own", "retry", tag))
        self.text.configure(state="disabled")

    def status_text(self, msg_id: int) -> str | None:
        """What the scrollback shows as the status of an own message still tracked (for tests)."""
        tag = self._status_tags.get(msg_id)
        if tag is None:
            return None
        ranges = self.text.tag_ranges(tag)
        return self.plain_text(str(ranges[0]), str(ranges[-1])).strip() if ranges else None

    def _on_retry_click(self, event) -> str:
        index = self.text.index(f"@{event.x},{event.y}")
        for tag in self.text.tag_names(index):
            if tag in self._failed:
                self.retry(self._failed[tag])
                break
        return "break"

    def retry(self, msg_id: int) -> int | None:
        """Send a failed message again; its line goes back to 'sending…'."""
        tag = self._status_tags.get(msg_id)
        if tag is None or self.room_closed:
            return None
        try:
            new_id = self.client.retry(msg_id)
        except (ClientError, OSError) as exc:
            self._show_hint(_("Could not retry: {reason}").format(reason=exc), error=True)
            return None
        self._failed.pop(tag, None)
        self._set_status(msg_id, "  " + _("sending…"), ("entry", "own", "status"), keep=True)
        self._status_tags[new_id] = self._status_tags.pop(msg_id)
        return new_id

    def retry_failed(self) -> None:
        for msg_id in list(self._failed.values()):
            self.retry(msg_id)

    # ------------------------------------------------------------------ members
    def _set_members(self, members: tuple[str, ...], host: str | None, plain: frozenset[str] = frozenset()) -> None:
        """`plain`: members whose client does not encrypt, marked in words and an amber colour."""
        ordered = sorted(members, key=lambda name: (name != host, name.casefold()))
        self.members = tuple(ordered)
        self.host_name = host
        self.members_list.delete(0, "end")
        for index, name in enumerate(ordered):
            label = name
            if name == host:
                label = "★ " + _("{name} (host)").format(name=name)
            if name == self.username:
                label = _("{name} (you)").format(name=label)
            if name in plain:
                label = _("{name} (not encrypted)").format(name=label)  # words: Tk shows 🔓 as a box
            self.members_list.insert("end", label)
            if name in plain:
                self.members_list.itemconfigure(index, foreground=theme.WARN_FG)
            elif name == host:
                self.members_list.itemconfigure(index, foreground=theme.ACCENT)
        self.members_label.configure(text=_("People ({count})").format(count=len(ordered)))

    def member_labels(self) -> list[str]:
        return list(self.members_list.get(0, "end"))

    # ------------------------------------------------------------------ events
    def _poll(self) -> None:
        self._poll_id = None
        if self.destroyed:
            return
        self.ticks += 1
        batch: list[object] = []
        try:
            while len(batch) < BATCH:
                batch.append(self.client.events.get_nowait())
        except queue.Empty:
            pass
        try:
            if batch:
                self.handle_events(batch)
            self.files.drain()
        finally:
            if not self.destroyed:
                self._poll_id = self.win.after(1 if len(batch) == BATCH else POLL_MS, self._poll)

    def handle_events(self, events: list) -> None:
        pending: list[tuple[list, int]] = []
        new_messages = 0

        def flush() -> None:
            self._write(pending)
            pending.clear()

        for event in events:
            if isinstance(event, ChatMessage):
                if event.history and not self._history_shown:
                    pending.append(self._history_separator())
                pending.append(self._message_segments(event))
                if not event.history:
                    new_messages += 1
            elif isinstance(event, Notice):
                if event.history and not self._history_shown:
                    pending.append(self._history_separator())
                text = notice_text(event)
                tags = ("notice", "history") if event.history else ("notice",)
                pending.append(self._line_segments(f"{text}  ·  {_clock(event.time)}", tags))
            elif isinstance(event, FileShared):
                flush()
                self.files.show_file(event)
                if not event.history:
                    new_messages += 1
            elif isinstance(event, MembersChanged):
                self._set_members(tuple(event.members), event.host, event.plain)
            elif isinstance(event, MessageSent):
                flush()
                self._mark_sent(event.msg_id)
            elif isinstance(event, MessageFailed):
                flush()
                self._mark_failed(event)
            elif isinstance(event, RoomClosed):
                pending.append(self._line_segments(event.reason or _("The host closed the room."), ("error",)))
                flush()
                self._room_closed(event.reason)
            elif isinstance(event, ConnectionLost):
                self.connection_lost = True
                if not self.room_closed:
                    self._show_banner(event.text or event_words("connection_lost"))
            elif isinstance(event, ConnectionRestored):
                self.connection_lost = False
                if not self.room_closed:
                    self.banner.grid_remove()
                pending.append(self._line_segments(event.text or event_words("connection_restored"), ("notice",)))
            elif isinstance(event, Resumed):
                pending.append(self._line_segments(resumed_words(event.missed), ("notice",)))
            elif isinstance(event, ErrorEvent):
                pending.append(self._line_segments(event.text, ("error",)))
            else:
                log.debug("ignoring unknown event %r", event)
        flush()
        if new_messages and not self.focused:
            self.unread += new_messages
            self._update_title()

    def _show_banner(self, text: str, closed: bool = False) -> None:
        self.banner.configure(style="Closed.TFrame" if closed else "Banner.TFrame")
        self.banner_label.configure(text=text, style="Closed.TLabel" if closed else "Banner.TLabel")
        if closed:
            self.back_button.grid(row=0, column=1, sticky="e")
        else:
            self.back_button.grid_remove()
        self.banner.grid()

    def _room_closed(self, reason: str) -> None:
        if self.room_closed:
            return
        self.room_closed = True
        self._show_banner(reason or _("The host closed the room."), closed=True)
        self.input.configure(state="disabled", background="#efeeea")
        self.send_button.state(["disabled"])
        self.leave_button.configure(text=_("Close window"))
        self._show_hint(_("The room is closed; you can no longer send messages."))
        self.files.room_closed()
        self.back_button.focus_set()
        client = self.client
        fire_and_forget(client.leave, name="ocm-gui-leave")

    def input_enabled(self) -> bool:
        return str(self.input.cget("state")) == "normal" and not self.send_button.instate(["disabled"])

    def transcript(self) -> str:
        """The scrollback as a person reads it (without the break marks)."""
        return self.plain_text("1.0", "end-1c")

    # ------------------------------------------------------------------ actions
    def copy_address(self) -> None:
        if not self.share_address:
            return
        self.win.clipboard_clear()
        self.win.clipboard_append(self.share_address)
        self.copy_button.configure(text=_("Copied ✓"))
        self._later(1500, lambda: self.copy_button.configure(text=_("Copy")))

    def back_to_start(self) -> None:
        if self._on_back is not None:
            self._on_back(self)  # first, so the app knows a window stays open
        self.leave()

    def leave(self) -> None:
        """Leave the room (or, as host, close it and then stop the bundled server)."""
        if self.destroyed:
            return
        self.destroyed = True
        if self.settings is not None:
            try:
                size = f"{self.win.winfo_width()}x{self.win.winfo_height()}"
                if self.win.winfo_width() > 1 and size != self.settings.chat_size:
                    self.settings.update(chat_size=size)
            except tk.TclError:
                pass
        if self._poll_id is not None:
            self.win.after_cancel(self._poll_id)
            self._poll_id = None
        for after_id in list(self._later_ids):
            self.win.after_cancel(after_id)
        self._later_ids.clear()
        self.files.close()
        client, server = self.client, self.server

        def shut_down() -> None:
            try:
                client.leave()
            finally:
                if server is not None:
                    server.stop()

        fire_and_forget(shut_down, name="ocm-gui-close-room" if server else "ocm-gui-leave")
        self.win.destroy()
        if self._on_close is not None:
            self._on_close(self)

