"""The scrollback's decisions without Tk: links, groups, date lines, the opening line, menu buttons."""

from __future__ import annotations

import time

import pytest

from ocm_core.i18n import use_language
from ocm_gui.chat.chatlines import (
    GROUP_SECONDS,
    clock_text,
    continues_group,
    day_label,
    find_links,
    link_target,
    menu_keys,
    names_text,
    opening_line,
    pick_colour,
)
from ocm_gui.theme import menu_buttons


def links(text: str) -> list[str]:
    return [text[start:end] for start, end in find_links(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("see https://example.com.", ["https://example.com"]),
        ("see http://example.com/a?b=1&c=2#d, then", ["http://example.com/a?b=1&c=2#d"]),
        ("www.example.org!", ["www.example.org"]),
        ("(https://example.com/x)", ["https://example.com/x"]),
        ("https://en.wikipedia.org/wiki/Tk_(software).", ["https://en.wikipedia.org/wiki/Tk_(software)"]),
        ("「https://example.jp/資料」を見て", ["https://example.jp/"]),
        ("詳しくはhttps://example.jp/a。明日また", ["https://example.jp/a"]),
        ("https://example.jp/aです", ["https://example.jp/a"]),
        ("<https://example.com/q>", ["https://example.com/q"]),
        ('"https://example.com/q"', ["https://example.com/q"]),
        ("HTTPS://EXAMPLE.COM/X", ["HTTPS://EXAMPLE.COM/X"]),
        ("two: https://a.example https://b.example", ["https://a.example", "https://b.example"]),
        ("not links: javascript:alert(1) file:///etc/passwd ftp://x.example mailto:a@b.example", []),
        ("no host: http:// https:///path www.", []),
        ("inside words: xwww.example.com foo/www.example.com a@www.example.com", []),
        ("", []),
    ],
)
def test_find_links(text, expected):
    assert links(text) == expected


def test_link_targets_open_only_http_and_https():
    assert link_target("www.example.com/a") == "https://www.example.com/a"
    assert link_target("WWW.example.com") == "https://WWW.example.com"
    assert link_target("http://example.com") == "http://example.com"
    assert link_target("https://localhost:8080/x") == "https://localhost:8080/x"
    for bad in (
        "javascript:alert(1)",
        "JavaScript://example.com/%0aalert(1)",
        "file:///etc/passwd",
        "data:text/html,x",
        "ftp://example.com",
        "https://",
        "https://exa mple.com",
        "http://[::1",
        "vbscript:x",
        "//example.com",
        "example.com",
    ):
        assert link_target(bad) is None, bad


def local(*parts: int) -> float:
    """Epoch seconds of a local time (year, month, day, hour, minute)."""
    year, month, day, hour, minute = parts
    return time.mktime((year, month, day, hour, minute, 0, 0, 0, -1))


def test_messages_group_by_sender_within_five_minutes_on_one_day():
    start = local(2026, 11, 24, 10, 0)
    assert continues_group(("Bob", start), "Bob", start + GROUP_SECONDS)
    assert not continues_group(("Bob", start), "Bob", start + GROUP_SECONDS + 1)
    assert not continues_group(("Bob", start), "Carol", start + 1)
    assert not continues_group(None, "Bob", start)
    assert continues_group(("Bob", start + 3), "Bob", start)  # one's own clock a little behind the server's
    late = local(2026, 11, 24, 23, 58)
    assert not continues_group(("Bob", late), "Bob", late + 180)  # past midnight: a new day, a new group


def test_day_labels_and_times():
    now = local(2026, 11, 25, 9, 30)
    use_language("en")
    try:
        assert day_label(local(2026, 11, 25, 0, 1), now) == "Today"
        assert day_label(local(2026, 11, 24, 23, 59), now) == "Yesterday"
        assert day_label(local(2026, 11, 24, 10, 0), local(2026, 11, 26, 9, 0)) == "Tuesday, 24 November 2026"
        assert day_label(local(2026, 12, 31, 10, 0), local(2027, 1, 1, 9, 0)) == "Yesterday"  # across a year
        assert clock_text(local(2026, 11, 24, 7, 5)) == "07:05"  # the date line says the day
        use_language("ja")
        assert day_label(local(2026, 11, 24, 10, 0), local(2026, 11, 26, 9, 0)) == "2026年11月24日(火)"
        assert day_label(now, now) == "今日" and day_label(local(2026, 11, 24, 8, 0), now) == "昨日"
    finally:
        use_language("en")


def test_names_are_listed_and_shortened_past_a_few():
    use_language("en")
    assert names_text([]) == ""
    assert names_text(["A"]) == "A"
    assert names_text(["A", "B"]) == "A and B"
    assert names_text(["A", "B", "C", "D"]) == "A, B, C and D"
    assert names_text(["A", "B", "C", "D", "E"]) == "A, B, C and 2 others"
    use_language("ja")
    try:
        assert names_text(["A", "B", "C"]) == "A、B、C"
        assert names_text(["A", "B", "C", "D", "E", "F"]) == "A、B、C ほか 3 人"
    finally:
        use_language("en")


