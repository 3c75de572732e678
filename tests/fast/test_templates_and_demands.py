"""WhatsApp templates outside the 24-hour window (issue 18 item 3) and
pending demands with due dates (issue 21 item 2, Decreto 11.034 art. 13)."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from handoff.domain import whatsapp_templates
from handoff.domain.demands import pending
from handoff.domain.errors import Invalid
from handoff.domain.retention import expired
from handoff.models import Attendance, Message, OutboxJob, utcnow
from handoff.settings import PROJECT_ROOT
from tests.support.api import Client, add_operator, error_of, open_attendance, organisation_today
from tests.support.processes import SERVICE_TOKEN

TEMPLATES = PROJECT_ROOT / "data" / "whatsapp_templates"


@pytest.fixture
def service_settings(tmp_path: Path) -> dict:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    return {"templates_dir": folder}


def whatsapp_call(service, operator: Client, name: str = "Joana Souza") -> dict:
    phone = "5561998765" + uuid.uuid4().hex[:3].translate(str.maketrans("abcdef", "123456"))
    call = open_attendance(
        service,
        channel="whatsapp",
        conversation_id=phone,
        contact={"name": name, "phone": phone},
        first_message={"message_id": f"wamid.{uuid.uuid4().hex}", "text": "Oi"},
    )
    assert operator.take(call["id"]).status_code == 200
    return call


def close_window(service, conversation_id: str) -> None:
    """The citizen's last message 25 hours ago."""
    with service.desk.db.unit_of_work() as uow:
        ids = select(Attendance.id).where(Attendance.conversation_id == conversation_id)
        uow.session.execute(
            update(Message)
            .where(Message.attendance_id.in_(ids))
            .values(created_at=utcnow() - timedelta(hours=25))
        )


def jobs(service, kind: str) -> list[dict]:
    with service.desk.db.unit_of_work() as uow:
        found = uow.session.scalars(select(OutboxJob).where(OutboxJob.kind == kind))
        return [json.loads(j.payload) for j in found]


# --- the template files


def test_the_shipped_templates_parse():
    parsed = {t.name: t for t in whatsapp_templates.parse_folder(TEMPLATES)}
    closing = parsed["encerramento_protocolo"]
    assert (closing.purpose, closing.language, closing.parameters) == (
        "closing",
        "pt_BR",
        ("cliente", "protocolo"),
    )
    assert parsed["demanda_concluida"].parameters == ("cliente", "protocolo", "texto")


@pytest.mark.parametrize(
    ("header", "body", "error"),
    [
        ("language: pt_BR\nparameters: cliente", "Olá {{1}} e {{2}}", "x.md:3:"),
        ("language: portuguese\nparameters: cliente", "Olá {{1}}", "x.md:2: idioma"),
        ("language: pt_BR\npurpose: marketing\nparameters: cliente", "Olá {{1}}", "x.md:3:"),
        ("language: pt_BR\nparameters: cliente, cpf", "Olá {{1}} {{2}}", "x.md:3: parâmetro 'cpf'"),
        ("language: pt_BR", "Olá", "o cabeçalho não tem 'parameters'"),
    ],
)
def test_a_broken_template_file_is_named_with_its_line(tmp_path: Path, header, body, error):
    (tmp_path / "x.md").write_text(f"---\n{header}\n---\n{body}\n", encoding="utf-8")
    with pytest.raises(Invalid) as raised:
        whatsapp_templates.parse_folder(tmp_path)
    assert error in raised.value.message


def test_template_names_follow_meta_and_special_purposes_are_unique(tmp_path: Path):
    (tmp_path / "Fechamento.md").write_text(
        "---\nlanguage: pt_BR\nparameters: protocolo\n---\nProtocolo {{1}}\n", encoding="utf-8"
    )
    with pytest.raises(Invalid, match=r"Fechamento\.md:1: o nome"):
        whatsapp_templates.parse_folder(tmp_path)
    (tmp_path / "Fechamento.md").unlink()
    for name in ("a", "b"):
        (tmp_path / f"{name}.md").write_text(
            "---\nlanguage: pt_BR\npurpose: closing\nparameters: protocolo\n---\nP {{1}}\n",
            encoding="utf-8",
        )
    with pytest.raises(Invalid, match="mais de um modelo com 'purpose: closing': a, b"):
        whatsapp_templates.parse_folder(tmp_path)


