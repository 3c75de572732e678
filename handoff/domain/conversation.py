"""The conversation of an attendance (O3, O11): operator messages stored
before delivery, customer and bot messages from Rasa, delivery receipts."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from handoff import outbox
from handoff.db import UnitOfWork, is_unavailable
from handoff.domain import attachments, leaving, uploads, whatsapp_templates
from handoff.domain.access import attendance_for, open_attendance_of, own_attendance
from handoff.domain.errors import Conflict, Invalid, NotFound
from handoff.domain.holds import mark_first_response
from handoff.domain.protocols import give_protocol
from handoff.domain.ready_replies import customer_name, fill_protocol
from handoff.domain.said import BotSaid, ConversationEvents, CustomerSaid
from handoff.domain.transfers import note_pending_transfer
from handoff.domain.views import audience, first_name, message_view, retryable
from handoff.domain.whatsapp_templates import Template, refusal_text
from handoff.models import (
    ACTIVE,
    FAILED,
    FROM_BOT,
    FROM_CUSTOMER,
    FROM_OPERATOR,
    JOB_DEAD,
    JOB_PENDING,
    OPEN_STATES,
    PENDING,
    UNKNOWN,
    Attendance,
    Message,
    Operator,
    utcnow,
)
from handoff.settings import MAX_MESSAGE_LENGTH

log = logging.getLogger(__name__)
# Outbox job kinds this module writes (handled in handoff/desk.py).
DELIVER_OPERATOR_MESSAGE, IMPORT_EVENTS = "operator_message", "import_events"
RECONCILE = "reconcile"
WHATSAPP = "whatsapp"
# WhatsApp accepts free text only within 24 hours of the customer's last message.

WHATSAPP_WINDOW = timedelta(hours=24)


def attendance_messages(
    session: Session, operator: Operator, attendance_id: int
) -> list[dict[str, Any]]:
    """The conversation of an attendance, oldest first."""
    attendance = attendance_for(session, operator, attendance_id)
    rows = session.scalars(
        select(Message)
        .where(Message.attendance_id == attendance.id)
        .order_by(Message.created_at, Message.id)
    )
    return [message_view(m) for m in rows]


def send_operator_message(
    uow: UnitOfWork,
    operator: Operator,
    attendance_id: int,
    text: str | None,
    client_id: str,
    attachment: dict[str, Any] | None = None,
    template: Template | None = None,
    parameters: list[str] | None = None,
) -> tuple[Message, Attendance, bool]:
    """Store an operator's message and its delivery job (O3, O4): ``text``
    as the edge checked it (``commands.SendMessage``); with an
    ``attachment`` (a file already kept, ``uploads.operator_attachment``)
    the text is its optional caption.

    The first operator message gives the attendance its protocol. A retry
    with the same ``client_id`` (scoped to the operator and the attendance)
    returns the stored message and changes nothing. On WhatsApp outside the
    24-hour window only a ``template`` (with its ``parameters``) goes; its
    text is the template's body filled in. Returns the message, its
    attendance and whether it is new.
    """
    if attachment is not None:
        text = uploads.caption(text)
    session = uow.session
    attendance = own_attendance(session, operator, attendance_id)
    dedup_key = f"op:{operator.id}:{client_id}"
    existing = session.scalar(
        select(Message).where(
            Message.attendance_id == attendance.id, Message.dedup_key == dedup_key
        )
    )
    if existing is not None:
        return existing, attendance, False
    if attendance.status != ACTIVE:
        raise Conflict("Este atendimento já foi encerrado.")
    now = utcnow()
    if template is not None and attendance.channel != WHATSAPP:
        raise Invalid("Modelos de mensagem existem só no WhatsApp.")
    if template is not None and attachment is not None:
        raise Invalid("Um modelo de mensagem não leva arquivo.")
    if template is None and attendance.channel == WHATSAPP:
        require_whatsapp_window(
            session, attendance.conversation_id, now, "Envie um modelo aprovado."
        )
    if attendance.protocol is None:
        give_protocol(uow, attendance)
    if attendance.first_response_at is None:
        attendance.first_response_at = now
        mark_first_response(session, attendance.id, now)
    sent_template = None
    if template is not None:
        filled = [fill_protocol(p, attendance.protocol) for p in parameters or []]
        text, sent_template = whatsapp_templates.fill(template, filled)
    else:
        text = fill_protocol(text or "", attendance.protocol)
    message = Message(
        attendance_id=attendance.id,
        direction=FROM_OPERATOR,
        operator_id=operator.id,
        text=text,
        dedup_key=dedup_key,
        delivery=PENDING,
        template=sent_template,
        created_at=now,
        attachment=attachment,
    )
    session.add(message)
    session.flush()
    queue_delivery(uow, message, attendance.conversation_id)
    uow.notify(audience(attendance), "message:new", message_view(message))
    return message, attendance, True


def queue_delivery(uow: UnitOfWork, message: Message, conversation_id: str) -> None:
    """Hand a stored message to the customer's channel after the commit,
    after every earlier one (an operator's, or the service's own notice),
    with its author's first name (the widget may show it;
    ``HANDOFF_OPERATOR_NAME_IN_WIDGET``)."""
    author = uow.session.get(Operator, message.operator_id) if message.operator_id else None
    outbox.enqueue(
        uow,
        kind=DELIVER_OPERATOR_MESSAGE,
        key=outbox.to_customer(conversation_id),
        payload={
            "message_id": message.id,
            "conversation_id": conversation_id,
            "text": message.text,
            "operator_name": first_name(author.name if author else None),
            "attachment": _file_for_channel(message),
            **({"template": message.template} if message.template else {}),
        },
        dedup=f"message:{message.id}",
    )


def _file_for_channel(message: Message) -> dict[str, Any] | None:
    """What the channel is told of an operator message's file (it fetches
    the bytes by the message's id, ``GET /api/channel/files/<id>``)."""
    attachment = message.attachment
    if not attachment or attachment.get("status") != attachments.STORED:
        return None
    return {key: attachment.get(key) for key in ("kind", "mime_type", "file_name", "size")}


