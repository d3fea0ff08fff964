"""How the real chat window copes with a burst, and what a long scrollback costs.

    .venv/bin/python benchmarks/gui.py

Under a virtual screen (the DISPLAY it is given; if none is set it starts `Xvfb :77`, or the
next free display, and stops it at the end), it builds ocm_gui's ChatWindow, themed as the
app themes it, around a stand-in client: an object with the attributes the window reads and
an `events` queue.Queue, as ChatClient has. Then, inside the real Tk mainloop:

1. 5,000 ChatMessage events are put on the queue at once; it prints the time until the last
   one is in the scrollback and drawn, and the longest gap between the ticks of an
   after(10) callback of our own (how long the event loop was unable to run anything else).
2. 50,000 one-line messages follow; it prints the process's resident memory and the lines
   the Text widget holds (the window caps its scrollback), then 50,000 more to show that
   memory stays put.

Every wait is bounded; the run stops by itself.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from private_home import use_private_home

BURST = 5_000
LONG = 50_000
TICK_MS = 10
SENDERS = ("Alice", "たろう", "Bob")


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class VirtualScreen:
    """Xvfb on the first free display from :77, unless DISPLAY is already set."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.display = os.environ.get("DISPLAY")

    def __enter__(self) -> VirtualScreen:
        if self.display:
            return self
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            raise SystemExit("DISPLAY is not set and Xvfb is not installed (Debian: apt-get install xvfb)")
        for number in range(77, 100):
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue
            proc = subprocess.Popen(
                [xvfb, f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                if Path(f"/tmp/.X11-unix/X{number}").exists():
                    break
                time.sleep(0.05)
            if proc.poll() is None and Path(f"/tmp/.X11-unix/X{number}").exists():
                self.proc, self.display = proc, f":{number}"
                os.environ["DISPLAY"] = self.display
                time.sleep(0.2)
                return self
            proc.kill()
            proc.wait(5)
        raise SystemExit("could not start Xvfb on any display from :77 to :99")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            os.environ.pop("DISPLAY", None)


class StandInClient:
    """What ChatWindow reads from a ChatClient, with no network behind it."""

    def __init__(self):
        self.events: queue.Queue = queue.Queue()
        self.room = "benchmark"
        self.username = "Bob"
        self.host_name = "Alice"
        self.members = ("Alice", "Bob", "たろう")
        self.plain_members: frozenset[str] = frozenset()
        self.max_message_bytes = 4000
        self.server_fingerprint: str | None = None
        self.own_server_identity: str | None = None
        self.trust_changed_identity = False
        self.locked = False
        self.password: str | None = None
        self.server_host, self.tcp_port = "127.0.0.1", 0
        self.closed = False
        self._ids = itertools.count(1)

    @property
    def is_host(self) -> bool:
        return self.username == self.host_name

    @staticmethod
    def message_size(text: str) -> int:
        return len(text.encode("utf-8"))

    def send(self, text: str) -> int:
        return next(self._ids)

    def retry(self, msg_id: int) -> int:
        return next(self._ids)

    def leave(self) -> None:
        self.closed = True


def message_text(seq: int) -> str:
    if seq % 4 == 0:
        return f"メッセージ {seq}: 今日の会議は三時からです。資料は共有フォルダにあります。"
    return f"message {seq}: the build is green again, I'll merge the branch after lunch if nobody objects"


class Run:
    """Feeds the window inside root.mainloop() and measures from an after(TICK_MS) callback."""

    def __init__(self, root, window, client, chat_module):
        self.root, self.window, self.client, self.chat = root, window, client, chat_module
        self.ticks: list[float] = []
        self.seq = 0

    def _last_line(self) -> str:
        # as a person reads it: without the zero-width break spaces in Japanese runs
        plain = getattr(self.window, "plain_text", None)
        if plain is None:
            return self.window.text.get("end-2l linestart", "end-1c")
        return plain("end-2l linestart", "end-1c")

    def feed_and_wait(self, count: int, timeout: float) -> dict:
        """Put `count` messages on the queue, run the mainloop until the last one is drawn."""
        from ocm_core.sansio.events import ChatMessage

        first = self.seq + 1
        self.seq += count
        last_marker = message_text(self.seq).split(":")[0] + ":"
        self.ticks = []
        state = {"shown_at": None, "timed_out": False}
        now = time.time()
        started = time.perf_counter()
        put = self.client.events.put
        for seq in range(first, self.seq + 1):
            put(ChatMessage(seq, SENDERS[seq % len(SENDERS)], message_text(seq), now))
        queued = time.perf_counter()
        deadline = started + timeout

        def tick() -> None:
            stamp = time.perf_counter()
            self.ticks.append(stamp)
            if self.client.events.empty() and last_marker in self._last_line():
                self.root.update_idletasks()  # the redraw Tk would do next: count it as part of "shown"
                state["shown_at"] = time.perf_counter()
                self.root.quit()
                return
            if stamp > deadline:
                state["timed_out"] = True
                self.root.quit()
                return
            self.root.after(TICK_MS, tick)

        self.root.after(TICK_MS, tick)
        self.root.mainloop()
        shown = (state["shown_at"] or time.perf_counter()) - started
        gaps = [b - a for a, b in zip(self.ticks, self.ticks[1:])]
        return {
            "messages": count,
            "queued_ms": round((queued - started) * 1000, 1),
            "shown_s": round(shown, 3),
            "timed_out": state["timed_out"],
            "ticks": len(self.ticks),
            "longest_gap_ms": round(max(gaps) * 1000, 1) if gaps else None,
            "gap_over_tick_ms": round((max(gaps) - TICK_MS / 1000) * 1000, 1) if gaps else None,
        }

    def text_lines(self) -> int:
        """Lines of text the widget holds (the empty line after the last newline not counted)."""
        text = self.window.text
        lines = int(text.index("end-1c").split(".")[0])
        return lines - 1 if text.get("end-2c", "end-1c") == "\n" else lines


def main(argv: list[str] | None = None) -> int:
    use_private_home()  # nothing it starts writes in the user's own folders
    parser = argparse.ArgumentParser(
        description="Chat window benchmark: a 5,000-message burst and a 50,000-line scrollback."
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    with VirtualScreen() as screen:
        import tkinter as tk

        from ocm_gui import inbox as inbox_module
        from ocm_gui import theme
        from ocm_gui.chat import window as chat_module
        from ocm_gui.chat.window import ChatWindow

        results: dict = {
            "display": screen.display,
            "started_xvfb": screen.proc is not None,
            "python": sys.version.split()[0],
            "tk": None,
        }
        print(
            f"chat window benchmark on DISPLAY={screen.display}"
            f"{' (Xvfb started for this run)' if screen.proc else ''}; Python {results['python']}",
            flush=True,
        )
        rss_start = rss_mib()
        root = tk.Tk()
        results["tk"] = str(root.tk.call("info", "patchlevel"))
        errors: list = []
        root.report_callback_exception = lambda *info: errors.append(info)
        family = theme.apply_theme(root)
        root.withdraw()
        client = StandInClient()
        window = ChatWindow(root, client)
        root.update()
        rss_window = rss_mib()
        cap = getattr(chat_module, "SCROLLBACK_LINES", None) or getattr(
            sys.modules.get("ocm_gui.chat.scrollback"), "SCROLLBACK_LINES", None
        )
        print(
            f"Tk {results['tk']}, font family {family!r}; "
            f"window batch {getattr(chat_module, 'BATCH', '?')} events per poll, "
            f"idle poll every {getattr(inbox_module, 'TICK_MS', '?')} ms; scrollback cap {cap} lines",
            flush=True,
        )
        print(f"resident memory: {rss_start:.1f} MiB before Tk, {rss_window:.1f} MiB with the window open", flush=True)
        run = Run(root, window, client, chat_module)

        burst = run.feed_and_wait(BURST, timeout=60)
        results["burst"] = burst
        print(f"\nburst of {BURST:,} messages put on the queue at once ({burst['queued_ms']} ms to queue):", flush=True)
        print(
            f"   all shown after {burst['shown_s']:.2f} s; longest gap between after({TICK_MS}) ticks "
            f"{burst['longest_gap_ms']} ms ({burst['ticks']} ticks)   [target: within 2 s, no gap over 100 ms]",
            flush=True,
        )
        if burst["timed_out"]:
            print("   TIMED OUT before the last message was shown", flush=True)

        long = run.feed_and_wait(LONG, timeout=300)
        lines_50k = run.text_lines()
        rss_50k = rss_mib()
        more = run.feed_and_wait(LONG, timeout=300)
        lines_100k = run.text_lines()
        rss_100k = rss_mib()
        results["scrollback"] = {
            "cap_lines": cap,
            "after_lines": BURST + LONG,
            "text_lines": lines_50k,
            "rss_mib": round(rss_50k, 1),
            "shown_s": long["shown_s"],
            "longest_gap_ms": long["longest_gap_ms"],
            "after_lines_2": BURST + 2 * LONG,
            "text_lines_2": lines_100k,
            "rss_mib_2": round(rss_100k, 1),
            "rss_window_mib": round(rss_window, 1),
            "rss_start_mib": round(rss_start, 1),
        }
        print(
            f"\n{LONG:,} more lines ({BURST + LONG:,} received in all): shown after {long['shown_s']:.1f} s, "
            f"longest gap {long['longest_gap_ms']} ms",
            flush=True,
        )
        print(
            f"   resident memory {rss_50k:.1f} MiB; the Text widget holds {lines_50k:,} lines (cap {cap})", flush=True
        )
        print(
            f"{LONG:,} more again ({BURST + 2 * LONG:,} in all): resident memory {rss_100k:.1f} MiB; "
            f"{lines_100k:,} lines held; longest gap {more['longest_gap_ms']} ms",
            flush=True,
        )

        window.leave()
        root.update()
        root.destroy()
        if errors:
            print(f"\n{len(errors)} Tk callback error(s); the first: {errors[0][1]!r}", flush=True)
            results["callback_errors"] = [repr(e[1]) for e in errors]
        met_burst = burst["shown_s"] <= 2.0 and (burst["longest_gap_ms"] or 0) <= 100 and not burst["timed_out"]
        print(
            f"\ntarget: 5,000-message burst shown within 2 s with no event-loop gap over 100 ms: "
            f"{burst['shown_s']:.2f} s, {burst['longest_gap_ms']} ms ({'met' if met_burst else 'MISSED'})",
            flush=True,
        )
        print(
            f"scrollback: capped at {cap} lines; memory {rss_50k:.1f} MiB after {BURST + LONG:,} lines, "
            f"{rss_100k:.1f} MiB after {BURST + 2 * LONG:,} "
            f"({'bounded' if rss_100k - rss_50k < 10 else 'still growing'})",
            flush=True,
        )
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
