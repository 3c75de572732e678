"""An operator passes their active attendance on (capability 1 of issue 19):
to another room's queue, or straight to a named operator (available, of
the target room, within their limit), with a note the next operator sees.

Transfer to an operator reassigns at once, as Chatwoot does: the call is
on their console as theirs and rings there (no offer to accept). Transfer
to a room puts the call back in that room's queue in its arrival place
(every console of the room rings; an automatic room gives it out at once).
The customer is told through the same outbound path as operator messages;
the note is a private note (the customer never sees it); the history keeps
each operator's hold (``handoff/domain/holds.py``).

Not to be confused with ``transfers.py``: the bot's hand-over to a human.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain import audiences
from handoff.domain.access import own_attendance
from handoff.domain.assignment import active_count, offer_to, serialise
from handoff.domain.attendances import put_back_in_queue, queue_or_assign
from handoff.domain.audit import audit
from handoff.domain.conversation import queue_delivery
from handoff.domain.errors import Conflict, Invalid, NotFound
from handoff.domain.holds import begin_hold, end_hold
from handoff.domain.views import attendance_view, audience, message_view
from handoff.models import (
    ACTIVE,
    AVAILABLE,
    FROM_BOT,
    HOLD_TRANSFERRED,
    NOTE,
    PENDING,
    Attendance,
    Message,
    Operator,
    OperatorRoom,
    Room,
    utcnow,
)

# What the customer reads, on the widget and on WhatsApp.
CUSTOMER_NOTICE = "Você foi transferido(a) para outro atendente. Aguarde um momento, por favor."
MAX_NOTE = 2000
NO_ROOM = "Sala não encontrada."


def transfer_targets(session: Session, operator: Operator, attendance_id: Any) -> dict[str, Any]:
    """Where the operator may pass their attendance: every room, each with
    its operators who could take it now (available, activated for chat,
    below their limit; not the operator themself)."""
    attendance = own_attendance(session, operator, attendance_id)
    rooms = session.scalars(select(Room).order_by(Room.name)).all()
    links = session.execute(
        select(OperatorRoom.room_id, Operator)
        .join(Operator, Operator.id == OperatorRoom.operator_id)
        .where(
            Operator.active,
            Operator.active_for_chat,
            Operator.status == AVAILABLE,
            Operator.id != operator.id,
        )
        .order_by(Operator.name)
    ).all()
    free = {op.id for _room, op in links if active_count(session, op.id) < op.max_concurrent}
    return {
        "room_id": attendance.room_id,
        "rooms": [
            {
                "id": room.id,
                "name": room.name,
                "operators": [
                    {"id": op.id, "name": op.name}
                    for room_id, op in links
                    if room_id == room.id and op.id in free
                ],
            }
            for room in rooms
        ],
    }


def transfer_attendance(
    uow: UnitOfWork,
    operator: Operator,
    attendance_id: int,
    *,
    room_id: int | None = None,
    operator_id: int | None = None,
    note: str | None = None,
) -> Attendance:
    """Pass the operator's active attendance to ``operator_id`` (of
    ``room_id``, else of the attendance's room) or to ``room_id``'s queue."""
    session = uow.session
    attendance = own_attendance(session, operator, attendance_id)
    if attendance.status != ACTIVE:
        raise Conflict("Este atendimento já foi encerrado.")
    note_text = (note or "").strip() or None
    # Decided in turn with automatic assignment, before anything is written:
    # two transfers, or a transfer and a call of an automatic room, for an
    # operator's last free slot: one wins.
    serialise(session)
    room = _room(session, attendance.room_id if room_id is None else room_id)
    target = None if operator_id is None else _free_operator(session, operator_id, room)
    if target is None and room.id == attendance.room_id:
        raise Invalid("Escolha outra sala ou um operador.", field="room_id")
    if target is not None and target.id == operator.id:
        raise Invalid("Escolha outro operador.", field="operator_id")

    end_hold(session, attendance.id, HOLD_TRANSFERRED, note_text)
    audit(
        session,
        "transferred",
        operator_id=operator.id,
        attendance_id=attendance.id,
        room=room.slug,
        to_operator=target.id if target else None,
    )
    uow.notify(
        audiences.operator(operator.id), "attendance:transferred", attendance_view(attendance)
    )
    put_back_in_queue(uow, attendance)
    attendance.room_id = room.id
    if target is not None:
        now = utcnow()
        attendance.status, attendance.operator_id, attendance.taken_at = ACTIVE, target.id, now
        session.flush()
        begin_hold(session, attendance, now)
        uow.notify(
            audiences.operator(target.id), "attendance:assigned", attendance_view(attendance)
        )
    else:
        queue_or_assign(uow, attendance, exclude=operator.id)
    _tell(uow, attendance, operator, target.name if target else room.name, note_text)
    offer_to(uow, operator)
    return attendance


def _room(session: Session, room_id: int) -> Room:
    room = session.get(Room, room_id)
    if room is None:
        raise NotFound(NO_ROOM, field="room_id")
    return room


def _free_operator(session: Session, operator_id: int, room: Room) -> Operator:
    """The named operator, if they may take the call now."""
    member = session.scalar(
        select(OperatorRoom.operator_id).where(
            OperatorRoom.operator_id == operator_id, OperatorRoom.room_id == room.id
        )
    )
    target = session.get(Operator, operator_id, populate_existing=True) if member else None
    if target is None or not target.active:
        raise NotFound(f"Operador não encontrado na sala {room.name}.", field="operator_id")
    if not target.active_for_chat:
        raise Conflict(f"{target.name} não está ativado para o chat.", field="operator_id")
    if target.status != AVAILABLE:
        raise Conflict(f"{target.name} não está Disponível.", field="operator_id")
    count = active_count(session, target.id)
    if count >= target.max_concurrent:
        raise Conflict(
            f"{target.name} já está com {count} atendimentos, o máximo permitido.",
            field="operator_id",
        )
    return target


def _tell(uow: UnitOfWork, attendance: Attendance, by: Operator, to: str, note: str | None) -> None:
    """The note for the next operator, and the notice for the customer."""
    said = f"Transferido por {by.name} para {to}" + (f": {note}" if note else ".")
    handover = uuid.uuid4().hex
    for message in (
        Message(
            attendance_id=attendance.id,
            direction=NOTE,
            operator_id=by.id,
            text=said,
            dedup_key=f"transfer:{handover}",
        ),
        Message(
            attendance_id=attendance.id,
            direction=FROM_BOT,
            text=CUSTOMER_NOTICE,
            dedup_key=f"transfer-notice:{handover}",
            delivery=PENDING,
        ),
    ):
        uow.session.add(message)
        uow.session.flush()
        uow.notify(audience(attendance), "message:new", message_view(message))
    queue_delivery(uow, message, attendance.conversation_id)
