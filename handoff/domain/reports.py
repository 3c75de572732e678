"""Supervision: the live view of each room and the reports by day, room and
operator. Times are reported in the organisation's time zone."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handoff.domain.errors import Invalid
from handoff.domain.queue_notices import positions
from handoff.domain.views import attendance_view, seconds_between
from handoff.models import (
    ABANDONED,
    ACTIVE,
    CANCELLED,
    FINISHED,
    HOLD_TRANSFERRED,
    QUEUED,
    Attendance,
    AttendanceHold,
    KbArticle,
    Operator,
    OperatorRoom,
    Registration,
    Room,
    SurveyAnswer,
    utcnow,
)

MAX_REPORT_DAYS = 366


def live_view(session: Session) -> list[dict[str, Any]]:
    """Per room: the calls waiting, the longest wait, the operators and what they do."""
    now = utcnow()
    rooms = session.scalars(select(Room).order_by(Room.name)).all()
    waiting = session.scalars(
        select(Attendance).where(Attendance.status == QUEUED).order_by(Attendance.queued_at)
    ).all()
    active = session.scalars(select(Attendance).where(Attendance.status == ACTIVE)).all()
    links = session.execute(select(OperatorRoom.room_id, Operator).join(Operator)).all()
    result = []
    for room in rooms:
        queue = [a for a in waiting if a.room_id == room.id]
        operators = [op for room_id, op in links if room_id == room.id and op.active]
        result.append(
            {
                "room": {"id": room.id, "slug": room.slug, "name": room.name},
                "waiting": [
                    {**attendance_view(a), "position": position, "estimated_minutes": minutes}
                    for a, position, minutes in positions(session, room.id)
                ],
                "longest_wait_seconds": round((now - queue[0].queued_at).total_seconds())
                if queue
                else 0,
                "operators": [
                    {
                        "id": op.id,
                        "name": op.name,
                        "status": op.status,
                        "status_reason": op.status_reason,
                        "attendances": [
                            attendance_view(a)
                            for a in active
                            if a.operator_id == op.id and a.room_id == room.id
                        ],
                    }
                    for op in sorted(operators, key=lambda o: o.name)
                ],
            }
        )
    return result


def parse_period(start: Any, end: Any, today: date) -> tuple[date, date]:
    """Inclusive dates (YYYY-MM-DD); the last 7 days when not given."""

    def parse(value: Any, field: str, default: date) -> date:
        if value in (None, ""):
            return default
        try:
            return date.fromisoformat(str(value))
        except ValueError as error:
            raise Invalid("Use a data no formato AAAA-MM-DD.", field=field) from error

    last = parse(end, "end", today)
    first = parse(start, "start", last - timedelta(days=6))
    if first > last:
        raise Invalid("O início deve ser antes do fim.", field="start")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise Invalid(f"Escolha até {MAX_REPORT_DAYS} dias.", field="start")
    return first, last


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


def _avg(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


@dataclass(frozen=True)
class Part:
    """What the statistics count: a whole attendance (totals, days), or one
    operator's part of it (the rows by operator), or a call nobody took."""

    room_id: int
    operator_id: int | None
    queued_at: datetime
    taken_at: datetime | None
    first_response_at: datetime | None
    ended_at: datetime | None
    status: str
    subject: str | None
    transferred: bool = False
    # The customer's survey rating (1-5), on the whole attendance and on the
    # part of the operator who finished it.
    rating: int | None = None


def _abandoned(part: Part) -> bool:
    """The customer left: they went silent during the attendance (closed by
    the abandonment sweep), or their call was closed before anyone took it."""
    return part.status == ABANDONED or (
        part.status in (FINISHED, CANCELLED) and part.taken_at is None
    )


def _subjects(rows: Sequence[Part]) -> list[dict[str, Any]]:
    """The closing subjects of the finished attendances, most frequent first."""
    counts = Counter(a.subject for a in rows if a.status == FINISHED and a.subject)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"subject": subject, "count": count} for subject, count in ordered]