def whatsapp_window_closes_at(session: Session, conversation_id: str) -> datetime | None:
    """When WhatsApp's 24-hour customer-service window of the conversation
    closes (closed: in the past): 24 hours after the citizen's last message,
    in any of their attendances. None if they never wrote."""
    last = session.scalar(
        select(func.max(Message.created_at))
        .join(Attendance, Attendance.id == Message.attendance_id)
        .where(
            Attendance.conversation_id == conversation_id,
            Message.direction == FROM_CUSTOMER,
        )
    )
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    return None if last is None else last + WHATSAPP_WINDOW


def whatsapp_window_open(session: Session, conversation_id: str, now: datetime) -> bool:
    """Whether free text may go to the citizen now (Meta refuses it, 131047,
    past the window; templates go at any time)."""
    closes = whatsapp_window_closes_at(session, conversation_id)
    return closes is not None and now <= closes


def require_whatsapp_window(
    session: Session,
    conversation_id: str,
    now: datetime,
    instead: str,
    field: str | None = None,
) -> None:
    """Conflict (409, with what to do ``instead``) when free text can no
    longer reach the citizen on WhatsApp."""
    if not whatsapp_window_open(session, conversation_id, now):
        raise Conflict(
            "Fora da janela de 24 horas do WhatsApp: só é possível responder até 24 horas "
            f"depois da última mensagem do cidadão. {instead}",
            field=field,
        )


def composer_templates(
    session: Session, operator: Operator, attendance_id: Any, templates: list[Template]
) -> dict[str, Any]:
    """What the composer of a WhatsApp attendance offers: whether the
    24-hour window is open (until when) and the operator-offered templates,
    their parameters pre-filled (customer's name, protocol)."""
    attendance = attendance_for(session, operator, attendance_id)
    if attendance.channel != WHATSAPP:
        return {"whatsapp": False, "window_open": True, "templates": []}
    closes = whatsapp_window_closes_at(session, attendance.conversation_id)
    name = customer_name(session, attendance)
    offered = [
        {**t.view(), "values": whatsapp_templates.prefill(t, name, attendance.protocol)}
        for t in templates
        if t.purpose == whatsapp_templates.OPERATOR
    ]
    return {
        "whatsapp": True,
        "window_open": closes is not None and utcnow() <= closes,
        "window_closes_at": closes.isoformat() if closes else None,
        "templates": offered,
    }


