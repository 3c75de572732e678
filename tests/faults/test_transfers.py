"""Transfers asked during faults (issue 8): a customer who asks for a human
while the action server or the handoff service is down is told to wait
(pt-BR) and reaches the operator's queue when it is back, without writing
again. Real Rasa, action server and handoff service (SQLite)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.clients import Operator, Visitor
from tests.support.processes import Service, Stack

pytestmark = pytest.mark.slow

WAIT_TOLD = "Aguarde"  # utter_transfer_pending
RETRY_TOLD = "tentar de novo"  # utter_handoff_unavailable
QUIET = 2.0


@pytest.fixture(scope="module")
def backend() -> str:
    """Who is down here is the action server or the handoff service, not a
    database: one engine (the others in tests/faults cover both)."""
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    # The action's own retry while the handoff service is away.
    return {"HANDOFF_RETRY_SECONDS": "2"}


def service(stack: Stack, name: str) -> Service:
    return next(s for s in stack.services if s.name == name)


@pytest.fixture
def restored(stack: Stack) -> Iterator[None]:
    """Whatever a test stops is running again afterwards."""
    yield
    for item in stack.services:
        if item.process is None or item.process.poll() is not None:
            item.start()


def queued_for(operator: Operator, visitor: Visitor) -> list[dict]:
    listed = operator.call("attendances:list", {})["queued"]
    return [a for a in listed if a["conversation_id"] == visitor.session_id]


def report(case: str, **figures: object) -> None:
    print(f"\n[transfers] {case}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def test_transfer_asked_while_the_action_server_is_down(stack: Stack, restored: None):
    actions = service(stack, "actions")
    actions.stop()
    visitor = Visitor(stack.rasa_url)
    text = "quero falar com um atendente"
    visitor.say(text, metadata={"name": "Ana Lima", "email": "ana@example.com"})
    told = visitor.next_text()
    assert WAIT_TOLD in told, told
    time.sleep(QUIET)  # the handoff service's retries fail silently meanwhile
    assert visitor.received_nothing()

    # Connected before the action server is back: the transfer may be made
    # the moment it answers, and a console learns of it by this notice.
    operator = Operator(stack.handoff_url)
    started = time.monotonic()
    actions.start()
    back = time.monotonic()
    try:
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id, timeout=40
        )
        transferred = time.monotonic()
        assert "transferido" in visitor.next_text()
        assert queued["contact_name"] == "Ana Lima"
        assert operator.customer_texts(queued["id"], text) == [text]
        time.sleep(QUIET)  # no second attendance, no second notice
        assert len(queued_for(operator, visitor)) == 1
        assert visitor.received_nothing()
        report(
            "action server down",
            told=told,
            action_server_start_s=round(back - started, 1),
            queued_after_back_s=round(transferred - back, 1),
            attendances=1,
        )
    finally:
        operator.close()
        visitor.close()


def test_transfer_asked_while_the_handoff_service_is_down(stack: Stack, restored: None):
    handoff = service(stack, "handoff")
    handoff.stop()
    visitor = Visitor(stack.rasa_url)
    text = "preciso de ajuda com o IPTU"
    visitor.say(text, metadata={"name": "Rui Costa", "email": "rui@example.com"})
    told = visitor.next_text()
    assert RETRY_TOLD in told, told
    time.sleep(QUIET)  # the action's reminders fail silently meanwhile
    assert visitor.received_nothing()

    started = time.monotonic()
    handoff.start()
    back = time.monotonic()
    try:
        assert "transferido" in visitor.next_text(timeout=30)
        transferred = time.monotonic()
        operator = Operator(stack.handoff_url)
        mine = queued_for(operator, visitor)
        assert len(mine) == 1
        assert mine[0]["contact_name"] == "Rui Costa"
        assert operator.customer_texts(mine[0]["id"], text) == [text]
        operator.close()
        report(
            "handoff service down",
            told=told,
            handoff_start_s=round(back - started, 1),
            queued_after_back_s=round(transferred - back, 1),
            attendances=1,
        )
    finally:
        visitor.close()
