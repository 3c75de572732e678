"""Chromium driven by Playwright, and an organisation's site to embed the widget in."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect, sync_playwright

from tests.support.processes import Stack

# An expectation waits up to 30 s for the page (Playwright's default is 5 s):
# a bound for "stuck" on a shared, noisy machine, never a measure.
expect.set_options(timeout=30_000)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def console_login(page: Page, base_url: str, username: str, password: str) -> None:
    """Log in to the console at ``base_url`` and wait until it is at the desk."""
    page.goto(f"{base_url}/console/")
    page.locator("#login-form").get_by_label("Usuário").fill(username)
    page.locator("#login-form").get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_label("Situação")).to_have_value("available")


CHAT = "iframe[title='Bate-papo']"
# An init script: each frame notes the messages it receives (type and
# sender's origin), before the page's own listeners run.
HEARD = """window.__heard = [];
addEventListener("message", (e) => __heard.push(`${e.data && e.data.type} ${e.origin}`));"""


def chat(page: Page) -> FrameLocator:
    """The widget's conversation: the frame its loader puts on ``page``."""
    return page.frame_locator(CHAT)


def start_chat(page: Page, name: str) -> None:
    """Open the widget and fill its pre-chat form as visitor ``name``."""
    page.locator(".bar").click()
    widget = chat(page)
    widget.get_by_label("Nome").fill(name)
    widget.get_by_label("E-mail").fill(f"{name.lower()}@example.com")
    widget.get_by_role("button", name="INICIAR BATE-PAPO").click()


def say(page: Page, text: str) -> None:
    """The visitor sends ``text`` from the widget."""
    chat(page).get_by_label("Mensagem").fill(text)
    chat(page).get_by_role("button", name="Enviar").click()


# A site on socket.io 2 has its own ``window.io``: a function whose sockets
# have no ``timeout()`` and, here, never connect.
SOCKET_IO_2 = """<script>window.io = function () {
  return { connected: false, on() { return this; }, emit() { return this; } };
}; window.io.version = "2.5.0";</script>"""


def host_page(stack: Stack, rasa_url: str = "", head: str = "", color: str = "") -> str:
    """An organisation's page with CSS of its own (and ``head``) and the one
    script tag (dialling the stack's Rasa, or ``rasa_url``; brand colour
    ``color``, default red)."""
    rasa_url = rasa_url or stack.rasa_url
    color = html.escape(color or "#c62828")
    return f"""<!doctype html><html lang="pt-BR"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <style>body {{ background: #fffbea; font-family: Georgia; }}
             button, input, li {{ color: green !important; background: yellow !important; }}</style>
      {head}</head><body><h1>Prefeitura de Exemplo</h1>
      <script src="{stack.handoff_url}/widget/widget.js" data-title="Fale com a Prefeitura"
              data-color="{color}" data-rasa-url="{rasa_url}"></script></body></html>"""


def framing_page(stack: Stack) -> str:
    """Another origin's page (``localhost`` for ``127.0.0.1``): it frames the
    organisation's page (``#site``), a widget frame named for it
    (``#forged``) and one named for itself (``#own``)."""
    site = stack.site_url
    frame = f"{stack.handoff_url}/widget/frame.html?rasa={stack.rasa_url}&host="
    own = site.replace("127.0.0.1", "localhost")
    return f"""<!doctype html><html><body>
      <iframe id="site" src="{site}/" width="600" height="600"></iframe>
      <iframe id="forged" src="{frame}{site}"></iframe>
      <iframe id="own" src="{frame}{own}" width="340" height="380"></iframe></body></html>"""


@pytest.fixture(scope="module")
def host_url(stack: Stack) -> Iterator[str]:
    """The organisation's site: its own server, so another origin than ours.
    ``?rasa_url=...`` serves the page with its widget dialling that address,
    ``?io=2`` with a ``window.io`` of its own, ``?color=...`` with that
    brand colour; ``/framing`` is
    :func:`framing_page` (for another origin, ``localhost`` instead of
    ``127.0.0.1``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            head = SOCKET_IO_2 if query.get("io") == ["2"] else ""
            page = host_page(
                stack, query.get("rasa_url", [""])[0], head, query.get("color", [""])[0]
            )
            body = (framing_page(stack) if url.path == "/framing" else page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    # The port the stack reserved for it: Rasa accepts the widget from this origin.
    server = ThreadingHTTPServer(("127.0.0.1", int(stack.site_url.rsplit(":", 1)[1])), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"{stack.site_url}/"
    server.shutdown()
