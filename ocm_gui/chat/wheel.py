"""The mouse wheel over a widget embedded in the scrollback (a file card, a picture).

Tk delivers the wheel to the widget under the pointer, and a Label or Frame does nothing
with it, so a picture in the scrollback stopped the scrolling. The scrollback sends such
wheel events to its Text instead; how far a turn scrolls is decided here, without Tk.

X11 (Tk 8.6) sends Button-4 (up) and Button-5 (down). Windows sends <MouseWheel> with a
delta of 120 per notch (less from a fine touchpad); macOS sends small deltas, one per
line. Tk 8.7 and later send multiples of 120 on every system, which is read as notches.
"""

from __future__ import annotations

NOTCH = 120  # a wheel notch's delta on Windows (and on every system from Tk 8.7)
LINES_PER_NOTCH = 3  # as most systems scroll text by default


def wheel_lines(delta: int, windowing_system: str) -> int:
    """Lines to scroll for a <MouseWheel> `delta` (positive scrolls down, towards newer lines).

    `windowing_system` is Tk's: "win32", "aqua" or "x11". Any turn moves at least one line.
    """
    if delta == 0:
        return 0
    if windowing_system == "aqua" and abs(delta) < NOTCH:
        lines = -delta
    else:
        lines = int(-delta * LINES_PER_NOTCH / NOTCH)
    return lines or (-1 if delta > 0 else 1)


def button_lines(button: int) -> int:
    """Lines to scroll for X11's wheel buttons: 4 is up, 5 is down; any other button none."""
    return {4: -LINES_PER_NOTCH, 5: LINES_PER_NOTCH}.get(button, 0)
