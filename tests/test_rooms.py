"""Registry tests: decisions and what to send, with an injected clock (no sleeping, no sockets)."""

from __future__ import annotations

import logging
import threading

import pytest
from support import FakeClock

from ocm_core import wire as p
from ocm_core.crypto.passwords import hash_password
from ocm_core.errors import RegistryError
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Limits, Transport
from ocm_core.wire import ErrorCode, EventType, Status


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def registry(clock):
    return RoomRegistry(member_timeout=30.0, clock=clock, wall_clock=lambda: 1_700_000_000.0)


ALICE = ("10.0.0.1", 5001)
BOB = ("10.0.0.2", 5002)
CAROL = ("10.0.0.3", 5003)


def send(registry, token, body, address, room="lobby"):
    return registry.handle_datagram(p.Datagram(room, token, body), address)


def frames_to(outbound, address):
    return [p.decode_body(p.decode_datagram(data).body) for to, data in outbound if to == address]


@pytest.fixture
def lobby(registry):
    """alice hosts 'lobby', bob and carol join; each has sent one heartbeat to register its UDP address."""
    tokens = {"alice": registry.create_room("lobby", "alice", ALICE[0])}
    tokens["bob"], _ = registry.join_room("lobby", "bob", BOB[0])
    tokens["carol"], _ = registry.join_room("lobby", "carol", CAROL[0])
    for name, address in (("alice", ALICE), ("bob", BOB), ("carol", CAROL)):
        send(registry, tokens[name], p.encode_heartbeat(2), address)
    return tokens


def test_tokens_are_unique_128_bit_and_bound_to_room_name_and_ip(registry):
    token = registry.create_room("lobby", "alice", "10.0.0.1")
    other, _ = registry.join_room("lobby", "bob", "10.0.0.2")
    assert token != other
    assert len(token) == 22 and len(token) <= p.MAX_TOKEN_BYTES  # 16 random bytes, URL-safe base64
    assert registry.snapshot(token, "10.0.0.1", "lobby")["host"] == "alice"
    with pytest.raises(RegistryError):
        registry.snapshot(token, "10.0.0.9", "lobby")
    with pytest.raises(RegistryError):
        registry.snapshot(token, "10.0.0.1", "another room")


@pytest.mark.parametrize(
    "action, status, words",
    [
        (lambda r: r.create_room("lobby", "x", "1.1.1.1"), Status.ROOM_EXISTS, "room 'lobby' already exists"),
        (lambda r: r.join_room("nope", "x", "1.1.1.1"), Status.NO_SUCH_ROOM, "no room 'nope'"),
        (lambda r: r.join_room("lobby", "alice", "1.1.1.1"), Status.NAME_TAKEN, "'alice' is taken"),
    ],
)
def test_refusals_carry_a_status_and_a_sentence(registry, action, status, words):
    registry.create_room("lobby", "alice", "10.0.0.1")
    with pytest.raises(RegistryError, match=words) as caught:
        action(registry)
    assert caught.value.status is status


def test_room_and_server_caps(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(max_rooms=1, max_members_per_room=2))
    registry.create_room("a", "host", "1.1.1.1")
    with pytest.raises(RegistryError) as full:
        registry.create_room("b", "host", "1.1.1.1")
    assert full.value.status is Status.SERVER_FULL
    registry.join_room("a", "second", "1.1.1.2")
    with pytest.raises(RegistryError) as room_full:
        registry.join_room("a", "third", "1.1.1.3")
    assert room_full.value.status is Status.ROOM_FULL


def test_join_notice_goes_to_registered_members(registry):
    host = registry.create_room("lobby", "alice", ALICE[0])
    send(registry, host, p.encode_heartbeat(0), ALICE)
    _, outbound = registry.join_room("lobby", "bob", BOB[0])
    [event] = frames_to(outbound, ALICE)
    assert (event.event_type, event.name, event.seq) == (EventType.JOINED, "bob", 1)


def test_chat_is_relayed_to_every_other_member_with_the_sender_name_and_acked(registry, lobby):
    out = send(registry, lobby["bob"], p.encode_chat(1, "やあ"), BOB)
    for address in (ALICE, CAROL):
        [event] = frames_to(out, address)
        assert (event.event_type, event.name, event.text) == (EventType.CHAT, "bob", "やあ")
    assert frames_to(out, BOB) == [p.ChatAck(1, 3)]


def test_retransmitted_chat_is_acked_again_but_never_relayed_twice(registry, lobby):
    send(registry, lobby["bob"], p.encode_chat(7, "once"), BOB)
    again = send(registry, lobby["bob"], p.encode_chat(7, "once"), BOB)
    assert again == [(BOB, again[0][1])]
    assert frames_to(again, BOB) == [p.ChatAck(7, 3)]


@pytest.mark.parametrize(
    "token_of, room, address, reason",
    [
        ("bob", "lobby", ("10.9.9.9", 5002), "token used from another IP address"),
        ("bob", "other", BOB, "token used for another room"),
        (None, "lobby", BOB, "unknown token"),
    ],
)
def test_invalid_datagrams_are_dropped_counted_and_reach_no_one(registry, lobby, token_of, room, address, reason):
    token = lobby[token_of] if token_of else b"forged-token-000000000"
    out = send(registry, token, p.encode_chat(1, "spoof"), address, room=room)
    assert all(not isinstance(f, p.Event) for _, data in out for f in [p.decode_body(p.decode_datagram(data).body)])
    assert registry.dropped[reason] == 1


def test_messages_overtaking_a_lost_one_wait_so_the_sender_order_holds(registry, lobby):
    early = send(registry, lobby["bob"], p.encode_chat(2, "second", 1), BOB)
    assert frames_to(early, ALICE) == [] and frames_to(early, BOB) == []  # held, not acknowledged yet
    out = send(registry, lobby["bob"], p.encode_chat(1, "first", 1), BOB)
    assert [f.text for f in frames_to(out, ALICE)] == ["first", "second"]
    assert frames_to(out, BOB) == [p.ChatAck(1, 3), p.ChatAck(2, 4)]


def test_a_raised_floor_stops_waiting_for_messages_the_sender_gave_up(registry, lobby):
    send(registry, lobby["bob"], p.encode_chat(1, "one", 1), BOB)
    send(registry, lobby["bob"], p.encode_chat(3, "three", 2), BOB)  # 2 is missing: 3 waits
    out = send(registry, lobby["bob"], p.encode_chat(4, "four", 3), BOB)  # the sender gave up on 2
    assert [f.text for f in frames_to(out, ALICE)] == ["three", "four"]
    assert send(registry, lobby["bob"], p.encode_chat(2, "two, too late", 2), BOB) == []


