"""WhatsApp: Meta delivers at least once, the effect happens once (review
findings 3 and 5), on SQLite and PostgreSQL. A webhook body re-delivered
byte for byte (also while the first copy is still being handled) is
answered 200 every time and is one message in Rasa's tracker, one in the
handoff service and one reply. Meta's Graph API down at a citizen's first
message: the webhook still answers 200, and once Meta is back the citizen
gets the welcome, the transfer notice and then the operator's message, in
that order, each once (through the handoff service's outbox). Real Rasa,
action server and handoff service; only Meta is the local fake."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.clients import Operator
from tests.support.fake_graph import FakeGraph
from tests.support.processes import Stack, wait_until
from tests.support.whatsapp import citizen, post, text, without_place

pytestmark = pytest.mark.slow

WELCOME = "Olá! Bem-vindo(a) ao atendimento da Prefeitura. Estamos aqui para ajudar."
TRANSFERRED = "Você foi transferido(a) para um de nossos atendentes. Aguarde um momento, por favor."
# A generous bound for what must happen (never a measured duration).
STUCK = 60.0


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph) -> dict[str, str]:
    return {"WHATSAPP_API_BASE_URL": graph.base_url}


def test_an_identical_redelivery_gets_200_and_has_one_effect(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id = citizen()
    body = text(wa_id, "Preciso da segunda via do IPTU", name="Rita Redelivery")
    wamid = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    # Meta re-delivers while the first copy is being handled, then later again.
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: post(stack, body).status_code, range(3)))
    answers += [post(stack, body).status_code for _ in range(2)]
    assert answers == [200] * 5

    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    assert post(stack, text(wa_id, "obrigada")).status_code == 200
    stored = operator.customer_texts(queued["id"], "obrigada")  # the broker is ordered
    assert stored == ["Preciso da segunda via do IPTU", "obrigada"]
    events = stack.tracker(wa_id)["events"]
    assert [e["message_id"] for e in events if e["event"] == "user"].count(wamid) == 1
    assert without_place(graph.texts_to(wa_id)) == [WELCOME, TRANSFERRED]


def test_graph_down_at_first_contact_loses_nothing_and_keeps_the_order(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id = citizen()
    graph.failures_left = 10**6  # every send: HTTP 500, code 131000
    try:
        assert post(stack, text(wa_id, "bom dia", name="Dora Down")).status_code == 200
        queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
        assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
        sent = operator.call(
            "message:send",
            {"attendance_id": queued["id"], "text": "Olá, Dora!", "client_id": "dora-1"},
        )
        assert sent["ok"], sent
        # The outbox keeps trying the welcome; nothing reached the citizen.
        wait_until(lambda: len(graph.attempts_to(wa_id)) >= 3, timeout=STUCK)
        assert graph.texts_to(wa_id) == []
    finally:
        graph.failures_left = 0
    graph.wait_for_text(wa_id, "Olá, Dora!", timeout=STUCK)
    assert without_place(graph.texts_to(wa_id)) == [WELCOME, TRANSFERRED, "Olá, Dora!"]
    delivery = operator.wait_for(
        "message:delivery",
        lambda d: d["id"] == sent["message"]["id"] and d["delivery"] == "sent",
    )
    assert delivery["attendance_id"] == queued["id"]
    print(
        f"\n[graph down] failed tries at Meta={len(graph.attempts_to(wa_id))}, then "
        f"welcome, transfer notice, operator message, once each"
    )
