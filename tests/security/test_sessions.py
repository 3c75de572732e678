"""Passwords and sessions: Argon2id parameters read from a stored hash;
sessions that expire and end on logout, password change and deactivation,
for REST (401 at once) and for open console connections (disconnected:
the time it takes is a figure); the console's cookie and its CSRF protection."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import argon2
import pytest
import requests
import socketio
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from handoff.db import Database
from handoff.models import Operator
from handoff.routes.common import CSRF_HEADER, SESSION_COOKIE
from tests.security.app_routes import SERVICE_ROUTES, http_routes
from tests.support.api import PASSWORD, Client, add_operator, add_room, error_of
from tests.support.processes import Service, start_handoff

# The bound for ending a session everywhere.
# A console still connected this long after its session ended is stuck (a
# bound for a hang; the time it took is a figure, printed, not asserted).
STUCK_SECONDS = 30.0
# OWASP's minimum for Argon2id.
MIN_MEMORY_KIB, MIN_ITERATIONS = 19 * 1024, 2


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine: the session rules run on SQLite in the fast tier
    (tests/fast/test_sessions.py)."""
    return "postgresql"


class Console:
    """A console's socket.io connection that notes when and why it ended."""

    def __init__(self, base_url: str, *, token: str | None = None, cookie: str | None = None):
        self.ended = threading.Event()
        self.ended_at: float | None = None
        self.told: list[dict] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("session:ended", self.told.append)
        self.sio.on("disconnect", self._gone)
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
        auth = {"token": token} if token else None
        self.sio.connect(base_url, auth=auth, headers=headers, transports=["websocket"])

    def _gone(self, *_args: object) -> None:
        self.ended_at = time.monotonic()
        self.ended.set()

    def seconds_to_end(self, since: float) -> float:
        assert self.ended.wait(STUCK_SECONDS), "stuck: still connected"
        assert self.ended_at is not None
        return self.ended_at - since

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture(scope="module")
def room(handoff: Service) -> str:
    add_room(handoff, "sessoes")
    return "sessoes"


@pytest.fixture
def consoles() -> Iterator[list[Console]]:
    opened: list[Console] = []
    yield opened
    for console in opened:
        console.close()


def _open(consoles: list[Console], base_url: str, **credentials: str) -> Console:
    console = Console(base_url, **credentials)
    consoles.append(console)
    return console


def _ended(console: Console, since: float, measured: list[float]) -> None:
    seconds = console.seconds_to_end(since)
    measured.append(seconds)
    assert console.told == [{"message": "Sessão expirada. Entre novamente."}]


def test_passwords_are_argon2id_with_owasp_parameters(handoff: Service, room: str) -> None:
    username = add_operator(handoff, [room])
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        stored = uow.session.scalar(
            select(Operator.password_hash).where(Operator.username == username)
        )
    db.dispose()
    parameters = argon2.extract_parameters(stored)
    assert parameters.type is argon2.Type.ID
    assert parameters.memory_cost >= MIN_MEMORY_KIB
    assert parameters.time_cost >= MIN_ITERATIONS
    assert PASSWORD not in stored


def test_login_sets_a_strict_http_only_cookie(handoff: Service, room: str) -> None:
    """The session token goes to the HttpOnly cookie; the answer, which the
    page's script reads, holds it only for a client that asks for it."""
    credentials = {"username": add_operator(handoff, [room]), "password": PASSWORD}
    login_url = f"{handoff.base_url}/api/auth/login"
    response = requests.post(login_url, json=credentials, timeout=10)
    assert response.status_code == 200 and "token" not in response.json()
    headers = response.raw.headers.getlist("Set-Cookie")  # the session's and the device's
    cookie = SimpleCookie(next(h for h in headers if h.startswith(f"{SESSION_COOKIE}=")))[
        SESSION_COOKIE
    ]
    bearer = {"Authorization": f"Bearer {cookie.value}"}
    assert requests.get(f"{handoff.base_url}/api/me", headers=bearer, timeout=10).ok
    asked = requests.post(login_url, json={**credentials, "token": True}, timeout=10).json()
    bearer = {"Authorization": f"Bearer {asked['token']}"}
    assert requests.get(f"{handoff.base_url}/api/me", headers=bearer, timeout=10).ok
    assert cookie["httponly"] and cookie["path"] == "/" and cookie["samesite"] == "Strict"
    assert not cookie["secure"], "plain HTTP without a trusted proxy: not Secure"
    assert int(cookie["max-age"]) == 12 * 3600


