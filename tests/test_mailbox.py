"""Direct messages through the server (ocm_core/sansio/mailbox.py), on a fake clock: sealed
members admitted as our clients are (Admission, a grant with the direct challenge, a SYNC that
proves the key), each datagram sealed and opened with the member's key from its grant. The
server passes, keeps and hands back only sealed bytes, to proven keys alone; presence and
typing are passed on and never kept."""

from __future__ import annotations

import base64
import itertools
import logging
import sqlite3
from dataclasses import dataclass, field

import pytest
from support import FakeClock
from test_registry_durability import BreakableStore

from ocm_core import wire as p
from ocm_core.crypto.direct import PersonalKey, Sealed, public_text
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.sealed import MemberKeys, SealedChannel, key_proof
from ocm_core.sansio.admission import Admission
from ocm_core.sansio.durability import STORE_PROBE_SECONDS
from ocm_core.sansio.mailbox import MAIL_PER_RECIPIENT
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Limits
from ocm_core.storage.roomstore import RoomStore, StoreWriteError
from ocm_core.wire import DirectState, ErrorCode, MailKind, Operation, PresenceState, Refusal, State, Status

ROOM = "lobby"
WALL = 1_700_000_000.0
DIRECT_FRAMES = (p.DirectStateFrame, p.Mail, p.PresenceNote, p.TypingNote)


@dataclass
class Person:
    """One member's client: its install key, its grant, its sealing channel, what it received."""

    name: str
    key: PersonalKey
    ip: str
    port: int
    token: bytes = b""
    member_key: bytes = b""
    challenge: bytes | None = None
    channel: SealedChannel | None = None
    inbox: list = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        return (self.ip, self.port)

    def take(self, *kinds: type) -> list:
        """The frames received since the last take, those of `kinds` if given (the rest go too)."""
        got, self.inbox = self.inbox, []
        return [f for f in got if not kinds or isinstance(f, kinds)]

    def read(self, mail: p.Mail) -> p.DirectText:
        """A mailed message opened with this person's key, as from the key it names."""
        return p.decode_direct_text(self.key.open(mail.peer_key, mail.msg_id, Sealed.from_bytes(mail.sealed)))


