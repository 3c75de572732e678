"""Retention (SAC decree art. 12 §3-5): a demand's record is kept for the
retention period after the attendance ended (``HANDOFF_RETENTION_DAYS``,
at least two years), then anonymised: contact fields, conversation id and
every message's text go, and a customer whose attendances are all past
it is anonymised; protocol, times, room, operator, subject and
registrations stay, so reports count the attendance as before. Nothing is
touched before the period ends. Rasa's events older than the cutoff are
deleted first (``Desk.run_retention``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.audit import audit
from handoff.domain.data_subjects import (
    Person,
    anonymise_customer,
    mask_audit_details,
    strip_attendances,
)
from handoff.domain.masking import MARK
from handoff.models import ENDED_STATES, Attendance, Customer, OutboxJob

BATCH = 200


def cutoff(now: datetime, days: float) -> datetime:
    """Attendances that ended before this are past the retention period."""
    return now - timedelta(days=days)


def expired(session: Session, before: datetime) -> list[Attendance]:
    """Up to :data:`BATCH` ended attendances past the period, not anonymised
    yet; a pending demand is resolved when concluded, and counts from then."""
    return list(
        session.scalars(
            select(Attendance)
            .where(
                Attendance.status.in_(ENDED_STATES),
                Attendance.ended_at < before,
                or_(Attendance.pending_until.is_(None), Attendance.concluded_at < before),
                Attendance.anonymised_at.is_(None),
            )
            .order_by(Attendance.id)
            .limit(BATCH)
        )
    )


def expired_conversations(session: Session, before: datetime) -> list[str]:
    """The conversations of the next batch (their Rasa events before the
    cutoff are deleted first)."""
    return sorted({a.conversation_id for a in expired(session, before)})


def anonymise_expired(uow: UnitOfWork, before: datetime, now: datetime) -> int:
    """Anonymise the next batch; returns how many attendances it held."""
    session = uow.session
    attendances = expired(session, before)
    if not attendances:
        return 0
    ids = {a.id for a in attendances}
    linked = {a.customer_id for a in attendances if a.customer_id is not None}
    # A customer with a demand still within the period keeps their data.
    kept = set(
        session.scalars(
            select(Attendance.customer_id).where(
                Attendance.customer_id.in_(linked),
                Attendance.anonymised_at.is_(None),
                Attendance.id.not_in(ids),
            )
        )
    )
    customers = list(session.scalars(select(Customer).where(Customer.id.in_(linked - kept))))
    person = Person("retention", customers, attendances)
    known = person.known_values()
    mask_audit_details(session, person, known)
    strip_attendances(uow, attendances, lambda _text: MARK)
    for attendance in attendances:
        attendance.anonymised_at = now
    for customer in customers:
        anonymise_customer(customer)
    # Work set aside (dead letters) as old as that carries the same data.
    session.execute(delete(OutboxJob).where(OutboxJob.created_at < before))
    audit(
        session,
        "retention_anonymised",
        attendances=sorted(ids),
        customers=sorted(c.id for c in customers),
    )
    return len(attendances)
