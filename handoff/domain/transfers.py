"""Transfers that Rasa could not make because the action server was away.

Rasa's ``PendingTransferPolicy`` (bot/transfer_policy.py) answers such a
failure with ``utter_transfer_pending`` ("aguarde"); the event broker brings
that bot event here. The request is stored, so that a restart does not lose
it, and the desk asks Rasa to run the transfer again until an attendance is
open for the conversation; opening one deletes the request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.access import open_attendance_of
from handoff.models import TransferRequest, utcnow

# The response Rasa gives when a transfer action failed (domain.yml).
PENDING_TRANSFER_RESPONSE = "utter_transfer_pending"
# A request older than this is dropped: the customer has surely written again.
TRANSFER_MAX_AGE = timedelta(days=1)


def note_pending_transfers(uow: UnitOfWork, events: list[dict[str, Any]]) -> list[str]:
    """Store the transfer requests that Rasa's events announce; returns the
    conversations newly waiting (a replayed event adds nothing)."""
    session = uow.session
    waiting: list[str] = []
    for event in events:
        metadata = event.get("metadata") or {}
        sender = event.get("sender_id")
        if event.get("event") != "bot" or not isinstance(metadata, dict):
            continue
        if metadata.get("utter_action") != PENDING_TRANSFER_RESPONSE or not isinstance(sender, str):
            continue
        if open_attendance_of(session, sender) is not None or transfer_pending(session, sender):
            continue
        try:
            with session.begin_nested():
                session.add(TransferRequest(conversation_id=sender[:255]))
        except IntegrityError:
            continue  # another process stored it a moment ago
        waiting.append(sender)
    return waiting


def transfer_pending(session: Session, conversation_id: str) -> bool:
    """Whether the conversation still waits for its transfer (retries stop
    after TRANSFER_MAX_AGE, e.g. if the action keeps failing for another
    reason)."""
    return (
        session.scalar(
            select(TransferRequest.id).where(
                TransferRequest.conversation_id == conversation_id,
                TransferRequest.requested_at >= utcnow() - TRANSFER_MAX_AGE,
            )
        )
        is not None
    )


def pending_transfers(session: Session) -> list[str]:
    """Conversations still waiting for their transfer (after a restart);
    requests older than TRANSFER_MAX_AGE are dropped."""
    session.execute(
        delete(TransferRequest).where(TransferRequest.requested_at < utcnow() - TRANSFER_MAX_AGE)
    )
    return list(
        session.scalars(select(TransferRequest.conversation_id).order_by(TransferRequest.id))
    )


def forget_transfer(session: Session, conversation_id: str) -> None:
    """The conversation has its attendance: nothing is waiting any more."""
    session.execute(
        delete(TransferRequest).where(TransferRequest.conversation_id == conversation_id)
    )
