"""Rate limits of the handoff service, with the ``limits`` library: failed
logins per account and per address, requests per operator. Values come from
:class:`~handoff.settings.Settings`; counters live in Redis when
``HANDOFF_REDIS_URL`` is set (shared by every process), else in memory.

The checks are synchronous (Redis answers in well under a millisecond);
callers run them in the unit of work's worker thread, off the event loop.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from handoff.domain.errors import TooManyRequests
from handoff.settings import Settings


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        storage: Storage = (
            RedisStorage(settings.redis_url, key_prefix=f"{settings.redis_channel}:limits")
            if settings.redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_account = parse(settings.login_failures_per_account)
        self._per_address = parse(settings.login_failures_per_address)
        self._per_operator = parse(settings.operator_requests)

    def check_login(self, username: str, address: str) -> None:
        """Refuse a login attempt once the account or the address has failed
        too often, before the password is even checked."""
        for item, key in ((self._per_account, username.lower()), (self._per_address, address)):
            if not self._limiter.test(item, "login", key):
                raise TooManyRequests(
                    "Muitas tentativas de entrada sem sucesso. Tente novamente em "
                    f"{self._minutes_left(item, 'login', key)} minuto(s)."
                )

    def login_failed(self, username: str, address: str) -> None:
        self._limiter.hit(self._per_account, "login", username.lower())
        self._limiter.hit(self._per_address, "login", address)

    def operator_request(self, operator_id: int) -> None:
        """Count one request of the operator; refuse it over the limit."""
        if not self._limiter.hit(self._per_operator, "operator", str(operator_id)):
            raise TooManyRequests(
                "Muitas requisições em pouco tempo. Aguarde "
                f"{self._minutes_left(self._per_operator, 'operator', str(operator_id))}"
                " minuto(s) e tente novamente."
            )

    def _minutes_left(self, item: RateLimitItem, *keys: str) -> int:
        reset = self._limiter.get_window_stats(item, *keys).reset_time
        return max(1, math.ceil((reset - time.time()) / 60))
