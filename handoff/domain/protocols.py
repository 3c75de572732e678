"""Protocol numbers (O4): year + zero-padded sequence, unique, never reused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.audit import audit
from handoff.domain.views import audience
from handoff.models import Attendance, ProtocolCounter, utcnow

SEQUENCE_DIGITS = 6


def next_protocol(session: Session, now: datetime) -> str:
    """Take the next number of ``now``'s year.

    The counter row is incremented with one UPDATE ... RETURNING, which
    locks the row until commit: concurrent callers queue and each gets its
    own number. A rolled-back transaction gives its number back, so no
    number is ever seen twice.
    """
    year = now.year
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(ProtocolCounter)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    sequence = session.execute(
        update(ProtocolCounter)
        .where(ProtocolCounter.year == year)
        .values(last=ProtocolCounter.last + 1)
        .returning(ProtocolCounter.last)
    ).scalar_one()
    return f"{year}{sequence:0{SEQUENCE_DIGITS}d}"


def give_protocol(uow: UnitOfWork, attendance: Attendance, announce: bool = True) -> None:
    """Number the attendance. ``announce=False`` when it is closing: the
    ``attendance:ended`` notice carries the number, and a console must not
    show it as news of an attendance it no longer has."""
    attendance.protocol = next_protocol(uow.session, utcnow())
    audit(uow.session, "protocol", attendance_id=attendance.id, protocol=attendance.protocol)
    if not announce:
        return
    uow.notify(
        audience(attendance),
        "attendance:protocol",
        {"attendance_id": attendance.id, "protocol": attendance.protocol},
    )
