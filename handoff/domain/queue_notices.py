"""Telling waiting customers their place in the queue (issue 20, item 1).

A customer hears their position and estimate when they join (in the
transfer message, :func:`place_of`) and afterwards when it changes in a
way worth telling (``waiting.worth_telling``): after each change to a
room's queue or to its operators' availability, :func:`plan_notices` works
out every waiting customer's place (reading only: a room where nothing is
worth telling takes no write lock) and :func:`send_notices` writes an
outbox job for each notice due, which hands it to Rasa (a bot message,
``bot/operator_messages.py``). What each customer was last told is kept by
the process (:class:`ToldMemory`): a restart, or a change handled by
another process, may tell a customer their place once more, never less.
The room's consoles get ``queue:positions``."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain.waiting import (
    RECENT_WAITS,
    WHATSAPP_NOTICE_INTERVAL,
    Told,
    estimate_seconds,
    minutes_step,
    phrase,
    worth_telling,
)
from handoff.models import (
    AVAILABLE,
    QUEUED,
    Attendance,
    Operator,
    OperatorRoom,
    utcnow,
)

# The outbox job kind of a queue notice (handoff/desk.py).
QUEUE_NOTICE = "queue_notice"
WHATSAPP = "whatsapp"
# Attendances whose last notice a process remembers.
REMEMBERED = 10_000


def positions(
    session: Session, room_id: int, queue: Sequence[Attendance] | None = None
) -> list[tuple[Attendance, int, int | None]]:
    """The room's waiting calls in order (``queue``, if the caller has read
    them in that order), each with its position and estimated minutes (None:
    no estimate). Two queries besides the queue, however long it is."""
    if queue is None:
        queue = session.scalars(
            select(Attendance)
            .where(Attendance.room_id == room_id, Attendance.status == QUEUED)
            .order_by(Attendance.queued_at, Attendance.id)
        ).all()
    waits, available = recent_waits(session, room_id), available_operators(session, room_id)
    return [
        (attendance, position, minutes_step(estimate_seconds(waits, position, available)))
        for position, attendance in enumerate(queue, 1)
    ]


def recent_waits(session: Session, room_id: int) -> list[float]:
    """Seconds from joining the queue to being taken, of the room's latest calls."""
    rows = session.execute(
        select(Attendance.queued_at, Attendance.taken_at)
        .where(Attendance.room_id == room_id, Attendance.taken_at.is_not(None))
        .order_by(Attendance.taken_at.desc())
        .limit(RECENT_WAITS)
    )
    return [max((taken - queued).total_seconds(), 0.0) for queued, taken in rows]


def available_operators(session: Session, room_id: int) -> int:
    """The room's operators who are Disponível and may chat."""
    return session.execute(
        select(func.count())
        .select_from(Operator)
        .join(OperatorRoom, OperatorRoom.operator_id == Operator.id)
        .where(
            OperatorRoom.room_id == room_id,
            Operator.status == AVAILABLE,
            Operator.active.is_(True),
            Operator.active_for_chat.is_(True),
        )
    ).scalar_one()


class ToldMemory:
    """What each waiting customer was last told, by attendance (bounded,
    oldest dropped)."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._told: OrderedDict[int, Told] = OrderedDict()

    def get(self, attendance_id: int) -> Told | None:
        return self._told.get(attendance_id)

    def put(self, attendance_id: int, told: Told) -> None:
        self._told[attendance_id] = told
        self._told.move_to_end(attendance_id)
        while len(self._told) > self.size:
            self._told.popitem(last=False)


def place_of(
    session: Session, attendance: Attendance, memory: ToldMemory, closed: str | None = None
) -> dict[str, Any] | None:
    """A queued attendance's place and its phrase, as told on joining (and
    remembered), with the room's ``closed`` notice; None once it is not waiting."""
    for waiting, position, minutes in positions(session, attendance.room_id):
        if waiting.id == attendance.id:
            available = available_operators(session, attendance.room_id)
            text = phrase(position, minutes, available, closed)
            memory.put(attendance.id, Told(position, minutes, utcnow()))
            return {**_position_view(attendance, position, minutes), "text": text}
    return None


@dataclass(frozen=True)
class Due:
    """A notice worth sending: to whom, what, and what it tells."""

    attendance_id: int
    conversation_id: str
    text: str
    told: Told


def plan_notices(
    session: Session,
    room_id: int,
    memory: ToldMemory,
    whatsapp_interval: timedelta = WHATSAPP_NOTICE_INTERVAL,
    closed: str | None = None,
) -> tuple[dict[str, Any], list[Due]]:
    """The room's places for the consoles (``queue:positions``), and the
    notices worth sending now (see ``waiting.worth_telling``; while the room
    is ``closed``, they say so). Only reads."""
    waiting = positions(session, room_id)
    view = {"room_id": room_id, "positions": [_position_view(*item) for item in waiting]}
    if not waiting:
        return view, []
    available = available_operators(session, room_id)
    now = utcnow()
    due = []
    for attendance, position, minutes in waiting:
        interval = whatsapp_interval if attendance.channel == WHATSAPP else timedelta(0)
        if worth_telling(memory.get(attendance.id), position, minutes, now, interval):
            text = phrase(position, minutes, available, closed)
            told = Told(position, minutes, now)
            due.append(Due(attendance.id, attendance.conversation_id, text, told))
    return view, due


def send_notices(uow: UnitOfWork, due: list[Due], memory: ToldMemory) -> None:
    """Write each notice's delivery job; its id (random, fixed in the
    payload) lets Rasa append it once however often the job runs."""
    for notice in due:
        outbox.enqueue(
            uow,
            kind=QUEUE_NOTICE,
            key=outbox.to_customer(notice.conversation_id),
            payload={
                "attendance_id": notice.attendance_id,
                "conversation_id": notice.conversation_id,
                "notice_id": secrets.randbits(52),
                "text": notice.text,
            },
        )
        memory.put(notice.attendance_id, notice.told)


def _position_view(attendance: Attendance, position: int, minutes: int | None) -> dict[str, Any]:
    return {"id": attendance.id, "position": position, "estimated_minutes": minutes}
