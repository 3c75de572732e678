"""The manual, step by step, in a real Chromium: the visitor's widget on an
organisation's page and the operator's console, against the real Rasa,
action server and handoff service. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Browser, Page, Response, expect

from tests.support.browser import chat
from tests.support.clients import Visitor
from tests.support.processes import ROOT, Stack

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "docs" / "screenshots"
XSS = '<img src=x onerror="window.pwned=1">'


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine is enough here; the API tests cover both."""
    return "sqlite"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def login(
    page: Page, stack: Stack, password: str = "atendimento123", username: str = "operador"
) -> None:
    page.goto(f"{stack.handoff_url}/console/")
    page.locator("#login-form").get_by_label("Usuário").fill(username)
    page.locator("#login-form").get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()


def test_the_manual_step_by_step(browser: Browser, stack: Stack, host_url: str):
    # O0/O1: the operator logs in and waits, available.
    console = browser.new_page(viewport={"width": 1366, "height": 768})
    login(console, stack, password="errada")
    expect(console.get_by_text("Usuário ou senha inválidos.")).to_be_visible()
    shot(console, "01-login")
    login(console, stack)
    expect(console.get_by_label("Situação")).to_have_value("available")
    expect(console.get_by_text("Nenhum cliente aguardando.")).to_be_visible()

    # W0-W2: the visitor opens the chat on the organisation's page.
    visitor = browser.new_page(viewport={"width": 1000, "height": 700})
    visitor.goto(host_url)
    bar = visitor.locator(".bar")
    expect(bar).to_have_text("Fale com a Prefeitura")
    assert bar.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
    bar.click()
    widget = chat(visitor)
    widget.get_by_role("button", name="INICIAR BATE-PAPO").click()
    expect(widget.get_by_text("Informe seu nome.")).to_be_visible()
    expect(widget.get_by_text("Informe um e-mail válido.")).to_be_visible()
    widget.get_by_label("Nome").fill("Maria Souza")
    widget.get_by_label("E-mail").fill("maria@example.com")
    widget.get_by_role("button", name="INICIAR BATE-PAPO").click()
    widget.get_by_label("Mensagem").fill(f"Preciso do IPTU {XSS}")
    widget.get_by_role("button", name="Enviar").click()
    expect(widget.get_by_text("transferido(a)")).to_be_visible()
    shot(visitor, "10-widget-transferido")

    # O2: the call appears on the left, with an alert.
    call = console.locator("#queue button", has_text="Maria Souza")
    expect(call).to_be_visible()
    assert int(console.evaluate("document.body.dataset.rings")) >= 1
    shot(console, "02-chamada-na-fila")
    call.click()
    console.get_by_role("button", name="Atender").click()

    # O3: the customer's message, shown as text (never as HTML).
    expect(console.locator("#messages li.customer")).to_contain_text(XSS)
    assert console.locator("#messages img").count() == 0
    assert widget.locator(".messages img").count() == 0
    assert console.evaluate("window.pwned") is None
    assert all(frame.evaluate("window.pwned") is None for frame in visitor.frames)

    # O4: Enter sends; the first message brings the protocol notice.
    draft = console.get_by_label("Mensagem")
    draft.fill("Olá, Maria!")
    draft.press("Shift+Enter")
    draft.type("Qual é a inscrição do imóvel?")
    draft.press("Enter")
    dialog = console.locator("#protocol-dialog")
    expect(dialog).to_be_visible()
    protocol = console.locator("#protocol-number").inner_text()
    assert re.fullmatch(r"20\d{8}", protocol)
    shot(console, "03-protocolo")
    dialog.get_by_role("button", name="OK").click()
    expect(console.locator("#attendance-protocol")).to_have_text(f"Protocolo {protocol}")
    expect(widget.get_by_text("Qual é a inscrição do imóvel?")).to_be_visible()
    expect(console.locator("#messages li.operator .delivery")).to_have_text("enviada")

    # O5 + O7: search finds nobody; (+) registers, with errors in place.
    search = console.get_by_label("Pesquisar cliente")
    search.fill("Maria Souza")
    search.press("Enter")
    expect(console.get_by_text("Nenhum cliente encontrado.")).to_be_visible()
    console.get_by_role("button", name="Cadastrar novo cliente").click()
    form = console.locator("#customer-form")
    expect(form.get_by_label("Nome *")).to_have_value("Maria Souza")
    form.get_by_role("button", name="SALVAR").click()
    expect(form.get_by_text("Informe o telefone.")).to_be_visible()
    form.get_by_label("Telefone *").fill("(11) 98765-4321")
    form.get_by_label("CPF/CNPJ").fill("529.982.247-24")
    form.get_by_role("button", name="SALVAR").click()
    expect(form.get_by_text("CPF inválido: confira os números.")).to_be_visible()
    shot(console, "04-cadastro-erro")
    form.get_by_label("CPF/CNPJ").fill("52998224725")
    form.get_by_role("button", name="SALVAR").click()
    expect(console.locator("#customer-results")).to_contain_text("529.982.247-25")

    # O6: the new customer shows the link icon; linking it.
    console.get_by_role("button", name="Vincular Maria Souza ao atendimento").click()
    expect(console.get_by_text("Cliente vinculado: Maria Souza")).to_be_visible()
    shot(console, "05-cliente-vinculado")

    # O8: pencil, Histórico, Atendimentos; one opens with its messages.
    console.get_by_role("button", name="Abrir cliente Maria Souza").click()
    expect(console.locator("#customer-detail-contact")).to_contain_text("529.982.247-25")
    console.get_by_role("button", name="Histórico").click()
    console.get_by_role("button", name="Atendimentos").click()
    console.locator("#customer-history button", has_text=protocol).click()
    record = console.locator("#history-record")
    expect(record).to_contain_text("Qual é a inscrição do imóvel?")
    shot(console, "06-historico")

    # O9 + O10: Início, filters, REGISTRAR twice.
    console.get_by_role("tab", name="Início").click()
    expect(console.locator("#kb-list li")).to_have_count(4)
    console.get_by_label("Filtrar").fill("iptu")
    expect(console.locator("#kb-list li")).to_have_count(1)
    console.get_by_role("button", name=re.compile("Segunda via do IPTU")).click()
    console.get_by_role("button", name="REGISTRAR", exact=True).click()
    expect(console.get_by_text("Informação registrada neste atendimento.")).to_be_visible()
    expect(console.locator("#kb-list")).to_contain_text("✓ Registrado")
    console.get_by_label("Filtrar").fill("")
    console.get_by_label("Categoria").select_option("Empresas")
    expect(console.locator("#kb-list li")).to_have_count(1)
    console.get_by_role("button", name=re.compile("Alvará de funcionamento")).click()
    console.get_by_role("button", name="REGISTRAR", exact=True).click()
    expect(console.get_by_text("Informação registrada neste atendimento.")).to_be_visible()
    shot(console, "07-inicio-base-de-conhecimento")

    # O12: Resumo.
    console.get_by_role("tab", name="Resumo").click()
    summary = console.locator("#panel-resumo")
    expect(summary).to_contain_text(protocol)
    expect(summary).to_contain_text("Maria Souza")
    expect(console.locator("#summary-registrations li")).to_have_count(2)
    expect(summary).to_contain_text("Segunda via do IPTU")
    expect(summary).to_contain_text("Alvará de funcionamento")
    shot(console, "08-resumo")

    # A reload of the visitor's page keeps the conversation, and the panel open.
    visitor.reload()
    expect(widget.get_by_text("Qual é a inscrição do imóvel?")).to_be_visible()

    # O13: Finalizar asks for confirmation; Z3 for the visitor.
    console.get_by_role("tab", name="Conversa").click()
    console.get_by_role("button", name="Finalizar").click()
    confirm = console.locator("#confirm-dialog")
    expect(confirm).to_be_visible()
    confirm.get_by_label("Assunto").select_option("IPTU e taxas")
    shot(console, "09-finalizar")
    confirm.get_by_role("button", name="Finalizar").click()
    expect(console.locator("#mine button")).to_have_count(0)
    expect(console.get_by_text("Clique em uma chamada à esquerda para atender.")).to_be_visible()
    expect(widget.get_by_text(f"Número do protocolo: {protocol}.")).to_be_visible()
    expect(widget.get_by_text("pedir para falar com um atendente")).to_be_visible()
    shot(visitor, "11-widget-finalizado")

    # Server down: the console says so, and comes back by itself.
    handoff = next(s for s in stack.services if s.name == "handoff")
    handoff.stop()
    expect(console.get_by_text("Sem conexão, tentando reconectar…")).to_be_visible(timeout=15000)
    search.fill("Maria")
    search.press("Enter")
    expect(console.get_by_text("Sem conexão com o servidor. Tente novamente.")).to_be_visible()
    shot(console, "12-sem-conexao")
    handoff.start()
    expect(console.get_by_text("Sem conexão, tentando reconectar…")).to_be_hidden(timeout=20000)
    console.close()
    visitor.close()


