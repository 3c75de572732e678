"""Client ids are scoped to their conversation: visitors (any client with
sequential ids, such as the community rasa-webchat or a script) and
operators may use the same ids, and no acknowledged message is lost."""

from __future__ import annotations

import pytest

from tests.support.api import PASSWORD, add_operator
from tests.support.clients import Operator, Visitor
from tests.support.processes import Stack

IDS = ["1", "2", "3"]


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine: ids are scoped by the unique key (attendance, dedup key),
    which both engines enforce alike."""
    return "sqlite"


def operator_texts(visitor: Visitor, count: int) -> list[str]:
    """The next ``count`` operator messages the visitor receives (the bot's are skipped)."""
    texts: list[str] = []
    while len(texts) < count:
        text = visitor.next_text()
        if text.startswith("op "):
            texts.append(text)
    return texts


def test_visitors_and_operators_may_use_the_same_client_ids(stack: Stack) -> None:
    handoff = next(s for s in stack.services if s.name == "handoff")
    other = add_operator(handoff, ["atendimento"])
    consoles = [Operator(stack.handoff_url), Operator(stack.handoff_url, other, PASSWORD)]
    visitors = [Visitor(stack.rasa_url), Visitor(stack.rasa_url)]
    try:
        attendance_ids = []
        for visitor, console in zip(visitors, consoles, strict=True):
            visitor.say("Olá", metadata={"name": "Caio"}, client_id="0")
            queued = console.wait_for(
                "attendance:queued", lambda a, v=visitor: a["conversation_id"] == v.session_id
            )
            assert console.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
            attendance_ids.append(queued["id"])
        for client_id in IDS:
            for number, visitor in enumerate(visitors):
                ack = visitor.say(f"visitante {number} mensagem {client_id}", client_id=client_id)
                assert ack.get("ok", True), ack
        for number, (console, attendance_id) in enumerate(
            zip(consoles, attendance_ids, strict=True)
        ):
            expected = [f"visitante {number} mensagem {i}" for i in IDS]
            texts = console.customer_texts(attendance_id, expected[-1])
            assert [t for t in texts if t in expected] == expected

        for console, attendance_id in zip(consoles, attendance_ids, strict=True):
            for client_id in IDS:
                ack = console.call(
                    "message:send",
                    {
                        "attendance_id": attendance_id,
                        "text": f"op {client_id}",
                        "client_id": client_id,
                    },
                )
                assert ack["ok"], ack
        for visitor in visitors:
            assert operator_texts(visitor, len(IDS)) == [f"op {i}" for i in IDS]
    finally:
        for client in [*consoles, *visitors]:
            client.close()
