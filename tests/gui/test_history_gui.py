"""The history on this PC as a person meets it in the app: a room opened again shows what was
said before and what was missed (once, unread), a room that ended stays greyed with its
history until removed, a room of the same name made anew is not entered silently, Ctrl+F
finds in a room, the search across rooms opens the room at its line, and a conversation
is saved, forgotten, or not kept at all."""

from __future__ import annotations

import time

import pytest
from gui_helpers import FakeBackend, FakeClient, pump

from ocm_core.errors import ServerUnreachable
from ocm_core.net.recorder import RoomRecorder
from ocm_core.sansio.events import ChatMessage, MessageSent, Notice, NoticeKind, RoomClosed
from ocm_core.storage.history import HistoryStore, Line, LineKind
from ocm_core.wire import RoomInfo
from ocm_core.wire.links import InviteLink
from ocm_gui import app as app_module
from ocm_gui.chat.findbar import FOUND_NOW_TAG, FOUND_TAG
from ocm_gui.settings import Settings

FINGERPRINT = "ABCD-EFGH-IJKL-MNOP-QRST"
YESTERDAY = time.time() - 86_400


def link_to(room: str, host: str = "192.0.2.7", port: int = 9090) -> str:
    return InviteLink(host, port, room, FINGERPRINT).text


@pytest.fixture
def store(tmp_path):
    history = HistoryStore(tmp_path / "history.db")
    yield history
    history.close()


def said(store: HistoryStore, room: str, lines: list[tuple[int, str, str]], *, room_id: str | None = None) -> int:
    """A conversation kept from yesterday: (seq, sender, text) lines."""
    conversation = store.conversation(
        FINGERPRINT, room_id or f"id-{room}", room=room, server="192.0.2.7:9090", me="Ann"
    )
    store.add_many(
        conversation,
        [Line(seq, YESTERDAY + seq, LineKind.CHAT, sender, text) for seq, sender, text in lines],
    )
    return conversation


def fake_app(root, settings, store, backend=None):
    return app_module.App(root, settings=settings, backend=backend or FakeBackend(), history=store)


def test_a_room_joined_again_shows_yesterday_and_what_was_missed_once_as_unread(root, settings, store):
    said(store, "kept", [(1, "Bo", "the 議事録 is ready"), (2, "Ann", "thanks")])
    settings.update(name="Ann", rooms=[link_to("kept")])
    app = fake_app(root, settings, store)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: len(app.chats) == 1, what="the room joined again")
        chat = app.chats[0]
        assert chat.recorder is not None
        transcript = chat.transcript()
        assert "kept on this PC" in transcript and "the 議事録 is ready" in transcript and "thanks" in transcript
        chat.set_looking(False)
        chat.focused = False
        # The server sends its recent history on every join: two lines we have, one said while away.
        chat.client.events.put(ChatMessage(1, "Bo", "the 議事録 is ready", YESTERDAY + 1, history=True))
        chat.client.events.put(ChatMessage(2, "Ann", "thanks", YESTERDAY + 2, history=True))
        chat.client.events.put(ChatMessage(3, "Bo", "while you were away", time.time() - 60, history=True))
        pump(root, lambda: "while you were away" in chat.transcript(), what="the missed line")
        assert chat.transcript().count("the 議事録 is ready") == 1 and chat.transcript().count("thanks") == 1
        assert chat.unread == 1 and app.sidebar.rows[chat].unread == 1
        transcript = chat.transcript()
        assert transcript.index("— New messages —") < transcript.index("while you were away")
        assert transcript.index("thanks") < transcript.index("— New messages —")
        at = chat.text.search("while you were away", "1.0")
        assert "history" not in chat.text.tag_names(at)  # news, not greyed history
        assert [line.text for _id, line in store.lines(chat.recorder.conversation)][-1] == "while you were away"
    finally:
        app.quit()


