"""The registry's side of actions (wire/actions.py): a member's reply, reaction, edit or deletion,
and the host's topic, removals and password, taken in the member's message order (relay.py hands
each ACTION here when its turn comes). What may be done is sansio/actions.py's decision; this part
does it: the event for the room (with the line an older client reads instead), the message
rewritten in the buffer and the store, the member removed.

`Acting` is one concern of `RoomRegistry` (registry.py), which inherits it; it runs under the
registry's lock, inside the registry's store transaction.
"""

from __future__ import annotations

import dataclasses
import logging

from ocm_core import wire as p
from ocm_core import words
from ocm_core.sansio import actions
from ocm_core.sansio.parts import RegistryParts
from ocm_core.sansio.relay import TOO_LONG_TEXT
from ocm_core.sansio.room import Member, Outbound, Room
from ocm_core.sansio.tombstones import TokenEnd
from ocm_core.wire import ActionKind, ErrorCode, EventType

log = logging.getLogger("ocm_core.sansio.registry")  # one logger for the registry and its parts

DELETED_TEXT = "(message deleted)"  # a deleted message, to a client that does not speak actions

_EVENT_OF = {
    ActionKind.REACT: EventType.REACTION,
    ActionKind.UNREACT: EventType.REACTION,
    ActionKind.EDIT: EventType.EDITED,
    ActionKind.DELETE: EventType.DELETED,
    ActionKind.TOPIC: EventType.TOPIC,
    ActionKind.PASSWORD: EventType.LOCKED,
}


def older_event(event: p.Event, older_text: str | None) -> p.Event | None:
    """How `event` reads to a member that does not speak actions: a chat line of its member
    saying `older_text`, or for a removal that member leaving; None when it reads as it is."""
    if older_text is None:
        return None
    if event.event_type is EventType.REMOVED:
        return dataclasses.replace(event, event_type=EventType.LEFT, text="")
    return dataclasses.replace(event, event_type=EventType.CHAT, text=older_text)


def take_up_in_book(book: actions.MessageBook, event: p.Event, owner: bytes) -> None:
    """What actions know of a stored event, taken up again after a restart (in room order)."""
    try:
        if event.event_type is EventType.CHAT:
            text = event.text
        elif event.event_type is EventType.REPLY:
            text = p.decode_reply_text(event.text).text
        elif event.event_type is EventType.REACTION:
            reaction = p.decode_reaction_text(event.text)
            kind = ActionKind.REACT if reaction.on else ActionKind.UNREACT
            actions.apply(book, kind, reaction.to, reaction.emoji, event.name)
            return
        else:
            return
    except p.ProtocolError:
        log.warning("a stored event %d does not decode; actions on it are refused", event.seq)
        return
    said = actions.Said(event.seq, event.name, owner, event.time_ms / 1000, text, event.deleted, event.edited)
    book.add(said)


def removed_mark(member: Member) -> bytes:
    """What keeps a removed member out of its room: its install's key, else its address."""
    return member.owner if member.direct_proven else b"ip:" + member.ip.encode("utf-8")


