"""An operator's working day in the console (issue 19, the defects seen in
the walk): alerts that keep working after a reload, for calls already
waiting and for messages not on screen; a screen that is current after a
pause or a new login; every change said where it happens; calls, phones and
documents readable. Real handoff service (no Rasa needed) and Chromium,
through the visible pt-BR words (O0-O8, O11-O13)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from handoff.db import Database
from handoff.models import ABANDONED, ACTIVE, CANCELLED, FINISHED, QUEUED, Attendance, utcnow
from tests.support.api import (
    PASSWORD,
    Client,
    add_operator,
    open_attendance,
    post_rasa_events,
)
from tests.support.browser import console_login
from tests.support.processes import ROOT, Service

pytestmark = pytest.mark.slow
ROOM = "atendimento"  # the demo room
STUCK = 30_000  # ms: a bound for what is expected, never a duration asserted
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def login(page: Page, handoff: Service, username: str) -> None:
    console_login(page, handoff.base_url, username, PASSWORD)


def body_count(page: Page, name: str) -> int:
    return int(page.evaluate(f"document.body.dataset.{name} || '0'"))


def wait_count_above(page: Page, name: str, count: int) -> None:
    """Counts only grow; the console's policy forbids wait_for_function's eval."""
    expect(page.locator("body")).not_to_have_attribute(f"data-{name}", str(count), timeout=STUCK)


def customer_says(handoff: Service, attendance: dict[str, Any], text: str) -> None:
    event = {
        "event": "user",
        "sender_id": attendance["conversation_id"],
        "text": text,
        "message_id": uuid.uuid4().hex,
        "timestamp": utcnow().timestamp(),
    }
    assert post_rasa_events(handoff.base_url, [event]).status_code == 200


def first_message(text: str) -> dict[str, str]:
    return {"message_id": uuid.uuid4().hex, "text": text}


def new_operator(handoff: Service, **fields: Any) -> str:
    return add_operator(handoff, [ROOM], **fields)


def pause(page: Page, handoff: Service, username: str) -> None:
    """Pause from another session of the operator; the console follows the
    server's notice, so once it shows Pausa it knows it."""
    assert (
        Client(handoff, username)
        .post("/api/me/status", {"status": "paused", "reason": "Intervalo"})
        .ok
    )
    expect(page.get_by_label("Situação")).to_have_value("paused")


def test_alerts_after_a_reload_for_calls_waiting_and_in_the_title(
    browser: Browser, handoff: Service
):
    username = new_operator(handoff, name="Olga Souza")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, handoff, username)
    expect(page).to_have_title("Atendimento")

    # A new call rings and counts in the tab's title.
    rings = body_count(page, "rings")
    waiting = open_attendance(handoff, contact={"name": "Ana Espera"})
    expect(page.locator("#queue button", has_text="Ana Espera")).to_be_visible()
    wait_count_above(page, "rings", rings)
    expect(page).to_have_title("(1) Atendimento")

    # After a reload the session goes on: the call already waiting rings,
    # and the first gesture turns the sound on again.
    page.reload()
    expect(page.locator("#queue button", has_text="Ana Espera")).to_be_visible()
    wait_count_above(page, "rings", 0)
    expect(page).to_have_title("(1) Atendimento")
    page.get_by_role("heading", name="Na fila").click()
    expect(page.locator("body")).to_have_attribute("data-audio", "running")
    tones = body_count(page, "tones")
    open_attendance(handoff, contact={"name": "Beto Som"})
    wait_count_above(page, "tones", tones)
    expect(page).to_have_title("(2) Atendimento")

    # Paused, nothing rings; back to Disponível, the calls waiting do.
    pause(page, handoff, username)
    rings = body_count(page, "rings")
    open_attendance(handoff, contact={"name": "Caio Pausa"})
    expect(page.locator("#queue button", has_text="Caio Pausa")).to_be_visible()
    assert body_count(page, "rings") == rings
    page.get_by_label("Situação").select_option("available")
    wait_count_above(page, "rings", rings)

    # A customer message while the operator reads Início: a mark on Conversa.
    page.locator("#queue button", has_text="Ana Espera").click()
    page.get_by_role("button", name="Atender").click()
    expect(page.locator("#mine button", has_text="Ana Espera")).to_be_visible()
    page.get_by_role("tab", name="Início").click()
    customer_says(handoff, waiting, "Alguém aí?")
    expect(page.locator("#conversa-unread")).to_have_text("1")
    expect(page).to_have_title("(3) Atendimento")  # two calls waiting, one message unread
    page.screenshot(path=str(SCREENSHOTS / "19-alertas-nao-lidas.png"))
    page.get_by_role("tab", name="Conversa").click()
    expect(page.locator("#conversa-unread")).to_be_hidden()
    expect(page.locator("#messages li.customer", has_text="Alguém aí?")).to_be_visible()
    expect(page).to_have_title("(2) Atendimento")
    page.close()