class Server:
    """A registry behind Admission, its members' clients, and every datagram it sent."""

    def __init__(self, *, store: RoomStore | None = None, limits: Limits | None = None, allow_plain: bool = False):
        self.clock = FakeClock()
        self.identity = ServerIdentity.generate()
        self.epoch = 0
        self.allow_plain = allow_plain
        self.limits = limits
        self.at: dict[tuple[str, int], Person] = {}
        self.outbound: list[tuple[tuple[str, int], bytes]] = []  # every datagram, as sent
        self.bodies: list[bytes] = []  # each one's body as the server built it (its seal opened)
        self._hosts = itertools.count(1)
        self.restart(store)

    def restart(self, store: RoomStore | None = None) -> None:
        """A new start over `store` (the same identity, a later epoch); clients keep their state."""
        self.epoch += 1
        self.registry = RoomRegistry(
            clock=self.clock,
            wall_clock=lambda: WALL + self.clock.now,
            store=store,
            member_keys=MemberKeys(self.identity, self.epoch),
            limits=self.limits,
        )
        self.admission = Admission(
            self.registry, allow_plain=self.allow_plain, udp_port=lambda: 9091, room_files=lambda room: []
        )

    # --- TCP -----------------------------------------------------------------------------

    def join(
        self,
        name: str,
        key: PersonalKey | None = None,
        *,
        give_key: bool = True,
        claim: bytes | None = None,
        prove: bool = True,
        secure: bool = True,
        features: tuple[str, ...] = (),
    ) -> Person:
        """`name` creates the room (if there is none) or joins it, giving its key (or `claim`),
        SYNCs proving it (if `prove`), and sends a heartbeat so the server has its address."""
        n = next(self._hosts)
        person = Person(name, key or PersonalKey.generate(), f"10.0.0.{n}", 5000 + n)
        fields = {"direct_key": public_text(claim or person.key.public)} if give_key else {}
        operation = Operation.JOIN if ROOM in self.registry.room_names() else Operation.CREATE
        decision = self.decide(person, operation, p.RoomRequest(name, **fields), secure)
        self.at[person.address] = person
        self._route(decision.outbound)
        if secure:
            person.token, person.member_key = p.decode_grant(decision.completion)
            person.challenge = p.decode_grant_challenge(decision.completion)
            person.channel = SealedChannel.for_client(person.member_key)
            proving = prove and give_key
            self.sync(
                person,
                person.key.prove(person.challenge, person.token, self.identity.fingerprint) if proving else None,
                features,
            )
        else:
            person.token = decision.completion
        self.send(person, p.encode_heartbeat(0))
        return person

    def sync(self, person: Person, direct_proof: bytes | None = None, features: tuple[str, ...] = ()) -> p.RoomSnapshot:
        fields = {"token": person.token.decode(), "proof": b64(key_proof(person.member_key))}
        if direct_proof is not None:
            fields["direct_proof"] = b64(direct_proof)
        decision = self.decide(person, Operation.SYNC, p.RoomRequest("", features=features, **fields))
        return p.decode_snapshot(decision.completion)

    def decide(self, person: Person, operation: Operation, request: p.RoomRequest, secure: bool = True):
        message = p.decode_tcrp(p.encode_tcrp(operation, State.REQUEST, ROOM, p.encode_request(request)))
        decision = self.admission.decide(person.ip, message, secure)
        assert decision.status is Status.OK, decision.detail
        return decision

    # --- UDP -----------------------------------------------------------------------------

    def send(self, person: Person, body: bytes) -> list:
        header = p.datagram_header(ROOM.encode(), person.token)
        data = person.channel.seal(header, body) if person.channel else header + body
        return self._route(self.registry.handle_datagrams([(p.decode_datagram(data), person.address)]))

    def direct(self, sender: Person, to: Person | str, text: str, msg_id: int, key: bytes | None = None) -> bytes:
        """`sender` seals `text` for `to` (a person, or a name with `key`) and sends it; the DIRECT body."""
        name = to if isinstance(to, str) else to.name
        key = key if key is not None else to.key.public
        plaintext = p.encode_direct_text(p.DirectText(int(WALL * 1000), text))
        body = p.encode_direct(p.Direct(msg_id, key, name, sender.key.seal(key, msg_id, plaintext).to_bytes()))
        self.send(sender, body)
        return body

    def tick(self, seconds: float = 0.0) -> list:
        self.clock.now += seconds
        return self._route(self.registry.tick())

    def _route(self, out: list) -> list:
        self.outbound += out
        for address, data in out:
            person = self.at[address]
            body = p.decode_datagram(data).body
            if person.channel is not None:
                body = person.channel.open(data[: len(data) - len(body)], body)
            self.bodies.append(body)
            person.inbox.append(p.decode_body(body))
        return out


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def hub():
    return Server()


@pytest.fixture
def trio(hub):
    """alice (the host), bob and carol, each with a proven key, their inboxes emptied."""
    people = [hub.join(name) for name in ("alice", "bob", "carol")]
    for person in people:
        person.take()
    return people


def state_of(person: Person) -> list[tuple]:
    return [(f.msg_id, f.state, f.refusal) for f in person.take(p.DirectStateFrame)]


def refused(refusal: Refusal, msg_id: int) -> list[tuple]:
    return [(msg_id, DirectState.REFUSED, refusal)]


def passes(hub: Server, alice: Person, bob: Person, msg_id: int) -> bool:
    """Whether the server still passes alice's message to bob (and bob takes it)."""
    hub.direct(alice, bob, "still there?", msg_id)
    [mail] = bob.take(p.Mail)
    hub.send(bob, p.encode_mail_got(mail.mail_id))
    return state_of(alice) == [(msg_id, DirectState.PASSED, Refusal.NONE)] and bob.read(mail).text == "still there?"


