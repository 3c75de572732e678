"""Bad input on the routes and socket.io events ``bot/`` adds to Rasa
(issue 16, finding 6): the WhatsApp webhook (signed, so that the body is
read), the routes of the handoff service (with the service token) and the
widget's events. Never a 5xx nor a silent event: a 4xx JSON error, or an
error ack. The routes and events are read from the channels' own
blueprints (``tests/security/app_routes.py``). Real Rasa, action server
and handoff service, one stack on SQLite (the channels store nothing of
their own; the engines are the handoff service's, fuzzed on both in
``test_bad_input.py``); Meta's Graph API is the local fake."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.security.app_routes import BODY_KEYS, Route, rasa_routes, rasa_socket_events
from tests.security.bad_values import (
    BAD_HEADERS,
    BAD_VALUES,
    DEEP,
    PATH_VALUES,
    QUERY_VALUES,
    RAW_BODIES,
    Problems,
    bodies,
    is_error_ack,
)
from tests.support.clients import Visitor
from tests.support.fake_graph import FakeGraph, envelope
from tests.support.processes import SERVICE_TOKEN, Stack
from tests.support.raw_socketio import STUCK_SECONDS, RawSocket

pytestmark = pytest.mark.slow

APP_SECRET = "test-app-secret"  # tests/support/processes.py, rasa_env
WEBHOOK = "/webhooks/whatsapp/webhook"
# Routes whose callers are not the handoff service.
OPEN_ROUTES = {
    ("GET", "/webhooks/socketio/"),
    ("GET", "/webhooks/whatsapp/"),
    ("GET", WEBHOOK),
    ("POST", WEBHOOK),
}
# Raw bodies that are JSON objects (signed, the webhook takes them).
JSON_OBJECTS = {"deep-object-900", "text-plain"}
RASA_KEYS = [*BODY_KEYS, "handoff_message_id", "metadata", "customData", "session_id"]


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph) -> dict[str, str]:
    return {"WHATSAPP_API_BASE_URL": graph.base_url}


@pytest.fixture(scope="module")
def problems() -> Problems:
    return Problems()


@pytest.fixture(scope="module")
def kept(stack: Stack) -> Iterator[dict[str, Any]]:
    """A visitor's conversation with a message stored before the fuzz."""
    visitor = Visitor(stack.rasa_url)
    ack = visitor.say("Bom dia, preciso de ajuda", metadata={"name": "Lia Mantida"})
    assert ack["ok"], ack
    yield {"visitor": visitor, "client_id": ack["client_id"]}
    visitor.close()


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def post_signed(stack: Stack, body: bytes, content_type: str = "application/json") -> Any:
    headers = {"Content-Type": content_type, "X-Hub-Signature-256": sign(body)}
    return requests.post(stack.rasa_url + WEBHOOK, data=body, headers=headers, timeout=60)


def meta_shapes(value: Any) -> dict[str, dict[str, Any]]:
    """Meta's envelope with ``value`` in each place the channel reads."""
    citizen = f"55119{uuid.uuid4().int % 10**8:08d}"

    def message(**fields: Any) -> dict[str, Any]:
        wamid = f"wamid.{uuid.uuid4().hex}"
        return envelope({"messages": [{"from": citizen, "id": wamid, **fields}]})

    return {
        "sender": message(**{"from": value, "type": "text", "text": {"body": "oi"}}),
        "message id": message(id=value, type="text", text={"body": "oi"}),
        "type": message(type=value),
        "text": message(type="text", text=value),
        "text body": message(type="text", text={"body": value}),
        "interactive": message(type="interactive", interactive=value),
        "interactive kind": message(type="interactive", interactive={"type": value}),
        "button": message(type="button", button=value),
        "contacts": envelope({"contacts": [{"wa_id": value, "profile": value}]}),
        "metadata": envelope({"metadata": value, "messages": value}),
        "statuses": envelope(
            {"statuses": [{"id": value, "status": value, "biz_opaque_callback_data": value}]}
        ),
        "entry": {"object": "whatsapp_business_account", "entry": value},
    }


def test_every_route_is_listed() -> None:
    listed = {(r.method, r.path) for r in rasa_routes()}
    assert OPEN_ROUTES <= listed, listed
    assert len(listed - OPEN_ROUTES) >= 4, "the handoff service's routes"


def test_the_signed_webhook_answers_bad_bodies_with_a_4xx(
    stack: Stack, problems: Problems, kept: dict[str, Any]
):
    route = Route("POST", "webhook", WEBHOOK)
    checked = 0
    for name, value in {**BAD_VALUES, "deep string": "[" * DEEP}.items():
        for place, body in meta_shapes(value).items():
            answer = post_signed(stack, json.dumps(body).encode())
            problems.check(f"{route.path} [{place}: {name}]", answer)
            checked += 1
    for name, body in bodies(RASA_KEYS).items():
        problems.check(f"{route.path} [{name}]", post_signed(stack, json.dumps(body).encode()))
    for name, (kind, raw) in RAW_BODIES.items():
        answer = post_signed(stack, raw, kind)
        problems.check(f"{route.path} [{name}]", answer)
        if name not in JSON_OBJECTS and answer.status_code != 400:
            problems.add(f"{route.path} [{name}]: {answer.status_code}, not 400")
    print(f"\n[bad input] {checked} signed webhooks of Meta's shape")
    problems.assert_none()


