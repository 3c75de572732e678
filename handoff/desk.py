"""The service desk's application layer: runs domain functions in a unit of
work off the event loop, publishes their notices after commit, and talks to
Rasa on the domain's behalf. HTTP and socket.io handlers call only this."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from handoff import (
    channel_resend,
    outbox,
    rasa_events,
    record_delivery,
    retention_job,
    whatsapp_media,
)
from handoff.db import Database, DatabaseUnavailable, Notice, UnitOfWork
from handoff.domain import (
    assignment,
    attachments,
    attendances,
    audiences,
    conversation,
    demands,
    handovers,
    knowledge_base,
    notes,
    operators,
    queue_notices,
    ready_replies,
    room_hours,
    subjects,
    transfers,
    views,
    whatsapp_templates,
)
from handoff.domain.closing import CLOSING, CUSTOMER_LEFT, mark_closing_sent
from handoff.domain.conversation import DELIVER_OPERATOR_MESSAGE, IMPORT_EVENTS, RECONCILE
from handoff.domain.errors import Invalid, Unauthorized
from handoff.domain.front_matter import folder_signature
from handoff.domain.operators import operator_for_token
from handoff.domain.queue_notices import QUEUE_NOTICE, ToldMemory, place_of
from handoff.domain.record_requests import RECORD_DELIVERY
from handoff.domain.said import ConversationEvents
from handoff.domain.transfers import RETRY_TRANSFER
from handoff.models import (
    ABANDONED,
    CANCELLED,
    FAILED,
    FINISHED,
    OFFLINE,
    QUEUED,
    SENT,
    UNKNOWN,
    Attendance,
    AuditLog,
    Operator,
    utcnow,
)
from handoff.presence import Presence, SharedPresence
from handoff.queue_recount import Recounter
from handoff.rasa_client import (
    INTENT_ABANDONED,
    INTENT_CANCELLED,
    INTENT_CUSTOMER_LEFT,
    INTENT_FINISHED,
    INTENT_FINISHED_SURVEY,
    INTENT_RETRY_TRANSFER,
    ChannelBusy,
    ChannelRefused,
    RasaClient,
    RasaUnavailable,
)
from handoff.rate_limits import RateLimits
from handoff.settings import Settings
from handoff.typing import TypingThrottle
from handoff.whatsapp_media import WhatsAppMedia

log = logging.getLogger(__name__)
# The closing flow Rasa runs for each way an attendance ends (data/rules.yml).
CLOSING_INTENTS = {
    FINISHED: INTENT_FINISHED,
    CANCELLED: INTENT_CANCELLED,
    ABANDONED: INTENT_ABANDONED,
}
# Longest pause between two tries of a transfer the action server missed:
# short, since the customer was told to wait; each try is one small request.
TRANSFER_RETRY_MAX_SECONDS = 10.0
# Outbox job kinds that wait for Rasa: made due at once when Rasa announces its start.
RASA_JOBS = (
    DELIVER_OPERATOR_MESSAGE,
    CLOSING,
    RETRY_TRANSFER,
    RECONCILE,
    QUEUE_NOTICE,
    RECORD_DELIVERY,
)
# Notices that change a room's queue (their payload is the attendance).
QUEUE_CHANGES = ("attendance:queued", "attendance:taken", "attendance:ended", "attendance:requeued")
T = TypeVar("T")
# An access entry the database could not take now is tried again this often,
# for up to an hour.
ACCESS_LOG_RETRY_SECONDS = 5.0
# A queue the database could not recount is recounted again this much later.
QUEUE_RECOUNT_RETRY = timedelta(seconds=5)
ACCESS_LOG_TRIES = 720
ACCESS_COLUMNS = ("action", "operator_id", "attendance_id", "customer_id", "details")
# A queued attendance's place as told to its customer (queue_notices.place_of).
Place = dict[str, Any] | None
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
        self.presence = Presence(
            settings.reconnect_grace_seconds, self._operator_gone, _shared_presence(settings)
        )
        self._heartbeat: asyncio.Task[None] | None = None
        self.limits = RateLimits(settings)
        self.typing = TypingThrottle()
        # What each waiting customer was last told of their place, and what
        # the consoles were last shown; one recount at a time, at most once
        # per HANDOFF_QUEUE_RECOUNT_SECONDS however many changes come.
        self.told = ToldMemory()
        self.places_shown = queue_notices.PlacesShown()
        self.notice_intervals = queue_notices.Intervals(
            widget=timedelta(seconds=settings.widget_queue_notice_seconds),
            whatsapp=timedelta(seconds=settings.whatsapp_queue_notice_seconds),
        )
        self.recounter = Recounter(self._tell_queue, settings.queue_recount_seconds)
        self.hours = room_hours.HoursFiles(
            settings.hours_file, settings.holidays_file, ZoneInfo(settings.timezone)
        )
        # The content folders as last loaded (names, sizes, modification times).
        self._signatures: dict[Path, tuple[tuple[str, int, int], ...]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._retention: asyncio.Task[None] | None = None
        self.outbox = outbox.Outbox(self.run, self.read, f"{settings.host}:{settings.port}")
        self.outbox.register(DELIVER_OPERATOR_MESSAGE, self._deliver_operator_message)
        self.outbox.register(CLOSING, self._close_conversation)
        self.outbox.register(RETRY_TRANSFER, self._retry_transfer)
        self.outbox.register(QUEUE_NOTICE, self._deliver_queue_notice)
        self.outbox.register(RECONCILE, self._reconcile)
        self.outbox.register(IMPORT_EVENTS, self._import_events)
        self.outbox.register(channel_resend.KIND, partial(channel_resend.resend, self.rasa))
        self.outbox.register(
            RECORD_DELIVERY, partial(record_delivery.deliver, self.run, self.rasa, settings)
        )
        self.media = WhatsAppMedia(settings)
        self.outbox.register(
            attachments.FETCH_MEDIA, partial(whatsapp_media.fetch, self.media, settings, self.read)
        )
        self.outbox.register(
            attachments.DELETE_MEDIA, partial(whatsapp_media.delete_files, settings.media_dir)
        )

    async def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run ``work`` in its own transaction in a worker thread; after the
        commit, push the real-time notices it queued. Once started, the
        transaction and its notices are seen through even if the caller is
        cancelled (Sanic cancels a request whose client went away, e.g. a
        Rasa killed while its event broker posted): a committed message
        always reaches the consoles."""

        def in_transaction() -> tuple[T, UnitOfWork]:
            with self.db.unit_of_work() as uow:
                result = work(uow)
            return result, uow

        async def commit_then_publish() -> T:
            result, uow = await asyncio.to_thread(in_transaction)
            if uow.outbox_touched:
                self.outbox.wake()
            if uow.notices:
                await self._publish(uow.notices)
                self._queues_changed(uow.notices)
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

    async def as_operator(
        self, token: str, work: Callable[[UnitOfWork, Operator], T], *, read: bool = False
    ) -> T:
        """Like :meth:`run` (or :meth:`read`, for work that only reads), for a
        logged-in operator's request (counted against the operator's rate
        limit)."""

        def checked(uow: UnitOfWork) -> T:
            operator = operator_for_token(uow.session, token)
            self.limits.operator_request(operator.id)
            return work(uow, operator)

        return await (self.read(checked) if read else self.run(checked))

    async def viewed(self, token: str, work: Callable[[UnitOfWork, Operator], T]) -> T:
        """A look at personal data that ``work`` logs (who saw what, LGPD):
        the read and its access entries in one transaction. While the
        database takes no writes (another process's lock, a full disk) the
        read is still answered, from a read-only transaction, and its
        entries are written as soon as the database takes them again."""
        try:
            return await self.as_operator(token, work)
        except DatabaseUnavailable:
            pass
        held: list[AuditLog] = []

        def reading(uow: UnitOfWork, operator: Operator) -> T:
            with uow.session.no_autoflush:
                result = work(uow, operator)
            held.extend(row for row in uow.session.new if isinstance(row, AuditLog))
            uow.session.expunge_all()  # a read-only transaction writes nothing
            return result

        result = await self.as_operator(token, reading, read=True)
        if held:
            entries = [
                {c: getattr(row, c) for c in ACCESS_COLUMNS} | {"at": utcnow()} for row in held
            ]
            self.in_background(self._write_access_entries(entries))
        return result

    async def _write_access_entries(self, entries: list[dict[str, Any]]) -> None:
        for _attempt in range(ACCESS_LOG_TRIES):
            try:
                await self.run(lambda uow: uow.session.add_all(AuditLog(**e) for e in entries))
                return
            except DatabaseUnavailable:
                await asyncio.sleep(ACCESS_LOG_RETRY_SECONDS)
        log.error("access log entries not written: %s", entries)

    def _queues_changed(self, notices: list[Notice]) -> None:
        """After a change to a queue (a call joined, was taken, left, came
        back) or to an operator's availability, recount the rooms' places."""
        rooms = {
            n.payload["room_id"]
            for n in notices
            if n.name in QUEUE_CHANGES and isinstance(n.payload.get("room_id"), int)
        }
        self.recounter.changed(rooms)
        operator_ids = {n.payload["id"] for n in notices if n.name == "operator:status"}
        if operator_ids:
            self.in_background(self._operators_changed(operator_ids))

    async def _operators_changed(self, operator_ids: set[int]) -> None:
        self.recounter.changed(
            await self.read(
                lambda uow: {
                    room
                    for operator_id in operator_ids
                    for room in operators.rooms_of(uow.session, operator_id)
                }
            )
        )

    async def _tell_queue(self, room_id: int) -> datetime | None:
        """Read the room's places (no write lock while nothing is worth
        telling), write the notices due, then show the room the places that
        changed; when to recount again for news held back."""

        def plan(uow: UnitOfWork) -> queue_notices.Plan:
            found = room_hours.unattended(uow.session, self.hours, room_id, utcnow())
            notice = found.notice if found else None
            return queue_notices.plan_notices(
                uow.session, room_id, self.told, self.notice_intervals, notice
            )

        try:
            counted = await self.read(plan)
            if counted.due:
                await self.run(lambda uow: queue_notices.send_notices(uow, counted.due, self.told))
        except DatabaseUnavailable as error:
            log.warning("queue places of room %s not told, trying again: %s", room_id, error)
            return utcnow() + QUEUE_RECOUNT_RETRY
        changed = self.places_shown.changed(room_id, counted.places, utcnow())
        if changed:
            view = {"room_id": room_id, "positions": changed}
            await self._publish([Notice(audiences.room(room_id), "queue:positions", view)])
        return counted.recount_at

    async def open_attendance(self, **fields: Any) -> tuple[Attendance, bool, Place]:
        """Queue a conversation (or find its open one) and its place in the
        queue, which the transfer message tells the customer."""

        first = fields.get("first_message")
        message_left = first is not None and first.left_message

        def work(uow: UnitOfWork) -> tuple[Attendance, bool, Place]:
            attendance, created = attendances.open_attendance(uow, **fields)
            place = None
            if attendance.status == QUEUED:
                found = room_hours.unattended(
                    uow.session, self.hours, attendance.room_id, utcnow(), created and message_left
                )
                if created:
                    room_hours.note_outside_hours(attendance, found)
                notice = found.notice if found else None
                place = place_of(uow.session, attendance, self.told, notice)
            return attendance, created, place

        return await self.run(work)

    def in_background(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- the outbox's jobs (written by the domain, done here)

    async def _deliver_operator_message(self, job: dict[str, Any]) -> outbox.Then:
        """Hand one operator message to Rasa, which appends it once however
        often it is sent (after a time-out we cannot know whether Rasa took
        it). Rasa away: the operator sees "falhou", and it is tried again
        (the ones after it wait, so the customer reads them in order). The
        channel refused it (Meta, after its own retries): failed, for the
        operator's "Tentar novamente"; the ones after it go on. The channel
        paces it (Meta's rate limits): sent again when the pause ends."""
        message_id = job["message_id"]
        named = self.settings.operator_name_in_widget == "first"
        try:
            confirmed = await self.rasa.send_bot_message(
                job["conversation_id"],
                job["text"],
                message_id,
                job.get("operator_name") if named else None,
                job.get("attachment"),
                job.get("template"),
            )
        except ChannelRefused as error:
            log.warning("message %s refused by the customer's channel: %s", message_id, error)
            return partial(
                conversation.record_handover,
                message_id=message_id,
                state=FAILED,
                error_code=error.provider_code,
            )
        except ChannelBusy as busy:
            # Meta's rate limits: still "enviando…", sent when the pause ends.
            raise outbox.Later(busy.seconds) from busy
        except RasaUnavailable as error:
            raise outbox.Unavailable(
                str(error),
                then=partial(conversation.record_handover, message_id=message_id, state=FAILED),
            ) from error
        # Not confirmed: the channel could not learn whether it went out; its
        # status report settles it (see receipts.record_receipts).
        state = SENT if confirmed else UNKNOWN
        return partial(conversation.record_handover, message_id=message_id, state=state)

    async def _close_conversation(self, job: dict[str, Any]) -> outbox.Then:
        """Resume the bot with the closing intent (protocol as an entity)."""
        protocol = job.get("protocol")
        entities = {"protocol": protocol} if protocol else {}
        try:
            left = job.get("reason") == CUSTOMER_LEFT
            intent = INTENT_CUSTOMER_LEFT if left else CLOSING_INTENTS[job["status"]]
            if job.get("survey"):
                intent = INTENT_FINISHED_SURVEY  # the same closing, then the survey
            await self.rasa.resume_with_intent(job["conversation_id"], intent, entities)
        except RasaUnavailable as error:
            raise outbox.Unavailable(str(error)) from error
        return partial(mark_closing_sent, attendance_id=job["attendance_id"])

    async def _deliver_queue_notice(self, job: dict[str, Any]) -> None:
        """Tell a waiting customer their place (a bot message through Rasa),
        unless they are no longer waiting: the news is old then."""
        attendance_id = job["attendance_id"]
        waiting = await self.read(lambda uow: attendances.is_queued(uow.session, attendance_id))
        if not waiting:
            return
        try:
            await self.rasa.send_notice(job["conversation_id"], job["text"], job["notice_id"])
        except RasaUnavailable as error:
            raise outbox.Unavailable(str(error)) from error

    async def _retry_transfer(self, job: dict[str, Any]) -> None:
        """Ask Rasa to run the transfer again until the attendance is open
        (the action opens it and so ends the request)."""
        conversation_id = job["conversation_id"]
        waited = await self.read(lambda uow: transfers.transfer_wait(uow.session, conversation_id))
        if waited is None:
            return
        try:
            await self.rasa.trigger_intent(conversation_id, INTENT_RETRY_TRANSFER)
        except RasaUnavailable as error:
            raise outbox.Unavailable(str(error)) from error
        raise outbox.Later(min(max(waited, 1.0), TRANSFER_RETRY_MAX_SECONDS))

    async def _reconcile(self, job: dict[str, Any]) -> outbox.Then:
        """Import what Rasa holds for an open attendance but we never received
        (the event broker's queue lives in Rasa's memory, so it dies with a
        killed Rasa). Idempotent."""
        conversation_id = job["conversation_id"]
        try:
            events = await self.rasa.conversation_messages(conversation_id)
        except RasaUnavailable as error:
            raise outbox.Unavailable(str(error)) from error
        return partial(
            conversation.import_missed_events,
            events=rasa_events.conversation(conversation_id, events),
        )

    async def _import_events(self, job: dict[str, Any]) -> outbox.Then:
        """Events set aside when they first failed: stored now, or failed again."""
        return partial(
            conversation.record_conversation_events,
            events=rasa_events.conversation(job["conversation_id"], job["events"]),
        )

    async def reconcile(self) -> None:
        """At start-up and when Rasa announces its start: one reconciliation
        job per open attendance, and every job waiting for Rasa made due."""

        def work(uow: UnitOfWork) -> None:
            conversation.queue_reconciliations(uow)
            outbox.make_all_due(uow, RASA_JOBS)

        await self.run(work)

    # --- operators' messages and attendances

    async def send_message(
        self,
        token: str,
        attendance_id: int,
        text: str | None,
        client_id: str,
        template: str | None = None,
        parameters: list[str] | None = None,
    ) -> dict[str, Any]:
        """Stored with its delivery job; a retry is harmless. ``template``
        names one of the approved WhatsApp templates (outside the window)."""
        chosen = None
        if template is not None:
            chosen = await asyncio.to_thread(
                whatsapp_templates.named, self.settings.templates_dir, template
            )
        message, attendance, _created = await self.as_operator(
            token,
            lambda uow, op: conversation.send_operator_message(
                uow, op, attendance_id, text, client_id, template=chosen, parameters=parameters
            ),
        )
        return {
            "message": views.message_view(message),
            "protocol": attendance.protocol,
        }

    async def composer_templates(self, token: str, attendance_id: Any) -> dict[str, Any]:
        """The WhatsApp window of an attendance and the templates offered."""
        templates = await asyncio.to_thread(
            whatsapp_templates.parse_folder, self.settings.templates_dir
        )
        return await self.as_operator(
            token,
            lambda uow, op: conversation.composer_templates(
                uow.session, op, attendance_id, templates
            ),
            read=True,
        )

    async def take(self, token: str, attendance_id: int) -> Attendance:
        """The operator takes a queued call (exactly one taker wins); on
        WhatsApp the citizen sees their messages read (blue ticks)."""
        attendance = await self.as_operator(
            token, lambda uow, op: attendances.take_attendance(uow, op, attendance_id)
        )
        if attendance.channel == conversation.WHATSAPP:
            self.in_background(self.rasa.operator_typing(attendance.conversation_id, typing=False))
        return attendance

    async def operator_typing(self, token: str, attendance_id: int) -> dict[str, Any]:
        """The operator is writing to the customer of their active attendance:
        passed on to Rasa (the widget shows "digitando…"), at most once per
        interval per attendance, in the background (never awaited by the
        console). Whether it went on."""
        attendance = await self.as_operator(
            token,
            lambda uow, op: attendances.active_attendance_of(uow.session, op, attendance_id),
            read=True,
        )
        if not self.typing.due(attendance.id):
            return {"relayed": False}
        self.in_background(self.rasa.operator_typing(attendance.conversation_id))
        return {"relayed": True}

    async def retry(self, token: str, message_id: int) -> dict[str, Any]:
        """Deliver a failed operator message again (same message, no duplicate)."""
        message = await self.as_operator(
            token, lambda uow, op: conversation.retry_delivery(uow, op, message_id)
        )
        return {"message": views.message_view(message)}

    async def end(
        self,
        token: str,
        attendance_id: int,
        outcome: str,
        subject: str | None = None,
        comment: str | None = None,
        pending: demands.Asked | None = None,
    ) -> dict[str, Any]:
        """Finish (with the subject and comment chosen, checked against the
        subjects file; as a pending demand with ``pending``)
        or cancel; the closing flow is queued with it (Z3)."""
        allowed = await self.closing_subjects() if outcome == FINISHED else []
        closing_template = (
            await self.template_for(whatsapp_templates.CLOSING) if outcome == FINISHED else None
        )
        today = demands.today_in(ZoneInfo(self.settings.timezone))

        def work(uow: UnitOfWork, operator: Operator) -> tuple[Attendance, bool]:
            classified = marked = None
            if outcome == FINISHED:
                classified = subjects.classification(subject, comment, allowed)
            if outcome == FINISHED and pending is not None:
                marked = demands.pending(pending.until, pending.reason, today)
            return attendances.end_attendance(
                uow, operator, attendance_id, outcome, classified, marked, closing_template
            )

        attendance, _changed = await self.as_operator(token, work)
        return views.attendance_view(attendance)

    async def transfer(
        self,
        token: str,
        attendance_id: int,
        room_id: int | None,
        operator_id: int | None,
        note: str | None,
    ) -> dict[str, Any]:
        """Pass the operator's attendance to a room's queue or to an operator."""
        attendance = await self.as_operator(
            token,
            lambda uow, op: handovers.transfer_attendance(
                uow, op, attendance_id, room_id=room_id, operator_id=operator_id, note=note
            ),
        )
        return views.attendance_view(attendance)

    async def template_for(self, purpose: str) -> whatsapp_templates.Template | None:
        """The approved template for ``purpose``; a broken folder is logged
        and offers none (ending or concluding is never blocked by it)."""
        try:
            return await asyncio.to_thread(
                whatsapp_templates.for_purpose, self.settings.templates_dir, purpose
            )
        except Invalid as error:
            log.error("WhatsApp templates not read: %s", error.message)
            return None

    async def pending_demands(self, token: str) -> list[dict[str, Any]]:
        """The pending demands of the operator's rooms, late ones marked."""
        today = demands.today_in(ZoneInfo(self.settings.timezone))
        return await self.as_operator(
            token, lambda uow, op: demands.pending_demands(uow.session, op, today), read=True
        )

    async def conclude_demand(self, token: str, attendance_id: Any, answer: Any) -> dict[str, Any]:
        """Conclude a pending demand; the customer is told on their channel."""
        template = await self.template_for(whatsapp_templates.DEMAND_CONCLUDED)
        attendance = await self.as_operator(
            token, lambda uow, op: demands.conclude(uow, op, attendance_id, answer, template)
        )
        return views.attendance_view(attendance)

    async def closing_subjects(self) -> list[str]:
        """The subjects of the file as saved now; a broken file is logged and
        offers none (Finalizar must never be blocked by a content error)."""
        try:
            return await asyncio.to_thread(subjects.parse_subjects, self.settings.subjects_file)
        except Invalid as error:
            log.error("closing subjects not read: %s", error.message)
            return []

    async def add_note(
        self, token: str, attendance_id: int, text: str, client_id: str
    ) -> dict[str, Any]:
        """A private note: stored and shown to the consoles, never delivered."""
        note, _created = await self.as_operator(
            token, lambda uow, op: notes.add_note(uow, op, attendance_id, text, client_id)
        )
        return views.message_view(note)

    # --- customers who left

    def start_abandonment_sweep(self) -> None:
        self._sweeper = asyncio.ensure_future(self._sweep_abandoned())

    async def _sweep_abandoned(self) -> None:
        """Close the attendances of customers who went silent (see
        ``attendances.abandon_silent_attendances``, which queues each one's
        closing flow: the customer is told it ended, with the protocol)."""
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

    # --- retention

    def start_retention_sweep(self) -> None:
        self._retention = asyncio.ensure_future(self._sweep_retention())

    async def _sweep_retention(self) -> None:
        while True:
            try:
                await retention_job.run(self.db, self.rasa, self.settings)
            except (DatabaseUnavailable, RasaUnavailable) as error:
                log.warning("retention run stopped, tried again later: %s", error)
            await asyncio.sleep(self.settings.retention_check_seconds)

    async def record_rasa_events(self, batch: list[ConversationEvents]) -> int:
        """Store the messages of Rasa's event broker (and note transfers Rasa
        could not make); one conversation's failure sets only it aside."""
        return await self.run(lambda uow: conversation.record_rasa_events(uow, batch))

    # --- operators' availability and absence

    async def change_status(self, token: str, status: Any, reason: Any) -> dict[str, Any]:
        def work(uow: UnitOfWork, operator: Operator) -> dict[str, Any]:
            operators.set_status(uow, operator, status, reason)
            # Available again: the calls waiting in automatic rooms go out.
            assignment.offer_to(uow, operator)
            return operators.operator_view(operator)

        view = await self.as_operator(token, work)
        if view["status"] == OFFLINE:
            self.presence.start_grace(view["id"])
        return view

    async def login(
        self, username: str, password: str, address: str, device: str | None = None
    ) -> tuple[str, Operator]:
        """Open a session (token, operator); failed attempts count against
        the login limits (see :meth:`RateLimits.check_login`), which refuse
        further tries."""
        ttl = self.settings.session_ttl_seconds

        def attempt(uow: UnitOfWork) -> tuple[str, Operator]:
            self.limits.check_login(username, address, device)
            try:
                return operators.login(uow, username, password, ttl)
            except Unauthorized:
                self.limits.login_failed(username, address, device)
                raise

        return await self.run(attempt)

    async def change_password(self, token: str, current: Any, new: Any) -> Operator:
        """The operator's own password change; wrong current passwords count
        against a limit like failed logins (then 429)."""

        def work(uow: UnitOfWork, operator: Operator) -> Operator:
            self.limits.check_password_change(operator.id)
            try:
                return operators.change_own_password(uow, token, current, new)
            except Invalid as error:
                if error.field == operators.CURRENT_PASSWORD:
                    self.limits.password_change_failed(operator.id)
                raise

        return await self.as_operator(token, work)

    async def logout(self, token: str) -> None:
        operator_id = await self.run(lambda uow: operators.logout(uow, token))
        self.presence.start_grace(operator_id)

    async def _operator_gone(self, operator_id: int) -> None:
        """Grace is over: requeue unless the operator is back (on any
        process) and not offline. One with no console left is not at the
        desk: they become offline, so the live view stops showing a closed
        browser as available. If Redis cannot tell, ask again later."""
        connected = await self.presence.is_connected(operator_id)
        if connected is None:
            self.presence.start_grace(operator_id)
            return

        def work(uow: UnitOfWork) -> list[int]:
            operator = uow.session.get(Operator, operator_id)
            if operator is not None and operator.status != OFFLINE:
                if connected:
                    return []
                operators.set_status(uow, operator, OFFLINE)
            return attendances.requeue_attendances_of(uow, operator_id)

        requeued = await self.run(work)
        if requeued:
            log.info("operator %s gone: attendances %s back in the queue", operator_id, requeued)

    async def watch_absent_operators(self) -> None:
        """Every operator with active attendances and no console connected
        (after a restart none is, here; with several processes, one whose
        process died) gets the grace period to come back."""
        operator_ids = await self.read(lambda uow: attendances.operators_with_active(uow.session))
        for operator_id in operator_ids:
            if await self.presence.is_connected(operator_id) is False:
                self.presence.watch(operator_id)

    def start_presence_heartbeat(self) -> None:
        """With several processes: keep this process's consoles held in
        Redis, and look for operators no process holds."""
        if self.presence.shared is not None:
            self._heartbeat = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        ttl = self.settings.presence_ttl_seconds
        beats = 0
        while True:
            await asyncio.sleep(ttl / 3)
            await self.presence.refresh()
            beats += 1
            if beats % 3 == 0:
                try:
                    await self.watch_absent_operators()
                except DatabaseUnavailable as error:
                    log.warning("absent operators not checked: %s", error)

    # --- content editors' files: knowledge base, ready replies

    async def reload_knowledge_base_if_changed(self) -> None:
        """Content editors save files; the next reader sees them (O9). A broken
        file is logged and the previous articles stay."""
        await self._reload_if_changed(self.settings.kb_dir, self.reload_knowledge_base)

    async def reload_knowledge_base(self) -> int:
        """Load the article files now; Invalid (with file and line) if one is broken."""
        folder = self.settings.kb_dir
        return await self.run(lambda uow: knowledge_base.load_articles(uow.session, folder))

    async def reload_ready_replies_if_changed(self) -> None:
        """Like the knowledge base: the next list of ready replies sees saved files."""
        await self._reload_if_changed(self.settings.replies_dir, self.reload_ready_replies)

    async def reload_ready_replies(self) -> int:
        """Load the ready-reply files now; Invalid if one is broken."""
        folder = self.settings.replies_dir
        return await self.run(lambda uow: ready_replies.load_replies(uow.session, folder))

    async def _reload_if_changed(self, folder: Path, reload: Callable[[], Awaitable[int]]) -> None:
        signature = await asyncio.to_thread(folder_signature, folder)
        if signature != self._signatures.get(folder):
            try:
                await reload()
            except Invalid as error:
                log.error("%s not reloaded: %s", folder.name, error.message)
            self._signatures[folder] = signature

    async def drain(self) -> None:
        """On shutdown: let jobs under way finish (a few seconds at most) and
        give the others back: they are stored, for this or another process."""
        for task in (self._sweeper, self._heartbeat, self._retention):
            if task is not None:
                task.cancel()
        self.recounter.stop()
        await self.presence.stop()
        await self.outbox.stop()
        await self.media.close()
        if self._background:
            _done, waiting = await asyncio.wait(set(self._background), timeout=5)
            for task in waiting:
                task.cancel()


def _shared_presence(settings: Settings) -> SharedPresence | None:
    if not settings.redis_url:
        return None
    process = f"{settings.host}:{settings.port}:{uuid.uuid4().hex[:8]}"
    return SharedPresence(
        settings.redis_url, settings.redis_channel, process, settings.presence_ttl_seconds
    )
