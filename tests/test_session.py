"""ClientSession with a fake clock and no sockets: bytes and times in, datagrams and events out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocm_core import wire as p
from ocm_core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from ocm_core.sansio import events as ev
from ocm_core.sansio.session import ClientSession, Output, SessionState
from ocm_core.wire import ErrorCode, EventType

ROOM, ME, TOKEN = "room", "me", b"token-of-me"
T0 = 1000.0  # a monotonic clock rarely starts at zero; nothing here may assume it does


def from_server(body: bytes) -> bytes:
    return p.encode_datagram(ROOM.encode(), b"", body)


def event(seq: int, name: str = "bob", text: str = "", kind: EventType = EventType.CHAT) -> bytes:
    return from_server(p.encode_event(p.Event(seq, seq * 1000, kind, name, text or f"m{seq}")))


def ack(msg_id: int, seq: int) -> bytes:
    return from_server(p.encode_chat_ack(msg_id, seq))


def status(latest: int) -> bytes:
    return from_server(p.encode_status_frame(latest))


def error(code: ErrorCode, text: str = "") -> bytes:
    return from_server(p.encode_error_frame(code, text))


def frames(out: Output) -> list:
    """The session's datagrams as frames, after checking that each is addressed as ours."""
    decoded = []
    for data in out.datagrams:
        datagram = p.decode_datagram(data)
        assert (datagram.room, datagram.token) == (ROOM, TOKEN)
        decoded.append(p.decode_body(datagram.body))
    return decoded


def of(out: Output, kind) -> list:
    return [e for e in out.events if isinstance(e, kind)]


def texts(out: Output) -> list[str]:
    return [m.text for m in of(out, ev.ChatMessage)]


def snapshot(seq: int = 0, history=(), members=("bob", ME), host: str = "bob") -> p.RoomSnapshot:
    return p.RoomSnapshot(seq, 9091, host, tuple(members), tuple(history))


def history_event(seq: int, name: str = "bob", text: str = "", kind: EventType = EventType.CHAT) -> p.Event:
    return p.Event(seq, seq * 1000, kind, name, text or f"m{seq}", history=True)


def open_session(seq: int = 0, **timing) -> ClientSession:
    """A session past its first snapshot and its first answer from the server."""
    session = ClientSession(ROOM, ME, TOKEN, **timing)
    session.apply_snapshot(snapshot(seq), T0)
    session.receive(status(seq), T0)
    assert session.state is SessionState.OPEN
    return session


def run(session: ClientSession, start: float, end: float, step: float = 0.01) -> list[tuple[float, Output]]:
    """Tick from `start` to `end`; the outputs that did something, with their times."""
    done, steps = [], round((end - start) / step)
    for i in range(steps + 1):
        now = start + i * step
        out = session.tick(now)
        if out.datagrams or out.events or out.fetch_snapshot:
            done.append((now, out))
    return done


# --- joining --------------------------------------------------------------------------------


def test_the_first_snapshot_shows_history_as_history_and_probes_until_the_server_answers():
    session = ClientSession(ROOM, ME, TOKEN)
    assert session.tick(T0).datagrams == []  # nothing to say before the snapshot
    out = session.apply_snapshot(
        snapshot(
            3,
            [
                history_event(1, ME, "mine, earlier"),
                history_event(2, "eve", kind=EventType.JOINED),
                history_event(3, text="hi"),
            ],
        ),
        T0,
    )
    assert [(m.sender, m.text, m.history) for m in of(out, ev.ChatMessage)] == [
        (ME, "mine, earlier", True),
        ("bob", "hi", True),
    ]
    assert [(n.kind, n.name, n.history) for n in of(out, ev.Notice)] == [("joined", "eve", True)]
    assert of(out, ev.MembersChanged) == [ev.MembersChanged(("bob", ME), "bob")]
    probes = [t for t, out in run(session, T0, T0 + 1) if frames(out) == [p.Heartbeat(3)]]
    assert len(probes) == 5 and probes[1] - probes[0] == pytest.approx(0.2)
    assert session.state is SessionState.JOINING
    session.receive(status(3), T0 + 1)
    assert session.state is SessionState.OPEN
    beats = []
    for i in range(900):
        t = T0 + 1 + i * 0.01
        if session.tick(t).datagrams:
            beats.append(t)
            session.receive(status(3), t)  # the server answers each one
    assert beats[1] - beats[0] == pytest.approx(3.0)  # the heartbeat interval once answered


def test_own_join_and_what_follows_it_in_the_first_snapshot_are_not_history():
    """The server's history ends with our own join (and whatever came between it and the
    snapshot): those are news, not "earlier messages, before you joined"."""
    session = ClientSession(ROOM, ME, TOKEN)
    out = session.apply_snapshot(
        snapshot(
            5,
            [
                history_event(1, text="before"),
                history_event(2, ME, kind=EventType.JOINED),  # a namesake, long gone
                history_event(3, ME, kind=EventType.LEFT),
                history_event(4, ME, kind=EventType.JOINED),  # us
                history_event(5, text="just after"),
            ],
        ),
        T0,
    )
    assert [(m.text, m.history) for m in of(out, ev.ChatMessage)] == [("before", True), ("just after", False)]
    assert [(n.seq, n.kind, n.history) for n in of(out, ev.Notice)] == [
        (2, "joined", True),
        (3, "left", True),
        (4, "joined", False),
    ]


# --- room events: order, duplicates, gaps ---------------------------------------------------


def test_events_in_order_are_handed_on_and_acknowledged_cumulatively():
    session = open_session()
    delivered = []
    for seq in (1, 2, 3):
        delivered += texts(session.receive(event(seq), T0 + 0.001 * seq))
    assert delivered == ["m1", "m2", "m3"]
    [(_, out)] = run(session, T0 + 0.1, T0 + 0.2)
    assert frames(out) == [p.Heartbeat(3)]  # one acknowledgement for all three


def test_a_duplicate_event_is_not_handed_on_again_and_the_ack_is_repeated():
    session = open_session()
    session.receive(event(1), T0)
    session.tick(T0 + 0.1)
    assert session.tick(T0 + 0.2).datagrams == []
    out = session.receive(event(1), T0 + 0.3)
    assert out.events == [] and out.datagrams == []
    assert frames(session.tick(T0 + 0.4)) == [p.Heartbeat(1)]  # our ack was lost, so it is sent again


