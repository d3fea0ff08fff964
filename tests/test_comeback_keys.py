"""A member that comes back from a new process (the app started again, the terminal client run
again) joins afresh: a new token, so a new sealing key, whose counter may start at 1 again
without any nonce repeating under a key. Tokens are never written to disk for that reason."""

from __future__ import annotations

from ocm_core.crypto.sealed import SealedChannel


def test_each_join_under_one_name_seals_with_a_key_of_its_own(make_client):
    host = make_client()
    host.create_room("desk", "Ann")
    keys, tokens, first_datagrams = [], [], []
    for _attempt in range(3):
        member = make_client()
        member.join_room("desk", "Bo")
        keys.append(member._key)
        tokens.append(member._token)
        header = b"same header"
        # The first datagram each process seals: counter 1 every time, so only the key tells them apart.
        first_datagrams.append(SealedChannel.for_client(member._key).seal(header, b"hello"))
        member.leave()
    assert len(set(keys)) == 3 and len(set(tokens)) == 3
    assert len(set(first_datagrams)) == 3
