"""Where each room's opening hours and the holidays come from: the content
editors' files (``data/horarios.md``, ``data/feriados.md``) and Supervisão.

Files are the organisation's standing rules and are read whenever used (a
saved file counts at once). Supervisão changes a room's hours for the desk
as it is run (a room that closes early this month) and that choice is kept:
a room whose hours a supervisor set follows them until the supervisor puts
it back on the file's (``from_file``); no file load overwrites a
supervisor's edit (as with the ready replies). Holidays are the file's plus
those a supervisor adds.

``horarios.md``, a section per room (its identifier), intervals as in
:mod:`handoff.domain.opening_hours`, and the choice for closed hours::

    ## atendimento
    - seg-sex 08:00-18:00
    - sáb 08:00-12:00
    - fora do horário: recado      (or: manter; the default)

``feriados.md``, one a line: ``- 25/12/2026 Natal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.access import is_row_id
from handoff.domain.audit import audit
from handoff.domain.errors import Conflict, Invalid, NotFound
from handoff.domain.opening_hours import (
    ALWAYS_OPEN,
    KEEP,
    MESSAGE,
    Schedule,
    closed_notice,
    describe,
    is_open,
    next_opening,
    nobody_notice,
    parse_interval,
    parse_schedule,
    schedule_text,
    when_phrase,
)
from handoff.domain.operators import room_ids
from handoff.domain.queue_notices import available_operators
from handoff.models import Attendance, Holiday, Operator, Room

MAX_HOLIDAY_NAME = 120
OUTSIDE_WORDS = {"manter": KEEP, "recado": MESSAGE}
_OUTSIDE_PREFIX = "fora do horário:"


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise Invalid(f"{path.name}: o arquivo não está em UTF-8") from error


def parse_hours_file(path: Path) -> dict[str, Schedule]:
    """Each room's schedule in the file; an error names the file and the line."""
    rooms: dict[str, tuple[list[Any], str]] = {}
    current: str | None = None
    for number, line in enumerate(_lines(path), start=1):
        where = f"{path.name}:{number}"
        if line.startswith("## "):
            current = line[3:].strip()
            if not current or current in rooms:
                raise Invalid(f"{where}: sala vazia ou repetida '{current}'")
            rooms[current] = ([], KEEP)
            continue
        if not line.startswith("- "):
            continue
        if current is None:
            raise Invalid(f"{where}: horário antes de uma sala ('## identificador')")
        item = line[2:].strip()
        intervals = rooms[current][0]
        if item.lower().startswith(_OUTSIDE_PREFIX):
            word = item[len(_OUTSIDE_PREFIX) :].strip().lower()
            if word not in OUTSIDE_WORDS:
                raise Invalid(f"{where}: fora do horário deve ser 'manter' ou 'recado'")
            rooms[current] = (intervals, OUTSIDE_WORDS[word])
            continue
        try:
            intervals.append(parse_interval(item))
        except ValueError as error:
            raise Invalid(f"{where}: {error}") from error
    return {slug: Schedule(tuple(i), outside) for slug, (i, outside) in rooms.items()}


def parse_holidays_file(path: Path) -> dict[date, str]:
    """The file's holidays by date; an error names the file and the line."""
    holidays: dict[date, str] = {}
    for number, line in enumerate(_lines(path), start=1):
        if not line.startswith("- "):
            continue
        where = f"{path.name}:{number}"
        day_text, _, name = line[2:].strip().partition(" ")
        try:
            day = datetime.strptime(day_text, "%d/%m/%Y").date()
        except ValueError as error:
            raise Invalid(f"{where}: data '{day_text}' não é como 25/12/2026") from error
        name = name.strip()
        if not name or len(name) > MAX_HOLIDAY_NAME:
            raise Invalid(f"{where}: o feriado precisa de um nome (até {MAX_HOLIDAY_NAME} letras)")
        if day in holidays:
            raise Invalid(f"{where}: data repetida {day_text}")
        holidays[day] = name
    return holidays


