"""What a customer's channel (WhatsApp) reports about operator messages:
the id it gave a message, and delivery statuses.

The two arrive separately and in either order: Meta may send a message's
"delivered" webhook before its answer to the send (the id) has reached us.
A status for an id we do not know yet is held (``EarlyReceipt``) and applied
when the id arrives; held statuses of ids that never arrive (messages sent
by another app on the same number) are dropped after ``HOLD_EARLY_RECEIPTS``.
Receipts of one id are applied one transaction at a time (on PostgreSQL an
advisory lock; SQLite's writers queue already), so a status and its id that
arrive together at two processes cannot miss each other.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, text

from handoff.db import UnitOfWork
from handoff.domain.access import is_row_id
from handoff.domain.conversation import set_delivery
from handoff.domain.errors import Invalid
from handoff.models import (
    DELIVERY_ORDER,
    FAILED,
    FROM_OPERATOR,
    EarlyReceipt,
    Message,
    utcnow,
)

HOLD_EARLY_RECEIPTS = timedelta(days=1)


def is_provider_code(value: Any) -> bool:
    """A channel's error code (Meta's are integers): at most 32 digits."""
    return isinstance(value, int | str) and str(value).isdigit() and len(str(value)) <= 32


STATUSES = (*DELIVERY_ORDER, FAILED)


def record_receipts(uow: UnitOfWork, receipts: Any) -> int:
    """Apply the channel's receipts: an id it gave a message
    (``handoff_message_id`` + ``channel_message_id``) or a delivery status
    (``channel_message_id`` + ``status``, with the ``handoff_message_id``
    when the channel echoes it: that settles a message whose send had no
    answer). Statuses only move forward (sent, delivered, read); ``failed``
    ends any of them. Returns how many messages changed."""
    if not isinstance(receipts, list) or not all(isinstance(r, dict) for r in receipts):
        raise Invalid("receipts must be a list of objects")
    _lock_ids(uow, {r.get("channel_message_id") for r in receipts})
    changed = 0
    for receipt in receipts:
        channel_id = receipt.get("channel_message_id")
        status = receipt.get("status")
        if not isinstance(channel_id, str) or not channel_id or len(channel_id) > 128:
            continue
        if status is not None and status not in STATUSES:
            continue
        message, statuses = _message_and_statuses(uow, receipt, channel_id, status)
        if message is not None:
            if status == FAILED and is_provider_code(receipt.get("error_code")):
                message.delivery_error = str(receipt["error_code"])
            changed += _apply(uow, message, statuses)
        elif status is not None and not is_row_id(receipt.get("handoff_message_id")):
            _hold(uow, channel_id, status)
    return changed


def _lock_ids(uow: UnitOfWork, channel_ids: set[Any]) -> None:
    if uow.session.get_bind().dialect.name != "postgresql":
        return
    for channel_id in sorted(i for i in channel_ids if isinstance(i, str)):  # no deadlocks
        uow.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"receipt:{channel_id}"}
        )


def _message_and_statuses(
    uow: UnitOfWork, receipt: dict[str, Any], channel_id: str, status: str | None
) -> tuple[Message | None, list[str]]:
    """The operator message a receipt is about, and the statuses to apply
    to it: the receipt's own, after those held for its id if the receipt
    is what tells us the id."""
    statuses = [status] if status is not None else []
    if not is_row_id(receipt.get("handoff_message_id")):
        found = uow.session.scalar(select(Message).where(Message.channel_message_id == channel_id))
        return found, statuses
    message = uow.session.get(Message, receipt["handoff_message_id"])
    if message is None or message.direction != FROM_OPERATOR:
        return None, []
    if status is not None and message.channel_message_id not in (None, channel_id):
        return None, []  # a status about an earlier copy
    if message.channel_message_id != channel_id:  # a re-send gets a new id
        message.channel_message_id = channel_id
        statuses = _release_held(uow, channel_id) + statuses
    return message, statuses


def _apply(uow: UnitOfWork, message: Message, statuses: list[str]) -> int:
    best = None
    for status in statuses:
        if status == FAILED:
            best = FAILED
            break
        if _ahead(status, best or message.delivery):
            best = status
    if best is None or message.delivery == FAILED or not _ahead(best, message.delivery):
        return 0
    set_delivery(uow, message.id, best)
    return 1


def _ahead(status: str, than: str | None) -> bool:
    if status == FAILED:
        return True
    if status not in DELIVERY_ORDER or than not in DELIVERY_ORDER:
        return False
    return DELIVERY_ORDER.index(status) > DELIVERY_ORDER.index(than)


def _hold(uow: UnitOfWork, channel_id: str, status: str) -> None:
    now = utcnow()
    uow.session.execute(
        delete(EarlyReceipt).where(EarlyReceipt.received_at < now - HOLD_EARLY_RECEIPTS)
    )
    uow.session.add(EarlyReceipt(channel_message_id=channel_id, status=status, received_at=now))


def _release_held(uow: UnitOfWork, channel_id: str) -> list[str]:
    held = list(
        uow.session.scalars(
            select(EarlyReceipt.status)
            .where(EarlyReceipt.channel_message_id == channel_id)
            .order_by(EarlyReceipt.id)
        )
    )
    if held:
        uow.session.execute(
            delete(EarlyReceipt).where(EarlyReceipt.channel_message_id == channel_id)
        )
    return held
