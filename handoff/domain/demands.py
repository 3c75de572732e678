"""Pending demands (Decreto 11.034/2022 art. 13: demands answered within 7
calendar days). An attendance may end as "pendente" with a due date and
what is pending; supervisors see what is due and late; concluding one
records the answer and tells the customer on their channel (on WhatsApp
outside the 24-hour window, through the ``demand_concluded`` template).

The service's own messages to the customer here (the pending notice, the
closing template, the conclusion notice) are stored as messages of the
attendance in the name of the operator who acted, and go out through the
outbox as operator messages do, with their delivery states.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain import whatsapp_templates
from handoff.domain.access import attendance_for
from handoff.domain.audit import audit
from handoff.domain.conversation import WHATSAPP, queue_delivery, whatsapp_window_open
from handoff.domain.errors import Conflict, Invalid
from handoff.domain.operators import room_ids
from handoff.domain.ready_replies import customer_name
from handoff.domain.views import iso
from handoff.domain.whatsapp_templates import Template
from handoff.models import (
    FINISHED,
    FROM_OPERATOR,
    PENDING,
    Attendance,
    Message,
    Operator,
    Room,
    utcnow,
)
from handoff.settings import MAX_MESSAGE_LENGTH

log = logging.getLogger(__name__)
# Art. 13: the answer within 7 calendar days.
DAYS_TO_ANSWER = 7
MAX_REASON = 2000


@dataclass(frozen=True)
class Asked:
    """A Finalizar's "pendente" as the operator filled it in (:func:`pending` checks it)."""

    until: str | None
    reason: str | None


@dataclass(frozen=True)
class Pending:
    """An attendance ended as "pendente": until when, and what is pending."""

    until: date
    reason: str


def default_due(today: date) -> date:
    return today + timedelta(days=DAYS_TO_ANSWER)


