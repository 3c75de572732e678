"""Chaos run: visitors (Rasa's socket.io, like the widget) and operators
(the console's socket.io) exchange messages while the test kills -9 and
restarts the handoff service, then Rasa, then the action server, and takes
the database away for 10 s; then the operators finish every attendance.
Every message is counted: none lost, none duplicated, order kept per
conversation, one closing message (with the protocol) per attendance, and
nothing stuck (a client that does not get what it waits for, a replay
that never ends). Clients reconnect by themselves and replay what they
missed; how long that takes is a figure of the report, never a limit.

A second variant runs two handoff processes on one PostgreSQL and one
Redis behind a load balancer (tests/support/outages.py), kills each of
them during the messages and one again while the closing flows wait for
a killed Rasa.

Size: CHAOS_MESSAGES (visitor messages plus answers), CHAOS_VISITORS (200),
CHAOS_OPERATORS (20). `make test` runs it alone, after the rest of the
suite (its processes need the two cores), with 2,000 messages per run
(about a minute and a half each: Rasa loads and saves a tracker for every
message, so 10,000 would take 5-7 minutes per run, over the suite's
budget); `make chaos` runs the full 10,000. Each run's figures are printed
and written to results/chaos-<run>.json (git-ignored).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff import outbox
from tests.support.chaos_run import (
    Ending,
    FaultPlan,
    Report,
    assert_nothing_lost,
    kill_and_restart,
    killed,
    restarted,
    run,
    service,
)
from tests.support.outages import Outage, stack_with_outages, two_handoff_processes
from tests.support.processes import ROOT, Stack

MESSAGES = int(os.environ.get("CHAOS_MESSAGES", "2000"))
VISITORS = int(os.environ.get("CHAOS_VISITORS", "200"))
OPERATORS = int(os.environ.get("CHAOS_OPERATORS", "20"))
PER_VISITOR = max(1, MESSAGES // (2 * VISITORS))
OUTAGE_SECONDS = 10.0
# Each visitor reads the answer and types the next message in about this
# long (0.5-1.5 times): 200 visitors then write about 25 messages a second
# and the operators as many, what one Rasa process holds on 2 cores
# (bench/README.md); written back to back they would saturate it.
THINK_SECONDS = float(os.environ.get("CHAOS_THINK_SECONDS", "8"))
# After every visitor got its closing, a repeat still on its way (a closing
# job tried again after Rasa was away or timed out) shows within this.
SETTLE_SECONDS = outbox.UNAVAILABLE_MAX_SECONDS + 5
# The run's length grows with its size: about 0.1 s per message on 2 shared
# cores, plus the faults (a Rasa restart alone takes 15-25 s). A hang bound.
TIMEOUT = 360 + MESSAGES // 5
RESULTS = ROOT / "results"


@pytest.fixture
def chaos_stack(backend: str, tmp_path: Path) -> Iterator[tuple[Stack, Outage]]:
    with stack_with_outages(backend, tmp_path) as pair:
        yield pair


@pytest.fixture
def two_process_stack(tmp_path: Path) -> Iterator[tuple[Stack, Outage]]:
    with two_handoff_processes(tmp_path) as pair:
        yield pair


def _run_and_check(
    stack: Stack,
    report: Report,
    plan: FaultPlan,
    ending: Ending,
    name: str,
) -> None:
    run(stack, report, plan, THINK_SECONDS, ending)
    text = json.dumps(report.as_dict(), indent=2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"chaos-{name}.json").write_text(text)
    print(text, f"\n(written to results/chaos-{name}.json)")
    steps = [*plan, *ending.before, *ending.after]
    assert [f.name for f in report.faults] == [step[0] for step in steps]
    assert_nothing_lost(report)
    assert report.closings_in_tracker == report.closings_shown == VISITORS, text
    # Every console reconnected after a handoff process's restart, every widget after Rasa's.
    assert report.replays >= OPERATORS + VISITORS, text


@pytest.mark.timeout(TIMEOUT)
def test_chaos_run_loses_nothing(backend: str, chaos_stack: tuple[Stack, Outage]):
    stack, outage = chaos_stack
    plan = [
        ("handoff killed", 0.1, kill_and_restart(service(stack, "handoff"))),
        ("rasa killed", 0.3, kill_and_restart(service(stack, "rasa"))),
        ("actions killed", 0.5, kill_and_restart(service(stack, "actions"))),
        ("database away", 0.7, lambda: outage.for_seconds(OUTAGE_SECONDS)),
    ]
    _run_and_check(
        stack,
        Report(backend, VISITORS, OPERATORS, PER_VISITOR),
        plan,
        Ending(),
        backend,
    )


@pytest.mark.timeout(TIMEOUT + 60)
def test_chaos_run_with_two_handoff_processes(two_process_stack: tuple[Stack, Outage]):
    """Both processes serve consoles, widgets' histories, Rasa's event broker
    and the action server (the load balancer sends each new connection to
    the next one that answers). Each is killed once while messages flow.
    Then Rasa is killed, the operators finish their calls (the closing
    flows wait for Rasa), both processes are restarted in turn (a rolling
    deploy, kill -9) and Rasa comes back: each customer must get one closing."""
    stack, outage = two_process_stack
    first, second, rasa = (service(stack, n) for n in ("handoff", "handoff-b", "rasa"))
    plan = [
        ("handoff A killed", 0.1, kill_and_restart(first)),
        ("actions killed", 0.3, kill_and_restart(service(stack, "actions"))),
        ("database away", 0.5, lambda: outage.for_seconds(OUTAGE_SECONDS)),
        ("handoff B killed", 0.7, kill_and_restart(second)),
    ]
    ending = Ending(
        before=[("rasa killed", killed(rasa))],
        after=[
            ("handoff A killed", kill_and_restart(first)),
            ("handoff B killed", kill_and_restart(second)),
            ("rasa restarted", restarted(rasa)),
        ],
        settle_seconds=SETTLE_SECONDS,
    )
    _run_and_check(
        stack,
        Report("postgresql", VISITORS, OPERATORS, PER_VISITOR, handoff_processes=2),
        plan,
        ending,
        "two-handoff-processes",
    )
