"""Attendances: queue, taking a call, conversation and ending (O2-O4, O13)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.audit import audit
from handoff.domain.brazil import phone_e164
from handoff.domain.errors import Conflict, Forbidden, Invalid, NotFound
from handoff.domain.operators import is_supervisor, room_ids
from handoff.domain.protocols import next_protocol
from handoff.models import (
    ACTIVE,
    AVAILABLE,
    CANCELLED,
    DELIVERY_ORDER,
    FAILED,
    FINISHED,
    FROM_BOT,
    FROM_CUSTOMER,
    FROM_OPERATOR,
    OPEN_STATES,
    PENDING,
    QUEUED,
    Attendance,
    Customer,
    KbArticle,
    Message,
    Operator,
    Registration,
    Room,
    utcnow,
)
from handoff.settings import MAX_MESSAGE_LENGTH

WHATSAPP = "whatsapp"
# WhatsApp accepts free text only within 24 hours of the customer's last message.
WHATSAPP_WINDOW = timedelta(hours=24)


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{what} is required")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return value


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def attendance_view(attendance: Attendance) -> dict[str, Any]:
    return {
        "id": attendance.id,
        "conversation_id": attendance.conversation_id,
        "channel": attendance.channel,
        "room_id": attendance.room_id,
        "status": attendance.status,
        "protocol": attendance.protocol,
        "operator_id": attendance.operator_id,
        "customer_id": attendance.customer_id,
        "contact_name": attendance.contact_name,
        "contact_email": attendance.contact_email,
        "contact_phone": attendance.contact_phone,
        "queued_at": _iso(attendance.queued_at),
        "taken_at": _iso(attendance.taken_at),
        "first_response_at": _iso(attendance.first_response_at),
        "ended_at": _iso(attendance.ended_at),
    }


def message_view(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "attendance_id": message.attendance_id,
        "direction": message.direction,
        "operator_id": message.operator_id,
        "text": message.text,
        "delivery": message.delivery,
        "client_id": message.dedup_key[3:] if message.direction == FROM_OPERATOR else None,
        "created_at": _iso(message.created_at),
    }


def _audience(attendance: Attendance) -> str:
    """Who hears about an attendance: its operator, or its room while queued."""
    if attendance.operator_id is not None:
        return f"operator:{attendance.operator_id}"
    return f"room:{attendance.room_id}"


# --- access helpers: every lookup on behalf of an operator goes through these


def attendance_for(session: Session, operator: Operator, attendance_id: Any) -> Attendance:
    """An attendance of one of the operator's rooms; NotFound otherwise."""
    attendance = session.get(Attendance, attendance_id) if isinstance(attendance_id, int) else None
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


# --- opening and the queue


def open_attendance(
    uow: UnitOfWork,
    *,
    conversation_id: Any,
    channel: Any,
    room: Any = None,
    default_room: str,
    contact: dict[str, Any] | None = None,
    first_message: dict[str, Any] | None = None,
) -> tuple[Attendance, bool]:
    """Queue an attendance for a conversation, or return its open one.

    Returns the attendance and whether it was created now. Asking twice
    (a retried action) never queues the conversation twice.
    """
    conversation_id = _text(conversation_id, "conversation_id", 255)
    channel = _text(channel, "channel", 32)
    slug = _text(room, "room", 64) if room is not None else default_room
    contact = contact or {}
    session = uow.session
    room_row = session.scalar(select(Room).where(Room.slug == slug))
    if room_row is None:
        raise NotFound(f"unknown room '{slug}'")
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
    audit(session, "queued", attendance_id=attendance.id, room=slug, channel=channel)
    uow.notify(f"room:{attendance.room_id}", "attendance:queued", attendance_view(attendance))
    if first_message:
        _store_customer_message(uow, attendance, first_message)
    return attendance, True


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
    return _text(value, key, limit).strip()


def open_attendance_of(session: Session, conversation_id: str) -> Attendance | None:
    return session.scalar(
        select(Attendance).where(
            Attendance.conversation_id == conversation_id,
            Attendance.status.in_(OPEN_STATES),
        )
    )


def operator_attendances(session: Session, operator: Operator) -> dict[str, list[dict[str, Any]]]:
    """The queue of the operator's rooms (oldest first) and their own calls."""
    queued = session.scalars(
        select(Attendance)
        .where(Attendance.status == QUEUED, Attendance.room_id.in_(room_ids(session, operator)))
        .order_by(Attendance.queued_at, Attendance.id)
    )
    mine = session.scalars(
        select(Attendance)
        .where(Attendance.status == ACTIVE, Attendance.operator_id == operator.id)
        .order_by(Attendance.taken_at)
    )
    return {
        "queued": [attendance_view(a) for a in queued],
        "active": [attendance_view(a) for a in mine],
    }


