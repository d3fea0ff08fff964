"""The person's own history: every line of every room they are in, kept in SQLite on this PC.

One conversation is one room on one server: keyed by the server's fingerprint and the id the
server gave the room when it was made, so two servers' "lobby" never mix, and a room closed and
made again under its name is another conversation.

Search finds text as people type it, Japanese included, without splitting words: each line's
text is folded (NFKC, then casefold: width and case) into a column that an FTS5 trigram index
covers. A query of three or more folded characters is one phrase of that index; a shorter one
(会議, 件) has no trigram, so it is found with instr() over the same folded column.

Forgetting leaves no trace in the files: the index is merged, so no segment keeps a forgotten
term (SQLite 3.40 has no FTS5 secure-delete option); VACUUM writes the file anew, without the
stale copies of rows that pages keep in space SQLite counts as free; the write-ahead log is
emptied. secure_delete zeroes deleted rows meanwhile, in case VACUUM cannot run (a full disk).

The GUI calls in from the Tk thread and from the clients' threads: one connection, one lock.
"""

from __future__ import annotations

import enum
import logging
import os
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ocm_core import paths
from ocm_core.errors import OCMError
from ocm_core.i18n import _
from ocm_core.storage.personal import MEMORY, checked_version, in_transaction, open_personal

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: replies, edits, deletions (lines' columns) and reactions
SHORTEST_INDEXED = 3  # a trigram index has no term for a shorter query
DAY = 86400.0

T = TypeVar("T")


class HistoryError(OCMError):
    """Something a person should hear about their history file; str() says what, to them."""


class HistoryFromNewerVersion(HistoryError):
    """Refused rather than changed: a newer app may still need it as it is."""

    def __init__(self, path: str, version: int):
        super().__init__(
            _(
                "Your history file {path} was written by a newer version of Online Chat Messenger; "
                "update the app to keep using it."
            ).format(path=path)
        )
        self.path = path
        self.version = version


class HistoryWriteError(HistoryError, OSError):
    """A write did not reach the disk (full, read-only, failing); nothing of it stays.
    An OSError too, so that a caller which catches OSError for a full disk catches it."""

    def __init__(self, path: str, reason: str):
        super().__init__(_("Your history could not be saved in {path}: {reason}").format(path=path, reason=reason))
        self.path = path
        self.reason = reason


class LineKind(enum.StrEnum):
    CHAT = "chat"
    FILE = "file"
    JOINED = "joined"
    LEFT = "left"
    TIMED_OUT = "timed_out"
    REMOVED = "removed"  # the host removed the line's member
    LOCKED = "locked"  # the host set a password
    UNLOCKED = "unlocked"  # and took it away
    ENDED = "ended"


SEARCHED_KINDS = (LineKind.CHAT, LineKind.FILE)  # what a person said: a message, a file's name


@dataclass(frozen=True)
class Line:
    seq: int | None  # the room's event position; None for a line without one (the room's end)
    time: float  # unix seconds
    kind: LineKind
    sender: str  # who said it, or whose join or leave; "" for the room's end
    text: str  # a message; a file's name; the sentence that ended the room
    size: int = 0  # a file's size in bytes
    file_id: str = ""
    reply_to: int = 0  # a message answering the one at this room position
    edited: bool = False  # its sender changed it since; `text` is the latest
    deleted: bool = False  # taken back by its sender (or the host): the text is gone


@dataclass(frozen=True)
class Conversation:
    id: int
    server_fingerprint: str
    room_id: str
    room: str
    server: str  # the address as shown, "host:port"
    me: str  # my name in the room
    hosted: bool
    standing: bool
    ended: float | None
    ended_reason: str
    last_time: float | None  # the newest line's time; None before any line
    unread: int  # messages and files from others after read_seq
    read_seq: int
    newest_seq: int
    listed: bool = True  # shown in the app's list; one put away stays searchable until forgotten


@dataclass(frozen=True)
class Match:
    conversation: int
    room: str
    server: str
    line_id: int
    seq: int | None
    time: float
    sender: str
    text: str


def fold(text: str) -> str:
    """Text as search compares it: width and case folded (ＡＢＣ, abc and ABC alike; ｶﾀｶﾅ is カタカナ)."""
    return unicodedata.normalize("NFKC", text).casefold()


# --- SQL -------------------------------------------------------------------------------------
# At module level, where mutmut does not reach: its only changes to an SQL text would be the
# case of words SQLite reads in any case (docs/testing.md, "Scores").

_SET_VERSION = f"PRAGMA user_version={SCHEMA_VERSION}"
_SETTINGS = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL; -- a killed app loses nothing, a power cut the last lines
PRAGMA foreign_keys=ON;
PRAGMA secure_delete=ON; -- deleted rows are zeroed at once, before VACUUM (which may fail)
PRAGMA temp_store=MEMORY; -- VACUUM's copy of the history never lands in a temporary file
"""

_SCHEMA = """
-- AUTOINCREMENT: a forgotten conversation's id is never given to another (a recorder still
-- holding it, in this program or in ocm-chat, must not write into someone else's room).
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server_fingerprint TEXT NOT NULL,
    room_id TEXT NOT NULL,
    room TEXT NOT NULL,
    server TEXT NOT NULL,
    me TEXT NOT NULL,
    hosted INTEGER NOT NULL,
    standing INTEGER NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    ended_reason TEXT NOT NULL DEFAULT '',
    read_seq INTEGER NOT NULL DEFAULT 0,
    listed INTEGER NOT NULL DEFAULT 1,
    -- Lines at or below this position are not kept: the person forgot them while still in the
    -- room, and the server's recent history on the next join must not bring them back.
    kept_from_seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (server_fingerprint, room_id)
);
-- A line's text changes only when its sender edits or deletes it: the index follows (line_reindexed).
-- `place` orders a room's lines: its seq, or for a line without one the newest seq before it.
-- `folded` is fold(text) for messages and file names, '' for what is not searched.
CREATE TABLE IF NOT EXISTS lines (
    id INTEGER PRIMARY KEY,
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER,
    place INTEGER NOT NULL,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_id TEXT NOT NULL,
    folded TEXT NOT NULL,
    reply_to INTEGER NOT NULL DEFAULT 0,
    edited INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conversation, seq)
);
CREATE INDEX IF NOT EXISTS lines_in_order ON lines (conversation, place);
CREATE INDEX IF NOT EXISTS lines_by_age ON lines (time);
CREATE VIRTUAL TABLE IF NOT EXISTS lines_index USING fts5(
    folded, content='lines', content_rowid='id', tokenize='trigram case_sensitive 1'
);
CREATE TRIGGER IF NOT EXISTS line_indexed AFTER INSERT ON lines WHEN new.folded != '' BEGIN
    INSERT INTO lines_index (rowid, folded) VALUES (new.id, new.folded);
