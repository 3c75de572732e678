"""Which operators have a console connected to this process, and the grace
timers that hand their attendances back to the queue when they are gone.

One process keeps this in memory; with several processes, presence would
move to the socket.io message queue's shared store (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable


class Presence:
    def __init__(self, grace_seconds: float, on_gone: Callable[[int], Awaitable[None]]) -> None:
        self.grace_seconds = grace_seconds
        self._on_gone = on_gone
        self._sockets: dict[int, set[str]] = defaultdict(set)
        self._timers: dict[int, asyncio.Task[None]] = {}

    def is_connected(self, operator_id: int) -> bool:
        return bool(self._sockets.get(operator_id))

    def connected(self, operator_id: int, sid: str) -> None:
        self._sockets[operator_id].add(sid)
        timer = self._timers.pop(operator_id, None)
        if timer is not None:
            timer.cancel()

    def disconnected(self, operator_id: int, sid: str) -> None:
        self._sockets[operator_id].discard(sid)
        if not self._sockets[operator_id]:
            self.start_grace(operator_id)

    def start_grace(self, operator_id: int) -> None:
        """After the grace period, ``on_gone`` decides whether they are still gone."""
        timer = self._timers.pop(operator_id, None)
        if timer is not None:
            timer.cancel()
        self._timers[operator_id] = asyncio.ensure_future(self._after_grace(operator_id))

    async def _after_grace(self, operator_id: int) -> None:
        await asyncio.sleep(self.grace_seconds)
        self._timers.pop(operator_id, None)
        await self._on_gone(operator_id)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