def test_a_gap_holds_later_events_back_and_asks_for_the_missing_one():
    session = open_session()
    out = session.receive(event(3), T0)
    assert texts(out) == [] and frames(out) == [p.Resend(((1, 2),))]
    assert texts(session.receive(event(2), T0 + 0.01)) == []
    assert texts(session.receive(event(1), T0 + 0.02)) == ["m1", "m2", "m3"]
    assert session.delivered == 3


def test_one_resend_asks_for_every_gap_and_no_more_than_the_server_answers():
    session = open_session()
    for seq in (3, 5, 9):
        session.receive(event(seq), T0)
    [(_, out)] = run(session, T0 + 0.2, T0 + 0.21)
    resend, _ack = frames(out)
    assert resend == p.Resend(((1, 2), (4, 4), (6, 8)))
    session = open_session()
    session.receive(event(500), T0)
    [(_, out)] = run(session, T0 + 0.2, T0 + 0.21)
    resend, _ = frames(out)
    assert sum(last - first + 1 for first, last in resend.ranges) == p.MAX_RESEND_EVENTS


def test_an_open_gap_is_asked_for_again_while_nothing_new_arrives():
    session = open_session()
    session.receive(event(2), T0)
    asks = [t for t, out in run(session, T0, T0 + 1) if any(isinstance(f, p.Resend) for f in frames(out))]
    assert len(asks) >= 4 and all(b - a >= 0.2 - 1e-9 for a, b in zip(asks, asks[1:]))


def test_a_status_that_is_ahead_asks_for_what_we_missed_at_once():
    session = open_session()
    out = session.receive(status(4), T0)
    assert frames(out) == [p.Resend(((1, 4),))]
    assert session.receive(status(0), T0 + 0.01).datagrams == []  # behind or level: nothing to ask


def test_notices_keep_the_member_list_and_carry_codes_not_words():
    session = open_session()
    out = session.receive(event(1, "eve", kind=EventType.JOINED), T0)
    assert of(out, ev.Notice) == [ev.Notice(1, "joined", "eve", "", 1.0, False)]
    assert of(out, ev.MembersChanged) == [ev.MembersChanged(("bob", "eve", ME), "bob")]
    out = session.receive(event(2, "bob", kind=EventType.TIMED_OUT), T0)
    assert [n.kind for n in of(out, ev.Notice)] == ["timed_out"] and session.members == ("eve", ME)


# --- our own messages ---------------------------------------------------------------------------


def test_an_acknowledged_message_fills_its_place_in_the_room_order_without_being_shown():
    session = open_session()
    msg_id, [datagram] = session.send_chat("hello", T0)
    assert p.decode_body(p.decode_datagram(datagram).body) == p.Chat(msg_id, "hello", msg_id)
    out = session.receive(ack(msg_id, 2), T0 + 0.01)
    assert of(out, ev.MessageSent) == [ev.MessageSent(msg_id, 2)]
    assert texts(session.receive(event(1), T0 + 0.02)) == ["m1"]
    assert session.delivered == 2  # seq 2 was ours: no gap, nothing to ask
    assert texts(session.receive(event(2, ME, "hello"), T0 + 0.03)) == []  # a re-send of it is not shown
    assert of(session.receive(ack(msg_id, 2), T0 + 0.04), ev.MessageSent) == []  # a duplicate ack


def test_a_live_message_under_our_name_is_ours_even_when_its_ack_was_lost():
    session = open_session(seq=5)
    session.send_chat("mine", T0)
    assert texts(session.receive(event(6, ME, "mine"), T0)) == []
    assert session.delivered == 6


def test_one_ack_confirms_every_older_message_whose_own_ack_was_lost():
    session = open_session()
    ids = [session.send_chat(f"t{i}", T0)[0] for i in range(3)]
    out = session.receive(ack(ids[2], 3), T0 + 0.01)
    assert of(out, ev.MessageSent) == [ev.MessageSent(ids[0], 0), ev.MessageSent(ids[1], 0), ev.MessageSent(ids[2], 3)]
    assert [t for t, out in run(session, T0, T0 + 5) if any(isinstance(f, p.Chat) for f in frames(out))] == []


def test_an_unacknowledged_message_is_sent_again_with_backoff_then_reported_failed():
    session = open_session(send_timeout=10.0, heartbeat_interval=100.0, lost_after=1000.0)
    session.receive(status(0), T0)
    msg_id, _ = session.send_chat("anyone?", T0)
    resent, failed = [], []
    for t, out in run(session, T0, T0 + 12):
        resent += [t - T0 for f in frames(out) if isinstance(f, p.Chat)]
        failed += of(out, ev.MessageFailed)
    assert resent == pytest.approx([0.3, 0.9, 2.1, 4.1, 6.1, 8.1], abs=0.011)  # 0.3 s doubling to 2 s
    assert failed == [ev.MessageFailed(msg_id, "anyone?", "the server did not confirm it within 10 s")]
    new_id, [datagram] = session.retry(msg_id, T0 + 12)
    assert new_id != msg_id and p.decode_body(p.decode_datagram(datagram).body).text == "anyone?"
    with pytest.raises(LocalProtocolError, match="not waiting for a retry"):
        session.retry(msg_id, T0 + 12)


def test_a_resent_message_says_which_older_ones_are_given_up():
    session = open_session(send_timeout=1.0, lost_after=1000.0)
    first, _ = session.send_chat("lost", T0)
    run(session, T0, T0 + 1.1)  # the first fails
    second, _ = session.send_chat("next", T0 + 1.1)
    third, [datagram] = session.send_chat("and next", T0 + 1.2)
    assert p.decode_body(p.decode_datagram(datagram).body).floor == second > first


def test_a_message_too_long_for_a_datagram_is_refused_locally_and_not_kept():
    session = open_session()
    with pytest.raises(LocalProtocolError, match="datagram would be"):
        session.send_chat("x" * 5000, T0)
    assert [t for t, out in run(session, T0, T0 + 1) if any(isinstance(f, p.Chat) for f in frames(out))] == []


# --- lost and restored ------------------------------------------------------------------------


