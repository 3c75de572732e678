"""A run of visitors and operators while faults happen, and its count.

Used by the chaos run (kill -9, database away) and the graceful-shutdown
tests (SIGTERM). Every message is checked in four places: the handoff
service's database (what the operator sees), Rasa's tracker (through the
widget's history route), the clients' own records, and the delivery state;
when the run ends the attendances, so is each closing message. Durations
(replays, faults, the run) are figures, never limits: what fails a run is
a message lost, duplicated or out of order, or something stuck.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from sqlalchemy import func, select

from handoff.db import Database
from handoff.models import FROM_CUSTOMER, FROM_OPERATOR, SENT, Attendance, Message
from tests.support.api import PASSWORD, add_entry_point, add_operator
from tests.support.chaos_clients import (
    CLOSING,
    ChaosOperator,
    ChaosVisitor,
    Replay,
    Tally,
    reply_to,
)
from tests.support.clients import conversation_id
from tests.support.processes import Service, Stack

# A replay (a reconnected console or widget showing what it missed) that
# takes longer than this is stuck: a bound for a hang, not a time limit
# (on a quiet machine replays take well under a second; see
# docs/reliability.md).
STUCK_SECONDS = 60.0
# How long a visitor waits for an answer, and for the closing message once
# the operators finished; past it the wait counts as stuck (or the message lost).
REPLY_WAIT_SECONDS = 90.0
EXAMPLES_PER_KIND = 3
# A fault: (name, share of the visitor messages acknowledged before it
# starts, what to do; returns the seconds the part was away).
FaultPlan = list[tuple[str, float, Callable[[], float]]]
Step = tuple[str, Callable[[], float]]


@dataclass
class Ending:
    """Once every visitor is done, the operators finish their attendances:
    faults ``before`` that, then ``after`` it (while the closing flows are
    on their way); then ``settle_seconds`` for a late repeat (a closing
    tried again after it was delivered) to show before the count."""

    before: list[Step] = field(default_factory=list)
    after: list[Step] = field(default_factory=list)
    settle_seconds: float = 0.0


@dataclass
class Fault:
    name: str
    started_at: float
    down_seconds: float


@dataclass
class Report:
    backend: str
    visitors: int
    operators: int
    messages_per_visitor: int
    handoff_processes: int = 1
    attendances_finished: bool = False
    sent_by_visitors: int = 0
    sent_by_operators: int = 0
    received_by_operators: int = 0
    received_by_visitors: int = 0
    # Closing messages (with the protocol) in Rasa's tracker, and the
    # visitors who were shown theirs: one each when the attendances ended.
    closings_in_tracker: int = 0
    closings_shown: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    # The same counts by place, where not zero ("lost: Rasa's tracker": n).
    by_place: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)  # "v012: lost: answers stored"
    redelivered_and_suppressed: int = 0
    requeued_while_connected: int = 0
    faults: list[Fault] = field(default_factory=list)
    replays: int = 0
    # From reconnecting (or from the fault's end, if it was still on) to
    # shown, in seconds, for consoles and widgets: count, p50, p99, max.
    replay_seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    stuck: list[str] = field(default_factory=list)
    run_seconds: float = 0.0
    client_errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def service(stack: Stack, name: str) -> Service:
    return next(s for s in stack.services if s.name == name)


def kill_and_restart(process: Service) -> Callable[[], float]:
    def fault() -> float:
        process.kill()
        return process.restart()

    return fault


def killed(process: Service) -> Callable[[], float]:
    """``kill -9`` and leave it down (a later step restarts it)."""

    def fault() -> float:
        process.kill()
        return 0.0

    return fault


def restarted(process: Service) -> Callable[[], float]:
    return process.restart


def stop_and_restart(process: Service) -> Callable[[], float]:
    """SIGTERM (the process shuts down gracefully), then start again."""

    def fault() -> float:
        started = time.monotonic()
        process.stop()
        process.start()
        return time.monotonic() - started

    return fault


async def _fault(name: str, action: Callable[[], float]) -> Fault:
    started = time.time()
    down = await asyncio.to_thread(action)
    return Fault(name, started, round(down, 1))


async def _inject(plan: FaultPlan, visitors: list[ChaosVisitor], total: int) -> list[Fault]:
    # The faults hit conversations in attendance: a first message (the
    # transfer) caught by a fault is the subject of tests/faults/test_transfers.py.
    while not all(v.sent for v in visitors):
        await asyncio.sleep(0.2)
    faults = []
    for name, share, action in plan:
        while sum(len(v.sent) for v in visitors) < share * total:
            await asyncio.sleep(0.2)
        faults.append(await _fault(name, action))
    return faults


async def _end(
    ending: Ending, operators: list[ChaosOperator], visitors: list[ChaosVisitor]
) -> list[Fault]:
    faults = [await _fault(name, action) for name, action in ending.before]
    await asyncio.gather(*(o.finish_all() for o in operators))
    faults += [await _fault(name, action) for name, action in ending.after]
    await asyncio.gather(*(v.wait_closing(REPLY_WAIT_SECONDS) for v in visitors))
    await asyncio.sleep(ending.settle_seconds)
    return faults


async def _run(
    stack: Stack, report: Report, plan: FaultPlan, think_seconds: float, ending: Ending | None
) -> tuple[list[ChaosVisitor], Tally]:
    tally = Tally()
    per_visitor = report.messages_per_visitor
    share = -(-report.visitors // report.operators) + 2
    handoff = service(stack, "handoff")
    room = f"run-{uuid.uuid4().hex[:8]}"  # this run's calls only
    add_entry_point(handoff, "widget", room, room)  # the visitors' widget key routes there
    operators = [
        ChaosOperator(
            f"op{i}",
            stack.handoff_url,
            add_operator(handoff, [room], max_concurrent=share),
            PASSWORD,
            share,
            tally,
        )
        for i in range(report.operators)
    ]
    await asyncio.gather(*(o.start() for o in operators))
    visitors = [
        ChaosVisitor(f"v{i:03d}", stack.rasa_url, stack.handoff_url, tally)
        for i in range(report.visitors)
    ]
    # A fault that fails (a part that never comes back) ends the run at once:
    # the visitors would wait for that part for ever.
    *_, report.faults = await asyncio.gather(
        *(
            v.run(per_visitor, room, reply_timeout=REPLY_WAIT_SECONDS, think_seconds=think_seconds)
            for v in visitors
        ),
        _inject(plan, visitors, per_visitor * report.visitors),
    )
    for visitor in visitors:  # the last answers may still be on their way
        await visitor.wait_shown(reply_to(f"{visitor.name} m{per_visitor - 1:03d}"), 30)
    if ending is not None:
        report.faults += await _end(ending, operators, visitors)
    await _replays_settled(tally)
    await asyncio.gather(*(v.close() for v in visitors), *(o.close() for o in operators))
    return visitors, tally


async def _replays_settled(tally: Tally) -> None:
    """Wait (a stuck bound) for the clients still showing what they missed:
    one that reconnected just before the end is not stuck, and closing it
    would cut its replay off."""
    deadline = time.monotonic() + STUCK_SECONDS
    while time.monotonic() < deadline and any(
        r.done_at is None and r.refused is None for r in tally.replays
    ):
        await asyncio.sleep(0.2)


def run(
    stack: Stack,
    report: Report,
    plan: FaultPlan,
    think_seconds: float = 0.0,
    ending: Ending | None = None,
) -> Report:
    """Run the clients with the faults of ``plan`` (and, with ``ending``,
    finish the attendances); fill in and return ``report``."""
    report.attendances_finished = ending is not None
    started = time.monotonic()
    visitors, tally = asyncio.run(_run(stack, report, plan, think_seconds, ending))
    report.run_seconds = round(time.monotonic() - started, 1)
    _count(stack, visitors, tally, report)
    return report


def _stored(database_url: str, conversation: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Customer texts and (operator text, delivery) stored for a conversation,
    in the order the conversation is read (the time Rasa stored each one)."""
    db = Database(database_url)
    try:
        with db.unit_of_work() as uow:
            rows = uow.session.execute(
                select(Message.direction, Message.text, Message.delivery)
                .join(Attendance, Attendance.id == Message.attendance_id)
                .where(Attendance.conversation_id == conversation)
                .order_by(Message.created_at, Message.id)
            ).all()
    finally:
        db.dispose()
    customer = [text for direction, text, _ in rows if direction == FROM_CUSTOMER]
    operator = [(text, state) for direction, text, state in rows if direction == FROM_OPERATOR]
    return customer, operator


