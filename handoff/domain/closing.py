"""The closing flow towards the customer: an outbox job written with the
attendance's end, done by Rasa once every message before it went out."""

from __future__ import annotations

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain import surveys
from handoff.models import Attendance, utcnow

# The outbox job kind of a closing flow (handoff/desk.py).
CLOSING = "closing"
# Why an attendance ended, when its status alone does not say which closing
# message the customer gets: they left it themselves (handoff/domain/leaving.py).
CUSTOMER_LEFT = "customer_left"


def queue_closing(uow: UnitOfWork, attendance: Attendance, reason: str | None = None) -> None:
    """Let Rasa's closing flow speak (protocol and closing message, Z3) once
    every operator message before it reached the customer; a finished
    attendance of a room that asks for the survey asks it after them."""
    payload: dict[str, object] = {
        "attendance_id": attendance.id,
        "conversation_id": attendance.conversation_id,
        "status": attendance.status,
        "protocol": attendance.protocol,
    }
    if reason is not None:
        payload["reason"] = reason
    elif surveys.ask(uow, attendance):
        payload["survey"] = True
    outbox.enqueue(
        uow,
        kind=CLOSING,
        key=outbox.to_customer(attendance.conversation_id),
        payload=payload,
        dedup=f"closing:{attendance.id}",
    )


def mark_closing_sent(uow: UnitOfWork, attendance_id: int) -> None:
    """Rasa accepted the closing flow of an ended attendance."""
    attendance = uow.session.get(Attendance, attendance_id)
    if attendance is not None and attendance.closing_sent_at is None:
        attendance.closing_sent_at = utcnow()
