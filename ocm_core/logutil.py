"""A log line that may repeat thousands of times a second (under a flood) is written at most
once per interval per kind, with a count of the ones held back; no threads, clock injected."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable


class ThrottledLog:
    def __init__(self, logger: logging.Logger, interval: float, clock: Callable[[], float] = time.monotonic):
        self._logger, self.interval, self._clock = logger, interval, clock
        self._kinds: dict[Hashable, tuple[float, int]] = {}  # kind -> (last written, held back since)

    def log(self, kind: Hashable, level: int, message: str, *args) -> bool:
        """Write `message % args` unless a line of `kind` was written within the interval; True if written."""
        now = self._clock()
        last, held = self._kinds.get(kind, (float("-inf"), 0))
        if now - last < self.interval:
            self._kinds[kind] = (last, held + 1)
            return False
        if len(self._kinds) > 10_000:  # kinds keyed by an address must not grow without end
            self._kinds.clear()
        more = f" ({held} more like it since the last report)" if held else ""
        self._logger.log(level, message + "%s", *args, more)
        self._kinds[kind] = (now, 0)
        return True
