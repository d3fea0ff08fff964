"""The chat window's input: the text box, the emoji button, Send and Leave, a hint line and
the counter.

What it decides without a screen (the counter's words, the input's height) is in
`composer_rules.py`, where the mutation tests reach it.
"""

from __future__ import annotations

import sys
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from ocm_core.i18n import _
from ocm_gui import theme
from ocm_gui.chat.composer_rules import MAX_LINES, MAX_SHARE, MIN_LINES, counter_state, default_hint, input_height
from ocm_gui.chat.emojipicker import EmojiPicker, RecentStore, open_emoji_picker
from ocm_gui.text.emoji import configure_emoji_tag, for_tk, retag_emoji
from ocm_gui.text.tooltip import Tooltip


def unbind_one(widget: tk.Misc, sequence: str, funcid: str) -> None:
    """Remove one of several bindings of `sequence` (tkinter's unbind removes them all)."""
    try:
        script = str(widget.tk.call("bind", str(widget), sequence))
        kept = "\n".join(line for line in script.splitlines() if funcid not in line)
        widget.tk.call("bind", str(widget), sequence, kept)
        widget.deletecommand(funcid)
    except tk.TclError:
        pass  # the window went first


class Composer:
    """Input, buttons and the lines under them. `measure(text)` gives a message's size in bytes;
    `settings` keeps the emoji picker's recent choices (None: not kept).

    Under the input: a line for why a message was not sent (red, wrapped, shown only when
    there is something to say) and the row with the key tips and the counter.
    """

    def __init__(
        self,
        master: tk.Misc,
        *,
        limit: int,
        measure: Callable[[str], int],
        on_send: Callable[[], object],
        on_leave: Callable[[], object],
        leave_text: str,
        settings: RecentStore | None = None,
    ):
        self.limit = limit
        self.settings = settings
        self.emoji_picker: EmojiPicker | None = None
        self._measure = measure
        self.over_limit = False
        self._hint_is_error = False
        frame = self.frame = ttk.Frame(master, padding=theme.pad(master, 12, 8, 12, 10))
        frame.columnconfigure(0, weight=1)
        frame.rowconfigure(0, weight=1)  # Send grows with the input; Leave stays at its foot
        self.input = tk.Text(
            frame,
            height=MIN_LINES,
            wrap="word",
            font="OCMChat",
            undo=True,
            background=theme.PANEL,
            foreground=theme.TEXT,
            relief="flat",
            borderwidth=0,
            highlightthickness=1,
            highlightbackground=theme.BORDER,
            highlightcolor=theme.ACCENT,
            padx=theme.scaled(master, 6),
            pady=theme.scaled(master, 4),
            width=40,
        )
        self.input.grid(row=0, column=0, rowspan=2, sticky="nsew")
        configure_emoji_tag(self.input)
        gap = theme.scaled(master, 8)
        # A face as large as a heading: at the text's size it is a speck beside Send.
        ttk.Style(master).configure("Emoji.TButton", font="OCMBig", padding=theme.pad(master, 6, 2), width=-2)
        self.emoji_button = ttk.Button(frame, text="☺", style="Emoji.TButton", command=self.toggle_emoji, takefocus=0)
        self.emoji_button.grid(row=0, column=1, sticky="nsew", padx=(theme.scaled(master, 4), 0))
        key = ("Cmd" if theme.platform_key() == "darwin" else "Ctrl") + "+E"
        Tooltip(self.emoji_button, _("Emoji ({key})").format(key=key))
        self.send_button = ttk.Button(frame, text=_("Send"), style="Accent.TButton", command=on_send)
        self.send_button.grid(row=0, column=2, sticky="nsew", padx=(gap, 0))
        self.leave_button = ttk.Button(frame, text=leave_text, command=on_leave)
        self.leave_button.grid(row=1, column=2, sticky="ew", padx=(gap, 0), pady=(theme.scaled(master, 4), 0))
        self.hint = ttk.Label(frame, style="Over.Small.TLabel", text="", justify="left")
        self.hint.grid(row=2, column=0, columnspan=3, sticky="w", pady=(theme.scaled(master, 4), 0))
        self.hint.grid_remove()
        foot = self.foot = ttk.Frame(frame)
        foot.grid(row=3, column=0, columnspan=3, sticky="ew", pady=(theme.scaled(master, 4), 0))
        foot.columnconfigure(0, weight=1)
        self.tips = ttk.Label(foot, style="Small.TLabel", text=default_hint())
        self.tips.grid(row=0, column=0, sticky="w")
        self.counter = ttk.Label(foot, style="Small.TLabel")
        self.counter.grid(row=0, column=1, sticky="e")
        frame.bind("<Configure>", self._wrap_hint, add="+")

        self.input.bind("<Return>", self._on_return(on_send))
        self.input.bind("<KP_Enter>", self._on_return(on_send))
        self.input.bind("<Shift-Return>", self._on_shift_return)
        self.input.bind("<Shift-KP_Enter>", self._on_shift_return)
        self.input.bind("<<Modified>>", self._on_modified)
        self.input.bind("<Configure>", lambda e: self.fit_height(), add="+")
        top = self.input.winfo_toplevel()
        bound = top.bind("<Configure>", lambda e: self.fit_height() if e.widget is top else None, add="+")
        # The window outlives a room shown in the main window: the binding goes with the input.
        self.input.bind("<Destroy>", lambda e: unbind_one(top, "<Configure>", bound), add="+")
        # Tk's Text moves to the line's start on Control-a; people expect "select all".
        self.input.bind(theme.shortcut("a"), self.select_all)
        self.input.bind(theme.shortcut("A"), self.select_all)
        # Tk's Text moves to the line's end on Control-e; here it opens the emoji picker.
        self.input.bind(theme.shortcut("e"), self.toggle_emoji)
        self.input.bind(theme.shortcut("E"), self.toggle_emoji)
        self.menu = self._build_menu()
        for button in theme.menu_buttons(sys.platform):
            self.input.bind(button, self.open_menu)
        self.update_counter()

    # ------------------------------------------------------------------ the menu
    def _build_menu(self) -> tk.Menu:
        menu = tk.Menu(
            self.input,
            tearoff=0,
            background=theme.PANEL,
            foreground=theme.TEXT,
            activebackground=theme.OWN_BG,
            activeforeground=theme.TEXT,
            disabledforeground=theme.MUTED,
            activeborderwidth=0,
            relief="solid",
            borderwidth=1,
        )
        self._menu_index: dict[str, int] = {}

        def add(label: str, command: Callable[[], object]) -> None:
            menu.add_command(label=label, command=command)
            self._menu_index[label] = int(menu.index("end") or 0)

        add(_("Cut"), lambda: self.input.event_generate("<<Cut>>"))
        add(_("Copy"), lambda: self.input.event_generate("<<Copy>>"))
        add(_("Paste"), lambda: self.input.event_generate("<<Paste>>"))
        menu.add_separator()
        add(_("Select all"), self.select_all)
        return menu

    def menu_states(self) -> dict[str, str]:
        """Which entries can act now: Cut and Copy need a selection, Paste something on the
        clipboard, all of them an input that takes text."""
        writable = str(self.input.cget("state")) == "normal"
        selected = bool(self.input.tag_ranges("sel"))
        can = {
            _("Cut"): writable and selected,
            _("Copy"): selected,
            _("Paste"): writable and self._clipboard_has_something(),
            _("Select all"): bool(self.text()),
        }
        return {label: "normal" if ok else "disabled" for label, ok in can.items()}

    def _clipboard_has_something(self) -> bool:
        """Text, or (X11) a picture or files, which a paste shares (ocm_gui/chat/paste.py)."""
        try:
            return bool(self.input.clipboard_get())
        except tk.TclError:
            pass
        try:
            targets = str(self.input.tk.call("clipboard", "get", "-type", "TARGETS"))
        except tk.TclError:
            return False
        return "image/" in targets or "text/uri-list" in targets

    def open_menu(self, event=None) -> str:
        for label, state in self.menu_states().items():
            self.menu.entryconfigure(self._menu_index[label], state=state)
        if event is not None:
            self.input.focus_set()
            try:
                self.menu.tk_popup(event.x_root, event.y_root)
            finally:
                self.menu.grab_release()
        return "break"

    def select_all(self, event=None) -> str:
        self.input.tag_add("sel", "1.0", "end-1c")
        self.input.mark_set("insert", "end-1c")
        self.input.see("insert")
        return "break"

    # ------------------------------------------------------------------ emoji
    def toggle_emoji(self, event=None) -> str:
        """Open the emoji picker by the button; close it if it is open."""
        if self.emoji_picker is not None:
            self.emoji_picker.close()
        elif self.enabled():
            self.emoji_picker = open_emoji_picker(
                self.input, self.emoji_button, self.settings, self.insert_emoji, on_close=self._emoji_closed
            )
        return "break"

    def _emoji_closed(self) -> None:
        picker, self.emoji_picker = self.emoji_picker, None
        if picker is not None and not picker.left:
            self.input.focus_set()  # closed here (Escape, a pick): back to typing; not after a click elsewhere

    def insert_emoji(self, emoji: str) -> None:
        """Put `emoji` at the input's cursor, in place of a selection around it, as one undo step."""
        if str(self.input.cget("state")) != "normal":
            return
        self.input.edit_separator()
        selected = self.input.tag_ranges("sel")
        if (
            selected
            and self.input.compare(selected[0], "<=", "insert")
            and self.input.compare("insert", "<=", selected[1])
        ):
            self.input.delete(selected[0], selected[1])
        self.input.insert("insert", for_tk(emoji))
        self.input.edit_separator()
        retag_emoji(self.input)
        self.input.see("insert")
        self.input.focus_set()

    # ------------------------------------------------------------------ typing
    @staticmethod
    def _on_return(on_send: Callable[[], object]) -> Callable[[object], str]:
        def handler(event=None) -> str:
            on_send()
            return "break"

        return handler

    def _on_shift_return(self, event=None) -> str:
        self.input.insert("insert", "\n")
        self.input.see("insert")
        return "break"

    def _on_modified(self, event=None) -> None:
        self.input.edit_modified(False)
        retag_emoji(self.input)
        was_over = self.over_limit
        self.update_counter()
        # A "not sent" line is about the text as it was: gone once it is cleared or fits.
        if self._hint_is_error and (not self.message() or (was_over and not self.over_limit)):
            self.show_hint()
        self.fit_height()

    def display_lines(self) -> int:
        """How many lines the text takes on screen, wrapped lines counted."""
        counted = self.input.count("1.0", "end", "displaylines")
        return int(counted[0]) if counted else 1

    def fit_height(self) -> None:
        """Grow with the text from MIN_LINES up to MAX_LINES, then scroll; shrink back when cleared."""
        window_height = self.input.winfo_toplevel().winfo_height()
        line = theme.named_font(self.input, str(self.input.cget("font"))).metrics("linespace")
        fits = int(window_height * MAX_SHARE) // max(1, line) if window_height > 1 else MAX_LINES
        height = input_height(self.display_lines(), fits)
        if height != int(self.input.cget("height")):
            self.input.configure(height=height)
            self.input.see("insert")

    def _wrap_hint(self, event) -> None:
        self.hint.configure(wraplength=max(theme.scaled(self.frame, 200), event.width - theme.scaled(self.frame, 24)))

    def text(self) -> str:
        return self.input.get("1.0", "end-1c")

    def message(self) -> str:
        """What Send would send: the text without leading and trailing empty lines."""
        return self.text().strip("\n")

    def clear(self) -> None:
        self.input.delete("1.0", "end")
        self.input.edit_reset()
        self.show_hint()
        self.update_counter()
        self.fit_height()

    def show_hint(self, text: str | None = None, error: bool = False) -> None:
        """A line of its own under the input (`error`: red, cleared by editing); None hides it."""
        self._hint_is_error = bool(text) and error
        self.hint.configure(text=text or "", style="Over.Small.TLabel" if error else "Small.TLabel")
        if text:
            self.hint.grid()
        else:
            self.hint.grid_remove()

    def update_counter(self) -> None:
        text = self.message()
        label, self.over_limit = counter_state(text, self._measure(text), self.limit)
        self.counter.configure(text=label, style="Over.Small.TLabel" if self.over_limit else "Small.TLabel")

    def disable(self, hint: str, leave_text: str) -> None:
        """The room is gone: no more typing or sending; Leave becomes Close window."""
        self.input.configure(state="disabled", background=theme.DISABLED_BG)
        self.send_button.state(["disabled"])
        self.emoji_button.state(["disabled"])
        if self.emoji_picker is not None:
            self.emoji_picker.close()
        self.leave_button.configure(text=leave_text)
        self.foot.grid_remove()  # key tips and "N characters left" mean nothing now
        self.show_hint(hint)

    def enable(self, leave_text: str) -> None:
        """The room is back (joined again): typing and sending as before."""
        self.input.configure(state="normal", background=theme.PANEL)
        self.send_button.state(["!disabled"])
        self.emoji_button.state(["!disabled"])
        self.leave_button.configure(text=leave_text)
        self.show_hint()
        self.foot.grid()  # the tips and the counter, hidden while the room was gone
        self.update_counter()

    def enabled(self) -> bool:
        return str(self.input.cget("state")) == "normal" and not self.send_button.instate(["disabled"])
