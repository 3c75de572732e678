"""Injection (issue 8): chat text, customer fields and knowledge-base content
carrying HTML/JS, SQL metacharacters, emoji and right-to-left text are
stored as sent (less the bidirectional overrides the text rule removes,
issue 16) and shown as text in the widget, the console, the protocol
record and its JSON export; 0 script executions in Chromium. Strings over
the documented limits (4096 characters a message, 200 a customer name) are
refused with a clear 4xx, never a 500.

SQLite only: what the pages render is what the API returns, and the API's
storage is the same code on both engines (the fuzzing and end-to-end tests
run it on PostgreSQL); one browser pass costs about a minute."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, FrameLocator, Page, expect

from tests.support.browser import CHAT, chat
from tests.support.clients import Operator, Visitor
from tests.support.processes import Stack
from textrules import clean_text

pytestmark = pytest.mark.slow

HOOK = "window.__pwned()"
XSS = [
    f"<script>{HOOK}</script>",
    f'<img src=x onerror="{HOOK}">',
    f"<svg onload={HOOK}>",
    f'"><img src=x onerror={HOOK}>',
    f"'><svg/onload={HOOK}>",
    f'<a href="javascript:{HOOK}">clique</a>',
    '<iframe srcdoc="<script>parent.__pwned()</script>"></iframe>',
    f"<details open ontoggle={HOOK}>",
    f'<body onload="{HOOK}">',
    f"javascript:{HOOK}",
    "{{constructor.constructor('window.__pwned()')()}}",
    f"</textarea></style></script><script>{HOOK}</script>",
]
OTHERS = [
    "Robert'); DROP TABLE message;--",
    "' OR '1'='1",
    "Olá 👋🏽 😀 — çãé",
    "مرحبا، أحتاج إلى مساعدة",
    "\u202eabc\u202c RTL override",
]
PAYLOADS = XSS + OTHERS
# As stored and shown: the text rule removes the right-to-left override.
SHOWN = [clean_text(p) for p in PAYLOADS]
NAME = XSS[1]
ARTICLE_TITLE = f"Artigo {XSS[0]}"

# The console asks who is logged in before the login form (401): not a script.
BENIGN = re.compile(r"favicon|status of 401")
# Counts calls of the hook and of dialogs; runs before any page script.
INIT = "window.__pwnedCount = 0; window.__pwned = () => { window.__pwnedCount += 1; };"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings(kb_dir: Path) -> dict[str, str]:
    body = "\n\n".join(PAYLOADS)
    (kb_dir / "zz-injecao.md").write_text(
        f"---\ntitle: {ARTICLE_TITLE}\ncategory: {XSS[2]}\n---\n{body}\n", encoding="utf-8"
    )
    return {"HANDOFF_KB_DIR": str(kb_dir)}


class Watch:
    """What a page did that it should not: hook calls, dialogs, script errors."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "console",
            lambda m: (
                self.errors.append(m.text)
                if m.type == "error" and not BENIGN.search(m.text)
                else None
            ),
        )

    def assert_clean(self) -> None:
        # Every frame: the widget's conversation is in one of its own.
        assert {frame.evaluate("window.__pwnedCount") for frame in self.page.frames} == {0}
        assert self.dialogs == []
        assert self.errors == []


def texts(page: Page | FrameLocator, selector: str) -> list[str]:
    return page.locator(selector).evaluate_all("nodes => nodes.map(n => n.textContent)")


def login(page: Page, stack: Stack, username: str) -> None:
    page.goto(f"{stack.handoff_url}/console/")
    page.locator("#login-form").get_by_label("Usuário").fill(username)
    page.locator("#login-form").get_by_label("Senha").fill("atendimento123")
    page.get_by_role("button", name="Entrar").click()


