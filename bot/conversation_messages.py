"""A conversation's messages, read for the handoff service.

The widget's history (shown again after every reconnection) and the
handoff service's reconciliation (what a killed Rasa stored but never
forwarded) need a conversation's ``user`` and ``bot`` events only. Rasa's
``GET /conversations/{id}/tracker`` rebuilds and serialises the whole
tracker for that (and starts a session in a conversation that has none);
this route reads the events as stored (``bot/tracker_queries.py``).

Registered in ``credentials.yml`` as an input channel (it needs Rasa's
agent); ``GET /webhooks/conversation_messages/<conversation id>`` with the
service token. Answers ``{"messages": [event, ...]}``; 503 if the tracker
store is away.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.service_channel import ServiceInput, is_plain_id, refuse
from bot.tracker_queries import conversation_messages

logger = logging.getLogger(__name__)


class ConversationMessagesInput(ServiceInput):
    """Register as ``bot.conversation_messages.ConversationMessagesInput`` with ``token``."""

    @classmethod
    def name(cls) -> str:
        return "conversation_messages"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("conversation_messages", __name__)

        @blueprint.route("/<conversation_id:str>", methods=["GET"])
        async def messages(request: Request, conversation_id: str) -> HTTPResponse:
            refused = self.refusal(request)
            if refused is not None:
                return refused
            if not is_plain_id(conversation_id):
                return refuse(400, "invalid", "not a conversation id")
            store = request.app.ctx.agent.tracker_store
            try:
                found = await conversation_messages(store, conversation_id)
            except Exception as error:  # noqa: BLE001 - the tracker store is away
                logger.warning("messages of %s not read: %r", conversation_id, error)
                return refuse(503, "unavailable", "tracker store unavailable")
            return response.json({"messages": found})

        return blueprint
