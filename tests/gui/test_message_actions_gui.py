"""Replies, reactions, edits and deletions in a room's window, and the host's tools: the menu on a
message, the line under the input while a reply or an edit is written, what the room's events
change in place, and a reply whose original is older than the scrollback."""

from __future__ import annotations

import time

from gui_helpers import FakeClient, pump

from ocm_core.net.recorder import RoomRecorder
from ocm_core.sansio import events as ev
from ocm_core.storage.history import HistoryStore, Line, LineKind


def labels(items: list) -> list[str]:
    return [label for label, _state, _action in items]


def index_of(chat, text: str) -> str:
    found = chat.text.search(text, "1.0", "end")
    assert found, f"{text!r} is not in the scrollback"
    return found


def chosen(chat, text: str, label: str) -> None:
    """Pick `label` in the menu of the message holding `text`."""
    items = chat.scrollback.actions.menu_items(index_of(chat, text))
    action = next(action for item_label, _state, action in items if item_label == label)
    action()


def test_the_menu_on_a_message_replies_and_the_reply_quotes_it(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob")))
    chat.client.events.put(ev.ChatMessage(5, "bob", "who has the projector key?", time.time()))
    pump(root, lambda: "projector" in chat.transcript(), what="bob's line")
    items = chat.scrollback.actions.menu_items(index_of(chat, "projector"))
    assert labels(items)[:2] == ["Reply", "React"] and "Edit" not in labels(items)  # not hers
    assert [label for label, _s, _a in items[1][2]][:3] == ["👍", "❤️", "😂"]
    chosen(chat, "projector", "Reply")
    root.update()
    assert chat.hint.cget("text") == "Replying to bob: who has the projector key? · Esc cancels"
    chat.input.insert("1.0", "I do")
    chat.send()
    root.update()
    assert chat.client.acted == [("reply", 5, "I do")]
    assert "↪ bob: who has the projector key?" in chat.transcript()
    assert chat.hint.cget("text") != "Replying to bob: who has the projector key? · Esc cancels"


def test_escape_lets_a_reply_go_and_r_replies_to_the_newest_message(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob")))
    chat.client.events.put(ev.ChatMessage(7, "bob", "first", time.time()))
    chat.client.events.put(ev.ChatMessage(8, "bob", "second", time.time()))
    pump(root, lambda: "second" in chat.transcript(), what="bob's lines")
    chat.text.focus_force()
    chat.text.mark_set("insert", "end")
    chat.text.event_generate("<Key-r>")
    root.update()
    assert chat.message_actions.replying == 8
    chat.input.event_generate("<Escape>")
    root.update()
    assert chat.message_actions.replying is None


def test_reactions_edits_and_deletions_change_the_message_in_place(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob", "cy")))
    chat.client.events.put(ev.ChatMessage(3, "bob", "meeting at 3", time.time()))
    pump(root, lambda: "meeting" in chat.transcript(), what="bob's line")
    now = time.time()
    for event in (
        ev.Reacted(4, 3, "cy", "👍", True, now),
        ev.Reacted(5, 3, "ann", "👍", True, now),
        ev.Reacted(6, 3, "cy", "🎉", True, now),
    ):
        chat.client.events.put(event)
    pump(root, lambda: "🎉\xa01" in chat.transcript(), what="the reactions")
    assert "meeting at 3 👍\xa02 🎉\xa01" in chat.transcript()
    chips = chat.text.tag_ranges("minechip")
    assert chat.text.get(*chips) == "👍\xa02"  # ann's own is marked
    chat.message_actions.toggle(3, "👍")  # a second click takes hers back
    assert chat.client.acted[-1] == ("unreact", 3, "👍")
    chat.client.events.put(ev.MessageEdited(7, 3, "bob", "meeting at 4\nin room 2", now))
    pump(root, lambda: "meeting at 4" in chat.transcript(), what="the edit")
    shown = chat.transcript()
    assert "meeting at 3" not in shown and "in room 2 (edited) 👍\xa02 🎉\xa01" in shown
    chat.client.events.put(ev.MessageDeleted(8, 3, "bob", False, now))
    pump(root, lambda: "message deleted" in chat.transcript(), what="the deletion")
    assert "meeting at 4" not in chat.transcript() and "👍" not in chat.transcript()
    assert chat.scrollback.actions.menu_items(index_of(chat, "message deleted"))[0][0] == "Copy"


def test_own_messages_offer_edit_and_up_edits_the_last_one(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob")))
    chat.input.insert("1.0", "helo all")
    msg_id = chat.send()
    chat.client.events.put(ev.MessageSent(msg_id, 12))
    pump(root, lambda: "✓" in chat.transcript(), what="the ack")
    assert labels(chat.scrollback.actions.menu_items(index_of(chat, "helo")))[2:4] == ["Edit", "Delete…"]
    chat.input.focus_force()
    chat.input.event_generate("<Up>")
    root.update()
    assert chat.message_actions.editing == 12 and chat.input_text() == "helo all"
    chat.input.delete("1.0", "end")
    chat.input.insert("1.0", "hello all")
    chat.send()
    assert chat.client.acted[-1] == ("edit", 12, "hello all")


def test_a_reply_to_a_message_older_than_the_scrollback_quotes_it_from_the_history(root, make_chat, tmp_path):
    store = HistoryStore(tmp_path / "history.db")
    client = FakeClient(username="ann", members=("ann", "bob"))
    recorder = RoomRecorder(store, store.conversation("fp", "id-lobby", room="lobby", server="s", me="ann"), "ann")
    store.add(recorder.conversation, Line(2, time.time() - 86400, LineKind.CHAT, "bob", "last week's plan"))
    chat = make_chat(client, recorder=recorder)
    chat.scrollback.said.pop(2, None)  # as if trimmed out of the scrollback long ago
    chat.text.tag_delete("t2")
    client.events.put(ev.ChatMessage(900, "bob", "as planned", time.time(), reply_to=2))
    pump(root, lambda: "as planned" in chat.transcript(), what="the reply")
    assert "↪ bob: last week's plan" in chat.transcript()
    chat.message_actions.quote_clicked(2)  # not here: said again from the history
    root.update()
    assert "Earlier, bob wrote (Yesterday " in chat.transcript() and chat.transcript().count("last week's plan") >= 2
    chat.message_actions.quote_clicked(900)  # here: shown and highlighted a moment
    assert chat.text.tag_ranges("flash")
    store.close()


def test_the_topic_shows_under_the_rooms_name_and_the_host_may_remove_someone(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob"), host_name="ann"))
    chat.client.events.put(ev.TopicChanged(9, "ann", "Friday: demo day", time.time()))
    pump(root, lambda: chat.heading.topic_label.winfo_ismapped(), what="the topic")
    assert chat.heading.topic_label.cget("text") == "Friday: demo day"
    assert "ann set the topic: Friday: demo day" in chat.transcript()
    chat.client.events.put(ev.MembersChanged(("ann", "bob"), "ann"))
    pump(root, lambda: chat.people.members == ("ann", "bob"), what="people")
    chat.message_actions.ask_remove("bob")
    root.update()
    question = chat.message_actions._question
    assert "Remove bob from the room?" in question.label.cget("text")
    question.yes_button.invoke()
    assert chat.client.acted[-1] == ("remove", "bob")
    chat.message_actions.ask_topic()
    root.update()
    asked = chat.message_actions._question
    asked.value.set("  Sprint 43  ")
    asked.entry.focus_force()
    root.update()
    asked.entry.event_generate("<Return>")  # Enter in the line answers
    chat.message_actions.ask_password()
    root.update()
    secret = chat.message_actions._question
    assert secret.entry.cget("show") == "•"
    secret.value.set("s3cret")
    secret.yes_button.invoke()
    assert chat.client.acted[-2:] == [("topic", "Sprint 43"), ("password", "s3cret")]


def test_a_room_opened_again_shows_its_kept_lines_with_their_reactions_edits_and_replies(root, make_chat, tmp_path):
    store = HistoryStore(tmp_path / "history.db")
    conversation = store.conversation("fp", "id-lobby", room="lobby", server="s", me="ann")
    now = time.time() - 60
    store.add_many(
        conversation,
        [
            Line(4, now, LineKind.CHAT, "bob", "plan v2", edited=True),
            Line(5, now, LineKind.CHAT, "ann", "looks good", reply_to=4),
            Line(6, now, LineKind.CHAT, "bob", "", deleted=True),
        ],
    )
    store.react(conversation, 4, "👍", "ann", True)
    recorder = RoomRecorder(store, conversation, "ann")
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob")), recorder=recorder)
    shown = chat.transcript()
    assert "plan v2 (edited) 👍\xa01" in shown and "↪ bob: plan v2" in shown and "message deleted" in shown
    store.close()


def test_a_replys_quote_follows_the_edit_and_the_deletion_of_what_it_quotes(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob")))
    now = time.time()
    chat.client.events.put(ev.ChatMessage(3, "bob", "my address is 12 Example Street", now))
    chat.client.events.put(ev.ChatMessage(4, "cy", "noted", now, reply_to=3))
    chat.client.events.put(ev.ChatMessage(5, "cy", "a line of its own", now))
    pump(root, lambda: "of its own" in chat.transcript(), what="the lines")
    assert "↪ bob: my address is 12 Example Street" in chat.transcript()
    after_reply = index_of(chat, "a line of its own")
    assert "grouped" not in chat.text.tag_names(after_reply)  # not read as part of the reply
    chat.client.events.put(ev.MessageEdited(6, 3, "bob", "my address is on file", now))
    pump(root, lambda: "↪ bob: my address is on file" in chat.transcript(), what="the quote edited")
    chat.input.insert("1.0", "thanks")
    chat.message_actions.start_reply(3)
    chat.client.events.put(ev.MessageDeleted(7, 3, "hal", True, now))
    pump(root, lambda: "message deleted by the host" in chat.transcript(), what="the deletion")
    shown = chat.transcript()
    assert "Example Street" not in shown and "on file" not in shown and "↪ bob: message deleted" in shown
    assert chat.message_actions.replying is None and chat.input_text() == "thanks"
    assert chat.hint.cget("text") == "The message you were answering was deleted."


def test_the_host_tools_dialogs_put_the_line_above_their_buttons(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob"), host_name="ann"))
    chat.message_actions.ask_password()
    root.update()
    asked = chat.message_actions._question
    assert asked.entry.grid_info()["row"] == 1 and asked.buttons.grid_info()["row"] == 2
    assert str(asked.yes_button.cget("style")) == "Accent.TButton"
    asked.value.set("  spaced  ")
    asked.yes_button.invoke()
    assert chat.client.acted[-1] == ("password", "  spaced  ")  # a password is taken as typed


def test_the_chat_menu_offers_the_host_tools_to_the_host_alone(app, root):
    host = app.open_chat(FakeClient(room="a", username="ann", members=("ann", "bob"), host_name="ann"))
    app.show_room(host)
    app._chat_menu_shown()
    assert {str(app.chat_menu.entrycget(i, "state")) for i in app.host_tool_entries} == {"normal"}
    member = app.open_chat(FakeClient(room="b", username="ann", members=("ann", "bob"), host_name="bob"))
    app.show_room(member)
    app._chat_menu_shown()
    assert {str(app.chat_menu.entrycget(i, "state")) for i in app.host_tool_entries} == {"disabled"}


def test_hovering_a_reaction_shows_who_reacted(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob", "cy")))
    now = time.time()
    chat.client.events.put(ev.ChatMessage(3, "bob", "pizza friday?", now))
    chat.client.events.put(ev.Reacted(4, 3, "cy", "🍕", True, now))
    chat.client.events.put(ev.Reacted(5, 3, "ann", "🍕", True, now))
    pump(root, lambda: "🍕\xa02" in chat.transcript(), what="the reactions")
    assert chat.scrollback.show_chip_names(3, "🍕") == "🍕 cy, ann"
    chat.scrollback.chip_tooltip.hide()
    x, y, _w, h = chat.text.bbox(chat.text.tag_ranges(next(iter(chat.scrollback._chips)))[0])
    chat.text.event_generate("<Motion>", x=x + 2, y=y + h // 2)
    assert chat.scrollback._hovered_chip == (3, "🍕")
    chat.scrollback.chip_tooltip.show()  # what the hover's delay then does
    assert chat.scrollback.chip_tooltip.shown_text() == "🍕 cy, ann"