def test_payloads_are_stored_and_shown_as_text(browser: Browser, stack: Stack, host_url: str):
    # One context each: the console's session is a cookie of the page's origin.
    contexts = [browser.new_context(viewport={"width": 1366, "height": 800}) for _ in range(3)]
    for context in contexts:
        context.add_init_script(INIT)
    widget, console, boss = (context.new_page() for context in contexts)
    watches = [Watch(page) for page in (widget, console, boss)]

    # The visitor: a hostile name, then every payload as a message.
    widget.goto(host_url)
    widget.locator(".bar").click()
    conversation = chat(widget)
    conversation.get_by_label("Nome").fill(NAME)
    conversation.get_by_label("E-mail").fill("xss@example.com")
    conversation.get_by_role("button", name="INICIAR BATE-PAPO").click()
    for payload in PAYLOADS:
        conversation.get_by_label("Mensagem").fill(payload)
        conversation.get_by_role("button", name="Enviar").click()
    expect(conversation.locator("li.pending")).to_have_count(0, timeout=20000)

    # The operator takes it: the name and every message, as text.
    login(console, stack, "operador")
    call = console.locator("#queue button", has_text=NAME)
    expect(call).to_be_visible(timeout=20000)
    call.click()
    console.get_by_role("button", name="Atender").click()
    expect(console.locator("#messages li.customer")).to_have_count(len(PAYLOADS), timeout=20000)
    shown = texts(console, "#messages li.customer")
    assert all(payload in text for payload, text in zip(SHOWN, shown, strict=True)), shown

    # The operator answers with the same payloads: the widget shows them as text.
    for index, payload in enumerate(PAYLOADS):
        console.get_by_label("Mensagem").fill(payload)
        console.get_by_label("Mensagem").press("Enter")
        if index == 0:
            console.locator("#protocol-dialog").get_by_role("button", name="OK").click()
    answers = conversation.locator(".messages li:not(.me)")
    expect(answers).to_have_count(len(PAYLOADS) + 1, timeout=20000)
    # (Their order is the delivery's business, checked by the fault tests.)
    assert sorted(texts(conversation, ".messages li:not(.me) .text")[1:]) == sorted(SHOWN)
    assert texts(conversation, ".messages li.me .text") == PAYLOADS
    protocol = console.locator("#attendance-protocol").inner_text().split()[-1]

    # A customer registered with hostile fields, found and shown as text.
    operator = Operator(stack.handoff_url)
    created = requests.post(
        f"{stack.handoff_url}/api/customers",
        json={"name": XSS[3], "phone": "(11) 98765-4321", "email": "c@example.com"},
        headers={"Authorization": f"Bearer {operator.token}"},
        timeout=10,
    )
    operator.close()
    assert created.status_code == 201, created.text
    assert created.json()["customer"]["name"] == XSS[3]
    search = console.get_by_label("Pesquisar cliente")
    search.fill(XSS[3])
    search.press("Enter")
    expect(console.locator("#customer-results")).to_contain_text(XSS[3])

    # The knowledge base: title, category and body as text.
    console.get_by_role("tab", name="Início").click()
    console.locator("#kb-list button", has_text=ARTICLE_TITLE).click()
    body = console.locator("#kb-article-body").inner_text()
    assert all(payload in body for payload in PAYLOADS)

    # The supervisor: the protocol record and its JSON export.
    login(boss, stack, "supervisor")
    boss.get_by_role("button", name="Supervisão").click()
    boss.get_by_role("tab", name="Protocolo").click()
    boss.locator("#protocol-form").get_by_label("Protocolo").fill(protocol)
    boss.get_by_role("button", name="Buscar").click()
    record = boss.locator("#protocol-record")
    for payload in SHOWN:
        expect(record).to_contain_text(payload)
    with boss.expect_download() as exported:
        boss.get_by_role("button", name="Exportar JSON").click()
    record_json = json.loads(Path(exported.value.path()).read_text(encoding="utf-8"))
    exported_text = json.dumps(record_json, ensure_ascii=False)
    assert all(json.dumps(p, ensure_ascii=False)[1:-1] in exported_text for p in SHOWN)
    boss.get_by_role("tab", name="Relatórios").click()
    boss.get_by_role("button", name="Gerar relatório").click()
    expect(boss.locator("#report-table tr")).not_to_have_count(0)

    for page in (conversation, console, boss):
        # None but the console's own icons (operator_console/icons/); the chart is a canvas.
        hostile = "img:not(.icon-image[src^='icons/']), iframe, svg, details"
        assert page.locator(hostile).count() == 0
    assert widget.locator(f"img, iframe:not({CHAT}), svg, details").count() == 0
    for watch in watches:
        watch.assert_clean()
    for context in contexts:
        context.close()


def test_over_the_limits_is_a_clear_4xx(stack: Stack):
    """A message over 4096 characters, a customer name over 200: refused,
    with a message that says so; nothing half-stored."""
    visitor = Visitor(stack.rasa_url)
    huge = "x" * 100_000
    refused = visitor.say(huge)
    assert refused["ok"] is False and refused["error"]["code"] == "too_long"
    assert "4096" in refused["error"]["message"]
    assert visitor.say("y" * 4096)["ok"]
    visitor.close()

    operator = Operator(stack.handoff_url)
    headers = {"Authorization": f"Bearer {operator.token}"}
    answer = requests.post(
        f"{stack.handoff_url}/api/customers",
        json={"name": huge, "phone": "(11) 91234-5678"},
        headers=headers,
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "invalid",
        "message": "Use no máximo 200 caracteres.",
        "field": "name",
    }
    raw = requests.post(
        f"{stack.handoff_url}/api/customers",
        data=b'{"name": "\xff\xfe", "phone": "11912345678"}',
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert raw.status_code == 400 and raw.json()["error"]["message"]
    sent = operator.call(
        "message:send", {"attendance_id": 1, "text": huge, "client_id": uuid.uuid4().hex}
    )
    assert sent["ok"] is False and sent["error"]["code"] == "invalid"
    operator.close()


def test_report_csv_cells_are_never_formulas():
    """Room and operator names reach the supervisors' CSV export: a spreadsheet
    must read them as text, not run them as formulas (OWASP CSV injection)."""
    from handoff.domain.reports import report_csv

    names = ['=HYPERLINK("http://evil.example")', "+1+1", "-2", "@SUM(A1)", "Sala 1"]
    rows = [{"day": "2026-11-25", "room": name, "operator": name, "received": 1} for name in names]
    lines = report_csv({"rows": rows}).splitlines()[1:]
    cells = [line.split(";")[1] for line in lines]
    link = '"\'=HYPERLINK(""http://evil.example"")"'
    assert cells == [link, "'+1+1", "'-2", "'@SUM(A1)", "Sala 1"]
