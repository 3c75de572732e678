"""Opening hours (issue 20, item 2) with the three real processes, a real
Chromium and WhatsApp through the Graph fake. The handoff service runs on a
clock the test moves (tests/support/moved_clock.py): a customer who writes
while the room is closed is told when it opens and what happens to their
message; when the clock reaches the opening, the attendance is in the
queue and an operator takes it with the message."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from handoff.demo import DEMO_PASSWORD, DEMO_SUPERVISOR, DEMO_USERNAME
from tests.support.api import Client
from tests.support.axe import serious_violations
from tests.support.browser import chat, console_login
from tests.support.fake_graph import FakeGraph
from tests.support.moved_clock import set_shift
from tests.support.processes import ROOT, Stack, wait_until
from tests.support.whatsapp import citizen, post, text

pytestmark = pytest.mark.slow

SP = ZoneInfo("America/Sao_Paulo")
HOURS = "## atendimento\n- seg-sex 08:00-18:00\n- fora do horário: recado\n"


def local(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=SP)


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hours")
    (folder / "horarios.md").write_text(HOURS, encoding="utf-8")
    (folder / "feriados.md").write_text("- 25/12/2026 Natal\n", encoding="utf-8")
    set_shift(folder / "clock", local("2026-12-05 10:00"))  # a Saturday
    return folder


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph, content: Path) -> dict[str, str]:
    return {
        "WHATSAPP_API_BASE_URL": graph.base_url,
        "MOVED_CLOCK_FILE": str(content / "clock"),
        "HANDOFF_HOURS_FILE": str(content / "horarios.md"),
        "HANDOFF_HOLIDAYS_FILE": str(content / "feriados.md"),
    }


@pytest.fixture
def move_clock(content: Path, stack: Stack) -> Iterator[object]:
    """``move_clock(local_time)``: the service's clock is then there."""

    def move(to: datetime) -> None:
        set_shift(content / "clock", to)

    yield move


def login(stack: Stack, username: str) -> Client:
    return Client(SimpleNamespace(base_url=stack.handoff_url, env={}), username, DEMO_PASSWORD)


def customer_texts(client: Client, attendance_id: int) -> list[str]:
    rows = client.get(f"/api/attendances/{attendance_id}/messages").json()["messages"]
    return [m["text"] for m in rows if m["direction"] == "customer"]


def open_now(client: Client) -> bool:
    return bool(client.get("/api/rooms/hours").json()["rooms"][0]["open"])


def queued_call(client: Client, conversation_id: str) -> dict:
    return wait_until(
        lambda: next(
            (a for a in client.get("/api/attendances").json()["queued"]
             if a["conversation_id"] == conversation_id),
            None,
        ),
        what="the attendance in the queue",
    )  # fmt: skip


def closed_console(console: Page, stack: Stack) -> None:
    """What the supervisor's console shows while the room is closed: Início
    says so and marks the call; Supervisão's room card too, and its hours
    form ties an error to its field."""
    console.set_viewport_size({"width": 1366, "height": 900})
    console_login(console, stack.handoff_url, DEMO_SUPERVISOR, DEMO_PASSWORD)
    expect(console.locator("#rooms-closed")).to_have_text(
        "Atendimento ao cidadão: Fechada · abre segunda-feira, 07/12, às 8h."
    )
    rosa = console.locator("#queue button", has_text="Rosa")
    expect(rosa.locator(".outside-hours")).to_have_text("fora do horário")
    console.get_by_role("button", name="Supervisão").click()
    card = console.locator(".room-card")
    expect(card.locator(".open-state")).to_have_text("Fechada · abre segunda-feira, 07/12, às 8h")
    expect(card.locator(".queue-places li", has_text="Rosa")).to_contain_text("fora do horário")
    console.get_by_role("tab", name="Salas").click()
    form = console.locator(".hours-form")
    expect(form).to_contain_text("Horário do arquivo horarios.md")
    hours = form.get_by_label("Horários")
    expect(hours).to_have_value("seg-sex 08:00-18:00")
    hours.fill("seg-sex 8h às 18h")
    form.get_by_role("button", name="SALVAR").click()
    expect(form.locator('[data-field="hours"]')).to_contain_text("Linha 1:")
    expect(hours).to_have_attribute("aria-invalid", "true")
    assert serious_violations(console) == []
    console.close()