END;
CREATE TRIGGER IF NOT EXISTS line_unindexed AFTER DELETE ON lines WHEN old.folded != '' BEGIN
    INSERT INTO lines_index (lines_index, rowid, folded) VALUES ('delete', old.id, old.folded);
END;
CREATE TRIGGER IF NOT EXISTS line_reindexed AFTER UPDATE OF folded ON lines BEGIN
    INSERT INTO lines_index (lines_index, rowid, folded) SELECT 'delete', old.id, old.folded WHERE old.folded != '';
    INSERT INTO lines_index (rowid, folded) SELECT new.id, new.folded WHERE new.folded != '';
END;
-- Who reacted with what to a room's message; they go with the message's line.
CREATE TABLE IF NOT EXISTS reactions (
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (conversation, seq, emoji, name)
);
CREATE TRIGGER IF NOT EXISTS line_reactions_gone AFTER DELETE ON lines WHEN old.seq IS NOT NULL BEGIN
    DELETE FROM reactions WHERE conversation = old.conversation AND seq = old.seq;
END;
-- The person's choices about their history; kept when the history is forgotten.
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

_CONVERSATION = """
SELECT c.id, c.server_fingerprint, c.room_id, c.room, c.server, c.me, c.hosted, c.standing,
    c.ended, c.ended_reason,
    (SELECT time FROM lines WHERE conversation = c.id ORDER BY place DESC, id DESC LIMIT 1) AS last_time,
    (SELECT count(*) FROM lines WHERE conversation = c.id AND seq > c.read_seq
        AND kind IN ('chat', 'file') AND sender != c.me),
    c.read_seq,
    (SELECT coalesce(max(seq), 0) FROM lines WHERE conversation = c.id),
    c.listed
FROM conversations AS c
"""
_CONVERSATIONS_NEWEST_FIRST = _CONVERSATION + "ORDER BY coalesce(last_time, c.started) DESC, c.id DESC"
_CONVERSATION_BY_ID = _CONVERSATION + "WHERE c.id = ?"
_CONVERSATION_BY_KEY = _CONVERSATION + "WHERE c.server_fingerprint = ? AND c.room_id = ?"
_NEWEST_BY_NAME = (
    _CONVERSATION
    + "WHERE c.server_fingerprint = ? AND c.room = ? ORDER BY coalesce(last_time, c.started) DESC, c.id DESC LIMIT 1"
)

