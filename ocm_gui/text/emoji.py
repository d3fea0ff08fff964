"""Emoji in the chat view: where they are in a line, which font draws them, and a guard for
X11 systems whose font library cannot draw colour glyphs.

Tk 8.6 draws each character on its own (no shaping): a family, a flag or a skin tone shows
as its parts side by side; what it can do is draw each part in an emoji font. The chat view
tags the emoji runs of what it inserts with EMOJI_TAG (`emoji_ranges`, like the break spaces
of linebreak.py) and `configure_emoji_tag` gives that tag the emoji font chosen here:

- Linux (Xft): Noto Color Emoji in colour when libXft is 2.3.5 or newer; an older libXft sends
  colour glyphs the X server refuses (BadLength, which is reported to end Tk apps; not seen
  here, with libXft 2.3.6), so `guard_colour_fonts` hides colour fonts from fontconfig before
  Tk starts and a monochrome font draws them.
- Windows (GDI): Segoe UI Emoji, drawn in one colour.
- macOS (Core Text): Apple Color Emoji, in colour.

Only emoji are tagged: the emoji fonts' spaces and letters are far wider than text's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
import sys
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path

from ocm_gui.theme import platform_key

log = logging.getLogger(__name__)


def _astral_units() -> int:
    """How many index places Tcl counts for one character beyond U+FFFF: 2 in Tcl 8.6
    (UTF-16 inside), 1 from Tcl 8.7 on."""
    try:
        return int(tk.Tcl().call("string", "length", "\U0001f600"))
    except (tk.TclError, ValueError):
        return 2 if tk.TclVersion < 8.7 else 1


ASTRAL_UNITS = _astral_units()


def tk_length(text: str, astral_units: int = ASTRAL_UNITS) -> int:
    """The length of text in Tk's index places (Text "line.column" counts these)."""
    if astral_units == 1 or text.isascii():
        return len(text)
    return len(text) + (astral_units - 1) * sum(1 for ch in text if ch > "\uffff")


# Tk's Text stops an insert at U+0000 (the rest of that piece is lost, and every index after
# it is off), and Python cannot hand Tcl a lone surrogate (UnicodeEncodeError).
_NOT_FOR_TK = re.compile("[\x00\ud800-\udfff]")


def for_tk(text: str) -> str:
    """text with what Tk cannot take (NUL, lone surrogates) replaced by U+FFFD."""
    if "\x00" not in text and (text.isascii() or not _NOT_FOR_TK.search(text)):
        return text
    return _NOT_FOR_TK.sub("\ufffd", text)


EMOJI_TAG = "emoji"
EMOJI_FONT = "OCMEmoji"

# Emoji fonts by platform, colour first; the first installed one that can be drawn wins.
COLOUR_FAMILIES = {
    "linux": ("Noto Color Emoji", "Twemoji", "JoyPixels", "EmojiOne Color"),
    "win32": ("Segoe UI Emoji",),  # GDI draws it in one colour, and that is all GDI can
    "darwin": ("Apple Color Emoji",),
}
MONO_FAMILIES = {
    "linux": ("Noto Emoji", "Symbola", "OpenSymbol"),
    "win32": ("Segoe UI Symbol",),
    "darwin": (),
}
# libXft 2.3.5 learned to send colour (BGRA) glyphs in a form the X server accepts.
XFT_COLOUR_VERSION = 20305

