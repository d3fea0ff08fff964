"""A registry and its members' sessions in memory (tests/pair.py): ordering, re-sends and
duplicates over a bad link, replays, all on a fake clock."""

from __future__ import annotations

import pytest
from pair import Pair


def test_three_members_over_a_clean_link_see_every_message_once_in_order():
    pair = Pair()
    for name in ("alice", "bob", "carol"):
        pair.join(name)
    pair.run(1.0)
    sent = [pair.send("alice", f"a{i}") for i in range(5)]
    pair.run(1.0)
    assert pair.chat_seen_by("bob") == pair.chat_seen_by("carol") == [f"a{i}" for i in range(5)]
    assert pair.acknowledged("alice") == set(sent)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_lossy_duplicating_reordering_link_delivers_every_message_once_in_each_senders_order(seed):
    pair = Pair(seed=seed, loss=0.3, duplicate=0.1, delay=0.2)
    for name in ("alice", "bob", "carol"):
        pair.join(name)
    pair.run(2.0)
    sent = {name: [] for name in ("alice", "bob")}
    for i in range(30):
        for name in sent:
            sent[name].append(pair.send(name, f"{name} {i}"))
        pair.run(0.1)
    pair.run(60.0)  # re-sends and resends, until everything is through
    for reader in ("alice", "bob", "carol"):
        seen = pair.chat_seen_by(reader)
        assert len(seen) == len(set(seen))  # nothing twice
        for writer in sent:
            if writer != reader:
                assert [t for t in seen if t.startswith(writer)] == [f"{writer} {i}" for i in range(30)]
    assert all(pair.acknowledged(name) >= set(ids) for name, ids in sent.items())
    assert pair.lost > 50 and pair.duplicated > 10  # the link did what it was asked to


def test_a_capture_replayed_into_the_registry_opens_nothing_new():
    pair = Pair()
    pair.join("alice")
    pair.join("bob")
    pair.run(1.0)
    pair.send("bob", "once")
    pair.run(1.0)
    before = list(pair.chat_seen_by("alice"))
    dropped = pair.registry.dropped["datagram does not open"]
    out = pair.registry.handle_datagrams([(p_dg, address) for p_dg, address in _captured(pair)])
    assert out == [] and pair.registry.dropped["datagram does not open"] > dropped
    pair.run(1.0)
    assert pair.chat_seen_by("alice") == before == ["once"]


def _captured(pair: Pair):
    from ocm_core import wire as p

    return [(p.decode_datagram(data), address) for data, address in pair.to_server]