def test_the_room_shown_at_start_marks_what_was_said_while_away(root, settings, store):
    said(store, "kept", [(1, "Bo", "yesterday's line")])
    settings.update(name="Ann", rooms=[link_to("kept")])
    app = fake_app(root, settings, store)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: len(app.chats) == 1, what="the room joined again")
        chat = app.chats[0]
        assert app.shown is chat  # looked at: no unread count, but the line still says where news starts
        chat.client.events.put(ChatMessage(1, "Bo", "yesterday's line", YESTERDAY + 1, history=True))
        chat.client.events.put(ChatMessage(2, "Bo", "said this morning", time.time() - 600, history=True))
        chat.client.events.put(ChatMessage(3, "Bo", "and just now", time.time() - 60, history=True))
        pump(root, lambda: "and just now" in chat.transcript(), what="the missed lines")
        transcript = chat.transcript()
        assert transcript.count("— New messages —") == 1
        assert transcript.index("yesterday's line") < transcript.index("— New messages —")
        assert transcript.index("— New messages —") < transcript.index("said this morning")
    finally:
        app.quit()


def test_my_own_line_is_kept_when_the_server_confirms_it(root, app):
    client = FakeClient(room="desk", username="Ann", host_name="Bo", members=("Ann", "Bo"))
    chat = app.open_chat(client)
    chat.input.insert("1.0", "on my way")
    msg_id = chat.send()
    assert msg_id is not None
    client.events.put(MessageSent(msg_id, 7))
    conversation = chat.recorder.conversation
    pump(root, lambda: [line.text for _id, line in app.history.lines(conversation)] == ["on my way"], what="kept")
    assert app.history.lines(conversation)[0][1].seq == 7


def test_a_room_that_ended_stays_greyed_with_its_history_until_removed(root, settings, store):
    conversation = said(store, "retro", [(1, "Bo", "what went well"), (2, "Cy", "the ミーティング ran long")])
    store.mark_ended(conversation, "The host closed the room.", YESTERDAY + 10)
    app = fake_app(root, settings, store)
    try:
        app.rejoin_saved_rooms()
        [kept] = app.gone
        assert app.sidebar.rows[kept].gone and app.sidebar.label(kept) == "retro"
        app.show_room(kept)
        root.update()
        page = app.kept_page
        assert page is not None and "what went well" in page.transcript() and "ran long" in page.transcript()
        assert "The host closed the room." in page.reason.cget("text")
        app.find_in_room()  # Ctrl+F on the page of a room that ended
        finder = page.finder
        assert finder is not None and finder.shown
        finder.query.set("みーてぃんぐ")  # hiragana is another script: not folded to katakana
        assert finder.matches == []
        finder = page.find("ﾐｰﾃｨﾝｸﾞ")  # half-width katakana folds to the full-width line
        assert len(finder.matches) == 1
        remove = next(b for b in page.buttons if b.cget("text") == "Remove from the list")
        remove.invoke()
        assert app.gone == [] and not store.get(conversation).listed
        assert store.search("went well")  # off the list, still in the history
    finally:
        app.quit()


def test_a_new_room_of_the_same_name_is_not_entered_silently(root, settings, store):
    old = said(store, "kept", [(1, "Bo", "old conversation")], room_id="id-old")
    settings.update(name="Ann", rooms=[link_to("kept")])
    backend = FakeBackend()
    backend.room_ids = {"kept": "id-new"}
    app = fake_app(root, settings, store, backend)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: len(app.gone) == 1, what="the room listed as ended")
        assert app.chats == []
        [gone] = app.gone
        assert gone.conversation == old and "has ended. A new room of that name is open" in gone.reason
        assert store.get(old).ended is not None
        app.show_room(gone)
        root.update()
        assert "old conversation" in app.kept_page.transcript()
        next(b for b in app.kept_page.buttons if b.cget("text") == "Join the new room").invoke()
        pump(root, lambda: len(app.chats) == 1, what="the new room joined on asking")
        assert app.chats[0].recorder.conversation != old
        assert "old conversation" not in app.chats[0].transcript()
        assert [g.conversation for g in app.gone] == [old] and app.sidebar.rows[app.gone[0]].ended  # still listed
    finally:
        app.quit()