# Characters shown as emoji by default (Unicode's Emoji_Presentation): the pictographs from
# U+1F000 and these in the BMP. Others (☺ ♥ ☀ ✔ ❤) are text unless U+FE0F follows them.
_PRESENTATION = (
    "\U0001f000-\U0001faff"
    "\u231a\u231b\u23e9-\u23ec\u23f0\u23f3\u25fd\u25fe\u2614\u2615\u2648-\u2653\u267f\u2693\u26a1"
    "\u26aa\u26ab\u26bd\u26be\u26c4\u26c5\u26ce\u26d4\u26ea\u26f2\u26f3\u26f5\u26fa\u26fd\u2705"
    "\u270a\u270b\u2728\u274c\u274e\u2753-\u2755\u2757\u2795-\u2797\u27b0\u27bf\u2b1b\u2b1c\u2b50\u2b55"
)
# Symbols that may become emoji when U+FE0F follows (Unicode's Emoji property, BMP part).
_TEXT_DEFAULT = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u2328\u23cf\u23ed-\u23ef\u23f1\u23f2"
    "\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb\u25fc\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u3030"
    "\u303d\u3297\u3299"
)
_ELEMENT = (
    "(?:[0-9#*]\ufe0f?\u20e3"  # keycap
    f"|[{_PRESENTATION}]\ufe0f?"
    f"|[{_TEXT_DEFAULT}]\ufe0f)"
    "[\U000e0020-\U000e007f]*"  # tag characters: the flags of England, Scotland, Wales
)
_RUN = re.compile(f"(?:{_ELEMENT}(?:\u200d{_ELEMENT})*)+")


# Inside a run, drawn in the text's font: in an emoji font the joiner and a keycap's digit
# have a wide advance, which would open gaps in a family or before a keycap.
_TEXT_INSIDE = re.compile("[\u200d0-9#*]+")


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """Where the emoji of text are, as (start, end) string offsets: its emoji runs, less the
    joiners and keycap digits inside them."""
    spans = []
    for run in _RUN.finditer(text):
        start, end = run.span()
        for inside in _TEXT_INSIDE.finditer(text, start, end):
            if inside.start() > start:
                spans.append((start, inside.start()))
            start = inside.end()
        if start < end:
            spans.append((start, end))
    return spans


def emoji_ranges(flat: list, line: int, column: int, astral_units: int = ASTRAL_UNITS) -> list[str]:
    """The "line.col" start and end of each emoji run in Text.insert arguments (text, tags,
    text, tags, ...) inserted at line.column, for one `tag add EMOJI_TAG` call.

    Tk 8.6 counts a character beyond U+FFFF as two index places (astral_units), so the
    columns are Tk's, not Python's."""
    ranges: list[str] = []
    for position in range(0, len(flat), 2):
        text = flat[position]
        start = 0  # where `column` is in text
        for begin, end in emoji_spans(text):
            line, column = _advance(text, start, begin, line, column, astral_units)
            ranges.append(f"{line}.{column}")
            line, column = _advance(text, begin, end, line, column, astral_units)
            ranges.append(f"{line}.{column}")
            start = end
        line, column = _advance(text, start, len(text), line, column, astral_units)
    return ranges


def _advance(text: str, start: int, end: int, line: int, column: int, astral_units: int) -> tuple[int, int]:
    piece = text[start:end]
    newlines = piece.count("\n")
    if newlines:
        return line + newlines, tk_length(piece[piece.rindex("\n") + 1 :], astral_units)
    return line, column + tk_length(piece, astral_units)


def choose_emoji_family(available: Iterable[str], platform: str = sys.platform, colour: bool = True) -> str | None:
    """The emoji family to use among those installed; colour ones only if they can be drawn."""
    own = platform_key(platform)
    installed = set(available)
    ordered = (COLOUR_FAMILIES[own] if colour else ()) + MONO_FAMILIES[own]
    return next((family for family in ordered if family in installed), None)


def xft_draws_colour(version: int | None) -> bool:
    """Whether this libXft (XftGetVersion(), e.g. 20306) can draw colour glyphs; unknown: no."""
    return version is not None and version >= XFT_COLOUR_VERSION


def xft_version() -> int | None:
    """The version of the libXft that Tk uses (loaded with _tkinter), or None off X11 or if
    it cannot be found."""
    if platform_key() != "linux":
        return None
    import _tkinter  # noqa: F401  (loads Tk, and with it the libXft it draws with)

    path = None
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            path = next((line.split()[-1] for line in maps if "/libXft.so" in line), None)
    except OSError:
        pass
    path = path or ctypes.util.find_library("Xft")
    if not path:
        return None
    try:
        return int(ctypes.CDLL(path).XftGetVersion())
    except (OSError, AttributeError) as exc:
        log.info("cannot ask libXft for its version: %s", exc)
        return None


