"""Who held an attendance when: one row per operator's part of it (taken,
assigned or transferred to them, until it ended, was transferred on or went
back to the queue). The protocol record shows them; the reports count each
operator's part from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handoff.domain.views import iso
from handoff.models import Attendance, AttendanceHold, Operator, Room, utcnow


def begin_hold(session: Session, attendance: Attendance, at: datetime) -> None:
    """The attendance became its operator's now (``at``: its ``taken_at``)."""
    assert attendance.operator_id is not None
    session.add(
        AttendanceHold(
            attendance_id=attendance.id,
            operator_id=attendance.operator_id,
            room_id=attendance.room_id,
            started_at=at,
        )
    )


def end_hold(session: Session, attendance_id: int, outcome: str, note: str | None = None) -> None:
    """The current operator's part ends (``outcome``: the attendance's end,
    or how it left them), with the note left for the next operator."""
    session.execute(
        update(AttendanceHold)
        .where(AttendanceHold.attendance_id == attendance_id, AttendanceHold.ended_at.is_(None))
        .values(ended_at=utcnow(), outcome=outcome, transfer_note=note)
    )


def mark_first_response(session: Session, attendance_id: int, at: datetime) -> None:
    """The current operator's first message in their part."""
    session.execute(
        update(AttendanceHold)
        .where(
            AttendanceHold.attendance_id == attendance_id,
            AttendanceHold.ended_at.is_(None),
            AttendanceHold.first_response_at.is_(None),
        )
        .values(first_response_at=at)
    )


def holds_of(session: Session, attendance_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Each attendance's holds, oldest first, with the operator's and room's names."""
    rows = session.execute(
        select(AttendanceHold, Operator.name, Room.name)
        .join(Operator, Operator.id == AttendanceHold.operator_id)
        .join(Room, Room.id == AttendanceHold.room_id)
        .where(AttendanceHold.attendance_id.in_(attendance_ids))
        .order_by(AttendanceHold.started_at, AttendanceHold.id)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for hold, operator_name, room_name in rows:
        found.setdefault(hold.attendance_id, []).append(
            {
                "operator_id": hold.operator_id,
                "operator_name": operator_name,
                "room_id": hold.room_id,
                "room_name": room_name,
                "from": iso(hold.started_at),
                "to": iso(hold.ended_at),
                "first_response_at": iso(hold.first_response_at),
                "outcome": hold.outcome,
                "transfer_note": hold.transfer_note,
            }
        )
    return found
