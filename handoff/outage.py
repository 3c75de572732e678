"""Going on without an optional dependency (Redis) while it is away.

A caller asks :meth:`Outage.skip` before using the dependency and reports
what happened: after a failure the dependency is left alone for
``retry_seconds`` (a Redis that does not answer would otherwise cost every
request its time-out), then tried again, so it is used again by itself
once it is back. The log gets one warning when it goes away, one a minute
while it stays away (with the count of failures), and one when it is back:
never one per request.
"""

from __future__ import annotations

import logging
import math
import time

log = logging.getLogger(__name__)
RETRY_SECONDS = 2.0
LOG_EVERY_SECONDS = 60.0


class Outage:
    def __init__(self, what: str, retry_seconds: float = RETRY_SECONDS) -> None:
        self.what = what
        self.retry_seconds = retry_seconds
        self._retry_at = 0.0
        self._away_since: float | None = None
        self._logged_at = -math.inf
        self._failures = 0

    def skip(self) -> bool:
        """Whether to do without the dependency now (it failed moments ago)."""
        return time.monotonic() < self._retry_at

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        self._retry_at = now + self.retry_seconds
        self._failures += 1
        if self._away_since is None:
            self._away_since = now
        if now - self._logged_at < LOG_EVERY_SECONDS:
            return
        self._logged_at = now
        failures, self._failures = self._failures, 0
        log.warning(
            "%s unreachable, going on without it (%d failure(s) since the last warning): %r",
            self.what,
            failures,
            error,
        )

    def succeeded(self) -> None:
        if self._away_since is None:
            return
        away = time.monotonic() - self._away_since
        self._away_since, self._retry_at, self._logged_at = None, 0.0, -math.inf
        self._failures = 0
        log.warning("%s reachable again after %.1f s", self.what, away)