def test_drafts_retries_pauses_and_an_expired_session(browser: Browser, stack: Stack):
    console = browser.new_page(viewport={"width": 1366, "height": 768})
    login(console, stack)
    expect(console.get_by_label("Situação")).to_have_value("available")

    # A pause needs a reason from the list; it is kept as chosen.
    console.get_by_label("Situação").select_option("paused")
    expect(console.get_by_label("Motivo", exact=True)).to_be_visible()

    def reason_saved(response: Response) -> bool:
        return response.url.endswith("/api/me/status") and "Reuni" in (
            response.request.post_data or ""
        )

    with console.expect_response(reason_saved) as saved:
        console.get_by_label("Motivo", exact=True).select_option("Reunião")
    assert saved.value.ok  # stored before the reload reads it back
    console.reload()
    expect(console.get_by_label("Situação")).to_have_value("paused")
    expect(console.get_by_label("Motivo", exact=True)).to_have_value("Reunião")
    console.get_by_label("Situação").select_option("available")

    # Two attendances at once; each keeps its own draft.
    visitors = [Visitor(stack.rasa_url) for _ in range(2)]
    for name, visitor in zip(("Ana", "Bia"), visitors, strict=True):
        visitor.say("oi", metadata={"name": name, "email": f"{name.lower()}@example.com"})
        visitor.next_text()
        console.locator("#queue button", has_text=name).click()
        console.get_by_role("button", name="Atender").click()
        expect(console.locator("#mine button", has_text=name)).to_be_visible()
    console.locator("#mine button", has_text="Ana").click()
    console.get_by_label("Mensagem").fill("rascunho para Ana")
    console.locator("#mine button", has_text="Bia").click()
    expect(console.get_by_label("Mensagem")).to_have_value("")
    console.get_by_label("Mensagem").fill("rascunho para Bia")
    console.locator("#mine button", has_text="Ana").click()
    expect(console.get_by_label("Mensagem")).to_have_value("rascunho para Ana")

    # Rasa down: the message is kept and marked failed; tried again by hand it
    # stays failed while Rasa is down, and is delivered by itself, once, when
    # Rasa is back.
    rasa = next(s for s in stack.services if s.name == "rasa")
    rasa.stop()
    console.get_by_label("Mensagem").fill("Ana, um momento.")
    console.get_by_label("Mensagem").press("Enter")
    console.locator("#protocol-dialog").get_by_role("button", name="OK").click()
    failed = console.locator("#messages li.operator", has_text="Ana, um momento.")
    expect(failed.locator(".delivery")).to_have_text("falhou", timeout=20000)
    failed.get_by_role("button", name="Tentar novamente").click()
    expect(failed.locator(".delivery")).to_have_text("falhou", timeout=20000)
    rasa.start()
    expect(failed.locator(".delivery")).to_have_text("enviada", timeout=20000)
    history = visitors[0].history(stack.handoff_url).json()["messages"]
    assert [m["text"] for m in history].count("Ana, um momento.") == 1

    # The session expires (revoked elsewhere): back to login, the draft survives.
    console.locator("#mine button", has_text="Bia").click()
    console.get_by_label("Mensagem").fill("texto que não pode se perder")
    # The session token lives only in the HttpOnly cookie, out of the page's reach.
    token = next(c["value"] for c in console.context.cookies() if c["name"] == "handoff_session")
    assert token not in console.evaluate("JSON.stringify([{...sessionStorage}, {...localStorage}])")
    assert console.evaluate("document.cookie") == ""
    requests.post(
        f"{stack.handoff_url}/api/auth/logout", headers={"Authorization": f"Bearer {token}"}
    )
    # The service ends the console's connection within a second (a click on
    # the page before that would get 401): back to login either way.
    expect(console.get_by_text("Sua sessão expirou.")).to_be_visible()
    shot(console, "13-sessao-expirada")
    login(console, stack)
    console.locator("#mine button", has_text="Bia").click()
    console.get_by_role("tab", name="Conversa").click()
    expect(console.get_by_label("Mensagem")).to_have_value("texto que não pode se perder")
    for visitor in visitors:
        visitor.close()
    console.close()