def test_opening_line_tells_the_host_to_share_and_a_member_who_is_here():
    use_language("en")
    assert opening_line("お茶会", is_host=True, you="A", members=["A"], address="192.168.1.20:9090") == (
        "You host “お茶会”. Others join with 192.168.1.20:9090 — share it."
    )
    assert opening_line("r", is_host=True, you="A", members=["A"], address=None) == "You host “r”."
    assert opening_line("r", is_host=False, you="me", members=["Bob", "me", "Carol"], address=None) == (
        "You joined “r”. Here now: Bob and Carol"
    )
    assert opening_line("r", is_host=False, you="me", members=["me"], address=None) == (
        "You joined “r”. No one else is here yet."
    )
    use_language("ja")
    try:
        assert opening_line("お茶会", is_host=False, you="me", members=["花子", "me"], address=None) == (
            "「お茶会」に参加しました。いまいるのは 花子 です。"
        )
        assert opening_line("お茶会", is_host=True, you="A", members=["A"], address="10.0.0.2:9090") == (
            "「お茶会」をホストしています。ほかの人はアドレス 10.0.0.2:9090 で参加できます。みんなに伝えてください。"
        )
    finally:
        use_language("en")


def test_context_menu_buttons_per_platform():
    assert menu_buttons("linux") == ("<Button-3>",)  # Button-2 pastes on X11
    assert menu_buttons("win32") == ("<Button-3>",)
    assert set(menu_buttons("darwin")) == {"<Button-2>", "<Button-3>", "<Control-Button-1>"}
    assert menu_keys("linux") == ("<Shift-F10>", "<Menu>")
    assert menu_keys("win32") == ("<Shift-F10>", "<App>")
    assert menu_keys("darwin") == ("<Shift-F10>",)


def test_senders_in_one_window_get_different_colours_while_there_are_enough():
    import zlib

    count = 7
    names = ["Bob", "Eve"] + [f"user{i}" for i in range(40)]
    own = {name: zlib.crc32(name.encode()) % count for name in names}
    clash = next(b for b in names[1:] if own[b] == own["Bob"])  # two names that hash alike
    taken: dict[str, int] = {}
    for name in ["Bob", clash] + [n for n in names if n not in ("Bob", clash)][: count - 2]:
        taken[name] = pick_colour(name, set(taken.values()), count)
    assert taken["Bob"] == own["Bob"]  # the first keeps the colour its name hashes to
    assert taken[clash] == (own["Bob"] + 1) % count  # the next free one
    assert sorted(taken.values()) == list(range(count))  # seven senders, seven colours
    assert pick_colour("late", set(range(count)), count) == zlib.crc32(b"late") % count  # all taken: its own


# --- what mutation testing found unpinned -------------------------------------------------------


def test_names_are_listed_up_to_three_then_counted():
    assert names_text([]) == "" and names_text(["ana"]) == "ana"
    assert names_text(["ana", "bo"]) == "ana and bo"
    assert names_text(["ana", "bo", "cy", "di"]) == "ana, bo, cy and di"  # four still fit: no "1 other"
    assert names_text(["ana", "bo", "cy", "di", "ed"]) == "ana, bo, cy and 2 others"
    assert names_text(["a", "b", "c", "d", "e", "f"], shown=4) == "a, b, c, d and 2 others"


def test_a_links_own_brackets_stay_and_a_closing_one_around_it_goes():
    text = "see (https://en.wikipedia.org/wiki/Tk_(software)) and [https://example.org/a]."
    spans = [text[start:end] for start, end in find_links(text)]
    assert spans == ["https://en.wikipedia.org/wiki/Tk_(software)", "https://example.org/a"]
    for text, link in (
        ("(x https://a.org/b)c)", "https://a.org/b)c"),
        ("https://a.org/b) (later", "https://a.org/b"),  # brackets after the link do not count
        (") https://a.org/b_(c)", "https://a.org/b_(c)"),  # nor those before it
        ("https://a.org/b_(c) :)", "https://a.org/b_(c)"),
    ):
        assert [text[start:end] for start, end in find_links(text)] == [link], text


def test_a_link_with_a_control_character_never_opens_but_punctuation_inside_does():
    assert link_target("https://example.org/wow!") == "https://example.org/wow!"
    assert link_target("https://example.org/a\x7fb") is None
    assert link_target("https://example.org/a\x80b") == "https://example.org/a\x80b"
    assert link_target("https://example.org/a b") is None


def test_two_moments_of_one_day_share_its_label(monkeypatch):
    now = time.mktime((2026, 12, 7, 18, 0, 0, 0, 0, -1))
    morning = time.mktime((2026, 12, 7, 1, 5, 0, 0, 0, -1))
    evening = time.mktime((2026, 12, 6, 23, 55, 0, 0, 0, -1))
    assert day_label(morning, now) == "Today"
    assert day_label(evening, now) == "Yesterday"


def test_a_group_goes_on_across_the_hour_but_not_across_midnight():
    before = time.mktime((2026, 12, 7, 12, 59, 30, 0, 0, -1))
    assert continues_group(("ana", before), "ana", before + 60)  # 13:00:30, the same day
    late = time.mktime((2026, 12, 7, 23, 59, 30, 0, 0, -1))
    assert not continues_group(("ana", late), "ana", late + 60)  # 00:00:30, the next day
