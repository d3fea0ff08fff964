"""A burst of 2,000 queued events: all shown, and the Tk loop keeps ticking meanwhile.

Prints the longest gap between after() ticks (a measurement, not a timed assert).
"""

from __future__ import annotations

import time

from gui_helpers import FakeClient, pump

from ocm_core.sansio.events import ChatMessage
from ocm_gui.chat import window as chat_module
from ocm_gui.chat.window import ChatWindow
from ocm_gui.inbox import inbox_for

BURST = 2000


def test_burst_of_2000_messages_is_shown_without_freezing(root, settings, capsys):
    client = FakeClient(username="Bob", host_name="Alice", members=("Alice", "Bob"))
    window = ChatWindow(root, client, settings=settings)
    inbox = inbox_for(root)
    pump(root, lambda: inbox.ticks >= 1)

    beats: list[float] = []

    def heartbeat():
        beats.append(time.perf_counter())
        root.after(5, heartbeat)

    root.after(5, heartbeat)
    start = time.perf_counter()
    for seq in range(1, BURST + 1):
        client.events.put(ChatMessage(seq, "Alice", f"burst message {seq} — 日本語のテキスト", time.time()))
    ticks_before = window.ticks  # batches the window handled
    pump(
        root,
        lambda: client.events.empty() and f"burst message {BURST} —" in window.plain_text("end-2l", "end"),
        timeout=60,
        what="the burst to be shown",
    )
    elapsed = time.perf_counter() - start
    window_beats = [b for b in beats if b >= start]
    gaps = [b - a for a, b in zip(window_beats, window_beats[1:])]

    opening, date, *lines = window.transcript().splitlines()
    assert opening.startswith("You joined") and date == "Today"
    assert len(lines) == BURST
    assert lines[0].endswith("burst message 1 — 日本語のテキスト")
    assert lines[-1].endswith(f"burst message {BURST} — 日本語のテキスト")
    assert [int(line.split("burst message ")[1].split(" ")[0]) for line in lines] == list(range(1, BURST + 1))
    assert window.ticks - ticks_before >= BURST // chat_module.BATCH  # drained over several ticks
    assert len(window_beats) >= 2, "the heartbeat never ran while the burst was drained"
    with capsys.disabled():
        print(
            f"\n[burst] {BURST} messages shown in {elapsed * 1000:.0f} ms over "
            f"{window.ticks - ticks_before} poll ticks; {len(window_beats)} heartbeats, "
            f"longest gap between after() ticks {max(gaps) * 1000:.1f} ms"
        )
    window.leave()