def take_attendance(uow: UnitOfWork, operator: Operator, attendance_id: Any) -> Attendance:
    """Give a queued attendance to this operator; exactly one taker wins (O2)."""
    session = uow.session
    if not operator.active_for_chat:
        raise Forbidden("Operador não está ativado para o chat.")
    if operator.status != AVAILABLE:
        raise Conflict("Fique Disponível para atender.")
    attendance = attendance_for(session, operator, attendance_id)
    if attendance.status == ACTIVE and attendance.operator_id == operator.id:
        return attendance
    active_count = session.scalar(
        select(func.count())
        .select_from(Attendance)
        .where(Attendance.operator_id == operator.id, Attendance.status == ACTIVE)
    )
    if active_count >= operator.max_concurrent:
        raise Conflict(f"Você já está com {active_count} atendimentos, o máximo permitido.")
    taken = session.execute(
        update(Attendance)
        .where(Attendance.id == attendance.id, Attendance.status == QUEUED)
        .values(status=ACTIVE, operator_id=operator.id, taken_at=utcnow())
    ).rowcount
    if taken != 1:
        raise Conflict("Este atendimento já foi assumido por outro operador.")
    session.refresh(attendance)
    audit(session, "taken", operator_id=operator.id, attendance_id=attendance.id)
    view = attendance_view(attendance)
    uow.notify(f"room:{attendance.room_id}", "attendance:taken", view)
    return attendance


def attendance_messages(
    session: Session, operator: Operator, attendance_id: Any
) -> list[dict[str, Any]]:
    """The conversation of an attendance, oldest first."""
    attendance = attendance_for(session, operator, attendance_id)
    rows = session.scalars(
        select(Message).where(Message.attendance_id == attendance.id).order_by(Message.id)
    )
    return [message_view(m) for m in rows]


# --- the conversation


def send_operator_message(
    uow: UnitOfWork, operator: Operator, attendance_id: Any, text: Any, client_id: Any
) -> tuple[Message, Attendance, bool]:
    """Store an operator's message before it is delivered (O3, O4).

    The first operator message gives the attendance its protocol. A retry
    with the same ``client_id`` returns the stored message and changes
    nothing. Returns the message, its attendance and whether it is new.
    """
    text = _text(text, "text", MAX_MESSAGE_LENGTH)
    client_id = _text(client_id, "client_id", 100)
    session = uow.session
    dedup_key = f"op:{client_id}"
    existing = session.scalar(select(Message).where(Message.dedup_key == dedup_key))
    if existing is not None:
        if existing.operator_id != operator.id:
            raise Conflict("client_id already used")
        return existing, session.get(Attendance, existing.attendance_id), False  # type: ignore[return-value]
    attendance = own_attendance(session, operator, attendance_id)
    if attendance.status != ACTIVE:
        raise Conflict("Este atendimento já foi encerrado.")
    now = utcnow()
    if attendance.channel == WHATSAPP:
        _require_whatsapp_window(session, attendance, now)
    if attendance.protocol is None:
        _give_protocol(uow, attendance)
    if attendance.first_response_at is None:
        attendance.first_response_at = now
    message = Message(
        attendance_id=attendance.id,
        direction=FROM_OPERATOR,
        operator_id=operator.id,
        text=text,
        dedup_key=dedup_key,
        delivery=PENDING,
        created_at=now,
    )
    session.add(message)
    session.flush()
    uow.notify(_audience(attendance), "message:new", message_view(message))
    return message, attendance, True


def _require_whatsapp_window(session: Session, attendance: Attendance, now: datetime) -> None:
    last = session.scalar(
        select(func.max(Message.created_at))
        .join(Attendance, Attendance.id == Message.attendance_id)
        .where(
            Attendance.conversation_id == attendance.conversation_id,
            Message.direction == FROM_CUSTOMER,
        )
    )
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    if last is None or now - last > WHATSAPP_WINDOW:
        raise Conflict(
            "Fora da janela de 24 horas do WhatsApp: só é possível responder até 24 horas "
            "depois da última mensagem do cidadão."
        )


def _give_protocol(uow: UnitOfWork, attendance: Attendance) -> None:
    attendance.protocol = next_protocol(uow.session, utcnow())
    audit(uow.session, "protocol", attendance_id=attendance.id, protocol=attendance.protocol)
    uow.notify(
        _audience(attendance),
        "attendance:protocol",
        {"attendance_id": attendance.id, "protocol": attendance.protocol},
    )


