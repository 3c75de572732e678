"""The record of a demand on request (Decreto 11.034/2022 art. 12 §1-2,
issue 21 item 1): who may have it, its deadline, its content in JSON and
PDF, the signed link, and delivery by e-mail to a real SMTP server."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pypdf
import pytest
import requests
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from handoff.db import Database
from handoff.domain import data_subjects
from handoff.models import AuditLog, Message, Operator, OutboxJob, RecordRequest
from handoff.record_files import read_link, signed_link
from tests.support.api import Client, add_operator, add_room, error_of, open_attendance
from tests.support.processes import SERVICE_TOKEN, free_port
from tests.support.smtp import Inbox

STUCK_SECONDS = 30.0


def ask(service: Any, conversation_id: str, text: str, channel: str = "socketio") -> Any:
    """What the bot's action posts for a citizen."""
    return requests.post(
        f"{service.base_url}/api/records/requests",
        json={"conversation_id": conversation_id, "channel": channel, "text": text},
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )


def demand(service: Any, operator: Client, supervisor: Client) -> dict[str, Any]:
    """A finished attendance with a customer message, an operator answer, a
    private note, a registered article, subject and comment."""
    conversation = uuid.uuid4().hex
    call = open_attendance(
        service,
        conversation_id=conversation,
        contact={"name": "Conceição"},
        first_message={"message_id": "m1", "text": "Preciso da certidão de ônus"},
    )
    operator.take(call["id"])
    protocol = operator.send(call["id"], "Olá! Vou verificar a certidão.").json()["protocol"]
    operator.post(
        f"/api/attendances/{call['id']}/notes", {"text": "nota interna secreta", "client_id": "n"}
    )
    article = operator.get("/api/kb/articles").json()["articles"][0]
    operator.post(f"/api/attendances/{call['id']}/registrations", {"article_id": article["id"]})
    subject = operator.get("/api/subjects").json()["subjects"][0]
    finished = operator.post(
        f"/api/attendances/{call['id']}/finish", {"subject": subject, "comment": "Emitida a 2ª via"}
    )
    assert finished.status_code == 200, finished.text
    return {
        "conversation": conversation,
        "protocol": protocol,
        "article": article,
        "subject": subject,
    }


def jobs(service: Any) -> list[OutboxJob]:
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        found = list(
            uow.session.scalars(select(OutboxJob).where(OutboxJob.kind == "record_delivery"))
        )
    db.dispose()
    return found


def wait_for(check: Any) -> Any:
    deadline = time.monotonic() + STUCK_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("stuck")


def test_the_citizens_own_request_is_pending_with_a_five_day_deadline(
    service, operator: Client, supervisor: Client
):
    case = demand(service, operator, supervisor)
    asked = ask(service, case["conversation"], f"quero o registro do protocolo {case['protocol']}")
    assert asked.status_code == 201, asked.text
    made = asked.json()["request"]
    assert (made["status"], made["means"], made["protocol"]) == (
        "pending",
        "channel",
        case["protocol"],
    )
    requested = made["requested_at"]
    due = datetime.fromisoformat(made["due_at"]) - datetime.fromisoformat(requested)
    assert due == timedelta(days=5)
    # Asked again while not sent: the same request, one delivery job.
    again = ask(service, case["conversation"], f"histórico {case['protocol']}").json()["request"]
    assert again["id"] == made["id"]
    assert [json.loads(j.payload) for j in jobs(service)] == [{"request_id": made["id"]}]
    # On the channel, after what else goes to that conversation (here the
    # closing flow, waiting for Rasa, which is away in this tier).
    assert [j.key for j in jobs(service)] == [f"to:{case['conversation']}"]
    listed = supervisor.get("/api/admin/record-requests").json()["open"]
    assert [(r["id"], r["status"], r["late"]) for r in listed] == [(made["id"], "pending", False)]


def test_a_stranger_or_a_wrong_protocol_never_gets_a_record(
    service, operator: Client, supervisor: Client
):
    case = demand(service, operator, supervisor)
    missing = ask(service, case["conversation"], "registro do protocolo 2026999999")
    assert error_of(missing, 404)["message"] == "Não encontrei o protocolo 2026999999."
    assert error_of(ask(service, case["conversation"], "quero meu registro"), 400)["message"] == (
        "Informe o número do protocolo."
    )
    stranger = ask(service, uuid.uuid4().hex, f"protocolo {case['protocol']}", "whatsapp")
    made = stranger.json()["request"]
    assert made["status"] == "verification"
    assert jobs(service) == []  # nothing goes out before a supervisor checks
    assert error_of(operator.post(f"/api/admin/record-requests/{made['id']}/approve"), 403)
    approved = supervisor.post(f"/api/admin/record-requests/{made['id']}/approve")
    assert approved.json() == {"status": "pending"}
    assert len(jobs(service)) == 1
    again = supervisor.post(f"/api/admin/record-requests/{made['id']}/approve")
    assert error_of(again, 409)["message"] == "Este pedido já está pendente."
    refused = supervisor.post(f"/api/admin/record-requests/{made['id']}/refuse")
    assert refused.json() == {"status": "refused"}
    done = supervisor.get("/api/admin/record-requests").json()["done"]
    assert [(r["id"], r["status"]) for r in done] == [(made["id"], "refused")]