def test_chat_too_long_to_relay_with_the_sender_name_is_refused_not_sent(registry, clock):
    long_name = "n" * 255
    host = registry.create_room("lobby", long_name, ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    text = "x" * (
        p.MAX_DATAGRAM - 2 - len("lobby") - len(host) - p.SEAL_OVERHEAD - p.CHAT_OVERHEAD
    )  # fits upstream only
    out = send(registry, host, p.encode_chat(1, text), ALICE)
    assert frames_to(out, BOB) == []
    assert frames_to(out, ALICE)[0].code is ErrorCode.TOO_LONG
    assert all(len(data) <= p.MAX_DATAGRAM for _, data in out)
    out = send(registry, host, p.encode_chat(2, "short", 2), ALICE)  # the next one is not held behind it
    assert frames_to(out, BOB)[0].text == "short"


def test_server_frames_sent_to_the_server_are_dropped_without_refreshing_the_member(registry, lobby, clock):
    clock.now += 29
    send(registry, lobby["carol"], p.encode_status_frame(5), CAROL)
    assert registry.dropped["server frame sent to the server"] == 1
    clock.now += 2
    registry.tick()
    assert "carol" not in registry.members("lobby")


def test_plain_text_member_gets_no_binary_resends(registry, lobby, clock):
    send(registry, lobby["carol"], b"hello", CAROL)
    send(registry, lobby["alice"], p.encode_chat(1, "hi"), ALICE)
    clock.now += 3
    assert frames_to(registry.tick(), CAROL) == []


def test_locked_room_checks_the_password_before_telling_whether_a_name_is_taken(registry):
    registry.create_room("secret", "alice", "10.0.0.1", password="pw")
    with pytest.raises(RegistryError) as caught:
        registry.join_room("secret", "alice", "10.0.0.2", password="guess")
    assert caught.value.status is Status.WRONG_PASSWORD


def test_new_port_of_the_same_ip_moves_the_member(registry, lobby):
    moved = (BOB[0], 6000)
    send(registry, lobby["bob"], p.encode_heartbeat(2), moved)
    out = send(registry, lobby["alice"], p.encode_chat(1, "hi"), ALICE)
    assert frames_to(out, moved) and not frames_to(out, BOB)


def test_plain_text_from_an_assignment_client_is_relayed_and_it_gets_text_back(registry, lobby):
    out = send(registry, lobby["carol"], "素のテキスト".encode(), CAROL)
    [event] = frames_to(out, ALICE)
    assert event.text == "素のテキスト" and event.name == "carol"
    out = send(registry, lobby["alice"], p.encode_chat(1, "hello carol"), ALICE)
    assert frames_to(out, CAROL) == [p.PlainText("alice: hello carol")]


def test_leave_notifies_the_room_and_answers_the_leaver(registry, lobby):
    out = send(registry, lobby["bob"], p.encode_leave(), BOB)
    [event] = frames_to(out, ALICE)
    assert (event.event_type, event.name) == (EventType.LEFT, "bob")
    assert frames_to(out, BOB) == [p.ErrorFrame(ErrorCode.UNKNOWN_TOKEN, "you left the room")]
    assert registry.members("lobby") == ["alice", "carol"]


def test_host_leaving_closes_the_room_and_kills_every_token(registry, lobby):
    out = send(registry, lobby["alice"], p.encode_leave(), ALICE)
    for address in (BOB, CAROL):
        [event] = frames_to(out, address)
        assert event.event_type is EventType.CLOSED and event.text == "the host closed the room"
    assert registry.room_names() == []
    late = send(registry, lobby["bob"], p.encode_chat(5, "anyone?"), BOB)
    assert frames_to(late, BOB) == [p.ErrorFrame(ErrorCode.UNKNOWN_TOKEN, "the host closed the room")]
    assert frames_to(late, CAROL) == []


def test_silent_member_times_out_and_a_silent_host_closes_the_room(registry, lobby, clock):
    clock.now += 20
    send(registry, lobby["alice"], p.encode_heartbeat(2), ALICE)
    send(registry, lobby["bob"], p.encode_heartbeat(2), BOB)
    clock.now += 15  # carol has now been silent for 35 s, the others for 15 s
    out = registry.tick()
    [event] = frames_to(out, ALICE)
    assert (event.event_type, event.name) == (EventType.TIMED_OUT, "carol")
    clock.now += 20
    send(registry, lobby["bob"], p.encode_heartbeat(3), BOB)
    clock.now += 11  # alice, the host, has been silent for 31 s; bob for 11 s
    out = registry.tick()
    [closed] = frames_to(out, BOB)
    assert (closed.event_type, closed.text) == (EventType.CLOSED, "the host went away, so the room closed")
    assert registry.room_names() == []


def test_unacknowledged_events_are_resent_with_backoff_until_acked(registry, lobby, clock):
    send(registry, lobby["bob"], p.encode_chat(1, "m1"), BOB)
    assert registry.tick() == []  # nothing is due before the first retransmit interval
    clock.now += 0.3
    resent = frames_to(registry.tick(), ALICE)
    assert [f.seq for f in resent] == [3]
    clock.now += 0.3
    assert frames_to(registry.tick(), ALICE) == []  # backed off to 0.5 s
    send(registry, lobby["alice"], p.encode_heartbeat(3), ALICE)
    clock.now += 5
    assert frames_to(registry.tick(), ALICE) == []


def test_heartbeat_is_answered_with_the_latest_sequence_number(registry, lobby):
    send(registry, lobby["bob"], p.encode_chat(1, "m1"), BOB)
    assert frames_to(send(registry, lobby["alice"], p.encode_heartbeat(0), ALICE), ALICE) == [p.StatusFrame(3)]


def test_resend_request_returns_buffered_events_or_asks_for_a_resync(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(event_buffer=4))
    host = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    for i in range(6):
        send(registry, host, p.encode_chat(i + 1, f"m{i}"), ALICE)
    resent = frames_to(send(registry, bob, p.encode_resend((5, 6)), BOB), BOB)
    assert [(f.seq, f.text) for f in resent] == [(5, "m3"), (6, "m4")]
    assert frames_to(send(registry, bob, p.encode_resend((1, 2)), BOB), BOB)[0].code is ErrorCode.RESYNC
    several = frames_to(send(registry, bob, p.encode_resend((4, 4), (6, 7)), BOB), BOB)
    assert [f.seq for f in several] == [4, 6, 7]


def test_snapshot_gives_members_host_history_and_position(registry, lobby):
    send(registry, lobby["bob"], p.encode_chat(1, "before carol saw it"), BOB)
    snap = registry.snapshot(lobby["carol"], CAROL[0], "lobby")
    assert snap["members"] == ["alice", "bob", "carol"] and snap["host"] == "alice" and snap["seq"] == 3
    assert [h["text"] for h in snap["history"] if h["type"] == EventType.CHAT] == ["before carol saw it"]


def test_history_keeps_the_last_hundred_messages_and_the_notices_among_them(registry, lobby, clock):
    for i in range(150):
        send(registry, lobby["alice"], p.encode_chat(i + 1, f"m{i}"), ALICE)
        clock.now += 0.1  # within the rate limit
        if i == 120:
            registry.join_room("lobby", "dave", "10.0.0.4")
    history = registry.snapshot(lobby["bob"], BOB[0], "lobby")["history"]
    chats = [h["text"] for h in history if h["type"] == EventType.CHAT]
    assert chats == [f"m{i}" for i in range(50, 150)]
    assert [h["name"] for h in history if h["type"] == EventType.JOINED] == ["dave"]


def test_rate_limit_drops_the_excess_and_tells_the_sender_once(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(rate_per_second=10, rate_burst=5))
    host = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    relayed, warnings = 0, 0
    for i in range(20):
        out = send(registry, host, p.encode_chat(i + 1, "spam"), ALICE)
        relayed += len(frames_to(out, BOB))
        warnings += sum(isinstance(f, p.ErrorFrame) for f in frames_to(out, ALICE))
    assert (relayed, warnings) == (5, 1)
    clock.now += 0.5  # refills 5 tokens at 10 per second
    out = send(registry, host, p.encode_chat(100, "later"), ALICE)
    assert frames_to(out, BOB)[0].text == "later"


def test_password_is_stored_as_a_salted_scrypt_hash_and_checked(registry):
    registry.create_room("secret", "alice", "10.0.0.1", password="hunter2")
    room = registry._rooms["secret"]
    assert b"hunter2" not in room.password_hash + room.password_salt and len(room.password_hash) == 32
    assert registry.list_rooms()[0]["locked"] is True
    with pytest.raises(RegistryError) as missing:
        registry.join_room("secret", "bob", "10.0.0.2")
    assert missing.value.status is Status.PASSWORD_REQUIRED
    with pytest.raises(RegistryError) as wrong:
        registry.join_room("secret", "bob", "10.0.0.2", password="nope")
    assert wrong.value.status is Status.WRONG_PASSWORD
    token, _ = registry.join_room("secret", "bob", "10.0.0.2", password="hunter2")
    assert token


def test_a_password_of_spaces_is_a_password_and_every_space_counts(registry):
    registry.create_room("quiet", "alice", "10.0.0.1", password="  ")
    assert registry.list_rooms()[0]["locked"] is True
    assert _status_of(lambda: registry.join_room("quiet", "bob", "10.0.0.2")) is Status.PASSWORD_REQUIRED
    assert _status_of(lambda: registry.join_room("quiet", "bob", "10.0.0.2", password=" ")) is Status.WRONG_PASSWORD
    assert _status_of(lambda: registry.join_room("quiet", "bob", "10.0.0.2", password="  ")) is Status.OK


def test_repeated_wrong_passwords_from_one_address_are_slowed_down(registry, clock):
    registry.create_room("secret", "alice", "10.0.0.1", password="right")
    for _ in range(3):
        with pytest.raises(RegistryError):
            registry.join_room("secret", "bob", "10.0.0.2", password="wrong")
    with pytest.raises(RegistryError) as locked:
        registry.join_room("secret", "bob", "10.0.0.2", password="right")
    assert locked.value.status is Status.TOO_MANY_ATTEMPTS
    token, _ = registry.join_room("secret", "carol", "10.0.0.3", password="right")  # other addresses are not slowed
    assert token
    clock.now += 61
    token, _ = registry.join_room("secret", "bob", "10.0.0.2", password="right")
    assert token


def test_password_guesses_are_counted_before_hashing_and_one_address_hashes_one_at_a_time(clock):
    started, release = threading.Event(), threading.Event()

    def slow_hasher(password, salt):
        started.set()
        release.wait(5)
        return hash_password(password, salt)

    registry = RoomRegistry(clock=clock, hasher=slow_hasher)
    registry.create_room("vault", "owner", "10.0.0.1")  # no password: no hashing
    registry._rooms["vault"].password_salt, registry._rooms["vault"].password_hash = hash_password("right")
    outcome = []
    guess = threading.Thread(
        target=lambda: outcome.append(_status_of(lambda: registry.join_room("vault", "g", "10.0.0.9", "wrong")))
    )
    guess.start()
    assert started.wait(5)
    assert registry.passwords.failures("10.0.0.9") == 1  # counted while the hash still runs
    assert _status_of(lambda: registry.join_room("vault", "h", "10.0.0.9", "wrong again")) is Status.BUSY
    release.set()
    guess.join(5)
    assert outcome == [Status.WRONG_PASSWORD]


def test_locked_create_of_a_taken_name_is_refused_before_any_hashing(clock):
    hashed = []
    registry = RoomRegistry(clock=clock, hasher=lambda pw, salt: hashed.append(pw) or hash_password(pw, salt))
    registry.create_room("taken", "a", "10.0.0.1")
    assert _status_of(lambda: registry.create_room("taken", "b", "10.0.0.2", password="pw")) is Status.ROOM_EXISTS
    assert hashed == []


def test_resend_requests_are_rate_limited(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(resend_per_second=10, resend_burst=5))
    host = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    for i in range(10):
        send(registry, host, p.encode_chat(i + 1, f"m{i}"), ALICE)
    answered = sum(bool(send(registry, bob, p.encode_resend((2, 11)), BOB)) for _ in range(50))
    assert answered == 5 and registry.dropped["resend rate limited"] == 45
    clock.now += 1.0
    assert len(send(registry, bob, p.encode_resend((2, 11)), BOB)) == 10


def test_a_sustained_flood_is_told_once_not_at_every_refill(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(rate_per_second=20, rate_burst=50))
    host = registry.create_room("lobby", "alice", ALICE[0])
    told = 0
    for i in range(2000):  # 100 messages a second for 20 s
        clock.now += 0.01
        out = send(registry, host, p.encode_chat(i + 1, "x", i + 1), ALICE)
        told += sum(isinstance(f, p.ErrorFrame) for f in frames_to(out, ALICE))
    assert told == 1


@pytest.mark.parametrize("token", [b"t", b"tt", b"forged-token-000000000"])
def test_the_answer_to_an_unknown_token_is_never_larger_than_the_request(registry, token):
    registry.create_room("lobby", "alice", ALICE[0])
    request = p.encode_datagram(b"lobby", token, p.encode_heartbeat(0))
    out = registry.handle_datagram(p.decode_datagram(request), BOB)
    assert all(len(data) <= len(request) for _, data in out)


def test_the_event_buffer_is_capped_in_bytes(clock):
    registry = RoomRegistry(
        clock=clock, limits=Limits(event_buffer_bytes=50_000, rate_per_second=1e6, rate_burst=10**6)
    )
    host = registry.create_room("lobby", "alice", ALICE[0])
    for i in range(100):
        send(registry, host, p.encode_chat(i + 1, "x" * 3000), ALICE)
    room = registry._rooms["lobby"]
    assert room.buffered_bytes == sum(len(body) for _, body, _ in room.events) <= 50_000
    assert len(room.events) == 16 and room.events[-1][0] == 100


def _status_of(action):
    try:
        action()
    except RegistryError as exc:
        return exc.status
    return Status.OK


# --- exactly at the relay limit ------------------------------------------------------------


@pytest.mark.parametrize("extra, relayed", [(-1, True), (0, True), (1, False)], ids=["4095", "4096", "4097"])
def test_a_chat_is_relayed_up_to_a_4096_byte_datagram_and_refused_past_it(registry, extra, relayed):
    """The relayed event carries the sender's 100-byte name, so it, not the upstream chat, is the limit.
    These members are unsealed: a sealed copy is SEAL_OVERHEAD longer, so the longest is exactly 4,096."""
    sender = "n" * 100
    host = registry.create_room("lobby", sender, ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    text = "x" * (p.MAX_DATAGRAM - 2 - len("lobby") - p.SEAL_OVERHEAD - p.EVENT_OVERHEAD - len(sender) + extra)
    assert len(text) == p.max_relayed_text_bytes(len("lobby"), len(sender)) + extra
    out = send(registry, host, p.encode_chat(1, text), ALICE)
    to_bob = [data for to, data in out if to == BOB]
    if relayed:
        assert [len(data) + p.SEAL_OVERHEAD for data in to_bob] == [p.MAX_DATAGRAM + extra]
        assert p.decode_body(p.decode_datagram(to_bob[0]).body).text == text
        assert frames_to(out, ALICE) == [p.ChatAck(1, 2)]
    else:
        assert to_bob == []
        assert [f.code for f in frames_to(out, ALICE)] == [ErrorCode.TOO_LONG]
        assert registry.dropped["chat too long to relay"] == 1


def test_a_plain_text_chat_is_held_to_the_same_relay_limit(registry):
    host = registry.create_room("lobby", "n" * 100, ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    fits = "x" * p.max_relayed_text_bytes(len("lobby"), 100)
    assert [len(d) + p.SEAL_OVERHEAD for to, d in send(registry, host, fits.encode(), ALICE) if to == BOB] == [
        p.MAX_DATAGRAM
    ]
    assert send(registry, host, (fits + "x").encode(), ALICE) == []  # refused: a plain client reads no error frame
    assert registry.dropped["chat too long to relay"] == 1


def test_a_too_long_chat_that_arrives_early_does_not_block_the_ones_after_it(registry, lobby):
    too_long = "x" * p.MAX_DATAGRAM
    out = send(registry, lobby["bob"], p.encode_chat(1, too_long), BOB)
    assert [f.code for f in frames_to(out, BOB)] == [ErrorCode.TOO_LONG]
    out = send(registry, lobby["bob"], p.encode_chat(2, "next", 2), BOB)
    assert [f.text for f in frames_to(out, ALICE)] == ["next"]
    assert send(registry, lobby["bob"], p.encode_chat(1, too_long), BOB) == []  # its retransmit is ignored


# --- timers, with the fake clock ------------------------------------------------------------


def test_a_missing_message_is_waited_for_30_s_and_then_given_up(registry, lobby, clock):
    """A sender that never raises its floor: the server waits HOLD_SECONDS for the lost one, not a moment more."""
    send(registry, lobby["bob"], p.encode_chat(1, "one", 1), BOB)
    started = clock.now
    assert frames_to(send(registry, lobby["bob"], p.encode_chat(3, "three", 2), BOB), ALICE) == []
    clock.now = started + 30.0
    assert frames_to(send(registry, lobby["bob"], p.encode_chat(4, "four", 2), BOB), ALICE) == []  # still waiting
    clock.now = started + 30.001
    out = send(registry, lobby["bob"], p.encode_chat(5, "five", 2), BOB)
    assert [f.text for f in frames_to(out, ALICE)] == ["three", "four", "five"]
    assert [a.msg_id for a in frames_to(out, BOB)] == [3, 4, 5]
    assert send(registry, lobby["bob"], p.encode_chat(2, "two, too late", 2), BOB) == []


def test_the_hold_back_clock_starts_again_after_each_relay(registry, lobby, clock):
    send(registry, lobby["bob"], p.encode_chat(1, "one", 1), BOB)
    clock.now += 100  # a long quiet spell with nothing held
    assert frames_to(send(registry, lobby["bob"], p.encode_chat(3, "three", 2), BOB), ALICE) == []
    clock.now += 29
    assert frames_to(send(registry, lobby["bob"], p.encode_chat(4, "four", 2), BOB), ALICE) == []  # 29 s held: waits


def test_a_retransmit_after_other_events_is_acknowledged_with_its_own_sequence_number(registry, lobby):
    send(registry, lobby["bob"], p.encode_chat(1, "mine"), BOB)  # seq 3
    send(registry, lobby["alice"], p.encode_chat(1, "hers"), ALICE)  # seq 4
    registry.join_room("lobby", "dave", "10.0.0.4")  # seq 5
    again = send(registry, lobby["bob"], p.encode_chat(1, "mine"), BOB)
    assert again == [(BOB, again[0][1])]  # to the sender only: relayed once, never twice
    assert frames_to(again, BOB) == [p.ChatAck(1, 3)]


def test_a_retransmit_of_a_held_message_is_not_acknowledged_before_it_is_relayed(registry, lobby):
    send(registry, lobby["bob"], p.encode_chat(2, "second", 1), BOB)
    assert send(registry, lobby["bob"], p.encode_chat(2, "second", 1), BOB) == []
    out = send(registry, lobby["bob"], p.encode_chat(1, "first", 1), BOB)
    assert [f.text for f in frames_to(out, ALICE)] == ["first", "second"]


def test_a_retired_token_is_told_why_only_when_the_answer_is_no_larger_than_the_request(registry, lobby, clock):
    """Retire carol's token for real (timed out), then probe the amplification guard at its edge."""
    clock.now += 31
    for name, address in (("alice", ALICE), ("bob", BOB)):
        send(registry, lobby[name], p.encode_heartbeat(3), address)
    registry.tick()
    assert registry.members("lobby") == ["alice", "bob"]
    reason = "you were away too long and were removed"
    answer = p.encode_datagram(b"lobby", b"", p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, reason))
    head = 2 + len("lobby") + len(lobby["carol"])

    def probe(body: bytes):
        return registry.handle_datagram(p.Datagram("lobby", lobby["carol"], body), CAROL)

    same_size = bytes([p.FRAME_MAGIC]) + b"\0" * (len(answer) - head - 1)
    assert probe(same_size) == [(CAROL, answer)]  # as large as the request: answered
    bare = p.encode_datagram(b"lobby", b"", p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, ""))
    assert len(bare) < head + len(p.encode_heartbeat(3))
    assert probe(same_size[:-1]) == [(CAROL, bare)]  # one byte smaller: the reason would amplify, so it is left out
    assert probe(p.encode_heartbeat(3)) == [(CAROL, bare)]  # a real heartbeat: told only to come back or stop
    assert probe(b"p" * len(same_size)) == []  # plain text: an assignment client reads no error frame
    assert frames_to(probe(p.encode_chat(9, "x" * 40)), CAROL) == [p.ErrorFrame(ErrorCode.UNKNOWN_TOKEN, reason)]


def test_a_retired_token_is_told_why_for_ten_minutes_then_only_that_it_is_unknown(registry, lobby, clock):
    send(registry, lobby["bob"], p.encode_leave(), BOB)
    chat = p.encode_chat(9, "x" * 40)
    clock.now += 600
    registry.tick()
    assert frames_to(send(registry, lobby["bob"], chat, BOB), BOB) == [
        p.ErrorFrame(ErrorCode.UNKNOWN_TOKEN, "you left the room")
    ]
    clock.now += 0.001
    registry.tick()
    assert frames_to(send(registry, lobby["bob"], chat, BOB), BOB) == [p.ErrorFrame(ErrorCode.UNKNOWN_TOKEN, "")]


def test_a_member_is_removed_only_once_silent_for_longer_than_the_timeout(registry, lobby, clock):
    start = clock.now
    send(registry, lobby["alice"], p.encode_heartbeat(2), ALICE)
    send(registry, lobby["bob"], p.encode_heartbeat(2), BOB)
    clock.now = start + 30.0
    send(registry, lobby["alice"], p.encode_heartbeat(2), ALICE)
    send(registry, lobby["bob"], p.encode_heartbeat(2), BOB)
    assert frames_to(registry.tick(), ALICE) == []  # carol: silent exactly 30 s, still a member
    assert registry.members("lobby") == ["alice", "bob", "carol"]
    clock.now = start + 30.001
    [event] = frames_to(registry.tick(), ALICE)
    assert (event.event_type, event.name) == (EventType.TIMED_OUT, "carol")
    assert registry.members("lobby") == ["alice", "bob"]


def test_any_valid_datagram_keeps_a_member_alive_but_a_refused_one_does_not(registry, lobby, clock):
    for _ in range(3):
        clock.now += 20
        send(registry, lobby["alice"], p.encode_heartbeat(2), ALICE)
        send(registry, lobby["bob"], p.encode_resend((1, 1)), BOB)  # any client frame counts
        send(registry, lobby["carol"], b"\xff\x01\x7f", CAROL)  # a bad frame does not
        registry.tick()
    assert registry.members("lobby") == ["alice", "bob"]


def test_server_resends_back_off_from_a_quarter_second_to_two_seconds(registry, lobby, clock):
    send(registry, lobby["bob"], p.encode_chat(1, "m1"), BOB)
    start, resent_at = clock.now, []
    while clock.now < start + 8:
        clock.now += 0.125  # exact in binary, so the schedule is exact too
        if frames_to(registry.tick(), ALICE):
            resent_at.append(clock.now - start)
    assert resent_at == [0.25, 0.75, 1.75, 3.75, 5.75, 7.75]


def test_an_acknowledgement_restarts_the_backoff_and_a_new_event_does_not_postpone_a_due_resend(registry, lobby, clock):
    send(registry, lobby["bob"], p.encode_chat(1, "m1"), BOB)  # seq 3
    clock.now += 0.25
    assert [f.seq for f in frames_to(registry.tick(), ALICE)] == [3]  # next resend in 0.5 s
    clock.now += 0.25
    send(registry, lobby["bob"], p.encode_chat(2, "m2"), BOB)  # seq 4, while 3 is unacknowledged
    clock.now += 0.25
    assert [f.seq for f in frames_to(registry.tick(), ALICE)] == [3, 4]  # on the old schedule
    send(registry, lobby["alice"], p.encode_heartbeat(3), ALICE)  # progress: back to 0.25 s
    clock.now += 0.25
    assert [f.seq for f in frames_to(registry.tick(), ALICE)] == [4]
    send(registry, lobby["alice"], p.encode_heartbeat(3), ALICE)  # no progress: the backoff goes on
    clock.now += 0.25
    assert frames_to(registry.tick(), ALICE) == []


def _alice_chatted_to_bob(clock, chats: int) -> tuple[RoomRegistry, bytes]:
    """A registry without rate limits where alice sent `chats` messages (seqs 2..) to bob; bob's token."""
    registry = RoomRegistry(clock=clock, limits=Limits(rate_per_second=1e6, rate_burst=10**6))
    host = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    for i in range(chats):
        send(registry, host, p.encode_chat(i + 1, f"m{i}"), ALICE)
    return registry, bob


def test_a_resend_round_sends_at_most_32_events_from_the_first_unacknowledged(clock):
    registry, bob = _alice_chatted_to_bob(clock, 40)  # seqs 2..41
    send(registry, bob, p.encode_heartbeat(5), BOB)
    clock.now += 0.25
    assert [f.seq for f in frames_to(registry.tick(), BOB)] == list(range(6, 38))


def test_a_heartbeat_from_a_caught_up_member_is_answered_after_half_a_second_of_silence(registry, lobby, clock):
    send(registry, lobby["alice"], p.encode_heartbeat(2), ALICE)  # answered by the lobby fixture's round
    clock.now += 0.5
    assert frames_to(send(registry, lobby["alice"], p.encode_heartbeat(2), ALICE), ALICE) == [p.StatusFrame(2)]
    clock.now += 0.499
    assert send(registry, lobby["alice"], p.encode_heartbeat(2), ALICE) == []
    assert frames_to(send(registry, lobby["alice"], p.encode_heartbeat(1), ALICE), ALICE) == [
        p.StatusFrame(2)
    ]  # behind: at once


def test_a_wrong_password_lockout_doubles_and_ends_to_the_second(registry, clock):
    registry.create_room("secret", "alice", "10.0.0.1", password="right")
    for _ in range(3):
        assert _status_of(lambda: registry.join_room("secret", "bob", "10.0.0.2", "wrong")) is Status.WRONG_PASSWORD
    # the third failure started a 1 s lockout, the fourth will start 2 s
    assert _status_of(lambda: registry.join_room("secret", "bob", "10.0.0.2", "right")) is Status.TOO_MANY_ATTEMPTS
    clock.now += 1.0
    assert _status_of(lambda: registry.join_room("secret", "bob", "10.0.0.2", "wrong")) is Status.WRONG_PASSWORD
    clock.now += 1.999
    assert _status_of(lambda: registry.join_room("secret", "bob", "10.0.0.2", "right")) is Status.TOO_MANY_ATTEMPTS
    clock.now += 0.001
    assert _status_of(lambda: registry.join_room("secret", "bob", "10.0.0.2", "right")) is Status.OK


# --- a registry over a store: what a restart takes up -------------------------------------------


def test_a_registry_over_the_same_store_takes_up_rooms_members_events_and_duplicates(tmp_path, clock):
    from ocm_core.storage.roomstore import RoomStore

    wall = lambda: 1_700_000_000.5
    store = RoomStore(tmp_path / "server.db")
    first = RoomRegistry(clock=clock, wall_clock=wall, store=store)
    host = first.create_room("lobby", "alice", ALICE[0], password="pw")
    bob, _ = first.join_room("lobby", "bob", BOB[0], password="pw")
    carol, _ = first.join_room("lobby", "carol", CAROL[0], password="pw")
    send(first, host, p.encode_heartbeat(0), ALICE)
    send(first, carol, b"plain line", CAROL)  # carol speaks plain text from here on
    send(first, bob, p.encode_chat(1, "one"), BOB)
    send(first, bob, p.encode_heartbeat(0), (BOB[0], 7000))  # bob moved to another port
    send(first, bob, p.encode_chat(2, "two"), (BOB[0], 7000))
    first.create_room("other", "dave", "10.0.0.4")
    dave_gone = first._rooms["other"].members["dave"].token
    send(first, dave_gone, p.encode_leave(), ("10.0.0.4", 1), room="other")  # its host left: the room is gone for good
    [before] = first.list_rooms()
    store.close()

    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, wall_clock=wall, store=store)
    assert again.list_rooms() == [
        {
            "name": "lobby",
            "members": 3,
            "locked": True,
            "host": "alice",
            "room_id": before["room_id"],
            "standing": False,
        }
    ]
    assert again.snapshot(bob, BOB[0], "lobby")["seq"] == 5
    history = again.snapshot(host, ALICE[0], "lobby")["history"]
    assert [(h["seq"], h["type"], h["name"], h["time_ms"]) for h in history] == [
        (1, EventType.JOINED, "bob", 1_700_000_000_500),
        (2, EventType.JOINED, "carol", 1_700_000_000_500),
        (3, EventType.CHAT, "carol", 1_700_000_000_500),
        (4, EventType.CHAT, "bob", 1_700_000_000_500),
        (5, EventType.CHAT, "bob", 1_700_000_000_500),
    ]
    assert [h["text"] for h in history if h["type"] == EventType.CHAT] == ["plain line", "one", "two"]
    assert _status_of(lambda: again.join_room("lobby", "eve", "10.0.0.5", "wrong")) is Status.WRONG_PASSWORD
    # bob's ids are remembered: a retransmit is re-acked, not relayed; his next id flows
    assert frames_to(send(again, bob, p.encode_chat(2, "two"), (BOB[0], 7000)), (BOB[0], 7000)) == [p.ChatAck(2, 5)]
    out = send(again, bob, p.encode_chat(3, "three"), (BOB[0], 7000))
    assert frames_to(out, ALICE)[0].text == "three"  # alice's address was taken up
    assert frames_to(out, CAROL) == [p.PlainText("bob: three")]  # and carol's plain-text mode
    assert (
        frames_to(send(again, dave_gone, p.encode_chat(1, "x" * 60), ("10.0.0.4", 1), room="other"), ("10.0.0.4", 1))[
            0
        ].text
        == ""
    )
    store.close()


