"""Larger text (Tk scaling 2, as on a high-dpi screen or a person's choice): nothing is cut off.

Each check measures the text with the font the widget draws it in, so it holds in both
languages at both scalings.
"""

from __future__ import annotations

import tkinter.font as tkfont
from tkinter import ttk

import pytest
from gui_helpers import FakeClient

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


def test_the_chat_window_grows_with_the_text_and_wraps_the_identity_line(scaled_app, root):
    client = FakeClient(room="lobby", username="花子", host_name="Bob", members=("Bob", "花子"))
    client.server_fingerprint = FINGERPRINT
    chat = scaled_app.open_chat(client, share_address="192.168.1.20:9090")
    root.update()
    expected = min(theme.scaled(root, 940), root.winfo_screenwidth() * 9 // 10)  # the main window, sidebar and all
    assert abs(chat.win.winfo_width() - expected) <= 1
    label = chat.fingerprint_label
    assert label is not None
    # The whole line is inside the window: wrapped to the header's width, not cut at its edge.
    assert label.winfo_x() + label.winfo_reqwidth() <= label.master.winfo_width()
    assert label.winfo_width() >= label.winfo_reqwidth()  # its grid cell gives it all it asks for
    assert FINGERPRINT in label.cget("text")


def test_scale_option_and_environment_set_tk_scaling_within_limits(root, monkeypatch):
    from ocm_gui.app import _parse_args

    monkeypatch.delenv("OCM_SCALE", raising=False)
    assert _parse_args([]).scale is None  # the screen's own dpi
    assert _parse_args(["--scale", "2"]).scale == 2.0
    monkeypatch.setenv("OCM_SCALE", "1.5")
    assert _parse_args([]).scale == 1.5
    assert _parse_args(["--scale", "2"]).scale == 2.0  # the option wins over the environment
    monkeypatch.setenv("OCM_SCALE", "big")
    assert _parse_args([]).scale is None  # not a number: ignored (and logged)
    assert theme.set_scale(root, 2) == 2 and theme.ui_scale(root) == pytest.approx(
        2, rel=0.01
    )  # Tk keeps its own rounding
    assert theme.scaled(root, 10) == 20
    assert theme.set_scale(root, 50) == theme.SCALE_LIMITS[1]
    assert theme.set_scale(root, 0.1) == theme.SCALE_LIMITS[0]
    theme.set_scale(root, 1)


def test_windows_is_told_the_app_draws_for_the_real_dpi(monkeypatch):
    import ctypes

    calls = []

    class Shcore:
        def SetProcessDpiAwareness(self, level):  # the Windows API's name
            calls.append(level)

    monkeypatch.setattr(ctypes, "OleDLL", lambda name: Shcore() if name == "shcore" else None, raising=False)
    assert theme.declare_dpi_awareness("win32") and calls == [1]
    assert not theme.declare_dpi_awareness("linux") and not theme.declare_dpi_awareness("darwin") and calls == [1]

    def missing(name):
        raise OSError("no shcore.dll")  # Windows 7

    monkeypatch.setattr(ctypes, "OleDLL", missing, raising=False)
    assert not theme.declare_dpi_awareness("win32")
