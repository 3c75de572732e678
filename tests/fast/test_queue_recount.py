"""Recounting a room's queue once for many changes (issue 15: the
recount after every change was quadratic in the queue)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from handoff.models import utcnow
from handoff.queue_recount import Recounter


def test_changes_during_a_recount_are_counted_together_by_the_next():
    async def scenario() -> list[int]:
        counted: list[int] = []
        first_under_way, release = asyncio.Event(), asyncio.Event()

        async def recount(room_id: int) -> None:
            counted.append(room_id)
            first_under_way.set()
            await release.wait()

        recounter = Recounter(recount, interval_seconds=0)
        recounter.changed([1])
        await first_under_way.wait()
        for _ in range(1000):  # a thousand customers join meanwhile
            recounter.changed([1])
        recounter.changed([2])
        release.set()
        while len(counted) < 3:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # room for a fourth recount, which must not come
        return counted

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == [1, 1, 2]


def test_a_recount_may_ask_to_be_run_again_later():
    async def scenario() -> list[int]:
        counted: list[int] = []

        async def recount(room_id: int):
            counted.append(room_id)
            return utcnow() + timedelta(milliseconds=50) if len(counted) == 1 else None

        recounter = Recounter(recount, interval_seconds=0)
        recounter.changed([5])
        while len(counted) < 2:
            await asyncio.sleep(0.01)
        recounter.stop()
        return counted

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == [5, 5]


def test_one_room_s_failure_does_not_stop_the_others():
    async def scenario() -> list[int]:
        counted: list[int] = []

        async def recount(room_id: int) -> None:
            counted.append(room_id)
            if room_id == 1:
                raise RuntimeError("room 1 broke")

        recounter = Recounter(recount, interval_seconds=0)
        recounter.changed([1, 2])
        while len(counted) < 2:
            await asyncio.sleep(0.01)
        recounter.changed([1])
        while len(counted) < 3:
            await asyncio.sleep(0.01)
        return counted

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == [1, 2, 1]
