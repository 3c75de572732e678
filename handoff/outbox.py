"""The transactional outbox: everything that leaves the handoff service after
a commit (operator messages to Rasa, closing flows, transfers to retry,
imports from Rasa, re-sends on a customer's channel) is a job row written in
the same transaction as the change that causes it.

Rules, whatever the number of processes:

- **Once.** A worker claims due jobs with a lease (``claimed_by``,
  ``claimed_until``): on PostgreSQL under ``FOR UPDATE SKIP LOCKED``, on
  SQLite under its single write lock (every write transaction begins with
  ``BEGIN IMMEDIATE``). A job is deleted when done, by the worker that holds
  its lease. A worker is named after its host and port, so a process that
  starts again in the place of a killed one first gives back the dead one's
  leases; any other lease of a dead worker runs out (``LEASE``) and the job
  is claimed again. A handler must therefore be idempotent (each one is:
  Rasa appends an operator message once per id, and so on).
- **Order per key, never global.** Jobs of one key (a conversation, in one
  direction) are done one at a time, in id order: only the oldest pending
  job of a key can be claimed. Other keys go on in parallel.
- **One back-off policy.** ``Unavailable`` (the other side is away) is tried
  again without limit, 0.5 s doubling to 10 s; a job that has waited like
  that for ``MAX_WAIT`` is set aside. Any other failure is tried again
  ``MAX_FAILURES`` times, 1 s doubling, then set aside: a **dead letter**
  (``status = dead``), which no longer holds back its key; supervisors see
  it and retry or discard it (``dead_letters``, ``retry_dead``,
  ``discard_dead``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from handoff.db import DatabaseUnavailable, UnitOfWork
from handoff.domain.audiences import SUPERVISORS
from handoff.domain.audit import audit
from handoff.domain.errors import Conflict, NotFound
from handoff.domain.views import iso
from handoff.models import JOB_DEAD, JOB_PENDING, OutboxJob, utcnow

log = logging.getLogger(__name__)

MAX_FAILURES = 5
MAX_WAIT = timedelta(days=1)
LEASE = timedelta(seconds=60)
UNAVAILABLE_FIRST_SECONDS, UNAVAILABLE_MAX_SECONDS = 0.5, 10.0
FAILURE_FIRST_SECONDS, FAILURE_MAX_SECONDS = 1.0, 30.0
# How often an idle worker looks for jobs other processes wrote or whose
# back-off ended; a job written by this process wakes its worker at once.
POLL_SECONDS = 0.5
CONCURRENCY = 32
T = TypeVar("T")
Then = Callable[[UnitOfWork], object]
Handler = Callable[[dict[str, Any]], Awaitable[Then | None]]


def to_customer(conversation_id: str) -> str:
    """The key of what goes towards a conversation's customer."""
    return f"to:{conversation_id}"


def from_customer(conversation_id: str) -> str:
    """The key of what a conversation's customer wrote."""
    return f"from:{conversation_id}"


class Unavailable(Exception):
    """The other side (Rasa, Meta) is away: try again later, without limit.
    ``then`` runs in the transaction that reschedules the job."""

    def __init__(self, reason: str, then: Then | None = None) -> None:
        super().__init__(reason)
        self.then = then


