"""The retention job (``handoff/domain/retention.py``): run by the service
every ``HANDOFF_RETENTION_CHECK_SECONDS`` and by ``python -m handoff
retention``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from handoff.db import Database, UnitOfWork
from handoff.domain import retention
from handoff.models import utcnow
from handoff.rasa_client import RasaClient
from handoff.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


async def _in_transaction(db: Database, work: Callable[[UnitOfWork], T]) -> T:
    def run() -> T:
        with db.unit_of_work() as uow:
            return work(uow)

    return await asyncio.to_thread(run)


async def run(db: Database, rasa: RasaClient, settings: Settings) -> int:
    """Anonymise every attendance past the retention period, batch by batch:
    Rasa deletes each conversation's events older than the cutoff first,
    then the batch is anonymised here (a stop in between, Rasa away, is
    finished by the next run). Returns how many were anonymised."""
    now = utcnow()
    before = retention.cutoff(now, settings.retention_days)
    total = 0
    while True:
        conversations = await _in_transaction(
            db, lambda uow: retention.expired_conversations(uow.session, before)
        )
        if not conversations:
            return total
        for conversation_id in conversations:
            await rasa.erase_conversation(conversation_id, before.timestamp())
        total += await _in_transaction(
            db, lambda uow: retention.anonymise_expired(uow, before, now)
        )
        log.info("retention: %s attendances anonymised", total)


async def run_once(settings: Settings) -> int:
    """One run on its own connections (the command line)."""
    db = Database(settings.database_url, settings.db_lock_timeout_seconds)
    rasa = RasaClient(
        settings.rasa_url,
        settings.rasa_token,
        settings.rasa_timeout_seconds,
        service_token=settings.service_token,
    )
    await rasa.start()
    try:
        return await run(db, rasa, settings)
    finally:
        await rasa.close()
        db.dispose()
