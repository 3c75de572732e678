"""A run of visitors and operators while faults happen, and its count.

Used by the chaos run (kill -9, database away) and the graceful-shutdown
tests (SIGTERM). Every message is checked in four places: the handoff
service's database (what the operator sees), Rasa's tracker (through the
widget's history route), the clients' own records, and the delivery state.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from sqlalchemy import select

from handoff.db import Database
from handoff.models import FROM_CUSTOMER, FROM_OPERATOR, SENT, Attendance, Message
from tests.support.api import PASSWORD, add_entry_point, add_operator
from tests.support.chaos_clients import ChaosOperator, ChaosVisitor, Replay, Tally, reply_to
from tests.support.clients import conversation_id
from tests.support.processes import Service, Stack

REPLAY_LIMIT_SECONDS = 2.0
# A fault: (name, share of the visitor messages acknowledged before it
# starts, what to do; returns the seconds the part was away).
FaultPlan = list[tuple[str, float, Callable[[], float]]]


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
    sent_by_visitors: int = 0
    sent_by_operators: int = 0
    received_by_operators: int = 0
    received_by_visitors: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    redelivered_and_suppressed: int = 0
    faults: list[Fault] = field(default_factory=list)
    replays: int = 0
    # From reconnecting (or from the fault's end, if it was still on) to shown.
    replay_max_seconds: float = 0.0
    replays_over_limit: list[dict[str, Any]] = field(default_factory=list)
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


def stop_and_restart(process: Service) -> Callable[[], float]:
    """SIGTERM (the process shuts down gracefully), then start again."""

    def fault() -> float:
        started = time.monotonic()
        process.stop()
        process.start()
        return time.monotonic() - started

    return fault


async def _inject(plan: FaultPlan, visitors: list[ChaosVisitor], total: int) -> list[Fault]:
    # The faults hit conversations in attendance: a first message (the
    # transfer) caught by a fault is the subject of tests/faults/test_transfers.py.
    while not all(v.sent for v in visitors):
        await asyncio.sleep(0.2)
    faults = []
    for name, share, action in plan:
        while sum(len(v.sent) for v in visitors) < share * total:
            await asyncio.sleep(0.2)
        started = time.time()
        down = await asyncio.to_thread(action)
        faults.append(Fault(name, started, round(down, 1)))
    return faults


async def _run(
    stack: Stack, report: Report, plan: FaultPlan, think_seconds: float
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
            v.run(per_visitor, room, reply_timeout=90, think_seconds=think_seconds)
            for v in visitors
        ),
        _inject(plan, visitors, per_visitor * report.visitors),
    )
    for visitor in visitors:  # the last answers may still be on their way
        await visitor.wait_shown(reply_to(f"{visitor.name} m{per_visitor - 1:03d}"), 30)
    await asyncio.gather(*(v.close() for v in visitors), *(o.close() for o in operators))
    return visitors, tally


def run(stack: Stack, report: Report, plan: FaultPlan, think_seconds: float = 0.0) -> Report:
    """Run the clients with the faults of ``plan``; fill in and return ``report``."""
    started = time.monotonic()
    visitors, tally = asyncio.run(_run(stack, report, plan, think_seconds))
    report.run_seconds = round(time.monotonic() - started, 1)
    _count(stack, visitors, tally, report)
    return report


def _stored(database_url: str, conversation: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Customer texts and (operator text, delivery) stored for a conversation, in order."""
    db = Database(database_url)
    try:
        with db.unit_of_work() as uow:
            rows = uow.session.execute(
                select(Message.direction, Message.text, Message.delivery)
                .join(Attendance, Attendance.id == Message.attendance_id)
                .where(Attendance.conversation_id == conversation)
                .order_by(Message.id)
            ).all()
    finally:
        db.dispose()
    customer = [text for direction, text, _ in rows if direction == FROM_CUSTOMER]
    operator = [(text, state) for direction, text, state in rows if direction == FROM_OPERATOR]
    return customer, operator


def _replay_seconds(replay: Replay, faults: list[Fault]) -> float:
    """Seconds from reconnecting to showing what was missed. A replay that a
    fault interrupts (e.g. the database goes away while the widget reloads
    its history) cannot end before the part is back: counted from then."""
    start = replay.connected_at
    for fault in faults:
        back = fault.started_at + fault.down_seconds
        if fault.started_at <= replay.done_at and start < back:
            start = max(start, back)
    return max(0.0, replay.done_at - start)


def _compare(expected: list[str], actual: list[str]) -> tuple[int, int, bool]:
    """Lost, duplicated, and whether the order differs from ``expected``."""
    wanted = set(expected)
    lost = len(wanted - set(actual))
    duplicated = len(actual) - len(set(actual))
    kept = [t for t in dict.fromkeys(actual) if t in wanted]
    return lost, duplicated, kept != [t for t in expected if t in set(kept)]


def _count(stack: Stack, visitors: list[ChaosVisitor], tally: Tally, report: Report) -> None:
    database_url = service(stack, "handoff").env["DATABASE_URL"]
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
        for wanted, got in (
            (questions, customer),  # what the operator sees
            (questions, in_tracker),  # Rasa's tracker
            (answers, [t for t, _ in operator]),  # answers stored
            (answers, answers_in_tracker),  # answers in Rasa's tracker
            (answers, visitor.shown),  # what the widget shows
        ):
            lost, duplicated, disordered = _compare(wanted, got)
            report.lost += lost
            report.duplicated += duplicated
            report.out_of_order += int(disordered)
        report.lost += sum(1 for _, state in operator if state != SENT)
    report.redelivered_and_suppressed = tally.redelivered
    report.replays = len(tally.replays)
    timed = [(replay, _replay_seconds(replay, report.faults)) for replay in tally.replays]
    report.replay_max_seconds = round(max((s for _, s in timed), default=0), 2)
    report.replays_over_limit = [
        {**asdict(r), "seconds": round(s, 2)} for r, s in timed if s > REPLAY_LIMIT_SECONDS
    ]
    report.client_errors = dict(tally.errors)


def assert_nothing_lost(report: Report, replays_timed: bool = True) -> None:
    """The assertions every run shares; ``replays_timed`` adds the replay
    limit, a wall-clock bound."""
    expected = report.messages_per_visitor * report.visitors
    assert report.sent_by_visitors == expected, report.as_dict()
    assert report.sent_by_operators == expected, report.as_dict()
    assert report.received_by_operators == expected, report.as_dict()
    assert report.received_by_visitors == expected, report.as_dict()
    assert (report.lost, report.duplicated, report.out_of_order) == (0, 0, 0), report.as_dict()
    if replays_timed:
        assert report.replays_over_limit == [], report.as_dict()
