"""How attendances and messages look to clients, and who hears about them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from handoff.domain import audiences
from handoff.domain.errors import Invalid
from handoff.domain.whatsapp_templates import refusal_text
from handoff.models import FAILED, FROM_OPERATOR, NOTE, UNKNOWN, Attendance, Message, utcnow

# An operator message the channel could not confirm (UNKNOWN) may be sent
# again by the operator only after this long without a status report from
# the channel (a resend may be a second copy); Rasa's WhatsApp channel
# holds it back as long (bot/whatsapp_channel.py).
UNKNOWN_RETRY_AFTER = timedelta(minutes=15)


def required_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{what} is required")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return value


def first_name(name: str | None) -> str | None:
    """The first word of a person's name (what a customer is shown of an
    operator), or None for a blank one."""
    words = (name or "").split()
    return words[0] if words else None


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end``, never negative: None when either is
    missing or ``end`` is earlier (a first response of an earlier operator's
    hold, in rows stored before a requeue reset it)."""
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


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
        "contact_username": attendance.contact_username,
        "queued_at": iso(attendance.queued_at),
        "taken_at": iso(attendance.taken_at),
        "first_response_at": iso(attendance.first_response_at),
        "ended_at": iso(attendance.ended_at),
        "subject": attendance.subject,
        "closing_comment": attendance.closing_comment,
        "queued_outside_hours": attendance.queued_outside_hours,
        "pending_until": iso(attendance.pending_until),
        "pending_reason": attendance.pending_reason,
        "concluded_at": iso(attendance.concluded_at),
        "conclusion": attendance.conclusion,
    }


def operator_client_id(message: Message) -> str | None:
    """The console's own id of an operator message or note (key
    ``op:<operator>:<id>``, ``note:<operator>:<id>``)."""
    if message.direction not in (FROM_OPERATOR, NOTE):
        return None
    return message.dedup_key.split(":", 2)[-1]


def message_view(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "attendance_id": message.attendance_id,
        "direction": message.direction,
        "operator_id": message.operator_id,
        "text": message.text,
        "delivery": message.delivery,
        "retryable": retryable(message),
        "client_id": operator_client_id(message),
        "created_at": iso(message.created_at),
        "attachment": attachment_view(message),
        "template": (message.template or {}).get("name"),
        "delivery_error": refusal_text(message.delivery_error),
    }


def attachment_view(message: Message) -> dict[str, Any] | None:
    """What the console shows of a message's attachment (never where it is
    kept): its file's address once stored, a map link for a location."""
    attachment = message.attachment
    if not attachment:
        return None
    view: dict[str, Any] = {
        key: attachment.get(key)
        for key in ("kind", "voice", "mime_type", "file_name", "size", "status", "error")
        if key in attachment
    }
    if attachment.get("status") == "stored":
        view["url"] = f"/api/attachments/{message.id}"
    if attachment.get("kind") == "location" and "latitude" in attachment:
        where = f"{attachment['latitude']},{attachment['longitude']}"
        view["map_url"] = f"https://www.google.com/maps/search/?api=1&query={where}"
    return view


def retryable(message: Message) -> bool:
    """Whether the operator may send the message again ("Tentar novamente")."""
    if message.delivery == FAILED:
        return True
    if message.delivery != UNKNOWN or message.created_at is None:
        return False
    created = message.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return utcnow() - created >= UNKNOWN_RETRY_AFTER


def audience(attendance: Attendance) -> audiences.Audience:
    """Who hears about an attendance: its operator, or its room while queued."""
    if attendance.operator_id is not None:
        return audiences.operator(attendance.operator_id)
    return audiences.room(attendance.room_id)
