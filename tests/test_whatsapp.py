"""A citizen on WhatsApp, end to end (Z1-Z3), with real Rasa, actions and
handoff processes; Meta's Graph API is a local fake that speaks its
documented shapes. Webhook bodies follow Meta's published examples."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pypdf
import pytest
import requests
from sqlalchemy import update

from handoff.db import Database
from handoff.models import Attendance, Message, utcnow
from tests.support.api import PASSWORD, Client, add_operator, organisation_today
from tests.support.clients import Operator
from tests.support.fake_graph import PHONE_NUMBER_ID, SECOND_PHONE_NUMBER_ID, FakeGraph, envelope
from tests.support.processes import PYTHON, ROOT, Stack, wait_until
from tests.support.whatsapp import (
    VERIFY_TOKEN,
    citizen,
    incoming,
    media_settings,
    post,
    text,
)
from textrules import clean_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "WHATSAPP_API_BASE_URL": graph.base_url,
        # Two published numbers (one desk): the first is the default.
        "WHATSAPP_PHONE_NUMBER_ID": f"{PHONE_NUMBER_ID},{SECOND_PHONE_NUMBER_ID}",
        **media_settings(tmp_path_factory),
    }


@pytest.fixture
def operator(stack: Stack) -> Iterator[Operator]:
    """A new operator of the default room for each test: the attendances
    one test leaves open do not use up the next test's limit."""
    handoff = next(s for s in stack.services if s.name == "handoff")
    client = Operator(stack.handoff_url, add_operator(handoff, ["atendimento"]), PASSWORD)
    yield client
    client.close()


def taken_citizen(stack: Stack, operator: Operator) -> tuple[str, dict]:
    """A new citizen writes; the operator takes the attendance."""
    wa_id = citizen()
    post(stack, text(wa_id, "oi"))
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
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

    # A photo reaches the operator (tests/test_whatsapp_media.py: shown);
    # one Meta no longer has is said to be unavailable, for good.
    image = incoming(
        wa_id, {"type": "image", "image": {"id": "1", "mime_type": "image/jpeg", "sha256": "x"}}
    )
    assert post(stack, image).status_code == 200
    photo = operator.wait_for("message:new", lambda m: m["text"] == "Foto")
    assert photo["attachment"]["kind"] == "image"
    gone = operator.wait_for("message:updated", lambda m: m["id"] == photo["id"])
    assert gone["attachment"]["status"] == "failed"

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


def close_window(stack: Stack, graph: FakeGraph, wa_id: str, attendance_id: int) -> None:
    """The citizen's last message 25 hours ago, for the service and for Meta."""
    handoff = next(s for s in stack.services if s.name == "handoff")
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Message)
            .where(Message.attendance_id == attendance_id)
            .values(created_at=utcnow() - timedelta(hours=25))
        )
    db.dispose()
    graph.outside_window.add(wa_id)


def test_after_the_24_hour_window_only_templates_go(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id, queued = taken_citizen(stack, operator)
    close_window(stack, graph, wa_id, queued["id"])
    refused = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "olá", "client_id": uuid.uuid4().hex},
    )
    assert refused["ok"] is False
    assert "24 horas" in refused["error"]["message"]
    assert graph.texts_to(wa_id).count("olá") == 0

    # The composer offers the approved templates, filled in; one goes out.
    offer = operator.get(f"/api/attendances/{queued['id']}/whatsapp-templates").json()
    assert offer["window_open"] is False
    resume = next(t for t in offer["templates"] if t["name"] == "retomar_atendimento")
    assert resume["values"] == ["Sheena Nelson", "{protocolo}"]
    graph.approve("retomar_atendimento", "pt_BR", 2)
    sent = operator.call(
        "message:send",
        {
            "attendance_id": queued["id"],
            "template": "retomar_atendimento",
            "parameters": resume["values"],
            "client_id": uuid.uuid4().hex,
        },
    )
    assert sent["ok"], sent
    found = graph.wait_for_text(wa_id, "template retomar_atendimento", timeout=30)
    assert found["type"] == "template"
    assert found["template"] == {
        "name": "retomar_atendimento",
        "language": {"code": "pt_BR"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Sheena Nelson"},
                    {"type": "text", "text": sent["protocol"]},
                ],
            }
        ],
    }
    delivered = operator.wait_for(
        "message:delivery",
        lambda d: d["id"] == sent["message"]["id"] and d["delivery"] != "pending",
    )
    assert delivered["delivery"] in ("sent", "delivered")

    # A template Meta does not know: failed, and the operator reads why.
    unknown = operator.call(
        "message:send",
        {
            "attendance_id": queued["id"],
            "template": "informacao_atendimento",
            "parameters": ["Sheena", "Seu pedido foi aceito"],
            "client_id": uuid.uuid4().hex,
        },
    )
    failed = operator.wait_for(
        "message:delivery",
        lambda d: d["id"] == unknown["message"]["id"] and d["delivery"] != "pending",
    )
    assert failed["delivery"] == "failed"
    assert "não existe" in failed["delivery_error"]


