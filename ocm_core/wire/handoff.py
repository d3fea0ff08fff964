"""The hand-off between two copies of the desktop app on one computer: a second launch
sends its arguments (an invite link, or none: "come forward") to the running copy.

One line of JSON over a TCP connection on 127.0.0.1, answered by HANDOFF_OK:

    {"v":1,"args":["ocm://host:9090/room?fp=..."],"mac":"<64 hex digits>"}\\n

`mac` is HMAC-SHA256, under the secret the running copy keeps in a file only its user can
read, of MAC_LABEL and the compact JSON of `args`: a program of another user that can reach
the port cannot make the app open a link.
"""

from __future__ import annotations

import hashlib
import hmac

from ocm_core.errors import LocalProtocolError, RemoteProtocolError
from ocm_core.wire.jsontext import encode_json, is_unicode_text, loads_json

HANDOFF_VERSION = 1
HANDOFF_OK = b"ok\n"  # the running copy's answer: it has the arguments
MAX_HANDOFF_ARGS = 64
MAX_HANDOFF_BYTES = 64 * 1024  # the whole line, newline included
MIN_HANDOFF_SECRET_BYTES = 16
MAC_LABEL = b"ocm-handoff-v1\n"
_FIELDS = {"v", "args", "mac"}


class BadHandoff(RemoteProtocolError):
    """A hand-off line that is not ours to act on: malformed, too large, or not made with the
    running copy's secret."""


def _mac(secret: bytes, args_json: bytes) -> str:
    if len(secret) < MIN_HANDOFF_SECRET_BYTES:
        raise LocalProtocolError(f"a hand-off secret is at least {MIN_HANDOFF_SECRET_BYTES} bytes")
    return hmac.new(secret, MAC_LABEL + args_json, hashlib.sha256).hexdigest()


def encode_handoff(secret: bytes, args: list[str]) -> bytes:
    """The line a second copy sends; LocalProtocolError if `args` cannot travel (too many,
    too long, or not Unicode text, such as a lone surrogate from an undecodable argv)."""
    if len(args) > MAX_HANDOFF_ARGS:
        raise LocalProtocolError(f"{len(args)} arguments; a hand-off carries at most {MAX_HANDOFF_ARGS}")
    if not all(isinstance(arg, str) and is_unicode_text(arg) for arg in args):
        raise LocalProtocolError("a hand-off argument is not Unicode text")
    args_json = encode_json(list(args))
    line = encode_json({"v": HANDOFF_VERSION, "args": list(args), "mac": _mac(secret, args_json)}) + b"\n"
    if len(line) > MAX_HANDOFF_BYTES:
        raise LocalProtocolError(f"the hand-off is {len(line)} bytes; the most is {MAX_HANDOFF_BYTES}")
    return line


def decode_handoff(data: bytes, secret: bytes) -> list[str]:
    """The arguments in one hand-off line (its newline included); BadHandoff with the reason
    for anything else."""
    if len(data) > MAX_HANDOFF_BYTES:
        raise BadHandoff(f"the hand-off is {len(data)} bytes; the most is {MAX_HANDOFF_BYTES}")
    if not data.endswith(b"\n") or b"\n" in data[:-1]:
        raise BadHandoff("a hand-off is one line ending in a newline")
    try:
        value = loads_json(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadHandoff("the hand-off is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise BadHandoff("the hand-off is not a JSON object")
    if set(value) != _FIELDS:
        raise BadHandoff(f"the hand-off has the fields {sorted(value)}, not {sorted(_FIELDS)}")
    if type(value["v"]) is not int or value["v"] != HANDOFF_VERSION:
        raise BadHandoff(f"hand-off version {value['v']!r} is not {HANDOFF_VERSION}")
    args = value["args"]
    if not isinstance(args, list):
        raise BadHandoff("the hand-off's args are not a list")
    if len(args) > MAX_HANDOFF_ARGS:
        raise BadHandoff(f"{len(args)} arguments; a hand-off carries at most {MAX_HANDOFF_ARGS}")
    if not all(isinstance(arg, str) for arg in args):
        raise BadHandoff("a hand-off argument is not a string")
    mac = value["mac"]
    if not isinstance(mac, str) or not mac.isascii():
        raise BadHandoff("the hand-off's mac is not ASCII text")
    if not hmac.compare_digest(mac.encode("ascii"), _mac(secret, encode_json(args)).encode("ascii")):
        raise BadHandoff("the hand-off was not made with this copy's secret")
    return args
