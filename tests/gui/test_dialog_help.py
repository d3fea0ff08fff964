"""The Join dialog's "nothing found" help at Tk scaling 1 and 2, in English and Japanese:
it wraps to the dialog's width, breaks Japanese only where it may, hangs each bullet's
later lines under its text, and the dialog's paddings grow with the scaling."""

from __future__ import annotations

import pytest
from big_screen import big_screen, on_big_screen, root  # the dialog at scaling 2 needs room
from gui_helpers import pump
from test_scaling import scaled_app  # en and ja at Tk scaling 1 and 2

from ocm_gui import theme
from ocm_gui.dialogs import join as dialogs
from ocm_gui.text.linebreak import NO_END, NO_START
from ocm_gui.text.wrapped import BULLETS


@pytest.fixture
def help_shown(scaled_app, root, monkeypatch):
    monkeypatch.setattr(dialogs, "EMPTY_NETWORK_MS", 200)
    dialog = scaled_app.open_join_dialog()
    pump(root, lambda: dialog.help_frame.winfo_ismapped(), timeout=5, what="the nothing-found help")
    root.update()
    yield dialog
    dialog.close()


def test_the_help_wraps_to_the_dialogs_width_and_shows_every_line(help_shown, root):
    text = help_shown.help_text.text
    body = help_shown.body
    inside = body.winfo_width() - 2 * theme.scaled(root, 18)
    assert text.winfo_width() >= inside - 2  # the dialog's width, not a fixed narrow column
    assert text.dlineinfo("end-1c linestart") is not None  # tall enough for its last line
    lines = help_shown.help_text.display_lines()
    assert len(lines) >= len(dialogs.nothing_found_items())
    # The whole text shows, marks and all.
    for _level, words in dialogs.nothing_found_items():
        assert words in help_shown.help_text.plain()


def test_the_help_breaks_only_where_it_may(help_shown):
    lines = help_shown.help_text.display_lines()
    for line in lines:
        assert line not in BULLETS.values(), lines  # no mark alone on its line
        assert line[0] not in NO_START, lines  # kinsoku: nothing that may not start one
        assert line[-1] not in NO_END, lines  # ... or end one
        assert not line.endswith(("Windows：", "Windows:")), lines  # the platform stays with its step


def test_a_bullets_later_lines_hang_under_its_text(help_shown, root):
    text = help_shown.help_text.text
    first = text.search(BULLETS[1], "1.0")
    start = text.bbox(f"{first} +2c")  # the first letter after "• "
    second_line = text.index(f"{first} +1 display lines display linestart")
    assert text.compare(second_line, "<", f"{first} lineend"), "the firewall bullet fits one line"
    assert abs(text.bbox(second_line)[0] - start[0]) <= 1


def test_the_dialogs_paddings_grow_with_the_scaling(help_shown, root):
    padding = [int(str(v)) for v in root.tk.splitlist(help_shown.body.cget("padding"))]
    assert padding == [theme.scaled(root, v) for v in (18, 16, 18, 8)]
    assert int(str(help_shown.ok_button.grid_info()["padx"][0])) == theme.scaled(root, 8)


def test_the_people_count_sits_under_its_heading(scaled_app, root):
    dialog = scaled_app.open_join_dialog()
    root.update()
    assert str(dialog.tree.heading("people", "anchor")) == str(dialog.tree.column("people", "anchor")) == "center"
    assert str(dialog.tree.heading("room", "anchor")) == str(dialog.tree.column("room", "anchor")) == "w"
    dialog.close()
