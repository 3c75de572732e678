"""Supervisão → Falhas in Chromium, on a running stack: dead letters made for
real (Rasa's broker endpoint for events it gave up on) are listed with their
pt-BR label and the customer's text, a new one appears live, "Tentar
novamente" stores the customer's message in its attendance (an operator sees
it arrive), an API error shows next to its row, and "Descartar", confirmed,
drops one for good. A plain operator has no Supervisão at all."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from handoff.db import Database
from handoff.models import OutboxJob
from tests.support.api import Client, open_attendance, post_rasa_events
from tests.support.processes import Service, Stack
from tests.test_admin_browser import SCREENSHOTS, login

pytestmark = pytest.mark.slow
IMPORT_LABEL = "Mensagens do cliente não gravadas"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def set_aside(handoff: Service, conversation_id: str, text: str) -> None:
    """What Rasa's event broker does with events the events route kept refusing."""
    event = {
        "event": "user",
        "sender_id": conversation_id,
        "text": text,
        "message_id": f"m-{conversation_id}",
        "timestamp": time.time(),
    }
    response = post_rasa_events(handoff.base_url, [event], "dead-letters")
    assert response.json() == {"stored": 1}, response.text


def dead_letters(supervisor: Client) -> dict[str, dict]:
    """The dead letters by conversation, as the API lists them."""
    response = supervisor.get("/api/admin/dead-letters")
    assert response.status_code == 200, response.text
    return {d["payload"]["conversation_id"]: d for d in response.json()["dead_letters"]}


def test_supervisors_retry_and_discard_dead_letters(browser: Browser, stack: Stack):
    handoff = next(s for s in stack.services if s.name == "handoff")
    supervisor = Client(handoff, "supervisor", "atendimento123")
    attendance = open_attendance(handoff, contact={"name": "Carla Dias"})
    first = attendance["conversation_id"]
    set_aside(handoff, first, "Meu IPTU veio com valor errado")

    # A plain operator has no Supervisão; here she follows Carla's call.
    desk = browser.new_page(viewport={"width": 1366, "height": 768})
    login(desk, stack, "operador", "atendimento123")
    expect(desk.get_by_role("button", name="Supervisão")).to_be_hidden()
    expect(desk.locator("#admin-falhas")).to_be_hidden()
    desk.locator("#queue button", has_text="Carla Dias").click()
    messages = desk.get_by_label("Mensagens")
    expect(messages).to_be_visible()
    expect(messages).not_to_contain_text("Meu IPTU")

    boss = browser.new_page(viewport={"width": 1366, "height": 768})
    login(boss, stack, "supervisor", "atendimento123")
    boss.get_by_role("button", name="Supervisão").click()
    tab = boss.get_by_role("tab", name="Falhas")
    expect(tab).to_have_text("Falhas (1)")
    tab.click()
    rows = boss.locator("#dead-letters-table tr")
    row = rows.filter(has_text=first)
    expect(row).to_contain_text(IMPORT_LABEL)
    expect(row).to_contain_text("“Meu IPTU veio com valor errado”")
    expect(row).to_contain_text("O Rasa desistiu de entregá-las")
    expect(boss.get_by_text("Nenhuma falha pendente.")).to_be_hidden()

    # Another one arrives while the tab is open.
    second = "visitante-sem-atendimento"
    set_aside(handoff, second, "Quero falar com alguém, por favor")
    other = rows.filter(has_text=second)
    expect(other).to_contain_text("“Quero falar com alguém, por favor”")
    expect(tab).to_have_text("Falhas (2)")
    boss.screenshot(path=str(SCREENSHOTS / "18-supervisao-falhas.png"))

    # Retried, Carla's message is stored in her attendance: the operator sees it.
    row.get_by_role("button", name="Tentar novamente").click()
    expect(row).to_have_count(0)
    expect(messages).to_contain_text("Meu IPTU veio com valor errado")
    assert list(dead_letters(supervisor)) == [second]
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:  # the job was deleted as the message was stored
        assert (
            uow.session.scalars(select(OutboxJob).where(OutboxJob.key == f"from:{first}")).all()
            == []
        )
    db.dispose()

    # Without the server, the failure is said in pt-BR next to its row.
    boss.context.set_offline(True)
    other.get_by_role("button", name="Tentar novamente").click()
    expect(other).to_contain_text("Sem conexão com o servidor. Tente novamente.")
    boss.context.set_offline(False)
    assert list(dead_letters(supervisor)) == [second]

    # Descartar asks first; "Voltar" keeps it, confirming drops it for good.
    dialog = boss.locator("#confirm-dialog")
    other.get_by_role("button", name="Descartar").click()
    dialog.get_by_role("button", name="Voltar").click()
    expect(dialog).to_be_hidden()
    assert list(dead_letters(supervisor)) == [second]
    other.get_by_role("button", name="Descartar").click()
    dialog.get_by_role("button", name="Descartar").click()
    expect(rows).to_have_count(0)
    expect(boss.get_by_text("Nenhuma falha pendente.")).to_be_visible()
    expect(tab).to_have_text("Falhas")
    assert dead_letters(supervisor) == {}
    boss.close()
    desk.close()
