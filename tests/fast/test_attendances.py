"""The call list, taking, ending and the operator's messages, over REST and
the console's socket.io events (O2-O4, O13)."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.support.api import Client, add_operator, add_room, error_of, open_attendance
from tests.support.processes import SERVICE_TOKEN

SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def open_raw(service, **payload) -> requests.Response:
    return requests.post(
        f"{service.base_url}/api/attendances", json=payload, headers=SERVICE, timeout=10
    )


def test_opening_validates_and_never_queues_a_conversation_twice(service, operator: Client):
    conversation = uuid.uuid4().hex
    first = open_raw(service, conversation_id=conversation, channel="socketio")
    again = open_raw(service, conversation_id=conversation, channel="socketio")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["attendance"]["id"] == again.json()["attendance"]["id"]
    assert again.json()["created"] is False
    assert error_of(open_raw(service, channel="socketio"), 400)
    assert error_of(open_raw(service, conversation_id="c", channel="socketio", room="nope"), 404)
    no_token = requests.post(
        f"{service.base_url}/api/attendances", json={"conversation_id": "c", "channel": "socketio"}
    )
    assert error_of(no_token, 401)
    queued = operator.get("/api/attendances").json()["queued"]
    assert [a["conversation_id"] for a in queued] == [conversation]


def test_the_bot_asks_whether_a_conversation_is_with_a_human(service):
    call = open_attendance(service)
    url = f"{service.base_url}/api/conversations/{call['conversation_id']}/attendance"
    assert requests.get(url, headers=SERVICE).json()["open"] is True
    other = f"{service.base_url}/api/conversations/nobody/attendance"
    assert requests.get(other, headers=SERVICE).json() == {"open": False, "attendance": None}


def test_queue_take_and_the_call_list_on_the_console(service, operator: Client, console):
    connection = console(operator)
    call = open_attendance(service, first_message={"message_id": "m-1", "text": "Olá"})
    assert connection.next("attendance:queued", id=call["id"])["status"] == "queued"
    listed = connection.call("attendances:list")
    assert [a["id"] for a in listed["queued"]] == [call["id"]] and listed["active"] == []
    taken = connection.call("attendance:take", {"attendance_id": call["id"]})
    assert taken["ok"] and taken["attendance"]["status"] == "active"
    again = connection.call("attendances:list")
    assert again["queued"] == [] and [a["id"] for a in again["active"]] == [call["id"]]
    messages = connection.call("attendance:messages", {"attendance_id": call["id"]})
    assert [m["text"] for m in messages["messages"]] == ["Olá"]


def test_exactly_one_operator_takes_a_call(service, operator: Client):
    rival = Client(service, add_operator(service, ["atendimento"])).available()
    call = open_attendance(service)
    assert operator.take(call["id"]).status_code == 200
    assert "outro operador" in error_of(rival.take(call["id"]), 409)["message"]
    assert operator.take(call["id"]).status_code == 200  # taking one's own again is harmless
    assert error_of(rival.post(f"/api/attendances/{call['id']}/finish"), 403)


def test_taking_needs_availability_room_and_a_free_slot(service):
    add_room(service, "outra")
    busy = Client(service, add_operator(service, ["atendimento"], max_concurrent=1))
    call, second = open_attendance(service), open_attendance(service)
    assert "Disponível" in error_of(busy.take(call["id"]), 409)["message"]
    busy.available()
    assert busy.take(call["id"]).status_code == 200
    assert "máximo" in error_of(busy.take(second["id"]), 409)["message"]
    elsewhere = open_attendance(service, "outra")
    assert error_of(busy.take(elsewhere["id"]), 404)  # a room that is not hers
    assert error_of(busy.take(999999), 404)


def test_messages_are_validated_stored_once_per_client_id_and_give_the_protocol(
    service, operator: Client
):
    call = open_attendance(service)
    operator.take(call["id"])
    url = f"/api/attendances/{call['id']}/messages"
    assert "text" in error_of(operator.post(url, {"client_id": "a"}), 400)["message"]
    assert "text" in error_of(operator.post(url, {"text": "  ", "client_id": "a"}), 400)["message"]
    too_long = operator.post(url, {"text": "x" * 4097, "client_id": "a"})
    assert "4096" in error_of(too_long, 400)["message"]
    assert "client_id" in error_of(operator.post(url, {"text": "olá"}), 400)["message"]
    first = operator.post(url, {"text": "olá", "client_id": "c-1"})
    retry = operator.post(url, {"text": "olá", "client_id": "c-1"})
    assert (first.status_code, retry.status_code) == (201, 201)
    # The same message (its delivery may have moved on meanwhile).
    assert first.json()["message"]["id"] == retry.json()["message"]["id"]
    assert first.json()["protocol"] == retry.json()["protocol"]
    assert first.json()["protocol"] and first.json()["message"]["client_id"] == "c-1"
    operator.post(url, {"text": "tudo bem?", "client_id": "c-2"})
    assert [m["text"] for m in operator.get(url).json()["messages"]] == ["olá", "tudo bem?"]
    attendance = operator.get("/api/attendances").json()["active"][0]
    assert attendance["first_response_at"] and attendance["protocol"] == first.json()["protocol"]


def test_a_message_over_the_console_reaches_the_console_and_fails_without_rasa(
    service, operator: Client, console
):
    connection = console(operator)
    call = open_attendance(service)
    operator.take(call["id"])
    sent = connection.call(
        "message:send", {"attendance_id": call["id"], "text": "bom dia", "client_id": "s-1"}
    )
    assert sent["ok"] and sent["message"]["delivery"] == "pending"
    message_id = sent["message"]["id"]
    assert connection.next("message:new", id=message_id)["text"] == "bom dia"
    # Rasa is a closed port: the outbox marks the delivery failed, and retries.
    connection.next("message:delivery", id=message_id, delivery="failed")
    retried = connection.call("message:retry", {"message_id": message_id})
    assert retried["ok"] and retried["message"]["delivery"] == "pending"
    bad = connection.call("message:send", {"attendance_id": "1", "text": "x", "client_id": "y"})
    assert bad == {
        "ok": False,
        "error": {
            "code": "invalid",
            "message": "O campo attendance_id deve ser um número inteiro.",
            "field": "attendance_id",
        },
    }


def test_finish_and_cancel_end_once_and_queue_the_closing_flow(service, operator: Client):
    finished, cancelled = open_attendance(service), open_attendance(service)
    for call in (finished, cancelled):
        operator.take(call["id"])
    done = operator.post(f"/api/attendances/{finished['id']}/finish").json()["attendance"]
    assert done["status"] == "finished" and done["protocol"] and done["ended_at"]
    assert operator.post(f"/api/attendances/{finished['id']}/finish").json()["attendance"] == done
    gone = operator.post(f"/api/attendances/{cancelled['id']}/cancel").json()["attendance"]
    assert gone["status"] == "cancelled" and gone["protocol"] is None
    late = operator.send(finished["id"], "mais uma coisa")
    assert "encerrado" in error_of(late, 409)["message"]
    assert error_of(operator.post(f"/api/attendances/{cancelled['id']}/finish"), 409)
    assert operator.get("/api/attendances").json() == {"queued": [], "active": []}


def test_the_summary_counts_what_happened(service, operator: Client):
    call = open_attendance(service, first_message={"message_id": "m", "text": "oi"})
    operator.take(call["id"])
    operator.send(call["id"], "olá")
    summary = operator.get(f"/api/attendances/{call['id']}/summary").json()
    assert summary["message_count"] == 2 and summary["operator_name"]
    assert summary["waiting_seconds"] >= 0 and summary["customer"] is None


def test_a_supervisor_may_close_a_call_nobody_took(service, supervisor: Client):
    call = open_attendance(service)
    closed = supervisor.post(f"/api/attendances/{call['id']}/cancel")
    assert closed.json()["attendance"]["status"] == "cancelled"


@pytest.mark.parametrize("service_settings", [{"reconnect_grace_seconds": 0.1}])
def test_an_offline_operator_s_calls_go_back_to_the_queue(service, operator: Client, console):
    """After the grace period (a tenth of a second here)."""
    connection = console(operator)
    call = open_attendance(service)
    operator.take(call["id"])
    operator.post("/api/me/status", {"status": "offline"})
    assert connection.next("attendance:requeued", id=call["id"])["status"] == "queued"
    assert [a["id"] for a in operator.get("/api/attendances").json()["queued"]] == [call["id"]]
