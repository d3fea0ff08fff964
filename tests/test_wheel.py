"""How far the mouse wheel scrolls the scrollback over an embedded widget, per platform."""

import pytest

from ocm_gui.chat.wheel import button_lines, wheel_lines


@pytest.mark.parametrize(
    "delta, system, lines",
    [
        (-120, "win32", 3),
        (120, "win32", -3),
        (-240, "win32", 6),
        (-30, "win32", 1),
        (40, "win32", -1),
        (-1, "aqua", 1),
        (3, "aqua", -3),
        (-120, "aqua", 3),
        (-120, "x11", 3),
        (0, "win32", 0),
        (0, "aqua", 0),
    ],
)
def test_wheel_delta_to_lines_per_platform(delta, system, lines):
    assert wheel_lines(delta, system) == lines


def test_x11_wheel_buttons():
    assert (button_lines(4), button_lines(5), button_lines(1)) == (-3, 3, 0)
