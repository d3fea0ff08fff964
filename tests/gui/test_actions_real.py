"""Replies, reactions, edits, deletions and the topic between the app and real clients on a real
server: what the app's window shows, what reaches its history on this PC, and a reply in a
direct conversation."""

from __future__ import annotations

from gui_helpers import pump
from test_direct_gui import next_event, office

from ocm_core.sansio import events as ev


def test_a_rooms_reply_reaction_edit_and_deletion_through_the_app_and_its_history(app, root, office):
    chat, bob, carol, _person = office
    bob.send("who has the projector key?")
    sent = next_event(bob, ev.MessageSent, root)
    pump(root, lambda: "projector" in chat.transcript(), what="bob's line")
    chat.message_actions.start_reply(sent.seq)
    chat.input.insert("1.0", "I do")
    chat.send()
    answer = next_event(bob, ev.ChatMessage, root, where=lambda e: e.text == "I do")
    assert answer.reply_to == sent.seq and answer.sender == "ann"
    assert "↪ bob: who has the projector key?" in chat.transcript()

    bob.react(sent.seq, "👍")
    pump(root, lambda: "👍\xa01" in chat.transcript(), what="bob's reaction")
    chat.message_actions.toggle(sent.seq, "👍")
    pump(root, lambda: "👍\xa02" in chat.transcript(), what="ann's reaction too")
    bob.edit(sent.seq, "who has the projector key? (room 4)")
    pump(root, lambda: "(room 4) (edited)" in chat.transcript(), what="the edit")
    history = chat.recorder.store
    pump(root, lambda: history.line_at(chat.recorder.conversation, sent.seq).edited, what="the edit kept")
    assert history.line_at(chat.recorder.conversation, sent.seq).text == "who has the projector key? (room 4)"
    bob.delete(sent.seq)
    pump(root, lambda: "message deleted" in chat.transcript(), what="the deletion")
    assert "projector" not in chat.transcript().replace("↪ bob: who has the projector key?", "")
    kept = history.line_at(chat.recorder.conversation, sent.seq)
    assert kept.deleted and kept.text == ""
    assert history.search("projector") == []

    carol.set_topic("Demo day on Friday")
    pump(root, lambda: chat.heading.topic_label.cget("text") == "Demo day on Friday", what="the topic")
    assert chat.heading.topic_label.winfo_ismapped()


def test_a_reply_in_a_direct_conversation_quotes_the_message_it_answers(app, root, office):
    chat, bob, _carol, _person = office
    bob.send_direct("ann", "can you review my slides?")
    window = pump(root, lambda: app.directs.windows.get((chat.client.server_fingerprint, "bob")), what="opened")
    app.show_room(window)
    pump(root, lambda: "review" in window.scrollback.transcript(), what="bob's message")
    index = window.scrollback.text.search("review", "1.0", "end")
    items = window.scrollback.actions.menu_items(index)
    assert items[0][0] == "Reply"
    items[0][2]()
    window.input.insert("1.0", "yes, after lunch")
    window.send()
    message = next_event(bob, ev.DirectMessage, root)
    assert message.text == "> bob: can you review my slides?\nyes, after lunch"  # any app reads it so
    shown = window.scrollback.transcript()
    assert "↪ bob: can you review my slides?" in shown and "> bob:" not in shown
    quote = window.scrollback.text.tag_ranges("quote")
    assert quote
    assert window.scrollback.reveal_quoted("bob", "can you review my slides?")
    assert "review" in window.scrollback.text.get(*window.scrollback.text.tag_ranges("flash"))
