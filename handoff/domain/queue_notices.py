"""Telling waiting customers their place in the queue (issue 20, item 1).

A customer hears their position and estimate when they join (in the
transfer message, :func:`place_of`) and afterwards when it changes in a
way worth telling (``waiting.worth_telling``), at most once per channel's
interval. After changes to a room's queue or to its operators'
availability (coalesced: ``handoff/queue_recount.py``), :func:`plan_notices`
works out every waiting customer's place (reading only: a room where
nothing is worth telling takes no write lock) and :func:`send_notices`
writes an outbox job for each notice due, which hands it to Rasa (a bot
message, ``bot/operator_messages.py``). What each customer was last told
is kept by the process (:class:`ToldMemory`): a restart, or a change
handled by another process, may tell a customer their place once more,
never less. The room's consoles get ``queue:positions`` with the places
that changed (:class:`PlacesShown`)."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain.waiting import (
    RECENT_WAITS,
    WHATSAPP_NOTICE_INTERVAL,
    WIDGET_NOTICE_INTERVAL,
    Told,
    estimate_seconds,
    held_until,
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
# The consoles get every place of a room again this often (PlacesShown).
FULL_PLACES_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Outlook:
    """What a room's estimates are made of: its recent waits and the
    operators available now (two queries)."""

    waits: list[float]
    available: int

    def minutes(self, position: int) -> int | None:
        return minutes_step(estimate_seconds(self.waits, position, self.available))


def outlook(session: Session, room_id: int) -> Outlook:
    return Outlook(recent_waits(session, room_id), available_operators(session, room_id))


def positions(
    session: Session,
    room_id: int,
    queue: Sequence[Attendance] | None = None,
    seen: Outlook | None = None,
) -> list[tuple[Attendance, int, int | None]]:
    """The room's waiting calls in order (``queue``, if the caller has read
    them in that order), each with its position and estimated minutes (None:
    no estimate). Two queries besides the queue (none with ``seen``, the
    room's outlook read by the caller), however long it is."""
    if queue is None:
        queue = session.scalars(
            select(Attendance)
            .where(Attendance.room_id == room_id, Attendance.status == QUEUED)
            .order_by(Attendance.queued_at, Attendance.id)
        ).all()
    seen = seen or outlook(session, room_id)
    return [
        (attendance, position, seen.minutes(position))
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
    remembered), with the room's ``closed`` notice; None once it is not
    waiting. Three queries, however long the queue: the calls ahead are
    counted, not read."""
    if attendance.status != QUEUED:
        return None
    ahead = session.execute(
        select(func.count())
        .select_from(Attendance)
        .where(
            Attendance.room_id == attendance.room_id,
            Attendance.status == QUEUED,
            or_(
                Attendance.queued_at < attendance.queued_at,
                and_(Attendance.queued_at == attendance.queued_at, Attendance.id < attendance.id),
            ),
        )
    ).scalar_one()
    position, seen = ahead + 1, outlook(session, attendance.room_id)
    minutes = seen.minutes(position)
    memory.put(attendance.id, Told(position, minutes, utcnow()))
    text = phrase(position, minutes, seen.available, closed)
    return {**_position_view(attendance, position, minutes), "text": text}


@dataclass(frozen=True)
class Intervals:
    """The least time between two notices to one customer, by channel."""

    widget: timedelta = WIDGET_NOTICE_INTERVAL
    whatsapp: timedelta = WHATSAPP_NOTICE_INTERVAL

    def of(self, channel: str) -> timedelta:
        return self.whatsapp if channel == WHATSAPP else self.widget


@dataclass(frozen=True)
class Due:
    """A notice worth sending: to whom, what, and what it tells."""

    attendance_id: int
    conversation_id: str
    text: str
    told: Told


@dataclass(frozen=True)
class Plan:
    """One recount of a room: every place (for the consoles), the notices due
    now, and when news held back by a channel's interval may be told (None:
    nothing held back)."""

    places: list[dict[str, Any]]
    due: list[Due]
    recount_at: datetime | None


def plan_notices(
    session: Session,
    room_id: int,
    memory: ToldMemory,
    intervals: Intervals = Intervals(),
    closed: str | None = None,
) -> Plan:
    """Count the room's places, and the notices worth sending now (see
    ``waiting.worth_telling``; while the room is ``closed``, they say so).
    Only reads."""
    seen = outlook(session, room_id)
    waiting = positions(session, room_id, seen=seen)
    places = [_position_view(*item) for item in waiting]
    now = utcnow()
    due, held = [], []
    for attendance, position, minutes in waiting:
        last, interval = memory.get(attendance.id), intervals.of(attendance.channel)
        if worth_telling(last, position, minutes, now, interval):
            text = phrase(position, minutes, seen.available, closed)
            told = Told(position, minutes, now)
            due.append(Due(attendance.id, attendance.conversation_id, text, told))
        elif (until := held_until(last, position, minutes, now, interval)) is not None:
            held.append(until)
    return Plan(places, due, min(held, default=None))


class PlacesShown:
    """What the consoles were last shown of each room's places, so that a
    recount sends only the places that changed (a queue of 1,000 is not
    sent to every console each second), and every place again every
    ``full_every``: a console that missed one, or heard another process's
    count, is right again soon."""

    def __init__(self, full_every: timedelta = FULL_PLACES_EVERY) -> None:
        self.full_every = full_every
        self._shown: dict[int, dict[int, tuple[int, int | None]]] = {}
        self._full_at: dict[int, datetime] = {}

    def changed(
        self, room_id: int, places: list[dict[str, Any]], now: datetime
    ) -> list[dict[str, Any]]:
        """The places to send now (all of them, at times), remembered as shown."""
        last = self._shown.get(room_id)
        current = {p["id"]: (p["position"], p["estimated_minutes"]) for p in places}
        self._shown[room_id] = current
        if last is None or now - self._full_at[room_id] >= self.full_every:
            self._full_at[room_id] = now
            return places
        return [p for p in places if last.get(p["id"]) != current[p["id"]]]


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
