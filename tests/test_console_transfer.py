"""Transferir and automatic assignment in the console (issue 19,
capabilities 1 and 6) in Chromium, through the visible pt-BR words: an
operator passes a call to a colleague with a note, the colleague's console
rings with it as theirs, a refused transfer says why in the dialog, a
transfer to a room set to automática in Supervisão lands on that room's
operator, and the protocol record says who held it when. Also the customer
panel with the previous attendances (README screenshot). Real handoff
service (Rasa unreachable: the customer's notice waits in the outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.api import (
    PASSWORD,
    Client,
    add_operator,
    add_room,
    finished_attendance,
    open_attendance,
)
from tests.support.axe import serious_violations
from tests.support.browser import console_login
from tests.support.processes import ROOT, Service

pytestmark = pytest.mark.slow
ROOM = "atendimento"  # the demo room
SCREENSHOTS = ROOT / "docs" / "screenshots"
STUCK = 30_000  # ms: a bound for what is expected, never a duration asserted


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def desk(browser: Browser, handoff: Service, username: str) -> Page:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(page, handoff.base_url, username, PASSWORD)
    return page


def rings(page: Page) -> str:
    return str(page.evaluate("document.body.dataset.rings || '0'"))


def test_transfer_to_a_colleague_then_to_an_automatic_room(browser: Browser, handoff: Service):
    add_room(handoff, "tributos")
    ana = add_operator(handoff, [ROOM], name="Ana Souza", role="supervisor")
    bruno = add_operator(handoff, [ROOM], name="Bruno Lima")
    caio = add_operator(handoff, ["tributos"], name="Caio Reis")
    ana_page, bruno_page, caio_page = (desk(browser, handoff, u) for u in (ana, bruno, caio))

    # Supervisão → Salas: Tributos gives its calls out automatically.
    ana_page.get_by_role("button", name="Supervisão").click()
    ana_page.get_by_role("tab", name="Salas").click()
    choice = ana_page.get_by_label("Distribuição da sala Tributos")
    expect(choice).to_have_value("manual")
    choice.select_option(label="Automática (ao operador menos ocupado)")
    ana_page.get_by_role("tab", name="Painel").click()
    ana_page.get_by_role("tab", name="Salas").click()
    expect(ana_page.get_by_label("Distribuição da sala Tributos")).to_have_value("automatic")
    ana_page.get_by_role("button", name="Supervisão").click()

    # Ana takes a call.
    open_attendance(
        handoff,
        contact={"name": "Carla Dias"},
        first_message={"message_id": uuid.uuid4().hex, "text": "Quero a 2ª via do IPTU"},
    )
    ana_page.locator("#queue button", has_text="Carla Dias").click()
    ana_page.get_by_role("button", name="Atender").click()
    expect(ana_page.get_by_role("list", name="Mensagens")).to_contain_text("Quero a 2ª via")

    # Transferir → Bruno, with a note.
    ana_page.get_by_role("button", name="Transferir").click()
    dialog = ana_page.get_by_role("dialog", name="Transferir atendimento")
    # The attendance's own room is chosen; its free operators are offered.
    expect(dialog.get_by_label("Sala").locator("option:checked")).to_have_text(
        "Atendimento ao cidadão"
    )
    dialog.get_by_label("Operador").select_option(label="Bruno Lima")
    dialog.get_by_label("Nota para o próximo atendente").fill("Quer a 2ª via do IPTU de 2025")
    ana_page.screenshot(path=str(SCREENSHOTS / "21-transferir.png"))
    assert serious_violations(ana_page) == []
    before = rings(bruno_page)
    dialog.get_by_role("button", name="Transferir").click()
    expect(
        ana_page.get_by_text("Atendimento de Carla Dias transferido para Bruno Lima.")
    ).to_be_visible()
    expect(ana_page.locator("#mine button", has_text="Carla Dias")).to_have_count(0)

    # Bruno's console rings with it, as his; the note is in Conversa.
    expect(bruno_page.locator("#mine button", has_text="Carla Dias")).to_be_visible()
    expect(bruno_page.locator("body")).not_to_have_attribute("data-rings", before, timeout=STUCK)
    bruno_page.locator("#mine button", has_text="Carla Dias").click()
    messages = bruno_page.get_by_role("list", name="Mensagens")
    expect(messages).to_contain_text(
        "Transferido por Ana Souza para Bruno Lima: Quer a 2ª via do IPTU de 2025"
    )
    expect(messages).to_contain_text("Você foi transferido(a) para outro atendente.")
    bruno_page.get_by_label("Mensagem").fill("Bom dia, Carla! Sou o Bruno.")
    bruno_page.get_by_label("Mensagem").press("Enter")
    expect(bruno_page.locator("#attendance-protocol")).to_contain_text("Protocolo")
    protocol = bruno_page.locator("#attendance-protocol").inner_text().split()[-1]
    bruno_page.get_by_role("button", name="OK").click()  # the protocol notice

    # A transfer to nobody is refused in the dialog, in Portuguese.
    bruno_page.get_by_role("button", name="Transferir").click()
    dialog = bruno_page.get_by_role("dialog", name="Transferir atendimento")
    dialog.get_by_role("button", name="Transferir").click()
    expect(dialog.get_by_text("Escolha outra sala ou um operador.")).to_be_visible()

    # To Tributos (automática): Caio gets it at once, and it rings.
    dialog.get_by_label("Sala").select_option(label="Tributos")
    expect(dialog.get_by_label("Operador")).to_have_value("")
    before = rings(caio_page)
    dialog.get_by_role("button", name="Transferir").click()
    expect(
        bruno_page.get_by_text("Atendimento de Carla Dias transferido para Tributos.")
    ).to_be_visible()
    expect(caio_page.locator("#mine button", has_text="Carla Dias")).to_be_visible()
    expect(caio_page.locator("body")).not_to_have_attribute("data-rings", before, timeout=STUCK)
    expect(caio_page.locator("#queue button", has_text="Carla Dias")).to_have_count(0)

    # The protocol record: who held it when, with the notes.
    ana_page.get_by_role("button", name="Supervisão").click()
    ana_page.get_by_role("tab", name="Protocolo").click()
    ana_page.locator("#protocol-form").get_by_label("Protocolo").fill(protocol)
    ana_page.get_by_role("button", name="Buscar").click()
    held = ana_page.locator("#protocol-record .holds li")
    expect(held).to_have_count(3)
    expect(held.nth(0)).to_contain_text("Ana Souza")
    expect(held.nth(0)).to_contain_text("transferido · Nota: Quer a 2ª via do IPTU de 2025")
    expect(held.nth(1)).to_contain_text("Bruno Lima")
    expect(held.nth(2)).to_contain_text("Caio Reis · Tributos")
    expect(held.nth(2)).to_contain_text("agora")

    # Relatórios: each operator's part, Ana's transfer counted in her row.
    ana_page.get_by_role("tab", name="Relatórios").click()
    today = datetime.now(ZoneInfo("America/Sao_Paulo")).strftime("%d/%m/%Y")
    ana_page.get_by_label("De", exact=True).fill(today)
    ana_page.get_by_label("Até", exact=True).fill(today)
    ana_page.get_by_role("button", name="Gerar relatório").click()
    heading = [h.strip() for h in ana_page.locator("#admin-relatorios thead th").all_inner_texts()]
    for name, transferred in (("Ana Souza", "1"), ("Bruno Lima", "1"), ("Caio Reis", "0")):
        row = ana_page.locator("#report-table tr", has_text=name)
        expect(row).to_have_count(1)
        cells = row.locator("td")
        expect(cells.nth(heading.index("Atendidos"))).to_have_text("1")
        expect(cells.nth(heading.index("Transferidos"))).to_have_text(transferred)
    for page in (ana_page, bruno_page, caio_page):
        page.close()


def test_customer_panel_with_previous_attendances(browser: Browser, handoff: Service):
    username = add_operator(handoff, [ROOM], name="Davi Prado")
    client = Client(handoff, username).available()
    phone = f"+55119{uuid.uuid4().int % 10**8:08d}"
    created = client.post("/api/customers", {"name": "Marta Antiga", "phone": phone})
    customer_id = created.json()["customer"]["id"]
    article = client.get("/api/kb/articles").json()["articles"][0]
    for text in ("Segunda via do IPTU", "Agendamento de vacina"):
        finished_attendance(handoff, client, customer_id, text, article["id"])
    page = desk(browser, handoff, username)
    # The same citizen again, by WhatsApp: linked by the phone.
    open_attendance(handoff, channel="whatsapp", contact={"name": "Marta", "phone": phone})
    page.locator("#queue button", has_text="Marta").click()
    page.get_by_role("button", name="Atender").click()
    expect(page.get_by_text("Cliente vinculado: Marta Antiga")).to_be_visible()
    page.get_by_placeholder("Nome, e-mail, CPF/CNPJ ou telefone").fill("Marta Antiga")
    page.get_by_placeholder("Nome, e-mail, CPF/CNPJ ou telefone").press("Enter")
    page.get_by_role("button", name="Abrir cliente Marta Antiga").click()
    page.get_by_role("button", name="Histórico").click()
    page.get_by_role("button", name="Atendimentos").click()
    history = page.locator("#customer-history li")
    expect(history).to_have_count(3)
    history.nth(1).get_by_role("button").click()
    record = page.locator("#history-record")
    expect(record).to_contain_text("Quem atendeu")
    expect(record).to_contain_text("Davi Prado")
    page.screenshot(path=str(SCREENSHOTS / "22-cliente-atendimentos-anteriores.png"))
    # The citizen asks the operator for that demand's record (SAC art. 12).
    record.get_by_label("Enviar o registro por").select_option("email")
    record.get_by_label("E-mail do cidadão").fill("marta@")
    record.get_by_role("button", name="Pedir o registro").click()
    expect(record.get_by_role("alert")).to_have_text("Informe um e-mail válido.")
    record.get_by_label("E-mail do cidadão").fill("marta@exemplo.com.br")
    record.get_by_role("button", name="Pedir o registro").click()
    expect(record.get_by_role("status")).to_contain_text("Pedido registrado. Prazo:")
    assert serious_violations(page) == []
    page.close()