def test_silence_reports_the_connection_lost_probes_with_backoff_and_an_answer_restores_it():
    session = open_session(heartbeat_interval=3.0, lost_after=7.5, send_timeout=1000.0)
    msg_id, _ = session.send_chat("while dark", T0 + 5)
    lost_at, probes, resent_while_lost = None, [], []
    for t, out in run(session, T0, T0 + 40, step=0.05):
        if of(out, ev.ConnectionLost):
            lost_at = t
        if lost_at is not None and t > lost_at:
            probes += [t for f in frames(out) if isinstance(f, p.Heartbeat)]
            resent_while_lost += [f for f in frames(out) if isinstance(f, p.Chat)]
    assert lost_at == pytest.approx(T0 + 7.55, abs=0.06) and session.state is SessionState.LOST
    gaps = [b - a for a, b in zip(probes, probes[1:])]
    # The probe interval is a quarter of the silence so far (at least 1 s), capped at the heartbeat interval.
    assert all(1.0 <= g <= 3.06 for g in gaps) and max(gaps) == pytest.approx(3.0, abs=0.06)
    assert resent_while_lost == []  # no point sending into the dark; probes find the way back
    out = session.receive(status(0), T0 + 40)
    assert of(out, ev.ConnectionRestored) == [ev.ConnectionRestored()] and session.state is SessionState.OPEN
    assert [f for f in frames(session.tick(T0 + 40.01)) if isinstance(f, p.Chat)] == [
        p.Chat(msg_id, "while dark", msg_id)
    ]


def test_an_overdue_answer_is_probed_for_densely_before_the_connection_is_called_lost():
    session = open_session(heartbeat_interval=3.0, send_timeout=1000.0)
    assert session.lost_after == 9.0  # three heartbeats' worth
    beats, lost_at = [], None
    for t, out in run(session, T0, T0 + 10, step=0.05):
        beats += [t for f in frames(out) if isinstance(f, p.Heartbeat)]
        lost_at = lost_at or (t if of(out, ev.ConnectionLost) else None)
    overdue = [b for b in beats if T0 + 3.5 < b < T0 + 9.0]
    assert len(overdue) >= 10 and all(b - a == pytest.approx(0.5, abs=0.06) for a, b in zip(overdue, overdue[1:]))
    assert lost_at == pytest.approx(T0 + 9.05, abs=0.06)
    # On a lossy link one answer out of those probes is enough: no "connection lost" at all.
    session = open_session(heartbeat_interval=3.0, send_timeout=1000.0)
    sent = 0
    for i in range(1200):
        t = T0 + i * 0.05
        out = session.tick(t)
        assert not of(out, ev.ConnectionLost)
        if any(isinstance(f, p.Heartbeat) for f in frames(out)):
            sent += 1
            if sent % 8 == 0:  # seven round trips in eight are lost
                session.receive(status(0), t)


def test_a_server_whose_numbering_went_back_is_followed_not_ignored():
    session = open_session(seq=0)
    for seq in range(1, 151):
        session.receive(event(seq), T0)
    assert session.delivered == 150
    session.receive(status(8), T0 + 1)  # the server lost messages 9 to 150 (a database gone) ...
    assert session.delivered == 150  # ... or this STATUS is old and was overtaken: not enough to go back on
    out = session.tick(T0 + 1.01)
    assert out.fetch_snapshot  # ask the server over TLS
    session.apply_snapshot(snapshot(8), T0 + 1.5)  # its own word: the room is at 8
    assert session.delivered == 8
    out = session.receive(event(9, text="after the reset"), T0 + 2)
    assert texts(out) == ["after the reset"]


def test_a_stale_status_overtaken_by_newer_events_changes_nothing_but_a_check():
    session = open_session(seq=0)
    for seq in range(1, 6):
        session.receive(event(seq), T0)
    session.receive(status(3), T0 + 0.1)  # sent before events 4 and 5, arrived after them
    assert session.tick(T0 + 0.2).fetch_snapshot
    assert texts(session.apply_snapshot(snapshot(5, history=[history_event(s) for s in range(1, 6)]), T0 + 0.3)) == []
    assert session.delivered == 5
    assert texts(session.receive(event(4), T0 + 0.4)) == []  # a late re-send is still not shown twice


def test_silence_past_give_up_after_ends_the_session_and_fails_what_waited():
    session = open_session(lost_after=1.0, give_up_after=5.0, send_timeout=1000.0)
    msg_id, _ = session.send_chat("never", T0)
    outs = [out for _, out in run(session, T0, T0 + 6, step=0.05)]
    events = [e for out in outs for e in out.events]
    assert [type(e) for e in events] == [ev.ConnectionLost, ev.MessageFailed, ev.RoomClosed]
    assert events[1].msg_id == msg_id
    assert events[2] == ev.RoomClosed("No answer from the server for 5 s; the connection is lost.")
    assert session.state is SessionState.CLOSED and session.tick(T0 + 7) == Output()


# --- the room's end and leaving ---------------------------------------------------------------


def test_room_closed_while_a_message_is_being_resent_fails_it_and_stops_everything():
    session = open_session()
    msg_id, _ = session.send_chat("too late", T0)
    run(session, T0, T0 + 1)  # being re-sent
    out = session.receive(event(1, "bob", "the host closed the room", EventType.CLOSED), T0 + 1)
    assert out.events == [
        ev.MessageFailed(msg_id, "too late", "the room closed before it was delivered"),
        ev.RoomClosed("The host closed the room."),
    ]
    assert session.state is SessionState.CLOSED
    assert session.tick(T0 + 2) == Output() and session.receive(event(2), T0 + 2) == Output()
    with pytest.raises(LocalProtocolError, match="while the session is closed"):
        session.send_chat("hello?", T0 + 2)
    with pytest.raises(LocalProtocolError):
        session.leave(T0 + 2)


def test_events_after_the_room_closed_in_the_same_burst_are_not_handed_on():
    session = open_session()
    session.receive(event(3), T0)
    session.receive(event(2, "bob", "", EventType.CLOSED), T0)
    out = session.receive(event(1), T0)
    assert texts(out) == ["m1"] and of(out, ev.RoomClosed) and session.delivered == 2


def test_an_unknown_token_asks_to_come_back_and_ends_the_session_if_refused_unless_it_answers_our_leave():
    session = open_session()
    out = session.receive(error(ErrorCode.UNKNOWN_TOKEN, "you were away too long and were removed"), T0)
    assert out.events == [] and session.tick(T0 + 0.05).resume  # first, try to come back
    assert not session.tick(T0 + 0.1).resume  # asked once
    out = session.resume_failed("")
    assert out.events == [ev.SessionGone(ROOM, ME, "You were away too long and were removed.")]
    session = open_session()
    session.send_chat("bye all", T0)
    assert frames(session.leave(T0)) == [p.Leave()]
    assert frames(session.leave(T0 + 0.3)) == [p.Leave()]  # asked again: the first was lost
    assert session.state is SessionState.CLOSING and session.tick(T0 + 0.4) == Output()
    out = session.receive(error(ErrorCode.UNKNOWN_TOKEN, "you left the room"), T0 + 0.5)
    assert out.events == [] and session.state is SessionState.CLOSED


