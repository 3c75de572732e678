"""Attendances: opening, the queue, taking a call, ending (O2, O13),
abandonment by a silent customer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from handoff.db import UnitOfWork
from handoff.domain import audiences, demands
from handoff.domain.access import (
    attendance_for,
    move_attendance,
    open_attendance_of,
    own_attendance,
)
from handoff.domain.admin import room_for_entry_point
from handoff.domain.assignment import active_count, assign, release_operator
from handoff.domain.audit import audit
from handoff.domain.brazil import phone_e164
from handoff.domain.closing import queue_closing
from handoff.domain.conversation import store_customer_message
from handoff.domain.errors import Conflict, Forbidden, Invalid, NotFound
from handoff.domain.holds import begin_hold, end_hold
from handoff.domain.operators import is_supervisor, room_ids
from handoff.domain.protocols import give_protocol
from handoff.domain.queue_notices import positions
from handoff.domain.said import CustomerSaid
from handoff.domain.subjects import Classification
from handoff.domain.transfers import forget_transfer
from handoff.domain.views import attendance_view, audience, required_text
from handoff.domain.whatsapp_templates import Template
from handoff.models import (
    ABANDONED,
    ACTIVE,
    AVAILABLE,
    CANCELLED,
    DELIVERED,
    FINISHED,
    FROM_CUSTOMER,
    FROM_OPERATOR,
    HOLD_REQUEUED,
    QUEUED,
    READ,
    SENT,
    Attendance,
    Customer,
    Message,
    Operator,
    Room,
    utcnow,
)


def open_attendance(
    uow: UnitOfWork,
    *,
    conversation_id: Any,
    channel: Any,
    room: Any = None,
    default_room: str,
    entry_point: dict[str, Any] | None = None,
    contact: dict[str, Any] | None = None,
    first_message: CustomerSaid | None = None,
) -> tuple[Attendance, bool]:
    """Queue an attendance for a conversation, or return its open one.

    Returns the attendance and whether it was created now. Asking twice
    (a retried action) never queues the conversation twice.
    """
    conversation_id = required_text(conversation_id, "conversation_id", 255)
    channel = required_text(channel, "channel", 32)
    contact = contact or {}
    session = uow.session
    room_row = _choose_room(session, room, entry_point, default_room)
    existing = open_attendance_of(session, conversation_id)
    if existing is not None:
        return existing, False
    attendance = Attendance(
        conversation_id=conversation_id,
        channel=channel,
        room_id=room_row.id,
        status=QUEUED,
        contact_name=_optional(contact, "name", 200),
        contact_email=_optional(contact, "email", 254),
        contact_phone=_optional(contact, "phone", 20),
        contact_user_id=_optional(contact, "whatsapp_user_id", 140),
        contact_username=_optional(contact, "username", 64),
    )
    attendance.customer_id = _customer_with_phone(session, attendance.contact_phone)
    try:
        with session.begin_nested():
            session.add(attendance)
    except IntegrityError:
        # Another request queued this conversation a moment ago.
        existing = open_attendance_of(session, conversation_id)
        assert existing is not None
        return existing, False
    audit(session, "queued", attendance_id=attendance.id, room=room_row.slug, channel=channel)
    forget_transfer(session, conversation_id)
    queue_or_assign(uow, attendance)
    if first_message:
        store_customer_message(uow, attendance, first_message)
    return attendance, True


def _choose_room(session: Session, room: Any, entry_point: Any, default_room: str) -> Room:
    """The room named by the caller, else the one routed for the entry point
    (widget key, WhatsApp number), else the default room."""
    if room is not None:
        slug = required_text(room, "room", 64)
        found = session.scalar(select(Room).where(Room.slug == slug))
        if found is None:
            raise NotFound("unknown room")  # the request is never echoed
        return found
    if isinstance(entry_point, dict):
        routed = room_for_entry_point(session, entry_point.get("kind"), entry_point.get("key"))
        if routed is not None:
            return routed
    found = session.scalar(select(Room).where(Room.slug == default_room))
    if found is None:
        raise NotFound(f"unknown room '{default_room}'")
    return found


def _customer_with_phone(session: Session, phone: str | None) -> int | None:
    """The id of the one customer with this phone (WhatsApp attendances)."""
    normalised = phone_e164(phone) if phone else None
    if normalised is None:
        return None
    return session.scalar(select(Customer.id).where(Customer.phone == normalised))


def _optional(data: dict[str, Any], key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    return required_text(value, key, limit).strip()


def _latest_messages(*conditions: Any) -> Subquery:
    """Per attendance, the id of its last customer or operator message."""
    return (
        select(Message.attendance_id, func.max(Message.id).label("last_id"))
        .where(Message.direction.in_((FROM_CUSTOMER, FROM_OPERATOR)), *conditions)
        .group_by(Message.attendance_id)
        .subquery()
    )


def _last_texts(session: Session, attendance_ids: list[int]) -> dict[int, str]:
    if not attendance_ids:
        return {}
    latest = _latest_messages(Message.attendance_id.in_(attendance_ids))
    rows = session.execute(
        select(Message.attendance_id, Message.text).join(latest, Message.id == latest.c.last_id)
    )
    return {attendance_id: text for attendance_id, text in rows}


def operator_attendances(session: Session, operator: Operator) -> dict[str, list[dict[str, Any]]]:
    """The queue of the operator's rooms (oldest first) and their own calls,
    each with the text of its last customer or operator message."""
    rooms = room_ids(session, operator)
    queued = session.scalars(
        select(Attendance)
        .where(Attendance.status == QUEUED, Attendance.room_id.in_(rooms))
        .order_by(Attendance.queued_at, Attendance.id)
    ).all()
    mine = session.scalars(
        select(Attendance)
        .where(Attendance.status == ACTIVE, Attendance.operator_id == operator.id)
        .order_by(Attendance.taken_at)
    ).all()
    texts = _last_texts(session, [a.id for a in (*queued, *mine)])
    places = {
        a.id: {"position": position, "estimated_minutes": minutes}
        for room_id in rooms
        for a, position, minutes in positions(
            session, room_id, [q for q in queued if q.room_id == room_id]
        )
    }

    def view(attendance: Attendance) -> dict[str, Any]:
        place = places.get(attendance.id, {})
        return {**attendance_view(attendance), "last_message": texts.get(attendance.id), **place}

    return {"queued": [view(a) for a in queued], "active": [view(a) for a in mine]}


def is_queued(session: Session, attendance_id: int) -> bool:
    status = session.scalar(select(Attendance.status).where(Attendance.id == attendance_id))
    return status == QUEUED


def active_attendance_of(session: Session, operator: Operator, attendance_id: int) -> Attendance:
    """The operator's own attendance, in progress (Conflict once it ended)."""
    attendance = own_attendance(session, operator, attendance_id)
    if attendance.status != ACTIVE:
        raise Conflict("Este atendimento já foi encerrado.")
    return attendance


