"""Checks on what a person types into the dialogs.

Each check returns the cleaned value or raises ``ValueError`` whose text is one
sentence for the dialog's error line. Limits are in UTF-8 bytes, as on the wire.
"""

from __future__ import annotations

from ocm_core.protocol import MAX_NAME_BYTES

DEFAULT_TCP_PORT = 9090
DEFAULT_UDP_PORT = 9091
MAX_PASSWORD_BYTES = 1024  # what the server accepts in a request


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def clean_name(text: str, what: str = "name") -> str:
    """A user or room name: trimmed, not empty, no control characters, at most 255 bytes."""
    name = text.strip()
    if not name:
        raise ValueError(f"Type a {what}.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValueError(f"The {what} cannot contain tabs or line breaks; type it on one line.")
    size = utf8_len(name)
    if size > MAX_NAME_BYTES:
        raise ValueError(
            f"The {what} is {size} bytes in UTF-8 but at most {MAX_NAME_BYTES} fit; shorten it."
        )
    return name


def clean_password(text: str) -> str | None:
    """An optional room password: empty means none."""
    if text == "":
        return None
    size = utf8_len(text)
    if size > MAX_PASSWORD_BYTES:
        raise ValueError(
            f"The password is {size} bytes in UTF-8 but at most {MAX_PASSWORD_BYTES} fit; shorten it."
        )
    return text


def parse_port(text: str, what: str = "port", example: int = DEFAULT_TCP_PORT) -> int:
    """A port number 0-65535 (0 lets the system pick a free one)."""
    value = text.strip()
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError(f"The {what} must be a number from 1 to 65535, for example {example}.")
    return int(value)


def format_address(host: str, port: int) -> str:
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"
