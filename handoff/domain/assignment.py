"""Automatic assignment (a room's ``assignment`` = ``automatic``): a queued
call goes at once to the least-busy available operator of its room within
their limit (ties: the one idle longest), and rings on their console.

It runs whenever a call is queued in such a room (new, requeued,
transferred to the room) and whenever an operator of it may take one more
(available again, an attendance of theirs ended or passed on). Safe with
several processes on one database: every decision (and every transfer to a
named operator) first takes one transaction-scoped lock (PostgreSQL's
``pg_advisory_xact_lock``; SQLite already runs one writer at a time), so
decisions are made one after another, each seeing what the previous one
committed: a call queued while an operator becomes available is never left
waiting for them, and nobody passes their limit. The call itself moves with
a conditional update, as ``attendance:take`` does, so it is given once. The
lock is taken before any row the decision reads is locked by it, and rows
are only read under it (never locked for reading), so it cannot deadlock
with the row locks of other requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain import audiences
from handoff.domain.access import move_attendance
from handoff.domain.audit import audit
from handoff.domain.holds import begin_hold, end_hold
from handoff.domain.views import attendance_view
from handoff.models import (
    ACTIVE,
    AUTOMATIC,
    AVAILABLE,
    QUEUED,
    Attendance,
    AttendanceHold,
    Operator,
    OperatorRoom,
    Room,
    utcnow,
)

# Who has never held an attendance has been idle the longest.
NEVER = datetime.min
# The key of PostgreSQL's advisory lock that orders assignment decisions.
ASSIGNMENT_LOCK = 190_006


def serialise(session: Session) -> None:
    """Wait for the assignment decisions of other transactions to commit
    (PostgreSQL; SQLite's one writer at a time already does it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ASSIGNMENT_LOCK)))


def active_count(session: Session, operator_id: int) -> int:
    """The operator's active attendances (what their limit counts)."""
    return session.execute(
        select(func.count())
        .select_from(Attendance)
        .where(Attendance.operator_id == operator_id, Attendance.status == ACTIVE)
    ).scalar_one()


def _candidates(session: Session, room_id: int) -> list[int]:
    """The room's available operators below their limit, least busy first,
    then the one whose last attendance began or ended longest ago."""
    busy = (
        select(Attendance.operator_id, func.count().label("active"))
        .where(Attendance.status == ACTIVE)
        .group_by(Attendance.operator_id)
        .subquery()
    )
    last = (
        select(
            AttendanceHold.operator_id,
            func.max(AttendanceHold.started_at).label("started"),
            func.max(AttendanceHold.ended_at).label("ended"),
        )
        .group_by(AttendanceHold.operator_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Operator.id,
            Operator.max_concurrent,
            func.coalesce(busy.c.active, 0),
            last.c.started,
            last.c.ended,
        )
        .join(OperatorRoom, OperatorRoom.operator_id == Operator.id)
        .outerjoin(busy, busy.c.operator_id == Operator.id)
        .outerjoin(last, last.c.operator_id == Operator.id)
        .where(
            OperatorRoom.room_id == room_id,
            Operator.active,
            Operator.active_for_chat,
            Operator.status == AVAILABLE,
        )
    ).all()

    def idle_since(started: Any, ended: Any) -> datetime:
        moments = [_naive(m) for m in (started, ended) if m is not None]
        return max(moments, default=NEVER)

    ranked = sorted(
        (row for row in rows if row[2] < row[1]),
        key=lambda row: (row[2], idle_since(row[3], row[4]), row[0]),
    )
    return [row[0] for row in ranked]


def _naive(moment: datetime) -> datetime:
    """Aggregates come back naive on SQLite and aware on PostgreSQL; both are UTC."""
    return moment.replace(tzinfo=None)


def _if_free(session: Session, operator_id: int) -> Operator | None:
    """The operator as committed now, if they may still take one more."""
    operator = session.get(Operator, operator_id, populate_existing=True)
    if operator is None or operator.status != AVAILABLE or not operator.active_for_chat:
        return None
    if active_count(session, operator.id) >= operator.max_concurrent:
        return None
    return operator


def _give(uow: UnitOfWork, attendance: Attendance, operator: Operator) -> bool:
    """Make a still-queued call the operator's; whether it was still queued."""
    session = uow.session
    now = utcnow()
    if not move_attendance(
        session, attendance.id, QUEUED, status=ACTIVE, operator_id=operator.id, taken_at=now
    ):
        return False
    session.refresh(attendance)
    begin_hold(session, attendance, now)
    audit(session, "assigned", operator_id=operator.id, attendance_id=attendance.id)
    view = attendance_view(attendance)
    uow.notify(audiences.room(attendance.room_id), "attendance:taken", view)
    uow.notify(audiences.operator(operator.id), "attendance:assigned", view)
    return True


def is_automatic(session: Session, room_id: int) -> bool:
    return session.scalar(select(Room.assignment).where(Room.id == room_id)) == AUTOMATIC


def assign(uow: UnitOfWork, attendance: Attendance, exclude: int | None = None) -> bool:
    """Give a queued call of an automatic room to the least-busy available
    operator of the room (not ``exclude``: the one it just left); whether it
    was given (else it waits in the queue)."""
    session = uow.session
    if attendance.status != QUEUED or not is_automatic(session, attendance.room_id):
        return False
    serialise(session)
    for operator_id in _candidates(session, attendance.room_id):
        if operator_id == exclude:
            continue
        operator = _if_free(session, operator_id)
        if operator is not None:
            return _give(uow, attendance, operator)
    return False


def assign_waiting(uow: UnitOfWork, room_ids: Iterable[int]) -> list[int]:
    """In each automatic room among ``room_ids``, give the waiting calls,
    oldest first, while someone may take them; the ids given."""
    session = uow.session
    automatic = session.scalars(
        select(Room.id).where(Room.id.in_(list(room_ids)), Room.assignment == AUTOMATIC)
    ).all()
    if automatic:
        serialise(session)
    given = []
    for room_id in automatic:
        waiting = session.scalars(
            select(Attendance)
            .where(Attendance.room_id == room_id, Attendance.status == QUEUED)
            .order_by(Attendance.queued_at, Attendance.id)
        ).all()
        for attendance in waiting:
            if not assign(uow, attendance):
                break  # nobody free in this room
            given.append(attendance.id)
    return given


def offer_to(uow: UnitOfWork, operator: Operator) -> list[int]:
    """The operator may take one more (available again, or one of theirs
    ended or passed on): the calls waiting in their automatic rooms go out."""
    if operator.status != AVAILABLE or not operator.active_for_chat:
        return []
    rooms = uow.session.scalars(
        select(OperatorRoom.room_id).where(OperatorRoom.operator_id == operator.id)
    ).all()
    return assign_waiting(uow, rooms)


def release_operator(uow: UnitOfWork, attendance: Attendance, outcome: str) -> None:
    """The attendance stopped being its operator's (``outcome``): their part
    ends, and they may take one more call of an automatic room."""
    if attendance.operator_id is None:
        return
    end_hold(uow.session, attendance.id, outcome)
    holder = uow.session.get(Operator, attendance.operator_id)
    if holder is not None:
        offer_to(uow, holder)
