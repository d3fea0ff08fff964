"""A file through the server, from one client to another, against a plain TCP copy.

    python benchmarks/files.py [--sizes 20 200]

For each size (MiB): a file of random bytes is copied between two sockets in this
process (read from disk, sendall, recv, write to disk: the plain TCP copy), then sent
through an `ocm-server` process from a sender process to a receiver process (the
receiver starts downloading when the FILE event arrives; the time runs from the upload's
start to the download's end, so it includes TLS both ways, SHA-256 on both ends and the
server's disk). Each process reports its peak resident memory (ru_maxrss; the server's
VmHWM from /proc). Prints one line per size and the ratio to the plain copy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from private_home import use_private_home

MIB = 1024 * 1024
CHUNK = 256 * 1024


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (MIB if sys.platform == "darwin" else 1024)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def process_peak_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        left = size
        while left:
            out.write(os.urandom(min(left, MIB)))
            left -= min(left, MIB)


def plain_copy(source: Path, target: Path) -> float:
    listener = socket.create_server(("127.0.0.1", 0))
    size = source.stat().st_size

    def receive() -> None:
        conn, _ = listener.accept()
        with conn, open(target, "wb") as out:
            left = size
            while left:
                data = conn.recv(min(CHUNK, left))
                if not data:
                    break
                out.write(data)
                left -= len(data)

    started = time.perf_counter()
    thread = threading.Thread(target=receive)
    thread.start()
    with socket.create_connection(listener.getsockname()) as sock, open(source, "rb") as data:
        for block in iter(lambda: data.read(CHUNK), b""):
            sock.sendall(block)
    thread.join()
    elapsed = time.perf_counter() - started
    listener.close()
    return elapsed


# --- the two client processes -------------------------------------------------------------


def sender(port: int, path: str) -> None:
    from ocm_core.net.client import ChatClient

    client = ChatClient("127.0.0.1", port)
    client.create_room("bench", "sender")
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    started, cpu = time.perf_counter(), cpu_seconds()
    client.send_file(path)
    print(
        json.dumps(
            {"upload_s": time.perf_counter() - started, "rss_mib": peak_rss_mib(), "cpu_s": cpu_seconds() - cpu}
        ),
        flush=True,
    )
    sys.stdin.readline()  # "quit"
    client.leave()


def receiver(port: int, folder: str) -> None:
    from ocm_core.net.client import ChatClient
    from ocm_core.sansio import events as ev

    client = ChatClient("127.0.0.1", port)
    client.join_room("bench", "receiver")
    print("ready", flush=True)
    while not isinstance(event := client.events.get(timeout=600), ev.FileShared):
        pass
    started, cpu = time.perf_counter(), cpu_seconds()
    saved = client.download(event.file_id, folder)
    print(
        json.dumps(
            {
                "download_s": time.perf_counter() - started,
                "rss_mib": peak_rss_mib(),
                "cpu_s": cpu_seconds() - cpu,
                "path": str(saved),
            }
        ),
        flush=True,
    )
    client.leave()


def child(role: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def through_server(source: Path, folder: Path) -> dict:
    size = source.stat().st_size
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocm_core",
            "--host",
            "127.0.0.1",
            "--tcp-port",
            "0",
            "--udp-port",
            "0",
            "--no-db",
            "--max-file-mib",
            str(size // MIB + 1),
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline().split("TCP 127.0.0.1:")[1].split()[0])
    send, receive = child("send", str(port), str(source)), None
    try:
        assert send.stdout and send.stdin
        assert send.stdout.readline().strip() == "ready"
        receive = child("receive", str(port), str(folder))
        assert receive.stdout
        assert receive.stdout.readline().strip() == "ready"
        server_cpu = process_cpu_seconds(server.pid)
        started = time.perf_counter()
        send.stdin.write("go\n")
        send.stdin.flush()
        got = json.loads(receive.stdout.readline())
        total = time.perf_counter() - started
        sent = json.loads(send.stdout.readline())
        server_peak = process_peak_mib(server.pid)
        server_cpu_after = process_cpu_seconds(server.pid)
        send.stdin.write("quit\n")
        send.stdin.flush()
        send.wait(10)
        receive.wait(10)
        same = Path(got["path"]).stat().st_size == size
        return {
            "total_s": total,
            "upload_s": sent["upload_s"],
            "download_s": got["download_s"],
            "server_mib": server_peak,
            "sender_mib": sent["rss_mib"],
            "receiver_mib": got["rss_mib"],
            "whole": same,
            "cpu_s": {
                "server": None if server_cpu is None or server_cpu_after is None else server_cpu_after - server_cpu,
                "sender": sent["cpu_s"],
                "receiver": got["cpu_s"],
            },
        }
    finally:
        for proc in (send, receive, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)


def main() -> None:
    use_private_home()  # nothing it starts writes in the user's own folders
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200], help="file sizes in MiB")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.role == "send":
        return sender(int(options.args[0]), options.args[1])
    if options.role == "receive":
        return receiver(int(options.args[0]), options.args[1])
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["OCM_HOME"] = scratch  # a throwaway identity and trust file
        for mib in options.sizes:
            source = Path(scratch) / f"source-{mib}.bin"
            make_file(source, mib * MIB)
            before = cpu_seconds()
            plain = plain_copy(source, Path(scratch) / "plain-copy.bin")
            plain_cpu = cpu_seconds() - before
            folder = Path(scratch) / f"received-{mib}"
            folder.mkdir()
            run = through_server(source, folder)
            rate, plain_rate = mib * MIB / run["total_s"] / 1e6, mib * MIB / plain / 1e6
            up, down = mib * MIB / run["upload_s"] / 1e6, mib * MIB / run["download_s"] / 1e6
            print(
                f"{mib:4d} MiB: plain TCP copy {plain_rate:5.0f} MB/s; sender to receiver {rate:4.0f} MB/s "
                f"(ratio {rate / plain_rate:.2f}; the bytes cross twice, one leg after the other); "
                f"upload {up:4.0f} MB/s ({up / plain_rate:.2f}), download {down:4.0f} MB/s ({down / plain_rate:.2f}); "
                f"peak RSS server {run['server_mib'] or float('nan'):.0f} MiB, sender {run['sender_mib']:.0f} MiB, "
                f"receiver {run['receiver_mib']:.0f} MiB; arrived whole: {run['whole']}",
                flush=True,
            )
            cpu = {
                name: (f"{seconds / mib * 100:.2f} s" if seconds is not None else "n/a")
                for name, seconds in run["cpu_s"].items()
            }
            print(
                f"      CPU per 100 MiB: server {cpu['server']}, sender {cpu['sender']}, receiver {cpu['receiver']}; "
                f"plain copy {plain_cpu / mib * 100:.2f} s",
                flush=True,
            )
            for leftover in (source, Path(scratch) / "plain-copy.bin"):
                leftover.unlink()


if __name__ == "__main__":
    main()
