#!/usr/bin/env python3
"""Measures the packaged app: file size, and time from start to the start window.

    python scripts/measure_app.py [dist/OnlineChatMessenger] [--runs 5]

Each run starts the executable with no flags (what a double-click does), polls
`xdotool search --onlyvisible --name "Online Chat Messenger"` until the start
window is on the screen, then closes the app. It uses the current DISPLAY; with no
DISPLAY it starts its own Xvfb for the measurement. Prints the size in MB and the
startup time in seconds (first run, then the median and range of all runs).

On Linux it also prints the glibc floor: the highest GLIBC_x.y symbol version that
the bootloader and any bundled library needs (read with objdump from the files
inside the one-file archive). A Linux with an older glibc cannot run the build.

Run it with .venv/bin/python (PyInstaller's archive reader, for the glibc floor);
needs xdotool (scripts/setup.sh installs it) and, without a DISPLAY, Xvfb.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from private_home import use_private_home  # noqa: E402  (the benchmarks' own)

DEFAULT_EXE = ROOT / "dist" / ("OnlineChatMessenger.exe" if os.name == "nt" else "OnlineChatMessenger")
WINDOW_NAME = "Online Chat Messenger"


def find_window(name: str, env: dict[str, str]) -> str | None:
    """Returns the id of a visible window whose title contains `name`, or None."""
    result = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", name],
        env=env,
        capture_output=True,
        text=True,
    )
    ids = result.stdout.split()
    return ids[0] if result.returncode == 0 and ids else None


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """Asks the app to quit (SIGTERM, which the one-file bootloader passes on) and waits."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def time_to_window(exe: Path, env: dict[str, str], deadline_s: float) -> float:
    """Starts `exe`, returns seconds until its start window is visible; closes it again."""
    if find_window(WINDOW_NAME, env):
        raise SystemExit(f"a window named {WINDOW_NAME!r} is already open on this display; close it first.")
    started = time.perf_counter()
    proc = subprocess.Popen([str(exe)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if find_window(WINDOW_NAME, env):
                return time.perf_counter() - started
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace").strip().splitlines()
                raise SystemExit(
                    f"the app exited with status {proc.returncode} before its window appeared: "
                    f"{err[-1] if err else 'no message'}"
                )
            if time.perf_counter() - started > deadline_s:
                raise SystemExit(f"no window named {WINDOW_NAME!r} within {deadline_s:.0f} s")
            time.sleep(0.01)
    finally:
        stop(proc)
        proc.stderr.close()


def glibc_floor(exe: Path) -> tuple[str, str] | None:
    """Returns (highest GLIBC_ version needed, the file needing it), or None if unknown."""
    if not shutil.which("objdump"):
        return None
    try:
        from PyInstaller.archive.readers import CArchiveReader
    except ImportError:
        return None
    versions: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = [exe]
        archive = CArchiveReader(str(exe))
        for name, entry in archive.toc.items():
            if entry[-1] == "b":  # a binary: shared library or extension module
                target = Path(tmp) / name.replace("/", "_")
                target.write_bytes(archive.extract(name))
                files.append(target)
        for path in files:
            out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True).stdout
            for found in set(re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)):
                versions.setdefault(found, path.name)
    if not versions:
        return None
    best = max(versions, key=lambda v: tuple(int(x) for x in v.split(".")))
    return best, versions[best]


class OwnXvfb:
    """An Xvfb on a free display number, for machines without a screen."""

    def __init__(self) -> None:
        if not shutil.which("Xvfb"):
            raise SystemExit("no DISPLAY and no Xvfb; run under a desktop or install xvfb (scripts/setup.sh).")
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.proc.kill()
            raise SystemExit("Xvfb did not start")
        self.display = f":{number}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    use_private_home()  # nothing it starts writes in the user's own folders
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("exe", nargs="?", type=Path, default=DEFAULT_EXE, help=f"default: {DEFAULT_EXE}")
    parser.add_argument("--runs", type=int, default=5, help="how many starts to time (default 5)")
    parser.add_argument("--no-window", action="store_true", help="print size and glibc floor only")
    parser.add_argument("--deadline", type=float, default=30.0, help="give up on one start after this many seconds")
    args = parser.parse_args(argv)

    exe = args.exe.resolve()
    if not exe.is_file():
        print(f"{exe} does not exist; build it first with: bash scripts/build_app.sh", file=sys.stderr)
        return 1
    size_mb = exe.stat().st_size / 1_000_000
    print(f"size: {size_mb:.1f} MB ({exe.stat().st_size} bytes) {exe}")
    if sys.platform.startswith("linux"):
        floor = glibc_floor(exe)
        if floor:
            print(
                f"glibc floor: {floor[0]} (needed by {floor[1]}); this machine has {os.confstr('CS_GNU_LIBC_VERSION')}"
            )

    if args.no_window:
        return 0
    if not shutil.which("xdotool"):
        print("xdotool is missing; install it (scripts/setup.sh does) to time the start window.", file=sys.stderr)
        return 1

    env = dict(os.environ)
    xvfb = None
    if not env.get("DISPLAY"):
        xvfb = OwnXvfb()
        env["DISPLAY"] = xvfb.display
        print(f"no DISPLAY: measuring on a private Xvfb {xvfb.display}")
    try:
        times = [time_to_window(exe, env, args.deadline) for _ in range(max(1, args.runs))]
    finally:
        if xvfb:
            xvfb.close()
    print(
        f"startup to the start window: first {times[0]:.2f} s, median {statistics.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