def test_a_closed_rooms_name_is_free_again_and_keeps_nothing_of_the_old_room(tmp_path, clock):
    """Closing a room removes its members and events with it (the store's foreign keys), so
    the same name opens a new, empty room, also after a restart."""
    from ocm_core.storage.roomstore import RoomStore

    store = RoomStore(tmp_path / "server.db")
    first = RoomRegistry(clock=clock, store=store)
    old_host = first.create_room("lobby", "alice", ALICE[0])
    old_bob, _ = first.join_room("lobby", "bob", BOB[0])
    send(first, old_bob, p.encode_chat(1, "old words"), BOB)
    old_id = first.snapshot(old_bob, BOB[0], "lobby")["room_id"]
    send(first, old_host, p.encode_leave(), ALICE)  # the host left: the room closed
    assert first.room_names() == []
    new_host = first.create_room("lobby", "carol", CAROL[0])
    dave, _ = first.join_room("lobby", "dave", BOB[0])
    send(first, dave, p.encode_chat(1, "new words"), BOB)
    new_id = first.snapshot(dave, BOB[0], "lobby")["room_id"]
    assert new_id != old_id  # the same name, another room
    store.close()

    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, store=store)
    assert again.list_rooms() == [
        {"name": "lobby", "members": 2, "locked": False, "host": "carol", "room_id": new_id, "standing": False}
    ]
    history = again.snapshot(new_host, CAROL[0], "lobby")["history"]
    assert [(h["seq"], h["name"], h["text"]) for h in history if h["type"] == EventType.CHAT] == [
        (2, "dave", "new words")
    ]
    assert [member.name for member in store.members()] == ["carol", "dave"]
    assert frames_to(send(again, old_bob, p.encode_chat(2, "x" * 60), BOB), BOB)[0].code == ErrorCode.UNKNOWN_TOKEN
    store.close()


def test_a_room_whose_host_was_removed_before_a_restart_closes_on_take_up(tmp_path, clock):
    from ocm_core.storage.roomstore import RoomStore

    store = RoomStore(tmp_path / "server.db")
    first = RoomRegistry(clock=clock, store=store)
    host = first.create_room("lobby", "alice", ALICE[0])
    bob, _ = first.join_room("lobby", "bob", BOB[0])
    store.remove_member(host)  # as if the host's removal was the last thing written
    store.close()
    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, store=store)
    assert again.room_names() == [] and again.member_count() == 0
    assert frames_to(send(again, bob, p.encode_chat(1, "x" * 60), BOB), BOB) == [
        p.ErrorFrame(ErrorCode.UNKNOWN_TOKEN, "the host went away, so the room closed")
    ]
    assert store.rooms() == []
    store.close()


@pytest.mark.parametrize("failing", ["add_room", "add_member"])
def test_a_store_that_fails_leaves_no_half_made_room_or_member(tmp_path, clock, failing):
    from ocm_core.storage.roomstore import RoomStore

    store = RoomStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, store=store)
    if failing == "add_member":
        registry.create_room("lobby", "alice", ALICE[0])

    def broken(*args, **kwargs):
        raise OSError("disk full")

    setattr(store, failing, broken)
    with pytest.raises(OSError):
        if failing == "add_room":
            registry.create_room("lobby", "alice", ALICE[0])
        else:
            registry.join_room("lobby", "bob", BOB[0])
    assert registry.member_count() == (0 if failing == "add_room" else 1)
    assert registry.room_names() == ([] if failing == "add_room" else ["lobby"])
    assert registry.members("lobby") == ([] if failing == "add_room" else ["alice"])
    store.close()


def test_close_all_tells_every_member_of_every_room(registry, lobby):
    registry.create_room("other", "dave", "10.0.0.4")
    dave = registry._rooms["other"].members["dave"].token
    send(registry, dave, p.encode_heartbeat(0), ("10.0.0.4", 4), room="other")
    out = registry.close_all("the server stopped")
    for address in (ALICE, BOB, CAROL, ("10.0.0.4", 4)):
        [closed] = frames_to(out, address)
        assert (closed.event_type, closed.text) == (EventType.CLOSED, "the server stopped")
    assert registry.room_names() == [] and registry.member_count() == 0
    assert frames_to(send(registry, lobby["bob"], p.encode_chat(1, "x" * 60), BOB), BOB)[0].text == "the server stopped"


# --- what the registry says, and to whom ----------------------------------------------------------


@pytest.mark.parametrize(
    "action, status, sentence",
    [
        (
            lambda r: r.join_room("nope", "x", "1.1.1.1"),
            Status.NO_SUCH_ROOM,
            "there is no room 'nope' on this server; check the name",
        ),
        (
            lambda r: r.join_room("lobby", "alice", "1.1.1.1"),
            Status.NAME_TAKEN,
            "the name 'alice' is taken in room 'lobby'; pick another",
        ),
        (
            lambda r: r.create_room("lobby", "x", "1.1.1.1"),
            Status.ROOM_EXISTS,
            "room 'lobby' already exists; pick another name or join it",
        ),
        (
            lambda r: r.snapshot(b"nope", "1.1.1.1", "lobby"),
            Status.UNKNOWN_TOKEN,
            "this session is not known to the server; join again",
        ),
        (
            lambda r: r.join_room("locked", "x", "1.1.1.1"),
            Status.PASSWORD_REQUIRED,
            "this room is locked; enter its password",
        ),
        (
            lambda r: r.join_room("locked", "x", "1.1.1.1", "no"),
            Status.WRONG_PASSWORD,
            "wrong password for this room; check it and try again",
        ),
    ],
)
def test_each_refusal_has_its_status_and_exact_sentence(clock, action, status, sentence):
    registry = RoomRegistry(clock=clock)
    registry.create_room("lobby", "alice", "10.0.0.1")
    registry.create_room("locked", "bob", "10.0.0.2", password="pw")
    with pytest.raises(RegistryError) as caught:
        action(registry)
    assert (caught.value.status, str(caught.value)) == (status, sentence)


