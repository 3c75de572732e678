"""``python -m tests.support.moved_clock DAYS ARGS...`` runs ``python -m
handoff ARGS...`` with the service's clock (``handoff.models.utcnow``, where
every domain time comes from) DAYS days ahead: the retention test's "two
years later", in a real process.

``DAYS`` may instead be ``@FILE``: the shift is then the number of seconds
in FILE, read again whenever the file changes, so that a test moves the
clock of a running service (``set_shift``; the opening-hours tests)."""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import handoff.models

real_now = handoff.models.utcnow


def set_shift(path: Path, to: datetime) -> None:
    """Move the clock of the service that reads ``path`` so that it is ``to`` now."""
    shift = (to - real_now()).total_seconds()
    temporary = path.with_suffix(".new")
    temporary.write_text(repr(shift))
    temporary.replace(path)


def _file_shift(path: str) -> Callable[[], timedelta]:
    seen: dict[str, object] = {"stamp": None, "shift": timedelta(0)}

    def shift() -> timedelta:
        stamp = os.stat(path).st_mtime_ns
        if stamp != seen["stamp"]:
            seen["stamp"] = stamp
            seen["shift"] = timedelta(seconds=float(Path(path).read_text() or 0))
        value = seen["shift"]
        assert isinstance(value, timedelta)
        return value

    return shift


if __name__ == "__main__":
    argument = sys.argv[1]
    if argument.startswith("@"):
        shift = _file_shift(argument[1:])
    else:
        fixed = timedelta(days=float(argument))
        shift = lambda: fixed  # noqa: E731

    def moved_now() -> datetime:
        return real_now() + shift()

    # Before anything else of the service is imported, so that every module's
    # ``from handoff.models import utcnow`` takes the moved clock.
    handoff.models.utcnow = moved_now
    sys.argv = ["python -m handoff", *sys.argv[2:]]
    runpy.run_module("handoff", run_name="__main__", alter_sys=True)
