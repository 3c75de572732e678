"""Files of a conversation: citizens' (handoff/domain/attachments.py) and
operators' (handoff/domain/uploads.py), to the operators of the
attendance's room: photos, audio and video inline, anything else as a
download; an operator's file to the customer's channel (Rasa, with the
service token). Never rendered as a page: the answer carries a sandboxing
Content-Security-Policy and ``nosniff``."""

from __future__ import annotations

from urllib.parse import quote

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, file, json

from handoff import file_uploads, media_files
from handoff.commands import SendFile, parse
from handoff.domain import attachments, uploads
from handoff.domain.errors import NotFound
from handoff.routes.common import desk, operator_token, require_service

bp = Blueprint("attachments")

INLINE_KINDS = ("image", "audio", "video", "sticker")


@bp.get("/attachments/<message_id:int>")
async def attachment(request: Request, message_id: int) -> HTTPResponse:
    found = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: attachments.stored_file(uow.session, op, message_id),
        read=True,
    )
    return await send_stored(request, found)


@bp.post("/attendances/<attendance_id:int>/files", stream=True)
async def send_file(request: Request, attendance_id: int) -> HTTPResponse:
    """The file is the body (any Content-Type: its bytes tell); ``?name=``
    its name, ``?caption=`` the text sent with it, ``?client_id=`` as for
    ``message:send``."""
    token = operator_token(request)
    await file_uploads.may_send_file(desk(request), token, attendance_id)
    query = parse(SendFile, {key: request.args.get(key) for key in request.args})
    data = await read_upload(request, desk(request).settings.upload_max_bytes)
    answer = await file_uploads.send_operator_file(
        desk(request), token, attendance_id, data, query.name, query.caption, query.client_id
    )
    return json(answer, status=201)


@bp.get("/channel/files/<message_id:int>")
async def channel_file(request: Request, message_id: int) -> HTTPResponse:
    """An operator message's file, for Rasa's channel to send on."""
    require_service(request)
    found = await desk(request).read(
        lambda uow: attachments.operator_file(uow.session, message_id, None)
    )
    return await send_stored(request, found)


async def read_upload(request: Request, max_bytes: int) -> bytes:
    """The body of a streamed upload route, refused (413) as soon as it is
    announced or found to be over ``max_bytes``: never read whole past it."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise uploads.too_large(max_bytes)
    data = bytearray()
    while (chunk := await request.stream.read()) is not None:  # type: ignore[union-attr]
        data.extend(chunk)
        if len(data) > max_bytes:
            raise uploads.too_large(max_bytes)
    return bytes(data)


async def send_stored(request: Request, found: attachments.StoredFile) -> HTTPResponse:
    """A kept file, named, never sniffed or rendered as a page."""
    path = media_files.path_of(request.app.ctx.settings.media_dir, found.key)
    if path is None:
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