def test_caps_and_lockouts_say_how_many_and_how_long(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(max_rooms=1, max_members_per_room=1))
    registry.create_room("a", "host", "1.1.1.1", password="pw")
    with pytest.raises(RegistryError, match="^this server has as many rooms as it allows; try again later$"):
        registry.create_room("b", "host", "1.1.1.1")
    registry.limits.max_members_per_room = 2
    registry.join_room("a", "second", "1.1.1.2", "pw")
    with pytest.raises(RegistryError, match=r"^room 'a' is full \(2 members\)$"):
        registry.join_room("a", "third", "1.1.1.3", "pw")
    for _ in range(3):
        _status_of(lambda: registry.join_room("a", "x", "1.1.1.9", "wrong"))
    clock.now += 1  # the third failure locked for 1 s, the fourth locks for 2 s
    assert _status_of(lambda: registry.join_room("a", "x", "1.1.1.9", "wrong")) is Status.WRONG_PASSWORD
    clock.now += 0.4
    with pytest.raises(RegistryError, match="^too many wrong passwords; wait 2 s and try again$"):
        registry.join_room("a", "x", "1.1.1.9", "pw")


def test_a_right_password_forgives_earlier_mistakes_and_a_quiet_minute_does_too(registry, clock):
    registry.create_room("secret", "alice", "10.0.0.1", password="right")
    for _ in range(2):
        _status_of(lambda: registry.join_room("secret", "bob", "10.0.0.2", "wrong"))
    assert registry.join_room("secret", "bob", "10.0.0.2", "right")[0]
    assert not registry.passwords.guessed_wrong("10.0.0.2")
    for _ in range(3):  # three more wrong ones: a fourth would lock
        _status_of(lambda: registry.join_room("secret", "carol", "10.0.0.2", "wrong"))
    clock.now += 1 + 60.001  # past the lockout and a quiet minute
    assert _status_of(lambda: registry.join_room("secret", "carol", "10.0.0.2", "wrong")) is Status.WRONG_PASSWORD
    assert registry.passwords.failures("10.0.0.2") == 1  # counted from scratch
    registry.tick()
    clock.now += 61
    registry.tick()
    assert len(registry.passwords) == 0  # the maintenance tick forgets them too


def test_rooms_are_listed_by_name_ignoring_case_and_snapshots_list_members_the_same_way(clock):
    registry = RoomRegistry(clock=clock)
    for room in ("beta", "Alpha", "gamma"):
        registry.create_room(room, "Zed", "10.0.0.1")
    registry.join_room("beta", "amy", "10.0.0.2")
    registry.join_room("beta", "Bob", "10.0.0.3")
    ids = {room: registry._rooms[room].room_id for room in ("beta", "Alpha", "gamma")}
    assert registry.list_rooms() == [
        {"name": "Alpha", "members": 1, "locked": False, "host": "Zed", "room_id": ids["Alpha"], "standing": False},
        {"name": "beta", "members": 3, "locked": False, "host": "Zed", "room_id": ids["beta"], "standing": False},
        {"name": "gamma", "members": 1, "locked": False, "host": "Zed", "room_id": ids["gamma"], "standing": False},
    ]
    token = registry._rooms["beta"].members["Bob"].token
    snap = registry.snapshot(token, "10.0.0.3", "beta")
    assert {key: snap[key] for key in ("room", "seq", "host", "members", "locked")} == {
        "room": "beta",
        "seq": 2,
        "host": "Zed",
        "members": ["amy", "Bob", "Zed"],
        "locked": False,
    }
    assert registry.members("beta") == ["Bob", "Zed", "amy"]  # the plain view sorts by code point


def test_a_snapshot_counts_as_delivery_so_nothing_before_it_is_resent(registry, lobby, clock):
    send(registry, lobby["alice"], p.encode_chat(1, "m1"), ALICE)
    registry.snapshot(lobby["bob"], BOB[0], "lobby")
    clock.now += 0.25
    out = registry.tick()
    assert frames_to(out, BOB) == []
    assert [f.seq for f in frames_to(out, CAROL)] == [3]


def test_a_batch_is_handled_in_full_and_one_crashing_datagram_costs_only_itself(registry, lobby, monkeypatch):
    out = registry.handle_datagrams(
        [
            (p.Datagram("lobby", lobby["bob"], p.encode_chat(1, "one")), BOB),
            (p.Datagram("lobby", lobby["bob"], p.encode_chat(2, "two")), BOB),
        ]
    )
    assert [f.text for f in frames_to(out, ALICE)] == ["one", "two"]


@pytest.mark.expect_error_log(r"^error handling a datagram from \('10\.0\.0\.2', 5002\)$")
def test_a_crash_while_handling_one_datagram_is_logged_and_the_rest_of_the_batch_goes_on(registry, lobby, monkeypatch):
    real = registry._chat

    def crash_on_boom(member, chat, now):
        if chat.text == "boom":
            raise RuntimeError("a bug")
        return real(member, chat, now)

    monkeypatch.setattr(registry, "_chat", crash_on_boom)
    out = registry.handle_datagrams(
        [
            (p.Datagram("lobby", lobby["bob"], p.encode_chat(1, "before")), BOB),
            (p.Datagram("lobby", lobby["bob"], p.encode_chat(2, "boom")), BOB),
            (p.Datagram("lobby", lobby["carol"], p.encode_chat(1, "after")), CAROL),
        ]
    )
    assert [f.text for f in frames_to(out, ALICE)] == ["before", "after"]


def test_refused_datagrams_are_logged_once_per_reason_every_five_seconds_with_a_count(registry, lobby, clock, caplog):
    caplog.set_level("INFO", logger="ocm_core.sansio.registry")
    far = ("10.9.9.9", 1)
    for _ in range(3):
        send(registry, lobby["bob"], p.encode_chat(1, "x"), far)
    send(registry, lobby["bob"], b"\xff\x01\x7f", BOB)
    clock.now += 4.999
    send(registry, lobby["bob"], p.encode_chat(1, "x"), far)
    clock.now += 0.001
    send(registry, lobby["bob"], p.encode_chat(1, "x"), far)
    send(registry, lobby["bob"], p.encode_chat(1, "x"), far)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dropped")]
    assert lines == [
        "dropped a datagram from ('10.9.9.9', 1): token used from another IP address",
        "dropped a datagram from ('10.0.0.2', 5002): bad frame (unknown frame kind 0x7f)",
        "dropped a datagram from ('10.9.9.9', 1): token used from another IP address "
        "(3 more like it since the last report)",
    ]
    assert registry.dropped["token used from another IP address"] == 6 and registry.dropped["bad frame"] == 1


def test_a_resend_answers_at_most_64_events_across_its_ranges(clock):
    registry, bob = _alice_chatted_to_bob(clock, 99)  # seqs 2..100

    def seqs(*ranges):
        return [f.seq for f in frames_to(send(registry, bob, p.encode_resend(*ranges), BOB), BOB)]

    assert seqs((1, 100)) == list(range(1, 65))
    assert seqs((10, 10), (20, 29), (30, 200)) == [10, *range(20, 30), *range(30, 83)]
    assert seqs((0, 2)) == [1, 2]  # there is no event 0
    assert seqs((101, 200), (5, 6)) == [5, 6]  # past the end: nothing, and the next range still answered
    assert seqs((40, 60), (61, 103)) == list(range(40, 101))
    assert seqs(*[(i, i) for i in range(1, 17)]) == list(range(1, 17))


def test_a_resend_before_any_event_asks_for_nothing(clock):
    registry = RoomRegistry(clock=clock)
    host = registry.create_room("lobby", "alice", ALICE[0])
    send(registry, host, p.encode_heartbeat(0), ALICE)
    assert send(registry, host, p.encode_resend((1, 5)), ALICE) == []


def test_a_resend_of_events_no_longer_buffered_asks_for_a_resync_in_words(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(event_buffer=2))
    host = registry.create_room("lobby", "alice", ALICE[0])
    for i in range(4):
        send(registry, host, p.encode_chat(i + 1, f"m{i}"), ALICE)
    assert frames_to(send(registry, host, p.encode_resend((2, 4)), ALICE), ALICE) == [
        p.ErrorFrame(ErrorCode.RESYNC, "some messages are no longer on the server; fetching the room again")
    ]


def test_the_sender_of_a_chat_counts_it_delivered_only_when_it_was_caught_up(registry, lobby, clock):
    registry.join_room("lobby", "dave", "10.0.0.4")  # seq 3: bob has not acknowledged it
    send(registry, lobby["bob"], p.encode_chat(1, "mine"), BOB)  # seq 4
    clock.now += 0.25
    assert [f.seq for f in frames_to(registry.tick(), BOB)] == [3, 4]  # behind, so its own 4 comes back too
    send(registry, lobby["bob"], p.encode_heartbeat(3), BOB)
    send(registry, lobby["alice"], p.encode_heartbeat(4), ALICE)
    send(registry, lobby["alice"], p.encode_chat(1, "hers"), ALICE)  # seq 5: alice was caught up
    clock.now += 5
    assert frames_to(registry.tick(), ALICE) == []


def test_rate_limit_warning_is_worded_counted_and_not_sent_to_plain_text_clients(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(rate_per_second=2, rate_burst=1))
    host = registry.create_room("lobby", "alice", ALICE[0])
    plain, _ = registry.join_room("lobby", "carol", CAROL[0])
    send(registry, host, p.encode_chat(1, "a"), ALICE)
    assert frames_to(send(registry, host, p.encode_chat(2, "b"), ALICE), ALICE) == [
        p.ErrorFrame(ErrorCode.RATE_LIMITED, "you are sending faster than 2 messages a second; slow down")
    ]
    send(registry, plain, b"one", CAROL)
    assert send(registry, plain, b"two", CAROL) == []
    assert registry.dropped["rate limited"] == 2
    clock.now += 0.5  # a full bucket again: the next flood is told again
    send(registry, host, p.encode_chat(2, "b"), ALICE)
    assert frames_to(send(registry, host, p.encode_chat(3, "c"), ALICE), ALICE)[0].code is ErrorCode.RATE_LIMITED


def test_the_too_long_refusal_is_worded(registry, lobby):
    out = send(registry, lobby["bob"], p.encode_chat(1, "x" * p.MAX_DATAGRAM), BOB)
    assert frames_to(out, BOB) == [
        p.ErrorFrame(ErrorCode.TOO_LONG, "that message is too long to relay with your name; shorten it")
    ]


def test_plain_text_clients_read_every_kind_of_event(registry, lobby):
    send(registry, lobby["carol"], b"hi", CAROL)
    out = registry.join_room("lobby", "dave", "10.0.0.4")[1]
    out += send(registry, lobby["bob"], p.encode_leave(), BOB)
    dave = registry._rooms["lobby"].members["dave"]
    dave.last_seen -= 100
    out += registry.tick()
    out += send(registry, lobby["alice"], p.encode_leave(), ALICE)
    assert frames_to(out, CAROL) == [
        p.PlainText("* dave joined"),
        p.PlainText("* bob left"),
        p.PlainText("* dave timed out"),
        p.PlainText("* the host closed the room"),
    ]


def test_the_oldest_remembered_ids_are_forgotten_first(clock):
    from ocm_core.sansio.relay import SEEN_IDS_PER_MEMBER

    registry = RoomRegistry(clock=clock, limits=Limits(rate_per_second=1e6, rate_burst=10**6))
    host = registry.create_room("lobby", "alice", ALICE[0])
    for i in range(1, SEEN_IDS_PER_MEMBER + 2):
        send(registry, host, p.encode_chat(i, "m"), ALICE)
    seen = registry._rooms["lobby"].members["alice"].seen_ids
    assert len(seen) == SEEN_IDS_PER_MEMBER and 1 not in seen and 2 in seen and SEEN_IDS_PER_MEMBER + 1 in seen


def test_messages_held_beyond_the_cap_are_not_kept(clock):
    from ocm_core.sansio.relay import HELD_PER_MEMBER

    registry = RoomRegistry(clock=clock, limits=Limits(rate_per_second=1e6, rate_burst=10**6))
    host = registry.create_room("lobby", "alice", ALICE[0])
    for i in range(2, HELD_PER_MEMBER + 3):  # id 1 is lost; one more than the cap arrives after it
        send(registry, host, p.encode_chat(i, f"m{i}", 1), ALICE)
    member = registry._rooms["lobby"].members["alice"]
    assert len(member.held) == HELD_PER_MEMBER and HELD_PER_MEMBER + 2 not in member.held
    out = send(registry, host, p.encode_chat(1, "m1", 1), ALICE)
    assert [a.msg_id for a in frames_to(out, ALICE)] == list(range(1, HELD_PER_MEMBER + 2))


def test_a_too_long_chat_ahead_of_a_missing_one_is_consumed_only_in_its_turn(registry, lobby):
    too_long = "x" * p.MAX_DATAGRAM
    assert [f.code for f in frames_to(send(registry, lobby["bob"], p.encode_chat(2, too_long, 1), BOB), BOB)] == [
        ErrorCode.TOO_LONG
    ]
    assert [f.text for f in frames_to(send(registry, lobby["bob"], p.encode_chat(1, "one", 1), BOB), ALICE)] == ["one"]
    send(registry, lobby["bob"], p.encode_chat(2, too_long, 2), BOB)  # its retransmit, now in turn: consumed
    assert [f.text for f in frames_to(send(registry, lobby["bob"], p.encode_chat(3, "three", 3), BOB), ALICE)] == [
        "three"
    ]


