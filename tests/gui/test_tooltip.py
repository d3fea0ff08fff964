"""Long names cut to fit with "…", the whole name in a tooltip: the pure helpers with a fake
measure, then the Tooltip on a real widget, the chat header and the People list."""

from __future__ import annotations

from tkinter import ttk

import pytest
from big_screen import big_screen, on_big_screen, root  # room for a 1900-pixel window
from gui_helpers import FakeClient, pump, pump_for

from ocm_gui import theme
from ocm_gui.chat.header import share_row
from ocm_gui.chat.members import MemberList
from ocm_gui.text.tooltip import ELLIPSIS, ElidedLabel, Tooltip, ellipsize


def chars(text: str) -> int:
    """A fake font: every character 10 pixels wide, "…" too."""
    return 10 * len(text)


def test_ellipsize_keeps_a_text_that_fits():
    assert ellipsize("Alice", 50, chars) == "Alice"
    assert ellipsize("", 0, chars) == ""


@pytest.mark.parametrize("width, expected", [(49, "Ali…"), (40, "Ali…"), (39, "Al…"), (20, "A…"), (10, "…"), (9, "")])
def test_ellipsize_cuts_to_the_longest_beginning_that_fits_with_the_mark(width, expected):
    shown = ellipsize("Alice", width, chars)
    assert shown == expected
    assert chars(shown) <= width


def test_ellipsize_measures_with_the_given_font_not_by_characters():
    wide = {"W": 30}

    def measure(text: str) -> int:
        return sum(wide.get(c, 10) for c in text)

    assert ellipsize("WWWiii", 75, measure) == "WW…"  # 60 + 10
    assert ellipsize("iiiWWW", 75, measure) == "iiiW…"  # 30 + 30 + 10


def test_ellipsize_drops_a_space_before_the_mark_and_keeps_accents_on_their_letter():
    assert ellipsize("ab cdef", 40, chars) == "ab" + ELLIPSIS  # not "ab …"
    combined = "Rene\u0301e Dupont"  # é as e + a combining accent
    assert ellipsize(combined, 50, chars) == "Ren" + ELLIPSIS  # the e is not left without its accent


@pytest.mark.parametrize(
    "room, first, second, expected",
    [
        (500, 200, 100, (200, 100)),  # both fit whole
        (300, 400, 90, (210, 90)),  # the second is short: it stays whole
        (300, 400, 200, (200, 100)),  # both long: the second keeps a third
        (300, 100, 400, (100, 200)),  # a short first: the second takes what is left
        (-5, 10, 10, (0, 0)),
    ],
)
def test_share_row(room, first, second, expected):
    assert share_row(room, first, second) == expected
    assert sum(share_row(room, first, second)) <= max(0, room)


@pytest.fixture
def entry_with_tooltip(root):
    root.geometry("300x120+40+40")
    entry = ttk.Entry(root)
    entry.pack(padx=20, pady=20)
    label = ttk.Label(root, text="hover me")
    label.pack()
    tooltip = Tooltip(label, "The whole name", delay_ms=30)
    pump(root, lambda: label.winfo_ismapped())
    entry.focus_force()
    pump(root, lambda: root.focus_get() is entry)
    return entry, label, tooltip


def test_tooltip_shows_after_hover_and_never_takes_the_focus(root, entry_with_tooltip):
    entry, label, tooltip = entry_with_tooltip
    label.event_generate("<Enter>", x=5, y=5)
    assert tooltip.shown_text() == ""  # not at once
    pump(root, lambda: tooltip.shown_text() == "The whole name", what="the tooltip")
    pump(root, lambda: tooltip.window.winfo_ismapped())
    assert root.focus_get() is entry
    assert bool(tooltip.window.wm_overrideredirect())


@pytest.mark.parametrize("event", ["<Leave>", "<ButtonPress-1>"])
def test_tooltip_hides_on_leave_and_click(root, entry_with_tooltip, event):
    entry, label, tooltip = entry_with_tooltip
    tooltip.show()
    assert tooltip.shown_text() == "The whole name"
    label.event_generate(event, x=5, y=5)
    root.update()
    assert tooltip.window is None


def test_tooltip_leave_before_the_delay_shows_nothing(root, entry_with_tooltip):
    entry, label, tooltip = entry_with_tooltip
    label.event_generate("<Enter>", x=5, y=5)
    label.event_generate("<Leave>", x=5, y=5)
    pump_for(root, 0.15)  # five times the delay
    assert tooltip.window is None


def test_elided_label_cuts_and_offers_the_whole_text_only_when_cut(root):
    label = ttk.Label(root)
    label.pack()
    elided = ElidedLabel(label, "A rather long room name", "TkDefaultFont")
    elided.fit(elided.natural_width())
    assert not elided.elided and elided.tooltip.current_text() == ""
    elided.fit(elided.natural_width() // 2)
    shown = str(label.cget("text"))
    assert elided.elided and shown.endswith(ELLIPSIS)
    assert elided.font.measure(shown) <= elided.natural_width() // 2
    assert elided.tooltip.current_text() == "A rather long room name"


def test_chat_header_cuts_long_names_and_keeps_the_share_button_in_view(root, app):
    room = "A room whose name goes on and on, far past what any header can show"
    client = FakeClient(
        room=room,
        username="Maximiliana-Theodora-Featherstonehaugh",
        host_name="Bob",
        members=("Bob", "Maximiliana-Theodora-Featherstonehaugh"),
    )
    chat = app.open_chat(client)
    side = app.body.sashpos(0)  # the sidebar beside the room
    chat.win.geometry(f"{700 + side}x500")
    pump(root, lambda: chat.win.winfo_width() == 700 + side)
    root.update()
    assert chat.room_name.elided and chat.room_name.tooltip.current_text() == room
    assert chat.who_name.elided and "Maximiliana-Theodora-Featherstonehaugh" in chat.who_name.tooltip.current_text()
    button = chat.files.share_button
    assert button.winfo_x() + button.winfo_width() <= chat.header.winfo_width()
    # A wider window shows more; a wide enough one shows the names whole.
    chat.win.geometry("1900x500")
    pump(root, lambda: chat.win.winfo_width() == 1900)
    root.update()
    assert not chat.room_name.elided and str(chat.room_label.cget("text")) == room


def test_people_list_cuts_long_names_and_shows_the_hovered_row_whole(root):
    root.geometry("200x200")
    people = MemberList(root, you="carol")
    people.frame.pack(fill="both", expand=True)
    long_name = "Bartholomew-Featherstonehaugh-Smythe"
    people.set(("carol", long_name), host=long_name)
    pump(root, lambda: people.listbox.winfo_width() > 1)
    root.update()
    whole = f"★ {long_name} (host)"
    assert people.labels() == [whole, "carol (you)"]
    shown = people.shown_labels()
    # the name is cut, its marks stay whole
    assert shown[0].endswith(ELLIPSIS + " (host)") and whole.startswith(shown[0][: -len(ELLIPSIS + " (host)")])
    assert shown[1] == "carol (you)"
    people.tooltip.show_row(0)
    assert people.tooltip.tooltip.shown_text() == whole
    people.tooltip.show_row(1)  # shown whole: no tooltip
    assert people.tooltip.tooltip.shown_text() == ""
    assert [str(people.listbox.itemcget(row, "foreground")) for row in (0, 1)] == ["", theme.OWN_FG]
