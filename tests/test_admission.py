"""The server's answer to one TCP request, decided without sockets: a request's bytes and the
caller's address in, a Decision (status, sentence, completion, dialect, datagrams) out."""

from __future__ import annotations

import base64
import collections
import json
import logging

import pytest
from support import FakeClock

from ocm_core import wire as p
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.sealed import MemberKeys, SealedChannel, key_proof
from ocm_core.sansio.admission import PLAIN_REFUSED, Admission, Decision
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Transport
from ocm_core.wire import Dialect, Operation, State, Status

ALICE, BOB = "10.0.0.1", "10.0.0.2"
UDP_PORT = 9091
FILES = {"lobby": [p.FileInfo("0123456789abcdef", "notes.txt", 3, "text/plain", "alice")]}


@pytest.fixture
def registry():
    keys = MemberKeys(ServerIdentity.generate(), epoch=1)
    return RoomRegistry(clock=FakeClock(), wall_clock=lambda: 1_700_000_000.0, member_keys=keys)


def admission(registry, *, allow_plain=False, stats=None):
    return Admission(
        registry,
        allow_plain=allow_plain,
        udp_port=lambda: UDP_PORT,
        room_files=lambda room: FILES.get(room, []),
        stats=stats,
    )


def request(operation: Operation, room: str, payload: bytes = b"") -> p.TcrpMessage:
    """A request as the server's TCP code hands it over: decoded from its bytes."""
    return p.decode_tcrp(p.encode_tcrp(operation, State.REQUEST, room, payload), allow_empty_room=True)


def ours(username: str, **fields) -> bytes:
    return p.encode_request(p.RoomRequest(username, **fields))


def test_a_sealed_create_is_granted_a_token_and_its_member_key(registry):
    decision = admission(registry).decide(ALICE, request(Operation.CREATE, "lobby", ours("alice")), secure=True)
    assert (decision.status, decision.detail, decision.dialect, decision.outbound) == (Status.OK, "", Dialect.OURS, [])
    token, key = p.decode_grant(decision.completion)
    assert registry.members("lobby") == ["alice"]
    assert key == registry.member_keys.key_for(token)


def test_a_join_carries_the_notice_for_the_others_to_send(registry):
    decide = admission(registry).decide
    host_token, key = p.decode_grant(decide(ALICE, request(Operation.CREATE, "lobby", ours("alice")), True).completion)
    # the host has an address once its first datagram arrives; only then is it sent the notice
    sealed = SealedChannel.for_client(key).seal(p.datagram_header(b"lobby", host_token), p.encode_heartbeat(0))
    assert registry.handle_datagram(p.decode_datagram(sealed), (ALICE, 5000)) != []  # answered: it is in
    decision = decide(BOB, request(Operation.JOIN, "lobby", ours("bob")), True)
    assert decision.status is Status.OK and registry.members("lobby") == ["alice", "bob"]
    assert [address for address, _ in decision.outbound] == [(ALICE, 5000)]


def test_a_plain_request_is_refused_unless_plain_is_allowed_and_counted(registry, caplog):
    stats = collections.Counter()
    with caplog.at_level(logging.INFO, logger="ocm_core.sansio.admission"):
        refused = admission(registry, stats=stats).decide(
            ALICE, request(Operation.CREATE, "lobby", ours("alice")), False
        )
    assert refused == Decision(Status.ENCRYPTION_REQUIRED, PLAIN_REFUSED, None, Dialect.OURS, [])
    assert stats["plain refused"] == 1 and registry.room_names() == []
    assert "refused a plain CREATE request from 10.0.0.1" in caplog.text
    granted = admission(registry, allow_plain=True).decide(
        ALICE, request(Operation.CREATE, "lobby", ours("alice")), False
    )
    assert granted.status is Status.OK and len(granted.completion) == 22  # a bare token: no key without TLS


def test_the_assignment_dialects_get_their_own_grants(registry):
    decide = admission(registry, allow_plain=True).decide
    bare = decide(ALICE, request(Operation.CREATE, "lobby", b"alice"), secure=True)  # bare text over TLS is still plain
    assert bare.dialect is Dialect.BARE and len(bare.completion) == 22
    kanaru = decide(BOB, request(Operation.JOIN, "lobby", b'"bob"'), secure=False)
    assert kanaru.dialect is Dialect.KANARU and set(json.loads(kanaru.completion)) == {"token"}
    token = json.loads(kanaru.completion)["token"].encode()
    assert registry._tokens[token].transport is Transport.KANARU


def test_list_answers_the_rooms_and_the_udp_port_and_needs_no_room(registry):
    decide = admission(registry).decide
    decide(ALICE, request(Operation.CREATE, "lobby", ours("alice", password="pw")), True)
    listed = decide(BOB, request(Operation.LIST, ""), True)
    assert listed.status is Status.OK
    room_id = registry.list_rooms()[0]["room_id"]
    assert json.loads(listed.completion) == {
        "rooms": [
            {"name": "lobby", "members": 1, "locked": True, "host": "alice", "room_id": room_id, "standing": False}
        ],
        "udp_port": UDP_PORT,
    }


