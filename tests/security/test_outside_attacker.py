"""An outside attacker against the running stack (Rasa, action server,
handoff service): a visitor cannot choose the room; the action server runs
nothing for a caller that is not Rasa; every route bot/'s channels add to
Rasa, and every route of the action server, listed from the applications,
refuses a caller without its secret."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from tests.security.app_routes import action_server_routes, rasa_routes
from tests.support.api import add_entry_point, add_room, room_id
from tests.support.chaos_run import service
from tests.support.clients import Visitor
from tests.support.processes import ACTIONS_TOKEN, SERVICE_TOKEN, Stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def attendance_of(stack: Stack, conversation_id: str) -> dict | None:
    response = requests.get(
        f"{stack.handoff_url}/api/conversations/{conversation_id}/attendance",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["attendance"]


def arrive(stack: Stack, metadata: dict) -> dict:
    visitor = Visitor(stack.rasa_url)
    try:
        assert visitor.say("olá", metadata={"name": "Vânia", **metadata})["ok"]
        assert "transferido" in visitor.next_text()
        attendance = attendance_of(stack, visitor.session_id)
    finally:
        visitor.close()
    assert attendance is not None
    return attendance


def test_a_visitor_cannot_choose_the_room(stack: Stack) -> None:
    """Routing comes from the widget key the organisation configured; a room
    named in the visitor's own metadata counts for nothing."""
    handoff = service(stack, "handoff")
    add_room(handoff, "sigilosa")
    add_entry_point(handoff, "widget", "portal-tributos", "tributos")
    default, tributos = room_id(handoff, "atendimento"), room_id(handoff, "tributos")

    named = arrive(stack, {"room": "sigilosa"})
    assert named["room_id"] == default
    configured = arrive(stack, {"widget_key": "portal-tributos", "room": "sigilosa"})
    assert configured["room_id"] == tributos
    unknown = arrive(stack, {"widget_key": "sigilosa", "room": "sigilosa"})
    assert unknown["room_id"] == default


def webhook(stack: Stack, conversation_id: str, params: dict) -> requests.Response:
    """A made-up tracker asking the action server to open a WhatsApp attendance."""
    tracker = {
        "sender_id": conversation_id,
        "slots": {},
        "latest_message": {"intent": {"name": "human"}, "text": "quero um humano"},
        "latest_input_channel": "whatsapp",
        "events": [{"event": "user", "text": "oi", "metadata": {"name": "Intruso"}}],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    return requests.post(
        f"{service(stack, 'actions').base_url}/webhook",
        params=params,
        json={
            "next_action": "action_start_attendance",
            "sender_id": conversation_id,
            "tracker": tracker,
            "domain": {},
            "version": "3.6.0",
        },
        timeout=30,
    )


def test_the_action_server_answers_only_rasa(stack: Stack) -> None:
    for params in ({}, {"token": "adivinhado"}, {"token": ACTIONS_TOKEN + "x"}):
        conversation_id = f"55119{uuid.uuid4().int % 10**8:08d}"
        refused = webhook(stack, conversation_id, params)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "unauthorized"
        assert attendance_of(stack, conversation_id) is None
    listing = requests.get(f"{service(stack, 'actions').base_url}/actions", timeout=10)
    assert listing.status_code == 401
    # Rasa itself (endpoints.yml carries the token) still gets its actions run.
    assert arrive(stack, {})["channel"] == "socketio"


# --- every route Rasa serves through bot/'s channels, and the action server's

# Each route in one class, by method and path; a route added to a channel (or
# a new channel in credentials.yml, or in rasa_sdk) fails the test until it
# is classified. The widget's socket.io events are the visitor protocol
# (test_visitors.py); the fuzzing sends them bad input (test_bad_input_rasa.py).
RASA_OPEN = {("GET", "/webhooks/socketio/"), ("GET", "/webhooks/whatsapp/")}
RASA_META = {  # Meta's secrets: the verify token, the body's signature
    ("GET", "/webhooks/whatsapp/webhook"),
    ("POST", "/webhooks/whatsapp/webhook"),
}
RASA_SERVICE = {  # the handoff service's token
    ("POST", "/webhooks/whatsapp/resend"),
    ("GET", "/webhooks/tracker_store/health"),
    ("POST", "/webhooks/operator_messages/deliver"),
    ("POST", "/webhooks/operator_messages/typing"),
    ("POST", "/webhooks/operator_messages/notice"),
    ("GET", "/webhooks/conversation_messages/<conversation_id:str>"),
    ("DELETE", "/webhooks/conversation_erasure/<conversation_id:str>"),
}
ACTIONS_OPEN = {("GET", "/health")}
ACTIONS_RASA = {("POST", "/webhook"), ("GET", "/actions")}  # HANDOFF_ACTIONS_TOKEN


def url(root: str, path: str) -> str:
    return root + re.sub(r"<(\w+)(:[^>]*)?>", "5511900000000", path)


def test_every_rasa_and_action_server_route_refuses_strangers(stack: Stack) -> None:
    rasa = {(r.method, r.path) for r in rasa_routes()}
    actions = {(r.method, r.path) for r in action_server_routes()}
    assert rasa == RASA_OPEN | RASA_META | RASA_SERVICE
    assert actions == ACTIONS_OPEN | ACTIONS_RASA
    base, actions_url = stack.rasa_url, service(stack, "actions").base_url

    for method, path in sorted(RASA_SERVICE):
        for headers in ({}, {"Authorization": "Bearer adivinhado"}, {"Authorization": "x"}):
            answer = requests.request(method, url(base, path), headers=headers, json={}, timeout=30)
            assert answer.status_code == 401, (path, headers, answer.text)
        token = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
        with_token = requests.request(method, url(base, path), headers=token, json={}, timeout=30)
        assert with_token.status_code not in (401, 404, 500), (path, with_token.text)

    webhook = url(base, "/webhooks/whatsapp/webhook")
    unsigned = requests.post(webhook, json={"entry": []}, timeout=30)
    assert unsigned.status_code == 401, unsigned.text
    guess = {"hub.mode": "subscribe", "hub.verify_token": "adivinhado", "hub.challenge": "1"}
    assert requests.get(webhook, params=guess, timeout=30).status_code == 403

    for method, path in sorted(ACTIONS_RASA):
        for params in ({}, {"token": "adivinhado"}):
            answer = requests.request(
                method, url(actions_url, path), params=params, json={}, timeout=30
            )
            assert answer.status_code == 401, (path, params, answer.text)
    for method, path in sorted(RASA_OPEN):
        assert requests.request(method, url(base, path), timeout=30).status_code == 200, path
    assert requests.get(f"{actions_url}/health", timeout=30).status_code == 200
