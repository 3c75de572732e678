"""A customer who gives up (issue 20, item 5): "desistir" or "sair da fila"
typed while waiting in the queue, or the widget's "Encerrar conversa"
(confirmed; its message carries the metadata ``leave_conversation: true``)
at any time of the attendance. The attendance ends as abandoned, with the
time the customer waited; operators' lists drop it at once and Rasa tells
the customer (``EXTERNAL_customer_left``)."""

from __future__ import annotations

import re

from handoff.db import UnitOfWork
from handoff.domain.access import move_attendance
from handoff.domain.assignment import release_operator
from handoff.domain.audit import audit
from handoff.domain.brazil import search_key
from handoff.domain.closing import CUSTOMER_LEFT, queue_closing
from handoff.domain.views import attendance_view, audience, seconds_between
from handoff.models import ABANDONED, ACTIVE, QUEUED, Attendance, utcnow

# What a waiting customer types to give up: the whole message, in any case,
# with or without accents and punctuation ("Quero sair da fila!"). A
# sentence that merely contains a word ("não vou desistir") is a message.
LEAVE_PHRASES = frozenset(
    {"desistir", "desisto", "sair", "sair da fila", "quero sair da fila", "encerrar conversa"}
)


def wants_to_leave(status: str, text: str, control: bool) -> bool:
    """Whether this customer message ends an attendance in ``status``: the
    widget's control while queued or active, a leave phrase while queued."""
    if control:
        return status in (QUEUED, ACTIVE)
    if status != QUEUED:
        return False
    words = re.sub(r"[^a-z0-9]+", " ", search_key(text)).split()
    return " ".join(words) in LEAVE_PHRASES


def leave(uow: UnitOfWork, attendance: Attendance) -> None:
    """End the attendance as the customer asked: abandoned, with the time
    they waited (queue to leaving, or to the take) in the audit log."""
    now = utcnow()
    if not move_attendance(
        uow.session, attendance.id, attendance.status, status=ABANDONED, ended_at=now
    ):
        return  # an operator took or ended it meanwhile: the message stays a message
    uow.session.refresh(attendance)
    waited = seconds_between(attendance.queued_at, attendance.taken_at or now)
    audit(
        uow.session,
        "left",
        operator_id=attendance.operator_id,
        attendance_id=attendance.id,
        waited_seconds=waited,
    )
    queue_closing(uow, attendance, CUSTOMER_LEFT)
    release_operator(uow, attendance, ABANDONED)
    view = {**attendance_view(attendance), "reason": CUSTOMER_LEFT, "waited_seconds": waited}
    uow.notify(audience(attendance), "attendance:ended", view)
