"""The visitor's widget (W0-W2) beyond the happy path: a phone screen, the
keyboard, a new tab, a network cut, the size of what a site downloads; and
its conversation kept in its own frame, out of the host page's reach."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Frame, Locator, Page, expect

from tests.support.axe import serious_violations
from tests.support.browser import CHAT, HEARD, chat, console_login, say, start_chat
from tests.support.clients import Operator
from tests.support.outages import TcpProxy
from tests.support.processes import ROOT, Stack
from tests.support.whatsapp import png

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Files attached in the widget and in Conversa go to a folder of the test's own."""
    return {"HANDOFF_MEDIA_DIR": str(tmp_path_factory.mktemp("media"))}


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
    expect(chat(page).get_by_label("Nome")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.type("Caio")
    page.keyboard.press("Tab")
    page.keyboard.type("caio@example.com")
    page.keyboard.press("Enter")
    expect(chat(page).get_by_label("Mensagem")).to_be_visible()
    assert page.get_by_role("region", name="Bate-papo").is_visible()
    page.screenshot(path=str(ROOT / "docs" / "screenshots" / "14-widget-celular.png"))
    context.close()


def test_new_tab_and_network_cut(browser: Browser, stack: Stack, host_url: str):
    operator = Operator(stack.handoff_url)
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    page.goto(host_url)
    start_chat(page, "Davi")
    say(page, "preciso de ajuda")
    expect(chat(page).get_by_text("transferido(a)")).to_be_visible()
    queued = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Davi")

    # A new tab of the same site shows the same conversation.
    other = context.new_page()
    other.goto(host_url)
    other.locator(".bar").click()
    expect(chat(other).get_by_text("transferido(a)")).to_be_visible()
    other.close()

    # The connection to Rasa drops: what is typed waits, then leaves once.
    rasa = next(s for s in stack.services if s.name == "rasa")
    rasa.stop()
    expect(chat(page).get_by_text("Reconectando…")).to_be_visible(timeout=15000)
    say(page, "escrito sem conexão")
    expect(chat(page).locator("li.pending", has_text="escrito sem conexão")).to_be_visible()
    rasa.start()
    expect(chat(page).locator("li.pending")).to_have_count(0, timeout=30000)
    texts = operator.customer_texts(queued["id"], "escrito sem conexão")
    assert texts.count("escrito sem conexão") == 1
    page.reload()  # the panel stays open
    expect(chat(page).get_by_text("escrito sem conexão")).to_be_visible()
    expect(chat(page).get_by_text("escrito sem conexão")).to_have_count(1)
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
    say(page, "preciso de ajuda")
    expect(chat(page).get_by_text("transferido(a)")).to_be_visible()
    expect(chat(page).locator("li.pending")).to_have_count(0)
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
        notice = chat(page).get_by_role("status")
        expect(notice).to_contain_text("Não foi possível conectar ao atendimento.")
        say(page, "escrito antes de conectar")
        pending = chat(page).locator("li.pending", has_text="escrito antes de conectar")
        expect(pending).to_be_visible()
        proxy.start()
        expect(chat(page).locator("li.pending")).to_have_count(0, timeout=30000)
        expect(notice).to_have_text("")
        expect(chat(page).get_by_text("transferido(a)")).to_be_visible(timeout=30000)
    finally:
        proxy.stop()
        context.close()


def test_the_host_page_holds_no_secret(browser: Browser, stack: Stack, host_url: str):
    """The token and the outbox live in the frame's storage (the service's
    origin): none of them, nor a socket.io client, on the host page."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(host_url)
    # Where an older widget kept its token: removed, not carried over.
    page.evaluate("localStorage.setItem('servicedesk-widget:v2', '{\"token\": \"old\"}')")
    page.reload()
    start_chat(page, "Gabriel")
    say(page, "preciso de ajuda")
    expect(chat(page).get_by_text("transferido(a)")).to_be_visible()
    expect(chat(page).locator("li.pending")).to_have_count(0)
    frame = next(f for f in page.frames if f.url.startswith(f"{stack.handoff_url}/widget/"))
    (saved,) = frame.evaluate("Object.values(localStorage).map((value) => JSON.parse(value))")
    assert len(saved["token"]) >= 32 and saved["outbox"] == []
    host = page.evaluate(
        """() => ({
          storage: JSON.stringify([{...localStorage}, {...sessionStorage}]),
          io: typeof window.io,
          everything: [
            document.documentElement.outerHTML, document.cookie,
            ...[...document.querySelectorAll("*")].map((e) => e.shadowRoot?.innerHTML ?? ""),
            ...Object.keys(window).map((key) => {
              try { return JSON.stringify(window[key]) ?? ""; } catch (_) { return ""; }
            }),
          ].join(" "),
        })"""
    )
    assert host["storage"] == "[{},{}]"
    assert host["io"] == "undefined"
    assert saved["token"] not in host["everything"]
    context.close()


def test_a_site_with_its_own_socket_io_keeps_it(browser: Browser, host_url: str):
    """A site on socket.io 2 (its own ``window.io``): the widget brings its own."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{host_url}?io=2")
    start_chat(page, "Helena")
    say(page, "preciso de ajuda")
    expect(chat(page).get_by_text("transferido(a)")).to_be_visible()
    assert page.evaluate("window.io.version") == "2.5.0"
    context.close()


