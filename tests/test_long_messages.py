"""Long messages wired in (issue 28, part 5): a message longer than one datagram is sent in
pieces and shown whole, in order, or not at all. The registry and its members' sessions on a
fake clock over a bad link (tests/pair.py), then two real ChatClients through a real ChatServer
over a proxy that loses a fifth of the datagrams each way."""

from __future__ import annotations

import threading
import time

import pytest
from faultproxy import FaultProxy, Faults
from pair import ROOM, Pair
from support import EventLog

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.net.client import ChatClient
from ocm_core.net.server import ChatServer
from ocm_core.sansio import events as ev
from ocm_core.sansio.pieces import CUT_ENDING, SERVER, shortened
from ocm_core.sansio.registry import HISTORY_BYTES
from ocm_core.sansio.room import Limits, Room, Transport


def japanese(chars: int, seed: int = 0) -> str:
    """`chars` characters of kana and kanji, 3 UTF-8 bytes each, none of them a mention."""
    alphabet = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめも日本語東京大阪雨雪花月"
    return "".join(alphabet[(i * 7 + seed) % len(alphabet)] for i in range(chars))


def failed(pair: Pair, name: str) -> list[ev.MessageFailed]:
    return [e for e in pair.events[name] if isinstance(e, ev.MessageFailed)]


def three(pair: Pair) -> None:
    for name in ("alice", "bob", "carol"):
        pair.join(name)
    pair.run(1.0)


# --- both ways, whole, once, in order ------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_long_messages_both_ways_over_a_lossy_duplicating_reordering_link_arrive_whole_once_in_order(seed):
    pair = Pair(seed=seed, loss=0.2, duplicate=0.1, delay=0.1)
    three(pair)
    long_a, long_b = japanese(60_000, 0), japanese(60_000, 5)
    sent = {
        "alice": [pair.send("alice", "a before"), pair.send("alice", long_a), pair.send("alice", "a after")],
        "bob": [pair.send("bob", long_b), pair.send("bob", "b after")],
    }
    pair.run(40.0)
    for reader, expected in (
        ("alice", [long_b, "b after"]),
        ("bob", ["a before", long_a, "a after"]),
        ("carol", None),
    ):
        seen = pair.chat_seen_by(reader)
        if expected is None:  # carol: both senders' lines, each in its sender's order
            assert sorted(seen) == sorted(["a before", long_a, "a after", long_b, "b after"])
            assert [t for t in seen if t in (long_b, "b after")] == [long_b, "b after"]
            assert [t for t in seen if t in ("a before", long_a, "a after")] == ["a before", long_a, "a after"]
        else:
            assert seen == expected
    for name, ids in sent.items():
        assert pair.acknowledged(name) >= set(ids) and not failed(pair, name)
    assert pair.lost > 40 and pair.duplicated > 10  # the link did what it was asked to
    assert pair.registry._pieces.bytes_held == 0
    assert all(session._pieces.bytes_held == 0 for session in pair.sessions.values())


def test_a_long_event_is_handed_on_and_acknowledged_only_whole_and_the_servers_retransmit_is_its_last_piece():
    pair = Pair()
    pair.join("alice")
    bob = pair.join("bob")
    pair.run(1.0)
    blackout = True  # bob hears nothing and says nothing: the server's timer is what sends again
    pair.drop_if = lambda sender, to, frame: blackout and "bob" in (sender, to)
    tick, by_timer = pair.registry.tick, []

    def recording_tick():
        out = tick()
        by_timer.extend(pair.peek("server", "bob", d) for a, d in out if a == pair.addresses["bob"])
        return out

    pair.registry.tick = recording_tick  # type: ignore[method-assign]
    text = japanese(20_000)
    pair.send("alice", text)
    pair.run(1.0)
    seq = pair.registry._rooms[ROOM].seq
    probes = [f for f in by_timer if isinstance(f, p.EventPiece)]
    assert probes and all(f.seq == seq and f.index == f.count - 1 for f in probes)  # one piece each time, the last
    assert len(probes) == len(by_timer)  # and nothing else
    blackout = False
    steps = 0
    while text not in pair.chat_seen_by("bob"):
        assert bob.delivered < seq  # not handed on, not acknowledged, until whole
        pair.run(0.05)
        steps += 1
        assert steps < 100
    assert bob.delivered == seq and pair.chat_seen_by("bob") == [text]