def test_a_member_back_from_sleep_gets_what_it_missed_and_sends_what_it_kept():
    session = open_session(seq=2, send_timeout=10_000.0)
    kept, _ = session.send_chat("written while asleep", T0 + 1)
    session.receive(error(ErrorCode.UNKNOWN_TOKEN, "you were away too long and were removed"), T0 + 700)
    assert session.tick(T0 + 700.05).resume
    session.resume_later(T0 + 700.1)  # the server could not be reached: asked again later
    assert not session.tick(T0 + 701).resume and session.tick(T0 + 702.2).resume
    missed = [
        history_event(3, ME, kind=EventType.TIMED_OUT),
        history_event(4, text="while you slept"),
        history_event(5, "eve", kind=EventType.TIMED_OUT),
        history_event(6, text="still asleep?"),
        history_event(7, ME, kind=EventType.JOINED),
    ]
    out = session.resumed(snapshot(7, missed), T0 + 703)
    assert out.events[0] == ev.Resumed(2)  # said before what was missed
    assert [n.name for n in of(out, ev.Notice)] == ["eve"]  # our own going and coming back are not news
    assert [(m.text, m.history) for m in of(out, ev.ChatMessage)] == [
        ("while you slept", False),
        ("still asleep?", False),
    ]
    resent = [f for f in frames(session.tick(T0 + 703.01)) if isinstance(f, p.Chat)]
    assert resent == [p.Chat(kept, "written while asleep", kept)]


def test_other_errors_from_the_server_reach_the_app_as_sentences():
    session = open_session()
    out = session.receive(error(ErrorCode.RATE_LIMITED, "slow down"), T0)
    assert out.events == [ev.ErrorEvent("Slow down.")]


# --- RESYNC: history arriving after live messages ----------------------------------------------


def test_resync_fetches_a_snapshot_that_fills_the_gap_once_after_the_live_messages():
    session = open_session()
    session.send_chat("mine", T0)
    for seq in (1, 2):
        session.receive(event(seq), T0)
    session.receive(event(7), T0)  # 3..6 missing, and the server no longer has them
    session.receive(error(ErrorCode.RESYNC, "fetch again"), T0)
    outs = [out for _, out in run(session, T0, T0 + 0.5)]
    assert sum(out.fetch_snapshot for out in outs) == 1
    history = [history_event(s) for s in (1, 2, 3)] + [
        history_event(4, ME, "mine"),
        history_event(5, "eve", kind=EventType.LEFT),
        history_event(6),
    ]
    out = session.apply_snapshot(snapshot(6, history, members=("bob", ME)), T0 + 0.5)
    assert [(m.seq, m.history) for m in of(out, ev.ChatMessage)] == [(3, False), (6, False), (7, False)]
    assert [n.kind for n in of(out, ev.Notice)] == ["left"] and session.delivered == 7


# --- state errors --------------------------------------------------------------------------


def test_calls_that_do_not_fit_the_state_are_refused_with_a_local_error():
    session = ClientSession(ROOM, ME, TOKEN)
    with pytest.raises(LocalProtocolError, match="^cannot send a message before the room's snapshot is applied$"):
        session.send_chat("too early", T0)
    session.apply_snapshot(snapshot(), T0)
    session.leave(T0)
    for call, action in (
        (lambda: session.send_chat("x", T0), "send a message"),
        (lambda: session.apply_snapshot(snapshot(), T0), "apply a room snapshot"),
    ):
        with pytest.raises(LocalProtocolError, match=f"^cannot {action} while the session is closing$"):
            call()
    session.close()
    with pytest.raises(LocalProtocolError, match="cannot leave while the session is closed"):
        session.leave(T0)


def test_malformed_bytes_raise_a_remote_error_and_change_nothing():
    session = open_session()
    session.receive(event(2), T0)
    for junk in (b"", b"\x04\x00roo", from_server(b"\xff\x01\x99"), from_server(b"\xff\x01\x10short")):
        with pytest.raises(RemoteProtocolError):
            session.receive(junk, T0)
    assert session.delivered == 0 and texts(session.receive(event(1), T0)) == ["m1", "m2"]


# --- property tests --------------------------------------------------------------------------


def _frame_strategy(top: int):
    seqs = st.integers(1, top)
    return st.one_of(
        st.builds(
            lambda s, k: event(s, kind=k, name="bob" if k is not EventType.JOINED else f"n{s}"),
            seqs,
            st.sampled_from([EventType.CHAT, EventType.CHAT, EventType.JOINED, EventType.LEFT]),
        ),
        st.builds(lambda s: event(s, ME, "mine"), seqs),
        st.builds(ack, st.integers(1, 6), seqs),
        st.builds(status, st.integers(0, top)),
        st.builds(
            lambda c: error(c, "x"), st.sampled_from([ErrorCode.RATE_LIMITED, ErrorCode.RESYNC, ErrorCode.TOO_LONG])
        ),
        st.binary(max_size=40).map(from_server),
        st.binary(max_size=40),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_frame_strategy(30), st.floats(0, 0.5), st.booleans()), max_size=60), st.integers(0, 4))
def test_any_sequence_of_frames_raises_only_protocol_errors_and_never_repeats_or_reorders(steps, sends):
    session = open_session(lost_after=2.0)
    for i in range(sends):
        session.send_chat(f"s{i}", T0)
    now, handed_on = T0, []
    for data, wait, tick in steps:
        now += wait
        try:
            out = session.receive(data, now)
        except ProtocolError:
            continue
        if tick:
            out.events += session.tick(now).events
        handed_on += [e.seq for e in out.events if isinstance(e, (ev.ChatMessage, ev.Notice))]
        assert session.delivered >= (handed_on[-1] if handed_on else 0)
    assert handed_on == sorted(set(handed_on))  # once each, in room order


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.randoms(use_true_random=False))
def test_lost_duplicated_and_reordered_events_are_all_delivered_once_in_order_after_repair(count, rnd):
    session = open_session()
    room = {seq: event(seq) for seq in range(1, count + 1)}
    arriving = [s for s in room if rnd.random() > 0.3] + [s for s in room if rnd.random() < 0.2]
    rnd.shuffle(arriving)
    now, delivered = T0, []
    for seq in arriving:
        now += 0.01
        delivered += [m.seq for m in of(session.receive(room[seq], now), ev.ChatMessage)]
    for _ in range(200):  # the repair rounds: the server answers every request, its status says how far the room is
        if session.delivered == count:
            break
        now += 0.05
        requests = frames(session.tick(now)) + frames(session.receive(status(count), now))
        for resend in (f for f in requests if isinstance(f, p.Resend)):
            for first, last in resend.ranges:
                for seq in range(first, last + 1):
                    delivered += [m.seq for m in of(session.receive(room[seq], now), ev.ChatMessage)]
    assert delivered == list(range(1, count + 1))


