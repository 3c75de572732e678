"""One bad message must never stop every conversation (the outside
review's finding).

Twenty widget visitors in attendance with one operator write steadily; one
more visitor, also in attendance, writes text that is valid JSON but that
no database stores as typed (lone UTF-16 surrogates, NUL, non-characters,
other control characters) and gave that in its pre-chat name and e-mail.
Before, Rasa acknowledged such a message, the handoff service answered its
event with a 500 and Rasa's event broker, one queue for all conversations,
retried it forever: no customer message reached any operator any more
(and the poisoned name made the transfer fail forever). Now the widget
channel cleans every string by the shared rule (``textrules``) before Rasa
acknowledges it, and the broker keeps order per conversation only (its
contract is tested in tests/faults/test_broker.py).

Real Rasa, action server and handoff service, on SQLite and PostgreSQL.
The delay of each of the twenty's messages (acknowledged by Rasa, then
shown to the operator) is printed as a figure, not asserted.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from handoff.db import Database
from handoff.models import Message
from tests.support.api import PASSWORD, add_operator
from tests.support.clients import Operator, Visitor
from tests.support.processes import Stack

pytestmark = pytest.mark.slow

VISITORS = 20
MESSAGES = 8  # per visitor, after the first
PAUSE = 0.2  # seconds between one visitor's messages
STUCK = 120.0  # seconds: only a bound for "stuck", far past any normal delay

POISONED_NAME, CLEAN_NAME = "Ana \ud800 Lima", "Ana \ufffd Lima"
POISONED_EMAIL, CLEAN_EMAIL = "ana\x00@example.com", "ana@example.com"
# What the poisoned visitor writes, and how it is stored and shown.
POISON = {
    "olá \udfff": "olá \ufffd",
    "\ud800": "\ufffd",
    "a\x00b": "ab",
    "\ufffe": "\ufffd",
    "x\udbffy\U0010ffff": "x\ufffdy\ufffd",
    "fim\x07 do\x7f texto\r\n\tok": "fim do texto\r\n\tok",
    "acentuação e emoji 🙂 ficam": "acentuação e emoji 🙂 ficam",
}


class Console:
    """The operator's console: every message it is shown (once per id, as
    the console shows them: a replay announces a stored message again),
    with the time it arrived."""

    def __init__(self, operator: Operator) -> None:
        self.operator = operator
        self.shown: dict[int, list[str]] = defaultdict(list)
        self.arrived: dict[tuple[int, str], float] = {}
        self._ids: set[int] = set()
        self._changed = threading.Condition()
        operator.sio.on("message:new", self._message)

    def _message(self, message: dict[str, Any]) -> None:
        if message["direction"] != "customer":
            return
        with self._changed:
            if message["id"] in self._ids:
                return
            self._ids.add(message["id"])
            key = (message["attendance_id"], message["text"])
            self.arrived.setdefault(key, time.monotonic())
            self.shown[message["attendance_id"]].append(message["text"])
            self._changed.notify_all()

    def wait_all(self, expected: dict[int, list[str]]) -> None:
        deadline = time.monotonic() + STUCK
        with self._changed:
            while any(len(self.shown[a]) < len(texts) for a, texts in expected.items()):
                remaining = deadline - time.monotonic()
                missing = {a: texts[len(self.shown[a]) :] for a, texts in expected.items()}
                assert remaining > 0, f"stuck: never shown {missing}"
                self._changed.wait(remaining)


@pytest.fixture(scope="module")
def console(stack: Stack) -> Iterator[Console]:
    """An operator who may attend everyone at once."""
    username = add_operator(stack.services[0], ["atendimento"], max_concurrent=VISITORS + 1)
    operator = Operator(stack.handoff_url, username, PASSWORD)
    yield Console(operator)
    operator.close()


def hand_off(visitor: Visitor, console: Console, first: str, metadata: dict) -> dict:
    """The visitor's first message queues it; the operator takes the call."""
    assert visitor.say(first, metadata=metadata)["ok"]
    queued = console.operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id, timeout=STUCK
    )
    taken = console.operator.call("attendance:take", {"attendance_id": queued["id"]})
    assert taken["ok"], taken
    return queued


def write_steadily(visitor: Visitor, texts: list[str]) -> dict[str, float]:
    """Each text, one after the other; when Rasa acknowledged each."""
    acked: dict[str, float] = {}
    for text in texts:
        ack = visitor.say(text)
        assert ack["ok"], (text, ack)
        acked[text] = time.monotonic()
        time.sleep(PAUSE)
    return acked


