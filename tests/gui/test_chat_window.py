"""The chat window against a fake client: states, styles, keyboard, limits."""

from __future__ import annotations

import re
import time

import pytest
from gui_helpers import FakeClient, pump

from ocm_core.sansio.events import (
    ChatMessage,
    ConnectionLost,
    ConnectionRestored,
    MembersChanged,
    MessageSent,
    Notice,
    Resumed,
    RoomClosed,
)
from ocm_gui import theme
from ocm_gui.chat import scrollback as scrollback_module
from ocm_gui.chat.window import ChatWindow
from ocm_gui.inbox import inbox_for
from ocm_gui.text.linebreak import BREAK_TAG, NO_END, NO_START


def find(chat: ChatWindow, needle: str) -> str:
    """Where needle starts in the scrollback, skipping the zero-width break spaces between its characters."""
    pattern = " ?".join(re.escape(ch) if not ch.isalnum() else ch for ch in needle)
    return chat.text.search(pattern, "1.0", "end", regexp=True)


def tags_at_text(chat: ChatWindow, needle: str) -> tuple[str, ...]:
    index = find(chat, needle)
    assert index, f"{needle!r} is not in the scrollback"
    return chat.text.tag_names(index)


def fully_visible(chat: ChatWindow, index: str) -> bool:
    info = chat.text.dlineinfo(index)
    return info is not None and info[1] >= 0 and info[1] + info[3] <= chat.text.winfo_height()


def put(client, *events):
    for event in events:
        client.events.put(event)


def test_messages_show_time_sender_text_and_members_mark_the_host(root, make_chat):
    client = FakeClient(username="Bob", host_name="アリス", members=("アリス", "Bob"))
    chat = make_chat(client)
    assert chat.win.title() == "lobby — Online Chat Messenger"
    assert chat.member_labels() == ["★ アリス (host)", "Bob (you)"]
    assert chat.leave_button.cget("text") == "Leave"
    stamp = time.mktime((2026, 11, 25, 9, 5, 0, 0, 0, -1))
    put(client, ChatMessage(1, "アリス", "こんにちは、世界", stamp))
    pump(root, lambda: "こんにちは" in chat.transcript())
    line = chat.transcript().splitlines()[-1]
    assert line.endswith("アリス  こんにちは、世界")
    assert "09:05" in line
    assert "sender" in chat.text.tag_names(
        find(chat, "アリス  こんにちは")
    )  # (the first アリス is in the opening line)
    assert "own" not in tags_at_text(chat, "こんにちは")

    put(client, MembersChanged(("アリス", "Bob", "Carol"), "アリス"))
    pump(root, lambda: len(chat.member_labels()) == 3)
    assert chat.member_labels() == ["★ アリス (host)", "Bob (you)", "Carol"]
    assert chat.members_label.cget("text") == "People (3)"
    put(client, MembersChanged(("アリス", "Bob", "Carol"), "アリス", frozenset({"Carol"})))
    pump(root, lambda: "Carol" not in chat.member_labels())
    # In words and amber, not a lock emoji: Tk 8.6 draws characters past U+FFFF as empty boxes.
    assert chat.member_labels() == ["★ アリス (host)", "Bob (you)", "Carol (not encrypted)"]
    assert chat.members_list.itemcget(2, "foreground") == theme.WARN_FG


