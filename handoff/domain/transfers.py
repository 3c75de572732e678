"""Transfers that Rasa could not make because the action server was away.

Rasa's ``PendingTransferPolicy`` (bot/transfer_policy.py) answers such a
failure with ``utter_transfer_pending`` ("aguarde"); the event broker brings
that bot event here. The request is stored, so that a restart does not lose
it, and an outbox job asks Rasa to run the transfer again until an attendance is
open for the conversation; opening one deletes the request.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain.access import open_attendance_of
from handoff.models import TransferRequest, utcnow

# The outbox job kind that asks Rasa to run the transfer again (handoff/desk.py).
RETRY_TRANSFER = "transfer"
# The response Rasa gives when a transfer action failed (domain.yml).
PENDING_TRANSFER_RESPONSE = "utter_transfer_pending"
# A request older than this is dropped: the customer has surely written again.
TRANSFER_MAX_AGE = timedelta(days=1)


def note_pending_transfer(uow: UnitOfWork, conversation_id: str) -> None:
    """The bot could not transfer the conversation (it said
    ``PENDING_TRANSFER_RESPONSE``): store the request and the outbox job
    that retries it (a replay adds nothing)."""
    session = uow.session
    if open_attendance_of(session, conversation_id) is not None:
        return
    if transfer_pending(session, conversation_id):
        return
    try:
        with session.begin_nested():
            session.add(TransferRequest(conversation_id=conversation_id[:255]))
    except IntegrityError:
        return  # another process stored it a moment ago
    outbox.enqueue(
        uow,
        kind=RETRY_TRANSFER,
        key=outbox.to_customer(conversation_id),
        payload={"conversation_id": conversation_id},
        dedup=f"transfer:{conversation_id}",
    )


def transfer_pending(session: Session, conversation_id: str) -> bool:
    return transfer_wait(session, conversation_id) is not None


def transfer_wait(session: Session, conversation_id: str) -> float | None:
    """How long (s) the conversation has waited for its transfer; None when
    nothing waits (retries stop after TRANSFER_MAX_AGE, e.g. if the action
    keeps failing for another reason)."""
    requested = session.scalar(
        select(TransferRequest.requested_at).where(
            TransferRequest.conversation_id == conversation_id,
            TransferRequest.requested_at >= utcnow() - TRANSFER_MAX_AGE,
        )
    )
    return None if requested is None else (utcnow() - requested).total_seconds()


def forget_transfer(session: Session, conversation_id: str) -> None:
    """The conversation has its attendance: nothing is waiting any more."""
    session.execute(
        delete(TransferRequest).where(TransferRequest.conversation_id == conversation_id)
    )
