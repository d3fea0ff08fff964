"""What a direct message costs (issue 27), against a room message of the same size, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/direct.py             # under a minute on 2 cores
    PYTHONPATH=. .venv/bin/python benchmarks/direct.py --repeats 3 # a quicker look

1. On the people's PCs: `DirectKeys.seal` (an ephemeral X25519 key, two exchanges, HKDF,
   AES-GCM) and `DirectKeys.open` (two exchanges, HKDF, AES-GCM, and the sender's message id
   written to the people file, SQLite with synchronous=FULL, in a temporary folder) for a
   100-byte and a 3,000-byte text. `PersonalKey.open` alone shows the crypto without the write.
   The baseline is what every room datagram of that size costs: `SealedChannel.seal` of a CHAT
   and `SealedChannel.open` plus decoding of an EVENT. A direct message is also sent in such a
   datagram, so its cost is the direct figure on top of the baseline's. Wall time per message.
2. On the server: `RoomRegistry.handle_datagrams` for a DIRECT to a present recipient, then the
   recipient's MAIL_GOT, then the sender's MAIL_GOT for its receipt (three datagrams), against
   the same registry relaying a CHAT to the room of 3 (the members' acknowledgements, sent at
   most every 50 ms, are left out). In memory and with a RoomStore in a temporary folder, one
   datagram per call (a quiet server: a transaction each) and in bursts of 64 (a busy one).
   The server never opens the sealed text, so one real sealed text is sent under fresh ids.
   CPU time of this process per message, the timer's own cost taken off.

Each figure is the median of several repeats, ours and the baseline's taking turns.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from private_home import use_private_home

from ocm_core import wire as p
from ocm_core.crypto.direct import PersonalKey, Sealed
from ocm_core.crypto.identity import ServerIdentity
from ocm_core.crypto.sealed import MemberKeys, SealedChannel, key_proof
from ocm_core.net.direct import DirectKeys
from ocm_core.sansio.registry import RoomRegistry
from ocm_core.sansio.room import Limits, Transport
from ocm_core.storage.directbook import DirectBook
from ocm_core.storage.roomstore import RoomStore
from ocm_core.wire import MailKind

ROOM = "lobby"
LINE = "Could you look at the slides before the meeting at three? The build is green again, thanks! "
SIZES = (100, 3000)


def text_of(size: int) -> str:
    return (LINE * (size // len(LINE) + 1))[:size]


def per_message(work: Callable[[int], object], count: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Microseconds per call of `work(i)` for i in range(count)."""
    started = clock()
    for i in range(count):
        work(i)
    return (clock() - started) / count * 1e6


# --- 1. the people's PCs ----------------------------------------------------------------------


def client_figures(folder: Path, size: int, count: int, repeats: int) -> dict[str, list[float]]:
    text = text_of(size)
    alice = DirectKeys(PersonalKey.generate(), DirectBook(folder / f"alice-{size}.db"))
    bob = DirectKeys(PersonalKey.generate(), DirectBook(folder / f"bob-{size}.db"))
    now_ms = int(time.time() * 1000)

    def mail(direct: p.Direct) -> p.Mail:
        return p.Mail(1, MailKind.MESSAGE, now_ms, direct.msg_id, alice.public, "alice", direct.sealed)

    assert bob.open("server", mail(alice.seal("bob", bob.public, text)))[1]  # learns alice's key: one write, once
    member_key = bytes(range(32))
    client, server = SealedChannel.for_client(member_key), SealedChannel.for_server(member_key, 1)
    to_server, to_client = p.datagram_header(ROOM.encode(), b"t" * 24), p.datagram_header(ROOM.encode(), b"")
    cut = len(to_client)

    def runs(mails: list[p.Mail], events: list[bytes]) -> dict[str, Callable[[int], object]]:
        return {
            "room: SealedChannel.seal a CHAT": lambda i: client.seal(to_server, p.encode_chat(i + 1, text)),
            "direct: DirectKeys.seal": lambda i: alice.seal("bob", bob.public, text),
            "room: SealedChannel.open an EVENT": lambda i: p.decode_body(client.open(to_client, events[i][cut:])),
            "direct: PersonalKey.open (crypto alone)": lambda i: p.decode_direct_text(
                bob.personal.open(alice.public, mails[i].msg_id, Sealed.from_bytes(mails[i].sealed))
            ),
            "direct: DirectKeys.open (+ seen id, FULL)": lambda i: bob.open("server", mails[i]),
        }

    figures: dict[str, list[float]] = {}
    for _repeat in range(repeats):  # fresh ids and nonces each time: what was opened once is refused
        mails = [mail(alice.seal("bob", bob.public, text)) for _ in range(count)]
        events = [
            server.seal(to_client, p.encode_event(p.Event(i + 1, now_ms, p.EventType.CHAT, "alice", text)))
            for i in range(count)
        ]
        for label, work in runs(mails, events).items():
            figures.setdefault(label, []).append(per_message(work, count))
    assert bob.refused == 0 and alice.refused == 0
    alice.close()
    bob.close()
    return figures


# --- 2. the server ----------------------------------------------------------------------------


