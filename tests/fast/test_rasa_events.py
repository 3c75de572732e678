"""What Rasa's event broker posts: customer and bot messages stored once,
bad batches refused, failures set aside as dead letters for supervisors."""

from __future__ import annotations

import json
import time

import requests
from sqlalchemy import select

from handoff.models import OutboxJob
from tests.support.api import Client, error_of, open_attendance, post_rasa_events


def user(conversation_id: str, message_id: str, text: str) -> dict:
    return {
        "event": "user",
        "sender_id": conversation_id,
        "message_id": message_id,
        "text": text,
        "timestamp": time.time(),
    }


def texts(client: Client, attendance_id: int) -> list[str]:
    rows = client.get(f"/api/attendances/{attendance_id}/messages").json()["messages"]
    return [m["text"] for m in rows]


def test_customer_and_bot_messages_are_stored_once_and_pushed(service, operator: Client, console):
    call = open_attendance(service)
    operator.take(call["id"])
    connection = console(operator)
    conversation = call["conversation_id"]
    bot = {"event": "bot", "sender_id": conversation, "text": "Aguarde", "timestamp": 1.5e9}
    batch = [user(conversation, "u-1", "Preciso do IPTU"), bot, user("sem-atendimento", "x", "?")]
    assert post_rasa_events(service.base_url, batch).json() == {"stored": 2}
    assert connection.next("message:new", text="Preciso do IPTU")["direction"] == "customer"
    # A replay (the broker retrying) stores nothing twice.
    assert post_rasa_events(service.base_url, batch).json() == {"stored": 0}
    assert texts(operator, call["id"]) == ["Aguarde", "Preciso do IPTU"]


def test_the_echo_of_an_operator_message_is_not_stored_again(service, operator: Client):
    call = open_attendance(service)
    operator.take(call["id"])
    sent = operator.send(call["id"], "olá").json()["message"]
    echo = {
        "event": "bot",
        "sender_id": call["conversation_id"],
        "text": "olá",
        "timestamp": time.time(),
        "metadata": {"handoff_message_id": sent["id"]},
    }
    assert post_rasa_events(service.base_url, [echo]).json() == {"stored": 0}
    assert texts(operator, call["id"]) == ["olá"]


def test_bad_batches_are_refused_and_the_service_token_is_required(service):
    base = service.base_url
    assert "array" in error_of(post_rasa_events(base, {"event": "user"}), 400)["message"]
    assert "list" in error_of(post_rasa_events(base, [1, 2]), 400)["message"]
    refused = requests.post(f"{base}/api/rasa/events", json=[], headers={"Authorization": "x"})
    assert error_of(refused, 401)


def test_a_conversation_that_fails_is_set_aside_and_the_others_stored(service, operator: Client):
    good, bad = open_attendance(service), open_attendance(service)
    operator.take(good["id"])
    poisoned = {**user(bad["conversation_id"], "p-1", "oi"), "metadata": "not an object"}
    poisoned["event"] = "bot"
    batch = [user(good["conversation_id"], "g-1", "bom dia"), poisoned]
    key = f"from:{bad['conversation_id']}"
    assert post_rasa_events(service.base_url, batch).json() == {"stored": 1}
    assert texts(operator, good["id"]) == ["bom dia"]
    with service.desk.db.unit_of_work(read_only=True) as uow:
        aside = uow.session.scalars(select(OutboxJob).where(OutboxJob.key == key)).all()
        # Tried again, then a dead letter; the events kept as Rasa sent them.
        assert [(job.kind, json.loads(job.payload)["events"]) for job in aside] == [
            ("import_events", [poisoned])
        ]


def test_dead_letters_are_listed_retried_and_discarded(service, supervisor: Client, console):
    connection = console(supervisor)
    events = [user("conversa-perdida", "d-1", "alguém?"), user("outra-perdida", "d-2", "oi")]
    assert post_rasa_events(service.base_url, events, "dead-letters").json() == {"stored": 2}
    connection.next("dead_letter:new", key="from:conversa-perdida")
    rows = supervisor.get("/api/admin/dead-letters").json()["dead_letters"]
    assert [r["key"] for r in rows] == ["from:conversa-perdida", "from:outra-perdida"]
    assert rows[0]["payload"]["events"][0]["text"] == "alguém?"
    first, second = rows[0]["id"], rows[1]["id"]
    retried = supervisor.post(f"/api/admin/dead-letters/{first}/retry").json()["dead_letter"]
    assert retried["id"] == first
    discarded = supervisor.post(f"/api/admin/dead-letters/{second}/discard")
    assert discarded.json()["dead_letter"]["id"] == second
    assert error_of(supervisor.post(f"/api/admin/dead-letters/{second}/retry"), 404)
    assert all(
        r["id"] != second for r in supervisor.get("/api/admin/dead-letters").json()["dead_letters"]
    )


def test_a_tapped_button_reads_as_its_title(service, operator: Client):
    """A reply button or a star tapped while an operator attends (an old
    survey's, say) reaches the operator as the words the customer saw, not
    the payload Rasa got."""
    call = open_attendance(service)
    operator.take(call["id"])
    tapped = user(call["conversation_id"], "u-2", '/survey_rating{"rating": 4}')
    tapped["metadata"] = {"button_title": "4 - Satisfeito"}
    typed = user(call["conversation_id"], "u-3", "/não é um botão")
    assert post_rasa_events(service.base_url, [tapped, typed]).json() == {"stored": 2}
    assert texts(operator, call["id"])[-2:] == ["4 - Satisfeito", "/não é um botão"]