def post(sender: Page | Frame, window: str, message: dict, target_origin: str = "*") -> None:
    """``sender`` posts ``message``, tagged as the widget's, to ``window`` (an expression)."""
    sender.evaluate(
        f"([message, origin]) => {window}.postMessage"
        "({'servicedesk-widget': true, ...message}, origin)",
        [message, target_origin],
    )


def test_messages_from_another_origin_are_ignored(browser: Browser, stack: Stack, host_url: str):
    """The loader and the widget's frame act only on each other's messages:
    a page on another origin posts them the protocol's commands, in vain;
    and a widget frame named for a page that did not frame it stays blank."""
    other = host_url.replace("127.0.0.1", "localhost").rstrip("/")
    context = browser.new_context()
    context.add_init_script(HEARD)
    page = context.new_page()
    page.goto(f"{other}/framing")

    # The loader on the organisation's page (framed by the other origin).
    site = page.frame_locator("#site")
    site.locator(".bar").click()
    expect(site.frame_locator(CHAT).get_by_label("Nome")).to_be_visible()
    site_frame = next(f for f in page.frames if f.url == host_url)
    post(page, "document.getElementById('site').contentWindow", {"type": "close"})
    site_frame.wait_for_function(f"__heard.includes('close {other}')")
    panel = site.get_by_role("region", name="Bate-papo")
    expect(panel).to_be_visible()
    site.frame_locator(CHAT).get_by_label("Nome").press("Escape")  # the frame's own "close"
    expect(panel).to_be_hidden()
    expect(site.locator(".bar")).to_be_focused()

    # A widget frame whose host is the other origin: told "open" by it, it
    # ignores "closed" from the organisation's page (a third window).
    own = next(f for f in page.frames if f.url.endswith(f"host={other}"))
    page.wait_for_function(f"__heard.includes('ready {stack.handoff_url}')")
    own_window = "document.getElementById('own').contentWindow"
    post(page, own_window, {"type": "state", "open": True}, stack.handoff_url)
    own.wait_for_function(f"__heard.includes('state {other}')")
    post(site_frame, "parent.frames[2]", {"type": "state", "open": False})
    own.wait_for_function(f"__heard.includes('state {stack.site_url}')")
    page.frame_locator("#own").get_by_label("Nome").press("Escape")
    page.wait_for_function(f"__heard.includes('close {stack.handoff_url}')")

    forged = next(f for f in page.frames if f.url.endswith(f"host={stack.site_url}"))
    forged.wait_for_load_state("load")
    assert forged.evaluate("document.querySelector('.chat').hidden") is True
    context.close()


def test_the_widget_stays_small():
    """What an organisation's visitors download: the loader on the host page,
    the frame's page, script and styles, and the socket.io client."""
    widget = ROOT / "widget"
    loader = sum((widget / name).stat().st_size for name in ("widget.js", "widget.css"))
    frame = sum((widget / name).stat().st_size for name in ("frame.html", "frame.js", "frame.css"))
    client = (ROOT / "vendor" / "socket.io.min.js").stat().st_size
    assert loader < 6_000
    # 80 KB: about 33 KB of our own code (files, buttons and stars, the
    # leave-a-message form included) and the 47 KB socket.io client.
    assert loader + frame + client < 80_000


