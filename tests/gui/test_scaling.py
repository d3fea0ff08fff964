"""Larger text (Tk scaling 2, as on a high-dpi screen or a person's choice): nothing is cut off.

Each check measures the text with the font the widget draws it in, so it holds in both
languages at both scalings.
"""

from __future__ import annotations

import tkinter.font as tkfont

import pytest

from ocm_core import i18n
from ocm_gui import theme
from ocm_gui.app import App

FINGERPRINT = "KQFZ-PAMM-DXQT-WRNB-7Y4E"


@pytest.fixture(params=[("en", 1.0), ("en", 2.0), ("ja", 1.0), ("ja", 2.0)], ids=lambda p: f"{p[0]}-x{p[1]:g}")
def scaled_app(request, root, settings, monkeypatch):
    language, scaling = request.param
    for name in i18n.ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8" if language == "ja" else "en_US.UTF-8")
    assert i18n.use_language("") == language
    # Relative to 96 dpi, as theme.scaled assumes: the test does not depend on the screen's dpi.
    root.tk.call("tk", "scaling", theme.BASE_SCALING * scaling)
    application = App(root, settings=settings)
    root.update()
    yield application
    if not application.closing:
        application.quit()
    i18n.use_language("en")


def test_the_language_box_shows_every_language_name_whole(scaled_app):
    box = scaled_app.start.language_box
    font = tkfont.nametofont("TkTextFont", root=box)
    room = int(box.cget("width")) * font.measure("0")
    for name in box.cget("values"):
        assert font.measure(name) < room, name
