"""Presence and "typing…", decided on the client without I/O, thread or clock: `now` passed in.

Each person is online, away (no input for `AWAY_AFTER` seconds, or chosen by hand) or offline.
A typing signal goes out at most every `TYPING_EVERY` seconds while someone types, and a shown
"typing" ends `TYPING_SHOWN_FOR` seconds after the last signal, or when that person's message
arrives. Both are ephemeral: nothing here is stored. Times are monotonic seconds.
"""

from __future__ import annotations

import enum

AWAY_AFTER = 600.0  # seconds without input before this client calls itself away
TYPING_EVERY = 3.0  # seconds between two typing signals while typing goes on
TYPING_SHOWN_FOR = 5.0  # seconds "typing" stays shown after the last signal: outlasts one signal's gap


class Presence(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class MyPresence:
    """What this client tells others about itself: online, or away by idleness or by hand."""

    def __init__(self, now: float, away_after: float = AWAY_AFTER) -> None:
        self._away_after = away_after
        self._last_input = now
        self._state = Presence.ONLINE
        self._by_hand = False

    @property
    def state(self) -> Presence:
        return self._state

    @property
    def by_hand(self) -> bool:
        """True while the away was chosen by hand: input alone does not end it."""
        return self._by_hand

    def input_seen(self, now: float) -> Presence | None:
        """The person typed or clicked; the new state to announce, if it changed."""
        self._last_input = now
        if self._state is Presence.AWAY and not self._by_hand:
            return self._become(Presence.ONLINE)
        return None

    def choose(self, away: bool, now: float) -> Presence | None:
        """Away or online chosen by hand; the new state to announce, if it changed."""
        self._by_hand = away
        self._last_input = now  # choosing is input: choosing online must not fall idle at once
        return self._become(Presence.AWAY if away else Presence.ONLINE)

    def tick(self, now: float) -> Presence | None:
        """AWAY once, when the idle time reaches `away_after`; otherwise None."""
        if self._state is Presence.ONLINE and now - self._last_input >= self._away_after:
            return self._become(Presence.AWAY)
        return None

    def _become(self, state: Presence) -> Presence | None:
        if state is self._state:
            return None
        self._state = state
        return state


class TypingSender:
    """When to send a typing signal for one conversation."""

    def __init__(self, every: float = TYPING_EVERY) -> None:
        self._every = every
        self._last_sent: float | None = None

    def keystroke(self, now: float) -> bool:
        """True: send a typing signal now (the first keystroke, then at most once per `every`)."""
        if self._last_sent is not None and now - self._last_sent < self._every:
            return False
        self._last_sent = now
        return True

    def sent_message(self) -> None:
        """The message went: the next keystroke signals at once."""
        self._last_sent = None

    def cleared(self) -> None:
        """The input was emptied: the next keystroke signals at once."""
        self._last_sent = None


class TypingShown:
    """Who is shown typing in one conversation, each until `shown_for` after their last signal."""

    def __init__(self, shown_for: float = TYPING_SHOWN_FOR) -> None:
        self._shown_for = shown_for
        self._until: dict[str, float] = {}  # name -> when their "typing" ends

    def signal(self, name: str, now: float) -> bool:
        """`name` sent a typing signal; True if the shown set changed (stale names expire too)."""
        before = set(self._until)
        self._expire(now)
        self._until[name] = now + self._shown_for
        return set(self._until) != before

    def spoke(self, name: str) -> bool:
        """Their message arrived, or they left: stop showing them; True if they were shown."""
        return self._until.pop(name, None) is not None

    def tick(self, now: float) -> bool:
        """Forget whoever fell silent; True if the shown set changed."""
        return self._expire(now)

    def names(self, now: float) -> tuple[str, ...]:
        """Who is typing at `now`, in the member list's order (casefold)."""
        return tuple(sorted((n for n, until in self._until.items() if now < until), key=str.casefold))

    def next_change(self) -> float | None:
        """When the next "typing" ends, for the shell to schedule a tick; None when nobody is shown."""
        return min(self._until.values(), default=None)

    def _expire(self, now: float) -> bool:
        gone = [name for name, until in self._until.items() if now >= until]
        for name in gone:
            del self._until[name]
        return bool(gone)