def test_ctrl_f_highlights_every_match_and_walks_them(root, app):
    client = FakeClient(room="desk", username="Ann", host_name="Bo", members=("Ann", "Bo"))
    chat = app.open_chat(client)
    for seq, text in enumerate(["会議は3時", "MEETING moved", "lunch 🍜 at noon", "会議室 B"], 1):
        client.events.put(ChatMessage(seq, "Bo", text, time.time()))
    pump(root, lambda: "会議室 B" in chat.transcript(), what="the lines")
    chat.input.insert("1.0", "abcdef")  # a draft, the cursor after its first letter
    chat.input.mark_set("insert", "1.1")
    chat.input.focus_force()
    root.update()
    chat.input.event_generate("<Control-f>")
    root.update()
    finder = chat.finder
    assert finder is not None and finder.shown and root.focus_get() is finder.entry
    assert chat.input.index("insert") == "1.1"  # Ctrl+F is find, not Tk's forward-char in the draft
    finder.entry.insert(0, "会議")
    root.update()
    assert len(finder.matches) == 2 and finder.count.cget("text") == "2 of 2"
    assert len(chat.text.tag_ranges(FOUND_TAG)) == 4
    first_current = chat.text.tag_ranges(FOUND_NOW_TAG)
    finder.entry.event_generate("<Return>")
    root.update()
    assert finder.count.cget("text") == "1 of 2" and chat.text.tag_ranges(FOUND_NOW_TAG) != first_current
    finder.query.set("meeting")
    root.update()
    assert len(finder.matches) == 1
    assert chat.text.get(*chat.text.tag_ranges(FOUND_NOW_TAG)) == "MEETING"
    finder.query.set("🍜 AT")  # an emoji beyond the BMP, which Tk 8.6 may count as two
    root.update()
    assert chat.text.get(*chat.text.tag_ranges(FOUND_NOW_TAG)) == "🍜 at"
    finder.entry.event_generate("<Escape>")
    root.update()
    assert not finder.shown and chat.text.tag_ranges(FOUND_TAG) == ()


def test_the_search_across_rooms_opens_the_room_at_its_line(root, settings, store):
    said(store, "design", [(seq, "Bo", f"filler {seq}") for seq in range(1, 40)] + [(40, "Bo", "the 件 is closed")])
    said(store, "lobby", [(1, "Cy", "another 件 here")])
    app = fake_app(root, settings, store)
    try:
        app.open_search()
        search = app.search_window
        search.query.set("件")
        matches = search.search()
        assert [m.room for m in matches] == ["lobby", "design"] or [m.room for m in matches] == ["design", "lobby"]
        rows = [search.tree.item(i, "values") for i in search.tree.get_children()]
        assert any(row[0] == "design" and row[2] == "Bo" and "件 is closed" in row[3] for row in rows)
        at = next(i for i, m in enumerate(matches) if m.room == "design")
        search.tree.selection_set(str(at))
        search.open_chosen()
        root.update()
        page = app.kept_page
        assert page is not None and app.shown.room == "design"
        assert page.finder is not None and page.finder.shown
        current = page.text.get(*page.text.tag_ranges(FOUND_NOW_TAG))
        assert current == "件"
        line = page.text.index(page.text.tag_ranges(FOUND_NOW_TAG)[0]).split(".")[0]
        assert "the 件 is closed" in page.scrollback.plain_text(f"{line}.0", f"{line}.end")
    finally:
        app.quit()


def test_save_conversation_as_text_and_html(root, settings, store, tmp_path):
    conversation = said(store, "plans", [(1, "Bo", "<b>bold?</b> no"), (2, "Ann", "了解です")])
    app = fake_app(root, settings, store)
    try:
        found = store.get(conversation)
        text = app.write_conversation(found, tmp_path / "plans.txt").read_text(encoding="utf-8")
        assert "Bo: <b>bold?</b> no" in text and "了解です" in text
        page = app.write_conversation(found, tmp_path / "plans.html").read_text(encoding="utf-8")
        assert "&lt;b&gt;bold?&lt;/b&gt;" in page and "<b>bold?" not in page and "了解です" in page
    finally:
        app.quit()


def test_forget_this_room_asks_then_leaves_no_line(root, settings, store):
    conversation = said(store, "secret", [(1, "Bo", "the password is swordfish")])
    store.mark_ended(conversation, "The host closed the room.")
    app = fake_app(root, settings, store)
    try:
        app.rejoin_saved_rooms()
        app.show_room(app.gone[0])
        root.update()
        next(b for b in app.kept_page.buttons if b.cget("text") == "Forget this room…").invoke()
        assert app.confirm is not None and "secret" in app.confirm.label.cget("text")
        app.confirm.yes_button.invoke()
        pump(root, lambda: store.get(conversation) is None, what="the room forgotten")
        assert app.gone == [] and store.search("swordfish") == []
    finally:
        app.quit()


