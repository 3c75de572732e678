"""A room's opening hours and the organisation's holidays (issue 20, item
2), as pure rules: the schedule's text (the same lines in the content file
and in Supervisão), whether a room is open at an instant, when it opens
next, and what a customer who arrives while it is closed reads.

A schedule is one interval a line, its days and its hours in the
organisation's time zone::

    seg-sex 08:00-18:00
    sáb 08:00-12:00
    sex 22:00-02:00        (overnight: from Friday 22h to Saturday 2h)

An interval belongs to the day it starts on: a holiday cancels the
intervals that start on it (one that started the evening before runs on).
No intervals: the room has no hours and is always open (holidays too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handoff.domain.errors import Invalid
from handoff.domain.waiting import NOBODY_AVAILABLE

# What happens to a customer's conversation while the room is closed: it
# stays in the queue (answered by order of arrival when the room opens), or
# the customer is asked to leave a message with their contacts, which also
# stays in the queue as the attendance's first messages.
KEEP, MESSAGE = "keep", "message"
OUTSIDE_CHOICES = (KEEP, MESSAGE)
# How far ahead the next opening is looked for (a room closed longer than
# this says only that it is closed).
LOOKAHEAD_DAYS = 400

DAY_KEYS = ("seg", "ter", "qua", "qui", "sex", "sab", "dom")
DAY_NAMES = ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo")
WEEKDAY_NAMES = (
    "segunda-feira",
    "terça-feira",
    "quarta-feira",
    "quinta-feira",
    "sexta-feira",
    "sábado",
    "domingo",
)
_PLURAL = ("às segundas", "às terças", "às quartas", "às quintas", "às sextas")
_PLURAL_WEEKEND = ("aos sábados", "aos domingos")
_INTERVAL = re.compile(r"^(?P<days>\S+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")
OUTSIDE_TOLD = {
    KEEP: "Sua conversa fica na fila e será atendida por ordem de chegada assim que abrirmos.",
    MESSAGE: (
        "Deixe aqui sua mensagem, com seu nome e um telefone ou e-mail para contato: "
        "ela fica registrada e um atendente responde assim que abrirmos."
    ),
}
# What a customer reads who already left their message (the widget's
# leave-a-message form), closed and open with nobody available.
MESSAGE_RECEIVED = "Recebemos sua mensagem: ela fica registrada e um atendente responde"
RECEIVED_TOLD = f"{MESSAGE_RECEIVED} assim que abrirmos."
RECEIVED_WHILE_NOBODY = f"{MESSAGE_RECEIVED} assim que possível."
# Open, but no operator of the room available, in a room that takes messages.
MESSAGE_WHILE_NOBODY = (
    "Se preferir, deixe aqui sua mensagem, com seu nome e um telefone ou e-mail para contato: "
    "ela fica registrada e um atendente responde assim que possível."
)


@dataclass(frozen=True)
class Interval:
    """Open on ``days`` (0 = Monday) from ``start`` to ``end`` (the next day
    when ``end`` is not after ``start``)."""

    days: tuple[int, ...]
    start: time
    end: time


@dataclass(frozen=True)
class Schedule:
    intervals: tuple[Interval, ...]
    outside: str = KEEP

    @property
    def always_open(self) -> bool:
        return not self.intervals


ALWAYS_OPEN = Schedule(())


def _day(key: str) -> int:
    key = key.strip().lower().replace("á", "a")
    for index, known in enumerate(DAY_KEYS):
        if key == known or key == DAY_NAMES[index].replace("á", "a").replace("ç", "c"):
            return index
    raise ValueError(f"dia '{key}' desconhecido (use seg, ter, qua, qui, sex, sáb, dom)")


def _days(text: str) -> tuple[int, ...]:
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        start = _day(first)
        end = _day(last) if last else start
        if end < start:
            raise ValueError(f"dias '{part}' fora de ordem (a semana vai de seg a dom)")
        days.update(range(start, end + 1))
    return tuple(sorted(days))


def _time(text: str) -> time:
    hours, minutes = (int(n) for n in text.split(":"))
    if hours == 24 and minutes == 0:
        return time(0, 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"hora '{text}' inválida")
    return time(hours, minutes)


def parse_interval(line: str) -> Interval:
    """One line such as ``seg-sex 08:00-18:00``; ValueError in pt-BR."""
    match = _INTERVAL.match(line.strip())
    if match is None:
        raise ValueError(f"'{line.strip()}' não é um horário como 'seg-sex 08:00-18:00'")
    start, end = _time(match["start"]), _time(match["end"])
    if start == end and not (start == time(0) and match["end"] == "24:00"):
        raise ValueError(f"'{line.strip()}' abre e fecha na mesma hora")
    return Interval(_days(match["days"]), start, end)


def parse_schedule(text: str, outside: str = KEEP, field: str = "hours") -> Schedule:
    """The schedule typed in Supervisão (one interval a line; blank lines
    ignored; empty: always open). Errors name the line and the field."""
    if outside not in OUTSIDE_CHOICES:
        raise Invalid("Escolha o que acontece fora do horário.", field="outside_hours")
    intervals = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            intervals.append(parse_interval(line))
        except ValueError as error:
            raise Invalid(f"Linha {number}: {error}.", field=field) from error
    return Schedule(tuple(intervals), outside)


def schedule_text(schedule: Schedule) -> str:
    """The schedule as lines to edit (the inverse of :func:`parse_schedule`)."""
    return "\n".join(
        f"{_days_key(i.days)} {i.start:%H:%M}-{'24:00' if i.end == time(0) else f'{i.end:%H:%M}'}"
        for i in schedule.intervals
    )


def _days_key(days: tuple[int, ...]) -> str:
    return ",".join(
        DAY_KEYS[run[0]] if len(run) == 1 else f"{DAY_KEYS[run[0]]}-{DAY_KEYS[run[-1]]}"
        for run in _runs(days)
    ).replace("sab", "sáb")


def _runs(days: Iterable[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _openings(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """The (naive, local) intervals that start on ``day``."""
    spans = []
    for interval in schedule.intervals:
        if day.weekday() in interval.days:
            start = datetime.combine(day, interval.start)
            end_day = day if interval.end > interval.start else day + timedelta(days=1)
            spans.append((start, datetime.combine(end_day, interval.end)))
    return sorted(spans)


def is_open(
    schedule: Schedule, holidays: Mapping[date, str], now: datetime, zone: ZoneInfo
) -> bool:
    """Whether the room is open at ``now`` (aware), in the organisation's zone."""
    if schedule.always_open:
        return True
    local = now.astimezone(zone).replace(tzinfo=None)
    for day in (local.date() - timedelta(days=1), local.date()):
        if day in holidays:
            continue
        if any(start <= local < end for start, end in _openings(schedule, day)):
            return True
    return False


