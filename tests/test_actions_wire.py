"""The ACTION and REFUSED frames and the new events' texts: bytes in, bytes out, and every
malformed input refused with its reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocm_core import wire as p
from ocm_core.wire import ActionKind

TARGETED = [ActionKind.REPLY, ActionKind.EDIT]


@given(
    msg_id=st.integers(1, 2**32 - 1),
    target=st.integers(1, 2**32 - 1),
    kind=st.sampled_from(TARGETED),
    text=st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=300),
)
def test_a_targeted_action_goes_round_trip(msg_id, target, kind, text):
    action = p.Action(msg_id, kind, target, text, msg_id)
    assert p.decode_body(p.encode_action(action)) == action


@given(
    kind=st.sampled_from([ActionKind.TOPIC, ActionKind.PASSWORD]),
    text=st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=100),
)
def test_a_room_wide_action_goes_round_trip(kind, text):
    action = p.Action(9, kind, 0, text, 3)
    assert p.decode_body(p.encode_action(action)) == action


@given(code=st.integers(0, 255), text=st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=100))
def test_a_refusal_goes_round_trip(code, text):
    refused = p.Refused(77, code, text)
    assert p.decode_body(p.encode_refused(refused)) == refused


def test_the_bytes_of_a_delete_and_a_refusal():
    assert p.encode_action(p.Action(5, ActionKind.DELETE, 40, "", 4)) == bytes.fromhex(
        "ff010900000005000000040500000028"
    )
    assert p.encode_refused(p.Refused(5, 7, "gone")) == bytes.fromhex("ff011a0000000507") + b"gone"


HEAD = bytes.fromhex("ff0109")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (HEAD + bytes(12), "action frame is shorter than its fixed fields"),
        (HEAD + bytes.fromhex("00000001 00000001 63 00000000".replace(" ", "")), "unknown action 99"),
        (
            HEAD + bytes.fromhex("00000001 00000002 01 00000005".replace(" ", "")) + b"x",
            "action floor is above its own id",
        ),
        (HEAD + bytes.fromhex("00000001 00000001 01 00000000".replace(" ", "")) + b"x", "reply needs target"),
        (HEAD + bytes.fromhex("00000001 00000001 06 00000005".replace(" ", "")) + b"x", "topic takes no target"),
        (HEAD + bytes.fromhex("00000001 00000001 04 00000005".replace(" ", "")), "edit has no text"),
        (HEAD + bytes.fromhex("00000001 00000001 05 00000005".replace(" ", "")) + b"x", "delete carries text"),
        (
            HEAD + bytes.fromhex("00000001 00000001 02 00000005".replace(" ", "")) + b"a b",
            "a reaction is one emoji of at most 32 bytes",
        ),
        (
            HEAD + bytes.fromhex("00000001 00000001 06 00000000".replace(" ", "")) + b"x" * 301,
            "a topic is at most 300 bytes",
        ),
        (
            HEAD + bytes.fromhex("00000001 00000001 01 00000005".replace(" ", "")) + b"\xff",
            "action text is not valid UTF-8",
        ),
        (bytes.fromhex("ff011a0000000105") + b"\xff", "refusal text is not valid UTF-8"),
        (bytes.fromhex("ff011a000000"), "refused frame is shorter than its fixed fields"),
        (HEAD + bytes.fromhex("00000001 00000001 05 00000005".replace(" ", "")) + b"x", "delete carries text"),
    ],
)
def test_each_malformed_action_is_refused_with_its_reason(body, reason):
    with pytest.raises(p.RemoteProtocolError) as caught:
        p.decode_body(body)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("decode", "text", "reason"),
    [
        (p.decode_reaction_text, '{"to": 3, "emoji": "", "on": true}', "reaction event's emoji is empty or too long"),
        (p.decode_reaction_text, '{"to": 3, "on": true}', "reaction event has no 'emoji' text"),
        (p.decode_reaction_text, '{"to": 3, "emoji": "👍", "on": 1}', "reaction event has no 'on' flag"),
        (p.decode_reaction_text, '{"emoji": "👍", "on": true}', "reaction event names no message"),
        (p.decode_reply_text, '{"to": 3}', "reply event has no 'text' text"),
        (p.decode_edit_text, '{"to": 3, "text": 4}', "edit event has no 'text' text"),
        (p.decode_delete_text, '{"to": 3}', "delete event has no 'by_host' flag"),
        (p.decode_delete_text, '{"to": 4294967296, "by_host": false}', "delete event names no message"),
    ],
)
def test_each_malformed_event_text_is_refused(decode, text, reason):
    with pytest.raises(p.RemoteProtocolError) as caught:
        decode(text)
    assert caught.value.reason == reason


def test_an_events_edited_and_deleted_flags_go_round_trip_by_udp_and_by_sync():
    for edited, deleted in ((True, False), (False, True)):
        event = p.Event(3, 1000, p.EventType.CHAT, "ann", "x" if edited else "", False, edited, deleted)
        assert p.decode_body(p.encode_event(event)) == event
        assert p.event_from_json(p.event_to_json(event)) == p.Event(
            3, 1000, p.EventType.CHAT, "ann", event.text, True, edited, deleted
        )
    assert "edited" not in p.event_to_json(
        p.Event(3, 1000, p.EventType.CHAT, "ann", "x")
    )  # older readers see no change


def test_a_requests_features_are_a_short_list_of_words():
    request = p.RoomRequest("", token="t", features=("actions", "pieces"))
    assert p.decode_request(p.encode_request(request)).features == ("actions", "pieces")
    for bad in ('{"token": "t", "features": "actions"}', '{"token": "t", "features": [1]}'):
        with pytest.raises(p.RemoteProtocolError, match="features"):
            p.decode_request(bad.encode())


def test_the_limits_of_an_action_hold_at_their_edges():
    def frame(kind: ActionKind, target: int, text: bytes) -> bytes:
        return HEAD + bytes.fromhex("0000000100000001") + bytes((kind,)) + target.to_bytes(4, "big") + text

    emoji32 = "👍".encode() * 8  # 32 bytes
    assert p.decode_body(frame(ActionKind.REACT, 5, emoji32)).text == "👍" * 8
    with pytest.raises(p.RemoteProtocolError, match="at most 32 bytes"):
        p.decode_body(frame(ActionKind.UNREACT, 5, emoji32 + b"x"))
    assert p.decode_body(frame(ActionKind.TOPIC, 0, b"x" * 300)).text == "x" * 300
    assert p.decode_body(frame(ActionKind.TOPIC, 0, b"")).text == ""
    assert p.decode_body(frame(ActionKind.PASSWORD, 0, b"")).text == ""
    assert p.decode_body(frame(ActionKind.DELETE, 2**32 - 1, b"")).target == 2**32 - 1
    with pytest.raises(p.RemoteProtocolError, match="remove has no text"):
        p.decode_body(frame(ActionKind.REMOVE, 0, b""))
    tab = frame(ActionKind.REACT, 5, "👍\t".encode())
    with pytest.raises(p.RemoteProtocolError, match="one emoji"):
        p.decode_body(tab)


def test_the_event_texts_at_their_edges():
    assert p.decode_reaction_text('{"to": 4294967295, "emoji": "' + "👍" * 8 + '", "on": false}') == p.ReactionText(
        4294967295, "👍" * 8, False
    )
    with pytest.raises(p.RemoteProtocolError, match="emoji is empty or too long"):
        p.decode_reaction_text('{"to": 1, "emoji": "' + "👍" * 9 + '", "on": true}')
    with pytest.raises(p.RemoteProtocolError, match="reaction event has no 'on' flag"):
        p.decode_reaction_text('{"to": 1, "emoji": "👍"}')
    with pytest.raises(p.RemoteProtocolError, match="edit event names no message"):
        p.decode_edit_text('{"to": -1, "text": "x"}')
    with pytest.raises(p.RemoteProtocolError, match="reply event text is not an object"):
        p.decode_reply_text("[1, 2]")
    with pytest.raises(p.RemoteProtocolError, match="delete event text is not JSON"):
        p.decode_delete_text("{")
    assert p.encode_delete_text(p.DeleteText(9, True)) == '{"to":9,"by_host":true}'
    assert p.encode_edit_text(p.EditText(9, "é")) == '{"to":9,"text":"é"}'  # UTF-8 as is, no escapes
