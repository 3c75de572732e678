"""What the visitor's widget asks of the handoff service: the history of its
own conversation, so a reload (or a message that arrived while the page was
closed) shows everything. The session id, 128 random bits that only the
visitor's browser knows, is the key."""

from __future__ import annotations

import re

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.domain import conversation
from handoff.domain.errors import NotFound
from handoff.rasa_client import RasaUnavailable
from handoff.routes.common import desk

bp = Blueprint("widget_api", url_prefix="/widget/api")

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
# Any site may embed the widget; these answers carry no credentials.
OPEN_CORS = {"Access-Control-Allow-Origin": "*"}


@bp.get("/history/<session_id:str>")
async def history(request: Request, session_id: str) -> HTTPResponse:
    if not SESSION_ID.match(session_id):
        raise NotFound("conversation not found")
    try:
        events = await desk(request).rasa.conversation_events(session_id)
    except RasaUnavailable:
        return json(
            {"error": {"code": "unavailable", "message": "Histórico indisponível no momento."}},
            status=503,
            headers=OPEN_CORS,
        )
    return json({"messages": conversation.visitor_history(events)}, headers=OPEN_CORS)
