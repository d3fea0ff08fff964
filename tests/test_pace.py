"""The speed floor of a file transfer, on a fake clock."""

from __future__ import annotations

from ocm_core.sansio.pace import PaceFloor


def test_a_transfer_at_the_floor_or_above_keeps_going_window_after_window():
    pace = PaceFloor(started=0.0, min_rate=100.0, window=10.0)
    assert all(pace.moved(100, float(t)) for t in range(1, 60))  # 100 bytes a second, exactly the floor


def test_a_trickle_is_given_up_at_the_end_of_its_first_window_not_before():
    pace = PaceFloor(started=0.0, min_rate=100.0, window=10.0)
    assert all(pace.moved(5, float(t)) for t in range(1, 10))  # judged only once a window has passed
    assert pace.moved(5, 10.0) is False


def test_a_stall_then_a_burst_is_judged_over_the_whole_window_it_took():
    pace = PaceFloor(started=0.0, min_rate=100.0, window=10.0)
    assert pace.moved(999, 10.0) is False  # 999 bytes in 10 s: just under 1,000
    pace = PaceFloor(started=0.0, min_rate=100.0, window=10.0)
    assert pace.moved(2_500, 25.0) is True  # one late burst over 25 s: 100 a second, kept
    assert pace.moved(0, 34.9) is True and pace.moved(0, 35.0) is False  # the next window: nothing


def test_each_window_starts_counting_from_nothing():
    pace = PaceFloor(started=0.0, min_rate=100.0, window=10.0)
    assert pace.moved(1_000, 10.0) is True
    assert pace.moved(999, 20.0) is False  # one byte short in the second window: given up
