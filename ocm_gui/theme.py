"""The look: a ttk theme and a font family that shows Japanese, chosen per platform;
named fonts, colours, and the modifier key of shortcuts.

The choices are pure functions of the platform (and of what is installed), so every
platform's branch is tested on any machine.
"""

from __future__ import annotations

import logging
import sys
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from tkinter import ttk
from typing import overload

from ocm_gui.colours import normal_hex

log = logging.getLogger(__name__)

# Families that draw kana and kanji, each platform's own first (what its desktop uses);
# the first installed one wins, so a font installed by hand still counts elsewhere.
CJK_FAMILIES = {
    "win32": ("Yu Gothic UI", "Meiryo UI", "Meiryo", "MS UI Gothic"),
    "darwin": ("Hiragino Sans", "Hiragino Kaku Gothic ProN", "Hiragino Kaku Gothic Pro"),
    "linux": ("Noto Sans CJK JP", "Noto Sans JP", "Source Han Sans JP", "IPAexGothic", "IPAGothic", "TakaoPGothic"),
}
# The ttk theme that looks native: Windows' own widgets, macOS' own, and on Linux
# (whose Tk has no native theme) the clam theme that our colours are made for.
THEMES = {"win32": ("vista", "xpnative", "winnative"), "darwin": ("aqua",), "linux": ("clam",)}


@dataclass(frozen=True)
class Palette:
    """Every colour the app draws with, by what it colours. Two fields that share a value in
    LIGHT share it in DARK too (tests/test_colours.py), so a colour on screen names its field
    and `use_palette` can recolour a widget by its value alone."""

    BG: str  # windows, frames, labels
    PANEL: str  # the scrollback, inputs, lists; the text on an accent button or a selection
    TEXT: str
    MUTED: str  # times, marks, hints
    ACCENT: str  # links, the Send button, a focused input's edge
    ACCENT_FOCUS: str  # the border of a focused accent button
    OWN_BG: str  # the band behind one's own messages; the People list's selection
    OWN_FG: str  # one's own name
    NOTICE: str
    ERROR: str
    WARN_BG: str
    WARN_FG: str
    BORDER: str  # the thin frame around text areas and lists
    DISABLED_BG: str  # an input that takes no more text
    CLOSED_BG: str
    HISTORY: str  # lines replayed from before one joined: fainter than MUTED on purpose
    TOOLTIP_BG: str
    CARD_BORDER: str  # the edge of a file card in the scrollback
    RETRY_BG: str  # the face of a Retry link
    ACCENT_ACTIVE: str  # an accent button under the pointer
    ACCENT_PRESSED: str
    # clam's own control colours (its "lighter", "dark", "darkest", "darker", "frame", "disabledfg",
    # "selectbg"), set only under clam, where LIGHT's are clam's and so change nothing.
    CONTROL_ACTIVE: str  # a button under the pointer; the light edge of a raised control
    CONTROL_SHADE: str  # the dark edge of a raised control
    CONTROL_BORDER: str
    TROUGH: str  # a scroll bar's trough; a pressed button
    CONTROL_DISABLED: str  # a disabled button, a read-only field
    DISABLED_FG: str
    SELECT_BG: str  # selected text in an entry, a selected row; PANEL is its text
    FOCUS_EDGE: str  # the glow of a focused entry
    # Plain Tk's defaults on X11 (what a Menu, a Text's selection or its cursor is drawn in unless
    # told): fields too, so that those widgets follow a palette without each being told.
    INK: str  # black: Tk's text, cursor and check mark; clam's arrows
    TK_FACE: str  # a menu
    TK_ACTIVE: str  # a menu item under the pointer
    TK_SELECT: str  # selected text in a Text, an Entry, a Listbox
    TK_DISABLED: str  # a disabled menu item
    SENDER_COLOURS: tuple[str, ...]  # by index: a sender keeps theirs across palettes
    dark: bool = False

    def colours(self) -> dict[str, str]:
        """Each colour by field name, the sender colours as SENDER_COLOURS[0] and so on."""
        found = {name: getattr(self, name) for name in COLOUR_FIELDS}
        found.update({f"SENDER_COLOURS[{i}]": colour for i, colour in enumerate(self.SENDER_COLOURS)})
        return found


