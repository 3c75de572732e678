"""Cheap questions to Rasa's SQL tracker store.

Rasa's ``TrackerStore.exists`` and ``retrieve`` rebuild the whole tracker
(every event deserialised and applied to a new tracker), on Rasa's event
loop, and its ``GET /conversations/{id}/tracker`` then serialises it all
again. What this project asks needs none of that: whether a conversation
exists (a new one counts against the address's limit), which user message
ids it holds (``bot/once.py``), its messages (the widget's history and
the handoff service's reconciliation, ``bot/conversation_messages.py``),
and, for an operator message (``bot/operator_messages.py``), whether it is
already there and on which channel the customer last wrote.
When every widget reconnects to a restarted Rasa, those tracker rebuilds
were a third of Rasa's CPU (py-spy). On the SQL tracker store each is one
indexed query, run as Rasa runs its own: on the loop (from a worker thread
it would contend with Rasa's writes for SQLite's lock). Any other store is
asked the way Rasa asks it.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, List, Optional, Set

from rasa.core.tracker_store import (
    AwaitableTrackerStore,
    FailSafeTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)
from rasa.shared.core.events import BotUttered, UserUttered
from sqlalchemy import bindparam, select


def report_failure(store: Optional[TrackerStore], error: Exception) -> None:
    """A failure of the SQL store met here, outside Rasa's fail-safe wrapper:
    told to the wrapper's error callback, as Rasa's own calls tell it
    (``bot/tracker_store_guard.py`` counts it for /health and raises)."""
    while isinstance(store, (FailSafeTrackerStore, AwaitableTrackerStore)):
        callback = getattr(store, "_on_tracker_store_error", None)
        if callback is not None:
            callback(error)
        store = store._tracker_store


def innermost(store: Optional[TrackerStore]) -> Optional[TrackerStore]:
    """The store under Rasa's fail-safe and awaitable wrappers."""
    while isinstance(store, (FailSafeTrackerStore, AwaitableTrackerStore)):
        store = store._tracker_store
    return store


async def conversation_exists(store: TrackerStore, conversation_id: str) -> bool:
    sql = innermost(store)
    if not isinstance(sql, SQLTrackerStore):
        return await store.exists(conversation_id)
    return _first(sql, _exists_query(sql.SQLEvent), sender=conversation_id) is not None


async def user_message_ids(store: TrackerStore, conversation_id: str) -> Set[str]:
    """Ids of the user messages in the conversation's tracker (all sessions)."""
    sql = innermost(store)
    if not isinstance(sql, SQLTrackerStore):
        tracker = await store.retrieve(conversation_id)
        events = tracker.events if tracker is not None else []
        return {e.message_id for e in events if isinstance(e, UserUttered) and e.message_id}
    rows = _all(sql, _user_events_query(sql.SQLEvent), sender=conversation_id)
    ids = (json.loads(data).get("message_id") for (data,) in rows)
    return {message_id for message_id in ids if message_id}


async def conversation_messages(store: TrackerStore, conversation_id: str) -> List[Dict[str, Any]]:
    """The conversation's ``user`` and ``bot`` events (all sessions), in the
    order stored, as Rasa serialises them."""
    kinds = (UserUttered.type_name, BotUttered.type_name)
    sql = innermost(store)
    if not isinstance(sql, SQLTrackerStore):
        tracker = await store.retrieve_full_tracker(conversation_id)
        events = tracker.events if tracker is not None else []
        return [e.as_dict() for e in events if e.type_name in kinds]
    query = (
        select(sql.SQLEvent.data)
        .where(sql.SQLEvent.sender_id == conversation_id, sql.SQLEvent.type_name.in_(kinds))
        .order_by(sql.SQLEvent.id)
    )
    return [json.loads(data) for (data,) in _all(sql, query)]


async def has_operator_message(
    store: TrackerStore, conversation_id: str, message_id: int, key: str = "handoff_message_id"
) -> bool:
    """Whether a ``bot`` event of the conversation carries ``message_id`` under
    the metadata ``key`` (an operator message; ``handoff_notice``: a notice)."""
    sql = innermost(store)
    if not isinstance(sql, SQLTrackerStore):
        tracker = await store.retrieve_full_tracker(conversation_id)
        events = tracker.events if tracker is not None else []
        return any(
            isinstance(e, BotUttered) and (e.metadata or {}).get(key) == message_id for e in events
        )
    query = select(sql.SQLEvent.data).where(
        sql.SQLEvent.sender_id == conversation_id,
        sql.SQLEvent.type_name == BotUttered.type_name,
        # Narrows the rows to parse to those holding the id's digits.
        sql.SQLEvent.data.contains(str(message_id)),
    )
    found = (json.loads(data).get("metadata") or {} for (data,) in _all(sql, query))
    return any(metadata.get(key) == message_id for metadata in found)


async def latest_input_channel(store: TrackerStore, conversation_id: str) -> Optional[str]:
    """The channel of the conversation's latest user message (Rasa's
    ``tracker.get_latest_input_channel()``), or None."""
    sql = innermost(store)
    if not isinstance(sql, SQLTrackerStore):
        tracker = await store.retrieve(conversation_id)
        return tracker.get_latest_input_channel() if tracker is not None else None
    return (_latest_user_event(sql, conversation_id) or {}).get("input_channel")


async def latest_user_metadata(store: TrackerStore, conversation_id: str) -> Dict[str, Any]:
    """The metadata of the conversation's latest user message ({} if none)."""
    sql = innermost(store)
    if not isinstance(sql, SQLTrackerStore):
        tracker = await store.retrieve(conversation_id)
        latest = tracker.latest_message if tracker is not None else None
        return dict(latest.metadata or {}) if latest is not None else {}
    metadata = (_latest_user_event(sql, conversation_id) or {}).get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _latest_user_event(sql: SQLTrackerStore, conversation_id: str) -> Optional[Dict[str, Any]]:
    query = (
        select(sql.SQLEvent.data)
        .where(
            sql.SQLEvent.sender_id == conversation_id,
            sql.SQLEvent.type_name == UserUttered.type_name,
        )
        .order_by(sql.SQLEvent.id.desc())
        .limit(1)
    )
    row = _first(sql, query)
    return json.loads(row[0]) if row is not None else None


# The two questions asked for every visitor who connects and every message
# (``bot/socketio_channel.py``, ``bot/once.py``), built once: building a
# statement was as dear as running it (py-spy, 1,000 visitors connecting).
@functools.cache
def _exists_query(sql_event: Any) -> Any:
    return select(sql_event.id).where(sql_event.sender_id == bindparam("sender")).limit(1)


@functools.cache
def _user_events_query(sql_event: Any) -> Any:
    return select(sql_event.data).where(
        sql_event.sender_id == bindparam("sender"),
        sql_event.type_name == UserUttered.type_name,
    )


def _first(sql: SQLTrackerStore, query: Any, **params: Any) -> Any:
    with sql.engine.connect() as connection:
        return connection.execute(query, params).first()


def _all(sql: SQLTrackerStore, query: Any, **params: Any) -> list:
    with sql.engine.connect() as connection:
        return list(connection.execute(query, params))
