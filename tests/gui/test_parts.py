"""The chat window's parts on their own: banner, People list, scrollback, composer."""

from __future__ import annotations

import time
import tkinter as tk

from ocm_core.events import ChatMessage
from ocm_gui.banners import Banner
from ocm_gui.composer import Composer
from ocm_gui.members import MemberList, member_label
from ocm_gui.scrollback import Scrollback, line_entry


def test_banner_shows_text_and_actions_and_hides(root):
    pressed = []
    banner = Banner(root, row=0)
    root.update()
    assert not banner.frame.winfo_ismapped() and banner.text() == ""
    banner.show("Connection lost", actions=(("Leave", lambda: pressed.append("leave")),
                                            ("Keep waiting", lambda: pressed.append("wait"))))
    root.update()
    assert banner.frame.winfo_ismapped() and banner.text() == "Connection lost"
    assert banner.button_labels() == ["Leave", "Keep waiting"]
    banner.button("Keep waiting").invoke()
    assert pressed == ["wait"]
    banner.show("Room closed", closed=True)          # replaces the buttons and turns red
    root.update()
    assert banner.button_labels() == [] and str(banner.frame.cget("style")) == "Closed.TFrame"
    banner.hide()
    root.update()
    assert not banner.frame.winfo_ismapped() and banner.text() == ""


def test_member_list_puts_the_host_first_and_marks_you_and_plain_clients(root):
    people = MemberList(root, you="carol")
    people.set(("dave", "Bob", "carol", "alice"), host="dave", plain=frozenset({"Bob"}))
    assert people.labels() == ["★ dave (host)", "alice", "Bob (not encrypted)", "carol (you)"]
    assert people.members == ("dave", "alice", "Bob", "carol") and people.host_name == "dave"
    assert str(people.heading.cget("text")) == "People (4)"
    people.set(("carol",), host=None)
    assert people.labels() == ["carol (you)"] and str(people.heading.cget("text")) == "People (1)"
    assert member_label("x", host="x", you="x", plain=frozenset({"x"})) == "★ x (host) (you) (not encrypted)"


def test_scrollback_status_marks_and_retry(root):
    retried = []
    scrollback = Scrollback(root, username="me", later=lambda ms, f: root.after(ms, f), on_retry=retried.append)
    scrollback.frame.pack()
    scrollback.write([line_entry("hello", ("notice",)),
                      scrollback.message_entry(ChatMessage(1, "Bob", "hi there", time.time()))])
    scrollback.write([scrollback.own_entry(7, "mine", time.time())])
    assert scrollback.status_text(7) == "sending…"
    scrollback.mark_failed(7, "timeout")
    assert scrollback.status_text(7) == "✗ not delivered (timeout) Retry"
    assert scrollback.failed_ids() == [7]
    scrollback.mark_sending(7, 8)
    assert scrollback.status_text(8) == "sending…" and not scrollback.is_tracked(7)
    scrollback.mark_sent(8)
    assert scrollback.status_text(8) is None and not scrollback.is_tracked(8)
    lines = scrollback.transcript().splitlines()
    assert lines[:2] == ["hello", "Today"]  # a date line before the day's first message
    assert lines[2].endswith("Bob  hi there") and lines[3].endswith("me  mine  ✓")


def test_composer_counts_clears_and_disables(root):
    sent = []
    composer = Composer(root, limit=5, measure=lambda text: len(text.encode()), on_send=lambda: sent.append(1),
                        on_leave=lambda: None, leave_text="Leave")
    composer.frame.pack()
    composer.input.focus_force()
    root.update()  # key events go to the window that has the focus once X says so
    composer.input.insert("1.0", "\nabcdef\n")
    composer.input.event_generate("<<Modified>>")
    root.update()
    assert composer.message() == "abcdef" and composer.over_limit
    assert str(composer.counter.cget("text")) == "1 character too many"
    composer.input.event_generate("<Return>")
    root.update()
    assert sent == [1]
    composer.clear()
    assert composer.text() == "" and not composer.over_limit
    assert str(composer.counter.cget("text")) == "5 characters left"
    assert composer.enabled()
    composer.disable("closed", "Close window")
    assert not composer.enabled() and str(composer.leave_button.cget("text")) == "Close window"
    assert str(composer.hint.cget("text")) == "closed"
    assert isinstance(composer.input, tk.Text)
