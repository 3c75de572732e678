"""Idempotency (issue 8, Faults): a message delivered five times, one after
the other or all at once, is stored once in Rasa's tracker and once in the
handoff service, and every copy is acknowledged.

The widget re-sends a message (same client id) when it did not get the
acknowledgement; Meta re-delivers a webhook (same wamid). Real Rasa, action
server and handoff service; Meta's Graph API is the local fake."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.clients import WAIT, Operator, Visitor
from tests.support.fake_graph import PHONE_NUMBER_ID, FakeGraph
from tests.support.processes import RASA_TOKEN, SERVICE_TOKEN, Stack

pytestmark = pytest.mark.slow

COPIES = 5
APP_SECRET = "test-app-secret"


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph) -> dict[str, str]:
    return {"WHATSAPP_API_BASE_URL": graph.base_url}


@pytest.fixture(scope="module")
def operator(stack: Stack) -> Iterator[Operator]:
    client = Operator(stack.handoff_url)
    yield client
    client.close()


def tracker_events(stack: Stack, conversation_id: str) -> list[dict]:
    """The events of the conversation's tracker (Rasa's HTTP API)."""
    response = requests.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": RASA_TOKEN},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["events"]


def user_events(stack: Stack, conversation_id: str, message_id: str) -> int:
    """UserUttered events with that message id in Rasa's tracker."""
    return sum(
        1
        for event in tracker_events(stack, conversation_id)
        if event["event"] == "user" and event.get("message_id") == message_id
    )


def stored_texts(operator: Operator, attendance_id: int, sentinel: str) -> list[str]:
    """The customer's messages stored by the handoff service, once the sentinel
    (sent after the copies) is there: the broker is ordered, so every copy
    that could have been stored has been by then."""
    texts = operator.customer_texts(attendance_id, sentinel)
    assert sentinel in texts, texts
    return texts


def attendance_of(operator: Operator, conversation_id: str) -> dict:
    return operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == conversation_id)


@pytest.fixture
def visitor(stack: Stack, operator: Operator) -> Iterator[tuple[Visitor, dict]]:
    """A visitor already handed off (the handoff service stores its messages)."""
    client = Visitor(stack.rasa_url)
    assert client.say("oi", metadata={"name": "Rui", "email": "rui@example.com"})["ok"]
    yield client, attendance_of(operator, client.session_id)
    client.close()


def test_the_same_client_id_five_times_in_a_row(
    stack: Stack, operator: Operator, visitor: tuple[Visitor, dict]
):
    client, attendance = visitor
    client_id = uuid.uuid4().hex
    acks = [client.say("segunda via do IPTU", client_id=client_id) for _ in range(COPIES)]
    assert acks == [{"ok": True, "client_id": client_id}] * COPIES
    client.say("depois")
    assert user_events(stack, client.session_id, client_id) == 1
    texts = stored_texts(operator, attendance["id"], "depois")
    assert texts.count("segunda via do IPTU") == 1


def test_the_same_client_id_five_times_at_once(
    stack: Stack, operator: Operator, visitor: tuple[Visitor, dict]
):
    client, attendance = visitor
    client_id = uuid.uuid4().hex
    acks: queue.Queue[dict] = queue.Queue()
    payload = {"message": "certidão negativa", "session_id": client.token, "client_id": client_id}
    for _ in range(COPIES):  # no waiting between them: all in flight together
        client.sio.emit("user_uttered", payload, callback=acks.put)
    got = [acks.get(timeout=WAIT) for _ in range(COPIES)]
    assert got == [{"ok": True, "client_id": client_id}] * COPIES
    client.say("depois")
    assert user_events(stack, client.session_id, client_id) == 1
    texts = stored_texts(operator, attendance["id"], "depois")
    assert texts.count("certidão negativa") == 1


