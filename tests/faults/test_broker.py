"""The event broker's contract (``bot/handoff_broker.py``): order per
conversation, never global.

A real Rasa (its widget channel, its SQLite tracker store, its broker) with
the broker pointed at a small HTTP server this test runs in place of the
handoff service. The stand-in is only the receiving endpoint (``POST
/api/rasa/events``, ``/api/rasa/dead-letters``, ``/api/rasa/started``, with
the service token): it lets the test answer 500 for one conversation's
events, or 503 and 401 for a while, which the real service does only under
faults, and so checks what the broker does with each answer. That is the
broker's contract, not the handoff service's (the real one is in
tests/faults/test_poison.py). No action server runs: Rasa answers with
``utter_transfer_pending``, whose bot events travel with the customer's.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.clients import Visitor
from tests.support.processes import SERVICE_TOKEN, free_port, rasa_env, rasa_service

pytestmark = pytest.mark.slow

# bot/handoff_broker.py: refusals in a row before a conversation's events are dead letters.
MAX_ATTEMPTS = 5
STUCK = 90.0  # seconds: far past the broker's back-off, only a bound for "stuck"


class FakeHandoff:
    """The handoff service's receiving side, as the broker sees it."""

    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []
        self.dead_letters: list[dict[str, Any]] = []
        self.refused: Counter[str] = Counter()  # /events requests refused, per conversation
        self.refuse: set[str] = set()  # conversations whose events get a 500
        # The service away: a status for a request's events, or None to take them.
        self.away: Callable[[list[dict[str, Any]]], int | None] = lambda _events: None
        self.dead_letters_open = True
        self.dead_letter_refusals = 0
        self._changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                if self.headers.get("Authorization") != f"Bearer {SERVICE_TOKEN}":
                    status = 401
                else:
                    with fake._changed:
                        status = fake._answer(self.path, body)
                        fake._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _answer(self, path: str, events: Any) -> int:
        if path == "/api/rasa/started":
            return 202
        if path == "/api/rasa/dead-letters":
            if not self.dead_letters_open:
                self.dead_letter_refusals += 1
                return 503
            self.dead_letters.extend(events)
            return 200
        if path != "/api/rasa/events":
            return 404
        senders = {event["sender_id"] for event in events}
        status = self.away(events) or (500 if senders & self.refuse else None)
        if status is not None:
            self.refused.update(senders)
            return status
        self.stored.extend(events)
        return 200

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + STUCK
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"stuck: {what}"
                self._changed.wait(remaining)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def user_texts(events: list[dict[str, Any]], conversation_id: str) -> list[str]:
    return [e["text"] for e in events if e["event"] == "user" and e["sender_id"] == conversation_id]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHandoff]:
    server = FakeHandoff()
    yield server
    server.close()


