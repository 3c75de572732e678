"""Event broker that streams customer and bot messages to the handoff service.

Rasa calls :meth:`publish` synchronously for every new tracker event. Only
``user`` and ``bot`` events matter to the handoff service, and of the bot's
not the service's own messages (operator messages and notices it stored
before it handed them to Rasa). They wait in
memory: on a graceful stop :meth:`close` flushes them (up to 5 s); after a
crash, the broker of the next Rasa process announces its start (``POST
/api/rasa/started``) and the handoff service imports from Rasa's tracker
what the dead process never forwarded.

Order is kept per conversation, never globally, so one conversation the
service cannot take never stops the others:

- Each conversation (``sender_id``) has its own queue; its events leave in
  the order Rasa published them, and at most one request at a time
  carries them.
- A dispatcher puts the queued events of the conversations that are ready
  into one ``POST /api/rasa/events`` (up to ``MAX_BATCH`` events), one
  batch at a time, as they come.
- A 2xx answer: those events are done.
- The service away (unreachable, time-out, 502/503/504, or 401/403 while
  its token is being changed): every conversation of the request backs off
  (0.5 s doubling to 30 s) and is tried again, without limit. Nothing is
  lost while the service is away.
- Any other answer (500, another 4xx) refuses the request. Each of its
  conversations is then sent on its own, with the same back-off; one
  refused ``MAX_ATTEMPTS`` times in a row has those events posted to ``POST
  /api/rasa/dead-letters`` (tried until the service takes them: never
  dropped silently), where a supervisor sees them, and goes on with its
  next events.
- A conversation that is backing off or on its own is simply not ready:
  the dispatcher leaves it out and the others go on.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Deque, Dict, List, Optional, Set

import aiohttp
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

FORWARDED_EVENTS = {"user", "bot"}
# Bot events that are the service's own messages, which it stored before
# they reached Rasa (``bot/operator_messages.py``: operator messages and
# queue notices): not posted back to it.
OWN_MESSAGES = ("handoff_message_id", "handoff_notice")
MAX_BATCH = 100
# Refusals in a row of a conversation's events before they become dead letters.
MAX_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
FLUSH_SECONDS = 5.0
# Answers that mean the service is away, not that it refuses these events.
AWAY_STATUSES = {401, 403, 502, 503, 504}


class Outcome(enum.Enum):
    """What became of a request (see the module's docstring)."""

    DONE = "done"
    AWAY = "away"
    REFUSED = "refused"


def _longer(backoff: float) -> float:
    """The next wait while the service is away: 0.5 s doubling to 30 s."""
    return min(max(backoff * 2, FIRST_BACKOFF_SECONDS), MAX_BACKOFF_SECONDS)


def _own_message(event: Dict[str, Any]) -> bool:
    metadata = event.get("metadata")
    return isinstance(metadata, dict) and any(metadata.get(key) for key in OWN_MESSAGES)


@dataclass
class _Conversation:
    """One conversation's queued events and where their sending stands."""

    sender_id: str
    events: Deque[Dict[str, Any]] = field(default_factory=deque)
    sending: int = 0  # head events in the request under way (0: none)
    refused: int = 0  # head events last refused: sent on their own until done
    refusals: int = 0  # how many times in a row they were refused
    backoff: float = 0.0
    ready_at: float = 0.0  # the event loop's time when its back-off ends

    def head(self) -> List[Dict[str, Any]]:
        return list(islice(self.events, self.sending))


class HandoffEventBroker(EventBroker):
    """Register in endpoints.yml as ``type: bot.handoff_broker.HandoffEventBroker``."""

    def __init__(self, url: str, token: str, timeout_seconds: float = 10.0) -> None:
        api = url.rstrip("/") + "/api/rasa"
        self.url = api + "/events"
        self.dead_letters_url = api + "/dead-letters"
        self.started_url = api + "/started"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # In the order they were last sent: the longest waiting go first.
        self._conversations: Dict[str, _Conversation] = {}
        self._queued = 0
        self._drained = asyncio.Event()
        self._wake = asyncio.Event()
        self._dispatcher: Optional[asyncio.Task] = None
        self._batch: Optional[asyncio.Task] = None
        self._tasks: Set[asyncio.Task] = set()
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
        if event.get("event") not in FORWARDED_EVENTS or _own_message(event):
            return
        sender_id = str(event.get("sender_id"))
        conversation = self._conversations.setdefault(sender_id, _Conversation(sender_id))
        conversation.events.append(event)
        self._queued += 1
        self._drained.clear()
        self._wake.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    def is_ready(self) -> bool:
        return True

    async def _announce_start(self) -> None:
        """Tell the handoff service this Rasa process started, until it hears."""
        backoff = FIRST_BACKOFF_SECONDS
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            while True:
                try:
                    async with session.post(self.started_url, headers=self._headers) as response:
                        if response.status < 500:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                    logger.warning("handoff broker: start not announced yet: %r", error)
                await asyncio.sleep(backoff)
                backoff = _longer(backoff)

    async def close(self) -> None:
        if self._announcer is not None:
            self._announcer.cancel()
        if self._queued:
            try:
                await asyncio.wait_for(self._drained.wait(), timeout=FLUSH_SECONDS)
            except asyncio.TimeoutError:
                logger.warning("handoff broker: %d events not sent", self._queued)
        for task in [self._dispatcher, *self._tasks]:
            if task is not None:
                task.cancel()
        if self._session is not None:
            await self._session.close()

    async def _dispatch(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        while True:
            self._wake.clear()
            next_ready = self._send_ready()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=next_ready)
            except asyncio.TimeoutError:
                pass

    def _send_ready(self) -> Optional[float]:
        """Start a request for each ready conversation that goes on its own
        and, unless one is under way, a batch of the other ready ones.
        Returns the seconds until the next back-off ends (None: none)."""
        now = asyncio.get_running_loop().time()
        batch_free = self._batch is None or self._batch.done()
        batch: List[_Conversation] = []
        room = MAX_BATCH
        next_ready: Optional[float] = None
        for conversation in self._conversations.values():
            if conversation.sending or not conversation.events:
                continue
            if conversation.ready_at > now:
                wait = conversation.ready_at - now
                next_ready = wait if next_ready is None else min(next_ready, wait)
            elif conversation.refused:
                conversation.sending = conversation.refused
                self._start(self._send([conversation]))
            elif batch_free and room:
                conversation.sending = min(len(conversation.events), room)
                room -= conversation.sending
                batch.append(conversation)
        if batch:
            self._batch = self._start(self._send(batch))
        return next_ready

    def _start(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, conversations: List[_Conversation]) -> None:
        events = [event for conversation in conversations for event in conversation.head()]
        outcome = await self._post(self.url, events)
        if outcome is Outcome.REFUSED and len(conversations) == 1:
            conversation = conversations[0]
            if conversation.refusals + 1 >= MAX_ATTEMPTS:
                await self._dead_letter(conversation.sender_id, events)
                outcome = Outcome.DONE
        for conversation in conversations:
            self._settle(conversation, outcome)
        self._wake.set()

    def _settle(self, conversation: _Conversation, outcome: Outcome) -> None:
        sent, conversation.sending = conversation.sending, 0
        if outcome is Outcome.DONE:
            for _ in range(sent):
                conversation.events.popleft()
            conversation.refused = conversation.refusals = 0
            conversation.backoff = conversation.ready_at = 0.0
            self._queued -= sent
            if not self._queued:
                self._drained.set()
            del self._conversations[conversation.sender_id]
            if conversation.events:  # to the back of the line
                self._conversations[conversation.sender_id] = conversation
            return
        if outcome is Outcome.REFUSED:
            conversation.refused = sent
            conversation.refusals += 1
            # Counted from the first refusal, whatever outage came before.
            first = FIRST_BACKOFF_SECONDS * 2 ** (conversation.refusals - 1)
            conversation.backoff = min(first, MAX_BACKOFF_SECONDS)
        else:
            conversation.backoff = _longer(conversation.backoff)
        conversation.ready_at = asyncio.get_running_loop().time() + conversation.backoff

    async def _dead_letter(self, sender_id: str, events: List[Dict[str, Any]]) -> None:
        """Hand refused events to the service's dead letters, until it takes them."""
        logger.error(
            "handoff broker: %d events of %s refused %d times: posting them as dead letters",
            len(events),
            sender_id,
            MAX_ATTEMPTS,
        )
        backoff = FIRST_BACKOFF_SECONDS
        while await self._post(self.dead_letters_url, events) is not Outcome.DONE:
            await asyncio.sleep(backoff)
            backoff = _longer(backoff)

    async def _post(self, url: str, events: List[Dict[str, Any]]) -> Outcome:
        assert self._session is not None
        try:
            async with self._session.post(url, json=events, headers=self._headers) as response:
                if response.status < 300:
                    return Outcome.DONE
                body = await response.text()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.warning("handoff broker: handoff service unreachable: %r", error)
            return Outcome.AWAY
        away = response.status in AWAY_STATUSES
        log = logger.warning if away else logger.error
        log("handoff broker: HTTP %s from %s: %s", response.status, url, body[:500])
        return Outcome.AWAY if away else Outcome.REFUSED
