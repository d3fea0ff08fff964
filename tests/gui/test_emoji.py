"""Emoji: where they are in a line, which font draws them, Tk's index places for characters
beyond U+FFFF, the guard for a libXft without colour glyphs, and a chat window that takes
whatever a remote member can send (every emoji, 1,000 in one message, joiners, flags, variation
selectors, right-to-left marks, piles of combining marks, controls) and keeps working."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import tkinter as tk
import tkinter.font as tkfont

import pytest
from gui_helpers import FakeClient, pump

from ocm_core import wire as p
from ocm_core.errors import RemoteProtocolError
from ocm_core.sansio.events import ChatMessage, MembersChanged
from ocm_gui import theme
from ocm_gui.text import emoji
from ocm_gui.text.emoji import EMOJI_TAG, emoji_ranges, emoji_spans
from ocm_gui.text.linebreak import BREAK_TAG, spaces_for_breaks

COLOUR_INSTALLED = (
    "Noto Color Emoji" in subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    if shutil.which("fc-list")
    else False
)

FAMILY = "👨\u200d👩\u200d👧"
ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


def parts(text: str) -> list[str]:
    return [text[start:end] for start, end in emoji_spans(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain text, 1 # * ok", []),
        ("日本語のテキスト。「こんにちは」", []),
        ("a😀b", ["😀"]),
        ("😀🎉 👍", ["😀🎉", "👍"]),
        ("☕⚡✅⭐", ["☕⚡✅⭐"]),  # shown as emoji by default, in the BMP
        ("☺ ♥ ☀ ✓ ❤", []),  # text by default: drawn by the text's font
        ("☺\ufe0f ❤\ufe0f", ["☺\ufe0f", "❤\ufe0f"]),  # ... unless U+FE0F asks for an emoji
        ("👍🏽 ok", ["👍🏽"]),  # the skin tone stays with its hand
        (FAMILY, ["👨", "👩", "👧"]),  # joiners are left to the text's font (no gaps)
        ("1\ufe0f\u20e3 #\u20e3", ["\ufe0f\u20e3", "\u20e3"]),  # a keycap's digit too
        ("🇯🇵🇺🇸", ["🇯🇵🇺🇸"]),
        (f"go {ENGLAND}!", [ENGLAND]),  # tag characters stay with their flag
    ],
)
def test_emoji_spans(text, expected):
    assert parts(text) == expected


def test_tk_counts_characters_beyond_the_bmp_as_astral_units(root):
    assert emoji.ASTRAL_UNITS == int(root.tk.call("string", "length", "😀"))
    text = tk.Text(root)
    text.insert("1.0", "a😀b")
    assert text.index("end-1c") == f"1.{2 + emoji.ASTRAL_UNITS}"
    assert emoji.tk_length("a😀b") == 2 + emoji.ASTRAL_UNITS
    assert emoji.tk_length("a😀b", 1) == 3 and emoji.tk_length("a😀b", 2) == 4


def test_emoji_ranges_in_a_real_text_widget_hold_exactly_the_emoji(root):
    text = tk.Text(root)
    text.insert("1.0", "x🙂\n")
    flat = [
        "12:00  ",
        (),
        "Alice",
        ("sender",),
        "  hi 😀 and 👍🏽\nnext line 🎉🎉 end",
        (),
        "\n",
        (),
        "日本😀語 ❤\ufe0f",
        (),
    ]
    line, column = (int(n) for n in text.index("end-1c").split("."))
    ranges = emoji_ranges(flat, line, column)
    text.insert("end-1c", *flat)
    got = [text.get(start, end) for start, end in zip(ranges[::2], ranges[1::2])]
    assert got == ["😀", "👍🏽", "🎉🎉", "😀", "❤\ufe0f"]
    assert emoji_ranges(["a😀b😀", ()], 1, 0, astral_units=1) == ["1.1", "1.2", "1.3", "1.4"]
    assert emoji_ranges(["a😀b😀", ()], 1, 0, astral_units=2) == ["1.1", "1.3", "1.4", "1.6"]


def test_break_spaces_after_an_emoji_are_where_tk_puts_them(root):
    """Tk 8.6 counts 😀 as two places: a break space counted as one would land on a kanji
    and draw it one pixel wide."""
    from ocm_gui.text.linebreak import with_break_opportunities

    text = tk.Text(root)
    flat = [with_break_opportunities("😀日本語のテキスト👍🏽です"), ()]
    ranges = spaces_for_breaks(flat, 1, 0)
    text.insert("1.0", *flat)
    assert ranges and all(text.get(a, b) == " " for a, b in zip(ranges[::2], ranges[1::2]))


@pytest.mark.parametrize(
    "platform, installed, colour, expected",
    [
        ("linux", ["DejaVu Sans", "Symbola", "Noto Color Emoji"], True, "Noto Color Emoji"),
        ("linux", ["DejaVu Sans", "Symbola", "Noto Color Emoji"], False, "Symbola"),
        ("linux", ["DejaVu Sans", "Noto Emoji", "Symbola"], True, "Noto Emoji"),
        ("linux", ["DejaVu Sans"], True, None),
        ("win32", ["Segoe UI", "Segoe UI Emoji", "Segoe UI Symbol"], True, "Segoe UI Emoji"),
        ("win32", ["Segoe UI", "Segoe UI Symbol"], True, "Segoe UI Symbol"),
        ("darwin", ["Helvetica", "Apple Color Emoji"], True, "Apple Color Emoji"),
        ("freebsd13", ["Noto Color Emoji"], True, "Noto Color Emoji"),
    ],
)
def test_choose_emoji_family(platform, installed, colour, expected):
    assert emoji.choose_emoji_family(installed, platform, colour=colour) == expected


def test_xft_colour_support_starts_at_2_3_5():
    assert not emoji.xft_draws_colour(None)
    assert not emoji.xft_draws_colour(20304)
    assert emoji.xft_draws_colour(20305) and emoji.xft_draws_colour(20306)


@pytest.mark.skipif(sys.platform != "linux", reason="libXft is X11's")
def test_the_libxft_tk_draws_with_is_found():
    version = emoji.xft_version()
    assert version is not None and version >= 20000


def test_guard_leaves_fontconfig_alone_where_colour_can_be_drawn(tmp_path):
    for platform, version in (("win32", 20304), ("darwin", 20304), ("linux", 20306), ("linux", None)):
        environ: dict[str, str] = {}
        assert not emoji.guard_colour_fonts(tmp_path, environ, platform, lambda version=version: version)
        assert environ == {}
    assert list(tmp_path.iterdir()) == []


def test_guard_hides_colour_fonts_from_an_old_libxft(tmp_path):
    environ = {"FONTCONFIG_FILE": "/etc/fonts/<mine>&.conf"}
    assert emoji.guard_colour_fonts(tmp_path / "data", environ, "linux", lambda: 20304)
    conf = environ["FONTCONFIG_FILE"]
    text = open(conf, encoding="utf-8").read()
    assert '<include ignore_missing="yes">/etc/fonts/&lt;mine&gt;&amp;.conf</include>' in text
    assert '<patelt name="color"><bool>true</bool></patelt>' in text


@pytest.mark.skipif(not COLOUR_INSTALLED, reason="Noto Color Emoji is not installed (scripts/setup.sh installs it)")
def test_with_the_guard_tk_sees_no_colour_font(tmp_path):
    """What an old libXft would get: Tk's font families without the colour font, so neither
    the emoji tag nor fontconfig's fallback can hand it a colour glyph."""
    script = (
        "import os, pathlib, tkinter as tk, tkinter.font as tkfont\n"
        "from ocm_gui.text import emoji\n"
        f"emoji.guard_colour_fonts(pathlib.Path({str(tmp_path)!r}), os.environ, 'linux', lambda: 20304)\n"
        "root = tk.Tk()\n"
        "print('Noto Color Emoji' in tkfont.families(root), emoji.emoji_family(root))\n"
        "root.destroy()\n"
    )
    guarded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout.split()[0] == "False"
    assert guarded.stdout.split()[1] != "Noto Color Emoji"