def test_filling_a_template_cleans_its_parameters():
    template = whatsapp_templates.parse_template(TEMPLATES / "informacao_atendimento.md")
    text, sent = whatsapp_templates.fill(template, ["Ana", "Seu\nprocesso   foi\tdeferido"])
    assert (
        text == "Olá, Ana! Temos uma informação sobre o seu atendimento: Seu processo foi deferido"
    )
    assert sent == {
        "name": "informacao_atendimento",
        "language": "pt_BR",
        "parameters": ["Ana", "Seu processo foi deferido"],
    }
    with pytest.raises(Invalid, match="2 parâmetro"):
        whatsapp_templates.fill(template, ["Ana"])
    with pytest.raises(Invalid, match="Preencha"):
        whatsapp_templates.fill(template, ["Ana", "  "])


# --- the window and the composer


def test_outside_the_window_only_templates_go_prefilled(service, operator: Client, console):
    call = whatsapp_call(service, operator)
    offer = operator.get(f"/api/attendances/{call['id']}/whatsapp-templates").json()
    assert offer["whatsapp"] and offer["window_open"]
    assert operator.send(call["id"], "Bom dia").status_code == 201

    close_window(service, call["conversation_id"])
    refused = operator.send(call["id"], "Ainda está aí?")
    assert "janela de 24 horas" in error_of(refused, 409)["message"]
    offer = operator.get(f"/api/attendances/{call['id']}/whatsapp-templates").json()
    assert offer["window_open"] is False
    offered = {t["name"]: t for t in offer["templates"]}
    assert set(offered) == {"retomar_atendimento", "informacao_atendimento"}  # closing ones not
    protocol = operator.get("/api/attendances").json()
    resume = offered["retomar_atendimento"]
    assert resume["values"][0] == "Joana Souza" and resume["values"][1].startswith("20")
    assert protocol  # the attendance has its protocol since the first message

    desk = console(operator)
    unknown = desk.call(
        "message:send",
        {"attendance_id": call["id"], "template": "x", "parameters": [], "client_id": "c1"},
    )
    assert unknown["ok"] is False and "desconhecido" in unknown["error"]["message"]
    short = desk.call(
        "message:send",
        {
            "attendance_id": call["id"],
            "template": "retomar_atendimento",
            "parameters": ["Joana"],
            "client_id": "c2",
        },
    )
    assert short["ok"] is False and "2 parâmetro" in short["error"]["message"]
    sent = desk.call(
        "message:send",
        {
            "attendance_id": call["id"],
            "template": "retomar_atendimento",
            "parameters": resume["values"],
            "client_id": "c3",
        },
    )
    assert sent["ok"], sent
    assert sent["message"]["template"] == "retomar_atendimento"
    assert sent["message"]["text"].startswith("Olá, Joana Souza! Aqui é o atendimento")
    job = [j for j in jobs(service, "operator_message") if j["message_id"] == sent["message"]["id"]]
    assert job[0]["template"] == {
        "name": "retomar_atendimento",
        "language": "pt_BR",
        "parameters": resume["values"],
    }


def test_templates_only_on_whatsapp(service, operator: Client):
    call = open_attendance(service, contact={"name": "Caio"})
    operator.take(call["id"])
    offer = operator.get(f"/api/attendances/{call['id']}/whatsapp-templates").json()
    assert offer == {"whatsapp": False, "window_open": True, "templates": []}
    refused = operator.post(
        f"/api/attendances/{call['id']}/messages",
        {"template": "retomar_atendimento", "parameters": ["a", "b"], "client_id": "x"},
    )
    assert "só no WhatsApp" in error_of(refused, 400)["message"]


def test_finalizar_outside_the_window_sends_the_closing_template(service, operator: Client):
    call = whatsapp_call(service, operator)
    protocol = operator.send(call["id"], "Bom dia").json()["protocol"]
    close_window(service, call["conversation_id"])
    assert operator.post(f"/api/attendances/{call['id']}/finish", {}).status_code == 200
    closing = [j for j in jobs(service, "operator_message") if "template" in j]
    assert [j["template"] for j in closing] == [
        {
            "name": "encerramento_protocolo",
            "language": "pt_BR",
            "parameters": ["Joana Souza", protocol],
        }
    ]
    assert jobs(service, "closing")  # Rasa's closing flow still ends the pause


