"""With LANG=ja_JP.UTF-8 every window speaks Japanese: the start window, both dialogs and a
chat window show no English beyond the product's name, protocol names and what was typed.
Also: the language chosen in the start window applies to the windows opened after it."""

from __future__ import annotations

import re
import time
import tkinter as tk
from tkinter import ttk

import pytest
from gui_helpers import FakeClient, pump

from ocm_core import i18n
from ocm_core.sansio.events import ChatMessage, MembersChanged, Notice
from ocm_core.wire import RoomInfo
from ocm_gui.app import App
from ocm_gui.settings import Settings

# Words that stay as they are in a Japanese interface: the product's name, names of
# protocols and keys, and a language's own name in the language menu.
ALLOWED = {
    "Online",
    "Chat",
    "Messenger",
    "TCP",
    "UDP",
    "OK",
    "Enter",
    "Shift",
    "English",
    # the Join dialog's firewall advice: names of systems and networks, and a command to type
    "Windows",
    "macOS",
    "Linux",
    "mDNS",
    "VPN",
    "Wi",
    "Fi",
    "AP",
    "sudo",
    "ufw",
    "allow",
    "udp",
    "tcp",
}
FINGERPRINT = "KQFZ-PAMM-DXQT-WRNB"
TYPED = {"Bob", "lobby", *FINGERPRINT.split("-")}  # what was typed, member names, the server's key


def visible_texts(widget: tk.Misc) -> list[str]:
    """Every text a person can read in widget and its children: labels, buttons, headings,
    list and combobox entries, the scrollback, window titles."""
    texts: list[str] = []
    if isinstance(widget, (tk.Tk, tk.Toplevel)):
        texts.append(widget.title())
    if isinstance(widget, ttk.Treeview):
        texts += [widget.heading(c, "text") for c in widget["columns"]]
        texts += [str(v) for iid in widget.get_children() for v in widget.item(iid, "values")]
    elif isinstance(widget, ttk.Combobox):
        texts += [str(v) for v in widget.cget("values")]
    elif isinstance(widget, tk.Listbox):
        texts += [str(v) for v in widget.get(0, "end")]
    elif isinstance(widget, tk.Text):
        texts.append(widget.get("1.0", "end-1c"))
    elif not isinstance(widget, (ttk.Entry, tk.Entry)):
        try:
            texts.append(str(widget.cget("text")))
        except tk.TclError:
            pass
    for child in widget.winfo_children():
        texts += visible_texts(child)
    return [t for t in texts if t]


def english_words(widget: tk.Misc) -> set[str]:
    words = set()
    for text in visible_texts(widget):
        words.update(re.findall(r"[A-Za-z]{2,}", text))
    return words - ALLOWED - TYPED


def beyond_bmp(widget: tk.Misc) -> set[str]:
    """Characters past U+FFFF (emoji like a lock) in what widget shows: Tk 8.6 cannot draw them."""
    return {c for text in visible_texts(widget) for c in text if ord(c) > 0xFFFF}


@pytest.fixture
def japanese(monkeypatch):
    for name in i18n.ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    assert i18n.use_language("") == "ja"  # what run_app does with the settings' "" (the system's)


def test_no_english_left_in_any_window(root, japanese, settings):
    app = App(root, settings=settings)
    root.update()
    app.start.set_rooms(1)
    assert app.start.host_button.cget("text") == "ルームをホスト"
    assert english_words(root) == set(), "start window"

    host = app.open_host_dialog()
    root.update()
    host.show_error("")
    host.name_var.set("")
    host.ok_button.invoke()  # an error line, in Japanese too
    root.update()
    assert host.error_text() == "名前を入力してください。"
    assert english_words(host.win) == set(), "host dialog"

    join = app.open_join_dialog()
    join.fill_rooms([RoomInfo("lobby", 3, False, "Bob"), RoomInfo("秘密", 1, True, "花子")])
    join.show_password()
    root.update()
    assert english_words(join.win) == set(), "join dialog"
    host.close()
    join.close()

    client = FakeClient(room="lobby", username="花子", host_name="Bob", members=("Bob", "花子"))
    client.server_fingerprint = FINGERPRINT
    chat = app.open_chat(client, share_address="192.168.1.20:9090")
    now = time.time()
    for event in (
        ChatMessage(1, "Bob", "前の話です", now - 60, history=True),
        Notice(2, "joined", "次郎", "", now),
        MembersChanged(("Bob", "花子"), "Bob", frozenset({"Bob"})),
        ChatMessage(3, "Bob", "こんにちは", now),
    ):
        client.events.put(event)
    chat.input.insert("1.0", "了解です")
    msg_id = chat.send()
    client.fail(msg_id)
    pump(root, lambda: "再送" in chat.transcript(), what="the failed message's retry")
    chat.input.insert("1.0", "あ" * 5000)  # past the limit: the counter says how much to cut
    root.update()
    assert chat.counter.cget("text").endswith("文字オーバー")
    words = english_words(chat.win)
    assert words == set(), f"chat window: {words}"
    assert "次郎 さんが参加しました  ·  " in chat.transcript()
    assert chat.member_labels() == ["★ Bob（ホスト）（暗号化なし）", "花子（あなた）"]
    assert chat.fingerprint_label is not None and FINGERPRINT in chat.fingerprint_label.cget("text")
    assert beyond_bmp(chat.win) == set(), "Tk 8.6 draws these as empty boxes"
    app.quit()


def test_a_language_chosen_in_the_start_window_applies_to_new_windows(root, settings):
    app = App(root, settings=settings)
    root.update()
    assert app.start.host_button.cget("text") == "Host a room"
    dialog = app.open_join_dialog()
    app.start.language_var.set("日本語")
    app.start.language_box.event_generate("<<ComboboxSelected>>")
    root.update()
    assert settings.language == "ja" and Settings.load(settings.path).language == "ja"
    assert app.start.host_button.cget("text") == "ルームをホスト"  # the start window is rebuilt
    assert app.start.language_var.get() == "日本語"
    assert dialog.win.title() == "Join a room"  # an open window keeps its words
    dialog.close()
    assert app.open_host_dialog().win.title() == "ルームをホスト"  # a new one speaks Japanese
    app.start.language_var.set("English")
    app.start.language_box.event_generate("<<ComboboxSelected>>")
    root.update()
    assert app.start.join_button.cget("text") == "Join a room"
    app.quit()