_UPSERT_CONVERSATION = """
INSERT INTO conversations (server_fingerprint, room_id, room, server, me, hosted, standing, started)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (server_fingerprint, room_id) DO UPDATE SET
    room = excluded.room, server = excluded.server, me = excluded.me,
    hosted = excluded.hosted, standing = excluded.standing, ended = NULL, ended_reason = ''
RETURNING id
"""

_ADD_LINE = """
INSERT OR IGNORE INTO lines (
    conversation, seq, place, time, kind, sender, text, size, file_id, folded, reply_to, edited, deleted
)
SELECT :conversation, :seq,
    coalesce(:seq, (SELECT coalesce(max(seq), 0) FROM lines WHERE conversation = :conversation)),
    :time, :kind, :sender, :text, :size, :file_id, :folded, :reply_to, :edited, :deleted
WHERE :seq IS NULL OR :seq > (SELECT kept_from_seq FROM conversations WHERE id = :conversation)
"""

_DROP_UNPLACED_TWIN = """
DELETE FROM lines WHERE id = (
    SELECT id FROM lines WHERE conversation = :conversation AND seq IS NULL AND kind = 'chat'
        AND kind = :kind AND sender = :sender AND text = :text
    ORDER BY id LIMIT 1
)
"""
_END = "UPDATE conversations SET ended = ?, ended_reason = ? WHERE id = ? AND ended IS NULL"
_READ = "UPDATE conversations SET read_seq = max(read_seq, ?) WHERE id = ?"
_LIST = "UPDATE conversations SET listed = ? WHERE id = ?"
_SETTING = "SELECT value FROM settings WHERE name = ?"
_SET_SETTING = (
    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)
KEEPING, KEEP_DAYS = "keeping", "keep_days"
SETTING_DEFAULTS = {KEEPING: 1, KEEP_DAYS: 0}  # kept, forever

_LINE_COLUMNS = "id, seq, time, kind, sender, text, size, file_id, reply_to, edited, deleted"
_LINE_AT = f"SELECT {_LINE_COLUMNS} FROM lines WHERE conversation = ? AND seq = ?"
_EDIT_LINE = """
UPDATE lines SET text = ?, folded = ?, edited = 1
WHERE conversation = ? AND seq = ? AND kind = 'chat' AND deleted = 0
"""
_DELETE_TEXT = """
UPDATE lines SET text = '', folded = '', deleted = 1 WHERE conversation = ? AND seq = ? AND kind = 'chat'
"""
_FORGET_REACTIONS_ON = "DELETE FROM reactions WHERE conversation = ? AND seq = ?"
_REACT = "INSERT OR IGNORE INTO reactions (conversation, seq, emoji, name) VALUES (?, ?, ?, ?)"
_UNREACT = "DELETE FROM reactions WHERE conversation = ? AND seq = ? AND emoji = ? AND name = ?"
_REACTIONS_BETWEEN = """
SELECT seq, emoji, name FROM reactions WHERE conversation = ? AND seq BETWEEN ? AND ? ORDER BY rowid
"""
_NEWEST_LINES = f"""
SELECT {_LINE_COLUMNS} FROM lines WHERE conversation = ?
ORDER BY place DESC, id DESC LIMIT ?
"""
_LINES_BEFORE = f"""
SELECT {_LINE_COLUMNS} FROM lines
WHERE conversation = ? AND (place, id) < (SELECT place, id FROM lines WHERE id = ?)
ORDER BY place DESC, id DESC LIMIT ?
"""
_LINES_FROM = f"""
SELECT {_LINE_COLUMNS} FROM lines
WHERE conversation = ? AND (place, id) >= (SELECT place, id FROM lines WHERE id = ?)
ORDER BY place, id LIMIT ?
"""
_LINE_CONVERSATION = "SELECT conversation FROM lines WHERE id = ?"