def test_finalizar_inside_the_window_sends_no_template(service, operator: Client):
    call = whatsapp_call(service, operator)
    operator.send(call["id"], "Bom dia")
    operator.post(f"/api/attendances/{call['id']}/finish", {})
    assert not [j for j in jobs(service, "operator_message") if "template" in j]


def test_refusal_codes_read_in_portuguese():
    assert "pausado" in whatsapp_templates.refusal_text("132015")
    assert "não existe" in whatsapp_templates.refusal_text("132001")
    assert "parâmetros" in whatsapp_templates.refusal_text("132000")
    assert "24 horas" in whatsapp_templates.refusal_text("131047")
    assert "código 999" in whatsapp_templates.refusal_text("999")


# --- pending demands


def test_pending_due_date_is_checked():
    today = date(2026, 12, 1)
    assert pending("2026-12-08", " falta o parecer ", today).reason == "falta o parecer"
    assert pending("2026-12-01", "x", today).until == today
    for until, field in ((None, "pending_until"), ("08/12/2026", "pending_until"),
                         ("2026-11-30", "pending_until")):  # fmt: skip
        with pytest.raises(Invalid) as raised:
            pending(until, "x", today)
        assert raised.value.field == field
    with pytest.raises(Invalid) as raised:
        pending("2026-12-08", "  ", today)
    assert raised.value.field == "pending_reason"


def test_pendente_then_late_then_concluded(service, operator: Client, supervisor: Client, console):
    call = open_attendance(service, contact={"name": "Caio"})
    operator.take(call["id"])
    protocol = operator.send(call["id"], "Bom dia").json()["protocol"]
    url = f"/api/attendances/{call['id']}/finish"
    past = operator.post(url, {"pending_until": "2020-01-01", "pending_reason": "parecer"})
    assert "passado" in error_of(past, 400)["message"]
    due = (date.today() + timedelta(days=7)).isoformat()
    ended = console(operator).call(
        "attendance:finish",
        {"attendance_id": call["id"], "pending_until": due, "pending_reason": "Falta o parecer"},
    )
    assert ended["ok"], ended
    assert ended["attendance"]["status"] == "finished"
    assert ended["attendance"]["pending_until"] == due
    notices = [j["text"] for j in jobs(service, "operator_message")]
    assert any("pendente e será respondida até" in t and protocol in t for t in notices)

    listed = supervisor.get("/api/demands").json()["demands"]
    assert [(d["protocol"], d["late"]) for d in listed] == [(protocol, False)]
    with service.desk.db.unit_of_work() as uow:
        uow.session.execute(
            update(Attendance)
            .where(Attendance.id == call["id"])
            .values(pending_until=organisation_today() - timedelta(days=1))
        )
    listed = supervisor.get("/api/demands").json()["demands"]
    assert [(d["protocol"], d["late"], d["pending_reason"]) for d in listed] == [
        (protocol, True, "Falta o parecer")
    ]

    conclude = f"/api/demands/{call['id']}/conclude"
    assert "resposta" in error_of(supervisor.post(conclude, {"answer": " "}), 400)["message"]
    done = supervisor.post(conclude, {"answer": "Parecer favorável."})
    assert done.status_code == 200, done.text
    assert done.json()["attendance"]["conclusion"] == "Parecer favorável."
    assert (
        "já foi concluída" in error_of(supervisor.post(conclude, {"answer": "x"}), 409)["message"]
    )
    assert supervisor.get("/api/demands").json()["demands"] == []
    notices = [j["text"] for j in jobs(service, "operator_message")]
    assert f"Sua demanda do protocolo {protocol} foi concluída: Parecer favorável." in notices

    record = supervisor.get(f"/api/admin/protocols/{protocol}").json()
    assert record["pending_until"] == (organisation_today() - timedelta(days=1)).isoformat()
    assert record["conclusion"] == "Parecer favorável." and record["concluded_at"]
    assert record["concluded_by"]


