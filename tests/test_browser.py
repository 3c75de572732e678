"""The product as people use it: the widget on a host page and the operator
console, in a real Chromium, against the real processes."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.processes import ROOT, Stack

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
XSS = '<img src=x onerror="window.pwned=1">'


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine is enough here; the protocol itself is tested on both."""
    return "sqlite"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def host_page(stack: Stack) -> str:
    """An organisation's page with CSS of its own and the one script tag."""
    return f"""<!doctype html><html lang="pt-BR"><head><meta charset="utf-8">
      <style>body {{ background: #fffbea; font-family: Georgia; }}
             button, input, li {{ color: green !important; background: yellow !important; }}</style>
      </head><body><h1>Prefeitura de Exemplo</h1>
      <script src="{stack.handoff_url}/widget/widget.js" data-title="Fale com a Prefeitura"
              data-color="#c62828" data-rasa-url="{stack.rasa_url}"></script></body></html>"""


@pytest.fixture(scope="module")
def host_url(stack: Stack) -> Iterator[str]:
    """The organisation's site: its own server, so another origin than ours."""
    body = host_page(stack).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def open_host_page(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(url)
    return page


def test_visitor_and_operator_in_the_browser(browser: Browser, stack: Stack, host_url: str):
    visitor = open_host_page(browser, host_url)
    bar = visitor.locator(".bar")
    expect(bar).to_have_text("Fale com a Prefeitura")
    assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
    bar.click()

    # Pre-chat validation in place, then start.
    visitor.get_by_role("button", name="INICIAR BATE-PAPO").click()
    expect(visitor.get_by_text("Informe seu nome.")).to_be_visible()
    expect(visitor.get_by_text("Informe um e-mail válido.")).to_be_visible()
    visitor.get_by_label("Nome").fill("Maria Souza")
    visitor.get_by_label("E-mail").fill("maria@exemplo")
    visitor.get_by_role("button", name="INICIAR BATE-PAPO").click()
    expect(visitor.get_by_text("Informe um e-mail válido.")).to_be_visible()
    visitor.get_by_label("E-mail").fill("maria@example.com")
    visitor.get_by_role("button", name="INICIAR BATE-PAPO").click()
    visitor.get_by_label("Mensagem").fill(f"Preciso do IPTU {XSS}")
    visitor.get_by_role("button", name="Enviar").click()
    expect(visitor.get_by_text("transferido(a)")).to_be_visible()

    # The operator logs in, sees the call on the left, takes it.
    console = browser.new_page(viewport={"width": 1366, "height": 768})
    console.goto(f"{stack.handoff_url}/console/")
    console.get_by_label("Usuário").fill("operador")
    console.get_by_label("Senha").fill("errada")
    console.get_by_role("button", name="Entrar").click()
    expect(console.get_by_text("Usuário ou senha inválidos.")).to_be_visible()
    console.get_by_label("Senha").fill("atendimento123")
    console.get_by_role("button", name="Entrar").click()
    call = console.locator("#queue button", has_text="Maria Souza")
    expect(call).to_be_visible()
    call.click()
    console.get_by_role("button", name="Atender").click()

    # The customer's text is shown as text, not HTML, on both sides.
    expect(console.locator("#messages li.customer")).to_contain_text(XSS)
    assert console.locator("#messages img").count() == 0
    assert visitor.locator(".messages img").count() == 0
    assert console.evaluate("window.pwned") is None and visitor.evaluate("window.pwned") is None

    # Enter sends; the first message brings the protocol notice.
    console.get_by_label("Mensagem").fill("Olá, Maria! Qual é a inscrição do imóvel?")
    console.get_by_label("Mensagem").press("Enter")
    dialog = console.locator("#protocol-dialog")
    expect(dialog).to_be_visible()
    protocol = console.locator("#protocol-number").inner_text()
    assert re.fullmatch(r"20\d{8}", protocol)
    console.screenshot(path=str(SCREENSHOTS / "console-protocol.png"))
    dialog.get_by_role("button", name="OK").click()
    expect(visitor.get_by_text("Olá, Maria! Qual é a inscrição do imóvel?")).to_be_visible()
    expect(console.locator("#messages li.operator .meta")).to_have_text("enviada")

    # A reload keeps the conversation.
    visitor.reload()
    visitor.locator(".bar").click()
    expect(visitor.get_by_text("Olá, Maria! Qual é a inscrição do imóvel?")).to_be_visible()
    visitor.get_by_label("Mensagem").fill("É a 123.456")
    visitor.get_by_role("button", name="Enviar").click()
    expect(console.locator("#messages li.customer", has_text="É a 123.456")).to_be_visible()

    # Finalizar asks for confirmation; the visitor gets the same protocol.
    console.get_by_role("button", name="Finalizar").click()
    confirm = console.locator("#confirm-dialog")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Finalizar").click()
    expect(console.locator("#mine button")).to_have_count(0)
    expect(visitor.get_by_text(f"Número do protocolo: {protocol}")).to_be_visible()
    expect(visitor.get_by_text("pedir para falar com um atendente")).to_be_visible()
    visitor.screenshot(path=str(SCREENSHOTS / "widget-finished.png"))
    console.close()
    visitor.close()
