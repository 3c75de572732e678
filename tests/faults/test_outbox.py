"""The outbox (handoff/outbox.py) with real processes, on both engines.

- Two handoff processes share one database: operator messages written on
  either reach the customer once and in order, and closing flows left
  unfinished when both processes are killed (Rasa was away) are done once
  after they restart: each job is claimed by one process only.
- A conversation whose events cannot be stored is set aside: every other
  conversation of the same batch is stored, the set-aside events become a
  dead letter after their retries, and a supervisor sees it, retries it or
  discards it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support import processes
from tests.support.api import PASSWORD, add_operator, post_rasa_events
from tests.support.clients import Operator, Visitor
from tests.support.processes import Service, Stack, start_handoff

REDIS_URL = "redis://127.0.0.1:6379/0"
VISITORS = 8
MESSAGES = 6
STUCK_SECONDS = 60.0


def wait_until(condition: Callable[[], Any], what: str) -> Any:
    return processes.wait_until(condition, STUCK_SECONDS, what)


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    return {"HANDOFF_REDIS_URL": REDIS_URL, "HANDOFF_REDIS_CHANNEL": uuid.uuid4().hex}


@pytest.fixture(scope="module")
def second(
    stack: Stack, stack_settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """Another handoff process on the same database, Rasa and Redis."""
    first = next(s for s in stack.services if s.name == "handoff")
    folder: Path = tmp_path_factory.mktemp("second-handoff")
    service = start_handoff(
        first.env["DATABASE_URL"], folder, stack.rasa_url, extra_env=stack_settings
    )
    yield service
    service.stop()


def named(stack: Stack, name: str) -> Service:
    return next(s for s in stack.services if s.name == name)


def bot_texts(stack: Stack, conversation_id: str) -> list[str]:
    events = stack.tracker(conversation_id)["events"]
    return [e.get("text") or "" for e in events if e["event"] == "bot"]


def outbox_rows(stack: Stack) -> list[tuple[str, str]]:
    engine = create_engine(named(stack, "handoff").env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.execute(text("SELECT kind, status FROM outbox_job"))
            ]
    finally:
        engine.dispose()


def test_two_processes_do_every_job_once(stack: Stack, second: Service) -> None:
    first = named(stack, "handoff")
    username = add_operator(first, ["atendimento"], max_concurrent=VISITORS)
    consoles = [Operator(url, username, PASSWORD) for url in (first.base_url, second.base_url)]
    visitors = [Visitor(stack.rasa_url) for _ in range(VISITORS)]
    try:
        attendances = {}
        for visitor in visitors:
            visitor.say("Olá, quero ajuda", metadata={"name": "Ana", "email": "ana@example.com"})
            queued = consoles[0].wait_for(
                "attendance:queued", lambda a, v=visitor: a["conversation_id"] == v.session_id
            )
            taken = consoles[0].call("attendance:take", {"attendance_id": queued["id"]})
            assert taken["ok"], taken
            attendances[visitor.session_id] = queued["id"]

        # Operator messages written alternately on both processes.
        sent: dict[str, list[str]] = {}
        for index in range(MESSAGES):
            for visitor in visitors:
                words = f"resposta {index} para {visitor.session_id[:6]}"
                ack = consoles[index % 2].call(
                    "message:send",
                    {
                        "attendance_id": attendances[visitor.session_id],
                        "text": words,
                        "client_id": f"c{index}",  # the same ids in every conversation
                    },
                )
                assert ack["ok"], ack
                sent.setdefault(visitor.session_id, []).append(words)

        for visitor in visitors:
            expected = sent[visitor.session_id]
            wait_until(
                lambda v=visitor, e=expected: (
                    [t for t in bot_texts(stack, v.session_id) if t in e] == e
                ),
                "operator messages in Rasa's tracker",
            )

        # Rasa away while the attendances are finished on both processes;
        # then both processes are killed and started again.
        rasa = named(stack, "rasa")
        rasa.stop()
        for index, visitor in enumerate(visitors):
            ack = consoles[index % 2].call(
                "attendance:finish", {"attendance_id": attendances[visitor.session_id]}
            )
            assert ack["ok"], ack
        first.kill()
        second.kill()
        first.restart()
        second.restart()
        rasa.restart()

        protocols = {}
        for visitor in visitors:
            texts = wait_until(
                lambda v=visitor: [t for t in bot_texts(stack, v.session_id) if "protocolo" in t],
                "closing flow in Rasa's tracker",
            )
            protocols[visitor.session_id] = texts
        time.sleep(3)  # a second closing, if any, would come now
        for visitor in visitors:
            texts = bot_texts(stack, visitor.session_id)
            closings = [t for t in texts if "protocolo" in t.lower()]
            assert len(closings) == 1, (visitor.session_id, closings)
            replies = [t for t in texts if t.startswith("resposta")]
            assert replies == sent[visitor.session_id]
        wait_until(lambda: outbox_rows(stack) == [], "outbox emptied")
    finally:
        for client in [*consoles, *visitors]:
            client.close()


def test_a_conversation_that_cannot_be_stored_is_set_aside(stack: Stack) -> None:
    handoff = named(stack, "handoff")
    console = Operator(handoff.base_url)
    supervisor = Operator(handoff.base_url, "supervisor")
    visitors = [Visitor(stack.rasa_url) for _ in range(3)]
    try:
        for visitor in visitors:
            visitor.say("Olá", metadata={"name": "Bia"})
            console.wait_for(
                "attendance:queued", lambda a, v=visitor: a["conversation_id"] == v.session_id
            )
        now = time.time()
        good = [
            {
                "event": "user",
                "sender_id": v.session_id,
                "text": f"ok {i}",
                "message_id": "m1",
                "timestamp": now,
            }
            for i, v in enumerate(visitors[1:])
        ]
        poisoned = {
            "event": "bot",
            "sender_id": visitors[0].session_id,
            "text": "x",
            "metadata": ["not", "an", "object"],
            "timestamp": now,
        }
        response = post_rasa_events(handoff.base_url, [good[0], poisoned, good[1]])
        assert response.status_code == 200, response.text
        assert response.json() == {"stored": 2}

        dead = wait_until(
            lambda: supervisor.get("/api/admin/dead-letters").json()["dead_letters"],
            "the set-aside events become a dead letter",
        )
        assert len(dead) == 1
        assert dead[0]["kind"] == "import_events"
        assert dead[0]["payload"]["conversation_id"] == visitors[0].session_id
        assert "metadata" in dead[0]["last_error"]
        assert console.get("/api/admin/dead-letters").status_code == 403

        # The poisoned conversation itself goes on.
        visitors[0].say("ainda estou aqui")
        attendance_id = console.wait_for(
            "message:new", lambda m: m.get("text") == "ainda estou aqui"
        )["attendance_id"]
        assert attendance_id

        job = dead[0]["id"]
        headers = {"Authorization": f"Bearer {supervisor.token}"}
        retried = requests.post(
            f"{handoff.base_url}/api/admin/dead-letters/{job}/retry", headers=headers, timeout=10
        )
        assert retried.status_code == 200, retried.text
        wait_until(
            lambda: [
                d
                for d in supervisor.get("/api/admin/dead-letters").json()["dead_letters"]
                if d["id"] == job and d["failures"] >= 5
            ],
            "the retried dead letter fails again and comes back",
        )
        discarded = requests.post(
            f"{handoff.base_url}/api/admin/dead-letters/{job}/discard", headers=headers, timeout=10
        )
        assert discarded.status_code == 200
        assert supervisor.get("/api/admin/dead-letters").json()["dead_letters"] == []
        again = requests.post(
            f"{handoff.base_url}/api/admin/dead-letters/{job}/discard", headers=headers, timeout=10
        )
        assert again.status_code == 404
    finally:
        for client in [console, supervisor, *visitors]:
            client.close()
