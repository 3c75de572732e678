"""What the customer's channel reports about operator messages (WhatsApp's
ids and statuses), in whatever order the two arrive."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import func, select, update

from handoff.models import EarlyReceipt, Message, utcnow
from tests.support.api import SERVICE_TOKEN, Client, error_of, open_attendance


def report(service: Any, receipts: Any) -> requests.Response:
    return requests.post(
        f"{service.base_url}/api/channel/receipts",
        json=receipts,
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=30,
    )


def sent_message(service: Any, operator: Client) -> int:
    """An operator message the channel has taken (its send answered), whose
    id the channel has not reported yet."""
    call = open_attendance(service, channel="whatsapp")
    operator.take(call["id"])
    with service.desk.db.unit_of_work() as uow:
        message = Message(
            attendance_id=call["id"],
            direction="operator",
            text="Olá!",
            dedup_key=f"op:test:{uuid.uuid4().hex}",
            delivery="sent",
        )
        uow.session.add(message)
        uow.session.flush()
        return message.id


def delivery(service: Any, message_id: int) -> str | None:
    with service.desk.db.unit_of_work(read_only=True) as uow:
        return uow.session.get(Message, message_id).delivery


def held(service: Any) -> int:
    with service.desk.db.unit_of_work(read_only=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(EarlyReceipt))


def test_a_status_before_the_id_is_held_and_applied_when_the_id_arrives(
    service, operator: Client, console
):
    message_id = sent_message(service, operator)
    connection = console(operator)
    status = {"channel_message_id": "wamid.A", "status": "delivered"}
    assert report(service, [status]).json() == {"changed": 0}
    assert held(service) == 1 and delivery(service, message_id) == "sent"
    the_id = {"handoff_message_id": message_id, "channel_message_id": "wamid.A"}
    assert report(service, [the_id]).json() == {"changed": 1}
    assert delivery(service, message_id) == "delivered" and held(service) == 0
    connection.next("message:delivery", id=message_id, delivery="delivered")
    # The same webhook again (Meta re-delivers) changes nothing.
    assert report(service, [status]).json() == {"changed": 0}
    assert delivery(service, message_id) == "delivered" and held(service) == 0


def test_held_statuses_in_any_order_end_at_the_furthest(service, operator: Client):
    read_first, failed = sent_message(service, operator), sent_message(service, operator)
    early = [
        {"channel_message_id": "wamid.R", "status": "read"},
        {"channel_message_id": "wamid.R", "status": "delivered"},
        {"channel_message_id": "wamid.F", "status": "delivered"},
        {"channel_message_id": "wamid.F", "status": "failed"},
    ]
    assert report(service, early).json() == {"changed": 0}
    ids = [
        {"handoff_message_id": read_first, "channel_message_id": "wamid.R"},
        {"handoff_message_id": failed, "channel_message_id": "wamid.F"},
    ]
    assert report(service, ids).json() == {"changed": 2}
    assert delivery(service, read_first) == "read"
    assert delivery(service, failed) == "failed"
    # Failed ends it: a later status does not bring it back.
    late = [{"channel_message_id": "wamid.F", "status": "read"}]
    assert report(service, late).json() == {"changed": 0}
    assert delivery(service, failed) == "failed"


def test_statuses_of_ids_that_never_arrive_are_dropped_after_a_day(service):
    other_app = [{"channel_message_id": "wamid.OTHER", "status": "delivered"}]
    assert report(service, other_app).json() == {"changed": 0}
    with service.desk.db.unit_of_work() as uow:
        uow.session.execute(update(EarlyReceipt).values(received_at=utcnow() - timedelta(days=2)))
    assert report(service, [{"channel_message_id": "wamid.NEW", "status": "sent"}]).ok
    with service.desk.db.unit_of_work(read_only=True) as uow:
        kept = uow.session.scalars(select(EarlyReceipt.channel_message_id)).all()
    assert kept == ["wamid.NEW"]


def test_receipts_of_other_shapes_are_ignored_or_refused(service, operator: Client):
    message_id = sent_message(service, operator)
    odd = [
        {"channel_message_id": "wamid.X", "status": "lido"},
        {"channel_message_id": "w" * 129, "status": "read"},
        {"channel_message_id": 7, "status": "read"},
        {"handoff_message_id": message_id, "channel_message_id": ""},
    ]
    assert report(service, odd).json() == {"changed": 0}
    assert held(service) == 0 and delivery(service, message_id) == "sent"
    assert "array" in error_of(report(service, {"status": "read"}), 400)["message"]
