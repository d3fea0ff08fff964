"""The registry's UDP side: what each datagram from a member does. Tokens and their
addresses checked, sealed datagrams opened, a member's messages relayed exactly once and
in its own order, resends answered within budgets earned by a proven address.

`Relay` is one concern of `RoomRegistry` (registry.py), which inherits it; it runs under
the registry's lock, inside the registry's store transaction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ocm_core import wire as p
from ocm_core import words
from ocm_core.crypto.sealed import OpenFailed
from ocm_core.sansio.actions import Said
from ocm_core.sansio.mentions import EVERYONE_FREELY_UP_TO, may_name_everyone, names_everyone
from ocm_core.sansio.parts import RegistryParts
from ocm_core.sansio.room import Address, Member, Outbound, Transport
from ocm_core.storage.roomstore import StoreWriteError
from ocm_core.wire import ErrorCode, EventType

if TYPE_CHECKING:
    pass

log = logging.getLogger("ocm_core.sansio.registry")  # one logger for the registry and its parts

SEEN_IDS_PER_MEMBER = 2048  # how many recent message ids a member's duplicates are checked against
HELD_PER_MEMBER = 256  # messages that arrived ahead of a lost one, waiting to keep the sender's order
HOLD_SECONDS = 30.0  # longer than that, the missing one is given up (our clients raise their floor first)
STATUS_QUIET = 0.5  # a heartbeat from a caught-up member is answered only after this much silence towards it
CANNOT_SAVE_TELL_EVERY = 10.0  # a sender whose messages are refused is told again after this long
CANNOT_SAVE_TEXT = words.CANNOT_SAVE_MESSAGES
TOO_LONG_TEXT = "that message is too long to relay with your name; shorten it"
REFUSALS_KEPT = 64  # a member's recent refused message ids, answered again if it retransmits one

_CLIENT_FRAMES = (
    p.Heartbeat,
    p.Chat,
    p.Action,
    p.Piece,
    p.PieceResend,
    p.PlainText,
    p.Resend,
    p.Leave,
    p.Direct,
    p.MailGot,
    p.PresenceFrame,
    p.Typing,
)
_DIRECT_FRAMES = (p.Direct, p.MailGot, p.PresenceFrame, p.Typing)  # mailbox.py's
_STORED_DIRECT = (p.Direct, p.MailGot)  # what changes the store: waits while it fails


class Relay(RegistryParts):
    """The UDP side of RoomRegistry."""

    def handle_datagram(self, datagram: p.Datagram, address: Address) -> Outbound:
        return self.handle_datagrams([(datagram, address)])

    def handle_datagrams(self, batch: list[tuple[p.Datagram, Address]]) -> Outbound:
        """Handle datagrams that arrived together: one lock, one database transaction, and
        nothing to send until it is committed."""
        with self._lock:
            if self._store_failing:
                return self._handle_batch(batch)
            try:
                return self._durably(lambda: self._handle_batch(batch))
            except StoreWriteError:
                # Nothing of the batch happened; handled again while failing, its messages
                # are refused (their senders told) and everything else is answered.
                return self._handle_batch(batch)

    def _handle_batch(self, batch: list[tuple[p.Datagram, Address]]) -> Outbound:
        out: Outbound = []
        self._windows_moved: dict[bytes, int] = {}  # token -> its newest nonce, for the store
        self._piece_got_due = {}
        for datagram, address in batch:
            try:
                out += self._handle_one(datagram, address)
            except StoreWriteError:
                raise  # the whole batch's transaction is gone: its answers must go too
            except Exception:  # a bug costs this datagram, never the others
                log.exception("error handling a datagram from %s", address)
        out += self._answer_pieces()
        if self._store is not None and not self._store_failing:
            # In the batch's own transaction: what it answered and the nonces it opened are
            # kept together, so a restarted server opens none of them again.
            self._store.keep_replay_windows(self._windows_moved)
        return out

    def _handle_one(self, datagram: p.Datagram, address: Address) -> Outbound:
        member = self._tokens.get(datagram.token)
        if member is None:
            return self._unknown_token(datagram, address)
        if member.room.name != datagram.room:
            return self.drop("token used for another room", address)
        if address[0] != member.ip:
            return self.drop("token used from another IP address", address)
        body = datagram.body
        fresh = True  # newer than every datagram opened from this member so far
        if member.channel is not None:
            newest = member.channel.window.newest
            try:
                body = member.channel.open(p.datagram_header(member.room.name_bytes, member.token), body)
            except OpenFailed as exc:
                return self.drop("datagram does not open", address, exc.reason)
            fresh = member.channel.window.newest > newest
            if fresh:
                self._windows_moved[member.token] = member.channel.window.newest
        if member.address is not None and address != member.address and not fresh:
            # A late datagram (one held back and let go by someone on the path) from another
            # address is no sign that the member moved: its address changes only for a new one.
            return self.drop("late datagram from another address", address)
        try:
            frame = p.decode_kanaru_body(body) if member.kanaru else p.decode_body(body)
        except p.ProtocolError as exc:
            return self.drop("bad frame", address, exc.reason)
        if not isinstance(frame, _CLIENT_FRAMES):
            return self.drop("server frame sent to the server", address, type(frame).__name__)
        now = self._clock()
        if now - member.last_seen > 1.0:
            # A sender cut off for a while delivers what it wrote meanwhile at once: that is
            # its rate over the silence, not a flood (capped by what the server would hold).
            member.chat_bucket.credit(min(HELD_PER_MEMBER, (now - member.last_seen) * self.limits.rate_per_second))
        member.last_seen = now
        member.admit_by, member.heard = None, True
        if member.address != address:
            if member.address is not None:
                self._quiet_log.log(
                    ("moved", member.token),
                    logging.INFO,
                    "%r in %r moved from %s to %s",
                    member.name,
                    member.room.name,
                    member.address,
                    address,
                )
            # The first address comes with the token just handed over TCP: as good a proof as
            # any. A move to another one must be proven (it may be a forged source).
            member.proven, member.proof_floor = member.address is None, member.acked_seq
            member.address = address
            if self._store and not self._store_failing:  # an address is a hint for after a restart: it may wait
                self._store.move_member(member.token, address, isinstance(frame, p.PlainText))
        if isinstance(frame, p.Heartbeat):
            if member.kanaru:
                return []  # its __REGISTER__: the address is noted, nothing to answer
            self._acknowledge(member, frame.ack_seq, now)
            # Acks come often under load; answer only a member that is behind (it learns
            # the latest seq) or one that has heard nothing from us lately (liveness).
            # A member ahead of the room (our numbering went back) is always told, so it resynchronises.
            if frame.ack_seq == member.room.seq and now - member.last_sent < STATUS_QUIET:
                return []
            member.last_sent = now
            return [self._to(member, p.encode_status_frame(member.room.seq))]
        if isinstance(frame, (p.Chat, p.Action, p.Piece)):
            if self._store_failing and frame.msg_id not in member.seen_ids:
                return self._refuse_unsaved(member, now)
            if isinstance(frame, p.Piece):
                if member.plain_text:
                    return self.drop("piece from a plain-text member", address)
                return self._piece(member, frame, now)
            return self._chat(member, frame, now)
        if isinstance(frame, p.PlainText):
            if member.transport is Transport.PLAIN:
                member.transport = Transport.BARE  # it reads text: no binary frames from now on
            if self._store_failing:
                return self._refuse_unsaved(member, now)
            return self._plain_chat(member, frame.text, now)
        if isinstance(frame, _DIRECT_FRAMES):
            if member.plain_text:
                return self.drop("direct frame from a plain-text member", address)
            if self._store_failing and isinstance(frame, _STORED_DIRECT):
                return self._refuse_unsaved(member, now) if isinstance(frame, p.Direct) else []
            return self._direct_frame(member, frame, now)
        if isinstance(frame, (p.Resend, p.PieceResend)):
            if not member.resend_bucket.take(now):
                self.dropped["resend rate limited"] += 1  # each answer is many datagrams: no amplifier
                return []
            if isinstance(frame, p.PieceResend):
                return self._piece_resend(member, frame, now)
            return self._resend(member, frame, now)
        if self._store_failing:
            return self.drop("leave while the database fails", address)  # it times out once the disk is back
        goodbye = (
            [] if member.kanaru else [self._to(member, p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, words.YOU_LEFT))]
        )
        return self._remove(member, EventType.LEFT) + goodbye

    def _refuse_unsaved(self, member: Member, now: float) -> Outbound:
        """A message that cannot be stored is not relayed or acknowledged; its sender keeps
        it and sends it again, and is told why (not at every retransmission)."""
        self.dropped["cannot save"] += 1
        if member.plain_text or now - member.told_cannot_save_at < CANNOT_SAVE_TELL_EVERY:
            return []
        member.told_cannot_save_at = now
        return [self._to(member, p.encode_error_frame(ErrorCode.CANNOT_SAVE, CANNOT_SAVE_TEXT))]

    def _unknown_token(self, datagram: p.Datagram, address: Address) -> Outbound:
        tomb = self._tombstones.get(datagram.token)
        # A buried token's answer says what happened. No answer is larger than its request,
        # so requests with a spoofed source cannot be amplified at a victim.
        reason = tomb.reason if tomb else ""
        self.drop("unknown token", address)
        answer = p.encode_datagram(
            datagram.room.encode("utf-8"), b"", p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, reason)
        )
        if len(answer) > p.datagram_size(
            datagram
        ):  # without the reason, then: the client still learns to come back or stop
            answer = p.encode_datagram(
                datagram.room.encode("utf-8"), b"", p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, "")
            )
        # Only our clients read the answer (plain or sealed, they look for it), not bare-text ones.
        if datagram.body[:1] not in (bytes((p.FRAME_MAGIC,)), p.SEALED_PREFIX) or len(answer) > p.datagram_size(
            datagram
        ):
            return []
        return [(address, answer)]

    def drop(self, reason: str, address: Address, detail: str = "") -> Outbound:
        """Count a refused datagram; log it, but at most once per reason every few seconds,
        so that a flood of junk cannot flood the log too. `reason` is a fixed category
        (it keys the counters); `detail` says more in the log line."""
        with self._lock:
            self.dropped[reason] += 1
            self._quiet_log.log(
                reason,
                logging.INFO,
                "dropped a datagram from %s: %s%s",
                address,
                reason,
                f" ({detail})" if detail else "",
            )
            return []

    def _acknowledge(self, member: Member, ack_seq: int, now: float) -> None:
        ack_seq = min(ack_seq, member.room.seq)
        if ack_seq > member.proof_floor and not member.proven:
            member.proven = True
            member.retransmit_at = now  # what it still lacks may now go in bulk
        if ack_seq > member.acked_seq:
            member.acked_seq = ack_seq
            member.retransmit_interval = self.BASE_RETRANSMIT
            member.retransmit_at = now + self.BASE_RETRANSMIT

    def _take_token(self, member: Member, now: float, amount: float = 1.0) -> bool:
        member.chat_bucket.refill(now)
        if member.chat_bucket.full:
            member.told_rate_limited = False  # told again only after a full calm spell, not per refill
        return member.chat_bucket.take(now, amount)

    def _rate_limited(self, member: Member) -> Outbound:
        self.dropped["rate limited"] += 1
        if member.told_rate_limited or member.plain_text:
            return []
        member.told_rate_limited = True
        log.warning("%r in %r is sending too fast; dropping the excess", member.name, member.room.name)
        note = f"you are sending faster than {self.limits.rate_per_second:g} messages a second; slow down"
        return [self._to(member, p.encode_error_frame(ErrorCode.RATE_LIMITED, note))]

    def _relay_chat(self, member: Member, text: str, msg_id: int | None) -> Outbound:
        room = member.room
        # Not sent back to its sender only to save a datagram (its CHAT_ACK carries the seq);
        # whether a line is shown as the member's own is the client session's one decision.
        out = self._emit(room, EventType.CHAT, member.name, text, skip=member, msg_id=msg_id)
        room.book.add(Said(room.seq, member.name, member.owner, self._wall_clock(), text))
        if member.acked_seq == room.seq - 1:
            member.acked_seq = room.seq  # its own message needs no delivery back
        return out

    def _too_long(self, member: Member, text: str, in_pieces: bool = False) -> bool:
        """Is this chat longer than its sender may send? A member that reads pieces (or sent it
        in pieces) may send MAX_LONG_TEXT_BYTES; any other one what fits a datagram with its name."""
        if member.speaks_pieces or in_pieces:
            return len(text.encode("utf-8")) > p.MAX_LONG_TEXT_BYTES
        limit = p.max_relayed_text_bytes(len(member.room.name_bytes), len(member.name.encode("utf-8")))
        return len(text.encode("utf-8")) > limit

    def _event_text_limit(self, member: Member) -> int:
        """The longest text (UTF-8 bytes) an event of `member`'s may carry: a long one's for a
        member that reads pieces (the event then goes in pieces), else what fits a datagram."""
        name_bytes = len(member.name.encode("utf-8"))
        if member.speaks_pieces:
            return p.MAX_LONG_FRAME_BYTES - p.EVENT_OVERHEAD - name_bytes
        return p.max_relayed_text_bytes(len(member.room.name_bytes), name_bytes)

    def _refuse_too_long(self, member: Member, msg_id: int = 0) -> Outbound:
        self.drop("chat too long to relay", member.sender)
        return self._refuse_message(member, msg_id, ErrorCode.TOO_LONG, TOO_LONG_TEXT)

    def _refuse_message(self, member: Member, msg_id: int, code: ErrorCode, reason: str) -> Outbound:
        """Tell `member` its message `msg_id` was not taken: by a REFUSED frame naming it, so its
        client fails that one message at once (kept for a retransmit); an older client gets the
        ERROR frame it knows, a plain-text one nothing (it would show our bytes as garbage)."""
        if member.plain_text:
            return []
        if not member.speaks_actions or not msg_id:
            return [self._to(member, p.encode_error_frame(code, reason))]
        body = p.encode_refused(p.Refused(msg_id, code, reason))
        member.refused[msg_id] = body
        while len(member.refused) > REFUSALS_KEPT:
            member.refused.popitem(last=False)
        return [self._to(member, body)]

    def _may_send(self, member: Member, text: str) -> bool:
        """Whether `text` may go to the room: "@room" in a room of more than ten is the host's alone."""
        room = member.room
        if not names_everyone(text, tuple(room.members)):
            return True
        return may_name_everyone(member.name, None if room.standing else room.host, len(room.members))

    def _refuse_everyone(self, member: Member, msg_id: int = 0) -> Outbound:
        self.drop("@room from a member who may not", member.sender)
        note = f"only the host can write to everyone (@room, @all) in a room of more than {EVERYONE_FREELY_UP_TO}"
        return self._refuse_message(member, msg_id, ErrorCode.NOT_ALLOWED, note)

    def _plain_chat(self, member: Member, text: str, now: float) -> Outbound:
        if self._too_long(member, text):
            return self._refuse_too_long(member)
        if not self._may_send(member, text):
            return self._refuse_everyone(member)
        if not self._take_token(member, now):
            return self._rate_limited(member)
        return self._relay_chat(member, text, None)

    def _chat(self, member: Member, chat: p.Chat | p.Action, now: float, pieces: int = 0) -> Outbound:
        """Relay a member's messages (chats and actions) exactly once and in the order it sent them.
        `pieces`: how many the message came in (longmessages.py), 0 for one datagram."""
        if chat.msg_id in member.refused:  # a retransmit of one refused: its answer may have been lost
            return [self._to(member, member.refused[chat.msg_id])]
        if chat.msg_id in member.seen_ids:
            # A retransmit whose first copy got through: acknowledge again, relay nothing.
            return [self._to(member, p.encode_chat_ack(chat.msg_id, member.seen_ids[chat.msg_id]))]
        if chat.floor > member.next_msg_id:  # the sender gave up on the ones before: stop waiting for them
            member.next_msg_id = chat.floor
            member.held = {i: t for i, t in member.held.items() if i >= chat.floor}
            member.long_held = {i: n for i, n in member.long_held.items() if i >= chat.floor}
        if chat.msg_id < member.next_msg_id:
            return []  # given up by its sender, or relayed so long ago that its id left seen_ids
        if isinstance(chat, p.Chat):
            if self._too_long(member, chat.text, pieces > 0):
                if chat.msg_id == member.next_msg_id:
                    member.next_msg_id += 1  # consumed: its retransmits are ignored and the sender's next ones flow
                return self._refuse_too_long(member, chat.msg_id)
            if not self._may_send(member, chat.text):
                if chat.msg_id == member.next_msg_id:
                    member.next_msg_id += 1  # consumed, as a message too long is
                return self._refuse_everyone(member, chat.msg_id)
        if pieces and chat.msg_id != member.next_msg_id and member.long_held:
            # One long message held at a time (ours send one at a time): its pieces are asked again.
            self._pieces.forget(member.token, chat.msg_id)
            self.dropped["piece: a second long message held"] += 1
            return []
        if chat.msg_id == member.next_msg_id or len(member.held) < HELD_PER_MEMBER:
            if not member.held:
                member.held_since = now
            member.held[chat.msg_id] = chat
            if pieces:
                member.long_held[chat.msg_id] = pieces
        if member.next_msg_id not in member.held and member.held and now - member.held_since > HOLD_SECONDS:
            # The missing one is not coming (a sender that breaks the floor rule): go on without it.
            member.next_msg_id = min(member.held)
        return self._drain_held(member, now)

    def _drain_held(self, member: Member, now: float) -> Outbound:
        """Relay the member's held messages that are next in its order, while its bucket lasts.
        A long message spends a token a piece (at most a burst's worth): its datagrams to each member."""
        room = member.room
        out: Outbound = []
        while member.next_msg_id in member.held:
            msg_id = member.next_msg_id
            pieces = member.long_held.get(msg_id, 0)
            if not self._take_token(member, now, min(max(pieces, 1), self.limits.rate_burst)):
                if pieces:  # not a flood: it goes once the bucket refills, at its sender's next probe
                    self.dropped["rate limited"] += 1
                    return out
                return out + self._rate_limited(member)
            item = member.held.pop(msg_id)
            member.long_held.pop(msg_id, None)
            member.next_msg_id += 1
            member.held_since = now
            if isinstance(item, p.Action):
                out += self._act(member, item)
                if msg_id in member.refused:
                    continue
            else:
                out += self._relay_chat(member, item.text, msg_id)
            member.seen_ids[msg_id] = room.seq
            if len(member.seen_ids) > SEEN_IDS_PER_MEMBER:
                member.seen_ids.popitem(last=False)
            out.append(self._to(member, p.encode_chat_ack(msg_id, room.seq)))
        return out

    def _resend(self, member: Member, frame: p.Resend, now: float) -> Outbound:
        """Re-send the events asked for, at most MAX_RESEND_EVENTS of them in all (one to an
        address not yet proven)."""
        room = member.room
        oldest = room.events[0][0] if room.events else room.seq + 1
        out: Outbound = []
        budget = p.MAX_RESEND_EVENTS if member.proven else 1
        for first, last in frame.ranges:
            first = max(first, 1)
            last = min(last, room.seq, first + budget - 1)
            if first > last:
                continue
            if first < oldest:
                note = "some messages are no longer on the server; fetching the room again"
                return [self._to(member, p.encode_error_frame(ErrorCode.RESYNC, note))]
            out += self._send_again(member, first, last, now)
            budget -= last - first + 1
            if budget <= 0:
                break
        return out

    def _send_again(self, member: Member, first: int, last: int, now: float, probe: bool = False) -> Outbound:
        """Buffered events `first`..`last` for `member`, within what its address has earned:
        one event until it is proven (of a long one, its last piece), and no more bytes than its
        budget. `probe` (the retransmit timer's): of a long event only its last piece, which
        makes a member that lacks the rest ask for it."""
        if not member.proven:
            last = first
        room = member.room
        oldest = room.events[0][0]
        out: Outbound = []
        for seq in range(first, last + 1):
            body = room.body_for(seq - oldest, member.speaks_actions, member.speaks_pieces)
            bodies = self._event_bodies(member, seq, body, last_only=probe or not member.proven)
            sent, lasted = self._within_budget(member, bodies, now)
            out += sent
            if not lasted:
                break
        return out

    # --- room life --------------------------------------------------------------------

    @staticmethod
    def _to(member: Member, body: bytes) -> tuple[Address, bytes]:
        """`body` for `member`, framed with its room's header and sealed if it is a sealed member."""
        header = member.room.header
        if member.channel is not None:
            return member.sender, member.channel.seal(header, body)
        return member.sender, header + body
