"""Graceful shutdown: stopping any process with SIGTERM while messages flow
loses no acknowledged message. Visitor messages Rasa acknowledged are in its
tracker and reach the operator; operator messages the handoff service
acknowledged reach the visitor once the process is back.

Each test stops one process (handoff service, Rasa, action server) in the
middle of a run of visitors and operators, starts it again and counts every
message as the chaos run does (tests/support/chaos_run.py).
"""

from __future__ import annotations

import json

import pytest

from tests.support.chaos_run import Report, assert_nothing_lost, run, service, stop_and_restart
from tests.support.processes import Stack

VISITORS = 12
OPERATORS = 3
MESSAGES_PER_VISITOR = 12


@pytest.mark.parametrize("process", ["handoff", "rasa", "actions"])
def test_sigterm_loses_no_acknowledged_message(backend: str, stack: Stack, process: str):
    plan = [(f"{process} stopped (SIGTERM)", 0.4, stop_and_restart(service(stack, process)))]
    report = run(stack, Report(backend, VISITORS, OPERATORS, MESSAGES_PER_VISITOR), plan)
    print(json.dumps(report.as_dict(), indent=2))
    assert len(report.faults) == 1
    assert_nothing_lost(report)
