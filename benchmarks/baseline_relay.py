"""The least a Python UDP relay can do: the yardstick that benchmarks/relay.py measures our server against.

Receive a datagram, send it to every other address seen in the same room, nothing else:
no decoding, no tokens, no acknowledgements, no sequence numbers, no locks, no logging.
The one concession to the benchmark's multi-room load is that the room key is the
datagram's first 2 + N bytes (the room-name length byte, the token length byte and the
room name, sliced, never checked), so a room of 10 among 100 rooms fans out to 9 peers,
as our server does, and not to 999.

Run on its own it prints the port it listens on and relays until it is stopped or
`--lifetime` seconds have passed (so it never outlives a benchmark that crashed):

    python benchmarks/baseline_relay.py --host 127.0.0.1 --port 0 --lifetime 900
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading


def relay_forever(sock: socket.socket) -> None:
    rooms: dict[bytes, dict[tuple[str, int], None]] = {}
    recvfrom, sendto = sock.recvfrom, sock.sendto
    while True:
        data, address = recvfrom(4097)
        if not data:
            continue
        key = data[: 2 + data[0]]
        peers = rooms.get(key)
        if peers is None:
            peers = rooms[key] = {}
        if address not in peers:
            peers[address] = None
        for peer in peers:
            if peer != address:
                try:
                    sendto(data, peer)
                except OSError:
                    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=900.0, help="exit after this many seconds (default 900)")
    parser.add_argument("--rcvbuf", type=int, default=1 << 20, help="SO_RCVBUF, as our server asks for (1 MiB)")
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    sock.bind((args.host, args.port))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    timer = threading.Timer(args.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    print(f"baseline relay listening on UDP {sock.getsockname()[0]}:{sock.getsockname()[1]}", flush=True)
    try:
        relay_forever(sock)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
