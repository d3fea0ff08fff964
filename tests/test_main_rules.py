"""The main window's decisions without Tk: which room a key leads to, what the quick switcher
offers, what the title and the sidebar say."""

from __future__ import annotations

import pytest

from ocm_gui.main.rules import next_index, row_labels, switcher_matches, window_title


@pytest.mark.parametrize(
    ("current", "count", "step", "expected"),
    [
        (None, 0, 1, None),  # no rooms: nowhere to go
        (None, 3, 1, 0),  # the start page: Ctrl+Tab goes to the first room
        (None, 3, -1, 2),  # ... Ctrl+Shift+Tab to the last
        (0, 3, 1, 1),
        (2, 3, 1, 0),  # round from the last to the first
        (0, 3, -1, 2),  # and back
        (1, 3, -1, 0),
        (0, 1, 1, 0),
    ],
)
def test_next_index_goes_round_the_rooms(current, count, step, expected):
    assert next_index(current, count, step) == expected


def test_the_switcher_offers_rooms_that_start_with_what_was_typed_first():
    names = ["Lunch", "team lunch", "Tea time", "お茶会", "ＬＵＮＣＨ ２"]
    assert switcher_matches("", names) == [0, 1, 2, 3, 4]  # nothing typed: every room, in order
    assert switcher_matches("  ", names) == [0, 1, 2, 3, 4]
    assert switcher_matches("lun", names) == [0, 4, 1]  # starts with, case and width folded, then inside
    assert switcher_matches("TEA", names) == [1, 2]  # both start with it
    assert switcher_matches("茶", names) == [3]
    assert switcher_matches("zz", names) == []


def test_the_title_counts_every_rooms_unread_messages():
    assert window_title("OCM", None, 0) == "OCM"
    assert window_title("OCM", None, 2) == "(2) OCM"
    assert window_title("OCM", "Lunch", 0) == "Lunch — OCM"
    assert window_title("OCM", "Lunch", 4) == "(4) Lunch — OCM"


def test_rooms_of_the_same_name_show_their_server():
    rooms = [("Lunch", "10.0.0.1:9090"), ("Lunch", "10.0.0.2:9090"), ("Tea", "10.0.0.1:9090")]
    assert row_labels(rooms) == ["Lunch · 10.0.0.1:9090", "Lunch · 10.0.0.2:9090", "Tea"]
    assert row_labels([]) == []


def test_menus_write_shortcuts_as_each_system_does():
    from ocm_gui.app import key_label

    assert key_label("k", "linux") == "Ctrl+K" and key_label("k", "darwin") == "Cmd+K"
    assert key_label("Shift+F", "win32") == "Ctrl+Shift+F" and key_label("Shift+F", "darwin") == "Cmd+Shift+F"
