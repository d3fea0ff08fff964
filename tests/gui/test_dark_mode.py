"""Dark mode on real Tk widgets: a chat window switched to DARK takes the dark palette's
colours (its Text and tags, the People list, menus, ttk styles), switched back to LIGHT has
exactly the colours it had, and what is made while DARK is in use is dark from the start.
`Appearance` follows the system's answer, asked off the Tk thread."""

from __future__ import annotations

import threading
import time
import tkinter as tk
from tkinter import ttk

import pytest
from gui_helpers import FakeClient, pump

from ocm_core.sansio.events import ChatMessage, MembersChanged
from ocm_gui import theme
from ocm_gui.appearance import Appearance
from ocm_gui.chat.textactions import LINK_TAG
from ocm_gui.text.wrapped import WrappedText

LIGHT, DARK = theme.LIGHT, theme.DARK


@pytest.fixture
def themed(root):
    """A themed root; LIGHT again afterwards, whatever the test left (the palette is the module's)."""
    theme.apply_theme(root)
    yield root
    theme.use_palette(root, LIGHT)


def every_colour(root: tk.Misc) -> dict[tuple[str, ...], str]:
    """Each colour option of every window and of every Text tag, Listbox item and Menu entry."""
    found: dict[tuple[str, ...], str] = {}
    tcl = root.tk

    def take(specs, *where):
        for spec in tcl.splitlist(specs):
            parts = tcl.splitlist(spec)
            if len(parts) == 5 and str(parts[0]) in theme.COLOUR_OPTIONS:
                found[(*where, str(parts[0]))] = str(parts[4])

    def walk(path):
        take(tcl.call(path, "configure"), path)
        kind = str(tcl.call("winfo", "class", path))
        if kind in ("Text", "Treeview"):
            for tag in tcl.splitlist(tcl.call(path, "tag", "names")):
                take(tcl.call(path, "tag", "configure", tag), path, "tag", str(tag))
        elif kind == "Listbox":
            for index in range(int(tcl.call(path, "size"))):
                take(tcl.call(path, "itemconfigure", index), path, "item", str(index))
        elif kind == "Menu" and str(tcl.call(path, "index", "end")) != "none":
            for index in range(int(tcl.call(path, "index", "end")) + 1):
                if str(tcl.call(path, "type", index)) not in ("separator", "tearoff"):
                    take(tcl.call(path, "entryconfigure", index), path, "entry", str(index))
        for child in tcl.splitlist(tcl.call("winfo", "children", path)):
            walk(str(child))

    walk(".")
    return found


STYLE_LOOKUPS = [
    ("TLabel", "background", None),
    ("TLabel", "foreground", None),
    ("Muted.TLabel", "foreground", None),
    ("Banner.TLabel", "background", None),
    ("Banner.TLabel", "foreground", None),
    ("Closed.TLabel", "foreground", None),
    ("Accent.TButton", "background", None),
    ("Accent.TButton", "foreground", None),
    ("Accent.TButton", "background", ["active"]),
    ("Accent.TButton", "bordercolor", ["focus"]),
    ("TButton", "background", ["active"]),
    ("TButton", "background", ["pressed"]),
    ("TEntry", "fieldbackground", None),
    ("TEntry", "selectbackground", None),
    ("TScrollbar", "troughcolor", None),
    ("Treeview", "background", None),
    ("Treeview", "background", ["selected"]),
]


def styles(root: tk.Misc) -> dict[tuple, str]:
    style = ttk.Style(root)
    return {
        (name, option, tuple(state or ())): str(style.lookup(name, option, state))
        for name, option, state in STYLE_LOOKUPS
    }


def busy_chat(root, make_chat):
    client = FakeClient(username="Alice", host_name="Bob", members=("Bob", "Alice", "Carol"))
    chat = make_chat(client)
    now = time.time()
    client.events.put(MembersChanged(("Bob", "Alice", "Carol"), "Bob"))
    client.events.put(ChatMessage(1, "Bob", "from before: https://example.org/old", now - 3600, history=True))
    client.events.put(ChatMessage(2, "Carol", "hello, see https://example.org", now))
    pump(root, lambda: "example.org" in chat.transcript() and chat.people.listbox.size() == 3)
    chat.input.insert("1.0", "mine")
    chat.send_button.invoke()
    pump(root, lambda: "mine" in chat.transcript())
    return chat


