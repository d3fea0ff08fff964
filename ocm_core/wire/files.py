"""Files over TCRP: UPLOAD, DOWNLOAD and FILES requests, and the FILE event's text."""

from __future__ import annotations

from dataclasses import dataclass

from ocm_core.errors import RemoteProtocolError
from ocm_core.wire.datagram import Event
from ocm_core.wire.jsontext import decode_json_object, encode_json, loads_json
from ocm_core.wire.tcrp import Operation

# --- files (UPLOAD, DOWNLOAD, FILES over TCRP; the FILE event) ---------------------------
# The requests are JSON like a SYNC's: the member's token and key proof, plus what the
# operation needs. The file's bytes travel raw inside the TLS stream, outside any TCRP
# message: after the server's OK for an UPLOAD (then the 32-byte SHA-256 of what was
# sent), after the completion for a DOWNLOAD. docs/protocol.md has the byte tables.
FILE_DIGEST_SIZE = 32
FILE_ID_BYTES = 16  # hex characters of a file id
MAX_FILE_NAME_BYTES = 255
MAX_MIME_BYTES = 100
FOLDER_MIME = "application/x-ocm-folder+zip"  # a folder shared as one item: a ZIP of its tree
MAX_FOLDER_FILES = 10_000


@dataclass(frozen=True)
class FileInfo:
    """A shared file as the room knows it."""

    file_id: str
    name: str
    size: int
    mime: str
    sender: str = ""
    sha256: str = ""  # hex; in a DOWNLOAD's completion, so the client can check what arrives
    files: int = 0  # a folder's count of files (mime FOLDER_MIME); 0 for a file

    @property
    def is_folder(self) -> bool:
        return self.mime == FOLDER_MIME


@dataclass(frozen=True)
class FileRequest:
    """The payload of UPLOAD (name, size, mime), DOWNLOAD (file_id) and FILES (neither)."""

    token: str
    proof: str | None = None
    name: str = ""
    size: int = 0
    mime: str = ""
    file_id: str = ""
    files: int = 0  # UPLOAD of a folder: how many files it holds


def is_file_id(text: str) -> bool:
    return len(text) == FILE_ID_BYTES and all(ch in "0123456789abcdef" for ch in text)


def encode_file_request(request: FileRequest) -> bytes:
    fields: dict[str, object] = {"token": request.token}
    if request.proof is not None:
        fields["proof"] = request.proof
    if request.name:
        fields.update(name=request.name, size=request.size, mime=request.mime)
        if request.files:
            fields["files"] = request.files
    if request.file_id:
        fields["file_id"] = request.file_id
    return encode_json(fields)


def decode_file_request(operation: Operation, payload: bytes) -> FileRequest:
    fields = decode_json_object(payload)
    token, proof = fields.get("token"), fields.get("proof")
    if not isinstance(token, str) or not token or (proof is not None and not isinstance(proof, str)):
        raise RemoteProtocolError("a file request needs the member's token (and key proof) as strings")
    if operation is Operation.UPLOAD:
        name, size, mime = fields.get("name"), fields.get("size"), fields.get("mime", "")
        if not isinstance(name, str) or not name or len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
            raise RemoteProtocolError(f"a file name must be 1 to {MAX_FILE_NAME_BYTES} bytes of text")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RemoteProtocolError("a file size must be a whole number of bytes, 0 or more")
        if not isinstance(mime, str) or len(mime) > MAX_MIME_BYTES or not mime.isascii():
            raise RemoteProtocolError(f"a file type must be ASCII, at most {MAX_MIME_BYTES} characters")
        return FileRequest(token, proof, name, size, mime, files=_folder_files(fields))
    if operation is Operation.DOWNLOAD:
        file_id = fields.get("file_id")
        if not isinstance(file_id, str) or not is_file_id(file_id):
            raise RemoteProtocolError("a download names a file id of 16 hex characters")
        return FileRequest(token, proof, file_id=file_id)
    return FileRequest(token, proof)


def _folder_files(fields: dict) -> int:
    """The optional "files" count; a reader that does not know it ignores it, as any unknown key."""
    files = fields.get("files", 0)
    if not isinstance(files, int) or isinstance(files, bool) or not 0 <= files <= MAX_FOLDER_FILES:
        raise RemoteProtocolError(f"a folder's file count must be a whole number from 0 to {MAX_FOLDER_FILES}")
    return files


def file_to_json(info: FileInfo) -> dict:
    fields: dict[str, object] = {"id": info.file_id, "name": info.name, "size": info.size, "mime": info.mime}
    if info.sender:
        fields["sender"] = info.sender
    if info.sha256:
        fields["sha256"] = info.sha256
    if info.files:
        fields["files"] = info.files
    return fields


def file_from_json(value: object, sender: str = "") -> FileInfo:
    if not isinstance(value, dict):
        raise RemoteProtocolError("a file entry is not an object")
    file_id, name, size, mime = value.get("id"), value.get("name"), value.get("size"), value.get("mime", "")
    sha = value.get("sha256", "")
    if not isinstance(file_id, str) or not is_file_id(file_id) or not isinstance(name, str) or not name:
        raise RemoteProtocolError("a file entry lacks its id or name")
    if (
        not isinstance(size, int)
        or isinstance(size, bool)
        or size < 0
        or not isinstance(mime, str)
        or not isinstance(sha, str)
    ):
        raise RemoteProtocolError("a file entry has a bad size, type or checksum")
    return FileInfo(file_id, name, size, mime, str(value.get("sender", sender)), sha, _folder_files(value))


def encode_file_event_text(info: FileInfo) -> str:
    """A FILE event's text (its name field is the sender)."""
    bare = FileInfo(info.file_id, info.name, info.size, info.mime, files=info.files)
    return encode_json(file_to_json(bare)).decode("utf-8")


def decode_file_event(event: Event) -> FileInfo:
    try:
        value = loads_json(event.text)
    except (ValueError, RecursionError):
        raise RemoteProtocolError("a FILE event's text is not JSON") from None
    return file_from_json(value, sender=event.name)


def decode_file_list(payload: bytes) -> list[FileInfo]:
    files = decode_json_object(payload).get("files")
    if not isinstance(files, list):
        raise RemoteProtocolError("the file list is missing from the answer")
    return [file_from_json(item) for item in files]
