"""Bad input on every route and socket.io event of the handoff service
(issue 16, finding 6), on SQLite and PostgreSQL: never a 5xx nor a silent
event, always a 4xx JSON error or an error ack.

The routes and events are listed from the app itself
(``tests/security/app_routes.py``), so a new one is fuzzed too. Each gets
a few bad values per kind (lone surrogates, NUL, huge integers, wrong
types, bodies nested past Python's stack, bodies that are not JSON or not
``application/json``, path values with NUL, ``..`` or 5000 digits,
headers that are not ASCII), as the role that makes the route read its
body. What was stored before (an attendance, its messages, a customer,
an operator's login) is still there after, and ``/health`` still answers.
The socket.io events are sent by hand over a websocket, so that packets
no client library would write (an ack id of 2^70 or of 101 digits,
invalid JSON, a non-event) are sent too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import websocket

from tests.security.app_routes import (
    BODY_KEYS,
    PAGE_ROUTES,
    SERVICE_ROUTES,
    Route,
    http_routes,
    socket_events,
)
from tests.security.bad_values import (
    BAD_HEADERS,
    BAD_VALUES,
    DEEP,
    PATH_VALUES,
    QUERY_VALUES,
    RAW_BODIES,
    TRAVERSAL,
    Problems,
    bodies,
    is_error_ack,
)
from tests.support.api import PASSWORD, Client, add_operator, add_room, open_attendance
from tests.support.processes import SERVICE_TOKEN, Service
from tests.support.raw_socketio import STUCK_SECONDS, RawSocket

QUERY_KEYS = "q page limit start end day room operator format category token kind status \
attendance_id".split()
# Not fuzzed: logging out (reads no body; ends the fuzzer's session), the
# content reload (trains a Rasa model), Rasa's start notice (reads no body;
# waits for Rasa).
NOT_FUZZED = {"operators.logout_route", "admin.reload_content", "integration.rasa_started"}
LIST_BODIES = {"integration.broker_events", "integration.channel_receipts"}
# Events that read no payload: any payload that can be read is fine.
READS_NO_PAYLOAD = {"attendances:list"}


@dataclass
class World:
    supervisor: Client  # the fuzzer: every route but the service ones
    kept: dict[str, Any]  # what must survive the fuzz
    ids: dict[str, Any]  # throwaway rows the fuzz may change
    problems: Problems = field(default_factory=Problems)


@pytest.fixture(scope="module")
def world(handoff: Service) -> World:
    add_room(handoff, "fuzz")
    keeper = Client(handoff, add_operator(handoff, ["atendimento"])).available()
    supervisor = Client(handoff, add_operator(handoff, ["fuzz"], role="supervisor")).available()
    kept_attendance = open_attendance(handoff)["id"]
    assert keeper.take(kept_attendance).status_code == 200
    for text in ("Bom dia", "Já verifico"):
        assert keeper.send(kept_attendance, text).status_code == 201
    customer = keeper.post("/api/customers", {"name": "Rita Mantida", "phone": "(61) 99876-1234"})
    throwaway = open_attendance(handoff, "fuzz")["id"]
    assert supervisor.take(throwaway).status_code == 200
    sent = supervisor.send(throwaway, "Olá").json()
    other = Client(handoff, add_operator(handoff, ["fuzz"]))
    rooms = supervisor.get("/api/admin/rooms").json()["rooms"]
    room = next(r for r in rooms if r["slug"] == "fuzz")
    spare = supervisor.post("/api/customers", {"name": "Caio Fuzz", "phone": "(61) 99876-4321"})
    return World(
        supervisor=supervisor,
        kept={
            "keeper": keeper,
            "attendance_id": kept_attendance,
            "texts": ["Bom dia", "Já verifico"],
            "customer": customer.json()["customer"],
        },
        ids={
            "attendance_id": throwaway,
            "message_id": sent["message"]["id"],
            "protocol": sent["protocol"],
            "customer_id": spare.json()["customer"]["id"],
            "operator_id": other.operator["id"],
            "room_id": room["id"],
            "conversation_id": uuid.uuid4().hex,
            "job_id": 987654321,
            "reply_id": 987654321,
            "holiday_id": 987654321,
            "request_id": 987654321,
            "link": "1.1.x.pdf",
            "__file_uri__": "index.html",
        },
    )


def _check(world: World, what: str, route: Route, answer: requests.Response) -> None:
    label = f"{route.method} {route.path} [{what}]"
    world.problems.check(label, answer, json_errors="/api/" in route.path)


def _headers(world: World, route: Route) -> dict[str, str]:
    token = SERVICE_TOKEN if route.name in SERVICE_ROUTES else world.supervisor.token
    return {"Authorization": f"Bearer {token}"}


def _fuzzed_routes() -> list[Route]:
    return [r for r in http_routes() if r.name not in NOT_FUZZED]


def _send(route: Route, url: str, **kwargs: Any) -> requests.Response:
    return requests.request(route.method, url, timeout=STUCK_SECONDS, **kwargs)


def test_every_route_answers_bad_input_with_a_4xx(handoff: Service, world: World) -> None:
    routes = _fuzzed_routes()
    assert len(routes) > 50, "the router lists the routes"
    sent = 0
    for route in routes:
        url = route.url(handoff.base_url, **world.ids)
        headers = _headers(world, route)
        if route.method != "GET":
            for name, body in bodies(BODY_KEYS).items():
                sent_body = [body] if route.name in LIST_BODIES else body
                _check(world, name, route, _send(route, url, json=sent_body, headers=headers))
            for name, (kind, raw) in RAW_BODIES.items():
                answer = _send(route, url, data=raw, headers={**headers, "Content-Type": kind})
                _check(world, name, route, answer)
            sent += len(BAD_VALUES) + len(RAW_BODIES)
        else:
            for name, value in QUERY_VALUES.items():
                query = "&".join(f"{key}={value}" for key in QUERY_KEYS)
                _check(world, name, route, _send(route, f"{url}?{query}", headers=headers))
            sent += len(QUERY_VALUES)
        body = None if route.method == "GET" else b"{}"
        for bad in BAD_HEADERS:
            _check(world, f"headers {bad}", route, _send(route, url, headers=bad, data=body))
        sent += len(BAD_HEADERS)
    print(f"\n[bad input] {sent} requests on {len(routes)} routes")
    world.problems.assert_none()


def test_every_path_parameter_answers_bad_values_with_a_4xx(handoff: Service, world: World) -> None:
    routes = [r for r in _fuzzed_routes() if "<" in r.path]
    assert len(routes) > 15
    for route in routes:
        for value in PATH_VALUES:
            url = route.url(handoff.base_url, **{name: value for name in world.ids})
            answer = _send(route, url, headers=_headers(world, route))
            _check(world, value[:20], route, answer)
            if route.name in PAGE_ROUTES and value in TRAVERSAL and answer.status_code < 400:
                world.problems.add(f"{route.path} [{value}]: {answer.status_code}")
    for path in (
        "/console/%00",
        "/vendor/",
        "/widget/%00",
        "/console/a%00b.js",
        "/console/index.html/x",
        "/widget/widget.js/x",
    ):
        answer = requests.get(handoff.base_url + path, timeout=STUCK_SECONDS)
        if not 400 <= answer.status_code < 500 or "error" not in answer.json():
            world.problems.add(f"{path}: {answer.status_code} {answer.text[:100]}")
    world.problems.assert_none()


@pytest.fixture
def console(handoff: Service, world: World) -> Iterator[RawSocket]:
    client = RawSocket(handoff.base_url, {"token": world.supervisor.token})
    yield client
    client.close()


def test_every_event_acks_bad_payloads(world: World, console: RawSocket) -> None:
    events = socket_events()
    assert len(events) >= 7
    payloads = {name: [body] for name, body in bodies(BODY_KEYS).items()}
    payloads |= {f"bare {name}": [value] for name, value in BAD_VALUES.items() if name != "deep"}
    payloads |= {"nothing": [], "extra arguments": [{}, 1, "x"]}
    for event in events:
        for name, args in payloads.items():
            ack = console.call(event, *args)
            readable = name not in ("deep", "bare deep")
            if event in READS_NO_PAYLOAD and readable:
                assert ack["ok"] is True, (event, name, ack)
            elif not is_error_ack(ack):
                world.problems.add(f"{event} [{name}]: {ack}")
    world.problems.assert_none()
    assert console.call("attendances:list", {})["ok"]


def test_packets_no_client_would_send_are_answered(world: World, console: RawSocket) -> None:
    """python-socketio raises on these (engine.io logs the traceback and
    nobody acks); ``socketguard`` answers them."""
    # An ack id of 2^70 is read whole and acknowledged with it.
    assert console.call_raw('["attendances:list",{}]', 2**70)["ok"] is True
    deep = "[" * DEEP + "]" * DEEP
    unreadable = {
        "invalid JSON": '["attendance:take",',
        "nested 100 000 deep": f'["attendance:take",{deep}]',
        "an object": '{"event":"attendances:list"}',
        "a string": '"attendances:list"',
        "an empty list": "[]",
        "no event name": "[null,{}]",
        "a number as event": "[7,{}]",
    }
    for name, data in unreadable.items():
        ack = console.call_raw(data)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", (name, ack)
    ack = console.call("attendance:tkae", {"attendance_id": 1})
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_event", ack
    # No ack id to answer: an id of 101 digits (python-socketio reads 100 at
    # most), an unknown packet type, a CONNECT_ERROR from a client, an empty
    # message, a binary frame. Dropped with a warning; the socket goes on.
    for packet in ("42" + "9" * 101 + '["attendances:list",{}]', "49", '44{"x":1}', "4"):
        console.ws.send(packet)
    console.ws.send_binary(b"\x04\xff\xfe")
    assert console.call("attendances:list", {})["ok"] is True
    assert not any(ack_id > 2**70 for ack_id in console.acks), console.acks
    assert console.ws.connected


def test_unreadable_handshakes_are_refused(handoff: Service) -> None:
    url = handoff.base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    for auth in ('{"token":', "[" * DEEP + "]" * DEEP, '{"token":"\\ud800"}'):
        ws = websocket.create_connection(url, timeout=STUCK_SECONDS)
        assert ws.recv().startswith("0")
        ws.send("40" + auth)
        answer = ws.recv()
        assert answer.startswith("44"), (auth[:20], answer)  # CONNECT_ERROR with a message
        assert json.loads(answer[2:])["message"], answer
        ws.close()


def test_nothing_stored_before_was_lost(handoff: Service, world: World) -> None:
    """Runs after the fuzz (pytest keeps the module's order)."""
    keeper: Client = world.kept["keeper"]
    messages = keeper.get(f"/api/attendances/{world.kept['attendance_id']}/messages")
    assert [m["text"] for m in messages.json()["messages"]] == world.kept["texts"]
    active = keeper.get("/api/attendances").json()["active"]
    assert world.kept["attendance_id"] in [a["id"] for a in active]
    found = keeper.get("/api/customers", q="Rita Mantida").json()["customers"]
    assert world.kept["customer"]["id"] in [c["id"] for c in found]
    again = Client(handoff, keeper.operator["username"], PASSWORD)
    assert again.get("/api/me").status_code == 200
    health = requests.get(f"{handoff.base_url}/health", timeout=STUCK_SECONDS)
    assert health.status_code == 200 and health.json()["checks"]["database"]["ok"], health.text
    assert "Traceback" not in handoff.log_path.read_text(errors="replace")
