"""What the visitor's widget asks of the handoff service: whether its room
lets the visitor skip the pre-chat form, and the history of its own
conversation, so a reload (or a message that arrived while the page was
closed) shows everything.

The widget proves which conversation is its own with the conversation's
token (header ``X-Conversation-Token``, never in the URL, so it stays out of
access logs); the conversation id is derived from it exactly as Rasa's
widget channel does (``bot/socketio_channel.py``). Knowing a conversation
id, as operators and trackers do, reads nothing."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json

from handoff import file_uploads, rasa_events
from handoff.db import UnitOfWork
from handoff.domain import admin, attachments, room_hours
from handoff.domain.errors import Unauthorized
from handoff.models import utcnow
from handoff.rasa_client import RasaUnavailable
from handoff.routes.attachments import read_upload, send_stored
from handoff.routes.common import desk, settings

bp = Blueprint("widget_api", url_prefix="/widget/api")

TOKEN_HEADER = "X-Conversation-Token"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
# Any site may embed the widget; the answers depend on the token alone (no
# cookies), so any origin may read them.
OPEN_CORS = {"Access-Control-Allow-Origin": "*"}


def conversation_of(token: str) -> str:
    """The conversation a widget token opens: the first 128 bits of its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


@bp.get("/prechat")
async def prechat(request: Request) -> HTTPResponse:
    """?key=<the widget's data-key> -> {"optional": bool, "closed": null or
    {"notice", "leave_message"}}: whether the visitor may skip the form, and
    whether their room is closed now (its public hours)."""
    key = request.args.get("key", "")
    default_room, files = settings(request).default_room, desk(request).hours

    def read(uow: UnitOfWork) -> dict[str, Any]:
        room = admin.widget_room(uow.session, key, default_room)
        return {
            "optional": room is not None and room.prechat_optional,
            "closed": room_hours.closed_for_widget(uow.session, files, room, utcnow()),
        }

    return json(await desk(request).read(read), headers=OPEN_CORS)


def _token(request: Request) -> str:
    token = request.headers.get(TOKEN_HEADER, "")
    if not TOKEN.match(token):
        raise Unauthorized("conversation token required")
    return token


@bp.get("/history")
async def history(request: Request) -> HTTPResponse:
    try:
        token = _token(request)
    except Unauthorized as error:
        return json({"error": error.as_dict()}, status=error.status, headers=OPEN_CORS)
    try:
        events = await desk(request).rasa.conversation_messages(conversation_of(token))
    except RasaUnavailable:
        return json(
            {"error": {"code": "unavailable", "message": "Histórico indisponível no momento."}},
            status=503,
            headers=OPEN_CORS,
        )
    return json({"messages": rasa_events.visitor_history(events)}, headers=OPEN_CORS)


@bp.options("/history")
async def history_preflight(_request: Request) -> HTTPResponse:
    """Browsers ask first before sending the token header from another origin."""
    return empty(
        headers={
            **OPEN_CORS,
            "Access-Control-Allow-Methods": "GET",
            "Access-Control-Allow-Headers": TOKEN_HEADER,
            "Access-Control-Max-Age": "600",
        }
    )


# The widget's frame is on this service's origin: the file routes answer it
# alone (no CORS), the token in a header (an image is fetched, then shown).


@bp.post("/files", stream=True)
async def upload(request: Request) -> HTTPResponse:
    """A visitor's photo or PDF (the body; ``?name=`` its name) for their
    open attendance: ``{upload_id, kind, mime_type, file_name, size}``."""
    attendance_id = await file_uploads.visitor_attendance(
        desk(request), conversation_of(_token(request))
    )
    data = await read_upload(request, settings(request).upload_max_bytes)
    answer = await file_uploads.visitor_upload(
        desk(request), attendance_id, data, request.args.get("name")
    )
    return json(answer, status=201)


@bp.get("/files/<message_id:int>")
async def operator_file(request: Request, message_id: int) -> HTTPResponse:
    """A file an operator sent to this conversation."""
    conversation_id = conversation_of(_token(request))
    found = await desk(request).read(
        lambda uow: attachments.operator_file(uow.session, message_id, conversation_id)
    )
    return await send_stored(request, found)
