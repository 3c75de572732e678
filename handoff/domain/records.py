"""Reading an attendance whole: summary (O12), protocol lookup, history rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.access import attendance_for
from handoff.domain.audit import audit
from handoff.domain.errors import NotFound
from handoff.domain.holds import holds_of
from handoff.domain.operators import room_ids
from handoff.domain.surveys import survey_view, surveys_of
from handoff.domain.views import attendance_view, message_view, seconds_between
from handoff.models import (
    NOTE,
    Attendance,
    Customer,
    KbArticle,
    Message,
    Operator,
    Registration,
    utcnow,
)


def _seconds(start: Any, end: Any) -> float | None:
    seconds = seconds_between(start, end)
    return None if seconds is None else round(seconds, 1)


def attendance_summary(session: Session, operator: Operator, attendance_id: Any) -> dict[str, Any]:
    """Customer, protocol, times and the information given (O12)."""
    attendance = attendance_for(session, operator, attendance_id)
    customer = session.get(Customer, attendance.customer_id) if attendance.customer_id else None
    handler = session.get(Operator, attendance.operator_id) if attendance.operator_id else None
    message_count = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.attendance_id == attendance.id, Message.direction != NOTE)
    )
    now = utcnow()
    started = attendance.taken_at
    return {
        "attendance": attendance_view(attendance),
        "customer": {"id": customer.id, "name": customer.name, "phone": customer.phone}
        if customer
        else None,
        "operator_name": handler.name if handler else None,
        "waiting_seconds": _seconds(attendance.queued_at, started or attendance.ended_at or now),
        "first_response_seconds": _seconds(started, attendance.first_response_at),
        "duration_seconds": _seconds(started, attendance.ended_at or now),
        "registrations": _registrations(session, [attendance.id]).get(attendance.id, []),
        "message_count": message_count,
    }


def find_by_protocol(session: Session, operator: Operator | None, protocol: Any) -> dict[str, Any]:
    """The whole attendance with this protocol. An operator sees those of
    their rooms; ``operator=None`` (supervision) sees any."""
    number = "".join(ch for ch in str(protocol) if ch.isdigit())
    attendance = session.scalar(select(Attendance).where(Attendance.protocol == number))
    if attendance is None or (
        operator is not None and attendance.room_id not in room_ids(session, operator)
    ):
        raise NotFound("Protocolo não encontrado.")
    return attendance_record(session, attendance)


def view_protocol(
    uow: UnitOfWork, viewer: Operator, protocol: Any, *, any_room: bool = False
) -> dict[str, Any]:
    """:func:`find_by_protocol` (any room for supervision), logged: who saw
    the record, when."""
    record = find_by_protocol(uow.session, None if any_room else viewer, protocol)
    audit(
        uow.session,
        "record_viewed",
        operator_id=viewer.id,
        attendance_id=record["id"],
        customer_id=record["customer_id"],
        protocol=record["protocol"],
    )
    return record


def attendance_record(session: Session, attendance: Attendance) -> dict[str, Any]:
    """An attendance with its messages and registrations, for history views."""
    return attendance_records(session, [attendance])[0]


def attendance_records(session: Session, attendances: Sequence[Attendance]) -> list[dict[str, Any]]:
    """:func:`attendance_record` of each attendance, in the same order, in
    five queries however many attendances there are; ``holds`` says which
    operator had it when (transfers, requeues)."""
    ids = [a.id for a in attendances]
    if not ids:
        return []
    operator_ids = {
        o for a in attendances for o in (a.operator_id, a.concluded_by_id) if o is not None
    }
    names = dict(
        session.execute(select(Operator.id, Operator.name).where(Operator.id.in_(operator_ids)))
        .tuples()
        .all()
    )
    messages: dict[int, list[dict[str, Any]]] = {}
    for message in session.scalars(
        select(Message)
        .where(Message.attendance_id.in_(ids))
        .order_by(Message.created_at, Message.id)
    ):
        messages.setdefault(message.attendance_id, []).append(message_view(message))
    registrations = _registrations(session, ids)
    holds = holds_of(session, ids)
    answers = surveys_of(session, ids)
    return [
        {
            **attendance_view(a),
            "operator_name": names.get(a.operator_id) if a.operator_id is not None else None,
            "concluded_by": names.get(a.concluded_by_id) if a.concluded_by_id else None,
            "messages": messages.get(a.id, []),
            "registrations": registrations.get(a.id, []),
            "holds": holds.get(a.id, []),
            "survey": survey_view(answers.get(a.id)),
        }
        for a in attendances
    ]


def _registrations(session: Session, attendance_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The articles registered in each attendance, in the order they were given."""
    rows = session.execute(
        select(
            Registration.attendance_id,
            Registration.at,
            KbArticle.id,
            KbArticle.title,
            KbArticle.category,
        )
        .join(KbArticle, KbArticle.id == Registration.article_id)
        .where(Registration.attendance_id.in_(attendance_ids))
        .order_by(Registration.at, Registration.id)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for attendance_id, at, aid, title, category in rows:
        found.setdefault(attendance_id, []).append(
            {"at": at.isoformat(), "article_id": aid, "title": title, "category": category}
        )
    return found