@pytest.mark.skipif(not COLOUR_INSTALLED, reason="Noto Color Emoji is not installed (scripts/setup.sh installs it)")
def test_the_chat_view_draws_emoji_in_the_colour_font(root, make_chat):
    theme.apply_theme(root)
    client = FakeClient(username="Bob", host_name="Alice", members=("Alice", "Bob"))
    chat = make_chat(client)
    client.events.put(ChatMessage(1, "Alice", "party 🎉 tonight ❤\ufe0f 日本😀語", time.time()))
    pump(root, lambda: "tonight" in chat.transcript(), what="the message")
    assert emoji_text(chat.text) == ["🎉", "❤\ufe0f", "😀"]
    font = tkfont.nametofont(chat.text.tag_cget(EMOJI_TAG, "font"), root=root)
    assert font.actual("family") == "Noto Color Emoji"
    assert font.cget("size") == tkfont.nametofont("OCMChat", root=root).cget("size")
    breaks = chat.text.tag_ranges(BREAK_TAG)
    assert all(chat.text.get(a, b) == " " for a, b in zip(breaks[::2], breaks[1::2]))


def test_emoji_typed_in_the_input_are_tagged_and_text_typed_beside_them_is_not(root, make_chat):
    chat = make_chat(FakeClient())
    chat.input.insert("1.0", "hi 😀 ok")
    root.update()
    assert emoji_text(chat.input) == ["😀"]
    chat.input.insert("1.5", "x")  # typed right after the emoji: Tk would give it the emoji's tag
    root.update()
    assert emoji_text(chat.input) == ["😀"] and chat.input.get("1.0", "end-1c") == "hi 😀x ok"
    chat.input.delete("1.0", "end")
    root.update()
    assert emoji_text(chat.input) == []