LIGHT = Palette(
    BG="#f3f2ef",
    PANEL="#ffffff",
    TEXT="#1f2328",
    MUTED="#6a6f76",
    ACCENT="#2f6db5",
    ACCENT_FOCUS="#163a66",
    OWN_BG="#eaf2fc",
    OWN_FG="#1d5fa8",
    NOTICE="#6a6f76",
    ERROR="#b3261e",
    WARN_BG="#fff4d6",
    WARN_FG="#7a5300",
    BORDER="#c9c6bf",
    DISABLED_BG="#efeeea",
    CLOSED_BG="#fde8e6",
    HISTORY="#8d9299",
    TOOLTIP_BG="#fffbe6",
    CARD_BORDER="#d6d3cc",
    RETRY_BG="#f7f7f5",
    ACCENT_ACTIVE="#3a7bc8",
    ACCENT_PRESSED="#24589a",
    CONTROL_ACTIVE="#eeebe7",
    CONTROL_SHADE="#cfcdc8",
    CONTROL_BORDER="#9e9a91",
    TROUGH="#bab5ab",
    CONTROL_DISABLED="#dcdad5",
    DISABLED_FG="#999999",
    SELECT_BG="#4a6984",
    FOCUS_EDGE="#6f9dc6",
    INK="#000000",
    TK_FACE="#d9d9d9",
    TK_ACTIVE="#ececec",
    TK_SELECT="#c3c3c3",
    TK_DISABLED="#a3a3a3",
    # No blue: blue is for your own name and the host mark. Each reads at 4.6:1 or more on PANEL
    # and OWN_BG, and any two differ by a CIEDE2000 of 26 or more (tests/test_colours.py).
    SENDER_COLOURS=("#762e0a", "#8f2eff", "#007d32", "#0a6f76", "#d41152", "#631d59", "#806b17"),
)

# Wells (the scrollback, inputs, lists) darker than the window around them. The sender colours
# were searched for, not picked: each 5.3:1 or more on PANEL and 4.6:1 on OWN_BG, any two 26.9
# or more apart (CIEDE2000), 24 or more from the two blues and from TEXT, each near its LIGHT
# colour's hue so that a sender looks alike in both.
DARK = Palette(
    BG="#26282c",
    PANEL="#1d1f22",
    TEXT="#e4e6ea",
    MUTED="#9ba1a9",
    ACCENT="#6aa5f0",
    ACCENT_FOCUS="#d2e5ff",
    OWN_BG="#1f2b3b",
    OWN_FG="#8ec2ff",
    NOTICE="#9ba1a9",
    ERROR="#ff8f85",
    WARN_BG="#3a3015",
    WARN_FG="#f0c75e",
    BORDER="#3f4248",
    DISABLED_BG="#2a2c2f",
    CLOSED_BG="#3d2321",
    HISTORY="#767b83",
    TOOLTIP_BG="#36322a",
    CARD_BORDER="#3a3d42",
    RETRY_BG="#2b2e33",
    ACCENT_ACTIVE="#86b8f5",
    ACCENT_PRESSED="#5590dc",
    CONTROL_ACTIVE="#33363b",
    CONTROL_SHADE="#202226",
    CONTROL_BORDER="#6b7079",
    TROUGH="#131416",
    CONTROL_DISABLED="#3e4146",
    DISABLED_FG="#6f747b",
    SELECT_BG="#7fa9da",
    FOCUS_EDGE="#4b7cb3",
    INK="#f1f2f4",
    TK_FACE="#2c2e33",
    TK_ACTIVE="#3b3f46",
    TK_SELECT="#34506f",
    TK_DISABLED="#7a7f87",
    SENDER_COLOURS=("#fad36d", "#ae7edb", "#5ef4bc", "#10a2a7", "#d47c40", "#ffaeb8", "#789e3a"),
    dark=True,
)

COLOUR_FIELDS = tuple(f.name for f in fields(Palette) if f.name not in ("SENDER_COLOURS", "dark"))