def pending(until: str | None, reason: str | None, today: date) -> Pending:
    """The operator's "pendente": a date (``YYYY-MM-DD``, not before today)
    and the reason; pt-BR errors."""
    if until is None:
        raise Invalid("Informe o prazo da pendência (data).", field="pending_until")
    try:
        due = date.fromisoformat(until)
    except ValueError as error:
        raise Invalid(
            "Prazo inválido: use uma data (AAAA-MM-DD).", field="pending_until"
        ) from error
    if due < today:
        raise Invalid("O prazo não pode estar no passado.", field="pending_until")
    if reason is None or not reason.strip():
        raise Invalid("Descreva o que está pendente.", field="pending_reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"A descrição passa de {MAX_REASON} caracteres.", field="pending_reason")
    return Pending(due, reason.strip())


def dated(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def after_end(
    uow: UnitOfWork,
    operator: Operator,
    attendance: Attendance,
    marked: Pending | None,
    closing_template: Template | None,
) -> None:
    """What follows a Finalizar besides Rasa's closing flow: outside the
    24-hour window on WhatsApp the protocol goes as the closing template;
    a pending demand is recorded and the customer told until when."""
    window_open = attendance.channel != WHATSAPP or whatsapp_window_open(
        uow.session, attendance.conversation_id, utcnow()
    )
    if not window_open and closing_template is not None:
        parameters = _parameters(uow.session, attendance, closing_template, "")
        _tell(uow, operator, attendance, "closing", closing_template, parameters)
    if marked is None:
        return
    attendance.pending_until, attendance.pending_reason = marked.until, marked.reason
    audit(
        uow.session,
        "pending",
        operator_id=operator.id,
        attendance_id=attendance.id,
        until=marked.until.isoformat(),
    )
    if window_open:
        text = (
            f"Sua demanda ficou pendente e será respondida até {dated(marked.until)}. "
            f"Guarde o número do protocolo: {attendance.protocol}."
        )
        _tell(uow, operator, attendance, "pending", text=text)


def _parameters(
    session: Session, attendance: Attendance, template: Template, text: str
) -> list[str]:
    """A service template's parameters: the customer's name, the protocol,
    and ``text`` for a free one."""
    values = {
        whatsapp_templates.CUSTOMER: customer_name(session, attendance) or "cidadão",
        whatsapp_templates.PROTOCOL: attendance.protocol or "",
        whatsapp_templates.FREE_TEXT: text or "-",
    }
    return [values[source] for source in template.parameters]


def _tell(
    uow: UnitOfWork,
    operator: Operator,
    attendance: Attendance,
    key: str,
    template: Template | None = None,
    parameters: list[str] | None = None,
    text: str = "",
) -> Message:
    """Store a message of the service to the customer (once per attendance
    and ``key``) and queue its delivery."""
    sent_template = None
    if template is not None:
        text, sent_template = whatsapp_templates.fill(template, parameters or [])
    message = Message(
        attendance_id=attendance.id,
        direction=FROM_OPERATOR,
        operator_id=operator.id,
        text=text[:MAX_MESSAGE_LENGTH],
        dedup_key=f"{key}:{attendance.id}",
        delivery=PENDING,
        template=sent_template,
        created_at=utcnow(),
    )
    uow.session.add(message)
    uow.session.flush()
    queue_delivery(uow, message, attendance.conversation_id)
    return message


def demand_view(attendance: Attendance, room: str | None, today: date) -> dict[str, Any]:
    assert attendance.pending_until is not None
    return {
        "attendance_id": attendance.id,
        "protocol": attendance.protocol,
        "channel": attendance.channel,
        "room": room,
        "contact_name": attendance.contact_name,
        "ended_at": iso(attendance.ended_at),
        "pending_until": attendance.pending_until.isoformat(),
        "pending_reason": attendance.pending_reason,
        "late": attendance.pending_until < today,
    }


def pending_demands(session: Session, operator: Operator, today: date) -> list[dict[str, Any]]:
    """Demands of the operator's rooms not concluded yet, the earliest due
    first; ``late`` past the due date."""
    query = (
        select(Attendance, Room.name)
        .join(Room, Room.id == Attendance.room_id)
        .where(
            Attendance.pending_until.is_not(None),
            Attendance.concluded_at.is_(None),
            Attendance.room_id.in_(room_ids(session, operator)),
        )
        .order_by(Attendance.pending_until, Attendance.id)
    )
    return [demand_view(a, room, today) for a, room in session.execute(query).tuples()]


def conclude(
    uow: UnitOfWork,
    operator: Operator,
    attendance_id: Any,
    answer: Any,
    template: Template | None,
) -> Attendance:
    """Conclude a pending demand with its answer; the customer is told on
    their channel (WhatsApp outside the window: the ``demand_concluded``
    ``template``)."""
    attendance = attendance_for(uow.session, operator, attendance_id)
    if not isinstance(answer, str) or not answer.strip():
        raise Invalid("Escreva a resposta da demanda.", field="answer")
    if len(answer) > MAX_REASON:
        raise Invalid(f"A resposta passa de {MAX_REASON} caracteres.", field="answer")
    answer = answer.strip()
    if attendance.status != FINISHED or attendance.pending_until is None:
        raise Conflict("Este atendimento não tem demanda pendente.")
    if attendance.concluded_at is not None:
        raise Conflict("Esta demanda já foi concluída.")
    now = utcnow()
    window_open = attendance.channel != WHATSAPP or whatsapp_window_open(
        uow.session, attendance.conversation_id, now
    )
    if window_open:
        text = f"Sua demanda do protocolo {attendance.protocol} foi concluída: {answer}"
        _tell(uow, operator, attendance, "concluded", text=text)
    elif template is None:
        raise Conflict(
            "Fora da janela de 24 horas do WhatsApp e sem modelo aprovado para a conclusão "
            "(purpose: demand_concluded): o cidadão não pode ser avisado."
        )
    else:
        parameters = _parameters(uow.session, attendance, template, answer)
        _tell(uow, operator, attendance, "concluded", template, parameters)
    attendance.concluded_at, attendance.concluded_by_id = now, operator.id
    attendance.conclusion = answer
    audit(uow.session, "concluded", operator_id=operator.id, attendance_id=attendance.id)
    return attendance


def today_in(zone: Any, now: datetime | None = None) -> date:
    """The organisation's date (its time zone) now."""
    return (now or utcnow()).astimezone(zone).date()
