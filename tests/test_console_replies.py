"""The operator's reply tools (issue 19, capabilities 2-5) in Chromium,
through the visible pt-BR words: ready replies kept in Supervisão and
inserted with "/", a knowledge-base article into the reply (and REGISTRAR
in the same click), the closing subject and comment on Finalizar shown in
the protocol record and the reports, and private notes that the customer
never gets. Real handoff service (Rasa unreachable: what would go to the
customer stays in the outbox, where a note must never be)."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select, update

from handoff.db import Database
from handoff.models import Attendance, Message, OutboxJob, utcnow
from tests.support.api import PASSWORD, Client, add_operator, open_attendance, organisation_today
from tests.support.axe import serious_violations
from tests.support.browser import console_login
from tests.support.processes import ROOT, Service

pytestmark = pytest.mark.slow
ROOM = "atendimento"  # the demo room
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def take_call(page: Page, handoff: Service, customer: str) -> int:
    attendance = open_attendance(handoff, contact={"name": customer})
    page.locator("#queue button", has_text=customer).click()
    page.get_by_role("button", name="Atender").click()
    expect(page.locator("#mine button", has_text=customer)).to_be_visible()
    return int(attendance["id"])


def outbox_payloads(handoff: Service) -> list[str]:
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        payloads = list(uow.session.scalars(select(OutboxJob.payload)))
    db.dispose()
    return payloads


def test_ready_reply_note_and_closing_subject_through_supervisao(
    browser: Browser, handoff: Service
):
    username = add_operator(handoff, [ROOM], name="Sara Lima", role="supervisor")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(page, handoff.base_url, username, PASSWORD)

    # Supervisão → Respostas prontas: a reply with variables, next to the
    # ones from the content files.
    page.get_by_role("button", name="Supervisão").click()
    page.get_by_role("tab", name="Respostas prontas").click()
    expect(page.locator("#replies-table")).to_contain_text("arquivo saudacao.md")
    form = page.locator("#reply-form")
    form.get_by_label("Título").fill("Boas-vindas")
    form.get_by_label("Texto").fill("Bom dia, {cliente}! Aqui é {operador}.")
    form.get_by_role("button", name="SALVAR").click()
    expect(page.locator("#replies-table tr", has_text="Boas-vindas")).to_contain_text(
        "Todas as salas"
    )
    page.get_by_role("button", name="Supervisão").click()

    # "/" opens the list; arrows and Enter pick one; typing filters it.
    take_call(page, handoff, "Ana Souza")
    draft = page.get_by_label("Mensagem")
    draft.fill("/")
    picker = page.get_by_role("listbox", name="Respostas prontas")
    options = picker.get_by_role("option")
    expect(options.nth(1)).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "20-respostas-prontas.png"))
    second = options.nth(1).locator(".reply-text").inner_text()
    draft.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    draft.press("Enter")
    expect(picker).to_be_hidden()
    expect(draft).to_have_value(second)
    draft.fill("/boas")
    expect(options).to_have_count(1)
    options.first.click()
    expect(draft).to_have_value("Bom dia, Ana Souza! Aqui é Sara Lima.")
    draft.fill(draft.input_value() + " Em que posso ajudar?")  # edited before sending
    draft.press("Enter")
    expect(page.locator("#messages li.operator")).to_contain_text(
        "Bom dia, Ana Souza! Aqui é Sara Lima. Em que posso ajudar?"
    )
    notice = page.locator("#protocol-dialog")
    expect(notice).to_be_visible()
    protocol = page.locator("#protocol-number").inner_text()
    notice.get_by_role("button", name="OK").click()

    # A private note: shown apart in Conversa, never queued for the customer.
    page.get_by_label("Nota interna (o cliente não vê)").check()
    expect(page.get_by_role("button", name="Salvar nota")).to_be_visible()
    draft.fill("Cliente já ligou ontem sobre o IPTU")
    draft.press("Enter")
    note = page.locator("#messages li.note")
    expect(note).to_contain_text("Cliente já ligou ontem sobre o IPTU")
    expect(note).to_contain_text("Nota interna (o cliente não vê)")
    expect(page.locator("#mine button", has_text="Ana Souza")).not_to_contain_text("Cliente já")
    payloads = outbox_payloads(handoff)
    assert any("Em que posso ajudar?" in p for p in payloads)
    assert not any("Cliente já ligou" in p for p in payloads)

    # Finalizar asks for the subject (required) and a comment.
    page.get_by_role("button", name="Finalizar").click()
    dialog = page.locator("#confirm-dialog")
    dialog.get_by_role("button", name="Finalizar").click()
    expect(dialog).to_be_visible()  # no subject chosen yet
    dialog.get_by_label("Assunto").select_option("IPTU e taxas")
    dialog.get_by_label("Comentário (opcional)").fill("Pediu a segunda via")
    dialog.get_by_role("button", name="Finalizar").click()
    closed = f"Atendimento de Ana Souza finalizado (protocolo {protocol})"
    expect(page.get_by_text(closed)).to_be_visible()

    # The protocol record and the reports show them.
    page.get_by_role("button", name="Supervisão").click()
    page.get_by_role("tab", name="Protocolo").click()
    page.locator("#protocol-form").get_by_label("Protocolo").fill(protocol)
    page.get_by_role("button", name="Buscar").click()
    record = page.locator("#protocol-record")
    expect(record).to_contain_text("Assunto: IPTU e taxas")
    expect(record).to_contain_text("Comentário: Pediu a segunda via")
    expect(record.locator("li.note")).to_contain_text("Nota interna: Cliente já ligou ontem")
    page.get_by_role("tab", name="Relatórios").click()
    page.get_by_role("button", name="Gerar relatório").click()
    expect(page.locator("#report-subjects")).to_contain_text(re.compile(r"IPTU e taxas \(\d+\)"))
    page.close()


def test_article_into_the_reply_and_registered_in_one_click(browser: Browser, handoff: Service):
    username = add_operator(handoff, [ROOM], name="Téo Alves")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(page, handoff.base_url, username, PASSWORD)
    attendance_id = take_call(page, handoff, "Bia Costa")
    page.get_by_label("Mensagem").fill("Bia, segue a informação:")

    page.get_by_role("tab", name="Início").click()
    page.get_by_role("button", name=re.compile("Segunda via do IPTU")).click()
    page.get_by_role("button", name="Inserir e registrar").click()
    expect(page.get_by_role("tab", name="Conversa")).to_have_attribute("aria-selected", "true")
    draft = page.get_by_label("Mensagem")
    expect(draft).to_have_value(re.compile(r"^Bia, segue a informação:\n\nO cidadão pode emitir"))
    expect(draft).to_be_focused()

    page.get_by_role("tab", name="Início").click()
    expect(page.locator("#kb-list")).to_contain_text("✓ Registrado")
    page.get_by_role("button", name=re.compile("Alvará de funcionamento")).click()
    page.get_by_role("button", name="Inserir na resposta").click()
    expect(draft).to_have_value(re.compile(r"O cidadão pode emitir.*\n\nO pedido de alvará", re.S))
    draft.press("Enter")
    expect(page.locator("#messages li.operator")).to_contain_text("O pedido de alvará")

    articles = Client(handoff, username).get("/api/kb/articles", attendance_id=attendance_id).json()
    registered = [a["title"] for a in articles["articles"] if a["registered"]]
    assert registered == ["Segunda via do IPTU"]
    page.close()


def test_whatsapp_templates_past_the_window_and_a_pending_demand_concluded(
    browser: Browser, handoff: Service
):
    """Issue 18 item 3 and issue 21 item 2 in Chromium: past WhatsApp's
    24-hour window Conversa offers only the approved templates, filled in;
    Pendente ends the call with a due date; Supervisão → Pendências shows it
    late and concludes it."""
    username = add_operator(handoff, [ROOM], name="Lia Rocha", role="supervisor")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(page, handoff.base_url, username, PASSWORD)
    phone = f"55619{uuid.uuid4().int % 10**8:08d}"
    attendance = open_attendance(
        handoff,
        channel="whatsapp",
        conversation_id=phone,
        contact={"name": "Rui Prado", "phone": phone},
        first_message={"message_id": f"wamid.{uuid.uuid4().hex}", "text": "Oi"},
    )
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:  # the citizen wrote 25 hours ago
        uow.session.execute(
            update(Message)
            .where(Message.attendance_id == attendance["id"])
            .values(created_at=utcnow() - timedelta(hours=25))
        )
    page.locator("#queue button", has_text="Rui Prado").click()
    page.get_by_role("button", name="Atender").click()

    composer = page.locator("#template-composer")
    expect(composer).to_contain_text("Fora da janela de 24 horas")
    expect(page.get_by_label("Mensagem")).to_be_hidden()
    composer.get_by_label("Modelo").select_option("retomar_atendimento")
    expect(composer.get_by_label("{{1}} Nome do cliente")).to_have_value("Rui Prado")
    composer.get_by_role("button", name="Enviar modelo").click()
    expect(page.locator("#messages li.operator")).to_contain_text("Olá, Rui Prado! Aqui é")
    page.locator("#protocol-dialog").get_by_role("button", name="OK").click()
    protocol = page.locator("#attendance-protocol").inner_text().removeprefix("Protocolo ")
    assert any('"retomar_atendimento"' in p for p in outbox_payloads(handoff))

    page.get_by_role("button", name="Pendente").click()
    dialog = page.locator("#confirm-dialog")
    dialog.get_by_label("Assunto").select_option("IPTU e taxas")
    due = dialog.get_by_label("Prazo para a resposta")
    expect(due).to_have_value((date.today() + timedelta(days=7)).isoformat())
    dialog.get_by_role("button", name="Encerrar como pendente").click()
    expect(dialog).to_be_visible()  # what is pending is required
    dialog.get_by_label("O que está pendente").fill("Aguardando a vistoria")
    dialog.get_by_role("button", name="Encerrar como pendente").click()
    expect(page.get_by_text("Atendimento de Rui Prado encerrado como pendente")).to_be_visible()
    assert any('"encerramento_protocolo"' in p for p in outbox_payloads(handoff))

    with db.unit_of_work() as uow:  # the due date passed
        uow.session.execute(
            update(Attendance)
            .where(Attendance.id == attendance["id"])
            .values(pending_until=organisation_today() - timedelta(days=1))
        )
    db.dispose()
    page.get_by_role("button", name="Supervisão").click()
    page.get_by_role("tab", name="Pendências").click()
    row = page.locator("#demands-table tr", has_text=protocol)
    expect(row).to_contain_text("Atrasada")
    expect(row).to_contain_text("Aguardando a vistoria")
    assert serious_violations(page) == []
    row.get_by_role("button", name="Concluir").click()
    page.locator("#demand-form").get_by_label("Resposta").fill("Vistoria feita, alvará liberado.")
    page.get_by_role("button", name="Concluir demanda").click()
    expect(page.locator("#demands-notice")).to_contain_text(f"protocolo {protocol} concluída")
    expect(page.locator("#demands-table tr", has_text=protocol)).to_have_count(0)
    assert any('"demanda_concluida"' in p for p in outbox_payloads(handoff))

    page.get_by_role("tab", name="Protocolo").click()
    page.locator("#protocol-form").get_by_label("Protocolo").fill(protocol)
    page.get_by_role("button", name="Buscar").click()
    record = page.locator("#protocol-record")
    yesterday = organisation_today() - timedelta(days=1)
    expect(record).to_contain_text(f"Pendente até {yesterday:%d/%m/%Y}: Aguardando a vistoria")
    expect(record).to_contain_text("por Lia Rocha: Vistoria feita, alvará liberado.")
    page.close()
