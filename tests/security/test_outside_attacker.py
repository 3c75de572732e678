"""An outside attacker against the running stack (Rasa, action server,
handoff service): a visitor cannot choose the room; the action server runs
nothing for a caller that is not Rasa; every route bot/'s channels add to
Rasa, and every route of the action server, listed from the applications,
refuses a caller without its secret."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

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

# By handler name, each route in one class; a route added to a channel (or
# a new channel in credentials.yml) fails the test until it is classified.
RASA_OPEN = {
    "handle_request",  # the widget's socket.io: the visitor protocol (test_visitors.py)
    "socketio_webhook.health",
    "whatsapp_webhook.health",
}
RASA_META = {"whatsapp_webhook.verify", "whatsapp_webhook.receive"}  # Meta's secrets
RASA_SERVICE = {  # the handoff service's token
    "whatsapp_webhook.resend",
    "tracker_store_guard.health",
    "operator_messages.deliver",
    "conversation_messages.messages",
}
ACTIONS_OPEN = {"health"}
ACTIONS_RASA = {"webhook", "actions"}  # HANDOFF_ACTIONS_TOKEN


def listed_routes() -> dict[str, list[dict]]:
    """The routes, read from the applications by .venv-rasa's interpreter."""
    root = Path(__file__).resolve().parents[2]
    listed = subprocess.run(
        [str(root / ".venv-rasa" / "bin" / "python"), "-m", "tests.support.rasa_routes"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(listed.stdout)


def test_every_rasa_and_action_server_route_refuses_strangers(stack: Stack) -> None:
    routes = listed_routes()
    rasa = {r["name"].split(".", 1)[1]: r for r in routes["rasa"]}
    actions = {r["name"].split(".", 1)[1]: r for r in routes["actions"]}
    assert set(rasa) == RASA_OPEN | RASA_META | RASA_SERVICE
    assert set(actions) == ACTIONS_OPEN | ACTIONS_RASA
    base = stack.rasa_url
    actions_url = service(stack, "actions").base_url

    def url(route: dict, root: str) -> str:
        return root + re.sub(r"<(\w+)(:[^>]*)?>", "5511900000000", route["path"])

    for name in sorted(RASA_SERVICE):
        route = rasa[name]
        for headers in ({}, {"Authorization": "Bearer adivinhado"}, {"Authorization": "x"}):
            answer = requests.request(
                route["method"], url(route, base), headers=headers, json={}, timeout=30
            )
            assert answer.status_code == 401, (name, headers, answer.text)
        with_token = requests.request(
            route["method"],
            url(route, base),
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
            json={},
            timeout=30,
        )
        assert with_token.status_code not in (401, 404, 500), (name, with_token.text)

    receive, verify = rasa["whatsapp_webhook.receive"], rasa["whatsapp_webhook.verify"]
    unsigned = requests.post(url(receive, base), json={"entry": []}, timeout=30)
    assert unsigned.status_code == 401, unsigned.text
    guessed = requests.get(
        url(verify, base),
        params={"hub.mode": "subscribe", "hub.verify_token": "adivinhado", "hub.challenge": "1"},
        timeout=30,
    )
    assert guessed.status_code == 403, guessed.text

    for name in sorted(ACTIONS_RASA):
        route = actions[name]
        for params in ({}, {"token": "adivinhado"}):
            answer = requests.request(
                route["method"], url(route, actions_url), params=params, json={}, timeout=30
            )
            assert answer.status_code == 401, (name, params, answer.text)
    for name in sorted(RASA_OPEN - {"handle_request"}):
        assert requests.get(url(rasa[name], base), timeout=30).status_code == 200, name
    assert requests.get(f"{actions_url}/health", timeout=30).status_code == 200
