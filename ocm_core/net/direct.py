"""This install's side of direct messages: its own key, and what it remembers of others'.

One `DirectKeys` per app, shared by every room's ChatClient: it seals what we send (for the
key the recipient proved to the server, or the one we remember), opens what arrives (only a
message its sender sealed for us, under its id, opens), refuses a message seen before, and
notices a person's key changing. Everything a person is told comes out as events
(ocm_core.sansio.events): DirectMessage, KeyChanged.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

from ocm_core import paths
from ocm_core import wire as p
from ocm_core.crypto.direct import DirectOpenFailed, PersonalKey, Sealed, safety_code
from ocm_core.errors import ProtocolError
from ocm_core.sansio import events as ev
from ocm_core.storage.directbook import DirectBook, KeyStatus
from ocm_core.storage.roomstore import StoreWriteError

log = logging.getLogger(__name__)

KEY_FILE = "direct.key"


class DirectKeys:
    def __init__(self, personal: PersonalKey, book: DirectBook):
        self.personal = personal
        self.book = book
        self.refused = 0  # mail that did not open, was replayed or came from a key not its sender's

    @classmethod
    def load(cls, folder: str | os.PathLike | None = None) -> DirectKeys:
        """The install's key and book in `folder` (default: the user's config folder)."""
        where = Path(folder) if folder is not None else paths.config_dir()
        where.mkdir(parents=True, exist_ok=True)
        book = DirectBook(where / "people.db")
        try:  # ids older than the book keeps them go at each start (one indexed delete)
            book.prune()
        except StoreWriteError as exc:
            log.warning("could not forget old message ids in %s: %s", book.path, exc)
        return cls(PersonalKey.load_or_create(where / KEY_FILE), book)

    @property
    def public(self) -> bytes:
        return self.personal.public

    def safety_code(self, key: bytes) -> str:
        """What we and the holder of `key` both see, to compare aloud."""
        return safety_code(self.public, key)

    def learn(self, server: str, name: str, key: bytes) -> ev.KeyChanged | None:
        """A server says `name` holds `key`: remembered the first time; KeyChanged when it differs."""
        if key == self.public:
            return None  # ourselves, in another room
        check = self.book.check_key(server, name, key)
        if check.status is KeyStatus.CHANGED and check.previous is not None:
            log.warning("%r's direct-message key on %s has changed", name, server)
            return ev.KeyChanged(name, check.previous, key)
        return None

    def seal(self, recipient: str, key: bytes, text: str) -> p.Direct:
        """`text` sealed for the holder of `key`, under a fresh random id."""
        msg_id = secrets.randbits(64)
        plaintext = p.encode_direct_text(p.DirectText(int(time.time() * 1000), text))
        return p.Direct(msg_id, key, recipient, self.personal.seal(key, msg_id, plaintext).to_bytes())

    def open(self, server: str, mail: p.Mail) -> tuple[list[ev.AppEvent], bool]:
        """The events a MAIL brings (KeyChanged first if its sender's key is new to us, then
        the message), and whether we have it (shown now, or before: its id was seen). A MAIL
        that does not open, or is dated too far from now, brings nothing and is not had.
        StoreWriteError (from the book) means: not recorded, so do not acknowledge it yet."""
        try:
            plaintext = self.personal.open(mail.peer_key, mail.msg_id, Sealed.from_bytes(mail.sealed))
            message = p.decode_direct_text(plaintext)
        except (DirectOpenFailed, ProtocolError) as exc:
            self._refuse("did not open", mail, str(exc))
            return [], False
        # The key first: once the id is recorded, a failure after it would lose the message.
        events: list[ev.AppEvent] = []
        changed = self.learn(server, mail.peer, mail.peer_key)
        if changed is not None:
            events.append(changed)
        if not self.book.first_time(mail.peer_key, mail.msg_id, message.sent_ms):
            seen = self.book.seen(mail.peer_key, mail.msg_id)
            self._refuse("seen before" if seen else "dated too far from now", mail)
            return events, seen  # a new key is told all the same: it is remembered now
        events.append(
            ev.DirectMessage(
                mail.peer, mail.peer_key, mail.msg_id, message.text, mail.time_ms / 1000, message.sent_ms / 1000
            )
        )
        return events, True

    def _refuse(self, why: str, mail: p.Mail, detail: str = "") -> None:
        self.refused += 1
        log.warning(
            "refused a direct message said to be from %r: %s%s", mail.peer, why, f" ({detail})" if detail else ""
        )

    def close(self) -> None:
        self.book.close()