def set_delivery(uow: UnitOfWork, message_id: int, state: str) -> None:
    """Record how far an operator message got on its way to the customer."""
    message = uow.session.get(Message, message_id)
    if message is None:
        raise NotFound("message not found")
    message.delivery = state
    attendance = uow.session.get(Attendance, message.attendance_id)
    assert attendance is not None
    uow.notify(
        _audience(attendance),
        "message:delivery",
        {"id": message.id, "attendance_id": attendance.id, "delivery": state},
    )


def record_receipts(uow: UnitOfWork, receipts: Any) -> int:
    """What the customer's channel reports about operator messages: the id it
    gave a message (``handoff_message_id`` + ``channel_message_id``) or a
    delivery status (``channel_message_id`` + ``status``). Statuses only move
    forward (sent, delivered, read); ``failed`` ends any of them."""
    if not isinstance(receipts, list) or not all(isinstance(r, dict) for r in receipts):
        raise Invalid("receipts must be a list of objects")
    changed = 0
    for receipt in receipts:
        channel_id = receipt.get("channel_message_id")
        if not isinstance(channel_id, str) or not channel_id:
            continue
        if isinstance(receipt.get("handoff_message_id"), int):
            message = uow.session.get(Message, receipt["handoff_message_id"])
            if message is not None and message.direction == FROM_OPERATOR:
                message.channel_message_id = channel_id
            continue
        message = uow.session.scalar(
            select(Message).where(Message.channel_message_id == channel_id)
        )
        status = receipt.get("status")
        if message is None or message.delivery == FAILED or not _moves_forward(message, status):
            continue
        set_delivery(uow, message.id, status)
        changed += 1
    return changed


def _moves_forward(message: Message, status: Any) -> bool:
    if status == FAILED:
        return True
    if status not in DELIVERY_ORDER or message.delivery not in DELIVERY_ORDER:
        return False
    return DELIVERY_ORDER.index(status) > DELIVERY_ORDER.index(message.delivery)


def pending_deliveries(session: Session) -> list[tuple[int, str, str]]:
    """Operator messages stored but not yet handed to Rasa: (id, conversation, text)."""
    rows = session.execute(
        select(Message.id, Attendance.conversation_id, Message.text)
        .join(Attendance, Attendance.id == Message.attendance_id)
        .where(Message.direction == FROM_OPERATOR, Message.delivery == PENDING)
        .order_by(Message.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def record_rasa_events(uow: UnitOfWork, events: Any) -> int:
    """Store what Rasa's event broker reports for conversations in attendance.

    Customer messages (``user`` events) and the bot's own utterances are
    kept in the attendance's history; events of conversations without an
    open attendance are ignored. Replays are harmless. Returns how many
    messages were stored.
    """
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise Invalid("events must be a list of Rasa events")
    stored = 0
    for event in events:
        kind, sender = event.get("event"), event.get("sender_id")
        if kind not in ("user", "bot") or not isinstance(sender, str):
            continue
        if kind == "bot" and (event.get("metadata") or {}).get("handoff_message_id"):
            continue  # the echo of an operator message we delivered
        attendance = open_attendance_of(uow.session, sender)
        if attendance is None:
            continue
        if kind == "user":
            stored += _store_customer_message(uow, attendance, event)
        else:
            stored += _store_bot_message(uow, attendance, event)
    return stored


def import_missed_events(uow: UnitOfWork, conversation_id: str, events: list[dict]) -> int:
    """Store the messages of Rasa's tracker that arrived since the open
    attendance was queued and are not stored yet (reconciliation)."""
    attendance = open_attendance_of(uow.session, conversation_id)
    if attendance is None:
        return 0
    since = attendance.queued_at.timestamp()
    recent = [
        e for e in events if isinstance(e.get("timestamp"), int | float) and e["timestamp"] >= since
    ]
    return record_rasa_events(uow, recent)


def _store_customer_message(uow: UnitOfWork, attendance: Attendance, event: dict[str, Any]) -> int:
    message_id, text = event.get("message_id"), event.get("text")
    if not message_id or not isinstance(text, str):
        return 0
    return _store_once(uow, attendance, FROM_CUSTOMER, text, f"rasa:{message_id}")


def _store_bot_message(uow: UnitOfWork, attendance: Attendance, event: dict[str, Any]) -> int:
    text = event.get("text")
    if not isinstance(text, str) or not text:
        return 0
    key = f"bot:{attendance.conversation_id}:{event.get('timestamp')}"
    return _store_once(uow, attendance, FROM_BOT, text, key[:255])


def _store_once(
    uow: UnitOfWork, attendance: Attendance, direction: str, text: str, key: str
) -> int:
    session = uow.session
    if session.scalar(select(Message.id).where(Message.dedup_key == key)) is not None:
        return 0
    message = Message(
        attendance_id=attendance.id,
        direction=direction,
        text=text[:MAX_MESSAGE_LENGTH],
        dedup_key=key,
    )
    session.add(message)
    session.flush()
    uow.notify(_audience(attendance), "message:new", message_view(message))
    return 1


# --- ending


def end_attendance(
    uow: UnitOfWork, operator: Operator, attendance_id: Any, outcome: str
) -> tuple[Attendance, bool]:
    """Finish or cancel an attendance (O13). Idempotent.

    A finished attendance always has a protocol, so the customer can be
    given one (Z3). Returns the attendance and whether it changed now.
    """
    if outcome not in (FINISHED, CANCELLED):
        raise Invalid("outcome must be finished or cancelled")
    attendance = own_attendance(uow.session, operator, attendance_id, supervisors_too=True)
    if attendance.status == outcome:
        return attendance, False
    if attendance.status != ACTIVE:
        raise Conflict("Este atendimento já foi encerrado.")
    if outcome == FINISHED and attendance.protocol is None:
        _give_protocol(uow, attendance)
    attendance.status = outcome
    attendance.ended_at = utcnow()
    audit(uow.session, outcome, operator_id=operator.id, attendance_id=attendance.id)
    uow.notify(_audience(attendance), "attendance:ended", attendance_view(attendance))
    return attendance, True


# --- an operator who is gone


def requeue_attendances_of(uow: UnitOfWork, operator_id: int) -> list[int]:
    """Put an absent operator's active attendances back at the head of their queue.

    They keep their place in arrival order (``queued_at`` is unchanged).
    """
    attendances = uow.session.scalars(
        select(Attendance).where(Attendance.operator_id == operator_id, Attendance.status == ACTIVE)
    ).all()
    for attendance in attendances:
        attendance.status, attendance.operator_id, attendance.taken_at = QUEUED, None, None
        audit(uow.session, "requeued", operator_id=operator_id, attendance_id=attendance.id)
        view = attendance_view(attendance)
        uow.notify(f"operator:{operator_id}", "attendance:requeued", view)
        uow.notify(f"room:{attendance.room_id}", "attendance:queued", view)
    return [a.id for a in attendances]


def open_conversations(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Attendance.conversation_id).where(Attendance.status.in_(OPEN_STATES))
        )
    )


