"""ClientSession: the client's side of a room, as a state machine without I/O.

No socket, thread or clock in here (the rule of wire/ and sansio/): the
caller hands in what arrived and the time, and gets back an `Output`: datagrams to
send, events for the app, and whether to fetch the room's snapshot over TCP. It is
the client's counterpart of `RoomRegistry.handle_datagrams` and `RoomRegistry.tick`.

What it keeps: our messages in id order until the server acknowledges them (re-sent
with backoff, reported failed after `send_timeout`), the room's events handed on once
and in room order (later ones held back while a gap is asked for again), cumulative
acknowledgements, and whether the server still answers. A message longer than one datagram
goes in pieces (sansio/pieces.py), one such message at a time with the later ones queued
behind it; a long event is gathered from its pieces and handed on only whole.

    JOINING --any frame--> OPEN --silence--> LOST --any frame--> OPEN
       |                     |                 |
       +---------------------+-----leave()-----+--> CLOSING --answer/close()--> CLOSED
    room closed, token unknown, or silence past give_up_after: CLOSED from any state

In LOST, `not_answering_after` seconds (HOST_NOT_ANSWERING_AFTER) bring one
HostNotAnswering; keep_waiting() asks for the next one that much later. Ending because
the server no longer knows this session (and would not take it back) is SessionGone,
which the app can answer by joining again; the room's own end is RoomClosed.

A call that does not fit the state raises `LocalProtocolError` and changes nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import logging
from dataclasses import dataclass, field

from ocm_core import wire as p
from ocm_core.crypto.sealed import OpenFailed, SealedChannel
from ocm_core.errors import LocalProtocolError, ProtocolError
from ocm_core.i18n import _
from ocm_core.sansio import events as ev
from ocm_core.sansio.pieces import SERVER, Assembler, Sender, Took
from ocm_core.wire import ErrorCode, EventType
from ocm_core.words import YOU_WERE_REMOVED, direct_refusal, refusal_sentence, server_sentence

log = logging.getLogger(__name__)

FIRST_RETRY = 0.3  # seconds before an unacknowledged message is sent again; doubles ...
MAX_RETRY = 2.0  # ... up to this
JOIN_PROBE = 0.2  # heartbeats this often until the server first answers (it learns our address)
ACK_DELAY = 0.05  # acknowledgements are batched for this long
GAP_RETRY = 0.2  # an open gap with nothing new arriving is asked for again this often
RESEND_SPACING = 0.1  # at most one RESEND per this much time, unless the server prompts it
# Silence longer than a heartbeat is first probed densely: on a lossy link one lost answer
# is common, many in a row are not, so "connection lost" then means it (a server answers
# a probe at most every 0.5 s: rooms.STATUS_QUIET).
SILENCE_PROBE = 0.5
RESUME_RETRY = 2.0  # a server unreachable for taking us back is asked again after this
UNKNOWN_CHECK_EVERY = 2.0  # a plain "unknown token" is checked over TLS (a snapshot) at most this often
# Lost this long, the host is called not answering: by then the server would have removed a
# member as silent (rooms.RoomRegistry's member_timeout), so waiting on is a choice to offer.
HOST_NOT_ANSWERING_AFTER = 30.0


class SessionState(enum.Enum):
    JOINING = "joining"  # joined over TCP; the server has not answered on UDP yet
    OPEN = "open"
    LOST = "lost"  # the server has been silent longer than lost_after: probing with backoff
    CLOSING = "closing"  # we sent LEAVE and wait for the server to confirm
    CLOSED = "closed"  # over: nothing more is sent or handed on


class Comeback(enum.Enum):
    """A sub-state of the live states: whether the server forgot us and we ask to come back."""

    NONE = "none"  # the server knows us
    WANTED = "wanted"  # it forgot us: a JOIN with our old token goes out at the next tick
    ASKED = "asked"  # that JOIN is under way; its answer decides


_LIVE = (SessionState.JOINING, SessionState.OPEN, SessionState.LOST)


@dataclass
class Output:
    """What the caller should do: send `datagrams` (in order) to the server's chat
    address, hand `events` to the app, and fetch a snapshot (SYNC) if `fetch_snapshot`.
    `mail`: direct messages to open (with our key, outside this machine) and then
    acknowledge with mail_got(), so the server forgets them only once we have them."""

    datagrams: list[bytes] = field(default_factory=list)
    events: list[ev.AppEvent] = field(default_factory=list)
    fetch_snapshot: bool = False
    resume: bool = False  # ask to come back into the room with our token (JOIN with resume_token), then resumed()
    mail: list[p.Mail] = field(default_factory=list)


@dataclass
class _Pending:
    text: str
    first_sent: float
    retry_at: float
    interval: float
    action: p.ActionKind | None = None  # None: a chat line
    target: int = 0
    long: bool = False  # too long for one datagram: goes in pieces, and the later messages wait for it
    started: bool = False  # sent at least once (a message behind a long one waits unsent)
    sender: Sender | None = None  # a long one's pieces, cut when it starts

    @property
    def is_message(self) -> bool:
        """A line of ours (a chat or a reply), shown when sent; an action's effect comes from the room."""
        return self.action in (None, p.ActionKind.REPLY)


@dataclass
class _DirectPending:
    frame: p.Direct  # sealed already: a retransmit is the same bytes, under the same id
    first_sent: float
    retry_at: float
    interval: float


