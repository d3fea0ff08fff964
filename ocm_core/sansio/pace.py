"""How slow a file transfer may be and keep its slot: decided without I/O, time passed in.

A transfer slot is scarce (eight by default); someone who trickles a few bytes a second would
hold one for hours without ever tripping the idle timeout. So after its first `window`
seconds a transfer must move at least `min_rate` bytes a second, measured over each window;
one that does not is given up. A phone on a poor Wi-Fi moves a hundred times the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MIN_RATE = 8 * 1024  # bytes a second, over each window
DEFAULT_WINDOW = 15.0  # seconds


@dataclass
class PaceFloor:
    started: float
    min_rate: float = DEFAULT_MIN_RATE
    window: float = DEFAULT_WINDOW
    _window_start: float = field(init=False)
    _moved: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._window_start = self.started

    def moved(self, count: int, now: float) -> bool:
        """`count` more bytes moved by `now`; False when the last whole window was too slow."""
        self._moved += count
        elapsed = now - self._window_start
        if elapsed < self.window:
            return True
        fast_enough = self._moved >= self.min_rate * elapsed
        self._window_start, self._moved = now, 0
        return fast_enough