def operators_with_active(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Attendance.operator_id).where(Attendance.status == ACTIVE).distinct()
        )
    )


# --- reading an attendance whole


def _seconds(start: Any, end: Any) -> float | None:
    return round((end - start).total_seconds(), 1) if start and end else None


def attendance_summary(session: Session, operator: Operator, attendance_id: Any) -> dict[str, Any]:
    """Customer, protocol, times and the information given (O12)."""
    attendance = attendance_for(session, operator, attendance_id)
    record = attendance_record(session, attendance)
    customer = session.get(Customer, attendance.customer_id) if attendance.customer_id else None
    now = utcnow()
    started = attendance.taken_at
    return {
        "attendance": attendance_view(attendance),
        "customer": {"id": customer.id, "name": customer.name, "phone": customer.phone}
        if customer
        else None,
        "operator_name": record["operator_name"],
        "waiting_seconds": _seconds(attendance.queued_at, started or attendance.ended_at or now),
        "first_response_seconds": _seconds(started, attendance.first_response_at),
        "duration_seconds": _seconds(started, attendance.ended_at or now),
        "registrations": record["registrations"],
        "message_count": len(record["messages"]),
    }


def find_by_protocol(session: Session, operator: Operator, protocol: Any) -> dict[str, Any]:
    """The whole attendance with this protocol, if it is of the operator's rooms."""
    number = "".join(ch for ch in str(protocol) if ch.isdigit())
    attendance = session.scalar(select(Attendance).where(Attendance.protocol == number))
    if attendance is None or attendance.room_id not in room_ids(session, operator):
        raise NotFound("Protocolo não encontrado.")
    return attendance_record(session, attendance)


def attendance_record(session: Session, attendance: Attendance) -> dict[str, Any]:
    """An attendance with its messages and registrations, for history views."""
    operator = session.get(Operator, attendance.operator_id) if attendance.operator_id else None
    messages = session.scalars(
        select(Message).where(Message.attendance_id == attendance.id).order_by(Message.id)
    )
    registrations = session.execute(
        select(Registration.at, KbArticle.id, KbArticle.title, KbArticle.category)
        .join(KbArticle, KbArticle.id == Registration.article_id)
        .where(Registration.attendance_id == attendance.id)
        .order_by(Registration.at, Registration.id)
    )
    return {
        **attendance_view(attendance),
        "operator_name": operator.name if operator else None,
        "messages": [message_view(m) for m in messages],
        "registrations": [
            {"at": at.isoformat(), "article_id": aid, "title": title, "category": category}
            for at, aid, title, category in registrations
        ],
    }
