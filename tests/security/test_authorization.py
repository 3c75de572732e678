"""Authorisation of every console and admin route and every console socket.io
event, listed from the application: anonymous clients, operators of another
room and plain operators attempting supervision are refused, and "not yours"
answers exactly like "missing"."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import socketio

from handoff.routes.common import csrf_token
from tests.security.app_routes import (
    PAGE_ROUTES,
    SERVICE_ROUTES,
    Route,
    http_routes,
    socket_events,
)
from tests.support.api import Client, add_operator, add_room, open_attendance
from tests.support.processes import Service

# Every route, by handler name, in one of these classes. A new route fails
# test_every_route_is_classified until it is put in one (and so checked).
PUBLIC = {
    "health.health",
    "widget_api.history",
    # Whether a room's pre-chat form may be left empty: the widget asks it
    # before any conversation exists, and it says nothing about anyone.
    "widget_api.prechat",
    # A visitor's files: the conversation's token in a header, as the history.
    "widget_api.upload",
    "widget_api.operator_file",
    # A demand's record, to whoever holds its signed, expiring link (the
    # citizen who asked for it): a forged or expired one is 404.
    "record_files.record_file",
    *PAGE_ROUTES,
    "handle_request",  # the socket.io endpoint: authenticated in its connect handler
}
LOGIN = {"operators.login_route"}
SERVICE = SERVICE_ROUTES  # the Rasa side, with the service token
OWN = {  # the caller's own things: any logged-in operator
    "operators.logout_route",
    "operators.me",
    "operators.change_status",
    "operators.change_password",
    "attendances.list_attendances",
    "attendances.closing_subjects",
    "attendances.pending_demands",
    "customers.search",
    "customers.create",
    "knowledge.articles",
    "room_hours.my_rooms",
}
# Customers are one registry shared by every room (a citizen calls any of
# them); what an operator sees of their history is limited to their rooms.
SHARED = {"customers.update", "customers.history"}
ATTENDANCE = {  # one attendance (or its message, or its protocol): room-scoped
    "attendances.messages",
    "attendances.send",
    "attendances.summary",
    "attendances.by_protocol",
    "attendances.take",
    "attendances.retry",
    "attendances.finish",
    "attendances.cancel",
    "attendances.add_note",
    "attendances.replies",
    "attendances.transfer",
    "attendances.transfer_targets",
    "attendances.whatsapp_templates",
    "attendances.conclude_demand",
    "customers.link",
    "knowledge.register",
    "attachments.attachment",
    "attachments.send_file",
    "record_operator.register_for_attendance",
}
# Supervision: Supervisão's routes, and a person's data (LGPD) under /api/admin.
ADMIN_PREFIX = ("admin.", "data_subjects.", "hours.", "record_requests.")
MISSING = 987654321

EVENT_PAYLOADS: dict[str, Any] = {  # "<id>" is replaced by a real or a missing id
    "attendance:messages": {"attendance_id": "<attendance>"},
    "attendance:take": {"attendance_id": "<queued>"},
    "message:send": {"attendance_id": "<attendance>", "text": "oi", "client_id": "<client>"},
    "message:retry": {"message_id": "<message>"},
    "attendance:finish": {"attendance_id": "<attendance>"},
    "attendance:cancel": {"attendance_id": "<attendance>"},
    "attendance:transfer": {"attendance_id": "<attendance>", "note": "intruso"},
    "typing": {"attendance_id": "<attendance>"},
}
OWN_EVENTS = {"attendances:list"}


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine: who may do what is decided before any query."""
    return "sqlite"


@dataclass
class World:
    owner: Client  # operator of room "norte", handling an attendance there
    other: Client  # operator of room "sul"
    supervisor: Client
    ids: dict[str, Any]  # real ids of norte's things
    missing: dict[str, Any]  # ids that exist nowhere


