"""Finding in what a room shows folds as the history search does (NFKC and case), and points
back at the characters as written, whatever folding did to their number."""

from __future__ import annotations

import pytest

from ocm_core.storage.history import fold as history_fold
from ocm_gui.text.finding import find_all, fold

LINE = "今日の会議の議事録はﾐｰﾃｨﾝｸﾞで ABC ｶﾞ Straße"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("議事録", ["議事録"]),
        ("会議", ["会議"]),
        ("ミーティング", ["ﾐｰﾃｨﾝｸﾞ"]),  # half-width katakana, its voiced mark folded in
        ("abc", ["ABC"]),
        ("ＡＢＣ", ["ABC"]),  # full-width Latin
        ("ガ", ["ｶﾞ"]),
        ("STRASSE", ["Straße"]),
        ("件", []),
        ("   ", []),
    ],
)
def test_matches_are_folded_and_point_at_the_written_characters(query, found):
    assert [LINE[start:end] for start, end in find_all(LINE, query)] == found


def test_every_match_is_found_without_overlap():
    assert find_all("aaaa", "aa") == [(0, 2), (2, 4)]
    assert find_all("会議 and 会議室", "会議") == [(0, 2), (7, 9)]


def test_the_room_and_the_history_fold_alike():
    for text in (LINE, "Ⅻ ㍻ ﬁ ＡＢＣ", "İstanbul"):
        assert fold(text) == history_fold(text)