def test_the_cap_is_256_kib_of_utf8_exactly_and_one_byte_more_is_refused_and_the_next_message_flows():
    pair = Pair()
    alice = pair.join("alice")
    pair.join("bob")
    pair.run(1.0)
    assert alice.max_message_bytes == p.MAX_LONG_TEXT_BYTES == 262_144
    longest = japanese(87_381) + "a"
    assert len(longest.encode("utf-8")) == p.MAX_LONG_TEXT_BYTES
    pair.send("alice", longest)
    pair.run(5.0)
    assert pair.chat_seen_by("bob") == [longest]
    # A client that does not check (ours does: ChatClient.send raises MessageTooLong) is refused by the server.
    too_long = pair.send("alice", longest + "b")
    then = pair.send("alice", "shorter, then")
    pair.run(5.0)
    assert [f.msg_id for f in failed(pair, "alice")] == [too_long]
    assert "too long" in failed(pair, "alice")[0].reason
    assert pair.chat_seen_by("bob") == [longest, "shorter, then"] and then in pair.acknowledged("alice")


def test_two_long_messages_in_a_row_go_one_after_the_other_the_second_once_the_senders_bucket_refills():
    pair = Pair()
    three(pair)
    first, second = japanese(60_000, 1), japanese(60_000, 2)
    for text in (first, second, "and a short one"):
        pair.send("alice", text)
    pair.run(10.0)
    assert pair.chat_seen_by("bob") == pair.chat_seen_by("carol") == [first, second, "and a short one"]
    assert pair.registry.dropped["rate limited"] >= 1  # the second waited for its 45 tokens
    assert not [e for e in pair.events["alice"] if isinstance(e, ev.ErrorEvent)]  # and nobody was scolded


def test_a_short_line_under_a_long_name_is_relayed_in_pieces_where_it_was_refused():
    pair = Pair()
    pair.join("alice")
    name = "名" * 85  # 255 bytes
    pair.join(name)
    pair.run(1.0)
    text = "x" * 3900  # fits a datagram up; with the name, the EVENT does not
    assert not p.is_long(len(p.encode_chat(1, text)), len(ROOM), len(pair.tokens[name]))
    assert p.is_long(len(p.encode_event(p.Event(1, 0, p.EventType.CHAT, name, text))), len(ROOM), 0)
    pair.send(name, text)
    pair.run(2.0)
    assert pair.chat_seen_by("alice") == [text]


# --- a message that never completes, and floods --------------------------------------------------


def test_a_piece_that_never_arrives_frees_the_servers_memory_and_the_senders_next_message_goes_on_after_it_gives_up():
    pair = Pair()
    pair.join("alice")
    pair.join("bob")
    pair.run(1.0)
    pair.drop_if = lambda sender, to, frame: isinstance(frame, p.Piece) and frame.index == 3
    long_id = pair.send("alice", japanese(30_000))
    pair.send("alice", "after the long one")
    pair.run(30.0)
    assert pair.chat_seen_by("bob") == []  # not part of it: nothing, and nothing after it
    assert pair.registry._pieces.bytes_held > 0
    pair.run(35.0)
    assert [f.msg_id for f in failed(pair, "alice")] == [long_id]
    assert pair.chat_seen_by("bob") == ["after the long one"]
    pair.run(65.0)  # the last partial's 60 s are over
    assert pair.registry._pieces.bytes_held == 0 and pair.registry.dropped["piece: expired"] >= 1


def _sealed(pair: Pair, name: str, frame: bytes) -> p.Datagram:
    return p.decode_datagram(pair.sessions[name]._datagram(frame))


def test_a_flood_of_half_sent_messages_is_bounded_counted_and_freed_when_its_sender_leaves():
    limits = Limits(pieces_bytes=400_000)
    pair = Pair()
    pair.registry.limits = limits
    pair.registry._pieces.total_bytes = limits.pieces_bytes
    for name in ("alice", "mallory", "trudy"):
        pair.join(name)
    pair.run(1.0)
    registry, slice_ = pair.registry, b"\x00" * 4000

    def piece(name: str, msg_id: int, index: int, count: int = p.MAX_PIECES):
        frame = p.encode_piece(p.Piece(msg_id, index, count, slice_))
        return registry.handle_datagram(_sealed(pair, name, frame), pair.addresses[name])

    for msg_id in range(1, 7):  # four messages half-sent at once, not six
        piece("mallory", msg_id, 0)
    assert registry.dropped["piece: too many partials"] == 2
    for index in range(1, 60):  # message 1 to 60 pieces: 240,000 bytes
        piece("mallory", 1, index)
    for index in range(60):  # then everyone's 400,000 bytes run out
        piece("trudy", 1, index)
    assert registry.dropped["piece: all over their bytes"] >= 1
    assert registry._pieces.bytes_held <= limits.pieces_bytes
    pair.send("alice", "the room goes on")
    pair.run(1.0)
    assert pair.chat_seen_by("trudy") == pair.chat_seen_by("mallory") == ["the room goes on"]
    mallory_bytes = registry._pieces.bytes_held
    registry.handle_datagram(_sealed(pair, "mallory", p.encode_leave()), pair.addresses["mallory"])
    assert registry._pieces.bytes_held < mallory_bytes
    registry.handle_datagram(_sealed(pair, "trudy", p.encode_leave()), pair.addresses["trudy"])
    assert registry._pieces.bytes_held == 0


