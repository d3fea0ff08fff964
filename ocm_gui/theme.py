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
from collections.abc import Iterable
from tkinter import ttk
from typing import overload

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

BG = "#f3f2ef"
PANEL = "#ffffff"
TEXT = "#1f2328"
MUTED = "#6a6f76"
ACCENT = "#2f6db5"
ACCENT_FOCUS = "#163a66"  # the border of a focused accent button
OWN_BG = "#eaf2fc"
OWN_FG = "#1d5fa8"
NOTICE = "#6a6f76"
ERROR = "#b3261e"
WARN_BG = "#fff4d6"
WARN_FG = "#7a5300"
BORDER = "#c9c6bf"  # the thin frame around text areas and lists
DISABLED_BG = "#efeeea"  # an input that takes no more text
CLOSED_BG = "#fde8e6"
# No blue: blue is for your own name and the host mark. Each reads at 4.6:1 or more on PANEL
# and OWN_BG, and any two differ by a CIEDE2000 of 26 or more (tests/test_colours.py).
SENDER_COLOURS = ("#762e0a", "#8f2eff", "#007d32", "#0a6f76", "#d41152", "#631d59", "#806b17")


def platform_key(platform: str = sys.platform) -> str:
    """'win32', 'darwin' or 'linux' (any other Unix desktop runs X11 like Linux)."""
    return platform if platform in ("win32", "darwin") else "linux"


def choose_family(available: Iterable[str], platform: str = sys.platform) -> str | None:
    """The Japanese-capable family to use among those installed, or None if none is."""
    own = platform_key(platform)
    installed = set(available)
    ordered = CJK_FAMILIES[own] + tuple(f for key, families in CJK_FAMILIES.items() if key != own for f in families)
    return next((family for family in ordered if family in installed), None)


def choose_theme(available: Iterable[str], platform: str = sys.platform) -> str | None:
    """The platform's native ttk theme if this Tk has it, else clam, else None (keep Tk's)."""
    themes = set(available)
    return next((t for t in THEMES[platform_key(platform)] + ("clam",) if t in themes), None)


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
    """Set the theme and fonts for every window of this Tk interpreter; returns the family."""
    done = root.__dict__.get("_ocm_theme_family")
    if done:
        return done
    family = pick_family(root)
    bind_select_all(root)
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

    style = ttk.Style(root)
    chosen = choose_theme(style.theme_names())
    if chosen is None:
        log.warning("no ttk theme of ours is available; keeping %s", style.theme_use())
    else:
        style.theme_use(chosen)
    root.configure(background=BG)
    root.option_add("*Toplevel.background", BG)
    style.configure(".", background=BG, foreground=TEXT)
    style.configure("TFrame", background=BG)
    style.configure("TLabel", background=BG, foreground=TEXT)
    style.configure("TLabelframe", background=BG)
    style.configure("TLabelframe.Label", background=BG, foreground=MUTED)
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
    style.configure("Title.TLabel", font="OCMTitle")
    style.configure("Heading.TLabel", font="OCMHeading")
    style.configure("Muted.TLabel", foreground=MUTED)
    style.configure("Small.TLabel", foreground=MUTED, font="OCMSmall")
    style.configure("Error.TLabel", foreground=ERROR)
    style.configure("Over.Small.TLabel", foreground=ERROR, font="OCMSmall")
    style.configure("Big.TButton", font="OCMBig", padding=pad(root, 24, 18))
    if chosen == "clam":
        focus_ring = max(1, scaled(root, 1))
        style.configure("TButton", focusthickness=focus_ring)
        style.configure(
            "Accent.TButton",
            foreground="#ffffff",
            background=ACCENT,
            bordercolor=ACCENT,
            lightcolor=ACCENT,
            darkcolor=ACCENT,
            focuscolor="#ffffff",
            focusthickness=focus_ring,
        )
        # Disabled looks like any disabled button (grey, muted text), not like a paler
        # default button; focused gets a two-pixel dark edge around clam's dotted white ring.
        style.map(
            "Accent.TButton",
            foreground=[("disabled", MUTED)],
            background=[("disabled", DISABLED_BG), ("pressed", "#24589a"), ("active", "#3a7bc8")],
            bordercolor=[("disabled", BORDER), ("focus", ACCENT_FOCUS)],
            lightcolor=[("disabled", DISABLED_BG), ("focus", ACCENT_FOCUS), ("active", "#3a7bc8")],
            darkcolor=[("disabled", DISABLED_BG), ("focus", ACCENT_FOCUS), ("active", "#3a7bc8")],
            focuscolor=[("disabled", DISABLED_BG)],
        )
    else:  # native buttons draw their own face: white text would vanish on it
        style.configure("Accent.TButton", font="OCMChatBold")
    style.configure("Banner.TFrame", background=WARN_BG)
    style.configure("Banner.TLabel", background=WARN_BG, foreground=WARN_FG)
    style.configure("Closed.TFrame", background=CLOSED_BG)
    style.configure("Closed.TLabel", background=CLOSED_BG, foreground=ERROR)
    style.configure("Link.TButton", padding=pad(root, 6, 1))
    # A row as tall as its text: a fixed 26 pixels clips the text at a larger Tk scaling.
    linespace = tkfont.nametofont("TkDefaultFont", root=root).metrics("linespace")
    style.configure("Treeview", rowheight=max(scaled(root, 26), linespace + scaled(root, 8)))
    style.configure("Treeview.Heading", padding=pad(root, 4, 3))
    root.__dict__["_ocm_theme_family"] = family
    return family


def menu_buttons(platform: str) -> tuple[str, ...]:
    """The mouse events that open a context menu: the right button; on macOS also
    Control-click, and Button-2, which is the right button in Tk 8.6's Aqua."""
    if platform_key(platform) == "darwin":
        return ("<Button-2>", "<Button-3>", "<Control-Button-1>")
    return ("<Button-3>",)
