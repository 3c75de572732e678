"""A customer message while a human attends: stored without Rasa's tracker
rebuild.

While the conversation is paused (an attendance is open), Rasa's
``handle_message`` rebuilds the whole tracker (every event deserialised and
applied), runs NLU and slot extraction, skips prediction (paused), and
saves: for a long attendance the rebuild is most of Rasa's CPU per relayed
message (bench/relay_cost.py). Here, under the conversation's lock (the
one Rasa's own handling takes), the message is parsed by the same NLU and
its ``user`` event appended and published as Rasa would store it, when
nothing else would happen to it in Rasa: the conversation is paused, its
session has not expired, and the message carries no entity and the
domain's slots fill only from entities or custom actions (slot extraction
runs even while paused), and it is not ``/restart`` (the one intent a
paused conversation acts on). Anything else goes to Rasa as before.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.constants import USER_INTENT_RESTART
from rasa.shared.core.events import (
    ConversationPaused,
    ConversationResumed,
    Restarted,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.slot_mappings import SlotMappingType
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.tracker_queries import innermost, report_failure
from bot.tracker_store import LeanSQLTrackerStore

# The events that change whether a conversation is paused (a new session
# or a restart resets the tracker; action_session_start pauses again
# during an attendance).
PAUSE_CHANGES = tuple(
    e.type_name for e in (ConversationPaused, ConversationResumed, Restarted, SessionStarted)
)
ENTITY_OR_CUSTOM = (SlotMappingType.FROM_ENTITY.value, SlotMappingType.CUSTOM.value)


def relaying(
    agent: Any, handle: Callable[[UserMessage], Awaitable[Any]]
) -> Callable[[UserMessage], Awaitable[Any]]:
    """``handle`` (Rasa's), except for what ``store_if_handed_off`` stores."""

    async def relay_or_handle(message: UserMessage) -> Any:
        if not await store_if_handed_off(agent, message):
            return await handle(message)
        return None

    return relay_or_handle


async def store_if_handed_off(agent: Any, message: UserMessage) -> bool:
    """Append the message to its paused conversation, as Rasa would; False
    (nothing done) if Rasa has more to do with it."""
    store = innermost(agent.tracker_store)
    if not isinstance(store, LeanSQLTrackerStore) or agent.processor is None:
        return False
    if not _slots_fill_from_entities_only(agent.domain):
        return False
    async with agent.lock_store.lock(message.sender_id):
        try:
            return await _append_if_paused(agent, store, message)
        except SQLAlchemyError as error:
            report_failure(agent.tracker_store, error)
            raise


async def _append_if_paused(agent: Any, store: LeanSQLTrackerStore, message: UserMessage) -> bool:
    if not _paused_in_session(store, message.sender_id, agent.domain.session_config):
        return False
    parse_data = await agent.processor.parse_message(message)
    intent = parse_data.get("intent") or {}
    if parse_data.get("entities") or intent.get(INTENT_NAME_KEY) == USER_INTENT_RESTART:
        return False
    event = UserUttered(
        message.text,
        intent,
        parse_data["entities"],
        parse_data,
        input_channel=message.input_channel,
        message_id=message.message_id,
        metadata=message.metadata,
    )
    await store.append(message.sender_id, event)
    return True


def _slots_fill_from_entities_only(domain: Any) -> bool:
    mappings = (mapping for slot in domain.slots for mapping in slot.mappings)
    return all(mapping.get("type") in ENTITY_OR_CUSTOM for mapping in mappings)


def _paused_in_session(store: LeanSQLTrackerStore, conversation_id: str, session: Any) -> bool:
    events = store.SQLEvent
    last_change = (
        select(events.type_name)
        .where(events.sender_id == conversation_id, events.type_name.in_(PAUSE_CHANGES))
        .order_by(events.id.desc())
        .limit(1)
    )
    last_user = (
        select(events.timestamp)
        .where(events.sender_id == conversation_id, events.type_name == UserUttered.type_name)
        .order_by(events.id.desc())
        .limit(1)
    )
    with store.engine.connect() as connection:
        change = connection.execute(last_change).scalar()
        said_at = connection.execute(last_user).scalar()
    if change != ConversationPaused.type_name or said_at is None:
        return False
    if not session.are_sessions_enabled():
        return True
    return (time.time() - said_at) / 60 <= session.session_expiration_time
