"""What a long message costs (issue 28), against the same text as one-datagram messages, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/long_messages.py             # about half a minute
    PYTHONPATH=. .venv/bin/python benchmarks/long_messages.py --repeats 3 # a quicker look

A real ChatServer and two real ChatClients on loopback (sealed, as always). Ours: one Japanese
text of 60,000 characters (180,000 bytes of UTF-8) sent with `send()`, in pieces, until the
other client's app is handed the whole message. The baseline: the same text cut into
one-datagram messages (about 1,300 characters each) sent one after another, until the other
client has the last of them, the way a person had to send it before. Wall time, the median of
the repeats, ours and the baseline's taking turns; the baseline is limited by the server's
message rate (20 a second, burst 50), the long message by its own (a long message spends as
many tokens as its pieces, at most the burst).
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from private_home import use_private_home

CHARACTERS = 60_000


def wait_for(client, wanted, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            event = client.events.get(timeout=0.05)
        except queue.Empty:
            continue
        if wanted(event):
            return
    raise SystemExit("timed out waiting for the message")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    use_private_home()
    from ocm_core.net.client import ChatClient
    from ocm_core.net.direct import DirectKeys
    from ocm_core.net.server import ChatServer
    from ocm_core.sansio import events as ev

    keys = Path(tempfile.mkdtemp(prefix="ocm-bench-keys-"))
    server = ChatServer("127.0.0.1", 0, 0)
    server.start()
    port = server.tcp_address[1]
    alice = ChatClient("127.0.0.1", port, direct=DirectKeys.load(keys / "alice"))
    alice.create_room("bench", "alice")
    bob = ChatClient("127.0.0.1", port, direct=DirectKeys.load(keys / "bob"))
    bob.join_room("bench", "bob")
    text = ("議事録の共有です" * (CHARACTERS // 8 + 1))[:CHARACTERS]
    chunk = alice.max_message_bytes if not alice._session.speaks_pieces else 3900  # one datagram's worth
    step = chunk // 3  # Japanese: three bytes a character
    parts = [text[i : i + step] for i in range(0, len(text), step)]
    print(
        f"{CHARACTERS:,} characters, {len(text.encode()):,} bytes; baseline: {len(parts)} messages of {step} characters"
    )

    def long_once(round_no: int) -> float:
        marked = f"{round_no}:" + text
        started = time.monotonic()
        alice.send(marked)
        wait_for(bob, lambda e: isinstance(e, ev.ChatMessage) and e.text == marked, started + 60)
        return time.monotonic() - started

    def parts_once(round_no: int) -> float:
        started = time.monotonic()
        for part in parts[:-1]:
            alice.send(part)
        last = f"{round_no}:" + parts[-1]
        alice.send(last)
        wait_for(bob, lambda e: isinstance(e, ev.ChatMessage) and e.text == last, started + 60)
        return time.monotonic() - started

    ours, baseline = [], []
    for round_no in range(args.repeats):
        time.sleep(3)  # the message rate's burst refills between rounds
        ours.append(long_once(round_no))
        time.sleep(3)
        baseline.append(parts_once(round_no))
    for label, times in (("one long message (pieces)", ours), (f"{len(parts)} one-datagram messages", baseline)):
        print(f"{label:30s} median {statistics.median(times):.3f} s  (min {min(times):.3f}, max {max(times):.3f})")
    for client in (alice, bob):
        client.leave()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