def test_closing_template_then_a_late_pending_demand_concluded(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id, queued = taken_citizen(stack, operator)
    protocol = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "Vou verificar", "client_id": uuid.uuid4().hex},
    )["protocol"]
    graph.wait_for_text(wa_id, "Vou verificar")
    close_window(stack, graph, wa_id, queued["id"])
    graph.approve("encerramento_protocolo", "pt_BR", 2)
    graph.approve("demanda_concluida", "pt_BR", 3)

    due = (date.today() + timedelta(days=7)).isoformat()
    ended = operator.call(
        "attendance:finish",
        {"attendance_id": queued["id"], "pending_until": due, "pending_reason": "Vistoria"},
    )
    assert ended["ok"], ended
    closing = graph.wait_for_text(wa_id, "template encerramento_protocolo", timeout=30)
    values = [p["text"] for p in closing["template"]["components"][0]["parameters"]]
    assert values == ["Sheena Nelson", protocol]

    handoff = next(s for s in stack.services if s.name == "handoff")
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Attendance)
            .where(Attendance.id == queued["id"])
            .values(pending_until=organisation_today() - timedelta(days=1))
        )
    db.dispose()
    supervisor = Client(handoff, add_operator(handoff, ["atendimento"], role="supervisor"))
    late = [d for d in supervisor.get("/api/demands").json()["demands"] if d["late"]]
    assert protocol in [d["protocol"] for d in late]

    done = supervisor.post(f"/api/demands/{queued['id']}/conclude", {"answer": "Vistoria feita."})
    assert done.status_code == 200, done.text
    notice = graph.wait_for_text(wa_id, "template demanda_concluida", timeout=30)
    values = [p["text"] for p in notice["template"]["components"][0]["parameters"]]
    assert values == ["Sheena Nelson", protocol, "Vistoria feita."]
    assert protocol not in [d["protocol"] for d in supervisor.get("/api/demands").json()["demands"]]


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


def test_a_mobile_with_and_without_its_ninth_digit_is_one_contact(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    """Meta sends an older Brazilian account as 12 digits (55 DD XXXX-XXXX);
    the same citizen's 13-digit form is one conversation, one attendance,
    linked to the customer registered with either; replies go to the id
    Meta sent."""
    eight = f"{uuid.uuid4().int % 10**7:07d}"
    old_id, new_id = f"55618{eight}", f"556198{eight}"
    registered = requests.post(
        f"{stack.handoff_url}/api/customers",
        json={"name": "Rita Souza", "phone": f"(61) 98{eight[:3]}-{eight[3:]}"},
        headers={"Authorization": f"Bearer {operator.token}"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    assert post(stack, text(old_id, "bom dia, é a Rita")).status_code == 200
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == new_id)
    assert queued["contact_phone"] == new_id
    assert queued["customer_id"] == registered.json()["customer"]["id"]
    graph.wait_for_text(old_id, "transferido")
    assert graph.texts_to(new_id) == []

    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    assert post(stack, text(new_id, "agora pelo número novo")).status_code == 200
    texts = operator.customer_texts(queued["id"], "agora pelo número novo")
    assert texts == ["bom dia, é a Rita", "agora pelo número novo"]
    sent = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "Olá, Rita!", "client_id": uuid.uuid4().hex},
    )
    assert sent["ok"], sent
    graph.wait_for_text(new_id, "Olá, Rita!")  # to the form she last wrote from
    with pytest.raises(TimeoutError):
        operator.wait_for(
            "attendance:queued",
            lambda a: a["conversation_id"] in (old_id, new_id) and a["id"] != queued["id"],
            timeout=2,
        )


