"""The citizen's data rights in the browser (issue 21): a supervisor finds a
person in Supervisão → Dados pessoais, sees who saw their data, exports it
and erases it; a room whose pre-chat form is optional lets a visitor reach
an attendant without giving a name or an e-mail."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect
from sqlalchemy import update

from handoff.db import Database
from handoff.models import RecordRequest
from tests.support.api import Client, open_attendance
from tests.support.axe import serious_violations
from tests.support.browser import chat, console_login
from tests.support.clients import Operator
from tests.support.processes import ROOT, SERVICE_TOKEN, Stack, wait_until
from tests.test_data_subjects import DEMO_PASSWORD, attend, process, widget_attendance

pytestmark = pytest.mark.slow
SCREENSHOTS = ROOT / "docs" / "screenshots"
NAME, EMAIL = "Ana Beatriz Prado", "ana.prado@example.com"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def test_supervisor_exports_and_erases_a_person(browser: Browser, stack: Stack, tmp_path: Path):
    desk = Client(process(stack, "handoff"), "operador", DEMO_PASSWORD).available()
    operator = Operator(stack.handoff_url)
    visitor, queued = widget_attendance(stack, operator, NAME, EMAIL, "preciso de ajuda")
    customer = desk.post(
        "/api/customers", {"name": NAME, "phone": "(21) 99876-1234", "email": EMAIL}
    ).json()["customer"]
    desk.take(queued["id"])
    desk.post(f"/api/attendances/{queued['id']}/customer", {"customer_id": customer["id"]})
    attend(desk, queued["id"], "Olá, Ana!")
    assert desk.get(f"/api/customers/{customer['id']}/history").status_code == 200
    visitor.close()
    operator.close()

    boss = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(boss, stack.handoff_url, "supervisor", DEMO_PASSWORD)
    boss.get_by_role("button", name="Supervisão").click()
    boss.get_by_role("tab", name="Dados pessoais").click()
    search = boss.get_by_label("CPF/CNPJ, telefone ou e-mail")
    search.fill("529.982.247-24")
    boss.locator("#subject-form").get_by_role("button", name="Buscar").click()
    expect(boss.locator("#subject-q-error")).to_have_text("CPF inválido: confira os números.")

    search.fill(EMAIL.upper())
    boss.locator("#subject-form").get_by_role("button", name="Buscar").click()
    result = boss.locator("#subject-result")
    expect(result).to_contain_text(NAME)
    expect(result).to_contain_text("(21) 99876-1234")
    # Who saw the customer's data: the operator who opened the history.
    seen = result.locator(".access-log tr", has_text="Viu o cadastro e o histórico")
    expect(seen).to_contain_text(desk.operator["name"])
    boss.screenshot(path=str(SCREENSHOTS / "21-dados-pessoais.png"))

    with boss.expect_download() as exported:
        result.get_by_role("button", name="Exportar dados").click()
    assert exported.value.suggested_filename.startswith("dados-pessoais-")
    saved = tmp_path / "export.json"
    exported.value.save_as(saved)
    data = json.loads(saved.read_text())
    assert data["customers"][0]["name"] == NAME
    assert [a["contact_email"] for a in data["attendances"]] == [EMAIL]
    assert "Olá, Ana!" in [m["text"] for m in data["attendances"][0]["messages"]]

    result.get_by_role("button", name="Apagar dados pessoais").click()
    boss.locator("#confirm-dialog").get_by_role("button", name="Apagar dados pessoais").click()
    expect(boss.locator("#subject-done")).to_contain_text("Dados pessoais apagados.")
    expect(result).to_be_hidden()
    search.fill(EMAIL)
    boss.locator("#subject-form").get_by_role("button", name="Buscar").click()
    expect(boss.locator("#subject-q-error")).to_have_text("Nenhum dado encontrado com este e-mail.")
    boss.close()


def default_room(supervisor: Client) -> dict:
    rooms = supervisor.get("/api/admin/rooms").json()["rooms"]
    return next(r for r in rooms if r["slug"] == "atendimento")


def test_a_room_can_let_visitors_skip_the_pre_chat_form(
    browser: Browser, stack: Stack, host_url: str
):
    # Required by default: name and e-mail are asked.
    page = browser.new_page()
    page.goto(host_url)
    page.locator(".bar").click()
    chat(page).get_by_role("button", name="INICIAR BATE-PAPO").click()
    expect(chat(page).get_by_text("Informe seu nome.")).to_be_visible()
    page.close()

    # A supervisor makes it optional for the room that receives the site.
    supervisor = Client(process(stack, "handoff"), "supervisor", DEMO_PASSWORD)
    boss = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(boss, stack.handoff_url, "supervisor", DEMO_PASSWORD)
    boss.get_by_role("button", name="Supervisão").click()
    boss.get_by_role("tab", name="Salas").click()
    boss.locator('#rooms-list li[data-room="atendimento"]').get_by_label(
        "Chat sem identificação obrigatória"
    ).check()
    wait_until(lambda: default_room(supervisor)["prechat_optional"], what="setting not saved")
    boss.close()

    operator = Operator(stack.handoff_url)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        page.goto(host_url)
        page.locator(".bar").click()
        widget = chat(page)
        expect(widget.get_by_text("sem informar seus dados")).to_be_visible()
        expect(widget.get_by_label("Nome (opcional)")).to_be_visible()
        # What is given is still checked.
        widget.get_by_label("E-mail").fill("maria@")
        widget.get_by_role("button", name="INICIAR BATE-PAPO").click()
        expect(widget.get_by_text("Informe um e-mail válido.")).to_be_visible()
        widget.get_by_label("E-mail").fill("")
        widget.get_by_role("button", name="INICIAR BATE-PAPO").click()
        widget.get_by_label("Mensagem").fill("quero falar com um atendente")
        widget.get_by_role("button", name="Enviar").click()
        expect(widget.get_by_text("transferido(a)")).to_be_visible()

        # The attendant gets the call with no personal data, and answers.
        queued = operator.wait_for(
            "attendance:queued",
            lambda a: a["contact_name"] is None and a["contact_email"] is None,
        )
        assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
        sent = operator.call(
            "message:send",
            {"attendance_id": queued["id"], "text": "Olá! Em que posso ajudar?", "client_id": "a1"},
        )
        assert sent["ok"], sent
        expect(widget.get_by_text("Olá! Em que posso ajudar?")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "22-chat-sem-identificacao.png"))
    finally:
        page.close()
        operator.close()
        room = default_room(supervisor)
        supervisor.put(f"/api/admin/rooms/{room['id']}", {"prechat_optional": False})


def test_supervisors_see_record_requests_with_their_deadline(browser: Browser, stack: Stack):
    """Decreto 11.034/2022 art. 12: Supervisão → Pedidos de registro lists
    what is still to be sent with its deadline, the late ones marked, and
    lets the supervisor confirm a request that waits for a check."""
    handoff = process(stack, "handoff")
    desk = Client(handoff, "operador", DEMO_PASSWORD).available()
    supervisor = Client(handoff, "supervisor", DEMO_PASSWORD)
    call = open_attendance(handoff, first_message={"message_id": "r1", "text": "Meu pedido"})
    protocol = attend(desk, call["id"], "Pedido recebido.")
    # By e-mail, with no SMTP server set up here: pending, and late.
    late = supervisor.post(
        "/api/admin/record-requests",
        {"protocol": protocol, "means": "email", "email": "rita@example.com"},
    ).json()["request"]
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        past = datetime.now(timezone.utc) - timedelta(days=1)
        uow.session.execute(
            update(RecordRequest).where(RecordRequest.id == late["id"]).values(due_at=past)
        )
    db.dispose()
    stranger = requests.post(
        f"{handoff.base_url}/api/records/requests",
        json={"conversation_id": "outra", "channel": "socketio", "text": f"registro {protocol}"},
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=30,
    ).json()["request"]
    assert stranger["status"] == "verification"
    wait_until(
        lambda: any(
            r["last_error"] for r in supervisor.get("/api/admin/record-requests").json()["open"]
        ),
        what="the e-mail not tried",
    )

    boss = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(boss, stack.handoff_url, "supervisor", DEMO_PASSWORD)
    boss.get_by_role("button", name="Supervisão").click()
    boss.get_by_role("tab", name="Pedidos de registro").click()
    row = boss.locator(f'#record-requests-open tr[data-request="{late["id"]}"]')
    expect(row).to_contain_text("Atrasado")
    expect(row).to_contain_text("E-mail rita@example.com")
    expect(row).to_contain_text("HANDOFF_SMTP_HOST")  # why it has not gone out
    check = boss.locator(f'#record-requests-open tr[data-request="{stranger["id"]}"]')
    expect(check).to_contain_text("Aguardando verificação")
    expect(check).not_to_contain_text("Atrasado")
    assert not serious_violations(boss), "Supervisão, Pedidos de registro"
    check.get_by_role("button", name="Confirmar e enviar").click()
    expect(check).to_contain_text("Pendente")

    form = boss.locator("#record-request-form")
    form.get_by_label("Protocolo").fill("2026999999")
    form.get_by_role("button", name="Registrar pedido").click()
    expect(boss.locator("#record-protocol-error")).to_have_text(
        "Não encontrei o protocolo 2026999999."
    )
    form.get_by_label("Protocolo").fill(protocol)
    form.get_by_label("Enviar por").select_option("email")
    form.get_by_label("E-mail do cidadão").fill("rita@")
    form.get_by_role("button", name="Registrar pedido").click()
    expect(boss.locator("#record-email-error")).to_have_text("Informe um e-mail válido.")
    boss.close()
