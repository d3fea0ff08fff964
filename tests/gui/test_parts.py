"""The chat window's parts on their own: banner, People list, scrollback, composer."""

from __future__ import annotations

import time
import tkinter as tk

from ocm_core.sansio.events import ChatMessage
from ocm_gui.chat.banners import Banner
from ocm_gui.chat.composer import Composer
from ocm_gui.chat.members import MemberList, member_label
from ocm_gui.chat.scrollback import Scrollback, line_entry


def test_banner_shows_text_and_actions_and_hides(root):
    pressed = []
    banner = Banner(root, row=0)
    root.update()
    assert not banner.frame.winfo_ismapped() and banner.text() == ""
    banner.show(
        "Connection lost",
        actions=(("Leave", lambda: pressed.append("leave")), ("Keep waiting", lambda: pressed.append("wait"))),
    )
    root.update()
    assert banner.frame.winfo_ismapped() and banner.text() == "Connection lost"
    assert banner.button_labels() == ["Leave", "Keep waiting"]
    banner.button("Keep waiting").invoke()
    assert pressed == ["wait"]
    banner.show("Room closed", closed=True)  # replaces the buttons and turns red
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
    assert member_label("x", host="x", you="x", plain=frozenset({"x"})) == "★ x (host, you) (not encrypted)"


def test_scrollback_status_marks_and_retry(root):
    retried = []
    scrollback = Scrollback(root, username="me", later=lambda ms, f: root.after(ms, f), on_retry=retried.append)
    scrollback.frame.pack()
    scrollback.write(
        [line_entry("hello", ("notice",)), scrollback.message_entry(ChatMessage(1, "Bob", "hi there", time.time()))]
    )
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
    composer = Composer(
        root,
        limit=5,
        measure=lambda text: len(text.encode()),
        on_send=lambda: sent.append(1),
        on_leave=lambda: None,
        leave_text="Leave",
    )
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


def test_header_shows_room_role_address_and_identity_and_copies_the_address(root):
    from ocm_gui.chat.header import ChatHeader

    scheduled = []
    header = ChatHeader(
        root,
        room="lobby",
        username="Ann",
        is_host=True,
        share_address="192.0.2.5:9090",
        fingerprint="ABCD-EFGH",
        later=lambda ms, func: scheduled.append((ms, func)),
    )
    header.frame.pack(fill="x")
    root.update()
    assert str(header.room_label.cget("text")) == "lobby"
    assert str(header.who_label.cget("text")) == "Ann · you host this room"
    assert header.share_entry is not None and header.share_entry.get() == "192.0.2.5:9090"
    assert header.share_width() > 0
    assert "ABCD-EFGH" in str(header.fingerprint_label.cget("text"))
    header.copy_button.invoke()
    assert root.clipboard_get() == "192.0.2.5:9090" and str(header.copy_button.cget("text")) == "Copied ✓"
    ((delay, restore),) = scheduled
    restore()
    assert delay == 1500 and str(header.copy_button.cget("text")) == "Copy"
    member = ChatHeader(
        root,
        room="lobby",
        username="Bob",
        is_host=False,
        share_address=None,
        fingerprint=None,
        later=lambda ms, func: None,
    )
    assert member.share_entry is None and member.fingerprint_label is None and member.share_width() == 0
    assert str(member.who_label.cget("text")) == "Bob · you are a member"
    locked = ChatHeader(
        root,
        room="club",
        username="Cy",
        is_host=True,
        share_address=None,
        fingerprint=None,
        later=lambda ms, func: None,
        locked=True,
    )
    assert str(locked.who_label.cget("text")) == "Cy · you host this room · locked with a password"


def test_a_cut_name_keeps_its_marks_and_blue_means_you(root):
    from ocm_gui import theme
    from ocm_gui.chat.members import fit_label

    def label_for(shown):
        return member_label(
            "Dave with a rather long display name",
            host=None,
            you="Dave with a rather long display name",
            plain=frozenset(),
            shown=shown,
        )

    measure = len  # one unit per character
    assert fit_label("Dave with a rather long display name", label_for, 100, measure) == label_for(
        "Dave with a rather long display name"
    )
    cut = fit_label("Dave with a rather long display name", label_for, 20, measure)
    assert cut.endswith("… (you)") and len(cut) <= 20 and cut.startswith("Dave with")
    assert fit_label("Dave", lambda shown: f"{shown} (you)", 3, measure) == "Da…"  # not even the mark fits: cut it all

    people = MemberList(root, you="carol")
    people.set(("dave", "carol", "erin"), host="dave", plain=frozenset({"erin"}))
    colours = [str(people.listbox.itemcget(row, "foreground")) for row in range(3)]
    assert colours == ["", theme.OWN_FG, theme.WARN_FG]  # the host: default colour, the star says it
