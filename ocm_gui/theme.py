"""The look: ttk 'clam' theme, a font family that shows Japanese, named fonts and colours."""

from __future__ import annotations

import logging
import zlib
import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

log = logging.getLogger(__name__)

# First family present wins; all of these draw kana and kanji.
CJK_FAMILIES = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "TakaoPGothic",
    "Yu Gothic UI",
    "Meiryo UI",
    "Meiryo",
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
)

BG = "#f3f2ef"
PANEL = "#ffffff"
TEXT = "#1f2328"
MUTED = "#6a6f76"
ACCENT = "#2f6db5"
OWN_BG = "#eaf2fc"
OWN_FG = "#1d5fa8"
NOTICE = "#6a6f76"
ERROR = "#b3261e"
WARN_BG = "#fff4d6"
WARN_FG = "#7a5300"
CLOSED_BG = "#fde8e6"
# No blue: blue is for your own name and the host mark.
SENDER_COLOURS = ("#8a3ffc", "#007d79", "#b28600", "#d12771", "#198038", "#ba4e00", "#6f32be")


def pick_family(root: tk.Misc) -> str:
    available = set(tkfont.families(root))
    for family in CJK_FAMILIES:
        if family in available:
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


def apply_theme(root: tk.Tk) -> str:
    """Set the theme and fonts for every window of this Tk interpreter; returns the family."""
    if getattr(root, "_ocm_theme_family", None):
        return root._ocm_theme_family
    family = pick_family(root)
    for name in ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkHeadingFont", "TkCaptionFont",
                 "TkTooltipFont", "TkSmallCaptionFont", "TkIconFont"):
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
    try:
        style.theme_use("clam")
    except tk.TclError:  # pragma: no cover - clam ships with every Tk 8.5+
        log.warning("ttk theme 'clam' missing; keeping %s", style.theme_use())
    root.configure(background=BG)
    root.option_add("*Toplevel.background", BG)
    style.configure(".", background=BG, foreground=TEXT)
    style.configure("TFrame", background=BG)
    style.configure("TLabel", background=BG, foreground=TEXT)
    style.configure("TLabelframe", background=BG)
    style.configure("TLabelframe.Label", background=BG, foreground=MUTED)
    style.configure("TButton", padding=(10, 4))
    style.configure("TEntry", padding=4)
    style.configure("Title.TLabel", font="OCMTitle")
    style.configure("Heading.TLabel", font="OCMHeading")
    style.configure("Muted.TLabel", foreground=MUTED)
    style.configure("Small.TLabel", foreground=MUTED, font="OCMSmall")
    style.configure("Error.TLabel", foreground=ERROR)
    style.configure("Over.Small.TLabel", foreground=ERROR, font="OCMSmall")
    style.configure("Big.TButton", font="OCMBig", padding=(24, 18))
    style.configure("Accent.TButton", foreground="#ffffff", background=ACCENT, bordercolor=ACCENT,
                    lightcolor=ACCENT, darkcolor=ACCENT)
    style.map("Accent.TButton",
              background=[("disabled", "#9db6d6"), ("pressed", "#24589a"), ("active", "#3a7bc8")],
              lightcolor=[("active", "#3a7bc8")], darkcolor=[("active", "#3a7bc8")])
    style.configure("Banner.TFrame", background=WARN_BG)
    style.configure("Banner.TLabel", background=WARN_BG, foreground=WARN_FG)
    style.configure("Closed.TFrame", background=CLOSED_BG)
    style.configure("Closed.TLabel", background=CLOSED_BG, foreground=ERROR)
    style.configure("Link.TButton", padding=(6, 1))
    style.configure("Treeview", rowheight=26)
    style.configure("Treeview.Heading", padding=(4, 3))
    root._ocm_theme_family = family
    return family


def sender_colour(name: str) -> str:
    """A stable colour per sender name, so people can be told apart at a glance."""
    return SENDER_COLOURS[zlib.crc32(name.encode("utf-8")) % len(SENDER_COLOURS)]
