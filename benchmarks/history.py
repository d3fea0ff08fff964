"""How fast the person's history answers (ocm_core/storage/history.py), against a plain scan.

    .venv/bin/python benchmarks/history.py                  # 100,000 messages in 20 rooms
    .venv/bin/python benchmarks/history.py --messages 20000 # a quicker look

A fresh database in a temporary folder is filled with chat in English and Japanese, the
rooms taking turns at random as they would in a day's traffic, a few joins, leaves and
files among them. Then each thing a person waits for is timed: the sidebar (every
conversation with its unread count), opening a room (its last 500 lines), and search,
across every room and in one, for a one-character, a two-character and a longer Japanese
word, a Latin one, and a word almost nobody wrote (the whole table is read for it). The
baseline, in the same run on the same table, is what a search without the trigram index or
the folded column would do: `text LIKE '%word%'`, newest 200 first, and the same over every
row. Each figure is the median of several runs, with the slowest beside it (the first run
reads the pages from disk). Targets (issue 26): sidebar and opening a room under 300 ms,
search under 200 ms.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from private_home import use_private_home

from ocm_core.storage.history import HistoryStore, Line, LineKind

JAPANESE = (
    "今日の 明日の 午後の 来週の 先週の 会議 打ち合わせ 資料 確認 共有 進捗 予定 お願いします よろしくお願いします "
    "ありがとうございます 了解です 承知しました すみません プロジェクト レビュー テスト リリース ミーティング "
    "議事録 担当 対応 修正 メール 連絡 返信 ファイル 場所 時間 少し 遅れます 大丈夫です いいですね "
    "件 について ですが でした します しました ですか ね よ は を が に で と も の"
).split()
ENGLISH = (
    "the a an and or to of in on for with is are was be can could will would please thanks ok "
    "meeting notes slides deploy build release review test lunch coffee tomorrow today later "
    "project status update report issue bug fix branch server client room file folder shared "
    "I you we they let's check send look talk about again soon sorry great sure done"
).split()
NAMES = ["ana", "bo", "chen", "daiki", "eri", "farid", "gina", "haruto", "ines", "jun", "kate", "léa"]
RARE = {"ja": "鰻", "latin": "quixotic"}  # in a handful of lines: the search reads far to find 200
ONE_ROOM = 3  # the room opened and searched alone; the handful of lines are in it


def japanese_line(rng: random.Random) -> str:
    words = rng.choices(JAPANESE, k=rng.choice([2, 3, 4, 5, 6, 8, 10, 14, 20]))
    return "".join(words) + rng.choice(["", "。", "！", "？", "ね。"])


def english_line(rng: random.Random) -> str:
    words = rng.choices(ENGLISH, k=rng.choice([2, 3, 4, 5, 7, 9, 12, 16, 25]))
    text = " ".join(words)
    return text[:1].upper() + text[1:] + rng.choice(["", ".", "!", "?", " :)"])


def make_lines(rng: random.Random, messages: int, rooms: int, start: float) -> list[tuple[int, Line]]:
    """(room index, line) in the order they arrive; each room's seq counts its own events."""
    seqs = [0] * rooms
    made: list[tuple[int, Line]] = []
    when = start
    for number in range(messages):
        rare = number % 20011 == 7
        room = ONE_ROOM if rare else rng.randrange(rooms)
        when += rng.expovariate(1 / 20)  # a message every 20 s on average, across the rooms
        seqs[room] += 1
        sender = rng.choice(NAMES)
        if rng.random() < 0.02:  # a notice: someone came or went
            made.append((room, Line(seqs[room], when, rng.choice([LineKind.JOINED, LineKind.LEFT]), sender, "")))
            seqs[room] += 1
        if rng.random() < 0.01:  # a file
            name = rng.choice(["議事録_0512.pdf", "slides-final.pptx", "スクリーンショット.png", "build.log"])
            made.append((room, Line(seqs[room], when, LineKind.FILE, sender, name, rng.randrange(1, 10**7), "f")))
            seqs[room] += 1
        text = japanese_line(rng) if rng.random() < 0.5 else english_line(rng)
        if rare:
            text += " " + list(RARE.values())[number // 20011 % 2]
        made.append((room, Line(seqs[room], when, LineKind.CHAT, sender, text)))
    return made


NEWEST_200 = "SELECT id, time, sender, text FROM lines WHERE text LIKE ? ORDER BY id DESC LIMIT 200"
EVERY_ROW = "SELECT count(*) FROM lines WHERE text LIKE ?"


def like(plain: sqlite3.Connection, sql: str, query: str) -> list[tuple]:
    return plain.execute(sql, (f"%{query}%",)).fetchall()


def timed(work: Callable[[], Any], runs: int = 7) -> tuple[float, float, Any]:
    """(median ms, slowest ms, the last result)."""
    spent = []
    result = None
    for _run in range(runs):
        started = time.perf_counter()
        result = work()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent), max(spent), result


