"""Two handoff processes behind one database and one Redis: an event caused
in one reaches a console connected to the other (python-socketio's Redis
manager), and presence is shared: an operator whose console moved to the
other process keeps their calls, and the consoles of a process that died
count as gone. Needs the machine's Redis (.ci/run starts it)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import select

from handoff.db import Database
from handoff.models import Attendance
from handoff.models import Operator as OperatorRow
from tests.support.api import PASSWORD, add_operator, open_attendance
from tests.support.clients import Operator
from tests.support.databases import fresh_database
from tests.support.processes import Service, start_handoff, wait_until

REDIS_URL = "redis://127.0.0.1:6379/0"
GRACE_SECONDS, PRESENCE_TTL_SECONDS = 2, 3


@pytest.fixture(scope="module")
def backend() -> str:
    return "postgresql"


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Service]]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({error}); .ci/run starts it")
    folder = tmp_path_factory.mktemp("scale")
    settings = {
        "HANDOFF_REDIS_URL": REDIS_URL,
        "HANDOFF_REDIS_CHANNEL": uuid.uuid4().hex,
        "HANDOFF_RECONNECT_GRACE_SECONDS": str(GRACE_SECONDS),
        "HANDOFF_PRESENCE_TTL_SECONDS": str(PRESENCE_TTL_SECONDS),
    }
    with fresh_database("postgresql", folder) as url:
        services = [start_handoff(url, folder, extra_env=settings) for _ in range(2)]
        yield services
        for service in services:
            service.stop()


def attendance_state(service: Service, attendance_id: int) -> tuple[str, int | None]:
    with Database(service.env["DATABASE_URL"]).unit_of_work(read_only=True) as uow:
        attendance = uow.session.get(Attendance, attendance_id)
        return attendance.status, attendance.operator_id


def status_of(service: Service, username: str) -> str:
    with Database(service.env["DATABASE_URL"]).unit_of_work(read_only=True) as uow:
        return uow.session.scalar(
            select(OperatorRow.status).where(OperatorRow.username == username)
        )


def test_an_event_reaches_consoles_on_every_process(two_processes: list[Service]):
    first, second = two_processes
    watcher = Operator(first.base_url)
    try:
        attendance = open_attendance(second)  # queued through the other process
        seen = watcher.wait_for("attendance:queued", lambda a: a["id"] == attendance["id"])
        assert seen["status"] == "queued"
    finally:
        watcher.close()


def test_an_operator_whose_console_moved_to_the_other_process_keeps_their_calls(
    two_processes: list[Service],
):
    first, second = two_processes
    username = add_operator(first, ["atendimento"], name="Nara Movida")
    here = Operator(first.base_url, username, PASSWORD)
    attendance = open_attendance(first)
    assert here.call("attendance:take", {"attendance_id": attendance["id"]})["ok"]
    there = Operator(second.base_url, username, PASSWORD)
    here.close()  # the browser reconnected to the other process
    # Past several grace periods and times to live, nothing has moved.
    time.sleep(GRACE_SECONDS * 2 + PRESENCE_TTL_SECONDS * 2)
    assert attendance_state(first, attendance["id"])[0] == "active"
    assert status_of(first, username) == "available"
    there.close()  # now no process holds a console of hers
    wait_until(
        lambda: attendance_state(first, attendance["id"]) == ("queued", None),
        what="the call back in the queue once every console is gone",
    )
    assert status_of(first, username) == "offline"


def test_the_consoles_of_a_process_that_died_count_as_gone(
    two_processes: list[Service], tmp_path_factory: pytest.TempPathFactory
):
    first, _second = two_processes
    shared = {k: v for k, v in first.env.items() if k.startswith("HANDOFF_") and "PORT" not in k}
    third = start_handoff(
        first.env["DATABASE_URL"], tmp_path_factory.mktemp("third"), extra_env=shared
    )
    try:
        username = add_operator(first, ["atendimento"], name="Otto Caiu")
        console = Operator(third.base_url, username, PASSWORD)
        attendance = open_attendance(first)
        assert console.call("attendance:take", {"attendance_id": attendance["id"]})["ok"]
        third.kill()  # no disconnect, no grace timer anywhere: the process is gone
        wait_until(
            lambda: attendance_state(first, attendance["id"]) == ("queued", None),
            what="the dead process's operator's call back in the queue",
        )
        assert status_of(first, username) == "offline"
    finally:
        third.stop()
