"""Break opportunities for mixed Japanese and English text (ocm_gui/text/linebreak.py), without Tk.
tests/gui/test_chat_window.py checks the lines Tk actually draws, at three widths."""

from __future__ import annotations

import pytest

from ocm_gui.text.linebreak import (
    BREAK,
    NO_END,
    NO_START,
    glued,
    has_cjk,
    spaces_for_breaks,
    strip_breaks,
    with_break_opportunities,
    wrap_to_width,
)


def marked(text: str) -> str:
    return with_break_opportunities(text).replace(BREAK, "|")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain English stays as it is", "plain English stays as it is"),
        ("日本語です", "日|本|語|です"),  # the last line is never one character alone
        ("日本語です。", "日|本|語|で|す。"),  # 。 never starts a line
        ("「これ」は何", "「こ|れ」|は何"),  # 「 never ends one, 」 never starts one
        ("ちょっと待って", "ちょっ|と|待って"),  # small kana stay with what precedes them
        ("コーヒーです", "コー|ヒー|です"),  # so does the prolonged sound mark
        ("Hello 世界 wraps", "Hello 世|界 wraps"),  # a space is a break already
        ("Python3を使うよ", "Python3|を|使|うよ"),  # a Latin word is one piece
        ("meetingは", "meetingは"),
        ("meetingはい", "meeting|はい"),
        ("（笑）", "（笑）"),
        ("はい、OK", "は|い、|OK"),
        ("待って…", "待っ|て…"),
        ("二行\n目です", "二行\n目|です"),  # no mark beside a line break
        ("60秒以内", "60秒|以内"),  # a number keeps its unit
        ("１５時です", "１５時|です"),
        ("60\u00a0秒です", "60\u00a0秒|です"),
        ("お願いします🙏", "お|願|い|し|ま|す🙏"),  # nor an emoji alone on the last line
    ],
)
def test_break_opportunities(text, expected):
    assert marked(text) == expected
    assert strip_breaks(with_break_opportunities(text)) == text


def test_kinsoku_holds_for_every_pair():
    sample = "あ漢カ「」（）。、・ーっャ!?,.a1 " + NO_START + NO_END
    for a in sample:
        for b in sample:
            result = with_break_opportunities(a + b)
            if BREAK in result:
                assert b not in NO_START and a not in NO_END and not a.isspace() and not b.isspace(), (a, b)
                assert has_cjk(a + b), (a, b)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("within 60 s", "within 60\u00a0s"),
        ("（60 秒以内に）", "（60\u00a0秒以内に）"),
        ("✗ not delivered (timeout)", "✗\u00a0not delivered (timeout)"),
        ("✗ 未配信", "✗\u00a0未配信"),
        ("room 3, then 4 ", "room 3, then 4 "),  # a number before punctuation or at the end: as it was
    ],
)
def test_glued_keeps_a_number_with_its_unit_and_a_mark_with_its_word(text, expected):
    assert glued(text) == expected


def test_marks_already_in_the_text_are_not_doubled():
    once = with_break_opportunities("日本語")
    assert with_break_opportunities(once) == once


def test_marks_become_spaces_at_the_right_indices():
    flat = ["12:00  ", ("time",), f"花{BREAK}子", ("sender",), f"  了{BREAK}解\nで{BREAK}す", ("entry",), "\n", ()]
    ranges = spaces_for_breaks(flat, 3, 5)
    text = "".join(flat[0::2])
    assert BREAK not in text and text == "12:00  花 子  了 解\nで す\n"
    # line 3 starts at column 5: "12:00  " is 7 columns, then 花 at 12, its break space at 13
    assert ranges == ["3.13", "3.14", "3.18", "3.19", "4.1", "4.2"]
    assert flat[1::2] == [("time",), ("sender",), ("entry",), ()]


def test_text_without_marks_is_left_alone():
    flat = ["plain\ntext", ("a",), " more", ()]
    assert spaces_for_breaks(flat, 1, 0) == []
    assert flat == ["plain\ntext", ("a",), " more", ()]


# -- wrap_to_width: a label's lines, each character one unit wide


@pytest.mark.parametrize(
    "text, width, expected",
    [
        ("あいうえお。かきく", 5, "あいうえ\nお。かきく"),  # 。 goes down with the kana before it
        ("あいうえ「かき」く", 5, "あいうえ\n「かき」く"),  # 「 does not end a line
        ("ちょっとまって", 3, "ちょっ\nと\nまって"),  # small kana stay with what precedes them; no lone last one
        ("名前 Alice は長い", 7, "名前\nAlice は\n長い"),  # Latin words stay whole; a space at a break goes
        ("一行目\n二行目", 10, "一行目\n二行目"),  # the text's own newlines stay
        ("plain English is left to Tk", 5, "plain English is left to Tk"),
        ("あいう", 0, "あいう"),  # no wraplength: no wrapping
    ],
)
def test_wrap_to_width_breaks_only_where_kinsoku_allows(text, width, expected):
    assert wrap_to_width(text, len, width) == expected


def test_wrapped_lines_fit_and_never_start_with_closing_punctuation():
    text = (
        "サーバーに接続できませんでした（192.0.2.9:9090）。"
        "アドレスとポートを確かめて、もう一度「参加」を押してください。"
    )
    for width in range(4, 40):
        lines = wrap_to_width(text, len, width).split("\n")
        assert "".join(lines) == text
        assert not any(line[0] in NO_START for line in lines[1:]), (width, lines)
        assert not any(line[-1] in NO_END for line in lines[:-1]), (width, lines)
        longest_piece = len("（192.0.2.9:9090）。")  # nowhere to break inside it
        assert all(len(line) <= max(width, longest_piece) for line in lines), (width, lines)
