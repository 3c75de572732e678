"""A console's socket.io rooms follow the database: when a supervisor
changes an operator's rooms, the console stops hearing the old room's queue
and hears the new one's, without reconnecting, also when the change is made
on another process (two processes sharing Redis). SQLite only: the rooms'
rows are read the same way on both engines."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
import socketio

from tests.support.api import Client, add_operator, add_room, open_attendance, room_id
from tests.support.processes import Service, start_handoff

REDIS_URL = "redis://127.0.0.1:6379/0"
STUCK_SECONDS = 30


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def other_process(handoff: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A second process on the same database; both share Redis (the module's
    ``handoff`` gets the same settings through ``handoff_settings``)."""
    service = start_handoff(
        handoff.env["DATABASE_URL"], tmp_path_factory.mktemp("second"), extra_env=SHARED
    )
    yield service
    service.stop()


SHARED = {"HANDOFF_REDIS_URL": REDIS_URL, "HANDOFF_REDIS_CHANNEL": uuid.uuid4().hex}


@pytest.fixture(scope="module")
def handoff_settings() -> dict[str, str]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({error})")
    return SHARED


class Console:
    """An operator's console connection that records queued calls."""

    def __init__(self, service: Service, token: str) -> None:
        self.queued: queue.Queue[dict] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("attendance:queued", self.queued.put)
        self.sio.connect(service.base_url, auth={"token": token}, transports=["websocket"])

    def next_queued(self, timeout: float) -> dict | None:
        try:
            return self.queued.get(timeout=timeout)
        except queue.Empty:
            return None


def heard(console: Console, service: Service, room: str) -> int:
    """Queue calls in ``room`` until the console hears one (a new one every
    second, as the rooms change within a second); the room id it heard."""
    deadline = time.monotonic() + STUCK_SECONDS
    while time.monotonic() < deadline:
        call = open_attendance(service, room)
        while (event := console.next_queued(1.0)) is not None:
            if event["id"] == call["id"]:
                return event["room_id"]
    raise AssertionError(f"the console never heard room {room}")


def test_rooms_follow_the_supervisors_change(handoff: Service, other_process: Service) -> None:
    add_room(handoff, "alfa")
    add_room(handoff, "beta")
    alfa, beta = room_id(handoff, "alfa"), room_id(handoff, "beta")
    operator = Client(other_process, add_operator(handoff, ["alfa"]))
    supervisor = Client(handoff, add_operator(handoff, ["alfa"], role="supervisor"))
    console = Console(other_process, operator.token)
    try:
        assert heard(console, handoff, "alfa") == alfa
        changed = supervisor.put(
            f"/api/admin/operators/{operator.operator['id']}", {"rooms": [beta]}
        )
        assert changed.status_code == 200, changed.text
        assert heard(console, handoff, "beta") == beta
        # Now a call in alfa and then one in beta: the beta one arrives, the
        # alfa one (published before it, on the same channel) never did.
        missed = open_attendance(handoff, "alfa")
        arrived = open_attendance(handoff, "beta")
        seen = []
        while (event := console.next_queued(STUCK_SECONDS)) is not None:
            seen.append(event["id"])
            if event["id"] == arrived["id"]:
                break
        assert arrived["id"] in seen and missed["id"] not in seen, seen
    finally:
        console.sio.disconnect()
