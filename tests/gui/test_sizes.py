"""Every window at its minimum size, at Tk scaling 1 and 2, in English and Japanese: each
button asks for room enough for its text, and no widget reaches past its parent's edge
(what a person sees as a cut-off "Co" button or "(yo" name)."""

from __future__ import annotations

import time
import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

import pytest
from big_screen import big_screen, on_big_screen, root  # the windows at scaling 2 need room
from gui_helpers import FakeClient, pump
from test_scaling import scaled_app  # en and ja at Tk scaling 1 and 2

from ocm_core.sansio.events import FileShared
from ocm_gui import theme

LONG_ROOM = "とても長いルームの名前で画面に入りきらないかもしれません・週末の打ち合わせと相談"
LONG_USER = "Alexandra-Konstantinopoulou-the-Magnificent"


def at_minimum(root: tk.Misc, window: tk.Misc) -> None:
    """Shrink `window` to its minimum size and wait until the window manager did it."""
    width, height = (int(v) for v in window.wm_minsize())
    window.geometry(f"{width}x{height}")
    pump(
        root,
        lambda: window.winfo_width() == width and window.winfo_height() == height,
        what=f"the window at its minimum {width}x{height}",
    )
    root.update()


def descendants(widget: tk.Misc):
    for child in widget.winfo_children():
        yield child
        yield from descendants(child)


def button_text_width(button: ttk.Button) -> int:
    style = ttk.Style(button)
    font = str(style.lookup(str(button.cget("style")) or "TButton", "font") or "TkDefaultFont")
    return tkfont.nametofont(font if font in tkfont.names(button) else "TkDefaultFont", root=button).measure(
        str(button.cget("text"))
    )


def assert_nothing_cut(window: tk.Misc) -> None:
    """Each mapped widget lies inside its parent, and each button got room for its text."""
    problems = []
    for widget in descendants(window):
        if isinstance(widget, (tk.Menu, tk.Toplevel)) or not widget.winfo_ismapped():
            continue
        parent = widget.nametowidget(widget.winfo_parent())
        right = widget.winfo_x() + widget.winfo_width()
        if right > parent.winfo_width():
            problems.append(
                f"{widget} ({widget.winfo_class()}) ends at {right} in a parent {parent.winfo_width()} wide"
            )
        if isinstance(widget, ttk.Button):
            text = button_text_width(widget)
            if widget.winfo_reqwidth() < text or widget.winfo_width() < widget.winfo_reqwidth():
                problems.append(
                    f"button {widget.cget('text')!r}: text {text}, asks "
                    f"{widget.winfo_reqwidth()}, given {widget.winfo_width()}"
                )
    assert not problems, "\n".join(problems)


def test_the_start_window_at_its_minimum_size(scaled_app, root):
    at_minimum(root, root)
    assert_nothing_cut(root)


def chat_with_a_file(app, root, *, host: bool):
    you = LONG_USER if host else "Bob"
    client = FakeClient(
        room=LONG_ROOM,
        username=you,
        host_name=LONG_USER,
        members=(LONG_USER, "Bob", "Bartholomew-Featherstonehaugh-Smythe"),
    )
    client.server_fingerprint = "KQFZ-PAMM-DXQT-WRNB-7Y4E"
    chat = app.open_chat(client, share_address="192.168.1.20:9090" if host else None)
    client.events.put(
        FileShared(
            seq=1,
            file_id="f1",
            name="quarterly-report-final-version-2.pdf",
            size=123456,
            sender="Bob",
            mime="application/pdf",
            time=time.time(),
        )
    )
    pump(root, lambda: "f1" in chat.files.lines)
    at_minimum(root, chat.win)
    return chat


@pytest.mark.parametrize("host", [True, False], ids=["host", "member"])
def test_the_chat_window_at_its_minimum_size(scaled_app, root, host):
    chat = chat_with_a_file(scaled_app, root, host=host)
    assert_nothing_cut(chat.win)
    # The file card is a window inside the scrollback: inside the text's width, name cut short.
    card = chat.files.lines["f1"]
    assert card.frame.winfo_x() + card.frame.winfo_width() <= chat.text.winfo_width()
    assert card.name.elided or card.frame.winfo_width() < chat.text.winfo_width()
    # ... but never to a few letters: in a narrow scrollback the buttons go below it.
    shown = card.name.font.measure(str(card.name.label.cget("text")))
    assert shown >= min(card.name.natural_width(), theme.scaled(root, 100))
    # Long names end in "…"; the whole one waits in the tooltip.
    assert chat.room_name.elided and str(chat.room_label.cget("text")).endswith("…")
    assert chat.room_name.tooltip.current_text() == LONG_ROOM
    assert any(label.endswith("…") for label in chat.people.shown_labels())