# The palette in use, as module constants that code reads when it makes a widget (theme.PANEL);
# `use_palette` sets them and recolours what was made before.
_palette = LIGHT
BG = LIGHT.BG
PANEL = LIGHT.PANEL
TEXT = LIGHT.TEXT
MUTED = LIGHT.MUTED
ACCENT = LIGHT.ACCENT
ACCENT_FOCUS = LIGHT.ACCENT_FOCUS
OWN_BG = LIGHT.OWN_BG
OWN_FG = LIGHT.OWN_FG
NOTICE = LIGHT.NOTICE
ERROR = LIGHT.ERROR
WARN_BG = LIGHT.WARN_BG
WARN_FG = LIGHT.WARN_FG
BORDER = LIGHT.BORDER
DISABLED_BG = LIGHT.DISABLED_BG
CLOSED_BG = LIGHT.CLOSED_BG
HISTORY = LIGHT.HISTORY
TOOLTIP_BG = LIGHT.TOOLTIP_BG
CARD_BORDER = LIGHT.CARD_BORDER
RETRY_BG = LIGHT.RETRY_BG
ACCENT_ACTIVE = LIGHT.ACCENT_ACTIVE
ACCENT_PRESSED = LIGHT.ACCENT_PRESSED
CONTROL_ACTIVE = LIGHT.CONTROL_ACTIVE
CONTROL_SHADE = LIGHT.CONTROL_SHADE
CONTROL_BORDER = LIGHT.CONTROL_BORDER
TROUGH = LIGHT.TROUGH
CONTROL_DISABLED = LIGHT.CONTROL_DISABLED
DISABLED_FG = LIGHT.DISABLED_FG
SELECT_BG = LIGHT.SELECT_BG
FOCUS_EDGE = LIGHT.FOCUS_EDGE
INK = LIGHT.INK
TK_FACE = LIGHT.TK_FACE
TK_ACTIVE = LIGHT.TK_ACTIVE
TK_SELECT = LIGHT.TK_SELECT
TK_DISABLED = LIGHT.TK_DISABLED
SENDER_COLOURS = LIGHT.SENDER_COLOURS


def platform_key(platform: str = sys.platform) -> str:
    """'win32', 'darwin' or 'linux' (any other Unix desktop runs X11 like Linux)."""
    return platform if platform in ("win32", "darwin") else "linux"


def choose_family(available: Iterable[str], platform: str = sys.platform) -> str | None:
    """The Japanese-capable family to use among those installed, or None if none is."""
    own = platform_key(platform)
    installed = set(available)
    ordered = CJK_FAMILIES[own] + tuple(f for key, families in CJK_FAMILIES.items() if key != own for f in families)
    return next((family for family in ordered if family in installed), None)


def choose_theme(available: Iterable[str], platform: str = sys.platform, dark: bool = False) -> str | None:
    """The platform's native ttk theme if this Tk has it, else clam, else None (keep Tk's).
    A dark palette takes clam everywhere: vista and aqua draw fields and buttons in the
    system's own light colours, on which a dark palette's light text would vanish."""
    themes = set(available)
    ordered = ("clam",) if dark else THEMES[platform_key(platform)] + ("clam",)
    return next((t for t in ordered if t in themes), None)


def shortcut(key: str, platform: str = sys.platform) -> str:
    """The event sequence of a shortcut: Command+key on macOS, Control+key elsewhere."""
    modifier = "Command" if platform_key(platform) == "darwin" else "Control"
    return f"<{modifier}-{key}>"


# Entry classes whose Ctrl+A (Cmd+A) selects all: Tk's own binding moves to the line start.
ENTRY_CLASSES = ("TEntry", "TCombobox", "TSpinbox", "Entry", "Spinbox")


def select_all_in_entry(event: tk.Event) -> str:
    entry = event.widget
    if isinstance(entry, (tk.Entry, ttk.Entry, tk.Spinbox)):  # ttk.Combobox and ttk.Spinbox are ttk.Entry
        end = len(entry.get())
        entry.selection_range(0, end)
        entry.icursor(end)
    return "break"


def bind_select_all(root: tk.Misc) -> None:
    """Ctrl+A (Cmd+A on macOS) selects all in every entry of the app, bound once per class."""
    for cls in ENTRY_CLASSES:
        for key in ("a", "A"):  # "A": with Caps Lock on
            root.bind_class(cls, shortcut(key), select_all_in_entry)


