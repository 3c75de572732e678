"""Visitors (issue 8, Authorisation and Rate limits): a conversation opens
only with its token. Knowing its id (as operators, trackers and logs see it)
lets nobody read its replies, write into it or read its history. New
conversations per address are limited.

Each test comes from its own loopback address, as from its own network."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import socketio

from tests.support.clients import WAIT, Operator, Visitor, VisitorRefused
from tests.support.processes import RASA_TOKEN, Stack

pytestmark = pytest.mark.slow

# Low enough to reach in a test; production's value is in credentials.yml.
NEW_CONVERSATIONS = 3


@pytest.fixture(scope="module")
def backend() -> str:
    """Who may open a conversation is Rasa's channel's rule, the same on any
    engine (storage is covered on both by tests/faults)."""
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    return {"WIDGET_NEW_CONVERSATIONS_PER_ADDRESS": f"{NEW_CONVERSATIONS} per minute"}


@pytest.fixture(scope="module")
def operator(stack: Stack) -> Iterator[Operator]:
    client = Operator(stack.handoff_url)
    yield client
    client.close()


def tracker_texts(stack: Stack, conversation_id: str) -> list[str]:
    response = requests.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": RASA_TOKEN},
        timeout=10,
    )
    response.raise_for_status()
    return [e.get("text") for e in response.json()["events"] if e["event"] in ("user", "bot")]


def test_knowing_the_conversation_id_opens_nothing(stack: Stack, operator: Operator):
    victim = Visitor(stack.rasa_url, source_address="127.0.1.1")
    assert victim.say("meu CPF é 123", metadata={"name": "Vera", "email": "vera@example.com"})["ok"]
    assert "transferido" in victim.next_text()
    queued = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == victim.session_id
    )
    # The operator (and the tracker, and the logs) know the id, not the token.
    assert queued["conversation_id"] == victim.session_id != victim.token

    # An intruder presents the id as if it were the token: it opens another,
    # empty conversation, and what it writes goes there.
    intruder = Visitor(stack.rasa_url, token=victim.session_id, source_address="127.0.1.2")
    assert intruder.session_id != victim.session_id
    forged = {"message": "invadido", "session_id": victim.session_id, "client_id": uuid.uuid4().hex}
    assert intruder.sio.call("user_uttered", forged, timeout=WAIT)["ok"]
    assert "invadido" in tracker_texts(stack, intruder.session_id)

    # A socket that never asked for a session writes nowhere.
    raw = socketio.Client(reconnection=False)
    raw.connect(stack.rasa_url, transports=["websocket"])
    refused = raw.call("user_uttered", {**forged, "client_id": uuid.uuid4().hex}, timeout=WAIT)
    assert refused["ok"] is False and refused["error"]["code"] == "no_session"
    raw.disconnect()

    # The operator answers: the visitor gets it, the intruder does not.
    taken = operator.call("attendance:take", {"attendance_id": queued["id"]})
    assert taken["ok"]
    sent = operator.call(
        "message:send",
        {"attendance_id": queued["id"], "text": "Olá, Vera!", "client_id": uuid.uuid4().hex},
    )
    assert sent["ok"]
    assert victim.next_text() == "Olá, Vera!"
    assert victim.received[-1]["metadata"]["handoff_message_id"] == sent["message"]["id"]
    time.sleep(0.5)  # one emit to the room: a member would have it by now
    assert all(m.get("text") != "Olá, Vera!" for m in intruder.received)

    # Nothing the intruder wrote reached the victim's conversation.
    assert "invadido" not in tracker_texts(stack, victim.session_id)
    assert "invadido" not in operator.customer_texts(queued["id"], "meu CPF é 123")

    # History: only the token reads it; the id as a token reads an empty one.
    mine = [m["text"] for m in victim.history(stack.handoff_url).json()["messages"]]
    assert "meu CPF é 123" in mine and "Olá, Vera!" in mine
    theirs = intruder.history(stack.handoff_url).json()["messages"]
    assert all(m["text"] not in ("meu CPF é 123", "Olá, Vera!") for m in theirs)
    bare = requests.get(f"{stack.handoff_url}/widget/api/history", timeout=10)
    assert bare.status_code == 401 and bare.json()["error"]["message"]
    old = requests.get(f"{stack.handoff_url}/widget/api/history/{victim.session_id}", timeout=10)
    assert old.status_code == 404
    victim.close()
    intruder.close()


def test_the_history_preflight_allows_the_token_header(stack: Stack):
    """The widget runs on the organisation's site: its history request is
    cross-origin and the browser asks first."""
    answer = requests.options(
        f"{stack.handoff_url}/widget/api/history",
        headers={
            "Origin": stack.site_url,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-conversation-token",
        },
        timeout=10,
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Headers"] == "X-Conversation-Token"


def test_new_conversations_per_address_are_limited(stack: Stack):
    address = "127.0.2.1"
    first = [Visitor(stack.rasa_url, source_address=address) for _ in range(NEW_CONVERSATIONS)]
    with pytest.raises(VisitorRefused) as refused:
        Visitor(stack.rasa_url, source_address=address)
    assert "Tente novamente em alguns minutos" in str(refused.value)
    # Coming back to a conversation already started is not a new one.
    again = Visitor(stack.rasa_url, token=first[0].token, source_address=address)
    assert again.session_id == first[0].session_id
    assert again.say("voltei")["ok"]
    # Another address is not affected.
    Visitor(stack.rasa_url, source_address="127.0.2.2").close()
    for visitor in [*first, again]:
        visitor.close()