class Person:
    def __init__(self, registry: RoomRegistry, keys: MemberKeys, name: str, n: int):
        self.name, self.address, ip = name, (f"10.0.0.{n}", 5000 + n), f"10.0.0.{n}"
        self.personal = PersonalKey.generate()
        key, sealed = self.personal.public, Transport.SEALED
        if n == 1:
            self.token = registry.create_room(ROOM, name, ip, wire=sealed, direct_key=key)
        else:
            self.token, _ = registry.join_room(ROOM, name, ip, wire=sealed, direct_key=key)
        member_key = keys.key_for(self.token)
        challenge = keys.direct_challenge(self.token).public
        proof = self.personal.prove(challenge, self.token, keys.fingerprint)
        registry.snapshot(self.token, ip, ROOM, key_proof(member_key), proof)
        self.channel = SealedChannel.for_client(member_key)
        self.header = p.datagram_header(ROOM.encode(), self.token)
        self.next_chat = 1

    def datagram(self, body: bytes) -> tuple[p.Datagram, tuple[str, int]]:
        return p.decode_datagram(self.channel.seal(self.header, body)), self.address

    def mail_ids(self, out: list, kind: MailKind) -> list[int]:
        """The ids of the MAILs of `kind` the server addressed to us in `out`, opened as our client would."""
        ids = []
        for address, data in out:
            if address == self.address:
                body = p.decode_datagram(data).body
                frame = p.decode_body(self.channel.open(data[: len(data) - len(body)], body))
                if isinstance(frame, p.Mail) and frame.kind is kind:
                    ids.append(frame.mail_id)
        return ids


def server_figures(
    store_path: Path | None, size: int, burst: int, count: int, repeats: int, overhead: float
) -> dict[str, list]:
    keys = MemberKeys(ServerIdentity.generate(), 1)
    limits = Limits(rate_per_second=1e9, rate_burst=10**9)  # the flood limit never bites
    store = RoomStore(store_path) if store_path is not None else None
    registry = RoomRegistry(limits=limits, store=store, member_keys=keys)
    alice, bob, carol = (Person(registry, keys, name, n) for n, name in enumerate(("alice", "bob", "carol"), 1))
    for person in (alice, bob, carol):
        registry.handle_datagrams([person.datagram(p.encode_heartbeat(0))])
    text = text_of(size)
    sealed = alice.personal.seal(bob.personal.public, 1, p.encode_direct_text(p.DirectText(0, text))).to_bytes()
    next_id = iter(range(1, 1 << 62))
    spent = [0.0]

    def handle(batch: list) -> list:
        started = time.process_time()
        out = registry.handle_datagrams(batch)
        spent[0] += time.process_time() - started - overhead
        return out

    def direct_burst(n: int) -> int:
        bodies = [p.encode_direct(p.Direct(next(next_id), bob.personal.public, "bob", sealed)) for _ in range(n)]
        mails = bob.mail_ids(handle([alice.datagram(b) for b in bodies]), MailKind.MESSAGE)
        receipts = alice.mail_ids(handle([bob.datagram(p.encode_mail_got(m)) for m in mails]), MailKind.DELIVERED)
        handle([alice.datagram(p.encode_mail_got(r)) for r in receipts])
        return len(receipts)

    def chat_burst(n: int) -> int:
        batch = []
        for _ in range(n):
            batch.append(alice.datagram(p.encode_chat(alice.next_chat, text)))
            alice.next_chat += 1
        out = handle(batch)
        return sum(1 for address, _ in out if address != alice.address) // 2  # two deliveries a message

    figures: dict[str, list] = {"direct": [], "room chat": []}
    for _repeat in range(repeats):
        for label, work in (("direct", direct_burst), ("room chat", chat_burst)):
            spent[0], done = 0.0, 0
            for _ in range(count // burst):
                done += work(burst)
            assert done == count // burst * burst, f"{label}: {done} of {count // burst * burst} went through"
            figures[label].append(spent[0] / done * 1e6)
    assert not registry.dropped, registry.dropped
    if store is not None:
        store.close()
    return figures


def timer_overhead() -> float:
    """What one pair of process_time() calls costs, in seconds (taken off each timed call)."""
    samples = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(2000):
            time.process_time()
        samples.append((time.process_time() - started) / 2000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    use_private_home()  # nothing it starts writes in the user's own folders
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--messages", type=int, default=512, help="per repeat and figure (half on the PCs)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    code = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    with tempfile.TemporaryDirectory(prefix="ocm-bench-direct-") as scratch:
        folder = Path(scratch)
        fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", scratch], capture_output=True, text=True).stdout
        where = f"temporary folder on {fs.strip() or '?'}"
        print(f"code {code.stdout.strip() or '?'}; {where}; median of {args.repeats} repeats")
        print("\n1. per message on the PCs (wall time)")
        print(f"   {'':44}" + "".join(f"{f'{size:,} B text':>24}" for size in SIZES))
        rows: dict[str, list[str]] = {}
        for size in SIZES:
            for label, spent in client_figures(folder, size, args.messages // 2, args.repeats).items():
                us = statistics.median(spent)
                rows.setdefault(label, []).append(f"{us:8.1f} us {1e6 / us:9,.0f}/s")
        for label, cells in rows.items():
            print(f"   {label:44}" + "".join(f"{cell:>24}" for cell in cells))

        overhead = timer_overhead()
        print(f"\n2. server CPU per message (us), a room of 3; timer cost {overhead * 1e6:.2f} us a call, taken off")
        print(f"   {'store':8}{'datagrams a call':>18}{'text':>9}{'direct':>10}{'room chat':>11}{'ratio':>8}")
        for where in ("memory", "disk"):
            for burst in (1, 64):
                for size in SIZES:
                    path = folder / f"rooms-{size}-{burst}.db" if where == "disk" else None
                    both = server_figures(path, size, burst, args.messages, args.repeats, overhead)
                    direct, chat = statistics.median(both["direct"]), statistics.median(both["room chat"])
                    print(
                        f"   {where:8}{burst:>18}{f'{size:,} B':>9}{direct:10.1f}{chat:11.1f}{direct / chat:7.1f}x",
                        flush=True,
                    )
    print(f"\nwhole run {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