def _service_headers(route: Route) -> dict[str, str]:
    if (route.method, route.path) in OPEN_ROUTES:
        return {}
    return {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def test_every_route_answers_bad_input_with_a_4xx(stack: Stack, problems: Problems):
    """Bodies, paths and queries with the service token where it is needed
    (so that the body is read); headers that are not ASCII, before any
    authentication (the webhook's signature among them)."""
    for route in rasa_routes():
        url = route.url(stack.rasa_url, conversation_id=uuid.uuid4().hex)
        headers = _service_headers(route)
        if route.method == "POST" and route.path != WEBHOOK:
            for name, body in bodies(RASA_KEYS).items():
                answer = requests.post(url, json=body, headers=headers, timeout=STUCK_SECONDS)
                problems.check(f"{route.path} [{name}]", answer)
            for name, (kind, raw) in RAW_BODIES.items():
                answer = requests.post(
                    url, data=raw, headers={**headers, "Content-Type": kind}, timeout=60
                )
                problems.check(f"{route.path} [{name}]", answer)
        for name, value in QUERY_VALUES.items():
            query = f"hub.mode=subscribe&hub.verify_token={value}&hub.challenge={value}"
            answer = requests.request(
                route.method, f"{url}?{query}", headers=headers, timeout=STUCK_SECONDS
            )
            problems.check(f"{route.path} [query {name}]", answer)
        for bad in BAD_HEADERS:
            answer = requests.request(route.method, url, headers=bad, data=b"{}", timeout=60)
            problems.check(f"{route.method} {route.path} [headers {bad}]", answer)
            if route.method == "POST" and answer.status_code != 401:
                problems.add(f"{route.path} [headers {bad}]: {answer.status_code}, not 401")
        if "<" in route.path:
            for value in PATH_VALUES:
                answer = requests.get(
                    route.url(stack.rasa_url, conversation_id=value),
                    headers=headers,
                    timeout=STUCK_SECONDS,
                )
                # Sanic's own refusals (an address too long) are Rasa's, not JSON.
                problems.check(f"{route.path} [{value[:20]}]", answer, json_errors=False)
    problems.assert_none()


@pytest.fixture
def widget(stack: Stack) -> Iterator[RawSocket]:
    client = RawSocket(stack.rasa_url)
    client.emit("session_request", {"session_id": secrets.token_hex(16)})
    assert client.event("session_confirm")
    yield client
    client.close()


def test_every_widget_event_answers_bad_payloads(widget: RawSocket, problems: Problems):
    events = rasa_socket_events()
    assert set(events) == {"session_request", "user_uttered"}, "classify the new event"
    payloads = {name: [body] for name, body in bodies(RASA_KEYS).items()}
    payloads |= {f"bare {name}": [value] for name, value in BAD_VALUES.items()}
    payloads |= {"nothing": [], "extra arguments": [{}, 1, "x"]}
    payloads |= {
        f"metadata {name}": [{"message": "oi", "metadata": value}]
        for name, value in BAD_VALUES.items()
    }
    payloads["metadata deep text"] = [{"message": "oi", "metadata": "[" * DEEP + "]" * DEEP}]
    for name, args in payloads.items():
        # session_request answers with an event (a new conversation for a bad token).
        widget.call("session_request", *args)
        assert widget.event("session_confirm"), name
        ack = widget.call("user_uttered", *args)
        if not (isinstance(ack, dict) and ack.get("ok") is True) and not is_error_ack(ack):
            problems.add(f"user_uttered [{name}]: {ack}")
    problems.assert_none()
    deep = "[" * DEEP + "]" * DEEP
    for data in ('["user_uttered",', f'["user_uttered",{deep}]', "{}", "[]", "[7]"):
        ack = widget.call_raw(data)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", (data[:30], ack)
    ack = widget.call("user_utered", {"message": "oi"})
    assert ack["error"]["code"] == "unknown_event", ack
    assert widget.call_raw('["user_uttered",{"message":"oi"}]', 2**70)["ok"] is True
    assert widget.ws.connected


def test_nothing_stored_before_was_lost(stack: Stack, kept: dict[str, Any]):
    """Runs after the fuzz (pytest keeps the module's order)."""
    visitor: Visitor = kept["visitor"]
    tracker = stack.tracker(visitor.session_id)
    said = [e for e in tracker["events"] if e["event"] == "user"]
    assert said[0]["text"] == "Bom dia, preciso de ajuda", said
    assert visitor.say("Ainda estou aqui")["ok"]
    for service in stack.services:
        assert "Traceback" not in service.log_path.read_text(errors="replace"), service.name