_DIRECT_STATUS = {p.DirectState.KEPT: ev.DirectStatus.WAITING, p.DirectState.PASSED: ev.DirectStatus.SENT}


class ClientSession:
    def __init__(
        self,
        room: str,
        username: str,
        token: bytes,
        *,
        heartbeat_interval: float = 3.0,
        send_timeout: float = 60.0,
        lost_after: float | None = None,
        give_up_after: float = 300.0,
        not_answering_after: float = HOST_NOT_ANSWERING_AFTER,
        channel: SealedChannel | None = None,
    ):
        """`channel`: seals what we send and opens what the server sends (None: plain).
        `send_timeout`: a message not acknowledged by then is reported failed.
        `lost_after`: seconds of silence from the server before ConnectionLost.
        `give_up_after`: seconds of silence after which the session ends for good.
        `not_answering_after`: seconds in LOST before HostNotAnswering (and again after keep_waiting())."""
        self.room = room
        self.username = username
        self.heartbeat_interval = heartbeat_interval
        self.send_timeout = send_timeout
        self.lost_after = lost_after if lost_after is not None else max(3.0, 3.0 * heartbeat_interval)
        self.give_up_after = give_up_after
        self.not_answering_after = not_answering_after
        self._not_answering_at = float("inf")  # when LOST brings HostNotAnswering (armed on entering LOST)
        self.state = SessionState.JOINING
        self.host: str | None = None
        self.members: tuple[str, ...] = ()
        self._room_bytes = room.encode("utf-8")
        self._token = token
        self._joined_at: int | None = None  # room position at join; None until the first snapshot
        self._msg_ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._failed: dict[int, _Pending] = {}
        self._delivered = 0  # every room event up to here has been handed on
        self._held: dict[int, p.Event] = {}  # events that arrived ahead of a gap
        self._own_seqs: set[int] = set()  # positions of our own messages, from their acks
        self._acked_sent = -1
        self._last_ack_at = float("-inf")
        self._last_heartbeat = float("-inf")
        self._last_heard = 0.0
        self._last_resend_request = float("-inf")
        self._resync_wanted = False
        self._resume = Comeback.NONE
        self._resume_reason = ""
        self._resume_at = float("-inf")
        self._channel = channel
        self._last_unknown_check = float("-inf")
        self.plain: frozenset[str] = frozenset()  # members whose traffic is not encrypted
        self.keys: dict[str, bytes] = {}  # member -> the direct-message key it gave
        self.away: set[str] = set()  # members who are away now
        self.speaks_actions = False  # the server takes replies, reactions, edits (its snapshot says)
        self.speaks_pieces = False  # the server takes and sends long messages in pieces (its snapshot says)
        # The server's long events arriving: one owner, room for four of the longest at once.
        self._pieces = Assembler(total_bytes=4 * p.MAX_LONG_FRAME_BYTES, bytes_per_owner=4 * p.MAX_LONG_FRAME_BYTES)
        self._pieces_asked: dict[int, float] = {}  # seq -> when its missing pieces were last asked for
        self.topic = ""
        self._direct_pending: dict[int, _DirectPending] = {}
        self.dropped = 0  # datagrams that did not open, or came plain to a sealed session

    # --- what the caller may ask ---------------------------------------------------------

    @property
    def delivered(self) -> int:
        """The room position up to which every event has been handed on (or was ours)."""
        return self._delivered

    @property
    def max_message_bytes(self) -> int:
        """The longest text (UTF-8 bytes) we may send: a long message's, when the server takes
        pieces; else what fits one datagram both ways."""
        if self.speaks_pieces:
            return p.MAX_LONG_TEXT_BYTES
        return p.max_chat_text_bytes(len(self._room_bytes), len(self._token), len(self.username.encode("utf-8")))

    def _require(self, action: str, *allowed: SessionState) -> None:
        if self.state not in allowed:
            raise LocalProtocolError(f"cannot {action} while the session is {self.state.value}")

    # --- calls from the app -------------------------------------------------------------

    def apply_snapshot(self, snapshot: p.RoomSnapshot, now: float) -> Output:
        """Take members and the event position from a SYNC answer. The first one starts the
        session and its history is shown as history; a later one (after RESYNC) hands on
        the events we had missed as live ones."""
        self._require("apply a room snapshot", *_LIVE)
        out = Output()
        first = self._joined_at is None
        if first:
            self._joined_at = snapshot.seq
            self._last_heard = now
        self.host, self.members, self.plain = snapshot.host, snapshot.members, frozenset(snapshot.plain)
        self.keys, self.away = dict(snapshot.keys), set(snapshot.away)
        self.speaks_actions = p.FEATURE_ACTIONS in snapshot.features
        self.speaks_pieces = p.FEATURE_PIECES in snapshot.features
        if snapshot.topic != self.topic:
            self.topic = snapshot.topic
            out.events.append(ev.TopicChanged(0, snapshot.host, snapshot.topic, 0.0, history=True))
        if not first and snapshot.seq < self._delivered:  # the server's own word over TLS, never a stale datagram
            self._numbering_went_back(snapshot.seq)
        # Our own join is in the history the server sends: it and what came after it are news
        # to us, not "earlier messages".
        own_join = max(
            (e.seq for e in snapshot.history if e.event_type is EventType.JOINED and e.name == self.username),
            default=None,
        )
        for event in snapshot.history:
            event = dataclasses.replace(event, history=first and (own_join is None or event.seq < own_join))
            if (
                event.seq > self._delivered
                and self.state is not SessionState.CLOSED
                and not self._is_own(event.seq, event)
            ):
                self._hand_on(event, out, update_members=False)
        self._delivered = max(self._delivered, snapshot.seq)
        self._held = {s: e for s, e in self._held.items() if s > self._delivered}
        for partial in self._pieces.partials(SERVER):
            if partial.key <= self._delivered:  # the snapshot brought it whole
                self._pieces.forget(SERVER, partial.key)
                self._pieces_asked.pop(partial.key, None)
        self._own_seqs = {s for s in self._own_seqs if s > self._delivered}
        out.events.append(self._members_changed())
        self._drain(out, now)
        return out

    def resumed(self, snapshot: p.RoomSnapshot, now: float) -> Output:
        """The server took us back (same token): hand on what we missed, say how much, and
        send what we kept at once."""
        self._require("resume", *_LIVE)
        self._resume = Comeback.NONE
        out = self.apply_snapshot(snapshot, now)
        # Our own timing out and coming back are not news to us.
        out.events = [e for e in out.events if not (isinstance(e, ev.Notice) and e.name == self.username)]
        missed = len([e for e in out.events if isinstance(e, ev.ChatMessage)])
        out.events.insert(0, ev.Resumed(missed))  # said first: what we missed follows it
        self._send_all_again(now)
        return out

    def resume_later(self, now: float) -> None:
        """The server could not be asked to take us back: ask again in a while."""
        if self._resume is Comeback.ASKED:
            self._resume, self._resume_at = Comeback.WANTED, now + RESUME_RETRY

    def resume_failed(self, reason: str, *, room_gone: bool = False) -> Output:
        """The server would not take us back: the session is over, with its reason (or the
        one it gave when it forgot us). SessionGone (joining again may work), or RoomClosed
        when `room_gone` (the server said the room itself is no more)."""
        out = Output()
        if self.state in _LIVE:
            sentence = server_sentence(reason) if reason else self._resume_reason
            if room_gone:
                self._end(sentence, out)
            else:
                self._fail_pending(_("the server no longer knew this session"), out)
                self.close()
                out.events.append(ev.SessionGone(self.room, self.username, sentence))
        return out

    def keep_waiting(self, now: float) -> None:
        """The person chose to wait for the host: the next HostNotAnswering comes
        `not_answering_after` seconds from now, if the connection is still lost then
        (a new loss starts its own count)."""
        self._not_answering_at = now + self.not_answering_after

    def send_chat(self, text: str, now: float) -> tuple[int, list[bytes]]:
        """Queue `text` for the room; return its message id and the datagrams to send now (none
        while it waits behind a long message of ours; a long one's first pieces). Re-sends come
        from tick() until the server acknowledges it or it fails."""
        return self.send_action(None, 0, text, now)

    def send_action(self, kind: p.ActionKind | None, target: int, text: str, now: float) -> tuple[int, list[bytes]]:
        """Queue an action (wire/actions.py; None: a chat line) on message `target` (0 for the room's
        own kinds), numbered and ordered with our chats; its effect comes back as a room event.
        Longer than one datagram, it goes in pieces if the server takes them (else LocalProtocolError)."""
        self._require("send a message", *_LIVE)
        if self._joined_at is None:
            raise LocalProtocolError("cannot send a message before the room's snapshot is applied")
        if kind is not None and not self.speaks_actions:
            raise LocalProtocolError("this server does not take replies, reactions or edits")
        msg_id = next(self._msg_ids)
        pending = _Pending(text, now, now + FIRST_RETRY, FIRST_RETRY, kind, target)
        frame = self._chat_frame(msg_id, pending)
        if p.is_long(len(frame), len(self._room_bytes), len(self._token)):
            if not self.speaks_pieces:
                self._datagram(frame)  # raises: it does not fit one datagram
            if len(frame) > p.MAX_LONG_FRAME_BYTES:
                raise LocalProtocolError(f"message is {len(frame)} bytes; the most is {p.MAX_LONG_FRAME_BYTES}")
            pending.long = True
        waits = any(older.long for older in self._pending.values())
        self._pending[msg_id] = pending
        out = Output()
        if not waits:
            try:
                self._start(msg_id, pending, out, now)
            except LocalProtocolError:
                del self._pending[msg_id]
                raise
        return msg_id, out.datagrams

    def max_direct_bytes(self, recipient: str) -> int:
        """The longest direct message (UTF-8 bytes of text) to `recipient` from this room."""
        return p.max_direct_text_bytes(
            len(self._room_bytes), len(self._token), len(self.username.encode("utf-8")), len(recipient.encode("utf-8"))
        )

    def send_direct(self, frame: p.Direct, now: float) -> bytes:
        """Send a sealed direct message (made by the caller, who holds our key); re-sent from
        tick() until the server says what became of it (DirectUpdate), or it fails."""
        self._require("send a direct message", *_LIVE)
        if self._channel is None:
            raise LocalProtocolError("direct messages travel only over encryption")
        datagram = self._datagram(p.encode_direct(frame))
        self._direct_pending[frame.msg_id] = _DirectPending(frame, now, now + FIRST_RETRY, FIRST_RETRY)
        return datagram

    def mail_got(self, mail_id: int, kept: bool = True) -> bytes:
        """Acknowledge a mailbox item: `kept` (shown now or before), or refused (it did not open,
        or was dated too far from now); either way the server forgets it and tells its sender which."""
        return self._datagram(p.encode_mail_got(mail_id, kept))

    def presence(self, away: bool) -> bytes:
        return self._datagram(p.encode_presence(p.PresenceState.AWAY if away else p.PresenceState.ONLINE))

    def typing(self, to: str = "") -> bytes:
        """A typing signal for the room, or (`to`) for our direct conversation with `to`."""
        return self._datagram(p.encode_typing(to))

    def retry(self, msg_id: int, now: float) -> tuple[int, list[bytes]]:
        """Send a failed message again under a new id."""
        self._require("retry a message", *_LIVE)
        if msg_id not in self._failed:
            raise LocalProtocolError(f"message {msg_id} is not waiting for a retry")
        failed = self._failed[msg_id]
        new_id, datagram = self.send_action(failed.action, failed.target, failed.text, now)
        del self._failed[msg_id]
        return new_id, datagram

    def leave(self, now: float) -> Output:
        """Say goodbye; call again to repeat it if the answer does not come."""
        self._require("leave", *_LIVE, SessionState.CLOSING)
        self.state = SessionState.CLOSING
        return Output(datagrams=[self._datagram(p.encode_leave())])

    def close(self) -> None:
        """Stop for good without a word to the server (after leave(), or on shutdown)."""
        self.state = SessionState.CLOSED
        self._pending.clear()

    # --- what arrived ---------------------------------------------------------------------

    def forgotten(self, reason: str) -> Output:
        """The server said over TLS that it no longer knows this session: ask to come back
        (we may have been away past its timeout); resume_failed() ends it if refused."""
        if self.state in _LIVE and self._resume is Comeback.NONE:  # else a try to come back is under way: it decides
            self._resume = Comeback.WANTED
            words = reason.rstrip(".")
            self._resume_reason = (
                server_sentence(words) if words else _("The server no longer knows this session; join again.")
            )
        return Output()

    def _open(self, data: bytes) -> tuple[bytes, bool]:
        """(body, whether it came sealed): opened under our key when this session seals."""
        datagram = p.decode_datagram(data)
        if self._channel is None or not p.is_sealed(datagram.body):
            return datagram.body, False
        return self._channel.open(data[: len(data) - len(datagram.body)], datagram.body), True

    def _drop(self, reason: str) -> Output:
        self.dropped += 1
        if self.dropped & (self.dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th ...: a flood cannot flood the log
            log.warning("dropped %d datagrams not genuinely from the server (%s)", self.dropped, reason)
        return Output()

    def _unsealed(self, frame, now: float) -> Output:
        """A plain datagram to a sealed session: anyone could have sent it. Only the server's
        "unknown token" is plain (it has no key for a token it forgot), so that one is a hint,
        checked over TLS (a snapshot fetch) before anything ends; anything else is dropped."""
        if not isinstance(frame, p.ErrorFrame) or frame.code is not ErrorCode.UNKNOWN_TOKEN:
            return self._drop("plain")
        out = Output()
        if self.state is SessionState.CLOSING:
            self.close()  # we are leaving anyway: at worst a forged one makes us go sooner
        elif self.state in _LIVE and now - self._last_unknown_check >= UNKNOWN_CHECK_EVERY:
            self._last_unknown_check = now
            out.fetch_snapshot = True
        return out

    def receive(self, data: bytes, now: float) -> Output:
        """Handle one datagram from the server. Malformed bytes raise RemoteProtocolError
        and change nothing; one that does not open (forged, altered, replayed) is dropped
        and counted; anything after CLOSED is ignored."""
        try:
            body, sealed = self._open(data)
        except OpenFailed as exc:
            return self._drop(exc.reason)
        frame = p.decode_body(body)
        if self._channel is not None and not sealed:
            return self._unsealed(frame, now)
        out = Output()
        if self.state is SessionState.CLOSED:
            return out
        self._last_heard = now
        if self.state is SessionState.JOINING:
            self.state = SessionState.OPEN
        elif self.state is SessionState.LOST:
            self.state = SessionState.OPEN
            out.events.append(ev.ConnectionRestored())
            self._send_all_again(now)  # at the next tick
            for direct in self._direct_pending.values():
                direct.retry_at = now
        if isinstance(frame, p.Event):
            if frame.seq > self._delivered:
                self._held[frame.seq] = frame
                self._drain(out, now)
            else:
                self._acked_sent = -1  # a re-send of what we have: our last ack was lost, repeat it
        elif isinstance(frame, p.EventPiece):
            self._event_piece(frame, out, now)
        elif isinstance(frame, p.PieceGot):
            self._piece_got(frame, out, now)
        elif isinstance(frame, p.ChatAck):
            self._acknowledged(frame, out, now)
            self._send_due(out, now, retransmit=False)  # what waited behind a long message of ours
        elif isinstance(frame, p.StatusFrame):
            if frame.latest_seq < self._delivered:
                # Perhaps the server's numbering went back (a database lost), perhaps this is
                # an old STATUS overtaken by newer events: only a fresh snapshot can tell.
                self._resync_wanted = True
            elif frame.latest_seq > self._delivered and not self._held:
                self._ask_resend(out, now, force=True, up_to=frame.latest_seq)
        elif isinstance(frame, p.ErrorFrame):
            self._error(frame, out)
        elif isinstance(frame, p.Refused):
            self._refused(frame, out)
            self._send_due(out, now, retransmit=False)
        elif isinstance(frame, (p.DirectStateFrame, p.Mail, p.PresenceNote, p.TypingNote)):
            self._direct_news(frame, out)
        else:
            log.debug("ignored a %s frame from the server", type(frame).__name__)
        return out

    def _numbering_went_back(self, latest_seq: int) -> None:
        """The server's room is behind what we delivered (it lost its database, or another
        server took over): what it numbers next would look old to us and never be shown.
        Take its numbering."""
        log.warning(
            "the server's room position went back from %d to %d; following its numbering", self._delivered, latest_seq
        )
        self._delivered = latest_seq
        self._held.clear()
        self._own_seqs.clear()
        self._pieces.drop_owner(SERVER)
        self._pieces_asked.clear()
        self._acked_sent = -1

    def _acknowledged(self, frame: p.ChatAck, out: Output, now: float) -> None:
        acked = self._pending.pop(frame.msg_id, None)
        if acked is not None:
            # The server relays our messages in id order, so this ack also says that every
            # older one still waiting went out: its own ack was lost. Its room position
            # arrives with the stream (seq 0 until then).
            for older in sorted(i for i in self._pending if i < frame.msg_id):
                del self._pending[older]
                out.events.append(ev.MessageSent(older, 0))
            out.events.append(ev.MessageSent(frame.msg_id, frame.seq))
        if acked is not None and not acked.is_message:
            return  # an action's event comes to us with the room's, and is handed on like theirs
        if frame.seq > self._delivered:
            self._own_seqs.add(frame.seq)
            self._drain(out, now)

    def _error(self, frame: p.ErrorFrame, out: Output) -> None:
        if frame.code is ErrorCode.UNKNOWN_TOKEN:
            if self.state is SessionState.CLOSING:
                self.close()  # the server's answer to our LEAVE
            elif frame.text == YOU_WERE_REMOVED:
                self._end(server_sentence(frame.text), out)  # nothing to come back to: the room keeps us out
            elif self._resume is Comeback.NONE:
                # Perhaps we were away too long (a laptop asleep): try to come back before giving up.
                self._resume = Comeback.WANTED
                self._resume_reason = (
                    server_sentence(frame.text)
                    if frame.text
                    else _(
                        "The server no longer knows this session (it may have restarted without its database); "
                        "join again."
                    )
                )
        elif frame.code is ErrorCode.RESYNC:
            self._resync_wanted = True
        else:
            out.events.append(ev.ErrorEvent(server_sentence(frame.text)))

    def _refused(self, frame: p.Refused, out: Output) -> None:
        pending = self._pending.pop(frame.msg_id, None)
        if pending is None:
            return  # the answer to a retransmit: the first one said it
        reason = refusal_sentence(frame.code, frame.text)
        if pending.is_message:
            self._failed[frame.msg_id] = pending
            out.events.append(ev.MessageFailed(frame.msg_id, pending.text, reason))
        else:
            assert pending.action is not None
            out.events.append(ev.ActionRefused(frame.msg_id, pending.action.name.lower(), pending.target, reason))

    def _direct_news(self, frame: p.DirectStateFrame | p.Mail | p.PresenceNote | p.TypingNote, out: Output) -> None:
        if isinstance(frame, p.DirectStateFrame):
            pending = self._direct_pending.pop(frame.msg_id, None)
            if pending is None:
                return  # the answer to a retransmit: the first one said it
            recipient = pending.frame.recipient
            if frame.state is p.DirectState.REFUSED:
                reason = direct_refusal(frame.refusal, recipient)
                out.events.append(ev.DirectUpdate(frame.msg_id, recipient, ev.DirectStatus.FAILED, reason))
            else:
                out.events.append(ev.DirectUpdate(frame.msg_id, recipient, _DIRECT_STATUS[frame.state]))
        elif isinstance(frame, p.Mail):
            if frame.kind is p.MailKind.DELIVERED:
                out.events.append(ev.DirectUpdate(frame.msg_id, frame.peer, ev.DirectStatus.DELIVERED))
                out.datagrams.append(self.mail_got(frame.mail_id))
            elif frame.kind is p.MailKind.UNOPENED:
                reason = _("{name}'s app could not open it").format(name=frame.peer)
                out.events.append(ev.DirectUpdate(frame.msg_id, frame.peer, ev.DirectStatus.FAILED, reason))
                out.datagrams.append(self.mail_got(frame.mail_id))
            else:
                out.mail.append(frame)
        elif isinstance(frame, p.PresenceNote):
            away = frame.state is p.PresenceState.AWAY
            if (frame.name in self.away) != away and frame.name in self.members:
                self.away.symmetric_difference_update({frame.name})
                out.events.append(ev.PresenceChanged(frame.name, away))
        elif frame.name != self.username:
            out.events.append(ev.TypingSeen(frame.name, frame.direct))

    # --- room order ----------------------------------------------------------------------

    def _is_own(self, seq: int, event: p.Event | None) -> bool:
        """Is room position `seq` one of our own live messages? We showed those when we sent
        them. An ack says so; failing that, names are unique in a room, so a live message
        under our name after we joined is ours (history may hold an earlier namesake's)."""
        if seq in self._own_seqs:
            return True
        return (
            event is not None
            and event.event_type in p.MESSAGE_TYPES
            and not event.history
            and event.name == self.username
            and seq > (self._joined_at or 0)
        )

    def _drain(self, out: Output, now: float) -> None:
        """Hand on every event that is now contiguous; ask for the gaps if any are left."""
        while self.state is not SessionState.CLOSED:
            seq = self._delivered + 1
            if seq not in self._own_seqs and seq not in self._held:
                break
            event = self._held.pop(seq, None)
            if event is not None and not self._is_own(seq, event):  # None: our own, acked
                self._hand_on(event, out)
            self._own_seqs.discard(seq)
            self._delivered = seq
        if self._held and self.state is not SessionState.CLOSED:
            self._ask_resend(out, now)

    def _ask_resend(self, out: Output, now: float, force: bool = False, up_to: int = 0) -> None:
        """Ask for every gap below the highest event held (or up to `up_to`), in one request."""
        if not force and now - self._last_resend_request <= RESEND_SPACING:
            return
        self._last_resend_request = now
        ranges: list[tuple[int, int]] = []
        wanted, seq = 0, self._delivered + 1
        end = max(max(self._held, default=0), up_to)
        arriving = {partial.key for partial in self._pieces.partials(SERVER)}  # asked piece by piece

        def missing(s: int) -> bool:
            return s not in self._held and s not in self._own_seqs and s not in arriving

        while seq <= end and len(ranges) < p.MAX_RESEND_RANGES and wanted < p.MAX_RESEND_EVENTS:
            if not missing(seq):
                seq += 1
                continue
            first = seq
            while seq <= end and missing(seq) and wanted < p.MAX_RESEND_EVENTS:
                seq += 1
                wanted += 1
            ranges.append((first, seq - 1))
        if ranges:
            out.datagrams.append(self._datagram(p.encode_resend(*ranges)))

    def _hand_on(self, event: p.Event, out: Output, update_members: bool = True) -> None:
        when = event.time_ms / 1000.0
        if event.event_type is EventType.CHAT:
            out.events.append(
                ev.ChatMessage(
                    event.seq, event.name, event.text, when, event.history, edited=event.edited, deleted=event.deleted
                )
            )
            return
        if event.event_type in _ACTION_EVENTS:
            try:
                news = _action_news(event, when)
            except ProtocolError as exc:
                log.warning("ignored a malformed %s event: %s", event.event_type.name.lower(), exc.reason)
                return
            if isinstance(news, ev.TopicChanged):
                self.topic = news.topic
            out.events.append(news)
            return
        if event.event_type is EventType.FILE:
            try:
                info = p.decode_file_event(event)
            except ProtocolError as exc:
                log.warning("ignored a malformed file event: %s", exc.reason)
                return
            out.events.append(
                ev.FileShared(
                    event.seq,
                    info.file_id,
                    info.name,
                    info.size,
                    info.sender,
                    info.mime,
                    when,
                    event.history,
                    files=info.files,
                )
            )
            return
        if event.event_type is EventType.CLOSED:
            if not event.history:
                self._end(server_sentence(event.text) if event.text else _("The host closed the room."), out)
            return
        kind = _NOTICE_KINDS[event.event_type]
        out.events.append(ev.Notice(event.seq, kind, event.name, "", when, event.history))
        if update_members:
            members = set(self.members)
            if kind is ev.NoticeKind.JOINED:
                members.add(event.name)
                self.away.discard(event.name)
                if event.text == p.JOINED_PLAIN:
                    self.plain |= {event.name}
                elif key := p.decode_direct_key(event.text):
                    self.keys[event.name] = key
                else:
                    self.keys.pop(event.name, None)
            else:
                members.discard(event.name)
                self.plain -= {event.name}
                self.keys.pop(event.name, None)
                self.away.discard(event.name)
            self.members = tuple(sorted(members, key=str.casefold))
            out.events.append(self._members_changed())

    def _members_changed(self) -> ev.MembersChanged:
        keys = tuple((name, key) for name, key in self.keys.items() if name in self.members)
        return ev.MembersChanged(self.members, self.host or "", self.plain, keys, frozenset(self.away))

    def _end(self, sentence: str, out: Output) -> None:
        """The room is gone for us: report it once; what still waited has failed."""
        self._fail_pending(_("the room closed before it was delivered"), out)
        self.close()
        out.events.append(ev.RoomClosed(sentence))

    def _fail_pending(self, reason: str, out: Output) -> None:
        for msg_id, pending in self._pending.items():
            out.events.append(ev.MessageFailed(msg_id, pending.text, reason))
        for msg_id, direct in self._direct_pending.items():
            out.events.append(ev.DirectUpdate(msg_id, direct.frame.recipient, ev.DirectStatus.FAILED, reason))
        self._direct_pending.clear()

    # --- time ------------------------------------------------------------------------------

    def tick(self, now: float) -> Output:
        """Time-driven work: re-sends, failures, lost and given-up connections, gap requests,
        acknowledgements and heartbeats. Call it often (every 50 ms or so)."""
        out = Output()
        if self.state not in _LIVE or self._joined_at is None:
            return out
        if self._resync_wanted:
            self._resync_wanted = False
            out.fetch_snapshot = True
        if self._resume is Comeback.WANTED and now >= self._resume_at:
            self._resume = Comeback.ASKED
            out.resume = True
        lost = self.state is SessionState.LOST
        for msg_id, pending in list(self._pending.items()):
            if pending.started and now - pending.first_sent > self.send_timeout:  # one waiting has not begun
                del self._pending[msg_id]
                self._failed[msg_id] = pending
                out.events.append(
                    ev.MessageFailed(
                        msg_id,
                        pending.text,
                        _("the server did not confirm it within {seconds:g} s").format(seconds=self.send_timeout),
                    )
                )
        if not lost:
            self._send_due(out, now, retransmit=True)
        for msg_id, direct in list(self._direct_pending.items()):
            if now - direct.first_sent > self.send_timeout:
                del self._direct_pending[msg_id]
                reason = _("the server did not confirm it within {seconds:g} s").format(seconds=self.send_timeout)
                out.events.append(ev.DirectUpdate(msg_id, direct.frame.recipient, ev.DirectStatus.FAILED, reason))
            elif now >= direct.retry_at and not lost:
                out.datagrams.append(self._datagram(p.encode_direct(direct.frame)))
                direct.interval = min(direct.interval * 2, MAX_RETRY)
                direct.retry_at = now + direct.interval
        silent_for = now - self._last_heard
        if silent_for > self.give_up_after:
            self._end(
                _("No answer from the server for {seconds:.0f} s; the connection is lost.").format(seconds=silent_for),
                out,
            )
            return out
        if not lost and silent_for > self.lost_after:
            self.state, lost = SessionState.LOST, True
            self._not_answering_at = now + self.not_answering_after
            out.events.append(ev.ConnectionLost())
        elif lost and now >= self._not_answering_at:
            self._not_answering_at = float("inf")  # once; keep_waiting() arms the next
            out.events.append(ev.HostNotAnswering(int(silent_for)))
        if lost:  # probe with a backoff of silence: 1, 2, 4 ... up to the heartbeat interval
            interval = min(self.heartbeat_interval, max(1.0, silent_for / 4))
        elif self.state is SessionState.JOINING:
            interval = JOIN_PROBE
        elif silent_for > self.heartbeat_interval + SILENCE_PROBE:
            interval = SILENCE_PROBE  # an answer is overdue: ask again soon before calling it lost
        else:
            interval = self.heartbeat_interval
        if self._held and now - self._last_resend_request >= GAP_RETRY:
            self._ask_resend(out, now)  # a gap is still open and nothing new came to prompt a request
        self._ask_missing_pieces(out, now, lost)
        ack_due = self._delivered != self._acked_sent and now - self._last_ack_at >= ACK_DELAY
        if ack_due or now - self._last_heartbeat >= interval:
            self._acked_sent, self._last_ack_at, self._last_heartbeat = self._delivered, now, now
            out.datagrams.append(self._datagram(p.encode_heartbeat(self._delivered)))
        return out

    # --- bytes -----------------------------------------------------------------------------

    def _datagram(self, body: bytes) -> bytes:
        if self._channel is None:
            return p.encode_datagram(self._room_bytes, self._token, body)
        return self._channel.seal(p.datagram_header(self._room_bytes, self._token), body)

    def _chat_datagram(self, msg_id: int, pending: _Pending) -> bytes:
        return self._datagram(self._chat_frame(msg_id, pending))

    def _chat_frame(self, msg_id: int, pending: _Pending) -> bytes:
        floor = min(self._pending, default=msg_id)  # everything below is delivered or given up
        if pending.action is None:
            return p.encode_chat(msg_id, pending.text, floor)
        return p.encode_action(p.Action(msg_id, pending.action, pending.target, pending.text, floor))

    # --- long messages (sansio/pieces.py) ---------------------------------------------------

    def _start(self, msg_id: int, pending: _Pending, out: Output, now: float) -> None:
        """Send a message for the first time: whole, or a long one's first window of pieces
        (its frame cut now, with the floor of now: lower than it will be, so only cautious)."""
        pending.started = True
        pending.first_sent = now  # a message that waited behind a long one has its own time from now
        pending.retry_at, pending.interval = now + FIRST_RETRY, FIRST_RETRY
        if not pending.long:
            out.datagrams.append(self._chat_datagram(msg_id, pending))
            return
        size = p.piece_room(len(self._room_bytes), len(self._token))
        pending.sender = Sender(self._chat_frame(msg_id, pending), size, now)
        self._send_pieces(msg_id, pending.sender, pending.sender.due(now), out)

    def _send_pieces(self, msg_id: int, sender: Sender, indexes: list[int], out: Output) -> None:
        for i in indexes:
            piece = p.Piece(msg_id, i, sender.count, sender.slices[i])
            out.datagrams.append(self._datagram(p.encode_piece(piece)))

    def _send_due(self, out: Output, now: float, retransmit: bool) -> None:
        """Send what is due of our messages, in id order: the ones not sent yet that no long
        message of ours holds back, and (`retransmit`) the re-sends whose time came. A long one's
        pieces go as its Sender says; held whole by the server and not acknowledged, its last
        piece is sent again at the message's own backoff (the server answers, or relays it
        now that its sender's bucket refilled)."""
        for msg_id, pending in list(self._pending.items()):
            if not pending.started:
                self._start(msg_id, pending, out, now)
            elif retransmit and pending.sender is not None:
                sender = pending.sender
                self._send_pieces(msg_id, sender, sender.due(now), out)
                if sender.complete and now >= pending.retry_at:
                    self._send_pieces(msg_id, sender, [sender.count - 1], out)
                    pending.interval = min(pending.interval * 2, MAX_RETRY)
                    pending.retry_at = now + pending.interval
            elif retransmit and now >= pending.retry_at:
                out.datagrams.append(self._chat_datagram(msg_id, pending))
                pending.interval = min(pending.interval * 2, MAX_RETRY)
                pending.retry_at = now + pending.interval
            if pending.long:
                return  # one long message at a time: the later ones wait for its end

    def _send_all_again(self, now: float) -> None:
        """After a silence: everything of ours still unacknowledged goes again at the next tick."""
        for pending in self._pending.values():
            pending.retry_at = now
            if pending.sender is not None:
                pending.sender.retry_at = now

    def _piece_got(self, frame: p.PieceGot, out: Output, now: float) -> None:
        """The server's word on what it holds of a long message of ours: what it lacks below
        the newest piece it has goes again at once, and new pieces as the window opens."""
        pending = self._pending.get(frame.msg_id)
        if pending is None or pending.sender is None:
            return  # acknowledged (or failed) already: a late answer
        sender = pending.sender
        was_complete = sender.complete
        if not sender.acknowledged(frame.count, frame.held, now):
            log.debug("ignored a piece answer for %d pieces of message %d", frame.count, frame.msg_id)
            return
        if sender.complete and not was_complete:
            pending.retry_at, pending.interval = now + FIRST_RETRY, FIRST_RETRY
        if self.state is not SessionState.LOST:
            self._send_pieces(frame.msg_id, sender, sender.due(now), out)

    def _event_piece(self, frame: p.EventPiece, out: Output, now: float) -> None:
        """A piece of long room event `frame.seq`: whole, the event is held for its turn like
        one that came in one datagram; with some pieces missing, those are asked for."""
        seq = frame.seq
        if seq <= self._delivered:
            self._acked_sent = -1  # a re-send of what we have: our last ack was lost, repeat it
            return
        if seq in self._held or seq in self._own_seqs:
            return
        taken = self._pieces.add(SERVER, seq, frame.index, frame.count, frame.data, now)
        if taken.took is Took.WHOLE:
            self._pieces_asked.pop(seq, None)
            try:
                event = p.decode_body(taken.frame)
            except ProtocolError as exc:
                event, reason = None, exc.reason
            else:
                reason = f"a {type(event).__name__}"
            if not isinstance(event, p.Event) or event.seq != seq:
                self._pieces.forget(SERVER, seq)
                log.warning("ignored long event %d from the server: its pieces make %s", seq, reason)
                return
            self._held[seq] = event
            self._drain(out, now)
        elif taken.took is Took.DUPLICATE or (taken.took is Took.KEPT and frame.index == frame.count - 1):
            self._ask_pieces(seq, frame.count, out, now)  # the last piece or a copy: the rest is not coming

    def _ask_pieces(self, seq: int, count: int, out: Output, now: float) -> None:
        """Ask the server for the pieces of event `seq` we lack (at most every RESEND_SPACING)."""
        missing = self._pieces.missing(SERVER, seq)
        if not missing or now - self._pieces_asked.get(seq, float("-inf")) <= RESEND_SPACING:
            return
        self._pieces_asked[seq] = now
        out.datagrams.append(self._datagram(p.encode_piece_resend(p.PieceResend(seq, count, missing))))

    def _ask_missing_pieces(self, out: Output, now: float, lost: bool) -> None:
        """Ask again for the pieces of events with nothing new for GAP_RETRY; give up on those
        not whole in time (each is then a gap like any other, asked for by RESEND)."""
        self._pieces.expire(now)
        arriving = self._pieces.partials(SERVER)
        keys = {partial.key for partial in arriving}
        self._pieces_asked = {seq: at for seq, at in self._pieces_asked.items() if seq in keys}
        if lost:
            return
        for partial in arriving:
            quiet_since = max(partial.last_piece_at, self._pieces_asked.get(partial.key, float("-inf")))
            if now - quiet_since >= GAP_RETRY:
                self._ask_pieces(partial.key, partial.count, out, now)


_NOTICE_KINDS = {
    EventType.JOINED: ev.NoticeKind.JOINED,
    EventType.LEFT: ev.NoticeKind.LEFT,
    EventType.TIMED_OUT: ev.NoticeKind.TIMED_OUT,
    EventType.REMOVED: ev.NoticeKind.REMOVED,
}
_ACTION_EVENTS = (
    EventType.REPLY,
    EventType.REACTION,
    EventType.EDITED,
    EventType.DELETED,
    EventType.TOPIC,
    EventType.LOCKED,
)


def _action_news(event: p.Event, when: float) -> ev.AppEvent:
    """What an event of actions tells the app. Malformed text raises RemoteProtocolError."""
    kind, seq, name, history = event.event_type, event.seq, event.name, event.history
    if kind is EventType.REPLY:
        reply = p.decode_reply_text(event.text)
        return ev.ChatMessage(
            seq, name, reply.text, when, history, reply_to=reply.to, edited=event.edited, deleted=event.deleted
        )
    if kind is EventType.REACTION:
        reaction = p.decode_reaction_text(event.text)
        return ev.Reacted(seq, reaction.to, name, reaction.emoji, reaction.on, when, history)
    if kind is EventType.EDITED:
        edit = p.decode_edit_text(event.text)
        return ev.MessageEdited(seq, edit.to, name, edit.text, when, history)
    if kind is EventType.DELETED:
        gone = p.decode_delete_text(event.text)
        return ev.MessageDeleted(seq, gone.to, name, gone.by_host, when, history)
    if kind is EventType.TOPIC:
        return ev.TopicChanged(seq, name, event.text, when, history)
    locked = ev.NoticeKind.LOCKED if event.text == "1" else ev.NoticeKind.UNLOCKED
    return ev.Notice(seq, locked, name, "", when, history)
