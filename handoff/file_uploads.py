"""Files attached by the people of a conversation (``domain/uploads.py``):
checked, kept under ``HANDOFF_MEDIA_DIR``, then recorded. A file is
written before the transaction that refers to it and removed again if that
transaction refuses it (not the operator's attendance, a repeated send)."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

from handoff import media_files
from handoff.domain import access, uploads, views
from handoff.domain.conversation import send_operator_message
from handoff.domain.errors import Conflict

if TYPE_CHECKING:
    from handoff.desk import Desk


async def may_send_file(desk: Desk, token: str, attendance_id: int) -> None:
    """Refuse (401, 403, 404) before the body is read: the attendance must
    be the operator's own."""
    await desk.as_operator(
        token, lambda uow, op: access.own_attendance(uow.session, op, attendance_id), read=True
    )


async def send_operator_file(
    desk: Desk,
    token: str,
    attendance_id: int,
    data: bytes,
    file_name: str | None,
    caption: str | None,
    client_id: str,
) -> dict[str, Any]:
    """An operator's photo or PDF to the customer of their active
    attendance, as a message (its text the caption) delivered like any other."""
    settings = desk.settings
    upload = uploads.check(data, file_name, settings.upload_types, settings.upload_max_bytes)
    key = f"{attendance_id}/op-{secrets.token_hex(16)}{upload.extension}"
    await asyncio.to_thread(media_files.keep, settings.media_dir, key, data)
    attachment = uploads.operator_attachment(upload, key)
    created = False
    try:
        message, attendance, created = await desk.as_operator(
            token,
            lambda uow, op: send_operator_message(
                uow, op, attendance_id, caption, client_id, attachment
            ),
        )
    finally:
        if not created:  # refused, or a repeated send of a stored message
            await asyncio.to_thread(media_files.discard, settings.media_dir, key)
    return {"message": views.message_view(message), "protocol": attendance.protocol}


async def visitor_attendance(desk: Desk, conversation_id: str) -> int:
    """The open attendance a visitor's file is for (checked before the body
    is read): a file is for an operator, so there must be one."""
    attendance_id = await desk.read(
        lambda uow: getattr(access.open_attendance_of(uow.session, conversation_id), "id", None)
    )
    if attendance_id is None:
        raise Conflict("Você poderá enviar arquivos quando estiver falando com um atendente.")
    folder = desk.settings.media_dir / str(attendance_id)
    kept = await asyncio.to_thread(lambda: len(list(folder.glob("up-*"))))
    uploads.refuse_more_visitor_files(kept)
    return int(attendance_id)


async def visitor_upload(
    desk: Desk, attendance_id: int, data: bytes, file_name: str | None
) -> dict[str, Any]:
    """A visitor's photo or PDF, kept under their open attendance; the
    widget then sends a message naming it (``metadata.attachment.upload_id``)."""
    settings = desk.settings
    upload = uploads.check(data, file_name, settings.upload_types, settings.upload_max_bytes)
    upload_id = uploads.upload_id(secrets.token_hex(16), upload)
    key = uploads.visitor_key(attendance_id, upload_id)
    await asyncio.to_thread(media_files.keep, settings.media_dir, key, data)
    return {
        "upload_id": upload_id,
        "kind": upload.kind,
        "mime_type": upload.mime_type,
        "file_name": upload.file_name,
        "size": upload.size,
    }
