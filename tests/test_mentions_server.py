"""The server's one rule about mentions: in a room of more than ten, "@room" and "@all" are the
host's alone; another member's is refused (told why) and relayed to nobody."""

from __future__ import annotations

from test_mailbox import Server

from ocm_core import wire as p
from ocm_core.wire import ErrorCode


def crowd(size: int):
    hub = Server()
    people = [hub.join(f"p{n}") for n in range(size)]  # p0 creates the room: the host
    for person in people:
        person.take()
    return hub, people


def test_a_member_may_not_call_everyone_in_a_room_of_eleven():
    hub, people = crowd(11)
    hub.send(people[1], p.encode_chat(1, "@room fire drill at 3"))
    errors = people[1].take(p.ErrorFrame)
    assert [e.code for e in errors] == [ErrorCode.NOT_ALLOWED]
    assert all(person.take(p.Event) == [] for person in people if person is not people[1])
    hub.send(people[1], p.encode_chat(2, "an ordinary line"))  # its next one goes on
    assert [e.text for e in people[5].take(p.Event)] == ["an ordinary line"]


def test_the_host_may_and_anyone_may_in_a_room_of_ten():
    hub, people = crowd(11)
    hub.send(people[0], p.encode_chat(1, "@all fire drill at 3"))
    assert [e.text for e in people[3].take(p.Event)] == ["@all fire drill at 3"]
    small, few = crowd(10)
    small.send(few[4], p.encode_chat(1, "@room cake in the kitchen"))
    assert [e.text for e in few[2].take(p.Event)] == ["@room cake in the kitchen"]


def test_a_plain_text_members_call_to_everyone_is_dropped_in_silence():
    hub = Server(allow_plain=True)
    people = [hub.join(f"p{n}") for n in range(10)]
    bare = hub.join("pat", secure=False)
    hub.send(bare, b"hello")  # from now on it reads text only
    for person in people:
        person.take()
    hub.send(bare, b"@all look at this")
    assert all(person.take(p.Event) == [] for person in people)
    assert hub.registry.dropped["@room from a member who may not"] == 1
