"""What 100,000 kept messages cost the app a person sees: the sidebar at start, a room opened
with its kept lines drawn, an ended room's page, and a search typed in the search window.

    .venv/bin/python benchmarks/history_gui.py

Fills a history database as benchmarks/history.py does (20 rooms, Japanese and English), then,
under a virtual screen (DISPLAY, or an Xvfb of its own as benchmarks/gui.py starts it), builds
the real App on it and times each step until Tk has drawn it (update_idletasks). The baseline,
measured in the same run, is the same room opened with no history kept (the app before issue 26).
Figures are medians of 5 runs; nothing is asserted.
"""

from __future__ import annotations

import argparse
import queue
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gui import VirtualScreen
from history import make_lines
from private_home import use_private_home

RUNS = 5


class StandIn:
    """The attributes a room view reads of a joined ChatClient, and its event queue."""

    server_host, tcp_port = "10.0.0.2", 9000
    server_fingerprint = "fp1"
    standing = False
    locked = False
    password = None
    own_server_identity = None
    trust_changed_identity = False
    plain_members: frozenset[str] = frozenset()
    max_message_bytes = 4000

    def __init__(self, room: str, room_id: str):
        self.events: queue.Queue = queue.Queue()
        self.room, self.room_id, self.username = room, room_id, "ana"
        self.members = ("ana", "bo")
        self.host_name = "bo"
        self.is_host = False

    @staticmethod
    def message_size(text: str) -> int:
        return len(text.encode("utf-8"))

    def leave(self) -> None:
        pass


def median_ms(work: Callable[[], object], root, runs: int = RUNS) -> float:
    times = []
    for _run in range(runs):
        started = time.perf_counter()
        work()
        root.update_idletasks()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    use_private_home()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    options = parser.parse_args()
    lines = make_lines(random.Random(26), options.messages, 20, start=time.time() - 90 * 86_400)
    with VirtualScreen() as screen, tempfile.TemporaryDirectory() as scratch:
        import os
        import tkinter as tk

        os.environ["DISPLAY"] = screen.display or ""
        from ocm_core.storage.history import HistoryStore
        from ocm_gui.app import App
        from ocm_gui.settings import Settings

        store = HistoryStore(Path(scratch) / "history.db")
        ids = [
            store.conversation(
                f"fp{room % 2}", f"room-{room:02d}", room=f"room {room}", server="10.0.0.2:9000", me="ana"
            )
            for room in range(20)
        ]
        started = time.perf_counter()
        for room in range(20):
            store.add_many(ids[room], [line for r, line in lines if r == room])
        for room in range(10):  # half the rooms ended: the sidebar lists them at start
            store.mark_ended(ids[room], "The host closed the room.")
        print(f"filled {len(lines):,} lines in 20 rooms in {time.perf_counter() - started:.1f} s", flush=True)
        root = tk.Tk()
        root.withdraw()
        app = App(root, settings=Settings.load(Path(scratch) / "settings.json"), history=store)
        root.update()

        def sidebar() -> None:
            for gone in list(app.gone):
                app.sidebar.remove(gone)
            app.gone.clear()
            app._list_ended_rooms()

        print(f"the sidebar at start (10 ended rooms listed)     {median_ms(sidebar, root):7.1f} ms", flush=True)

        def open_room(keep: bool) -> Callable[[], None]:
            def work() -> None:
                store.set_keeping(keep)
                chat = app.open_chat(StandIn("room 11", "room-11"))
                root.update_idletasks()
                chat.leave()  # as Leave does: the view and its sidebar row go

            return work

        shown = len(store.lines(ids[11]))
        print(
            f"open a room, its last {shown} kept lines drawn    {median_ms(open_room(True), root):7.1f} ms",
            flush=True,
        )
        print(
            f"baseline: the same room, no history kept         {median_ms(open_room(False), root):7.1f} ms", flush=True
        )
        store.set_keeping(True)

        def ended_page() -> None:
            app.show_room(app.gone[0])

        print(f"an ended room's page (up to 2,000 lines)         {median_ms(ended_page, root):7.1f} ms", flush=True)
        app.open_search()
        window = app.search_window
        assert window is not None
        for query in ("件", "会議", "議事録", "Meeting"):

            def search(query: str = query) -> None:
                window.query.set(query)
                window.search()

            print(f"search window, {query!r:12} (200 rows listed)    {median_ms(search, root):7.1f} ms", flush=True)
        app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