def test_keeping_history_off_keeps_nothing_and_the_start_page_says_so(root, settings, store):
    app = fake_app(root, settings, store)
    try:
        assert "kept on this PC" in app.start.history_var.get()
        app.keep_history.set(False)
        app._keeping_changed()
        assert not store.keeping and "not kept" in app.start.history_var.get()
        chat = app.open_chat(FakeClient(room="quiet", username="Ann", host_name="Bo", members=("Ann", "Bo")))
        chat.client.events.put(ChatMessage(1, "Bo", "not to be kept", time.time()))
        pump(root, lambda: "not to be kept" in chat.transcript(), what="the line")
        assert chat.recorder is None and store.search("not to be kept") == []
    finally:
        app.quit()
    assert not HistoryStore(store.path).keeping  # the choice lasts


def test_the_host_closing_a_room_ends_it_in_the_history(root, app):
    client = FakeClient(room="mine", username="Ann", host_name="Ann", members=("Ann",))
    chat = app.open_chat(client)
    client.events.put(Notice(1, NoticeKind.JOINED, "Bo", "", time.time()))
    pump(root, lambda: "Bo joined" in chat.transcript(), what="Bo's join")
    conversation = chat.recorder.conversation
    chat.back_to_start()
    kept = app.history.get(conversation)
    assert kept.ended is not None and kept.ended_reason == "You closed the room."
    assert Settings.load().rooms == []


def test_a_member_sees_the_room_end_and_it_stays_in_the_history(root, app):
    client = FakeClient(room="theirs", username="Ann", host_name="Bo", members=("Ann", "Bo"))
    chat = app.open_chat(client)
    client.events.put(ChatMessage(1, "Bo", "bye all", time.time()))
    client.events.put(RoomClosed("The host closed the room."))
    pump(root, lambda: chat.room_closed, what="the room closed")
    assert app.sidebar.rows[chat].gone
    kept = app.history.get(chat.recorder.conversation)
    assert kept.ended is not None and [line.kind for _id, line in app.history.lines(kept.id)][-1] == LineKind.ENDED


def test_a_match_older_than_the_room_shows_opens_its_earlier_lines_and_back(root, settings, store):
    lines = [(1, "Bo", "the 議事録 from March")] + [(seq, "Bo", f"chatter {seq}") for seq in range(2, 620)]
    said(store, "kept", lines)
    settings.update(name="Ann", rooms=[link_to("kept")])
    app = fake_app(root, settings, store)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: len(app.chats) == 1, what="the room joined again")
        chat = app.chats[0]
        assert "the 議事録 from March" not in chat.transcript()  # the view holds the newest 500
        finder = chat.find("議事録")
        assert finder.matches == [] and finder.older_button is not None
        finder.older_button.invoke()  # Older…: the room's whole history
        search = app.search_window
        assert search is not None and search.conversation == chat.recorder.conversation
        assert [m.text for m in search.matches] == ["the 議事録 from March"]
        search.open_chosen()
        root.update()
        page = app.kept_page
        assert page is not None and app.shown_chat is None
        current = page.text.index(page.text.tag_ranges(FOUND_NOW_TAG)[0]).split(".")[0]
        assert "the 議事録 from March" in page.scrollback.plain_text(f"{current}.0", f"{current}.end")
        page.buttons[0].invoke()  # Back to the room
        assert app.shown is chat and app.kept_page is None
    finally:
        app.quit()


def test_a_damaged_history_is_moved_aside_with_a_sentence_and_the_app_starts(root, settings, own_history):
    own_history.parent.mkdir(parents=True, exist_ok=True)
    own_history.write_bytes(b"this is not a database, whatever it once was" * 100)
    app = app_module.App(root, settings=settings, backend=FakeBackend())
    try:
        root.update()
        assert app.history is not None and app.history.moved_aside is not None
        note = app.start.history_var.get()
        assert "damaged" in note and str(app.history.moved_aside) in note
        assert app.history.moved_aside.read_bytes().startswith(b"this is not a database")
        chat = app.open_chat(FakeClient(room="fresh", username="Ann", host_name="Bo", members=("Ann", "Bo")))
        chat.client.events.put(ChatMessage(1, "Bo", "kept in the new file", time.time()))
        pump(root, lambda: app.history.search("new file"), what="the line kept in the new file")
    finally:
        app.quit()


