"""The conversation of an attendance (O3, O11): operator messages stored
before delivery, customer and bot messages from Rasa, delivery receipts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.access import attendance_for, open_attendance_of, own_attendance
from handoff.domain.errors import Conflict, Invalid, NotFound
from handoff.domain.protocols import give_protocol
from handoff.domain.views import audience, message_view, required_text
from handoff.models import (
    ACTIVE,
    DELIVERY_ORDER,
    FAILED,
    FROM_BOT,
    FROM_CUSTOMER,
    FROM_OPERATOR,
    PENDING,
    Attendance,
    Message,
    Operator,
    utcnow,
)
from handoff.settings import MAX_MESSAGE_LENGTH

WHATSAPP = "whatsapp"
# WhatsApp accepts free text only within 24 hours of the customer's last message.

WHATSAPP_WINDOW = timedelta(hours=24)


def attendance_messages(
    session: Session, operator: Operator, attendance_id: Any
) -> list[dict[str, Any]]:
    """The conversation of an attendance, oldest first."""
    attendance = attendance_for(session, operator, attendance_id)
    rows = session.scalars(
        select(Message).where(Message.attendance_id == attendance.id).order_by(Message.id)
    )
    return [message_view(m) for m in rows]


def send_operator_message(
    uow: UnitOfWork, operator: Operator, attendance_id: Any, text: Any, client_id: Any
) -> tuple[Message, Attendance, bool]:
    """Store an operator's message before it is delivered (O3, O4).

    The first operator message gives the attendance its protocol. A retry
    with the same ``client_id`` returns the stored message and changes
    nothing. Returns the message, its attendance and whether it is new.
    """
    text = required_text(text, "text", MAX_MESSAGE_LENGTH)
    client_id = required_text(client_id, "client_id", 100)
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
        give_protocol(uow, attendance)
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
    uow.notify(audience(attendance), "message:new", message_view(message))
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


def retry_delivery(uow: UnitOfWork, operator: Operator, message_id: Any) -> tuple[Message, str]:
    """Put a failed operator message back on its way; returns it and its conversation."""
    message = uow.session.get(Message, message_id) if isinstance(message_id, int) else None
    if message is None or message.operator_id != operator.id:
        raise NotFound("Mensagem não encontrada.")
    attendance = own_attendance(uow.session, operator, message.attendance_id)
    if attendance.status != ACTIVE:
        raise Conflict("Este atendimento já foi encerrado.")
    if message.delivery != FAILED:
        raise Conflict("Esta mensagem não falhou.")
    set_delivery(uow, message.id, PENDING)
    return message, attendance.conversation_id


def set_delivery(uow: UnitOfWork, message_id: int, state: str) -> None:
    """Record how far an operator message got on its way to the customer."""
    message = uow.session.get(Message, message_id)
    if message is None:
        raise NotFound("message not found")
    message.delivery = state
    attendance = uow.session.get(Attendance, message.attendance_id)
    assert attendance is not None
    uow.notify(
        audience(attendance),
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


def undelivered_conversations(session: Session) -> list[str]:
    """Conversations with operator messages Rasa has not accepted yet."""
    rows = session.scalars(
        select(Attendance.conversation_id)
        .join(Message, Message.attendance_id == Attendance.id)
        .where(*_UNDELIVERED)
        .distinct()
    )
    return list(rows)


def undelivered(session: Session, conversation_id: str) -> list[tuple[int, str, str]]:
    """The conversation's operator messages Rasa has not accepted yet, in the
    order they were written: (id, text, delivery). A message whose channel
    reported it failed (it has the channel's id) is not retried."""
    rows = session.execute(
        select(Message.id, Message.text, Message.delivery)
        .join(Attendance, Attendance.id == Message.attendance_id)
        .where(Attendance.conversation_id == conversation_id, *_UNDELIVERED)
        .order_by(Message.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


_UNDELIVERED = (
    Message.direction == FROM_OPERATOR,
    Message.delivery.in_((PENDING, FAILED)),
    Message.channel_message_id.is_(None),
)


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
            stored += store_customer_message(uow, attendance, event)
        else:
            stored += _store_bot_message(uow, attendance, event)
    return stored


def visitor_history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the visitor saw and wrote, from Rasa's tracker events (intents
    triggered from outside, "EXTERNAL: ...", are not theirs). A visitor's
    message keeps its ``client_id`` and an operator's its
    ``handoff_message_id`` (as in the live ``bot_uttered``), so the widget
    shows each once."""
    history: list[dict[str, Any]] = []
    for e in events:
        text = e.get("text")
        if e.get("event") not in ("user", "bot") or not isinstance(text, str) or not text:
            continue
        if text.startswith("EXTERNAL"):
            continue
        item: dict[str, Any] = {"from": "visitor" if e["event"] == "user" else "bot", "text": text}
        if e["event"] == "user" and e.get("message_id"):
            item["client_id"] = e["message_id"]
        operator_message = (e.get("metadata") or {}).get("handoff_message_id")
        if e["event"] == "bot" and operator_message is not None:
            item["handoff_message_id"] = operator_message
        history.append(item)
    return history


def import_missed_events(uow: UnitOfWork, *, conversation_id: str, events: list[dict]) -> int:
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


def store_customer_message(uow: UnitOfWork, attendance: Attendance, event: dict[str, Any]) -> int:
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
    try:
        # Two deliveries of one event in concurrent transactions (the broker
        # retrying while reconciliation imports it): the unique key keeps one.
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return 0
    uow.notify(audience(attendance), "message:new", message_view(message))
    return 1
