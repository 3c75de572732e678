"""What the people of a conversation said, as the domain reads it.

Rasa's event broker, Rasa's tracker and the bot's action describe messages
in Rasa's wire format (event dicts with ``sender_id``, ``metadata``,
``timestamp``...). ``handoff.rasa_events`` translates them into these
values at the edge; the domain never reads an event dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CustomerSaid:
    """A customer's message."""

    message_id: str  # the channel's id: stored once per attendance
    text: str  # what the customer saw (a tapped button's title, not its payload)
    said_at: datetime | None  # when Rasa stored it; None: now
    attachment: dict[str, Any] | None = None  # a file or place, as ``attachments.parse`` gives
    leaving: bool = False  # the widget's confirmed "Encerrar conversa"
    left_message: bool = False  # left in the widget's form while the room was closed


@dataclass(frozen=True)
class BotSaid:
    """One of the bot's utterances."""

    key: str  # stored once per attendance and key
    text: str
    said_at: datetime | None
    ours: bool = False  # the echo of an operator message or queue notice delivered here
    transfer_pending: bool = False  # the bot could not transfer: the request waits here


Said = CustomerSaid | BotSaid


@dataclass(frozen=True)
class ConversationEvents:
    """One conversation's part of a batch: what was said, or, when its
    events could not be read, why. ``raw`` is kept to be set aside and
    tried again."""

    conversation_id: str
    said: list[Said]
    raw: list[dict[str, Any]]
    problem: str | None = None
