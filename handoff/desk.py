"""The service desk's application layer: runs domain functions in a unit of
work off the event loop, publishes their notices after commit, and talks to
Rasa on the domain's behalf. HTTP and socket.io handlers call only this."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from handoff.db import Database, Notice, UnitOfWork
from handoff.domain import attendances, conversation, knowledge_base, operators, views
from handoff.domain.errors import Invalid
from handoff.domain.operators import operator_for_token
from handoff.models import CANCELLED, FAILED, FINISHED, OFFLINE, SENT, Attendance, Operator
from handoff.presence import Presence
from handoff.rasa_client import INTENT_CANCELLED, INTENT_FINISHED, RasaClient, RasaUnavailable
from handoff.settings import Settings

log = logging.getLogger(__name__)
# Longest pause between two tries of a closing flow Rasa did not accept.
CLOSING_RETRY_MAX_SECONDS = 30.0
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
        self._kb_signature: tuple[tuple[str, int, int], ...] | None = None

    async def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` in its own transaction in a worker thread; after the
        commit, push the real-time notices it queued."""

        def in_transaction() -> tuple[T, list[Notice]]:
            with self.db.unit_of_work() as uow:
                result = work(uow)
            return result, uow.notices

        result, notices = await asyncio.to_thread(in_transaction)
        if notices:
            await self._publish(notices)
        return result

    async def as_operator(self, token: str, work: Callable[[UnitOfWork, Operator], T]) -> T:
        """Like :meth:`run`, for a logged-in operator's request."""
        return await self.run(lambda uow: work(uow, operator_for_token(uow.session, token)))

    def in_background(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def deliver(self, message_id: int, conversation_id: str, text: str) -> None:
        """Hand a stored operator message to Rasa and record the outcome."""
        try:
            await self.rasa.send_bot_message(conversation_id, text, message_id)
            state = SENT
        except RasaUnavailable as error:
            log.warning("delivery of message %s failed: %s", message_id, error)
            state = FAILED
        await self.run(lambda uow: conversation.set_delivery(uow, message_id, state))

    async def deliver_pending(self) -> None:
        """Deliver messages stored before a restart but never handed to Rasa."""
        pending = await self.run(lambda uow: conversation.pending_deliveries(uow.session))
        for message_id, conversation_id, text in pending:
            await self.deliver(message_id, conversation_id, text)

    async def reconcile(self) -> None:
        """Import what Rasa holds for open attendances but we never received
        (the event broker's queue lives in Rasa's memory). Idempotent."""
        conversations = await self.run(lambda uow: attendances.open_conversations(uow.session))
        for conversation_id in conversations:
            try:
                events = await self.rasa.conversation_events(conversation_id)
            except RasaUnavailable as error:
                log.warning("reconciliation of %s skipped: %s", conversation_id, error)
                continue
            stored = await self.run(
                partial(
                    conversation.import_missed_events,
                    conversation_id=conversation_id,
                    events=events,
                )
            )
            if stored:
                log.info("reconciled %s message(s) of %s from Rasa", stored, conversation_id)

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
            self.in_background(self.deliver(message.id, attendance.conversation_id, message.text))
        return {
            "message": views.message_view(message),
            "protocol": attendance.protocol,
        }

    async def retry(self, token: str, message_id: Any) -> dict[str, Any]:
        """Deliver a failed operator message again (same message, no duplicate)."""
        message, conversation_id = await self.as_operator(
            token, lambda uow, op: conversation.retry_delivery(uow, op, message_id)
        )
        self.in_background(self.deliver(message.id, conversation_id, message.text))
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
        if attendance.status == FINISHED:
            intent, entities = INTENT_FINISHED, {"protocol": attendance.protocol or ""}
        else:
            assert attendance.status == CANCELLED
            intent, entities = INTENT_CANCELLED, {}
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

    # --- operators' availability and absence

    async def change_status(self, token: str, status: Any, reason: Any) -> dict[str, Any]:
        def work(uow: UnitOfWork, operator: Operator) -> dict[str, Any]:
            operators.set_status(uow, operator, status, reason)
            return operators.operator_view(operator)

        view = await self.as_operator(token, work)
        if view["status"] == OFFLINE:
            self.presence.start_grace(view["id"])
        return view

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
        """Wait for background deliveries (used on shutdown)."""
        self.presence.stop()
        if self._background:
            # Deliveries finish quickly; closing flows still retrying are
            # cancelled and resumed by the next start (close_pending).
            _done, waiting = await asyncio.wait(self._background, timeout=5)
            for task in waiting:
                task.cancel()