def take_attendance(uow: UnitOfWork, operator: Operator, attendance_id: int) -> Attendance:
    """Give a queued attendance to this operator; exactly one taker wins (O2)."""
    session = uow.session
    if not operator.active_for_chat:
        raise Forbidden("Operador não está ativado para o chat.")
    if operator.status != AVAILABLE:
        raise Conflict("Fique Disponível para atender.")
    attendance = attendance_for(session, operator, attendance_id)
    if attendance.status == ACTIVE and attendance.operator_id == operator.id:
        return attendance
    count = active_count(session, operator.id)
    if count >= operator.max_concurrent:
        raise Conflict(f"Você já está com {count} atendimentos, o máximo permitido.")
    now = utcnow()
    taken = move_attendance(
        session, attendance.id, QUEUED, status=ACTIVE, operator_id=operator.id, taken_at=now
    )
    if not taken:
        raise Conflict("Este atendimento já foi assumido por outro operador.")
    session.refresh(attendance)
    begin_hold(session, attendance, now)
    audit(session, "taken", operator_id=operator.id, attendance_id=attendance.id)
    view = attendance_view(attendance)
    uow.notify(audiences.room(attendance.room_id), "attendance:taken", view)
    return attendance


def end_attendance(
    uow: UnitOfWork,
    operator: Operator,
    attendance_id: int,
    outcome: str,
    classified: Classification | None = None,
    marked: demands.Pending | None = None,
    closing_template: Template | None = None,
) -> tuple[Attendance, bool]:
    """Finish or cancel an attendance (O13). Idempotent.

    A finished attendance always has a protocol, so the customer can be
    given one (Z3), and keeps the subject and comment chosen on Finalizar
    (``classified``); it may end as a pending demand (``marked``); on
    WhatsApp outside the 24-hour window the protocol goes as the
    ``closing_template``. Returns the attendance and whether it changed now.
    """
    if outcome not in (FINISHED, CANCELLED):
        raise Invalid("outcome must be finished or cancelled")
    attendance = own_attendance(uow.session, operator, attendance_id, supervisors_too=True)
    if attendance.status == outcome:
        return attendance, False
    # A supervisor may close a call nobody took (the customer left): it then
    # counts as abandoned in the reports.
    closing_queued = (
        attendance.status == QUEUED and outcome == CANCELLED and is_supervisor(operator)
    )
    if attendance.status != ACTIVE and not closing_queued:
        raise Conflict("Este atendimento já foi encerrado.")
    if outcome == FINISHED and attendance.protocol is None:
        give_protocol(uow, attendance, announce=False)
    attendance.status = outcome
    attendance.ended_at = utcnow()
    if outcome == FINISHED and classified is not None:
        attendance.subject, attendance.closing_comment = classified.subject, classified.comment
    audit(uow.session, outcome, operator_id=operator.id, attendance_id=attendance.id)
    queue_closing(uow, attendance)
    if outcome == FINISHED:
        demands.after_end(uow, operator, attendance, marked, closing_template)
    uow.notify(audience(attendance), "attendance:ended", attendance_view(attendance))
    release_operator(uow, attendance, outcome)
    return attendance, True


