"""The registry's direct messages, presence and typing.

A direct message reaches the server sealed for its one recipient (crypto/direct.py): the
server holds no key that opens it. It checks who may write to whom (both proved their keys,
in a room they share), keeps the sealed bytes until the recipient's client says it has them
(also while the recipient is away, for as long as the room lasts), and then hands the sender
a receipt the same way. Presence and typing are passed on to whoever is there and never
stored.

`Mailbox` is one concern of `RoomRegistry` (registry.py), which inherits it; it runs under
the registry's lock, inside the registry's store transaction.
"""

from __future__ import annotations

import collections
import logging
import secrets
from dataclasses import dataclass

from ocm_core import wire as p
from ocm_core.crypto.direct import public_text
from ocm_core.sansio.parts import RegistryParts
from ocm_core.sansio.room import Member, Outbound, Room
from ocm_core.storage.roomstore import RoomStore, StoredMail, StoreWriteError
from ocm_core.wire import DirectState, MailKind, PresenceState, Refusal

log = logging.getLogger("ocm_core.sansio.registry")  # one logger for the registry and its parts

MAIL_PER_RECIPIENT = 200  # direct messages waiting for one person; more are refused to their senders
RECEIPTS_PER_RECIPIENT = 400  # receipts waiting for one sender; more are dropped (the message went all the same)
MAIL_FIRST_RETRY = 0.5  # a mailbox item not acknowledged is handed again after this; doubles ...
MAIL_MAX_RETRY = 8.0  # ... up to this
MAIL_PER_TICK = 32  # items handed to one member in one tick, so a full mailbox is no burst
DELIVERED_KEPT = 4096  # origins of delivered messages remembered, to answer a late retransmit
TYPING_EVERY = 1.0  # one member's typing is passed on at most this often (clients send every 3 s)
MAIL_KEEP_DAYS = 30  # mail waits at most this long, also in a standing room that outlives its people
PEOPLE_PER_ROOM = 1000  # the people a room remembers (so it can be written to them while away)


@dataclass
class MailItem:
    stored: StoredMail
    retry_at: float = 0.0
    interval: float = MAIL_FIRST_RETRY


