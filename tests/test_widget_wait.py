"""The customer's side of the wait (issue 20), in a real Chromium, with
real socket.io clients and WhatsApp through the Graph fake, against the
three real processes: who is talking (the operator's first name, the time,
"digitando…", the brand colour, the panel's state kept over a reload),
leaving the queue, and the place in the queue with its estimate."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, expect

from handoff.demo import DEMO_PASSWORD, DEMO_SUPERVISOR
from tests.support.api import PASSWORD, Client, add_operator
from tests.support.axe import serious_violations
from tests.support.browser import HEARD, chat, console_login, say, start_chat
from tests.support.clients import WAIT, Operator, Visitor
from tests.support.fake_graph import FakeGraph
from tests.support.processes import ROOT, Stack
from tests.support.whatsapp import citizen, incoming, post, text

pytestmark = pytest.mark.slow

HHMM = re.compile(r"\b\d{2}:\d{2}$")


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph) -> dict[str, str]:
    # WhatsApp through the Graph fake; customers hear of every better place
    # (the channels' intervals are the defaults, tested in
    # tests/fast/test_queue_places.py).
    return {
        "WHATSAPP_API_BASE_URL": graph.base_url,
        "HANDOFF_WHATSAPP_QUEUE_NOTICE_SECONDS": "0",
        "HANDOFF_WIDGET_QUEUE_NOTICE_SECONDS": "0",
    }


def taken_call(operator: Operator, name: str) -> int:
    queued = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == name)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    return int(queued["id"])


def send(operator: Operator, attendance_id: int, text: str) -> None:
    sent = operator.call(
        "message:send",
        {"attendance_id": attendance_id, "text": text, "client_id": uuid.uuid4().hex},
    )
    assert sent["ok"], sent


def test_who_is_talking_in_the_widget(browser: Browser, stack: Stack, host_url: str):
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.add_init_script(HEARD)
    console = context.new_page()
    console_login(console, stack.handoff_url, "operador", "atendimento123")
    page = context.new_page()
    page.goto(f"{host_url}?color=%23005a9c")
    start_chat(page, "Iara")
    say(page, "preciso de ajuda")
    widget = chat(page)

    # The visitor's bubble in the brand colour, the bot's labelled as such.
    mine = widget.locator("li.me", has_text="preciso de ajuda")
    expect(mine).to_have_css("background-color", "rgb(0, 90, 156)")
    expect(mine.locator(".who")).to_have_text(HHMM)
    expect(mine.locator(".who")).to_contain_text("Você")
    notice = widget.locator("li.bot", has_text="transferido(a)")
    expect(notice.locator(".who")).to_contain_text("Assistente virtual")

    # The operator types in the console: "digitando…" in the widget; their
    # message shows their first name and the time.
    console.locator("#queue button", has_text="Iara").click()
    console.get_by_role("button", name="Atender").click()
    expect(console.locator("#messages li.customer")).to_contain_text("preciso de ajuda")
    expect(console.get_by_role("button", name="Atender")).to_be_hidden()
    typing = widget.get_by_text("digitando…")
    expect(typing).to_be_hidden()
    draft = console.get_by_label("Mensagem")
    draft.press_sequentially("Olá, Iara! Como posso ajudar?")
    expect(typing).to_be_visible()
    draft.press("Enter")
    reply = widget.locator("li.operator", has_text="Como posso ajudar?")
    expect(reply.locator(".who")).to_have_text(re.compile(r"^Operador · \d{2}:\d{2}$"))
    expect(typing).to_be_hidden()

    # After a reload (history from the tracker) the same labels are there,
    # and the panel is open as the visitor left it.
    page.reload()
    expect(widget.locator("li.operator .who")).to_have_text(re.compile(r"^Operador · \d{2}:\d{2}$"))
    expect(widget.locator("li.bot").first).to_contain_text("Assistente virtual")
    panel = page.get_by_role("region", name="Bate-papo")
    expect(panel).to_be_visible()

    # Minimizar closes it, and it stays closed after a reload.
    widget.get_by_role("button", name="Minimizar").click()
    expect(panel).to_be_hidden()
    page.reload()
    frame = next(f for f in page.frames if f.url.startswith(f"{stack.handoff_url}/widget/"))
    frame.wait_for_function(f"__heard.includes('state {host_url.rstrip('/')}')")
    expect(panel).to_be_hidden()
    context.close()


def test_a_colour_that_is_not_one_gets_the_default(browser: Browser, host_url: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{host_url}?color=red;background:url(x)")
    expect(page.locator(".bar")).to_have_css("background-color", "rgb(198, 40, 40)")
    page.locator(".bar").click()
    start = chat(page).get_by_role("button", name="INICIAR BATE-PAPO")
    expect(start).to_have_css("background-color", "rgb(198, 40, 40)")
    context.close()


def test_typing_and_the_operator_name_over_socket_io(stack: Stack, operator: Operator):
    """The widget's socket gets ``operator_typing`` (at most one per 2 s per
    attendance) and the operator's message with their first name and time."""
    visitor = Visitor(stack.rasa_url)
    try:
        visitor.say("preciso de ajuda", metadata={"name": "Joana", "email": "j@example.com"})
        assert "transferido" in visitor.next_text()
        attendance_id = taken_call(operator, "Joana")
        first = operator.call("typing", {"attendance_id": attendance_id})
        again = operator.call("typing", {"attendance_id": attendance_id})
        assert first == {"ok": True, "relayed": True}
        assert again == {"ok": True, "relayed": False}
        assert visitor.typing.get(timeout=WAIT) == {}
        send(operator, attendance_id, "Bom dia, Joana.")
        assert visitor.next_text() == "Bom dia, Joana."
        metadata = visitor.received[-1]["metadata"]
        assert metadata["operator_name"] == "Operador"
        assert isinstance(metadata["timestamp"], float)
        # Not the operator's attendance, or no attendance at all: refused.
        refused = operator.call("typing", {"attendance_id": 999_999})
        assert refused["ok"] is False and refused["error"]["code"] == "not_found"
        assert operator.call("typing", {})["error"]["code"] == "invalid"
    finally:
        visitor.close()


