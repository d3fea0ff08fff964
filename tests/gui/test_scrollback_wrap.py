"""Where Tk breaks an own message and its status, and the scrollback's spaces at Tk scaling 2.

Lines are read from Tk itself (the display line each character is drawn on), at every
width across a range, so a rule that holds only at one lucky width does not pass."""

from __future__ import annotations

import time
import tkinter as tk

import pytest

from ocm_core import i18n
from ocm_core.sansio.events import ChatMessage
from ocm_gui import theme
from ocm_gui.chat.banners import Banner
from ocm_gui.chat.scrollback import Scrollback
from ocm_gui.text.wrapped import display_lines

MESSAGE = "了解です。午後の予定は www.example.com/agenda にあります"


@pytest.fixture
def japanese():
    i18n.use_language("ja")
    yield
    i18n.use_language("en")


def make(root: tk.Misc, username: str) -> Scrollback:
    scrollback = Scrollback(root, username=username, later=lambda ms, f: root.after(ms, f), on_retry=lambda i: None)
    scrollback.text.configure(height=12)  # every line in view: only those have a place to read
    scrollback.frame.pack(fill="x")
    return scrollback


def shown_lines(scrollback: Scrollback) -> list[str]:
    scrollback.text.yview_moveto(0.0)
    scrollback.text.update_idletasks()
    return display_lines(scrollback.text)


def widths(root: tk.Misc, scrollback: Scrollback, start: int, stop: int, step: int = 3):
    for width in range(start, stop, step):
        root.geometry(f"{width}x600")
        root.update()
        yield width, shown_lines(scrollback)


def test_the_check_mark_never_takes_the_last_character_of_the_text_with_it(root, japanese):
    root.tk.call("tk", "scaling", theme.BASE_SCALING)  # the widths below are for 96 dpi
    theme.apply_theme(root)
    own, other = make(root, "Alice"), make(root, "Zed")
    own.write([own.own_entry(1, MESSAGE, time.time())])
    own.mark_sent(1)
    other.write([other.message_entry(ChatMessage(1, "Alice", MESSAGE, time.time()))])
    alone_seen = False
    for width, lines in widths(root, own, 280, 460):
        root.update()
        plain = shown_lines(other)
        # The text breaks where it would without the mark; the mark may go down alone.
        assert lines[: len(plain) - 1] == plain[:-1], width
        assert lines[len(plain) - 1].startswith(plain[-1]), width
        last = lines[-1].replace(" ", "")
        assert last == "✓" or len(last) >= 3, (width, lines)  # never "す ✓"
        alone_seen |= last == "✓"
    assert alone_seen  # the range holds widths where the mark does not fit after the text


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_failed_status_keeps_its_number_with_its_unit_and_its_mark_with_its_word(root, language):
    i18n.use_language(language)
    try:
        root.tk.call("tk", "scaling", theme.BASE_SCALING)
        theme.apply_theme(root)
        own = make(root, "Alice")
        own.write([own.own_entry(1, "15時に一緒に確認しませんか？", time.time())])
        reason = i18n._("the server did not confirm it within {seconds:g} s").format(seconds=60)
        own.mark_failed(1, reason)
        assert own.status_text(1) == i18n._("✗ not delivered ({reason})").format(reason=reason) + " " + i18n._("Retry")
        for width, lines in widths(root, own, 260, 700, 5):
            for line in lines[1:]:
                assert not line.endswith(("✗", "60", "（", "(")), (width, lines)
                assert not line.startswith(("s)", "秒", "）")), (width, lines)
    finally:
        i18n.use_language("en")


def test_the_scrollbacks_margins_and_the_banners_padding_grow_with_the_scaling(root):
    root.tk.call("tk", "scaling", theme.BASE_SCALING * 2)
    scrollback = make(root, "Alice")
    text = scrollback.text
    assert int(text.cget("padx")) == 12 and int(text.cget("pady")) == 12
    assert int(text.tag_cget("entry", "lmargin2")) == 52 and int(text.tag_cget("cont", "lmargin1")) == 52
    assert int(text.tag_cget("notice", "spacing1")) == 10
    card = tk.Frame(text, width=40, height=20)
    scrollback.append_widget(card)
    assert int(text.window_cget(card, "padx")) == 44
    banner = Banner(tk.Frame(root), row=0)
    assert [int(str(v)) for v in root.tk.splitlist(banner.frame.cget("padding"))] == [24, 12]


def test_a_join_notice_has_no_full_stop_before_its_time(root, japanese):
    scrollback = make(root, "Alice")
    now = time.time()
    scrollback.write([scrollback.notice_entry(i18n._("{name} joined the room.").format(name="Bob"), now, False)])
    line = scrollback.transcript().splitlines()[-1]
    assert line.startswith("Bob さんが参加しました  ·  ") and "。" not in line