def test_dark_recolours_a_chat_window_and_light_gives_back_every_colour_it_had(themed, make_chat):
    root = themed
    chat = busy_chat(root, make_chat)
    text, people = chat.text, chat.people.listbox
    you = chat.people.full_labels.index(next(label for label in chat.people.full_labels if "Alice" in label))
    before, styles_before = every_colour(root), styles(root)
    assert str(text.cget("background")) == LIGHT.PANEL and str(people.itemcget(you, "foreground")) == LIGHT.OWN_FG

    theme.use_palette(root, DARK)
    root.update()
    assert theme.current_palette() is DARK and theme.PANEL == DARK.PANEL and theme.SENDER_COLOURS == DARK.SENDER_COLOURS
    assert (str(text.cget("background")), str(text.cget("foreground"))) == (DARK.PANEL, DARK.TEXT)
    assert (str(text.cget("highlightbackground")), str(text.cget("highlightcolor"))) == (DARK.BORDER, DARK.ACCENT)
    assert str(text.cget("selectbackground")) == DARK.TK_SELECT  # Tk's default grey was LIGHT's TK_SELECT
    assert str(chat.input.cget("insertbackground")) == DARK.INK  # the cursor shows on the dark input
    assert str(text.tag_cget("time", "foreground")) == DARK.MUTED
    assert str(text.tag_cget("own", "background")) == DARK.OWN_BG
    assert str(text.tag_cget("ownsender", "foreground")) == DARK.OWN_FG
    assert str(text.tag_cget("history", "foreground")) == DARK.HISTORY
    assert str(text.tag_cget("notice", "foreground")) == DARK.NOTICE
    assert str(text.tag_cget(LINK_TAG, "foreground")) == DARK.ACCENT
    assert str(text.tag_cget("retry", "background")) == DARK.RETRY_BG
    for index, colour in enumerate(DARK.SENDER_COLOURS):
        assert str(text.tag_cget(f"c{index}", "foreground")) == colour
    assert (str(people.cget("background")), str(people.cget("selectbackground"))) == (DARK.PANEL, DARK.OWN_BG)
    assert str(people.itemcget(you, "foreground")) == DARK.OWN_FG
    assert str(chat.composer.menu.cget("background")) == DARK.PANEL
    assert str(chat.scrollback.actions.menu.cget("background")) == DARK.TK_FACE  # a menu left at Tk's colours
    style = ttk.Style(root)
    assert style.lookup("TLabel", "background") == DARK.BG
    assert style.lookup("Accent.TButton", "background") == DARK.ACCENT
    assert style.lookup("Accent.TButton", "foreground") == DARK.PANEL
    assert style.lookup("TEntry", "fieldbackground") == DARK.PANEL
    assert style.lookup("TButton", "background", ["active"]) == DARK.CONTROL_ACTIVE
    assert style.lookup("Banner.TLabel", "foreground") == DARK.WARN_FG
    # Nothing of LIGHT's is left: every colour that was LIGHT's is now DARK's of the same field.
    light_to_dark = theme.colour_map(LIGHT, DARK)
    after = every_colour(root)
    left = {
        where: (value, after.get(where))
        for where, value in before.items()
        if value.lower() in light_to_dark and after.get(where) != light_to_dark[value.lower()]
    }
    assert not left

    theme.use_palette(root, LIGHT)
    root.update()
    assert every_colour(root) == before
    assert styles(root) == styles_before
    assert theme.PANEL == LIGHT.PANEL


def test_what_is_made_while_dark_is_dark(themed, make_chat):
    root = themed
    theme.use_palette(root, DARK)
    chat = busy_chat(root, make_chat)
    text = chat.text
    assert (str(text.cget("background")), str(text.cget("foreground"))) == (DARK.PANEL, DARK.TEXT)
    assert str(text.tag_cget("history", "foreground")) == DARK.HISTORY
    assert str(text.tag_cget("c0", "foreground")) == DARK.SENDER_COLOURS[0]
    assert str(chat.input.cget("insertbackground")) == DARK.INK  # from the option database
    assert str(chat.scrollback.actions.menu.cget("background")) == DARK.TK_FACE
    assert str(chat.people.listbox.cget("background")) == DARK.PANEL
    menu = tk.Menu(root)
    help_text = WrappedText(root, [(0, "a paragraph")])
    assert (str(menu.cget("background")), str(menu.cget("foreground"))) == (DARK.TK_FACE, DARK.INK)
    assert (str(help_text.text.cget("foreground")), str(help_text.text.cget("background"))) == (DARK.MUTED, DARK.BG)
    assert ttk.Style(root).lookup("TFrame", "background") == DARK.BG
    assert ttk.Style(root).theme_use() == "clam"
    # And back: made in DARK, they take LIGHT's colours of the same fields.
    theme.use_palette(root, LIGHT)
    assert (str(text.cget("background")), str(text.cget("foreground"))) == (LIGHT.PANEL, LIGHT.TEXT)
    assert (str(help_text.text.cget("foreground")), str(menu.cget("background"))) == (LIGHT.MUTED, LIGHT.TK_FACE)


