"""Text people can use in the scrollback: links, the context menu, copies without marks,
groups, date and unread lines, the opening line, and one's own join (real server)."""

from __future__ import annotations

import time

import pytest
from gui_helpers import FakeClient, pump

from ocm_core.net.client import ChatClient
from ocm_core.sansio.events import ChatMessage, FileShared, MessageSent, Notice
from ocm_gui import theme
from ocm_gui.chat.chatlines import day_label
from ocm_gui.chat.scrollback import LINK_TAG, UNREAD_TAG

DAY = 24 * 3600


@pytest.fixture
def make_chat(root, make_chat):  # the conftest's, themed, and opening links into a list
    theme.apply_theme(root)
    opened: list[str] = []

    def make(client=None, **kwargs):
        window = make_chat(client, **kwargs)
        window.scrollback.actions.open_url = opened.append  # never a real browser
        return window

    make.opened = opened
    return make


def put_and_wait(root, chat, *events, until: str):
    for event in events:
        chat.client.events.put(event)
    pump(root, lambda: until in chat.transcript(), what=repr(until))
    root.update()


def ranges(chat, tag: str) -> list[str]:
    found = chat.text.tag_ranges(tag)
    return [chat.plain_text(str(a), str(b)) for a, b in zip(found[::2], found[1::2])]


def point(chat, index: str) -> tuple[int, int]:
    chat.text.see(index)
    chat.text.update_idletasks()
    x, y, width, height = chat.text.bbox(index)
    return x + width // 2, y + height // 2


def click(chat, index: str) -> None:
    x, y = point(chat, index)
    for sequence in ("<Motion>", "<ButtonPress-1>", "<ButtonRelease-1>"):
        chat.text.event_generate(sequence, x=x, y=y)
    chat.text.update()


def lines_of(chat) -> list[str]:
    return chat.transcript().splitlines()


