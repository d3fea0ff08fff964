"""The registry's side of long messages (wire/pieces.py, sansio/pieces.py). Up: a member's
PIECEs gathered into its whole CHAT or ACTION frame, which then goes the relay's way exactly as
one that came in a single datagram (its order, its floor, once, CHAT_ACK or REFUSED); what the
server holds said back in PIECE_GOT. Down: a long event cut into EVENT_PIECEs for the members
that read them, and the pieces a member still wants sent again within its budgets.

`LongMessages` is one concern of `RoomRegistry` (registry.py), which inherits it; it runs under
the registry's lock, inside the registry's store transaction.
"""

from __future__ import annotations

import logging

from ocm_core import wire as p
from ocm_core.sansio.parts import RegistryParts
from ocm_core.sansio.pieces import Took
from ocm_core.sansio.room import Member, Outbound
from ocm_core.wire import ErrorCode

log = logging.getLogger("ocm_core.sansio.registry")  # one logger for the registry and its parts


class LongMessages(RegistryParts):
    """Long messages, for RoomRegistry."""

    # --- up: a member's pieces ------------------------------------------------------------

    def _piece(self, member: Member, frame: p.Piece, now: float) -> Outbound:
        """Take one piece of `member`'s message `frame.msg_id`; whole, the message is handled
        as if it had come in one datagram. What is held is said once per batch (PIECE_GOT)."""
        msg_id = frame.msg_id
        if msg_id in member.refused:  # refused whole already: its answer may have been lost
            return [self._to(member, member.refused[msg_id])]
        if msg_id in member.seen_ids:  # relayed already: its CHAT_ACK was lost
            return [self._to(member, p.encode_chat_ack(msg_id, member.seen_ids[msg_id]))]
        if msg_id < member.next_msg_id:
            return []  # given up by its sender, or consumed
        taken = self._pieces.add(member.token, msg_id, frame.index, frame.count, frame.data, now)
        out: Outbound = []
        if taken.took is Took.WHOLE:
            out += self._whole(member, frame, taken.frame, now)
        elif taken.took is Took.REFUSED:
            self.dropped[f"piece: {taken.reason}"] += 1
            if taken.reason == "message too long":
                self._consume(member, msg_id)
                return self._refuse_too_long(member, msg_id)
            return []  # bounds: its sender's timer sends it again, or it gives up
        elif taken.took is Took.DONE and msg_id in member.held:
            # Whole, and held for its sender's bucket to refill: the sender's probe is what
            # brings it out, as a short message's retransmit does.
            out += self._drain_held(member, now)
        elif taken.took is Took.DONE:
            # Whole once, and now nowhere: dropped while held (one long message held at a time,
            # a full hold) or put back as the disk has it. Gathered again from its pieces.
            self._pieces.forget(member.token, msg_id)
        if taken.answer:
            self._piece_got_due[(member.token, msg_id)] = (member, frame.count)
        return out

    def _whole(self, member: Member, piece: p.Piece, frame: bytes, now: float) -> Outbound:
        try:
            inner = p.decode_body(frame)
        except p.ProtocolError as exc:
            inner, detail = None, exc.reason
        else:
            detail = f"a {type(inner).__name__}"
        if not isinstance(inner, (p.Chat, p.Action)) or inner.msg_id != piece.msg_id:
            self._consume(member, piece.msg_id)
            return self.drop("bad long message", member.sender, detail)
        return self._chat(member, inner, now, pieces=piece.count)

    @staticmethod
    def _consume(member: Member, msg_id: int) -> None:
        """Count `msg_id` as dealt with, so that its sender's next messages flow."""
        if msg_id == member.next_msg_id:
            member.next_msg_id += 1

    def _answer_pieces(self) -> Outbound:
        """The batch's PIECE_GOTs: one per message, saying what is held after the whole batch.
        None for a message relayed or refused meanwhile: its CHAT_ACK or REFUSED says more."""
        out: Outbound = []
        for (token, msg_id), (member, count) in self._piece_got_due.items():
            if self._tokens.get(token) is not member or msg_id in member.seen_ids or msg_id in member.refused:
                continue
            held = frozenset(i for i in self._pieces.held(token, msg_id) if i < count)
            out.append(self._to(member, p.encode_piece_got(p.PieceGot(msg_id, count, held))))
        self._piece_got_due = {}
        return out

    # --- down: a long event's pieces ----------------------------------------------------------

    def _event_bodies(
        self, member: Member, seq: int, body: bytes, indexes: list[int] | None = None, last_only: bool = False
    ) -> list[bytes]:
        """Event `seq` (`body`, as `member` is sent it) as the bodies to send: itself when it fits
        a datagram, else its EVENT_PIECEs (`indexes` of them, or only the last one)."""
        room_bytes = len(member.room.name_bytes)
        if not member.speaks_pieces or not p.is_long(len(body), room_bytes, 0):
            return [body]
        slices = p.split(body, p.piece_room(room_bytes, 0))
        count = len(slices)
        chosen = [count - 1] if last_only else (indexes if indexes is not None else range(count))
        return [p.encode_event_piece(p.EventPiece(seq, i, count, slices[i])) for i in chosen]

    def _within_budget(self, member: Member, bodies: list[bytes], now: float) -> tuple[Outbound, bool]:
        """`bodies` for `member` as long as its reply byte budget lasts; and whether it lasted."""
        out: Outbound = []
        for body in bodies:
            to, data = self._to(member, body)
            if not member.reply_bytes.take(now, len(data)):
                self.dropped["reply byte budget"] += 1
                return out, False
            out.append((to, data))
        return out, True

    def _piece_resend(self, member: Member, frame: p.PieceResend, now: float) -> Outbound:
        """Send again the pieces of event `frame.seq` that `member` still wants (one to an
        address not yet proven), within its reply byte budget."""
        room = member.room
        oldest = room.events[0][0] if room.events else room.seq + 1
        if not 1 <= frame.seq <= room.seq:
            return self.drop("bad piece resend", member.sender, f"event {frame.seq} of {room.seq}")
        if frame.seq < oldest:
            note = "some messages are no longer on the server; fetching the room again"
            return [self._to(member, p.encode_error_frame(ErrorCode.RESYNC, note))]
        body = room.body_for(frame.seq - oldest, member.speaks_actions, member.speaks_pieces)
        room_bytes = len(room.name_bytes)
        long = member.speaks_pieces and p.is_long(len(body), room_bytes, 0)
        if not long or -(-len(body) // p.piece_room(room_bytes, 0)) != frame.count:
            return self.drop("bad piece resend", member.sender, f"event {frame.seq} is not {frame.count} pieces")
        wanted = sorted(frame.wanted)
        bodies = self._event_bodies(member, frame.seq, body, wanted[-1:] if not member.proven else wanted)
        return self._within_budget(member, bodies, now)[0]

    def _addressed(self, member: Member, seq: int, body: bytes) -> Outbound:
        """A new event for `member`: whole, or every one of its pieces."""
        return [self._to(member, piece) for piece in self._event_bodies(member, seq, body)]