def figure(label: str, work: Callable[[], Any], runs: int = 7, count: Callable[[Any], int] = len) -> None:
    median, slowest, result = timed(work, runs)
    print(f"  {label:<52} {median:8.1f} ms (slowest {slowest:7.1f})  {count(result):6d} found", flush=True)


def main() -> None:
    use_private_home()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--seed", type=int, default=26)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    lines = make_lines(rng, options.messages, options.rooms, start=1_700_000_000.0)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "history.db"
        store = HistoryStore(path, clock=lambda: lines[-1][1].time)
        ids = [
            store.conversation(
                f"fp{room % 2}", f"room-{room:02d}", room=f"room {room}", server="10.0.0.2:9000", me="ana"
            )
            for room in range(options.rooms)
        ]
        started = time.perf_counter()
        for first in range(0, len(lines), 500):  # a catch-up's batch: one transaction each
            batch = lines[first : first + 500]
            for room in {room for room, _line in batch}:
                store.add_many(ids[room], [line for r, line in batch if r == room])
        fill = time.perf_counter() - started
        print(
            f"filled {len(lines):,} lines ({options.messages:,} messages) in {options.rooms} rooms: {fill:.1f} s, "
            f"{len(lines) / fill:,.0f} lines/s; database {store.size_bytes() / 1e6:.1f} MB",
            flush=True,
        )

        one = ids[ONE_ROOM]
        newest = store.get(one)
        assert newest is not None
        spent = []
        for number in range(1, 1001):  # a message as it arrives: one transaction each
            line = Line(newest.newest_seq + number, lines[-1][1].time + number, LineKind.CHAT, "bo", english_line(rng))
            began = time.perf_counter()
            store.add(one, line)
            spent.append((time.perf_counter() - began) * 1000)
        spent.sort()
        print(
            f"  {'one message kept (1,000 adds, a commit each)':<52} {statistics.median(spent):8.2f} ms median, "
            f"p99 {spent[989]:.2f} ms, slowest {spent[-1]:.2f} ms",
            flush=True,
        )

        print("the sidebar and a room:", flush=True)
        figure("sidebar, everything unread", store.conversations)
        for cid in ids:
            found = store.get(cid)
            if found is not None and cid != one:
                store.mark_read(cid, found.newest_seq - 3)
        figure("sidebar, read but for a few lines", store.conversations)
        figure("open a room: its last 500 lines", lambda: store.lines(one, limit=500))
        oldest_shown = store.lines(one, limit=500)[0][0]
        figure("scroll up: the 500 before those", lambda: store.lines(one, limit=500, before_id=oldest_shown))

        queries = [
            ("1 char, Japanese", "件"),
            ("2 chars, Japanese", "会議"),
            ("3 chars, Japanese", "議事録"),
            ("6 chars, katakana", "ミーティング"),
            ("Latin", "Meeting"),
            ("1 char, in a handful of lines", RARE["ja"]),
            ("Latin, in a handful of lines", RARE["latin"]),
        ]
        print("search, newest 200 first:", flush=True)
        for label, query in queries:
            figure(f"{label} ({query}), every room", partial(store.search, query))
            figure(f"{label} ({query}), one room", partial(store.search, query, conversation=one))
        hit = store.search("議事録")[0]
        figure("open a room at a hit (200 lines each side)", partial(store.lines_around, hit.conversation, hit.line_id))

        plain = sqlite3.connect(path)
        print("baseline, the same table without the index or the folded text (LIKE '%word%'):", flush=True)
        for label, query in queries:
            figure(f"{label} ({query}), newest 200", partial(like, plain, NEWEST_200, query))
            figure(
                f"{label} ({query}), every row", partial(like, plain, EVERY_ROW, query), count=lambda rows: rows[0][0]
            )
        plain.close()

        print("deleting, leaving no trace (the index merged, VACUUM, the log emptied):", flush=True)
        span = lines[-1][1].time - lines[0][1].time
        median, _slowest, gone = timed(lambda: store.prune(span * 0.9), runs=1)
        print(f"  {f'prune the oldest tenth ({gone:,} lines)':<52} {median:8.1f} ms", flush=True)
        median, _slowest, _none = timed(lambda: store.forget(ids[5]), runs=1)
        print(f"  {'forget one room':<52} {median:8.1f} ms", flush=True)
        print(f"  database after: {store.size_bytes() / 1e6:.1f} MB", flush=True)
        median, _slowest, _none = timed(store.forget_everything, runs=1)
        print(f"  {'forget everything':<52} {median:8.1f} ms", flush=True)
        store.close()


if __name__ == "__main__":
    main()
