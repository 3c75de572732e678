"""Database down: requests fail with clear errors, nothing is half-written,
service resumes by itself, and Rasa's fall-back to an in-memory tracker store
is refused and reported by /health.

The database is taken away for real: PostgreSQL through a proxy that drops
every connection, SQLite by another process holding an exclusive lock
(tests/support/outages.py).
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.clients import Operator, Visitor
from tests.support.outages import Outage, stack_with_outages
from tests.support.processes import SERVICE_TOKEN, Stack, wait_until

UNAVAILABLE = "Banco de dados indisponível no momento. Tente novamente em instantes."


@pytest.fixture(scope="module")
def faulty(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Outage]]:
    folder = tmp_path_factory.mktemp(f"db-down-{backend}")
    # SQLite writers give up on another process's lock after 2 s (30 s by default).
    with stack_with_outages(backend, folder, {"HANDOFF_DB_LOCK_TIMEOUT_SECONDS": "2"}) as pair:
        yield pair


def health(stack: Stack) -> requests.Response:
    return requests.get(f"{stack.handoff_url}/health", timeout=30)


def in_attendance(stack: Stack) -> tuple[Operator, Visitor, int]:
    """A visitor whose call the operator has taken."""
    operator = Operator(stack.handoff_url)
    visitor = Visitor(stack.rasa_url)
    assert visitor.say("oi", metadata={"name": "Ana", "email": "ana@example.com"})["ok"]
    assert "transferido" in visitor.next_text()
    queued = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
    )
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    return operator, visitor, queued["id"]


def test_database_down_fails_clearly_and_service_resumes(
    backend: str, faulty: tuple[Stack, Outage]
):
    stack, outage = faulty
    operator, visitor, attendance_id = in_attendance(stack)
    headers = {"Authorization": f"Bearer {operator.token}"}
    messages_url = f"{stack.handoff_url}/api/attendances/{attendance_id}/messages"
    assert health(stack).json()["rasa_tracker_store"]["state"] == "ok"

    rest_id, socket_id, visitor_id = (uuid.uuid4().hex for _ in range(3))
    with outage.down():
        # The console's REST and socket.io requests: 503 / an error ack, in pt-BR.
        refused = requests.post(
            messages_url, json={"text": "pelo REST", "client_id": rest_id}, headers=headers
        )
        assert refused.status_code == 503, refused.text
        assert refused.json() == {"error": {"code": "unavailable", "message": UNAVAILABLE}}
        ack = operator.call(
            "message:send",
            {"attendance_id": attendance_id, "text": "pelo socket", "client_id": socket_id},
        )
        assert ack == {"ok": False, "error": {"code": "unavailable", "message": UNAVAILABLE}}
        # The visitor's message is refused (not acknowledged), not kept in memory.
        refused_ack = visitor.say("escrevi durante a queda", client_id=visitor_id)
        assert refused_ack["ok"] is False, refused_ack
        # /health: the handoff database (PostgreSQL; SQLite still serves reads
        # under another process's lock) and Rasa's tracker store.
        during = health(stack)
        report = during.json()
        assert report["status"] == "degraded"
        assert report["rasa_tracker_store"]["state"] == "unavailable"
        assert report["rasa_tracker_store"]["failures"] >= 1
        if backend == "postgresql":
            assert during.status_code == 503
            assert report["database"] == "unreachable"

    # Back by itself, no restart.
    after = wait_until(lambda: (r := health(stack)).json()["status"] == "ok" and r.json())
    assert after["database"] == "ok"
    assert after["rasa_tracker_store"]["state"] == "ok"
    assert after["rasa_tracker_store"]["in_memory_conversations"] == 0

    # Nothing half-written: no message, no protocol number taken.
    rows = requests.get(messages_url, headers=headers).json()["messages"]
    assert [(m["direction"], m["text"]) for m in rows if m["direction"] != "bot"] == [
        ("customer", "oi")
    ]
    listed = operator.call("attendances:list", {})
    mine = [a for a in listed["active"] if a["id"] == attendance_id]
    assert mine[0]["protocol"] is None

    # The same requests again (same client ids) go through, once.
    again = requests.post(
        messages_url, json={"text": "pelo REST", "client_id": rest_id}, headers=headers
    )
    assert again.status_code == 201, again.text
    assert again.json()["protocol"], "the first operator message takes the protocol"
    ack = operator.call(
        "message:send",
        {"attendance_id": attendance_id, "text": "pelo socket", "client_id": socket_id},
    )
    assert ack["ok"], ack
    assert visitor.say("escrevi durante a queda", client_id=visitor_id)["ok"]
    assert [visitor.next_text(), visitor.next_text()] == ["pelo REST", "pelo socket"]
    texts = operator.customer_texts(attendance_id, "escrevi durante a queda")
    assert texts == ["oi", "escrevi durante a queda"]
    history = [m["text"] for m in visitor.history(stack.handoff_url).json()["messages"]]
    for text in ("escrevi durante a queda", "pelo REST", "pelo socket"):
        assert history.count(text) == 1, history
    rasa_log = next(s for s in stack.services if s.name == "rasa").log_path.read_text()
    assert "Falling back to use the 'InMemoryTrackerStore'" not in rasa_log
    visitor.close()
    operator.close()


def post_and_hang_up(url: str, body: Any) -> None:
    """POST ``body`` and close the connection without reading the answer, as
    a Rasa killed while its event broker posts does."""
    target = urlsplit(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
        f"Authorization: Bearer {SERVICE_TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection((target.hostname, target.port), timeout=5) as connection:
        connection.sendall(head.encode() + payload)
        time.sleep(0.3)  # the request is being handled, its write waiting


def test_a_message_stored_after_its_poster_left_still_reaches_the_console(
    faulty: tuple[Stack, Outage],
):
    """Sanic cancels a request whose client went away; what the request
    commits after that must still be announced to the operator's console
    (it used to be stored silently, seen only after a reload)."""
    stack, outage = faulty
    operator, visitor, attendance_id = in_attendance(stack)
    event = {
        "event": "user",
        "sender_id": visitor.session_id,
        "text": "enviada por um Rasa que caiu",
        "message_id": uuid.uuid4().hex,
        "timestamp": time.time(),
    }
    with outage.writers_wait():
        post_and_hang_up(f"{stack.handoff_url}/api/rasa/events", [event])
    shown = operator.wait_for("message:new", lambda m: m["text"] == event["text"])
    assert shown["attendance_id"] == attendance_id
    texts = operator.customer_texts(attendance_id, event["text"])
    assert texts == ["oi", event["text"]]
    visitor.close()
    operator.close()