@dataclass
class HoursFiles:
    """The two files, parsed again only when saved (by modification time)."""

    hours_file: Path
    holidays_file: Path
    zone: ZoneInfo
    _cache: dict[Path, tuple[float, Any]] = field(default_factory=dict)

    def _read(self, path: Path, parse: Any) -> Any:
        stamp = path.stat().st_mtime if path.is_file() else -1.0
        cached = self._cache.get(path)
        if cached is None or cached[0] != stamp:
            self._cache[path] = cached = (stamp, parse(path))
        return cached[1]

    def hours(self) -> dict[str, Schedule]:
        return dict(self._read(self.hours_file, parse_hours_file))

    def holidays(self) -> dict[date, str]:
        return dict(self._read(self.holidays_file, parse_holidays_file))

    def check(self, session: Session | None = None) -> None:
        """Both files parse; with a database, every room they name exists."""
        named = parse_hours_file(self.hours_file)
        parse_holidays_file(self.holidays_file)
        if session is not None:
            known = set(session.scalars(select(Room.slug)))
            for slug in named:
                if slug not in known:
                    raise Invalid(f"{self.hours_file.name}: a sala '{slug}' não existe")


def _file_schedule(files: HoursFiles, room: Room) -> Schedule | None:
    try:
        return files.hours().get(room.slug)
    except Invalid:  # a broken file counts as none (``content check`` names it)
        return None


def schedule_of(files: HoursFiles, room: Room) -> tuple[Schedule, str]:
    """The room's schedule and where it comes from: ``supervisao``,
    ``arquivo`` or ``nenhum`` (always open)."""
    if room.opening_hours is not None:
        return parse_schedule(room.opening_hours, room.outside_hours or KEEP), "supervisao"
    from_file = _file_schedule(files, room)
    return (from_file, "arquivo") if from_file else (ALWAYS_OPEN, "nenhum")


def holidays_of(session: Session, files: HoursFiles) -> dict[date, str]:
    """The file's holidays and Supervisão's."""
    try:
        holidays = files.holidays()
    except Invalid:
        holidays = {}
    for row in session.scalars(select(Holiday)):
        holidays.setdefault(row.day, row.name)
    return holidays


@dataclass(frozen=True)
class Unattended:
    """Why nobody will answer a customer who joins now, and what they read:
    the room is ``closed`` (its hours, a holiday), or open with no operator
    available in a room that takes messages."""

    notice: str
    closed: bool
    leave_message: bool


def unattended(
    session: Session, files: HoursFiles, room_id: int, now: datetime, message_left: bool = False
) -> Unattended | None:
    """For a customer joining the room's queue at ``now`` (``message_left``:
    with the message the room asks for, from the widget's form); None while
    it is attended (or has no hours: the queue's own phrase tells of nobody
    available)."""
    room = session.get(Room, room_id)
    if room is None:
        return None
    schedule, _source = schedule_of(files, room)
    if schedule.always_open:
        return None
    leave_message = schedule.outside == MESSAGE
    notice = closed_notice(schedule, holidays_of(session, files), now, files.zone, message_left)
    if notice is not None:
        return Unattended(notice, True, leave_message)
    if leave_message and available_operators(session, room_id) < 1:
        return Unattended(nobody_notice(schedule, message_left), False, True)
    return None


def closed_for_widget(
    session: Session, files: HoursFiles, room: Room | None, now: datetime
) -> dict[str, Any] | None:
    """What the widget shows before a visitor starts while nobody will answer
    them: the notice, and whether it offers the leave-a-message form."""
    found = None if room is None else unattended(session, files, room.id, now)
    return None if found is None else {"notice": found.notice, "leave_message": found.leave_message}


def note_outside_hours(attendance: Attendance, found: Unattended | None) -> None:
    """Mark a call that joined while its room was closed (the consoles show it)."""
    if found is not None and found.closed:
        attendance.queued_outside_hours = True