def _stats(rows: Sequence[Part]) -> dict[str, Any]:
    def times(start: str, end: str) -> list[float]:
        spans = (seconds_between(getattr(a, start), getattr(a, end)) for a in rows)
        return [span for span in spans if span is not None]

    waits = times("queued_at", "taken_at")
    firsts = times("taken_at", "first_response_at")
    handling = times("taken_at", "ended_at")
    ratings = [float(a.rating) for a in rows if a.rating is not None]
    return {
        "received": len(rows),
        "answered": sum(1 for a in rows if a.taken_at is not None),
        "finished": sum(1 for a in rows if a.status == FINISHED),
        "cancelled": sum(1 for a in rows if a.status == CANCELLED and a.taken_at is not None),
        "abandoned": sum(1 for a in rows if _abandoned(a)),
        "transferred": sum(1 for a in rows if a.transferred),
        "wait_avg": _avg(waits),
        "wait_p90": _p90(waits),
        "first_response_avg": _avg(firsts),
        "first_response_p90": _p90(firsts),
        "handling_avg": _avg(handling),
        "handling_p90": _p90(handling),
        "subjects": _subjects(rows),
        "survey_answers": len(ratings),
        "rating_avg": _avg(ratings),
    }


def _whole(a: Attendance, holds: list[AttendanceHold], rating: int | None) -> Part:
    """An attendance from its first take (the wait is until then) to its end."""
    first = holds[0] if holds else None
    return Part(
        room_id=a.room_id,
        operator_id=a.operator_id,
        queued_at=a.queued_at,
        taken_at=first.started_at if first else a.taken_at,
        first_response_at=first.first_response_at if first else a.first_response_at,
        ended_at=a.ended_at,
        status=a.status,
        subject=a.subject,
        transferred=any(h.outcome == HOLD_TRANSFERRED for h in holds),
        rating=rating,
    )


def _parts(a: Attendance, holds: list[AttendanceHold], rating: int | None) -> Iterator[Part]:
    """Each operator's part of an attendance: waiting from when it reached
    them (queued, or passed on), first response and duration of their own
    hold; finished, cancelled or abandoned only in the last one. A call
    that ended or waits with nobody holding it is a part of no operator.
    The survey's ``rating`` counts in the finishing operator's part."""
    if not holds:  # never taken (or kept from before holds were recorded)
        yield _whole(a, holds, rating)
        return
    reached = a.queued_at
    for hold in holds:
        status = hold.outcome or a.status
        yield Part(
            room_id=hold.room_id,
            operator_id=hold.operator_id,
            queued_at=reached,
            taken_at=hold.started_at,
            first_response_at=hold.first_response_at,
            ended_at=hold.ended_at,
            status=status,
            subject=a.subject if status == FINISHED else None,
            transferred=hold.outcome == HOLD_TRANSFERRED,
            rating=rating if status == FINISHED else None,
        )
        reached = hold.ended_at or reached
    if holds[-1].ended_at is not None and holds[-1].outcome not in (FINISHED, CANCELLED, ABANDONED):
        yield Part(a.room_id, None, reached, None, None, a.ended_at, a.status, None)