# --- every kind of frame lost, duplicated or swapped with the next ----------------------------

# The room as the server has it: ours are the messages at 2 and 4 (ids 1 and 2).
ROOM_EVENTS = {
    1: event(1),
    2: event(2, ME, "own 1"),
    3: event(3, "eve", kind=EventType.JOINED),
    4: event(4, ME, "own 2"),
    5: event(5),
}
OWN_SEQ = {1: 2, 2: 4}
SCRIPT = [
    ROOM_EVENTS[1],
    ack(1, 2),
    ROOM_EVENTS[3],
    ack(2, 4),
    ROOM_EVENTS[5],
    status(5),
    error(ErrorCode.RATE_LIMITED, "slow down"),
]


def _variants():
    for i in range(len(SCRIPT)):
        yield f"lose {i}", SCRIPT[:i] + SCRIPT[i + 1 :]
        yield f"duplicate {i}", SCRIPT[: i + 1] + SCRIPT[i:]
        if i + 1 < len(SCRIPT):
            yield f"swap {i}", SCRIPT[:i] + [SCRIPT[i + 1], SCRIPT[i]] + SCRIPT[i + 2 :]


@pytest.mark.parametrize("arriving", [v for _, v in _variants()], ids=[name for name, _ in _variants()])
def test_any_frame_lost_duplicated_or_reordered_gives_the_same_room(arriving):
    session = open_session()
    for text in ("own 1", "own 2"):
        session.send_chat(text, T0)
    now, seen = T0, []
    for data in arriving:
        now += 0.01
        seen += session.receive(data, now).events
    for _ in range(100):  # the server's side of the repair: resent events, re-acks, its status
        now += 0.1
        for frame in frames(session.tick(now)) + frames(session.receive(status(5), now)):
            if isinstance(frame, p.Resend):
                for first, last in frame.ranges:
                    for seq in range(first, last + 1):
                        seen += session.receive(ROOM_EVENTS[seq], now).events
            elif isinstance(frame, p.Chat):
                seen += session.receive(ack(frame.msg_id, OWN_SEQ[frame.msg_id]), now).events
    assert [(m.seq, m.text) for m in seen if isinstance(m, ev.ChatMessage)] == [(1, "m1"), (5, "m5")]
    assert [(n.seq, n.kind) for n in seen if isinstance(n, ev.Notice)] == [(3, "joined")]
    assert sorted(s.msg_id for s in seen if isinstance(s, ev.MessageSent)) == [1, 2]
    assert not [e for e in seen if isinstance(e, (ev.MessageFailed, ev.RoomClosed))]
    assert session.delivered == 5 and session.members == ("bob", "eve", ME)


def test_a_file_event_becomes_file_shared_in_room_order_and_a_malformed_one_is_skipped():
    session = open_session()
    info = p.FileInfo("0123456789abcdef", "plan.pdf", 2048, "application/pdf")
    text = p.encode_file_event_text(info)
    out = session.receive(event(2, "bob", text, EventType.FILE), T0 + 1)
    assert of(out, ev.FileShared) == []  # held until event 1 arrives
    out = session.receive(event(1, "bob", "hello"), T0 + 1.1)
    assert texts(out) == ["hello"]
    assert of(out, ev.FileShared) == [
        ev.FileShared(2, "0123456789abcdef", "plan.pdf", 2048, "bob", "application/pdf", 2.0)
    ]
    out = session.receive(event(3, "bob", "{not json", EventType.FILE), T0 + 1.2)
    assert out.events == []
    out = session.receive(event(4, "bob", "after"), T0 + 1.3)
    assert texts(out) == ["after"]  # the bad event took its place in the order and held nothing up
    restored = ClientSession(ROOM, ME, TOKEN)
    out = restored.apply_snapshot(snapshot(2, history=[history_event(2, "bob", text, EventType.FILE)]), T0)
    assert [e.history for e in of(out, ev.FileShared)] == [True]


# --- a sealed session: what a forger can and cannot do -----------------------------------------

KEY = bytes(range(32))


def sealed_pair(seq: int = 0):
    """A sealed session past its first snapshot and answer, and the server's side of its channel."""
    from ocm_core.crypto.sealed import SealedChannel

    server = SealedChannel.for_server(KEY, epoch=1)
    session = ClientSession(ROOM, ME, TOKEN, channel=SealedChannel.for_client(KEY))
    session.apply_snapshot(snapshot(seq), T0)
    session.receive(sealed(server, p.encode_status_frame(seq)), T0)
    assert session.state is SessionState.OPEN
    return session, server


def sealed(server, body: bytes) -> bytes:
    return server.seal(p.datagram_header(ROOM.encode(), b""), body)


def opened(server, data: bytes) -> bytes:
    datagram = p.decode_datagram(data)
    assert (datagram.room, datagram.token) == (ROOM, TOKEN)
    return server.open(data[: len(data) - len(datagram.body)], datagram.body)


def test_a_sealed_session_seals_what_it_sends_and_opens_what_the_server_sealed():
    session, server = sealed_pair()
    msg_id, [data] = session.send_chat("secret", T0)
    assert b"secret" not in data
    assert p.decode_body(opened(server, data)) == p.Chat(msg_id, "secret", msg_id)
    out = session.receive(sealed(server, p.encode_event(p.Event(1, 1000, EventType.CHAT, "bob", "hi"))), T0 + 0.1)
    assert texts(out) == ["hi"] and session.dropped == 0
    [heartbeat] = session.tick(T0 + 0.2).datagrams
    assert p.decode_body(opened(server, heartbeat)) == p.Heartbeat(1)


