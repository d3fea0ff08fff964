"""The holes a review of the mailbox found, each closed and kept closed: a key proof passed on
from another hub, a restart or resume that would prove a key only claimed, a receipt that
said "delivered" for a message that never opened, mail kept for ever in a standing room,
presence lost on a failed commit or kept through a resume."""

from __future__ import annotations

import pytest
from test_mailbox import ROOM, Server, go_away, hub, trio

from ocm_core import wire as p
from ocm_core.crypto.direct import PersonalKey
from ocm_core.sansio.mailbox import MAIL_KEEP_DAYS, PEOPLE_PER_ROOM
from ocm_core.storage.roomstore import RoomStore
from ocm_core.wire import DirectState, MailKind, PresenceState, Refusal


def test_a_proof_made_for_another_server_does_not_prove_the_key(hub, trio):
    alice, bob, _carol = trio
    eve = hub.join("eve", prove=False)
    # the same key, challenge and token, but the proof names another server (Eve's own, which
    # asked bob for it): refused, so nothing for that key is handed to her
    hub.sync(eve, eve.key.prove(eve.challenge, eve.token, "EVIL-SERV-ER00-0000-0000"))
    hub.direct(eve, alice, "hi", 5)
    assert [(f.state, f.refusal) for f in eve.take(p.DirectStateFrame)] == [(DirectState.REFUSED, Refusal.NEEDS_KEY)]
    hub.sync(eve, eve.key.prove(eve.challenge, eve.token, hub.identity.fingerprint))
    hub.direct(eve, alice, "hi", 6)
    assert [f.state for f in eve.take(p.DirectStateFrame)] == [DirectState.PASSED]


def test_a_resumed_member_proves_its_key_again(hub, trio):
    alice, bob, carol = trio
    hub.send(bob, p.encode_presence(PresenceState.AWAY))
    go_away(hub, trio, "times out")  # the server keeps bob's place for a while
    token, _out, _transport = hub.registry.resume(ROOM, "bob", bob.ip, bob.token, bob.key.public)
    member = hub.registry._tokens[token]
    assert member.direct_key == bob.key.public and not member.direct_proven and not member.away


def test_a_receipt_says_unopened_when_the_recipients_app_could_not_open_it(hub, trio):
    alice, bob, _carol = trio
    hub.direct(alice, bob, "garbled on the way", 9)
    [mail] = bob.take(p.Mail)
    alice.take()
    hub.send(bob, p.encode_mail_got(mail.mail_id, kept=False))
    [receipt] = alice.take(p.Mail)
    assert (receipt.kind, receipt.msg_id, receipt.peer) == (MailKind.UNOPENED, 9, "bob")


def test_mail_waits_thirty_days_at_most(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    hub = Server(store=store)
    hub.registry.open_standing_room(ROOM)
    alice, bob = hub.join("alice"), hub.join("bob")
    hub.send(bob, p.encode_leave())
    hub.direct(alice, bob, "read this next month", 3)
    assert hub.registry._mail
    hub.tick(MAIL_KEEP_DAYS * 86400 - 120)  # everyone gone by then; the room is a standing one
    assert hub.registry._mail
    hub.tick(180)
    hub.tick(61)
    assert hub.registry._mail == {}
    store.close()


def test_the_people_a_room_remembers_are_bounded(hub):
    hub.join("host")
    room = hub.registry._rooms[ROOM]
    for n in range(PEOPLE_PER_ROOM + 3):
        room.people[f"p{n}"] = PersonalKey.generate().public
    last = hub.join("latecomer")
    assert len(room.people) == PEOPLE_PER_ROOM and room.people["latecomer"] == last.key.public


def test_away_survives_a_failed_commit(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    hub = Server(store=store)
    alice, bob = hub.join("alice"), hub.join("bob")
    hub.send(bob, p.encode_presence(PresenceState.AWAY))
    hub.registry._reload_from_store()  # what a transaction that did not commit makes it do
    assert hub.sync(alice).away == ("bob",)
    store.close()


@pytest.mark.parametrize("kept", [True, False])
def test_mail_got_carries_its_flag_on_the_wire(kept):
    assert p.decode_body(p.encode_mail_got(7, kept)) == p.MailGot(7, kept)


def test_a_plain_members_presence_and_typing_reach_nobody():
    from test_mailbox import DIRECT_FRAMES

    hub = Server(allow_plain=True)
    alice, bob = hub.join("alice"), hub.join("bob")
    plain = hub.join("pat", secure=False)
    for person in (alice, bob):
        person.take()
    hub.send(plain, p.encode_presence(PresenceState.AWAY))
    hub.send(plain, p.encode_typing())
    assert alice.take(*DIRECT_FRAMES) == [] and bob.take(*DIRECT_FRAMES) == []


def test_a_flood_of_refused_messages_is_rate_limited_like_messages(hub, trio):
    alice, _bob, _carol = trio
    stranger = PersonalKey.generate().public
    for msg_id in range(1, 200):
        hub.direct(alice, "nobody", "?", msg_id, key=stranger)
    frames = alice.take(p.DirectStateFrame, p.ErrorFrame)
    answers = [f for f in frames if isinstance(f, p.DirectStateFrame)]
    assert 40 <= len(answers) < 100  # the burst of 50, not 199 answers and log lines
    assert len(frames) - len(answers) == 1  # told once that it is too fast


def test_mail_ids_are_not_used_again_after_a_restart(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    hub = Server(store=store)
    alice, bob = hub.join("alice"), hub.join("bob")
    hub.direct(alice, bob, "one", 1)
    [first] = bob.take(p.Mail)
    hub.send(bob, p.encode_mail_got(first.mail_id))
    hub.restart(store)
    hub.direct(alice, bob, "two", 2)
    [second] = bob.take(p.Mail)
    assert second.mail_id != first.mail_id
    hub.send(bob, p.encode_mail_got(first.mail_id))  # a late acknowledgement of the first
    assert second.mail_id in hub.registry._mail  # takes nothing away from the second
    store.close()


def test_receipts_for_someone_away_are_bounded_and_the_messages_still_go():
    from ocm_core.sansio.mailbox import RECEIPTS_PER_RECIPIENT
    from ocm_core.sansio.room import Limits

    hub = Server(limits=Limits(rate_per_second=1e6, rate_burst=10**6))
    hub.join("host")  # the room stays when alice goes
    alice = hub.join("alice")
    readers = [hub.join(f"r{n}") for n in range(3)]
    sent = 0
    for reader in readers:  # 3 x 150 = 450 messages, more receipts than are kept
        for _ in range(150):
            sent += 1
            hub.direct(alice, reader, "note", sent)
    hub.send(alice, p.encode_leave())  # alice's app is gone: her receipts wait for her
    for reader in readers:
        for mail in reader.take(p.Mail):
            hub.send(reader, p.encode_mail_got(mail.mail_id))
    receipts = [m for m in hub.registry._mail.values() if m.stored.kind is MailKind.DELIVERED]
    assert len(receipts) == RECEIPTS_PER_RECIPIENT
    assert hub.registry.dropped["receipt not kept"] == sent - RECEIPTS_PER_RECIPIENT
    assert not [m for m in hub.registry._mail.values() if m.stored.kind is MailKind.MESSAGE]  # all delivered
