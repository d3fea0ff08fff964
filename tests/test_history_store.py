"""The person's own history (ocm_core/storage/history.py) as the app and the files on disk see
it: conversations kept apart by server and room id, search as people type (Japanese without
word splitting, width and case folded), unread counts, a forgotten room gone from every byte
of the files, old lines pruned on a fake clock, a damaged file moved aside, a newer one refused."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from support import FakeClock

from ocm_core.errors import OCMError
from ocm_core.storage.history import (
    DAY,
    Conversation,
    HistoryFromNewerVersion,
    HistoryStore,
    HistoryWriteError,
    Line,
    LineKind,
    Match,
    fold,
)

FP_HOME = "aa" * 32
FP_OFFICE = "bb" * 32


def said(seq: int | None, text: str, sender: str = "bo", time: float = 1000.0) -> Line:
    return Line(seq, time, LineKind.CHAT, sender, text)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path, clock):
    opened = HistoryStore(tmp_path / "history.db", clock=clock)
    yield opened
    opened.close()


def lobby(store: HistoryStore, fingerprint: str = FP_HOME, room_id: str = "1" * 32, **fields) -> int:
    details = {"room": "lobby", "server": "192.168.1.5:9000", "me": "ana"} | fields
    return store.conversation(fingerprint, room_id, **details)


def texts(matches: list[Match]) -> list[str]:
    return [match.text for match in matches]


# --- the file ---------------------------------------------------------------------------------


def test_a_new_history_file_is_private_to_its_user(tmp_path):
    path = tmp_path / "deep" / "er" / "history.db"
    store = HistoryStore(path)
    store.add(lobby(store), said(1, "hello"))
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(Path(f"{path}-wal").stat().st_mode) == 0o600  # SQLite gives its log the file's mode
    # On Windows a file's mode is only read-only or not: the profile's ACL keeps it the user's.
    store.close()
    assert path.is_file()


def test_the_history_lives_in_the_data_folder():
    assert HistoryStore.default_path().name == "history.db"
    assert HistoryStore.default_path().parent.name == "online-chat-messenger"


def test_lines_survive_closing_and_opening_again(tmp_path, clock):
    store = HistoryStore(tmp_path / "history.db", clock=clock)
    room = lobby(store)
    store.add_many(room, [said(1, "before the restart"), said(2, "再起動の前")])
    store.mark_read(room, 1)
    store.close()
    again = HistoryStore(tmp_path / "history.db", clock=clock)
    assert again.moved_aside is None
    assert [line.text for _id, line in again.lines(room)] == ["before the restart", "再起動の前"]
    assert again.find(FP_HOME, "1" * 32) == again.get(room)
    assert (again.get(room).read_seq, again.get(room).unread) == (1, 1)
    again.close()


def test_a_damaged_file_is_moved_aside_and_a_fresh_history_begins(tmp_path, caplog):
    path = tmp_path / "history.db"
    garbage = b"this is not an SQLite database at all " * 200
    path.write_bytes(garbage)
    store = HistoryStore(path)
    assert store.moved_aside is not None and store.moved_aside.name.startswith("history.db.damaged-")
    assert store.moved_aside.read_bytes() == garbage  # kept for whoever wants to look at it
    assert "damaged" in caplog.text
    assert store.conversations() == []
    room = lobby(store)
    assert store.add(room, said(1, "a new beginning"))
    assert texts(store.search("beginning")) == ["a new beginning"]
    store.close()
    assert HistoryStore(path).moved_aside is None  # the fresh file is whole


def test_a_file_from_a_newer_version_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "history.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=7")
    with pytest.raises(HistoryFromNewerVersion) as refused:
        HistoryStore(path)
    assert isinstance(refused.value, OCMError) and refused.value.version == 7
    assert str(path) in str(refused.value) and "newer version" in str(refused.value)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 7
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_the_app_and_ocm_chat_may_keep_their_history_in_one_file_at_once(tmp_path):
    path = tmp_path / "history.db"
    app, terminal = HistoryStore(path), HistoryStore(path)
    app.add(lobby(app, room_id="1" * 32), said(1, "said in the app"))
    terminal.add(lobby(terminal, room_id="2" * 32), said(1, "said in the terminal"))
    assert sorted(texts(app.search("said in"))) == ["said in the app", "said in the terminal"]
    assert texts(terminal.search("the app")) == ["said in the app"]
    app.forget(app.find(FP_HOME, "1" * 32).id)
    assert texts(terminal.search("said in")) == ["said in the terminal"]
    app.close()
    terminal.close()


def test_a_write_that_fails_is_an_os_error_for_callers_that_catch_a_full_disk():
    assert issubclass(HistoryWriteError, OSError) and issubclass(HistoryWriteError, OCMError)


def test_size_counts_the_database_and_its_log(store):
    assert store.size_bytes() > 0
    memory = HistoryStore(":memory:")
    assert memory.size_bytes() == 0
    memory.close()


# --- conversations ----------------------------------------------------------------------------


def test_two_servers_with_a_room_of_one_name_are_two_conversations(store):
    home = lobby(store, FP_HOME, server="192.168.1.5:9000")
    office = lobby(store, FP_OFFICE, server="10.0.0.7:9000")
    assert home != office
    store.add(home, said(1, "home: the plan for dinner"))
    store.add(office, said(1, "office: the plan for the release"))
    assert [line.text for _id, line in store.lines(home)] == ["home: the plan for dinner"]
    found = store.search("the plan")
    assert {(match.server, match.room, match.text) for match in found} == {
        ("192.168.1.5:9000", "lobby", "home: the plan for dinner"),
        ("10.0.0.7:9000", "lobby", "office: the plan for the release"),
    }


def test_a_room_closed_and_made_again_under_its_name_is_another_conversation(store):
    first = lobby(store, room_id="1" * 32)
    store.add(first, said(1, "the first lobby"))
    store.mark_ended(first, "The host closed the room.")
    second = lobby(store, room_id="2" * 32)
    store.add(second, said(1, "the second lobby"))
    assert second != first
    assert [line.text for _id, line in store.lines(second)] == ["the second lobby"]
    assert store.get(first).ended is not None and store.get(second).ended is None
    assert {match.conversation for match in store.search("lobby")} == {first, second}


def test_the_same_room_again_is_the_same_conversation_with_its_details_brought_up_to_date(store, clock):
    room = lobby(store, me="ana")
    clock.now += 60
    assert lobby(store, me="ana2", server="192.168.1.9:9000", hosted=True, standing=True) == room
    got = store.get(room)
    assert (got.me, got.server, got.hosted, got.standing) == ("ana2", "192.168.1.9:9000", True, True)
    assert store.find(FP_HOME, "9" * 32) is None and store.get(room + 100) is None


def test_a_room_ends_once(store, clock):
    room = lobby(store)
    store.add(room, said(1, "bye"))
    clock.now = 2000.0
    store.mark_ended(room, "The host closed the room.")
    store.mark_ended(room, "The server stopped.", when=3000.0)  # a second end changes nothing
    got = store.get(room)
    assert (got.ended, got.ended_reason) == (2000.0, "The host closed the room.")
    assert [line for _id, line in store.lines(room)][-1] == Line(
        None, 2000.0, LineKind.ENDED, "", "The host closed the room."
    )
    assert [line.kind for _id, line in store.lines(room)] == [LineKind.CHAT, LineKind.ENDED]


def test_the_sidebar_lists_the_newest_activity_first(store, clock):
    quiet = lobby(store, room_id="1" * 32, room="quiet")
    busy = lobby(store, room_id="2" * 32, room="busy")
    store.add(quiet, said(1, "long ago", time=100.0))
    store.add(busy, said(1, "just now", time=900.0))
    clock.now = 500.0
    empty = lobby(store, room_id="3" * 32, room="new")  # no line yet: placed by when it began
    assert [c.room for c in store.conversations()] == ["busy", "new", "quiet"]
    assert [c.last_time for c in store.conversations()] == [900.0, None, 100.0]
    assert store.get(empty) == Conversation(
        empty, FP_HOME, "3" * 32, "new", "192.168.1.5:9000", "ana", False, False, None, "", None, 0, 0, 0
    )


def test_unread_counts_what_others_said_or_shared_after_the_read_position(store):
    room = lobby(store, me="ana")
    store.add_many(
        room,
        [
            said(1, "hi", sender="bo"),
            Line(2, 1001.0, LineKind.JOINED, "chen", ""),
            said(3, "hi all", sender="ana"),  # mine: never unread
            Line(4, 1002.0, LineKind.FILE, "bo", "plan.pdf", 1200, "f1"),
            said(5, "see the plan", sender="chen"),
        ],
    )
    assert (store.get(room).unread, store.get(room).newest_seq) == (3, 5)
    store.mark_read(room, 4)
    assert (store.get(room).unread, store.get(room).read_seq) == (1, 4)
    store.mark_read(room, 2)  # an older position (a late window) never takes it back
    assert (store.get(room).unread, store.get(room).read_seq) == (1, 4)
    store.mark_read(room, 5)
    assert store.conversations()[0].unread == 0


def test_a_line_at_a_seq_already_kept_is_skipped_so_a_catch_up_adds_no_duplicates(store):
    room = lobby(store)
    assert store.add(room, said(1, "one"))
    assert not store.add(room, said(1, "one"))
    assert store.add_many(room, [said(1, "one"), said(2, "two"), said(3, "three")]) == 2
    assert store.add_many(room, []) == 0
    assert store.add(room, said(None, "no position")) and store.add(room, said(None, "no position"))
    assert [line.text for _id, line in store.lines(room)] == ["one", "two", "three", "no position", "no position"]
    other = lobby(store, room_id="2" * 32)
    assert store.add(other, said(1, "another room's seq 1"))


def test_a_conversation_put_away_leaves_the_list_but_stays_searchable(store):
    room = lobby(store)
    store.add(room, said(1, "still findable"))
    assert store.get(room).listed
    store.set_listed(room, False)
    assert not store.get(room).listed and [c.listed for c in store.conversations()] == [False]
    assert texts(store.search("findable")) == ["still findable"]
    lobby(store)  # joined again: the app lists it again itself
    assert not store.get(room).listed
    store.set_listed(room, True)
    assert store.get(room).listed


def test_the_persons_choices_last_and_outlive_forgetting_everything(tmp_path, clock):
    path = tmp_path / "history.db"
    store = HistoryStore(path, clock=clock)
    assert (store.keeping, store.keep_days) == (True, 0)  # kept, forever, until the person says otherwise
    store.set_keeping(False)
    store.set_keep_days(30)
    store.forget_everything()
    store.close()
    again = HistoryStore(path, clock=clock)
    assert (again.keeping, again.keep_days) == (False, 30)
    again.set_keeping(True)
    assert again.keeping
    again.close()


def test_a_shorter_keeping_time_deletes_what_is_older_at_once(store, clock):
    room = lobby(store)
    clock.now = 100 * 86400.0
    store.add_many(room, [said(1, "sixty days ago", time=40 * 86400.0), said(2, "ten days ago", time=90 * 86400.0)])
    assert store.set_keep_days(0) == 0
    assert store.set_keep_days(30) == 1
    assert [line.text for _id, line in store.lines(room)] == ["ten days ago"]


# --- a room's lines -----------------------------------------------------------------------------


def test_lines_come_in_the_rooms_order_newest_last_and_page_backwards(store):
    room = lobby(store)
    store.add_many(room, [said(seq, f"line {seq}") for seq in range(1, 11)])
    newest = store.lines(room, limit=4)
    assert [line.text for _id, line in newest] == ["line 7", "line 8", "line 9", "line 10"]
    before = store.lines(room, limit=4, before_id=newest[0][0])
    assert [line.text for _id, line in before] == ["line 3", "line 4", "line 5", "line 6"]
    assert [line.text for _id, line in store.lines(room, limit=4, before_id=before[0][0])] == ["line 1", "line 2"]
    assert len(store.lines(room, limit=None)) == 10


def test_my_message_acknowledged_after_a_later_one_arrived_takes_its_place_in_the_room(store):
    room = lobby(store, me="ana")
    store.add(room, said(11, "bo's answer", sender="bo"))
    store.add(room, said(10, "my question", sender="ana"))  # its acknowledgement came after seq 11
    store.mark_ended(room, "The host closed the room.", when=1001.0)
    assert [line.text for _id, line in store.lines(room)] == [
        "my question",
        "bo's answer",
        "The host closed the room.",
    ]


def test_a_room_opens_at_a_search_hit_with_the_lines_around_it(store):
    room = lobby(store)
    store.add_many(room, [said(seq, f"line {seq}" + (" 議事録" if seq == 50 else "")) for seq in range(1, 101)])
    (hit,) = store.search("議事録")
    around = store.lines_around(room, hit.line_id, before=3, after=2)
    assert [line.seq for _id, line in around] == [47, 48, 49, 50, 51, 52]
    assert hit.line_id in [line_id for line_id, _line in around]
    assert store.lines_around(room + 1, hit.line_id) == []  # the id is not that conversation's


# --- search ----------------------------------------------------------------------------------------


@pytest.fixture
def chat(store):
    """A room with a Japanese and English day in it."""
    room = lobby(store)
    store.add_many(
        room,
        [
            said(1, "昨日の会議の議事録を共有しました。"),
            said(2, "来週のミーティングは水曜日です"),
            said(3, "その件、了解です"),
            said(4, "The MEETING moved to Thursday"),
            said(5, "ＡＢＣ社の見積もり"),
            said(6, "ｶﾀｶﾅで書いた行"),
            said(7, "lunch at noon?"),
            Line(8, 1001.0, LineKind.FILE, "chen", "議事録_0512.pdf", 48_000, "f1"),
            Line(9, 1002.0, LineKind.JOINED, "meetingbot", ""),
        ],
    )
    return room


@pytest.mark.parametrize(
    "query, expected",
    [
        ("議事録", ["議事録_0512.pdf", "昨日の会議の議事録を共有しました。"]),  # inside a sentence, and a file's name
        ("ミーティング", ["来週のミーティングは水曜日です"]),
        ("ﾐｰﾃｨﾝｸﾞ", ["来週のミーティングは水曜日です"]),  # typed in half-width katakana
        ("会議", ["昨日の会議の議事録を共有しました。"]),  # two characters: no trigram
        ("件", ["その件、了解です"]),  # one character
        ("meeting", ["The MEETING moved to Thursday"]),
        ("MEETING", ["The MEETING moved to Thursday"]),
        ("Meeting Moved", ["The MEETING moved to Thursday"]),
        ("abc", ["ＡＢＣ社の見積もり"]),  # full-width text, typed in ASCII
        ("ＡＢＣ社", ["ＡＢＣ社の見積もり"]),
        ("カタカナ", ["ｶﾀｶﾅで書いた行"]),  # half-width text, typed in full width
        ("ｶﾀ", ["ｶﾀｶﾅで書いた行"]),  # and short
        ("  lunch ", ["lunch at noon?"]),
        ("dinner", []),
        ("", []),
        ("   ", []),
    ],
)
def test_search_finds_text_as_people_type_it(store, chat, query, expected):
    assert texts(store.search(query)) == expected


def test_search_says_where_and_when_each_hit_was(store, chat):
    (match,) = store.search("水曜日")
    assert match == Match(
        chat, "lobby", "192.168.1.5:9000", match.line_id, 2, 1000.0, "bo", "来週のミーティングは水曜日です"
    )


def test_notices_and_names_are_not_searched(store, chat):
    assert store.search("bot") == [] and store.search("chen") == []


def test_search_in_one_conversation_leaves_the_others_out(store, chat):
    other = lobby(store, room_id="2" * 32, room="other")
    store.add_many(other, [said(1, "another 議事録"), said(2, "another 件")])
    for query in ("議事録", "件"):
        assert {match.conversation for match in store.search(query)} == {chat, other}
        assert {match.conversation for match in store.search(query, conversation=other)} == {other}
        assert {match.conversation for match in store.search(query, conversation=chat)} == {chat}


def test_search_gives_the_newest_first_up_to_its_limit(store):
    room = lobby(store)
    store.add_many(room, [said(seq, f"report {seq} 件") for seq in range(1, 31)])
    for query in ("report", "件"):
        assert texts(store.search(query, limit=3)) == ["report 30 件", "report 29 件", "report 28 件"]


@pytest.mark.parametrize("query", ['say "hi"', '"', "NEAR(a b)", "a OR b", "col:umn", "x*", "(^_^)"])
def test_search_text_is_taken_literally_not_as_query_syntax(store, query):
    room = lobby(store)
    store.add_many(room, [said(1, f"before {query} after"), said(2, "a b and nothing else")])
    assert texts(store.search(query)) == [f"before {query} after"]


def test_fold_evens_out_width_and_case():
    assert fold("ＡＢＣ") == fold("abc") == fold("ABC") == "abc"
    assert fold("ｶﾞｷﾞ") == "ガギ"
    assert fold("Straße") == "strasse"


# --- forgetting and pruning ---------------------------------------------------------------------

MARKERS = ("zqxvjmarker", "秘密の合言葉鬱蒼")


def raw_bytes(path: Path) -> bytes:
    """The database and its write-ahead log as they lie on disk."""
    data = path.read_bytes()
    log = Path(f"{path}-wal")
    return data + (log.read_bytes() if log.exists() else b"")


def assert_no_trace(path: Path, *secrets: str) -> None:
    data = raw_bytes(path)
    for secret in secrets:
        for form in {secret, fold(secret), secret.upper()}:
            assert form.encode("utf-8") not in data, f"{form!r} is still in the file"
    # The index keeps terms of three characters, each written after what it shares with the
    # term before: a forgotten line's terms show as the Japanese marker's single characters.
    for char in MARKERS[1]:
        assert char.encode("utf-8") not in data, f"{char!r} of a forgotten line is still in the file"


def fill_two_rooms(store: HistoryStore) -> tuple[int, int]:
    """A room to forget and one to keep, their lines interleaved (so they share pages), each
    line its own transaction, as they arrive."""
    secret = lobby(store, room_id="1" * 32, room="secret-zqxvjroom")
    kept = lobby(store, room_id="2" * 32, room="kept")
    for seq in range(1, 601):
        store.add(secret, said(seq, f"{MARKERS[0]} {seq} {MARKERS[1]} " + "x" * (seq % 90)))
        store.add(kept, said(seq, f"kept line {seq} 残す会議"))
    store.add(secret, Line(601, 1001.0, LineKind.FILE, "bo", f"{MARKERS[1]}.pdf", 10, "f1"))
    return secret, kept


def test_forgetting_a_room_leaves_no_trace_in_the_files(tmp_path, clock):
    path = tmp_path / "history.db"
    store = HistoryStore(path, clock=clock)
    secret, kept = fill_two_rooms(store)
    assert MARKERS[1].encode() in raw_bytes(path)  # the check below can see it
    store.forget(secret)
    assert_no_trace(path, *MARKERS, "secret-zqxvjroom")
    assert store.get(secret) is None and store.lines(secret) == []
    assert store.search(MARKERS[0]) == [] and store.search(MARKERS[1]) == []
    assert [c.id for c in store.conversations()] == [kept]
    assert len(store.lines(kept, limit=None)) == 600
    assert len(store.search("残す会議", limit=1000)) == 600 and len(store.search("kept line", limit=1000)) == 600
    assert store.add(kept, said(601, "life goes on"))
    store.close()
    assert_no_trace(path, *MARKERS)


def test_forgetting_everything_leaves_no_trace_and_a_history_that_works(tmp_path, clock):
    path = tmp_path / "history.db"
    store = HistoryStore(path, clock=clock)
    fill_two_rooms(store)
    store.forget_everything()
    assert_no_trace(path, *MARKERS, "kept line", "残す会議", "secret-zqxvjroom")
    assert store.conversations() == [] and store.search("kept") == []
    room = lobby(store)
    assert store.add(room, said(1, "a clean slate"))
    assert texts(store.search("clean")) == ["a clean slate"]
    store.close()
    assert texts(HistoryStore(path).search("slate")) == ["a clean slate"]


def test_pruning_deletes_lines_older_than_kept_and_their_index_entries(store, clock):
    room = lobby(store)
    ended = lobby(store, room_id="2" * 32, room="over")
    store.add_many(room, [said(1, "old news 古い", time=100.0), said(2, "fresh news 新しい", time=900.0)])
    store.add(ended, said(1, "old and over", time=50.0))
    store.mark_ended(ended, "The host closed the room.", when=60.0)
    clock.now = 1000.0
    assert store.prune(None) == 0  # kept forever
    assert store.prune(500.0) == 3  # older than 500 s: two lines of the ended room, one here
    assert [line.text for _id, line in store.lines(room)] == ["fresh news 新しい"]
    assert (
        store.search("old") == []
        and store.search("古い") == []
        and texts(store.search("news")) == ["fresh news 新しい"]
    )
    assert store.get(ended) is None  # an ended room with nothing left to show goes too
    assert store.get(room) is not None
    assert store.prune(500.0) == 0


# --- threads ----------------------------------------------------------------------------------------


def test_clients_threads_and_the_window_may_write_at_once(store):
    rooms = [lobby(store, room_id=f"{n}" * 32, room=f"room {n}") for n in range(1, 5)]
    start = threading.Barrier(len(rooms) + 1)

    def client(room: int) -> None:
        start.wait()
        for seq in range(1, 101):
            store.add(room, said(seq, f"message {seq}"))

    threads = [threading.Thread(target=client, args=(room,)) for room in rooms]
    for thread in threads:
        thread.start()
    start.wait()
    for _round in range(20):  # the window reads meanwhile
        store.conversations()
        store.search("message 5")
    for thread in threads:
        thread.join()
    assert [c.newest_seq for c in store.conversations()] == [100] * 4
    assert len(store.search("message", limit=1000)) == 400


def test_each_start_deletes_what_is_older_than_the_person_keeps(tmp_path):
    now = [100 * DAY]
    store = HistoryStore(tmp_path / "history.db", clock=lambda: now[0])
    room = lobby(store)
    store.add_many(room, [Line(1, 10 * DAY, LineKind.CHAT, "bo", "old"), Line(2, 95 * DAY, LineKind.CHAT, "bo", "new")])
    assert store.prune_expired() == 0  # forever, until chosen otherwise
    store.set_keep_days(30)
    assert [line.text for _id, line in store.lines(room)] == ["new"]
    store.add(room, Line(3, 99 * DAY, LineKind.CHAT, "bo", "newer"))
    now[0] = 127 * DAY  # keeps what is newer than day 97
    assert store.prune_expired() == 1
    assert [line.text for _id, line in store.lines(room)] == ["newer"]
    store.close()


def test_damage_deep_in_the_file_is_found_at_open_and_moved_aside(tmp_path):
    path = tmp_path / "history.db"
    store = HistoryStore(path)
    room = lobby(store)
    store.add_many(room, [Line(n, 1000.0 + n, LineKind.CHAT, "bo", f"line {n} " + "x" * 300) for n in range(1, 400)])
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 30 * page
    data[20 * page : 25 * page] = b"\xa5" * (5 * page)  # pages in the middle, not the header
    path.write_bytes(bytes(data))
    store = HistoryStore(path)
    assert store.moved_aside is not None and store.moved_aside.exists()
    assert store.conversations() == [] and store.search("line") == []
    store.close()


def test_a_forgotten_conversations_id_is_never_given_again(tmp_path):
    store = HistoryStore(tmp_path / "history.db")
    first = lobby(store, room_id="1" * 32)
    second = lobby(store, room_id="2" * 32)
    store.forget(second)
    third = lobby(store, room_id="3" * 32)
    assert third not in (first, second)
    store.forget_everything()
    fourth = lobby(store, room_id="4" * 32)
    assert fourth > third
    store.close()


def test_my_line_kept_without_its_place_and_sent_again_with_it_is_one_line(store):
    room = lobby(store)
    assert store.add(room, Line(None, 1000.0, LineKind.CHAT, "ana", "on my way"))
    assert not store.add(room, Line(7, 1000.5, LineKind.CHAT, "ana", "on my way"))  # no news
    assert [(line.seq, line.text) for _id, line in store.lines(room)] == [(7, "on my way")]
    assert len(store.search("my way")) == 1
    assert store.add(room, Line(8, 1001.0, LineKind.CHAT, "ana", "on my way"))  # said again: a new line


def test_a_room_back_after_its_server_restarted_is_no_longer_ended(store):
    room = lobby(store, standing=True)
    store.mark_ended(room, "The server stopped.")
    assert store.get(room).ended is not None
    assert lobby(store, standing=True) == room
    assert store.get(room).ended is None
    assert [line.kind for _id, line in store.lines(room)] == [LineKind.ENDED]  # it did close for a while


def test_lines_forgotten_while_in_the_room_are_not_kept_when_sent_again(store):
    room = lobby(store)
    store.keep_from(room, 5)
    store.keep_from(room, 3)  # never goes back
    assert not store.add(room, Line(5, 1000.0, LineKind.CHAT, "bo", "said before the forgetting"))
    assert store.add(room, Line(6, 1001.0, LineKind.CHAT, "bo", "said after"))
    assert store.add(room, Line(None, 1002.0, LineKind.CHAT, "ana", "mine, its place not known"))
    assert [line.text for _id, line in store.lines(room)] == ["said after", "mine, its place not known"]
    assert store.search("forgetting") == []


def test_a_query_with_quotes_and_operators_is_text(store):
    room = lobby(store)
    store.add(room, Line(1, 1000.0, LineKind.CHAT, "bo", 'he said "AND" OR NOT near(x)'))
    for query in ('said "AND"', '"AND" OR', "near(x)", '"'):
        assert [m.text for m in store.search(query)] == ['he said "AND" OR NOT near(x)'], query


def test_notices_are_shown_but_not_searched(store):
    room = lobby(store)
    store.add(room, Line(1, 1000.0, LineKind.JOINED, "zephyrine", ""))
    store.add(room, Line(2, 1001.0, LineKind.FILE, "bo", "zephyr-notes.pdf", 1234, "f1"))
    assert [m.text for m in store.search("zephyr")] == ["zephyr-notes.pdf"]  # the file's name, not the join


def test_the_size_shown_is_the_files_on_disk(store, tmp_path):
    room = lobby(store)
    store.add_many(room, [Line(n, 1000.0 + n, LineKind.CHAT, "bo", "x" * 500) for n in range(1, 200)])
    on_disk = sum(
        (tmp_path / name).stat().st_size for name in ("history.db", "history.db-wal") if (tmp_path / name).exists()
    )
    assert store.size_bytes() == on_disk > 100_000


def test_a_saved_links_room_is_found_by_name_newest_first_on_its_server_only(store, clock):
    old = lobby(store, room_id="1" * 32)
    store.add(old, Line(1, 1000.0, LineKind.CHAT, "bo", "the old room"))
    new = lobby(store, room_id="2" * 32)  # the room made again under its name
    store.add(new, Line(1, 2000.0, LineKind.CHAT, "bo", "the new room"))
    lobby(store, fingerprint="bb" * 32, room_id="3" * 32)  # another server's lobby
    found = store.newest_named(FP_HOME, "lobby")
    assert found is not None and found.id == new
    assert store.newest_named(FP_HOME, "tea") is None and store.newest_named("cc" * 32, "lobby") is None