@pytest.fixture(scope="module")
def rasa_url(fake: FakeHandoff, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("broker")
    port = free_port()
    env = rasa_env(fake.url, f"sqlite:///{folder / 'rasa.db'}", "http://127.0.0.1:9/webhook", "")
    rasa = rasa_service(port, env, folder).start()
    yield rasa.base_url
    rasa.stop()


def send_rounds(visitors: list[Visitor], rounds: int) -> dict[str, list[str]]:
    """Each visitor writes ``rounds`` messages, taking turns; what each wrote."""
    sent: dict[str, list[str]] = {v.session_id: [] for v in visitors}
    for index in range(rounds):
        for visitor in visitors:
            text = f"{visitor.session_id[:8]} mensagem {index}"
            assert visitor.say(text)["ok"]
            sent[visitor.session_id].append(text)
    return sent


def test_a_refused_conversation_never_holds_up_the_others(fake: FakeHandoff, rasa_url: str):
    bad = Visitor(rasa_url)
    good = [Visitor(rasa_url) for _ in range(5)]
    fake.refuse.add(bad.session_id)
    fake.dead_letters_open = False
    assert bad.say("o serviço recusa esta conversa")["ok"]
    fake.wait(lambda: fake.refused[bad.session_id] >= 1, "the first refusal")

    # The others' events arrive, each once and in order, while the refused
    # conversation is still held (its dead letter not taken yet).
    sent = send_rounds(good, 3)
    fake.wait(
        lambda: all(user_texts(fake.stored, c) == texts for c, texts in sent.items()),
        "the other conversations' messages",
    )
    assert fake.dead_letters == []
    assert user_texts(fake.stored, bad.session_id) == []

    # Refused MAX_ATTEMPTS times, then posted as dead letters (tried again
    # while the service refuses those too).
    fake.wait(lambda: fake.dead_letter_refusals >= 2, "the dead letter's post")
    assert fake.refused[bad.session_id] == MAX_ATTEMPTS
    fake.dead_letters_open = True
    fake.wait(lambda: user_texts(fake.dead_letters, bad.session_id) != [], "the dead letter")
    assert user_texts(fake.dead_letters, bad.session_id) == ["o serviço recusa esta conversa"]
    assert {e["sender_id"] for e in fake.dead_letters} == {bad.session_id}

    # Then that conversation goes on with its next events.
    fake.refuse.clear()
    assert bad.say("depois")["ok"]
    fake.wait(lambda: user_texts(fake.stored, bad.session_id) == ["depois"], "the next message")
    for visitor in [bad, *good]:
        visitor.close()


def test_the_service_away_loses_nothing(fake: FakeHandoff, rasa_url: str):
    """503, then 401 (a token being changed), past the refusals' bound:
    every conversation's events wait and then arrive, none lost or doubled,
    none a dead letter."""
    away_for = MAX_ATTEMPTS + 1

    def away(events: list[dict[str, Any]]) -> int | None:
        fewest = min(fake.refused[event["sender_id"]] for event in events)
        if fewest >= away_for:
            return None
        return 503 if fewest < away_for // 2 else 401

    fake.away = away
    visitors = [Visitor(rasa_url) for _ in range(3)]
    try:
        sent = send_rounds(visitors, 3)
        fake.wait(
            lambda: all(user_texts(fake.stored, c) == texts for c, texts in sent.items()),
            "every message after the outage",
        )
    finally:
        fake.away = lambda _events: None
    assert all(fake.refused[c] >= away_for for c in sent)
    assert not {e["sender_id"] for e in fake.dead_letters} & set(sent)
    for visitor in visitors:
        visitor.close()


def test_the_services_own_messages_are_not_posted_back(fake: FakeHandoff, rasa_url: str):
    """An operator message the service handed to Rasa reaches the visitor
    and is not posted back to the service (it stored it first)."""
    visitor = Visitor(rasa_url)
    assert visitor.say("preciso de ajuda")["ok"]
    fake.wait(lambda: user_texts(fake.stored, visitor.session_id) != [], "the first message")
    delivered = requests.post(
        f"{rasa_url}/webhooks/operator_messages/deliver",
        json={
            "conversation_id": visitor.session_id,
            "text": "Olá, sou a Ana",
            "handoff_message_id": 4242,
        },
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=STUCK,
    )
    assert delivered.status_code == 200, delivered.text
    texts = []
    while "Olá, sou a Ana" not in texts:
        texts.append(visitor.next_text(timeout=STUCK))
    # Events leave in order per conversation: once the next message is
    # here, an echo would have come before it.
    assert visitor.say("obrigado")["ok"]
    fake.wait(
        lambda: user_texts(fake.stored, visitor.session_id) == ["preciso de ajuda", "obrigado"],
        "the next message",
    )
    mine = [e for e in fake.stored if e["sender_id"] == visitor.session_id]
    assert [e for e in mine if e["event"] == "bot"], "the bot's own answers are posted"
    assert not [e for e in mine if (e.get("metadata") or {}).get("handoff_message_id")]
    visitor.close()