class Later(Exception):
    """Not yet: run the job again in ``seconds`` (not a failure)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"later ({seconds:.1f} s)")
        self.seconds = seconds


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int


# --- in a unit of work


def enqueue(
    uow: UnitOfWork,
    *,
    kind: str,
    key: str,
    payload: dict[str, Any],
    dedup: str | None = None,
    status: str = JOB_PENDING,
    error: str | None = None,
) -> None:
    """Write a job in the caller's transaction. With ``dedup``, a pending job
    of the same value is not written twice: it is made due now instead."""
    session = uow.session
    job = OutboxJob(
        kind=kind,
        key=key[:300],
        payload=json.dumps(payload),
        status=status,
        dedup=dedup[:300] if dedup and status == JOB_PENDING else None,
        last_error=error,
    )
    if job.dedup is None:
        session.add(job)
    else:
        try:
            with session.begin_nested():
                session.add(job)
        except IntegrityError:
            session.execute(
                update(OutboxJob)
                .where(OutboxJob.dedup == job.dedup, OutboxJob.claimed_by.is_(None))
                .values(next_try_at=utcnow())
            )
    if status == JOB_PENDING:
        uow.outbox_touched = True
    else:
        session.flush()
        uow.notify(SUPERVISORS, "dead_letter:new", dead_letter_view(job))


def _due() -> Any:
    now = utcnow()
    return (
        OutboxJob.status == JOB_PENDING,
        OutboxJob.next_try_at <= now,
        or_(OutboxJob.claimed_until.is_(None), OutboxJob.claimed_until < now),
    )


def any_due(uow: UnitOfWork) -> bool:
    """Whether a claim would find work (read only: an idle worker's look
    takes no write lock)."""
    return uow.session.scalar(select(OutboxJob.id).where(*_due()).limit(1)) is not None


def claim(uow: UnitOfWork, *, worker: str, limit: int) -> list[Job]:
    """Lease up to ``limit`` due jobs, each the oldest pending one of its key."""
    session, now = uow.session, utcnow()
    earlier = aliased(OutboxJob)
    query = (
        select(OutboxJob)
        .where(
            *_due(),
            ~exists().where(
                earlier.key == OutboxJob.key,
                earlier.status == JOB_PENDING,
                earlier.id < OutboxJob.id,
            ),
        )
        .order_by(OutboxJob.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxJob)
    jobs = []
    for row in session.scalars(query).all():
        row.claimed_by, row.claimed_until = worker, now + LEASE
        row.attempts += 1
        jobs.append(Job(row.id, row.kind, row.key, json.loads(row.payload), row.attempts))
    return jobs


def _held(session: Session, job_id: int, worker: str) -> OutboxJob | None:
    row = session.get(OutboxJob, job_id)
    return row if row is not None and row.claimed_by == worker else None


def finish(uow: UnitOfWork, *, job_id: int, worker: str, then: Then | None) -> None:
    """The job is done: delete it and record its outcome, in one transaction.
    A lease that ran out (another worker took the job) changes nothing."""
    row = _held(uow.session, job_id, worker)
    if row is None:
        log.warning("outbox job %s finished after its lease ran out", job_id)
        return
    uow.session.delete(row)
    if then is not None:
        then(uow)


def reschedule(
    uow: UnitOfWork,
    *,
    job_id: int,
    worker: str,
    delay: float,
    error: str | None = None,
    failed: bool = False,
    then: Then | None = None,
) -> None:
    """Give the job back, due in ``delay`` s; a failure counts towards
    MAX_FAILURES, and a job past its bound becomes a dead letter."""
    row = _held(uow.session, job_id, worker)
    if row is None:
        return
    now = utcnow()
    row.claimed_by = row.claimed_until = None
    row.next_try_at = now + timedelta(seconds=delay)
    if error is not None:
        row.last_error = error[:2000]
    if failed:
        row.failures += 1
    if row.failures >= MAX_FAILURES or (error is not None and now - row.created_at > MAX_WAIT):
        row.status, row.dedup = JOB_DEAD, None
        log.error("outbox job %s (%s, %s) set aside: %s", row.id, row.kind, row.key, error)
        uow.notify(SUPERVISORS, "dead_letter:new", dead_letter_view(row))
    if then is not None:
        then(uow)


def release(uow: UnitOfWork, *, worker: str) -> None:
    """Give back a worker's leases (at its stop, or its successor's start)."""
    uow.session.execute(
        update(OutboxJob)
        .where(OutboxJob.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None)
    )


def make_all_due(uow: UnitOfWork, kinds: tuple[str, ...]) -> None:
    """The other side is back (Rasa announced its start): stop waiting."""
    uow.session.execute(
        update(OutboxJob)
        .where(
            OutboxJob.status == JOB_PENDING,
            OutboxJob.kind.in_(kinds),
            OutboxJob.claimed_by.is_(None),
        )
        .values(next_try_at=utcnow())
    )
    uow.outbox_touched = True


# --- dead letters, for supervisors


def dead_letter_view(row: OutboxJob) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "key": row.key,
        "payload": json.loads(row.payload),
        "attempts": row.attempts,
        "failures": row.failures,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
    }


def dead_letters(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(OutboxJob).where(OutboxJob.status == JOB_DEAD).order_by(OutboxJob.id)
    )
    return [dead_letter_view(row) for row in rows]


def _dead(session: Session, job_id: Any) -> OutboxJob:
    row = session.get(OutboxJob, job_id) if isinstance(job_id, int) else None
    if row is None:
        raise NotFound("Falha não encontrada.")
    if row.status != JOB_DEAD:
        raise Conflict("Este item não está entre as falhas.")
    return row


def retry_dead(uow: UnitOfWork, operator_id: int, job_id: Any) -> dict[str, Any]:
    """Put a dead letter back in its line, with a fresh count of failures."""
    row = _dead(uow.session, job_id)
    audit(uow.session, "dead_letter_retried", operator_id=operator_id, job=row.id, kind=row.kind)
    row.status, row.failures, row.attempts = JOB_PENDING, 0, 0
    row.next_try_at = utcnow()
    row.created_at = utcnow()
    uow.outbox_touched = True
    uow.notify(SUPERVISORS, "dead_letter:gone", {"id": row.id})
    return dead_letter_view(row)


def discard_dead(uow: UnitOfWork, operator_id: int, job_id: Any) -> dict[str, Any]:
    """Drop a dead letter for good (recorded in the audit log, with its content)."""
    row = _dead(uow.session, job_id)
    view = dead_letter_view(row)
    audit(uow.session, "dead_letter_discarded", operator_id=operator_id, **view)
    uow.session.execute(delete(OutboxJob).where(OutboxJob.id == row.id))
    uow.notify(SUPERVISORS, "dead_letter:gone", {"id": row.id})
    return view


# --- the worker


def backoff(first: float, limit: float, count: int) -> float:
    return float(min(first * 2 ** max(count - 1, 0), limit))


Runner = Callable[[Callable[[UnitOfWork], T]], Awaitable[T]]


class Outbox:
    """This process's worker: claims due jobs and runs their kind's handler."""

    def __init__(self, run: Runner[Any], read: Runner[Any], name: str) -> None:
        """``run`` and ``read`` run work in a transaction (``read``: one that
        only reads); ``name`` is unique among running processes (host and port)."""
        self._run = run
        self._read = read
        self._handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._serving: asyncio.Task[None] | None = None
        self.worker = f"{socket.gethostname()}:{name}"[:64]

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Give back what a killed predecessor of this name held, then serve."""
        await self._run(partial(release, worker=self.worker))
        self._serving = asyncio.ensure_future(self._serve())

    async def _serve(self) -> None:
        delay = UNAVAILABLE_FIRST_SECONDS
        while not self._stopping:
            self._wake.clear()
            free = CONCURRENCY - len(self._running)
            jobs: list[Job] = []
            if free > 0:
                try:
                    if await self._read(any_due):
                        jobs = await self._run(partial(claim, worker=self.worker, limit=free))
                    delay = UNAVAILABLE_FIRST_SECONDS
                except DatabaseUnavailable:
                    log.warning("outbox: database away, next look in %.1f s", delay)
                    await asyncio.sleep(delay)
                    delay = backoff(delay, UNAVAILABLE_MAX_SECONDS, 2)
                    continue
            for job in jobs:
                task = asyncio.ensure_future(self._do(job))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            if jobs and len(jobs) == free:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass

    async def _do(self, job: Job) -> None:
        job_id, worker = job.id, self.worker
        try:
            handler = self._handlers.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler for outbox jobs of kind {job.kind!r}")
            then = await handler(job.payload)
        except Unavailable as away:
            delay = backoff(UNAVAILABLE_FIRST_SECONDS, UNAVAILABLE_MAX_SECONDS, job.attempts)
            log.info("outbox job %s (%s) waits %.1f s: %s", job.id, job.kind, delay, away)
            await self._settle(
                partial(
                    reschedule,
                    job_id=job_id,
                    worker=worker,
                    delay=delay,
                    error=str(away),
                    then=away.then,
                )
            )
        except Later as later:
            await self._settle(
                partial(reschedule, job_id=job_id, worker=worker, delay=later.seconds)
            )
        except Exception as error:  # noqa: BLE001 - any failure is counted, then set aside
            await self._fail(job, error)
        else:
            try:
                await self._settle(partial(finish, job_id=job_id, worker=worker, then=then))
            except Exception as error:  # noqa: BLE001 - recording the outcome failed
                await self._fail(job, error)
        finally:
            self.wake()

    async def _fail(self, job: Job, error: Exception) -> None:
        log.warning("outbox job %s (%s) failed: %r", job.id, job.kind, error, exc_info=error)
        failures_so_far = job.attempts  # an upper bound, enough for the back-off
        delay = backoff(FAILURE_FIRST_SECONDS, FAILURE_MAX_SECONDS, failures_so_far)
        await self._settle(
            partial(
                reschedule,
                job_id=job.id,
                worker=self.worker,
                delay=delay,
                error=f"{type(error).__name__}: {error}",
                failed=True,
            )
        )

    async def _settle(self, work: Callable[[UnitOfWork], None]) -> None:
        """Record a job's outcome; while the database is away, keep trying
        (within the lease: after it another worker does the job again)."""
        delay = UNAVAILABLE_FIRST_SECONDS
        for _ in range(12):
            try:
                await self._run(work)
                return
            except DatabaseUnavailable:
                await asyncio.sleep(delay)
                delay = backoff(delay, UNAVAILABLE_MAX_SECONDS, 2)
        log.error("outbox: outcome not recorded; the job is done again after its lease")

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming, let jobs under way finish, give back the others."""
        self._stopping = True
        self.wake()
        if self._serving is not None:
            await asyncio.wait({self._serving}, timeout=1)
        if self._running:
            _done, waiting = await asyncio.wait(set(self._running), timeout=timeout)
            for task in waiting:
                task.cancel()
        try:
            await self._run(partial(release, worker=self.worker))
        except DatabaseUnavailable:
            log.warning("outbox: leases not given back; they run out in %s", LEASE)