def fontconfig_without_colour(include: str) -> str:
    """A fontconfig file: the usual configuration (include), with colour fonts left out."""
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f'  <include ignore_missing="yes">{_xml_text(include)}</include>\n'
        "  <!-- this libXft cannot draw colour glyphs: a colour font would end the app -->\n"
        '  <selectfont><rejectfont><pattern><patelt name="color"><bool>true</bool></patelt>'
        "</pattern></rejectfont></selectfont>\n"
        "</fontconfig>\n"
    )


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def guard_colour_fonts(
    cache_dir: Path,
    environ: MutableMapping[str, str] = os.environ,
    platform: str = sys.platform,
    xft: Callable[[], int | None] = xft_version,
) -> bool:
    """Before Tk starts: on X11 with a libXft too old for colour glyphs (xft() is its
    version), point fontconfig at a configuration without colour fonts (FONTCONFIG_FILE).
    True if it did."""
    if platform_key(platform) != "linux":
        return False
    version = xft()
    if version is None or xft_draws_colour(version):
        return False  # unknown: no Xft found, so nothing draws with it
    include = environ.get("FONTCONFIG_FILE") or os.path.join(
        environ.get("FONTCONFIG_PATH", "/etc/fonts").split(os.pathsep)[0], "fonts.conf"
    )
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = cache_dir / "fonts-without-colour.conf"
        path.write_text(fontconfig_without_colour(include), encoding="utf-8")
    except OSError as exc:
        log.warning("libXft %s cannot draw colour emoji and the font guard cannot be written: %s", version, exc)
        return False
    environ["FONTCONFIG_FILE"] = str(path)
    log.info("libXft %s draws no colour glyphs: colour fonts hidden (%s)", version, path)
    return True


def configure_emoji_tag(text: tk.Text, size: int | None = None) -> str | None:
    """Give EMOJI_TAG the emoji font (made once per Tk) and raise it over the other tags;
    returns the family, or None when no emoji font is installed (the tag then changes nothing)."""
    family = emoji_family(text)
    text.tag_configure(EMOJI_TAG, font=emoji_font(text, family, size) if family is not None else "")
    text.tag_raise(EMOJI_TAG)
    return family


def retag_emoji(text: tk.Text) -> None:
    """Tag the emoji of a short editable Text (the input) anew, all of it: typing next to an
    emoji would otherwise take its font, and a pasted emoji would not."""
    ranges = emoji_ranges([text.get("1.0", "end-1c"), ()], 1, 0)
    text.tag_remove(EMOJI_TAG, "1.0", "end")
    if ranges:
        text.tag_add(EMOJI_TAG, *ranges)


def emoji_family(widget: tk.Misc) -> str | None:
    root = widget._root()  # type: ignore[attr-defined]
    if "_ocm_emoji_family" not in root.__dict__:
        colour = platform_key() != "linux" or xft_draws_colour(xft_version())
        family = choose_emoji_family(tkfont.families(root), colour=colour)
        log.info("emoji font: %s", family or "none installed; Tk's fallback draws what it can")
        root.__dict__["_ocm_emoji_family"] = family
    return root.__dict__["_ocm_emoji_family"]


def emoji_font(widget: tk.Misc, family: str, size: int | None = None) -> str:
    """The named font EMOJI_FONT in family, as large as the chat text (OCMChat) unless size says."""
    root = widget._root()  # type: ignore[attr-defined]
    if size is None:
        names = tkfont.names(root)
        base = tkfont.nametofont("OCMChat" if "OCMChat" in names else "TkDefaultFont", root=root)
        size = int(base.cget("size"))
    if EMOJI_FONT in tkfont.names(root):
        tkfont.nametofont(EMOJI_FONT, root=root).configure(family=family, size=size)
    else:
        font = tkfont.Font(root=root, name=EMOJI_FONT, family=family, size=size)
        root.__dict__.setdefault("_ocm_fonts", []).append(font)  # a collected Font deletes its named font
    return EMOJI_FONT