def test_members_who_left_or_timed_out_stay_gone_after_a_restart_and_moves_are_kept(tmp_path, clock):
    from ocm_core.storage.roomstore import RoomStore

    store = RoomStore(tmp_path / "server.db")
    first = RoomRegistry(clock=clock, store=store)
    host = first.create_room("lobby", "alice", ALICE[0])
    bob, _ = first.join_room("lobby", "bob", BOB[0])
    carol, _ = first.join_room("lobby", "carol", CAROL[0])
    dave, _ = first.join_room("lobby", "dave", "10.0.0.4")
    send(first, host, p.encode_heartbeat(0), (ALICE[0], 7001))
    send(first, host, p.encode_heartbeat(0), (ALICE[0], 7002))  # moved again
    send(first, bob, p.encode_leave(), BOB)
    clock.now += 20
    for token, address in ((host, (ALICE[0], 7002)), (dave, ("10.0.0.4", 4))):
        send(first, token, p.encode_heartbeat(0), address)
    clock.now += 11
    first.tick()  # carol timed out
    store.close()
    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, store=store)
    assert again.members("lobby") == ["alice", "dave"]
    out = send(again, dave, p.encode_chat(1, "hi"), ("10.0.0.4", 4))
    assert [to for to, _ in out if to != ("10.0.0.4", 4)] == [(ALICE[0], 7002)]
    store.close()


# --- the kanaru dialect's UDP forms, decided by the registry ---------------------------


@pytest.fixture
def kanaru_lobby(registry):
    """alice (ours) hosts 'lobby'; dave joins speaking the kanaru dialect and registers."""
    from ocm_core.sansio.room import Transport

    alice = registry.create_room("lobby", "alice", ALICE[0])
    send(registry, alice, p.encode_heartbeat(1), ALICE)
    dave, _ = registry.join_room("lobby", "dave", BOB[0], wire=Transport.KANARU)
    assert send(registry, dave, p.KANARU_REGISTER.encode(), BOB) == []  # noted, nothing to answer
    return {"alice": alice, "dave": dave}


def test_a_kanaru_member_reads_lines_with_their_sender_and_notices_from_star(registry, kanaru_lobby):
    out = send(registry, kanaru_lobby["alice"], p.encode_chat(1, "やあ"), ALICE)
    assert (BOB, p.encode_kanaru_relay("alice", "やあ")) in out  # no room header, no frame
    out = send(registry, kanaru_lobby["dave"], "こんにちは".encode(), BOB)
    [event] = frames_to(out, ALICE)
    assert (event.event_type, event.name, event.text) == (EventType.CHAT, "dave", "こんにちは")
    assert not [data for to, data in out if to == BOB]  # its own line is not sent back
    _, out = registry.join_room("lobby", "carol", CAROL[0])
    assert (BOB, p.encode_kanaru_relay("*", "carol joined")) in out
    assert registry.members("lobby") == ["alice", "carol", "dave"]


def test_a_kanaru_member_leaves_with_its_word_and_gets_no_binary_goodbye(registry, kanaru_lobby):
    out = send(registry, kanaru_lobby["dave"], p.KANARU_LEAVE.encode(), BOB)
    assert not [data for to, data in out if to == BOB]
    [event] = frames_to(out, ALICE)
    assert (event.event_type, event.name) == (EventType.LEFT, "dave")
    assert registry.members("lobby") == ["alice"]


def test_a_kanaru_member_learns_the_room_closed_by_the_bare_word(registry, kanaru_lobby):
    out = send(registry, kanaru_lobby["alice"], p.encode_leave(), ALICE)
    assert (BOB, p.KANARU_ROOM_CLOSED) in out
    assert "lobby" not in registry.room_names()


@pytest.mark.parametrize("body, reason", [(b"", "bad frame"), (b"\xff\xfe", "bad frame")])
def test_a_kanaru_datagram_that_says_nothing_is_dropped_and_counted(registry, kanaru_lobby, body, reason):
    assert send(registry, kanaru_lobby["dave"], body, BOB) == []
    assert registry.dropped[reason] == 1
    assert registry.members("lobby") == ["alice", "dave"]


def test_kanaru_forms_decode_to_our_frames():
    _kanaru_frame, _kanaru_text = p.decode_kanaru_body, p.encode_kanaru_event

    assert _kanaru_frame(b"__REGISTER__") == p.Heartbeat(0)
    assert _kanaru_frame(b"__LEAVE__") == p.Leave()
    assert _kanaru_frame(b"__REGISTER__ ") == p.PlainText("__REGISTER__ ")
    with pytest.raises(p.ProtocolError, match="no message"):
        _kanaru_frame(b"")
    with pytest.raises(p.ProtocolError, match="not valid UTF-8"):
        _kanaru_frame(b"\xff")
    assert _kanaru_text(p.Event(1, 0, EventType.CLOSED, "alice", "bye")) == b"__ROOM_CLOSED__"
    assert _kanaru_text(p.Event(1, 0, EventType.CHAT, "alice", "hi")) == b"\x05alicehi"
    assert _kanaru_text(p.Event(1, 0, EventType.LEFT, "bob", "")) == b"\x01*bob left"
    assert _kanaru_text(p.Event(1, 0, EventType.TIMED_OUT, "bob", "")) == b"\x01*bob timed out"


# --- what a re-send may cost, and who may read a room's snapshot --------------------------


@pytest.mark.parametrize("fits", [2, 3])
def test_a_resend_answer_stops_at_the_members_reply_byte_budget_exactly(clock, fits):
    # every event re-sent here has this size: same name, same time, texts of one length
    size = len(
        p.encode_datagram(b"lobby", b"", p.encode_event(p.Event(9, 1_700_000_000_000, EventType.CHAT, "alice", "m1")))
    )
    registry = RoomRegistry(
        clock=clock,
        wall_clock=lambda: 1_700_000_000.0,
        limits=Limits(reply_bytes_burst=fits * size + size - 1, reply_bytes_per_second=1),
    )
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, alice, p.encode_heartbeat(0), ALICE)
    send(registry, bob, p.encode_heartbeat(1), BOB)
    for i in range(1, 6):
        send(registry, alice, p.encode_chat(i, f"m{i}"), ALICE)
    answer = frames_to(send(registry, bob, p.encode_resend((2, 6)), BOB), BOB)
    assert [e.seq for e in answer] == list(range(2, 2 + fits))
    assert registry.dropped["reply byte budget"] == 1


def test_a_sealed_members_snapshot_needs_its_key_proof(clock, tmp_path):
    from ocm_core.crypto.identity import ServerIdentity
    from ocm_core.crypto.sealed import MemberKeys
    from ocm_core.sansio.room import Transport

    keys = MemberKeys(ServerIdentity.load_or_create(tmp_path), epoch=1)
    registry = RoomRegistry(clock=clock, member_keys=keys)
    token = registry.create_room("lobby", "alice", ALICE[0], wire=Transport.SEALED)
    plain, _ = registry.join_room("lobby", "bob", BOB[0])
    assert registry.snapshot(token, ALICE[0], "lobby", keys.proof_for(token))["plain"] == ["bob"]
    for proof in (None, b"", keys.proof_for(plain), keys.proof_for(token)[:-1]):
        with pytest.raises(RegistryError, match="not known to the server") as caught:
            registry.snapshot(token, ALICE[0], "lobby", proof)
        assert caught.value.status is Status.UNKNOWN_TOKEN
    assert registry.snapshot(plain, BOB[0], "lobby")["members"] == ["alice", "bob"]  # a plain one shows none
    with pytest.raises(RegistryError, match="files are shared only over encryption"):
        registry.file_member(plain, BOB[0], "lobby", None)
    assert registry.file_member(token, ALICE[0], "lobby", keys.proof_for(token)) == "alice"


def test_a_restart_takes_up_only_the_buffer_and_trusts_the_members_stored_addresses(tmp_path, clock):
    from ocm_core.storage.roomstore import RoomStore

    limits = Limits(event_buffer=3)
    store = RoomStore(tmp_path / "server.db")
    first = RoomRegistry(clock=clock, store=store, limits=limits)
    alice = first.create_room("lobby", "alice", ALICE[0])
    bob, _ = first.join_room("lobby", "bob", BOB[0])  # event 1
    send(first, alice, p.encode_heartbeat(0), ALICE)
    send(first, bob, p.encode_heartbeat(1), BOB)
    for i in range(1, 6):  # events 2 to 6
        send(first, alice, p.encode_chat(i, f"m{i}"), ALICE)
    store.close()

    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, store=store, limits=limits)
    assert [e.seq for e in store.events("lobby", 100)] == [4, 5, 6]  # the older ones pruned at take-up
    assert [e["seq"] for e in again.snapshot(bob, BOB[0], "lobby")["history"]] == [4, 5, 6]
    assert frames_to(send(again, bob, p.encode_resend((1, 6)), BOB), BOB)[0].code is ErrorCode.RESYNC
    # bob's stored address counts as proven: all three come back at once, not one
    assert [e.seq for e in frames_to(send(again, bob, p.encode_resend((4, 6)), BOB), BOB)] == [4, 5, 6]
    # alice's ids go on from where they were, and her retransmit of 5 is re-acked, not relayed
    assert frames_to(send(again, alice, p.encode_chat(5, "m5"), ALICE), ALICE) == [p.ChatAck(5, 6)]
    out = send(again, alice, p.encode_chat(6, "m6"), ALICE)
    assert [e.text for e in frames_to(out, BOB)] == ["m6"]
    store.close()


# --- coming back after a time-out, and sharing a file ------------------------------------


def test_a_timed_out_member_comes_back_with_its_token_within_the_resume_window(registry, clock, lobby):
    from ocm_core.sansio.registry import RESUME_SECONDS
    from ocm_core.sansio.room import Transport

    clock.now += 20
    send(registry, lobby["alice"], p.encode_heartbeat(3), ALICE)
    send(registry, lobby["carol"], p.encode_heartbeat(3), CAROL)
    clock.now += 11  # bob silent for 31 s of a 30 s timeout
    out = registry.tick()
    [notice] = frames_to(out, ALICE)
    assert (notice.event_type, notice.name) == (EventType.TIMED_OUT, "bob")
    assert registry.members("lobby") == ["alice", "carol"]
    clock.now += RESUME_SECONDS  # exactly at the end of the window: still welcome
    token, out, wire = registry.resume("lobby", "bob", "10.0.0.9", lobby["bob"])
    assert (token, wire) == (lobby["bob"], Transport.PLAIN)
    [joined] = frames_to(out, ALICE)
    assert (joined.event_type, joined.name, joined.text) == (EventType.JOINED, "bob", p.JOINED_PLAIN)
    assert registry.members("lobby") == ["alice", "bob", "carol"]
    assert registry.snapshot(token, "10.0.0.9", "lobby")["seq"] == joined.seq  # bound to its new address
    with pytest.raises(RegistryError, match="join the room again") as caught:  # once only
        registry.resume("lobby", "bob", "10.0.0.9", lobby["bob"])
    assert caught.value.status is Status.UNKNOWN_TOKEN
    # like a fresh join, the first address after coming back is taken as its own
    send(registry, token, p.encode_heartbeat(0), ("10.0.0.9", 6000))
    resent = frames_to(send(registry, token, p.encode_resend((1, 5)), ("10.0.0.9", 6000)), ("10.0.0.9", 6000))
    assert [e.seq for e in resent] == [1, 2, 3, 4]


def test_coming_back_too_late_into_a_closed_room_or_under_another_name_is_refused(registry, clock, lobby):
    from ocm_core.sansio.registry import RESUME_SECONDS

    clock.now += 31
    send(registry, lobby["alice"], p.encode_heartbeat(3), ALICE)
    registry.tick()  # bob and carol time out
    with pytest.raises(RegistryError, match="'bob' is taken|closed while you were away") as caught:
        registry.resume("lobby", "carol", BOB[0], lobby["bob"])
    assert caught.value.status is Status.NO_SUCH_ROOM
    clock.now += RESUME_SECONDS + 0.001
    with pytest.raises(RegistryError, match="^you were away too long to come back; join the room again$"):
        registry.resume("lobby", "carol", CAROL[0], lobby["carol"])
    with pytest.raises(RegistryError, match="^this session is not known|join the room again$"):
        registry.resume("lobby", "x", CAROL[0], b"never a token")


def test_a_left_member_cannot_resume_and_is_told_why(registry, lobby):
    send(registry, lobby["bob"], p.encode_leave(), BOB)
    with pytest.raises(RegistryError, match="^you left the room; join the room again$"):
        registry.resume("lobby", "bob", BOB[0], lobby["bob"])


def test_a_shared_file_is_a_file_event_for_everyone_the_sender_too(registry, lobby):
    info = p.FileInfo("0123456789abcdef", "写真.jpg", 12, "image/jpeg")
    out = registry.share_file(lobby["bob"], info)
    for address in (ALICE, BOB, CAROL):
        [event] = frames_to(out, address)
        assert (event.event_type, event.name) == (EventType.FILE, "bob")
        assert p.decode_file_event(event) == p.FileInfo("0123456789abcdef", "写真.jpg", 12, "image/jpeg", "bob")
    send(registry, lobby["bob"], p.encode_leave(), BOB)
    with pytest.raises(RegistryError, match="no longer in the room; the file was not shared") as caught:
        registry.share_file(lobby["bob"], info)
    assert caught.value.status is Status.UNKNOWN_TOKEN


def test_while_the_disk_fails_chats_are_refused_counted_and_told_then_taken_again(tmp_path, clock):
    from ocm_core.sansio.durability import STORE_PROBE_SECONDS
    from ocm_core.sansio.relay import CANNOT_SAVE_TELL_EVERY, CANNOT_SAVE_TEXT
    from ocm_core.storage.roomstore import RoomStore, StoreWriteError

    store = RoomStore(tmp_path / "server.db")
    registry = RoomRegistry(clock=clock, store=store)
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, alice, p.encode_heartbeat(1), ALICE)
    send(registry, bob, p.encode_heartbeat(1), BOB)
    real_add_event, disk = store.add_event, {"full": True}

    def add_event(*args, **kwargs):
        if disk["full"]:
            raise StoreWriteError(str(store.path), "disk full")
        return real_add_event(*args, **kwargs)

    store.add_event = add_event
    store.writable = lambda: not disk["full"]
    out = send(registry, alice, p.encode_chat(1, "lost?"), ALICE)  # the failing write: not relayed, told
    assert frames_to(out, ALICE) == [p.ErrorFrame(ErrorCode.CANNOT_SAVE, CANNOT_SAVE_TEXT)] and not frames_to(out, BOB)
    assert registry.saving_fails and registry.room_names() == ["lobby"]
    clock.now += CANNOT_SAVE_TELL_EVERY - 0.001
    assert send(registry, alice, p.encode_chat(1, "lost?"), ALICE) == []  # told once a while, not per retry
    clock.now += 0.001
    assert frames_to(send(registry, alice, p.encode_chat(1, "lost?"), ALICE), ALICE)[0].code is ErrorCode.CANNOT_SAVE
    assert registry.dropped["cannot save"] == 3
    with pytest.raises(RegistryError, match="cannot save anything right now") as caught:
        registry.join_room("lobby", "carol", CAROL[0])
    assert caught.value.status is Status.CANNOT_SAVE
    with pytest.raises(RegistryError, match="cannot save anything right now"):
        registry.share_file(bob, p.FileInfo(FILE_ID_FOR_TESTS, "a", 1, ""))
    registry.tick()  # probes the disk: still full; the next probe is STORE_PROBE_SECONDS later
    disk["full"] = False
    clock.now += STORE_PROBE_SECONDS - 0.001
    registry.tick()
    assert registry.saving_fails
    clock.now += 0.001
    registry.tick()
    assert not registry.saving_fails
    out = send(registry, alice, p.encode_chat(1, "lost?"), ALICE)
    assert [e.text for e in frames_to(out, BOB)] == ["lost?"]
    assert [e.text for e in store.events("lobby", 10) if e.type == EventType.CHAT] == ["lost?"]
    store.close()