def mail_rows(path) -> int:
    """The rows of the `mail` table in the database at `path` (closed: the store holds it exclusively)."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM mail").fetchone()[0]
    finally:
        db.close()


# --- keys -------------------------------------------------------------------------------------


def test_the_grant_challenge_is_the_tokens_and_the_snapshot_lists_proven_keys(hub, trio):
    alice, bob, carol = trio
    assert bob.challenge == hub.registry.member_keys.direct_challenge(bob.token).public
    dan = hub.join("dan", prove=False)
    keys = dict(hub.sync(dan).keys)
    assert keys == {"alice": alice.key.public, "bob": bob.key.public, "carol": carol.key.public}


def test_a_joined_event_carries_the_members_key(hub, trio):
    alice, _, _ = trio
    dan = hub.join("dan")
    [joined] = [e for e in alice.take(p.Event) if e.event_type is p.EventType.JOINED]
    assert (joined.name, joined.text) == ("dan", public_text(dan.key.public))


# --- 1. delivered ---------------------------------------------------------------------------


def test_a_message_to_a_present_member_is_passed_opened_acknowledged_and_receipted(hub, trio):
    alice, bob, carol = trio
    hub.direct(alice, bob, "こんにちは bob", 41)
    assert state_of(alice) == [(41, DirectState.PASSED, Refusal.NONE)]
    [mail] = bob.take()
    assert (mail.kind, mail.msg_id, mail.peer, mail.peer_key) == (MailKind.MESSAGE, 41, "alice", alice.key.public)
    assert bob.read(mail).text == "こんにちは bob"
    assert carol.take() == []

    hub.send(bob, p.encode_mail_got(mail.mail_id))
    [receipt] = alice.take()
    assert (receipt.kind, receipt.msg_id, receipt.peer, receipt.peer_key, receipt.sealed) == (
        MailKind.DELIVERED,
        41,
        "bob",
        bob.key.public,
        b"",
    )
    assert bob.take(*DIRECT_FRAMES) == [] and carol.take() == []

    hub.send(alice, p.encode_mail_got(receipt.mail_id))
    for _ in range(20):  # past every retry, and short of anyone's time-out
        hub.tick(1.0)
    assert [f for person in trio for f in person.take(*DIRECT_FRAMES)] == []
    assert hub.registry._mail == {} and hub.registry.members(ROOM) == ["alice", "bob", "carol"]


# --- 2. not acknowledged ----------------------------------------------------------------------


def test_a_mail_not_acknowledged_is_handed_again_after_half_a_second_then_backing_off(hub, trio):
    alice, bob, _ = trio
    hub.direct(alice, bob, "are you there?", 1)
    [first] = bob.take(p.Mail)
    handed_at = []
    start = hub.clock.now
    for _ in range(64):  # 8 s in steps of 1/8 s (exact in binary, so no drift)
        hub.tick(0.125)
        if again := bob.take(p.Mail):
            assert again == [first]
            handed_at.append(hub.clock.now - start)
    assert handed_at == [0.5, 1.5, 3.5, 7.5]

    hub.send(bob, p.encode_mail_got(first.mail_id))
    hub.tick(20.0)
    assert bob.take(p.Mail) == []


def test_the_backoff_stops_doubling_at_eight_seconds(hub, trio):
    alice, bob, carol = trio
    hub.direct(alice, bob, "hello", 1)
    bob.take()
    gaps, last = [], hub.clock.now
    for _ in range(60 * 4):  # a minute in quarter seconds, everyone kept alive
        hub.tick(0.25)
        if hub.clock.now % 5 == 0:
            for person in trio:
                hub.send(person, p.encode_heartbeat(0))
        if bob.take(p.Mail):
            gaps.append(hub.clock.now - last)
            last = hub.clock.now
    assert gaps[:4] == [0.5, 1.0, 2.0, 4.0] and set(gaps[4:]) == {8.0}


# --- 3. offline ---------------------------------------------------------------------------------


def go_away(hub: Server, trio: list[Person], how: str) -> None:
    alice, bob, carol = trio
    if how == "leaves":
        hub.send(bob, p.encode_leave())
    else:
        hub.tick(20.0)
        hub.send(alice, p.encode_heartbeat(0))
        hub.send(carol, p.encode_heartbeat(0))
        hub.tick(15.0)
    assert hub.registry.members(ROOM) == ["alice", "carol"]
    for person in trio:
        person.take()


@pytest.mark.parametrize("how", ["leaves", "times out"])
def test_a_message_for_someone_gone_is_kept_and_handed_when_they_join_again(hub, trio, how):
    alice, bob, _ = trio
    go_away(hub, trio, how)
    hub.direct(alice, "bob", "for when you are back", 9, key=bob.key.public)
    assert state_of(alice) == [(9, DirectState.KEPT, Refusal.NONE)]
    hub.tick(5.0)
    assert alice.take(p.Mail) == []

    again = hub.join("bob", bob.key)
    assert again.take(p.Mail) == []  # handed at the tick
    hub.tick()
    [mail] = again.take(p.Mail)
    assert (mail.peer, again.read(mail).text) == ("alice", "for when you are back")
    hub.send(again, p.encode_mail_got(mail.mail_id))
    [receipt] = alice.take(p.Mail)
    assert (receipt.kind, receipt.msg_id, receipt.peer) == (MailKind.DELIVERED, 9, "bob")


def test_nothing_is_handed_to_a_returning_member_before_it_proves_its_key(hub, trio):
    alice, bob, _ = trio
    go_away(hub, trio, "leaves")
    hub.direct(alice, "bob", "wait for proof", 9, key=bob.key.public)
    again = hub.join("bob", bob.key, prove=False)
    hub.tick(1.0)
    assert again.take(p.Mail) == []
    hub.sync(again, again.key.prove(again.challenge, again.token, hub.identity.fingerprint))
    hub.tick()
    assert [again.read(m).text for m in again.take(p.Mail)] == ["wait for proof"]


# --- 4. refusals ------------------------------------------------------------------------------


def test_a_message_to_oneself_is_refused(hub, trio):
    alice, bob, _ = trio
    hub.direct(alice, alice, "note to self", 1)
    assert state_of(alice) == refused(Refusal.YOURSELF, 1)
    assert passes(hub, alice, bob, 2)


def test_a_message_to_a_name_never_in_the_room_is_refused(hub, trio):
    alice, bob, _ = trio
    hub.direct(alice, "dave", "hello?", 1, key=PersonalKey.generate().public)
    assert state_of(alice) == refused(Refusal.NOT_HERE, 1)
    assert passes(hub, alice, bob, 2)


def test_a_message_to_bob_under_another_key_is_refused_as_a_changed_key(hub, trio):
    alice, bob, _ = trio
    hub.direct(alice, "bob", "is it you?", 1, key=PersonalKey.generate().public)
    assert state_of(alice) == refused(Refusal.KEY_CHANGED, 1)
    assert bob.take(p.Mail) == []
    assert passes(hub, alice, bob, 2)


@pytest.mark.parametrize("how", ["no key given", "never proved", "proved wrongly"])
def test_a_sender_without_a_proven_key_is_refused(hub, trio, how):
    alice, bob, _ = trio
    dan = hub.join("dan", give_key=how != "no key given", prove=False)
    if how == "proved wrongly":
        hub.sync(dan, PersonalKey.generate().prove(dan.challenge, dan.token, hub.identity.fingerprint))
    hub.direct(dan, bob, "hi bob", 1)
    assert state_of(dan) == refused(Refusal.NEEDS_KEY, 1)
    assert bob.take(p.Mail) == []
    assert passes(hub, alice, bob, 2)


def test_a_message_whose_mail_would_not_fit_a_datagram_is_refused_and_one_that_fits_passes(hub, trio):
    alice, bob, _ = trio
    most = p.max_direct_text_bytes(len(ROOM), len(alice.token), len(b"alice"), len(b"bob"))
    hub.direct(alice, bob, "x" * (most + 1), 1)
    assert state_of(alice) == refused(Refusal.TOO_LONG, 1)
    assert bob.take(p.Mail) == []
    hub.direct(alice, bob, "x" * most, 2)
    assert state_of(alice) == [(2, DirectState.PASSED, Refusal.NONE)]
    assert len(bob.read(bob.take(p.Mail)[0]).text) == most


def test_a_full_mailbox_refuses_one_more_message():
    hub = Server(limits=Limits(rate_burst=1000))
    alice, bob, carol = (hub.join(name) for name in ("alice", "bob", "carol"))
    go_away(hub, [alice, bob, carol], "leaves")
    for msg_id in range(1, MAIL_PER_RECIPIENT + 1):
        hub.direct(alice, "bob", f"message {msg_id}", msg_id, key=bob.key.public)
    assert {s for _, s, _ in state_of(alice)} == {DirectState.KEPT}
    hub.direct(carol, "bob", "one more", 1, key=bob.key.public)
    assert state_of(carol) == refused(Refusal.MAILBOX_FULL, 1)
    hub.direct(alice, carol, "still serving", 9999)
    assert state_of(alice) == [(9999, DirectState.PASSED, Refusal.NONE)]


def test_a_flood_beyond_the_burst_is_told_once_and_not_kept(hub, trio):
    alice, bob, _ = trio
    burst = hub.registry.limits.rate_burst
    for msg_id in range(1, burst + 11):
        hub.direct(alice, bob, f"flood {msg_id}", msg_id)
    taken = alice.take()
    assert [f.msg_id for f in taken if isinstance(f, p.DirectStateFrame)] == list(range(1, burst + 1))
    assert [f.code for f in taken if isinstance(f, p.ErrorFrame)] == [ErrorCode.RATE_LIMITED]
    assert len(bob.take(p.Mail)) == burst
    assert len(hub.registry._mail) == burst
    hub.clock.now += 1.0
    assert passes(hub, alice, bob, burst + 11)


# --- 5. retransmits --------------------------------------------------------------------------


def test_a_retransmitted_message_is_answered_again_and_kept_once(hub, trio):
    alice, bob, _ = trio
    body = hub.direct(alice, bob, "once", 5)
    hub.send(alice, body)  # the same frame, sealed in a new datagram, as a client retransmits
    assert state_of(alice) == [(5, DirectState.PASSED, Refusal.NONE)] * 2
    [mail] = bob.take(p.Mail)
    hub.send(bob, p.encode_mail_got(mail.mail_id))
    alice.take()
    hub.send(alice, body)  # late, after delivery
    assert state_of(alice) == [(5, DirectState.PASSED, Refusal.NONE)]
    hub.tick(1.0)
    assert bob.take(p.Mail) == []
    assert [item.stored.kind for item in hub.registry._mail.values()] == [MailKind.DELIVERED]  # alice's receipt


def test_a_retransmit_for_someone_away_is_kept_once(hub, trio):
    alice, bob, _ = trio
    go_away(hub, trio, "leaves")
    body = hub.direct(alice, "bob", "once", 5, key=bob.key.public)
    hub.send(alice, body)
    assert state_of(alice) == [(5, DirectState.KEPT, Refusal.NONE)] * 2
    again = hub.join("bob", bob.key)
    hub.tick()
    assert [m.msg_id for m in again.take(p.Mail)] == [5]


# --- 6. nobody takes another's mail ------------------------------------------------------------


def test_carols_acknowledgement_of_bobs_mail_deletes_nothing(hub, trio):
    alice, bob, carol = trio
    hub.direct(alice, bob, "for bob", 3)
    [mail] = bob.take(p.Mail)
    hub.send(carol, p.encode_mail_got(mail.mail_id))
    assert alice.take(p.Mail) == []  # no receipt
    hub.tick(0.5)
    assert bob.take(p.Mail) == [mail]


def test_a_member_claiming_bobs_key_without_proving_it_gets_nothing_and_may_not_write(hub, trio):
    alice, bob, carol = trio
    go_away(hub, trio, "leaves")
    hub.direct(alice, "bob", "for bob only", 3, key=bob.key.public)
    assert state_of(alice) == [(3, DirectState.KEPT, Refusal.NONE)]
    mallory = hub.join("mallory", claim=bob.key.public, prove=False)
    # she proves her own key, not bob's
    hub.sync(mallory, mallory.key.prove(mallory.challenge, mallory.token, hub.identity.fingerprint))
    assert "mallory" not in dict(hub.sync(mallory).keys)
    hub.tick(1.0)
    assert mallory.take(p.Mail) == []
    hub.send(mallory, p.encode_typing("alice"))
    hub.direct(mallory, alice, "I am bob", 1)
    assert state_of(mallory) == refused(Refusal.NEEDS_KEY, 1)
    assert alice.take(*DIRECT_FRAMES) == [] and carol.take(*DIRECT_FRAMES) == []
    again = hub.join("bob", bob.key)
    hub.tick()
    assert [again.read(m).text for m in again.take(p.Mail)] == ["for bob only"]


def test_a_proof_made_for_another_tokens_challenge_fails(hub, trio):
    alice, bob, _ = trio
    dan = hub.join("dan", prove=False)
    hub.sync(dan, dan.key.prove(alice.challenge, dan.token, hub.identity.fingerprint))
    hub.sync(dan, dan.key.prove(dan.challenge, alice.token, hub.identity.fingerprint))
    assert "dan" not in dict(hub.sync(dan).keys)
    hub.direct(dan, bob, "hi", 1)
    assert state_of(dan) == refused(Refusal.NEEDS_KEY, 1)


def test_after_a_restart_someone_else_under_bobs_name_does_not_inherit_his_key(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    hub = Server(store=store)
    alice, bob, carol = (hub.join(name) for name in ("alice", "bob", "carol"))
    go_away(hub, [alice, bob, carol], "leaves")
    hub.direct(alice, "bob", "for bob only", 3, key=bob.key.public)
    mallory = hub.join("bob", give_key=False)  # the name is free; she has no key of bob's
    assert "bob" not in dict(hub.sync(mallory).keys)
    hub.restart(store)
    hub.send(mallory, p.encode_heartbeat(0))
    hub.tick(1.0)
    assert mallory.take(p.Mail) == []
    assert "bob" not in dict(hub.sync(mallory).keys)
    store.close()


# --- 7. with the room -----------------------------------------------------------------------------


def test_a_closed_rooms_waiting_mail_is_gone_from_memory_and_store(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    hub = Server(store=store)
    alice, bob, carol = (hub.join(name) for name in ("alice", "bob", "carol"))
    go_away(hub, [alice, bob, carol], "leaves")
    hub.direct(carol, "bob", "kept for bob", 1, key=bob.key.public)
    assert len(store.mail()) == 1
    hub.send(alice, p.encode_leave())  # the host: the room closes
    assert hub.registry.room_names() == [] and hub.registry._mail == {}
    assert store.mail() == [] and store.people() == []
    store.close()
    assert mail_rows(tmp_path / "server.db") == 0


def test_a_standing_rooms_mail_survives_a_restart_and_is_handed_after_it(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    hub = Server(store=store)
    hub.registry.open_standing_room(ROOM)
    alice, bob, carol = (hub.join(name) for name in ("alice", "bob", "carol"))
    go_away(hub, [alice, bob, carol], "leaves")
    hub.direct(alice, "bob", "see you tomorrow", 7, key=bob.key.public)
    store.close()

    store = RoomStore(tmp_path / "server.db")
    hub.restart(store)
    hub.registry.open_standing_room(ROOM)
    again = hub.join("bob", bob.key)
    hub.tick()
    [mail] = again.take(p.Mail)
    assert (mail.peer, again.read(mail).text) == ("alice", "see you tomorrow")
    hub.send(alice, p.encode_heartbeat(0))  # alice stayed through the restart
    hub.send(again, p.encode_mail_got(mail.mail_id))
    assert [(m.kind, m.msg_id) for m in alice.take(p.Mail)] == [(MailKind.DELIVERED, 7)]
    store.close()


def test_a_member_kept_through_a_restart_keeps_its_proven_key_and_its_mail(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    hub = Server(store=store)
    alice, bob, _ = (hub.join(name) for name in ("alice", "bob", "carol"))
    hub.direct(alice, bob, "before the restart", 7)
    bob.take()
    store.close()

    store = RoomStore(tmp_path / "server.db")
    hub.restart(store)
    assert dict(hub.sync(bob).keys)["bob"] == bob.key.public
    hub.send(bob, p.encode_heartbeat(0))
    hub.tick()
    assert [bob.read(m).text for m in bob.take(p.Mail)] == ["before the restart"]
    store.close()


# --- 8. no plaintext -----------------------------------------------------------------------------

SECRETS = ["ZEBRA-SECRET-42", "秘密のメッセージ"]


def test_the_server_stores_and_sends_no_plaintext(tmp_path):
    path = tmp_path / "server.db"
    store = RoomStore(path)
    hub = Server(store=store)
    alice, bob, carol = (hub.join(name) for name in ("alice", "bob", "carol"))
    hub.direct(alice, carol, SECRETS[0], 1)  # passed at once
    hub.direct(carol, alice, SECRETS[1], 2)
    go_away(hub, [alice, bob, carol], "leaves")
    hub.direct(alice, "bob", SECRETS[0], 3, key=bob.key.public)  # kept for bob
    hub.direct(carol, "bob", SECRETS[1], 4, key=bob.key.public)
    again = hub.join("bob", bob.key)
    hub.tick()
    mails = again.take(p.Mail)
    assert sorted(again.read(m).text for m in mails) == sorted(SECRETS)
    assert len(store.mail()) == 4  # none acknowledged yet: all kept

    wal = tmp_path / "server.db-wal"
    stored = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    store.close()
    stored += path.read_bytes()  # and what the close moved in from the log
    assert mail_rows(path) == 4
    sent = b"".join(data for _, data in hub.outbound)
    built = b"".join(hub.bodies)
    assert all(m.sealed in stored and m.sealed in built for m in mails)  # only the sealed part is there
    for secret in SECRETS:
        raw = secret.encode("utf-8")
        assert raw not in stored
        assert raw not in sent
        assert raw not in built


# --- 9. presence and typing ----------------------------------------------------------------------


def test_away_is_passed_on_once_listed_in_the_snapshot_and_online_again(hub, trio):
    alice, bob, carol = trio
    hub.send(alice, p.encode_presence(PresenceState.AWAY))
    assert bob.take() == [p.PresenceNote("alice", PresenceState.AWAY)]
    assert carol.take() == [p.PresenceNote("alice", PresenceState.AWAY)]
    assert alice.take(*DIRECT_FRAMES) == []
    hub.send(alice, p.encode_presence(PresenceState.AWAY))
    assert bob.take(*DIRECT_FRAMES) == [] and carol.take(*DIRECT_FRAMES) == []
    assert hub.sync(bob).away == ("alice",)
    hub.send(alice, p.encode_presence(PresenceState.ONLINE))
    assert bob.take() == [p.PresenceNote("alice", PresenceState.ONLINE)]
    assert hub.sync(bob).away == ()


def test_presence_is_not_stored(tmp_path):
    store = RoomStore(tmp_path / "server.db")
    hub = Server(store=store)
    alice, bob, _ = (hub.join(name) for name in ("alice", "bob", "carol"))
    hub.send(alice, p.encode_presence(PresenceState.AWAY))
    assert hub.sync(bob).away == ("alice",)
    hub.restart(store)
    assert hub.sync(bob).away == ()
    store.close()


def test_room_typing_reaches_the_others_at_most_once_a_second(hub, trio):
    alice, bob, carol = trio
    hub.send(alice, p.encode_typing(""))
    assert bob.take() == [p.TypingNote("alice", False)] and carol.take() == [p.TypingNote("alice", False)]
    hub.clock.now += 0.9
    hub.send(alice, p.encode_typing(""))
    assert bob.take(*DIRECT_FRAMES) == [] and carol.take(*DIRECT_FRAMES) == []
    hub.clock.now += 0.1
    hub.send(alice, p.encode_typing(""))
    assert bob.take() == [p.TypingNote("alice", False)]
    assert alice.take(*DIRECT_FRAMES) == []


def test_typing_to_bob_reaches_bob_only_and_to_a_stranger_nobody(hub, trio):
    alice, bob, carol = trio
    hub.send(alice, p.encode_typing("bob"))
    assert bob.take() == [p.TypingNote("alice", True)]
    assert carol.take() == [] and alice.take(*DIRECT_FRAMES) == []
    hub.clock.now += 1.0
    hub.send(alice, p.encode_typing("dave"))
    assert [f for person in trio for f in person.take(*DIRECT_FRAMES)] == []


# --- 10. plain members ---------------------------------------------------------------------------


def test_a_plain_members_direct_is_refused_and_never_relayed():
    hub = Server(allow_plain=True)
    alice, bob = hub.join("alice"), hub.join("bob")
    plain = hub.join("pat", secure=False)
    for person in (alice, bob):
        person.take()
    hub.direct(plain, bob, "unsealed hello", 1)
    assert state_of(plain) == refused(Refusal.NEEDS_KEY, 1)
    assert bob.take(*DIRECT_FRAMES) == [] and alice.take(*DIRECT_FRAMES) == []
    assert hub.registry._mail == {}


def test_a_bare_text_members_direct_frame_is_dropped():
    hub = Server(allow_plain=True)
    alice, bob = hub.join("alice"), hub.join("bob")
    bare = hub.join("pat", secure=False)
    hub.send(bare, b"hello in plain text")  # from now on it reads text only
    for person in (alice, bob, bare):
        person.take()
    hub.direct(bare, bob, "hi", 1)
    assert bare.take() == [] and bob.take() == [] and alice.take() == []
    assert hub.registry.dropped["direct frame from a plain-text member"] == 1


# --- a full disk ---------------------------------------------------------------------------------


def test_on_a_full_disk_a_message_is_neither_passed_nor_kept_and_goes_once_the_disk_is_back(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")  # "cannot write": expected
    store = BreakableStore(tmp_path / "server.db")
    hub = Server(store=store)
    alice, bob, carol = (hub.join(name) for name in ("alice", "bob", "carol"))
    for person in (alice, bob, carol):
        person.take()
    store.full = True
    body = hub.direct(alice, bob, "after the disk", 1)
    hub.send(alice, body)  # its retransmit, while the disk is known to fail
    assert [f.code for f in alice.take(p.ErrorFrame)] == [ErrorCode.CANNOT_SAVE]
    assert alice.take(*DIRECT_FRAMES) == [] and bob.take(*DIRECT_FRAMES) == []
    assert hub.registry._mail == {}

    store.full = False
    hub.tick(STORE_PROBE_SECONDS)
    hub.send(alice, body)
    assert state_of(alice) == [(1, DirectState.PASSED, Refusal.NONE)]
    assert [bob.read(m).text for m in bob.take(p.Mail)] == ["after the disk"]
    store.close()


def test_on_a_full_disk_an_acknowledgement_waits_and_the_mail_is_kept(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")
    store = BreakableStore(tmp_path / "server.db")
    hub = Server(store=store)
    alice, bob, _ = (hub.join(name) for name in ("alice", "bob", "carol"))
    hub.direct(alice, bob, "keep me", 1)
    [mail] = bob.take(p.Mail)
    alice.take()
    store.full = True
    hub.send(bob, p.encode_mail_got(mail.mail_id))
    hub.send(bob, p.encode_mail_got(mail.mail_id))
    assert alice.take(p.Mail) == [] and len(hub.registry._mail) == 1

    store.full = False
    hub.tick(STORE_PROBE_SECONDS)
    assert bob.take(p.Mail) == [mail]  # handed again: it was never let go
    hub.send(bob, p.encode_mail_got(mail.mail_id))
    assert [(m.kind, m.msg_id) for m in alice.take(p.Mail)] == [(MailKind.DELIVERED, 1)]
    store.close()


def test_a_proof_the_full_disk_did_not_take_is_taken_at_a_later_sync(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="ocm_core.sansio.registry")
    store = BreakableStore(tmp_path / "server.db")
    hub = Server(store=store)
    hub.join("alice")
    bob = hub.join("bob")
    dan = hub.join("dan", prove=False)
    proof = dan.key.prove(dan.challenge, dan.token, hub.identity.fingerprint)
    store.full = True
    assert "dan" not in dict(hub.sync(dan, proof).keys)  # its write fails: not proven
    hub.direct(dan, bob, "hi", 1)
    assert state_of(dan) == []  # refused as unsaved (the sender keeps it), not as unproven

    store.full = False
    hub.tick(STORE_PROBE_SECONDS)
    assert "dan" in dict(hub.sync(dan, proof).keys)
    hub.direct(dan, bob, "hi", 1)
    assert state_of(dan) == [(1, DirectState.PASSED, Refusal.NONE)]
    store.close()