def test_supervisors_register_requests_and_see_the_late_ones(
    service, operator: Client, supervisor: Client
):
    case = demand(service, operator, supervisor)
    url = "/api/admin/record-requests"
    no_means = supervisor.post(url, {"protocol": case["protocol"], "means": "pombo"})
    assert error_of(no_means, 400)["field"] == "means"
    bad_email = supervisor.post(
        url, {"protocol": case["protocol"], "means": "email", "email": "não"}
    )
    assert error_of(bad_email, 400)["message"] == "Informe um e-mail válido."
    assert error_of(supervisor.post(url, {"protocol": 5, "means": "email"}), 400)
    made = supervisor.post(
        url, {"protocol": case["protocol"], "means": "email", "email": "Ana@Exemplo.com.br"}
    ).json()["request"]
    assert (made["status"], made["email"]) == ("pending", "ana@exemplo.com.br")
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        past = datetime.now(timezone.utc) - timedelta(hours=1)
        uow.session.execute(
            update(RecordRequest).where(RecordRequest.id == made["id"]).values(due_at=past)
        )
    db.dispose()
    listed = supervisor.get(url).json()["open"]
    assert [(r["id"], r["late"], r["means"]) for r in listed] == [(made["id"], True, "email")]


def test_the_record_holds_every_message_and_registration_and_no_private_note(
    service, operator: Client, supervisor: Client
):
    case = demand(service, operator, supervisor)
    made = ask(service, case["conversation"], f"registro {case['protocol']}").json()["request"]
    link = signed_link(service.settings, made["id"])
    record = requests.get(f"{service.base_url}{link.removesuffix('.pdf')}.json", timeout=10)
    assert record.headers["Cache-Control"] == "no-store"
    data = record.json()
    assert data["protocolo"] == case["protocol"]
    assert data["atendentes"] == ["Operador"]  # first names only
    assert [(m["de"], m["texto"]) for m in data["mensagens"]] == [
        ("Cidadão", "Preciso da certidão de ônus"),
        ("Atendente Operador", "Olá! Vou verificar a certidão."),
    ]
    assert data["mensagens"][0]["em"].endswith("-03:00")  # the organisation's time zone
    assert (data["assunto"], data["comentario_de_encerramento"]) == (
        case["subject"],
        "Emitida a 2ª via",
    )
    assert [a["titulo"] for a in data["artigos_registrados"]] == [case["article"]["title"]]
    assert "secreta" not in record.text and "demonstração" not in record.text

    pdf = requests.get(f"{service.base_url}{link}", timeout=10)
    assert pdf.headers["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for words in (
        f"protocolo {case['protocol']}",
        "Preciso da certidão de ônus",
        "Atendente Operador",
        "Emitida a 2ª via",
        case["article"]["title"],
    ):
        assert words in text, (words, text)
    assert "secreta" not in text

    forged = (
        link.replace(".pdf", "").rsplit(".", 1)[0] + ".0000000000000000000000000000000000000000.pdf"
    )
    assert error_of(requests.get(f"{service.base_url}{forged}", timeout=10), 404)
    expired = signed_link(service.settings, made["id"], now=time.time() - 100 * 86400)
    assert read_link(service.settings, expired.removeprefix("/records/")) is None
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        produced = uow.session.scalars(
            select(AuditLog.details).where(AuditLog.action == "record_produced")
        ).all()
    db.dispose()
    assert len(produced) == 2 and all('"how": "link"' in d for d in produced)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def service_settings(smtp_port: int) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_from": "sac@prefeitura.example",
        "smtp_starttls": False,
    }


