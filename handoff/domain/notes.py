"""Private notes in an attendance: written by its operator or a supervisor,
seen by operators and supervisors (Conversa, the protocol record, the
customer's history), never by the customer.

A note is a message row with direction ``note``, so it sits in the
conversation's order; it gets no delivery and no outbox job, so nothing
ever hands it to Rasa, and the widget's history (read from Rasa's tracker)
cannot hold it. It gives no protocol and is no first response.
"""

from __future__ import annotations

from sqlalchemy import select

from handoff.db import UnitOfWork
from handoff.domain.access import own_attendance
from handoff.domain.audit import audit
from handoff.domain.views import audience, message_view
from handoff.models import NOTE, Message, Operator


def add_note(
    uow: UnitOfWork, operator: Operator, attendance_id: int, text: str, client_id: str
) -> tuple[Message, bool]:
    """Store a private note (``text`` stripped); a retry with the same
    ``client_id`` returns the stored one. Returns the note and whether it is new."""
    session = uow.session
    attendance = own_attendance(session, operator, attendance_id, supervisors_too=True)
    dedup_key = f"note:{operator.id}:{client_id}"
    existing = session.scalar(
        select(Message).where(
            Message.attendance_id == attendance.id, Message.dedup_key == dedup_key
        )
    )
    if existing is not None:
        return existing, False
    note = Message(
        attendance_id=attendance.id,
        direction=NOTE,
        operator_id=operator.id,
        text=text.strip(),
        dedup_key=dedup_key,
    )
    session.add(note)
    session.flush()
    audit(session, "note_added", operator_id=operator.id, attendance_id=attendance.id)
    uow.notify(audience(attendance), "message:new", message_view(note))
    return note, True
