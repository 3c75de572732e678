"""Every refusal is a 4xx JSON error {"error": {"code", "message"}}, never a
500; health reports the database and an unreachable Rasa."""

from __future__ import annotations

import requests

from tests.support.api import Client


def test_health_reports_the_database_and_rasa_unreachable(service):
    report = requests.get(f"{service.base_url}/health").json()
    assert report["status"] == "degraded"
    assert report["checks"]["database"] == {"ok": True}
    assert report["rasa"] == "unreachable" and "redis" not in report["checks"]


BAD_REQUESTS = [
    ("GET", "/api/nothing-here", None, 404, "not_found"),
    ("DELETE", "/api/attendances", None, 405, "method_not_allowed"),
    ("GET", "/api/attendances/99999999999999999999/messages", None, 404, "not_found"),
    ("GET", "/api/customers?q=%00", None, 400, "invalid"),
    ("GET", "/api/protocols/%ff", None, 400, "invalid"),
    ("GET", "/vendor/", None, 404, "not_found"),
    ("GET", "/api/attendances/1/messages", None, 404, "not_found"),
    ("POST", "/api/customers", ["a list"], 400, "invalid"),
    ("POST", "/api/attendances/1/take", None, 404, "not_found"),
    ("POST", "/api/me/status", {"status": 1}, 400, "invalid"),
]


def test_bad_requests_get_json_errors(service, operator: Client):
    for method, path, body, status, code in BAD_REQUESTS:
        response = requests.request(
            method, f"{service.base_url}{path}", json=body, headers=operator.headers
        )
        assert response.status_code == status, (method, path, response.text)
        error = response.json()["error"]
        assert error["code"] == code and isinstance(error["message"], str), (method, path)


def test_a_body_that_is_not_json_is_400(service, operator: Client):
    response = requests.post(
        f"{service.base_url}/api/customers",
        data="{not json",
        headers={**operator.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]


def test_operator_routes_need_a_live_session(service):
    for headers in ({}, {"Authorization": "Bearer forjado"}, {"Authorization": "x"}):
        response = requests.get(f"{service.base_url}/api/attendances", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"


def test_the_widget_history_needs_its_token_and_says_when_rasa_is_away(service):
    url = f"{service.base_url}/widget/api/history"
    assert requests.get(url).status_code == 401
    away = requests.get(url, headers={"X-Conversation-Token": "a" * 32})
    assert away.status_code == 503 and away.json()["error"]["code"] == "unavailable"
    assert away.headers["Access-Control-Allow-Origin"] == "*"


def test_console_events_with_bad_arguments_are_error_acks(operator: Client, console):
    connection = console(operator)
    for name, data in [
        ("attendance:take", None),
        ("attendance:take", {"attendance_id": 2**70}),
        ("attendance:finish", {"attendance_id": 999}),
        ("message:send", {"attendance_id": 1, "text": 5, "client_id": "c"}),
        ("attendance:messages", "not an object"),
    ]:
        ack = connection.call(name, data)
        assert ack["ok"] is False and ack["error"]["code"] in ("invalid", "not_found"), (name, ack)