FILE_ID_FOR_TESTS = "0123456789abcdef"


def test_a_buried_token_is_told_why_for_exactly_the_tombstone_time(registry, clock, lobby):
    from ocm_core.sansio.tombstones import TOMBSTONE_SECONDS

    send(registry, lobby["bob"], p.encode_leave(), BOB)

    def answer():
        return frames_to(send(registry, lobby["bob"], p.encode_chat(9, "x" * 60), BOB), BOB)

    clock.now += TOMBSTONE_SECONDS
    registry.tick()
    assert answer() == [p.ErrorFrame(ErrorCode.UNKNOWN_TOKEN, "you left the room")]
    clock.now += 0.001
    registry.tick()
    assert answer() == [p.ErrorFrame(ErrorCode.UNKNOWN_TOKEN, "")]
    assert registry.dropped["unknown token"] == 2


def test_a_repeated_request_gets_the_same_token_only_while_it_is_remembered(registry, clock):
    from ocm_core.sansio.joining import REPEAT_SECONDS

    token = registry.create_room("lobby", "alice", ALICE[0], request_id="r1")
    send(registry, token, p.encode_heartbeat(0), ALICE)
    bob, _ = registry.join_room("lobby", "bob", BOB[0], request_id="j1")
    assert registry.join_room("lobby", "bob", BOB[0], request_id="j1") == (bob, [])
    assert registry.create_room("lobby", "alice", ALICE[0], request_id="r1") == token
    send(registry, bob, p.encode_heartbeat(0), BOB)
    clock.now += REPEAT_SECONDS
    send(registry, token, p.encode_heartbeat(0), ALICE)
    send(registry, bob, p.encode_heartbeat(0), BOB)
    registry.tick()
    assert registry.join_room("lobby", "bob", BOB[0], request_id="j1") == (bob, [])  # at the edge: still the same
    clock.now += 0.001
    registry.tick()
    with pytest.raises(RegistryError, match="'bob' is taken"):
        registry.join_room("lobby", "bob", BOB[0], request_id="j1")


def test_a_sealed_members_datagrams_open_under_its_key_and_anything_else_is_dropped(clock, tmp_path):
    from ocm_core.crypto.identity import ServerIdentity
    from ocm_core.crypto.sealed import MemberKeys, SealedChannel
    from ocm_core.sansio.room import Transport

    keys = MemberKeys(ServerIdentity.load_or_create(tmp_path), epoch=1)
    registry = RoomRegistry(clock=clock, member_keys=keys)
    alice = registry.create_room("lobby", "alice", ALICE[0], wire=Transport.SEALED)
    client = SealedChannel.for_client(keys.key_for(alice))
    header = p.datagram_header(b"lobby", alice)

    def sealed(body):
        return registry.handle_datagram(p.decode_datagram(client.seal(header, body)), ALICE)

    def opened(data):
        datagram = p.decode_datagram(data)
        return p.decode_body(client.open(data[: len(data) - len(datagram.body)], datagram.body))

    [(to, data)] = sealed(p.encode_heartbeat(0))  # opened, and answered sealed
    assert to == ALICE and opened(data) == p.StatusFrame(0)
    bob, out = registry.join_room("lobby", "bob", BOB[0], wire=Transport.SEALED)
    [(to, data)] = out
    joined = opened(data)
    assert (to, joined.event_type, joined.name, joined.text) == (ALICE, EventType.JOINED, "bob", "")  # not "plain"
    assert send(registry, alice, p.encode_chat(1, "in the clear"), ALICE) == []
    assert registry.dropped["datagram does not open"] == 1
    other = SealedChannel.for_client(keys.key_for(bob))  # bob's key, alice's token
    assert registry.handle_datagram(p.decode_datagram(other.seal(header, p.encode_heartbeat(0))), ALICE) == []
    assert registry.dropped["datagram does not open"] == 2
    assert send(registry, alice, p.encode_heartbeat(0), ALICE, room="other") == []
    assert registry.dropped["token used for another room"] == 1
    assert send(registry, alice, p.encode_heartbeat(0), BOB) == []
    assert registry.dropped["token used from another IP address"] == 1
    assert sealed(p.encode_status_frame(1)) == []
    assert registry.dropped["server frame sent to the server"] == 1


# --- what mutation testing found unpinned (docs/testing.md) --------------------------------------


def rooms_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ocm_core.sansio.registry"]


def fast_hash(password: str, salt: bytes | None) -> tuple[bytes, bytes]:
    return salt or b"s" * 16, password.encode("utf-8")


def test_the_server_log_tells_an_operator_who_came_went_moved_and_came_back(registry, clock, caplog):
    caplog.set_level(logging.INFO, logger="ocm_core.sansio.registry")
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    carol, _ = registry.join_room("lobby", "carol", CAROL[0])
    for token, address in ((alice, ALICE), (bob, BOB), (carol, CAROL)):
        send(registry, token, p.encode_heartbeat(2), address)
    send(registry, bob, p.encode_heartbeat(2), (BOB[0], 6000))
    send(registry, carol, p.encode_heartbeat(2), (CAROL[0], 6000))  # another member's move is its own line
    send(registry, bob, p.encode_leave(), (BOB[0], 6000))
    clock.now += 31
    send(registry, alice, p.encode_heartbeat(3), ALICE)
    registry.tick()
    registry.resume("lobby", "carol", "10.0.0.9", carol)
    send(registry, alice, p.encode_leave(), ALICE)
    assert rooms_log(caplog) == [
        "room 'lobby' created by 'alice' from 10.0.0.1",
        "'bob' joined room 'lobby' from 10.0.0.2",
        "'carol' joined room 'lobby' from 10.0.0.3",
        "'bob' in 'lobby' moved from ('10.0.0.2', 5002) to ('10.0.0.2', 6000)",
        "'carol' in 'lobby' moved from ('10.0.0.3', 5003) to ('10.0.0.3', 6000)",
        "'bob' left room 'lobby'",
        "'carol' timed out of room 'lobby'",
        "'carol' came back to room 'lobby' from 10.0.0.9",
        "'alice' left room 'lobby'",
        "room 'lobby' closed: the host closed the room",
    ]


def test_the_server_log_says_why_a_datagram_was_dropped_who_sends_too_fast_and_who_guesses(clock, caplog):
    registry = RoomRegistry(clock=clock, hasher=fast_hash, limits=Limits(rate_burst=1, rate_per_second=1.0))
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    registry.create_room("other", "dave", "10.0.0.4", password="pw")
    caplog.set_level(logging.INFO, logger="ocm_core.sansio.registry")
    send(registry, alice, p.encode_heartbeat(1), ALICE)
    send(registry, bob, p.encode_heartbeat(1), BOB, room="other")
    send(registry, bob, p.encode_status_frame(1), BOB)
    send(registry, b"no-such-token", p.encode_heartbeat(0), CAROL)
    send(registry, bob, p.encode_chat(1, "one"), BOB)
    send(registry, bob, p.encode_chat(2, "two"), BOB)
    with pytest.raises(RegistryError):
        registry.join_room("other", "eve", "10.0.0.9", "guess")
    assert rooms_log(caplog) == [
        "dropped a datagram from ('10.0.0.2', 5002): token used for another room",
        "dropped a datagram from ('10.0.0.2', 5002): server frame sent to the server (StatusFrame)",
        "dropped a datagram from ('10.0.0.3', 5003): unknown token",
        "'bob' in 'lobby' is sending too fast; dropping the excess",
        "wrong room password from 10.0.0.9 (1 in a row)",
    ]


@pytest.mark.expect_error_log(r"^error cleaning up after room 'lobby'$")
def test_a_failing_clean_up_hook_is_logged_and_the_room_closes_all_the_same(registry, lobby):
    seen = []

    def broken(name):
        raise OSError("the disk went away")

    registry.room_closed_hooks += [broken, seen.append]
    out = send(registry, lobby["alice"], p.encode_leave(), ALICE)
    assert seen == ["lobby"] and registry.room_names() == []
    assert [f.event_type for f in frames_to(out, BOB)] == [EventType.CLOSED]


@pytest.mark.parametrize("silence, relayed", [(0.9, 2), (1.0, 2), (1.5, 15), (5.0, 20)])
def test_a_sender_back_after_over_a_second_of_silence_may_send_its_rate_over_the_silence_at_once(
    clock, silence, relayed
):
    registry = RoomRegistry(clock=clock, limits=Limits(rate_per_second=10.0, rate_burst=2))
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, alice, p.encode_heartbeat(1), ALICE)
    send(registry, bob, p.encode_heartbeat(1), BOB)
    clock.now += silence
    out = registry.handle_datagrams(
        [(p.Datagram("lobby", bob, p.encode_chat(i, f"m{i}", 1)), BOB) for i in range(1, 21)]
    )
    assert len(frames_to(out, ALICE)) == relayed


def test_the_event_buffer_keeps_events_totalling_exactly_its_byte_cap():
    from ocm_core.sansio.room import Room

    room, limits = Room("r", "h", b"r"), Limits(event_buffer_bytes=30)
    for seq in (1, 2, 3):
        room.buffer(seq, b"x" * 10, limits)
    assert [seq for seq, _, _ in room.events] == [1, 2, 3] and room.buffered_bytes == 30
    room.buffer(4, b"y", limits)
    assert [seq for seq, _, _ in room.events] == [2, 3, 4] and room.buffered_bytes == 21


def test_a_password_gets_a_fresh_16_byte_salt_and_a_32_byte_scrypt_digest():
    salt, digest = hash_password("pw")
    assert len(salt) == 16 and len(digest) == 32 and hash_password("pw")[0] != salt
    assert hash_password("pw", salt) == (salt, digest)


def test_a_registry_over_a_working_store_logs_what_it_took_up_and_no_outage(tmp_path, clock, caplog):
    from ocm_core.storage.roomstore import RoomStore

    caplog.set_level(logging.INFO, logger="ocm_core.sansio.registry")
    store = RoomStore(tmp_path / "server.db")
    first = RoomRegistry(clock=clock, store=store)
    first.create_room("lobby", "alice", ALICE[0])
    first.join_room("lobby", "bob", BOB[0])
    store.close()
    store = RoomStore(tmp_path / "server.db")
    RoomRegistry(clock=clock, store=store)
    store.close()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert rooms_log(caplog)[0] == f"took up 0 rooms and 0 members from {tmp_path / 'server.db'}"
    assert rooms_log(caplog)[-1] == f"took up 1 rooms and 2 members from {tmp_path / 'server.db'}"


def test_a_member_admitted_by_a_request_id_has_exactly_ten_seconds_to_show_up(registry, clock):
    alice = registry.create_room("lobby", "alice", ALICE[0])
    registry.join_room("lobby", "ghost", BOB[0], request_id="r1")
    for _ in range(2):  # 5 s, then 10 s exactly: still there
        clock.now += 5.0
        send(registry, alice, p.encode_heartbeat(1), ALICE)
        registry.tick()
        assert registry.members("lobby") == ["alice", "ghost"]
    clock.now += 0.001
    registry.tick()
    assert registry.members("lobby") == ["alice"]


def leave_from(registry, token, address):
    send(registry, token, p.encode_heartbeat(0), address)
    send(registry, token, p.encode_leave(), address)


def closing_word(registry, token, address):
    [frame] = frames_to(send(registry, token, p.encode_chat(9, "x" * 60), address), address)
    return frame.text


def test_when_there_are_too_many_tombstones_and_repeats_the_oldest_go_first(registry, monkeypatch):
    from ocm_core.sansio import joining as rooms
    from ocm_core.sansio import tombstones

    monkeypatch.setattr(rooms, "TOMBSTONE_LIMIT", 2)
    monkeypatch.setattr(tombstones, "TOMBSTONE_LIMIT", 2)
    registry.create_room("lobby", "alice", ALICE[0])
    members = [
        (registry.join_room("lobby", f"m{i}", f"10.0.1.{i}", request_id=f"r{i}")[0], (f"10.0.1.{i}", 5000))
        for i in range(3)
    ]
    assert [registry.join_room("lobby", f"m{i}", f"10.0.1.{i}", request_id=f"r{i}")[0] for i in (1, 2)] == [
        members[1][0],
        members[2][0],
    ]  # the last two requests are still answered again
    assert _status_of(lambda: registry.join_room("lobby", "m0", "10.0.1.0", request_id="r0")) is Status.NAME_TAKEN
    for token, address in members:
        leave_from(registry, token, address)
    assert [closing_word(registry, token, address) for token, address in members] == [
        "",
        "you left the room",
        "you left the room",
    ]