def test_outside_hours_the_widget_visitor_leaves_a_message_served_when_the_room_opens(
    browser: Browser, stack: Stack, host_url: str, move_clock
):
    move_clock(local("2026-12-05 10:00"))  # Saturday: closed
    context = browser.new_context(viewport={"width": 480, "height": 720})
    page = context.new_page()
    try:
        page.goto(host_url)
        page.locator(".bar").click()
        widget = chat(page)
        expect(widget.get_by_role("status").first).to_have_text(
            "Nosso atendimento funciona de segunda a sexta, das 8h às 18h. "
            "Abriremos segunda-feira, 07/12, às 8h. Deixe aqui sua mensagem, com seu nome e um "
            "telefone ou e-mail para contato: ela fica registrada e um atendente responde assim "
            "que abrirmos."
        )
        form = widget.locator("form.recado")
        form.get_by_label("Nome").fill("Rosa")
        form.get_by_label("Mensagem").fill("O carnê do IPTU veio com o endereço errado.")
        form.get_by_role("button", name="DEIXAR RECADO").click()
        expect(form.get_by_text("Informe um e-mail ou um telefone com DDD.")).to_be_visible()
        form.get_by_label("E-mail ou telefone").fill("(61) 99876-1234")
        form.get_by_role("button", name="DEIXAR RECADO").click()
        told = widget.locator("li.bot", has_text="transferido(a)")
        expect(told).to_contain_text("Abriremos segunda-feira, 07/12, às 8h.")
        # The form left the message: the visitor is not asked for it again.
        expect(told).to_contain_text("Recebemos sua mensagem: ela fica registrada")
        expect(told).not_to_contain_text("Deixe aqui")
        left = widget.locator("li.me", has_text="endereço errado")
        expect(left).not_to_have_class(re.compile(r"\bpending\b"))
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / "23-widget-fora-do-horario.png"))
        closed_console(context.new_page(), stack)

        # Monday at opening time (the sessions of Saturday have expired): the
        # room opens, the call waits first in line with the message.
        move_clock(local("2026-12-07 08:00:05"))
        boss = login(stack, DEMO_SUPERVISOR)
        wait_until(lambda: open_now(boss), what="the room open at 8h")
        operator = login(stack, DEMO_USERNAME).available()
        waiting = operator.get("/api/attendances").json()["queued"]
        rosa = next(a for a in waiting if a["contact_name"] == "Rosa")
        assert rosa["queued_outside_hours"] is True and rosa["position"] == 1
        assert operator.take(rosa["id"]).status_code == 200
        assert customer_texts(operator, rosa["id"]) == [
            "O carnê do IPTU veio com o endereço errado.\n\nTelefone para contato: (61) 99876-1234"
        ]
        assert operator.send(rosa["id"], "Bom dia, Rosa! Vou verificar.").status_code == 201
        expect(widget.locator("li.operator", has_text="Vou verificar")).to_be_visible()
    finally:
        context.close()


def test_outside_hours_a_whatsapp_citizen_leaves_a_message_served_when_the_room_opens(
    stack: Stack, graph: FakeGraph, move_clock
):
    move_clock(local("2026-12-14 19:30"))  # Monday evening: closed
    wa_id = citizen()
    assert post(stack, text(wa_id, "Bom dia, preciso de ajuda", name="Zeca")).status_code == 200
    told = graph.wait_for_text(wa_id, "transferido")["text"]["body"]
    assert "Abriremos amanhã, 15/12, às 8h." in told
    assert "Deixe aqui sua mensagem, com seu nome e um telefone ou e-mail" in told
    message = f"Zeca Souza, (61) 98888-7777: meu alvará venceu ({uuid.uuid4().hex[:6]})"
    assert post(stack, text(wa_id, message)).status_code == 200

    move_clock(local("2026-12-15 08:00:05"))  # Tuesday, opening time
    boss = login(stack, DEMO_SUPERVISOR)
    wait_until(lambda: open_now(boss), what="the room open at 8h")
    operator = login(stack, DEMO_USERNAME).available()
    call = queued_call(operator, wa_id)
    assert call["queued_outside_hours"] is True
    assert operator.take(call["id"]).status_code == 200

    wait_until(
        lambda: message in customer_texts(operator, call["id"]),
        what="the message left while closed",
    )