def report(session: Session, first: date, last: date, zone: str) -> dict[str, Any]:
    """Attendances received in [first, last] (local dates), grouped by day,
    room and operator, with daily totals and the most registered articles.

    A row of an operator counts their part of each attendance (a call
    transferred from one operator to another counts in both rows, as
    answered by each, finished in the last one's); the totals and the days
    count each attendance once. Finished and cancelled count the
    attendances an operator ended; abandoned counts those the customer left
    (see ``_abandoned``), which are never also counted as cancelled.
    """
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time.min, tz)
    stop = datetime.combine(last + timedelta(days=1), time.min, tz)
    received = (Attendance.queued_at >= start, Attendance.queued_at < stop)
    rows = session.scalars(select(Attendance).where(*received)).all()
    holds: dict[int, list[AttendanceHold]] = defaultdict(list)
    for hold in session.scalars(
        select(AttendanceHold)
        .join(Attendance, Attendance.id == AttendanceHold.attendance_id)
        .where(*received)
        .order_by(AttendanceHold.started_at, AttendanceHold.id)
    ):
        holds[hold.attendance_id].append(hold)
    ratings = dict(
        session.execute(
            select(SurveyAnswer.attendance_id, SurveyAnswer.rating)
            .join(Attendance, Attendance.id == SurveyAnswer.attendance_id)
            .where(*received, SurveyAnswer.rating.is_not(None))
        )
        .tuples()
        .all()
    )
    rooms = {r.id: r.name for r in session.scalars(select(Room))}
    names = {o.id: o.name for o in session.scalars(select(Operator))}
    groups: dict[tuple[str, str, str], list[Part]] = defaultdict(list)
    days: dict[str, list[Part]] = defaultdict(list)
    for a in rows:
        day = a.queued_at.astimezone(tz).date().isoformat()
        for part in _parts(a, holds[a.id], ratings.get(a.id)):
            operator = names.get(part.operator_id, "—") if part.operator_id else "—"
            groups[(day, rooms.get(part.room_id, "?"), operator)].append(part)
        days[day].append(_whole(a, holds[a.id], ratings.get(a.id)))
    top = session.execute(
        select(KbArticle.title, func.count(Registration.id))
        .join(Registration, Registration.article_id == KbArticle.id)
        .join(Attendance, Attendance.id == Registration.attendance_id)
        .where(*received)
        .group_by(KbArticle.title)
        .order_by(func.count(Registration.id).desc(), KbArticle.title)
        .limit(10)
    ).all()
    all_days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "rows": [
            {"day": day, "room": room, "operator": operator, **_stats(group)}
            for (day, room, operator), group in sorted(groups.items())
        ],
        "daily": [{"day": day, **_stats(days.get(day, []))} for day in all_days],
        "totals": _stats([part for day in days.values() for part in day]),
        "top_articles": [{"title": title, "count": count} for title, count in top],
    }


# The CSV's columns: the row's key and its heading (times in seconds).
CSV_COLUMNS = {
    "day": "Dia",
    "room": "Sala",
    "operator": "Operador",
    "received": "Recebidos",
    "answered": "Atendidos",
    "finished": "Finalizados",
    "cancelled": "Cancelados",
    "abandoned": "Abandonados",
    "transferred": "Transferidos",
    "wait_avg": "Espera média (s)",
    "wait_p90": "Espera p90 (s)",
    "first_response_avg": "1ª resposta média (s)",
    "first_response_p90": "1ª resposta p90 (s)",
    "handling_avg": "Duração média (s)",
    "handling_p90": "Duração p90 (s)",
    "subjects": "Assuntos",
    "survey_answers": "Avaliações",
    "rating_avg": "Nota média",
}

# A spreadsheet reads a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# What a spreadsheet set to pt-BR reads without an import dialog: UTF-8 with
# a byte-order mark, ";" between cells, a decimal comma, dates as dd/mm/aaaa.
BOM = "\ufeff"
SEPARATOR = ";"


def _cell(key: str, value: Any) -> Any:
    """A value as a pt-BR spreadsheet reads it; names (rooms, operators) go
    in as text, never as a formula (OWASP CSV injection)."""
    if value is None:
        return ""
    if key == "day":
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _subjects_cell(subjects: list[dict[str, Any]]) -> str:
    """The closing subjects of a row in one cell: "IPTU (2) | Outros (1)"."""
    return " | ".join(f"{s['subject']} ({s['count']})" for s in subjects)


def report_csv(data: dict[str, Any]) -> str:
    """The report's rows as CSV for a spreadsheet in pt-BR (seconds for times)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=SEPARATOR)
    writer.writerow(CSV_COLUMNS.values())
    for row in data["rows"]:
        cells = {**row, "subjects": _subjects_cell(row.get("subjects", []))}
        writer.writerow([_cell(key, cells.get(key)) for key in CSV_COLUMNS])
    return BOM + out.getvalue()
