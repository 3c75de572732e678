"""Stop Rasa's silent fall-back to memory and report the tracker store's health.

Rasa wraps every tracker store in ``FailSafeTrackerStore``: when the SQL
store fails it logs, answers ``retrieve`` with ``None`` (a fresh, un-paused
tracker) and keeps ``save`` in an ``InMemoryTrackerStore``. A message handled
then is acknowledged but lives only in this process's memory, and a handed-off
conversation hears the bot again. This module installs the wrapper's error
callback so that the error is counted and re-raised instead: the message is
not acknowledged (the widget and WhatsApp send it again), the HTTP API answers
500 (the handoff service retries). Nothing reaches the in-memory store.

Registered in ``credentials.yml`` as an input channel so that it lives in
Rasa's process and sees the agent; ``GET /webhooks/tracker_store/health``
(service token) tells the handoff service's ``/health`` whether the tracker
store answers, how often it failed, and whether anything was kept in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Iterator, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, TrackerStore
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import select

from bot.service_channel import ServiceInput
from bot.tracker_queries import innermost

logger = logging.getLogger(__name__)

# A conversation id no client can have (too short for a session token).
PROBE_SENDER = "tracker-store-probe"
PROBE_TIMEOUT_SECONDS = 1.0
# A model loaded with PUT /model brings a new agent and tracker store.
REWATCH_SECONDS = 1.0


class TrackerStoreUnavailable(Exception):
    """The tracker store failed; the message is refused rather than kept in memory."""


class Guard:
    """Counts tracker-store failures and turns them into errors."""

    def __init__(self) -> None:
        self.failures = 0
        self.last_failure: Optional[float] = None
        self.last_error: Optional[str] = None

    def on_error(self, error: Exception) -> None:
        self.failures += 1
        self.last_failure = time.time()
        self.last_error = type(error).__name__
        logger.error("tracker store failed (%r); the message is refused, not kept in memory", error)
        raise TrackerStoreUnavailable(str(error)) from error

    def install(self, store: Optional[TrackerStore]) -> None:
        for wrapper in _fail_safe_wrappers(store):
            wrapper._on_tracker_store_error = self.on_error


def _fail_safe_wrappers(store: Optional[TrackerStore]) -> Iterator[FailSafeTrackerStore]:
    while isinstance(store, FailSafeTrackerStore):
        yield store
        store = store._tracker_store


def _in_memory_conversations(store: Optional[TrackerStore]) -> int:
    """Trackers that Rasa kept only in memory (0 while the guard is installed)."""
    total = 0
    for wrapper in _fail_safe_wrappers(store):
        fallback = wrapper._fallback_tracker_store
        if isinstance(fallback, InMemoryTrackerStore):
            total += len(fallback.store)
    return total


class TrackerStoreGuardInput(ServiceInput):
    """Register as ``bot.tracker_store_guard.TrackerStoreGuardInput`` with ``token``."""

    @classmethod
    def name(cls) -> str:
        return "tracker_store"

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.guard = Guard()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        guard = self.guard
        blueprint = Blueprint("tracker_store_guard", __name__)

        @blueprint.listener("after_server_start")
        async def watch(app: Sanic, _loop: Any) -> None:
            async def keep_installed() -> None:
                while True:
                    guard.install(getattr(app.ctx, "agent", None) and app.ctx.agent.tracker_store)
                    await asyncio.sleep(REWATCH_SECONDS)

            app.ctx.tracker_store_guard = asyncio.ensure_future(keep_installed())

        @blueprint.listener("before_server_stop")
        async def unwatch(app: Sanic, _loop: Any) -> None:
            app.ctx.tracker_store_guard.cancel()

        @blueprint.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            refused = self.refusal(request)
            if refused is not None:
                return refused
            agent = getattr(request.app.ctx, "agent", None)
            store = agent.tracker_store if agent is not None else None
            guard.install(store)
            return response.json(
                {
                    "tracker_store": await _probe(innermost(store)),
                    "failures": guard.failures,
                    "last_failure": guard.last_failure,
                    "last_error": guard.last_error,
                    "in_memory_conversations": _in_memory_conversations(store),
                }
            )

        return blueprint


async def _probe(store: Optional[TrackerStore]) -> str:
    """Whether the primary tracker store answers a read now. A SQL store is
    read in a worker thread: its blocking driver must not stall Rasa's loop
    (SQLite waits for another process's lock)."""
    if store is None:
        return "not_loaded"
    engine = getattr(store, "engine", None)
    sql_event = getattr(store, "SQLEvent", None)
    try:
        if engine is not None and sql_event is not None:
            read = asyncio.to_thread(_read_one_event, engine, sql_event)
        else:
            read = store.retrieve(PROBE_SENDER)
        await asyncio.wait_for(read, PROBE_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 - any failure means unavailable
        logger.warning("tracker store probe failed: %r", error)
        return "unavailable"
    return "ok"


def _read_one_event(engine: Any, sql_event: Any) -> None:
    with engine.connect() as connection:
        connection.execute(select(sql_event.id).limit(1)).first()
