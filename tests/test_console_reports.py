"""Reports people read and a console a keyboard and a screen reader can use
(issue 14, items 5 and 6): the report's dates and numbers in pt-BR, its chart
(vendored uPlot) with axes, a legend and a name under the pages' CSP, a CSV
a spreadsheet in pt-BR opens as it is; and axe-core finding no serious
violation on the login, the desk with a call open and every Supervisão tab,
reached with the arrow keys. Real handoff service (no Rasa) and Chromium,
through the visible pt-BR words."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.api import Client, open_attendance, report_csv_rows
from tests.support.axe import serious_violations
from tests.support.browser import console_login
from tests.support.processes import Service

pytestmark = pytest.mark.slow
SUPERVISOR, PASSWORD = "supervisor", "atendimento123"  # the demo supervisor
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def today() -> str:
    """Today in the organisation's time zone (HANDOFF_TIMEZONE's default)."""
    return datetime.now(ZoneInfo("America/Sao_Paulo")).date().isoformat()


def in_pt_br(day: str) -> str:
    year, month, date = day.split("-")
    return f"{date}/{month}/{year}"


def generate_report(page: Page, day: str) -> None:
    page.get_by_label("De", exact=True).fill(in_pt_br(day))
    page.get_by_label("Até", exact=True).fill(in_pt_br(day))
    page.get_by_role("button", name="Gerar relatório").click()
    expect(page.locator("#report-table tr")).not_to_have_count(0)


def test_the_report_reads_in_pt_br(browser: Browser, handoff: Service):
    waiting = open_attendance(handoff)
    taken = open_attendance(handoff)
    Client(handoff, SUPERVISOR, PASSWORD).available().take(taken["id"])
    assert waiting["id"] != taken["id"]
    page = browser.new_page(viewport=VIEWPORT)
    refused = []  # what the pages' CSP refused, as Chromium logs it
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.on("pageerror", lambda error: refused.append(str(error)))
    console_login(page, handoff.base_url, SUPERVISOR, PASSWORD)

    # The console's formatters: numbers and calendar days as written in Brazil.
    formatted = page.evaluate("""async () => {
      const f = await import("/console/js/format.js");
      return [f.formatNumber(1234), f.formatNumber(1234.56), f.formatNumber(null),
        f.formatDate("2026-12-01"), f.formatDate("2026-12-01", { short: true }),
        f.formatDate("1/12"), f.parseDate("1/12/2026"), f.parseDate("29/02/2026"),
        f.parseDate("2026-12-01")];
    }""")
    assert formatted == [
        "1.234",
        "1.234,6",
        "—",
        "01/12/2026",
        "01/12",
        "—",
        "2026-12-01",
        None,
        None,
    ]

    page.get_by_role("button", name="Supervisão").click()
    page.get_by_role("tab", name="Relatórios").click()
    # The period is typed as dd/mm/aaaa (the last 7 days to begin with).
    start = page.get_by_label("De", exact=True)
    expect(start).to_have_value(re.compile(r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"))
    start.fill("31/02/2026")
    page.get_by_role("button", name="Gerar relatório").click()
    expect(start).to_have_accessible_description(
        "Informe uma data no formato dd/mm/aaaa, por exemplo 01/12/2026."
    )
    expect(start).to_have_attribute("aria-invalid", "true")
    day = today()
    generate_report(page, day)
    rows = page.locator("#report-table tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent).slice(0, 5))"
    )
    room = "Atendimento ao cidadão"
    assert rows == [
        [in_pt_br(day), room, "Supervisora de demonstração", "1", "1"],
        [in_pt_br(day), room, "—", "1", "0"],
    ]

    # The chart: named, with its three axes and a legend of its two series.
    figure = page.get_by_role("figure", name="Atendimentos recebidos e espera média por dia")
    expect(figure.locator(".u-axis")).to_have_count(3)
    expect(figure.locator(".u-legend")).to_contain_text("Recebidos")
    expect(figure.locator(".u-legend")).to_contain_text("Espera média (min)")
    expect(
        figure.get_by_role(
            "img",
            name=f"Atendimentos recebidos e espera média por dia, de {in_pt_br(day)} a "
            f"{in_pt_br(day)}: 2 recebidos no período.",
        )
    ).to_be_visible()

    # The CSV, as a spreadsheet set to pt-BR reads it.
    with page.expect_download() as download:
        page.get_by_role("button", name="Exportar CSV").click()
    heading, *lines = report_csv_rows(Path(download.value.path()).read_bytes())
    assert heading[:5] == ["Dia", "Sala", "Operador", "Recebidos", "Atendidos"]
    assert [line[:5] for line in lines] == rows
    assert re.fullmatch(r"[0-9]+,[0-9]", lines[0][heading.index("Espera média (s)")])
    assert refused == []
    page.close()


def assert_accessible(page: Page, screen: str) -> None:
    assert serious_violations(page) == [], screen


def tab_by_keyboard(page: Page, key: str, name: str) -> None:
    """``key`` on the focused tab selects the tab ``name`` and shows its panel."""
    page.keyboard.press(key)
    tab = page.get_by_role("tab", name=name, exact=True)
    expect(tab).to_be_focused()
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(tab).to_have_attribute("tabindex", "0")
    expect(page.get_by_role("tabpanel", name=name, exact=True)).to_be_visible()


def test_the_console_passes_axe_and_the_keyboard(browser: Browser, handoff: Service):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{handoff.base_url}/console/")
    login = page.locator("#login-form")
    login.get_by_role("button", name="Entrar").click()
    # The error is tied to the fields it is about.
    expect(login.get_by_label("Usuário")).to_have_accessible_description("Informe usuário e senha.")
    assert_accessible(page, "login")
    console_login(page, handoff.base_url, SUPERVISOR, PASSWORD)

    # The desk with a call open, taken; its tabs by keyboard.
    open_attendance(handoff, contact={"name": "Joana"})
    page.locator("#queue button", has_text="Joana").click()
    page.get_by_role("button", name="Atender").click()
    expect(page.locator("#mine button", has_text="Joana")).to_be_visible()
    assert_accessible(page, "desk, Conversa")
    page.get_by_role("tab", name="Conversa").focus()
    tab_by_keyboard(page, "ArrowLeft", "Início")
    expect(page.locator("#kb-list li").first).to_be_visible()
    assert_accessible(page, "desk, Início")
    tab_by_keyboard(page, "End", "Resumo")
    # A customer form's error, tied to its field.
    page.get_by_role("button", name="Cadastrar novo cliente").click()
    customer = page.locator("#customer-form")
    customer.get_by_role("button", name="SALVAR").click()
    expect(customer.get_by_label("Nome *")).to_have_accessible_description("Informe o nome.")
    expect(customer.get_by_label("Nome *")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "desk, Resumo, Cadastrar cliente")

    # Every Supervisão tab, from one to the next with the arrow keys.
    page.get_by_role("button", name="Supervisão").click()
    expect(page.locator(".room-card")).not_to_have_count(0)
    assert_accessible(page, "Supervisão, Painel")
    page.get_by_role("tab", name="Painel").focus()
    tab_by_keyboard(page, "ArrowRight", "Operadores")
    page.get_by_role("button", name="Novo operador").click()
    operator = page.locator("#operator-form")
    operator.get_by_label("Nome").fill("Rita Lima")
    operator.get_by_label("Usuário").fill("rita")
    operator.get_by_label("Senha").fill("curta")
    operator.get_by_role("button", name="SALVAR").click()
    expect(operator.get_by_label("Senha")).to_have_accessible_description(
        "A senha deve ter ao menos 8 caracteres."
    )
    assert_accessible(page, "Supervisão, Operadores")
    page.get_by_role("tab", name="Operadores").focus()
    tab_by_keyboard(page, "ArrowRight", "Salas")
    expect(page.locator("#rooms-list li")).not_to_have_count(0)
    assert_accessible(page, "Supervisão, Salas")
    tab_by_keyboard(page, "ArrowRight", "Respostas prontas")
    expect(page.locator("#reply-form")).to_be_visible()
    assert_accessible(page, "Supervisão, Respostas prontas")
    page.get_by_role("tab", name="Respostas prontas").focus()
    tab_by_keyboard(page, "ArrowRight", "Relatórios")
    generate_report(page, today())
    expect(page.locator("#report-chart canvas")).to_be_visible()
    assert_accessible(page, "Supervisão, Relatórios")
    page.get_by_role("tab", name="Relatórios").focus()
    tab_by_keyboard(page, "ArrowRight", "Protocolo")
    assert_accessible(page, "Supervisão, Protocolo")
    tab_by_keyboard(page, "ArrowRight", "Dados pessoais")
    assert_accessible(page, "Supervisão, Dados pessoais")
    page.get_by_role("tab", name="Dados pessoais").focus()
    tab_by_keyboard(page, "ArrowRight", "Pendências")
    expect(page.locator("#admin-pendencias")).to_be_visible()
    assert_accessible(page, "Supervisão, Pendências")
    page.get_by_role("tab", name="Pendências").focus()
    tab_by_keyboard(page, "ArrowRight", "Pedidos de registro")
    expect(page.get_by_text("Nenhum pedido pendente.")).to_be_visible()
    assert_accessible(page, "Supervisão, Pedidos de registro")
    page.get_by_role("tab", name="Pedidos de registro").focus()
    tab_by_keyboard(page, "ArrowRight", "Falhas")
    expect(page.get_by_text("Nenhuma falha pendente.")).to_be_visible()
    assert_accessible(page, "Supervisão, Falhas")
    tab_by_keyboard(page, "ArrowRight", "Painel")  # from the last tab back to the first
    tab_by_keyboard(page, "End", "Falhas")
    tab_by_keyboard(page, "Home", "Painel")
    page.close()
