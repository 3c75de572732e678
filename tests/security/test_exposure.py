"""Exposure: Rasa's HTTP API needs its token; every process listens on
127.0.0.1 only (the action server, which has no authentication, above all);
error answers never echo what the request carried nor a stack trace; no
secret is written in the repository.

SQLite only: nothing here depends on the database engine.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
import subprocess
import uuid
from pathlib import Path

import psutil
import pytest
import requests

from handoff.routes.common import CSRF_HEADER, SESSION_COOKIE, csrf_token
from tests.security.app_routes import http_routes
from tests.support.api import Client, add_operator, add_room
from tests.support.processes import PYTHON, RASA_TOKEN, ROOT, SERVICE_TOKEN, Stack

SECRET_NAMES = (
    "HANDOFF_RASA_TOKEN",
    "HANDOFF_SERVICE_TOKEN",
    "HANDOFF_ACTIONS_TOKEN",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_ACCESS_TOKEN",
)


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def test_rasa_http_api_needs_the_token(stack: Stack) -> None:
    conversation = uuid.uuid4().hex
    calls = [
        ("GET", f"/conversations/{conversation}/tracker", None),
        ("POST", f"/conversations/{conversation}/tracker/events", {"event": "pause"}),
        ("PUT", f"/conversations/{conversation}/tracker/events", []),
        ("POST", f"/conversations/{conversation}/execute", {"name": "action_listen"}),
        ("POST", f"/conversations/{conversation}/trigger_intent", {"name": "greet"}),
        ("POST", f"/conversations/{conversation}/messages", {"text": "oi", "sender": "user"}),
        ("GET", f"/conversations/{conversation}/story", None),
        ("POST", "/model/parse", {"text": "oi"}),
        ("PUT", "/model", {"model_file": "/tmp/x.tar.gz"}),
        ("DELETE", "/model", None),
        ("GET", "/domain", None),
        ("GET", "/status", None),
    ]
    for method, path, body in calls:
        for params in ({}, {"token": "errado"}):
            response = requests.request(
                method, stack.rasa_url + path, json=body, params=params, timeout=10
            )
            assert response.status_code in (401, 403), (method, path, params, response.text)
    # The same call with the token works: the refusals above are the token's doing.
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{conversation}/tracker",
        params={"token": RASA_TOKEN},
        timeout=10,
    )
    assert tracker.status_code == 200


def test_this_projects_rasa_routes_need_the_service_token(stack: Stack) -> None:
    """The routes bot/ adds to Rasa for the handoff service."""
    conversation = uuid.uuid4().hex
    calls = [
        ("POST", "/webhooks/operator_messages/deliver", {"conversation_id": conversation}),
        ("GET", "/webhooks/tracker_store/health", None),
        ("GET", f"/webhooks/conversation_messages/{conversation}", None),
        ("DELETE", f"/webhooks/conversation_erasure/{conversation}", None),
    ]
    for method, path, body in calls:
        for headers in ({}, {"Authorization": "Bearer errado"}, {"Authorization": SERVICE_TOKEN}):
            response = requests.request(
                method, stack.rasa_url + path, json=body, headers=headers, timeout=10
            )
            assert response.status_code == 401, (method, path, headers, response.text)
    messages = requests.get(
        f"{stack.rasa_url}/webhooks/conversation_messages/{conversation}",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert messages.status_code == 200
    assert messages.json() == {"messages": []}


def _listening(pid: int) -> list[tuple[str, int]]:
    process = psutil.Process(pid)
    addresses = []
    for member in [process, *process.children(recursive=True)]:
        for connection in member.net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN:
                addresses.append((connection.laddr.ip, connection.laddr.port))
    return addresses


def test_every_process_listens_on_loopback_only(stack: Stack) -> None:
    """The action server (no authentication, echoes bodies in its 500s) above all."""
    for service in stack.services:
        assert service.process is not None
        addresses = _listening(service.process.pid)
        port = int(service.base_url.rsplit(":", 1)[1])
        assert port in {p for _ip, p in addresses}, (service.name, addresses)
        assert {ip for ip, _port in addresses} == {"127.0.0.1"}, (service.name, addresses)
    # `make run` (deploy/supervisord.conf) and the systemd units start them the same way.
    supervised = configparser.ConfigParser(interpolation=None)
    supervised.read(ROOT / "deploy" / "supervisord.conf")
    assert 'SANIC_HOST="127.0.0.1"' in supervised["program:actions"]["environment"]
    assert "--interface 127.0.0.1 " in supervised["program:rasa"]["command"]
    units = ROOT / "deploy" / "systemd"
    assert "SANIC_HOST=127.0.0.1" in (units / "servicedesk-actions.service").read_text()
    assert "--interface 127.0.0.1 " in (units / "servicedesk-rasa.service").read_text()
    assert "export HANDOFF_HOST ?= 127.0.0.1" in (ROOT / "Makefile").read_text()


def _marked_requests(marker: str) -> list[tuple[str, dict, object]]:
    """(query, headers, body) variants, each carrying the marker."""
    fields = (
        "text client_id username password status reason customer_id article_id name phone "
        "email document slug label kind key room_id rooms role active max_concurrent "
        "current_password new_password conversation_id channel room contact first_message"
    ).split()
    return [
        ({"q": marker, "start": marker, "attendance_id": marker, "format": marker}, {}, None),
        ({}, {"Content-Type": "application/json"}, f'{{"text": "{marker}'),
        ({}, {}, dict.fromkeys(fields, marker)),
        ({}, {}, [marker, {"event": marker, "text": marker}]),
        ({}, {}, {"conversation_id": uuid.uuid4().hex, "channel": "socketio", "room": marker}),
        ({}, {}, {"status": "paused", "reason": marker, "text": "", "name": "", "kind": "widget"}),
        ({}, {"Authorization": f"Bearer {marker}"}, {"text": marker}),
        ({}, {"Cookie": f"{SESSION_COOKIE}={marker}", CSRF_HEADER: marker}, {}),
    ]


def test_error_answers_never_echo_the_request(stack: Stack) -> None:
    service = next(s for s in stack.services if s.name == "handoff")
    add_room(service, "exposicao")
    supervisor = Client(service, add_operator(service, ["exposicao"], role="supervisor"))
    credentials = [
        {},
        supervisor.headers,
        {
            "Cookie": f"{SESSION_COOKIE}={supervisor.token}",
            CSRF_HEADER: csrf_token(supervisor.token),
        },
        {"Authorization": f"Bearer {SERVICE_TOKEN}"},
    ]
    marker = f"MARCADOR{uuid.uuid4().hex}"
    errors = 0
    for route in http_routes():
        if route.name == "operators.logout_route":
            continue  # would end the supervisor's session; its errors are checked anonymously
        paths = {
            route.url("", **_values(route.path, marker)),
            route.url("", **_values(route.path, "1")),
        }
        for path in paths:
            for query, headers, body in _marked_requests(marker):
                for credential in credentials:
                    response = _send(
                        stack.handoff_url + path,
                        route.method,
                        query,
                        {**credential, **headers},
                        body,
                    )
                    if response.status_code >= 400:
                        errors += 1
                        assert marker not in response.text, (route, path, response.text)
                        assert "Traceback" not in response.text and 'File "' not in response.text
                        if route.name != "handle_request":  # Engine.IO speaks text/plain
                            content_type = response.headers["Content-Type"]
                            assert content_type.startswith("application/json"), route
    print(f"\n{errors} error answers, none echoing the marker or a trace")
    assert errors > 500


def _values(path: str, value: str) -> dict[str, str]:
    return {name: value for name in re.findall(r"<(\w+)", path)}


def _send(url: str, method: str, query: dict, headers: dict, body: object) -> requests.Response:
    if isinstance(body, str):
        return requests.request(method, url, params=query, headers=headers, data=body, timeout=10)
    return requests.request(method, url, params=query, headers=headers, json=body, timeout=10)


def test_no_secret_in_the_repository(tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # A value on the same line (an empty `NAME=` in an example file is fine).
    assignment = re.compile(rf"({'|'.join(SECRET_NAMES)})[ \t]*[?:]?=[ \t]*[\"']?[\w-]{{4,}}")
    for name in tracked:
        path = ROOT / name
        if name.startswith("tests/") or not path.is_file() or path.suffix in {".png", ".gz"}:
            continue
        text = path.read_text(errors="replace")
        assert not assignment.search(text), f"{name}: {assignment.search(text).group(0)}"
        assert "dev-rasa-token" not in text and "dev-service-token" not in text, name

    # `make run` makes them: random, once, private, git-ignored.
    secrets_file = tmp_path / "secrets.env"
    script = ["bash", str(ROOT / "scripts" / "dev_secrets.sh"), str(secrets_file)]
    subprocess.run(script, check=True, capture_output=True)
    first = secrets_file.read_text()
    values = re.findall(r':-([\w-]+)}"', first)
    assert len(values) == len(SECRET_NAMES) == len(set(values))
    assert all(len(value) >= 40 for value in values)
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    subprocess.run(script, check=True, capture_output=True)
    assert secrets_file.read_text() == first
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/secrets.env"], cwd=ROOT)
    assert ignored.returncode == 0


def test_the_service_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run(
        [PYTHON, "-m", "handoff", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "HANDOFF_RASA_TOKEN and HANDOFF_SERVICE_TOKEN must be set" in result.stderr