def test_plain_or_forged_datagrams_to_a_sealed_session_are_dropped_and_counted():
    from ocm_core.crypto.sealed import SealedChannel

    session, server = sealed_pair()
    forger = SealedChannel.for_server(bytes(32), epoch=1)
    for number, data in enumerate(
        (
            event(1),
            sealed(forger, p.encode_event(p.Event(1, 1, EventType.CHAT, "bob", "x"))),
            error(ErrorCode.RESYNC),
            error(ErrorCode.TOO_LONG, "too long"),
        ),
        start=1,
    ):
        assert session.receive(data, T0 + 1) == Output()
        assert session.dropped == number
    genuine = sealed(server, p.encode_event(p.Event(1, 1000, EventType.CHAT, "bob", "hi")))
    assert texts(session.receive(genuine, T0 + 1)) == ["hi"]
    assert session.receive(genuine, T0 + 1.1) == Output() and session.dropped == 5  # a replay
    assert session.state is SessionState.OPEN and session.delivered == 1


def test_a_plain_unknown_token_to_a_sealed_session_is_checked_over_tls_at_most_every_two_seconds():
    session, server = sealed_pair()
    assert session.receive(error(ErrorCode.UNKNOWN_TOKEN), T0 + 1).fetch_snapshot
    assert not session.receive(error(ErrorCode.UNKNOWN_TOKEN), T0 + 2.9).fetch_snapshot
    assert session.receive(error(ErrorCode.UNKNOWN_TOKEN), T0 + 3.0).fetch_snapshot
    assert session.state is SessionState.OPEN and session.dropped == 0  # a hint, not an end
    session.leave(T0 + 4)
    assert session.receive(error(ErrorCode.UNKNOWN_TOKEN), T0 + 4.1) == Output()
    assert session.state is SessionState.CLOSED


def test_a_session_the_server_forgot_tries_to_come_back_and_ends_with_the_servers_reason():
    session = open_session()
    assert session.forgotten("you were away too long and were removed.") == Output()
    session.forgotten("something else")  # a try is under way: the first reason stands
    assert session.tick(T0 + 0.05).resume
    session.resume_later(T0 + 0.1)
    assert not session.tick(T0 + 2.05).resume and session.tick(T0 + 2.1).resume
    assert session.resume_failed("").events == [ev.SessionGone(ROOM, ME, "You were away too long and were removed.")]
    assert session.state is SessionState.CLOSED and session.resume_failed("again").events == []
    session = open_session()
    session.forgotten("")
    session.tick(T0 + 0.05)
    assert session.resume_failed("the room is gone", room_gone=True).events == [ev.RoomClosed("The room is gone.")]


def test_server_sentences_get_a_capital_and_one_full_stop():
    from ocm_core.words import server_sentence as _server_sentence

    assert _server_sentence("the server stopped") == "The server stopped."
    for kept in ("Done.", "Really?", "Stop!", "閉じました。"):
        assert _server_sentence(kept) == kept
    assert _server_sentence("x") == "X."


def test_the_message_limit_is_what_fits_one_sealed_datagram_with_our_room_token_and_name():
    assert ClientSession("部屋", "アリス", TOKEN).max_message_bytes == p.max_chat_text_bytes(
        len("部屋".encode()), len(TOKEN), len("アリス".encode())
    )
    session, _server = sealed_pair()
    limit = session.max_message_bytes
    _, [data] = session.send_chat("x" * limit, T0)
    assert len(data) == p.MAX_DATAGRAM  # exactly full, not a byte to spare
    with pytest.raises(LocalProtocolError, match="4097 bytes"):
        session.send_chat("x" * (limit + 1), T0)


def test_resume_and_retry_name_themselves_when_refused_and_a_resumed_session_can_be_forgotten_again():
    session = open_session(seq=3)
    session.receive(error(ErrorCode.UNKNOWN_TOKEN, "you were away too long and were removed"), T0 + 1)
    assert session.tick(T0 + 1.05).resume
    session.resumed(snapshot(3), T0 + 2)
    session.receive(error(ErrorCode.UNKNOWN_TOKEN, "you were away too long and were removed"), T0 + 3)
    assert session.tick(T0 + 3.05).resume  # the earlier try is over: a new one starts
    session.close()
    with pytest.raises(LocalProtocolError, match="cannot resume while the session is closed"):
        session.resumed(snapshot(3), T0 + 4)
    with pytest.raises(LocalProtocolError, match="cannot retry a message while the session is closed"):
        session.retry(1, T0 + 4)


def test_after_the_numbering_went_back_to_one_the_new_position_is_acknowledged_at_once():
    session = open_session(seq=5)
    session.tick(T0 + 0.1)  # acknowledges 5
    session.apply_snapshot(snapshot(1), T0 + 0.2)
    assert session.delivered == 1
    assert frames(session.tick(T0 + 0.3)) == [p.Heartbeat(1)]  # well before the next heartbeat is due


def test_the_reason_a_forgotten_session_ends_with_is_one_sentence():
    session = open_session()
    session.forgotten("the room is gone...")
    session.tick(T0 + 0.05)
    assert session.resume_failed("").events == [ev.SessionGone(ROOM, ME, "The room is gone.")]
    session = open_session()
    session.forgotten("")
    session.tick(T0 + 0.05)
    assert session.resume_failed("").events == [
        ev.SessionGone(ROOM, ME, "The server no longer knows this session; join again.")
    ]


def test_dropped_datagrams_are_logged_at_the_1st_2nd_4th_8th_only(caplog):
    session, _server = sealed_pair()
    with caplog.at_level("WARNING", logger="ocm_core.sansio.session"):
        for _ in range(9):
            session.receive(event(1), T0 + 1)
    logged = [r.getMessage() for r in caplog.records if r.name == "ocm_core.sansio.session"]
    assert logged == [f"dropped {n} datagrams not genuinely from the server (plain)" for n in (1, 2, 4, 8)]
    assert session.dropped == 9


# --- the defaults and every timer exactly at its edge ----------------------------------------------


def test_the_timing_defaults():
    session = ClientSession(ROOM, ME, TOKEN)
    assert (session.room, session.send_timeout, session.give_up_after, session.lost_after) == (ROOM, 60.0, 300.0, 9.0)
    assert ClientSession(ROOM, ME, TOKEN, heartbeat_interval=0.5).lost_after == 3.0  # never under 3 s
    assert (session.host, session.members, session.plain, session.dropped) == (None, (), frozenset(), 0)


