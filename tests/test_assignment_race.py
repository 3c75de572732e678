"""Automatic assignment with two handoff processes on one PostgreSQL
database (issue 19, capability 6): calls opened at the same moment through
both processes, and operators becoming available through both, never give
one call twice nor an operator more than their limit."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from handoff.db import Database
from handoff.models import ACTIVE, QUEUED, Attendance, AttendanceHold, Room
from tests.support.api import Client, add_operator, add_room, open_attendance
from tests.support.databases import fresh_database
from tests.support.processes import Service, start_handoff

ROOM = "corrida"
OPERATORS, LIMIT, CALLS = 4, 2, 24


@pytest.fixture(scope="module")
def backend() -> str:
    return "postgresql"


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Service]]:
    folder = tmp_path_factory.mktemp("assignment-race")
    with fresh_database("postgresql", folder) as url:
        services = []
        for n in range(2):
            (folder / str(n)).mkdir()
            services.append(start_handoff(url, folder / str(n)))
        yield services
        for service in services:
            service.stop()


def in_parallel(jobs: list) -> list:
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = jobs[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_simultaneous_calls_and_operators_on_two_processes(two_processes: list[Service]):
    first = two_processes[0]
    add_room(first, ROOM)
    db = Database(first.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        room = uow.session.scalar(select(Room).where(Room.slug == ROOM))
        assert room is not None
        room.assignment = "automatic"
    usernames = [add_operator(first, [ROOM], max_concurrent=LIMIT) for _ in range(OPERATORS)]
    clients = [Client(two_processes[i % 2], name) for i, name in enumerate(usernames)]

    # Half the operators come in while the calls arrive, on both processes.
    for client in clients[: OPERATORS // 2]:
        client.available()
    calls = [lambda s=two_processes[i % 2]: open_attendance(s, ROOM) for i in range(CALLS)]
    late = [lambda c=c: c.available() for c in clients[OPERATORS // 2 :]]
    in_parallel(calls + late)

    with db.unit_of_work(read_only=True) as uow:
        statuses = Counter(uow.session.scalars(select(Attendance.status)))
        per_operator = Counter(
            uow.session.scalars(select(Attendance.operator_id).where(Attendance.status == ACTIVE))
        )
        open_holds = Counter(
            uow.session.scalars(
                select(AttendanceHold.attendance_id).where(AttendanceHold.ended_at.is_(None))
            )
        )
        holds = uow.session.scalar(select(func.count()).select_from(AttendanceHold))
    db.dispose()
    # Everyone at their limit, nobody above it, the rest waiting.
    assert statuses == {ACTIVE: OPERATORS * LIMIT, QUEUED: CALLS - OPERATORS * LIMIT}
    assert sorted(per_operator.values()) == [LIMIT] * OPERATORS
    # Each call given once.
    assert holds == OPERATORS * LIMIT and set(open_holds.values()) == {1}
