"""Two Rasa processes behind one database and one Redis (``RASA_REDIS_URL``,
bot/shared_state.py): a visitor connected to one gets the operator's reply
that the other delivered, and a message that reaches both is handled once.
Needs the machine's Redis and PostgreSQL (.ci/run starts them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
import requests

from tests.support.clients import Operator, Visitor
from tests.support.processes import (
    RASA_TOKEN,
    Service,
    Stack,
    free_port,
    rasa_service,
)
from tests.test_scale import REDIS_URL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend() -> str:
    return "postgresql"


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({error}); .ci/run starts it")
    return {"RASA_REDIS_URL": REDIS_URL}


@pytest.fixture(scope="module")
def second_rasa(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Another Rasa process of the same stack (its handoff service keeps
    delivering operator messages through the first)."""
    first = next(service for service in stack.services if service.name == "rasa")
    folder = tmp_path_factory.mktemp("second-rasa")
    service = rasa_service(free_port(), first.env, folder).start()
    yield service
    service.stop()


def user_messages(stack: Stack, conversation_id: str, text: str) -> list[dict]:
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": RASA_TOKEN},
        timeout=10,
    ).json()
    return [e for e in tracker["events"] if e["event"] == "user" and e.get("text") == text]


def test_the_reply_reaches_a_visitor_connected_to_the_other_process(
    stack: Stack, second_rasa: Service, operator: Operator
):
    visitor = Visitor(second_rasa.base_url)
    try:
        visitor.say("Olá, preciso de ajuda com o IPTU")
        assert "transferido" in visitor.next_text()
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
        )
        assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
        reply = "Bom dia! Qual é a inscrição do imóvel?"
        sent = operator.call(
            "message:send",
            {"attendance_id": queued["id"], "text": reply, "client_id": uuid.uuid4().hex},
        )
        assert sent["ok"], sent
        # The handoff service delivered it through the first process; the
        # visitor's socket is on the second.
        assert visitor.next_text() == reply
        delivered = operator.wait_for("message:delivery", lambda d: d["delivery"] == "sent")
        assert delivered["delivery"] == "sent"
    finally:
        visitor.close()


def test_a_message_that_reaches_both_processes_is_handled_once(
    stack: Stack, second_rasa: Service, operator: Operator
):
    on_second = Visitor(second_rasa.base_url)
    on_first = Visitor(stack.rasa_url, token=on_second.token)
    try:
        # The second process meets the conversation first (and keeps its ids).
        on_second.say("Olá, preciso de ajuda")
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == on_second.session_id
        )
        # A widget that lost its acknowledgement sends again, here to the
        # other process: the same client id, first to one, then to the other.
        client_id = uuid.uuid4().hex
        text = "A inscrição é 123.456"
        assert on_first.say(text, client_id=client_id)["ok"]
        assert on_second.say(text, client_id=client_id)["ok"]
        operator.wait_for("message:new", lambda m: m["text"] == text)
        assert len(user_messages(stack, on_second.session_id, text)) == 1
        messages = operator.get(f"/api/attendances/{queued['id']}/messages").json()["messages"]
        assert [m["text"] for m in messages].count(text) == 1
    finally:
        on_first.close()
        on_second.close()