def test_a_record_by_email_arrives_with_the_pdf_and_json_and_waits_for_the_server(
    service, operator: Client, supervisor: Client, smtp_port: int
):
    case = demand(service, operator, supervisor)
    # The SMTP server is not up yet: the request stays pending, retried.
    made = ask(
        service, case["conversation"], f"quero o registro {case['protocol']} no cidadao@exemplo.org"
    ).json()["request"]
    assert (made["means"], made["email"]) == ("email", "cidadao@exemplo.org")
    wait_for(
        lambda: [
            r
            for r in supervisor.get("/api/admin/record-requests").json()["open"]
            if r["last_error"]
        ]
    )
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    server.start()
    try:
        delivered = wait_for(lambda: supervisor.get("/api/admin/record-requests").json()["done"])
    finally:
        server.stop()
    assert [(r["id"], r["status"], r["means"]) for r in delivered] == [
        (made["id"], "delivered", "email")
    ]
    assert delivered[0]["delivered_at"] and not delivered[0]["last_error"]
    [message] = inbox.messages
    assert message["To"] == "cidadao@exemplo.org"
    assert case["protocol"] in message["Subject"]
    files = inbox.attachments(message)
    assert set(files) == {f"registro-{case['protocol']}.pdf", f"registro-{case['protocol']}.json"}
    data = json.loads(files[f"registro-{case['protocol']}.json"])
    assert data["mensagens"][1]["texto"] == "Olá! Vou verificar a certidão."
    pdf = pypdf.PdfReader(io.BytesIO(files[f"registro-{case['protocol']}.pdf"]))
    assert "Preciso da certidão de ônus" in pdf.pages[0].extract_text()
    assert jobs(service) == []


def whatsapp_demand(service: Any, operator: Client, wa_id: str) -> tuple[int, str]:
    """A WhatsApp citizen's finished attendance: its id and protocol."""
    call = open_attendance(
        service,
        conversation_id=wa_id,
        channel="whatsapp",
        contact={"phone": wa_id},
        first_message={"message_id": "w1", "text": "oi"},
    )
    operator.take(call["id"])
    protocol = operator.send(call["id"], "Bom dia").json()["protocol"]
    operator.post(f"/api/attendances/{call['id']}/finish")
    return call["id"], protocol


def test_an_erased_person_leaves_no_address_in_their_record_requests(
    service, operator: Client, supervisor: Client
):
    """LGPD art. 18: the citizen's export lists their record requests;
    erasing the citizen removes the e-mail and the number their requests
    were to go to; one not sent yet is refused, never sent."""
    wa_id = "5561998761234"
    _call_id, protocol = whatsapp_demand(service, operator, wa_id)
    made = ask(service, wa_id, f"registro {protocol} para rita@exemplo.org", "whatsapp").json()
    db = service.desk.db
    with db.unit_of_work() as uow:
        boss = uow.session.scalar(select(Operator).where(Operator.username == "supervisor"))
        exported = data_subjects.export_person(uow, boss, "(61) 99876-1234")
        data_subjects.erase_person(uow, boss, "(61) 99876-1234")
    assert [(r["protocol"], r["email"]) for r in exported["record_requests"]] == [
        (protocol, "rita@exemplo.org")
    ]
    with db.unit_of_work() as uow:
        request = uow.session.get(RecordRequest, made["request"]["id"])
        assert (request.status, request.email, request.conversation_id) == ("refused", None, None)


def test_a_whatsapp_citizen_past_the_24_hour_window_gets_it_by_email(
    service, operator: Client, supervisor: Client
):
    """Meta refuses free text 24 hours after the citizen's last message (and
    a bot message's refusal is not reported back): the supervisor is told
    to send it by e-mail rather than have it marked sent and lost."""
    call_id, protocol = whatsapp_demand(service, operator, "5561998765432")
    with service.desk.db.unit_of_work() as uow:
        old = datetime.now(timezone.utc) - timedelta(hours=25)
        uow.session.execute(
            update(Message).where(Message.attendance_id == call_id).values(created_at=old)
        )
    url = "/api/admin/record-requests"
    refused = supervisor.post(url, {"protocol": protocol, "means": "channel"})
    assert "janela de 24 horas" in error_of(refused, 409)["message"]
    by_email = supervisor.post(url, {"protocol": protocol, "means": "email", "email": "a@b.com.br"})
    assert by_email.status_code == 201, by_email.text


def test_an_operator_registers_a_request_for_an_attendance_of_their_rooms(
    service, operator: Client, supervisor: Client
):
    case = demand(service, operator, supervisor)
    call_id = supervisor.get(f"/api/admin/protocols/{case['protocol']}").json()["id"]
    url = f"/api/attendances/{call_id}/record-requests"
    made = operator.post(url, {"means": "channel"})
    assert made.status_code == 201, made.text
    assert (made.json()["request"]["status"], made.json()["request"]["protocol"]) == (
        "pending",
        case["protocol"],
    )
    assert error_of(operator.post(url, {"means": "email", "email": "x"}), 400)["field"] == "email"
    add_room(service, "sul")
    stranger = Client(service, add_operator(service, ["sul"]))
    assert error_of(stranger.post(url, {"means": "channel"}), 404)
    waiting = open_attendance(service)
    no_protocol = operator.post(f"/api/attendances/{waiting['id']}/record-requests", {})
    assert error_of(no_protocol, 400)["message"] == "Este atendimento não tem protocolo."