_MATCH_COLUMNS = "l.conversation, c.room, c.server, l.id, l.seq, l.time, l.sender, l.text"
_SEARCH_INDEX = f"""
SELECT {_MATCH_COLUMNS} FROM lines_index
JOIN lines AS l ON l.id = lines_index.rowid JOIN conversations AS c ON c.id = l.conversation
WHERE lines_index MATCH :phrase AND (:conversation IS NULL OR l.conversation = :conversation)
ORDER BY lines_index.rowid DESC LIMIT :limit
"""
_SEARCH_SHORT = f"""
SELECT {_MATCH_COLUMNS} FROM lines AS l JOIN conversations AS c ON c.id = l.conversation
WHERE instr(l.folded, :text)
ORDER BY l.id DESC LIMIT :limit
"""
_SEARCH_SHORT_IN_ONE = f"""
SELECT {_MATCH_COLUMNS} FROM lines AS l JOIN conversations AS c ON c.id = l.conversation
WHERE l.conversation = :conversation AND instr(l.folded, :text)
ORDER BY l.id DESC LIMIT :limit
"""

_FORGET_LINES = "DELETE FROM lines WHERE conversation = ?"
_FORGET_CONVERSATION = "DELETE FROM conversations WHERE id = ?"
_PRUNE_LINES = "DELETE FROM lines WHERE time < ?"
# A room that ended and has no line left has nothing to show.
_PRUNE_ENDED = """
DELETE FROM conversations
WHERE ended IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lines WHERE conversation = conversations.id)
"""
# One transaction: nobody, in this program or another, sees the tables gone.
_FORGET_EVERYTHING = f"""
BEGIN IMMEDIATE;
DROP TABLE lines_index; -- its shadow tables go with it
DROP TABLE reactions;
DROP TABLE lines; -- and the index's triggers with this one
DROP TABLE conversations;
{_SCHEMA}
COMMIT;
"""
_LAST_CONVERSATION_ID = "SELECT seq FROM sqlite_sequence WHERE name = 'conversations'"
_KEEP_FROM = "UPDATE conversations SET kept_from_seq = max(kept_from_seq, ?) WHERE id = ?"
_GO_ON_FROM = "INSERT INTO sqlite_sequence (name, seq) VALUES ('conversations', ?)"
_MERGE_INDEX = "INSERT INTO lines_index (lines_index) VALUES ('optimize')"
_VACUUM = "VACUUM"
_EMPTY_LOG = "PRAGMA wal_checkpoint(TRUNCATE)"


# --- the store -------------------------------------------------------------------------------


