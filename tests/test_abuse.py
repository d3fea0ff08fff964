"""Abuse from many addresses and forged sources: the reply-size bound, the rooms-per-address
cap and the fair password queue. Registry cases on a fake clock; the rest on real sockets."""

from __future__ import annotations

import collections
import socket
import threading
import time

import pytest
from support import wait_until

from ocm_core import errors
from ocm_core import wire as p
from ocm_core.wire import Operation, Status


@pytest.fixture
def server(plain_server):
    """The raw requests here are plain TCRP, so the server admits them (as with --allow-plain);
    our own clients still come encrypted."""
    return plain_server


# --- password guesses from many addresses, a legitimate join timed meanwhile ----------------


def test_guesses_from_120_addresses_do_not_hold_up_other_rooms_joins(server, make_client):
    from test_security import request, tcrp  # raw TCRP from a chosen loopback source

    port = server.tcp_address[1]
    make_client().create_room("target", "owner", "the real one")
    make_client().create_room("quiet", "owner2", "quiet secret")
    make_client().create_room("open", "owner3")
    stop = threading.Event()
    outcomes: collections.Counter[str] = collections.Counter()
    addresses = [f"127.0.3.{i + 1}" for i in range(120)]

    def guess(mine: list[str]) -> None:
        n = 0
        while not stop.is_set():
            source = mine[n % len(mine)]
            n += 1
            try:
                status, _, _ = tcrp(port, Operation.JOIN, "target", request(f"g{n}", f"guess {n}"), source=source)
                outcomes[status.name] += 1
            except (OSError, AssertionError) as exc:
                outcomes[type(exc).__name__] += 1

    threads = [threading.Thread(target=guess, args=(addresses[i::12],), daemon=True) for i in range(12)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: sum(outcomes.values()) > 100, 20, "the guessing to be under way")
        timings = {}
        for room, password in (("quiet", "quiet secret"), ("open", None)):
            client = make_client(timeout=5.0)
            started = time.monotonic()
            client.join_room(room, f"legit-{room}", password)  # within the client's 5 s, or it raises
            timings[room] = time.monotonic() - started
        # The room under attack itself is contended: a member gets in, or is told when to try again.
        started = time.monotonic()
        try:
            make_client(timeout=5.0).join_room("target", "legit-target", "the real one")
            timings["target"] = time.monotonic() - started
        except errors.TryAgainLater as exc:
            assert exc.seconds >= 1 and f"try again in {exc.seconds} s" in str(exc)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    print(
        f"\n{sum(outcomes.values())} guesses from {len(addresses)} addresses ({dict(outcomes)}); legit joins: "
        + ", ".join(f"{room} {seconds * 1000:.0f} ms" for room, seconds in timings.items())
    )
    assert outcomes["WRONG_PASSWORD"] > 0 and outcomes["TRY_LATER"] + outcomes["TOO_MANY_ATTEMPTS"] > 0


def test_one_address_hosts_at_most_a_handful_of_rooms(server, make_client):
    cap = server.registry.limits.max_rooms_per_address
    for i in range(cap):
        make_client().create_room(f"mine {i}", "me")
    with pytest.raises(errors.ServerFull, match=f"already hosts {cap} rooms"):
        make_client().create_room("one too many", "me")


# --- a join over a bad link leaves no ghost ---------------------------------------------------


def test_a_join_whose_answer_is_lost_is_answered_again_with_the_same_token(server, make_client):
    from test_security import answer_of, connect, read_to_end

    make_client().create_room("lossy", "host")
    port = server.tcp_address[1]
    payload = p.encode_request(p.RoomRequest("traveller", request_id="retry-me"))
    with connect(port, "127.0.0.1") as sock:  # the answer is never read: lost on the way
        sock.sendall(p.encode_tcrp(Operation.JOIN, p.State.REQUEST, "lossy", payload))
    wait_until(lambda: "traveller" in server.registry.members("lossy"), 5, "the first join")
    with connect(port, "127.0.0.1") as sock:
        sock.sendall(p.encode_tcrp(Operation.JOIN, p.State.REQUEST, "lossy", payload))
        sock.shutdown(socket.SHUT_WR)
        status, detail, token = answer_of(read_to_end(sock))
    assert status is Status.OK, detail
    assert server.registry.members("lossy") == ["host", "traveller"]
    assert server.registry.snapshot(token, "127.0.0.1", "lossy")["members"] == ["host", "traveller"]


# --- the chat rate counts what was written, not a catch-up after a gap -------------------------
