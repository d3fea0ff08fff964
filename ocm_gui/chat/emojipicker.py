"""The emoji picker: a small window by a button (the composer's, a message's), with a search
field, the recent choices first and then Unicode's groups in a grid. Typing filters by English
and Japanese names, the arrows move, Enter or a click picks, Escape closes; so does a click
back in the window it came from.

What is offered, how a search ranks and what is remembered are decided in
ocm_core/sansio/emojinames.py; the grid's rows and the arrows' moves in `grid_rows` and
`step` below, without a screen; the window only draws them.

Tk on X11 and Windows draws each character on its own (ocm_gui/text/emoji.py): a flag, a
keycap or a joined sequence would show as its parts, so there only emoji of one character
are offered. macOS' Core Text draws them whole, and gets them all.
"""

from __future__ import annotations

import bisect
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from tkinter import ttk
from typing import Protocol

from ocm_core.i18n import N_, _, current_language
from ocm_core.sansio.emojinames import Group, describe, offered, one_character, recent_first, remember, search
from ocm_gui import theme
from ocm_gui.chat.wheel import button_lines, wheel_lines
from ocm_gui.text.emoji import emoji_family, for_tk
from ocm_gui.text.tooltip import ElidedLabel, Tooltip

COLUMNS = 9
VISIBLE_ROWS = 7
EMOJI_POINTS = 16  # in the grid; the chat text is 11
PICKER_FONT = "OCMEmojiPicker"

GROUP_LABELS = {
    Group.SMILEYS: N_("Smileys & emotion"),
    Group.PEOPLE: N_("People & body"),
    Group.NATURE: N_("Animals & nature"),
    Group.FOOD: N_("Food & drink"),
    Group.TRAVEL: N_("Travel & places"),
    Group.ACTIVITIES: N_("Activities"),
    Group.OBJECTS: N_("Objects"),
    Group.SYMBOLS: N_("Symbols"),
    Group.FLAGS: N_("Flags"),
}
RECENT = "recent"
# What each section's button in the row above the grid shows.
SECTION_ICONS: dict[Group | str, str] = {
    RECENT: "🕘",
    Group.SMILEYS: "😀",
    Group.PEOPLE: "👋",
    Group.NATURE: "🐶",
    Group.FOOD: "🍔",
    Group.TRAVEL: "🚗",
    Group.ACTIVITIES: "⚽",
    Group.OBJECTS: "💡",
    Group.SYMBOLS: "🔣",
    Group.FLAGS: "🏁",
}


class RecentStore(Protocol):
    """Where the recent choices are kept: the app's Settings."""

    recent_emoji: list[str]

    def update(self, **changes) -> None: ...


# ---------------------------------------------------------------------- the grid, without Tk


@dataclass(frozen=True)
class Section:
    key: Group | str  # a Group, RECENT, or "" for search results
    emoji: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    section: int  # its index in the sections
    first: int  # the index (over all sections' emoji, in order) of its first emoji
    count: int
    heading: bool  # the first row of its section: a heading is drawn above it


def grid_rows(sections: Sequence[Section], columns: int) -> list[Row]:
    """The grid's rows: each section's emoji `columns` to a row, a section starting a row."""
    rows: list[Row] = []
    first = 0
    for number, section in enumerate(sections):
        for start in range(0, len(section.emoji), columns):
            rows.append(Row(number, first + start, min(columns, len(section.emoji) - start), start == 0))
        first += len(section.emoji)
    return rows


def step(rows: Sequence[Row], index: int, key: str, page: int = VISIBLE_ROWS) -> int:
    """Where `key` (Left, Right, Up, Down, Prior, Next, Home, End) moves the chosen emoji
    from `index`: across sections as one list, up and down to the same column (or the
    last of a shorter row), a page at a time; never off the grid."""
    if not rows:
        return -1
    last = rows[-1].first + rows[-1].count - 1
    if key in ("Left", "Right"):
        return max(0, min(last, index + (1 if key == "Right" else -1)))
    if key in ("Home", "End"):
        return 0 if key == "Home" else last
    row = next((number for number, r in enumerate(rows) if r.first <= index < r.first + r.count), 0)
    column = index - rows[row].first
    moves = {"Up": -1, "Down": 1, "Prior": -page, "Next": page}
    target = rows[max(0, min(len(rows) - 1, row + moves.get(key, 0)))]
    return target.first + min(column, target.count - 1)


