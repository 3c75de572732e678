"""Rasa 3.6 pitfalls, each met with real processes (issue: bot and channels).

While a human attends, the bot stays silent whatever happens to the Rasa
session; a transfer asked while the handoff service is away is retried;
customer messages reach the operator across restarts.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.support.clients import Operator, Visitor
from tests.support.processes import Stack, wait_until

pytestmark = pytest.mark.slow

QUIET = 2.0  # seconds in which a silent bot must say nothing


@pytest.fixture(scope="module")
def backend() -> str:
    """These are about Rasa; the engines are covered by the other modules."""
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    return {"HANDOFF_RETRY_SECONDS": "2"}


def days_pass(stack: Stack, conversation_id: str, days: float) -> None:
    """Move the conversation's stored events back in time, as if ``days``
    had passed since (Rasa reads the time of its last message from them)."""
    seconds = days * 86400
    with sqlite3.connect(
        service(stack, "rasa").env["RASA_TRACKER_DB"].removeprefix("sqlite:///")
    ) as db:
        db.execute(
            "UPDATE events SET timestamp = timestamp - ?,"
            " data = json_set(data, '$.timestamp', json_extract(data, '$.timestamp') - ?)"
            " WHERE sender_id = ?",
            (seconds, seconds, conversation_id),
        )


def handed_off(stack: Stack, operator: Operator, text: str = "oi") -> tuple[Visitor, dict]:
    visitor = Visitor(stack.rasa_url)
    visitor.say(text, metadata={"name": "Teste", "email": "teste@example.com"})
    assert "transferido" in visitor.next_text()
    queued = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
    )
    return visitor, queued


def service(stack: Stack, name: str):
    return next(s for s in stack.services if s.name == name)


def test_restart_payload_does_not_wake_the_bot(stack: Stack, operator: Operator):
    visitor, queued = handed_off(stack, operator)
    visitor.say("/restart")
    operator.wait_for("message:new", lambda m: m["text"] == "/restart")
    visitor.say("alguém aí?")
    operator.wait_for("message:new", lambda m: m["text"] == "alguém aí?")
    time.sleep(QUIET)
    assert visitor.received_nothing()
    assert stack.tracker(visitor.session_id)["paused"] is True
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    visitor.close()


def test_restart_outside_an_attendance_restarts(stack: Stack, operator: Operator):
    visitor, queued = handed_off(stack, operator)
    operator.call("attendance:take", {"attendance_id": queued["id"]})
    operator.call("attendance:cancel", {"attendance_id": queued["id"]})
    assert "encerrado" in visitor.next_text()
    visitor.say("obrigado")
    assert "atendente" in visitor.next_text()  # the help text: not a first contact
    visitor.say("/restart")
    visitor.say("bom dia")
    assert "transferido" in visitor.next_text()  # restarted: a first contact again
    visitor.close()


def test_session_expiry_during_an_attendance_keeps_the_bot_silent(stack: Stack, operator: Operator):
    visitor, _queued = handed_off(stack, operator)
    days_pass(stack, visitor.session_id, 2)  # the session (a day in domain.yml) expires
    visitor.say("ainda estou esperando")
    operator.wait_for("message:new", lambda m: m["text"] == "ainda estou esperando")
    time.sleep(QUIET)
    assert visitor.received_nothing()
    state = stack.tracker(visitor.session_id)
    assert state["paused"] is True
    # The expired session was renewed (and paused again), as Rasa does.
    assert [e["event"] for e in state["events"]].count("session_started") == 2
    visitor.close()


def test_a_message_while_paused_is_stored_as_rasa_stores_it(stack: Stack, operator: Operator):
    visitor, _queued = handed_off(stack, operator)
    text = "quero saber do meu iptu"
    assert visitor.say(text, client_id="paused-1")["ok"]
    operator.wait_for("message:new", lambda m: m["text"] == text)
    events = stack.tracker(visitor.session_id)["events"]
    said = [e for e in events if e["event"] == "user" and e["text"] == text]
    assert len(said) == 1 and events[-1] == said[0]  # nothing predicted after it
    assert said[0]["message_id"] == "paused-1" and said[0]["input_channel"] == "socketio"
    assert said[0]["parse_data"]["intent"]["name"] == "inform"  # Rasa's NLU read it
    # An entity fills its slot even while paused: Rasa still sees such a message.
    assert visitor.say('/inform{"protocol": "2026000123"}')["ok"]
    wait_until(
        lambda: stack.tracker(visitor.session_id)["slots"]["protocol"] == "2026000123",
        what="the protocol slot filled from the message's entity",
    )
    assert stack.tracker(visitor.session_id)["paused"] is True
    time.sleep(QUIET)
    assert visitor.received_nothing()
    visitor.close()


def test_transfer_asked_while_the_handoff_service_is_down_is_retried(stack: Stack):
    handoff = service(stack, "handoff")
    handoff.stop()
    visitor = Visitor(stack.rasa_url)
    try:
        visitor.say("preciso de ajuda", metadata={"name": "Rui", "email": "rui@example.com"})
        assert "tentar de novo" in visitor.next_text()
        handoff.start()
        assert "transferido" in visitor.next_text(timeout=30)
        operator = Operator(stack.handoff_url)
        listed = operator.call("attendances:list", {})["queued"]
        mine = [a for a in listed if a["conversation_id"] == visitor.session_id]
        assert len(mine) == 1
        messages = operator.call("attendance:messages", {"attendance_id": mine[0]["id"]})
        assert "preciso de ajuda" in [m["text"] for m in messages["messages"]]
        operator.close()
    finally:
        visitor.close()
        handoff.start() if handoff.process.poll() is not None else None


def test_messages_lost_by_the_broker_are_reconciled_from_rasa(stack: Stack, operator: Operator):
    visitor, queued = handed_off(stack, operator)
    operator.close()
    handoff, rasa = service(stack, "handoff"), service(stack, "rasa")
    handoff.stop()
    visitor.say("escrevi enquanto vocês estavam fora")
    time.sleep(1)  # Rasa stores it; its broker cannot deliver it
    visitor.close()
    rasa.stop()  # the broker's queue dies with Rasa
    rasa.start()
    handoff.start()  # reconciles from Rasa's tracker
    reader = Operator(stack.handoff_url)
    texts = reader.customer_texts(queued["id"], "escrevi enquanto vocês estavam fora")
    assert texts == ["oi", "escrevi enquanto vocês estavam fora"]
    reader.close()


def test_closing_is_delivered_once_rasa_is_back(stack: Stack, operator: Operator):
    """Finalizar while Rasa is down: the protocol still reaches the customer."""
    visitor, queued = handed_off(stack, operator)
    operator.call("attendance:take", {"attendance_id": queued["id"]})
    rasa = service(stack, "rasa")
    rasa.stop()
    finished = operator.call("attendance:finish", {"attendance_id": queued["id"]})
    assert finished["ok"]
    protocol = finished["attendance"]["protocol"]
    visitor.close()
    rasa.start()
    closing = f"Número do protocolo: {protocol}."
    deadline = time.monotonic() + 60
    texts: list[str] = []
    while time.monotonic() < deadline and not any(closing in t for t in texts):
        time.sleep(1)
        history = visitor.history(stack.handoff_url)
        texts = [m["text"] for m in history.json().get("messages", [])]
    assert sum(closing in t for t in texts) == 1