def test_tombstones_and_repeats_expire_oldest_first(registry, clock):
    from ocm_core.sansio.joining import REPEAT_SECONDS
    from ocm_core.sansio.tombstones import TOMBSTONE_SECONDS

    alice = registry.create_room("lobby", "alice", ALICE[0])
    early, _ = registry.join_room("lobby", "early", BOB[0], request_id="r1")
    registry.snapshot(early, BOB[0], "lobby")
    clock.now += 60
    late, _ = registry.join_room("lobby", "late", CAROL[0], request_id="r2")
    registry.snapshot(late, CAROL[0], "lobby")
    clock.now += REPEAT_SECONDS - 60 + 0.001  # the first request's memory is past, the second's not
    for token, address in ((alice, ALICE), (early, BOB), (late, CAROL)):
        send(registry, token, p.encode_heartbeat(0), address)
    registry.tick()
    assert registry.join_room("lobby", "late", CAROL[0], request_id="r2")[0] == late
    assert _status_of(lambda: registry.join_room("lobby", "early", BOB[0], request_id="r1")) is Status.NAME_TAKEN
    send(registry, early, p.encode_leave(), BOB)
    clock.now += 10
    send(registry, late, p.encode_leave(), CAROL)
    clock.now += TOMBSTONE_SECONDS - 10 + 0.001
    send(registry, alice, p.encode_heartbeat(0), ALICE)
    registry.tick()
    assert closing_word(registry, early, BOB) == "" and closing_word(registry, late, CAROL) == "you left the room"


def time_out_all_but(registry, clock, keep, seconds=31.0):
    """Move the clock on; only the members in `keep` ((token, address[, room])) say they are there."""
    clock.now += seconds
    for token, address, *room in keep:
        send(registry, token, p.encode_heartbeat(0), address, *room)
    return registry.tick()


def test_members_away_may_come_back_until_exactly_their_time_is_up_oldest_forgotten_first(registry, clock):
    from ocm_core.sansio.registry import RESUME_SECONDS

    alice = registry.create_room("lobby", "alice", ALICE[0])
    host = [(alice, ALICE)]
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    dave, _ = registry.join_room("lobby", "dave", "10.0.0.4")
    carol, _ = registry.join_room("lobby", "carol", CAROL[0])
    send(registry, carol, p.encode_heartbeat(0), CAROL)
    time_out_all_but(registry, clock, host + [(carol, CAROL)])  # bob and dave go
    away_at = clock.now
    time_out_all_but(registry, clock, host)  # carol goes 31 s later
    time_out_all_but(registry, clock, host, away_at + RESUME_SECONDS - clock.now)
    registry.resume("lobby", "bob", BOB[0], bob)  # exactly at the end of the grace period: still in time
    time_out_all_but(registry, clock, host + [(bob, BOB)], 0.001)
    assert _status_of(lambda: registry.resume("lobby", "dave", "10.0.0.4", dave)) is Status.UNKNOWN_TOKEN
    registry.resume("lobby", "carol", CAROL[0], carol)
    assert registry.members("lobby") == ["alice", "bob", "carol"]


def test_at_most_away_limit_members_are_kept_for_coming_back_the_oldest_forgotten_first(registry, clock, monkeypatch):
    from ocm_core.sansio import registry as rooms

    monkeypatch.setattr(rooms, "AWAY_LIMIT", 2)
    alice = registry.create_room("lobby", "alice", ALICE[0])
    tokens = [registry.join_room("lobby", f"m{i}", f"10.0.1.{i}")[0] for i in range(3)]
    time_out_all_but(registry, clock, [(alice, ALICE)])
    assert _status_of(lambda: registry.resume("lobby", "m0", "10.0.1.0", tokens[0])) is Status.UNKNOWN_TOKEN
    for i in (1, 2):
        registry.resume("lobby", f"m{i}", f"10.0.1.{i}", tokens[i])


def test_a_member_cannot_come_back_under_a_name_taken_meanwhile_or_to_a_closed_room(registry, clock):
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    time_out_all_but(registry, clock, [(alice, ALICE)])
    registry.join_room("lobby", "bob", "10.0.0.77")  # someone else took the name
    with pytest.raises(RegistryError) as caught:
        registry.resume("lobby", "bob", BOB[0], bob)
    assert caught.value.status is Status.NAME_TAKEN
    registry.create_room("gone", "host", "10.0.0.5")
    carol, _ = registry.join_room("gone", "carol", CAROL[0])
    host = registry._rooms["gone"].members["host"].token
    time_out_all_but(registry, clock, [(alice, ALICE), (host, ("10.0.0.5", 1), "gone")])
    send(registry, host, p.encode_leave(), ("10.0.0.5", 1), room="gone")
    with pytest.raises(RegistryError, match="^there is no room 'gone' on this server; check the name$") as caught:
        registry.resume("gone", "carol", CAROL[0], carol)
    assert caught.value.status is Status.NO_SUCH_ROOM


def test_three_wrong_passwords_are_free_then_the_wait_doubles_and_a_quiet_minute_forgives(clock):
    registry = RoomRegistry(clock=clock, hasher=fast_hash)
    registry.create_room("vault", "alice", ALICE[0], password="right")

    def attempt(password="wrong"):
        return _status_of(lambda: registry.join_room("vault", "eve", "10.0.0.9", password))

    assert [attempt() for _ in range(3)] == [Status.WRONG_PASSWORD] * 3
    assert attempt() is Status.TOO_MANY_ATTEMPTS  # the third set a 1 s wait
    clock.now += 1.0
    assert attempt() is Status.WRONG_PASSWORD  # the fourth: 2 s
    clock.now += 2.0 + 60.0  # exactly a quiet minute after the wait: not yet forgiven
    assert attempt() is Status.WRONG_PASSWORD and attempt() is Status.TOO_MANY_ATTEMPTS
    until = clock.now + 4.0
    clock.now = until + 60.0
    registry.tick()
    assert registry.guessed_wrong("10.0.0.9")
    clock.now += 0.001
    registry.tick()
    assert not registry.guessed_wrong("10.0.0.9")


def test_the_snapshot_lists_plain_members_in_casefold_order_and_a_buried_token_hears_why(registry):
    bob = registry.create_room("lobby", "bob", BOB[0])
    zed, _ = registry.join_room("lobby", "Zed", "10.0.0.4")
    registry.join_room("lobby", "amy", "10.0.0.5")
    assert registry.snapshot(bob, BOB[0], "lobby")["plain"] == ["amy", "bob", "Zed"]
    leave_from(registry, zed, ("10.0.0.4", 1))
    with pytest.raises(RegistryError, match="^you left the room$") as caught:
        registry.snapshot(zed, "10.0.0.4", "lobby")
    assert caught.value.status is Status.UNKNOWN_TOKEN


def test_files_are_refused_to_plain_members_and_to_one_that_left_in_words(registry, lobby):
    with pytest.raises(RegistryError, match="^files are shared only over encryption; use a current client$") as caught:
        registry.file_member(lobby["bob"], BOB[0], "lobby", None)
    assert caught.value.status is Status.ENCRYPTION_REQUIRED
    send(registry, lobby["bob"], p.encode_leave(), BOB)
    with pytest.raises(RegistryError, match="^you are no longer in the room; the file was not shared$"):
        registry.share_file(lobby["bob"], p.FileInfo("0123456789abcdef", "a.txt", 3, "text/plain"))


def test_a_moved_member_is_proven_only_by_acknowledging_more_than_it_had(registry, lobby):
    for i in range(3):
        send(registry, lobby["alice"], p.encode_chat(i + 1, f"m{i}"), ALICE)
    send(registry, lobby["bob"], p.encode_heartbeat(5), BOB)
    moved = (BOB[0], 7000)
    send(registry, lobby["bob"], p.encode_heartbeat(5), moved)  # what it had before the move: no proof

    def resent():
        return [f.seq for f in frames_to(send(registry, lobby["bob"], p.encode_resend((3, 6)), moved), moved)]

    assert resent() == [3]
    send(registry, lobby["alice"], p.encode_chat(4, "m3"), ALICE)
    send(registry, lobby["bob"], p.encode_heartbeat(6), moved)  # it received what went to the new address
    assert resent() == [3, 4, 5, 6]


def test_an_acknowledgement_that_leaves_a_member_behind_waits_a_quarter_second_to_resend(registry, lobby, clock):
    send(registry, lobby["alice"], p.encode_chat(1, "one"), ALICE)
    send(registry, lobby["alice"], p.encode_chat(2, "two"), ALICE)
    clock.now += 0.1
    send(registry, lobby["bob"], p.encode_heartbeat(3), BOB)
    assert frames_to(registry.tick(), BOB) == []
    clock.now += 0.25
    assert [f.seq for f in frames_to(registry.tick(), BOB)] == [4]


def test_a_missing_message_is_given_up_thirty_seconds_after_the_senders_last_progress(registry, lobby, clock):
    def chat(msg_id):
        return [
            f.text for f in frames_to(send(registry, lobby["bob"], p.encode_chat(msg_id, f"m{msg_id}", 1), BOB), ALICE)
        ]

    assert chat(2) == [] and chat(4) == []  # 1 and 3 missing
    clock.now += 10
    assert chat(1) == ["m1", "m2"]  # progress; 3 still missing
    clock.now += 30
    assert chat(5) == []  # exactly 30 s since the last progress: still waiting
    clock.now += 0.001
    assert chat(6) == ["m4", "m5", "m6"]


def test_a_too_long_message_is_consumed_so_its_retransmits_are_ignored_and_the_next_flow(registry, clock):
    long_name = "n" * 255
    host = registry.create_room("lobby", long_name, ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    text = "x" * (p.MAX_DATAGRAM - 2 - len("lobby") - len(host) - p.SEAL_OVERHEAD - p.CHAT_OVERHEAD)
    assert frames_to(send(registry, host, p.encode_chat(1, "fine"), ALICE), BOB)[0].text == "fine"
    assert frames_to(send(registry, host, p.encode_chat(2, text), ALICE), ALICE)[0].code is ErrorCode.TOO_LONG
    assert send(registry, host, p.encode_chat(2, text, 2), ALICE) == []  # its retransmit
    assert frames_to(send(registry, host, p.encode_chat(3, "next", 2), ALICE), BOB)[0].text == "next"


def test_a_resend_of_exactly_sixty_four_events_in_two_ranges_gets_them_all(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(rate_burst=100))
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    for i in range(1, 66):
        send(registry, alice, p.encode_chat(i, f"m{i}"), ALICE)
    out = send(registry, bob, p.encode_resend((1, 63), (65, 66)), BOB)
    assert [f.seq for f in frames_to(out, BOB)] == list(range(1, 64)) + [65]


def test_every_resend_cut_short_by_the_reply_byte_budget_is_counted(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(reply_bytes_burst=200, reply_bytes_per_second=0))
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(1), BOB)
    for i in range(1, 4):
        send(registry, alice, p.encode_chat(i, "x" * 80), ALICE)
    send(registry, bob, p.encode_resend((2, 4)), BOB)
    send(registry, bob, p.encode_resend((2, 4)), BOB)
    assert registry.dropped["reply byte budget"] == 2


@pytest.mark.parametrize("plain_first", ["plain text", "kanaru"])
def test_a_plain_member_joined_first_does_not_keep_events_or_resends_from_the_others(registry, clock, plain_first):
    alice = registry.create_room("lobby", "alice", ALICE[0])
    if plain_first == "kanaru":
        dave, _ = registry.join_room("lobby", "dave", "10.0.0.4", wire=Transport.KANARU)
        send(registry, dave, p.KANARU_REGISTER.encode(), ("10.0.0.4", 1))
    else:
        dave, _ = registry.join_room("lobby", "dave", "10.0.0.4")
        send(registry, dave, b"hello", ("10.0.0.4", 1))
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    send(registry, bob, p.encode_heartbeat(3), BOB)
    out = send(registry, alice, p.encode_chat(1, "to all"), ALICE)
    assert [f.text for f in frames_to(out, BOB)] == ["to all"]
    clock.now += 0.25
    send(registry, alice, p.encode_heartbeat(4), ALICE)
    assert [f.text for f in frames_to(registry.tick(), BOB)] == ["to all"]  # not acknowledged: sent again


def test_a_plain_text_member_reads_a_shared_file_as_a_line_in_a_datagram_without_a_token(registry, lobby):
    send(registry, lobby["carol"], b"I speak plain text", CAROL)
    out = registry.share_file(lobby["bob"], p.FileInfo("0123456789abcdef", "a.txt", 3, "text/plain"))
    [(_, data)] = [(to, data) for to, data in out if to == CAROL]
    datagram = p.decode_datagram(data)
    assert (datagram.room, datagram.token) == ("lobby", b"")
    assert p.decode_body(datagram.body) == p.PlainText("* bob shared a file: a.txt (3 bytes)")


def test_notices_of_leaving_and_timing_out_carry_no_text_and_a_plain_join_says_so(registry, lobby, clock):
    [left] = frames_to(send(registry, lobby["bob"], p.encode_leave(), BOB), ALICE)
    assert (left.event_type, left.name, left.text) == (EventType.LEFT, "bob", "")
    _, out = registry.join_room("lobby", "dave", "10.0.0.4")
    assert [(f.event_type, f.text) for f in frames_to(out, ALICE)] == [(EventType.JOINED, p.JOINED_PLAIN)]
    send(registry, lobby["alice"], p.encode_heartbeat(4), ALICE)  # alice has every event so far
    out = time_out_all_but(registry, clock, [(lobby["alice"], ALICE)])  # carol and dave at once
    assert [(f.event_type, f.name, f.text) for f in frames_to(out, ALICE)] == [
        (EventType.TIMED_OUT, "carol", ""),
        (EventType.TIMED_OUT, "dave", ""),
    ]


def test_a_second_join_without_a_request_id_is_a_name_taken_not_a_repeat(registry):
    registry.create_room("lobby", "alice", ALICE[0])
    registry.join_room("lobby", "bob", BOB[0])
    assert _status_of(lambda: registry.join_room("lobby", "bob", BOB[0])) is Status.NAME_TAKEN


def test_stopping_the_server_tells_every_room_it_stopped(registry, lobby):
    out = registry.close_all()
    assert [(f.event_type, f.text) for f in frames_to(out, BOB)] == [(EventType.CLOSED, "the server stopped")]


def test_history_of_exactly_ninety_nine_messages_and_a_notice_is_all_of_it(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(rate_burst=200))
    alice = registry.create_room("lobby", "alice", ALICE[0])
    bob, _ = registry.join_room("lobby", "bob", BOB[0])
    for i in range(1, 100):
        send(registry, alice, p.encode_chat(i, f"m{i}"), ALICE)
    history = registry.snapshot(bob, BOB[0], "lobby")["history"]
    assert len(history) == 100 and history[0]["type"] == EventType.JOINED