# ---------------------------------------------------------------------- the window


def picker_font(widget: tk.Misc) -> str:
    """The named font the grid draws emoji in: the emoji font the chat view uses (chosen, and
    guarded against colour glyphs an old libXft cannot draw, in ocm_gui/text/emoji.py)."""
    root = widget._root()  # type: ignore[attr-defined]
    if PICKER_FONT not in tkfont.names(root):
        family = emoji_family(widget) or theme.named_font(widget, "TkDefaultFont").actual("family")
        font = tkfont.Font(root=root, name=PICKER_FONT, family=family, size=EMOJI_POINTS)
        root.__dict__.setdefault("_ocm_fonts", []).append(font)  # a collected Font deletes its named font
    return PICKER_FONT


def shows_sequences(widget: tk.Misc) -> bool:
    """Whether this Tk draws a flag or a joined emoji whole (Core Text shapes; X11 and GDI do not)."""
    return str(widget.tk.call("tk", "windowingsystem")) == "aqua"


class EmojiPicker:
    """A window of emoji by `anchor`; `on_pick(emoji)` after a pick (the window closed by
    then), `on_close()` whenever it closes. `settings` keeps the recent choices (None: none kept)."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        anchor: tk.Widget,
        settings: RecentStore | None,
        on_pick: Callable[[str], object],
        on_close: Callable[[], object] | None = None,
    ):
        self.anchor = anchor
        self.settings = settings
        self._on_pick = on_pick
        self._on_close = on_close
        self.language = current_language()
        self.closed = False
        self.left = False  # closed because the focus went to another of the app's windows
        self.sections: list[Section] = []
        self.rows: list[Row] = []
        self.emoji: list[str] = []  # every emoji shown, in order: what an index counts
        self.chosen = -1
        self._whole = shows_sequences(master)
        win = self.win = tk.Toplevel(master)
        win.withdraw()
        win.title(_("Emoji"))
        win.transient(master.winfo_toplevel())
        win.resizable(False, False)
        font = self.font = picker_font(win)
        measure = tkfont.nametofont(font, root=win)
        self.cell = max(measure.metrics("linespace"), measure.measure("😀")) + theme.scaled(win, 10)
        self.heading_height = theme.named_font(win, "OCMSmall").metrics("linespace") + theme.scaled(win, 8)
        self.margin = theme.scaled(win, 6)

        frame = ttk.Frame(win, padding=theme.pad(win, 10, 10, 10, 8))
        frame.pack(fill="both", expand=True)
        frame.columnconfigure(0, weight=1)
        search_row = ttk.Frame(frame)
        search_row.grid(row=0, column=0, columnspan=2, sticky="ew")
        search_row.columnconfigure(1, weight=1)
        ttk.Label(search_row, text=_("Search:")).grid(row=0, column=0, padx=(0, theme.scaled(win, 6)))
        self.query = tk.StringVar(win)
        self.entry = ttk.Entry(search_row, textvariable=self.query)
        self.entry.grid(row=0, column=1, sticky="ew")
        self.tabs = ttk.Frame(frame)
        self.tabs.grid(row=1, column=0, columnspan=2, sticky="w", pady=(theme.scaled(win, 6), theme.scaled(win, 4)))
        self.tab_labels: dict[Group | str, tk.Label] = {}
        width = COLUMNS * self.cell + 2 * self.margin
        self.canvas = tk.Canvas(
            frame,
            width=width,
            height=VISIBLE_ROWS * self.cell + self.heading_height,
            background=theme.PANEL,
            highlightthickness=1,
            highlightbackground=theme.BORDER,
            highlightcolor=theme.BORDER,
            borderwidth=0,
            takefocus=0,
            yscrollincrement=max(1, self.cell // 2),
        )
        self.canvas.grid(row=2, column=0, sticky="nsew")
        self.scrollbar = ttk.Scrollbar(frame, orient="vertical", command=self.canvas.yview)
        self.scrollbar.grid(row=2, column=1, sticky="ns")
        self.canvas.configure(yscrollcommand=self.scrollbar.set)
        foot = ttk.Frame(frame)
        foot.grid(row=3, column=0, columnspan=2, sticky="ew", pady=(theme.scaled(win, 6), 0))
        foot.columnconfigure(1, weight=1)
        self.preview = ttk.Label(foot, font=font, width=2, anchor="center")
        self.preview.grid(row=0, column=0, sticky="w")
        # As wide as the grid, never wider: a long name ends in "…" rather than grow the window.
        self.name_label = ttk.Label(foot, text="", style="Muted.TLabel", width=1)
        self.name_label.grid(row=0, column=1, sticky="ew", padx=(theme.scaled(win, 6), 0))
        self.name = ElidedLabel(self.name_label, "", "TkDefaultFont")
        self.name_label.bind("<Configure>", lambda e: self.name.fit(e.width), add="+")
        self._build_tabs()

        self.query.trace_add("write", lambda *_a: self.refresh())
        for key in ("Left", "Right", "Up", "Down", "Prior", "Next"):
            self.entry.bind(f"<{key}>", self._move_key(key))
        for key in ("<Return>", "<KP_Enter>"):
            self.entry.bind(key, lambda e: self._break(self.pick))
        win.bind("<Escape>", lambda e: self._break(self.close))
        win.bind(theme.shortcut("e"), lambda e: self._break(self.close))  # the key that opened it
        win.protocol("WM_DELETE_WINDOW", self.close)
        win.bind("<FocusOut>", lambda e: self.win.after_idle(self._close_if_left), add="+")
        self.canvas.bind("<Motion>", self._hover)
        self.canvas.bind("<ButtonRelease-1>", self._click)
        system = str(win.tk.call("tk", "windowingsystem"))
        self.canvas.bind("<MouseWheel>", lambda e: self._scroll(wheel_lines(e.delta, system)))
        self.canvas.bind("<Button-4>", lambda e: self._scroll(button_lines(e.num)))
        self.canvas.bind("<Button-5>", lambda e: self._scroll(button_lines(e.num)))
        self.refresh()
        self._place()
        win.deiconify()
        self.entry.focus_force()

    # ------------------------------------------------------------------ what is shown
    def _offerable(self, emoji: Sequence[str]) -> list[str]:
        return [text for text in emoji if self._whole or one_character(text)]

    def recent(self) -> list[str]:
        """The recent choices this picker can show, most recent first."""
        kept = self.settings.recent_emoji if self.settings is not None else []
        return [text for text in self._offerable(kept) if describe(text) is not None]

    def _all_sections(self) -> list[Section]:
        sections = []
        recent = self.recent()
        if recent:
            sections.append(Section(RECENT, tuple(recent)))
        by_group: dict[Group, list[str]] = {}
        for item in offered():
            by_group.setdefault(item.group, []).append(item.text)
        for group, emoji in by_group.items():
            shown = self._offerable(emoji)
            if shown:
                sections.append(Section(group, tuple(shown)))
        return sections

    def refresh(self) -> None:
        """Show what the query asks for: every section when it is blank, else the matches
        (recent choices first)."""
        query = self.query.get()
        if query.strip():
            found = self._offerable(recent_first(self.recent(), search(query, self.language)))
            self.sections = [Section("", tuple(found))] if found else []
        else:
            self.sections = self._all_sections()
        self.rows = grid_rows(self.sections, COLUMNS)
        self.emoji = [text for section in self.sections for text in section.emoji]
        self._draw()
        self.choose(0 if self.emoji else -1)
        self.canvas.yview_moveto(0)
        if not query.strip():  # while searching the buttons stay, and clear the search
            for key, label in self.tab_labels.items():
                if any(section.key == key for section in self.sections):
                    label.grid()
                else:
                    label.grid_remove()

    def section_title(self, key: Group | str) -> str:
        if key == RECENT:
            return _("Recent")
        return _(GROUP_LABELS[key]) if isinstance(key, Group) else ""

    def _build_tabs(self) -> None:
        for column, (key, icon) in enumerate(SECTION_ICONS.items()):
            if not (self._whole or one_character(icon)):
                continue
            label = tk.Label(
                self.tabs,
                text=icon,
                font=self.font,
                background=theme.BG,
                foreground=theme.TEXT,
                padx=theme.scaled(self.win, 2),
                pady=0,
                cursor="hand2",
            )
            label.grid(row=0, column=column)
            label.bind("<ButtonRelease-1>", self._show_section_on_click(key))
            Tooltip(label, self.section_title(key))
            self.tab_labels[key] = label

    def _show_section_on_click(self, key: Group | str) -> Callable[[tk.Event], None]:
        return lambda _event: self.show_section(key)

    def _cell_box(self, index: int) -> tuple[int, int, int, int]:
        row = self.rows[self._row_of[index]]
        x = self.margin + (index - row.first) * self.cell
        y = self._row_tops[self._row_of[index]]
        return x, y, x + self.cell, y + self.cell

    def _draw(self) -> None:
        canvas = self.canvas
        canvas.delete("all")
        self._row_tops: list[int] = []  # each row's top, in the canvas
        self._row_of = [number for number, row in enumerate(self.rows) for _column in range(row.count)]
        self._section_tops: dict[Group | str, int] = {}
        y = self.margin // 2
        canvas.create_rectangle(0, 0, 0, 0, fill=theme.OWN_BG, outline=theme.ACCENT, tags=("cursor",))
        for row in self.rows:
            section = self.sections[row.section]
            if row.heading and section.key:
                self._section_tops[section.key] = y
                canvas.create_text(
                    self.margin + theme.scaled(canvas, 2),
                    y + self.heading_height // 2,
                    text=self.section_title(section.key),
                    anchor="w",
                    font="OCMSmall",
                    fill=theme.MUTED,
                )
                y += self.heading_height
            self._row_tops.append(y)
            for column in range(row.count):
                index = row.first + column
                canvas.create_text(
                    self.margin + column * self.cell + self.cell // 2,
                    y + self.cell // 2,
                    text=for_tk(self.emoji[index]),
                    font=self.font,
                    fill=theme.TEXT,
                    tags=("emoji", f"at{index}"),
                )
            y += self.cell
        if not self.rows:
            canvas.create_text(
                int(canvas.cget("width")) // 2,
                int(canvas.cget("height")) // 2,
                text=_("No emoji found"),
                font="OCMChat",
                fill=theme.MUTED,
            )
        canvas.configure(scrollregion=(0, 0, int(canvas.cget("width")), y + self.margin // 2))

    # ------------------------------------------------------------------ choosing
    def choose(self, index: int, scroll: bool = True) -> None:
        """Mark the emoji at `index` (-1: none), name it at the foot, and (`scroll`) bring it into view."""
        self.chosen = index
        if index < 0:
            self.canvas.itemconfigure("cursor", state="hidden")
            self.preview.configure(text="")
            self._show_name("")
            return
        left, top, right, bottom = self._cell_box(index)
        inset = theme.scaled(self.canvas, 1)
        self.canvas.coords("cursor", left + inset, top + inset, right - inset, bottom - inset)
        self.canvas.itemconfigure("cursor", state="normal")
        text = self.emoji[index]
        found = describe(text)
        self.preview.configure(text=for_tk(text))
        self._show_name(found.name(self.language) if found is not None else "")
        if scroll:
            self._see(top, bottom)

    def _show_name(self, name: str) -> None:
        self.name.full = name
        self.name.fit(self.name_label.winfo_width() if self.name_label.winfo_ismapped() else 1 << 16)

    def shown_name(self) -> str:
        """The chosen emoji's whole name at the foot ("" for none), for tests."""
        return self.name.full

    def _see(self, top: int, bottom: int) -> None:
        region = self.canvas.cget("scrollregion").split()
        total = int(float(region[3])) if len(region) == 4 else 0
        shown = self.canvas.winfo_height() if self.canvas.winfo_ismapped() else int(self.canvas.cget("height"))
        if total <= 0:
            return
        first = int(self.canvas.canvasy(0))
        if top < first:
            self.canvas.yview_moveto(max(0, top - self.heading_height) / total)
        elif bottom > first + shown:
            self.canvas.yview_moveto((bottom - shown + self.margin) / total)

    def show_section(self, key: Group | str) -> None:
        """Scroll so that section `key`'s heading is at the top, and choose its first emoji;
        a search is cleared first."""
        if self.query.get():
            self.query.set("")  # every section again (refresh)
        if key not in self._section_tops:
            return
        number = next(n for n, s in enumerate(self.sections) if s.key == key)
        first = next(r.first for r in self.rows if r.section == number)
        self.choose(first)
        region = self.canvas.cget("scrollregion").split()
        self.canvas.yview_moveto(self._section_tops[key] / max(1, int(float(region[3]))))
        self.entry.focus_set()

    def _move_key(self, key: str) -> Callable[[tk.Event], str]:
        def handler(_event: tk.Event) -> str:
            if self.chosen >= 0:
                self.choose(step(self.rows, self.chosen, key))
            return "break"

        return handler

    def _index_at(self, event: tk.Event) -> int | None:
        """The emoji whose cell is under the pointer, or None (a heading, the margin)."""
        x, y = self.canvas.canvasx(event.x), self.canvas.canvasy(event.y)
        number = bisect.bisect_right(self._row_tops, y) - 1
        if number < 0 or y >= self._row_tops[number] + self.cell:
            return None
        column = int((x - self.margin) // self.cell)
        row = self.rows[number]
        return row.first + column if 0 <= column < row.count and x >= self.margin else None

    def _hover(self, event: tk.Event) -> None:
        index = self._index_at(event)
        if index is not None and index != self.chosen:
            self.choose(index, scroll=False)

    def _click(self, event: tk.Event) -> None:
        index = self._index_at(event)
        if index is not None:
            self.chosen = index
            self.pick()

    def _scroll(self, lines: int) -> str:
        self.canvas.yview_scroll(lines, "units")
        return "break"

    def pick(self) -> None:
        """Close with the chosen emoji: remembered first among the recent, then handed on."""
        if self.chosen < 0 or self.closed:
            return
        chosen = self.emoji[self.chosen]
        if self.settings is not None:
            self.settings.update(recent_emoji=remember(list(self.settings.recent_emoji), chosen))
        self.close()
        self._on_pick(chosen)

    # ------------------------------------------------------------------ the window
    def _place(self) -> None:
        """Just above `anchor`, its right edge on the anchor's; below it where there is no room above."""
        win, anchor = self.win, self.anchor
        win.update_idletasks()
        gap = theme.scaled(win, 4)
        title_bar = theme.scaled(win, 32)  # the window manager's, not known before it is drawn
        screen_width, screen_height = win.winfo_screenwidth(), win.winfo_screenheight()
        right = max(0, screen_width - (anchor.winfo_rootx() + anchor.winfo_width()))
        right = min(right, max(0, screen_width - win.winfo_reqwidth()))
        if anchor.winfo_rooty() - gap - win.winfo_reqheight() - title_bar >= 0:
            self._geometry = f"-{right}-{screen_height - anchor.winfo_rooty() + gap}"
            # X11: before the window manager has framed the window, Tk places its bottom edge
            # without the frame, which then reaches over the anchor; asked again once framed.
            self._placings = 3
            win.bind("<Configure>", self._keep_above, add="+")
        else:
            self._geometry = f"-{right}+{anchor.winfo_rooty() + anchor.winfo_height() + gap}"
        win.geometry(self._geometry)

    def _keep_above(self, event: tk.Event) -> None:
        if event.widget is not self.win or self.closed or self._placings <= 0:
            return
        try:
            bottom = self.win.winfo_rooty() + self.win.winfo_height()
            over = bottom > self.anchor.winfo_rooty()
        except tk.TclError:
            return
        if over:
            self._placings -= 1
            self.win.geometry(self._geometry)

    def _close_if_left(self) -> None:
        """After the focus moved: close if it went to another window of the app (a click back
        in the room), but not when the pointer is on the anchor (its click closes) nor when the
        focus left the app (a look at another program)."""
        if self.closed:
            return
        try:
            focus = self.win.focus_get()
            x, y = self.win.winfo_pointerxy()
            under = self.win.winfo_containing(x, y)
        except (KeyError, tk.TclError):  # a menu's focus, or the window going away
            return
        inside = str(focus) == str(self.win) or str(focus).startswith(f"{self.win}.")
        if focus is None or inside or under is self.anchor:
            return
        self.left = True
        self.close()

    @staticmethod
    def _break(action: Callable[[], object]) -> str:
        action()
        return "break"

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.win.destroy()
        except tk.TclError:
            pass
        if self._on_close is not None:
            self._on_close()


def open_emoji_picker(
    master: tk.Misc,
    anchor: tk.Widget,
    settings: RecentStore | None,
    on_pick: Callable[[str], object],
    on_close: Callable[[], object] | None = None,
) -> EmojiPicker:
    """An emoji picker by `anchor` (a button, a message); `on_pick(emoji)` once one is chosen."""
    return EmojiPicker(master, anchor=anchor, settings=settings, on_pick=on_pick, on_close=on_close)
