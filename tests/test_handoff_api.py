"""The handoff service's edges: bad input gets a clear JSON error, nothing
already stored changes (issue: foundation, "bad input already matters")."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
import socketio

from tests.support.processes import SERVICE_TOKEN, Service

SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def _login(base: str) -> dict[str, str]:
    response = requests.post(
        f"{base}/api/auth/login",
        json={"username": "operador", "password": "atendimento123", "token": True},
    )
    assert response.status_code == 200
    headers = {"Authorization": f"Bearer {response.json()['token']}"}
    requests.post(f"{base}/api/me/status", json={"status": "available"}, headers=headers)
    return headers


def _open(base: str, **payload) -> requests.Response:
    return requests.post(f"{base}/api/attendances", json=payload, headers=SERVICE)


def _error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"code", "message"}
    return body["error"]["message"]


def test_health_reports_database_and_rasa(handoff: Service):
    response = requests.get(f"{handoff.base_url}/health")
    assert response.status_code == 200
    report = response.json()
    assert {k: v for k, v in report.items() if k != "checks"} == {
        "status": "degraded",
        "database": "ok",
        "rasa": "unreachable",
        "rasa_tracker_store": {"state": "unknown"},
    }
    assert report["checks"]["database"] == {"ok": True}
    assert report["checks"]["rasa"]["ok"] is False
    assert report["checks"]["rasa_tracker_store"]["state"] == "unknown"
    assert "redis" not in report["checks"]  # not configured


def test_opening_an_attendance_validates_input(handoff: Service):
    base = handoff.base_url
    conversation = uuid.uuid4().hex
    assert "unknown room" in _error(
        _open(base, conversation_id=conversation, channel="socketio", room="nope"), 404
    )
    assert "conversation_id" in _error(_open(base, channel="socketio"), 400)
    assert "channel" in _error(_open(base, conversation_id=conversation, channel=""), 400)
    bad_json = requests.post(f"{base}/api/attendances", data="{not json", headers=SERVICE)
    assert "JSON" in _error(bad_json, 400)
    no_token = requests.post(
        f"{base}/api/attendances", json={"conversation_id": conversation, "channel": "socketio"}
    )
    _error(no_token, 401)
    wrong_token = requests.post(
        f"{base}/api/attendances",
        json={"conversation_id": conversation, "channel": "socketio"},
        headers={"Authorization": "Bearer guess"},
    )
    _error(wrong_token, 401)
    # None of that queued anything.
    listed = requests.get(f"{base}/api/attendances", headers=_login(base)).json()
    assert conversation not in [a["conversation_id"] for a in listed["queued"]]


def test_opening_twice_returns_the_open_attendance(handoff: Service):
    conversation = uuid.uuid4().hex
    first = _open(handoff.base_url, conversation_id=conversation, channel="socketio")
    again = _open(handoff.base_url, conversation_id=conversation, channel="socketio")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["attendance"]["id"] == again.json()["attendance"]["id"]


def test_operators_must_be_authenticated(handoff: Service):
    base = handoff.base_url
    wrong = requests.post(
        f"{base}/api/auth/login", json={"username": "operador", "password": "errada"}
    )
    assert _error(wrong, 401) == "Usuário ou senha inválidos."
    _error(requests.post(f"{base}/api/auth/login", json={"username": "operador"}), 400)
    _error(requests.get(f"{base}/api/attendances"), 401)
    _error(requests.get(f"{base}/api/attendances", headers={"Authorization": "Bearer x"}), 401)
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(base, auth={"token": "forged"}, transports=["websocket"])


def test_logout_revokes_the_session(handoff: Service):
    headers = _login(handoff.base_url)
    assert requests.get(f"{handoff.base_url}/api/me", headers=headers).json()["status"] in (
        "offline",
        "available",
    )
    assert requests.post(f"{handoff.base_url}/api/auth/logout", headers=headers).ok
    _error(requests.get(f"{handoff.base_url}/api/me", headers=headers), 401)


def test_operator_messages_are_validated_and_idempotent(handoff: Service):
    base = handoff.base_url
    headers = _login(base)
    opened = _open(base, conversation_id=uuid.uuid4().hex, channel="socketio").json()
    attendance_id = opened["attendance"]["id"]
    _error(requests.post(f"{base}/api/attendances/999999/take", headers=headers), 404)
    assert requests.post(f"{base}/api/attendances/{attendance_id}/take", headers=headers).ok

    def send(**payload):
        return requests.post(
            f"{base}/api/attendances/{attendance_id}/messages", json=payload, headers=headers
        )

    assert "text" in _error(send(client_id="a1"), 400)
    assert "text" in _error(send(text="   ", client_id="a1"), 400)
    assert "4096" in _error(send(text="x" * 4097, client_id="a1"), 400)
    assert "client_id" in _error(send(text="olá"), 400)
    client_id = uuid.uuid4().hex
    first, retry = send(text="olá", client_id=client_id), send(text="olá", client_id=client_id)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert first.json()["message"]["id"] == retry.json()["message"]["id"]
    assert first.json()["protocol"] == retry.json()["protocol"]
    history = requests.get(f"{base}/api/attendances/{attendance_id}/messages", headers=headers)
    assert [m["text"] for m in history.json()["messages"]] == ["olá"]
    _error(requests.get(f"{base}/api/nothing-here"), 404)


def test_console_socket_refuses_other_origins(handoff: Service):
    handshake = f"{handoff.base_url}/socket.io/?EIO=4&transport=polling"
    refused = requests.get(handshake, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 400
    assert "not an accepted origin" in refused.text
    same_origin = requests.get(handshake, headers={"Origin": handoff.base_url})
    assert same_origin.status_code == 200


def test_a_failed_delivery_can_be_retried_once(handoff: Service):
    """Rasa is unreachable here, so every delivery fails and can be retried."""
    base = handoff.base_url
    headers = _login(base)
    attendance_id = _open(base, conversation_id=uuid.uuid4().hex, channel="socketio").json()[
        "attendance"
    ]["id"]
    requests.post(f"{base}/api/attendances/{attendance_id}/take", headers=headers)
    sent = requests.post(
        f"{base}/api/attendances/{attendance_id}/messages",
        json={"text": "olá", "client_id": uuid.uuid4().hex},
        headers=headers,
    ).json()["message"]
    messages_url = f"{base}/api/attendances/{attendance_id}/messages"
    for _ in range(50):
        rows = requests.get(messages_url, headers=headers).json()["messages"]
        if rows[0]["delivery"] == "failed":
            break
        time.sleep(0.1)
    assert rows[0]["delivery"] == "failed"
    retried = requests.post(f"{base}/api/messages/{sent['id']}/retry", headers=headers)
    assert retried.status_code == 200
    assert retried.json()["message"]["delivery"] == "pending"
    _error(requests.post(f"{base}/api/messages/999999/retry", headers=headers), 404)
    rows = requests.get(messages_url, headers=headers).json()["messages"]
    assert [m["text"] for m in rows] == ["olá"]
    requests.post(f"{base}/api/attendances/{attendance_id}/finish", headers=headers)
    after_finish = requests.post(f"{base}/api/messages/{sent['id']}/retry", headers=headers)
    assert "encerrado" in _error(after_finish, 409)