def test_a_message_fails_just_after_send_timeout_not_at_it():
    session = open_session(send_timeout=10.0, lost_after=100.0)
    msg_id, _ = session.send_chat("hi", T0)
    assert not of(session.tick(T0 + 10.0), ev.MessageFailed)
    assert [f.msg_id for f in of(session.tick(T0 + 10.001), ev.MessageFailed)] == [msg_id]


def test_the_connection_is_lost_just_after_lost_after_and_given_up_just_after_give_up_after():
    session = open_session(give_up_after=100.0)
    assert not of(session.tick(T0 + 9.0), ev.ConnectionLost)
    assert of(session.tick(T0 + 9.001), ev.ConnectionLost) and session.state is SessionState.LOST
    assert not of(session.tick(T0 + 100.0), ev.RoomClosed)
    assert of(session.tick(T0 + 100.001), ev.RoomClosed) and session.state is SessionState.CLOSED


def test_notices_keep_members_in_casefold_order_and_the_plain_set():
    session = open_session()
    out = session.receive(event(1, "Zed", text=p.JOINED_PLAIN, kind=EventType.JOINED), T0)
    out2 = session.receive(event(2, "amy", text="", kind=EventType.JOINED), T0)
    assert session.members == ("amy", "bob", "me", "Zed")
    assert of(out, ev.MembersChanged) == [ev.MembersChanged(("bob", "me", "Zed"), "bob", frozenset({"Zed"}))]
    assert of(out2, ev.MembersChanged)[0].plain == frozenset({"Zed"})
    out = session.receive(event(3, "Zed", kind=EventType.LEFT), T0)
    assert of(out, ev.MembersChanged) == [ev.MembersChanged(("amy", "bob", "me"), "bob", frozenset())]
    [chat] = of(session.receive(event(4, "amy", text="hi"), T0), ev.ChatMessage)
    assert chat.time == 4.0  # the event's milliseconds as seconds


def test_a_snapshot_at_the_position_already_delivered_changes_nothing():
    session = open_session(seq=3)
    session.tick(T0 + 0.1)  # acknowledges 3
    out = session.apply_snapshot(snapshot(3), T0 + 0.2)
    assert of(out, ev.MembersChanged) == [ev.MembersChanged(("bob", ME), "bob", frozenset())]
    assert session.tick(T0 + 0.3).datagrams == []  # nothing to acknowledge again


# --- a host that does not answer, a session the server forgot ------------------------------------


def lost_session(**timing) -> tuple[ClientSession, float]:
    """An open session ticked until it calls the connection lost; and when that was."""
    session = open_session(send_timeout=1000.0, give_up_after=1000.0, **timing)
    for i in range(400):
        t = T0 + i * 0.05
        if of(session.tick(t), ev.ConnectionLost):
            return session, t
    raise AssertionError("the connection was never called lost")


def test_the_host_is_called_not_answering_exactly_30_s_after_the_connection_was_lost_and_once():
    from ocm_core.sansio.session import HOST_NOT_ANSWERING_AFTER

    assert HOST_NOT_ANSWERING_AFTER == 30.0 and ClientSession(ROOM, ME, TOKEN).not_answering_after == 30.0
    session, lost_at = lost_session()
    assert not of(session.tick(lost_at + 29.999), ev.HostNotAnswering)
    out = session.tick(lost_at + 30.0)
    assert of(out, ev.HostNotAnswering) == [ev.HostNotAnswering(int(lost_at + 30.0 - T0))]  # the silence so far: 39 s
    assert session.state is SessionState.LOST  # still probing: the person decides
    assert any(isinstance(f, p.Heartbeat) for _, o in run(session, lost_at + 30.05, lost_at + 35) for f in frames(o))
    assert not [
        e for _, o in run(session, lost_at + 30.05, lost_at + 200, step=0.5) for e in of(o, ev.HostNotAnswering)
    ]


def test_keep_waiting_asks_again_after_another_period():
    session, lost_at = lost_session(not_answering_after=5.0)
    assert of(session.tick(lost_at + 5.0), ev.HostNotAnswering)
    session.keep_waiting(lost_at + 7.0)
    assert not of(session.tick(lost_at + 11.999), ev.HostNotAnswering)
    [again] = of(session.tick(lost_at + 12.0), ev.HostNotAnswering)
    assert again.seconds == int(lost_at + 12.0 - T0)


def test_a_restored_connection_cancels_the_reminder_and_a_later_loss_starts_a_new_count():
    session, lost_at = lost_session(not_answering_after=5.0)
    session.receive(status(0), lost_at + 4.0)  # answered a second before the reminder was due
    assert session.state is SessionState.OPEN
    assert not [e for _, o in run(session, lost_at + 4.0, lost_at + 12.0) for e in of(o, ev.HostNotAnswering)]
    session.keep_waiting(lost_at + 12.0)  # a late click on the banner: nothing to wait for
    relost_at = next(
        t for t in (lost_at + 12.0 + i * 0.05 for i in range(600)) if of(session.tick(t), ev.ConnectionLost)
    )
    assert not of(session.tick(relost_at + 4.999), ev.HostNotAnswering)
    assert of(session.tick(relost_at + 5.0), ev.HostNotAnswering)


def test_a_session_the_server_would_not_take_back_is_gone_with_room_and_name_and_what_waited_failed():
    session = open_session()
    msg_id, _ = session.send_chat("into the void", T0)
    session.receive(error(ErrorCode.UNKNOWN_TOKEN, "you were away too long and were removed"), T0 + 1)
    assert session.tick(T0 + 1.05).resume
    out = session.resume_failed("you were away too long to come back; join the room again")
    assert out.events == [
        ev.MessageFailed(msg_id, "into the void", "the server no longer knew this session"),
        ev.SessionGone(ROOM, ME, "You were away too long to come back; join the room again."),
    ]
    assert session.state is SessionState.CLOSED and not of(out, ev.RoomClosed)
    session = open_session()
    session.forgotten("")
    session.tick(T0 + 0.05)
    out = session.resume_failed("room 'room' closed while you were away", room_gone=True)
    assert out.events == [ev.RoomClosed("Room 'room' closed while you were away.")]


# --- what mutation testing found unpinned (docs/testing.md) ------------------------------------


def test_acknowledgements_are_batched_for_fifty_milliseconds():
    session = open_session()
    session.receive(event(1), T0 + 1)
    assert frames(session.tick(T0 + 1)) == [p.Heartbeat(1)]
    session.receive(event(2), T0 + 1.01)
    assert session.tick(T0 + 1.01).datagrams == []  # 10 ms after the last ack: it waits
    assert frames(session.tick(T0 + 1.06)) == [p.Heartbeat(2)]


