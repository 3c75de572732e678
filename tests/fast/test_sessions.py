"""Login, logout, the session cookie and CSRF, availability (O1)."""

from __future__ import annotations

import pytest
import requests
import socketio

from handoff.demo import DEMO_PASSWORD, DEMO_USERNAME
from tests.fast.console import Console
from tests.support.api import Client, add_operator, error_of


def login(service, **body) -> requests.Response:
    return requests.post(f"{service.base_url}/api/auth/login", json=body, timeout=10)


def test_login_gives_a_cookie_session_and_a_token_only_when_asked(service):
    answer = login(service, username=DEMO_USERNAME, password=DEMO_PASSWORD)
    assert answer.status_code == 200
    assert "token" not in answer.json() and answer.json()["operator"]["username"] == DEMO_USERNAME
    cookie = answer.cookies["handoff_session"]
    me = requests.get(f"{service.base_url}/api/me", cookies={"handoff_session": cookie})
    assert me.json()["username"] == DEMO_USERNAME
    assert me.json()["csrf_token"] == answer.json()["csrf_token"]
    assert (
        "token" in login(service, username=DEMO_USERNAME, password=DEMO_PASSWORD, token=True).json()
    )


def test_a_cookie_session_needs_its_csrf_token_to_change_anything(service):
    answer = login(service, username=DEMO_USERNAME, password=DEMO_PASSWORD)
    cookies = {"handoff_session": answer.cookies["handoff_session"]}
    url = f"{service.base_url}/api/me/status"
    refused = requests.post(url, json={"status": "available"}, cookies=cookies)
    assert "X-CSRF-Token" in error_of(refused, 403)["message"]
    accepted = requests.post(
        url,
        json={"status": "available"},
        cookies=cookies,
        headers={"X-CSRF-Token": answer.json()["csrf_token"]},
    )
    assert accepted.json()["status"] == "available"


def test_login_from_another_origin_or_not_json_is_refused(service):
    url = f"{service.base_url}/api/auth/login"
    body = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    error_of(requests.post(url, json=body, headers={"Origin": "http://evil.example"}), 403)
    error_of(
        requests.post(url, data="username=operador", headers={"Content-Type": "text/plain"}), 415
    )


def test_bad_logins_are_refused(service):
    for body, status in [
        ({"username": DEMO_USERNAME, "password": "errada"}, 401),
        ({"username": "ninguem", "password": DEMO_PASSWORD}, 401),
        ({"username": DEMO_USERNAME}, 400),
        ({"username": 7, "password": DEMO_PASSWORD}, 400),
    ]:
        assert error_of(login(service, **body), status)["code"], body


def test_logout_ends_the_session_and_its_console(service, operator: Client, console):
    connection: Console = console(operator)
    assert operator.post("/api/auth/logout").json() == {"ok": True}
    assert error_of(operator.get("/api/me"), 401)
    # The session check (every second here) disconnects the console.
    assert "sessão" in connection.next("session:ended")["message"].lower()


def test_the_console_refuses_a_forged_or_missing_token(service):
    for auth in ({"token": "forjado"}, None):
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(service.base_url, auth=auth, transports=["websocket"])


def test_availability_and_pause_reasons(service, operator: Client):
    assert operator.get("/api/me").json()["status"] == "available"
    reasons = operator.get("/api/me").json()["pause_reasons"]
    paused = operator.post("/api/me/status", {"status": "paused", "reason": reasons[0]})
    assert paused.json()["status"] == "paused"
    assert error_of(operator.post("/api/me/status", {"status": "paused"}), 400)["field"] == "reason"
    unknown = operator.post("/api/me/status", {"status": "paused", "reason": "Cochilo"})
    assert error_of(unknown, 400)["field"] == "reason"
    assert (
        error_of(operator.post("/api/me/status", {"status": "dormindo"}), 400)["field"] == "status"
    )
    assert operator.post("/api/me/status", {"status": "offline"}).json()["status"] == "offline"


def test_a_password_change_ends_the_other_sessions(service):
    username = add_operator(service, ["atendimento"])
    first, second = Client(service, username), Client(service, username)
    wrong = first.post(
        "/api/me/password", {"current_password": "x", "new_password": "nova-senha-9"}
    )
    assert error_of(wrong, 400)["field"] == "current_password"
    changed = first.post(
        "/api/me/password",
        {"current_password": "senha-de-teste-123", "new_password": "nova-senha-9"},
    )
    assert changed.status_code == 200, changed.text
    assert first.get("/api/me").status_code == 200
    assert error_of(second.get("/api/me"), 401)
    Client(service, username, "nova-senha-9")
