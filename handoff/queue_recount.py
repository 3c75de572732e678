"""When to recount a room's queue: at once after its first change, then at
most once per interval, however many changes come meanwhile.

A thousand customers joining a room in twenty seconds are a thousand
changes to its queue; recounting every place after each one is quadratic
in the queue (the collapse at 1,000 conversations, bench/README.md). The
:class:`Recounter` marks the room and recounts it once for all the changes
of the interval, one room at a time. A recount may ask to be done again
at a given moment (news held back by a channel's interval, see
``queue_notices.Plan.recount_at``), so that no customer waits for a later
change to hear it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from handoff.models import utcnow

log = logging.getLogger(__name__)

# Recount one room: told places and notices; returns when to recount it
# again (None: only after its next change).
Recount = Callable[[int], Awaitable[datetime | None]]


class Recounter:
    """Marks rooms whose queue changed and recounts them, one at a time."""

    def __init__(self, recount: Recount, interval_seconds: float) -> None:
        self._recount = recount
        self.interval = interval_seconds
        self._dirty: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._timers: dict[int, asyncio.TimerHandle] = {}

    def changed(self, rooms: Iterable[int]) -> None:
        """These rooms' queues changed: recount them (now, or after the pause)."""
        self._dirty.update(rooms)
        if self._dirty and self._task is None:
            self._task = asyncio.ensure_future(self._drain())

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()

    async def _drain(self) -> None:
        try:
            while self._dirty:
                rooms, self._dirty = sorted(self._dirty), set()
                for room_id in rooms:
                    again = await self._recount_one(room_id)
                    if again is not None:
                        self._later(room_id, again)
                await asyncio.sleep(self.interval)
        finally:
            self._task = None

    async def _recount_one(self, room_id: int) -> datetime | None:
        try:
            return await self._recount(room_id)
        except Exception:  # one room's failure must not stop the others'
            log.exception("queue places of room %s not told", room_id)
            return None

    def _later(self, room_id: int, at: datetime) -> None:
        """Recount the room at ``at`` (or sooner, if a recount is due sooner)."""
        loop = asyncio.get_running_loop()
        when = loop.time() + max((at - utcnow()).total_seconds(), 0.0)
        timer = self._timers.get(room_id)
        if timer is not None:
            if timer.when() <= when:
                return
            timer.cancel()
        self._timers[room_id] = loop.call_at(when, self._due, room_id)

    def _due(self, room_id: int) -> None:
        self._timers.pop(room_id, None)
        self.changed([room_id])
