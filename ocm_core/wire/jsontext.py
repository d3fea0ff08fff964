"""JSON inside our frames: compact UTF-8 out, and strict in (no lone surrogates, objects only)."""

from __future__ import annotations

import json

from ocm_core.errors import RemoteProtocolError


def encode_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads_json(text: str) -> object:
    """json.loads that also refuses a lone surrogate (JSON's "\\ud800" escape is valid JSON
    but no Unicode text: it cannot be encoded, shown or stored); ValueError for all of it."""
    value = json.loads(text)
    if not is_unicode_text(json.dumps(value, ensure_ascii=False)):
        raise ValueError("a string holds a lone surrogate")
    return value


def is_unicode_text(text: str) -> bool:
    """False for a str holding a lone surrogate, which no UTF-8 encoder or Tk takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_json_object(payload: bytes) -> dict:
    try:
        value = loads_json(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RemoteProtocolError("the payload is not a UTF-8 JSON object") from None
    if not isinstance(value, dict):
        raise RemoteProtocolError("the payload is not a JSON object")
    return value