def test_cookie_requests_need_the_sessions_csrf_token(handoff: Service, room: str) -> None:
    browser = requests.Session()
    login = browser.post(
        f"{handoff.base_url}/api/auth/login",
        json={"username": add_operator(handoff, [room]), "password": PASSWORD},
        timeout=10,
    ).json()
    csrf = login["csrf_token"]
    me = browser.get(f"{handoff.base_url}/api/me", timeout=10)
    assert me.status_code == 200 and me.json()["csrf_token"] == csrf  # after a reload
    url = f"{handoff.base_url}/api/me/status"
    for headers in ({}, {CSRF_HEADER: "0" * 64}, {CSRF_HEADER: "ç"}):
        refused = browser.post(url, json={"status": "available"}, headers=headers, timeout=10)
        assert refused.status_code == 403, refused.text
        assert "X-CSRF-Token" in refused.json()["error"]["message"]
    accepted = browser.post(url, json={"status": "available"}, headers={CSRF_HEADER: csrf})
    assert accepted.status_code == 200
    # Bearer clients (never sent by a browser on its own) need no CSRF token.
    bearer = requests.post(
        url,
        json={"status": "available"},
        headers={"Authorization": f"Bearer {browser.cookies[SESSION_COOKIE]}"},
        timeout=10,
    )
    assert bearer.status_code == 200

    # Every state-changing route refuses a cookie without the token, first thing.
    unsafe = [r for r in http_routes() if r.method != "GET" and r.path.startswith("/api/")]
    ids = dict.fromkeys(
        (
            "attendance_id",
            "message_id",
            "customer_id",
            "operator_id",
            "job_id",
            "reply_id",
            "request_id",
        ),
        1,
    )
    ids |= {"room_id": 1, "protocol": "1", "conversation_id": "x", "holiday_id": 1}
    refused_routes = []
    for route in unsafe:
        response = browser.request(route.method, route.url(handoff.base_url, **ids), json={})
        if response.status_code == 403 and "CSRF" in response.json()["error"]["message"]:
            refused_routes.append(route.name)
    # Not authenticated by the cookie: login, and the service token.
    exempt = {"operators.login_route", *SERVICE_ROUTES}
    assert set(refused_routes) == {r.name for r in unsafe} - exempt
    assert len(refused_routes) >= 20


