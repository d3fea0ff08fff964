"""Mentions in the app: "@" offers the room's people (Japanese names too) and Tab or Enter puts
one in; a message that names you stands out and notifies even when the room is set to "only
when named"; "@room" in a big room is the host's alone."""

from __future__ import annotations

import time

from gui_helpers import FakeClient, pump

from ocm_core.sansio.events import ChatMessage
from ocm_gui.notify.alerts import MENTIONS, NOTHING


def typed(root, chat, text: str) -> None:
    chat.input.focus_force()
    root.update()
    for char in text:
        chat.input.insert("insert", char)
        chat.input.event_generate("<KeyRelease>")
    root.update()


def test_at_offers_the_rooms_people_and_tab_puts_one_in(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "山田 太郎", "Carol", "bob")))
    typed(root, chat, "hi @山")
    assert chat.mentions.open and chat.mentions.names == ["山田 太郎"]
    chat.input.event_generate("<Tab>")
    root.update()
    assert chat.input.get("1.0", "end-1c") == "hi @山田 太郎 " and not chat.mentions.open
    typed(root, chat, "and @")
    assert chat.mentions.names == ["bob", "Carol", "山田 太郎", "room"]  # never oneself
    chat.input.event_generate("<Down>")
    chat.input.event_generate("<Return>")  # completes, does not send
    root.update()
    assert chat.input.get("1.0", "end-1c").endswith("and @Carol ") and chat.client.sent == []
    chat.input.event_generate("<Return>")  # now it sends
    root.update()
    assert [text for _id, text in chat.client.sent] == ["hi @山田 太郎 and @Carol "]


def test_escape_closes_the_names_and_an_email_offers_none(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob")))
    typed(root, chat, "@b")
    assert chat.mentions.open
    chat.input.event_generate("<Escape>")
    root.update()
    assert not chat.mentions.open
    chat.input.delete("1.0", "end")
    typed(root, chat, "mail me@b")
    assert not chat.mentions.open


def test_a_message_that_names_you_stands_out(root, make_chat):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob")))
    chat.client.events.put(ChatMessage(1, "bob", "@ann can you look?", time.time()))
    chat.client.events.put(ChatMessage(2, "bob", "lunch is at noon", time.time()))
    pump(root, lambda: "noon" in chat.transcript(), what="both lines")
    text = chat.text
    marked = text.tag_ranges("mention")
    assert marked and "@ann can you look?" in text.get(marked[0], marked[-1])
    assert "noon" not in text.get(marked[0], marked[-1])


def test_room_for_everyone_is_the_hosts_alone_in_a_room_of_more_than_ten(root, make_chat):
    people = tuple(f"p{n}" for n in range(11))
    chat = make_chat(FakeClient(username="p1", host_name="p0", members=people))
    chat.input.insert("1.0", "@room fire drill at 3")
    assert chat.send() is None and chat.client.sent == []
    assert "Only the host can write to everyone" in chat.hint.cget("text")


def test_only_when_named_notifies_of_mentions_alone_and_nothing_of_nothing(app, root):
    chat = app.open_chat(FakeClient(room="lobby", username="ann", members=("ann", "bob")), show=False)
    chat.link = "ocm://192.0.2.7:9090/lobby?fp=TEST"
    app.notifications.set_level(chat.link, MENTIONS)
    assert app.notifications.level_of(chat.link) == MENTIONS
    alerts = chat.alerts
    alerts.in_front = lambda: False  # the room is not looked at
    alerts.arrived([ChatMessage(1, "bob", "lunch?", time.time())])
    assert alerts.raised == 0
    alerts.arrived([ChatMessage(2, "bob", "@ann lunch?", time.time())])
    assert alerts.raised == 1
    app.notifications.set_level(chat.link, NOTHING)
    alerts.gate.seen()
    alerts.arrived([ChatMessage(3, "bob", "@ann are you there?", time.time())])
    assert alerts.raised == 1
    assert app.settings.room_alerts == [f"nothing {chat.link}"]


def test_a_muted_person_is_hidden_for_oneself_and_shown_again(root, make_chat, settings):
    chat = make_chat(FakeClient(username="ann", members=("ann", "bob", "cy")), link="ocm://192.0.2.7:9090/x?fp=T")
    chat.mute("bob", True)
    assert "bob (muted)" in chat.people.labels() and settings.muted == ["ocm://192.0.2.7:9090/x?fp=T\tbob"]
    assert "You muted bob" in chat.transcript()
    chat.focused = False
    chat.client.events.put(ChatMessage(1, "bob", "buy my raffle tickets", time.time()))
    chat.client.events.put(ChatMessage(2, "cy", "standup in 5", time.time()))
    pump(root, lambda: "standup" in chat.transcript(), what="cy's line")
    assert "raffle" not in chat.transcript() and chat.unread == 1  # bob's line neither shown nor counted
    chat.mute("bob", False)
    assert "bob" in chat.people.labels() and settings.muted == []
    chat.client.events.put(ChatMessage(3, "bob", "sorry, wrong room", time.time()))
    pump(root, lambda: "wrong room" in chat.transcript(), what="bob's line again")
