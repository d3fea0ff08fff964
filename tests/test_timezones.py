"""The date and time words under real time zones: one with daylight saving (a 23-hour and a
25-hour day) and one east of UTC, each set per test with TZ (POSIX: time.tzset)."""

from __future__ import annotations

import calendar
import time

import pytest

from ocm_core.i18n import use_language
from ocm_gui.chat.chatlines import clock_text, continues_group, day_label

pytestmark = pytest.mark.skipif(not hasattr(time, "tzset"), reason="TZ is read again only where time.tzset exists")


@pytest.fixture
def zone(monkeypatch):
    """Set the local time zone for the test (and put it back after)."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def utc(*fields: int) -> float:
    return float(calendar.timegm((*fields, 0, 0, 0, 0)[:6] + (0, 0, 0)))


def test_yesterday_is_the_day_before_across_a_23_hour_day(zone):
    """Berlin springs forward on 2026-03-29: that day has 23 hours. Just after midnight on the
    30th, 'now minus 24 hours' would land on the 28th and call the 29th a date."""
    zone("Europe/Berlin")
    use_language("en")
    now = utc(2026, 3, 29, 22, 30)  # 00:30 on the 30th, summer time
    assert clock_text(now) == "00:30"
    assert day_label(utc(2026, 3, 29, 8, 0), now) == "Yesterday"  # 10:00 on the 29th
    assert day_label(utc(2026, 3, 28, 8, 0), now) == "Saturday, 28 March 2026"
    assert day_label(utc(2026, 3, 29, 21, 59), now) == "Yesterday"  # 23:59 on the 29th


def test_yesterday_across_a_25_hour_day(zone):
    """Berlin falls back on 2026-10-25: that day has 25 hours."""
    zone("Europe/Berlin")
    use_language("en")
    now = utc(2026, 10, 25, 23, 30)  # 00:30 on the 26th, winter time
    assert day_label(utc(2026, 10, 25, 0, 30), now) == "Yesterday"  # 02:30 on the 25th, the first time
    assert day_label(utc(2026, 10, 24, 21, 59), now) == "Saturday, 24 October 2026"  # 23:59 on the 24th


def test_days_and_groups_follow_the_local_midnight_east_of_utc(zone):
    """In Tokyo (UTC+9) a day starts at 15:00 UTC: two lines on one UTC day are on two days."""
    zone("Asia/Tokyo")
    use_language("ja")
    try:
        late, early = utc(2026, 11, 24, 14, 50), utc(2026, 11, 24, 15, 10)  # 23:50 and 00:10 in Tokyo
        assert clock_text(late) == "23:50" and clock_text(early) == "00:10"
        assert day_label(late, early) == "昨日" and day_label(early, early) == "今日"
        assert not continues_group(("Bob", late), "Bob", early)  # past the local midnight: a new group
    finally:
        use_language("en")
