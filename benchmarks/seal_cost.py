"""What sealing costs the relay per delivery, measured in-process without sockets.

    .venv/bin/python benchmarks/seal_cost.py            # rooms of 10 and 100, sealed and plain

The registry alone (no sockets, no threads, no store) relays CHAT datagrams from members of
one room: each is opened once and sealed once per recipient (acknowledgements, which cost one
open each, are left out). The same work is timed with sealed members and with plain ones, alternating runs so that other
work on a shared machine touches both alike. CPU time of this process per delivery is what
is reported: the relay's own cost, independent of the kernel's UDP path.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from private_home import use_private_home

from ocm_core import wire as p
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.sealed import MemberKeys, SealedChannel
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Limits, Transport

TEXT = "hello from the relay benchmark #000000001@0000000000000000001"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def one_run(members: int, sealed: bool, messages: int) -> float:
    """CPU microseconds per delivery for `messages` chats in a room of `members`."""
    clock = Clock()
    keys = MemberKeys(ServerIdentity.generate(), 1)
    limits = Limits(rate_per_second=1e9, rate_burst=10**9)
    registry = RoomRegistry(clock=clock, wall_clock=clock, limits=limits, member_keys=keys)
    wire = Transport.SEALED if sealed else Transport.PLAIN
    room = b"bench"
    senders = []
    for j in range(members):
        name = f"m{j:03d}"
        if j == 0:
            token = registry.create_room("bench", name, "127.0.0.1", wire=wire)
        else:
            token, _ = registry.join_room("bench", name, "127.0.0.1", wire=wire)
        channel = SealedChannel.for_client(keys.key_for(token)) if sealed else None
        header = p.datagram_header(room, token)
        seal = (lambda body, c=channel, h=header: c.seal(h, body)) if sealed else (lambda body, h=header: h + body)
        senders.append((seal, ("127.0.0.1", 20000 + j)))
        registry.handle_datagram(p.decode_datagram(seal(p.encode_heartbeat(0))), ("127.0.0.1", 20000 + j))
    batch = []
    for k in range(messages):
        seal, address = senders[k % members]
        msg_id = k // members + 1
        batch.append((p.decode_datagram(seal(p.encode_chat(msg_id, TEXT, msg_id))), address))
    delivered = 0
    started = time.process_time()
    for start in range(0, len(batch), 64):  # the server hands over bursts of up to 64
        out = registry.handle_datagrams(batch[start : start + 64])
        delivered += sum(1 for _, data in out if len(data) > 60)  # events, not the sender's acks
        clock.now += 0.001
    took = time.process_time() - started
    return took / delivered * 1e6


def main(argv: list[str] | None = None) -> int:
    use_private_home()  # nothing it starts writes in the user's own folders
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    for members in (10, 100):
        figures = {True: [], False: []}
        for _ in range(args.runs):
            for sealed in (True, False):
                figures[sealed].append(one_run(members, sealed, args.messages))
        sealed, plain = statistics.median(figures[True]), statistics.median(figures[False])
        print(
            f"room of {members:3d}: sealed {sealed:5.2f} us/delivery, plain {plain:5.2f} us/delivery, "
            f"sealing adds {sealed - plain:4.2f} us ({sealed / plain:.2f}x); median of {args.runs} runs",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
