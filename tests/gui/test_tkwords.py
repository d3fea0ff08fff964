"""Tk's own file chooser in the person's language (X11: Tk draws it, and Tk has no Japanese)."""

from __future__ import annotations

import sys
import tkinter as tk
from tkinter import filedialog

import pytest
from gui_helpers import pump

from ocm_core import i18n
from ocm_gui.text import tkwords

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Tk draws its own dialogs on X11 alone")


def labels_of(root, path: str) -> list[str]:
    """Every text shown in the Tcl window `path` and inside it (Tk's dialog is no tkinter widget)."""
    found = []
    for child in root.tk.splitlist(root.tk.call("winfo", "children", path)):
        try:
            found.append(str(root.tk.call(child, "cget", "-text")).replace("&", ""))
        except tk.TclError:  # a widget without text
            pass
        found += labels_of(root, str(child))
    return found


def test_the_save_dialog_speaks_japanese_when_the_app_does(app, root):
    app.set_language("ja")
    try:
        assert tkwords.word(root, "File &name:") == "ファイル名(&N):"
        seen: list[list[str]] = []

        tries = [0]

        def when_open() -> None:
            dialogs = [
                str(w) for w in root.tk.splitlist(root.tk.call("winfo", "children", parent)) if "filedialog" in str(w)
            ]
            tries[0] += 1
            if dialogs and root.tk.call("winfo", "ismapped", dialogs[0]):
                seen.append(labels_of(root, dialogs[0]))
            elif tries[0] < 200:  # 10 s
                root.after(50, when_open)
                return
            root.tk.call("set", "::tk::Priv(selectFilePath)", "")  # what Cancel sets: the dialog returns ""

        root.after(50, when_open)
        parent = tk.Toplevel(root)  # a shown window: a dialog over a withdrawn one would never show
        parent.update()
        try:
            assert filedialog.asksaveasfilename(parent=parent, title="x") in ("", ())
        finally:
            parent.destroy()
        words = seen[0]
        assert (
            "ファイル名(N):" in words and "保存(S)" in words and "キャンセル(C)" in words and "フォルダー(D):" in words
        )
    finally:
        app.set_language("en")
    assert tkwords.word(root, "File &name:") == "File &name:"
    assert i18n.current_language() == "en"
    pump(root, lambda: True)