def _replay_seconds(replay: Replay, faults: list[Fault], done_at: float) -> float:
    """Seconds from reconnecting to showing what was missed. A replay that a
    fault interrupts (e.g. the database goes away while the widget reloads
    its history) cannot end before the part is back: counted from then. One
    that ended before the part was back did not need it (a console that
    reconnected to the other handoff process)."""
    start = replay.connected_at
    for fault in faults:
        back = fault.started_at + fault.down_seconds
        if start < back <= done_at:
            start = back
    return max(0.0, done_at - start)


def _figures(seconds: list[float]) -> dict[str, float]:
    """Count, median, 99th percentile (nearest rank) and maximum."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0}

    def rank(share: float) -> float:
        return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 2)

    return {"count": len(ordered), "p50": rank(0.5), "p99": rank(0.99), "max": rank(1.0)}


def _replays(tally: Tally, report: Report, ended_at: float) -> None:
    timed: dict[str, list[float]] = {"consoles": [], "widgets": []}
    for replay in tally.replays:
        kind = "consoles" if replay.client.startswith("op") else "widgets"
        seconds = _replay_seconds(replay, report.faults, replay.done_at or ended_at)
        if replay.done_at is None or seconds > STUCK_SECONDS:
            state = "never done" if replay.done_at is None else f"{seconds:.1f} s"
            if replay.refused is not None:
                state += f" (refused: {replay.refused})"
            report.stuck.append(f"replay of {replay.client} at {replay.connected_at:.1f}: {state}")
        if replay.done_at is not None:
            timed[kind].append(seconds)
    report.replays = len(tally.replays)
    report.replay_seconds = {kind: _figures(seconds) for kind, seconds in timed.items()}


def _compare(expected: list[str], actual: list[str]) -> tuple[int, int, bool]:
    """Lost, duplicated, and whether the order differs from ``expected``."""
    wanted = set(expected)
    lost = len(wanted - set(actual))
    duplicated = len(actual) - len(set(actual))
    kept = [t for t in dict.fromkeys(actual) if t in wanted]
    return lost, duplicated, kept != [t for t in expected if t in set(kept)]


def _tell(
    report: Report, who: str, place: str, lost: int, duplicated: int, disordered: bool
) -> None:
    """Add one conversation's counts in one place to the report's totals,
    to ``by_place``, and to ``examples`` (the first few conversations of each)."""
    report.lost += lost
    report.duplicated += duplicated
    report.out_of_order += int(disordered)
    for what, count in (("lost", lost), ("duplicated", duplicated), ("out of order", disordered)):
        if count:
            key = f"{what}: {place}"
            report.by_place[key] = report.by_place.get(key, 0) + int(count)
            if sum(e.endswith(f": {key}") for e in report.examples) < EXAMPLES_PER_KIND:
                report.examples.append(f"{who}: {key}")


def _closings(report: Report, visitor: ChaosVisitor, history: list[dict[str, Any]]) -> None:
    """One closing message per finished attendance, in Rasa's tracker and on
    the widget (which shows each one it is sent: it carries no id)."""
    in_tracker = sum(1 for m in history if m["from"] == "bot" and m["text"].startswith(CLOSING))
    report.closings_in_tracker += in_tracker
    report.closings_shown += int(visitor.closing_shown)
    missing, repeated = int(in_tracker == 0), max(0, in_tracker - 1)
    _tell(report, visitor.name, "closing in Rasa's tracker", missing, repeated, False)
    missing, repeated = int(not visitor.closing_shown), max(0, visitor.closings_pushed - 1)
    _tell(report, visitor.name, "closing on the widget", missing, repeated, False)


def _handovers_settled(database_url: str) -> None:
    """Wait (a stuck bound) until no operator message waits for its outbox
    job: one Rasa took just before a process stopped is recorded by the
    job's next run, which may come after the visitor already showed it."""
    db = Database(database_url)
    try:
        for _ in range(int(STUCK_SECONDS / 0.5)):
            with db.unit_of_work() as uow:
                waiting = uow.session.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.direction == FROM_OPERATOR, Message.delivery != SENT)
                )
            if not waiting:
                return
            time.sleep(0.5)
    finally:
        db.dispose()


