"""What every part of the registry shares: its state and the few steps one part takes from
another, declared here for the type checker. `RoomRegistry` (registry.py) is the one class that
has them all; its parts (relay.py, longmessages.py, acting.py, joining.py, standing.py,
durability.py, mailbox.py) are written against this."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from ocm_core import wire as p
from ocm_core.crypto.sealed import MemberKeys
from ocm_core.logutil import ThrottledLog
from ocm_core.sansio.passwords import PasswordGuard
from ocm_core.sansio.pieces import Assembler
from ocm_core.sansio.room import Address, Limits, Member, Outbound, Room, TokenBucket, Transport
from ocm_core.sansio.tombstones import TokenEnd, Tombstones
from ocm_core.storage.roomstore import RoomStore
from ocm_core.wire import ErrorCode, EventType


class RegistryParts:
    BASE_RETRANSMIT = 0.25
    MAX_RETRANSMIT = 2.0
    member_timeout: float
    limits: Limits
    dropped: collections.Counter[str]
    passwords: PasswordGuard
    member_keys: MemberKeys | None
    edit_window: float
    _lock: threading.RLock
    _clock: Callable[[], float]
    _wall_clock: Callable[[], float]
    _rooms: dict[str, Room]
    _tokens: dict[bytes, Member]
    _tombstones: Tombstones
    _answered: collections.OrderedDict[tuple, tuple[float, bytes]]
    _away: collections.OrderedDict[bytes, tuple[float, Member]]
    _store: RoomStore | None
    _store_failing: bool
    _store_probe_at: float
    _store_recovery_unconfirmed: bool
    _quiet_log: ThrottledLog
    _windows_moved: dict[bytes, int]
    _create_buckets: dict[str, TokenBucket]
    _pieces: Assembler  # members' long messages half-arrived (longmessages.py)
    # The batch's PIECE_GOTs to send: (token, msg_id) -> (member, count)
    _piece_got_due: dict[tuple[bytes, int], tuple[Member, int]]

    # Steps one part takes from another; the part that owns each one overrides it.

    def _durably(self, work: Callable[[], object]):
        raise NotImplementedError

    def _cannot_save(self):
        raise NotImplementedError

    def _emit(
        self,
        room: Room,
        event_type: EventType,
        name: str,
        text: str = "",
        skip: Member | None = None,
        msg_id: int | None = None,
        older_text: str | None = None,
    ) -> Outbound:
        raise NotImplementedError

    def _remove(self, member: Member, why: EventType) -> Outbound:
        raise NotImplementedError

    def _forget_member(self, member: Member, end: TokenEnd, reason: str = "") -> None:
        raise NotImplementedError

    def _refuse_message(self, member: Member, msg_id: int, code: ErrorCode, reason: str) -> Outbound:
        raise NotImplementedError

    def _act(self, member: Member, action: p.Action) -> Outbound:
        raise NotImplementedError

    def _may_send(self, member: Member, text: str) -> bool:
        raise NotImplementedError

    def _refuse_everyone(self, member: Member, msg_id: int = 0) -> Outbound:
        raise NotImplementedError

    def _close(self, room: Room, reason: str) -> Outbound:
        raise NotImplementedError

    def _let_members_go(self, room: Room, reason: str) -> Outbound:
        raise NotImplementedError

    def _send_again(self, member: Member, first: int, last: int, now: float, probe: bool = False) -> Outbound:
        raise NotImplementedError

    def _to(self, member: Member, body: bytes) -> tuple[Address, bytes]:
        raise NotImplementedError

    def drop(self, reason: str, address: Address, detail: str = "") -> Outbound:
        raise NotImplementedError

    def _chat(self, member: Member, chat: p.Chat | p.Action, now: float, pieces: int = 0) -> Outbound:
        raise NotImplementedError

    def _drain_held(self, member: Member, now: float) -> Outbound:
        raise NotImplementedError

    def _refuse_too_long(self, member: Member, msg_id: int = 0) -> Outbound:
        raise NotImplementedError

    def _event_bodies(
        self, member: Member, seq: int, body: bytes, indexes: list[int] | None = None, last_only: bool = False
    ) -> list[bytes]:
        raise NotImplementedError

    def _within_budget(self, member: Member, bodies: list[bytes], now: float) -> tuple[Outbound, bool]:
        raise NotImplementedError

    def _addressed(self, member: Member, seq: int, body: bytes) -> Outbound:
        raise NotImplementedError

    def _piece(self, member: Member, frame: p.Piece, now: float) -> Outbound:
        raise NotImplementedError

    def _piece_resend(self, member: Member, frame: p.PieceResend, now: float) -> Outbound:
        raise NotImplementedError

    def _answer_pieces(self) -> Outbound:
        raise NotImplementedError

    def _take_token(self, member: Member, now: float, amount: float = 1.0) -> bool:
        raise NotImplementedError

    def _event_text_limit(self, member: Member) -> int:
        raise NotImplementedError

    def _rate_limited(self, member: Member) -> Outbound:
        raise NotImplementedError

    def _prove_direct_key(self, member: Member, proof: bytes | None) -> None:
        raise NotImplementedError

    def _keys_of(self, room: Room) -> dict[str, str]:
        raise NotImplementedError

    def _direct_frame(self, member: Member, frame: object, now: float) -> Outbound:
        raise NotImplementedError

    def _hand_waiting_mail(self, now: float) -> Outbound:
        raise NotImplementedError

    def _drop_room_mail(self, room: Room) -> None:
        raise NotImplementedError

    def _expire_mail(self, now: float) -> Outbound:
        raise NotImplementedError

    def _load_mail(self, store: RoomStore) -> None:
        raise NotImplementedError

    def _new_member(
        self, room: Room, name: str, token: bytes, ip: str, transport: Transport, address: Address | None = None
    ) -> Member:
        raise NotImplementedError