def test_notices_and_history_have_their_own_style(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    now = time.time()
    put(
        fake_client,
        ChatMessage(1, "Dave", "an old message", now - 60, history=True),
        Notice(2, "joined", "Bob", "Bob joined the room", now),
        Notice(3, "timed_out", "Eve", "", now),
    )
    pump(root, lambda: "Eve" in chat.transcript())
    lines = chat.transcript().splitlines()
    assert lines[:2] == ["You host “lobby”.", "— earlier messages, before you joined —"]
    assert "history" in tags_at_text(chat, "an old message")
    assert "notice" in tags_at_text(chat, "Bob joined the room")
    assert "history" not in tags_at_text(chat, "Bob joined the room")
    assert "Eve stopped responding and was removed  ·  " in chat.transcript()


def test_own_message_goes_pending_sent_and_failed_with_retry(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    chat.input.insert("1.0", "first")
    first = chat.send()
    assert fake_client.sent == [(first, "first")]
    assert chat.input_text() == ""
    assert chat.status_text(first) == "sending…"
    assert "own" in tags_at_text(chat, "first")
    assert chat.username in chat.transcript()

    chat.input.insert("1.0", "second")
    second = chat.send()
    put(fake_client, MessageSent(first, 7))
    pump(root, lambda: chat.status_text(first) is None)
    assert "first  ✓" in chat.transcript()

    fake_client.fail(second)
    pump(root, lambda: "not delivered" in (chat.status_text(second) or ""))
    assert chat.status_text(second).endswith("Retry")
    retry_index = find(chat, "Retry")
    assert "retry" in chat.text.tag_names(retry_index)

    # a click on Retry sends it again under a new id and shows it as pending
    chat.text.see(retry_index)
    root.update()
    x, y, _, height = chat.text.bbox(retry_index)
    chat.text.event_generate("<Motion>", x=x + 2, y=y + height // 2)  # Tk picks the tag under the pointer
    chat.text.event_generate("<Button-1>", x=x + 2, y=y + height // 2)
    pump(root, lambda: len(fake_client.sent) == 3)
    new_id, text = fake_client.sent[-1]
    assert text == "second"
    assert chat.status_text(new_id) == "sending…"
    assert "Retry" not in chat.transcript()
    put(fake_client, MessageSent(new_id, 9))
    pump(root, lambda: chat.status_text(new_id) is None)
    assert chat.transcript().count("✓") == 2


def test_enter_sends_and_shift_enter_adds_a_line(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    chat.input.focus_force()
    root.update()  # key events go to the window that has the focus once X says so
    chat.input.insert("end", "line one")
    chat.input.event_generate("<Shift-Return>")
    chat.input.insert("end", "line two")
    root.update()
    assert chat.input_text() == "line one\nline two"
    assert fake_client.sent == []
    chat.input.event_generate("<Return>")
    root.update()
    assert fake_client.sent == [(1, "line one\nline two")]
    assert chat.input_text() == ""
    # an empty or blank input sends nothing
    chat.input.insert("end", "   ")
    chat.input.event_generate("<Return>")
    root.update()
    assert len(fake_client.sent) == 1


def test_counter_shows_characters_left_turns_red_past_the_limit_and_send_refuses(root, make_chat):
    client = FakeClient(max_message_bytes=30)  # FakeClient counts a message's UTF-8 bytes
    chat = make_chat(client)
    assert chat.counter.cget("text") == "30 characters left"
    chat.input.insert("1.0", "日本語")  # 9 bytes: 21 left, room for 7 more of the kind just typed
    root.update()
    assert chat.counter.cget("text") == "7 characters left"
    assert str(chat.counter.cget("style")) == "Small.TLabel"
    chat.input.insert("end", "ab")  # 11 bytes: 19 left, 19 more ASCII letters
    root.update()
    assert chat.counter.cget("text") == "19 characters left"
    chat.input.delete("1.0", "end")
    chat.input.insert("1.0", "あ" * 10)  # exactly 30 bytes: at the limit, still sendable
    root.update()
    assert chat.counter.cget("text") == "0 characters left"
    assert str(chat.counter.cget("style")) == "Small.TLabel"
    chat.input.insert("end", "x")  # 31 bytes: one character to cut
    root.update()
    assert chat.counter.cget("text") == "1 character too many"
    chat.input.delete("1.0", "end")
    chat.input.insert("1.0", "日本語" + "あ" * 8)  # 33 bytes: cutting one kana saves 3
    root.update()
    assert chat.counter.cget("text") == "1 character too many"
    assert str(chat.counter.cget("style")) == "Over.Small.TLabel"
    assert chat.send() is None
    assert client.sent == []
    assert chat.hint.cget("text") == ("Not sent: the message is 1 character too long; shorten it or split it in two.")
    assert chat.input_text() == "日本語" + "あ" * 8  # kept, so it can be shortened
    chat.input.delete("end-3c", "end")  # two kana fewer: 27 bytes, fits
    root.update()
    assert chat.counter.cget("text") == "1 character left"
    assert chat.send() is not None and client.sent


@pytest.mark.parametrize("size", [29, 30, 31])
def test_byte_counter_and_send_one_under_at_and_one_over_the_limit(root, make_chat, size):
    client = FakeClient(max_message_bytes=30)
    chat = make_chat(client)
    text = "あ" * 9 + "x" * (size - 27)  # counted in UTF-8 bytes, not characters
    chat.input.insert("1.0", text)
    root.update()
    over = size > 30
    # Bytes underneath, characters on screen: 1 "x" left at 29 bytes, none at 30, 1 too many at 31.
    expected = {29: "1 character left", 30: "0 characters left", 31: "1 character too many"}[size]
    assert chat.counter.cget("text") == expected
    assert str(chat.counter.cget("style")) == ("Over.Small.TLabel" if over else "Small.TLabel")
    assert chat.over_limit is over
    msg_id = chat.send()
    if over:
        assert msg_id is None and client.sent == []
        assert "the message is 1 character too long" in chat.hint.cget("text")
        assert chat.input_text() == text
    else:
        assert client.sent == [(msg_id, text)]
        assert chat.input_text() == ""


def test_unread_count_in_title_while_unfocused(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    chat.win.event_generate("<FocusOut>")
    put(
        fake_client,
        ChatMessage(1, "Bob", "one", time.time()),
        ChatMessage(2, "Bob", "two", time.time()),
        ChatMessage(3, "Bob", "old", time.time(), history=True),
    )
    pump(root, lambda: "two" in chat.transcript())
    assert chat.win.title() == "(2) lobby — Online Chat Messenger"
    chat.win.event_generate("<FocusIn>")
    root.update()
    assert chat.win.title() == "lobby — Online Chat Messenger"


def test_autoscroll_unless_scrolled_up(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    put(fake_client, *(ChatMessage(i, "Bob", f"message {i}", time.time()) for i in range(1, 101)))
    pump(root, lambda: "message 100" in chat.transcript())
    root.update()
    assert chat.text.yview()[1] == pytest.approx(1.0)
    assert fully_visible(chat, "end-2c")  # the newest line is on screen

    for _ in range(10):  # the mouse wheel, up
        chat.text.event_generate("<Button-4>", x=20, y=20)
    pump(root, lambda: not chat.following, what="the window to notice the user scrolled up")
    top_line = chat.text.index("@0,0")
    assert chat.text.yview()[1] < 0.99
    put(fake_client, ChatMessage(101, "Bob", "message 101", time.time()))
    pump(root, lambda: "message 101" in chat.transcript())
    root.update()
    assert chat.text.index("@0,0") == top_line  # the reader's place is kept
    assert chat.more_button.winfo_ismapped()
    chat.more_button.invoke()
    root.update()
    assert chat.text.yview()[1] == pytest.approx(1.0)
    assert not chat.more_button.winfo_ismapped()
    assert chat.following


def test_newest_line_stays_in_view_when_a_banner_shrinks_the_scrollback(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    put(fake_client, *(ChatMessage(i, "Bob", f"message {i}", time.time()) for i in range(1, 60)))
    pump(root, lambda: "message 59" in chat.transcript())
    put(fake_client, RoomClosed("The host closed the room."))
    pump(root, lambda: chat.room_closed and chat.banner.winfo_ismapped())
    root.update()
    notice = find(chat, "The host closed the room.")
    assert fully_visible(chat, notice)


def test_newest_line_stays_in_view_when_the_window_shrinks(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    put(fake_client, *(ChatMessage(i, "Bob", f"message {i}", time.time()) for i in range(1, 60)))
    pump(root, lambda: "message 59" in chat.transcript())
    chat.win.geometry("600x400")
    pump(root, lambda: chat.win.winfo_height() == 400)
    assert fully_visible(chat, "end-2c")
    put(fake_client, ChatMessage(60, "Bob", "message 60", time.time()))
    pump(root, lambda: "message 60" in chat.transcript())
    root.update()
    assert fully_visible(chat, "end-2c")


def display_lines(chat: ChatWindow) -> list[str]:
    """The scrollback as drawn: one string per display line, break spaces taken out."""
    text, lines = chat.text, []
    index = text.index("1.0")
    while text.compare(index, "<", "end-1c"):
        following = text.index(f"{index} +1 display lines")
        if text.compare(following, "<=", index):
            following = text.index("end-1c")
        lines.append(chat.plain_text(index, following).rstrip("\n"))
        index = following
    return lines


MIXED = (
    "「来週の meeting は Tuesday です。」と、ちょっと待って（確認します）。"
    "Please review the attached document before then, ありがとうございます。" * 3
)


@pytest.mark.parametrize("size", ["560x520", "760x520", "1200x520"])
def test_mixed_text_wraps_japanese_by_character_keeps_words_and_kinsoku(root, make_chat, fake_client, size):
    chat = make_chat(fake_client)
    chat.win.geometry(size)
    put(
        fake_client,
        ChatMessage(1, "花子", MIXED + "\nsecond line", time.time()),
        ChatMessage(2, "Bob", "plain English words", time.time()),
    )
    pump(root, lambda: "plain English" in chat.transcript())
    root.update()
    lines = display_lines(chat)
    message = [line for line in lines if line.strip()][
        2:-2
    ]  # the mixed message's display lines (after the opening and date lines)
    assert len(message) >= 3, lines  # it wrapped
    for line in message[1:]:
        assert line.strip()[0] not in NO_START, f"a line starts with {line.strip()[0]!r}: {lines}"
    for line in message[:-1]:
        assert line.rstrip()[-1] not in NO_END, f"a line ends with {line.rstrip()[-1]!r}: {lines}"
    drawn = " ".join(message)
    for word in re.findall(r"[A-Za-z]+", MIXED):
        assert re.search(rf"(?<![A-Za-z]){word}(?![A-Za-z])", drawn), f"{word!r} was broken: {lines}"
    # the text starts beside the name, not moved whole to the next line
    assert chat.text.index(f"{find(chat, '「来週')} display linestart") == chat.text.index(
        f"{find(chat, '花子')} linestart"
    )
    assert "cont" in tags_at_text(chat, "second line")
    assert chat.transcript().splitlines()[2].endswith("花子  " + MIXED)


def test_copying_from_the_scrollback_leaves_the_break_marks_out(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    put(fake_client, ChatMessage(1, "花子", "日本語のテキスト", time.time()))
    pump(root, lambda: "テキスト" in chat.transcript())
    assert chat.text.tag_ranges(BREAK_TAG) and "日 本 語" in chat.text.get("1.0", "end")
    start = find(chat, "日本語")
    chat.text.tag_add("sel", start, f"{start} lineend")
    chat.text.event_generate("<<Copy>>")
    assert root.clipboard_get() == "日本語のテキスト"
    assert root.selection_get() == "日本語のテキスト"  # the X selection (middle-button paste) too


def test_scrollback_keeps_the_newest_lines(root, make_chat, fake_client, monkeypatch):
    monkeypatch.setattr(scrollback_module, "SCROLLBACK_LINES", 50)
    chat = make_chat(fake_client)
    put(fake_client, ChatMessage(1, "Bob", "two\nlines", time.time()))
    put(fake_client, *(ChatMessage(i, "Bob", f"m{i}", time.time()) for i in range(2, 121)))
    pump(root, lambda: "m120" in chat.transcript())
    lines = chat.transcript().splitlines()
    assert len(lines) == 50
    assert lines[0].endswith("m71") and lines[-1].endswith("m120")


def test_connection_lost_banner_and_restore(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    put(fake_client, ConnectionLost())
    pump(root, lambda: chat.banner.winfo_ismapped())
    assert chat.banner_label.cget("text") == "Connection lost, reconnecting…"
    assert chat.input_enabled()
    put(fake_client, ConnectionRestored())
    pump(root, lambda: not chat.banner.winfo_ismapped())
    assert "Connection restored." in chat.transcript()


def test_coming_back_from_sleep_says_how_many_messages_were_missed_above_them(root, make_chat, fake_client):
    chat = make_chat(fake_client)
    put(
        fake_client,
        ConnectionLost(),
        Resumed(2),
        ChatMessage(7, "Bob", "while you slept", time.time()),
        ChatMessage(8, "Bob", "still there?", time.time()),
        ConnectionRestored(),
    )
    pump(root, lambda: "still there?" in chat.transcript())
    text = chat.transcript()
    assert "You were away; 2 messages you missed are below." in text
    assert text.index("You were away") < text.index("while you slept")


def test_room_closed_disables_input_and_offers_back_to_start(root, make_chat, fake_client):
    backs = []
    client = FakeClient(username="Bob", host_name="Alice", members=("Alice", "Bob"))
    chat = make_chat(client, on_back=backs.append)
    chat.input.insert("1.0", "typed before the host left")  # a real message: only the guard can stop it
    put(client, RoomClosed("The host closed the room."))
    pump(root, lambda: chat.room_closed)
    root.update()
    assert not chat.input_enabled()
    assert chat.banner_label.cget("text") == "The host closed the room."
    assert chat.back_button.winfo_ismapped()
    assert chat.leave_button.cget("text") == "Close window"
    assert "error" in tags_at_text(chat, "The host closed the room.")
    chat.input.event_generate("<Return>")
    root.update()
    assert chat.send() is None
    assert client.sent == []
    assert chat.input_text() == "typed before the host left"
    chat.back_button.invoke()
    assert backs == [chat]
    assert chat.destroyed and not chat.win.winfo_exists()


def test_leave_stops_watching_the_client_and_leaves(root, make_chat, fake_client):
    closed = []
    chat = make_chat(fake_client, on_close=closed.append)
    inbox = inbox_for(root)
    fake_client.events.put(ChatMessage(1, "Bob", "early", time.time()))
    pump(root, lambda: chat.ticks == 1 and fake_client.events.empty(), what="the inbox to hand the window its events")
    chat.leave_button.invoke()
    assert closed == [chat]
    pump(root, lambda: fake_client.left)
    assert not chat.win.winfo_exists()
    # events after closing are never handled, however long the loop runs (many of its turns)
    turns = inbox.ticks
    fake_client.events.put(ChatMessage(2, "Bob", "late", time.time()))
    pump(root, lambda: inbox.ticks >= turns + 10, what="ten turns of the inbox loop")
    assert chat.ticks == 1
    assert fake_client.events.qsize() == 1  # still queued: nothing drained it


def test_host_window_shows_the_share_address_and_copies_it(root, make_chat, fake_client):
    chat = make_chat(fake_client, share_address="192.168.1.20:9090")
    assert chat.leave_button.cget("text") == "Close room"
    assert chat.share_entry.get() == "192.168.1.20:9090"
    chat.copy_button.invoke()
    assert root.clipboard_get() == "192.168.1.20:9090"
    assert chat.copy_button.cget("text") == "Copied ✓"


def test_a_closed_window_is_freed_while_its_leave_still_runs_and_late_events_reach_nobody(root, settings):
    """Workers hold values, never the window: closing it frees it at once, though the thread
    that leaves the room is still blocked, and what the client reports afterwards goes nowhere."""
    import gc
    import threading
    import weakref

    release = threading.Event()

    class SlowToLeave(FakeClient):
        def leave(self) -> None:
            release.wait(10)
            super().leave()

    client = SlowToLeave()
    chat = ChatWindow(root, client, settings=settings)
    root.update()
    window = weakref.ref(chat)
    chat.leave_button.invoke()
    del chat
    inbox = inbox_for(root)
    turns = inbox.ticks
    pump(root, lambda: inbox.ticks > turns + 2, what="the inbox to collect the closed window")
    gc.collect()
    assert window() is None, [type(r).__name__ for r in gc.get_referrers(window())]
    client.events.put(ChatMessage(1, "Bob", "after the window closed", time.time()))
    pump(root, lambda: inbox.ticks > turns + 10, what="more turns of the inbox")
    assert client.events.qsize() == 1  # nobody took it
    assert not client.left  # the leave is still under way on its thread
    release.set()
    pump(root, lambda: client.left, what="the leave to finish")