def test_the_chat_windows_minimum_grows_with_the_scaling(scaled_app, root):
    chat = chat_with_a_file(scaled_app, root, host=True)
    assert root.winfo_screenwidth() == 1920  # the big screen: nothing capped at 9/10 of it
    least_width, least_height = theme.window_size(chat.win, 560, 380)
    width, height = (int(v) for v in chat.win.wm_minsize())
    assert width >= least_width and height >= least_height
    # tall enough for the header, the input and five lines of conversation between them
    lines = tkfont.nametofont("OCMChat", root=root).metrics("linespace")
    assert height >= chat.header.winfo_reqheight() + chat.composer.frame.winfo_reqheight() + 5 * lines


@pytest.mark.parametrize("which", ["host", "join"])
def test_the_dialogs_at_their_minimum_size(scaled_app, root, which):
    dialog = scaled_app.open_host_dialog() if which == "host" else scaled_app.open_join_dialog()
    root.update()
    width, _height = (int(v) for v in dialog.win.wm_minsize())
    assert width >= theme.scaled(root, 460)
    at_minimum(root, dialog.win)
    assert_nothing_cut(dialog.win)
    dialog.close()


def test_the_copy_button_keeps_its_width_when_it_says_copied(scaled_app, root):
    chat = chat_with_a_file(scaled_app, root, host=True)
    before = chat.copy_button.winfo_width()
    chat.copy_address()
    root.update()
    assert chat.copy_button.winfo_width() == before
    font = tkfont.nametofont("TkDefaultFont", root=root)
    assert chat.copy_button.winfo_reqwidth() > font.measure(str(chat.copy_button.cget("text")))


def test_check_and_radio_marks_grow_with_the_scaling(scaled_app, root):
    if ttk.Style(root).theme_use() != "clam":
        pytest.skip("the other themes draw their own marks")
    font = tkfont.nametofont("TkDefaultFont", root=root)
    for kind in (ttk.Checkbutton, ttk.Radiobutton):
        button = kind(root, text="x")
        assert button.winfo_reqwidth() - font.measure("x") >= theme.scaled(root, 12 + 6), kind
        button.destroy()


def test_scroll_bars_and_drop_down_arrows_grow_with_the_scaling(scaled_app, root):
    if ttk.Style(root).theme_use() != "clam":
        pytest.skip("the other themes draw their own arrows")
    bar, box = ttk.Scrollbar(root), ttk.Combobox(root)
    assert bar.winfo_reqwidth() >= theme.scaled(root, 14)  # clam: 14 pixels at any scaling before
    assert box.winfo_reqheight() >= theme.scaled(root, 14)
    bar.destroy()
    box.destroy()


def test_pictures_inline_grow_with_the_scaling(root, settings, tmp_path):
    from PIL import Image

    from ocm_gui.app import App
    from ocm_gui.chat.files import THUMBNAIL

    source = tmp_path / "wide.png"
    Image.new("RGB", (1200, 600), (200, 120, 40)).save(source)

    class PictureClient(FakeClient):
        def download(self, file_id, destination, progress=None):
            destination.write_bytes(source.read_bytes())
            return destination

    root.tk.call("tk", "scaling", theme.BASE_SCALING * 2)
    app = App(root, settings=settings)
    client = PictureClient(room="lobby", username="Bob", host_name="Alice", members=("Alice", "Bob"))
    chat = app.open_chat(client)
    client.events.put(
        FileShared(
            seq=1,
            file_id="p1",
            name="wide.png",
            size=source.stat().st_size,
            sender="Alice",
            mime="image/png",
            time=time.time(),
        )
    )
    line = pump(
        root,
        lambda: next((x for x in chat.files.lines.values() if x.picture is not None), None),
        what="the picture inline",
    )
    assert (line.photo.width(), line.photo.height()) == (2 * THUMBNAIL[0], THUMBNAIL[0])  # 560 x 280, not 280 x 140
    app.quit()


def test_a_file_cards_buttons_go_below_the_name_when_narrow_and_back_beside_it_when_wide(scaled_app, root):
    chat = chat_with_a_file(scaled_app, root, host=False)
    card = chat.files.lines["f1"]
    buttons = card.rest[1]
    side = scaled_app.body.sashpos(0)  # the sidebar beside the room
    chat.win.geometry(f"{theme.scaled(root, 560) + side}x{theme.scaled(root, 400)}")
    pump(root, lambda: int(buttons.grid_info()["row"]) == 2, what="the buttons under the name")
    chat.win.geometry(f"{theme.scaled(root, 900) + side}x{theme.scaled(root, 400)}")
    pump(root, lambda: int(buttons.grid_info()["row"]) == 1, what="the buttons beside the name")
    assert not card.name.elided
