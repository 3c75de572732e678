"""The console never loses what happens while it reads a list. When it
connects it reads its calls, and when it opens an attendance it reads the
history; an attendance queued, or a customer message stored, after the read
but before the answer arrives must still be on screen (found by CI: a call
queued right after login never showed). The page holds the read's answer
until the event has arrived, so the race happens every time. Real handoff
service and Chromium."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.api import open_attendance, post_rasa_events
from tests.support.processes import Service

pytestmark = pytest.mark.slow
STUCK_SECONDS = 30

# Wraps socket.io's client: the answer to `hold` reaches the console only
# once window.releaseAnswer() is called; window.seen counts events.
HOLD_ANSWERS = """
(hold) => {
  const real = window.io;
  window.seen = {};
  window.answered = false;
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  window.releaseAnswer = release;
  window.io = (...args) => {
    const socket = real(...args);
    socket.onAny((name) => { window.seen[name] = (window.seen[name] || 0) + 1; });
    const emit = socket.emit.bind(socket);
    socket.emit = (name, ...rest) => {
      if (name === hold && typeof rest[rest.length - 1] === "function") {
        const ack = rest.pop();
        rest.push((...answer) => { window.answered = true; gate.then(() => ack(...answer)); });
      }
      return emit(name, ...rest);
    };
    return socket;
  };
}
"""


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def open_console(browser: Browser, handoff: Service, hold: str) -> Page:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{handoff.base_url}/console/")
    page.evaluate(HOLD_ANSWERS, hold)
    page.locator("#login-form").get_by_label("Usuário").fill("operador")
    page.locator("#login-form").get_by_label("Senha").fill("atendimento123")
    page.get_by_role("button", name="Entrar").click()
    return page


def wait_in_page(page: Page, condition: str) -> None:
    """Polls ``condition`` in the page (wait_for_function would need eval,
    which the console's policy forbids)."""
    deadline = time.monotonic() + STUCK_SECONDS
    while not page.evaluate(f"() => Boolean({condition})"):
        assert time.monotonic() < deadline, f"stuck waiting for {condition}"
        page.wait_for_timeout(100)


def test_a_call_queued_while_the_list_is_read_is_shown(browser: Browser, handoff: Service):
    page = open_console(browser, handoff, "attendances:list")
    wait_in_page(page, "window.answered")  # the list was read, without it
    open_attendance(handoff, contact={"name": "Rita Corrida"})
    wait_in_page(page, "window.seen['attendance:queued'] >= 1")
    page.evaluate("window.releaseAnswer()")
    expect(page.locator("#queue button", has_text="Rita Corrida")).to_be_visible()
    page.close()


def test_a_message_stored_while_the_history_is_read_is_shown(browser: Browser, handoff: Service):
    attendance = open_attendance(handoff, contact={"name": "Caio Corrida"})
    page = open_console(browser, handoff, "attendance:messages")
    page.locator("#queue button", has_text="Caio Corrida").click()
    wait_in_page(page, "window.answered")  # the history was read, without it
    event = {
        "event": "user",
        "sender_id": attendance["conversation_id"],
        "text": "Ainda estou aqui",
        "message_id": "m-late",
        "timestamp": 1_900_000_000.0,
    }
    assert post_rasa_events(handoff.base_url, [event]).status_code == 200
    wait_in_page(page, "window.seen['message:new'] >= 1")
    page.evaluate("window.releaseAnswer()")
    expect(page.locator("#messages li.customer")).to_contain_text("Ainda estou aqui")
    page.close()