class Acting(RegistryParts):
    """Actions, for RoomRegistry."""

    def _act(self, member: Member, action: p.Action) -> Outbound:
        """Do `action` for `member` if it may; its acknowledgement is the relay's (a refusal is
        remembered under its id in member.refused)."""
        room = member.room
        target = room.book.get(action.target)
        verdict = actions.judge(
            room.book,
            action.kind,
            action.target,
            action.text,
            name=member.name,
            owner=member.owner,
            host=None if room.standing else room.host,
            members=tuple(room.members),
            latest_seq=room.seq,
            oldest_buffered=room.events[0][0] if room.events else room.seq + 1,
            now=self._wall_clock(),
            edit_window=self.edit_window,
        )
        if verdict is not None:
            self.dropped[f"{action.kind.name.lower()} refused"] += 1
            return self._refuse_message(member, action.msg_id, verdict.code, verdict.reason)
        if action.kind is ActionKind.REPLY:
            return self._reply(member, action, target)
        if action.kind is ActionKind.REMOVE:
            return self._remove_by_host(member, room.members[action.text], action.msg_id)
        limit = self._event_text_limit(member)  # a long one goes in pieces (longmessages.py)
        by_host = action.kind is ActionKind.DELETE and target is not None and target.owner != member.owner
        older_text = actions.fit(actions.fallback_text(action.kind, action.text, target, by_host=by_host), limit)
        text = self._event_text(member, action, by_host)
        if len(text.encode("utf-8")) > limit:
            return self._refuse_message(member, action.msg_id, ErrorCode.TOO_LONG, TOO_LONG_TEXT)
        actions.apply(room.book, action.kind, action.target, action.text, member.name)
        if action.kind in (ActionKind.EDIT, ActionKind.DELETE) and target is not None:
            self._rewrite(room, target)
        # Everyone is sent the event, its member too: what changed is shown from the room's stream.
        return self._emit(room, _EVENT_OF[action.kind], member.name, text, msg_id=action.msg_id, older_text=older_text)

    def _event_text(self, member: Member, action: p.Action, by_host: bool) -> str:
        """The event's text for an action on a message or the room (changing the room on the way)."""
        room, kind = member.room, action.kind
        if kind in (ActionKind.REACT, ActionKind.UNREACT):
            return p.encode_reaction_text(p.ReactionText(action.target, action.text, kind is ActionKind.REACT))
        if kind is ActionKind.EDIT:
            return p.encode_edit_text(p.EditText(action.target, action.text))
        if kind is ActionKind.DELETE:
            return p.encode_delete_text(p.DeleteText(action.target, by_host))
        if kind is ActionKind.TOPIC:
            room.topic = action.text
            if self._store:
                self._store.set_topic(room.name, room.topic)
            return room.topic
        # PASSWORD: "" opens the room. Hashing is slow on purpose; a host changes it rarely.
        salt, digest = self.passwords.hash_new(member.ip, action.text) if action.text else (None, None)
        room.password_salt, room.password_hash = salt, digest
        if self._store:
            self._store.lock_room(room.name, salt, digest)
        log.info("the host of %r %s its password", room.name, "set" if digest else "removed")
        return "1" if digest else "0"

    def _reply(self, member: Member, action: p.Action, target: actions.Said | None) -> Outbound:
        room = member.room
        limit = self._event_text_limit(member)
        text = p.encode_reply_text(p.ReplyText(action.target, action.text))
        if len(text.encode("utf-8")) > limit:
            return self._refuse_message(member, action.msg_id, ErrorCode.TOO_LONG, TOO_LONG_TEXT)
        if not self._may_send(member, action.text):
            return self._refuse_everyone(member, action.msg_id)
        older_text = actions.fit(actions.fallback_text(ActionKind.REPLY, action.text, target), limit)
        # A reply is a message: like a chat, not sent back to its sender (its ack says where it is).
        out = self._emit(room, EventType.REPLY, member.name, text, member, action.msg_id, older_text)
        room.book.add(actions.Said(room.seq, member.name, member.owner, self._wall_clock(), action.text))
        if member.acked_seq == room.seq - 1:
            member.acked_seq = room.seq
        return out

    def _rewrite(self, room: Room, said: actions.Said) -> None:
        """Put an edited or deleted message's new form in the buffer and the store, so that
        history and resends carry it and a deleted text is kept nowhere on the server."""
        if not room.events or said.seq < room.events[0][0]:
            return
        index = said.seq - room.events[0][0]
        event = p.decode_body(room.events[index][1])
        if not isinstance(event, p.Event) or event.event_type not in p.MESSAGE_TYPES:
            return
        if event.event_type is EventType.REPLY:
            answered = p.decode_reply_text(event.text).to
            text = p.encode_reply_text(p.ReplyText(answered, said.text))
        else:
            text = said.text
        changed = dataclasses.replace(event, text=text, edited=said.edited, deleted=said.deleted)
        older_text = DELETED_TEXT if said.deleted else said.text
        older = dataclasses.replace(event, event_type=EventType.CHAT, text=older_text, edited=False, deleted=False)
        same = event.event_type is EventType.CHAT and not said.deleted
        room.rewrite(said.seq, p.encode_event(changed), None if same else p.encode_event(older))
        if self._store:
            self._store.rewrite_event(
                room.name, said.seq, text, said.edited, said.deleted, None if same else older_text
            )

    def _remove_by_host(self, host: Member, member: Member, msg_id: int) -> Outbound:
        """The host takes `member` out of the room: told so, and kept out while the room lasts."""
        room = host.room
        room.removed.add(removed_mark(member))
        reason = words.YOU_WERE_REMOVED
        goodbye = [] if member.plain_text else [self._to(member, p.encode_error_frame(ErrorCode.UNKNOWN_TOKEN, reason))]
        self._forget_member(member, TokenEnd.REMOVED, reason)
        log.info("the host of %r removed %r", room.name, member.name)
        return goodbye + self._emit(room, EventType.REMOVED, member.name, host.name, msg_id=msg_id, older_text="")
