"""A customer who gives up leaves the queue (issue 20, item 5): the rule for
what counts as giving up, and what the service does with it."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from handoff.db import Database
from handoff.domain.leaving import wants_to_leave
from handoff.models import ACTIVE, QUEUED, AuditLog, OutboxJob
from handoff.rasa_events import LEAVE_METADATA, customer_said
from tests.support.api import Client, open_attendance, post_rasa_events


def user(conversation_id: str, message_id: str, text: str, **metadata: object) -> dict:
    return {
        "event": "user",
        "sender_id": conversation_id,
        "message_id": message_id,
        "text": text,
        "timestamp": time.time(),
        "metadata": metadata,
    }


def test_what_counts_as_giving_up():
    for text in ("desistir", "Quero sair da fila!", "  SAIR DA FILA ", "Desisto.", "sair"):
        assert wants_to_leave(QUEUED, text, False), text
    for text in ("não vou desistir", "quero sair da fila de IPTU amanhã", ""):
        assert not wants_to_leave(QUEUED, text, False), text
    # Typed words only while waiting: with an operator, "desistir" is a message.
    assert not wants_to_leave(ACTIVE, "desistir", False)
    # The widget's "Encerrar conversa" (its metadata), while queued or active.
    assert wants_to_leave(ACTIVE, "Encerrar conversa", True)
    assert wants_to_leave(QUEUED, "qualquer", True)
    assert not wants_to_leave("finished", "desistir", True)
    # The widget's control is the metadata flag, exactly true.
    said = customer_said({"message_id": "m", "text": "oi", "metadata": {LEAVE_METADATA: "yes"}})
    assert said is not None and not said.leaving
    said = customer_said({"message_id": "m", "text": "oi", "metadata": {LEAVE_METADATA: True}})
    assert said is not None and said.leaving


def test_a_customer_who_gives_up_leaves_the_queue(service, operator: Client, console):
    desk = console(operator)
    call = open_attendance(service, contact={"name": "Téo"})
    conversation = call["conversation_id"]
    batch = [user(conversation, "u-1", "ainda estou aqui"), user(conversation, "u-2", "Desistir!")]
    assert post_rasa_events(service.base_url, batch).json() == {"stored": 2}
    ended = desk.next("attendance:ended", id=call["id"])
    assert ended["status"] == "abandoned" and ended["reason"] == "customer_left"
    assert ended["waited_seconds"] >= 0
    assert desk.call("attendances:list", False)["queued"] == []
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        (closing,) = uow.session.scalars(
            select(OutboxJob.payload).where(OutboxJob.kind == "closing")
        )
        (left,) = uow.session.scalars(select(AuditLog.details).where(AuditLog.action == "left"))
    db.dispose()
    assert json.loads(closing)["reason"] == "customer_left"
    assert json.loads(closing)["status"] == "abandoned"
    assert json.loads(left)["waited_seconds"] >= 0
    # The customer's words after leaving belong to the bot: no attendance is open.
    later = [user(conversation, "u-3", "desistir")]
    assert post_rasa_events(service.base_url, later).json() == {"stored": 0}


def test_the_widget_control_ends_an_attendance_in_progress(service, operator: Client, console):
    desk = console(operator)
    call = open_attendance(service, contact={"name": "Bia"})
    operator.take(call["id"])
    conversation = call["conversation_id"]
    typed = [user(conversation, "u-1", "desistir")]
    assert post_rasa_events(service.base_url, typed).json() == {"stored": 1}
    assert [a["id"] for a in desk.call("attendances:list", False)["active"]] == [call["id"]]
    control = [user(conversation, "u-2", "Encerrar conversa", leave_conversation=True)]
    assert post_rasa_events(service.base_url, control).json() == {"stored": 1}
    ended = desk.next("attendance:ended", id=call["id"])
    assert (ended["status"], ended["operator_id"]) == ("abandoned", operator.operator["id"])
    assert desk.call("attendances:list", False)["active"] == []