# ------------------------------------------------------------------ links
def test_links_are_underlined_open_on_click_and_only_http(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    text = "資料はhttps://example.com/a?b=1。or www.example.org, not javascript:alert(1)\nline two http://x.example/)"
    put_and_wait(root, chat, ChatMessage(1, "Bob", text, time.time(), history=True), until="line two")
    assert ranges(chat, LINK_TAG) == ["https://example.com/a?b=1", "www.example.org", "http://x.example/"]
    first = chat.text.tag_ranges(LINK_TAG)[0]
    assert chat.text.tag_cget(LINK_TAG, "underline") in ("1", 1, True)
    # The link tag wins over the grey of history and the sender colours.
    assert str(chat.text.tag_cget(LINK_TAG, "foreground")) == theme.ACCENT
    assert chat.text.tag_names().index(LINK_TAG) > chat.text.tag_names().index("history")

    x, y = point(chat, f"{first}+3c")
    chat.text.event_generate("<Motion>", x=x, y=y)
    chat.text.update()
    assert str(chat.text.cget("cursor")) == "hand2"
    click(chat, f"{first}+3c")
    assert make_chat.opened == ["https://example.com/a?b=1"]
    www = chat.text.tag_ranges(LINK_TAG)[2]
    click(chat, f"{www}+2c")
    assert make_chat.opened[-1] == "https://www.example.org"  # a bare www. opens over https

    # A drag that selects text over a link copies; it does not open the link.
    chat.text.tag_add("sel", first, f"{first}+5c")
    x, y = point(chat, f"{first}+3c")
    chat.text.event_generate("<ButtonRelease-1>", x=x, y=y)
    assert len(make_chat.opened) == 2
    chat.text.tag_remove("sel", "1.0", "end")
    # Anything but http(s) never reaches the browser, even if asked directly.
    assert not chat.scrollback.actions.open_link("javascript:alert(1)")
    assert not chat.scrollback.actions.open_link("file:///etc/passwd")
    assert make_chat.opened == ["https://example.com/a?b=1", "https://www.example.org"]


# ------------------------------------------------------------------ the context menu and copies
def menu_entries(chat) -> list[tuple[str, str]]:
    menu = chat.scrollback.actions.menu
    return [(menu.entrycget(i, "label"), str(menu.entrycget(i, "state"))) for i in range(menu.index("end") + 1)]


def right_click(chat, index: str) -> None:
    x, y = point(chat, index)
    chat.text.event_generate(
        "<Button-3>", x=x, y=y, rootx=chat.text.winfo_rootx() + x, rooty=chat.text.winfo_rooty() + y
    )


def close_menu(chat) -> None:
    chat.scrollback.actions.menu.unpost()
    chat.scrollback.actions.menu.grab_release()


def test_right_click_menu_copies_text_and_links_and_selects_all(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    put_and_wait(root, chat, ChatMessage(1, "Bob", "look: www.example.org/x and more", time.time()), until="more")
    link = chat.text.tag_ranges(LINK_TAG)[0]
    right_click(chat, f"{link}+2c")
    try:
        # A message's own items first (ocm_gui/chat/messageactions.py), then the text's.
        assert menu_entries(chat) == [
            ("Reply", "normal"),
            ("React", "normal"),
            ("Delete…", "normal"),  # the fake client hosts the room: any message may go
            ("Copy", "disabled"),
            ("Copy link", "normal"),
            ("Select all", "normal"),
        ]
        chat.scrollback.actions.menu.invoke(4)
        assert root.clipboard_get() == "https://www.example.org/x"
    finally:
        close_menu(chat)

    more = chat.text.search("more", "1.0")
    right_click(chat, more)  # not over a link: no Copy link
    try:
        assert [label for label, _state in menu_entries(chat)] == ["Reply", "React", "Delete…", "Copy", "Select all"]
        chat.scrollback.actions.menu.invoke(4)  # Select all
    finally:
        close_menu(chat)
    assert chat.text.get("sel.first", "sel.last") == chat.text.get("1.0", "end-1c")
    right_click(chat, more)
    try:
        assert menu_entries(chat)[3] == ("Copy", "normal")
        chat.scrollback.actions.menu.invoke(3)
    finally:
        close_menu(chat)
    assert "Bob  look: www.example.org/x and more" in root.clipboard_get()

    chat.text.tag_remove("sel", "1.0", "end")
    chat.text.focus_force()
    chat.text.event_generate("<Shift-F10>")  # the keyboard opens it too
    try:
        assert menu_entries(chat)[0] == ("Copy", "disabled")
        assert chat.scrollback.actions.menu.winfo_ismapped()
    finally:
        close_menu(chat)


def test_copies_leave_out_delivery_marks(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    for text in ("first", "second", "third"):
        chat.input.insert("1.0", text)
        chat.send()
    fake_client.events.put(MessageSent(1, 5))
    fake_client.fail(2)
    pump(root, lambda: "Retry" in chat.transcript() and "✓" in chat.transcript())
    shown = chat.transcript()
    assert "first  ✓" in shown and "not delivered" in shown and "third  sending…" in shown
    chat.scrollback.actions.select_all()
    chat.text.event_generate("<<Copy>>")
    copied = root.clipboard_get()
    assert "first" in copied and "second" in copied and "third" in copied
    for mark in ("✓", "✗", "not delivered", "Retry", "sending…"):
        assert mark not in copied, (mark, copied)
    assert root.selection_get() == copied  # the X selection (middle-button paste) too
    assert copied.splitlines()[-3:] == [f"{copied.splitlines()[-3][:5]}  Alice  first", "second", "third"]


# ------------------------------------------------------------------ groups
def test_messages_from_one_sender_within_minutes_share_one_name_and_time(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    start = time.time() - 600
    if time.localtime(start)[:3] != time.localtime()[:3]:
        start = time.time()  # just after midnight: keep the test on one day
    put_and_wait(
        root,
        chat,
        ChatMessage(1, "Bob", "one", start),
        ChatMessage(2, "Bob", "two\nand a second line", start + 60),
        ChatMessage(3, "Carol", "three", start + 70),
        ChatMessage(4, "Bob", "four", start + 80),
        Notice(5, "joined", "Dave", "", start + 90),
        ChatMessage(6, "Bob", "five", start + 100),
        ChatMessage(7, "Bob", "six, much later", start + 100 + 301),
        until="much later",
    )
    body = lines_of(chat)[2:]  # after the opening and date lines
    hhmm = time.strftime("%H:%M", time.localtime(start))
    assert body[:4] == [
        f"{hhmm}  Bob  one",
        "two",
        "and a second line",
        f"{time.strftime('%H:%M', time.localtime(start + 70))}  Carol  three",
    ]
    assert body[4].endswith("Bob  four")
    assert body[5].startswith("Dave joined the room  ·  ")
    assert body[6].endswith("Bob  five") and body[7].endswith("Bob  six, much later")
    two = chat.text.search("two", "1.0")
    assert "grouped" in chat.text.tag_names(two)
    assert chat.text.tag_cget("grouped", "lmargin1") == chat.text.tag_cget("cont", "lmargin1")

    # One's own messages group too, each keeping its own status.
    for text in ("mine 1", "mine 2"):
        chat.input.insert("1.0", text)
        chat.send()
    root.update()
    own = lines_of(chat)[-2:]
    assert own[0].endswith("Alice  mine 1  sending…") and own[1] == "mine 2  sending…"
    fake_client.events.put(MessageSent(2, 9))
    pump(root, lambda: lines_of(chat)[-1] == "mine 2  ✓")


def test_a_file_card_breaks_a_group(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    now = time.time()
    put_and_wait(
        root,
        chat,
        ChatMessage(1, "Bob", "before the file", now),
        FileShared(2, "f1", "notes.txt", 10, "Bob", "text/plain", now),
        ChatMessage(3, "Bob", "after the file", now),
        until="after the file",
    )
    assert lines_of(chat)[-1].endswith("Bob  after the file")


# ------------------------------------------------------------------ date lines
def test_date_lines_when_the_day_changes_history_included(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    now = time.time()
    noon = time.mktime(time.localtime(now)[:3] + (12, 0, 0, 0, 0, -1))
    put_and_wait(
        root,
        chat,
        ChatMessage(1, "Bob", "long ago", noon - 3 * DAY, history=True),
        ChatMessage(2, "Bob", "same day", noon - 3 * DAY + 60, history=True),
        Notice(3, "joined", "Carol", "", noon - DAY, history=True),
        ChatMessage(4, "Bob", "today", now),
        until="today",
    )
    lines = lines_of(chat)
    three_days = day_label(noon - 3 * DAY, now)
    assert three_days not in ("Today", "Yesterday") and str(time.localtime(noon - 3 * DAY).tm_year) in three_days
    assert lines[1:] == [
        "— earlier messages, before you joined —",
        three_days,
        f"{time.strftime('%H:%M', time.localtime(noon - 3 * DAY))}  Bob  long ago",
        "same day",
        "Yesterday",
        f"Carol joined the room  ·  {time.strftime('%H:%M', time.localtime(noon - DAY))}",
        "Today",
        f"{time.strftime('%H:%M', time.localtime(now))}  Bob  today",
    ]
    assert "dateline" in chat.text.tag_names(chat.text.search("Yesterday", "1.0"))


# ------------------------------------------------------------------ the unread line
def test_unread_line_marks_where_new_messages_began_and_goes_when_you_send(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    put_and_wait(root, chat, ChatMessage(1, "Bob", "seen", time.time()), until="seen")
    chat.win.event_generate("<FocusOut>")
    put_and_wait(
        root,
        chat,
        ChatMessage(2, "Bob", "while away 1", time.time()),
        Notice(3, "joined", "Eve", "", time.time()),
        until="away 1",
    )
    put_and_wait(root, chat, ChatMessage(4, "Bob", "while away 2", time.time()), until="away 2")
    lines = lines_of(chat)
    assert lines.count("— New messages —") == 1
    assert lines[lines.index("— New messages —") + 1].endswith("Bob  while away 1")  # the line breaks the group
    assert lines[lines.index("— New messages —") - 1].endswith("Bob  seen")
    chat.win.event_generate("<FocusIn>")
    put_and_wait(root, chat, ChatMessage(5, "Bob", "read at once", time.time()), until="read at once")
    assert lines_of(chat).count("— New messages —") == 1  # still where it was

    chat.win.event_generate("<FocusOut>")  # away again: the line moves, there is only one
    put_and_wait(root, chat, ChatMessage(6, "Carol", "second absence", time.time()), until="second absence")
    lines = lines_of(chat)
    assert lines.count("— New messages —") == 1
    assert lines[lines.index("— New messages —") + 1].endswith("Carol  second absence")
    lines_before = chat.scrollback._line_total
    chat.win.event_generate("<FocusIn>")
    chat.input.insert("1.0", "my answer")
    chat.send()
    root.update()
    assert "— New messages —" not in chat.transcript() and not chat.text.tag_ranges(UNREAD_TAG)
    assert chat.scrollback._line_total == lines_before  # one line gone, one message line added
    assert chat.scrollback._line_total == len(lines_of(chat))


# ------------------------------------------------------------------ the opening line
def test_opening_line_for_host_and_member(root, make_chat):
    host = make_chat(FakeClient(room="お茶会"), share_address="192.168.1.20:9090")
    assert lines_of(host)[0] == "You host “お茶会”. Others join with 192.168.1.20:9090 — share it."
    member = make_chat(
        FakeClient(username="me", host_name="Ann", members=("Ann", "Bob", "Cy", "Di", "me", "Ed", "Flo"))
    )
    assert lines_of(member)[0] == "You joined “lobby”. Here now: Ann, Bob, Cy and 3 others"
    assert "notice" in member.text.tag_names("1.0")


# ------------------------------------------------------------------ one's own join, through a real server
def test_own_join_is_not_under_earlier_messages(root, make_chat, server):  # server: tests/conftest.py
    port = server.tcp_address[1]
    alice, bob, carol = (ChatClient("127.0.0.1", port) for _ in range(3))
    alice.create_room("lobby", "alice")
    bob.join_room("lobby", "bob")  # an empty room but for its host: nothing earlier to show
    bob_chat = make_chat(bob)
    alice.send("hello bob")
    pump(root, lambda: "hello bob" in bob_chat.transcript(), what="alice's first message at bob")
    assert "earlier messages" not in bob_chat.transcript()
    # The opening line says you joined; the server's notice of it would only repeat that.
    assert bob_chat.transcript().splitlines()[0].startswith("You joined “lobby”.")
    assert "bob joined the room" not in bob_chat.transcript()

    alice.send("said before carol came")
    pump(root, lambda: "said before carol" in bob_chat.transcript(), what="alice's message at bob")
    carol.join_room("lobby", "carol")
    carol_chat = make_chat(carol)
    pump(root, lambda: "carol joined the room  ·  " in bob_chat.transcript(), what="carol's join at bob")
    alice.send("welcome carol")
    pump(root, lambda: "welcome carol" in carol_chat.transcript(), what="a live message at carol")
    lines = carol_chat.transcript().splitlines()
    separator = lines.index("— earlier messages, before you joined —")
    said = next(i for i, line in enumerate(lines) if "said before carol came" in line)
    welcome = next(i for i, line in enumerate(lines) if "welcome carol" in line)
    assert separator < said < welcome
    assert "carol joined the room" not in carol_chat.transcript()
    assert "history" in carol_chat.text.tag_names(carol_chat.text.search("said before", "1.0"))
    assert "history" not in carol_chat.text.tag_names(carol_chat.text.search("welcome carol", "1.0"))
    for client in (alice, bob, carol):
        client.leave()


def test_date_lines_are_relabelled_when_a_window_stays_open_past_midnight(root):
    from ocm_gui.chat.scrollback import Scrollback

    theme.apply_theme(root)
    evening = time.mktime((2026, 11, 23, 23, 50, 0, 0, 0, -1))
    clock = [evening]
    scrollback = Scrollback(
        root, username="me", later=lambda ms, f: root.after(ms, f), on_retry=lambda msg_id: None, now=lambda: clock[0]
    )
    scrollback.frame.pack()
    scrollback.write([scrollback.message_entry(ChatMessage(1, "Bob", "late", evening))])
    assert scrollback.transcript().splitlines()[0] == "Today"
    clock[0] = evening + 20 * 60  # 00:10 the next day
    scrollback.write([scrollback.message_entry(ChatMessage(2, "Bob", "after midnight", clock[0]))])
    assert scrollback.transcript().splitlines() == [
        "Yesterday",
        "23:50  Bob  late",
        "Today",
        "00:10  Bob  after midnight",
    ]
    clock[0] += DAY
    scrollback.write([scrollback.message_entry(ChatMessage(3, "Bob", "a day on", clock[0]))])
    assert scrollback.transcript().splitlines()[::2] == ["Monday, 23 November 2026", "Yesterday", "Today"]


def test_a_trimmed_group_keeps_a_name_over_what_is_left(root, make_chat, fake_client, monkeypatch):
    from ocm_gui.chat import scrollback as scrollback_module

    monkeypatch.setattr(scrollback_module, "SCROLLBACK_LINES", 6)
    chat = make_chat(fake_client)
    now = time.time()
    hhmm = time.strftime("%H:%M", time.localtime(now))
    put_and_wait(root, chat, *(ChatMessage(i, "花子", f"m{i} です", now) for i in range(1, 5)), until="m4")
    put_and_wait(root, chat, ChatMessage(5, "Carol", "c5", now), until="c5")
    assert lines_of(chat) == ["Today", f"{hhmm}  花子  m1 です", "m2 です", "m3 です", "m4 です", f"{hhmm}  Carol  c5"]
    # One line over: the group's first message (with the date line that came in with it) goes,
    # and the next one gets the name and time back.
    put_and_wait(root, chat, ChatMessage(6, "Carol", "c6", now), until="c6")
    assert lines_of(chat) == [f"{hhmm}  花子  m2 です", "m3 です", "m4 です", f"{hhmm}  Carol  c5", "c6"]
    assert "grouped" not in chat.text.tag_names("1.0 lineend -1c") and "sender" in chat.text.tag_names("1.8")
    assert chat.scrollback._line_total == len(lines_of(chat)) == 5


def test_a_group_lasts_five_minutes_from_its_first_message(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    start = time.time() - 900
    if time.localtime(start)[:3] != time.localtime()[:3]:
        start = time.time()
    put_and_wait(
        root,
        chat,
        *(ChatMessage(i, "Bob", f"every four minutes {i}", start + 240 * i) for i in range(3)),
        until="minutes 2",
    )
    # Each is 4 minutes after the one before, but the third is 8 after the first: the one time
    # shown over a group is never more than 5 minutes off a message under it.
    assert lines_of(chat)[2:] == [
        f"{time.strftime('%H:%M', time.localtime(start))}  Bob  every four minutes 0",
        "every four minutes 1",
        f"{time.strftime('%H:%M', time.localtime(start + 480))}  Bob  every four minutes 2",
    ]