def abandon_silent_attendances(uow: UnitOfWork, silence: timedelta) -> list[Attendance]:
    """Close as abandoned the active attendances whose customer has said
    nothing for ``silence`` since the operator's last message reached them
    (the last customer or operator message is the operator's, sent).

    The operator's slot is freed at once (only active attendances count
    towards their maximum); each one gets a protocol for the customer's
    notice. Safe with several processes: one conditional update per row.
    """
    session = uow.session
    latest = _latest_messages()
    silent = session.scalars(
        select(Attendance)
        .join(latest, latest.c.attendance_id == Attendance.id)
        .join(Message, Message.id == latest.c.last_id)
        .where(
            Attendance.status == ACTIVE,
            Message.direction == FROM_OPERATOR,
            Message.delivery.in_((SENT, DELIVERED, READ)),
            Message.created_at < utcnow() - silence,
        )
    ).all()
    abandoned = []
    for attendance in silent:
        if not move_attendance(session, attendance.id, ACTIVE, status=ABANDONED, ended_at=utcnow()):
            continue  # the operator or another process ended it meanwhile
        session.refresh(attendance)
        if attendance.protocol is None:
            give_protocol(uow, attendance, announce=False)
        audit(session, ABANDONED, operator_id=attendance.operator_id, attendance_id=attendance.id)
        queue_closing(uow, attendance)
        uow.notify(audience(attendance), "attendance:ended", attendance_view(attendance))
        release_operator(uow, attendance, ABANDONED)
        abandoned.append(attendance)
    return abandoned


def requeue_attendances_of(uow: UnitOfWork, operator_id: int) -> list[int]:
    """Put an absent operator's active attendances back at the head of their queue.

    They keep their place in arrival order (``queued_at`` is unchanged).
    Times are per operator hold: the next operator's take and first
    response start afresh.
    """
    attendances = uow.session.scalars(
        select(Attendance).where(Attendance.operator_id == operator_id, Attendance.status == ACTIVE)
    ).all()
    for attendance in attendances:
        end_hold(uow.session, attendance.id, HOLD_REQUEUED)
        put_back_in_queue(uow, attendance)
        audit(uow.session, "requeued", operator_id=operator_id, attendance_id=attendance.id)
        uow.notify(
            audiences.operator(operator_id), "attendance:requeued", attendance_view(attendance)
        )
        queue_or_assign(uow, attendance, exclude=operator_id)
    return [a.id for a in attendances]


def put_back_in_queue(uow: UnitOfWork, attendance: Attendance) -> None:
    """No operator holds it any more. Times are per operator hold: the next
    operator's take and first response start afresh."""
    attendance.status, attendance.operator_id, attendance.taken_at = QUEUED, None, None
    attendance.first_response_at = None
    uow.session.flush()


def queue_or_assign(uow: UnitOfWork, attendance: Attendance, exclude: int | None = None) -> None:
    """A call back in its room's queue: given to an operator at once in an
    automatic room, else the room's consoles ring."""
    if not assign(uow, attendance, exclude=exclude):
        uow.notify(
            audiences.room(attendance.room_id), "attendance:queued", attendance_view(attendance)
        )


def operators_with_active(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Attendance.operator_id).where(Attendance.status == ACTIVE).distinct()
        )
    )
