"""Presence and "typing…" on a fake clock: plain numbers of seconds, no thread, no sleep."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ocm_core.sansio.presence import (
    AWAY_AFTER,
    TYPING_EVERY,
    TYPING_SHOWN_FOR,
    MyPresence,
    Presence,
    TypingSender,
    TypingShown,
)

# --- MyPresence: what this client announces about itself


def test_a_client_starts_online_and_not_by_hand():
    me = MyPresence(now=0.0)
    assert me.state is Presence.ONLINE and me.by_hand is False
    assert Presence.AWAY == "away"  # a StrEnum: the value is what the shell puts on the wire


def test_idleness_turns_away_at_ten_minutes_not_before_and_says_so_once():
    me = MyPresence(now=0.0)
    assert AWAY_AFTER == 600.0
    assert me.tick(599.999) is None
    assert me.tick(600.0) is Presence.AWAY
    assert [me.tick(t) for t in (600.0, 601.0, 5_000.0)] == [None, None, None]
    assert me.state is Presence.AWAY and me.by_hand is False


def test_input_restarts_the_idle_count():
    me = MyPresence(now=0.0)
    assert me.input_seen(300.0) is None  # already online: nothing to announce
    assert me.tick(899.0) is None
    assert me.tick(900.0) is Presence.AWAY


def test_input_ends_an_automatic_away_and_the_next_idleness_is_announced_again():
    me = MyPresence(now=0.0, away_after=10.0)
    assert me.tick(10.0) is Presence.AWAY
    assert me.input_seen(12.0) is Presence.ONLINE
    assert me.input_seen(13.0) is None
    assert me.tick(22.9) is None
    assert me.tick(23.0) is Presence.AWAY  # a second idle stretch: announced once more


def test_a_hand_chosen_away_is_not_undone_by_input_or_time():
    me = MyPresence(now=0.0)
    assert me.choose(away=True, now=5.0) is Presence.AWAY
    assert me.by_hand is True
    assert me.input_seen(6.0) is None
    assert me.tick(10_000.0) is None
    assert me.state is Presence.AWAY and me.by_hand is True


def test_choosing_online_clears_a_hand_chosen_away_and_counts_as_input():
    me = MyPresence(now=0.0)
    me.choose(away=True, now=0.0)
    assert me.choose(away=False, now=1_000.0) is Presence.ONLINE
    assert me.by_hand is False
    assert me.tick(1_000.0) is None  # idle since 0, but choosing was input: not away at once
    assert me.tick(1_600.0) is Presence.AWAY  # and idleness works again
    assert me.by_hand is False


def test_choosing_away_while_idle_away_makes_it_hand_chosen_without_a_new_announcement():
    me = MyPresence(now=0.0)
    me.tick(600.0)
    assert me.choose(away=True, now=700.0) is None  # already away: nothing new to tell
    assert me.by_hand is True
    assert me.input_seen(701.0) is None  # now input no longer ends it


def test_choosing_the_state_one_is_already_in_announces_nothing():
    me = MyPresence(now=0.0)
    assert me.choose(away=False, now=1.0) is None
    assert me.choose(away=True, now=2.0) is Presence.AWAY
    assert me.choose(away=True, now=3.0) is None


# --- TypingSender: when to tell others this person is typing


def test_typing_signals_at_the_first_keystroke_then_once_every_three_seconds():
    sender = TypingSender()
    assert TYPING_EVERY == 3.0
    sent = [t for t in (0.0, 1.0, 2.0, 2.999, 3.0, 4.0, 5.9, 6.0, 7.0) if sender.keystroke(t)]
    assert sent == [0.0, 3.0, 6.0]


def test_a_pause_longer_than_the_interval_signals_at_the_next_keystroke():
    sender = TypingSender(every=3.0)
    assert sender.keystroke(0.0) is True
    assert sender.keystroke(10.0) is True
    assert sender.keystroke(11.0) is False


def test_after_a_message_went_the_next_keystroke_signals_at_once():
    sender = TypingSender()
    assert sender.keystroke(0.0) is True
    sender.sent_message()
    assert sender.keystroke(0.5) is True
    assert sender.keystroke(1.0) is False  # and the interval counts from there


def test_after_the_input_was_emptied_the_next_keystroke_signals_at_once():
    sender = TypingSender()
    assert sender.keystroke(0.0) is True
    sender.cleared()
    assert sender.keystroke(1.0) is True


# --- TypingShown: who is shown typing in one conversation


def test_shown_typing_ends_five_seconds_after_the_last_signal_not_before():
    shown = TypingShown()
    assert TYPING_SHOWN_FOR == 5.0
    assert shown.signal("Bob", 0.0) is True
    assert shown.names(4.999) == ("Bob",)
    assert shown.tick(4.999) is False
    assert shown.names(5.0) == ()  # gone even before the shell ticks
    assert shown.tick(5.0) is True
    assert shown.tick(6.0) is False
    assert shown.next_change() is None


def test_a_new_signal_keeps_them_shown_five_seconds_from_it():
    shown = TypingShown()
    shown.signal("Bob", 0.0)
    assert shown.signal("Bob", 3.0) is False  # already shown: the set did not change
    assert shown.next_change() == 8.0
    assert shown.tick(7.999) is False and shown.names(7.999) == ("Bob",)
    assert shown.tick(8.0) is True and shown.names(8.0) == ()


def test_their_message_stops_showing_them_at_once():
    shown = TypingShown()
    shown.signal("Bob", 0.0)
    shown.signal("Carol", 1.0)
    assert shown.spoke("Bob") is True
    assert shown.names(1.0) == ("Carol",)
    assert shown.spoke("Bob") is False  # no longer shown: nothing changes
    assert shown.spoke("Dave") is False
    assert shown.signal("Bob", 2.0) is True  # typing again: shown again


def test_a_signal_also_drops_whoever_fell_silent():
    shown = TypingShown()
    shown.signal("Alice", 0.0)
    shown.signal("Bob", 1.0)
    assert shown.signal("Bob", 5.5) is True  # Bob already shown, but Alice's 5 s are over
    assert shown.names(5.5) == ("Bob",)


def test_next_change_is_the_earliest_expiry():
    shown = TypingShown(shown_for=5.0)
    assert shown.next_change() is None
    shown.signal("Bob", 2.0)
    shown.signal("Alice", 1.0)
    assert shown.next_change() == 6.0
    shown.spoke("Alice")
    assert shown.next_change() == 7.0
    shown.tick(7.0)
    assert shown.next_change() is None


def test_names_are_in_the_member_list_order_japanese_names_too():
    shown = TypingShown()
    for name in ("太郎", "bob", "サクラ", "Alice", "さくら", "佐藤", "Émile", "carol"):
        shown.signal(name, 0.0)
    assert shown.names(1.0) == ("Alice", "bob", "carol", "Émile", "さくら", "サクラ", "佐藤", "太郎")


# --- the two ends together: one person's keystrokes, through the sender, to another's screen

GRID = 1 / 1024  # times on a binary grid, so float sums are exact and the bounds are tested to the tick


@given(st.integers(0, 10_000).map(float), st.lists(st.integers(0, 2048), min_size=1, max_size=60))
def test_while_keystrokes_come_at_most_two_seconds_apart_typing_never_flickers_off(start, gaps):
    # A keystroke not signalled is under 3 s after the last signal, so 2 s more stay under 5 s.
    sender, shown = TypingSender(), TypingShown()
    times = [start]
    for gap in gaps[1:]:
        times.append(times[-1] + gap * GRID)
    signals: list[float] = []
    for now in times:
        if signals:
            assert shown.names(now) == ("Bob",)  # just before this keystroke: still shown
        if sender.keystroke(now):
            signals.append(now)
            shown.signal("Bob", now)
        assert shown.names(now) == ("Bob",)
    assert signals[0] == times[0]
    assert all(b - a >= TYPING_EVERY for a, b in zip(signals, signals[1:]))  # never more often
    last = times[-1]
    assert shown.next_change() == signals[-1] + TYPING_SHOWN_FOR <= last + TYPING_SHOWN_FOR
    assert shown.names(last + TYPING_SHOWN_FOR) == ()  # and gone within 5 s of silence
