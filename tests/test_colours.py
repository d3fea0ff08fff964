"""The colour formulas against published figures, and both palettes against them: the sender
colours readable on both backgrounds, far enough apart from each other and from the blues of
one's own name; words, marks and bars readable on what they are drawn on; and the two palettes
alike in which of their fields share a colour."""

from __future__ import annotations

import itertools

import pytest

from ocm_gui import theme
from ocm_gui.colours import contrast_ratio, delta_e_2000, delta_e_2000_lab, lab, rgb


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


PALETTES = pytest.mark.parametrize("palette", [theme.LIGHT, theme.DARK], ids=["light", "dark"])


@PALETTES
def test_sender_colours_are_readable_and_easy_to_tell_apart(palette):
    for colour in palette.SENDER_COLOURS:
        for background in (palette.PANEL, palette.OWN_BG):
            assert contrast_ratio(colour, background) >= 4.5, (colour, background)
    pairs = list(itertools.combinations(palette.SENDER_COLOURS, 2))
    closest = min(pairs, key=lambda pair: delta_e_2000(*pair))
    assert delta_e_2000(*closest) >= 26, closest
    # Blue stays one's own: no sender colour is near the own name's or the host mark's blue.
    for colour in palette.SENDER_COLOURS:
        for blue in (palette.OWN_FG, palette.ACCENT):
            assert delta_e_2000(colour, blue) >= 20, (colour, blue)
        assert delta_e_2000(colour, palette.TEXT) >= 20, colour  # a name in colour, not in plain text
    assert len(palette.SENDER_COLOURS) == len(theme.LIGHT.SENDER_COLOURS)


# (foreground, background, least contrast) for what is drawn on what. 4.5 is WCAG AA for text;
# a lower figure is LIGHT's own, which the dark palette must not read worse than.
READABLE = [
    *(("TEXT", bg, 7.0) for bg in ("PANEL", "BG", "OWN_BG", "DISABLED_BG", "WARN_BG", "CLOSED_BG", "TOOLTIP_BG")),
    ("MUTED", "PANEL", 4.5),  # times, date lines, the People list's greyed names
    ("MUTED", "BG", 4.5),  # hints and the counter under the input
    ("MUTED", "OWN_BG", 4.45),  # the marks of one's own messages: sending…, ✓ (LIGHT: 4.49)
    ("MUTED", "DISABLED_BG", 4.3),  # a disabled Send button's word (LIGHT: 4.36)
    ("NOTICE", "PANEL", 4.5),
    ("ACCENT", "PANEL", 4.5),  # links
    ("ACCENT", "OWN_BG", 4.5),  # links in one's own messages
    ("ACCENT", "BG", 4.5),
    ("ACCENT", "RETRY_BG", 4.5),  # Retry
    ("OWN_FG", "OWN_BG", 4.5),
    ("OWN_FG", "PANEL", 4.5),  # "(you)" in the People list
    ("ERROR", "PANEL", 4.5),
    ("ERROR", "OWN_BG", 4.5),  # ✗ not delivered
    ("ERROR", "BG", 4.5),  # the counter past the limit
    ("ERROR", "CLOSED_BG", 4.5),  # the red bar
    ("WARN_FG", "WARN_BG", 4.5),  # the yellow bar
    ("WARN_FG", "PANEL", 4.5),  # a host not answering in the People list; a locked room
    ("PANEL", "ACCENT", 4.5),  # Send
    ("PANEL", "ACCENT_PRESSED", 4.5),
    ("PANEL", "ACCENT_ACTIVE", 4.3),  # LIGHT: 4.33
    ("PANEL", "SELECT_BG", 4.5),  # selected text in an entry, a selected row
    ("PANEL", "CONTROL_BORDER", 2.7),  # the same, in an entry without the focus (clam's own: 2.81)
    ("INK", "TK_SELECT", 7.0),  # selected text in the scrollback and the input
    ("INK", "TK_FACE", 7.0),  # menus
    ("INK", "TK_ACTIVE", 7.0),
    ("TEXT", "CONTROL_ACTIVE", 7.0),  # a button under the pointer
    ("DISABLED_FG", "CONTROL_DISABLED", 2.0),  # a disabled button: dim, still there
    ("HISTORY", "PANEL", 3.0),  # replayed lines: dimmer than MUTED on purpose
    ("HISTORY", "OWN_BG", 2.75),
]


@PALETTES
@pytest.mark.parametrize("foreground, background, least", READABLE, ids=[f"{f}-on-{b}" for f, b, _ in READABLE])
def test_words_marks_and_bars_are_readable_on_what_they_are_drawn_on(palette, foreground, background, least):
    ratio = contrast_ratio(getattr(palette, foreground), getattr(palette, background))
    assert ratio >= least, (foreground, background, round(ratio, 2))


@PALETTES
def test_history_is_dimmer_than_muted_text(palette):
    for background in (palette.PANEL, palette.OWN_BG):
        assert contrast_ratio(palette.HISTORY, background) < contrast_ratio(palette.MUTED, background)


def equal_value_groups(palette: theme.Palette) -> set[frozenset[str]]:
    by_value: dict[str, set[str]] = {}
    for name, value in palette.colours().items():
        by_value.setdefault(value.lower(), set()).add(name)
    return {frozenset(names) for names in by_value.values()}


def test_the_palettes_share_fields_alike_so_a_colour_names_its_field():
    """use_palette recolours a widget by its colour's value: two fields equal in one palette
    and apart in the other would make that ambiguous."""
    assert equal_value_groups(theme.DARK) == equal_value_groups(theme.LIGHT)
    assert frozenset({"MUTED", "NOTICE"}) in equal_value_groups(theme.LIGHT)


@PALETTES
def test_every_colour_is_lowercase_rrggbb(palette):
    for name, value in palette.colours().items():
        assert len(value) == 7 and value == value.lower(), name
        rgb(value)
    assert palette.dark == (palette is theme.DARK)


def test_light_is_the_look_before_dark_mode():
    """LIGHT keeps the app's colours as they were (docs/gui.md's sender colour table), and the
    module constants start as LIGHT's."""
    assert theme.LIGHT.SENDER_COLOURS == (
        "#762e0a",
        "#8f2eff",
        "#007d32",
        "#0a6f76",
        "#d41152",
        "#631d59",
        "#806b17",
    )
    assert (theme.LIGHT.PANEL, theme.LIGHT.OWN_BG, theme.LIGHT.OWN_FG, theme.LIGHT.ACCENT) == (
        "#ffffff",
        "#eaf2fc",
        "#1d5fa8",
        "#2f6db5",
    )
    assert theme.current_palette() is theme.LIGHT
    assert {name: getattr(theme, name) for name in theme.COLOUR_FIELDS} == {
        name: getattr(theme.LIGHT, name) for name in theme.COLOUR_FIELDS
    }


def test_colour_map_sends_each_colour_to_the_same_fields_colour_in_the_other_palette():
    mapping = theme.colour_map(theme.LIGHT, theme.DARK)
    assert mapping[theme.LIGHT.PANEL] == theme.DARK.PANEL
    assert mapping[theme.LIGHT.MUTED] == theme.DARK.MUTED == theme.DARK.NOTICE
    for light, dark in zip(theme.LIGHT.SENDER_COLOURS, theme.DARK.SENDER_COLOURS):
        assert mapping[light] == dark
    back = theme.colour_map(theme.DARK, theme.LIGHT)
    assert all(back[dark] == light for light, dark in mapping.items())