class HistoryStore:
    def __init__(self, path: str | os.PathLike, *, clock: Callable[[], float] = time.time):
        self.path = str(path)
        self._clock = clock
        self._lock = threading.Lock()
        # Where a damaged file went (None: it was sound); a fresh one took its place.
        self._db, self.moved_aside = open_personal(self.path, self._prepare, "history")

    @staticmethod
    def default_path() -> Path:
        return paths.data_dir() / "history.db"

    def _prepare(self, db: sqlite3.Connection) -> None:
        version = checked_version(db, SCHEMA_VERSION, lambda found: HistoryFromNewerVersion(self.path, found))
        if version == 1:  # before replies and edits: the lines table gains their columns first
            for column in ("reply_to", "edited", "deleted"):
                db.execute(f"ALTER TABLE lines ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
        db.executescript(_SETTINGS + _SCHEMA)
        if version != SCHEMA_VERSION:
            db.execute(_SET_VERSION)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writes ------------------------------------------------------------------------------

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` as one transaction; a failure raises HistoryWriteError and leaves nothing."""
        return in_transaction(self._db, self._lock, work, lambda reason: HistoryWriteError(self.path, reason))

    def conversation(
        self,
        server_fingerprint: str,
        room_id: str,
        *,
        room: str,
        server: str,
        me: str,
        hosted: bool = False,
        standing: bool = False,
    ) -> int:
        """The id of the room's conversation, made if new; its name, address and my name as now.
        Asked for, the room is open again (a standing room back after its server's restart):
        no longer ended. Its "ended" line stays, where it closed for a while."""
        row = (server_fingerprint, room_id, room, server, me, int(hosted), int(standing), self._clock())
        return self._write(lambda db: db.execute(_UPSERT_CONVERSATION, row).fetchone()[0])

    def add(self, conversation_id: int, line: Line) -> bool:
        """Keep `line`; False when the conversation already has a line at its seq."""
        return self.add_many(conversation_id, [line]) == 1

    def add_many(self, conversation_id: int, lines: Iterable[Line]) -> int:
        """Keep `lines` in one transaction; how many were new (a seq already kept is skipped)."""
        rows = [_line_row(conversation_id, line) for line in lines]

        def add(db: sqlite3.Connection) -> int:
            new = 0
            for row in rows:
                added = db.execute(_ADD_LINE, row).rowcount
                # One's own line kept without its position (its acknowledgement did not say it)
                # and now sent again with it: one copy, at its place, and no news.
                if added and row["seq"] is not None and db.execute(_DROP_UNPLACED_TWIN, row).rowcount:
                    continue
                new += added
            return new

        return self._write(add) if rows else 0

    def edit(self, conversation_id: int, seq: int, text: str) -> bool:
        """The message at `seq` now reads `text` (its sender edited it); False if it is not kept."""
        row = (text, fold(text), conversation_id, seq)
        return self._write(lambda db: db.execute(_EDIT_LINE, row).rowcount) == 1

    def delete_text(self, conversation_id: int, seq: int) -> bool:
        """The message at `seq` was taken back: its text leaves this file (no trace kept, as when
        a conversation is forgotten); its line stays, marked deleted. False if it is not kept."""

        def delete(db: sqlite3.Connection) -> int:
            db.execute(_FORGET_REACTIONS_ON, (conversation_id, seq))
            return db.execute(_DELETE_TEXT, (conversation_id, seq)).rowcount

        if self._write(delete) != 1:
            return False
        self._leave_no_trace()
        return True

    def react(self, conversation_id: int, seq: int, emoji: str, name: str, on: bool) -> None:
        row = (conversation_id, seq, emoji, name)
        self._write(lambda db: db.execute(_REACT if on else _UNREACT, row))

    def mark_ended(self, conversation_id: int, reason: str, when: float | None = None) -> None:
        """The room ended (once: a second call changes nothing), with its "ended" line."""
        when = self._clock() if when is None else when

        def end(db: sqlite3.Connection) -> None:
            if db.execute(_END, (when, reason, conversation_id)).rowcount:
                db.execute(_ADD_LINE, _line_row(conversation_id, Line(None, when, LineKind.ENDED, "", reason)))

        self._write(end)

    def keep_from(self, conversation_id: int, seq: int) -> None:
        """Keep no line at or below `seq` in this conversation (what was forgotten while the
        person stayed in the room, which the server would otherwise send again)."""
        self._write(lambda db: db.execute(_KEEP_FROM, (seq, conversation_id)))

    def mark_read(self, conversation_id: int, seq: int) -> None:
        """The person has read up to `seq`; an older position never takes it back."""
        self._write(lambda db: db.execute(_READ, (seq, conversation_id)))

    def set_listed(self, conversation_id: int, listed: bool) -> None:
        """Show the conversation in the app's list, or put it away (its lines stay)."""
        self._write(lambda db: db.execute(_LIST, (int(listed), conversation_id)))

    # --- the person's choices, kept in the file so that the app and ocm-chat share them ---

    def _setting(self, name: str) -> int:
        rows = self._read(_SETTING, (name,))
        return rows[0][0] if rows else SETTING_DEFAULTS[name]

    @property
    def keeping(self) -> bool:
        """Whether new conversations are to be kept (the app and ocm-chat ask before recording)."""
        return bool(self._setting(KEEPING))

    def set_keeping(self, keep: bool) -> None:
        self._write(lambda db: db.execute(_SET_SETTING, (KEEPING, int(keep))))

    @property
    def keep_days(self) -> int:
        """How many days lines are kept; 0 for forever."""
        return self._setting(KEEP_DAYS)

    def set_keep_days(self, days: int) -> int:
        """Keep lines for `days` (0: forever) and delete the older ones now; how many went."""
        self._write(lambda db: db.execute(_SET_SETTING, (KEEP_DAYS, days)))
        return self.prune(days * DAY if days else None)

    def forget(self, conversation_id: int) -> None:
        """Delete the conversation and leave no trace of it in the files."""

        def delete(db: sqlite3.Connection) -> None:
            db.execute(_FORGET_LINES, (conversation_id,))
            db.execute(_FORGET_CONVERSATION, (conversation_id,))

        self._write(delete)
        self._leave_no_trace()

    def forget_everything(self) -> None:
        """Delete every conversation and leave no trace of any in the files."""

        with self._lock:
            try:
                try:
                    last = self._db.execute(_LAST_CONVERSATION_ID).fetchone()
                    self._db.executescript(_FORGET_EVERYTHING)
                    if last is not None:  # the new table goes on from there: no id is given twice
                        self._db.execute(_GO_ON_FROM, (last[0],))
                except BaseException:
                    if self._db.in_transaction:
                        self._db.rollback()
                    raise
            except sqlite3.Error as exc:
                raise HistoryWriteError(self.path, str(exc)) from None
        self._leave_no_trace()

    def prune_expired(self) -> int:
        """Delete what is older than the person chose to keep (run at each start)."""
        days = self.keep_days
        return self.prune(days * DAY if days else None)

    def prune(self, keep_seconds: float | None) -> int:
        """Delete the lines older than `keep_seconds` (None keeps them forever), and the rooms
        that ended with nothing left to show; how many lines went."""
        if keep_seconds is None:
            return 0
        cutoff = self._clock() - keep_seconds

        def delete(db: sqlite3.Connection) -> int:
            count = db.execute(_PRUNE_LINES, (cutoff,)).rowcount
            db.execute(_PRUNE_ENDED)
            return count

        count = self._write(delete)
        if count:
            self._leave_no_trace()
        return count

    def _leave_no_trace(self) -> None:
        """After a delete. secure_delete has zeroed the deleted rows, but not everything:
        the index's segments keep a deleted line's terms until they are merged; pages keep
        stale copies of rows that a page split once moved, in space SQLite sees as unused,
        until VACUUM writes the file anew; and the write-ahead log keeps the pages as they
        were, until a checkpoint empties it."""
        with self._lock:
            try:
                self._db.execute(_MERGE_INDEX)
                self._db.execute(_VACUUM)
                busy = self._db.execute(_EMPTY_LOG).fetchone()[0]
            except sqlite3.Error as exc:
                raise HistoryWriteError(self.path, str(exc)) from None
        if busy:  # another program (ocm-chat beside the app) reads it: the log empties at a later checkpoint
            log.warning("the write-ahead log of %s could not be emptied now: another program is reading it", self.path)

    # --- reads -------------------------------------------------------------------------------

    def _read(self, sql: str, args: tuple | dict = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def find(self, server_fingerprint: str, room_id: str) -> Conversation | None:
        rows = self._read(_CONVERSATION_BY_KEY, (server_fingerprint, room_id))
        return _conversation(rows[0]) if rows else None

    def newest_named(self, server_fingerprint: str, room: str) -> Conversation | None:
        """The conversation with the newest activity in a room of this name on this server (what
        a saved invite link, which names no id, last led to)."""
        rows = self._read(_NEWEST_BY_NAME, (server_fingerprint, room))
        return _conversation(rows[0]) if rows else None

    def get(self, conversation_id: int) -> Conversation | None:
        rows = self._read(_CONVERSATION_BY_ID, (conversation_id,))
        return _conversation(rows[0]) if rows else None

    def conversations(self) -> list[Conversation]:
        """Every conversation, the one with the newest line first."""
        return [_conversation(row) for row in self._read(_CONVERSATIONS_NEWEST_FIRST)]

    def lines(
        self, conversation_id: int, *, limit: int | None = 500, before_id: int | None = None
    ) -> list[tuple[int, Line]]:
        """The newest `limit` lines (None: all) before the line `before_id` (None: the newest),
        oldest first, each with its id. A room's order is its event order."""
        count = -1 if limit is None else limit  # SQLite reads a negative LIMIT as none
        if before_id is None:
            rows = self._read(_NEWEST_LINES, (conversation_id, count))
        else:
            rows = self._read(_LINES_BEFORE, (conversation_id, before_id, count))
        return [_line(row) for row in reversed(rows)]

    def line_at(self, conversation_id: int, seq: int) -> Line | None:
        """The line at room position `seq` (what a reply quotes), or None when it is not kept."""
        rows = self._read(_LINE_AT, (conversation_id, seq))
        return _line(rows[0])[1] if rows else None

    def reactions(self, conversation_id: int, first_seq: int, last_seq: int) -> dict[int, dict[str, list[str]]]:
        """seq -> emoji -> who, for the messages from `first_seq` to `last_seq`, in the order added."""
        found: dict[int, dict[str, list[str]]] = {}
        for seq, emoji, name in self._read(_REACTIONS_BETWEEN, (conversation_id, first_seq, last_seq)):
            found.setdefault(seq, {}).setdefault(emoji, []).append(name)
        return found

    def lines_around(
        self, conversation_id: int, line_id: int, *, before: int = 200, after: int = 200
    ) -> list[tuple[int, Line]]:
        """The line `line_id` with up to `before` lines before it and `after` after: a room
        opened at a search's hit. [] if the conversation has no such line."""
        if self._read(_LINE_CONVERSATION, (line_id,)) != [(conversation_id,)]:
            return []
        older = self._read(_LINES_BEFORE, (conversation_id, line_id, before))
        newer = self._read(_LINES_FROM, (conversation_id, line_id, after + 1))
        return [_line(row) for row in [*reversed(older), *newer]]

    def search(self, text: str, *, conversation: int | None = None, limit: int = 200) -> list[Match]:
        """The messages and files whose text contains `text` (width and case folded), newest
        first; in one conversation, or in all."""
        wanted = fold(text).strip()
        if not wanted:
            return []
        if len(wanted) >= SHORTEST_INDEXED:
            phrase = '"' + wanted.replace('"', '""') + '"'
            rows = self._read(_SEARCH_INDEX, {"phrase": phrase, "conversation": conversation, "limit": limit})
        else:
            sql = _SEARCH_SHORT if conversation is None else _SEARCH_SHORT_IN_ONE
            rows = self._read(sql, {"text": wanted, "conversation": conversation, "limit": limit})
        return [Match(*row) for row in rows]

    def size_bytes(self) -> int:
        """What the history takes on disk: the database and its write-ahead log."""
        if self.path == MEMORY:
            return 0
        total = 0
        for part in (Path(self.path), Path(self.path + "-wal")):
            try:
                total += part.stat().st_size
            except FileNotFoundError:
                pass
        return total


def _line_row(conversation_id: int, line: Line) -> dict:
    return {
        "conversation": conversation_id,
        "seq": line.seq,
        "time": line.time,
        "kind": str(line.kind),
        "sender": line.sender,
        "text": line.text,
        "size": line.size,
        "file_id": line.file_id,
        "folded": fold(line.text) if line.kind in SEARCHED_KINDS else "",
        "reply_to": line.reply_to,
        "edited": int(line.edited),
        "deleted": int(line.deleted),
    }


def _line(row: tuple) -> tuple[int, Line]:
    line_id, seq, when, kind, sender, text, size, file_id, reply_to, edited, deleted = row
    return line_id, Line(seq, when, LineKind(kind), sender, text, size, file_id, reply_to, bool(edited), bool(deleted))


def _conversation(row: tuple) -> Conversation:
    cid, fp, room_id, room, server, me, hosted, standing, ended, reason, last, unread, read, newest, listed = row
    return Conversation(
        cid,
        fp,
        room_id,
        room,
        server,
        me,
        bool(hosted),
        bool(standing),
        ended,
        reason,
        last,
        unread,
        read,
        newest,
        bool(listed),
    )