def retry_delivery(uow: UnitOfWork, operator: Operator, message_id: int) -> Message:
    """Put a failed operator message back on its way (same message, so the
    customer never gets it twice)."""
    message = uow.session.get(Message, message_id)
    if message is None or message.operator_id != operator.id:
        raise NotFound("Mensagem não encontrada.")
    attendance = own_attendance(uow.session, operator, message.attendance_id)
    if attendance.status != ACTIVE:
        raise Conflict("Este atendimento já foi encerrado.")
    if message.delivery == UNKNOWN and not retryable(message):
        raise Conflict(
            "O WhatsApp ainda não confirmou esta mensagem; reenviar agora poderia duplicá-la."
        )
    if not retryable(message):
        raise Conflict("Esta mensagem não falhou.")
    message.channel_message_id = None  # the failed copy's; a new send gets its own
    set_delivery(uow, message.id, PENDING)
    queue_delivery(uow, message, attendance.conversation_id)
    return message


def record_handover(
    uow: UnitOfWork, message_id: int, state: str, error_code: str | None = None
) -> None:
    """Rasa took an operator message (``SENT``; ``UNKNOWN`` when the channel
    could not learn whether it went out) or could not (``FAILED``, with the
    channel's ``error_code`` when it refused); a state the channel already
    reported (the message has the channel's id) is kept."""
    message = uow.session.get(Message, message_id)
    if message is None:
        return
    if state != FAILED or error_code is not None:
        message.delivery_error = error_code
    if message.delivery == state:
        return
    rasa_failed = message.delivery == FAILED and message.channel_message_id is None
    if message.delivery == PENDING or rasa_failed:
        set_delivery(uow, message_id, state)


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
        {
            "id": message.id,
            "attendance_id": attendance.id,
            "delivery": state,
            "delivery_error": refusal_text(message.delivery_error) if state == FAILED else None,
        },
    )


def record_rasa_events(uow: UnitOfWork, batch: list[ConversationEvents]) -> int:
    """Store what Rasa's event broker reports for conversations in attendance.

    Each conversation's events are stored in a savepoint of their own: if
    they fail or could not be read (whatever the cause, but a database
    that is away), they are set aside as an outbox job that tries them
    again and then becomes a dead letter, and every other conversation
    goes on. Replays store nothing twice. Returns how many messages were
    stored.
    """
    return sum(_record_or_set_aside(uow, events) for events in batch)


def _record_or_set_aside(uow: UnitOfWork, events: ConversationEvents) -> int:
    notices = len(uow.notices)
    try:
        with uow.session.begin_nested():
            return record_conversation_events(uow, events)
    except DBAPIError as error:
        if is_unavailable(error):
            raise
        failure: Exception = error
    except Exception as error:  # noqa: BLE001 - whatever it is, it must not stop the others
        failure = error
    del uow.notices[notices:]
    log.warning("events of %s set aside: %r", events.conversation_id, failure)
    _set_aside(uow, events, f"{type(failure).__name__}: {failure}", JOB_PENDING)
    return 0


def set_aside_events(uow: UnitOfWork, batch: list[ConversationEvents]) -> int:
    """Events Rasa's broker gave up on: dead letters at once, per
    conversation. Returns how many conversations were set aside."""
    for events in batch:
        _set_aside(
            uow, events, "O Rasa desistiu de entregá-las depois de várias tentativas.", JOB_DEAD
        )
    return len(batch)


def _set_aside(uow: UnitOfWork, events: ConversationEvents, error: str, status: str) -> None:
    outbox.enqueue(
        uow,
        kind=IMPORT_EVENTS,
        key=outbox.from_customer(events.conversation_id),
        payload={"conversation_id": events.conversation_id, "events": events.raw},
        status=status,
        error=error[:2000],
    )


