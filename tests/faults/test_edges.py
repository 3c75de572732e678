"""Failure at the edges of the handoff service (docs/reliability.md, "Edges").

Real processes: the handoff service (alone: Rasa plays no part here) on
SQLite and PostgreSQL, with a redis-server of this module's own, real
socket.io clients. Every console event is acknowledged, whatever it
carries or whatever breaks behind it; text no database can store is
cleaned by the text rule or refused, never a 500; Redis away degrades
(and comes back); a database lock held by another process makes writes
fail clearly while reads and /health go on.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.security.app_routes import http_routes, socket_events
from tests.support.api import PASSWORD, add_operator, open_attendance, post_rasa_events
from tests.support.clients import Operator
from tests.support.outages import SqliteLock
from tests.support.processes import SERVICE_TOKEN, Service, wait_until
from tests.support.redis_server import RedisServer
from textrules import clean_text

# A lone UTF-16 surrogate (JSON can carry one; no UTF-8 database can store
# it), NUL (PostgreSQL refuses it) and a right-to-left override (it would
# reverse the words and dates shown after it: issue 16, finding 10).
BAD_TEXT = ["\ud800", "\x00", "\u202e"]
BAD_IDS = [2**70, "x", 1.5, [], {}]
INTERNAL = {"code": "internal", "message": "Erro interno. Tente novamente."}
UNAVAILABLE = "Banco de dados indisponível no momento. Tente novamente em instantes."
LOCK_TIMEOUT_SECONDS = 2
LOCK_SECONDS = 22
# Generous bound for an answer that must come (never a measured duration).
STUCK_SECONDS = 30
CALL_SECONDS = 10
# The console's events and the id each one takes (a new event fails
# test_every_event_refuses_a_bad_id until it is listed here).
EVENT_IDS = {
    "attendances:list": None,
    "attendance:messages": "attendance_id",
    "attendance:take": "attendance_id",
    "attendance:finish": "attendance_id",
    "attendance:cancel": "attendance_id",
    "message:send": "attendance_id",
    "message:retry": "message_id",
    "attendance:transfer": "attendance_id",
    "typing": "attendance_id",
}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def handoff_settings(redis_server: RedisServer) -> dict[str, str]:
    return {
        "HANDOFF_REDIS_URL": redis_server.url,
        "HANDOFF_REDIS_CHANNEL": f"edges-{uuid.uuid4().hex[:8]}",
        "HANDOFF_DB_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT_SECONDS),
    }


def new_console(service: Service) -> Operator:
    """A new operator of the default room, logged in, available, connected."""
    return Operator(service.base_url, add_operator(service, ["atendimento"]), PASSWORD)


def taken(service: Service, console: Operator) -> int:
    attendance = open_attendance(service)
    ack = console.call("attendance:take", {"attendance_id": attendance["id"]})
    assert ack["ok"], ack
    return attendance["id"]


def call(console: Operator, event: str, data: Any) -> dict[str, Any]:
    return console.sio.call(event, data, timeout=CALL_SECONDS)


def rest(console: Operator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method,
        f"{console.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {console.token}"},
        timeout=STUCK_SECONDS,
    )


def stored_texts(console: Operator, attendance_id: int) -> list[str]:
    response = rest(console, "GET", f"/api/attendances/{attendance_id}/messages")
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


def health(service: Service) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(f"{service.base_url}/health", timeout=STUCK_SECONDS)
    return response, time.monotonic() - started


# Fields the routes read as text, for the sweep over every body.
TEXT_FIELDS = "text client_id name email document phone status reason username password \
current_password new_password slug role label kind key room conversation_id channel".split()
# Not swept: ending the sweeper's session, training a model, waiting 2 minutes for Rasa.
NOT_SWEPT = {"operators.logout_route", "admin.reload_content", "integration.rasa_started"}
LIST_BODIES = {"integration.broker_events", "integration.channel_receipts"}


def a_phone() -> str:
    return f"(11) 9{random.randrange(10**7, 10**8)}"


# --- socket.io: every event is acknowledged


def test_every_event_refuses_a_bad_id(handoff: Service):
    assert set(EVENT_IDS) == set(socket_events()), "classify the new event in EVENT_IDS"
    console = new_console(handoff)
    attendance_id = taken(handoff, console)
    for event, field in EVENT_IDS.items():
        if field is None:
            continue
        for bad in BAD_IDS:
            payload = {field: bad, "text": "olá", "client_id": uuid.uuid4().hex}
            ack = call(console, event, payload)
            assert ack["ok"] is False, (event, bad, ack)
            assert ack["error"]["code"] == "invalid", (event, bad, ack)
            assert ack["error"]["field"] == field, (event, bad, ack)
    for field in ("text", "client_id"):
        for bad in (None, 5, ["olá"], {"a": 1}):
            payload = {"attendance_id": attendance_id, "text": "olá", "client_id": "c", field: bad}
            ack = call(console, "message:send", payload)
            assert ack["error"]["code"] == "invalid", (field, bad, ack)
    # Payloads of any shape where none is read, and no payload at all.
    for payload in ([], "x", 7, None):
        assert call(console, "attendances:list", payload)["ok"]
    assert call(console, "attendance:messages", {})["error"]["code"] == "invalid"
    # Nothing of it reached the attendance; the console goes on.
    assert stored_texts(console, attendance_id) == []
    payload = {"attendance_id": attendance_id, "text": "ok", "client_id": uuid.uuid4().hex}
    assert call(console, "message:send", payload)["ok"]
    console.close()


def test_an_unexpected_error_is_acknowledged_as_internal(handoff: Service):
    """A table renamed behind the service's back (as a botched manual
    migration would leave it): a real error no handler expects."""
    console = new_console(handoff)
    attendance_id = taken(handoff, console)
    engine = create_engine(handoff.env["DATABASE_URL"])
    try:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE message RENAME TO message_away"))
        try:
            ack = call(console, "attendance:messages", {"attendance_id": attendance_id})
        finally:
            with engine.begin() as connection:
                connection.execute(text("ALTER TABLE message_away RENAME TO message"))
    finally:
        engine.dispose()
    assert ack == {"ok": False, "error": INTERNAL}
    log = handoff.log_path.read_text()
    assert "socket.io event attendance:messages failed\nTraceback (most recent call last)" in log
    assert call(console, "attendance:messages", {"attendance_id": attendance_id})["ok"]
    console.close()


# --- text no database can store


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["lone-surrogate", "nul", "rtl-override"])
def test_unstorable_text_is_cleaned_on_every_edge(handoff: Service, bad: str):
    base = handoff.base_url
    console = new_console(handoff)
    supervisor = Operator(base, "supervisor", "atendimento123")

    # Login: the username and password are cleaned like everything else.
    username = add_operator(handoff, ["atendimento"])
    typed = f"{username[:3]}{bad}{username[3:]}"
    login = requests.post(
        f"{base}/api/auth/login", json={"username": typed, "password": PASSWORD}, timeout=30
    )
    assert login.status_code == (200 if clean_text(typed) == username else 401), login.text

    # A customer registered and edited.
    name = f"Ana{bad} Souza"
    created = rest(console, "POST", "/api/customers", {"name": name, "phone": a_phone()})
    assert created.status_code == 201, created.text
    customer = created.json()["customer"]
    assert customer["name"] == clean_text(name) and bad not in customer["name"]
    edited = rest(console, "PUT", f"/api/customers/{customer['id']}", {"name": f"Bia{bad} Lima"})
    assert edited.status_code == 200, edited.text
    found = rest(console, "GET", "/api/customers?q=Lima").json()["customers"]
    assert clean_text(f"Bia{bad} Lima") in [c["name"] for c in found]

    # An operator created and renamed by a supervisor, who can then log in.
    rooms = rest(supervisor, "GET", "/api/admin/rooms").json()["rooms"]
    form = {
        "username": f"novo{bad}{uuid.uuid4().hex[:6]}",
        "name": f"Nome{bad} Novo",
        "password": f"senha{bad}-forte-123",
        "rooms": [rooms[0]["id"]],
    }
    made = rest(supervisor, "POST", "/api/admin/operators", form)
    assert made.status_code == 201, made.text
    operator = made.json()["operator"]
    assert operator["name"] == clean_text(form["name"])
    renamed = rest(
        supervisor, "PUT", f"/api/admin/operators/{operator['id']}", {"name": f"Re{bad}"}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["operator"]["name"] == clean_text(f"Re{bad}")
    login = requests.post(
        f"{base}/api/auth/login",
        json={"username": clean_text(form["username"]), "password": clean_text(form["password"])},
        timeout=30,
    )
    assert login.status_code == 200, login.text

    # An attendance opened by the custom action, a customer message from
    # Rasa's event broker, operator messages by REST and by socket.io.
    conversation = uuid.uuid4().hex
    opened = requests.post(
        f"{base}/api/attendances",
        json={
            "conversation_id": conversation,
            "channel": "socketio",
            "contact": {"name": f"Cida{bad} Reis"},
            "first_message": {"text": f"oi{bad}", "message_id": uuid.uuid4().hex},
        },
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=30,
    )
    assert opened.status_code == 201, opened.text
    attendance = opened.json()["attendance"]
    assert attendance["contact_name"] == clean_text(f"Cida{bad} Reis")
    event = {
        "event": "user",
        "sender_id": conversation,
        "text": f"tudo{bad} bem",
        "message_id": uuid.uuid4().hex,
        "timestamp": time.time(),
    }
    broker = post_rasa_events(base, [event])
    assert broker.status_code == 200 and broker.json()["stored"] == 1, broker.text
    assert call(console, "attendance:take", {"attendance_id": attendance["id"]})["ok"]
    sent = rest(
        console,
        "POST",
        f"/api/attendances/{attendance['id']}/messages",
        {"text": f"bom{bad} dia", "client_id": uuid.uuid4().hex},
    )
    assert sent.status_code == 201, sent.text
    ack = call(
        console,
        "message:send",
        {"attendance_id": attendance["id"], "text": f"boa{bad} tarde", "client_id": f"c{bad}1"},
    )
    assert ack["ok"], ack
    assert ack["message"]["client_id"] == clean_text(f"c{bad}1")
    assert stored_texts(console, attendance["id"]) == [
        clean_text(t) for t in (f"oi{bad}", f"tudo{bad} bem", f"bom{bad} dia", f"boa{bad} tarde")
    ]

    # Too long stays too long: a clear 400 / invalid ack, nothing stored.
    long = "x" * 5000 + bad
    refused = rest(
        console,
        "POST",
        f"/api/attendances/{attendance['id']}/messages",
        {"text": long, "client_id": uuid.uuid4().hex},
    )
    assert refused.status_code == 400 and "4096" in refused.json()["error"]["message"]
    payload = {"attendance_id": attendance["id"], "text": long, "client_id": uuid.uuid4().hex}
    assert call(console, "message:send", payload)["error"]["code"] == "invalid"
    assert len(stored_texts(console, attendance["id"])) == 4

    # Every other body: the text fields the routes read, all unstorable
    # (ids that name no row, so that no account of the other tests changes).
    body = {key: f"a{bad}b" for key in TEXT_FIELDS}
    for route in http_routes():
        if (
            route.method not in ("POST", "PUT")
            or route.name in NOT_SWEPT
            or not route.path.startswith("/api/")
        ):
            continue
        token = SERVICE_TOKEN if route.name.startswith("integration.") else supervisor.token
        answer = requests.request(
            route.method,
            route.url(base, **{name: 999999 for name in re.findall(r"<(\w+)", route.path)}),
            json=[body] if route.name in LIST_BODIES else body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code < 500, (route, answer.status_code, answer.text)
        if answer.status_code >= 400:
            assert answer.json()["error"]["message"], (route, answer.text)
    console.close()
    supervisor.close()


def test_unstorable_characters_in_addresses_are_refused(handoff: Service):
    console = new_console(handoff)
    for path in (
        "/console/%00",
        "/widget/%00",
        "/vendor/",
        "/vendor/%00",
        "/api/customers?q=%00",
        "/api/customers?q=%ED%A0%80",  # a lone surrogate, as UTF-8 would spell it
        "/api/customers?q=%FF",
        "/api/kb/articles?q=%00",
        "/api/kb/articles?category=a%01b",
        "/api/protocols/%00",
        "/api/admin/protocols/%ED%A0%80",
        "/api/admin/reports?start=%00",
    ):
        answer = rest(console, "GET", path)
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
        assert answer.json()["error"]["message"], (path, answer.text)
    service_path = "/api/conversations/%00/attendance"
    answer = requests.get(
        handoff.base_url + service_path,
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    console.close()


# --- Redis away


def test_redis_away_degrades_and_comes_back(handoff: Service, redis_server: RedisServer):
    redis_server.stop()
    try:
        # Operators keep working: log in, get calls live, take, send.
        console = new_console(handoff)
        attendance = open_attendance(handoff)
        queued = console.wait_for("attendance:queued", lambda a: a["id"] == attendance["id"])
        assert call(console, "attendance:take", {"attendance_id": queued["id"]})["ok"]
        for n in range(10):
            ack = call(
                console,
                "message:send",
                {"attendance_id": queued["id"], "text": f"sem redis {n}", "client_id": f"r{n}"},
            )
            assert ack["ok"], ack
            console.wait_for("message:new", lambda m, n=n: m["text"] == f"sem redis {n}")
        assert rest(console, "GET", "/api/attendances").status_code == 200
        during, took = health(handoff)
        report = during.json()
        assert during.status_code == 200, report
        assert report["status"] == "degraded"
        assert report["checks"]["redis"]["ok"] is False
        assert report["checks"]["redis"]["error"]
        assert report["checks"]["database"] == {"ok": True}
        # One warning per dependency for the whole outage, not one per request.
        log = handoff.log_path.read_text()
        assert log.count("Redis (rate limits) unreachable") == 1, log[-3000:]
        assert log.count("Redis (socket.io events of other processes) unreachable") == 1
    finally:
        redis_server.start()

    # Back by itself: health, the rate limits' counters, publishing.
    restarted = time.monotonic()
    wait_until(lambda: health(handoff)[0].json()["checks"]["redis"]["ok"])
    healthy = time.monotonic() - restarted
    channel = handoff.env["HANDOFF_REDIS_CHANNEL"]
    listener = redis_server.client().pubsub()
    listener.subscribe(channel)

    def published() -> bool:
        ack = call(
            console,
            "message:send",
            {"attendance_id": queued["id"], "text": "com redis", "client_id": uuid.uuid4().hex},
        )
        assert ack["ok"], ack
        message = listener.get_message(timeout=1)
        while message is not None and message["type"] != "message":
            message = listener.get_message(timeout=1)
        return message is not None

    wait_until(published)
    assert redis_server.client().keys(f"{channel}:limits*"), "rate limits count in Redis again"
    print(
        f"\n[edges] Redis away: /health answered in {took:.2f} s; back: healthy after"
        f" {healthy:.2f} s, events published again after {time.monotonic() - restarted:.2f} s"
    )
    listener.close()
    console.close()


# --- a database lock held by another process


@contextmanager
def locked(backend: str, service: Service) -> Iterator[None]:
    """Another process holds the write lock for LOCK_SECONDS: on SQLite
    ``BEGIN EXCLUSIVE`` on the file (readers of the WAL database still
    read), on PostgreSQL ``LOCK TABLE ... IN EXCLUSIVE MODE`` on every
    table (plain reads still read)."""
    url = service.env["DATABASE_URL"]
    if backend == "sqlite":
        with SqliteLock([url.removeprefix("sqlite:///")]).held(LOCK_SECONDS):
            yield
        return
    deadline = time.monotonic() + LOCK_SECONDS
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            names = connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ).all()
            tables = ", ".join(f'"{name}"' for name in names)
            connection.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
            yield
            time.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        engine.dispose()


def test_a_lock_held_by_another_process(backend: str, handoff: Service):
    console = new_console(handoff)
    attendance_id = taken(handoff, console)
    customer = rest(console, "POST", "/api/customers", {"name": "Davi Lock", "phone": a_phone()})
    customer_id = customer.json()["customer"]["id"]
    messages_url = f"/api/attendances/{attendance_id}/messages"
    tried: list[tuple[str, str]] = []
    writes: list[float] = []
    reads: list[float] = []
    checks: list[float] = []
    started = time.monotonic()
    with locked(backend, handoff):
        while time.monotonic() - started < LOCK_SECONDS - 12:
            client_ids = uuid.uuid4().hex, uuid.uuid4().hex
            tried.append(client_ids)
            began = time.monotonic()
            refused = rest(
                console, "POST", messages_url, {"text": "rest", "client_id": client_ids[0]}
            )
            writes.append(time.monotonic() - began)
            assert refused.status_code == 503, refused.text
            assert refused.json() == {"error": {"code": "unavailable", "message": UNAVAILABLE}}
            began = time.monotonic()
            ack = call(
                console,
                "message:send",
                {"attendance_id": attendance_id, "text": "socket", "client_id": client_ids[1]},
            )
            writes.append(time.monotonic() - began)
            assert ack == {"ok": False, "error": {"code": "unavailable", "message": UNAVAILABLE}}
            for path in ("/api/attendances", f"/api/customers/{customer_id}/history", messages_url):
                began = time.monotonic()
                answer = rest(console, "GET", path)
                reads.append(time.monotonic() - began)
                assert answer.status_code == 200, (path, answer.text)
            began = time.monotonic()
            assert call(console, "attendances:list", {})["ok"]
            assert call(console, "attendance:messages", {"attendance_id": attendance_id})["ok"]
            reads.append((time.monotonic() - began) / 2)
            during, took = health(handoff)
            checks.append(took)
            database = during.json()["checks"]["database"]
            if backend == "sqlite":
                assert during.status_code == 503, during.text
                assert database["ok"] is False and database["state"] == "locked", database
            else:  # rows and tables are locked, not the database
                assert during.status_code == 200 and database == {"ok": True}, during.text
    print(
        f"\n[edges] {backend}, lock held {time.monotonic() - started:.0f} s"
        f" (timeout {LOCK_TIMEOUT_SECONDS} s): {len(writes)} writes refused in"
        f" {min(writes):.2f}-{max(writes):.2f} s; {len(reads)} reads answered in at most"
        f" {max(reads):.2f} s; /health answered {len(checks)} times in at most {max(checks):.2f} s"
    )

    # Released: every write goes through, once, with its client id.
    wait_until(lambda: health(handoff)[0].status_code == 200)
    for rest_id, socket_id in tried:
        assert rest(console, "POST", messages_url, {"text": "rest", "client_id": rest_id}).ok
        ack = call(
            console,
            "message:send",
            {"attendance_id": attendance_id, "text": "socket", "client_id": socket_id},
        )
        assert ack["ok"], ack
    assert stored_texts(console, attendance_id) == ["rest", "socket"] * len(tried)
    # Each look at the customer's data while the lock was held is in the
    # access log once the database takes writes again (LGPD: who saw what).
    supervisor = Operator(handoff.base_url, "supervisor")

    def views_logged() -> bool:
        log = supervisor.get(f"/api/admin/customers/{customer_id}/audit").json()
        return [e["action"] for e in log["entries"]].count("customer_viewed") >= len(tried)

    wait_until(views_logged, timeout=60, what="the views made during the lock in the access log")
    supervisor.close()
    console.close()
