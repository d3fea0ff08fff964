"""Invite links: `ocm://HOST:PORT/ROOM?fp=FINGERPRINT`, what a host hands out to bring people in.

A link names a server, a room on it and the identity the server must show (its fingerprint),
so that joining by a link is an introduction rather than trust on first use. It never carries
a password. The room is percent-encoded UTF-8; an IPv6 address goes in brackets. Every refusal
is a `BadLink` whose text tells a person, in their language, why. docs/protocol.md ("Invite
links") has the rules. No I/O.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ocm_core.errors import BadLink
from ocm_core.i18n import _
from ocm_core.wire.limits import MAX_NAME_BYTES
from ocm_core.wire.names import NameProblem, refusal

SCHEME = "ocm"
MAX_LINK_CHARS = 2048  # a room name at its longest, all percent-encoded, fits three times over
MAX_HOST_CHARS = 253  # the longest name DNS allows
FINGERPRINT_KEY = "fp"
# crypto.identity.fingerprint: 5 groups of 4 base32 letters (that layer is above this one).
FINGERPRINT = re.compile(r"[A-Z2-7]{4}(?:-[A-Z2-7]{4}){4}")
PASSWORD_KEYS = frozenset({"password", "passwd", "pass", "pwd", "pw"})
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_PORT = re.compile(r"[0-9]{1,5}")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SHOWN_CHARS = 40  # of a piece of a refused link quoted back in the reason


@dataclass(frozen=True)
class InviteLink:
    """A checked invite link. `host` is a computer name (lower case), an IPv4 address or an
    IPv6 address without brackets; `fingerprint` is upper case. BadLink if any part is not
    one a link can carry, so that `text` always reads back as the same link."""

    host: str
    port: int
    room: str
    fingerprint: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", _checked_host(self.host))
        object.__setattr__(self, "port", _checked_port(self.port))
        object.__setattr__(self, "room", _checked_room(self.room))
        object.__setattr__(self, "fingerprint", _checked_fingerprint(self.fingerprint))
        length = len(self.text)
        if length > MAX_LINK_CHARS:
            raise BadLink(_too_long(length))

    @property
    def text(self) -> str:
        """The link as people copy it: `ocm://HOST:PORT/ROOM?fp=FINGERPRINT`."""
        host = f"[{quote(self.host, safe=':')}]" if ":" in self.host else self.host
        return f"{SCHEME}://{host}:{self.port}/{quote(self.room, safe='')}?{FINGERPRINT_KEY}={self.fingerprint}"


def parse_link(text: str) -> InviteLink:
    """The invite link in `text` (as pasted: surrounding spaces and <angle brackets> from a mail
    are fine); BadLink with the reason if it is not one."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text:
        raise BadLink(_("Paste an invite link; it begins with ocm://."))
    if len(text) > MAX_LINK_CHARS:
        raise BadLink(_too_long(len(text)))
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise BadLink(_("This invite link has spaces or line breaks inside it; copy it again as one line."))
    try:
        parts = urlsplit(text)
    except ValueError:  # an unclosed bracket, or a look-alike of / ? # @ : in the address
        raise BadLink(_bad_host(text.partition("://")[2].partition("/")[0])) from None
    if parts.scheme != SCHEME or not text[len(SCHEME) + 1 :].startswith("//"):
        raise BadLink(_("This is not an invite link; an invite link begins with ocm://."))
    if "#" in text:
        raise BadLink(_extra_part("#" + text.partition("#")[2]))
    host, port = _split_address(parts.netloc)
    room = _room_of_path(parts.path)
    fingerprint = _fingerprint_of_query(parts.query)
    return InviteLink(host, port, room, fingerprint)


def _split_address(netloc: str) -> tuple[str, int]:
    if "@" in netloc:
        raise BadLink(
            _(
                "An invite link never carries a name or a password before the server's address; "
                "ask the host for a new link."
            )
        )
    if not netloc:
        raise BadLink(_no_server())
    if netloc.startswith("["):
        inside, _bracket, after = netloc[1:].partition("]")
        host = unquote(inside)  # a zone id's % is written %25
        if ":" not in host:
            raise BadLink(_bad_host(netloc))
        if after and not after.startswith(":"):
            raise BadLink(_bad_host(netloc))
        port_text = after[1:]
    else:
        host, colon, port_text = netloc.rpartition(":")
        if not colon:
            host, port_text = netloc, ""
        if ":" in host:  # an IPv6 address without its brackets
            raise BadLink(_bad_host(netloc))
    if not port_text:
        raise BadLink(
            _("The invite link has no port number after the server's address; ask the host for the whole link.")
        )
    if not _PORT.fullmatch(port_text):
        raise BadLink(_bad_port(port_text))
    return host, int(port_text)