def test_a_status_level_with_us_asks_for_nothing_and_an_open_session_never_refetches_by_itself():
    session = open_session(seq=3)
    assert session.receive(status(3), T0 + 0.1).datagrams == []
    outs = [out for _, out in run(session, T0, T0 + 2)]
    assert not any(out.fetch_snapshot for out in outs)
    assert all(isinstance(f, p.Heartbeat) for out in outs for f in frames(out))


def test_dense_probing_starts_only_once_an_answer_is_more_than_half_a_second_overdue():
    session = open_session(heartbeat_interval=3.0)
    assert frames(session.tick(T0)) == [p.Heartbeat(0)]
    assert frames(session.tick(T0 + 3.0)) == [p.Heartbeat(0)]
    assert session.tick(T0 + 3.5).datagrams == []  # exactly half a second overdue: not yet
    assert frames(session.tick(T0 + 3.75)) == [p.Heartbeat(0)]


def heartbeat_times(session: ClientSession, start: float, end: float) -> list[float]:
    return [t - T0 for t, out in run(session, start, end) if any(isinstance(f, p.Heartbeat) for f in frames(out))]


def test_once_lost_the_wait_between_probes_is_a_quarter_of_the_silence_at_most_the_heartbeat_interval():
    session = open_session(heartbeat_interval=3.0, send_timeout=10_000.0)
    beats = heartbeat_times(session, T0, T0 + 30)
    dense = [b for b in beats if 3.5 < b <= 9.0]
    after = [b for b in beats if b > 9.0]
    assert dense[-1] == pytest.approx(8.51, abs=0.011)
    # Lost at 9.01 s of silence: no probe at that moment; the next one a quarter of the silence on.
    assert after[0] == pytest.approx(11.35, abs=0.011)
    assert [b - a for a, b in zip(after, after[1:])] == pytest.approx([3.0] * (len(after) - 1), abs=0.011)


def test_a_connection_lost_early_is_probed_every_second_then_ever_more_rarely():
    session = open_session(heartbeat_interval=20.0, lost_after=2.0, send_timeout=10_000.0)
    beats = heartbeat_times(session, T0 + 0.01, T0 + 40)
    assert beats[:4] == pytest.approx([0.01, 2.01, 3.01, 4.02], abs=0.011)  # first heartbeat; lost: 1 s apart
    for a, b in zip(beats[3:], beats[4:]):  # then a quarter of the silence: each 4/3 of the one before
        assert b - a == pytest.approx(b / 4, abs=0.011)
    assert beats[-1] == pytest.approx(4.02 * (4 / 3) ** 7, abs=0.1)  # 30 s: seven quarters on


def test_resend_requests_are_spaced_unless_a_status_says_what_we_lack():
    session = open_session()
    assert frames(session.receive(event(3), T0)) == [p.Resend(((1, 2),))]
    assert session.receive(event(5), T0 + 0.05).datagrams == []  # one request per 0.1 s ...
    assert frames(session.receive(event(7), T0 + 0.15)) == [p.Resend(((1, 2), (4, 4), (6, 6)))]  # ... for every gap
    session = open_session()
    session.receive(event(1), T0)
    session.receive(event(3), T0 + 0.01)
    assert texts(session.receive(event(2), T0 + 0.02)) == ["m2", "m3"]
    # Nothing held, but the server's word that the room is further: asked at once, spacing or not.
    assert frames(session.receive(status(5), T0 + 0.03)) == [p.Resend(((4, 5),))]


def test_one_resend_asks_for_at_most_sixteen_ranges():
    session = open_session()
    for seq in range(2, 42, 2):  # twenty gaps: 1, 3, 5 ... 39
        session.receive(event(seq), T0)
    [resend] = [f for f in frames(session.tick(T0 + 0.2)) if isinstance(f, p.Resend)]
    assert resend.ranges == tuple((s, s) for s in range(1, 32, 2))


@pytest.mark.parametrize("come_back", [False, True])
def test_a_snapshot_that_leaves_a_gap_below_held_events_asks_for_it(come_back):
    session = open_session()
    session.receive(event(1), T0)
    session.receive(event(5), T0)  # 2..4 missing
    session.receive(error(ErrorCode.RESYNC), T0)
    assert session.tick(T0 + 0.05).fetch_snapshot
    snap = snapshot(3, [history_event(s) for s in (1, 2, 3)])
    out = session.resumed(snap, T0 + 0.5) if come_back else session.apply_snapshot(snap, T0 + 0.5)
    assert texts(out) == ["m2", "m3"] and session.delivered == 3
    assert frames(out) == [p.Resend(((4, 4),))]


def test_the_plain_members_come_from_the_snapshot_and_grow_with_each_plain_join():
    session = ClientSession(ROOM, ME, TOKEN)
    out = session.apply_snapshot(p.RoomSnapshot(0, 9091, "bob", ("bob", ME), (), plain=("bob",)), T0)
    assert of(out, ev.MembersChanged) == [ev.MembersChanged(("bob", ME), "bob", frozenset({"bob"}))]
    out = session.receive(event(1, "zed", p.JOINED_PLAIN, EventType.JOINED), T0)
    assert of(out, ev.MembersChanged)[0].plain == frozenset({"bob", "zed"})


def test_the_room_closing_without_a_reason_says_the_host_closed_it_and_with_one_says_that():
    for text, sentence in (("", "The host closed the room."), ("the server stopped", "The server stopped.")):
        session = open_session()
        closed = from_server(p.encode_event(p.Event(1, 1000, EventType.CLOSED, "bob", text)))
        assert of(session.receive(closed, T0), ev.RoomClosed) == [ev.RoomClosed(sentence)]


def test_an_unknown_token_without_a_reason_ends_with_our_own_sentence_if_coming_back_fails():
    session = open_session()
    session.receive(error(ErrorCode.UNKNOWN_TOKEN), T0)
    assert session.tick(T0 + 0.05).resume
    assert session.resume_failed("").events == [
        ev.SessionGone(
            ROOM,
            ME,
            "The server no longer knows this session (it may have restarted without its database); join again.",
        )
    ]


def test_a_forgotten_sessions_reason_loses_only_its_full_stops():
    session = open_session()
    session.forgotten("the room was closed by MAX.")
    session.tick(T0 + 0.05)
    assert session.resume_failed("").events == [ev.SessionGone(ROOM, ME, "The room was closed by MAX.")]