def emoji_text(text: tk.Text) -> list[str]:
    ranges = text.tag_ranges(EMOJI_TAG)
    return [text.get(a, b) for a, b in zip(ranges[::2], ranges[1::2])]


def test_without_an_emoji_font_the_tag_changes_nothing_and_the_chat_works(root, make_chat):
    root.__dict__["_ocm_emoji_family"] = None  # as on a system with no emoji font
    client = FakeClient(username="Bob", host_name="Alice", members=("Alice", "Bob"))
    chat = make_chat(client)
    assert chat.text.tag_cget(EMOJI_TAG, "font") == ""
    client.events.put(ChatMessage(1, "Alice", "hi 😀", time.time()))
    pump(root, lambda: "hi 😀" in chat.transcript(), what="the message")


def every_emoji() -> str:
    """Every code point of the emoji blocks and the BMP emoji, each with U+FE0F."""
    astral = "".join(chr(c) for c in range(0x1F000, 0x1FB00))
    bmp = "".join(chr(c) + "\ufe0f" for c in range(0x2600, 0x27C0))
    return astral + bmp


HOSTILE = {
    "variation selectors": "a\ufe0e b\ufe0f \ufe0f\ufe0f\ufe0f c"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "x"
    + "".join(chr(c) for c in range(0xE0100, 0xE0110)),
    "a thousand emoji": "😀" * 400 + "👍🏽" * 300 + FAMILY * 100,
    "flags and tags": "🇯🇵🇺🇸🇦" + ENGLAND * 20 + "\U000e0041\U000e007f",
    "joiners alone": "\u200d\u200d😀\u200d\u200d 🏽🏽 \u20e3\u20e3",
    "right to left": "\u202eevil\u202c \u200fשלום\u200f مرحبا \u2067isolated\u2069 \u202b😀\u202c",
    "combining marks": "e" + "\u0301" * 300 + " Z" + "".join(chr(c) for c in range(0x300, 0x370)) * 3,
    "controls": "bell\x07 esc\x1b[31mred\x1b[0m nul\x00 tab\tend \u2028line\u2029para \ufeffbom",
    "private and unassigned": "\ue000\uf8ff\U000f0000\U0010fffd\U0001fb00\U000e0000\ufffd\ufffe\uffff",
}


