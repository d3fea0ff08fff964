"""The error hierarchy shared by the protocol, the client and the server.

Every message here is written for a person: what happened and what to do, in the person's
language (ocm_core.i18n). ProtocolError reasons are for logs and developers: English.
"""

from __future__ import annotations

from ocm_core.i18n import _, chars_over, ngettext


class OCMError(Exception):
    """Base of every error this package raises on purpose."""


class ProtocolError(OCMError):
    """Something that breaks the protocol; `reason` says which rule broke. Catch the
    subclasses to tell whose fault it is (as h11 does)."""

    def __init__(self, reason: str):
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError: say whose fault it is")
        super().__init__(reason)
        self.reason = reason


class LocalProtocolError(ProtocolError):
    """Our own side's mistake: an argument the wire cannot carry, or a call that does not
    fit the session's state. Nothing was sent."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that do not follow the wire format (or the answer it owed us)."""


class RegistryError(OCMError):
    """A request the room registry refuses; `status` goes on the wire, str() to a person."""

    def __init__(self, status, message: str, retry_after: int = 1):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds, for a TRY_LATER


class PortInUse(OCMError, OSError):
    suggested: tuple[int, int] | None = None  # free (tcp, udp) ports, when whoever caught it found some

    def __init__(self, port: int, kind: str):
        super().__init__(
            _("{kind} port {port} is already in use; choose another port or stop the program using it.").format(
                kind=kind, port=port
            )
        )
        self.port = port
        self.kind = kind


class DatabaseDamaged(OCMError, OSError):
    def __init__(self, path: str, reason: str):
        super().__init__(
            f"The database {path} is damaged ({reason}). Start with --move-damaged-db to move it aside and "
            "begin with no rooms, or choose another file with --db."
        )
        self.path = path


class DatabaseInUse(OCMError, OSError):
    def __init__(self, path: str):
        super().__init__(_("another server is using {path}; stop it or choose another database file").format(path=path))
        self.path = path


class BadLink(OCMError, ValueError):
    """An invite link (`ocm://…`, wire/links.py) that cannot be used; str() says why, to a person."""


class ClientError(OCMError):
    """A request the server refused or could not answer."""


class ServerUnreachable(ClientError):
    """`transient`: the request timed out or its connection broke (a lossy network), rather
    than nobody being there; asking again may well work."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class RoomExists(ClientError):
    pass


class RoomNotFound(ClientError):
    pass


class RemovedFromRoom(ClientError):
    """The host removed this person from the room: it does not let them back while it lasts."""


class NameTaken(ClientError):
    pass


class ServerFull(ClientError):
    pass


class ServerBusy(ServerFull):
    """Too many connections at this moment; the client has already retried for a while."""


class CannotSave(ClientError):
    """The server cannot write its database now (a full disk); nothing was done."""


class TryAgainLater(ClientError):
    """The server asked us to wait `seconds` before trying again (it is busy checking passwords)."""

    def __init__(self, message: str, seconds: int):
        super().__init__(message)
        self.seconds = seconds


class RoomFull(ClientError):
    pass


class PasswordRequired(ClientError):
    pass


class WrongPassword(ClientError):
    pass


class TooManyAttempts(ClientError):
    pass


class BadRequest(ClientError):
    pass


class NotConnected(ClientError):
    pass


class MessageTooLong(ClientError):
    """`size` and `limit` in bytes, as the wire counts; told in characters when the text is known."""

    def __init__(self, size: int, limit: int, text: str = ""):
        if text:
            count = chars_over(text, size - limit)
            message = ngettext(
                "This message is {count} character too long; shorten it or split it in two.",
                "This message is {count} characters too long; shorten it or split it in two.",
                count,
            ).format(count=count)
        else:
            message = _(
                "This message is {size} bytes; a message in this room can be at most {limit} bytes. "
                "Shorten it or split it in two."
            ).format(size=size, limit=limit)
        super().__init__(message)
        self.size = size
        self.limit = limit


class FileTooLarge(ClientError):
    """A file over the server's per-file cap; refused before any byte was sent."""


class StorageFull(ClientError):
    """The server's storage cap is reached or its disk is full."""


class NoSuchFile(ClientError):
    """Not a file of this room (any more)."""


class TransferFailed(ClientError):
    """A file did not arrive whole, or its checksum did not match."""


class TransferCancelled(ClientError):
    """The transfer was cancelled by this side (its progress callback returned False)."""