@pytest.mark.parametrize(
    "operation, payload, reason",
    [
        (Operation.CREATE, ours(""), "username is empty"),
        (Operation.CREATE, b"{nope", "request payload starts like JSON but is not valid JSON"),
        (Operation.JOIN, b"\xff\xfe", "request payload is not valid UTF-8"),
    ],
)
def test_a_malformed_request_is_a_bad_request_with_its_reason(registry, operation, payload, reason):
    decision = admission(registry, allow_plain=True).decide(ALICE, request(operation, "lobby", payload), True)
    assert (decision.status, decision.detail, decision.completion) == (Status.BAD_REQUEST, reason, None)
    assert registry.room_names() == []


def test_an_empty_room_name_is_a_bad_request(registry):
    message = p.TcrpMessage(Operation.CREATE, State.REQUEST, "", ours("alice"))
    decision = admission(registry).decide(ALICE, message, True)
    assert (decision.status, decision.detail) == (Status.BAD_REQUEST, "room name is empty")


def test_a_registry_refusal_keeps_its_status_and_sentence(registry):
    decide = admission(registry).decide
    decide(ALICE, request(Operation.CREATE, "lobby", ours("alice")), True)
    taken = decide(BOB, request(Operation.CREATE, "lobby", ours("bob")), True)
    assert (taken.status, taken.detail) == (
        Status.ROOM_EXISTS,
        "room 'lobby' already exists; pick another name or join it",
    )
    missing = decide(BOB, request(Operation.JOIN, "nowhere", ours("bob")), True)
    assert missing.status is Status.NO_SUCH_ROOM


def test_sync_needs_the_members_key_proof_and_answers_with_the_udp_port(registry):
    decide = admission(registry).decide
    token, key = p.decode_grant(decide(ALICE, request(Operation.CREATE, "lobby", ours("alice")), True).completion)
    proof = base64.b64encode(key_proof(key)).decode()
    sync = decide(ALICE, request(Operation.SYNC, "lobby", ours("", token=token.decode(), proof=proof)), True)
    snapshot = json.loads(sync.completion)
    assert sync.status is Status.OK and snapshot["udp_port"] == UDP_PORT and snapshot["members"] == ["alice"]
    forged = decide(ALICE, request(Operation.SYNC, "lobby", ours("", token=token.decode(), proof="AAAA")), True)
    assert forged.status is Status.UNKNOWN_TOKEN


def test_files_lists_the_rooms_files_for_its_sealed_member_only(registry):
    decide = admission(registry).decide
    token, key = p.decode_grant(decide(ALICE, request(Operation.CREATE, "lobby", ours("alice")), True).completion)
    proof = base64.b64encode(key_proof(key)).decode()
    files = decide(
        ALICE, request(Operation.FILES, "lobby", p.encode_file_request(p.FileRequest(token.decode(), proof))), True
    )
    assert files.status is Status.OK and p.decode_file_list(files.completion) == FILES["lobby"]
    stranger = decide(
        BOB, request(Operation.FILES, "lobby", p.encode_file_request(p.FileRequest(token.decode(), proof))), True
    )
    assert stranger.status is Status.UNKNOWN_TOKEN  # the token from another address


def test_needs_hashing_only_for_a_password_that_will_be_checked(registry):
    gate = admission(registry)
    assert gate.needs_hashing(request(Operation.CREATE, "vault", ours("alice", password="pw")))
    assert not gate.needs_hashing(request(Operation.CREATE, "open", ours("alice")))
    assert not gate.needs_hashing(
        request(Operation.JOIN, "vault", ours("bob", password="pw"))
    )  # no such locked room yet
    gate.decide(ALICE, request(Operation.CREATE, "vault", ours("alice", password="pw")), True)
    assert gate.needs_hashing(request(Operation.JOIN, "vault", ours("bob", password="pw")))
    assert not gate.needs_hashing(request(Operation.JOIN, "vault", b"{bad"))
    assert not gate.needs_hashing(request(Operation.LIST, ""))


def test_a_repeated_create_or_join_with_its_request_id_gets_the_first_answer_again(registry):
    decide = admission(registry).decide
    create = request(Operation.CREATE, "lobby", ours("alice", request_id="c1"))
    first, again = decide(ALICE, create, True), decide(ALICE, create, True)
    assert first.status is again.status is Status.OK and first.completion == again.completion
    join = request(Operation.JOIN, "lobby", ours("bob", request_id="j1"))
    first, again = decide(BOB, join, True), decide(BOB, join, True)
    assert again.status is Status.OK and first.completion == again.completion and again.outbound == []
    assert registry.members("lobby") == ["alice", "bob"]


def test_a_locked_room_takes_its_password_at_join(registry):
    decide = admission(registry).decide
    decide(ALICE, request(Operation.CREATE, "vault", ours("alice", password="right")), True)
    wrong = decide(BOB, request(Operation.JOIN, "vault", ours("bob", password="wrong")), True)
    assert wrong.status is Status.WRONG_PASSWORD
    assert decide(BOB, request(Operation.JOIN, "vault", ours("bob", password="right")), True).status is Status.OK


