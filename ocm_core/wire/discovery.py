"""Discovery on the LAN: the DNS-SD TXT record, and the broadcast probe and its answer."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ocm_core.errors import LocalProtocolError, RemoteProtocolError
from ocm_core.wire.limits import MAX_NAME_BYTES
from ocm_core.wire.roomlist import RoomInfo
from ocm_core.wire.tcrp import decode_name

# --- discovery: the DNS-SD TXT record and the broadcast probe and answer ---------------
# docs/protocol.md ("Finding servers on the LAN") has the layouts.

DISCOVERY_VERSION = 1
MDNS_SERVICE_TYPE = "_ocm._tcp.local."
DISCOVERY_PORT = 9089  # UDP, fixed: below the 9090/9091 pairs that next_free_ports walks upward
PROBE_MAGIC = b"OCMd"
PROBE_SIZE = 1024  # what a finder sends: padded, so that an answer of this size is no amplification
MIN_PROBE_SIZE = 64  # a smaller probe is not answered: no useful answer fits
MAX_PROBE_SIZE = 1400  # a datagram that stays one Ethernet frame
MAX_TXT_VALUE = 255  # one DNS character-string
MAX_FINGERPRINT_BYTES = 64


class DiscoveryKind(enum.IntEnum):
    PROBE = 1
    ANSWER = 2


@dataclass(frozen=True)
class ServerAnnouncement:
    """What a server says about itself when found: its ports, a summary of its rooms,
    the computer's name and (once the server has an identity) its fingerprint."""

    tcp_port: int
    udp_port: int
    rooms: int
    any_locked: bool
    machine: str = ""
    fingerprint: str = ""
    version: int = DISCOVERY_VERSION


def _port(value: int, what: str) -> int:
    if not 0 < value < 65536:
        raise RemoteProtocolError(f"{what} {value} is not a port number")
    return value


def encode_txt(announcement: ServerAnnouncement) -> dict[bytes, bytes]:
    """The TXT record's properties (the TCP port is the SRV record's, not repeated here)."""
    values = {
        b"v": str(announcement.version).encode(),
        b"udp": str(announcement.udp_port).encode(),
        b"rooms": str(announcement.rooms).encode(),
        b"locked": b"1" if announcement.any_locked else b"0",
        b"host": announcement.machine.encode("utf-8"),
    }
    if announcement.fingerprint:
        values[b"fp"] = announcement.fingerprint.encode("utf-8")
    for key, value in values.items():
        if len(key) + 1 + len(value) > MAX_TXT_VALUE:
            raise LocalProtocolError(
                f"the TXT entry {key.decode()} is {len(value)} bytes; the most is {MAX_TXT_VALUE - len(key) - 1}"
            )
    return values


def decode_txt(properties: dict[bytes, bytes | None], tcp_port: int) -> ServerAnnouncement:
    """Properties as python-zeroconf hands them over (a key without '=' has the value None)."""

    def text(key: bytes, required: bool = True) -> str:
        value = properties.get(key)
        if value is None:
            if required:
                raise RemoteProtocolError(f"the TXT record lacks '{key.decode()}'")
            return ""
        if len(value) > MAX_TXT_VALUE:
            raise RemoteProtocolError(f"the TXT entry '{key.decode()}' is {len(value)} bytes")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteProtocolError(f"the TXT entry '{key.decode()}' is not UTF-8") from None

    def number(key: bytes, top: int) -> int:
        raw = text(key)
        if not raw.isascii() or not raw.isdigit() or int(raw) > top:
            raise RemoteProtocolError(f"the TXT entry '{key.decode()}' is not a number up to {top}: {raw!r}")
        return int(raw)

    version = number(b"v", 255)
    if version != DISCOVERY_VERSION:
        raise RemoteProtocolError(f"discovery version {version} is not {DISCOVERY_VERSION}")
    locked = text(b"locked")
    if locked not in ("0", "1"):
        raise RemoteProtocolError(f"the TXT entry 'locked' is {locked!r}, not 0 or 1")
    machine = text(b"host", required=False)
    fingerprint = text(b"fp", required=False)
    if len(fingerprint.encode()) > MAX_FINGERPRINT_BYTES:
        raise RemoteProtocolError("the fingerprint is too long")
    return ServerAnnouncement(
        _port(tcp_port, "TCP port"),
        _port(number(b"udp", 65535), "UDP port"),
        number(b"rooms", 65535),
        locked == "1",
        machine,
        fingerprint,
        version,
    )


# probe:  magic(4) version(1) kind(1) nonce(8) padding
# answer: magic(4) version(1) kind(1) nonce(8) tcp(2) udp(2) flags(1) room count(2)
#         then machine, fingerprint (each: length(1), UTF-8), then rooms that fit
_DISCOVERY_HEAD = struct.Struct("!4sBB8s")
_ANSWER_FIXED = struct.Struct("!HHBH")
_ROOM_FIXED = struct.Struct("!HB")  # members, flags
ANSWER_TRUNCATED = 0x01  # not every room fitted: ask the server with LIST
ANSWER_ANY_LOCKED = 0x02
ROOM_LOCKED = 0x01
ROOM_STANDING = 0x02  # held by the server itself (its host's name is empty); older finders ignore the bit


@dataclass(frozen=True)
class Probe:
    nonce: bytes  # 8 bytes; the answer repeats it, so a finder ignores answers it did not ask for
    size: int  # the datagram's length: the most an answer to it may be


@dataclass(frozen=True)
class ProbeAnswer:
    nonce: bytes
    announcement: ServerAnnouncement
    rooms: tuple[RoomInfo, ...]
    truncated: bool


