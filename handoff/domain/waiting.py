"""The customer's wait in the queue (issue 20, item 1), as pure rules: the
position, an estimate from the room's recent waits and the operators
available, its pt-BR phrase, and when a change is worth telling."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# How many of the room's latest taken calls the estimate looks at.
RECENT_WAITS = 20
# Estimates are told in these steps of minutes (rounded up); beyond the last,
# in half hours. A change within a step is not news.
MINUTE_STEPS = (1, 2, 3, 5, 10, 15, 20, 30, 45, 60)
# On WhatsApp every notice is a message on the citizen's phone: at most one
# per conversation this often (HANDOFF_WHATSAPP_QUEUE_NOTICE_SECONDS; the
# first, on joining, always goes).
WHATSAPP_NOTICE_INTERVAL = timedelta(minutes=2)
# In the widget, at most one notice this often
# (HANDOFF_WIDGET_QUEUE_NOTICE_SECONDS): in a long queue every call taken
# moves everyone up, and a line a second is noise, not news.
WIDGET_NOTICE_INTERVAL = timedelta(seconds=30)
NOBODY_AVAILABLE = (
    "No momento nenhum atendente está disponível; você será atendido assim que um ficar livre."
)


@dataclass(frozen=True)
class Told:
    """What a customer was last told of their place in the queue."""

    position: int
    minutes: int | None
    at: datetime


def estimate_seconds(recent_waits: Sequence[float], position: int, available: int) -> float | None:
    """How long the customer at ``position`` (1 = next) may wait: the median
    of the room's recent waits for each round of calls the available
    operators take ahead of them. None without history or anyone available."""
    if not recent_waits or available < 1 or position < 1:
        return None
    rounds = math.ceil(position / available)
    return statistics.median(recent_waits) * rounds


def minutes_step(seconds: float | None) -> int | None:
    """The estimate in whole minutes, rounded up to a step (at least 1)."""
    if seconds is None:
        return None
    minutes = seconds / 60
    for step in MINUTE_STEPS:
        if minutes <= step:
            return step
    return math.ceil(minutes / 30) * 30


def phrase(position: int, minutes: int | None, available: int, closed: str | None = None) -> str:
    """What the customer reads, e.g. "Você é o 3º da fila. Tempo estimado:
    cerca de 5 min."; while the room is closed, its ``closed`` notice (the
    hours, the next opening) instead of the estimate."""
    text = f"Você é o {position}º da fila."
    if closed is not None:
        return f"{text} {closed}"
    if minutes is not None:
        return f"{text} Tempo estimado: cerca de {minutes} min."
    if available < 1:
        return f"{text} {NOBODY_AVAILABLE}"
    return text


def is_news(last: Told | None, position: int, minutes: int | None) -> bool:
    """Whether a place is worth telling at all: on joining, then when the
    position improves or the estimate moves to another step."""
    return last is None or position < last.position or minutes != last.minutes


def worth_telling(
    last: Told | None,
    position: int,
    minutes: int | None,
    now: datetime,
    interval: timedelta = timedelta(0),
) -> bool:
    """News (:func:`is_news`), not sooner than ``interval`` after the last
    notice (the channel's; a change held back is told when it ends, see
    :func:`held_until`)."""
    if last is None:
        return True
    return is_news(last, position, minutes) and now - last.at >= interval


def held_until(
    last: Told | None, position: int, minutes: int | None, now: datetime, interval: timedelta
) -> datetime | None:
    """When news held back by the channel's interval may be told (None: it
    may be told now, or there is no news)."""
    if last is None or not is_news(last, position, minutes) or now - last.at >= interval:
        return None
    return last.at + interval