HIDDEN_TAB = """
Object.defineProperty(document, "hidden", { get: () => true });
Object.defineProperty(document, "visibilityState", { get: () => "hidden" });
const Real = window.Notification;
window.Notification = class extends Real {
  static get permission() { return Real.permission; }
  constructor(title, options) {
    super(title, options);
    const shown = document.documentElement.dataset;
    shown.notified = `${shown.notified || ""}|${title}`;
  }
};
"""


def test_with_the_tab_hidden_calls_and_messages_notify(browser: Browser, handoff: Service):
    context = browser.new_context(permissions=["notifications"])
    context.add_init_script(HIDDEN_TAB)
    page = context.new_page()
    login(page, handoff, new_operator(handoff))
    attendance = open_attendance(handoff, contact={"name": "Dora Oculta"})
    notified = page.locator("html")
    waiting = re.compile(r"\|Cliente na fila")
    expect(notified).to_have_attribute("data-notified", waiting, timeout=STUCK)
    page.locator("#queue button", has_text="Dora Oculta").click()
    page.get_by_role("button", name="Atender").click()
    expect(page.locator("#mine button", has_text="Dora Oculta")).to_be_visible()
    customer_says(handoff, attendance, "Ainda preciso de ajuda")
    expect(notified).to_have_attribute(
        "data-notified", re.compile(r"\|Nova mensagem de Dora Oculta"), timeout=STUCK
    )
    context.close()


def test_the_screen_is_current_after_a_pause_and_a_new_login(browser: Browser, handoff: Service):
    username = new_operator(handoff)
    rival = Client(handoff, new_operator(handoff)).available()
    page = browser.new_page()
    login(page, handoff, username)
    waiting = open_attendance(
        handoff, contact={"name": "Edu Pausa"}, first_message=first_message("Bom dia")
    )

    # Paused, Atender is refused; back to Disponível the refusal is gone.
    expect(page.locator("#queue button", has_text="Edu Pausa")).to_be_visible()
    pause(page, handoff, username)
    page.locator("#queue button", has_text="Edu Pausa").click()
    page.get_by_role("button", name="Atender").click()
    expect(page.get_by_text("Fique Disponível para atender.")).to_be_visible()
    page.get_by_label("Situação").select_option("available")
    expect(page.get_by_text("Fique Disponível para atender.")).to_be_hidden()

    # The call on screen is taken by another operator: said, not just gone.
    assert rival.take(waiting["id"]).status_code == 200
    expect(page.get_by_text("assumido por outro operador")).to_be_visible()
    expect(page.get_by_text("Clique em uma chamada à esquerda para atender.")).to_be_visible()

    # A new login starts on a clean screen and shows what arrived meanwhile.
    mine = open_attendance(handoff, contact={"name": "Fabi Volta"})
    page.locator("#queue button", has_text="Fabi Volta").click()
    page.get_by_role("button", name="Atender").click()
    expect(page.locator("#mine button", has_text="Fabi Volta")).to_be_visible()
    page.get_by_role("button", name="Sair").click()
    expect(page.get_by_role("button", name="Entrar")).to_be_visible()
    customer_says(handoff, mine, "Voltei com o documento")
    login(page, handoff, username)
    expect(page.get_by_text("Clique em uma chamada à esquerda para atender.")).to_be_visible()
    expect(page.locator("#attendance")).to_be_hidden()
    page.locator("#mine button", has_text="Fabi Volta").click()
    expect(page.locator("#messages li.customer")).to_contain_text("Voltei com o documento")

    # Finalizar before any reply: the attendance closes and no protocol
    # notice pops up afterwards; the list says it was closed, with its number.
    page.get_by_role("button", name="Finalizar").click()
    page.get_by_label("Assunto").select_option("Outros assuntos")
    page.locator("#confirm-dialog").get_by_role("button", name="Finalizar").click()
    expect(page.get_by_text("Atendimento de Fabi Volta finalizado (protocolo")).to_be_visible()
    expect(page.locator("#mine button", has_text="Fabi Volta")).to_have_count(0)
    expect(page.locator("#protocol-dialog")).to_be_hidden()
    page.close()