class Mailbox(RegistryParts):
    _mail: dict[int, MailItem]
    _mail_origins: dict[tuple[bytes, int], int]  # (sender key, msg id) of a waiting message -> its mail id
    _delivered_origins: collections.OrderedDict[tuple[bytes, int], None]
    _waiting: collections.Counter[tuple[bytes, int]]  # (recipient key, kind) -> items waiting

    def _reset_mail(self) -> None:
        self._mail, self._mail_origins, self._waiting = {}, {}, collections.Counter()
        self._mail_expiry_at = 0.0

    def _load_mail(self, store: RoomStore) -> None:
        """Take up who proved which key, and what waits for whom, from the store."""
        self._reset_mail()
        for room_name, name, key in store.people():
            room = self._rooms.get(room_name)
            if room is not None:
                room.people[name] = key
        for stored in store.mail():
            if stored.room in self._rooms:
                self._hold(stored)

    # --- keys ---------------------------------------------------------------------------

    def _prove_direct_key(self, member: Member, proof: bytes | None) -> None:
        """A SYNC's proof that `member` holds the key it joined with: from then on it may
        write and be written to (also while away, for the room's life)."""
        key = member.direct_key
        if key is None or member.direct_proven or proof is None or member.channel is None:
            return
        assert self.member_keys is not None  # a sealed member implies them
        if not self.member_keys.direct_challenge(member.token).check(key, member.token, proof):
            self.dropped["direct key not proven"] += 1
            log.info("%r in %r did not prove its direct-message key", member.name, member.room.name)
            return

        def prove() -> None:
            people = member.room.people
            people.pop(member.name, None)  # re-inserted last: the newest prover is kept longest
            people[member.name] = key
            member.direct_proven = True
            if self._store is not None:
                self._store.add_person(member.room.name, member.name, key, member.token)
            while len(people) > PEOPLE_PER_ROOM:
                oldest = next(iter(people))
                del people[oldest]
                if self._store is not None:
                    self._store.forget_person(member.room.name, oldest)

        if self._store_failing:
            return  # proven at a later SYNC, once the disk takes it
        try:
            self._durably(prove)
        except StoreWriteError:
            return

    def _keys_of(self, room: Room) -> dict[str, str]:
        """Name -> key (base64url) of the members here now who proved one."""
        return {m.name: public_text(m.direct_key) for m in room.members.values() if m.direct_proven and m.direct_key}

    # --- frames from a member -------------------------------------------------------------

    def _direct_frame(self, member: Member, frame: object, now: float) -> Outbound:
        if member.channel is None and not isinstance(frame, p.Direct):
            return []  # a plain member (--allow-plain) takes no part: its DIRECT is told why below
        if isinstance(frame, p.Direct):
            return self._direct(member, frame, now)
        if isinstance(frame, p.MailGot):
            return self._mail_got(member, frame.mail_id, frame.kept, now)
        if isinstance(frame, p.PresenceFrame):
            return self._presence(member, frame.state, now)
        assert isinstance(frame, p.Typing)
        return self._typing(member, frame.to, now)

    def _direct(self, member: Member, frame: p.Direct, now: float) -> Outbound:
        if not member.direct_proven or member.direct_key is None:
            return self._refuse(member, frame.msg_id, Refusal.NEEDS_KEY, "direct messages need a proven key")
        origin = (member.direct_key, frame.msg_id)
        if origin in self._mail_origins or origin in self._delivered_origins:  # a retransmit: answer again
            item = self._mail.get(self._mail_origins.get(origin, 0))
            waiting = item is not None and not self._holders(item.stored.recipient_key)
            return [self._state(member, frame.msg_id, DirectState.KEPT if waiting else DirectState.PASSED)]
        if not self._take_token(member, now):  # refusals too: a flood of them costs what messages would
            return self._rate_limited(member)
        room = member.room
        if frame.recipient == member.name or frame.recipient_key == member.direct_key:
            return self._refuse(member, frame.msg_id, Refusal.YOURSELF, "that is you")
        known = room.people.get(frame.recipient)
        if known is None:
            return self._refuse(
                member, frame.msg_id, Refusal.NOT_HERE, f"nobody called {frame.recipient!r} is known here"
            )
        if known != frame.recipient_key:
            return self._refuse(member, frame.msg_id, Refusal.KEY_CHANGED, f"{frame.recipient!r} has another key now")
        if _mail_size(member.name, frame.sealed) > p.MAX_DATAGRAM:
            return self._refuse(member, frame.msg_id, Refusal.TOO_LONG, "that direct message is too long")
        if self._waiting[(known, MailKind.MESSAGE)] >= MAIL_PER_RECIPIENT:
            return self._refuse(
                member, frame.msg_id, Refusal.MAILBOX_FULL, f"{MAIL_PER_RECIPIENT} messages already wait for them"
            )
        item = self._keep(room, known, MailKind.MESSAGE, frame.msg_id, member.direct_key, member.name, frame.sealed)
        holders = self._holders(known)
        out = [self._state(member, frame.msg_id, DirectState.PASSED if holders else DirectState.KEPT)]
        log.debug(
            "direct message %d from %r in %r: %d sealed bytes",
            item.stored.mail_id,
            member.name,
            room.name,
            len(frame.sealed),
        )
        if holders:
            out += self._hand(item, holders[0], now)
        return out

    def _mail_got(self, member: Member, mail_id: int, kept: bool, now: float) -> Outbound:
        """The recipient's app has mail `mail_id`: kept (shown), or refused (it did not open,
        or was seen before). Its sender gets the receipt that says which."""
        item = self._mail.get(mail_id)
        if item is None or not member.direct_proven or item.stored.recipient_key != member.direct_key:
            return []  # a repeated acknowledgement, or not its mail: nothing changes
        stored = item.stored
        self._release(item)
        if stored.kind is not MailKind.MESSAGE:
            return []
        self._delivered_origins[(stored.peer_key, stored.msg_id)] = None
        while len(self._delivered_origins) > DELIVERED_KEPT:
            self._delivered_origins.popitem(last=False)
        room = self._rooms.get(stored.room)
        receipts = (
            self._waiting[(stored.peer_key, MailKind.DELIVERED)] + self._waiting[(stored.peer_key, MailKind.UNOPENED)]
        )
        if room is None or receipts >= RECEIPTS_PER_RECIPIENT:
            self.dropped["receipt not kept"] += 1
            return []
        receipt = self._keep(
            room,
            stored.peer_key,
            MailKind.DELIVERED if kept else MailKind.UNOPENED,
            stored.msg_id,
            member.direct_key or b"",
            member.name,
            b"",
        )
        holders = self._holders(stored.peer_key)
        return self._hand(receipt, holders[0], now) if holders else []

    def _presence(self, member: Member, state: PresenceState, now: float) -> Outbound:
        away = state is PresenceState.AWAY
        if member.away == away:
            return []
        if not self._take_token(member, now):  # a flapping member costs what its messages would
            return self._rate_limited(member)
        member.away = away
        body = p.encode_presence_note(member.name, state)
        return [self._to(other, body) for other in self._listeners(member)]

    def _typing(self, member: Member, to: str, now: float) -> Outbound:
        if now - member.typing_at < TYPING_EVERY:
            self.dropped["typing too often"] += 1
            return []
        member.typing_at = now
        if not to:
            body = p.encode_typing_note(member.name, False)
            return [self._to(other, body) for other in self._listeners(member)]
        key = member.room.people.get(to)
        if key is None or not member.direct_proven:
            return []  # typing to someone it could not write to: said to nobody
        holders = self._holders(key)
        return [self._to(holders[0], p.encode_typing_note(member.name, True))] if holders else []

    # --- time -----------------------------------------------------------------------------

    def _hand_waiting_mail(self, now: float) -> Outbound:
        """Hand each waiting item to its recipient when it is here and the item is due."""
        if not self._mail:
            return []
        holders: dict[bytes, Member] = {}
        for member in self._tokens.values():
            if member.mailable and member.direct_key is not None:
                holders.setdefault(member.direct_key, member)
        out: Outbound = []
        handed: collections.Counter[bytes] = collections.Counter()
        for item in self._mail.values():
            key = item.stored.recipient_key
            holder = holders.get(key)
            if holder is None:
                item.retry_at, item.interval = 0.0, MAIL_FIRST_RETRY  # handed at once when they are back
            elif now >= item.retry_at and handed[key] < MAIL_PER_TICK:
                handed[key] += 1
                out += self._hand(item, holder, now)
        return out

    def _expire_mail(self, now: float) -> Outbound:
        """Mail kept longer than MAIL_KEEP_DAYS goes (a standing room may outlive its people);
        looked at once a minute, inside the tick's transaction."""
        if now < self._mail_expiry_at:
            return []
        self._mail_expiry_at = now + 60.0
        oldest = int((self._wall_clock() - MAIL_KEEP_DAYS * 86400) * 1000)
        for item in [i for i in self._mail.values() if i.stored.time_ms < oldest]:
            self._release(item)
            log.info("dropped mail %d kept more than %d days", item.stored.mail_id, MAIL_KEEP_DAYS)
        return []

    def _drop_room_mail(self, room: Room) -> None:
        """A room ended: what waited in it goes (the store's rows go with the room's)."""
        for item in [i for i in self._mail.values() if i.stored.room == room.name]:
            self._forget(item)
        room.people.clear()

    # --- steps ----------------------------------------------------------------------------

    def _keep(
        self, room: Room, recipient: bytes, kind: MailKind, msg_id: int, peer_key: bytes, peer: str, sealed: bytes
    ) -> MailItem:
        mail_id = secrets.randbits(63)  # never an id used before: a late MAIL_GOT must not match anew
        while mail_id in self._mail or mail_id == 0:
            mail_id = secrets.randbits(63)
        stored = StoredMail(
            mail_id,
            room.name,
            recipient,
            kind,
            int(self._wall_clock() * 1000),
            msg_id,
            peer_key,
            peer,
            sealed,
        )
        if self._store is not None:
            self._store.add_mail(stored)
        return self._hold(stored)

    def _hold(self, stored: StoredMail) -> MailItem:
        stored.kind = MailKind(stored.kind)
        item = self._mail[stored.mail_id] = MailItem(stored)
        self._waiting[(stored.recipient_key, stored.kind)] += 1
        if stored.kind is MailKind.MESSAGE:
            self._mail_origins[(stored.peer_key, stored.msg_id)] = stored.mail_id
        return item

    def _release(self, item: MailItem) -> None:
        if self._store is not None:
            self._store.remove_mail(item.stored.mail_id)
        self._forget(item)

    def _forget(self, item: MailItem) -> None:
        stored = item.stored
        del self._mail[stored.mail_id]
        self._waiting[(stored.recipient_key, stored.kind)] -= 1
        if stored.kind is MailKind.MESSAGE:
            self._mail_origins.pop((stored.peer_key, stored.msg_id), None)

    def _holders(self, key: bytes) -> list[Member]:
        return [m for m in self._tokens.values() if m.direct_key == key and m.mailable]

    @staticmethod
    def _listeners(member: Member) -> list[Member]:
        """The others in `member`'s room who read our frames (sealed, with an address)."""
        return [o for o in member.room.members.values() if o is not member and o.channel is not None and o.address]

    @staticmethod
    def _mail_body(stored: StoredMail) -> bytes:
        return p.encode_mail(
            p.Mail(
                stored.mail_id,
                MailKind(stored.kind),
                stored.time_ms,
                stored.msg_id,
                stored.peer_key,
                stored.peer,
                stored.sealed,
            )
        )

    def _hand(self, item: MailItem, to: Member, now: float) -> Outbound:
        item.retry_at = now + item.interval
        item.interval = min(item.interval * 2, MAIL_MAX_RETRY)
        return [self._to(to, self._mail_body(item.stored))]

    def _state(self, member: Member, msg_id: int, state: DirectState) -> tuple:
        return self._to(member, p.encode_direct_state(p.DirectStateFrame(msg_id, state)))

    def _refuse(self, member: Member, msg_id: int, refusal: Refusal, text: str) -> Outbound:
        self.dropped[f"direct refused: {refusal.name.lower()}"] += 1
        log.info("refused a direct message from %r in %r: %s", member.name, member.room.name, text)
        frame = p.DirectStateFrame(msg_id, DirectState.REFUSED, refusal, text)
        return [self._to(member, p.encode_direct_state(frame))]


def _mail_size(sender: str, sealed: bytes) -> int:
    """The datagram a MAIL of `sealed` from `sender` takes in the room with the longest name
    (the recipient may be reached in any room): more than a datagram is refused up front."""
    body = p.encode_mail(p.Mail(0, MailKind.MESSAGE, 0, 0, bytes(p.KEY_BYTES), sender, sealed))
    return 2 + p.MAX_NAME_BYTES + p.SEAL_OVERHEAD + len(body)
