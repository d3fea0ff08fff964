"""Checks on what a person types into the dialogs, and lengths as people count them.

Each check returns the cleaned value or raises ``ValueError`` whose text is one
sentence for the dialog's error line. Limits are in UTF-8 bytes, as on the wire;
what a person is told is in characters (how many to cut, how many more fit).
"""

from __future__ import annotations

from ocm_core.i18n import N_, _, chars_over, ngettext
from ocm_core.wire import MAX_NAME_BYTES, names
from ocm_core.words import name_refusal_text

DEFAULT_TCP_PORT = 9090
DEFAULT_UDP_PORT = 9091
MAX_PASSWORD_BYTES = 1024  # what the server accepts in a request

# The sentences per field (a whole sentence each, so a translation needs no grammar of ours).
_EMPTY = {"name": N_("Type a name."), "room name": N_("Type a room name.")}
_ONE_LINE = {
    "name": N_("The name cannot contain tabs or line breaks; type it on one line."),
    "room name": N_("The room name cannot contain tabs or line breaks; type it on one line."),
}
_BAD_PORT = {
    "TCP": N_("The TCP port must be a number from 1 to 65535, for example {example}."),
    "UDP": N_("The UDP port must be a number from 1 to 65535, for example {example}."),
}


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _too_long(what: str, text: str, size: int, limit: int) -> ValueError:
    count = chars_over(text, size - limit)
    if what == "name":
        words = ngettext(
            "The name is too long; remove {count} character.", "The name is too long; remove {count} characters.", count
        )
    elif what == "room name":
        words = ngettext(
            "The room name is too long; remove {count} character.",
            "The room name is too long; remove {count} characters.",
            count,
        )
    else:
        words = ngettext(
            "The password is too long; remove {count} character.",
            "The password is too long; remove {count} characters.",
            count,
        )
    return ValueError(words.format(count=count))


def clean_name(text: str, what: str = "name") -> str:
    """A user or room name ('name' or 'room name'): trimmed, not empty, no control
    characters, at most 255 bytes."""
    name = text.strip()
    if not name:
        raise ValueError(_(_EMPTY[what]))
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValueError(_(_ONE_LINE[what]))
    problem = names.refusal(name)
    if problem is not None:  # what the server would refuse, said before anything is sent
        raise ValueError(name_refusal_text(problem, room=what == "room name"))
    size = utf8_len(name)
    if size > MAX_NAME_BYTES:
        raise _too_long(what, name, size, MAX_NAME_BYTES)
    return name


def clean_password(text: str) -> str | None:
    """An optional room password: empty means none."""
    if text == "":
        return None
    size = utf8_len(text)
    if size > MAX_PASSWORD_BYTES:
        raise _too_long("password", text, size, MAX_PASSWORD_BYTES)
    return text


def parse_port(text: str, what: str = "TCP", example: int = DEFAULT_TCP_PORT) -> int:
    """A port number 0-65535 (0 lets the system pick a free one); what is 'TCP' or 'UDP'."""
    value = text.strip()
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError(_(_BAD_PORT[what]).format(example=example))
    return int(value)


def format_address(host: str, port: int) -> str:
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"