def test_one_address_hosts_at_most_its_share_of_rooms_and_gets_one_back_when_a_room_closes(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(max_rooms_per_address=2))
    first = registry.create_room("one", "alice", ALICE[0])
    registry.create_room("two", "alice", ALICE[0])
    registry.join_room("one", "bob", BOB[0])  # being a member elsewhere does not count
    with pytest.raises(
        RegistryError, match="^your address already hosts 2 rooms on this server, the most it allows; close one first$"
    ) as caught:
        registry.create_room("three", "alice", ALICE[0])
    assert caught.value.status is Status.SERVER_FULL
    registry.create_room("three", "bob", BOB[0])  # another address may
    send(registry, first, p.encode_leave(), ALICE, room="one")
    registry.create_room("four", "alice", ALICE[0])


def test_creating_a_room_twice_without_a_request_id_is_a_room_exists_not_a_repeat(registry):
    registry.create_room("lobby", "alice", ALICE[0])
    assert _status_of(lambda: registry.create_room("lobby", "alice", ALICE[0])) is Status.ROOM_EXISTS


def test_a_new_member_is_not_sent_the_rooms_past_as_if_it_had_missed_it(registry, lobby, clock):
    for i in range(3):
        send(registry, lobby["alice"], p.encode_chat(i + 1, f"m{i}"), ALICE)
    dave, _ = registry.join_room("lobby", "dave", "10.0.0.4")
    send(registry, dave, p.encode_heartbeat(0), ("10.0.0.4", 1))
    clock.now += 1.0
    # Only its own arrival (seq 6), which it has not acknowledged yet; nothing from before it came.
    assert [f.seq for f in frames_to(registry.tick(), ("10.0.0.4", 1))] == [6]


def test_a_kanaru_member_is_never_sent_binary_retransmissions(registry, kanaru_lobby, clock):
    send(registry, kanaru_lobby["alice"], p.encode_chat(1, "hello"), ALICE)
    clock.now += 1.0
    send(registry, kanaru_lobby["alice"], p.encode_heartbeat(0), ALICE)
    assert [data for to, data in registry.tick() if to == BOB] == []


def test_a_kanaru_member_is_sent_no_binary_refusal_for_a_line_too_long_or_too_fast(clock):
    registry = RoomRegistry(clock=clock, limits=Limits(rate_burst=1, rate_per_second=0.5))
    alice = registry.create_room("lobby", "n" * 255, ALICE[0])
    dave, _ = registry.join_room("lobby", "dave" * 60, BOB[0], wire=Transport.KANARU)
    send(registry, dave, p.KANARU_REGISTER.encode(), BOB)
    send(registry, alice, p.encode_heartbeat(1), ALICE)
    assert [to for to, _ in send(registry, dave, ("x" * 3900).encode(), BOB)] == []  # too long with its name
    assert [to for to, _ in send(registry, dave, b"one", BOB)] == [ALICE]
    assert [to for to, _ in send(registry, dave, b"two", BOB)] == []  # over the rate
    assert registry.dropped["chat too long to relay"] == 1 and registry.dropped["rate limited"] == 1


def test_a_kanaru_member_keeps_its_dialect_through_a_restart_and_a_time_out(tmp_path, clock):
    from ocm_core.storage.roomstore import RoomStore

    store = RoomStore(tmp_path / "server.db")
    first = RoomRegistry(clock=clock, store=store)
    alice = first.create_room("lobby", "alice", ALICE[0])
    dave, _ = first.join_room("lobby", "dave", BOB[0], wire=Transport.KANARU)
    send(first, dave, p.KANARU_REGISTER.encode(), BOB)
    store.close()
    store = RoomStore(tmp_path / "server.db")
    again = RoomRegistry(clock=clock, store=store)
    out = send(again, alice, p.encode_chat(1, "still there?"), ALICE)
    assert (BOB, p.encode_kanaru_relay("alice", "still there?")) in out
    time_out_all_but(again, clock, [(alice, ALICE)])
    assert again.resume("lobby", "dave", BOB[0], dave)[2] is Transport.KANARU
    store.close()


def test_a_forged_resend_of_many_single_ranges_still_draws_one_event_to_an_unproven_address(registry, lobby):
    for i in range(1, 17):
        send(registry, lobby["alice"], p.encode_chat(i, f"m{i}"), ALICE)
    moved = (BOB[0], 7000)  # a source a forger could claim: not proven yet
    out = send(registry, lobby["bob"], p.encode_resend(*[(s, s) for s in range(3, 19)]), moved)
    assert [f.seq for f in frames_to(out, moved)] == [3]


def test_a_member_whose_room_closed_is_told_so_when_it_asks_to_come_back(registry, lobby):
    send(registry, lobby["alice"], p.encode_leave(), ALICE)  # the host leaves: the room closes
    with pytest.raises(RegistryError, match="^the host closed the room$") as caught:
        registry.resume("lobby", "bob", BOB[0], lobby["bob"])
    assert caught.value.status is Status.NO_SUCH_ROOM


# --- names as people read them -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, reason",
    [
        ("ana\u200b", "your name holds a character that cannot be seen or that turns the text around (U+200B)"),
        ("\u202eana", "your name holds a character that cannot be seen or that turns the text around (U+202E)"),
        ("a\u2066n\u2069a", "your name holds a character that cannot be seen or that turns the text around (U+2066)"),
        ("\u0430na", "your name mixes letters of scripts that look alike (cyrillic, latin)"),
        ("an\u03b1", "your name mixes letters of scripts that look alike (greek, latin)"),
        (" ana", "your name has spaces at its ends or two in a row"),
        ("a  na", "your name has spaces at its ends or two in a row"),
    ],
)
def test_a_name_a_reader_would_not_see_as_it_is_is_refused_with_why(registry, lobby, name, reason):
    with pytest.raises(RegistryError) as refused:
        registry.join_room("lobby", name, "10.0.0.9")
    assert refused.value.status is Status.BAD_REQUEST and str(refused.value).startswith(reason)
    with pytest.raises(RegistryError) as refused_room:
        registry.create_room("lobby2", name, "10.0.0.9")
    assert str(refused_room.value).startswith(reason)
    assert registry.members("lobby") == ["alice", "bob", "carol"] and registry.room_names() == ["lobby"]


@pytest.mark.parametrize(
    "look_alike", ["Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "\u0430\u04cf\u0456\u0441\u0435"]
)
def test_a_name_that_reads_as_one_already_in_the_room_is_taken(registry, lobby, look_alike):
    """Case, full-width forms and a name written wholly in Cyrillic letters that read as Latin."""
    assert _status_of(lambda: registry.join_room("lobby", look_alike, "10.0.0.9")) is Status.NAME_TAKEN


def test_names_in_one_script_or_as_japanese_mixes_them_are_admitted(registry, lobby):
    for name in (
        "田中さん",
        "アリス",
        "Bobさん",
        "김민수",
        "Олег",
        "Μαρία",
        "José",
        "O'Brien",
        "👨\u200d👩\u200d👧 family",
    ):
        registry.join_room("lobby", name, "10.0.0.9")
    assert len(registry.members("lobby")) == 12


def test_a_room_name_that_reads_as_an_open_one_is_taken(registry, lobby):
    for look_alike in ("Lobby", "\uff4c\uff4f\uff42\uff42\uff59"):
        with pytest.raises(RegistryError, match="^room 'lobby' already exists"):
            registry.create_room(look_alike, "dan", "10.0.0.9")
    with pytest.raises(RegistryError, match="the room name mixes letters of scripts"):
        registry.create_room("l\u043ebby", "dan", "10.0.0.9")


# --- replays and moves of sealed members -----------------------------------------------------


def sealed_pair(tmp_path, clock, store=None):
    """A registry with sealed members alice (host) and bob, and each one's client channel."""
    from ocm_core.crypto.identity import ServerIdentity
    from ocm_core.crypto.sealed import MemberKeys, SealedChannel

    keys = MemberKeys(ServerIdentity.load_or_create(tmp_path), epoch=1)
    registry = RoomRegistry(clock=clock, member_keys=keys, store=store, wall_clock=lambda: 1_700_000_000.0)
    alice = registry.create_room("lobby", "alice", ALICE[0], wire=Transport.SEALED)
    bob, _ = registry.join_room("lobby", "bob", BOB[0], wire=Transport.SEALED)
    channels = {alice: SealedChannel.for_client(keys.key_for(alice)), bob: SealedChannel.for_client(keys.key_for(bob))}
    return registry, keys, alice, bob, channels


def sealed_datagram(channels, token, body):
    return p.decode_datagram(channels[token].seal(p.datagram_header(b"lobby", token), body))


def test_datagrams_opened_before_a_restart_do_not_open_after_it(tmp_path, clock):
    """A capture of a member's datagrams replayed at a restarted server opens nothing: the
    newest nonce each member sent is kept with the messages, in the same transaction."""
    from ocm_core.storage.roomstore import RoomStore

    store = RoomStore(tmp_path / "server.db")
    registry, keys, alice, bob, channels = sealed_pair(tmp_path, clock, store)
    captured = []
    for token, address in ((alice, ALICE), (bob, BOB)):
        captured.append((sealed_datagram(channels, token, p.encode_heartbeat(0)), address))
    captured.append((sealed_datagram(channels, bob, p.encode_chat(1, "hello")), BOB))
    captured.append((sealed_datagram(channels, bob, p.encode_resend((1, 64))), BOB))
    assert registry.handle_datagrams(captured) != []
    store.close()

    again = RoomRegistry(clock=clock, member_keys=keys, store=RoomStore(tmp_path / "server.db"))
    assert again.handle_datagrams(captured) == []  # not one answer: nothing to amplify
    assert again.dropped["datagram does not open"] == len(captured)
    # and the members go on: their next datagrams open
    assert again.handle_datagrams([(sealed_datagram(channels, bob, p.encode_chat(2, "after")), BOB)]) != []


def test_a_late_datagram_from_another_address_does_not_move_the_member(tmp_path, clock):
    registry, keys, alice, bob, channels = sealed_pair(tmp_path, clock)
    held_back = sealed_datagram(channels, bob, p.encode_heartbeat(0))  # taken off the path, let go later
    registry.handle_datagrams([(sealed_datagram(channels, alice, p.encode_heartbeat(0)), ALICE)])
    registry.handle_datagrams([(sealed_datagram(channels, bob, p.encode_heartbeat(0)), BOB)])
    elsewhere = (BOB[0], 6666)
    assert registry.handle_datagrams([(held_back, elsewhere)]) == []
    assert registry.dropped["late datagram from another address"] == 1
    assert registry._tokens[bob].address == BOB
    # a new datagram from the new address is a move (a laptop that changed networks)
    assert registry.handle_datagrams([(sealed_datagram(channels, bob, p.encode_heartbeat(0)), elsewhere)]) != []
    assert registry._tokens[bob].address == elsewhere


# --- places nobody takes up, and rooms opened in floods ----------------------------------------


def test_one_address_cannot_fill_a_room_with_members_that_never_speak(registry, clock, lobby):
    limits = registry.limits
    joined = []
    refused = None
    for i in range(200):
        try:
            joined.append(registry.join_room("lobby", f"ghost{i}", "10.6.6.6")[0])
        except RegistryError as exc:
            refused = exc
            break
    assert len(joined) == limits.unheard_per_address  # 32 silent places, then it waits
    assert refused.status is Status.TRY_LATER and refused.retry_after == limits.unheard_retry_seconds
    assert "members that have not begun to chat yet" in str(refused)
    clock.now += limits.unheard_seconds + 0.1
    registry.tick()
    ghosts = [m for m in registry.members("lobby") if m.startswith("ghost")]
    assert len(ghosts) == limits.silent_per_address  # the first four keep their places, as members do
    registry.join_room("lobby", "newcomer", "10.0.0.9")  # and the room has room again


def test_a_member_that_speaks_late_or_an_assignment_client_that_only_types_later_keeps_its_place(
    registry, clock, lobby
):
    quiet = [registry.join_room("lobby", f"quiet{i}", "10.7.7.7")[0] for i in range(6)]
    clock.now += 1.0  # the first datagram was lost; the second arrives a second later
    send(registry, quiet[5], p.encode_heartbeat(0), ("10.7.7.7", 7005))
    clock.now += registry.limits.unheard_seconds
    registry.tick()
    names = registry.members("lobby")
    assert {"quiet0", "quiet1", "quiet2", "quiet3", "quiet5"} <= set(names)  # four silent ones and the speaker
    assert "quiet4" not in names  # the fifth silent one, past the allowance


def test_room_creation_is_bounded_per_address_and_in_all_and_the_refusal_says_when(clock):
    registry = RoomRegistry(clock=clock)
    refusal = None
    for i in range(30):  # open a room and close it again, over and over, from one address
        try:
            token = registry.create_room(f"r{i}", "host", "10.0.0.1")
        except RegistryError as exc:
            refusal = exc
            break
        registry.handle_datagram(p.Datagram(f"r{i}", token, p.encode_leave()), ("10.0.0.1", 5000))
    assert i == registry.limits.create_burst_per_address  # twenty at once, then
    assert refusal.status is Status.TRY_LATER and refusal.retry_after == 6  # ten a minute: one every six seconds
    assert str(refusal) == "your address has opened as many rooms as it may for now"
    clock.now += 6
    registry.create_room("after a wait", "host", "10.0.0.1")

    # 250 addresses open rooms whose hosts never speak: once the server is crowded (90 % of its
    # rooms), such rooms are given back after seconds, and a real host finds a place again.
    registry = RoomRegistry(clock=clock, limits=Limits(max_rooms=100))
    created = 0
    for address in range(250):
        try:
            registry.create_room(f"flood{address}", "host", f"10.1.{address // 256}.{address % 256}")
            created += 1
        except RegistryError as exc:
            assert exc.status is Status.SERVER_FULL
    assert created == 100
    clock.now += registry.limits.unheard_seconds + 0.1
    registry.tick()
    assert registry.room_names() == []
    registry.create_room("real", "host", "10.0.0.1")
