"""The start window at Tk scaling 1 and 2, English and Japanese: the intro wraps to the
window's width (no last word alone on a wide window) and the Language row keeps a margin
from the bottom edge."""

from __future__ import annotations

from big_screen import big_screen, on_big_screen, root  # the window at scaling 2 needs room
from test_scaling import scaled_app  # en and ja at Tk scaling 1 and 2

from ocm_gui import theme


def test_the_intro_wraps_to_the_windows_width(scaled_app, root):
    root.update()
    intro = scaled_app.start.intro
    assert int(str(intro.cget("wraplength"))) == intro.winfo_width()
    assert intro.winfo_width() >= scaled_app.start.name_entry.master.winfo_width() - 1


def test_the_language_row_keeps_a_margin_from_the_bottom_edge(scaled_app, root):
    root.update()
    box = scaled_app.start.language_box
    bottom = box.winfo_rooty() + box.winfo_height()
    edge = root.winfo_rooty() + root.winfo_height()
    assert edge - bottom >= theme.scaled(root, 16)
