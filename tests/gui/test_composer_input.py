"""The chat input: it grows with its text and shrinks back, the "not sent" line has its own
row and goes away when it no longer applies, the right-click menu and select-all, and how
Send looks disabled and focused."""

from __future__ import annotations

import os
import tkinter as tk
from tkinter import ttk

import pytest
from big_screen import big_screen, on_big_screen, root  # Pillow reads 24-bit screens only
from gui_helpers import pump
from PIL import ImageGrab

from ocm_gui import theme
from ocm_gui.chat.composer import Composer
from ocm_gui.chat.composer_rules import MAX_LINES, MIN_LINES, input_height
from ocm_gui.theme import menu_buttons


@pytest.fixture
def composer(root):
    theme.apply_theme(root)
    root.geometry("600x700")
    sent = []
    composer = Composer(
        root,
        limit=30,
        measure=lambda text: len(text.encode("utf-8")),
        on_send=lambda: sent.append(composer.message()),
        on_leave=lambda: None,
        leave_text="Leave",
    )
    composer.frame.pack(side="bottom", fill="x")
    pump(root, lambda: composer.input.winfo_ismapped())
    composer.sent = sent
    return composer


def height(composer) -> int:
    return int(composer.input.cget("height"))


def type_text(root, composer, text: str) -> None:
    composer.input.insert("end", text)
    composer.input.event_generate("<<Modified>>")
    root.update()


def test_input_height_is_clamped():
    assert [input_height(n) for n in (0, 1, 2, 3, 5, 6, 40)] == [2, 2, 2, 3, 5, 5, 5]
    assert input_height(9, fits=3) == 3 and input_height(9, fits=0) == MIN_LINES


def test_input_grows_with_lines_up_to_the_most_then_scrolls_and_shrinks_when_cleared(root, composer):
    assert height(composer) == MIN_LINES
    type_text(root, composer, "one\ntwo\nthree")
    assert height(composer) == 3
    type_text(root, composer, "\nfour\nfive\nsix\nseven")
    assert height(composer) == MAX_LINES
    assert composer.input.yview()[0] > 0  # scrolled: the line being typed stays in view
    composer.clear()
    root.update()
    assert height(composer) == MIN_LINES


def test_wrapped_lines_count_as_lines(root, composer):
    type_text(root, composer, "word " * 60)  # one line of text, several on screen
    assert "\n" not in composer.text() and composer.display_lines() >= 3
    assert height(composer) == min(MAX_LINES, composer.display_lines())


def test_input_never_takes_more_than_its_share_of_a_short_window(root, composer):
    root.geometry("600x200")
    pump(root, lambda: root.winfo_height() == 200)
    type_text(root, composer, "a\nb\nc\nd\ne\nf")
    line = theme.named_font(root, "OCMChat").metrics("linespace")
    assert height(composer) * line <= 200 // 5 + line  # a fifth of the window (at least MIN_LINES)
    assert height(composer) < MAX_LINES


def test_the_not_sent_line_has_its_own_row_wraps_and_clears_when_the_input_is_cleared(root, composer):
    assert not composer.hint.winfo_ismapped()
    type_text(root, composer, "x" * 31)
    reason = "Not sent: the message is 1 character too long; " + "shorten it or split it in two. " * 4
    composer.show_hint(reason, error=True)
    root.update()
    assert composer.hint.winfo_ismapped()
    # Its own row, not beside the counter: it ends above the counter's row, and wraps inside.
    hint_row = int(composer.hint.grid_info()["row"])
    assert hint_row != int(composer.foot.grid_info()["row"])
    assert composer.hint.winfo_y() + composer.hint.winfo_height() <= composer.foot.winfo_y()
    assert composer.hint.winfo_reqwidth() <= composer.frame.winfo_width()
    assert composer.hint.winfo_reqheight() > composer.counter.winfo_reqheight()  # more than one line
    composer.input.delete("1.0", "end")
    composer.input.event_generate("<<Modified>>")
    root.update()
    assert not composer.hint.winfo_ismapped() and str(composer.hint.cget("text")) == ""


def test_the_not_sent_line_clears_when_the_text_is_edited_under_the_limit(root, composer):
    type_text(root, composer, "x" * 32)
    composer.show_hint("Not sent: too long", error=True)
    composer.input.delete("end-2c", "end")  # 31 bytes: still over
    composer.input.event_generate("<<Modified>>")
    root.update()
    assert str(composer.hint.cget("text")) == "Not sent: too long"
    composer.input.delete("end-2c", "end")  # 30: fits
    composer.input.event_generate("<<Modified>>")
    root.update()
    assert str(composer.hint.cget("text")) == ""