def test_a_customer_who_types_sair_da_fila_leaves_it(stack: Stack, operator: Operator):
    visitor = Visitor(stack.rasa_url)
    try:
        visitor.say("preciso de ajuda", metadata={"name": "Nina", "email": "n@example.com"})
        assert "transferido" in visitor.next_text()
        queued = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Nina")
        visitor.say("Quero sair da fila!")
        ended = operator.wait_for("attendance:ended", lambda a: a["id"] == queued["id"])
        assert (ended["status"], ended["reason"]) == ("abandoned", "customer_left")
        assert ended["waited_seconds"] >= 0
        assert "Você saiu da fila" in visitor.next_text()
        assert queued["id"] not in [
            a["id"] for a in operator.call("attendances:list", {})["queued"]
        ]
        # The bot talks again: a new request for a person opens a new attendance.
        visitor.say("quero falar com um atendente")
        assert "transferido" in visitor.next_text()
        again = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Nina")
        assert again["id"] != queued["id"]
        visitor.say("desisto")
        operator.wait_for("attendance:ended", lambda a: a["id"] == again["id"])
    finally:
        visitor.close()


def test_encerrar_conversa_in_the_widget(browser: Browser, stack: Stack, host_url: str):
    operator = Operator(stack.handoff_url)
    context = browser.new_context()
    page = context.new_page()
    page.goto(host_url)
    start_chat(page, "Otto")
    say(page, "preciso de ajuda")
    widget = chat(page)
    expect(widget.get_by_text("transferido(a)")).to_be_visible()
    queued = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Otto")
    widget.get_by_role("button", name="Encerrar conversa").click()
    widget.get_by_role("button", name="Continuar").click()  # not now
    expect(widget.get_by_role("button", name="Encerrar conversa")).to_be_focused()
    widget.get_by_role("button", name="Encerrar conversa").click()
    expect(widget.get_by_text("Encerrar a conversa e sair da fila?")).to_be_visible()
    widget.get_by_role("button", name="Sim, encerrar").click()
    ended = operator.wait_for("attendance:ended", lambda a: a["id"] == queued["id"])
    assert (ended["status"], ended["reason"]) == ("abandoned", "customer_left")
    expect(widget.locator("li.bot", has_text="Você saiu da fila")).to_be_visible()
    # With no attendance open the control hands nothing off.
    widget.get_by_role("button", name="Encerrar conversa").click()
    widget.get_by_role("button", name="Sim, encerrar").click()
    expect(widget.locator("li.bot", has_text="Você saiu da fila")).to_have_count(2)
    expect(widget.get_by_text("transferido(a)")).to_have_count(1)
    operator.close()
    context.close()