@pytest.fixture(scope="module")
def world(handoff: Service) -> World:
    add_room(handoff, "norte")
    add_room(handoff, "sul")
    owner = Client(handoff, add_operator(handoff, ["norte"])).available()
    other = Client(handoff, add_operator(handoff, ["sul"])).available()
    supervisor = Client(handoff, add_operator(handoff, ["norte"], role="supervisor"))
    active = open_attendance(handoff, "norte")["id"]
    queued = open_attendance(handoff, "norte")["id"]
    assert owner.take(active).status_code == 200
    sent = owner.send(active, "Bom dia").json()
    customer = owner.post("/api/customers", {"name": "Rita", "phone": "(61) 99876-1234"})
    ids = {
        "attendance_id": active,
        "queued": queued,
        "message_id": sent["message"]["id"],
        "protocol": sent["protocol"],
        "customer_id": customer.json()["customer"]["id"],
        "operator_id": owner.operator["id"],
        "room_id": 1,
        "conversation_id": uuid.uuid4().hex,
        "job_id": MISSING,
        "reply_id": MISSING,
        "holiday_id": MISSING,
        "request_id": MISSING,
    }
    missing = {
        **ids,
        "attendance_id": MISSING,
        "queued": MISSING + 1,
        "message_id": MISSING,
        "protocol": "2099999999",
    }
    return World(owner, other, supervisor, ids, missing)


def _body(route: Route, ids: dict[str, Any]) -> Any:
    """A well-formed body, so that no validation answers before the check."""
    if route.method == "GET":
        return None
    return {
        "attendances.send": {"text": "intruso", "client_id": uuid.uuid4().hex},
        "attendances.add_note": {"text": "intruso", "client_id": uuid.uuid4().hex},
        "customers.link": {"customer_id": ids["customer_id"]},
        "knowledge.register": {"article_id": 1},
        "attendances.transfer": {"note": "intruso"},
    }.get(route.name, {})


def _call(route: Route, base: str, ids: dict[str, Any], headers: dict[str, str]) -> Any:
    response = requests.request(
        route.method,
        route.url(base, **ids),
        json=_body(route, ids),
        headers=headers,
        timeout=10,
    )
    return response.status_code, response.json()


def _routes(
    names: set[str] | None = None, prefix: str | tuple[str, ...] | None = None
) -> list[Route]:
    return [
        r
        for r in http_routes()
        if (names is not None and r.name in names) or (prefix and r.name.startswith(prefix))
    ]


def test_every_route_and_event_is_classified() -> None:
    known = PUBLIC | LOGIN | SERVICE | OWN | SHARED | ATTENDANCE
    names = {r.name for r in http_routes()}
    unclassified = {n for n in names - known if not n.startswith(ADMIN_PREFIX)}
    assert not unclassified, f"classify these routes in {__file__}: {unclassified}"
    assert not known - names, f"stale names: {known - names}"
    assert set(socket_events()) == set(EVENT_PAYLOADS) | OWN_EVENTS
    assert len(_routes(prefix=ADMIN_PREFIX)) >= 10


def test_anonymous_and_forged_clients_are_refused_everywhere(
    handoff: Service, world: World
) -> None:
    checked = 0
    for route in http_routes():
        if route.name in PUBLIC | LOGIN:
            continue
        for headers in (
            {},
            {"Authorization": "Bearer forjado"},
            {"Cookie": "handoff_session=forjado", "X-CSRF-Token": csrf_token("forjado")},
        ):
            status, body = _call(route, handoff.base_url, world.ids, headers)
            assert status == 401, (route, headers, body)
            checked += 1
    assert checked == 3 * len([r for r in http_routes() if r.name not in PUBLIC | LOGIN]) > 100


def test_operators_cannot_use_the_service_routes(handoff: Service, world: World) -> None:
    for route in _routes(SERVICE):
        status, _ = _call(route, handoff.base_url, world.ids, world.owner.headers)
        assert status == 401, route


