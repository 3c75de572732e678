"""One real attendance through every process (issue: foundation).

A visitor talks to Rasa over socket.io; Rasa's action opens an attendance in
the handoff service; an operator takes it over socket.io, replies through
Rasa's HTTP API, finishes, and Rasa's closing flow sends the protocol.
Runs once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from tests.support.clients import Operator, Visitor
from tests.support.processes import SERVICE_TOKEN, Stack

pytestmark = pytest.mark.slow


@pytest.fixture
def visitor(stack: Stack):
    client = Visitor(stack.rasa_url)
    yield client
    client.close()


def test_attendance_flows_through_every_process(stack: Stack, operator: Operator, visitor: Visitor):
    # W2: name and e-mail travel as metadata of the first message.
    first = "Olá, preciso da segunda via do IPTU"
    visitor.say(first, metadata={"name": "Maria Souza", "email": "maria@example.com"})
    assert "transferido" in visitor.next_text()

    # O2: the operator's console hears of the new call with the pre-chat data.
    queued = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
    )
    assert queued["contact_name"] == "Maria Souza"
    assert queued["contact_email"] == "maria@example.com"
    assert queued["channel"] == "socketio"
    attendance_id = queued["id"]
    listed = operator.call("attendances:list", {})
    assert [a["id"] for a in listed["queued"]] == [attendance_id]

    # The first message itself reaches the operator.
    message = operator.wait_for("message:new", lambda m: m["direction"] == "customer")
    assert message["text"] == first

    taken = operator.call("attendance:take", {"attendance_id": attendance_id})
    assert taken["ok"] and taken["attendance"]["status"] == "active"

    # O3/O4: the first operator message is stored and gets the protocol.
    reply = "Olá, Maria! Posso ajudar, qual é a inscrição do imóvel?"
    sent = operator.call(
        "message:send",
        {"attendance_id": attendance_id, "text": reply, "client_id": uuid.uuid4().hex},
    )
    assert sent["ok"], sent
    protocol = sent["protocol"]
    assert re.fullmatch(r"20\d{2}\d{6}", protocol)
    assert operator.wait_for("attendance:protocol")["protocol"] == protocol
    assert visitor.next_text() == reply
    assert operator.wait_for("message:delivery")["delivery"] == "sent"

    # While handed off, the visitor's messages reach the operator, the bot stays silent.
    visitor.say("É a inscrição 123.456")
    second = operator.wait_for("message:new", lambda m: m["text"] == "É a inscrição 123.456")
    assert second["direction"] == "customer"
    assert visitor.received_nothing()

    # O13 and Z3: finishing sends the same protocol and the closing message.
    finished = operator.call("attendance:finish", {"attendance_id": attendance_id})
    assert finished["ok"] and finished["attendance"]["status"] == "finished"
    assert finished["attendance"]["protocol"] == protocol
    closing = [visitor.next_text(), visitor.next_text()]
    assert protocol in closing[0]
    assert "atendente" in closing[1]

    # The history keeps the whole conversation, in order.
    history = operator.get(f"/api/attendances/{attendance_id}/messages").json()["messages"]
    assert [(m["direction"], m["text"]) for m in history if m["direction"] != "bot"] == [
        ("customer", first),
        ("operator", reply),
        ("customer", "É a inscrição 123.456"),
    ]

    # Asking for an attendant again opens a new attendance.
    visitor.say("quero falar com um atendente")
    assert "transferido" in visitor.next_text()
    again = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
    )
    assert again["id"] != attendance_id
    assert again["status"] == "queued"


def test_other_messages_after_an_attendance_get_help(stack: Stack, operator: Operator):
    visitor = Visitor(stack.rasa_url)
    try:
        visitor.say("bom dia", metadata={"name": "João", "email": "joao@example.com"})
        assert "transferido" in visitor.next_text()
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
        )
        operator.call("attendance:take", {"attendance_id": queued["id"]})
        assert operator.call("attendance:cancel", {"attendance_id": queued["id"]})["ok"]
        assert "encerrado" in visitor.next_text()
        visitor.say("obrigado")
        assert "atendente" in visitor.next_text()
        open_now = requests.post(
            f"{stack.handoff_url}/api/attendances",
            json={"conversation_id": visitor.session_id, "channel": "socketio"},
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
            timeout=10,
        )
        # The fallback did not queue the visitor again: this is a new attendance.
        assert open_now.status_code == 201
    finally:
        visitor.close()


def test_guessable_session_ids_are_replaced(stack: Stack):
    visitor = Visitor(stack.rasa_url, token="1234")
    try:
        assert visitor.confirmed_id != "1234"
        assert re.fullmatch(r"[0-9a-f]{32}", visitor.confirmed_id)
    finally:
        visitor.close()


def test_a_message_sent_while_the_handoff_service_is_down_is_not_lost(stack: Stack):
    operator = Operator(stack.handoff_url)
    visitor = Visitor(stack.rasa_url)
    handoff = next(s for s in stack.services if s.name == "handoff")
    try:
        visitor.say("preciso de ajuda", metadata={"name": "Ana", "email": "ana@example.com"})
        assert "transferido" in visitor.next_text()
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
        )
        operator.close()

        handoff.stop()
        visitor.say("ainda estou aqui")  # Rasa stores it; its broker retries
        handoff.start()

        operator = Operator(stack.handoff_url)
        assert operator.customer_texts(queued["id"], "ainda estou aqui") == [
            "preciso de ajuda",
            "ainda estou aqui",
        ]
    finally:
        operator.close()
        visitor.close()


def test_widget_history_shows_the_whole_conversation(stack: Stack, operator: Operator):
    visitor = Visitor(stack.rasa_url)
    try:
        visitor.say("olá", metadata={"name": "Lia", "email": "lia@example.com"})
        visitor.next_text()
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
        )
        operator.call("attendance:take", {"attendance_id": queued["id"]})
        operator.call(
            "message:send",
            {"attendance_id": queued["id"], "text": "Oi, Lia!", "client_id": uuid.uuid4().hex},
        )
        assert visitor.next_text() == "Oi, Lia!"
        history = visitor.history(stack.handoff_url)
        assert history.headers["Access-Control-Allow-Origin"] == "*"
        messages = [(m["from"], m["text"]) for m in history.json()["messages"]]
        assert messages[0] == ("visitor", "olá")
        assert messages[-1] == ("bot", "Oi, Lia!")
        short = requests.get(
            f"{stack.handoff_url}/widget/api/history", headers={"X-Conversation-Token": "abc"}
        )
        assert short.status_code == 401
    finally:
        visitor.close()
