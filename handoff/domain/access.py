"""Access helpers: every lookup on behalf of an operator goes through these."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from handoff.domain.errors import Forbidden, NotFound
from handoff.domain.operators import is_supervisor, room_ids
from handoff.models import OPEN_STATES, Attendance, Operator

# Row ids fit in 64 bits: a longer number names no row (and SQLite cannot
# even bind it: OverflowError, a 500).
MAX_ID = 2**63 - 1


def is_row_id(value: Any) -> bool:
    """Whether ``value`` can name a row: an integer (not a bool) of 64 bits."""
    return type(value) is int and -MAX_ID - 1 <= value <= MAX_ID


def attendance_for(session: Session, operator: Operator, attendance_id: Any) -> Attendance:
    """An attendance of one of the operator's rooms; NotFound otherwise."""
    attendance = session.get(Attendance, attendance_id) if is_row_id(attendance_id) else None
    if attendance is None or attendance.room_id not in room_ids(session, operator):
        raise NotFound("Atendimento não encontrado.")
    return attendance


def own_attendance(
    session: Session, operator: Operator, attendance_id: Any, supervisors_too: bool = False
) -> Attendance:
    """An attendance this operator is handling (or handled); with
    ``supervisors_too``, a supervisor of its room may act on it as well."""
    attendance = attendance_for(session, operator, attendance_id)
    if attendance.operator_id != operator.id and not (supervisors_too and is_supervisor(operator)):
        raise Forbidden("Este atendimento é de outro operador.")
    return attendance


def open_attendance_of(session: Session, conversation_id: str) -> Attendance | None:
    return session.scalar(
        select(Attendance).where(
            Attendance.conversation_id == conversation_id,
            Attendance.status.in_(OPEN_STATES),
        )
    )


def move_attendance(session: Session, attendance_id: int, current: str, **values: Any) -> bool:
    """Change the attendance only if it is still ``current`` (another
    operator or process may have moved it meanwhile); whether it did."""
    result = session.execute(
        update(Attendance)
        .where(Attendance.id == attendance_id, Attendance.status == current)
        .values(**values)
    )
    return cast("CursorResult[Any]", result).rowcount == 1
