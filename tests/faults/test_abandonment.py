"""Abandonment (issue 8): a visitor who goes silent after the operator's
last message and disappears is marked abandoned after
HANDOFF_ABANDON_AFTER_SECONDS (3 s here, 15 min by default); the operator's
slot is freed at once, the attendance leaves their list in real time, the
bot wakes up for the customer with a pt-BR notice carrying the protocol,
and the reports count it as abandoned. Real processes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.support.api import PASSWORD, Client, add_operator
from tests.support.clients import Operator, Visitor
from tests.support.processes import Service, Stack
from tests.test_browser import login

pytestmark = pytest.mark.slow

SILENCE = 3.0


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine, production's: the sweep waits out the silence, and its
    query is a plain comparison of timestamps."""
    return "postgresql"


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    return {"HANDOFF_ABANDON_AFTER_SECONDS": str(SILENCE)}


def handoff(stack: Stack) -> Service:
    return next(s for s in stack.services if s.name == "handoff")


@pytest.fixture
def username(stack: Stack) -> str:
    """An operator who may hold one attendance at a time."""
    return add_operator(handoff(stack), ["atendimento"], max_concurrent=1)


@pytest.fixture
def operator(stack: Stack, username: str) -> Iterator[Operator]:
    client = Operator(stack.handoff_url, username=username, password=PASSWORD)
    yield client
    client.close()


def customer(stack: Stack, operator: Operator, name: str, text: str) -> tuple[Visitor, dict]:
    visitor = Visitor(stack.rasa_url)
    visitor.say(text, metadata={"name": name, "email": "cliente@example.com"})
    assert "transferido" in visitor.next_text()
    queued = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
    )
    return visitor, queued


def test_a_silent_visitor_is_abandoned_and_the_slot_freed(
    stack: Stack, operator: Operator, username: str, browser: Browser
):
    first, call = customer(stack, operator, "Joana Silente", "preciso da segunda via do carnê")
    assert operator.call("attendance:take", {"attendance_id": call["id"]})["ok"]
    console = browser.new_page(viewport={"width": 1366, "height": 768})
    login(console, stack, password=PASSWORD, username=username)
    expect(console.locator("#mine")).to_contain_text("Joana Silente")
    written = time.monotonic()
    answer = operator.call(
        "message:send",
        {"attendance_id": call["id"], "text": "Qual é a inscrição?", "client_id": "ab-1"},
    )
    protocol = answer["protocol"]
    assert first.next_text() == "Qual é a inscrição?"
    operator.wait_for(
        "message:delivery", lambda d: d["id"] == answer["message"]["id"] and d["delivery"] == "sent"
    )
    first.close()  # the visitor disappears without closing the chat

    # At the maximum (1): a second call cannot be taken yet.
    second, other = customer(stack, operator, "Pedro Presente", "bom dia")
    refused = operator.call("attendance:take", {"attendance_id": other["id"]})
    assert not refused["ok"] and "máximo" in refused["error"]["message"]

    # The sweep closes the silent one and tells the operator's console.
    ended = operator.wait_for("attendance:ended", lambda a: a["id"] == call["id"])
    abandoned_after = time.monotonic() - written
    assert ended["status"] == "abandoned" and ended["protocol"] == protocol
    assert SILENCE <= abandoned_after, abandoned_after  # never before the silence (printed)
    active = operator.call("attendances:list", {})["active"]
    assert call["id"] not in [a["id"] for a in active]
    expect(console.locator("#mine")).not_to_contain_text("Joana Silente")
    expect(console.locator("#calls-notice")).to_have_text(
        f"Joana Silente não respondeu e o atendimento foi encerrado (protocolo {protocol})."
    )
    console.close()

    # The slot is free: the second call is taken. Its customer wrote last, so
    # it is not abandoned, however long the operator takes to answer.
    assert operator.call("attendance:take", {"attendance_id": other["id"]})["ok"]
    time.sleep(SILENCE + 1.5)
    assert other["id"] in [a["id"] for a in operator.call("attendances:list", {})["active"]]

    # The customer comes back: the bot is awake, with the notice and protocol.
    notice = f"Número do protocolo: {protocol}"
    deadline = time.monotonic() + 20
    state = stack.tracker(first.session_id)
    while state["paused"] and time.monotonic() < deadline:
        time.sleep(0.3)
        state = stack.tracker(first.session_id)
    assert state["paused"] is False
    back = Visitor(stack.rasa_url, token=first.token)
    history = [m["text"] for m in back.history(stack.handoff_url).json()["messages"]]
    notices = [t for t in history if notice in t]
    assert len(notices) == 1 and "não recebemos sua resposta" in notices[0], history
    back.say("voltei, ainda preciso")
    assert "atendente" in back.next_text()  # the bot answers: not a silent pause
    back.close()
    second.close()

    # Reports: abandoned, not cancelled, and the operator's other call still counts.
    supervisor = Client(handoff(stack), "supervisor", "atendimento123")
    totals = supervisor.get("/api/admin/reports").json()["totals"]
    assert totals["abandoned"] == 1 and totals["cancelled"] == 0
    assert totals["received"] == 2 and totals["answered"] == 2
    print(
        f"\n[abandonment] silence={SILENCE} s, abandoned {abandoned_after:.1f} s after the "
        f"operator's message, second call taken after it, notice delivered={len(notices)}, "
        f"report abandoned={totals['abandoned']}"
    )