def test_an_operator_not_activated_for_chat_is_told_at_login(browser: Browser, handoff: Service):
    page = browser.new_page()
    login(page, handoff, new_operator(handoff, active_for_chat=False))
    expect(page.get_by_text("Você não está ativado para o chat")).to_be_visible()
    open_attendance(handoff, contact={"name": "Gil Sem Chat"})
    page.locator("#queue button", has_text="Gil Sem Chat").click()
    expect(page.locator("#attendance-title")).to_have_text("Gil Sem Chat")
    expect(page.get_by_role("button", name="Atender")).to_be_hidden()
    page.close()


def test_calls_phones_documents_and_statuses_read_well(browser: Browser, handoff: Service):
    username = new_operator(handoff)
    client = Client(handoff, username)
    created = client.post(
        "/api/customers",
        {"name": "Helena Formatada", "phone": "11930936457", "document": "52827091631"},
    )
    assert created.status_code == 201, created.text
    page = browser.new_page()
    login(page, handoff, username)

    # The call list: the phone as people write it, the last message.
    open_attendance(
        handoff,
        contact={"phone": "+5511930936457"},
        first_message=first_message("Quero a segunda via do IPTU de 2025"),
    )
    call = page.locator("#queue button", has_text="(11) 93093-6457")
    expect(call).to_contain_text("Quero a segunda via do IPTU de 2025")
    call.click()
    page.get_by_role("button", name="Atender").click()
    expect(page.locator("#mine button", has_text="(11) 93093-6457")).to_be_visible()

    # The customer panel: phone and CPF formatted, icons shipped with the console.
    page.get_by_placeholder("Nome, e-mail, CPF/CNPJ ou telefone").fill("Helena")
    page.get_by_placeholder("Nome, e-mail, CPF/CNPJ ou telefone").press("Enter")
    result = page.locator("#customer-results li", has_text="Helena Formatada")
    expect(result).to_contain_text("(11) 93093-6457 · 528.270.916-31")
    link = result.get_by_role("button", name="Vincular Helena Formatada ao atendimento")
    assert link.inner_text().strip() == ""  # no emoji, an image
    assert link.locator("img").evaluate("i => i.complete && i.naturalWidth > 0")
    link.click()
    expect(page.get_by_text("Cliente vinculado: Helena Formatada")).to_be_visible()

    # Histórico: an attendance the customer abandoned says so.
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Attendance)
            .where(Attendance.customer_id == created.json()["customer"]["id"])
            .values(status=ABANDONED, ended_at=utcnow(), protocol="2026999001")
        )
    db.dispose()
    result.get_by_role("button", name="Abrir cliente Helena Formatada").click()
    page.get_by_role("button", name="Histórico").click()
    page.get_by_role("button", name="Atendimentos").click()
    expect(page.locator("#customer-history")).to_contain_text("Abandonado pelo cliente")

    # The formatters take every value the service may send.
    shown = page.evaluate(
        """async (statuses) => {
          const f = await import("/console/js/format.js");
          return {
            durations: [-93, null, undefined, NaN, 0, 59.6, 93, 7200, 1e9].map(f.formatDuration),
            phones: ["+5511930936457", "551133334444", "+14155550100", null].map(f.formatPhone),
            documents: ["52827091631", "12ABC34501DE35", "123"].map(f.formatDocument),
            statuses: statuses.map(f.attendanceStatus),
            unknown: f.attendanceStatus("transferred"),
          };
        }""",
        [QUEUED, ACTIVE, FINISHED, CANCELLED, ABANDONED],
    )
    assert shown["durations"] == [
        "—",
        "—",
        "—",
        "—",
        "0 s",
        "1 min 0 s",
        "1 min 33 s",
        "2 h 0 min",
        "11574 d 1 h",
    ]
    assert shown["phones"] == ["(11) 93093-6457", "(11) 3333-4444", "+14155550100", ""]
    assert shown["documents"] == ["528.270.916-31", "12.ABC.345/01DE-35", "123"]
    assert shown["statuses"] == [
        "Na fila",
        "Em atendimento",
        "Finalizado",
        "Cancelado",
        "Abandonado pelo cliente",
    ]
    assert "transferred" in shown["unknown"]
    page.close()