def record_conversation_events(uow: UnitOfWork, events: ConversationEvents) -> int:
    """Store one conversation's customer messages and the bot's own
    utterances, if it has an open attendance; note a transfer Rasa could
    not make. Invalid if its events could not be read."""
    if events.problem is not None:
        raise Invalid(f"events not readable: {events.problem}")
    conversation_id = events.conversation_id
    attendance = open_attendance_of(uow.session, conversation_id)
    stored = 0
    for said in events.said:
        if isinstance(said, BotSaid) and said.transfer_pending:
            note_pending_transfer(uow, conversation_id)
        if attendance is None:
            continue
        if isinstance(said, CustomerSaid):
            stored += store_customer_message(uow, attendance, said)
            if leaving.wants_to_leave(attendance.status, said.text, said.leaving):
                leaving.leave(uow, attendance)
                attendance = None  # what follows is the bot's again
        elif said.text and not said.ours:  # ours: an operator message or notice delivered here
            stored += _store_once(uow, attendance, FROM_BOT, said.text, said.key, said.said_at)
    return stored


def queue_reconciliations(uow: UnitOfWork) -> None:
    """One job per open attendance to import what Rasa holds and we missed."""
    open_conversations = uow.session.scalars(
        select(Attendance.conversation_id).where(Attendance.status.in_(OPEN_STATES))
    )
    for conversation_id in open_conversations:
        outbox.enqueue(
            uow,
            kind=RECONCILE,
            key=outbox.from_customer(conversation_id),
            payload={"conversation_id": conversation_id},
            dedup=f"reconcile:{conversation_id}",
        )


def import_missed_events(uow: UnitOfWork, events: ConversationEvents) -> None:
    """Store the messages of Rasa's tracker that arrived since the open
    attendance was queued and are not stored yet (reconciliation)."""
    attendance = open_attendance_of(uow.session, events.conversation_id)
    if attendance is None:
        return
    since = attendance.queued_at.replace(tzinfo=timezone.utc)
    recent = [s for s in events.said if s.said_at is not None and s.said_at >= since]
    stored = record_rasa_events(uow, [replace(events, said=recent)])
    if stored:
        log.info("reconciled %s message(s) of %s from Rasa", stored, events.conversation_id)


def store_customer_message(uow: UnitOfWork, attendance: Attendance, said: CustomerSaid) -> int:
    """Store a customer message once, with the attachment its channel
    described (a WhatsApp photo, voice note, location...)."""
    key = f"rasa:{said.message_id}"
    return _store_once(
        uow, attendance, FROM_CUSTOMER, said.text, key, said.said_at, said.attachment
    )


def _store_once(
    uow: UnitOfWork,
    attendance: Attendance,
    direction: str,
    text: str,
    key: str,
    said_at: datetime | None,
    attachment: dict[str, Any] | None = None,
) -> int:
    """Store a message once per attendance and key. A replay stores nothing
    but announces the stored message again: its first announcement may have
    died with a process killed right after the commit (consoles show each
    message once, by id)."""
    session = uow.session
    stored = _stored(session, attendance, key)
    if stored is None:
        message = Message(
            attendance_id=attendance.id,
            direction=direction,
            text=text[:MAX_MESSAGE_LENGTH],
            dedup_key=key,
            created_at=said_at or utcnow(),
        )
        try:
            # Two deliveries of one event in concurrent transactions (the
            # broker retrying while reconciliation imports it): one is kept.
            with session.begin_nested():
                session.add(message)
                if attachment is not None:
                    attachments.attach(uow, message, attachment)
        except IntegrityError:
            return 0
    uow.notify(audience(attendance), "message:new", message_view(stored or message))
    return 1 if stored is None else 0


def _stored(session: Session, attendance: Attendance, dedup_key: str) -> Message | None:
    return session.scalar(
        select(Message).where(
            Message.attendance_id == attendance.id, Message.dedup_key == dedup_key
        )
    )
