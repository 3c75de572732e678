"""Files people attach themselves: an operator in Conversa, a visitor in
the widget (photos and PDFs).

The type is told from the file's first bytes, never from what the client
says; the size limit is checked while the body arrives (the routes stop
reading past it). A visitor's file is kept under its attendance and named
by an upload id (``<random>-<size><extension>``) that the widget puts in
the message's ``metadata.attachment``; the message, once Rasa reports it,
gets the file (``attachments.parse``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handoff.domain.errors import Invalid, TooLarge, TooManyRequests, UnsupportedMediaType

# (first bytes, MIME type, kind, extension) of the files recognised.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "image", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "image", ".png"),
    (b"%PDF-", "application/pdf", "document", ".pdf"),
)
MIME_OF_EXTENSION = {extension: mime for _, mime, _, extension in SIGNATURES}
KIND_OF_EXTENSION = {extension: kind for _, _, kind, extension in SIGNATURES}
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}-[0-9]{1,12}\.(jpg|png|pdf)$")
MAX_FILE_NAME = 255
# Files a visitor may upload to one attendance (each up to the size limit):
# enough for any conversation, a bound on what one visitor can make us keep.
VISITOR_FILES_PER_ATTENDANCE = 30
# WhatsApp's limit for a media caption, in characters.
MAX_CAPTION = 1024


@dataclass(frozen=True)
class Upload:
    kind: str
    mime_type: str
    extension: str
    size: int
    file_name: str


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"O arquivo passa do limite de {megabytes(max_bytes)}. Envie um arquivo menor.",
        field="file",
    )


def check(data: bytes, file_name: str | None, allowed: list[str], max_bytes: int) -> Upload:
    """The file as taken, or why not (pt-BR): empty, too large, or not of
    an allowed type by its bytes."""
    if not data:
        raise Invalid("O arquivo está vazio.", field="file")
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    found = next((s for s in SIGNATURES if data.startswith(s[0])), None)
    if found is None or found[1] not in allowed:
        raise UnsupportedMediaType(
            "Tipo de arquivo não aceito. Envie uma foto (JPEG ou PNG) ou um PDF.", field="file"
        )
    _, mime_type, kind, extension = found
    name = (file_name or "").replace("/", "_").replace("\\", "_").strip()[:MAX_FILE_NAME]
    return Upload(kind, mime_type, extension, len(data), name or f"arquivo{extension}")


def caption(value: str | None) -> str:
    """An attachment's optional caption (the composer's text), stripped."""
    return (value or "").strip()


def operator_attachment(upload: Upload, key: str) -> dict[str, object]:
    """What an operator message with a file stores (``message.attachment``)."""
    return {
        "kind": upload.kind,
        "voice": False,
        "mime_type": upload.mime_type,
        "file_name": upload.file_name,
        "size": upload.size,
        "status": "stored",
        "key": key,
    }


def upload_id(token: str, upload: Upload) -> str:
    return f"{token}-{upload.size}{upload.extension}"


def refuse_more_visitor_files(kept: int) -> None:
    """``kept``: the visitor's files already kept for the attendance."""
    if kept >= VISITOR_FILES_PER_ATTENDANCE:
        raise TooManyRequests(
            f"Você já enviou {VISITOR_FILES_PER_ATTENDANCE} arquivos nesta conversa, o máximo."
        )


def visitor_key(attendance_id: int, upload: str) -> str:
    """Where a visitor's upload of this attendance is kept (under the media folder)."""
    return f"{attendance_id}/up-{upload}"
