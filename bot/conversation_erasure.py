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
``?before=<Unix time>`` deletes only the events older than that (the
retention job: what is past the retention period).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import SQLTrackerStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import delete

from bot.service_channel import ServiceInput, is_plain_id, refuse
from bot.tracker_queries import innermost

logger = logging.getLogger(__name__)


def delete_events(
    store: SQLTrackerStore, conversation_id: str, before: Optional[float] = None
) -> int:
    """Delete the conversation's stored events (those older than ``before``,
    a Unix time, if given); returns how many."""
    query = delete(store.SQLEvent).where(store.SQLEvent.sender_id == conversation_id)
    if before is not None:
        query = query.where(store.SQLEvent.timestamp < before)
    with store.engine.begin() as connection:
        result = connection.execute(query)
    return int(result.rowcount or 0)


def _time(value: Optional[str]) -> Optional[float]:
    """The ``before`` argument: None when absent; raises ValueError when it
    is not a finite number."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


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
            try:
                before = _time(request.args.get("before"))
            except ValueError:
                return refuse(400, "invalid", "before must be a Unix time")
            agent = request.app.ctx.agent
            store = innermost(agent.tracker_store)
            if not isinstance(store, SQLTrackerStore):
                return refuse(501, "unsupported", "only the SQL tracker store can erase")
            try:
                async with agent.lock_store.lock(conversation_id):
                    deleted = delete_events(store, conversation_id, before)
            except Exception as error:  # noqa: BLE001 - the tracker store is away
                logger.warning("conversation %s not erased: %r", conversation_id, error)
                return refuse(503, "unavailable", "tracker store unavailable")
            logger.info("conversation erased: %s events", deleted)
            return response.json({"deleted": deleted})

        return blueprint