def test_whatever_a_member_sends_the_chat_window_shows_it_and_keeps_working(root, make_chat):
    sender = "😀\u202eevil\u200d名"  # a name is any visible UTF-8 the server accepted
    client = FakeClient(username="Bob", host_name="Alice", members=("Alice", "Bob"))
    chat = make_chat(client)
    texts = dict(HOSTILE)
    everything = every_emoji()
    for index in range(0, len(everything), 1000):  # the relay limit is 4,096 bytes: a few at a time
        texts[f"every emoji {index}"] = everything[index : index + 1000]
    now = time.time()
    client.events.put(MembersChanged(("Alice", "Bob", sender, FAMILY + "🇯🇵"), "Alice"))
    for seq, text in enumerate(texts.values(), start=1):
        client.events.put(ChatMessage(seq, sender if seq % 2 else "Alice", text, now))
    last = list(texts.values())[-1]
    pump(root, lambda: last in chat.transcript(), timeout=30, what="every message shown")

    transcript = chat.transcript()
    for name, text in texts.items():
        assert text.replace("\x00", "\ufffd") in transcript, f"{name} is not shown whole"
    assert any(FAMILY in label for label in chat.member_labels())
    breaks = chat.text.tag_ranges(BREAK_TAG)
    assert all(chat.text.get(a, b) == " " for a, b in zip(breaks[::2], breaks[1::2]))

    chat.input.insert("1.0", "still here 👋🏽")
    chat.send_button.invoke()
    pump(root, lambda: client.sent and "still here 👋🏽" in chat.transcript(), what="one's own message")
    assert client.sent[-1][1] == "still here 👋🏽"


def test_for_tk_replaces_only_what_tk_cannot_take(root):
    assert emoji.for_tk("plain") == "plain" and emoji.for_tk("日本😀\x07") == "日本😀\x07"
    assert emoji.for_tk("a\x00b") == "a\ufffdb"
    assert emoji.for_tk("x\ud800y\udfff") == "x\ufffdy\ufffd"
    text = tk.Text(root)
    text.insert("1.0", emoji.for_tk("a\x00b\ud83dc"))
    assert text.get("1.0", "end-1c") == "a\ufffdb\ufffdc"


def test_the_codec_never_hands_the_window_a_lone_surrogate():
    """A lone surrogate cannot reach Tk (which refuses it) from a member: chat text and
    names are strict UTF-8, and UTF-8 cannot carry one."""
    frame = p.encode_event(p.Event(1, 0, p.EventType.CHAT, "Al", "QQQ"))
    assert p.decode_body(frame).text == "QQQ"
    with pytest.raises(RemoteProtocolError, match="not valid UTF-8"):
        p.decode_body(frame.replace(b"QQQ", b"\xed\xa0\x80"))


@pytest.mark.expect_error_log("^cannot open a window")
def test_run_app_guards_the_fonts_before_tk_loads_any(monkeypatch, config_home):
    from ocm_gui import app as app_module

    order = []
    monkeypatch.setattr(emoji, "guard_colour_fonts", lambda cache_dir: order.append("guard"))

    def no_display(*args, **kwargs):
        order.append("tk")
        raise tk.TclError("no display name")

    monkeypatch.setattr(app_module.tk, "Tk", no_display)
    assert app_module.run_app([]) == 1
    assert order == ["guard", "tk"]
