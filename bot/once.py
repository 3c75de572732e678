"""Each customer message reaches Rasa once, however often it is delivered.

Widgets re-send a message whose acknowledgement they did not get (same
client id) and Meta re-delivers webhooks (same wamid). Both channels hand
messages to Rasa through ``OncePerConversation.run``:

- one asyncio lock per conversation, so five copies sent at once are
  handled one after the other;
- the message ids of each conversation this process has seen, so the
  second copy is recognised without touching the database;
- the first time a conversation is met (e.g. after a restart of Rasa), the
  ids of the user messages already in its tracker (``bot/tracker_queries.py``).

The id is also Rasa's ``message_id``: the event broker carries it and the
handoff service stores the message once by it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Set

from bot.tracker_queries import user_message_ids

# Conversations whose message ids are kept in memory (least recently used
# first out); an evicted one is read from the tracker store again.
REMEMBERED_CONVERSATIONS = 10_000


class OncePerConversation:
    def __init__(self, capacity: int = REMEMBERED_CONVERSATIONS) -> None:
        self._capacity = capacity
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._seen: OrderedDict[str, Set[str]] = OrderedDict()

    async def run(
        self,
        tracker_store: Any,
        conversation_id: str,
        message_id: str,
        handle: Callable[[], Awaitable[Any]],
    ) -> bool:
        """Await ``handle()`` unless the message was handled before; True if it ran.

        ``handle`` must store the message in the tracker before it returns
        (Rasa's agent does); if it raises, the message is not marked seen.
        """
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        async with lock:
            seen = await self._seen_ids(tracker_store, conversation_id)
            if message_id in seen:
                return False
            await handle()
            seen.add(message_id)
            return True

    async def _seen_ids(self, tracker_store: Any, conversation_id: str) -> Set[str]:
        seen = self._seen.get(conversation_id)
        if seen is None:
            seen = await user_message_ids(tracker_store, conversation_id)
            self._seen[conversation_id] = seen
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(conversation_id)
        return seen
