"""Erasing a conversation from Rasa's tracker store (LGPD art. 18 VI).

When a supervisor erases a person's data, the handoff service asks Rasa to
delete the person's conversations here rather than writing to the tracker
database itself: the events table is Rasa's (its schema, its engine, on
SQLite its own file the handoff service does not know), and the deletion
runs under Rasa's lock of the conversation, so no message being handled at
that moment saves its tracker back over the deletion.

Registered in ``credentials.yml`` as an input channel (it needs Rasa's
agent); ``DELETE /webhooks/conversation_erasure/<conversation id>`` with the
service token answers ``{"deleted": <events deleted>}`` (0 for a
conversation Rasa does not hold, so a retried erasure succeeds); 503 if the
tracker store is away, 501 on a tracker store that is not SQL.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import SQLTrackerStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import delete

from bot.service_channel import ServiceInput, is_plain_id, refuse
from bot.tracker_queries import innermost

logger = logging.getLogger(__name__)


def delete_events(store: SQLTrackerStore, conversation_id: str) -> int:
    """Delete every stored event of the conversation; returns how many."""
    with store.engine.begin() as connection:
        result = connection.execute(
            delete(store.SQLEvent).where(store.SQLEvent.sender_id == conversation_id)
        )
    return int(result.rowcount or 0)


class ConversationErasureInput(ServiceInput):
    """Register as ``bot.conversation_erasure.ConversationErasureInput`` with ``token``."""

    @classmethod
    def name(cls) -> str:
        return "conversation_erasure"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("conversation_erasure", __name__)

        @blueprint.route("/<conversation_id:str>", methods=["DELETE"])
        async def erase(request: Request, conversation_id: str) -> HTTPResponse:
            refused = self.refusal(request)
            if refused is not None:
                return refused
            if not is_plain_id(conversation_id):
                return refuse(400, "invalid", "not a conversation id")
            agent = request.app.ctx.agent
            store = innermost(agent.tracker_store)
            if not isinstance(store, SQLTrackerStore):
                return refuse(501, "unsupported", "only the SQL tracker store can erase")
            try:
                async with agent.lock_store.lock(conversation_id):
                    deleted = delete_events(store, conversation_id)
            except Exception as error:  # noqa: BLE001 - the tracker store is away
                logger.warning("conversation %s not erased: %r", conversation_id, error)
                return refuse(503, "unavailable", "tracker store unavailable")
            logger.info("conversation erased: %s events", deleted)
            return response.json({"deleted": deleted})

        return blueprint
