"""Chaos run: visitors (Rasa's socket.io, like the widget) and operators
(the console's socket.io) exchange messages while the test kills -9 and
restarts the handoff service, then Rasa, then the action server, and takes
the database away for 10 s. Every message is counted: none lost, none
duplicated, order kept per conversation; clients reconnect by themselves
and replay what they missed within 2 s of reconnecting.

Size: CHAOS_MESSAGES (visitor messages plus answers), CHAOS_VISITORS (200),
CHAOS_OPERATORS (20). `make test` runs it alone, after the rest of the
suite (its replays are timed), with 2,000 messages per engine (about a
minute and a half each: Rasa loads and saves a tracker for every message,
so 10,000 would take 6-7 minutes per engine, over the suite's budget);
`make chaos` runs the full 10,000 on both engines. Each run's figures are
printed and written to pytest's temporary folder (chaos-report-<backend>.json).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.support.chaos_run import (
    Report,
    assert_nothing_lost,
    kill_and_restart,
    run,
    service,
)
from tests.support.outages import Outage, stack_with_outages
from tests.support.processes import Stack

MESSAGES = int(os.environ.get("CHAOS_MESSAGES", "2000"))
VISITORS = int(os.environ.get("CHAOS_VISITORS", "200"))
OPERATORS = int(os.environ.get("CHAOS_OPERATORS", "20"))
OUTAGE_SECONDS = 10.0
# Each visitor reads the answer and types the next message in about this
# long (0.5-1.5 times): 200 visitors then write about 25 messages a second
# and the operators as many, what one Rasa process holds on 2 cores
# (bench/README.md); written back to back they would saturate it, and a
# saturated Rasa replays a reconnected widget's history in 2-3 s.
THINK_SECONDS = float(os.environ.get("CHAOS_THINK_SECONDS", "8"))


@pytest.fixture(scope="module")
def chaos_stack(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Outage]]:
    folder = tmp_path_factory.mktemp(f"chaos-{backend}")
    with stack_with_outages(backend, folder) as pair:
        yield pair


# The run's length grows with its size: about 0.1 s per message on 2 shared
# cores, plus the faults (a Rasa restart alone takes 15-25 s).
@pytest.mark.timeout(300 + MESSAGES // 5)
def test_chaos_run_loses_nothing(
    backend: str, chaos_stack: tuple[Stack, Outage], tmp_path_factory: pytest.TempPathFactory
):
    stack, outage = chaos_stack
    plan = [
        ("handoff killed", 0.1, kill_and_restart(service(stack, "handoff"))),
        ("rasa killed", 0.3, kill_and_restart(service(stack, "rasa"))),
        ("actions killed", 0.5, kill_and_restart(service(stack, "actions"))),
        ("database away", 0.7, lambda: outage.for_seconds(OUTAGE_SECONDS)),
    ]
    per_visitor = max(1, MESSAGES // (2 * VISITORS))
    report = run(stack, Report(backend, VISITORS, OPERATORS, per_visitor), plan, THINK_SECONDS)
    text = json.dumps(report.as_dict(), indent=2)
    print(text)
    (tmp_path_factory.getbasetemp() / f"chaos-report-{backend}.json").write_text(text)

    assert [f.name for f in report.faults] == [name for name, _, _ in plan]
    assert_nothing_lost(report)
    # Consoles reconnected after the handoff service's restart, widgets after Rasa's.
    assert report.replays >= OPERATORS + VISITORS, text