def test_login_csrf_and_cross_origin_posts_are_refused(handoff: Service, room: str) -> None:
    """A page on another port of the same host (same site: SameSite does not
    stop it) auto-submits a text/plain form to the login, or posts with the
    victim's cookie: refused before any handler runs."""
    credentials = {"username": add_operator(handoff, [room]), "password": PASSWORD}
    login_url = f"{handoff.base_url}/api/auth/login"
    evil = f"http://127.0.0.1:{urlsplit(handoff.base_url).port + 1}"
    form = requests.post(
        login_url, data=json.dumps(credentials), headers={"Content-Type": "text/plain"}, timeout=10
    )
    error = error_of(form, 415)
    assert error["code"] == "unsupported_media_type" and "JSON" in error["message"]
    foreign = requests.post(login_url, json=credentials, headers={"Origin": evil}, timeout=10)
    assert "outra origem" in error_of(foreign, 403)["message"]
    assert "Set-Cookie" not in form.headers and "Set-Cookie" not in foreign.headers
    own = {"Origin": handoff.base_url}
    assert requests.post(login_url, json=credentials, headers=own, timeout=10).status_code == 200

    # The victim's console, logged in: its cookie and even its CSRF token
    # do not make a text/plain or a foreign-origin request count.
    browser = requests.Session()
    csrf = browser.post(login_url, json=credentials, timeout=10).json()["csrf_token"]
    unsafe = [r for r in http_routes() if r.method != "GET" and r.path.startswith("/api/")]
    ids = dict.fromkeys(
        (
            "attendance_id",
            "message_id",
            "customer_id",
            "operator_id",
            "job_id",
            "reply_id",
            "request_id",
        ),
        1,
    )
    ids |= {"room_id": 1, "protocol": "1", "conversation_id": "x", "holiday_id": 1}
    statuses = set()
    for route in unsafe:
        url = route.url(handoff.base_url, **ids)
        as_text = {CSRF_HEADER: csrf, "Content-Type": "text/plain", **own}
        statuses.add(browser.request(route.method, url, data="{}", headers=as_text).status_code)
        from_evil = {CSRF_HEADER: csrf, "Origin": evil}
        statuses.add(browser.request(route.method, url, json={}, headers=from_evil).status_code)
    assert statuses == {415, 403} and len(unsafe) >= 24
    status = f"{handoff.base_url}/api/me/status"
    fine = browser.post(status, json={"status": "available"}, headers={CSRF_HEADER: csrf, **own})
    assert fine.status_code == 200


def test_logout_ends_the_session_for_rest_and_socket(
    handoff: Service, room: str, consoles: list[Console], measured: list[float]
) -> None:
    client = Client(handoff, add_operator(handoff, [room]))
    console = _open(consoles, handoff.base_url, token=client.token)
    started = time.monotonic()
    assert client.post("/api/auth/logout").status_code == 200
    assert client.get("/api/me").status_code == 401
    _ended(console, started, measured)


def test_the_console_socket_authenticates_by_cookie(
    handoff: Service, room: str, consoles: list[Console], measured: list[float]
) -> None:
    browser = requests.Session()
    browser.post(
        f"{handoff.base_url}/api/auth/login",
        json={"username": add_operator(handoff, [room]), "password": PASSWORD},
        timeout=10,
    )
    token = browser.cookies[SESSION_COOKIE]
    console = _open(consoles, handoff.base_url, cookie=token)
    assert console.sio.call("attendances:list", {}, timeout=10)["ok"] is True
    with pytest.raises(socketio.exceptions.ConnectionError):
        Console(handoff.base_url, cookie="forjado")
    started = time.monotonic()
    csrf = browser.get(f"{handoff.base_url}/api/me").json()["csrf_token"]
    logout = browser.post(
        f"{handoff.base_url}/api/auth/logout", json={}, headers={CSRF_HEADER: csrf}
    )
    assert logout.status_code == 200
    assert SESSION_COOKIE not in browser.cookies  # the answer deleted it
    _ended(console, started, measured)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Console(handoff.base_url, cookie=token)