def next_opening(
    schedule: Schedule, holidays: Mapping[date, str], now: datetime, zone: ZoneInfo
) -> datetime | None:
    """When the room next opens after ``now`` (aware, in ``zone``), None if
    not within :data:`LOOKAHEAD_DAYS`."""
    local = now.astimezone(zone).replace(tzinfo=None)
    for offset in range(LOOKAHEAD_DAYS):
        day = local.date() + timedelta(days=offset)
        if day in holidays:
            continue
        for start, _end in _openings(schedule, day):
            if start > local:
                return start.replace(tzinfo=zone)
    return None


def _hour(moment: time, end: bool = False) -> str:
    hour = 24 if end and moment == time(0) else moment.hour
    return f"{hour}h{moment.minute:02d}" if moment.minute else f"{hour}h"


def _days_phrase(days: tuple[int, ...]) -> str:
    parts = []
    for run in _runs(days):
        if len(run) > 1:
            parts.append(f"de {DAY_NAMES[run[0]]} a {DAY_NAMES[run[-1]]}")
        else:
            parts.extend(_PLURAL[d] if d < 5 else _PLURAL_WEEKEND[d - 5] for d in run)
    return _join(parts)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} e {parts[-1]}"


def describe(schedule: Schedule) -> str:
    """ "de segunda a sexta, das 8h às 18h, e aos sábados, das 8h às 12h"."""
    phrases = [
        f"{_days_phrase(i.days)}, das {_hour(i.start)} às {_hour(i.end, end=True)}"
        for i in schedule.intervals
    ]
    return phrases[0] if len(phrases) == 1 else f"{', '.join(phrases[:-1])}, e {phrases[-1]}"


def when_phrase(opening: datetime, now: datetime) -> str:
    """ "hoje, às 8h", "amanhã, 02/12, às 8h" or "segunda-feira, 07/12, às 8h"."""
    today = now.astimezone(opening.tzinfo).date()
    hour = _hour(opening.time())
    if opening.date() == today:
        return f"hoje, às {hour}"
    day = (
        "amanhã"
        if opening.date() == today + timedelta(days=1)
        else WEEKDAY_NAMES[opening.weekday()]
    )
    return f"{day}, {opening:%d/%m}, às {hour}"


def nobody_notice(schedule: Schedule, message_left: bool = False) -> str:
    """What a customer reads when the room is open but none of its operators
    is available: that, and what happens to the message (``message_left``:
    they already left it)."""
    if schedule.outside == MESSAGE:
        return (
            f"{NOBODY_AVAILABLE} {RECEIVED_WHILE_NOBODY if message_left else MESSAGE_WHILE_NOBODY}"
        )
    return NOBODY_AVAILABLE


def closed_notice(
    schedule: Schedule,
    holidays: Mapping[date, str],
    now: datetime,
    zone: ZoneInfo,
    message_left: bool = False,
) -> str | None:
    """What a customer who joins the queue now reads, None while the room is
    open: the hours, the next opening and what happens to their message
    (``message_left``: they already left it, in a room that takes messages)."""
    if is_open(schedule, holidays, now, zone):
        return None
    parts = []
    holiday = holidays.get(now.astimezone(zone).date())
    if holiday:
        parts.append(f"Hoje é feriado ({holiday}).")
    parts.append(f"Nosso atendimento funciona {describe(schedule)}.")
    opening = next_opening(schedule, holidays, now, zone)
    if opening is not None:
        parts.append(f"Abriremos {when_phrase(opening, now)}.")
    left = message_left and schedule.outside == MESSAGE
    parts.append(RECEIVED_TOLD if left else OUTSIDE_TOLD[schedule.outside])
    return " ".join(parts)