def test_a_username_only_citizen_is_served(stack: Stack, graph: FakeGraph, operator: Operator):
    """A citizen who adopted a WhatsApp username comes without a phone
    (no ``wa_id``, no ``from``): only the business-scoped user id and the
    username. Served all the same; replies go to ``recipient``."""
    bsuid = f"BR.{uuid.uuid4().int % 10**16:016d}"
    body = envelope(
        {
            "contacts": [{"profile": {"name": "Lia", "username": "lia.santos"}, "user_id": bsuid}],
            "messages": [
                {
                    "from_user_id": bsuid,
                    "id": f"wamid.{uuid.uuid4().hex}",
                    "timestamp": "1749416383",
                    "type": "text",
                    "text": {"body": "preciso da segunda via do IPTU"},
                }
            ],
        }
    )
    assert post(stack, body).status_code == 200
    welcome = graph.wait_for_text(bsuid, "Bem-vindo")
    assert welcome["recipient"] == bsuid and "to" not in welcome
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == bsuid)
    assert (queued["contact_name"], queued["contact_username"]) == ("Lia", "lia.santos")
    assert queued["contact_phone"] is None
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    sent = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "Olá, Lia!", "client_id": uuid.uuid4().hex},
    )
    assert sent["ok"], sent
    assert graph.wait_for_text(bsuid, "Olá, Lia!")["recipient"] == bsuid
    operator.wait_for(
        "message:delivery", lambda d: d["id"] == sent["message"]["id"] and d["delivery"] == "sent"
    )


def test_meta_pair_rate_limit_paces_an_operator_message_instead_of_failing_it(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    """Error 131056 (too many messages to one user) for longer than one
    send's budget: the message is held ("enviando…") and sent when Meta
    takes it again, never "falhou"; Meta is not hammered meanwhile."""
    wa_id, queued = taken_citizen(stack, operator)
    graph.wait_for_text(wa_id, "transferido")
    graph.pair_limited_until[wa_id] = time.monotonic() + 15
    sent = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "um momento", "client_id": uuid.uuid4().hex},
    )
    assert sent["ok"], sent
    graph.wait_for_text(wa_id, "um momento", timeout=60)
    delivered = operator.wait_for(
        "message:delivery", lambda d: d["id"] == sent["message"]["id"] and d["delivery"] == "sent"
    )
    assert delivered["delivery"] == "sent"
    states = [
        d["delivery"] for d in operator.seen("message:delivery") if d["id"] == sent["message"]["id"]
    ]
    assert "failed" not in states
    refused = [status for _at, status in graph.attempts_to(wa_id) if status == 400]
    assert 1 <= len(refused) <= 5  # one try per pause, not a retry storm


def test_each_published_number_answers_its_own_citizens(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    """A citizen who writes to the second published number hears the bot
    and the operator from that number, also after Rasa restarted (the
    number is read back from the conversation); a number the deployment
    does not serve is refused: nothing stored, nothing sent from another."""
    wa_id = citizen()
    assert post(stack, text(wa_id, "bom dia", to_number=SECOND_PHONE_NUMBER_ID)).ok
    welcome = graph.wait_for_text(wa_id, "Bem-vindo")
    assert welcome["from_number"] == SECOND_PHONE_NUMBER_ID
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    rasa = next(s for s in stack.services if s.name == "rasa")
    rasa.stop()
    rasa.start()
    sent = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "Olá pelo outro número", "client_id": "n-2"},
    )
    assert sent["ok"], sent
    reply = graph.wait_for_text(wa_id, "Olá pelo outro número", timeout=60)
    assert reply["from_number"] == SECOND_PHONE_NUMBER_ID
    assert {m["from_number"] for m in graph.messages_to(wa_id)} == {SECOND_PHONE_NUMBER_ID}

    stranger = citizen()
    assert post(stack, text(stranger, "oi", to_number="999999999999999")).status_code == 200
    time.sleep(2)  # a wrong answer would come within this; none may come at all
    assert graph.messages_to(stranger) == []
    user_events = [e for e in stack.tracker(stranger)["events"] if e["event"] == "user"]
    assert user_events == []


