"""Citizens' files (handoff/domain/attachments.py), to the operators of the
attendance's room: photos, audio and video inline, anything else as a
download. Never rendered as a page: the answer carries a sandboxing
Content-Security-Policy and ``nosniff``."""

from __future__ import annotations

from urllib.parse import quote

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file

from handoff.domain import attachments
from handoff.domain.errors import NotFound
from handoff.routes.common import desk, operator_token

bp = Blueprint("attachments")

INLINE_KINDS = ("image", "audio", "video", "sticker")


@bp.get("/attachments/<message_id:int>")
async def attachment(request: Request, message_id: int) -> HTTPResponse:
    found = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: attachments.stored_file(uow.session, op, message_id),
        read=True,
    )
    folder = request.app.ctx.settings.media_dir.resolve()
    path = (folder / found.key).resolve()
    if folder not in path.parents or not path.is_file():
        raise NotFound("Arquivo não encontrado.")
    name = found.file_name or path.name
    disposition = "inline" if found.kind in INLINE_KINDS else "attachment"
    return await file(
        path,
        mime_type=found.mime_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600",
        },
    )