def _count(stack: Stack, visitors: list[ChaosVisitor], tally: Tally, report: Report) -> None:
    ended_at = time.time()
    database_url = service(stack, "handoff").env["DATABASE_URL"]
    _handovers_settled(database_url)
    for visitor in visitors:
        questions = visitor.sent
        answers = [reply_to(t) for t in questions]
        customer, operator = _stored(database_url, conversation_id(visitor.token))
        history = requests.get(
            f"{stack.handoff_url}/widget/api/history",
            headers={"X-Conversation-Token": visitor.token},
            timeout=30,
        ).json()["messages"]
        in_tracker = [m["text"] for m in history if m["from"] == "visitor"]
        answers_in_tracker = [m["text"] for m in history if m["text"].startswith("re: ")]
        report.sent_by_visitors += len(questions)
        report.sent_by_operators += len(operator)
        report.received_by_operators += len(set(customer) & set(questions))
        report.received_by_visitors += len(set(visitor.shown) & set(answers))
        # Each answer's text is its own: a bot event repeated with the same
        # handoff_message_id counts as a duplicate in Rasa's tracker.
        for place, wanted, got in (
            ("customer messages stored", questions, customer),  # what the operator sees
            ("customer messages in Rasa's tracker", questions, in_tracker),
            ("answers stored", answers, [t for t, _ in operator]),
            ("answers in Rasa's tracker", answers, answers_in_tracker),
            ("answers on the widget", answers, visitor.shown),
        ):
            _tell(report, visitor.name, place, *_compare(wanted, got))
        undelivered = sum(s != SENT for _, s in operator)
        _tell(report, visitor.name, "answers not delivered", undelivered, 0, False)
        if report.attendances_finished:
            _closings(report, visitor, history)
    report.redelivered_and_suppressed = tally.redelivered
    report.requeued_while_connected = tally.requeued
    report.stuck += tally.stuck
    _replays(tally, report, ended_at)
    report.client_errors = dict(tally.errors)


def assert_nothing_lost(report: Report) -> None:
    """The assertions every run shares (the whole report is printed)."""
    expected = report.messages_per_visitor * report.visitors
    counts = (
        report.sent_by_visitors,
        report.sent_by_operators,
        report.received_by_operators,
        report.received_by_visitors,
    )
    assert counts == (expected,) * 4, f"sent, answered, received, shown: {counts}"
    problems = (report.lost, report.duplicated, report.out_of_order)
    assert problems == (0, 0, 0), (report.by_place, report.examples)
    assert report.stuck == [], report.stuck[:20]
