"""Supervision in the browser: a room and an operator created in the console,
that operator receiving a call in that room, the live view following a new
call, and a report whose figures are computed here from the same database."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from handoff.db import Database
from handoff.models import Attendance, Room
from tests.support.api import add_entry_point
from tests.support.browser import console_login
from tests.support.chaos_run import service
from tests.support.clients import Visitor
from tests.support.processes import ROOT, Stack

pytestmark = pytest.mark.slow
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def login(page: Page, stack: Stack, username: str, password: str) -> None:
    console_login(page, stack.handoff_url, username, password)


def arrive(stack: Stack, name: str, widget_key: str | None = None) -> Visitor:
    """A visitor from the site whose widget has ``widget_key`` (its room is
    the one the organisation routed that key to)."""
    visitor = Visitor(stack.rasa_url)
    metadata = {"name": name, "email": f"{name.lower()}@example.com"}
    if widget_key:
        metadata["widget_key"] = widget_key
    visitor.say("olá", metadata=metadata)
    assert "transferido" in visitor.next_text()
    return visitor


def test_supervision_in_the_console(browser: Browser, stack: Stack):
    boss = browser.new_page(viewport={"width": 1366, "height": 768})
    login(boss, stack, "supervisor", "atendimento123")
    boss.get_by_role("button", name="Supervisão").click()
    card = boss.locator(".room-card", has_text="Atendimento ao cidadão")
    expect(card.locator(".waiting-count")).to_have_text("0")

    # The live view follows a call arriving.
    first = arrive(stack, "Paulo")
    expect(card.locator(".waiting-count")).to_have_text("1")
    shot = SCREENSHOTS / "15-supervisao-painel.png"
    boss.screenshot(path=str(shot))

    # A new room and a new operator linked to it.
    boss.get_by_role("tab", name="Salas").click()
    boss.locator("#room-form").get_by_label("Identificador").fill("tributos")
    boss.locator("#room-form").get_by_label("Nome").fill("Tributos")
    boss.get_by_role("button", name="Criar sala").click()
    expect(boss.locator("#rooms-list")).to_contain_text("Tributos")
    boss.get_by_role("tab", name="Operadores").click()
    boss.get_by_role("button", name="Novo operador").click()
    form = boss.locator("#operator-form")
    form.get_by_label("Nome").fill("Rita Lima")
    form.get_by_label("Usuário").fill("rita")
    form.get_by_label("Senha").fill("curta")
    form.get_by_label("Tributos").check()
    form.get_by_role("button", name="SALVAR").click()
    expect(form.get_by_text("A senha deve ter ao menos 8 caracteres.")).to_be_visible()
    form.get_by_label("Senha").fill("senha-da-rita")
    form.get_by_role("button", name="SALVAR").click()
    row = boss.locator("#operators-table tr", has_text="Rita Lima")
    expect(row).to_contain_text("Tributos")
    boss.screenshot(path=str(SCREENSHOTS / "16-supervisao-operadores.png"))

    # Rita logs in and receives a call of her room.
    rita = browser.new_page(viewport={"width": 1366, "height": 768})
    login(rita, stack, "rita", "senha-da-rita")
    add_entry_point(service(stack, "handoff"), "widget", "portal-tributos", "tributos")
    second = arrive(stack, "Sueli", widget_key="portal-tributos")
    call = rita.locator("#queue button", has_text="Sueli")
    expect(call).to_be_visible()
    expect(rita.locator("#queue button", has_text="Paulo")).to_have_count(0)
    call.click()
    rita.get_by_role("button", name="Atender").click()
    expect(rita.locator("#mine button", has_text="Sueli")).to_be_visible()
    rita.get_by_label("Mensagem").fill("Bom dia, Sueli!")
    rita.get_by_label("Mensagem").press("Enter")
    expect(rita.locator("#protocol-dialog")).to_be_visible()
    protocol = rita.locator("#protocol-number").inner_text()
    assert protocol
    rita.locator("#protocol-dialog").get_by_role("button", name="OK").click()

    # The supervisor finds that attendance by its protocol, exports and prints it.
    boss.get_by_role("tab", name="Protocolo").click()
    boss.locator("#protocol-form").get_by_label("Protocolo").fill(protocol)
    boss.get_by_role("button", name="Buscar").click()
    record = boss.locator("#protocol-record")
    expect(record).to_contain_text("Bom dia, Sueli!")
    expect(record).to_contain_text("Rita Lima")
    with boss.expect_download() as exported:
        boss.get_by_role("button", name="Exportar JSON").click()
    assert exported.value.suggested_filename == f"protocolo-{protocol}.json"
    boss.locator("#protocol-form").get_by_label("Protocolo").fill("1999000123")
    boss.get_by_role("button", name="Buscar").click()
    expect(boss.get_by_text("Protocolo não encontrado.")).to_be_visible()

    # The report, checked against figures computed from the same database.
    handoff = next(s for s in stack.services if s.name == "handoff")
    db = Database(handoff.env["DATABASE_URL"])
    tz = ZoneInfo("America/Sao_Paulo")
    with db.unit_of_work() as uow:
        names = {r.id: r.name for r in uow.session.scalars(select(Room))}
        rows = uow.session.scalars(select(Attendance)).all()
        received = Counter(names[a.room_id] for a in rows)
        answered = Counter(names[a.room_id] for a in rows if a.taken_at)
        days = {a.queued_at.astimezone(tz).date().isoformat() for a in rows}
    db.dispose()
    today = datetime.now(tz).date().isoformat()
    assert days == {today}
    boss.get_by_role("tab", name="Relatórios").click()
    typed = datetime.now(tz).date().strftime("%d/%m/%Y")
    boss.get_by_label("De", exact=True).fill(typed)
    boss.get_by_label("Até", exact=True).fill(typed)
    boss.get_by_role("button", name="Gerar relatório").click()
    table = boss.locator("#report-table")
    expect(table.locator("tr")).not_to_have_count(0)
    shown_received, shown_answered = Counter(), Counter()
    for cells in table.locator("tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    ):
        shown_received[cells[1]] += int(cells[3])
        shown_answered[cells[1]] += int(cells[4])
    assert shown_received == received
    assert shown_answered == answered
    expect(boss.locator("#report-chart .u-legend")).to_contain_text("Recebidos")
    with boss.expect_download() as download:
        boss.get_by_role("button", name="Exportar CSV").click()
    assert download.value.suggested_filename == f"relatorio-{today}-{today}.csv"
    boss.screenshot(path=str(SCREENSHOTS / "17-supervisao-relatorios.png"))
    for visitor in (first, second):
        visitor.close()
    rita.close()
    boss.close()
