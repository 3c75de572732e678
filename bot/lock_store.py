"""Rasa's lock of a conversation: in memory for one Rasa process, Rasa's
``RedisLockStore`` when several share ``RASA_REDIS_URL``
(``bot.shared_state``). Register in endpoints.yml as
``lock_store: {type: bot.lock_store.SharedLockStore}``.

Two changes to Rasa's lock:

- Rasa's ticket lock looks again every second while a conversation's lock
  is held; one relayed message takes milliseconds, so a message that
  arrives while another of its conversation is handled waited up to a
  second for nothing. Here it looks every ``WAIT_SECONDS``.
- Rasa's store reads a lock, changes it and writes it back (issuing a
  ticket, dropping expired ones, finishing one): two processes doing that
  at once could both get the same ticket and handle the conversation at
  the same time, or one could delete the lock the other just joined. On
  Redis each of these steps runs under a short Redis mutex of the
  conversation; one process on its event loop needs none.
"""

from __future__ import annotations

from contextlib import asynccontextmanager, nullcontext
from typing import Any, AsyncGenerator, ContextManager, Optional
from urllib.parse import urlparse

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockStore, RedisLockStore

from bot.shared_state import redis_url

WAIT_SECONDS = 0.02
# A step under the mutex takes a few Redis round trips; one held longer
# belongs to a process that died, and expires.
MUTEX_SECONDS = 5


def _redis_lock_store(url: str) -> RedisLockStore:
    parts = urlparse(url)
    database = (parts.path or "/0").lstrip("/") or "0"
    return RedisLockStore(
        host=parts.hostname or "localhost",
        port=parts.port or 6379,
        db=int(database),
        username=parts.username,
        password=parts.password,
        use_ssl=parts.scheme == "rediss",
    )


class SharedLockStore(LockStore):
    def __init__(self, endpoint_config: Any = None) -> None:
        url = redis_url()
        self._store: LockStore = _redis_lock_store(url) if url else InMemoryLockStore()
        super().__init__()

    def _mutex(self, conversation_id: str) -> ContextManager[Any]:
        if isinstance(self._store, RedisLockStore):
            name = f"{self._store.key_prefix}mutex:{conversation_id}"
            return self._store.red.lock(
                name, timeout=MUTEX_SECONDS, sleep=0.002, blocking_timeout=MUTEX_SECONDS
            )
        return nullcontext()

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._mutex(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):
            super().cleanup(conversation_id, ticket_number)

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        return self._store.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self._store.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self._store.save_lock(lock)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = WAIT_SECONDS,
    ) -> AsyncGenerator[TicketLock, None]:
        async with super().lock(conversation_id, lock_lifetime, wait_time_in_seconds) as lock:
            yield lock