def deliver_operator_message(
    stack: Stack, conversation_id: str, message_id: int, text: str
) -> dict:
    """What the handoff service's outbox calls for an operator message."""
    answer = requests.post(
        f"{stack.rasa_url}/webhooks/operator_messages/deliver",
        json={"conversation_id": conversation_id, "text": text, "handoff_message_id": message_id},
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=WAIT,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def bot_events(stack: Stack, conversation_id: str, message_id: int) -> int:
    """BotUttered events carrying that operator message in Rasa's tracker."""
    return sum(
        1
        for event in tracker_events(stack, conversation_id)
        if event["event"] == "bot"
        and (event.get("metadata") or {}).get("handoff_message_id") == message_id
    )


@pytest.mark.parametrize("at_once", [False, True], ids=["in-a-row", "at-once"])
def test_the_same_operator_message_five_times_is_one_event(
    stack: Stack, visitor: tuple[Visitor, dict], at_once: bool
):
    """Rasa appends an operator message without loading the conversation
    (bot/tracker_store.py): five copies are still one ``bot`` event, the
    widget hears it once, and a later message goes after it."""
    client, _attendance = visitor
    message_id = uuid.uuid4().int % 10**9
    copies = [(stack, client.session_id, message_id, "Seu protocolo sai hoje.")] * COPIES
    if at_once:
        with ThreadPoolExecutor(COPIES) as pool:
            answers = list(pool.map(lambda args: deliver_operator_message(*args), copies))
    else:
        answers = [deliver_operator_message(*args) for args in copies]
    assert sum(1 for a in answers if a == {"delivered": True}) == 1, answers
    deliver_operator_message(stack, client.session_id, message_id + 1, "Mais alguma coisa?")
    assert bot_events(stack, client.session_id, message_id) == 1
    heard = [client.next_text()]
    while heard[-1] != "Mais alguma coisa?":
        heard.append(client.next_text())
    assert heard[-2:] == ["Seu protocolo sai hoje.", "Mais alguma coisa?"], heard
    assert heard.count("Seu protocolo sai hoje.") == 1, heard


def test_five_tabs_of_one_conversation_send_the_same_message(
    stack: Stack, operator: Operator, visitor: tuple[Visitor, dict]
):
    """The same conversation open in five tabs (five sockets), one message
    re-sent by each at the same moment."""
    client, attendance = visitor
    tabs = [Visitor(stack.rasa_url, token=client.token) for _ in range(COPIES)]
    client_id = uuid.uuid4().hex
    try:
        with ThreadPoolExecutor(COPIES) as pool:
            acks = list(pool.map(lambda tab: tab.say("alvará", client_id=client_id), tabs))
    finally:
        for tab in tabs:
            tab.close()
    assert acks == [{"ok": True, "client_id": client_id}] * COPIES
    client.say("depois")
    assert user_events(stack, client.session_id, client_id) == 1
    assert stored_texts(operator, attendance["id"], "depois").count("alvará") == 1


# WhatsApp: Meta's webhook, signed with the app secret.


def webhook(wa_id: str, wamid: str, text: str, batch: int = 0) -> dict:
    """Meta's envelope for one text; ``batch`` changes the envelope around the
    same message (Meta may batch a re-delivery with other updates)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": f"10229012934{batch:04d}",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Ivo"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": wamid,
                                    "timestamp": str(1749416383 + batch),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def deliver(stack: Stack, payload: dict) -> int:
    body = json.dumps(payload).encode()
    signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(
        f"{stack.rasa_url}/webhooks/whatsapp/webhook",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"},
        timeout=30,
    ).status_code


def citizen() -> str:
    return f"55119{uuid.uuid4().int % 10**8:08d}"


@pytest.mark.parametrize("at_once", [False, True], ids=["in-a-row", "at-once"])
def test_the_same_wamid_delivered_five_times(stack: Stack, operator: Operator, at_once: bool):
    """Five deliveries of one message (each in its own envelope, so none is a
    replay of another's signed body): all accepted, one message."""
    wa_id, wamid = citizen(), f"wamid.{uuid.uuid4().hex}"
    bodies = [webhook(wa_id, wamid, "preciso de ajuda", batch) for batch in range(COPIES)]
    if at_once:
        with ThreadPoolExecutor(COPIES) as pool:
            statuses = list(pool.map(lambda body: deliver(stack, body), bodies))
    else:
        statuses = [deliver(stack, body) for body in bodies]
    assert statuses == [200] * COPIES
    attendance = attendance_of(operator, wa_id)
    assert deliver(stack, webhook(wa_id, f"wamid.{uuid.uuid4().hex}", "depois")) == 200
    assert user_events(stack, wa_id, wamid) == 1
    assert stored_texts(operator, attendance["id"], "depois").count("preciso de ajuda") == 1


def test_the_same_signed_body_five_times_is_one_message(stack: Stack, operator: Operator):
    """Meta re-delivers a body byte for byte when it missed our 200: each
    copy is answered 200 (a 401 would make Meta retry for days)."""
    wa_id, wamid = citizen(), f"wamid.{uuid.uuid4().hex}"
    body = webhook(wa_id, wamid, "bom dia")
    statuses = [deliver(stack, body) for _ in range(COPIES)]
    assert statuses == [200] * COPIES
    attendance = attendance_of(operator, wa_id)
    assert deliver(stack, webhook(wa_id, f"wamid.{uuid.uuid4().hex}", "depois")) == 200
    assert user_events(stack, wa_id, wamid) == 1
    assert stored_texts(operator, attendance["id"], "depois").count("bom dia") == 1
