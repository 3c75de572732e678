"""Each customer message reaches Rasa once, however often it is delivered.

Widgets re-send a message whose acknowledgement they did not get (same
client id) and Meta re-delivers webhooks (same wamid). Both channels hand
messages to Rasa through ``OncePerConversation.run``:

- one lock per conversation, so five copies sent at once are handled one
  after the other;
- the message ids of each conversation, so the second copy is recognised
  without touching the database;
- the first time a conversation is met (e.g. after a restart of Rasa), the
  ids of the user messages already in its tracker (``bot/tracker_queries.py``).

One Rasa process keeps the locks and ids in memory. Several processes
(``RASA_REDIS_URL``, ``bot.shared_state``) keep them in Redis, so a copy
that reaches another process (Meta retries to any of them; a widget that
reconnects may land on another) waits for the first and is recognised.

The id is also Rasa's ``message_id``: the event broker carries it and the
handoff service stores the message once by it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Optional, Set

import redis.asyncio
from redis.exceptions import LockError

from bot.shared_state import shared_redis
from bot.tracker_queries import user_message_ids

logger = logging.getLogger(__name__)

# Conversations whose message ids are kept in memory (least recently used
# first out); an evicted one is read from the tracker store again.
REMEMBERED_CONVERSATIONS = 10_000
# In Redis: how long a conversation's ids are kept after its last message
# (then read from the tracker store again), and the longest a message's
# handling holds the lock (a process that died holding it frees it then).
REDIS_IDS_SECONDS = 24 * 3600
REDIS_LOCK_SECONDS = 300


class _InMemory:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._seen: OrderedDict[str, Set[str]] = OrderedDict()

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        async with lock:
            yield

    async def seen(self, tracker_store: Any, conversation_id: str, message_id: str) -> bool:
        seen = self._seen.get(conversation_id)
        if seen is None:
            seen = await user_message_ids(tracker_store, conversation_id)
            self._seen[conversation_id] = seen
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(conversation_id)
        return message_id in seen

    async def remember(self, conversation_id: str, message_id: str) -> None:
        seen = self._seen.get(conversation_id)
        if seen is not None:  # else read from the tracker next time, with this one
            seen.add(message_id)


# Adds an id to a conversation's set only if the set is there: one that
# expired meanwhile is read whole from the tracker next time.
_REMEMBER = """
if redis.call('exists', KEYS[1]) == 1 then
  redis.call('sadd', KEYS[1], ARGV[1])
  redis.call('expire', KEYS[1], ARGV[2])
end
"""


class _InRedis:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._redis = client
        self._remember = client.register_script(_REMEMBER)

    @asynccontextmanager
    async def lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._redis.lock(
            f"once:lock:{conversation_id}",
            timeout=REDIS_LOCK_SECONDS,
            sleep=0.01,
            blocking_timeout=REDIS_LOCK_SECONDS,
        )
        if not await lock.acquire():
            raise LockError(f"once: lock of {conversation_id} not acquired")
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:  # held past its time: another copy may have run
                logger.warning("once: lock of %s expired while held", conversation_id)

    async def seen(self, tracker_store: Any, conversation_id: str, message_id: str) -> bool:
        key = f"once:ids:{conversation_id}"
        known, member = (
            await self._redis.pipeline().exists(key).sismember(key, message_id).execute()
        )
        if known:
            return bool(member)
        # An empty marker makes the set exist for a conversation with none.
        ids = await user_message_ids(tracker_store, conversation_id) | {""}
        await self._redis.pipeline().sadd(key, *ids).expire(key, REDIS_IDS_SECONDS).execute()
        return message_id in ids

    async def remember(self, conversation_id: str, message_id: str) -> None:
        key = f"once:ids:{conversation_id}"
        await self._remember(keys=[key], args=[message_id, REDIS_IDS_SECONDS])


class OncePerConversation:
    def __init__(
        self,
        capacity: int = REMEMBERED_CONVERSATIONS,
        client: Optional[redis.asyncio.Redis] = None,
    ) -> None:
        client = client or shared_redis()
        self._memory = _InRedis(client) if client is not None else _InMemory(capacity)

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
        async with self._memory.lock(conversation_id):
            if await self._memory.seen(tracker_store, conversation_id, message_id):
                return False
            await handle()
            await self._memory.remember(conversation_id, message_id)
            return True