def test_the_server_is_asked_first_so_a_new_room_of_the_name_never_sees_us_come_and_go(root, settings, store):
    said(store, "kept", [(1, "Bo", "old conversation")], room_id="id-old")
    settings.update(name="Ann", rooms=[link_to("kept")])
    backend = FakeBackend(rooms=[RoomInfo("kept", 2, False, "Cy", "id-new", False)])
    app = fake_app(root, settings, store, backend)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: len(app.gone) == 1, what="the room listed as ended")
        assert backend.joins == [] and app.chats == []  # listed, never joined
        assert app.gone[0].new_room and "has ended" in app.gone[0].reason
    finally:
        app.quit()


def test_a_room_seen_ending_and_then_made_anew_is_not_entered_at_the_next_start(root, settings, store):
    old = said(store, "kept", [(1, "Bo", "the old room")], room_id="id-old")
    store.mark_ended(old, "The host closed the room.")  # seen ending; the app quit before Remove
    settings.update(name="Ann", rooms=[link_to("kept")])
    backend = FakeBackend()
    backend.room_ids = {"kept": "id-new"}
    app = fake_app(root, settings, store, backend)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: backend.joins, what="the join asked")
        pump(root, lambda: app.gone and app.gone[0].link, what="the saved room listed")
        assert app.chats == [] and len(app.gone) == 1  # one row for the one conversation
        assert "has ended" in app.gone[0].reason and app.gone[0].conversation == old
    finally:
        app.quit()


def test_ended_is_said_only_of_a_room_that_is_over(root, settings, store):
    settings.update(name="Ann", rooms=[link_to("away"), link_to("mine", host="192.0.2.9")])
    settings.update(hosted_rooms=[link_to("mine", host="192.0.2.9")])
    backend = FakeBackend(join={"away": ServerUnreachable("Cannot reach 192.0.2.7:9090.")})
    app = fake_app(root, settings, store, backend)
    try:
        app.rejoin_saved_rooms()
        pump(root, lambda: len(app.gone) == 2, what="both rooms listed")
        shown = {app.sidebar.label(k): app.sidebar.tree.set(app.sidebar._items[k], "unread") for k in app.gone}
        assert shown == {"away": "", "★ mine": "ended"}  # out of reach is not over; closed at quit is
        assert all(app.sidebar.rows[k].gone for k in app.gone)
    finally:
        app.quit()


def test_rejoining_a_room_made_anew_writes_a_new_conversation(root, app):
    client = FakeClient(room="desk", username="Ann", host_name="Bo", members=("Ann", "Bo"))
    chat = app.open_chat(client)
    first = chat.recorder.conversation
    again = FakeClient(room="desk", username="Ann", host_name="Bo", members=("Ann", "Bo"))
    chat.adopt(again)  # Rejoin into the same room: the same conversation
    assert chat.recorder.conversation == first
    anew = FakeClient(room="desk", username="Ann", host_name="Bo", members=("Ann", "Bo"))
    anew.room_id = "made-again"  # the server restarted without its database and the room was made again
    chat.adopt(anew)
    assert chat.recorder.conversation != first
    anew.events.put(ChatMessage(1, "Bo", "first line of the new room", time.time()))
    pump(root, lambda: app.history.search("new room"), what="the line kept")
    assert app.history.search("new room")[0].conversation == chat.recorder.conversation


def test_a_room_forgotten_while_still_in_it_does_not_come_back_with_the_next_join(root, settings, store):
    client = FakeClient(room="desk", username="Ann", host_name="Bo", members=("Ann", "Bo"))
    app = fake_app(root, settings, store)
    try:
        chat = app.open_chat(client)
        for seq, text in ((1, "secret alpha"), (2, "secret beta")):
            client.events.put(ChatMessage(seq, "Bo", text, time.time()))
        pump(root, lambda: len(store.search("secret")) == 2, what="the lines kept")
        app.ask_forget_room(chat.recorder.conversation)
        app.confirm.yes_button.invoke()
        pump(root, lambda: store.search("secret") == [] and chat.recorder.conversation is not None, what="forgotten")
        pump(root, lambda: store.get(chat.recorder.conversation) is not None, what="a new conversation")
        # The next join: the server's recent history has both again, and a new line.
        for seq, text in ((1, "secret alpha"), (2, "secret beta"), (3, "after forgetting")):
            client.events.put(ChatMessage(seq, "Bo", text, time.time(), history=True))
        pump(root, lambda: store.search("after forgetting"), what="the new line kept")
        assert store.search("secret") == []
    finally:
        app.quit()
