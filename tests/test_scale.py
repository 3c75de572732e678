"""Two handoff processes behind one database and one Redis: an event caused
in one reaches a console connected to the other (python-socketio's Redis
manager). Needs the machine's Redis (.ci/run starts it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.support.api import open_attendance
from tests.support.clients import Operator
from tests.support.databases import fresh_database
from tests.support.processes import Service, start_handoff

REDIS_URL = "redis://127.0.0.1:6379/0"


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
    settings = {"HANDOFF_REDIS_URL": REDIS_URL, "HANDOFF_REDIS_CHANNEL": uuid.uuid4().hex}
    with fresh_database("postgresql", folder) as url:
        services = [start_handoff(url, folder, extra_env=settings) for _ in range(2)]
        yield services
        for service in services:
            service.stop()


def test_an_event_reaches_consoles_on_every_process(two_processes: list[Service]):
    first, second = two_processes
    watcher = Operator(first.base_url)
    try:
        attendance = open_attendance(second)  # queued through the other process
        seen = watcher.wait_for("attendance:queued", lambda a: a["id"] == attendance["id"])
        assert seen["status"] == "queued"
    finally:
        watcher.close()
