"""The record of a demand on request (Decreto 11.034/2022 art. 12 §1-2): a
citizen (through the bot) or a supervisor asks by protocol; the record is
sent within 5 calendar days by the means chosen, the requester's channel
or e-mail.

Only the demand's own customer gets it without a check: a request from a
conversation that is not the attendance's (nor one of the same registered
customer) waits for a supervisor to verify who asked (``verification``)
and is never sent before. A request is delivered by an outbox job
(``RECORD_DELIVERY``) that is retried until it goes out; meanwhile it
stays ``pending``, listed with its deadline in Supervisão."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain.access import attendance_for
from handoff.domain.audit import audit
from handoff.domain.conversation import WHATSAPP, require_whatsapp_window
from handoff.domain.errors import Conflict, Invalid, NotFound
from handoff.domain.holds import holds_of
from handoff.domain.views import first_name, iso, required_text
from handoff.models import (
    FROM_BOT,
    FROM_CUSTOMER,
    FROM_OPERATOR,
    NOTE,
    RECORD_DELIVERED,
    RECORD_PENDING,
    RECORD_REFUSED,
    RECORD_VERIFICATION,
    Attendance,
    Customer,
    KbArticle,
    Message,
    Operator,
    RecordRequest,
    Registration,
    utcnow,
)

RECORD_DELIVERY = "record_delivery"
CHANNEL, EMAIL = "channel", "email"
MEANS = (CHANNEL, EMAIL)
# Art. 12 §2: sent within five calendar days of the request.
DEADLINE = timedelta(days=5)
# The protocol in a citizen's words: year and sequence, 10 digits or more.
PROTOCOL_IN_TEXT = re.compile(r"\d[\d.\-/ ]{8,}\d")
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_IN_TEXT = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
STATUS_LABELS = {
    RECORD_VERIFICATION: "aguardando verificação",
    RECORD_PENDING: "pendente",
    RECORD_DELIVERED: "enviado",
    RECORD_REFUSED: "recusado",
}
SENDERS = {FROM_CUSTOMER: "Cidadão", FROM_BOT: "Assistente virtual"}


def protocol_number(value: Any) -> str:
    """The protocol's digits (typed with dots, dashes or spaces, or
    written in a sentence)."""
    if isinstance(value, str):
        found = PROTOCOL_IN_TEXT.search(value)
        digits = re.sub(r"\D", "", found.group(0)) if found else ""
        if 10 <= len(digits) <= 20:
            return digits
    raise Invalid("Informe o número do protocolo.", field="protocol")


def email_in(text: Any) -> str | None:
    """An e-mail address the citizen wrote in their request, if any."""
    found = EMAIL_IN_TEXT.search(text) if isinstance(text, str) else None
    return found.group(0).casefold() if found else None


def _email(value: Any) -> str:
    email = value.strip().casefold() if isinstance(value, str) else ""
    if len(email) > 254 or not EMAIL_SHAPE.match(email):
        raise Invalid("Informe um e-mail válido.", field="email")
    return email


def _attendance(session: Session, number: str) -> Attendance:
    attendance = session.scalar(select(Attendance).where(Attendance.protocol == number))
    if attendance is None:
        raise NotFound(f"Não encontrei o protocolo {number}.", field="protocol")
    return attendance


def is_owner(session: Session, attendance: Attendance, conversation_id: str) -> bool:
    """Whether the conversation is the demand's: the attendance's own, or
    one whose attendances belong to the same registered customer."""
    if attendance.conversation_id == conversation_id:
        return True
    if attendance.customer_id is None:
        return False
    other = session.scalar(
        select(Attendance.id).where(
            Attendance.conversation_id == conversation_id,
            Attendance.customer_id == attendance.customer_id,
        )
    )
    return other is not None


def citizen_request(
    uow: UnitOfWork, *, conversation_id: Any, channel: Any, text: Any
) -> RecordRequest:
    """A citizen's request, from what they wrote to the bot (protocol, and
    an e-mail address if they want it by e-mail). The same conversation
    asking again for a record not yet sent gets the request it has."""
    conversation_id = required_text(conversation_id, "conversation_id", 255)
    channel = required_text(channel, "channel", 32)
    session = uow.session
    attendance = _attendance(session, protocol_number(text))
    existing = session.scalar(
        select(RecordRequest).where(
            RecordRequest.attendance_id == attendance.id,
            RecordRequest.conversation_id == conversation_id,
            RecordRequest.status.in_((RECORD_VERIFICATION, RECORD_PENDING)),
        )
    )
    if existing is not None:
        return existing
    email = email_in(text)
    if email is not None:
        email = _email(email)
    owner = is_owner(session, attendance, conversation_id)
    return _add(
        uow,
        attendance,
        means=EMAIL if email else CHANNEL,
        email=email,
        status=RECORD_PENDING if owner else RECORD_VERIFICATION,
        conversation_id=conversation_id,
        channel=channel,
    )


def register_request(
    uow: UnitOfWork, supervisor: Operator, *, protocol: Any, means: Any, email: Any = None
) -> RecordRequest:
    """A request the supervisor registers for the customer (who asked by
    another way and whose identity the supervisor checked), by protocol."""
    attendance = _attendance(uow.session, protocol_number(protocol))
    return register_for(uow, supervisor, attendance, means=means, email=email)


def register_for_attendance(
    uow: UnitOfWork, operator: Operator, attendance_id: Any, *, means: Any, email: Any = None
) -> RecordRequest:
    """The same by an operator, for an attendance of their rooms (the
    citizen asked them, in an attendance or by phone)."""
    attendance = attendance_for(uow.session, operator, attendance_id)
    if attendance.protocol is None:
        raise Invalid("Este atendimento não tem protocolo.")
    return register_for(uow, operator, attendance, means=means, email=email)


def register_for(
    uow: UnitOfWork, operator: Operator, attendance: Attendance, *, means: Any, email: Any
) -> RecordRequest:
    """Sent on the attendance's own channel, or by e-mail to the address
    given: whoever registers it vouches for the requester."""
    session = uow.session
    if means not in MEANS:
        raise Invalid("Escolha o meio de envio: canal do cidadão ou e-mail.", field="means")
    address = _email(email) if means == EMAIL else None
    if means == CHANNEL and attendance.anonymised_at is not None:
        raise Invalid("Este atendimento não tem mais o canal do cidadão.", field="means")
    if means == CHANNEL and attendance.channel == WHATSAPP:
        # Meta refuses free text 24 h after the citizen's last message, and
        # the refusal of a bot message is not reported back: choose e-mail.
        require_whatsapp_window(
            session, attendance.conversation_id, utcnow(), "Escolha o envio por e-mail.", "means"
        )
    return _add(
        uow,
        attendance,
        means=means,
        email=address,
        status=RECORD_PENDING,
        conversation_id=attendance.conversation_id if means == CHANNEL else None,
        channel=attendance.channel if means == CHANNEL else None,
        operator=operator,
    )


def _add(
    uow: UnitOfWork,
    attendance: Attendance,
    *,
    means: str,
    email: str | None,
    status: str,
    conversation_id: str | None,
    channel: str | None,
    operator: Operator | None = None,
) -> RecordRequest:
    now = utcnow()
    request = RecordRequest(
        attendance_id=attendance.id,
        requested_at=now,
        due_at=now + DEADLINE,
        conversation_id=conversation_id,
        channel=channel,
        operator_id=operator.id if operator else None,
        means=means,
        email=email,
        status=status,
    )
    uow.session.add(request)
    uow.session.flush()
    audit(
        uow.session,
        "record_requested",
        operator_id=request.operator_id,
        attendance_id=attendance.id,
        customer_id=attendance.customer_id,
        protocol=attendance.protocol,
        request_id=request.id,
        means=means,
        status=status,
    )
    if status == RECORD_PENDING:
        _queue_delivery(uow, request)
    return request


def _queue_delivery(uow: UnitOfWork, request: RecordRequest) -> None:
    """The delivery job; on the channel, in order with what else goes to
    that conversation."""
    conversation_id = request.conversation_id if request.means == CHANNEL else None
    outbox.enqueue(
        uow,
        kind=RECORD_DELIVERY,
        key=outbox.to_customer(conversation_id) if conversation_id else f"record:{request.id}",
        payload={"request_id": request.id},
        dedup=f"record:{request.id}",
    )


def _request(session: Session, request_id: Any, *states: str) -> RecordRequest:
    request = session.get(RecordRequest, request_id) if isinstance(request_id, int) else None
    if request is None:
        raise NotFound("Pedido de registro não encontrado.")
    if request.status not in states:
        raise Conflict(f"Este pedido já está {STATUS_LABELS[request.status]}.")
    return request


def approve(uow: UnitOfWork, supervisor: Operator, request_id: Any) -> RecordRequest:
    """The supervisor checked that whoever asked is the demand's customer:
    the record goes out."""
    request = _request(uow.session, request_id, RECORD_VERIFICATION)
    request.status = RECORD_PENDING
    audit(
        uow.session,
        "record_request_approved",
        operator_id=supervisor.id,
        attendance_id=request.attendance_id,
        request_id=request.id,
    )
    _queue_delivery(uow, request)
    return request


def refuse(uow: UnitOfWork, supervisor: Operator, request_id: Any) -> RecordRequest:
    """The request is not answered (not the customer's, or asked twice)."""
    request = _request(uow.session, request_id, RECORD_VERIFICATION, RECORD_PENDING)
    request.status = RECORD_REFUSED
    audit(
        uow.session,
        "record_request_refused",
        operator_id=supervisor.id,
        attendance_id=request.attendance_id,
        request_id=request.id,
    )
    return request


# --- the delivery job's steps


def to_deliver(session: Session, request_id: int) -> RecordRequest | None:
    """The request, if it is still to be delivered."""
    request = session.get(RecordRequest, request_id)
    return request if request is not None and request.status == RECORD_PENDING else None


def mark_delivered(uow: UnitOfWork, request_id: int) -> None:
    request = uow.session.get(RecordRequest, request_id)
    if request is None or request.status != RECORD_PENDING:
        return
    request.status = RECORD_DELIVERED
    request.delivered_at = utcnow()
    request.last_error = None
    attendance = uow.session.get(Attendance, request.attendance_id)
    audit(
        uow.session,
        "record_sent",
        attendance_id=request.attendance_id,
        customer_id=attendance.customer_id if attendance else None,
        request_id=request.id,
        means=request.means,
    )


def note_failure(uow: UnitOfWork, request_id: int, error: str) -> None:
    """Why the last try did not deliver it (shown in Supervisão)."""
    request = uow.session.get(RecordRequest, request_id)
    if request is not None:
        request.last_error = error[:500]


def request_view(request: RecordRequest, protocol: str | None, now: datetime) -> dict[str, Any]:
    return {
        "id": request.id,
        "attendance_id": request.attendance_id,
        "protocol": protocol,
        "requested_at": iso(request.requested_at),
        "due_at": iso(request.due_at),
        "late": request.status in (RECORD_VERIFICATION, RECORD_PENDING) and now > request.due_at,
        "status": request.status,
        "means": request.means,
        "email": request.email,
        "channel": request.channel,
        "registered_by": request.operator_id,
        "delivered_at": iso(request.delivered_at),
        "last_error": request.last_error,
    }


def list_requests(session: Session, limit: int = 200) -> dict[str, list[dict[str, Any]]]:
    """Open requests (verification, pending) by deadline, then the latest
    delivered or refused ones."""
    now = utcnow()
    rows = session.execute(
        select(RecordRequest, Attendance.protocol)
        .join(Attendance, Attendance.id == RecordRequest.attendance_id)
        .where(RecordRequest.status.in_((RECORD_VERIFICATION, RECORD_PENDING)))
        .order_by(RecordRequest.due_at, RecordRequest.id)
        .limit(limit)
    ).all()
    done = session.execute(
        select(RecordRequest, Attendance.protocol)
        .join(Attendance, Attendance.id == RecordRequest.attendance_id)
        .where(RecordRequest.status.in_((RECORD_DELIVERED, RECORD_REFUSED)))
        .order_by(RecordRequest.id.desc())
        .limit(limit)
    ).all()
    return {
        "open": [request_view(r, p, now) for r, p in rows],
        "done": [request_view(r, p, now) for r, p in done],
    }


def requests_about(session: Session, attendance_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The record requests about these attendances (a person's export)."""
    now = utcnow()
    rows = session.execute(
        select(RecordRequest, Attendance.protocol)
        .join(Attendance, Attendance.id == RecordRequest.attendance_id)
        .where(RecordRequest.attendance_id.in_(attendance_ids))
        .order_by(RecordRequest.id)
    ).all()
    return [request_view(r, p, now) for r, p in rows]


def forget_requesters(
    session: Session, attendance_ids: Sequence[int] = (), conversations: Sequence[str] = ()
) -> None:
    """The personal data of the requests about these attendances, or made
    from these conversations, removed (an erasure, the retention period):
    the e-mail address and the conversation. One not sent yet can no longer
    be, and is refused."""
    about = or_(
        RecordRequest.attendance_id.in_(attendance_ids),
        RecordRequest.conversation_id.in_(conversations),
    )
    session.execute(
        update(RecordRequest)
        .where(about, RecordRequest.status.in_((RECORD_VERIFICATION, RECORD_PENDING)))
        .values(status=RECORD_REFUSED)
    )
    session.execute(
        update(RecordRequest).where(about).values(email=None, conversation_id=None, last_error=None)
    )


# --- the record itself


def _local(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat(timespec="seconds") if value is not None else None


def demand_record(session: Session, attendance: Attendance, zone: ZoneInfo) -> dict[str, Any]:
    """The record the customer receives (pt-BR): protocol, dates, the
    attendants' first names, every message of the customer, the bot and the
    operators (never private notes), and what was registered: subject,
    closing comment, knowledge articles given. Times in the organisation's
    time zone."""
    holds = holds_of(session, [attendance.id]).get(attendance.id, [])
    operator_ids = {h["operator_id"] for h in holds} | {attendance.operator_id}
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.attendance_id == attendance.id, Message.direction != NOTE)
            .order_by(Message.created_at, Message.id)
        )
    )
    operator_ids |= {m.operator_id for m in messages}
    names = {
        oid: first_name(name)
        for oid, name in session.execute(
            select(Operator.id, Operator.name).where(Operator.id.in_(operator_ids - {None}))
        ).tuples()
    }
    attendants: list[str] = []
    for hold in holds:
        name = names.get(hold["operator_id"])
        if name and name not in attendants:
            attendants.append(name)
    articles = session.execute(
        select(Registration.at, KbArticle.title, KbArticle.category)
        .join(KbArticle, KbArticle.id == Registration.article_id)
        .where(Registration.attendance_id == attendance.id)
        .order_by(Registration.at, Registration.id)
    ).all()
    customer = session.get(Customer, attendance.customer_id) if attendance.customer_id else None
    return {
        "protocolo": attendance.protocol,
        "canal": "WhatsApp" if attendance.channel == "whatsapp" else "Chat do site",
        "cidadao": customer.name if customer else attendance.contact_name,
        "aberto_em": _local(attendance.queued_at, zone),
        "encerrado_em": _local(attendance.ended_at, zone),
        "atendentes": attendants,
        "mensagens": [
            {
                "de": _sender(m, names),
                "em": _local(m.created_at, zone),
                "texto": m.text,
            }
            for m in messages
        ],
        "assunto": attendance.subject,
        "comentario_de_encerramento": attendance.closing_comment,
        "artigos_registrados": [
            {"titulo": title, "categoria": category, "em": _local(at, zone)}
            for at, title, category in articles
        ],
        "gerado_em": _local(utcnow(), zone),
        "base_legal": "Decreto nº 11.034/2022, art. 12",
    }


def _sender(message: Message, names: dict[Any, str | None]) -> str:
    if message.direction == FROM_OPERATOR:
        name = names.get(message.operator_id)
        return f"Atendente {name}" if name else "Atendente"
    return SENDERS.get(message.direction, message.direction)


def record_for(
    uow: UnitOfWork, request_id: int, zone: ZoneInfo, *, how: str
) -> tuple[RecordRequest, dict[str, Any]]:
    """The record of a request's demand, logged as produced (``how``: the
    delivery, a download of the link)."""
    request = uow.session.get(RecordRequest, request_id)
    if request is None or request.status not in (RECORD_PENDING, RECORD_DELIVERED):
        raise NotFound("Registro não encontrado.")
    attendance = uow.session.get(Attendance, request.attendance_id)
    assert attendance is not None
    record = demand_record(uow.session, attendance, zone)
    audit(
        uow.session,
        "record_produced",
        attendance_id=attendance.id,
        customer_id=attendance.customer_id,
        request_id=request.id,
        how=how,
    )
    return request, record