def test_a_member_that_timed_out_comes_back_with_its_old_token(registry):
    decide = admission(registry).decide
    decide(ALICE, request(Operation.CREATE, "lobby", ours("alice")), True)
    token, _key = p.decode_grant(decide(BOB, request(Operation.JOIN, "lobby", ours("bob")), True).completion)
    registry._clock.now += 1  # alice stays; bob's client goes quiet past the member timeout
    registry.handle_datagrams([])
    registry._clock.now += registry.member_timeout + 1
    registry._tokens[next(t for t, m in registry._tokens.items() if m.name == "alice")].last_seen = registry._clock.now
    registry.tick()
    assert registry.members("lobby") == ["alice"]
    back = decide(BOB, request(Operation.JOIN, "lobby", ours("bob", resume_token=token.decode())), True)
    assert back.status is Status.OK and p.decode_grant(back.completion)[0] == token
    assert registry.members("lobby") == ["alice", "bob"]
    assert registry.snapshot(token, BOB, "lobby", registry.member_keys.proof_for(token))["members"] == ["alice", "bob"]
    # a CREATE that carries a resume token is a CREATE
    created = decide(BOB, request(Operation.CREATE, "other", ours("bob", resume_token=token.decode())), True)
    assert created.status is Status.OK and p.decode_grant(created.completion)[0] != token


@pytest.mark.parametrize("token", ["no-such-token", "é-not-ascii"])
def test_an_unknown_or_undecodable_token_is_unknown_never_an_error(registry, token):
    decide = admission(registry).decide
    decide(ALICE, request(Operation.CREATE, "lobby", ours("alice")), True)
    for operation, payload in (
        (Operation.SYNC, ours("", token=token, proof="AAAA")),
        (Operation.FILES, p.encode_file_request(p.FileRequest(token, "AAAA"))),
        (Operation.JOIN, ours("bob", resume_token=token)),
    ):
        assert decide(BOB, request(operation, "lobby", payload), True).status is Status.UNKNOWN_TOKEN, operation


def test_a_create_that_names_nobody_is_refused_even_with_a_token(registry):
    decision = admission(registry).decide(ALICE, request(Operation.CREATE, "lobby", ours("", token="x")), True)
    assert (decision.status, decision.detail) == (Status.BAD_REQUEST, "username is empty")


def test_refusals_answer_in_the_dialect_of_the_request_and_each_is_counted(registry, caplog):
    stats = collections.Counter()
    decide = admission(registry, stats=stats).decide
    refused = decide(ALICE, request(Operation.JOIN, "lobby", b'"kana"'), secure=False)
    assert (refused.status, refused.dialect) == (Status.ENCRYPTION_REQUIRED, Dialect.KANARU)
    decide(ALICE, request(Operation.JOIN, "lobby", b"bare"), secure=False)
    assert stats["plain refused"] == 2
    plain = admission(registry, allow_plain=True).decide
    missing = plain(ALICE, request(Operation.JOIN, "nowhere", b'"kana"'), secure=False)
    assert (missing.status, missing.dialect) == (Status.NO_SUCH_ROOM, Dialect.KANARU)
    bad = plain(ALICE, p.TcrpMessage(Operation.JOIN, State.REQUEST, "", b'"kana"'), secure=False)
    assert (bad.status, bad.dialect) == (Status.BAD_REQUEST, Dialect.KANARU)
    with caplog.at_level(logging.INFO, logger="ocm_core.sansio.admission"):
        decide(BOB, request(Operation.LIST, ""), secure=False)
    assert caplog.messages == ["refused a plain LIST request from 10.0.0.2 (start with --allow-plain to admit it)"]


def test_a_token_admitted_here_is_bound_to_the_address_that_asked(registry):
    decide = Admission(registry, allow_plain=False, udp_port=lambda: UDP_PORT, room_files=lambda room: []).decide
    host, _ = p.decode_grant(decide(ALICE, request(Operation.CREATE, "lobby", ours("alice")), True).completion)
    guest, _ = p.decode_grant(decide(BOB, request(Operation.JOIN, "lobby", ours("bob")), True).completion)
    assert registry.snapshot(host, ALICE, "lobby", registry.member_keys.proof_for(host))["members"] == ["alice", "bob"]
    assert registry.snapshot(guest, BOB, "lobby", registry.member_keys.proof_for(guest))["host"] == "alice"
    refused = decide(BOB, request(Operation.LIST, ""), secure=False)
    assert refused.status is Status.ENCRYPTION_REQUIRED
    gate = Admission(registry, allow_plain=False, udp_port=lambda: UDP_PORT, room_files=lambda room: [])
    gate.decide(BOB, request(Operation.LIST, ""), secure=False)
    assert gate.stats["plain refused"] == 1  # its own counter when the server gives none
