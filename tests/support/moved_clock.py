"""``python -m tests.support.moved_clock DAYS ARGS...`` runs ``python -m
handoff ARGS...`` with the service's clock (``handoff.models.utcnow``, where
every domain time comes from) DAYS days ahead: the retention test's "two
years later", in a real process."""

from __future__ import annotations

import runpy
import sys
from datetime import datetime, timedelta

import handoff.models

shift = timedelta(days=float(sys.argv[1]))
real_now = handoff.models.utcnow


def moved_now() -> datetime:
    return real_now() + shift


# Before anything else of the service is imported, so that every module's
# ``from handoff.models import utcnow`` takes the moved clock.
handoff.models.utcnow = moved_now
sys.argv = ["python -m handoff", *sys.argv[2:]]
runpy.run_module("handoff", run_name="__main__", alter_sys=True)
