"""The service desk's application layer: runs domain functions in a unit of
work off the event loop, publishes their notices after commit, and talks to
Rasa on the domain's behalf. HTTP and socket.io handlers call only this."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from handoff.db import Database, DatabaseUnavailable, Notice, UnitOfWork
from handoff.domain import (
    attendances,
    conversation,
    knowledge_base,
    operators,
    transfers,
    views,
)
from handoff.domain.errors import Invalid, Unauthorized
from handoff.domain.operators import operator_for_token
from handoff.models import (
    ABANDONED,
    CANCELLED,
    FAILED,
    FINISHED,
    OFFLINE,
    SENT,
    Attendance,
    Operator,
)
from handoff.presence import Presence
from handoff.rasa_client import (
    INTENT_ABANDONED,
    INTENT_CANCELLED,
    INTENT_FINISHED,
    INTENT_RETRY_TRANSFER,
    ChannelRefused,
    RasaClient,
    RasaUnavailable,
)
from handoff.rate_limits import RateLimits
from handoff.settings import Settings

log = logging.getLogger(__name__)
# Longest pause between two tries of a closing flow Rasa did not accept.
CLOSING_RETRY_MAX_SECONDS = 30.0
# Longest pause between two tries of a transfer the action server missed:
# short, since the customer was told to wait; each try is one small request.
TRANSFER_RETRY_MAX_SECONDS = 10.0
# The closing flow Rasa runs for each way an attendance ends (data/rules.yml).
CLOSING_INTENTS = {
    FINISHED: INTENT_FINISHED,
    CANCELLED: INTENT_CANCELLED,
    ABANDONED: INTENT_ABANDONED,
}
# Pauses between two tries of an operator message Rasa did not accept: short,
# since the customer is waiting and each try is one small request.
DELIVERY_RETRY_FIRST_SECONDS = 0.5
DELIVERY_RETRY_MAX_SECONDS = 4.0
# How often to ask whether a starting Rasa serves yet.
RASA_POLL_SECONDS = 0.5
# How long a reconciliation keeps trying conversations Rasa could not give.
RECONCILE_RETRY_SECONDS = 600.0
T = TypeVar("T")
Publisher = Callable[[list[Notice]], Awaitable[None]]


class Desk:
    def __init__(
        self, db: Database, rasa: RasaClient, publish: Publisher, settings: Settings
    ) -> None:
        self.db = db
        self.rasa = rasa
        self.settings = settings
        self._publish = publish
        self._background: set[asyncio.Task[Any]] = set()
        self.presence = Presence(settings.reconnect_grace_seconds, self._operator_gone)
        self.limits = RateLimits(settings)
        self._kb_signature: tuple[tuple[str, int, int], ...] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        # One courier task per conversation with operator messages to deliver.
        self._couriers: dict[str, asyncio.Task[None]] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        # Messages the customer's channel refused: they wait for the
        # operator's "Tentar novamente" (after a restart they are tried once).
        self._refused: set[int] = set()
        self._stopping = asyncio.Event()

    async def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` in its own transaction in a worker thread; after the
        commit, push the real-time notices it queued. Once started, the
        transaction and its notices are seen through even if the caller is
        cancelled (Sanic cancels a request whose client went away, e.g. a
        Rasa killed while its event broker posted): a committed message
        always reaches the consoles."""

        def in_transaction() -> tuple[T, list[Notice]]:
            with self.db.unit_of_work() as uow:
                result = work(uow)
            return result, uow.notices

        async def commit_then_publish() -> T:
            result, notices = await asyncio.to_thread(in_transaction)
            if notices:
                await self._publish(notices)
            return result

        task = asyncio.ensure_future(commit_then_publish())
        # Its outcome is read here, or dropped quietly if the caller is gone.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def read(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work``, which only reads, in a read-only transaction (no
        write lock on SQLite: it answers while another process holds the
        lock), in the database's reader threads."""

        def in_transaction() -> T:
            with self.db.unit_of_work(read_only=True) as uow:
                return work(uow)

        return await asyncio.get_running_loop().run_in_executor(self.db.readers, in_transaction)

    async def as_operator(self, token: str, work: Callable[[UnitOfWork, Operator], T]) -> T:
        """Like :meth:`run`, for a logged-in operator's request (counted
        against the operator's rate limit)."""

        def checked(uow: UnitOfWork) -> T:
            operator = operator_for_token(uow.session, token)
            self.limits.operator_request(operator.id)
            return work(uow, operator)

        return await self.run(checked)

    def in_background(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- operator messages on their way to the customer

    def deliver(self, conversation_id: str) -> None:
        """Wake the conversation's courier, which hands its undelivered
        operator messages to Rasa one at a time, in the order written.
        While stopping, messages stay stored for the next start."""
        if self._stopping.is_set():
            return
        wake = self._wakeups.setdefault(conversation_id, asyncio.Event())
        wake.set()
        courier = self._couriers.get(conversation_id)
        if courier is None or courier.done():
            self._couriers[conversation_id] = asyncio.ensure_future(
                self._courier(conversation_id, wake)
            )

    async def _courier(self, conversation_id: str, wake: asyncio.Event) -> None:
        """Deliver until nothing is left. A message Rasa does not accept
        (Rasa or its database away) is marked failed, so the operator sees
        it, and tried again with back-off; the ones after it wait, so the
        customer reads them in order. A message the channel refused (Meta,
        after its own retries) is marked failed and left to the operator's
        retry; the ones after it go on."""
        delay = DELIVERY_RETRY_FIRST_SECONDS
        try:
            while wake.is_set():
                wake.clear()
                try:
                    waiting = await self.run(
                        lambda uow: conversation.undelivered(uow.session, conversation_id)
                    )
                    for message_id, text, delivery in waiting:
                        if message_id not in self._refused:
                            await self._hand_over(message_id, conversation_id, text, delivery)
                    delay = DELIVERY_RETRY_FIRST_SECONDS
                except (RasaUnavailable, DatabaseUnavailable) as error:
                    log.warning("delivery to %s paused %.1f s: %s", conversation_id, delay, error)
                    wake.set()
                    try:
                        await asyncio.wait_for(self._stopping.wait(), delay)
                        return
                    except TimeoutError:
                        delay = min(delay * 2, DELIVERY_RETRY_MAX_SECONDS)
        finally:
            if self._couriers.get(conversation_id) is asyncio.current_task():
                del self._couriers[conversation_id]
                self._wakeups.pop(conversation_id, None)

    async def _hand_over(
        self, message_id: int, conversation_id: str, text: str, delivery: str
    ) -> None:
        """One message to Rasa, which appends it once however often it is sent
        (after a time-out we cannot know whether Rasa took it)."""
        try:
            await self.rasa.send_bot_message(conversation_id, text, message_id)
        except ChannelRefused as error:
            log.warning("message %s refused by the customer's channel: %s", message_id, error)
            self._refused.add(message_id)
            if delivery != FAILED:
                await self.run(lambda uow: conversation.set_delivery(uow, message_id, FAILED))
            return
        except RasaUnavailable:
            if delivery != FAILED:
                await self.run(lambda uow: conversation.set_delivery(uow, message_id, FAILED))
            raise
        await self.run(lambda uow: conversation.set_delivery(uow, message_id, SENT))

    async def deliver_pending(self) -> None:
        """After a restart: messages stored but not (known to be) handed to Rasa."""
        waiting = await self.run(lambda uow: conversation.undelivered_conversations(uow.session))
        for conversation_id in waiting:
            self.deliver(conversation_id)

    async def reconcile(self, wait_for_rasa: float = 0.0) -> None:
        """Import what Rasa holds for open attendances but we never received
        (the event broker's queue lives in Rasa's memory, so it dies with a
        killed Rasa). Runs at start-up and when Rasa announces its own start,
        waiting up to ``wait_for_rasa`` seconds for it to serve; a
        conversation Rasa or the database cannot answer for now is tried
        again with back-off for up to RECONCILE_RETRY_SECONDS. Idempotent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_for_rasa
        while not await self.rasa.is_reachable() and loop.time() < deadline:
            await asyncio.sleep(RASA_POLL_SECONDS)
        deadline = loop.time() + RECONCILE_RETRY_SECONDS
        delay = DELIVERY_RETRY_FIRST_SECONDS
        while True:
            try:
                waiting = await self.run(lambda uow: attendances.open_conversations(uow.session))
                break
            except DatabaseUnavailable:
                await asyncio.sleep(delay)
        while waiting and loop.time() < deadline:
            waiting = [c for c in waiting if not await self._reconcile_one(c)]
            if waiting:
                await asyncio.sleep(delay)
                delay = min(delay * 2, CLOSING_RETRY_MAX_SECONDS)
        if waiting:
            log.error("reconciliation gave up on %s conversation(s)", len(waiting))

    async def _reconcile_one(self, conversation_id: str) -> bool:
        """Import one conversation's missed messages; False to try again later."""
        try:
            events = await self.rasa.conversation_messages(conversation_id)
            stored = await self.run(
                partial(
                    conversation.import_missed_events,
                    conversation_id=conversation_id,
                    events=events,
                )
            )
        except (RasaUnavailable, DatabaseUnavailable) as error:
            log.warning("reconciliation of %s postponed: %s", conversation_id, error)
            return False
        if stored:
            log.info("reconciled %s message(s) of %s from Rasa", stored, conversation_id)
        return True

    async def send_message(
        self, token: str, attendance_id: Any, text: Any, client_id: Any
    ) -> dict[str, Any]:
        """Store first, then deliver in the background; a retry is harmless."""
        message, attendance, created = await self.as_operator(
            token,
            lambda uow, op: conversation.send_operator_message(
                uow, op, attendance_id, text, client_id
            ),
        )
        if created:
            self.deliver(attendance.conversation_id)
        return {
            "message": views.message_view(message),
            "protocol": attendance.protocol,
        }

    async def retry(self, token: str, message_id: Any) -> dict[str, Any]:
        """Deliver a failed operator message again (same message, no duplicate)."""
        message, conversation_id = await self.as_operator(
            token, lambda uow, op: conversation.retry_delivery(uow, op, message_id)
        )
        self._refused.discard(message.id)
        self.deliver(conversation_id)
        return {"message": views.message_view(message)}

    async def end(self, token: str, attendance_id: Any, outcome: str) -> dict[str, Any]:
        """Finish or cancel; then let Rasa's closing flow speak (Z3)."""
        attendance, changed = await self.as_operator(
            token, lambda uow, op: attendances.end_attendance(uow, op, attendance_id, outcome)
        )
        if changed:
            self.in_background(self._close_conversation(attendance))
        return views.attendance_view(attendance)

    async def _close_conversation(self, attendance: Attendance) -> None:
        """Resume the bot with the closing intent, retrying with back-off until
        Rasa accepts it; what is still pending at a restart is resumed then."""
        intent = CLOSING_INTENTS[attendance.status]
        entities = {"protocol": attendance.protocol} if attendance.protocol else {}
        delay = 1.0
        while True:
            try:
                await self.rasa.resume_with_intent(attendance.conversation_id, intent, entities)
                break
            except RasaUnavailable as error:
                log.warning(
                    "closing flow of attendance %s failed, retrying in %.0f s: %s",
                    attendance.id,
                    delay,
                    error,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, CLOSING_RETRY_MAX_SECONDS)
        await self.run(lambda uow: attendances.mark_closing_sent(uow, attendance.id))

    async def close_pending(self) -> None:
        """Closing flows that never reached Rasa before a restart."""
        pending = await self.run(lambda uow: attendances.pending_closings(uow.session))
        for attendance in pending:
            self.in_background(self._close_conversation(attendance))

    # --- customers who left, transfers the action server missed

    def start_abandonment_sweep(self) -> None:
        self._sweeper = asyncio.ensure_future(self._sweep_abandoned())

    async def _sweep_abandoned(self) -> None:
        """Close the attendances of customers who went silent (see
        ``attendances.abandon_silent_attendances``) and tell them, through
        Rasa, that it ended and with which protocol."""
        silence = timedelta(seconds=self.settings.abandon_after_seconds)
        interval = min(max(silence.total_seconds() / 4, 0.5), 60.0)
        while True:
            await asyncio.sleep(interval)
            try:
                abandoned = await self.run(
                    lambda uow: attendances.abandon_silent_attendances(uow, silence)
                )
            except DatabaseUnavailable as error:
                log.warning("abandonment sweep skipped: %s", error)
                continue
            for attendance in abandoned:
                log.info("attendance %s abandoned by its customer", attendance.id)
                self.in_background(self._close_conversation(attendance))

    async def record_rasa_events(self, events: Any) -> int:
        """Store the messages of Rasa's event broker; a transfer Rasa could not
        make (the action server was away) is retried until it is made."""

        def work(uow: UnitOfWork) -> tuple[int, list[str]]:
            stored = conversation.record_rasa_events(uow, events)
            return stored, transfers.note_pending_transfers(uow, events)

        stored, waiting = await self.run(work)
        for conversation_id in waiting:
            self.in_background(self._retry_transfer(conversation_id))
        return stored

    async def _retry_transfer(self, conversation_id: str) -> None:
        """Ask Rasa to run the transfer again, with back-off, until the
        attendance is open (the action opens it and so ends the request)."""
        delay = 1.0
        while await self.run(lambda uow: transfers.transfer_pending(uow.session, conversation_id)):
            await asyncio.sleep(delay)
            delay = min(delay * 2, TRANSFER_RETRY_MAX_SECONDS)
            try:
                await self.rasa.trigger_intent(conversation_id, INTENT_RETRY_TRANSFER)
            except RasaUnavailable as error:
                log.warning("transfer of %s not retried yet: %s", conversation_id, error)

    async def resume_transfers(self) -> None:
        """Transfers still waiting at a restart."""
        waiting = await self.run(lambda uow: transfers.pending_transfers(uow.session))
        for conversation_id in waiting:
            self.in_background(self._retry_transfer(conversation_id))

    # --- operators' availability and absence

    async def change_status(self, token: str, status: Any, reason: Any) -> dict[str, Any]:
        def work(uow: UnitOfWork, operator: Operator) -> dict[str, Any]:
            operators.set_status(uow, operator, status, reason)
            return operators.operator_view(operator)

        view = await self.as_operator(token, work)
        if view["status"] == OFFLINE:
            self.presence.start_grace(view["id"])
        return view

    async def login(self, username: str, password: str, address: str) -> tuple[str, Operator]:
        """Open a session (token, operator); failed attempts count against the
        account's and the address's limits, which refuse further tries."""
        ttl = self.settings.session_ttl_seconds

        def attempt(uow: UnitOfWork) -> tuple[str, Operator]:
            self.limits.check_login(username, address)
            try:
                return operators.login(uow, username, password, ttl)
            except Unauthorized:
                self.limits.login_failed(username, address)
                raise

        return await self.run(attempt)

    async def logout(self, token: str) -> None:
        operator_id = await self.run(lambda uow: operators.logout(uow, token))
        self.presence.start_grace(operator_id)

    async def _operator_gone(self, operator_id: int) -> None:
        """Grace is over: requeue unless the operator is back and not offline."""

        def work(uow: UnitOfWork) -> list[int]:
            operator = uow.session.get(Operator, operator_id)
            if operator is not None and operator.status != OFFLINE:
                if self.presence.is_connected(operator_id):
                    return []
            return attendances.requeue_attendances_of(uow, operator_id)

        requeued = await self.run(work)
        if requeued:
            log.info("operator %s gone: attendances %s back in the queue", operator_id, requeued)

    async def watch_absent_operators(self) -> None:
        """After a restart no console is connected yet: give every operator
        with active attendances the grace period to come back."""
        operator_ids = await self.run(lambda uow: attendances.operators_with_active(uow.session))
        for operator_id in operator_ids:
            if not self.presence.is_connected(operator_id):
                self.presence.start_grace(operator_id)

    # --- knowledge base

    async def reload_knowledge_base_if_changed(self) -> None:
        """Content editors save files; the next reader sees them (O9). A broken
        file is logged and the previous articles stay."""
        folder = self.settings.kb_dir
        signature = await asyncio.to_thread(knowledge_base.folder_signature, folder)
        if signature != self._kb_signature:
            try:
                await self.reload_knowledge_base()
            except Invalid as error:
                log.error("knowledge base not reloaded: %s", error.message)
            self._kb_signature = signature

    async def reload_knowledge_base(self) -> int:
        """Load the article files now; Invalid (with file and line) if one is broken."""
        folder = self.settings.kb_dir
        return await self.run(lambda uow: knowledge_base.load_articles(uow.session, folder))

    async def drain(self) -> None:
        """On shutdown: let deliveries under way finish (a few seconds at
        most). What is still undelivered stays stored and is delivered by the
        next start (deliver_pending), as are closing flows (close_pending)."""
        self.presence.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._stopping.set()
        tasks = {*self._background, *self._couriers.values()}
        if tasks:
            _done, waiting = await asyncio.wait(tasks, timeout=5)
            for task in waiting:
                task.cancel()