def test_a_drop_down_list_tcl_made_and_canvas_items_follow_too(themed):
    root = themed
    combo = ttk.Combobox(root, values=("192.168.1.20", "10.0.0.5"))
    popdown = str(root.tk.call("ttk::combobox::PopdownWindow", combo))  # Tcl's own widgets, unknown to tkinter
    listbox = f"{popdown}.f.l"
    canvas = tk.Canvas(root, background=theme.PANEL, highlightthickness=0)
    box = canvas.create_rectangle(1, 1, 20, 20, fill=theme.ACCENT, outline=theme.BORDER)
    label = canvas.create_text(5, 5, text="x", fill=theme.SENDER_COLOURS[3])
    original = str(root.tk.call(listbox, "cget", "-background"))
    theme.use_palette(root, DARK)
    assert str(root.tk.call(listbox, "cget", "-background")) == DARK.PANEL
    assert str(root.tk.call(listbox, "cget", "-selectbackground")) == DARK.TK_SELECT
    assert str(canvas.cget("background")) == DARK.PANEL
    assert (str(canvas.itemcget(box, "fill")), str(canvas.itemcget(box, "outline"))) == (DARK.ACCENT, DARK.BORDER)
    assert str(canvas.itemcget(label, "fill")) == DARK.SENDER_COLOURS[3]
    theme.use_palette(root, LIGHT)
    assert root.winfo_rgb(str(root.tk.call(listbox, "cget", "-background"))) == root.winfo_rgb(original)
    assert str(canvas.itemcget(box, "fill")) == LIGHT.ACCENT


def test_a_colour_outside_the_palette_is_left_alone(themed):
    root = themed
    label = tk.Label(root, background="#123456", foreground=theme.TEXT)
    theme.use_palette(root, DARK)
    assert (str(label.cget("background")), str(label.cget("foreground"))) == ("#123456", DARK.TEXT)


def test_the_native_themes_give_way_to_clam_for_dark():
    assert theme.choose_theme(["vista", "clam"], "win32") == "vista"
    assert theme.choose_theme(["vista", "clam"], "win32", dark=True) == "clam"
    assert theme.choose_theme(["aqua", "clam"], "darwin", dark=True) == "clam"
    assert theme.choose_theme(["clam", "default"], "linux", dark=True) == "clam"
    assert theme.choose_theme(["default"], "linux", dark=True) is None


class System:
    """The system's answer, which a test changes; the probe notes the thread that asked."""

    def __init__(self, dark):
        self.dark = dark
        self.asked = 0
        self.threads: set[str] = set()

    def __call__(self):
        self.asked += 1
        self.threads.add(threading.current_thread().name)
        return self.dark


def test_appearance_follows_the_system_while_its_choice_is_system(themed):
    root = themed
    system, changes = System(False), []
    look = Appearance(root, "system", on_change=changes.append, probe=system, interval=0.01)
    pump(root, lambda: look.system_dark is False, what="the first answer")
    assert theme.current_palette() is LIGHT and changes == []
    system.dark = True
    pump(root, lambda: theme.current_palette() is DARK, what="the switch to dark")
    assert changes == [DARK]
    assert threading.main_thread().name not in system.threads  # never asked on the Tk thread
    assert root.cget("background") == DARK.BG

    look.set_choice("light")  # at once, and the system is no longer asked
    assert theme.current_palette() is LIGHT and changes == [DARK, LIGHT]
    pump(root, lambda: all(t.name != "ocm-appearance" for t in threading.enumerate()), what="the worker to end")
    asked = system.asked
    system.dark = False
    root.update()
    assert system.asked == asked and theme.current_palette() is LIGHT

    look.set_choice("dark")
    assert theme.current_palette() is DARK
    look.set_choice("system")  # the last answer was dark: stays dark, then follows
    assert theme.current_palette() is DARK
    system.dark = False
    pump(root, lambda: theme.current_palette() is LIGHT, what="the switch back to light")
    look.close()
    pump(root, lambda: all(t.name != "ocm-appearance" for t in threading.enumerate()), what="the worker to end")


def test_appearance_keeps_the_look_while_the_system_cannot_tell(themed):
    root = themed
    system = System(None)
    look = Appearance(root, "dark", probe=system, interval=0.01)
    assert theme.current_palette() is DARK and system.asked == 0
    look.set_choice("system")
    pump(root, lambda: system.asked >= 2, what="two questions")
    root.update()
    assert theme.current_palette() is DARK
    look.close()
    with pytest.raises(ValueError):
        look.set_choice("sepia")


@pytest.mark.expect_error_log("asking the system for its appearance failed")
def test_a_probe_that_raises_is_logged_once_and_asked_again(themed, no_error_logs):
    root = themed
    calls = []

    def probe():
        calls.append(1)
        if len(calls) <= 3:
            raise RuntimeError("the portal fell over")
        return True

    look = Appearance(root, "system", probe=probe, interval=0.01)
    pump(root, lambda: theme.current_palette() is DARK, what="an answer after three failures")
    look.close()
    assert len(no_error_logs) == 1


def test_appearance_stops_asking_when_the_app_ends():
    root = tk.Tk()
    root.withdraw()
    system = System(False)
    Appearance(root, "system", probe=system, interval=0.01)
    pump(root, lambda: system.asked >= 1)
    root.destroy()
    deadline = time.monotonic() + 10
    while any(t.name == "ocm-appearance" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the appearance worker outlived its app"
        time.sleep(0.01)
    assert theme.current_palette() is LIGHT