def loaded(image: Locator) -> None:
    """The image was fetched and decoded (the stripes are 240 pixels wide)."""
    expect(image).to_have_js_property("naturalWidth", 240, timeout=30_000)


def test_files_both_ways_between_the_widget_and_conversa(
    browser: Browser, stack: Stack, host_url: str
):
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(host_url)
    start_chat(page, "Iolanda")
    say(page, "quero mandar a conta")
    widget = chat(page)
    expect(widget.get_by_text("transferido(a)")).to_be_visible()
    console = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(console, stack.handoff_url, "operador", "atendimento123")
    console.locator("#queue button", has_text="Iolanda").click()
    console.get_by_role("button", name="Atender").click()
    expect(
        console.locator("#messages li.customer", has_text="quero mandar a conta")
    ).to_be_visible()

    # The visitor's photo, seen by the operator as WhatsApp media are.
    files = widget.locator("input.file")
    photo = {"name": "conta.png", "mimeType": "image/png", "buffer": png()}
    files.set_input_files(files=[photo])
    expect(widget.locator("li.me", has_text="conta.png")).to_be_visible()
    expect(widget.locator("li.me.pending")).to_have_count(0, timeout=30_000)
    image = console.locator("#messages li.customer", has_text="Foto").locator("img")
    expect(image).to_be_visible(timeout=30_000)
    loaded(image)

    # Refused in pt-BR: a type the widget does not take, and bytes that are
    # not what their name says (the service sniffs them).
    files.set_input_files(files=[{"name": "a.gif", "mimeType": "image/gif", "buffer": b"GIF89a"}])
    expect(widget.locator(".status")).to_have_text(
        "Tipo de arquivo não aceito. Envie uma foto (JPEG ou PNG) ou um PDF."
    )
    fake = {"name": "b.png", "mimeType": "image/png", "buffer": b"<html>not an image</html>"}
    files.set_input_files(files=[fake])
    expect(widget.locator(".status")).to_have_text(
        "Tipo de arquivo não aceito. Envie uma foto (JPEG ou PNG) ou um PDF."
    )

    # The operator's PDF with a caption, and a photo: a link and an image
    # in the widget, fetched with the conversation's token.
    pdf = b"%PDF-1.4\n" + b"1" * 3000
    console.locator("#draft").fill("Segue a guia")
    console.locator("#attach-file").set_input_files(
        files=[{"name": "guia.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    sent = console.locator("#messages li.operator", has_text="Segue a guia")
    expect(sent.locator("a.attachment-document")).to_have_text("guia.pdf (2,9 KB)")
    expect(sent.locator(".delivery")).to_have_text("enviada", timeout=60_000)
    expect(console.locator("#draft")).to_have_value("")
    link = widget.locator("li.operator", has_text="Segue a guia").locator("a")
    expect(link).to_have_text("guia.pdf (3 KB)", timeout=30_000)
    assert link.get_attribute("download") == "guia.pdf"
    # A photo dropped on the composer goes the same way.
    console.locator("#composer").evaluate(
        """(composer, bytes) => {
          const files = new DataTransfer();
          files.items.add(new File([new Uint8Array(bytes)], "foto.png", { type: "image/png" }));
          const init = { dataTransfer: files, bubbles: true, cancelable: true };
          for (const type of ["dragover", "drop"]) {
            composer.dispatchEvent(new DragEvent(type, init));
          }
        }""",
        list(png()),
    )
    their_photo = widget.locator("li.operator img")
    expect(their_photo).to_be_visible(timeout=30_000)
    loaded(their_photo)
    assert serious_violations(console) == []
    console.screenshot(path=str(ROOT / "docs" / "screenshots" / "23-arquivos-conversa.png"))

    # After a reload the widget reads the files again from the history.
    page.reload()
    expect(widget.locator("li.operator a", has_text="guia.pdf")).to_be_visible(timeout=30_000)
    expect(widget.locator("li.me", has_text="conta.png")).to_be_visible()
    page.screenshot(path=str(ROOT / "docs" / "screenshots" / "24-arquivos-widget.png"))
    console.close()
    page.close()
