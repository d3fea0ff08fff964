"""Larger text (Tk scaling 2, as on a high-dpi screen or a person's choice): nothing is cut off.

Each check measures the text with the font the widget draws it in, so it holds in both
languages at both scalings.
"""

from __future__ import annotations

import tkinter.font as tkfont
from tkinter import ttk

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


def test_the_room_list_headings_fit_their_columns(scaled_app, root):
    dialog = scaled_app.open_join_dialog()
    root.update()
    font = tkfont.nametofont(ttk.Style(root).lookup("Treeview.Heading", "font") or "TkHeadingFont", root=root)
    for column in dialog.tree["columns"]:
        heading = dialog.tree.heading(column, "text")
        assert font.measure(heading) < int(dialog.tree.column(column, "width")), heading
    row_height = int(ttk.Style(root).lookup("Treeview", "rowheight"))
    assert row_height >= tkfont.nametofont("TkDefaultFont", root=root).metrics("linespace")
    dialog.close()
