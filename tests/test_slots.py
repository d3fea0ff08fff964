"""Which waiting TCP connections are given up, on a fake clock: per address, when the server
is full (the greediest address first), never one younger than the grace, and when a handshake
or a request is late."""

from __future__ import annotations

from ocm_core.sansio.slots import WaitingConnections


def test_an_address_keeps_at_most_its_share_of_stale_waiting_connections_its_oldest_goes_first():
    slots = WaitingConnections(total=100, per_address=3, grace=1.0)
    assert [slots.admit(f"a{i}", "10.0.0.1", float(i), open_total=i) for i in range(3)] == [(True, [])] * 3
    assert slots.admit("a3", "10.0.0.1", 3.0, open_total=3) == (True, ["a0"])
    assert slots.admit("a4", "10.0.0.1", 4.0, open_total=3) == (True, ["a1"])
    assert slots.waiting_from("10.0.0.1") == 3 and len(slots) == 3
    assert slots.admit("b0", "10.0.0.2", 5.0, open_total=3) == (True, [])  # another address is not touched


def test_young_connections_are_never_given_up_parallel_requests_from_one_address_all_wait():
    slots = WaitingConnections(total=100, per_address=3, grace=1.0)
    assert all(slots.admit(i, "10.0.0.1", 0.01 * i, open_total=i) == (True, []) for i in range(50))
    assert slots.waiting_from("10.0.0.1") == 50
    full = WaitingConnections(total=2, grace=1.0)
    full.admit("x", "10.0.0.1", 0.0, open_total=0)
    full.admit("y", "10.0.0.2", 0.0, open_total=1)
    assert full.admit("z", "10.0.0.3", 0.5, open_total=2) == (False, [])  # nobody is stale: refused
    assert full.admit("z", "10.0.0.3", 1.0, open_total=2) == (True, ["x"])
    capped = WaitingConnections(total=100, grace=1.0)
    capped.admit("own", "10.0.0.1", 0.0, open_total=0)
    assert capped.admit("more", "10.0.0.1", 0.5, open_total=1, address_full=True) == (False, [])
    assert capped.admit("more", "10.0.0.1", 1.5, open_total=1, address_full=True) == (True, ["own"])


def test_a_full_server_gives_up_the_greediest_addresses_oldest_stale_connection():
    slots = WaitingConnections(total=6, per_address=8, grace=1.0)
    for i in range(4):
        slots.admit(f"s{i}", "10.6.6.6", float(i), open_total=i)
    slots.admit("t0", "10.7.7.7", 4.0, open_total=4)
    slots.admit("t1", "10.7.7.7", 5.0, open_total=5)
    assert slots.admit("legit", "10.0.0.1", 6.0, open_total=6) == (True, ["s0"])
    assert slots.admit("legit2", "10.0.0.1", 7.0, open_total=6) == (True, ["s1"])
    # a tie of three addresses at two each: the longest waiting of the others', never the newcomer's
    assert slots.admit("legit3", "10.0.0.1", 8.0, open_total=6) == (True, ["s2"])
    assert slots.waiting_from("10.0.0.1") == 3
    assert slots.admit("free", "10.0.0.9", 9.0, open_total=5) == (True, [])  # a free slot: nothing goes


def test_a_late_handshake_goes_after_its_seconds_a_late_request_after_more():
    slots = WaitingConnections(total=10, handshake_seconds=5.0, request_seconds=10.0)
    slots.admit("stalled", "10.6.6.6", 0.0, open_total=0)
    slots.admit("slow", "10.0.0.1", 0.0, open_total=1)
    slots.handshaken("slow")
    assert slots.overdue(5.0) == []
    assert slots.overdue(5.01) == ["stalled"]
    assert slots.overdue(10.0) == []
    assert slots.overdue(10.01) == ["slow"]
    assert len(slots) == 0
    short = WaitingConnections(total=10, handshake_seconds=5.0, request_seconds=2.0)
    short.admit("half", "10.0.0.1", 0.0, open_total=0)
    assert short.overdue(2.01) == ["half"]  # the request's time bounds the handshake's too


def test_a_connection_that_is_done_frees_its_place_once():
    slots = WaitingConnections(total=10, per_address=1)
    slots.admit("a", "10.0.0.1", 0.0, open_total=0)
    slots.done("a")
    slots.done("a")
    slots.handshaken("a")  # gone: nothing happens
    assert slots.waiting_from("10.0.0.1") == 0 and slots.admit("b", "10.0.0.1", 1.0, open_total=0) == (True, [])
    assert slots.overdue(100.0) == ["b"]


def test_a_server_clock_far_from_zero_judges_age_not_time_of_day():
    # A monotonic clock reads days or weeks on a server that has been up: only the difference counts.
    up = 1_000_000.0
    slots = WaitingConnections(total=2, per_address=1, grace=0.5)
    slots.admit("first", "10.0.0.1", up, open_total=0)
    assert slots.admit("retry", "10.0.0.1", up + 0.25, open_total=1) == (True, [])  # the first is too young to go
    assert slots.admit("new", "10.0.0.3", up + 0.25, open_total=2) == (False, [])  # full, nobody stale


def test_a_connection_exactly_the_grace_old_is_stale():
    slots = WaitingConnections(total=10, per_address=1, grace=0.5)
    slots.admit("first", "10.0.0.1", 100.0, open_total=0)
    assert slots.admit("retry", "10.0.0.1", 100.5, open_total=1) == (True, ["first"])


def test_a_full_server_spares_an_address_with_fewer_waiting_even_when_it_waited_longest():
    slots = WaitingConnections(total=3, per_address=8, grace=1.0)
    slots.admit("quiet", "10.0.0.2", 0.0, open_total=0)  # the longest waiting, but one of one
    slots.admit("g0", "10.6.6.6", 1.0, open_total=1)
    slots.admit("g1", "10.6.6.6", 2.0, open_total=2)
    assert slots.admit("new", "10.0.0.3", 5.0, open_total=3) == (True, ["g0"])
    assert slots.waiting_from("10.0.0.2") == 1


def test_an_address_with_two_waiting_still_counts_one_after_the_first_is_done():
    slots = WaitingConnections(total=10, per_address=2, grace=1.0)
    slots.admit("a", "10.0.0.1", 0.0, open_total=0)
    slots.admit("b", "10.0.0.1", 0.0, open_total=1)
    slots.done("a")
    assert slots.waiting_from("10.0.0.1") == 1
    slots.admit("c", "10.0.0.1", 5.0, open_total=1)
    assert slots.admit("d", "10.0.0.1", 5.0, open_total=2) == (True, ["b"])  # two waiting again: the stale one goes