def test_pieces_past_the_longest_frame_are_refused_too_long_and_pieces_that_make_no_message_are_dropped():
    pair = Pair()
    pair.join("alice")
    pair.join("mallory")
    pair.run(1.0)
    registry = pair.registry

    def send(frame: bytes):
        return registry.handle_datagram(_sealed(pair, "mallory", frame), pair.addresses["mallory"])

    slice_ = b"\x01" * 3900
    for index in range(69):  # 269,100 bytes of one message: over 266,240
        send(p.encode_piece(p.Piece(1, index, 70, slice_)))
    assert registry.dropped["piece: message too long"] == 1
    # Pieces whose joined bytes are a heartbeat: no message, dropped, and the next id flows.
    heartbeat = p.encode_heartbeat(0) + b"\x00" * 5000
    for index, part in enumerate((heartbeat[:2600], heartbeat[2600:])):
        send(p.encode_piece(p.Piece(2, index, 2, part)))
    assert registry.dropped["bad long message"] == 1
    mallory = pair.sessions["mallory"]
    mallory._msg_ids = iter(range(3, 100))
    pair.send("mallory", "still heard")
    pair.run(1.0)
    assert pair.chat_seen_by("alice") == ["still heard"]


# --- members that read no pieces -------------------------------------------------------------------


def test_members_that_read_no_pieces_get_a_shortened_line_within_one_datagram_live_and_in_history():
    pair = Pair()
    pair.join("alice")
    pair.join("older", features=("actions",))  # the version before pieces
    pair.join("oldest", features=())
    bare_token, joined = pair.registry.join_room(ROOM, "bare", "10.0.0.9", wire=Transport.PLAIN)
    bare_address = ("10.0.0.9", 6000)
    to_bare: list[bytes] = []
    relay = pair._from_server

    def capture(outbound) -> None:
        to_bare.extend(data for address, data in outbound if address == bare_address)
        relay(outbound)

    pair._from_server = capture  # type: ignore[method-assign]
    capture(pair.registry.handle_datagram(p.Datagram(ROOM, bare_token, b"hi, I read text"), bare_address))
    pair.run(1.0)
    text = japanese(60_000)
    pair.send("alice", text)
    pair.run(2.0)
    for name in ("older", "oldest"):
        [line] = [t for t in pair.chat_seen_by(name) if t != "hi, I read text"]
        assert line.endswith(CUT_ENDING) and text.startswith(line.removesuffix(CUT_ENDING))
        assert len(line) > 1000  # as much of the start as fits
        history = [
            e.text for e in pair.snapshot(name).history if e.name == "alice" and e.event_type is p.EventType.CHAT
        ]
        assert history == [line]
    [datagram] = [d for d in to_bare if CUT_ENDING.encode("utf-8") in d]
    assert len(datagram) <= p.MAX_DATAGRAM
    assert p.decode_datagram(datagram).body.decode("utf-8").startswith("alice: " + text[:100])
    assert [e.text for e in pair.snapshot("alice").history if e.name == "alice"] == [text]  # whole to who reads it


def test_a_long_reply_and_a_long_edit_reach_members_whole_and_older_ones_shortened():
    pair = Pair()
    pair.join("alice")
    pair.join("bob")
    pair.join("older", features=("actions",))
    pair.run(1.0)
    pair.send("alice", "what happened?")
    pair.run(1.0)
    asked = next(e.seq for e in pair.events["bob"] if isinstance(e, ev.ChatMessage))
    answer, amended = japanese(40_000, 3), japanese(50_000, 4)
    bob = pair.sessions["bob"]
    msg_id, datagrams = bob.send_action(p.ActionKind.REPLY, asked, answer, pair.clock.now)
    assert len(datagrams) > 1  # its first pieces
    for datagram in datagrams:
        pair._post("bob", "server", datagram)
    pair.run(3.0)
    [reply] = [e for e in pair.events["alice"] if isinstance(e, ev.ChatMessage) and e.reply_to == asked]
    assert reply.text == answer
    _, datagrams = bob.send_action(p.ActionKind.EDIT, reply.seq, amended, pair.clock.now)
    for datagram in datagrams:
        pair._post("bob", "server", datagram)
    pair.run(3.0)
    [edit] = [e for e in pair.events["alice"] if isinstance(e, ev.MessageEdited)]
    assert edit.text == amended and edit.target == reply.seq
    older = [t for t in pair.chat_seen_by("older") if t.endswith(CUT_ENDING)]
    assert len(older) == 2 and "(edited)" in older[1]
    history = {e.seq: e for e in pair.snapshot("alice").history}
    assert p.decode_reply_text(history[reply.seq].text).text == amended and history[reply.seq].edited