def hours_view(session: Session, files: HoursFiles, room: Room, now: datetime) -> dict[str, Any]:
    """A room's hours as Supervisão and the consoles show them."""
    schedule, source = schedule_of(files, room)
    holidays = holidays_of(session, files)
    opening = None if schedule.always_open else next_opening(schedule, holidays, now, files.zone)
    from_file = _file_schedule(files, room)
    return {
        "room_id": room.id,
        "source": source,
        "hours": schedule_text(schedule),
        "outside_hours": schedule.outside,
        "summary": describe(schedule) if not schedule.always_open else None,
        "open": is_open(schedule, holidays, now, files.zone),
        "opens_at": opening.isoformat() if opening else None,
        "opens": when_phrase(opening, now) if opening else None,
        "file_hours": schedule_text(from_file) if from_file else None,
    }


def all_hours(session: Session, files: HoursFiles, now: datetime) -> list[dict[str, Any]]:
    rooms = session.scalars(select(Room).order_by(Room.name))
    return [hours_view(session, files, room, now) for room in rooms]


def operator_rooms_hours(
    session: Session, files: HoursFiles, operator: Operator, now: datetime
) -> list[dict[str, Any]]:
    """The operator's rooms, each with its name and hours (Início)."""
    rooms = session.scalars(
        select(Room).where(Room.id.in_(room_ids(session, operator))).order_by(Room.name)
    )
    return [{"name": room.name, **hours_view(session, files, room, now)} for room in rooms]


def set_room_hours(uow: UnitOfWork, actor: Operator, room_id: Any, data: Any) -> Room:
    """Supervisão sets the room's hours (``hours``: the lines; ``""``: always
    open) and choice, or puts it back on the file's (``from_file``: true)."""
    room = uow.session.get(Room, room_id) if is_row_id(room_id) else None
    if room is None:
        raise NotFound("room not found")
    if data.get("from_file") is True:
        room.opening_hours = room.outside_hours = None
    else:
        hours, outside = data.get("hours"), data.get("outside_hours", KEEP)
        if not isinstance(hours, str) or len(hours) > 2000:
            raise Invalid("Informe os horários, um por linha.", field="hours")
        schedule = parse_schedule(hours, outside if isinstance(outside, str) else "")
        room.opening_hours, room.outside_hours = schedule_text(schedule), schedule.outside
    uow.session.flush()
    audit(uow.session, "room_hours_set", operator_id=actor.id, room=room.slug)
    return room


def list_holidays(session: Session, files: HoursFiles) -> list[dict[str, Any]]:
    """Every holiday by date, the file's marked as such (changed only there)."""
    try:
        from_file = files.holidays()
    except Invalid:
        from_file = {}
    rows: list[dict[str, Any]] = [
        {"id": None, "day": day.isoformat(), "name": name, "source": "arquivo"}
        for day, name in from_file.items()
    ]
    rows += [
        {"id": h.id, "day": h.day.isoformat(), "name": h.name, "source": "supervisao"}
        for h in session.scalars(select(Holiday))
        if h.day not in from_file
    ]
    return sorted(rows, key=lambda row: str(row["day"]))


def add_holiday(uow: UnitOfWork, actor: Operator, files: HoursFiles, data: Any) -> Holiday:
    day_text, name = data.get("day"), data.get("name")
    try:
        day = date.fromisoformat(day_text) if isinstance(day_text, str) else None
    except ValueError:
        day = None
    if day is None:
        raise Invalid("Informe a data do feriado.", field="day")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_HOLIDAY_NAME:
        raise Invalid(f"Informe o nome do feriado (até {MAX_HOLIDAY_NAME} letras).", field="name")
    if day in holidays_of(uow.session, files):
        raise Conflict("Esta data já é feriado.", field="day")
    holiday = Holiday(day=day, name=name.strip())
    uow.session.add(holiday)
    uow.session.flush()
    audit(uow.session, "holiday_added", operator_id=actor.id, day=day.isoformat())
    return holiday


def delete_holiday(uow: UnitOfWork, actor: Operator, holiday_id: Any) -> None:
    holiday = uow.session.get(Holiday, holiday_id) if is_row_id(holiday_id) else None
    if holiday is None:
        raise NotFound("holiday not found")
    uow.session.delete(holiday)
    audit(uow.session, "holiday_deleted", operator_id=actor.id, day=holiday.day.isoformat())