def test_a_normal_finish_is_no_demand(service, operator: Client, supervisor: Client):
    call = open_attendance(service, contact={"name": "Caio"})
    operator.take(call["id"])
    operator.send(call["id"], "Bom dia")
    operator.post(f"/api/attendances/{call['id']}/finish", {})
    assert supervisor.get("/api/demands").json()["demands"] == []
    refused = supervisor.post(f"/api/demands/{call['id']}/conclude", {"answer": "x"})
    assert "não tem demanda pendente" in error_of(refused, 409)["message"]


def test_concluding_outside_the_window_uses_the_template(service, operator: Client):
    call = whatsapp_call(service, operator)
    protocol = operator.send(call["id"], "Bom dia").json()["protocol"]
    due = (date.today() + timedelta(days=7)).isoformat()
    finish = f"/api/attendances/{call['id']}/finish"
    assert operator.post(finish, {"pending_until": due, "pending_reason": "p"}).status_code == 200
    close_window(service, call["conversation_id"])
    done = operator.post(f"/api/demands/{call['id']}/conclude", {"answer": "Deferido."})
    assert done.status_code == 200, done.text
    sent = [j["template"] for j in jobs(service, "operator_message") if "template" in j]
    assert sent == [
        {
            "name": "demanda_concluida",
            "language": "pt_BR",
            "parameters": ["Joana Souza", protocol, "Deferido."],
        }
    ]


def pending_call(service, operator: Client) -> dict:
    """A widget attendance the operator ended as pending for a week."""
    call = open_attendance(service, contact={"name": "Caio"})
    operator.take(call["id"])
    operator.send(call["id"], "Bom dia")
    due = (date.today() + timedelta(days=7)).isoformat()
    finish = f"/api/attendances/{call['id']}/finish"
    assert operator.post(finish, {"pending_until": due, "pending_reason": "p"}).status_code == 200
    return call


def test_another_rooms_operator_cannot_see_or_conclude(service, operator: Client, supervisor):

    call = pending_call(service, operator)
    supervisor.post("/api/admin/rooms", {"name": "Sul", "slug": "sul"})
    stranger = Client(service, add_operator(service, ["sul"])).available()
    assert stranger.get("/api/demands").json()["demands"] == []
    refused = stranger.post(f"/api/demands/{call['id']}/conclude", {"answer": "x"})
    assert refused.status_code == 404


def test_a_pending_demand_is_kept_until_concluded_past_the_period(service, operator: Client):
    """Art. 12 §3-5: the retention period counts from the demand's resolution."""
    call = pending_call(service, operator)
    with service.desk.db.unit_of_work() as uow:  # it ended three years ago
        uow.session.execute(
            update(Attendance)
            .where(Attendance.id == call["id"])
            .values(ended_at=utcnow() - timedelta(days=3 * 365))
        )
    two_years_ago = utcnow() - timedelta(days=730)

    def expired_ids(before) -> list[int]:
        with service.desk.db.unit_of_work() as uow:
            return [a.id for a in expired(uow.session, before)]

    assert call["id"] not in expired_ids(two_years_ago)  # still pending
    operator.post(f"/api/demands/{call['id']}/conclude", {"answer": "Feito."})
    assert call["id"] not in expired_ids(two_years_ago)  # concluded today
    assert call["id"] in expired_ids(utcnow() + timedelta(days=1))


def test_a_failed_status_brings_metas_reason_to_the_operator(service, operator: Client):
    call = whatsapp_call(service, operator)
    sent = operator.send(call["id"], "Bom dia").json()["message"]
    receipt = {
        "handoff_message_id": sent["id"],
        "channel_message_id": "wamid.X",
        "status": "failed",
    }
    answer = requests.post(
        f"{service.base_url}/api/channel/receipts",
        json=[{**receipt, "status": "failed", "error_code": 132015}],
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code < 300, answer.text
    messages = operator.get(f"/api/attendances/{call['id']}/messages").json()["messages"]
    failed = next(m for m in messages if m["id"] == sent["id"])
    assert failed["delivery"] == "failed" and "pausado" in failed["delivery_error"]