# --- the pieces of the buffer and of a SYNC ---------------------------------------------------------


def test_the_shortened_form_is_kept_beside_a_long_event_counted_in_the_buffer_and_follows_an_edit():
    room = Room("lobby", "alice", b"lobby")
    limits = Limits()
    event = p.Event(1, 0, p.EventType.CHAT, "alice", "あ" * 5000)
    short = room.buffer(1, p.encode_event(event), limits)
    assert short is not None and room.short_bodies == {1: short}
    assert room.buffered_bytes == len(p.encode_event(event)) + len(short)
    assert room.body_for(0, True, False) == short and room.body_for(0, True, True) == p.encode_event(event)
    assert shortened(p.encode_event(p.Event(2, 0, p.EventType.CHAT, "alice", "short")), None, 5) is None
    room.rewrite(1, p.encode_event(p.Event(1, 0, p.EventType.CHAT, "alice", "now short", edited=True)), None)
    assert room.short_bodies == {} and room.buffered_bytes == len(room.events[0][1])


def test_a_syncs_history_of_long_messages_stays_well_under_what_a_client_reads():
    pair = Pair()
    pair.join("alice")
    registry = pair.registry
    room = registry._rooms[ROOM]
    escaped = "\x01" * 200_000  # six bytes each in JSON
    with registry._lock:
        for _ in range(40):
            registry._emit(room, p.EventType.CHAT, "alice", escaped)
    token = pair.tokens["alice"]
    snapshot = registry.snapshot(token, "10.0.0.1", ROOM, pair.keys.proof_for(token), None, p.FEATURES)
    one = len(p.encode_json(snapshot["history"][-1]))
    assert one > 1_200_000 and len(room.events) > len(snapshot["history"]) > 1  # the newest, as many as fit
    assert HISTORY_BYTES - one < len(p.encode_json(snapshot)) < HISTORY_BYTES + 64 * 1024 < p.MAX_RESPONSE_PAYLOAD
    assert room.buffered_bytes <= Limits().event_buffer_bytes


# --- the check: two real clients, a real server, a fifth of the datagrams lost ----------------


def test_a_60000_character_japanese_message_crosses_a_lossy_network_whole_both_ways():
    with ChatServer("127.0.0.1", 0, 0) as server:
        faults = Faults(drop=0.2, duplicate=0.0, max_delay=0.005)
        with FaultProxy(server.udp_address, faults, faults, seed=20261207) as proxy:
            port = server.tcp_address[1]
            alice = ChatClient("127.0.0.1", port, udp_address=proxy.address)
            bob = ChatClient("127.0.0.1", port, udp_address=proxy.address)
            alice.create_room("long", "alice")
            bob.join_room("long", "bob")
            logs = {"alice": EventLog(alice), "bob": EventLog(bob)}
            logs["alice"].wait_for(lambda seen: len(alice.members) == 2, timeout=10, what="bob in the room")
            assert alice.max_message_bytes == bob.max_message_bytes == p.MAX_LONG_TEXT_BYTES
            texts = {"alice": japanese(60_000, 11), "bob": japanese(60_000, 12)}
            before = dict(proxy.counts)
            started = time.monotonic()
            took: dict[str, float] = {}

            def arrives(reader: str, writer: str) -> None:
                logs[reader].wait_for(
                    lambda seen: any(isinstance(e, ev.ChatMessage) and e.sender == writer for e in seen),
                    timeout=20,
                    what=f"{writer}'s long message at {reader}",
                )
                took[writer] = time.monotonic() - started

            waiters = [threading.Thread(target=arrives, args=pair) for pair in (("bob", "alice"), ("alice", "bob"))]
            for waiter in waiters:
                waiter.start()
            alice.send(texts["alice"])
            bob.send(texts["bob"])
            for waiter in waiters:
                waiter.join(25)
            for reader, writer in (("bob", "alice"), ("alice", "bob")):
                [message] = logs[reader].of_type(ev.ChatMessage)
                assert message.text == texts[writer]  # whole and identical, once
            for name in ("alice", "bob"):
                logs[name].wait_type(ev.MessageSent, timeout=10)
                assert not logs[name].of_type(ev.MessageFailed)
            with pytest.raises(errors.MessageTooLong):
                alice.send("あ" * (p.MAX_LONG_TEXT_BYTES // 3 + 1))
            counts = {key: proxy.counts[key] - before[key] for key in proxy.counts}
            size = len(texts["alice"].encode("utf-8"))
            print(
                f"\n60,000 Japanese characters ({size:,} bytes) each way under 20 % loss each way: "
                f"alice -> bob {took['alice']:.2f} s, bob -> alice {took['bob']:.2f} s; "
                f"{counts['up']} datagrams up, {counts['down']} down, {counts['dropped']} dropped"
            )
            alice.leave()
            bob.leave()
