"""Rate limits of the handoff service, with the ``limits`` library: failed
logins per (account, address) pair, per account and per address, requests
per operator. Values come from
:class:`~handoff.settings.Settings`; counters live in Redis when
``HANDOFF_REDIS_URL`` is set (shared by every process), else in memory.

The checks are synchronous (Redis answers in well under a millisecond);
callers run them in the unit of work's worker thread, off the event loop.
While Redis does not answer, the limits let every request through (fail
open) rather than fail it: operators keep working, and the log says so
(:mod:`handoff.outage`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from handoff.domain.errors import TooManyRequests
from handoff.outage import Outage
from handoff.settings import Settings

# A Redis that accepts connections but does not answer holds a request this
# long at most (then the limits are skipped for a while, see Outage).
REDIS_TIMEOUT_SECONDS = 1.0
T = TypeVar("T")


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        storage: Storage = (
            RedisStorage(
                settings.redis_url,
                key_prefix=f"{settings.redis_channel}:limits",
                wrap_exceptions=True,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
            if settings.redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._outage = Outage("Redis (rate limits)")
        self._per_pair = parse(settings.login_failures_per_pair)
        self._per_account = parse(settings.login_failures_per_account)
        self._per_address = parse(settings.login_failures_per_address)
        self._per_operator = parse(settings.operator_requests)

    def check_login(self, username: str, address: str, device: str | None = None) -> None:
        """Refuse a login attempt once its counters are full, before the
        password is even checked. ``device``: the id of the account's
        known-device cookie, when the request carries a valid one."""
        self._check_failures(
            self._login_counters(username, address, device),
            "Muitas tentativas de entrada sem sucesso.",
        )

    def login_failed(self, username: str, address: str, device: str | None = None) -> None:
        self._failed(self._login_counters(username, address, device))

    def check_password_change(self, operator_id: int) -> None:
        """A logged-in operator's wrong current passwords count like failed
        logins of the account: a stolen session is no password oracle."""
        self._check_failures(
            self._password_counters(operator_id), "Muitas tentativas com a senha atual errada."
        )

    def password_change_failed(self, operator_id: int) -> None:
        self._failed(self._password_counters(operator_id))

    def _password_counters(self, operator_id: int) -> list[tuple[RateLimitItem, str, str]]:
        return [(self._per_pair, "password", str(operator_id))]

    def _check_failures(self, counters: list[tuple[RateLimitItem, str, str]], what: str) -> None:
        for item, namespace, key in counters:
            if not self._counted(self._limiter.test, item, namespace, key):
                raise TooManyRequests(
                    f"{what} Tente novamente em "
                    f"{self._minutes_left(item, namespace, key)} minuto(s)."
                )

    def _failed(self, counters: list[tuple[RateLimitItem, str, str]]) -> None:
        for item, namespace, key in counters:
            self._counted(self._limiter.hit, item, namespace, key)

    def _login_counters(
        self, username: str, address: str, device: str | None
    ) -> list[tuple[RateLimitItem, str, str]]:
        """A known device counts only its own failures for that account (an
        attacker elsewhere cannot lock it out); any other attempt counts for
        its (account, address) pair, the account and the address."""
        account = username.lower()
        if device is not None:
            return [(self._per_pair, "login-device", f"{account}|{device}")]
        return [
            (self._per_pair, "login-pair", f"{account}|{address}"),
            (self._per_account, "login-account", account),
            (self._per_address, "login-address", address),
        ]

    def operator_request(self, operator_id: int) -> None:
        """Count one request of the operator; refuse it over the limit."""
        if not self._counted(self._limiter.hit, self._per_operator, "operator", str(operator_id)):
            raise TooManyRequests(
                "Muitas requisições em pouco tempo. Aguarde "
                f"{self._minutes_left(self._per_operator, 'operator', str(operator_id))}"
                " minuto(s) e tente novamente."
            )

    def _counted(self, call: Callable[..., bool], *args: Any) -> bool:
        """``call`` on the counters; True (allowed) while their storage is away."""
        return self._ask(call, *args, away=True)

    def _minutes_left(self, item: RateLimitItem, *keys: str) -> int:
        stats = self._ask(self._limiter.get_window_stats, item, *keys, away=None)
        return max(1, math.ceil((stats.reset_time - time.time()) / 60)) if stats else 1

    def _ask(self, call: Callable[..., T], *args: Any, away: T) -> T:
        if self._outage.skip():
            return away
        try:
            answer = call(*args)
        except StorageError as error:
            self._outage.failed(error.storage_error)
            return away
        self._outage.succeeded()
        return answer