def _room_of_path(path: str) -> str:
    encoded = path.removeprefix("/")
    if not encoded:
        raise BadLink(_no_room())
    if "/" in encoded:  # a room's own / is written %2F
        raise BadLink(_extra_part("/" + encoded.partition("/")[2]))
    if _BAD_ESCAPE.search(encoded):
        raise BadLink(_damaged_room())
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        raise BadLink(_damaged_room()) from None


def _fingerprint_of_query(query: str) -> str:
    found: list[str] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        folded = key.strip().lower()
        if folded in PASSWORD_KEYS:
            raise BadLink(
                _(
                    "An invite link never carries a password; ask the host for the room's password another way, "
                    "and for a link without it."
                )
            )
        if folded != FINGERPRINT_KEY:
            raise BadLink(_extra_part(key + "="))
        found.append(value)
    if not found:
        raise BadLink(
            _("The invite link does not say which identity the server has (?fp=…); ask the host for the whole link.")
        )
    if len(found) > 1:
        raise BadLink(_("The invite link names the server's identity more than once; ask the host for a new link."))
    return found[0]


# --- the parts, as InviteLink checks them ----------------------------------------------------


def _checked_host(host: str) -> str:
    """The host in the form a link keeps it: an IPv6 address compressed, a name in lower case."""
    if not host:
        raise BadLink(_no_server())
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise BadLink(_bad_host(host)) from None
    if len(host) > MAX_HOST_CHARS:
        raise BadLink(
            _(
                "The server's name in the invite link is longer than {limit} characters, "
                "more than a computer name can be."
            ).format(limit=MAX_HOST_CHARS)
        )
    name = host.lower()
    labels = name.split(".")
    if not all(label.isascii() and _LABEL.fullmatch(label) for label in labels):
        raise BadLink(_bad_host(host))
    if all(label.isdigit() for label in labels):  # looks like an IPv4 address, so must be one
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise BadLink(_bad_host(host)) from None
    return name


def _checked_port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise BadLink(_bad_port(str(port)))
    return port


def _checked_room(room: str) -> str:
    """The room name, refused here as the server would refuse it when the room was created."""
    if not room:
        raise BadLink(_no_room())
    size = len(room.encode("utf-8", errors="surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise BadLink(
            _("The room name in the invite link is {size} bytes; a room name can be at most {limit} bytes.").format(
                size=size, limit=MAX_NAME_BYTES
            )
        )
    problem = refusal(room)
    if problem is None:
        return room
    if problem.problem is NameProblem.HIDDEN:
        message = _(
            "The room name in the invite link holds a character that cannot be seen ({detail}); "
            "ask the host for a new link."
        )
    elif problem.problem is NameProblem.SPACES:
        message = _(
            "The room name in the invite link has spaces at its ends or two in a row; ask the host for a new link."
        )
    else:
        message = _(
            "The room name in the invite link mixes letters of scripts that look alike ({detail}); "
            "ask the host for a new link."
        )
    raise BadLink(message.format(detail=problem.detail))


def _checked_fingerprint(fingerprint: str) -> str:
    upper = fingerprint.upper()
    if not FINGERPRINT.fullmatch(upper):
        raise BadLink(
            _(
                "'{fingerprint}' in the invite link is not a server identity, which is five groups of four "
                "letters and digits like VXQ4-RZ2B-6LMN-FA7K-3TUE."
            ).format(fingerprint=_shown(fingerprint))
        )
    return upper


# --- the reasons used in more than one place ------------------------------------------------


def _shown(piece: str) -> str:
    return piece if len(piece) <= _SHOWN_CHARS else piece[: _SHOWN_CHARS - 1] + "…"


def _too_long(length: int) -> str:
    return _(
        "This invite link is {length} characters long, more than the {limit} an invite link can have; "
        "copy it again from the invitation."
    ).format(length=length, limit=MAX_LINK_CHARS)


def _bad_host(host: str) -> str:
    return _(
        "'{host}' in the invite link is not a computer name or an IP address (an IPv6 address goes in brackets); "
        "ask the host for the whole link."
    ).format(host=_shown(host))


def _bad_port(port: str) -> str:
    return _("'{port}' in the invite link is not a port number; a port is a number from 1 to 65535.").format(
        port=_shown(port)
    )


def _extra_part(part: str) -> str:
    return _("The invite link has a part that invite links do not have ({part}); ask the host for a new link.").format(
        part=_shown(part)
    )


def _damaged_room() -> str:
    return _("The room name in the invite link is damaged (it is not percent-encoded UTF-8); copy the link again.")


def _no_server() -> str:
    return _("The invite link does not name a server; ask the host for the whole link.")


def _no_room() -> str:
    return _("The invite link does not name a room; ask the host for the whole link.")