def test_plain_operators_cannot_supervise(handoff: Service, world: World) -> None:
    """Every admin route: 403 for an operator, and nothing changed."""
    before = world.supervisor.get("/api/admin/operators").json()
    for route in _routes(prefix=ADMIN_PREFIX):
        status, body = _call(route, handoff.base_url, world.ids, world.owner.headers)
        assert (status, body["error"]["code"]) == (403, "forbidden"), route
    assert world.supervisor.get("/api/admin/operators").json() == before


def test_another_rooms_operator_gets_the_answer_of_a_missing_id(
    handoff: Service, world: World
) -> None:
    # The ids are real: their owner reads them.
    for path in ("/messages", "/summary"):
        assert world.owner.get(f"/api/attendances/{world.ids['attendance_id']}{path}").ok
    assert world.owner.get(f"/api/protocols/{world.ids['protocol']}").ok
    routes = _routes(ATTENDANCE)
    assert len(routes) == len(ATTENDANCE)
    for route in routes:
        theirs = _call(route, handoff.base_url, world.ids, world.other.headers)
        missing = _call(route, handoff.base_url, world.missing, world.other.headers)
        assert theirs == missing, route
        assert theirs[0] == 404, (route, theirs)
    # Nothing of norte leaked into sul's lists.
    assert world.other.get("/api/attendances").json() == {"queued": [], "active": []}
    history = world.other.get(f"/api/customers/{world.ids['customer_id']}/history").json()
    assert history["attendances"] == []
    # And nothing was taken, sent or closed.
    messages = world.owner.get(f"/api/attendances/{world.ids['attendance_id']}/messages")
    assert [m["text"] for m in messages.json()["messages"]] == ["Bom dia"]
    assert [a["id"] for a in world.owner.get("/api/attendances").json()["active"]] == [
        world.ids["attendance_id"]
    ]


@pytest.fixture
def sockets(handoff: Service, world: World) -> Iterator[dict[str, socketio.Client]]:
    clients = {}
    for name in ("owner", "other"):
        client = socketio.Client(reconnection=False)
        client.connect(
            handoff.base_url, auth={"token": getattr(world, name).token}, transports=["websocket"]
        )
        clients[name] = client
    yield clients
    for client in clients.values():
        client.disconnect()


def _payload(event: str, ids: dict[str, Any]) -> Any:
    values = {
        "<attendance>": ids["attendance_id"],
        "<queued>": ids["queued"],
        "<message>": ids["message_id"],
        "<client>": uuid.uuid4().hex,
    }
    return {k: values.get(v, v) for k, v in EVENT_PAYLOADS[event].items()}


def test_socket_events_of_another_room_answer_like_missing_ones(
    world: World, sockets: dict[str, socketio.Client]
) -> None:
    other = sockets["other"]
    for event in EVENT_PAYLOADS:
        theirs = other.call(event, _payload(event, world.ids), timeout=10)
        missing = other.call(event, _payload(event, world.missing), timeout=10)
        assert theirs == missing, event
        assert theirs["ok"] is False and theirs["error"]["code"] == "not_found", (event, theirs)
    assert other.call("attendances:list", {}, timeout=10) == {
        "ok": True,
        "queued": [],
        "active": [],
    }


def test_closing_a_call_nobody_took_is_for_supervisors(
    handoff: Service, world: World, sockets: dict[str, socketio.Client]
) -> None:
    queued = open_attendance(handoff, "norte")["id"]
    ack = sockets["owner"].call("attendance:cancel", {"attendance_id": queued}, timeout=10)
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
    response = world.supervisor.post(f"/api/attendances/{queued}/cancel")
    assert response.json()["attendance"]["status"] == "cancelled"


def test_anonymous_and_forged_socket_handshakes_are_refused(handoff: Service) -> None:
    for auth in (None, {}, {"token": "forjado"}, {"token": 42}):
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(handoff.base_url, auth=auth, transports=["websocket"])
        client.disconnect()
