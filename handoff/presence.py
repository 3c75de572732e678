"""Which operators have a console connected, and the grace timers that hand
their attendances back to the queue when they are gone.

Each process knows its own consoles. With several processes (Redis set),
``SharedPresence`` tells every process about the others': each keeps its
consoles in one Redis sorted set per operator, scored by when they expire
unless the process refreshes them (every third of the time to live), so the
consoles of a process that died expire too. A grace timer runs in the
process the console left; when it ends, the operator counts as gone only if
no process holds a console of theirs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
# How long one Redis call may take before presence counts as unknown.
REDIS_TIMEOUT_SECONDS = 1.0


class SharedPresence:
    """The consoles of every process, in Redis."""

    def __init__(self, url: str, namespace: str, process: str, ttl_seconds: float) -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
        self._namespace = namespace
        self._process = process
        self.ttl_seconds = ttl_seconds

    def _key(self, operator_id: int) -> str:
        return f"{self._namespace}:presence:{operator_id}"

    def _member(self, sid: str) -> str:
        return f"{self._process}:{sid}"

    async def add(self, sockets: dict[int, set[str]]) -> None:
        """Hold (or refresh) these consoles of this process for one time to live."""
        expires = time.time() + self.ttl_seconds
        async with self._redis.pipeline(transaction=False) as pipe:
            for operator_id, sids in sockets.items():
                if sids:
                    pipe.zadd(self._key(operator_id), {self._member(s): expires for s in sids})
                    pipe.expire(self._key(operator_id), int(self.ttl_seconds * 2) + 1)
            await pipe.execute()

    async def remove(self, operator_id: int, sid: str) -> None:
        await self._redis.zrem(self._key(operator_id), self._member(sid))

    async def anywhere(self, operator_id: int) -> bool:
        """Whether a console of the operator is held by any process now."""
        key = self._key(operator_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zcard(key)
            _removed, held = await pipe.execute()
        return bool(held)

    async def close(self) -> None:
        await self._redis.aclose()


class Presence:
    def __init__(
        self,
        grace_seconds: float,
        on_gone: Callable[[int], Awaitable[None]],
        shared: SharedPresence | None = None,
    ) -> None:
        self.grace_seconds = grace_seconds
        self.shared = shared
        self._on_gone = on_gone
        self._sockets: dict[int, set[str]] = defaultdict(set)
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def is_connected(self, operator_id: int) -> bool | None:
        """Whether a console of the operator is connected to this process or,
        with shared presence, to any; None when Redis cannot tell now."""
        if self._sockets.get(operator_id):
            return True
        if self.shared is None:
            return False
        try:
            return await asyncio.wait_for(
                self.shared.anywhere(operator_id), REDIS_TIMEOUT_SECONDS * 2
            )
        except (RedisError, OSError, asyncio.TimeoutError) as error:
            log.warning("presence: Redis cannot tell where operator %s is: %s", operator_id, error)
            return None

    def connected(self, operator_id: int, sid: str) -> None:
        self._sockets[operator_id].add(sid)
        timer = self._timers.pop(operator_id, None)
        if timer is not None:
            timer.cancel()
        if self.shared is not None:
            self._soon(self.shared.add({operator_id: {sid}}))

    def disconnected(self, operator_id: int, sid: str) -> None:
        self._sockets[operator_id].discard(sid)
        if self.shared is not None:
            self._soon(self.shared.remove(operator_id, sid))
        if not self._sockets[operator_id]:
            self.start_grace(operator_id)

    def start_grace(self, operator_id: int) -> None:
        """After the grace period, ``on_gone`` decides whether they are still gone."""
        timer = self._timers.pop(operator_id, None)
        if timer is not None:
            timer.cancel()
        self._timers[operator_id] = asyncio.ensure_future(self._after_grace(operator_id))

    def watch(self, operator_id: int) -> None:
        """Start the grace period unless one is already running here."""
        if operator_id not in self._timers:
            self.start_grace(operator_id)

    async def refresh(self) -> None:
        """Hold this process's consoles in the shared store for another time to live."""
        if self.shared is None:
            return
        try:
            await asyncio.wait_for(
                self.shared.add({o: set(s) for o, s in self._sockets.items()}),
                REDIS_TIMEOUT_SECONDS * 2,
            )
        except (RedisError, OSError, asyncio.TimeoutError) as error:
            log.warning("presence: consoles not refreshed in Redis: %s", error)

    async def _after_grace(self, operator_id: int) -> None:
        await asyncio.sleep(self.grace_seconds)
        self._timers.pop(operator_id, None)
        await self._on_gone(operator_id)

    def _soon(self, work: Coroutine[Any, Any, None]) -> None:
        async def guarded() -> None:
            try:
                await asyncio.wait_for(work, REDIS_TIMEOUT_SECONDS * 2)
            except (RedisError, OSError, asyncio.TimeoutError) as error:
                # The next refresh re-adds a console; a removal that failed
                # expires with its time to live.
                log.warning("presence: Redis not updated now: %s", error)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        if self.shared is not None:
            await self.shared.close()
