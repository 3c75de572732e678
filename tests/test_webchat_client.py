"""A standard community web chat against the product: rasa-webchat 1.0.1
(npm), embedded in an organisation's page as its README shows, in Chromium,
with the real stack (docs/webchat.md).

The visitor's name and e-mail travel as rasa-webchat's ``customData``; its
``initPayload`` ("/get_started") gets the welcome and queues nothing; the
first real message hands the visitor to an operator, whose replies, the
protocol and the closing message show as text in rasa-webchat's window.
Our own widget still shows an operator message it gets twice once, reading
the id where it now travels.
"""

from __future__ import annotations

import functools
import json
import subprocess
import tarfile
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import chat
from tests.support.clients import Operator, conversation_id
from tests.support.processes import SERVICE_TOKEN, Stack
from tests.test_widget import say, start_chat

pytestmark = pytest.mark.slow

WEBCHAT = "rasa-webchat@1.0.1"
# Generous "stuck" bound: rasa-webchat types each bot message out with a delay.
SHOWN = 60_000


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def webchat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rasa-webchat's browser bundle, from the npm registry into this run's tmp."""
    folder = tmp_path_factory.mktemp("rasa-webchat")
    try:
        subprocess.run(
            ["npm", "pack", WEBCHAT, "--pack-destination", str(folder), "--cache", str(folder)],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", "") or error
        pytest.fail(f"could not install {WEBCHAT} from the npm registry: {detail}")
    with tarfile.open(folder / "rasa-webchat-1.0.1.tgz") as archive:
        archive.extract("package/lib/index.js", folder, filter="data")
    return folder / "package" / "lib" / "index.js"


def page_html(stack: Stack) -> str:
    """The organisation's page with rasa-webchat set up as its README shows."""
    settings = {
        "socketUrl": stack.rasa_url,
        "socketPath": "/socket.io/",
        "initPayload": "/get_started",
        "customData": {"name": "Maria Souza", "email": "maria@example.com"},
        "title": "Prefeitura de Exemplo",
        "inputTextFieldHint": "Digite sua mensagem",
    }
    return f"""<!doctype html><html lang="pt-BR"><head><meta charset="utf-8"></head>
      <body><h1>Prefeitura de Exemplo</h1>
      <script src="/rasa-webchat.js"></script>
      <script>WebChat.default({json.dumps(settings)}, null);</script></body></html>"""


@pytest.fixture(scope="module")
def site(stack: Stack, webchat: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The organisation's site on the origin Rasa accepts (WIDGET_ALLOWED_ORIGINS)."""
    folder = tmp_path_factory.mktemp("site")
    (folder / "index.html").write_text(page_html(stack), encoding="utf-8")
    (folder / "rasa-webchat.js").write_bytes(webchat.read_bytes())

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", int(stack.site_url.rsplit(":", 1)[1])), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"{stack.site_url}/"
    server.shutdown()


def bot_says(page: Page, text: str) -> None:
    """``text`` is shown as a bot message (rasa-webchat's text bubble)."""
    expect(page.locator(".rw-response .rw-message-text").filter(has_text=text)).to_be_visible(
        timeout=SHOWN
    )


def visitor_says(page: Page, text: str) -> None:
    page.locator(".rw-new-message").fill(text)
    page.locator(".rw-send").click()


def test_a_rasa_webchat_visitor_is_attended(browser: Browser, stack: Stack, site: str):
    operator = Operator(stack.handoff_url)
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    try:
        page.goto(site)
        page.locator(".rw-launcher").click()

        # initPayload: the welcome, and no attendance queued by it.
        bot_says(page, "Bem-vindo(a) ao atendimento")
        token = page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id")
        conversation = conversation_id(token)
        listed = operator.call("attendances:list", {})
        assert [a for a in listed["queued"] if a["conversation_id"] == conversation] == []

        # The first real message hands off, with customData's name and e-mail.
        first = "Preciso da segunda via do IPTU"
        visitor_says(page, first)
        bot_says(page, "transferido(a)")
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == conversation
        )
        assert (queued["contact_name"], queued["contact_email"]) == (
            "Maria Souza",
            "maria@example.com",
        )
        message = operator.wait_for("message:new", lambda m: m["direction"] == "customer")
        assert message["text"] == first

        # The operator's reply shows as text; the visitor's answer reaches the operator.
        assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
        reply = "Olá, Maria! Qual é a inscrição do imóvel?"
        sent = operator.call(
            "message:send",
            {"attendance_id": queued["id"], "text": reply, "client_id": uuid.uuid4().hex},
        )
        assert sent["ok"], sent
        bot_says(page, reply)
        visitor_says(page, "É a inscrição 123.456")
        answer = operator.wait_for("message:new", lambda m: m["text"] == "É a inscrição 123.456")
        assert answer["direction"] == "customer"

        # Finishing shows the protocol and the closing message.
        assert operator.call("attendance:finish", {"attendance_id": queued["id"]})["ok"]
        bot_says(page, f"Número do protocolo: {sent['protocol']}")
        bot_says(page, "Obrigado pelo contato!")
    finally:
        context.close()
        operator.close()


def test_our_widget_shows_an_operator_message_sent_twice_once(browser: Browser, stack: Stack):
    """After a restart Rasa sends an operator message asked for again (at
    least once on the channel): the widget knows it by the id in its metadata."""
    operator = Operator(stack.handoff_url)
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{stack.handoff_url}/widget/")
        start_chat(page, "Rita")
        widget = chat(page)
        say(page, "preciso de ajuda")
        expect(widget.get_by_text("transferido(a)")).to_be_visible()
        queued = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Rita")
        operator.call("attendance:take", {"attendance_id": queued["id"]})

        def send(text: str) -> dict:
            sent = operator.call(
                "message:send",
                {"attendance_id": queued["id"], "text": text, "client_id": uuid.uuid4().hex},
            )
            assert sent["ok"], sent
            expect(widget.locator("li", has_text=text)).to_have_count(1, timeout=SHOWN)
            return sent["message"]

        first = send("Oi, Rita!")
        rasa = next(s for s in stack.services if s.name == "rasa")
        rasa.stop()
        rasa.start()
        send("Pode me dizer o número do protocolo anterior?")  # reconnected, history read
        again = requests.post(
            f"{stack.rasa_url}/webhooks/operator_messages/deliver",
            json={
                "conversation_id": queued["conversation_id"],
                "text": first["text"],
                "handoff_message_id": first["id"],
            },
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
            timeout=30,
        )
        assert again.json() == {"delivered": True}
        send("Aguardo.")  # the copy, sent before this one, has arrived
        expect(widget.locator("li", has_text="Oi, Rita!")).to_have_count(1)
    finally:
        context.close()
        operator.close()
