"""CPU a relayed message costs Rasa, as a conversation grows (issue 15, item 4).

One visitor is handed off and taken; then, at each conversation length,
operator messages are appended through ``/webhooks/operator_messages/deliver``
(what the handoff service's outbox calls) and customer messages are sent on
the widget's socket.io while the conversation is paused. Rasa's CPU time
(its process, from /proc) per message is the figure, with the handoff
service's beside it. Real processes on SQLite; a figure, never a limit.

    .venv/bin/python -m bench.relay_cost [--lengths 20 200 800] [--messages 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import requests

from bench.report import machine
from bench.resources import cpu_seconds, process_tree
from tests.support.clients import Operator, Visitor
from tests.support.processes import SERVICE_TOKEN, Stack, start_stack


def rasa_pid(stack: Stack) -> int:
    return next(s for s in stack.services if s.name == "rasa").process.pid


def handoff_pid(stack: Stack) -> int:
    return next(s for s in stack.services if s.name == "handoff").process.pid


def cpu_of(pid: int) -> float:
    return sum(cpu_seconds(p) for p in process_tree(pid))


def deliver(stack: Stack, conversation_id: str, number: int) -> None:
    answer = requests.post(
        f"{stack.rasa_url}/webhooks/operator_messages/deliver",
        json={
            "conversation_id": conversation_id,
            "text": f"resposta {number}",
            "handoff_message_id": 10_000_000 + number,
        },
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=60,
    )
    assert answer.status_code in (200, 202), answer.text


def measure(
    stack: Stack, lengths: list[int], messages: int
) -> list[tuple[int, float, float, float]]:
    """(events before, Rasa CPU ms per operator message, per customer
    message, handoff CPU ms per customer message) at each length."""
    visitor = Visitor(stack.rasa_url)
    operator = Operator(stack.handoff_url)
    assert visitor.say("quero falar com um atendente", metadata={"name": "Bench"})["ok"]
    queued = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
    )
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    conversation, sent, rows = visitor.session_id, 0, []
    for length in lengths:
        while sent < length:  # grow the conversation with operator messages
            deliver(stack, conversation, sent)
            sent += 1
        rasa, handoff = rasa_pid(stack), handoff_pid(stack)
        before = cpu_of(rasa)
        for _ in range(messages):
            deliver(stack, conversation, sent)
            sent += 1
        per_operator = (cpu_of(rasa) - before) * 1000 / messages
        before, before_handoff = cpu_of(rasa), cpu_of(handoff)
        for number in range(messages):
            assert visitor.say(f"mensagem {length}-{number}")["ok"]
        time.sleep(1.0)  # the broker's last posts reach the handoff service
        per_customer = (cpu_of(rasa) - before) * 1000 / messages
        handoff_per_customer = (cpu_of(handoff) - before_handoff) * 1000 / messages
        rows.append((length, per_operator, per_customer, handoff_per_customer))
        sent += messages  # the customer's messages are events too
    visitor.close()
    operator.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[20, 200, 800])
    parser.add_argument("--messages", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        stack = start_stack(
            f"sqlite:///{base / 'handoff.db'}", f"sqlite:///{base / 'rasa.db'}", base
        )
        try:
            rows = measure(stack, args.lengths, args.messages)
        finally:
            stack.stop()
    print("\n".join(machine()))
    print(f"{args.messages} messages per length, SQLite\n")
    print(
        "| events in the conversation | Rasa CPU ms / operator message"
        " | Rasa CPU ms / customer message | handoff CPU ms / customer message |"
    )
    print("|---|---|---|---|")
    for length, operator_ms, customer_ms, handoff_ms in rows:
        print(f"| ~{length} | {operator_ms:.1f} | {customer_ms:.1f} | {handoff_ms:.1f} |")


if __name__ == "__main__":
    main()