def test_a_closed_room_line_stays(root, composer):
    composer.disable("The room is closed.", "Close window")
    root.update()
    assert composer.hint.winfo_ismapped() and str(composer.hint.cget("text")) == "The room is closed."
    assert not composer.counter.winfo_ismapped() and not composer.tips.winfo_ismapped()


def entry_states(composer) -> dict[str, str]:
    return {
        composer.menu.entrycget(i, "label"): str(composer.menu.entrycget(i, "state"))
        for i in range(int(composer.menu.index("end")) + 1)
        if composer.menu.type(i) == "command"
    }


def test_context_menu_entries_are_enabled_only_where_they_can_act(root, composer):
    root.clipboard_clear()
    composer.open_menu()
    assert entry_states(composer) == {
        "Cut": "disabled",
        "Copy": "disabled",
        "Paste": "disabled",
        "Select all": "disabled",
    }
    type_text(root, composer, "hello world")
    composer.input.tag_add("sel", "1.0", "1.5")
    root.clipboard_append("pasted")
    composer.open_menu()
    assert entry_states(composer) == {"Cut": "normal", "Copy": "normal", "Paste": "normal", "Select all": "normal"}
    composer.disable("closed", "Close window")
    composer.open_menu()
    states = entry_states(composer)
    assert states["Cut"] == "disabled" and states["Paste"] == "disabled" and states["Copy"] == "normal"


def test_context_menu_commands_act_on_the_input(root, composer):
    type_text(root, composer, "hello world")
    composer.input.focus_force()
    composer.input.tag_add("sel", "1.0", "1.6")
    composer.menu.invoke(composer._menu_index["Cut"])
    root.update()
    assert composer.text() == "world" and root.clipboard_get() == "hello "
    composer.input.mark_set("insert", "end-1c")
    composer.menu.invoke(composer._menu_index["Paste"])
    root.update()
    assert composer.text() == "worldhello "
    composer.menu.invoke(composer._menu_index["Select all"])
    assert composer.input.get("sel.first", "sel.last") == "worldhello "


def test_right_click_opens_the_menu_where_each_platform_expects():
    assert menu_buttons("linux") == ("<Button-3>",) and menu_buttons("win32") == ("<Button-3>",)
    assert "<Button-2>" in menu_buttons("darwin") and "<Control-Button-1>" in menu_buttons("darwin")


def test_control_a_selects_all_instead_of_going_to_the_line_start(root, composer):
    type_text(root, composer, "first line\nsecond line")
    composer.input.focus_force()
    pump(root, lambda: root.focus_get() is composer.input)
    composer.input.mark_set("insert", "2.3")
    composer.input.event_generate(theme.shortcut("a"))
    root.update()
    assert composer.input.get("sel.first", "sel.last") == "first line\nsecond line"


def pixel(widget: tk.Widget, x: int, y: int) -> tuple[int, int, int]:
    left, top = widget.winfo_rootx() + x, widget.winfo_rooty() + y
    return ImageGrab.grab(bbox=(left, top, left + 1, top + 1), xdisplay=os.environ["DISPLAY"]).getpixel((0, 0))[:3]


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def test_send_looks_grey_when_disabled_and_shows_a_focus_ring(root, composer):
    if ttk.Style(root).theme_use() != "clam":
        pytest.skip("the accent colours are ours only in the clam theme")
    button = composer.send_button
    height = button.winfo_height()
    face = (theme.scaled(button, 6), height // 2)  # inside the border, left of the text
    root.update()
    assert pixel(button, *face) == hex_rgb(theme.ACCENT)
    button.state(["disabled"])
    root.update()
    assert pixel(button, *face) == hex_rgb(theme.DISABLED_BG)  # grey like any disabled button, not blue
    button.state(["!disabled"])
    button.focus_force()
    pump(root, lambda: root.focus_get() is button)
    edge = [pixel(button, x, height // 2) for x in (0, 1)]
    assert edge == [hex_rgb(theme.ACCENT_FOCUS)] * 2  # a two-pixel dark edge
    ring = {
        pixel(button, x, y) for x in range(2, theme.scaled(button, 6)) for y in range(height // 2 - 2, height // 2 + 2)
    }
    assert (255, 255, 255) in ring  # and the dotted white ring inside it