def test_the_operator_typing_marks_the_citizens_message_read_with_the_indicator(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    """Once an operator takes the call the citizen's messages show read
    (blue ticks); while the operator writes their phone shows
    "digitando…" (Meta's typing indicator); both from the number the
    citizen wrote to."""
    wa_id = citizen()
    said = text(wa_id, "oi, preciso de ajuda", to_number=SECOND_PHONE_NUMBER_ID)
    wamid = said["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert post(stack, said).ok
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    wait_until(
        lambda: (SECOND_PHONE_NUMBER_ID, wamid, False) in graph.read_marks,
        what="the citizen's message marked read when the operator took the call",
    )
    assert operator.call("typing", {"attendance_id": queued["id"]})["ok"]
    wait_until(
        lambda: (SECOND_PHONE_NUMBER_ID, wamid, True) in graph.read_marks,
        what="the citizen's message marked read with the typing indicator",
    )


def test_a_citizen_asks_for_the_record_of_their_demand_and_gets_its_link(
    stack: Stack, graph: FakeGraph
):
    """Decreto 11.034/2022 art. 12: the record, asked for by protocol on
    WhatsApp, comes back on WhatsApp as a link to its PDF and JSON; another
    number asking for it gets nothing before a supervisor checks."""
    handoff = next(s for s in stack.services if s.name == "handoff")
    helena = Operator(
        stack.handoff_url,
        add_operator(handoff, ["atendimento"], name="Helena Duarte Souza"),
        PASSWORD,
    )
    wa_id, queued = taken_citizen(stack, helena)
    sent = helena.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "Sua certidão está pronta.", "client_id": "c1"},
    )
    assert sent["ok"], sent
    finished = helena.call("attendance:finish", {"attendance_id": queued["id"]})
    protocol = finished["attendance"]["protocol"]
    graph.wait_for_text(wa_id, f"Número do protocolo: {protocol}")
    helena.close()

    assert post(stack, text(wa_id, f"quero o registro do protocolo {protocol}")).status_code == 200
    graph.wait_for_text(
        wa_id, f"Recebemos seu pedido do registro do atendimento de protocolo {protocol}"
    )
    link = graph.wait_for_text(wa_id, "/records/", timeout=30)["text"]["body"]
    pdf_url = re.search(r"http\S+\.pdf", link).group(0)
    json_url = re.search(r"http\S+\.json", link).group(0)
    pdf = requests.get(pdf_url, timeout=30)
    assert pdf.headers["Content-Type"] == "application/pdf"
    words = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (
        f"protocolo {protocol}",
        "Cidadão",
        "oi",
        "Atendente Helena",
        "Sua certidão está pronta.",
    ):
        assert expected in words, (expected, words)
    assert "Duarte" not in words
    record = requests.get(json_url, timeout=30).json()
    assert [
        (m["de"], m["texto"]) for m in record["mensagens"] if m["de"] != "Assistente virtual"
    ] == [
        ("Cidadão", "oi"),
        ("Atendente Helena", "Sua certidão está pronta."),
    ]

    stranger = citizen()
    assert post(stack, text(stranger, f"histórico do protocolo {protocol}")).status_code == 200
    graph.wait_for_text(stranger, "vamos confirmar que ele é seu")
    assert post(stack, text(stranger, "registro do protocolo 2026999999")).status_code == 200
    graph.wait_for_text(stranger, "Não encontrei o protocolo 2026999999.")
    assert not [t for t in graph.texts_to(stranger) if "/records/" in t]