def press_focused_button(event: tk.Event) -> str:
    if isinstance(event.widget, ttk.Button):
        event.widget.invoke()
    return "break"  # pressed once: not again by the window's own Enter (a dialog's OK)


def bind_enter_presses_buttons(root: tk.Misc) -> None:
    """Enter presses the focused button everywhere (Close room, Rejoin, Leave), as Space does:
    ttk binds only Space, and people reach for Enter."""
    for key in ("<Return>", "<KP_Enter>"):
        root.bind_class("TButton", key, press_focused_button)


def pick_family(root: tk.Misc) -> str:
    family = choose_family(tkfont.families(root))
    if family is not None:
        return family
    log.info("no Japanese-capable font found; using TkDefaultFont's family")
    return tkfont.nametofont("TkDefaultFont", root=root).actual("family")


def _named_font(root: tk.Misc, name: str, **options) -> tkfont.Font:
    if name in tkfont.names(root):
        font = tkfont.nametofont(name, root=root)
        font.configure(**options)
        return font
    font = tkfont.Font(root=root, name=name, **options)
    # A Font object deletes its named font when garbage-collected: keep it with the root.
    root.__dict__.setdefault("_ocm_fonts", []).append(font)
    return font


# The pixels per point our fixed pixel sizes (window sizes, wrap widths, columns) were drawn
# for: 96 dpi. Text grows with Tk's scaling (a high-dpi screen, `tk scaling 2`); they follow.
BASE_SCALING = 96 / 72


SCALE_LIMITS = (0.75, 4.0)  # what --scale / OCM_SCALE take: smaller is unreadable, larger leaves no room


def set_scale(root: tk.Misc, factor: float) -> float:
    """Draw text `factor` times its 96-dpi size (the person's choice over the screen's own dpi,
    which some screens report wrong); before any font or window is made. Returns the factor
    used, kept within SCALE_LIMITS."""
    factor = min(max(factor, SCALE_LIMITS[0]), SCALE_LIMITS[1])
    root.tk.call("tk", "scaling", BASE_SCALING * factor)
    return factor


def declare_dpi_awareness(platform: str = sys.platform) -> bool:
    """On Windows, tell the system this app draws for the screen's real dpi; otherwise Windows
    stretches its 96-dpi bitmap at 150 % or 200 % and every letter is blurred. Before Tk starts."""
    if platform != "win32":
        return False
    import ctypes

    try:
        ole_dll = getattr(ctypes, "OleDLL")  # noqa: B009  # Windows' ctypes only: looked up, so mypy elsewhere agrees
        ole_dll("shcore").SetProcessDpiAwareness(1)  # 1: system dpi aware, as IDLE does
    except (AttributeError, OSError) as exc:  # Windows before 8.1, or already declared
        log.info("dpi awareness not declared: %s", exc)
        return False
    return True


def ui_scale(widget: tk.Misc) -> float:
    """How much larger than at 96 dpi this screen draws text; never below 1."""
    return max(1.0, float(widget.tk.call("tk", "scaling")) / BASE_SCALING)


def scaled(widget: tk.Misc, pixels: int) -> int:
    """A pixel size drawn for 96 dpi, grown with the text on this screen."""
    return round(pixels * ui_scale(widget))


@overload
def pad(widget: tk.Misc, x: int, y: int, /) -> tuple[int, int]: ...
@overload
def pad(widget: tk.Misc, left: int, top: int, right: int, bottom: int, /) -> tuple[int, int, int, int]: ...
def pad(widget: tk.Misc, *pixels: int) -> tuple[int, ...]:
    """A padding drawn for 96 dpi (two or four sides, as Tk takes them), grown with the text."""
    return tuple(scaled(widget, value) for value in pixels)