def stored_texts(stack: Stack, attendance_id: int) -> list[str]:
    """The customer's messages as the handoff service's database holds them."""
    db = Database(stack.services[0].env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        texts = list(
            uow.session.scalars(
                select(Message.text)
                .where(Message.attendance_id == attendance_id, Message.direction == "customer")
                .order_by(Message.created_at, Message.id)
            )
        )
    db.dispose()
    return texts


def test_a_poisoned_visitor_stops_no_one(stack: Stack, console: Console):
    visitors = [Visitor(stack.rasa_url) for _ in range(VISITORS)]
    poisoned = Visitor(stack.rasa_url)
    first_poison, *more_poison = POISON
    attendance = hand_off(
        poisoned, console, first_poison, {"name": POISONED_NAME, "email": POISONED_EMAIL}
    )
    assert (attendance["contact_name"], attendance["contact_email"]) == (CLEAN_NAME, CLEAN_EMAIL)
    expected = {attendance["id"]: list(POISON.values())}
    others: list[tuple[Visitor, int, list[str]]] = []
    for index, visitor in enumerate(visitors):
        first = f"visitante {index:02d} chegou"
        metadata = {"name": f"Visitante {index:02d}", "email": f"v{index:02d}@example.com"}
        attendance_id = hand_off(visitor, console, first, metadata)["id"]
        texts = [f"visitante {index:02d} mensagem {n}" for n in range(MESSAGES)]
        others.append((visitor, attendance_id, texts))
        expected[attendance_id] = [first, *texts]

    # The poisoned visitor starts first; the others write while it does.
    with ThreadPoolExecutor(VISITORS + 1) as pool:
        poisoning = pool.submit(write_steadily, poisoned, more_poison)
        writing = {a: pool.submit(write_steadily, v, texts) for v, a, texts in others}
        acked = {attendance_id: future.result() for attendance_id, future in writing.items()}
        poisoning.result()
    console.wait_all(expected)

    # Every message of the twenty shown once, in order; and stored so.
    for attendance_id, wanted in expected.items():
        assert console.shown[attendance_id] == wanted
        assert stored_texts(stack, attendance_id) == wanted

    # The poisoned visitor's messages are in Rasa's tracker cleaned, name too.
    events = stack.tracker(poisoned.session_id)["events"]
    users = [e for e in events if e["event"] == "user"]
    assert [e["text"] for e in users] == list(POISON.values())
    assert users[0]["metadata"]["name"] == CLEAN_NAME

    delays = sorted(
        console.arrived[(attendance_id, text)] - sent_at
        for attendance_id, sent in acked.items()
        for text, sent_at in sent.items()
    )
    print(
        f"\n{len(delays)} messages of {VISITORS} visitors beside a poisoned one, "
        f"acknowledged to shown: median {statistics.median(delays) * 1000:.0f} ms, "
        f"p95 {delays[int(len(delays) * 0.95)] * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms"
    )
    for visitor in [poisoned, *visitors]:
        visitor.close()


def test_what_cannot_be_taken_gets_a_clear_answer(stack: Stack):
    """Payloads of the wrong type, and metadata the handoff service could
    not take, are refused in the ack in pt-BR, never silently; the limit is
    counted after cleaning."""
    visitor = Visitor(stack.rasa_url)
    base = {"session_id": visitor.token}

    def answer(payload: Any) -> dict[str, Any]:
        return visitor.sio.call("user_uttered", payload, timeout=STUCK)

    def refusal(payload: Any) -> tuple[str, str]:
        ack = answer(payload)
        assert ack["ok"] is False, (payload, ack)
        return ack["error"]["code"], ack["error"]["message"]

    assert refusal(["oi"]) == ("invalid", "Mensagem em formato inválido.")
    assert refusal({**base, "message": 42}) == ("invalid", "A mensagem precisa ser um texto.")
    assert refusal({**base, "message": "\x00\x01 "}) == ("invalid", "A mensagem está vazia.")
    bad_metadata = ("invalid", "Dados do visitante em formato inválido.")
    assert refusal({**base, "message": "oi", "metadata": ["Ana"]}) == bad_metadata
    assert refusal({**base, "message": "oi", "metadata": "{não é JSON"}) == bad_metadata
    assert refusal({**base, "message": "oi", "metadata": {"name": 7}}) == bad_metadata
    long_name = {"name": "A" * 201, "email": "ana@example.com"}
    assert refusal({**base, "message": "oi", "metadata": long_name}) == (
        "invalid",
        "Nome: use no máximo 200 caracteres.",
    )
    assert refusal({**base, "message": "x" * 4097})[0] == "too_long"
    # 4096 characters once the 5000 NULs are gone: taken.
    assert answer({**base, "message": "\x00" * 5000 + "y" * 4096})["ok"]
    events = stack.tracker(visitor.session_id)["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["y" * 4096]
    visitor.close()
