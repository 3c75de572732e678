"""What a customer sends besides text (WhatsApp photos, voice notes,
video, documents, stickers, locations, contacts): a customer message with
an attachment (``message.attachment``, JSON).

The message is stored first, like any other (the citizen's words never
wait for a file); a file then gets an outbox job ``fetch_media`` of its own
key, so a file Meta does not hand over holds back nothing else. Its
``status`` tells the operator where it is:

- ``pending``: being fetched;
- ``stored``: kept under ``HANDOFF_MEDIA_DIR``, served to the operators of
  the attendance's room (``GET /api/attachments/<message id>``);
- ``failed``: Meta did not hand it over (yet): shown "Arquivo
  indisponível", tried again while Meta is away, for good once Meta says
  the media is gone;
- ``refused``: over the size limit or of a type not taken; the citizen is
  told in pt-BR;
- ``erased``: the person's data was erased or the retention period ended
  (``data_subjects.strip_attendances``): only the kind is kept, and an
  outbox job ``delete_media`` removes the attendance's files.

A visitor's photo or PDF from the widget is uploaded to this service first
(``uploads.py``) and named in the metadata by its upload id: the message
gets it ``stored`` at once, under its own attendance. An operator's file
(an operator message's attachment, ``stored``) is served to the
attendance's operators and, by the message's id, to the customer's channel
(``operator_file``).

A location or a contact card has no file: its words are the message's
text (the place, the names and phones) and a location its coordinates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from handoff import channel_resend, outbox
from handoff.db import UnitOfWork
from handoff.domain import uploads
from handoff.domain.access import attendance_for, is_row_id
from handoff.domain.errors import NotFound
from handoff.domain.views import audience, message_view
from handoff.models import FROM_CUSTOMER, FROM_OPERATOR, Attendance, Message, Operator, OutboxJob

log = logging.getLogger(__name__)

FETCH_MEDIA = "fetch_media"
DELETE_MEDIA = "delete_media"
FILE_KINDS = ("image", "audio", "video", "document", "sticker")
KINDS = (*FILE_KINDS, "location", "contacts")
PENDING, STORED, FAILED, REFUSED = "pending", "stored", "failed", "refused"
ERASED = "erased"
MAX_NAME = 255
MAX_ID = 128


def parse(metadata: Any) -> dict[str, Any] | None:
    """The attachment a channel described in a message's metadata, in the
    shape stored; None if there is none or it is not of a known kind."""
    data = metadata.get("attachment") if isinstance(metadata, dict) else None
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        return None
    kind = data["kind"]
    if kind == "location":
        latitude, longitude = data.get("latitude"), data.get("longitude")
        if not (_number(latitude, 90) and _number(longitude, 180)):
            return None
        return {"kind": kind, "latitude": latitude, "longitude": longitude}
    if kind == "contacts":
        return {"kind": kind}
    upload = data.get("upload_id")
    if isinstance(upload, str) and uploads.UPLOAD_ID.match(upload):
        return _visitor_upload(upload, data.get("file_name"))
    media_id = _text(data.get("media_id"), MAX_ID)
    if media_id is None:
        return None
    return {
        "kind": kind,
        "voice": data.get("voice") is True,
        "media_id": media_id,
        "mime_type": _text(data.get("mime_type"), MAX_NAME),
        "file_name": _text(data.get("file_name"), MAX_NAME),
        "size": None,
        "status": PENDING,
    }


def _visitor_upload(upload: str, file_name: Any) -> dict[str, Any]:
    """A file the visitor uploaded to this service from the widget
    (``handoff/domain/uploads.py``): its type and size are the upload id's
    (which names the file), the name is only shown."""
    stem, extension = upload.rsplit(".", 1)
    extension = f".{extension}"
    return {
        "kind": uploads.KIND_OF_EXTENSION[extension],
        "voice": False,
        "upload_id": upload,
        "mime_type": uploads.MIME_OF_EXTENSION[extension],
        "file_name": _text(file_name, MAX_NAME) or f"arquivo{extension}",
        "size": int(stem.rsplit("-", 1)[1]),
        "status": STORED,
    }


def attach(uow: UnitOfWork, message: Message, attachment: dict[str, Any]) -> None:
    """Give a just stored customer message its attachment; a WhatsApp file
    is fetched by an outbox job of its own, a visitor's upload is kept under
    the attendance already (an upload id names a file of that attendance
    only)."""
    if "upload_id" in attachment:
        attachment = {**attachment}
        attachment["key"] = uploads.visitor_key(message.attendance_id, attachment.pop("upload_id"))
        message.attachment = attachment
        return
    message.attachment = attachment
    if attachment["kind"] in FILE_KINDS:
        uow.session.flush()
        outbox.enqueue(
            uow, kind=FETCH_MEDIA, key=f"media:{message.id}", payload={"message_id": message.id}
        )


def forget(uow: UnitOfWork, message: Message) -> None:
    """Keep only what kind of attachment the message had; a fetch still
    waiting is dropped."""
    message.attachment = {"kind": (message.attachment or {}).get("kind"), "status": ERASED}
    uow.session.execute(
        delete(OutboxJob).where(
            OutboxJob.kind == FETCH_MEDIA, OutboxJob.key == f"media:{message.id}"
        )
    )


def delete_files_of(uow: UnitOfWork, attendance_ids: list[int]) -> None:
    """After the commit, delete the files kept for these attendances."""
    outbox.enqueue(
        uow,
        kind=DELETE_MEDIA,
        key=f"media-delete:{attendance_ids[0]}",
        payload={"attendance_ids": attendance_ids},
    )


@dataclass(frozen=True)
class ToFetch:
    message_id: int
    attendance_id: int
    media_id: str


def to_fetch(session: Session, message_id: Any) -> ToFetch | None:
    """The file a ``fetch_media`` job is for; None once it is settled."""
    message = session.get(Message, message_id) if is_row_id(message_id) else None
    attachment = message.attachment if message is not None else None
    if not attachment or attachment.get("status") not in (PENDING, FAILED):
        return None
    assert message is not None
    return ToFetch(message.id, message.attendance_id, str(attachment["media_id"]))


def refusal(mime_type: str, size: int, allowed: list[str], max_bytes: int) -> str | None:
    """Why a file is not taken (pt-BR, for the citizen), or None."""
    base = mime_type.split(";")[0].strip().lower()
    if not any(base == t or (t.endswith("/*") and base.startswith(t[:-1])) for t in allowed):
        return (
            f"Não conseguimos receber arquivos desse tipo ({base or 'desconhecido'}). "
            "Envie uma foto, um PDF ou um áudio, ou escreva sua mensagem."
        )
    if size > max_bytes:
        return (
            f"Seu arquivo tem {uploads.megabytes(size)} e o limite é "
            f"{uploads.megabytes(max_bytes)}. "
            "Envie um arquivo menor ou escreva sua mensagem."
        )
    return None


def record_stored(
    uow: UnitOfWork, message_id: int, key: str, mime_type: str, size: int, sha256: str | None
) -> None:
    _update(
        uow,
        message_id,
        status=STORED,
        key=key,
        mime_type=mime_type,
        size=size,
        sha256=sha256,
        error=None,
    )


def record_failed(uow: UnitOfWork, message_id: int, reason: str) -> None:
    """Meta did not hand the file over (the job may try again)."""
    _update(uow, message_id, status=FAILED, error=reason[:MAX_NAME])


def record_refused(
    uow: UnitOfWork, message_id: int, reason: str, mime_type: str, size: int
) -> None:
    """A file over the limits: the operator sees why, the citizen is told."""
    message = _update(uow, message_id, status=REFUSED, error=reason, mime_type=mime_type, size=size)
    if message is None:
        return
    attendance = uow.session.get(Attendance, message.attendance_id)
    assert attendance is not None
    channel_resend.enqueue_undelivered(
        uow,
        {
            "conversation_id": attendance.conversation_id,
            "channel": attendance.channel,
            "message": {"text": reason, "timestamp": None},
        },
    )


def _update(uow: UnitOfWork, message_id: int, **changes: Any) -> Message | None:
    message = uow.session.get(Message, message_id)
    if message is None or not message.attachment or message.attachment.get("status") == ERASED:
        return None
    message.attachment = {**message.attachment, **changes}
    attendance = uow.session.get(Attendance, message.attendance_id)
    assert attendance is not None
    uow.notify(audience(attendance), "message:updated", message_view(message))
    return message


@dataclass(frozen=True)
class StoredFile:
    key: str
    mime_type: str
    file_name: str | None
    kind: str


def stored_file(session: Session, operator: Operator, message_id: Any) -> StoredFile:
    """A stored file of a customer's or an operator's message of one of the
    operator's rooms."""
    message = _with_file(session, message_id, (FROM_CUSTOMER, FROM_OPERATOR))
    attendance_for(session, operator, message.attendance_id)
    return _file_of(message)


def operator_file(session: Session, message_id: Any, conversation_id: str | None) -> StoredFile:
    """The file of an operator message, for the customer's channel: Rasa's
    (``conversation_id`` None, the service token) or the visitor's widget
    (only of its own conversation)."""
    message = _with_file(session, message_id, (FROM_OPERATOR,))
    if conversation_id is not None:
        attendance = session.get(Attendance, message.attendance_id)
        if attendance is None or attendance.conversation_id != conversation_id:
            raise NotFound("Arquivo não encontrado.")
    return _file_of(message)


def _with_file(session: Session, message_id: Any, directions: tuple[str, ...]) -> Message:
    message = session.get(Message, message_id) if is_row_id(message_id) else None
    if message is None or message.direction not in directions:
        raise NotFound("Arquivo não encontrado.")
    if (message.attachment or {}).get("status") != STORED:
        raise NotFound("Arquivo não encontrado.")
    return message


def _file_of(message: Message) -> StoredFile:
    attachment = message.attachment or {}
    return StoredFile(
        attachment["key"], attachment["mime_type"], attachment.get("file_name"), attachment["kind"]
    )


def _number(value: Any, bound: float) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and -bound <= value <= bound
    )


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None