def encode_probe(nonce: bytes, size: int = PROBE_SIZE) -> bytes:
    if len(nonce) != 8:
        raise LocalProtocolError("a probe's nonce is 8 bytes")
    if not MIN_PROBE_SIZE <= size <= MAX_PROBE_SIZE:
        raise LocalProtocolError(f"a probe is {MIN_PROBE_SIZE} to {MAX_PROBE_SIZE} bytes")
    head = _DISCOVERY_HEAD.pack(PROBE_MAGIC, DISCOVERY_VERSION, DiscoveryKind.PROBE, nonce)
    return head + bytes(size - len(head))


def _discovery_head(data: bytes, kind: DiscoveryKind) -> bytes:
    if len(data) < _DISCOVERY_HEAD.size:
        raise RemoteProtocolError(f"a discovery datagram is at least {_DISCOVERY_HEAD.size} bytes, got {len(data)}")
    if len(data) > MAX_PROBE_SIZE:
        raise RemoteProtocolError(f"a discovery datagram is at most {MAX_PROBE_SIZE} bytes, got {len(data)}")
    magic, version, got, nonce = _DISCOVERY_HEAD.unpack_from(data)
    if magic != PROBE_MAGIC:
        raise RemoteProtocolError("not an Online Chat Messenger discovery datagram")
    if version != DISCOVERY_VERSION:
        raise RemoteProtocolError(f"discovery version {version} is not {DISCOVERY_VERSION}")
    if got != kind:
        raise RemoteProtocolError(f"expected discovery kind {int(kind)}, got {got}")
    return nonce


def decode_probe(data: bytes) -> Probe:
    nonce = _discovery_head(data, DiscoveryKind.PROBE)
    if len(data) < MIN_PROBE_SIZE:
        raise RemoteProtocolError(f"a probe is at least {MIN_PROBE_SIZE} bytes, got {len(data)}")
    return Probe(nonce, len(data))


def _short_text(text: str, what: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > MAX_NAME_BYTES:
        raise LocalProtocolError(f"{what} is {len(raw)} bytes; the most is {MAX_NAME_BYTES}")
    return bytes((len(raw),)) + raw


def encode_answer(
    probe: Probe, announcement: ServerAnnouncement, rooms: list[RoomInfo] | tuple[RoomInfo, ...]
) -> bytes:
    """The answer to `probe`: never longer than the probe. Rooms that do not fit are left
    out and the answer says so (the finder then asks the server's LIST over TCP)."""
    flags = ANSWER_ANY_LOCKED if announcement.any_locked else 0
    head = _DISCOVERY_HEAD.pack(PROBE_MAGIC, DISCOVERY_VERSION, DiscoveryKind.ANSWER, probe.nonce)
    tail = _short_text(announcement.machine, "the computer's name") + _short_text(
        announcement.fingerprint, "the fingerprint"
    )
    fixed_size = len(head) + _ANSWER_FIXED.size + len(tail)
    if fixed_size > probe.size:
        raise LocalProtocolError(f"no answer fits in a {probe.size}-byte probe")
    entries: list[bytes] = []
    room_bytes = 0
    for info in rooms:
        entry = (
            _short_text(info.name, "a room name")
            + _ROOM_FIXED.pack(
                min(info.members, 65535), (ROOM_LOCKED if info.locked else 0) | (ROOM_STANDING if info.standing else 0)
            )
            + _short_text(info.host, "a host's name")
        )
        if fixed_size + room_bytes + len(entry) > probe.size:
            break
        entries.append(entry)
        room_bytes += len(entry)
    if len(entries) < len(rooms):
        flags |= ANSWER_TRUNCATED
    fixed = _ANSWER_FIXED.pack(announcement.tcp_port, announcement.udp_port, flags, len(entries))
    return head + fixed + tail + b"".join(entries)


class _Reader:
    def __init__(self, data: bytes, offset: int):
        self.data, self.offset = data, offset

    def take(self, size: int, what: str) -> bytes:
        if self.offset + size > len(self.data):
            raise RemoteProtocolError(f"the answer ends inside {what}")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def short_text(self, what: str, allow_empty: bool = True) -> str:
        raw = self.take(self.take(1, what)[0], what)
        return decode_name(raw, what, allow_empty=allow_empty)


def decode_answer(data: bytes) -> ProbeAnswer:
    nonce = _discovery_head(data, DiscoveryKind.ANSWER)
    reader = _Reader(data, _DISCOVERY_HEAD.size)
    tcp, udp, flags, count = _ANSWER_FIXED.unpack(reader.take(_ANSWER_FIXED.size, "the ports"))
    machine = reader.short_text("the computer's name")
    fingerprint = reader.short_text("the fingerprint")
    if len(fingerprint.encode()) > MAX_FINGERPRINT_BYTES:
        raise RemoteProtocolError("the fingerprint is too long")
    rooms = []
    for _ in range(count):
        name = reader.short_text("a room name", allow_empty=False)
        members, room_flags = _ROOM_FIXED.unpack(reader.take(_ROOM_FIXED.size, "a room's entry"))
        host = reader.short_text("a host's name")
        rooms.append(
            RoomInfo(name, members, bool(room_flags & ROOM_LOCKED), host, standing=bool(room_flags & ROOM_STANDING))
        )
    if reader.offset != len(data):
        raise RemoteProtocolError(f"{len(data) - reader.offset} bytes after the last room")
    announcement = ServerAnnouncement(
        _port(tcp, "TCP port"),
        _port(udp, "UDP port"),
        len(rooms),
        bool(flags & ANSWER_ANY_LOCKED),
        machine,
        fingerprint,
    )
    return ProbeAnswer(nonce, announcement, tuple(rooms), bool(flags & ANSWER_TRUNCATED))
