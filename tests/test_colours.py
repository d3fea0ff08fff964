"""The colour formulas against published figures, and the theme's sender colours against them:
readable on both backgrounds, far enough apart from each other and from the blues of one's own name."""

from __future__ import annotations

import itertools

import pytest

from ocm_gui import theme
from ocm_gui.colours import contrast_ratio, delta_e_2000, delta_e_2000_lab, lab


@pytest.mark.parametrize(
    "first, second, expected",
    [
        # From Sharma, Wu and Dalal's CIEDE2000 test data (pairs 1, 7, 17, 25 and 10).
        ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
        ((50, 0, 0), (50, -1, 2), 2.3669),
        ((50, 2.5, 0), (73, 25, -18), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
        ((50, 2.5, 0), (50, 0, -2.5), 4.3065),
    ],
)
def test_ciede2000_matches_the_published_test_pairs(first, second, expected):
    assert delta_e_2000_lab(first, second) == pytest.approx(expected, abs=1e-4)
    assert delta_e_2000_lab(second, first) == pytest.approx(expected, abs=1e-4)


def test_contrast_and_lab_match_known_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the well-known "just under AA" grey
    assert lab("#ffffff") == pytest.approx((100, 0, 0), abs=1e-3)
    assert lab("#ff0000") == pytest.approx((53.24, 80.09, 67.20), abs=0.02)
    with pytest.raises(ValueError):
        contrast_ratio("#fff", "#ffffff")


def test_sender_colours_are_readable_and_easy_to_tell_apart():
    for colour in theme.SENDER_COLOURS:
        for background in (theme.PANEL, theme.OWN_BG):
            assert contrast_ratio(colour, background) >= 4.5, (colour, background)
    pairs = list(itertools.combinations(theme.SENDER_COLOURS, 2))
    closest = min(pairs, key=lambda pair: delta_e_2000(*pair))
    assert delta_e_2000(*closest) >= 20, closest
    # Blue stays one's own: no sender colour is near the own name's or the host mark's blue.
    for colour in theme.SENDER_COLOURS:
        for blue in (theme.OWN_FG, theme.ACCENT):
            assert delta_e_2000(colour, blue) >= 20, (colour, blue)
    assert contrast_ratio(theme.OWN_FG, theme.OWN_BG) >= 4.5
    assert contrast_ratio(theme.ACCENT, theme.OWN_BG) >= 4.5  # links in one's own messages