def test_the_place_in_the_queue_on_the_widget_and_whatsapp(
    browser: Browser, stack: Stack, graph: FakeGraph, host_url: str
):
    """Three customers wait: each hears their place on joining, and again
    when it improves; the console lists the places."""
    operator = Operator(stack.handoff_url)
    ahead = Visitor(stack.rasa_url)
    context = browser.new_context(viewport={"width": 480, "height": 640})
    page = context.new_page()
    try:
        ahead.say("preciso de ajuda", metadata={"name": "Primeiro", "email": "p@example.com"})
        assert "Aguarde um momento, por favor. Você é o 1º da fila." in ahead.next_text()
        first = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Primeiro")
        wa_id = citizen()
        assert post(stack, text(wa_id, "Bom dia, preciso de ajuda", name="Zeca")).status_code == 200
        assert "Você é o 2º da fila." in graph.wait_for_text(wa_id, "transferido")["text"]["body"]
        page.goto(host_url)
        start_chat(page, "Quita")
        say(page, "preciso de ajuda")
        widget = chat(page)
        expect(widget.locator("li.bot", has_text="transferido(a)")).to_contain_text(
            "Você é o 3º da fila."
        )
        listed = operator.call("attendances:list", {})["queued"]
        assert [a["position"] for a in listed[-3:]] == [1, 2, 3]
        console = context.new_page()
        console_login(console, stack.handoff_url, "operador", "atendimento123")
        quita = console.locator("#queue button", has_text="Quita").locator(".place")
        expect(quita).to_have_text(re.compile(r"^3º( · ~\d+ min)?$"))

        # The first is taken: the others move up, and are told with an
        # estimate from the room's waits (the first waited under a minute).
        assert operator.call("attendance:take", {"attendance_id": first["id"]})["ok"]
        moved = "Você é o 2º da fila. Tempo estimado: cerca de 1 min."
        notice = widget.locator("li.bot.notice", has_text=moved)
        expect(notice).to_be_visible()
        graph.wait_for_text(wa_id, "Você é o 1º da fila. Tempo estimado: cerca de 1 min.")
        expect(quita).to_have_text("2º · ~1 min")  # live, from queue:positions
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / "21-widget-posicao-na-fila.png"))
        # A reload shows it once, from the history.
        page.reload()
        expect(widget.locator("li.bot.notice", has_text=moved)).to_have_count(1)
        # A place told is not told again while nothing changes.
        assert len([t for t in graph.texts_to(wa_id) if "da fila" in t]) == 2
    finally:
        ahead.close()
        operator.close()
        context.close()


def test_a_citizen_who_gives_up_on_whatsapp(stack: Stack, graph: FakeGraph, operator: Operator):
    wa_id = citizen()
    assert post(stack, text(wa_id, "preciso de ajuda", name="Yara")).status_code == 200
    graph.wait_for_text(wa_id, "transferido")
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert post(stack, text(wa_id, "Desistir")).status_code == 200
    ended = operator.wait_for("attendance:ended", lambda a: a["id"] == queued["id"])
    assert (ended["status"], ended["reason"]) == ("abandoned", "customer_left")
    graph.wait_for_text(wa_id, "Você saiu da fila")


@contextmanager
def survey_asked(stack: Stack) -> Iterator[Client]:
    """The default room asks for the satisfaction survey (a supervisor turns
    it on in Supervisão) while the block runs; the supervisor's session."""
    handoff = next(s for s in stack.services if s.name == "handoff")
    supervisor = Client(handoff, DEMO_SUPERVISOR, DEMO_PASSWORD)
    room = next(r for r in supervisor.get("/api/admin/rooms").json()["rooms"])
    url = f"/api/admin/rooms/{room['id']}"
    assert supervisor.put(url, {"survey_enabled": True}).json()["room"]["survey_enabled"]
    try:
        yield supervisor
    finally:
        supervisor.put(url, {"survey_enabled": False})


def tap(wa_id: str, kind: str, reply: dict) -> dict:
    """Meta's webhook for the citizen's tap on a reply button or list row."""
    return incoming(wa_id, {"type": "interactive", "interactive": {"type": kind, kind: reply}})


def new_operator(stack: Stack) -> Operator:
    """An operator of the default room of their own (the demo operator's
    limit of calls may be used up by the tests before)."""
    handoff = next(s for s in stack.services if s.name == "handoff")
    return Operator(stack.handoff_url, add_operator(handoff, ["atendimento"]), PASSWORD)


