"""Event broker that streams customer and bot messages to the handoff service.

Rasa calls :meth:`publish` synchronously for every new tracker event. Only
``user`` and ``bot`` events matter to the handoff service; they are queued
in order and sent in batches by one worker task, retried with back-off while
the service is away. The queue lives in memory: on a graceful stop
:meth:`close` flushes it; after a crash, the broker of the next Rasa process
announces its start (``POST /api/rasa/started``) and the handoff service
imports from Rasa's tracker what the dead process never forwarded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional

import aiohttp
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

FORWARDED_EVENTS = {"user", "bot"}
MAX_BATCH = 100
MAX_BACKOFF_SECONDS = 30.0


class HandoffEventBroker(EventBroker):
    """Register in endpoints.yml as ``type: bot.handoff_broker.HandoffEventBroker``."""

    def __init__(self, url: str, token: str, timeout_seconds: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/api/rasa/events"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._queue: asyncio.Queue[Dict[str, Any]] = asyncio.Queue()
        self._worker: Optional[asyncio.Task] = None
        self._session: Optional[aiohttp.ClientSession] = None
        self._announcer: Optional[asyncio.Task] = None

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[asyncio.AbstractEventLoop] = None
    ) -> HandoffEventBroker:
        if not broker_config.url:
            raise ValueError("event_broker.url (the handoff service) is required")
        token = broker_config.token or ""
        if not token:
            raise ValueError("event_broker.token (the handoff service token) is required")
        broker = cls(broker_config.url, token)
        broker._announcer = asyncio.get_running_loop().create_task(broker._announce_start())
        return broker

    def publish(self, event: Dict[str, Any]) -> None:
        if event.get("event") not in FORWARDED_EVENTS:
            return
        self._queue.put_nowait(event)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    def is_ready(self) -> bool:
        return True

    async def _announce_start(self) -> None:
        """Tell the handoff service this Rasa process started, until it hears."""
        url = self.url.rsplit("/", 1)[0] + "/started"
        backoff = 0.5
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            while True:
                try:
                    async with session.post(url, headers=self._headers) as response:
                        if response.status < 500:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                    logger.warning("handoff broker: start not announced yet: %r", error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def close(self) -> None:
        if self._announcer is not None:
            self._announcer.cancel()
        if self._worker is not None and not self._worker.done():
            try:
                await asyncio.wait_for(self._queue.join(), timeout=5)
            except asyncio.TimeoutError:
                logger.warning("handoff broker: %d events not sent", self._queue.qsize())
            self._worker.cancel()
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        backoff = 0.5
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            while not await self._send(batch):
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            backoff = 0.5
            for _ in batch:
                self._queue.task_done()

    async def _send(self, batch: List[Dict[str, Any]]) -> bool:
        assert self._session is not None
        try:
            async with self._session.post(self.url, json=batch, headers=self._headers) as response:
                if response.status < 300:
                    return True
                body = await response.text()
                logger.error("handoff broker: HTTP %s: %s", response.status, body[:500])
                # A 4xx will not get better by retrying; drop it loudly.
                return 400 <= response.status < 500
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.warning("handoff broker: handoff service unreachable: %r", error)
            return False
