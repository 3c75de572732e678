"""Rasa's wire format, translated at the edge.

Rasa's event broker (``/api/rasa/events``), Rasa's tracker (reconciliation,
the widget's history) and the bot's action (the first message of an
attendance) describe messages as Rasa's event dicts. This module reads
them into the domain's values (``handoff.domain.said``) and writes the
widget's history back from them; nothing else reads an event dict.

A conversation whose events cannot be read is kept apart with the reason:
the domain sets it aside, and every other conversation goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from handoff.domain import attachments
from handoff.domain.errors import Invalid
from handoff.domain.said import BotSaid, ConversationEvents, CustomerSaid, Said
from handoff.domain.transfers import PENDING_TRANSFER_RESPONSE

# Metadata keys of the bot events that are this service's own messages,
# already stored here (operator messages, queue notices).
OUR_MESSAGES = ("handoff_message_id", "handoff_notice")
# The widget's confirmed "Encerrar conversa" (widget/frame.js; actions/actions.py).
LEAVE_METADATA = "leave_conversation"
# Intents triggered from outside ("EXTERNAL_attendance_finished"...) are not
# the visitor's words.
EXTERNAL_PREFIX = "EXTERNAL"


def batch(events: Any) -> list[ConversationEvents]:
    """The broker's events by conversation (``sender_id``), in the order
    first seen; Invalid unless the body is a list of objects."""
    return [conversation(c, e) for c, e in _grouped(events, lambda e: e.get("sender_id")).items()]


def dead_letters(events: Any) -> list[ConversationEvents]:
    """Events the broker gave up on, by conversation, however they look:
    each group is set aside whole."""
    groups = _grouped(events, lambda e: str(e.get("sender_id"))[:255])
    return [ConversationEvents(c, [], e, "dead letter") for c, e in groups.items()]


def conversation(conversation_id: str, events: Any) -> ConversationEvents:
    """One conversation's events read, or the reason they cannot be."""
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return ConversationEvents(conversation_id, [], [], "not a list of Rasa events")
    try:
        said = [s for s in (_said(conversation_id, e) for e in events) if s is not None]
    except Exception as error:  # noqa: BLE001 - whatever it is, it must not stop the others
        return ConversationEvents(conversation_id, [], events, f"{type(error).__name__}: {error}")
    return ConversationEvents(conversation_id, said, events)


def customer_said(message: dict[str, Any]) -> CustomerSaid | None:
    """A customer's message (a ``user`` event, or the first message the
    bot's action hands over); None when it carries no id or no text."""
    message_id, text = message.get("message_id"), message.get("text")
    if not message_id or not isinstance(text, str):
        return None
    metadata = _metadata(message)
    title = metadata.get("button_title")
    if text.startswith("/") and isinstance(title, str) and title.strip():
        text = title
    return CustomerSaid(
        message_id=str(message_id),
        text=text,
        said_at=_said_at(message),
        attachment=attachments.parse(metadata),
        leaving=metadata.get(LEAVE_METADATA) is True,
        left_message=metadata.get("left_message") is True,
    )


def visitor_history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the visitor saw and wrote, from Rasa's tracker events (intents
    triggered from outside, "EXTERNAL: ...", are not theirs). A visitor's
    message keeps its ``client_id`` and an operator's its
    ``handoff_message_id`` (as in the live ``bot_uttered``), so the widget
    shows each once; an operator's also the name the customer is shown, and
    every message its time (Rasa's ``timestamp``, seconds). A bot message
    keeps its buttons; a tap on one (the visitor sent its payload) reads
    as the button's title."""
    history: list[dict[str, Any]] = []
    titles: dict[str, str] = {}
    for e in events:
        text = e.get("text") or ""
        metadata = e.get("metadata")
        attachment = _shown_attachment(metadata)
        if e.get("event") not in ("user", "bot") or not isinstance(text, str):
            continue
        if (not text and attachment is None) or text.startswith(EXTERNAL_PREFIX):
            continue
        if e["event"] == "user":
            text = titles.get(text, text)
        item: dict[str, Any] = {"from": "visitor" if e["event"] == "user" else "bot", "text": text}
        if attachment is not None:
            item["attachment"] = attachment
        buttons = _buttons(e) if e["event"] == "bot" else []
        if buttons:
            item["buttons"] = buttons
            titles.update((b["payload"], b["title"]) for b in buttons)
        if isinstance(e.get("timestamp"), (int, float)):
            item["timestamp"] = e["timestamp"]
        if e["event"] == "user" and e.get("message_id"):
            item["client_id"] = e["message_id"]
        operator_message = (
            metadata.get("handoff_message_id") if isinstance(metadata, dict) else None
        )
        notice = metadata.get("handoff_notice") if isinstance(metadata, dict) else None
        if e["event"] == "bot" and notice is not None:
            item["handoff_notice"] = notice
        if e["event"] == "bot" and operator_message is not None:
            item["handoff_message_id"] = operator_message
            if isinstance(metadata, dict) and metadata.get("operator_name"):
                item["operator_name"] = metadata["operator_name"]
        history.append(item)
    return history


def _grouped(
    events: Any, sender: Callable[[dict[str, Any]], object]
) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise Invalid("events must be a list of Rasa events")
    groups: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        conversation_id = sender(event)
        if isinstance(conversation_id, str):
            groups.setdefault(conversation_id, []).append(event)
    return groups


def _said(conversation_id: str, event: dict[str, Any]) -> Said | None:
    kind = event.get("event")
    if kind == "user":
        return customer_said(event)
    if kind != "bot":
        return None
    metadata = _metadata(event)
    text = event.get("text")
    return BotSaid(
        key=f"bot:{conversation_id}:{event.get('timestamp')}"[:255],
        text=text if isinstance(text, str) else "",
        said_at=_said_at(event),
        ours=any(metadata.get(k) for k in OUR_MESSAGES),
        transfer_pending=metadata.get("utter_action") == PENDING_TRANSFER_RESPONSE,
    )


def _metadata(event: dict[str, Any]) -> dict[str, Any]:
    """An event's metadata; one of another shape is not Rasa's (Invalid)."""
    metadata = event.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Invalid("event metadata must be an object")
    return metadata


def _said_at(event: dict[str, Any]) -> datetime | None:
    """When Rasa stored the event (the order the customer saw): a message
    imported late by the reconciliation keeps its place."""
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float) and 0 < stamp < 4e9:
        return datetime.fromtimestamp(stamp, tz=timezone.utc)
    return None


def _buttons(event: dict[str, Any]) -> list[dict[str, str]]:
    """A bot event's buttons (Rasa keeps them in ``data.buttons``)."""
    data = event.get("data")
    found = data.get("buttons") if isinstance(data, dict) else None
    if not isinstance(found, list):
        return []
    return [
        {"title": b["title"], "payload": b["payload"]}
        for b in found
        if isinstance(b, dict)
        and isinstance(b.get("title"), str)
        and isinstance(b.get("payload"), str)
    ]


def _shown_attachment(metadata: Any) -> dict[str, Any] | None:
    """What the widget shows of a message's file (an operator's, fetched
    by the message's id; the visitor's own, by its name)."""
    found = metadata.get("attachment") if isinstance(metadata, dict) else None
    if not isinstance(found, dict) or found.get("kind") not in attachments.FILE_KINDS:
        return None
    return {key: found.get(key) for key in ("kind", "mime_type", "file_name", "size")}
