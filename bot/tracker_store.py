"""Rasa's SQL tracker store, without the second tracker rebuild per save.

Rasa 3.6's ``TrackerStore.stream_events`` finds the events to publish to
the event broker by retrieving the stored tracker again (every event of the
session deserialised and applied) and diffing it with the one being saved;
``SQLTrackerStore.save`` then counts the stored events to find the same new
ones to insert. Every message Rasa handles pays that rebuild on top of its
own, and it grows with the conversation. This store inserts the new events
(the same slice Rasa computes) and publishes exactly those, after the
commit: what the handoff service hears is stored first, and nothing that
failed to store is announced.

On SQLite it keeps its connections, one per thread (SQLAlchemy 1.4 opens
and closes one per query on a file database: with the schema read again
each time, that was most of what ``bot/tracker_queries.py``'s one-row
questions cost, and a fifth of Rasa's CPU while 1,000 visitors connected;
issue 15). The journal stays Rasa's: in write-ahead mode another
process's lock would no longer stop reads, and /health would call a store
that cannot be written "ok".

Configured in ``endpoints.yml`` as ``type: bot.tracker_store.LeanSQLTrackerStore``
with the same ``url`` as Rasa's ``SQL`` type.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, List

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import SingletonThreadPool

from bot.versions import require

require("rasa")


class LeanSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose ``save`` rebuilds nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # Rasa made its engine (and the tables) without a pool: swap it.
            unpooled = self.engine
            self.engine = create_engine(unpooled.url, poolclass=SingletonThreadPool)
            unpooled.dispose()
            self.sessionmaker = sessionmaker(bind=self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
            self.add_rows(session, tracker.sender_id, new_events)
            session.commit()
        await self.publish(tracker.sender_id, new_events)

    def add_rows(self, session: Any, sender_id: str, events: Iterable[Event]) -> None:
        """The events as rows of Rasa's ``events`` table (as Rasa stores them)."""
        for event in events:
            data = event.as_dict()
            session.add(
                self.SQLEvent(
                    sender_id=sender_id,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"),
                    data=json.dumps(data),
                )
            )

    async def append(self, sender_id: str, event: Event) -> None:
        """Store one event at the end of the conversation, without loading it."""
        with self.session_scope() as session:
            self.add_rows(session, sender_id, [event])
            session.commit()
        await self.publish(sender_id, [event])

    async def publish(self, sender_id: str, events: List[Event]) -> None:
        if self.event_broker is not None and events:
            await self._stream_new_events(self.event_broker, events, sender_id)
