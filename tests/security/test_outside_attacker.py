"""An outside attacker against the running stack (Rasa, action server,
handoff service): a visitor cannot choose the room; the action server runs
nothing for a caller that is not Rasa."""

from __future__ import annotations

import uuid

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
