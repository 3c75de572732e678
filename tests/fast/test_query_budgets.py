"""How many SQL statements the hot paths run, counted on the app's engine: a
budget is a count (BEGIN, the session lookup and savepoints included), never
a duration. A path that starts to run more, or whose count grows with the
data it reads, fails here first; lower a budget when a change earns it."""

from __future__ import annotations

import time
import uuid

from handoff import rasa_events
from handoff.domain import attendances, conversation, customers
from tests.support.api import Client, finished_attendance, open_attendance

# BEGIN, the operator's session and the operator: every operator request.
SESSION_LOOKUP = 3


def user(conversation_id: str) -> dict:
    return {
        "event": "user",
        "sender_id": conversation_id,
        "message_id": uuid.uuid4().hex,
        "text": "mensagem",
        "timestamp": time.time(),
    }


def test_sending_a_message(service, operator: Client, queries):
    call = open_attendance(service)
    operator.take(call["id"])

    def send(client_id: str):
        return lambda uow, op: conversation.send_operator_message(
            uow, op, call["id"], "olá", client_id
        )

    # The first one also gives the attendance its protocol and marks the
    # first response of the operator's hold.
    assert len(queries(send("first"), operator.token)) <= SESSION_LOOKUP + 12
    assert len(queries(send("second"), operator.token)) <= SESSION_LOOKUP + 7
    assert len(queries(send("second"), operator.token)) <= SESSION_LOOKUP + 3  # a retry


def test_a_batch_of_rasa_events(service, queries):
    """Per conversation: its savepoint and its open attendance; per message:
    the dedup look-up, then (when new) the insert in a savepoint."""
    calls = [open_attendance(service) for _ in range(3)]
    batch = [user(call["conversation_id"]) for call in calls for _ in range(2)]
    record = lambda uow: conversation.record_rasa_events(uow, rasa_events.batch(batch))  # noqa: E731
    conversations, messages = len(calls), len(batch)
    assert len(queries(record)) <= 1 + 3 * conversations + 4 * messages
    assert len(queries(record)) <= 1 + 3 * conversations + 1 * messages  # a replay


def test_the_call_list_does_not_grow_with_the_calls(service, operator: Client, queries):
    def call_list() -> list[str]:
        return queries(
            lambda uow, op: attendances.operator_attendances(uow.session, op),
            operator.token,
            read=True,
        )

    operator.take(open_attendance(service)["id"])
    one = call_list()
    for _ in range(5):
        open_attendance(service)
    operator.take(open_attendance(service)["id"])
    # Rooms, the queue, the operator's own calls, their last messages; per
    # room, its recent waits and operators available (the places in the queue).
    assert len(call_list()) == len(one) <= SESSION_LOOKUP + 4 + 2


def test_a_customer_s_history_does_not_grow_with_the_attendances(
    service, operator: Client, queries
):
    customer = operator.post("/api/customers", {"name": "Helena", "phone": "51 99777-6666"})
    customer_id = customer.json()["customer"]["id"]
    article = operator.get("/api/kb/articles").json()["articles"][0]

    def history() -> list[str]:
        return queries(
            lambda uow, op: customers.customer_history(uow.session, op, customer_id),
            operator.token,
            read=True,
        )

    finished_attendance(service, operator, customer_id, "primeira", article["id"])
    one = history()
    for text in ("segunda", "terceira", "quarta"):
        finished_attendance(service, operator, customer_id, text, article["id"])
    # The customer, the operator's rooms, the attendances, then their
    # operators, messages, registrations, holds and surveys: one query each.
    assert len(history()) == len(one) <= SESSION_LOOKUP + 8