def test_changing_ones_password_ends_every_other_session(
    handoff: Service, room: str, consoles: list[Console], measured: list[float]
) -> None:
    username = add_operator(handoff, [room])
    here, elsewhere = Client(handoff, username), Client(handoff, username)
    console_here = _open(consoles, handoff.base_url, token=here.token)
    console_elsewhere = _open(consoles, handoff.base_url, token=elsewhere.token)
    wrong = here.post(
        "/api/me/password", {"current_password": "errada", "new_password": "nova-senha-123"}
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "current_password"
    short = here.post("/api/me/password", {"current_password": PASSWORD, "new_password": "curta"})
    assert short.status_code == 400 and short.json()["error"]["field"] == "new_password"
    assert elsewhere.get("/api/me").status_code == 200  # refused changes end nothing

    started = time.monotonic()
    changed = here.post(
        "/api/me/password", {"current_password": PASSWORD, "new_password": "nova-senha-123"}
    )
    assert changed.status_code == 200
    assert elsewhere.get("/api/me").status_code == 401
    _ended(console_elsewhere, started, measured)
    assert here.get("/api/me").status_code == 200
    assert console_here.sio.connected and not console_here.ended.is_set()
    with pytest.raises(AssertionError):
        Client(handoff, username)  # the old password
    Client(handoff, username, "nova-senha-123")


def test_an_operator_changes_their_password_in_the_console(
    handoff: Service, room: str, browser: Browser
) -> None:
    username = add_operator(handoff, [room])
    elsewhere = Client(handoff, username)
    page = browser.new_page()
    page.goto(f"{handoff.base_url}/console/")
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.get_by_role("button", name="Alterar senha").click()
    dialog = page.locator("#password-dialog")
    dialog.get_by_label("Senha atual").fill("errada")
    dialog.get_by_label("Nova senha").fill("nova-senha-456")
    dialog.get_by_role("button", name="Alterar").click()
    expect(dialog.get_by_text("A senha atual não confere.")).to_be_visible()
    assert elsewhere.get("/api/me").status_code == 200
    dialog.get_by_label("Senha atual").fill(PASSWORD)
    dialog.get_by_label("Nova senha").fill("nova-senha-456")
    dialog.get_by_role("button", name="Alterar").click()
    expect(dialog.get_by_text("Senha alterada.")).to_be_visible()
    assert elsewhere.get("/api/me").status_code == 401
    dialog.get_by_role("button", name="Fechar").click()
    page.get_by_label("Situação").select_option("offline")  # this session goes on
    expect(page.get_by_label("Situação")).to_have_value("offline")
    expect(page.locator("#attendance-error")).to_have_text("")
    page.close()
    Client(handoff, username, "nova-senha-456")


@pytest.mark.parametrize("change", [{"password": "redefinida-123"}, {"active": False}])
def test_a_supervisors_reset_or_deactivation_ends_every_session(
    handoff: Service,
    room: str,
    consoles: list[Console],
    measured: list[float],
    change: dict,
) -> None:
    supervisor = Client(handoff, add_operator(handoff, [room], role="supervisor"))
    operator = Client(handoff, add_operator(handoff, [room]))
    console = _open(consoles, handoff.base_url, token=operator.token)
    started = time.monotonic()
    response = supervisor.put(f"/api/admin/operators/{operator.operator['id']}", change)
    assert response.status_code == 200, response.text
    assert operator.get("/api/me").status_code == 401
    _ended(console, started, measured)
    assert supervisor.get("/api/me").status_code == 200


def test_sessions_expire(
    handoff: Service,
    room: str,
    consoles: list[Console],
    measured: list[float],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ttl = 3
    short = start_handoff(
        handoff.env["DATABASE_URL"],
        tmp_path_factory.mktemp("short-ttl"),
        extra_env={"HANDOFF_SESSION_TTL_SECONDS": str(ttl)},
    )
    try:
        client = Client(short, add_operator(short, [room]))
        logged_in = time.monotonic()
        console = _open(consoles, short.base_url, token=client.token)
        assert client.get("/api/me").status_code == 200
        time.sleep(max(0.0, logged_in + ttl + 0.2 - time.monotonic()))
        assert client.get("/api/me").status_code == 401
        _ended(console, logged_in + ttl, measured)
    finally:
        short.stop()


@pytest.fixture(scope="module")
def measured(backend: str) -> Iterator[list[float]]:
    """Seconds from each revocation to its console's disconnection."""
    seconds: list[float] = []
    yield seconds
    if seconds:
        print(
            f"\n[{backend}] {len(seconds)} sessions ended; console disconnected after "
            f"max {max(seconds):.2f} s, mean {sum(seconds) / len(seconds):.2f} s"
        )
