"""The operator's "digitando…" for the customer: a console reports typing
while the operator writes; at most one signal per attendance every
``TYPING_INTERVAL_SECONDS`` goes on to Rasa, which shows it in the widget
(``bot/operator_messages.py``, ``/typing``). Nothing is stored: a lost
signal only means the indicator does not show."""

from __future__ import annotations

import time
from collections import OrderedDict

# One signal per attendance this often; the widget shows each for longer.
TYPING_INTERVAL_SECONDS = 2.0
# Attendances remembered (oldest dropped): a bound for the process's memory.
REMEMBERED = 10_000


class TypingThrottle:
    """Which typing reports go on: the first of each attendance, then one
    per interval."""

    def __init__(self, interval: float = TYPING_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._last: OrderedDict[int, float] = OrderedDict()

    def due(self, attendance_id: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        last = self._last.get(attendance_id)
        if last is not None and now - last < self.interval:
            return False
        self._last[attendance_id] = now
        self._last.move_to_end(attendance_id)
        while len(self._last) > REMEMBERED:
            self._last.popitem(last=False)
        return True
