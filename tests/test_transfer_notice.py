"""The customer is told of a transfer (issue 19, capability 1), on the
widget and on WhatsApp, with real Rasa, actions and handoff processes
(Meta's Graph API is the local fake): the notice comes after the
operator's messages before it, and the note for the next operator never
reaches the customer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from handoff.domain.handovers import CUSTOMER_NOTICE
from tests.support.api import PASSWORD, add_operator
from tests.support.clients import Operator, Visitor
from tests.support.fake_graph import FakeGraph
from tests.support.processes import Stack
from tests.test_whatsapp import citizen, post, text

pytestmark = pytest.mark.slow
NOTE = "Nota interna: segunda via do IPTU"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph) -> dict[str, str]:
    return {"WHATSAPP_API_BASE_URL": graph.base_url}


@pytest.fixture
def colleague(stack: Stack) -> Iterator[Operator]:
    username = add_operator(stack.services[0], ["atendimento"], name="Bruno")
    client = Operator(stack.handoff_url, username, PASSWORD)
    yield client
    client.close()


def send(operator: Operator, attendance_id: int, text: str) -> None:
    answer = operator.call(
        "message:send",
        {"attendance_id": attendance_id, "text": text, "client_id": uuid.uuid4().hex},
    )
    assert answer["ok"], answer


def transfer(operator: Operator, attendance_id: int, colleague: Operator) -> None:
    bruno = colleague.get("/api/me").json()["id"]
    answer = operator.call(
        "attendance:transfer", {"attendance_id": attendance_id, "operator_id": bruno, "note": NOTE}
    )
    assert answer["ok"], answer
    assert colleague.wait_for("attendance:assigned", lambda a: a["id"] == attendance_id)


def test_the_visitor_is_told_on_the_widget(stack: Stack, operator: Operator, colleague: Operator):
    visitor = Visitor(stack.rasa_url)
    try:
        visitor.say("Olá, preciso de ajuda")
        assert "transferido" in visitor.next_text()
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
        )
        assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
        send(operator, queued["id"], "Um momento, vou passar para o setor certo.")
        transfer(operator, queued["id"], colleague)
        assert visitor.next_text() == "Um momento, vou passar para o setor certo."
        assert visitor.next_text() == CUSTOMER_NOTICE
        send(colleague, queued["id"], "Olá, sou o Bruno.")
        assert visitor.next_text() == "Olá, sou o Bruno."
        texts = [m.get("text") for m in visitor.received]
        assert NOTE not in texts
        # The widget's history (after a reload) has it once, the note never.
        history = [m["text"] for m in visitor.history(stack.handoff_url).json()["messages"]]
        assert history.count(CUSTOMER_NOTICE) == 1 and NOTE not in history
    finally:
        visitor.close()


def test_the_citizen_is_told_on_whatsapp(
    stack: Stack, graph: FakeGraph, operator: Operator, colleague: Operator
):
    wa_id = citizen()
    assert post(stack, text(wa_id, "Bom dia, preciso de ajuda")).status_code == 200
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    transfer(operator, queued["id"], colleague)
    notice = graph.wait_for_text(wa_id, "Você foi transferido(a) para outro", timeout=30)
    assert notice["text"]["body"] == CUSTOMER_NOTICE
    assert not any(NOTE in t for t in graph.texts_to(wa_id))
