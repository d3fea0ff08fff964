"""A room's history saved as a file (ocm_core/storage/export.py), read back as a person would
open it: plain text or one standalone HTML page, local times, the window's sentences in the
person's language, every text escaped, the file replaced whole."""

from __future__ import annotations

import calendar
import dataclasses
import html
import re
import time

import pytest

from ocm_core import i18n
from ocm_core.storage.export import as_html, as_text, save
from ocm_core.storage.history import Conversation, Line, LineKind
from ocm_core.words import notice_text


def utc(*fields: int) -> float:
    return float(calendar.timegm((*fields, 0, 0, 0, 0)[:6] + (0, 0, 0)))


NOON = utc(2026, 5, 1, 3, 4)  # 12:04 in Tokyo

LUNCH = Conversation(
    id=1,
    server_fingerprint="aa" * 32,
    room_id="1" * 32,
    room="Lunch <b>",
    server="192.168.1.5:9000",
    me="ana",
    hosted=False,
    standing=False,
    ended=None,
    ended_reason="",
    last_time=NOON + 600,
    unread=0,
    read_seq=6,
    newest_seq=6,
)

LINES = [
    Line(1, NOON, LineKind.JOINED, "bo", ""),
    Line(2, NOON + 60, LineKind.CHAT, "bo", "お昼はどこにしますか？"),
    Line(3, NOON + 120, LineKind.CHAT, "ana", "<script>alert('hi')</script> & more"),
    Line(4, NOON + 180, LineKind.FILE, "bo", "メニュー.pdf", 1_234_567, "f1"),
    Line(5, NOON + 240, LineKind.CHAT, "bo", "first line\nsecond line"),
    Line(6, NOON + 300, LineKind.TIMED_OUT, "chen", ""),
    Line(None, NOON + 600, LineKind.ENDED, "", "The host closed the room."),
]


@pytest.fixture
def tokyo(monkeypatch):
    """Local time is Tokyo's for the test, where the system lets a process change its zone."""
    if not hasattr(time, "tzset"):
        pytest.skip("TZ is read again only where time.tzset exists")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_text_file_has_each_line_with_its_local_time_sender_and_sentence(tmp_path, tokyo):
    path = tmp_path / "lunch.txt"
    save(path, LUNCH, LINES)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines() == [
        "Lunch <b> at 192.168.1.5:9000",
        "Your name in this room: ana",
        "",
        "2026-05-01 12:04  bo joined the room.",
        "2026-05-01 12:05  bo: お昼はどこにしますか？",
        "2026-05-01 12:06  ana: <script>alert('hi')</script> & more",  # plain text: as it was typed
        "2026-05-01 12:07  bo shared メニュー.pdf (1.2 MB)",
        "2026-05-01 12:08  bo: first line",
        "                  second line",  # a message's later lines under its first
        "2026-05-01 12:09  chen stopped responding and was removed.",
        "2026-05-01 12:14  The host closed the room.",
    ]
    assert text == as_text(LUNCH, LINES)


def test_the_html_page_stands_alone_with_everything_escaped(tmp_path, tokyo):
    path = tmp_path / "lunch.html"
    save(path, LUNCH, LINES)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>\n")
    assert '<html lang="en">' in page and '<meta charset="utf-8">' in page
    assert "<title>Lunch &lt;b&gt; at 192.168.1.5:9000</title>" in page
    assert "<style>" in page and page.rstrip().endswith("</html>")
    # Nothing fetched from anywhere: no scripts, links, pictures or addresses.
    assert not re.search(r"<script|<link|<img|src=|href=|url\(|@import|https?:", page, re.IGNORECASE)
    assert html.escape("<script>alert('hi')</script> & more") in page
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt; &amp; more" in page
    assert "お昼はどこにしますか？" in page and "bo shared メニュー.pdf (1.2 MB)" in page
    assert '<time datetime="2026-05-01T12:05:00+09:00">2026-05-01 12:05</time>' in page
    assert "first line\nsecond line" in page  # kept as typed; the style keeps its breaks
    assert "bo joined the room." in page and "The host closed the room." in page
    assert page == as_html(LUNCH, LINES)


def test_the_export_speaks_the_persons_language():
    i18n.use_language("ja")
    page = as_html(LUNCH, LINES)
    text = as_text(LUNCH, LINES)
    assert '<html lang="ja">' in page
    joined = notice_text("joined", "bo")  # the window's sentence, in Japanese
    assert joined != "bo joined the room." and joined in page and joined in text


def test_an_ended_room_says_when_it_ended():
    ended = dataclasses.replace(LUNCH, ended=NOON + 600, ended_reason="The host closed the room.")
    first = as_text(ended, LINES).splitlines()[0]
    assert first.startswith("Lunch <b> at 192.168.1.5:9000 (ended ")


@pytest.mark.parametrize(
    "name, is_html",
    [("lunch.html", True), ("lunch.HTM", True), ("lunch.txt", False), ("lunch.log", False), ("lunch", False)],
)
def test_the_name_decides_the_format(tmp_path, name, is_html):
    save(tmp_path / name, LUNCH, LINES)
    assert (tmp_path / name).read_text(encoding="utf-8").startswith("<!DOCTYPE html>") is is_html


def test_saving_again_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path):
    path = tmp_path / "lunch.txt"
    path.write_text("an older export, much longer than the new one " * 1000, encoding="utf-8")
    save(path, LUNCH, LINES[:2])
    assert path.read_text(encoding="utf-8") == as_text(LUNCH, LINES[:2])
    assert [p.name for p in tmp_path.iterdir()] == ["lunch.txt"]


def test_a_save_that_fails_leaves_what_was_there_and_no_part_file(tmp_path):
    (tmp_path / "lunch.txt").mkdir()  # a folder where the file would go: the last step fails
    with pytest.raises(OSError):
        save(tmp_path / "lunch.txt", LUNCH, LINES)
    assert [p.name for p in tmp_path.iterdir()] == ["lunch.txt"] and (tmp_path / "lunch.txt").is_dir()


def test_an_empty_history_is_its_heading():
    assert as_text(LUNCH, []) == "Lunch <b> at 192.168.1.5:9000\nYour name in this room: ana\n\n"
    assert "<ol>\n\n</ol>" in as_html(LUNCH, [])
