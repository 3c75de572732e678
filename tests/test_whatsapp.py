"""A citizen on WhatsApp, end to end (Z1-Z3), with real Rasa, actions and
handoff processes; Meta's Graph API is a local fake that speaks its
documented shapes. Webhook bodies follow Meta's published examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from handoff.db import Database
from handoff.models import Message, utcnow
from tests.support.clients import Operator
from tests.support.fake_graph import FakeGraph, envelope
from tests.support.processes import PYTHON, ROOT, Stack
from tests.support.whatsapp import citizen, incoming, post, text
from textrules import clean_text

pytestmark = pytest.mark.slow

VERIFY_TOKEN = "test-verify-token"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph) -> dict[str, str]:
    return {"WHATSAPP_API_BASE_URL": graph.base_url}


def taken_citizen(stack: Stack, operator: Operator) -> tuple[str, dict]:
    """A new citizen writes; the operator takes the attendance."""
    wa_id = citizen()
    post(stack, text(wa_id, "oi"))
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    operator.call("attendance:take", {"attendance_id": queued["id"]})
    return wa_id, queued


def test_verification_handshake(stack: Stack):
    url = f"{stack.rasa_url}/webhooks/whatsapp/webhook"
    ok = requests.get(
        url,
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = requests.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403


def test_bad_or_missing_signature_is_refused_and_nothing_processed(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id = citizen()
    assert post(stack, text(wa_id, "oi"), secret="wrong-secret").status_code == 401
    assert post(stack, text(wa_id, "oi"), secret=None).status_code == 401
    with pytest.raises(TimeoutError):
        operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id, timeout=2)
    assert graph.texts_to(wa_id) == []


def test_whatsapp_attendance_end_to_end(stack: Stack, graph: FakeGraph, operator: Operator):
    wa_id = citizen()
    first = text(wa_id, "Bom dia, preciso de ajuda com o IPTU", name="Joana Lima")
    assert post(stack, first).status_code == 200

    # Z1 + Z2: the organisation's welcome and, in the same turn, the transfer.
    graph.wait_for_text(wa_id, "Bem-vindo")
    graph.wait_for_text(wa_id, "transferido")
    assert graph.texts_to(wa_id)[0].startswith("Olá! Bem-vindo(a)")
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert queued["channel"] == "whatsapp"
    assert queued["contact_name"] == "Joana Lima"
    assert queued["contact_phone"] == wa_id

    # The same signed body again (Meta re-delivers what it thinks we missed):
    # answered 200, processed once.
    assert post(stack, first).status_code == 200
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    messages = operator.call("attendance:messages", {"attendance_id": queued["id"]})["messages"]
    customer = [m["text"] for m in messages if m["direction"] == "customer"]
    assert customer == ["Bom dia, preciso de ajuda com o IPTU"]
    assert len([t for t in graph.texts_to(wa_id) if "transferido" in t]) == 1

    # The operator's message goes out through the Graph API; statuses come back.
    sent = operator.call(
        "message:send",
        {
            "attendance_id": queued["id"],
            "text": "Olá, Joana! Qual a inscrição?",
            "client_id": uuid.uuid4().hex,
        },
    )
    assert sent["ok"], sent
    outbound = graph.wait_for_text(wa_id, "Olá, Joana!")
    assert outbound["messaging_product"] == "whatsapp" and outbound["type"] == "text"
    operator.wait_for("message:delivery", lambda d: d["delivery"] == "sent")
    status = envelope(
        {
            "statuses": [
                {
                    "id": outbound["id"],
                    "status": "delivered",
                    "timestamp": "1749416400",
                    "recipient_id": wa_id,
                }
            ]
        }
    )
    assert post(stack, status).status_code == 200
    delivered = operator.wait_for("message:delivery", lambda d: d["delivery"] == "delivered")
    assert delivered["id"] == sent["message"]["id"]

    # An interactive reply reaches the operator as its title.
    button = incoming(
        wa_id,
        {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "Sim"}},
        },
    )
    assert post(stack, button).status_code == 200
    operator.wait_for("message:new", lambda m: m["text"] == "Sim")

    # Media the bot cannot read gets a polite answer instead of an error.
    image = incoming(
        wa_id, {"type": "image", "image": {"id": "1", "mime_type": "image/jpeg", "sha256": "x"}}
    )
    assert post(stack, image).status_code == 200
    graph.wait_for_text(wa_id, "escreva sua mensagem em texto")

    # Z3: finishing sends the protocol and the closing message.
    finished = operator.call("attendance:finish", {"attendance_id": queued["id"]})
    protocol = finished["attendance"]["protocol"]
    graph.wait_for_text(wa_id, f"Número do protocolo: {protocol}")
    graph.wait_for_text(wa_id, "pedir para falar com um atendente")

    # Asking again opens a new attendance, without a second welcome.
    assert post(stack, text(wa_id, "quero falar com um atendente")).status_code == 200
    again = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == wa_id and a["id"] != queued["id"]
    )
    assert again["status"] == "queued"
    assert len([t for t in graph.texts_to(wa_id) if "Bem-vindo" in t]) == 1


def test_text_from_meta_is_cleaned_before_rasa_handles_it(stack: Stack, operator: Operator):
    """Message text, profile name and interactive titles, by the shared
    rule (textrules): as Rasa stores them and as the operator sees them."""
    wa_id = citizen()
    said, name, title = "Bom\x00 dia\x07 \ud800IPTU\ufdd0", "Jo\x1bana\udfff", "S\x7fim\x00"
    assert post(stack, text(wa_id, said, name=name)).status_code == 200
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert queued["contact_name"] == clean_text(name) == "Joana\ufffd"
    button = incoming(
        wa_id,
        {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "b", "title": title}},
        },
        name=name,
    )
    assert post(stack, button).status_code == 200
    operator.call("attendance:take", {"attendance_id": queued["id"]})
    texts = operator.customer_texts(queued["id"], clean_text(title))
    assert texts == [clean_text(said), clean_text(title)] == ["Bom dia \ufffdIPTU\ufffd", "Sim"]
    users = [e for e in stack.tracker(wa_id)["events"] if e["event"] == "user"]
    assert [(e["text"], e["metadata"]["name"]) for e in users] == [
        (clean_text(said), clean_text(name)),
        (clean_text(title), clean_text(name)),
    ]


def test_graph_api_errors_are_retried_or_reported(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id, queued = taken_citizen(stack, operator)

    graph.failures_left = 2  # two HTTP 500s, then success
    operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "primeira", "client_id": uuid.uuid4().hex},
    )
    graph.wait_for_text(wa_id, "primeira")

    graph.outside_window.add(wa_id)  # Meta refuses free text: the operator is told
    sent = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "segunda", "client_id": uuid.uuid4().hex},
    )
    failed = operator.wait_for(
        "message:delivery",
        lambda d: d["id"] == sent["message"]["id"] and d["delivery"] != "pending",
    )
    assert failed["delivery"] == "failed"
    graph.outside_window.discard(wa_id)


def test_operator_cannot_write_after_the_24_hour_window(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id, queued = taken_citizen(stack, operator)
    handoff = next(s for s in stack.services if s.name == "handoff")
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Message)
            .where(Message.attendance_id == queued["id"])
            .values(created_at=utcnow() - timedelta(hours=25))
        )
    db.dispose()
    refused = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "olá", "client_id": uuid.uuid4().hex},
    )
    assert refused["ok"] is False
    assert "24 horas" in refused["error"]["message"]
    assert graph.texts_to(wa_id).count("olá") == 0


def test_a_changed_welcome_reaches_the_next_citizen(
    stack: Stack, graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory
):
    """A content editor changes the welcome response; `handoff content reload`
    trains and loads it into the running Rasa, no restart."""
    project = tmp_path_factory.mktemp("content")
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "data", project / "data")
    domain = (project / "domain.yml").read_text()
    new_welcome = "Bem-vindo(a) à Prefeitura de Exemplo! Este é o novo texto."
    (project / "domain.yml").write_text(
        domain.replace(
            "Olá! Bem-vindo(a) ao atendimento da Prefeitura. Estamos aqui para ajudar.",
            new_welcome,
        )
    )
    handoff = next(s for s in stack.services if s.name == "handoff")
    result = subprocess.run(
        [PYTHON, "-m", "handoff", "content", "reload", "--project", str(project)],
        cwd=ROOT,
        env={**os.environ, **handoff.env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wa_id = citizen()
    post(stack, text(wa_id, "bom dia"))
    graph.wait_for_text(wa_id, "novo texto")
    assert graph.texts_to(wa_id)[0] == new_welcome