def test_the_survey_and_the_button_to_talk_again_on_whatsapp(stack: Stack, graph: FakeGraph):
    """After the end: the closing with a "Falar com atendente" reply button,
    the survey as a list of 5; a tapped rating and a comment are stored
    and counted; the button starts a new attendance."""
    operator_client = new_operator(stack)
    with survey_asked(stack) as supervisor:
        wa_id = citizen()
        post(stack, text(wa_id, "oi", name="Rui Survey"))
        attendance_id = taken_call(operator_client, "Rui Survey")
        send(operator_client, attendance_id, "Pronto, resolvido.")
        graph.wait_for_text(wa_id, "Pronto, resolvido.", timeout=WAIT)
        # Meta is away for the protocol message: it and the interactive ones
        # after it wait in the outbox and go out in order, buttons and all.
        graph.failures_left = 1
        ended = operator_client.call("attendance:finish", {"attendance_id": attendance_id})
        protocol = ended["attendance"]["protocol"]
        graph.wait_for_text(wa_id, f"Número do protocolo: {protocol}", timeout=WAIT)
        assert [status for _, status in graph.attempts_to(wa_id)] == [500]
        closing = graph.wait_for_text(wa_id, "Obrigado pelo contato", timeout=WAIT)
        assert closing["type"] == "interactive"
        assert closing["interactive"]["type"] == "button"
        assert closing["interactive"]["action"]["buttons"] == [
            {"type": "reply", "reply": {"id": "/request_human", "title": "Falar com atendente"}}
        ]
        question = graph.wait_for_text(wa_id, "Como você avalia", timeout=WAIT)["interactive"]
        assert (question["type"], question["action"]["button"]) == ("list", "Ver opções")
        rows = question["action"]["sections"][0]["rows"]
        assert [r["id"] for r in rows] == [f'/survey_rating{{"rating": {n}}}' for n in range(1, 6)]
        assert all(len(r["title"]) <= 24 for r in rows)
        assert [t for t in graph.texts_to(wa_id) if "protocolo" in t or "Obrigado" in t] == [
            f"Seu atendimento foi finalizado. Número do protocolo: {protocol}.",
            closing["interactive"]["body"]["text"],
        ]

        assert post(stack, tap(wa_id, "list_reply", rows[3])).status_code == 200
        graph.wait_for_text(wa_id, "escreva um comentário", timeout=WAIT)
        post(stack, text(wa_id, "Fui muito bem atendido", name="Rui Survey"))
        graph.wait_for_text(wa_id, "Obrigado por avaliar", timeout=WAIT)
        # The same rating tapped again changes nothing.
        post(stack, tap(wa_id, "list_reply", rows[0]))
        graph.wait_for_text(wa_id, "Você já avaliou", timeout=WAIT)
        record = supervisor.get(f"/api/admin/protocols/{protocol}").json()
        assert (record["survey"]["rating"], record["survey"]["comment"]) == (
            4,
            "Fui muito bem atendido",
        )
        report = supervisor.get("/api/admin/reports").json()
        assert report["totals"]["survey_answers"] >= 1

        button = {"id": "/request_human", "title": "Falar com atendente"}
        assert post(stack, tap(wa_id, "button_reply", button)).status_code == 200
        again = operator_client.wait_for(
            "attendance:queued",
            lambda a: a["conversation_id"] == wa_id and a["id"] != attendance_id,
        )
        assert operator_client.call("attendance:take", {"attendance_id": again["id"]})["ok"]
        # The operator reads the button's title, not its payload.
        texts = operator_client.customer_texts(again["id"], "Falar com atendente")
        assert texts == ["Falar com atendente"]
    operator_client.close()


def test_the_survey_stars_in_the_widget(browser: Browser, stack: Stack, host_url: str):
    operator = new_operator(stack)
    context = browser.new_context()
    page = context.new_page()
    with survey_asked(stack) as supervisor:
        page.goto(host_url)
        start_chat(page, "Estela")
        say(page, "preciso de ajuda")
        attendance_id = taken_call(operator, "Estela")
        send(operator, attendance_id, "Tudo certo, Estela.")
        protocol = operator.call("attendance:finish", {"attendance_id": attendance_id})[
            "attendance"
        ]["protocol"]
        widget = chat(page)
        stars = widget.get_by_role("group", name="Sua nota para o atendimento")
        expect(stars.get_by_role("button")).to_have_count(5)
        # The widget's own page (the test's host page is a bare stand-in).
        frame = next(f for f in page.frames if f.url.startswith(f"{stack.handoff_url}/widget/"))
        assert serious_violations(frame) == []  # type: ignore[arg-type]
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / "23-widget-pesquisa.png"))
        # Keyboard: Tab to the fifth star, Enter.
        fifth = stars.get_by_role("button", name="5 de 5 estrelas: Muito satisfeito")
        fifth.focus()
        fifth.press("Enter")
        expect(stars).to_have_count(0)
        expect(widget.locator("li.me", has_text="★★★★★")).to_be_visible()
        expect(widget.get_by_text("escreva um comentário")).to_be_visible()
        widget.get_by_role("button", name="Pular").click()
        expect(widget.get_by_text("Obrigado por avaliar")).to_be_visible()
        record = supervisor.get(f"/api/admin/protocols/{protocol}").json()
        assert (record["survey"]["rating"], record["survey"]["comment"]) == (5, None)
        # After a reload the visitor's tap reads as the button's title.
        page.reload()
        expect(widget.locator("li.me", has_text="5 - Muito satisfeito")).to_be_visible()
    operator.close()
    context.close()
