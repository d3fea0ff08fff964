"""Every size the wire allows, in UTF-8 bytes, because that is what the wire counts."""

from __future__ import annotations

# --- limits (UTF-8 bytes, because that is what the wire counts) ---------------------
TCRP_HEADER_SIZE = 32
MAX_NAME_BYTES = 255  # room names and user names: one length byte
MAX_TOKEN_BYTES = 255
MAX_DATAGRAM = 4096
MAX_REQUEST_PAYLOAD = 64 * 1024  # the most a server reads of a request payload
MAX_RESPONSE_PAYLOAD = 16 * 1024 * 1024  # the most a client reads of an answer
PAYLOAD_SIZE_BYTES = 29

# --- our UDP frames (datagram.py, direct.py) ------------------------------------------
# A body that starts with FRAME_MAGIC is one of our versioned frames; 0xFF never occurs in
# UTF-8, so any other body is a plain-text chat line from a client that speaks only the
# assignment's framing. A sealed body adds SEAL_OVERHEAD: a magic byte, nonce and tag.
FRAME_MAGIC = 0xFF
FRAME_VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
SEAL_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE
