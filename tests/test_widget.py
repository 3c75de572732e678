"""The visitor's widget (W0-W2) beyond the happy path: a phone screen, the
keyboard, a new tab, a network cut, the size of what a site downloads."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.clients import Operator
from tests.support.outages import TcpProxy
from tests.support.processes import ROOT, Stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def start_chat(page: Page, name: str) -> None:
    page.locator(".bar").click()
    page.get_by_label("Nome").fill(name)
    page.get_by_label("E-mail").fill(f"{name.lower()}@example.com")
    page.get_by_role("button", name="INICIAR BATE-PAPO").click()


def test_phone_screen_and_keyboard(browser: Browser, host_url: str):
    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True)
    page = context.new_page()
    page.goto(host_url)
    box = page.locator(".box").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    # Keyboard only: Tab reaches the bar, Enter opens it, the form submits with Enter.
    page.keyboard.press("Tab")
    expect(page.locator(".bar")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Nome")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.type("Caio")
    page.keyboard.press("Tab")
    page.keyboard.type("caio@example.com")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Mensagem")).to_be_visible()
    assert page.get_by_role("region", name="Bate-papo").is_visible()
    page.screenshot(path=str(ROOT / "docs" / "screenshots" / "14-widget-celular.png"))
    context.close()


def test_new_tab_and_network_cut(browser: Browser, stack: Stack, host_url: str):
    operator = Operator(stack.handoff_url)
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    page.goto(host_url)
    start_chat(page, "Davi")
    page.get_by_label("Mensagem").fill("preciso de ajuda")
    page.get_by_role("button", name="Enviar").click()
    expect(page.get_by_text("transferido(a)")).to_be_visible()
    queued = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Davi")

    # A new tab of the same site shows the same conversation.
    other = context.new_page()
    other.goto(host_url)
    other.locator(".bar").click()
    expect(other.get_by_text("transferido(a)")).to_be_visible()
    other.close()

    # The connection to Rasa drops: what is typed waits, then leaves once.
    rasa = next(s for s in stack.services if s.name == "rasa")
    rasa.stop()
    expect(page.get_by_text("Reconectando…")).to_be_visible(timeout=15000)
    page.get_by_label("Mensagem").fill("escrito sem conexão")
    page.get_by_role("button", name="Enviar").click()
    expect(page.locator("li.pending", has_text="escrito sem conexão")).to_be_visible()
    rasa.start()
    expect(page.locator("li.pending")).to_have_count(0, timeout=30000)
    texts = operator.customer_texts(queued["id"], "escrito sem conexão")
    assert texts.count("escrito sem conexão") == 1
    page.reload()
    page.locator(".bar").click()
    expect(page.get_by_text("escrito sem conexão")).to_have_count(1)
    operator.close()
    context.close()


def test_the_demo_page_dials_the_rasa_it_was_started_with(browser: Browser, stack: Stack):
    """The stack's Rasa listens on a random port, not 5005."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{stack.handoff_url}/widget/")
    script = page.locator("script[src='widget.js']")
    assert script.get_attribute("data-rasa-url") == stack.rasa_url
    expect(page.locator("pre")).to_contain_text(f'src="{stack.handoff_url}/widget/widget.js"')
    expect(page.locator("pre")).to_contain_text(f'data-rasa-url="{stack.rasa_url}"')
    start_chat(page, "Elisa")
    page.get_by_label("Mensagem").fill("preciso de ajuda")
    page.get_by_role("button", name="Enviar").click()
    expect(page.get_by_text("transferido(a)")).to_be_visible()
    expect(page.locator("li.pending")).to_have_count(0)
    context.close()


def test_an_unreachable_rasa_is_said_and_the_message_waits(
    browser: Browser, stack: Stack, host_url: str
):
    rasa_port = int(stack.rasa_url.rsplit(":", 1)[1])
    proxy = TcpProxy(("127.0.0.1", rasa_port))  # its port is closed until it starts
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{host_url}?rasa_url=http://127.0.0.1:{proxy.port}")
        start_chat(page, "Fabio")
        notice = page.get_by_role("status")
        expect(notice).to_contain_text("Não foi possível conectar ao atendimento.")
        page.get_by_label("Mensagem").fill("escrito antes de conectar")
        page.get_by_role("button", name="Enviar").click()
        expect(page.locator("li.pending", has_text="escrito antes de conectar")).to_be_visible()
        proxy.start()
        expect(page.locator("li.pending")).to_have_count(0, timeout=30000)
        expect(notice).to_have_text("")
        expect(page.get_by_text("transferido(a)")).to_be_visible(timeout=30000)
    finally:
        proxy.stop()
        context.close()


def test_the_widget_stays_small():
    """What an organisation's visitors download: the script and the socket.io client."""
    widget = (ROOT / "widget" / "widget.js").stat().st_size
    client = (ROOT / "vendor" / "socket.io.min.js").stat().st_size
    assert widget < 12_000
    assert widget + client < 64_000