def window_size(widget: tk.Misc, width: int, height: int) -> tuple[int, int]:
    """A window size drawn at 96 dpi as width x height, grown with the text but never past
    nine tenths of the screen."""
    return (
        min(scaled(widget, width), widget.winfo_screenwidth() * 9 // 10),
        min(scaled(widget, height), widget.winfo_screenheight() * 9 // 10),
    )


def named_font(widget: tk.Misc, name: str) -> tkfont.Font:
    """The named font `name`, or TkDefaultFont where the theme was not applied (a part
    built on its own, as in a test)."""
    return tkfont.nametofont(name if name in tkfont.names(widget) else "TkDefaultFont", root=widget)


def chars_to_fit(widget: tk.Misc, texts: Iterable[str], font: str = "TkTextFont") -> int:
    """A width in Tk's unit for entries and comboboxes (the width of "0") that shows each text whole."""
    measure = named_font(widget, font)
    zero = max(1, measure.measure("0"))
    return max((-(-measure.measure(text) // zero) for text in texts), default=0) + 1


def apply_theme(root: tk.Tk) -> str:
    """Set the theme, fonts and colours (the palette in use) for every window of this Tk
    interpreter; returns the family."""
    done = root.__dict__.get("_ocm_theme_family")
    if done:
        return done
    family = pick_family(root)
    bind_select_all(root)
    bind_enter_presses_buttons(root)
    for name in (
        "TkDefaultFont",
        "TkTextFont",
        "TkMenuFont",
        "TkHeadingFont",
        "TkCaptionFont",
        "TkTooltipFont",
        "TkSmallCaptionFont",
        "TkIconFont",
    ):
        if name in tkfont.names(root):
            tkfont.nametofont(name, root=root).configure(family=family)
    tkfont.nametofont("TkDefaultFont", root=root).configure(size=10)
    tkfont.nametofont("TkTextFont", root=root).configure(size=10)
    _named_font(root, "OCMTitle", family=family, size=20, weight="bold")
    _named_font(root, "OCMHeading", family=family, size=12, weight="bold")
    _named_font(root, "OCMBig", family=family, size=13, weight="bold")
    _named_font(root, "OCMChat", family=family, size=11)
    _named_font(root, "OCMChatBold", family=family, size=11, weight="bold")
    _named_font(root, "OCMSmall", family=family, size=9)
    _named_font(root, "OCMNotice", family=family, size=10, slant="italic")
    _apply_styles(root, _palette)
    _set_option_defaults(root, _palette)
    root.configure(background=_palette.BG)
    root.__dict__["_ocm_palette"] = _palette
    root.__dict__["_ocm_theme_family"] = family
    return family


def _apply_styles(root: tk.Misc, p: Palette) -> None:
    """The ttk theme and its styles in palette `p` (again on a change of palette)."""
    style = ttk.Style(root)
    chosen = choose_theme(style.theme_names(), dark=p.dark)
    if chosen is None:
        log.warning("no ttk theme of ours is available; keeping %s", style.theme_use())
    elif chosen != style.theme_use():
        style.theme_use(chosen)
    style.configure(".", background=p.BG, foreground=p.TEXT)
    style.configure("TFrame", background=p.BG)
    style.configure("TLabel", background=p.BG, foreground=p.TEXT)
    style.configure("TLabelframe", background=p.BG)
    style.configure("TLabelframe.Label", background=p.BG, foreground=p.MUTED)
    # Paddings grow with the text (`pad`): at Tk scaling 2 a fixed 4 pixels looks cramped.
    style.configure("TButton", padding=pad(root, 10, 4))
    # As wide as its text, for buttons in a row that must fit a narrow window (clam's
    # minimum of 11 characters pushed a file card's "Save as…" out of sight).
    style.configure("Compact.TButton", padding=pad(root, 8, 3), width=-4)
    style.configure("TEntry", padding=scaled(root, 4))
    style.configure("TCombobox", padding=pad(root, 4, 2))
    if chosen == "clam":  # clam draws its marks, scroll bars and drop-down arrows in fixed pixels
        for kind in ("TCheckbutton", "TRadiobutton"):
            style.configure(kind, indicatorsize=scaled(root, 12), indicatormargin=pad(root, 1, 1, 6, 1))
        style.configure("TScrollbar", arrowsize=scaled(root, 14))
        style.configure("TCombobox", arrowsize=scaled(root, 14))
        _clam_colours(style, p)
    style.configure("Title.TLabel", font="OCMTitle")
    style.configure("Heading.TLabel", font="OCMHeading")
    style.configure("Muted.TLabel", foreground=p.MUTED)
    style.configure("Small.TLabel", foreground=p.MUTED, font="OCMSmall")
    style.configure("Error.TLabel", foreground=p.ERROR)
    style.configure("Over.Small.TLabel", foreground=p.ERROR, font="OCMSmall")
    style.configure("Big.TButton", font="OCMBig", padding=pad(root, 24, 18))
    if chosen == "clam":
        focus_ring = max(1, scaled(root, 1))
        style.configure("TButton", focusthickness=focus_ring)
        style.configure(
            "Accent.TButton",
            foreground=p.PANEL,
            background=p.ACCENT,
            bordercolor=p.ACCENT,
            lightcolor=p.ACCENT,
            darkcolor=p.ACCENT,
            focuscolor=p.PANEL,
            focusthickness=focus_ring,
        )
        # Disabled looks like any disabled button (grey, muted text), not like a paler
        # default button; focused gets a two-pixel dark edge around clam's dotted white ring.
        style.map(
            "Accent.TButton",
            foreground=[("disabled", p.MUTED)],
            background=[("disabled", p.DISABLED_BG), ("pressed", p.ACCENT_PRESSED), ("active", p.ACCENT_ACTIVE)],
            bordercolor=[("disabled", p.BORDER), ("focus", p.ACCENT_FOCUS)],
            lightcolor=[("disabled", p.DISABLED_BG), ("focus", p.ACCENT_FOCUS), ("active", p.ACCENT_ACTIVE)],
            darkcolor=[("disabled", p.DISABLED_BG), ("focus", p.ACCENT_FOCUS), ("active", p.ACCENT_ACTIVE)],
            focuscolor=[("disabled", p.DISABLED_BG)],
        )
    else:  # native buttons draw their own face: white text would vanish on it
        style.configure("Accent.TButton", font="OCMChatBold")
    style.configure("Banner.TFrame", background=p.WARN_BG)
    style.configure("Banner.TLabel", background=p.WARN_BG, foreground=p.WARN_FG)
    style.configure("Closed.TFrame", background=p.CLOSED_BG)
    style.configure("Closed.TLabel", background=p.CLOSED_BG, foreground=p.ERROR)
    style.configure("Link.TButton", padding=pad(root, 6, 1))
    # A row as tall as its text: a fixed 26 pixels clips the text at a larger Tk scaling.
    linespace = tkfont.nametofont("TkDefaultFont", root=root).metrics("linespace")
    style.configure("Treeview", rowheight=max(scaled(root, 26), linespace + scaled(root, 8)))
    style.configure("Treeview.Heading", padding=pad(root, 4, 3))


# The two marks of clam's tri-state ("alternate") check and radio buttons, which no palette changes.
_CLAM_ALTERNATE = [("!disabled alternate", "#5895bc"), ("disabled alternate", "#a0a0a0")]


def _clam_colours(style: ttk.Style, p: Palette) -> None:
    """clam's own colours (ttk/clamTheme.tcl) in palette `p`: LIGHT's are clam's, so only
    another palette changes how a control looks."""
    style.configure(
        ".",
        bordercolor=p.CONTROL_BORDER,
        darkcolor=p.CONTROL_SHADE,
        lightcolor=p.CONTROL_ACTIVE,
        troughcolor=p.TROUGH,
        selectbackground=p.SELECT_BG,
        selectforeground=p.PANEL,
        fieldbackground=p.PANEL,
        insertcolor=p.INK,
        arrowcolor=p.INK,
    )
    style.map(
        ".",
        background=[("disabled", p.CONTROL_DISABLED), ("active", p.CONTROL_ACTIVE)],
        foreground=[("disabled", p.DISABLED_FG)],
        selectbackground=[("!focus", p.CONTROL_BORDER)],
        selectforeground=[("!focus", p.PANEL)],
    )
    style.map(
        "TButton",
        background=[("disabled", p.CONTROL_DISABLED), ("pressed", p.TROUGH), ("active", p.CONTROL_ACTIVE)],
        lightcolor=[("pressed", p.TROUGH)],
        darkcolor=[("pressed", p.TROUGH)],
        bordercolor=[("alternate", p.INK)],
    )
    for kind in ("TCheckbutton", "TRadiobutton"):
        style.configure(kind, indicatorbackground=p.PANEL, indicatorforeground=p.INK)
        style.map(
            kind,
            indicatorbackground=[("pressed", p.CONTROL_DISABLED), *_CLAM_ALTERNATE, ("disabled", p.CONTROL_DISABLED)],
        )
    style.map(
        "TEntry",
        background=[("readonly", p.CONTROL_DISABLED)],
        bordercolor=[("focus", p.SELECT_BG)],
        lightcolor=[("focus", p.FOCUS_EDGE)],
        darkcolor=[("focus", p.FOCUS_EDGE)],
    )
    style.map(
        "TCombobox",
        background=[("active", p.CONTROL_ACTIVE), ("pressed", p.CONTROL_ACTIVE)],
        fieldbackground=[("readonly focus", p.SELECT_BG), ("readonly", p.CONTROL_DISABLED)],
        foreground=[("readonly focus", p.PANEL)],
        arrowcolor=[("disabled", p.DISABLED_FG)],
    )
    style.configure("TProgressbar", background=p.CONTROL_DISABLED)
    style.configure("Treeview", background=p.PANEL, fieldbackground=p.PANEL, foreground=p.TEXT)
    style.map(
        "Treeview",
        background=[("disabled", p.CONTROL_DISABLED), ("selected", p.SELECT_BG)],
        foreground=[("disabled", p.DISABLED_FG), ("selected", p.PANEL)],
    )


# What plain Tk widgets are drawn in when not told (X11's defaults are LIGHT's fields): set in
# the option database, so a Menu or a Text's selection made later follows the palette too.
_TK_DEFAULTS = (
    *(
        (f"*{cls}.{option}", cls, field)
        for cls in ("Text", "Entry", "Listbox", "Spinbox")
        for option, field in (
            ("selectBackground", "TK_SELECT"),
            ("selectForeground", "INK"),
            ("inactiveSelectBackground", "TK_SELECT"),
            ("insertBackground", "INK"),
        )
    ),
    ("*Menu.background", "Menu", "TK_FACE"),
    ("*Menu.foreground", "Menu", "INK"),
    ("*Menu.activeBackground", "Menu", "TK_ACTIVE"),
    ("*Menu.activeForeground", "Menu", "INK"),
    ("*Menu.disabledForeground", "Menu", "TK_DISABLED"),
    ("*Menu.selectColor", "Menu", "INK"),
    ("*TCombobox*Listbox.background", "Listbox", "PANEL"),  # the drop-down list
    ("*TCombobox*Listbox.foreground", "Listbox", "INK"),
)


def _set_option_defaults(root: tk.Misc, p: Palette) -> None:
    root.option_add("*Toplevel.background", p.BG)
    x11 = str(root.tk.call("tk", "windowingsystem")) == "x11"
    if not (x11 or p.dark or root.__dict__.get("_ocm_tk_defaults_set")):
        return  # LIGHT keeps Windows' and macOS' own system colours
    root.__dict__["_ocm_tk_defaults_set"] = True
    made: dict[str, tk.Misc] = {}
    for pattern, cls, field in _TK_DEFAULTS:
        if x11 or p.dark:
            value = getattr(p, field)
        else:  # back to LIGHT: the platform's own default, as a widget of the class has it unset
            scratch = made.get(cls) or made.setdefault(cls, getattr(tk, cls)(root))
            option = pattern.rpartition(".")[2].lower()
            value = str(scratch.configure(option)[3]) if option in scratch.keys() else ""
        if value:
            root.option_add(pattern, value)
    for scratch in made.values():
        scratch.destroy()


def current_palette() -> Palette:
    return _palette


def use_palette(root: tk.Misc, palette: Palette) -> None:
    """Draw with `palette` from now on: the module's constants (read by code that makes a
    widget), the ttk styles, and every existing widget whose colour was the old palette's."""
    global _palette
    root = root.nametowidget(".")
    old = root.__dict__.get("_ocm_palette", _palette)
    _palette = palette
    globals().update({name: getattr(palette, name) for name in (*COLOUR_FIELDS, "SENDER_COLOURS")})
    if root.__dict__.get("_ocm_theme_family"):
        _apply_styles(root, palette)
    _set_option_defaults(root, palette)
    root.__dict__["_ocm_palette"] = palette
    if old != palette:
        recolour(root, colour_map(old, palette))


def colour_map(old: Palette, new: Palette) -> dict[str, str]:
    """Each of `old`'s colours (as '#rrggbb') to `new`'s colour of the same field."""
    new_colours = new.colours()
    return {value.lower(): new_colours[name] for name, value in old.colours().items()}


# A widget's, a Text or Treeview tag's, a Listbox item's, a Menu entry's and a Canvas item's colours.
COLOUR_OPTIONS = frozenset(
    f"-{name}"
    for name in (
        "background",
        "foreground",
        "insertbackground",
        "selectbackground",
        "selectforeground",
        "inactiveselectbackground",
        "highlightcolor",
        "highlightbackground",
        "activebackground",
        "activeforeground",
        "disabledforeground",
        "disabledbackground",
        "readonlybackground",
        "troughcolor",
        "selectcolor",
        "buttonbackground",
        "underlinefg",
        "overstrikefg",
        "lmargincolor",
        "rmargincolor",
        "fill",
        "outline",
        "activefill",
        "activeoutline",
        "disabledfill",
        "disabledoutline",
    )
)


def recolour(root: tk.Misc, mapping: dict[str, str]) -> int:
    """Walk every window under `root` (Tcl's own, such as a drop-down's list, too) and set each
    colour found in `mapping` (from '#rrggbb', any spelling Tk takes matching) to its value:
    widget options, Text and Treeview tags, Listbox items, Menu entries, Canvas items.
    Returns how many options it set."""
    tcl = root.tk
    rgb_cache: dict[str, str | None] = {}

    def hex_of(value: str) -> str | None:
        if value not in rgb_cache:
            rgb_cache[value] = normal_hex(value)
            if rgb_cache[value] is None:  # a name ("white", "SystemWindow"): as the screen shows it
                try:
                    r, g, b = root.winfo_rgb(value)
                    rgb_cache[value] = f"#{r >> 8:02x}{g >> 8:02x}{b >> 8:02x}"
                except tk.TclError:
                    pass
        return rgb_cache[value]

    changed = 0

    def remap(specs: object, *command: str) -> None:
        """`specs`: a `configure` answer; `command`: how to configure the same thing."""
        nonlocal changed
        for spec in tcl.splitlist(specs):
            parts = tcl.splitlist(spec)
            if len(parts) != 5 or str(parts[0]) not in COLOUR_OPTIONS:
                continue
            value = str(parts[4])
            new = mapping.get(hex_of(value) or "") if value else None
            if new is not None and new != value:
                tcl.call(*command, str(parts[0]), new)
                changed += 1

    for path in _window_paths(root, "."):
        remap(tcl.call(path, "configure"), path, "configure")
        kind = str(tcl.call("winfo", "class", path))
        if kind in ("Text", "Treeview"):
            for tag in tcl.splitlist(tcl.call(path, "tag", "names")):
                remap(tcl.call(path, "tag", "configure", tag), path, "tag", "configure", tag)
        elif kind == "Listbox":
            for index in range(int(tcl.call(path, "size"))):
                remap(tcl.call(path, "itemconfigure", index), path, "itemconfigure", str(index))
        elif kind == "Menu":
            last = str(tcl.call(path, "index", "end"))
            for index in range(int(last) + 1 if last != "none" else 0):
                if str(tcl.call(path, "type", index)) not in ("separator", "tearoff"):
                    remap(tcl.call(path, "entryconfigure", index), path, "entryconfigure", str(index))
        elif kind == "Canvas":
            for item in tcl.splitlist(tcl.call(path, "find", "all")):
                remap(tcl.call(path, "itemconfigure", item), path, "itemconfigure", str(item))
    return changed


def _window_paths(root: tk.Misc, path: str) -> Iterator[str]:
    yield path
    for child in root.tk.splitlist(root.tk.call("winfo", "children", path)):
        yield from _window_paths(root, str(child))


def menu_buttons(platform: str) -> tuple[str, ...]:
    """The mouse events that open a context menu: the right button; on macOS also
    Control-click, and Button-2, which is the right button in Tk 8.6's Aqua."""
    if platform_key(platform) == "darwin":
        return ("<Button-2>", "<Button-3>", "<Control-Button-1>")
    return ("<Button-3>",)
